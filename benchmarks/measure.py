"""What the benchmarks measure with, in one place: medians, peak memory, wall time, tables.

- :func:`run_timed` runs a command in a fresh process under GNU ``/usr/bin/time -v`` and returns
  its wall time and peak RSS (``Maximum resident set size``: that process alone, or its largest
  child) with its output; :func:`parse_time_v` reads that report.
- :func:`peak_rss_mib` is this process's own peak so far (``resource``), for in-process runs.
- :func:`median_seconds` times a call ``repeats`` times; :func:`median` skips missing values.
- :func:`print_table` prints a Markdown table, the shape docs/*.md quote.

Peak memory is in MiB everywhere (the tables' "MB" columns). Benchmarks import this module as
``from measure import ...``: a script's own folder is first on ``sys.path``.
"""

from __future__ import annotations

import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TIME_V = ("/usr/bin/time", "-v")
_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")
_PEAK = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


@dataclass
class Timed:
    """One command's run under ``/usr/bin/time -v``.

    ``wall_s``: time's own wall clock (the measured elapsed time when its report is missing);
    ``peak_mib``: its peak RSS, None when the report is missing (a run stopped by a timeout).
    ``stderr`` is the command's, with time's report removed.
    """

    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    peak_mib: float | None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def last_json_line(self) -> str:
        """The last line of stdout (where the benchmarks' workers print their JSON)."""
        lines = self.stdout.strip().splitlines()
        return lines[-1] if lines else ""


def parse_time_v(stderr: str) -> tuple[float | None, float | None]:
    """(wall seconds, peak RSS in MiB) from GNU time -v's report in ``stderr``; None where absent."""
    wall = peak = None
    m = _WALL.search(stderr)
    if m:
        parts = [float(p) for p in m.group(1).split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    m = _PEAK.search(stderr)
    if m:
        peak = int(m.group(1)) / 1024.0
    return wall, peak


def _strip_report(stderr: str) -> str:
    # time -v's report starts with '\tCommand being timed:' (or 'Command exited/terminated ...').
    cut = len(stderr)
    for marker in ("\tCommand being timed:", "Command exited with non-zero status", "Command terminated by signal"):
        at = stderr.rfind(marker)
        if at != -1:
            cut = min(cut, at)
    return stderr[:cut]


def _text(value) -> str:
    return value if isinstance(value, str) else (value or b"").decode(errors="replace")


def run_timed(cmd: Sequence[str], *, timeout: float | None = None, check: bool = False,
              env: Mapping[str, str] | None = None, cwd=None) -> Timed:
    """Run ``cmd`` in its own process under ``/usr/bin/time -v``; its wall time, peak RSS and output.

    ``check=True`` raises SystemExit with the end of stderr when the command fails. A run past
    ``timeout`` seconds is stopped and returned with ``timed_out=True``.
    """
    t = time.perf_counter()
    try:
        proc = subprocess.run([*TIME_V, *cmd], capture_output=True, text=True, timeout=timeout,
                              env=None if env is None else dict(env), cwd=cwd)
        returncode: int | None = proc.returncode
        stdout, stderr, timed_out = proc.stdout, proc.stderr, False
    except subprocess.TimeoutExpired as exc:
        returncode, stdout, stderr, timed_out = None, _text(exc.stdout), _text(exc.stderr), True
    elapsed = time.perf_counter() - t
    wall, peak = parse_time_v(stderr)
    run = Timed(returncode, stdout, _strip_report(stderr), wall if wall is not None else elapsed, peak, timed_out)
    if check and not run.ok:
        what = "timed out" if timed_out else f"exited {returncode}"
        raise SystemExit(f"{' '.join(cmd[:4])} ... {what}:\n{run.stderr[-2000:]}")
    return run


def peak_rss_mib() -> float:
    """This process's peak RSS so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (None when there are none)."""
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall seconds of ``repeats`` calls of ``fn`` (at least one), and the last call's result."""
    times, out = [], None
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> None:
    """Print a Markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default: the
    first column left, the others right). Cells are printed with ``str``: format numbers first."""
    align = align or "l" + "r" * (len(headers) - 1)
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
