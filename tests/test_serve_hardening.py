"""The service under hostile input (issue 20): bad JSON numbers, other encodings, HEAD, the
response cache as an amplifier, two servers on one port, a refused reload in /healthz, slow
headers; and one k limit for the CLI and HTTP (issue 17).

In-process (FastAPI's TestClient) where the app decides; real servers on 127.0.0.1 (started
and stopped here, bounded in time) where the process or the socket does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402 (after the importorskip calls)
from test_serve import REPO, ServerProcess, free_port, make_artifact, switch_symlink  # noqa: E402 (after the importorskip calls)

from recgraph.serve.app import create_app  # noqa: E402 (after the importorskip calls)
from recgraph.serve.reloader import IndexHolder  # noqa: E402 (after the importorskip calls)

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    make_artifact(root / "v1", seed=1)
    return root


@pytest.fixture()
def api(artifacts):
    # raise_server_exceptions=False: a handler that fails is seen as the client sees it, a 500.
    with TestClient(create_app(artifacts / "v1", reload_interval=0), raise_server_exceptions=False) as c:
        yield c


# ---------------------------------------------------------------------- item 2: bodies and methods
@pytest.mark.parametrize("path,body", [
    ("/v1/recommend", b'{"watched": [NaN]}'),
    ("/v1/recommend", b'{"watched": [1], "k": Infinity}'),
    ("/v1/recommend", b'{"watched": [1], "k": -Infinity}'),
    ("/v1/recommend", b'{"watched": [1e400]}'),
    ("/v1/recommend", b'{"watched": [1], "exclude": [NaN], "strict": NaN}'),
    ("/v1/similar:batch", b'{"item_ids": [NaN]}'),
    ("/v1/similar:batch", b'{"item_ids": [1], "k": Infinity}'),
    ("/v1/similar:batch", b'{"item_ids": [1e400]}'),
])
def test_non_finite_numbers_are_422(api, path, body):
    r = api.post(path, content=body, headers=JSON)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]  # FastAPI's usual validation list, with the bad input quoted as text
    assert errors and all({"loc", "msg", "type"} <= set(e) for e in errors)
    assert {e["input"] for e in errors if "input" in e} <= {"NaN", "Infinity", "-Infinity"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_non_utf8_body_is_422(api, encoding):
    body = '{"watched": [260], "k": 3}'.encode(encoding)
    r = api.post("/v1/recommend", content=body, headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["msg"] == "The request body is not valid JSON (UTF-8)."
    assert api.post("/v1/similar:batch", content='{"item_ids": [1]}'.encode(encoding),
                    headers=JSON).status_code == 422
    assert api.post("/v1/recommend", content=b'{"watched": [260], "k": 3}', headers=JSON).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/v1/index", "/v1/similar/260?k=3", "/v1/similar?title=Jumanji+(1995)",
                                  "/v1/search?q=star", "/openapi.json"])
def test_head_is_answered_like_get(api, path):
    get = api.get(path)
    for _ in range(2):  # the second HEAD of a similar answer comes from the cache
        head = api.head(path)
        assert head.status_code == get.status_code == 200, head.text
        assert head.content == b""
        assert head.headers["content-length"] == str(len(get.content))
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["x-recgraph-artifact"] == get.headers["x-recgraph-artifact"]


def test_head_follows_get_for_errors(api):
    assert api.head("/v1/similar/999999").status_code == 404
    assert api.head("/v1/similar/260?k=0").status_code == 422
    assert api.head("/v1/recommend").status_code == 405  # POST only: no GET, so no HEAD
    assert api.head("/v2/nothing").status_code == 404


# ---------------------------------------------------------------------- item 4: the response cache
def test_cache_keys_on_the_normalized_query(api):
    cache = api.app.state.holder.current.cache
    bodies = {api.get(f"/v1/similar/260?k=1000&n={i}").content for i in range(300)}
    assert len(bodies) == 1 and len(cache) == 1  # 300 query strings, one answer, one entry
    assert api.get("/v1/similar/260?n=x&k=1000").content in bodies
    assert api.get("/v1/similar/260?k=01000").content in bodies  # not canonical: the route answers it
    assert api.get("/v1/similar/260").content == api.get("/v1/similar/260?k=10").content
    assert len(cache) == 2
    # A cached answer never hides what the route would say about the same request.
    assert api.get("/v1/similar/260?k=1000&k=1001").status_code == 422
    assert api.get("/v1/similar/260?k=1001").status_code == 422
    assert api.get("/v1/search?q=star&k=2&q=wars").json()["query"] == "wars"  # the last one, as the route reads it
    assert api.get("/v1/search?q=star+wars&k=2").json()["query"] == "star wars"
    assert api.get("/v1/search?q=star%20wars&k=2&page=3").json() == api.get("/v1/search?q=star+wars&k=2").json()


def test_cache_is_bounded_in_bytes(artifacts):
    budget = 20_000
    with TestClient(create_app(artifacts / "v1", reload_interval=0, cache_bytes=budget)) as c:
        cache = c.app.state.holder.current.cache
        ids = [h["item_id"] for h in c.get("/v1/similar/260?k=1000").json()["results"]]
        answers = {m: c.get(f"/v1/similar/{m}?k=1000").content for m in ids[:40]}
        assert all(len(body) > 4_000 for body in answers.values())  # 40 of them would need far more
        assert 0 < cache.nbytes <= budget and 1 < len(cache) < 10
        assert c.get(f"/v1/similar/{ids[39]}?k=1000").content == answers[ids[39]]  # the newest is kept


def test_cache_accounting():
    from recgraph.serve.cache import CachedResponse, ResponseCache, entry_size

    entry = CachedResponse([(b"content-type", b"application/json")], b"x" * 1000)
    size = entry_size(("similar", 1, 10), entry)
    cache = ResponseCache(max_entries=100, max_bytes=3 * size)
    for i in range(10):
        cache.put(("similar", i, 10), entry)
    assert len(cache) == 3 and cache.nbytes == 3 * size
    assert cache.get(("similar", 9, 10)) is entry and cache.get(("similar", 0, 10)) is None
    cache.put(("similar", 9, 10), entry)  # replacing an entry does not count it twice
    assert cache.nbytes == 3 * size
    cache.put(("big",), CachedResponse([], b"x" * (4 * size)))  # over the whole budget: not stored
    assert cache.get(("big",)) is None and len(cache) == 3
    off = ResponseCache(max_entries=100, max_bytes=0)
    off.put(("similar", 1, 10), entry)
    assert len(off) == 0


# ---------------------------------------------------------------------- item 9: /healthz after a refusal
def test_healthz_reports_a_refused_reload(artifacts, tmp_path):
    make_artifact(tmp_path / "v2", seed=2)
    broken = tmp_path / "v3-broken"
    shutil.copytree(tmp_path / "v2", broken)
    with open(broken / "items.csv", "a", encoding="utf-8") as fh:
        fh.write("68,123456,Tampered (2020),Drama\n")
    link = tmp_path / "current"
    switch_symlink(link, artifacts / "v1")
    holder = IndexHolder(link, interval=0)
    with TestClient(create_app(holder)) as c:
        first = c.get("/healthz").json()
        assert first["status"] == "ok" and first["refused"] is None
        switch_symlink(link, broken)
        assert holder.check() is False
        r = c.get("/healthz")
        assert r.status_code == 200  # still serving: liveness holds
        body = r.json()
        assert body["status"] == "degraded" and body["artifact_id"] == first["artifact_id"]
        refused = body["refused"]
        assert refused["path"] == str(broken.resolve()) and refused["artifact_id"]
        assert "items.csv" in refused["reason"] and refused["at"].endswith("+00:00")
        switch_symlink(link, artifacts / "v1")  # roll back to the version being served
        holder.check()
        assert c.get("/healthz").json()["status"] == "ok"
        switch_symlink(link, broken)
        holder.check()
        switch_symlink(link, tmp_path / "v2")  # a good version replaces the refusal
        assert holder.check() is True
        body = c.get("/healthz").json()
        assert body["status"] == "ok" and body["refused"] is None and body["artifact_id"] != first["artifact_id"]


# ---------------------------------------------------------------------- issue 17: one k limit
def test_one_k_limit_for_cli_and_http(api, artifacts):
    from recgraph.index import MAX_K
    from recgraph.serve import app

    assert app.MAX_K == MAX_K == 1000
    assert api.get(f"/v1/similar/260?k={MAX_K}").status_code == 200
    assert api.get(f"/v1/similar/260?k={MAX_K + 1}").status_code == 422
    r = subprocess.run([sys.executable, "-m", "recgraph", "similar", "--index", str(artifacts / "v1"), "260",
                        "-k", str(MAX_K + 1)], check=False, cwd=REPO, capture_output=True,
                        text=True, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"recgraph: error: k must be an integer from 1 to {MAX_K}; got {MAX_K + 1}."


# ---------------------------------------------------------------------- item 7: two servers, one port
@pytest.mark.parametrize("workers", [1, 2])
def test_two_servers_on_one_port(artifacts, tmp_path, workers):
    """Started at the same moment: exactly one serves, the other exits non-zero with one sentence."""
    port = free_port()
    cmd = [sys.executable, "-m", "recgraph.serve", "--index", str(artifacts / "v1"), "--port", str(port),
           "--workers", str(workers)]
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(open(tmp_path / f"server{i}.log", "wb")) for i in range(2)]
        procs = [subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=log, start_new_session=True) for log in logs]
        _one_serves(procs, port, tmp_path)


def _one_serves(procs: list[subprocess.Popen], port: int, tmp_path) -> None:
    try:
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in procs):  # wait for the loser to give up
            assert time.monotonic() < deadline, "neither server exited: both claim the port"
            time.sleep(0.1)
        loser = next(i for i, p in enumerate(procs) if p.poll() is not None)
        winner = procs[1 - loser]
        assert procs[loser].returncode == 1
        text = (tmp_path / f"server{loser}.log").read_text()
        assert text.startswith(f"recgraph: error: Cannot listen on 127.0.0.1:{port} (") and len(text.splitlines()) == 1
        while True:  # the winner serves
            assert winner.poll() is None, (tmp_path / f"server{1 - loser}.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the remaining server did not answer"
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)  # the workers too: their own session
                    p.wait()


# ---------------------------------------------------------------------- item 9: slow headers
def _closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reads until EOF), failing past ``limit``."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the connection was still open after {limit:g} s") from None
    return time.monotonic() - start


def test_half_sent_headers_are_timed_out(artifacts, tmp_path):
    server = ServerProcess(artifacts / "v1", "--header-timeout", "1", log=tmp_path / "server.log").wait_ready()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as partial, \
                socket.create_connection(("127.0.0.1", server.port), timeout=5) as silent:
            partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            assert 0.5 < _closed_after(partial, 8) < 6
            assert _closed_after(silent, 8) < 6  # a connection that never sends a byte goes too
        # A whole request in time is answered, also after the timeout has passed on a kept-alive connection.
        with httpx.Client(base_url=server.base, timeout=5) as c:
            assert c.get("/healthz").status_code == 200
            time.sleep(1.5)
            assert c.get("/v1/similar/260?k=2").status_code == 200
        bad = subprocess.run([sys.executable, "-m", "recgraph.serve", "--index", str(artifacts / "v1"),
                              "--header-timeout", "0"], check=False, cwd=REPO, capture_output=True,
                        text=True, timeout=60)
        assert bad.returncode == 1 and bad.stderr.strip() == \
            "recgraph: error: --header-timeout must be a number of seconds > 0; got 0."
    finally:
        server.stop()


def test_ids_past_int64_are_422_and_quoted_back(api):
    r = api.post("/v1/similar:batch", content=b'{"item_ids": [-9223372036854776001]}', headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["input"] == -9223372036854776001
