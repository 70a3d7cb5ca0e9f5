"""The response cache under hostile queries (issue 20): one worker's memory before and after.

Starts ``python -m recgraph.serve --workers 1`` on a free 127.0.0.1 port over a synthetic
artifact of ``--items`` movies (random vectors; k=1000 answers are ~70 KB), then sends
``--requests`` GETs and reads the worker's VmRSS from /proc before and after:

* ``unique``: ``/v1/similar/<first id>?k=1000&n=<i>``, one query string per request (the
  answer is the same; a cache keyed on the raw query string stores each of them);
* ``distinct``: ``/v1/similar/<id>?k=1000`` over every id in turn (``--items`` distinct
  answers, ~90 MB with the default 1,500: the byte limit, ``--cache-mib``, bounds them).

    python benchmarks/bench_serve_cache.py --requests 6000
    python benchmarks/bench_serve_cache.py --code /path/to/an/older/checkout   # the same, on other code

Prints one JSON line per scenario. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent


def make_artifact(path: Path, n_items: int) -> None:
    from recgraph.artifact import write_artifact

    ids = np.arange(1, n_items + 1, dtype=np.int64)
    vectors = np.random.default_rng(0).normal(size=(n_items, 8)).astype(np.float32)
    write_artifact(path, vectors, ids, [f"Movie {i} ({1950 + i % 60})" for i in ids], [""] * n_items,
                   {"backend": "test"}, n_trees=5, seed=0)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(code: Path, artifact: Path, n_items: int, scenario: str, n_requests: int, extra: list[str]) -> dict:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = subprocess.Popen([sys.executable, "-m", "recgraph.serve", "--index", str(artifact), "--port", str(port),
                             "--workers", "1", "--log-level", "warning", *extra], env=env, cwd=code,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit {proc.poll()})")
            time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=30) as c:
            ids = [h["item_id"] for h in c.get("/v1/similar/1?k=1000").json()["results"]]
            ids = [1, *ids, *sorted(set(range(1, n_items + 1)) - {1, *ids})]  # every item, once per cycle
            before, start, size = rss_mb(proc.pid), time.monotonic(), 0
            for i in range(n_requests):
                url = f"/v1/similar/1?k=1000&n={i}" if scenario == "unique" else f"/v1/similar/{ids[i % len(ids)]}?k=1000"
                r = c.get(url)
                r.raise_for_status()
                size = len(r.content)
            return {"code": str(code), "scenario": scenario, "requests": n_requests, "answer_bytes": size,
                    "rss_before_mb": round(before, 1), "rss_after_mb": round(rss_mb(proc.pid), 1),
                    "seconds": round(time.monotonic() - start, 1)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--items", type=int, default=1500)
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose recgraph serves (default this one)")
    parser.add_argument("--scenarios", nargs="+", default=["unique", "distinct"], choices=["unique", "distinct"])
    parser.add_argument("--serve-args", nargs=argparse.REMAINDER, default=[], help="passed to recgraph serve")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-cache-") as tmp:
        artifact = Path(tmp) / "art"
        make_artifact(artifact, args.items)
        for scenario in args.scenarios:
            print(json.dumps(run(args.code.resolve(), artifact, args.items, scenario, args.requests, args.serve_args)), flush=True)


if __name__ == "__main__":
    main()
