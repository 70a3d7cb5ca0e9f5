#!/bin/sh
# Regenerate /work/synth/ml{1m,5m,25m} (or $SYNTH_ROOT) with benchmarks/synth_log.py, seed 0.
# Each is written beside its target and swapped in, then DONE is touched; 25M runs under the
# heavy-job lock. Achieved stats go to <dir>.stats.txt.
set -e
root=${SYNTH_ROOT:-/work/synth}
here=$(dirname "$0")
mkdir -p "$root"
for spec in ${SIZES:-1m:1000000 5m:5000000 25m:25000000}; do
    name=ml${spec%%:*}; n=${spec#*:}
    lock=""; [ "$n" -gt 10000000 ] && lock="flock /tmp/recgraph-heavy.lock"
    rm -rf "$root/.$name.new" "$root/.$name.old"
    $lock python "$here/synth_log.py" --ratings "$n" --out "$root/.$name.new" --quiet > "$root/.$name.stats"
    [ -d "$root/$name" ] && mv "$root/$name" "$root/.$name.old"
    mv "$root/.$name.new" "$root/$name"
    touch "$root/$name/DONE"
    mv "$root/.$name.stats" "$root/$name.stats.txt"
    rm -rf "$root/.$name.old"
    cat "$root/$name.stats.txt"
done
