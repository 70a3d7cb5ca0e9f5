"""The HTTP service, end to end: a real uvicorn server in a subprocess on a free loopback port.

Artifacts are tiny (68 movies, dim 8) and written with recgraph.artifact, so the tests
do not depend on training. tests/test_serve_fuzz.py reuses the helpers here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parent.parent
HEADER = "x-recgraph-artifact"

STAR_WARS = {
    260: "Star Wars: Episode IV - A New Hope (1977)",
    1196: "Star Wars: Episode V - The Empire Strikes Back (1980)",
    1210: "Star Wars: Episode VI - Return of the Jedi (1983)",
    2628: "Star Wars: Episode I - The Phantom Menace (1999)",
}
OTHERS = {1: "Toy Story (1995)", 2: "Jumanji (1995)", 3: "Grumpier Old Men (1995)", 480: "Jurassic Park (1993)"}
UNKNOWN = 999_999


# ---------------------------------------------------------------------- helpers
def make_artifact(path: Path, seed: int, n_extra: int = 60) -> dict:
    """A small artifact with real Star Wars ids and titles and random vectors from ``seed``."""
    from recgraph.artifact import write_artifact

    movies = {**STAR_WARS, **OTHERS}
    movies.update({10_000 + i: f"Filler Movie {i} ({1950 + i % 60})" for i in range(n_extra)})
    ids = np.array(sorted(movies), dtype=np.int64)
    embeddings = np.random.default_rng(seed).normal(size=(len(ids), 8)).astype(np.float32)
    return write_artifact(path, embeddings, ids, [movies[int(i)] for i in ids], ["Sci-Fi"] * len(ids),
                          {"config": {"trainer": {"backend": "test"}, "seed": seed},
                           "graph": {"nodes": len(ids), "edges": 0, "avg_degree": 0.0}},
                          n_trees=5, seed=seed)


def switch_symlink(link: Path, target: Path) -> None:
    """The roll-out recipe (``ln -sfn`` + ``mv -T``): a new link renamed over the old one."""
    tmp = link.with_name(link.name + ".tmp")
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m recgraph.serve`` on a free loopback port; :meth:`stop` always ends it."""

    def __init__(self, index: Path, *extra: str, workers: int = 1, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.workers = workers
        cmd = [sys.executable, "-m", "recgraph.serve", "--index", str(index), "--port", str(self.port),
               "--workers", str(workers), *extra]
        self._out = open(log, "wb")
        # Its own process group, so the workers go too if the parent must be killed.
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 30.0) -> "ServerProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                # Every worker up, not only the first to answer: a worker still starting when a
                # test switches the artifact would load whatever the link then points at.
                started = self.log_text().count("Application startup complete.")
                if httpx.get(self.base + "/healthz", timeout=1.0).status_code == 200 and started >= self.workers:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz with {self.workers} worker(s) up within {timeout:g} s:\n"
                           f"{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()


def running_server(index: Path, log: Path, *extra: str, workers: int = 1):
    """A generator for fixtures: yields a ready server and always stops it."""
    server = ServerProcess(index, *extra, workers=workers, log=log)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("serve")
    out = {"root": root}
    for name, seed in (("v1", 1), ("v2", 2)):
        out[name] = root / name
        out[name + "_id"] = make_artifact(root / name, seed)["artifact_id"]
    assert out["v1_id"] != out["v2_id"]
    return out


@pytest.fixture(scope="module")
def server(versions):
    link = versions["root"] / "current"
    switch_symlink(link, versions["v1"])
    yield from running_server(link, versions["root"] / "server.log")


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base, timeout=10) as c:
        yield c


# ---------------------------------------------------------------------- endpoints
def test_healthz_reports_artifact(client, versions):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["artifact_id"] == versions["v1_id"]
    assert body["format_version"] == 2 and body["n_items"] == 68
    assert r.headers[HEADER] == versions["v1_id"]


def test_index_summary(client, versions):
    r = client.get("/v1/index")
    assert r.status_code == 200
    body = r.json()
    assert body["backend"] == "test" and body["dim"] == 8 and body["n_items"] == 68
    assert body["metric"] == "angular" and body["seed"] == 1 and body["artifact_id"] == versions["v1_id"]
    assert body["graph"] == {"nodes": 68, "edges": 0, "avg_degree": 0.0}
    assert body["created_at"]


