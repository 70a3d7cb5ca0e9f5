"""Fuzz the loader, the artifact reader and the graph-directory reader (hypothesis): hostile bytes give a project error
(one sentence, :class:`recgraph.errors.RecgraphError`), never a traceback of another type.

Bounded: a few dozen small examples per test, a deadline each, no example database, so the
whole file runs in seconds. Run it longer locally with ``HYPOTHESIS_FUZZ_EXAMPLES=2000``.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from recgraph.artifact import read_artifact, sha256_file, write_artifact  # noqa: E402
from recgraph.data import load_log  # noqa: E402
from recgraph.errors import RecgraphError  # noqa: E402
from recgraph.index import ItemIndex  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_FUZZ_EXAMPLES", "40"))
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=30_000, database=None,  # ms; generous: the box is shared
                derandomize="HYPOTHESIS_FUZZ_EXAMPLES" not in os.environ,  # CI: the same examples each run
                suppress_health_check=list(HealthCheck))

_ROOT = Path(tempfile.mkdtemp(prefix="recgraph-fuzz-readers-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
_COUNTER = itertools.count()

# ---------------------------------------------------------------- the loader
_TOKENS = st.sampled_from([
    "1", "2", "42", "-3", "0", "4.5", "5", "2.0", "1e19", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "7" * 400, "nan", "inf", "-inf", "", " ", "abc", '"', '""', '"a,b"', "é", "\x00",
    "2020-01-31 12:00:00", "1.5e3", "+7", "0x10", "userId", "movieId", "rating", "timestamp",
])
_HEADERS = st.sampled_from([
    "userId,movieId,rating,timestamp", "userId,movieId,rating", "userId,movieId", "movieId,userId,rating",
    "userId,movieId,rating,timestamp,extra", "user,item", "", "userId,userId,movieId,rating", '"userId",movieId,rating',
])


@st.composite
def csv_bytes(draw) -> bytes:
    header = draw(_HEADERS)
    rows = draw(st.lists(st.lists(_TOKENS, min_size=0, max_size=6).map(",".join), max_size=8))
    text = "\n".join([header, *rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    data = text.encode("utf-8")
    if draw(st.booleans()):  # raw byte damage: a flipped, dropped or inserted byte
        noise = draw(st.binary(min_size=1, max_size=4))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + noise + data[at + draw(st.integers(0, 2)):]
    return data


@FUZZ
@given(data=csv_bytes(), suffix=st.sampled_from([".csv", ".tsv", ""]))
def test_load_log_on_hostile_csv_bytes(data, suffix):
    path = _ROOT / f"log-{next(_COUNTER)}{suffix}"
    path.write_bytes(data)
    try:
        ratings = load_log(path)
    except RecgraphError as exc:
        assert str(exc) and len(str(exc)) < 2000
    else:  # what loads is typed as documented
        frame = ratings.ratings
        assert frame["userId"].dtype == np.int64 and frame["movieId"].dtype == np.int64
        assert np.isfinite(frame["rating"].to_numpy()).all()
    finally:
        path.unlink()


# ---------------------------------------------------------------- the artifact reader
_BASE = _ROOT / "artifact"
write_artifact(_BASE, np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [-1, 0, 0]], dtype=np.float32),
               np.array([11, 12, 13, 14]), ["Alpha (2000)", "Beta (1999)", "Gamma, the (1990)", "Delta"],
               ["A", "A|B", "", "C"], {"backend": "test", "data": {"has_titles": True}}, n_trees=3, seed=1,
               likes=np.array([3, 0, 2, 1]), popular=[(11, "Alpha (2000)", 3), (13, "Gamma, the (1990)", 2)],
               catalogue=[(11, "Alpha (2000)"), (99, "Omega")], scoring={"popularity_weight": 0.1})
_MANIFEST = json.loads((_BASE / "manifest.json").read_text())
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)


def _paths(value, prefix=()):
    """Every (path of keys) in a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


_MANIFEST_PATHS = list(_paths(_MANIFEST))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], new)
    return copy


def _fresh_copy() -> Path:
    target = _ROOT / f"art-{next(_COUNTER)}"
    shutil.copytree(_BASE, target)
    return target


def _load(root: Path, verify: bool) -> None:
    try:
        index = ItemIndex.load(root, verify=verify)
    except RecgraphError as exc:
        assert str(exc) and len(str(exc)) < 2000
        return
    if len(index):  # what loads answers queries
        index.similar(int(index.item_ids[0]), k=2)
        index.recommend([int(index.item_ids[0])], k=2)


@FUZZ
@given(path=st.sampled_from(_MANIFEST_PATHS), new=_JSON, verify=st.booleans())
def test_read_artifact_on_a_mutated_manifest(path, new, verify):
    root = _fresh_copy()
    try:
        (root / "manifest.json").write_text(json.dumps(_replaced(_MANIFEST, path, new)))
        _load(root, verify)
    finally:
        shutil.rmtree(root)


@FUZZ
@given(name=st.sampled_from(["items.csv", "popular.csv", "catalogue.csv", "manifest.json", "embeddings.npy",
                             "index.ann"]),
       at=st.floats(0, 1), cut=st.integers(0, 64), noise=st.binary(max_size=16), rerecord=st.booleans(),
       verify=st.booleans())
def test_read_artifact_on_mutated_files(name, at, cut, noise, rerecord, verify):
    root = _fresh_copy()
    try:
        data = (root / name).read_bytes()
        i = int(at * len(data))
        (root / name).write_bytes(data[:i] + noise + data[i + cut:])
        if rerecord and name != "manifest.json":  # checksums that match: the parsers themselves are tried
            manifest = json.loads((root / "manifest.json").read_text())
            manifest["files"][name] = {"size": (root / name).stat().st_size, "sha256": sha256_file(root / name)}
            (root / "manifest.json").write_text(json.dumps(manifest))
        _load(root, verify)
    finally:
        shutil.rmtree(root)


def test_the_base_artifact_reads():
    assert read_artifact(_BASE).titles[2] == "Gamma, the (1990)"


# ---------------------------------------------------------------- the graph-directory reader
def _graph_base() -> Path:
    from conftest import tiny_log

    from recgraph.config import GraphParams, RunConfig
    from recgraph.data import Ratings
    from recgraph.pipeline import build_graph_dir

    target = _ROOT / "graph"
    if not target.exists():
        ratings, movies = tiny_log()
        build_graph_dir(Ratings(ratings, movies, "tiny", "0" * 32), target, RunConfig(graph=(GraphParams(5.0, 10.0),)))
    return target


@settings(FUZZ, max_examples=max(MAX_EXAMPLES // 2, 1))  # each example copies a directory and reads Parquet
@given(data=st.data(), verify=st.booleans())
def test_read_graph_dir_on_a_mutated_manifest(data, verify):
    pytest.importorskip("pyarrow")
    from recgraph.graph_store import read_graph_dir

    base = _graph_base()
    manifest = json.loads((base / "manifest.json").read_text())
    path = data.draw(st.sampled_from(list(_paths(manifest))))
    new = data.draw(_JSON | st.sampled_from(["/etc/hostname", "../graph/edges.parquet", "edges.parquet/../x",
                                             "items.parquet", "edges-1.parquet"]))
    root = _ROOT / f"graph-{next(_COUNTER)}"
    shutil.copytree(base, root)
    try:
        (root / "manifest.json").write_text(json.dumps(_replaced(manifest, path, new)))
        try:
            read_graph_dir(root, verify=verify)
        except RecgraphError as exc:
            assert str(exc) and len(str(exc)) < 2000
    finally:
        shutil.rmtree(root)
