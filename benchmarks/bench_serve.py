"""Benchmark the HTTP service with wrk on loopback: throughput, tail latency, and a hot reload.

Scenarios (each starts ``python -m recgraph.serve`` as a subprocess on 127.0.0.1 with a
free port, waits for /healthz, runs ``wrk -t2 -c8 -d10s`` against
``/v1/similar/260?k=10``, then stops the server):

* ``workers=N cache=on``  for each N in ``--workers`` (default 1,2): the service as shipped.
* ``workers=N cache=off`` (``--cache-size 0``): every request runs the Annoy query and
  JSON encoding, to show the cost the response cache saves.
* ``reload``: the default worker count with ``--index`` a symlink; during the run the
  symlink is switched (``ln -sfn`` + ``mv -T``) between the seed-0 artifact (A) and the
  seed-1 artifact (B), ``--switches`` times (default 3, ending on B); every failed request,
  socket error or non-2xx counts. A poller reads ``X-Recgraph-Artifact`` throughout and
  reports how often the version it saw changed (each worker reloads on its own within
  ~1 s, so answers alternate between versions for that moment) and the last version seen.

Target (issue 5): with the default worker count, >= 2,500 req/s, p99 <= 25 ms, zero
errors/non-2xx; zero failures across the reload.

    apt-get install -y wrk
    python benchmarks/bench_serve.py                    # trains two small artifacts first
    python benchmarks/bench_serve.py --artifacts A B    # or reuse two artifact dirs

wrk's own latency percentiles and error counts are read from a small Lua ``done`` hook.
Medians are per scenario over ``--rounds`` interleaved rounds; ``load avg`` is the
machine's 1-minute load average after each run (anything else running skews the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-latest-small.zip"
URL_PATH = "/v1/similar/260?k=10"

WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 2.0) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class Server:
    """``python -m recgraph.serve`` on a free loopback port; a context manager that always stops it."""

    def __init__(self, index: Path, workers: int | None, extra: list[str] = (), log: Path | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "recgraph.serve", "--index", str(index), "--port", str(self.port)]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        self.cmd = cmd + list(extra)
        self.log = log or Path(tempfile.mktemp(prefix="bench-serve-", suffix=".log"))

    def __enter__(self) -> "Server":
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            try:
                if get(self.base + "/healthz", 0.5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            self.__exit__()
            raise RuntimeError(f"server did not answer /healthz in 60 s; see {self.log}")
        for _ in range(50):  # warm every worker's cache and code paths
            get(self.base + URL_PATH)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def run_wrk(url: str, lua: Path, duration: int, threads: int, connections: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    stats = json.loads(line[len("WRKJSON "):])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["failures"] = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    stats["loadavg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine skews the figures
    return stats


def switch_symlink(link: Path, target: Path) -> None:
    """Atomic roll-out: a new symlink beside the old, renamed over it (``ln -sfn`` + ``mv -T``)."""
    tmp = link.with_name(link.name + ".tmp")
    subprocess.run(["ln", "-sfn", str(target), str(tmp)], check=True)
    subprocess.run(["mv", "-T", str(tmp), str(link)], check=True)


def train_artifacts(data: Path, into: Path) -> tuple[Path, Path]:
    outs = []
    for seed in (0, 1):
        out = into / f"v-seed{seed}"
        subprocess.run([sys.executable, "-m", "recgraph", "train", "--data", str(data), "--out", str(out),
                        "--seed", str(seed), "--quiet"], check=True, cwd=REPO)
        outs.append(out)
    return outs[0], outs[1]


def artifact_id(directory: Path) -> str:
    return json.loads((directory / "manifest.json").read_text())["artifact_id"]


def reload_under_load(a: Path, b: Path, work: Path, lua: Path, args) -> dict:
    link = work / "current"
    switch_symlink(link, a)
    ids = {artifact_id(a): "A", artifact_id(b): "B"}
    seen: list[str] = []
    poll_errors = []
    stop = threading.Event()
    with Server(link, args.default_workers, log=work / "reload.log") as server:
        def poll() -> None:  # one more client, reading the version header
            while not stop.is_set():
                try:
                    status, headers, _ = get(server.base + URL_PATH)
                    if status != 200:
                        poll_errors.append(status)
                    version = ids.get(headers.get("x-recgraph-artifact"), "?")
                    if not seen or seen[-1] != version:
                        seen.append(version)
                except OSError as exc:
                    poll_errors.append(repr(exc))
                time.sleep(0.02)

        def switcher() -> None:
            step = args.duration / (args.switches + 1)
            for i in range(args.switches):
                if stop.wait(step):
                    return
                switch_symlink(link, b if i % 2 == 0 else a)

        threads = [threading.Thread(target=poll), threading.Thread(target=switcher)]
        for t in threads:
            t.start()
        try:
            stats = run_wrk(server.base + URL_PATH, lua, args.duration, args.threads, args.connections)
        finally:
            stop.set()
            for t in threads:
                t.join()
        log_lines = [x for x in (work / "reload.log").read_text().splitlines() if "now serving" in x]
    stats.update(switches=args.switches, version_changes=len(seen) - 1, last_version=seen[-1] if seen else "?",
                 expected_version="B" if args.switches % 2 else "A", poll_errors=len(poll_errors),
                 reloads_logged=len(log_lines))
    return stats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MovieLens zip to train the two artifacts")
    parser.add_argument("--artifacts", type=Path, nargs=2, metavar=("A", "B"), help="reuse two artifact directories")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the table shows medians (default 1)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--switches", type=int, default=3,
                        help="symlink switches during the reload run (odd ends on B)")
    parser.add_argument("--no-uncached", action="store_true", help="skip the --cache-size 0 runs")
    parser.add_argument("--no-reload", action="store_true", help="skip the reload-under-load run")
    parser.add_argument("--json", type=Path, help="also write every run here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    from recgraph.serve import DEFAULT_WORKERS

    args.default_workers = DEFAULT_WORKERS
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        lua = work / "summary.lua"
        lua.write_text(WRK_LUA)
        a, b = args.artifacts if args.artifacts else train_artifacts(args.data, work)
        a, b = a.resolve(), b.resolve()
        print(f"cpus: {os.cpu_count()}; wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
              f"{URL_PATH}; default workers {DEFAULT_WORKERS}; {args.rounds} round(s)", flush=True)
        runs = []
        caches = ("on",) if args.no_uncached else ("on", "off")
        for _ in range(args.rounds):
            for cache in caches:
                for workers in [int(w) for w in args.workers.split(",")]:
                    extra = [] if cache == "on" else ["--cache-size", "0"]
                    with Server(a, workers, extra, log=work / f"w{workers}-{cache}.log") as server:
                        stats = run_wrk(server.base + URL_PATH, lua, args.duration, args.threads, args.connections)
                    stats.update(scenario=f"workers={workers} cache={cache}")
                    runs.append(stats)
                    print(_row(stats), flush=True)
            if not args.no_reload:
                stats = reload_under_load(a, b, work, lua, args)
                stats.update(scenario=f"reload workers={DEFAULT_WORKERS} cache=on")
                runs.append(stats)
                print(_row(stats) + f"\n    {stats['switches']} switches; version changes seen by the poller "
                      f"{stats['version_changes']}, last {stats['last_version']} "
                      f"(expected {stats['expected_version']}); "
                      f"poll errors {stats['poll_errors']}; reloads logged {stats['reloads_logged']}", flush=True)
        print()
        print("| scenario | runs | req/s (median) | req/s (min-max) | p50 ms | p99 ms | max ms | failures (all runs) "
              "| load avg |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name in dict.fromkeys(r["scenario"] for r in runs):
            rs = [r for r in runs if r["scenario"] == name]

            def med(key: str, rs: list[dict] = rs) -> float:
                return statistics.median(r[key] for r in rs)

            print(f"| {name} | {len(rs)} | {med('rps'):,.0f} | {min(r['rps'] for r in rs):,.0f}-"
                  f"{max(r['rps'] for r in rs):,.0f} | {med('p50_us') / 1e3:.2f} | {med('p99_us') / 1e3:.2f} | "
                  f"{med('max_us') / 1e3:.1f} | {sum(r['failures'] for r in rs)} | {med('loadavg_1m'):.1f} |")
        if args.json:
            args.json.write_text(json.dumps(runs, indent=2) + "\n")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _row(r: dict) -> str:
    return (f"{r['scenario']:<28} {r['rps']:>9,.0f} req/s  p50 {r['p50_us'] / 1e3:6.2f} ms  "
            f"p99 {r['p99_us'] / 1e3:6.2f} ms  max {r['max_us'] / 1e3:6.1f} ms  failures {r['failures']} "
            f"(connect {r['connect']}, read {r['read']}, write {r['write']}, timeout {r['timeout']}, "
            f"non-2xx {r['status']})  load {r['loadavg_1m']}")


if __name__ == "__main__":
    sys.exit(main())