def test_similar(client, versions):
    from recgraph.index import ItemIndex

    r = client.get("/v1/similar/260", params={"k": 5})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers[HEADER] == versions["v1_id"]
    body = r.json()
    assert body["kind"] == "similar" and body["query"] == [{"item_id": 260, "title": STAR_WARS[260]}]
    assert body["unknown"] == []
    assert body == ItemIndex.load(versions["v1"]).similar(260, k=5).to_dict()
    assert len(body["results"]) == 5 and all(set(h) == {"item_id", "title", "score"} for h in body["results"])
    assert 260 not in [h["item_id"] for h in body["results"]]
    assert len(client.get("/v1/similar/260").json()["results"]) == 10  # default k
    assert len(client.get("/v1/similar/260?k=1000").json()["results"]) == 67  # everything but itself


def test_cached_answer_is_the_same(client, versions):
    first = client.get("/v1/similar/1?k=7")
    second = client.get("/v1/similar/1?k=7")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert second.headers[HEADER] == versions["v1_id"]
    assert int(second.headers["content-length"]) == len(second.content)


@pytest.mark.parametrize("path", ["/v1/similar/abc", "/v1/similar/1.5", "/v1/similar/260?k=0",
                                  "/v1/similar/260?k=1001", "/v1/similar/260?k=ten", "/v1/similar/260?k=-3",
                                  "/v1/similar/99999999999999999999999", "/v1/search", "/v1/search?q=",
                                  "/v1/search?q=star&k=0", "/v1/similar?k=3"])
def test_bad_parameters_are_422(client, path):
    r = client.get(path)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    assert HEADER in r.headers


def test_unknown_movie_is_404(client):
    r = client.get(f"/v1/similar/{UNKNOWN}")
    assert r.status_code == 404
    assert r.json()["detail"] == f"Item id {UNKNOWN} is not in the index (68 items)."
    assert client.get("/v1/similar/-5").status_code == 404


def test_similar_by_title(client):
    r = client.get("/v1/similar", params={"title": STAR_WARS[1196].upper(), "k": 3})
    assert r.status_code == 200
    assert r.json()["query"][0]["item_id"] == 1196 and len(r.json()["results"]) == 3
    r = client.get("/v1/similar", params={"title": "star wars"})
    assert r.status_code == 404
    body = r.json()
    assert "No item titled 'star wars'" in body["detail"]
    assert body["suggestions"] and set(body["suggestions"]) <= set(STAR_WARS.values())


def test_search(client):
    r = client.get("/v1/search", params={"q": "star wars", "k": 10})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "star wars"
    assert {h["item_id"] for h in body["results"]} == set(STAR_WARS)
    assert [h["item_id"] for h in client.get("/v1/search?q=STAR+WARS+empire").json()["results"]] == [1196]
    fuzzy = client.get("/v1/search", params={"q": "jumanj", "k": 1}).json()["results"]
    assert [h["item_id"] for h in fuzzy] == [2]
    assert client.get("/v1/search", params={"q": "zzzzqqqq"}).json()["results"] == []


def test_recommend(client, versions):
    from recgraph.index import ItemIndex

    r = client.post("/v1/recommend", json={"watched": [260, 1196, UNKNOWN], "k": 5, "exclude": [1210]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "recommend" and body["unknown"] == [UNKNOWN]
    assert [m["item_id"] for m in body["query"]] == [260, 1196]
    ids = [h["item_id"] for h in body["results"]]
    assert len(ids) == 5 and not {260, 1196, 1210} & set(ids)
    index = ItemIndex.load(versions["v1"])
    assert body == index.recommend([260, 1196, UNKNOWN], k=5, exclude=[1210]).to_dict()
    assert body["results"] == index.recommend([260, 1196], k=5, exclude=[1210]).to_dict()["results"]
    assert r.headers[HEADER] == versions["v1_id"]
    default_k = client.post("/v1/recommend", json={"watched": [1]}).json()
    assert len(default_k["results"]) == 10 and default_k["unknown"] == []


def test_recommend_all_unknown_is_404(client):
    r = client.post("/v1/recommend", json={"watched": [UNKNOWN, UNKNOWN + 1]})
    assert r.status_code == 404
    assert "None of the 2 watched items is in the index" in r.json()["detail"]


def test_recommend_all_unknown_with_popular_fallback(tmp_path):
    """An artifact whose scoring has fallback "popular" answers an all-unknown history with popular movies."""
    from fastapi.testclient import TestClient

    from recgraph.artifact import write_artifact
    from recgraph.serve.app import create_app

    movies = {**STAR_WARS, **OTHERS}
    ids = np.array(sorted(movies), dtype=np.int64)
    likes = np.arange(len(ids)) * 10
    popular = [(int(m), movies[int(m)], int(n)) for m, n in zip(ids, likes)] + [(UNKNOWN + 5, "Elsewhere (2001)", 1000)]
    write_artifact(tmp_path / "a", np.random.default_rng(3).normal(size=(len(ids), 8)).astype(np.float32), ids,
                   [movies[int(i)] for i in ids], [""] * len(ids), {"backend": "test"}, n_trees=5, seed=3,
                   likes=likes, popular=popular, scoring={"popularity_weight": 0.1, "fallback": "popular"})
    with TestClient(create_app(tmp_path / "a", reload_interval=0)) as c:
        r = c.post("/v1/recommend", json={"watched": [UNKNOWN, UNKNOWN + 1], "k": 3, "exclude": [int(ids[-1])]})
        assert r.status_code == 200, r.text
        assert r.json()["unknown"] == [UNKNOWN, UNKNOWN + 1]
        assert [h["item_id"] for h in r.json()["results"]] == [UNKNOWN + 5, int(ids[-2]), int(ids[-3])]
        known = c.post("/v1/recommend", json={"watched": [260], "k": 4}).json()
        from recgraph.index import ItemIndex
        assert known == ItemIndex.load(tmp_path / "a").recommend([260], k=4).to_dict()


@pytest.mark.parametrize("body", [
    '{"watched": [1, 2', "not json", "[]", "{}", '{"watched": []}', '{"watched": ["260"]}',
    '{"watched": [1.5]}', '{"watched": [true]}', '{"watched": 260}', '{"watched": [1], "k": 0}',
    '{"watched": [1], "k": 1001}', '{"watched": [1], "k": "5"}', '{"watched": [1], "exclude": ["x"]}',
    '{"watched": [null]}', b'\xff\xfe{"watched": [1]}', b'{"watched": [1], "k": 3\x00}',
])
def test_recommend_bad_body_is_422(client, body):
    r = client.post("/v1/recommend", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_recommend_too_many_watched_is_413(client):
    r = client.post("/v1/recommend", json={"watched": list(range(1001))})
    assert r.status_code == 413 and "at most 1000" in r.json()["detail"]


def test_similar_batch(client, versions):
    r = client.post("/v1/similar:batch", json={"item_ids": [260, UNKNOWN, 1], "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unknown"] == [UNKNOWN]
    assert [item["query"][0]["item_id"] for item in body["results"]] == [260, 1]
    single = client.get("/v1/similar/260?k=3").json()
    assert body["results"][0] == single
    assert r.headers[HEADER] == versions["v1_id"]


def test_similar_batch_limits(client):
    assert client.post("/v1/similar:batch", json={"item_ids": list(range(100)), "k": 1}).status_code == 200
    r = client.post("/v1/similar:batch", json={"item_ids": list(range(101))})
    assert r.status_code == 413 and "at most 100" in r.json()["detail"]
    assert client.post("/v1/similar:batch", json={"item_ids": []}).status_code == 422
    assert client.post("/v1/similar:batch", json={"item_ids": ["260"]}).status_code == 422
    assert client.post("/v1/similar:batch", json={"item_ids": [1], "k": 0}).status_code == 422
    assert client.post("/v1/similar:batch", json={"item_ids": [UNKNOWN]}).status_code == 404
    assert client.post("/v1/similar:batch", json={"movie_ids": [260]}).status_code == 422  # 0.1's field name


def test_oversized_body_is_413(client):
    r = client.post("/v1/recommend", content=b" " * 70_000 + b'{"watched": [1]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413


def chunked(*parts: bytes):
    """A body httpx sends with Transfer-Encoding: chunked and no Content-Length."""
    yield from parts


def test_chunked_body_is_capped_too(client):
    body = b'{"watched": [1], "k": 3' + b" " * 70_000 + b"}"
    r = client.post("/v1/recommend", content=chunked(body[:40_000], body[40_000:]),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == "The request body is over 65536 bytes."
    assert r.request.headers["transfer-encoding"] == "chunked" and "content-length" not in r.request.headers
    small = client.post("/v1/recommend", content=chunked(b'{"watched": [260],', b' "k": 3}'),
                        headers={"content-type": "application/json"})
    assert small.status_code == 200 and len(small.json()["results"]) == 3


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_post_without_json_content_type_is_415(client, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    r = client.post("/v1/recommend", content=b'{"watched": [260]}', headers=headers)
    assert r.status_code == 415, r.text
    detail = r.json()["detail"]
    assert detail.startswith("The request body must be JSON, sent with Content-Type: application/json; ")
    assert detail.endswith(f"got {content_type!r}." if content_type else "the request has no Content-Type.")
    assert client.post("/v1/similar:batch", content=b'{"item_ids": [1]}', headers=headers).status_code == 415
    ok = client.post("/v1/recommend", content=b'{"watched": [260]}',
                     headers={"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_strict_recommend_is_404_for_an_unknown_id(client):
    r = client.post("/v1/recommend", json={"watched": [260, UNKNOWN], "strict": True})
    assert r.status_code == 404
    assert r.json()["detail"] == f"Item id {UNKNOWN} is not in the index (68 items)."


def cli_json(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "recgraph", *args, "--json"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cli_json_is_the_http_answer(client, versions):
    """The same queries on the same artifact: the CLI's --json and the real server print one envelope."""
    index = str(versions["v1"])
    assert cli_json("similar", "--index", index, "260", "-k", "5") == client.get("/v1/similar/260?k=5").json()
    title = STAR_WARS[1196]
    assert cli_json("similar", "--index", index, title, "-k", "3") == \
        client.get("/v1/similar", params={"title": title, "k": 3}).json()
    http = client.post("/v1/recommend", json={"watched": [260, 1196, UNKNOWN], "k": 5, "exclude": [1210, 1]})
    assert http.status_code == 200
    cli = cli_json("recommend", "--index", index, "--watched", "260", "1196", str(UNKNOWN),
                   "--exclude", "1210", "1", "-k", "5")
    assert cli == http.json() and cli["unknown"] == [UNKNOWN]


def test_unknown_route_and_method(client):
    assert client.get("/v2/nothing").status_code == 404
    assert client.delete("/v1/similar/260").status_code == 405
    assert client.get("/v1/recommend").status_code == 405


def test_openapi_lists_every_endpoint(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/healthz", "/v1/index", "/v1/similar/{item_id}", "/v1/similar", "/v1/search",
            "/v1/recommend", "/v1/similar:batch"} <= set(paths)
    assert {"200", "404", "413", "422"} <= set(paths["/v1/similar:batch"]["post"]["responses"])
    # One envelope (Answer) for similar and recommend; 415 documented where a body is taken.
    assert "Answer" in json.dumps(paths["/v1/similar/{item_id}"]["get"]["responses"]["200"])
    assert "Answer" in json.dumps(paths["/v1/recommend"]["post"]["responses"]["200"])
    assert {"415"} <= set(paths["/v1/recommend"]["post"]["responses"])
    answer = schema["components"]["schemas"]["Answer"]
    assert list(answer["properties"]) == ["kind", "query", "unknown", "results"]
    # Items, not movies: the schema reads for a log of SKUs or songs as well.
    components = schema["components"]["schemas"]
    assert list(components["Item"]["properties"]) == ["item_id", "title"]
    assert list(components["Hit"]["properties"]) == ["item_id", "title", "score"]
    assert list(components["BatchRequest"]["properties"]) == ["item_ids", "k"]
    assert "movie" not in json.dumps(schema).lower()


# ---------------------------------------------------------------------- hot reload
def test_reload_under_requests(versions, tmp_path):
    """Switch the symlink while threads send requests: no request fails, the header moves on."""
    link = tmp_path / "current"
    switch_symlink(link, versions["v1"])
    broken = tmp_path / "v3-broken"
    shutil.copytree(versions["v2"], broken)
    with open(broken / "items.csv", "a", encoding="utf-8") as fh:
        fh.write("68,123456,Tampered (2020),Drama\n")  # no longer matches the manifest's checksum

    server = ServerProcess(link, "--reload-interval", "0.1", workers=2, log=tmp_path / "server.log").wait_ready()
    failures: list[str] = []
    seen: list[str] = []
    done = [0, 0, 0, 0]  # answers received per thread
    stop = threading.Event()

    def hammer(i: int) -> None:
        with httpx.Client(base_url=server.base, timeout=10) as c:
            while not stop.is_set():
                try:
                    if i % 2:
                        r = c.post("/v1/recommend", json={"watched": [260, 1], "k": 5})
                    else:
                        r = c.get(f"/v1/similar/{[260, 1, 2, 480][i % 4]}?k={3 + len(seen) % 5}")
                    if r.status_code != 200 or not r.json()["results"]:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    seen.append(r.headers.get(HEADER, "?"))
                    done[i] += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    def wait_for(artifact_id: str, timeout: float = 15.0) -> None:
        # Each worker reloads on its own; wait until 40 answers in a row come from the new one.
        deadline = time.monotonic() + timeout
        start = len(seen)
        while time.monotonic() < deadline:
            tail = seen[-40:]
            if len(seen) - start >= 40 and tail.count(artifact_id) == len(tail):
                return
            time.sleep(0.05)
        raise AssertionError(f"the service did not move to {artifact_id}; last headers {seen[-10:]}")

    def wait_until(condition, what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; log:\n{server.log_text()[-2000:]}")
            time.sleep(0.05)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        wait_for(versions["v1_id"])
        switch_symlink(link, versions["v2"])
        wait_for(versions["v2_id"])
        # Each worker reloads on its own clock: wait until both have moved to v2 (one line each),
        # or a worker that skipped v2 would rightly keep v1 when it refuses the broken version.
        moved = lambda: server.log_text().count(f"now serving artifact {versions['v2_id']}")  # noqa: E731
        wait_until(lambda: moved() >= 2, "both workers to serve v2")
        switch_symlink(link, broken)  # must be refused, and v2 kept in service
        # Wait for the event itself: each worker logs its refusal once.
        refusals = lambda: sum("not switching to" in line and "v3-broken" in line  # noqa: E731
                               for line in server.log_text().splitlines())
        wait_until(lambda: refusals() >= 2, "both workers to refuse the broken version")
        # A request already in flight keeps the version it started on: let every thread finish
        # two more before counting.
        marks = list(done)
        wait_until(lambda: all(d >= m + 2 for d, m in zip(done, marks)), "every thread to answer twice more")
        n_before = len(seen)
        wait_until(lambda: len(seen) - n_before >= 40, "40 more answers")
        assert set(seen[n_before:]) == {versions["v2_id"]}
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    assert not failures, failures[:5]
    assert len(seen) > 100
    log = server.log_text()
    assert f"now serving artifact {versions['v2_id']}" in log
    assert "not switching to" in log and "v3-broken" in log


def test_reload_through_pointer_file(versions, tmp_path):
    pointer = tmp_path / "CURRENT"
    pointer.write_text(f"{versions['v1']}\n")
    server = ServerProcess(pointer, "--reload-interval", "0.1", log=tmp_path / "server.log").wait_ready()
    try:
        assert httpx.get(server.base + "/healthz").json()["artifact_id"] == versions["v1_id"]
        tmp = tmp_path / "CURRENT.tmp"
        tmp.write_text(os.path.relpath(versions["v2"], tmp_path) + "\n")  # relative to the pointer's folder
        os.replace(tmp, pointer)
        deadline = time.monotonic() + 10
        while httpx.get(server.base + "/healthz").headers[HEADER] != versions["v2_id"]:
            assert time.monotonic() < deadline, "the service did not follow the pointer file"
            time.sleep(0.05)
        assert httpx.get(server.base + "/healthz").json()["artifact_id"] == versions["v2_id"]
    finally:
        server.stop()


def test_holder_keeps_old_version_when_new_one_is_broken(versions, tmp_path, caplog):
    from recgraph.serve.cache import CachedResponse
    from recgraph.serve.reloader import IndexHolder

    link = tmp_path / "current"
    switch_symlink(link, versions["v1"])
    holder = IndexHolder(link, interval=0)
    first = holder.current
    first.cache.put(("similar", 1, 1), CachedResponse([], b"cached"))
    assert holder.check() is False  # nothing moved
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    switch_symlink(link, broken)
    assert holder.check() is False and holder.current is first
    assert "not switching to" in caplog.text
    switch_symlink(link, tmp_path / "missing")  # dangling: keep serving, quietly
    assert holder.check() is False and holder.current is first
    switch_symlink(link, versions["v2"])
    assert holder.check() is True
    assert holder.current.artifact_id == versions["v2_id"] and len(holder.current.cache) == 0
    assert first.index.similar(260, k=3)  # a request still holding the old version can finish


# ---------------------------------------------------------------------- process level
def test_bad_index_exits_with_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "recgraph.serve", "--index", str(tmp_path / "nope"), "--port", "0"],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith("recgraph: error: ") and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "notes.txt").write_text("my notes\n")
    r = subprocess.run([sys.executable, "-m", "recgraph.serve", "--index", str(tmp_path / "notes.txt"), "--port", "0"],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert "notes.txt is a file, so it is read as a pointer file, but its first line names" in r.stderr


def test_imports_stay_light():
    code = ("import sys, recgraph.serve; assert 'fastapi' not in sys.modules and 'uvicorn' not in sys.modules; "
            "import recgraph.serve.app; "
            "heavy = [m for m in ('pandas', 'gensim', 'keras', 'jax') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
