"""``recgraph similar`` and ``recgraph recommend`` as a user runs them: real processes, tiny artifacts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recgraph.artifact import write_artifact
from recgraph.index import MAX_K

REPO = Path(__file__).resolve().parent.parent
N_MOVIES = 3000  # -k MAX_K (1000) prints about 100 KB of JSON: more than any pipe buffer holds


def run(*args):
    return subprocess.run([sys.executable, "-m", "recgraph", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("query") / "art"
    ids = np.arange(1, N_MOVIES + 1)
    titles = [f"Movie Number {i} ({1900 + i % 120})" for i in ids]
    vectors = np.random.default_rng(0).normal(size=(N_MOVIES, 8)).astype(np.float32)
    write_artifact(out, vectors, ids, titles, [""] * N_MOVIES, {"params": {"graph": {
        "min_rating": 5.0, "min_weight": 10.0, "min_item_users": 0}}}, n_trees=3, seed=0,
        catalogue=list(zip(ids.tolist(), titles)) + [(99_999, "Left Out (1980)")])
    return out


def test_json_into_a_closed_pipe_exits_quietly(artifact):
    """``recgraph similar ... --json | head -3``: a real pipe that the reader closes early."""
    script = (f"{sys.executable} -m recgraph similar --index {artifact} 1 -k {MAX_K} --json | head -3; "
              "echo status=${PIPESTATUS[0]} >&2")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.stdout.splitlines() == ["{", '  "kind": "similar",', '  "query": [']
    status = proc.stderr.strip().splitlines()
    assert status[-1] in ("status=0", "status=141"), proc.stderr  # 141 = 128 + SIGPIPE, as a shell reports it
    assert status[:-1] == []  # nothing else on stderr: no "Broken pipe", no traceback


def test_table_and_json(artifact):
    table = run("similar", "--index", artifact, "Movie Number 5 (1905)", "-k", "3")
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 3
    assert table.stdout.splitlines()[0].split()[0] == "1"
    payload = json.loads(run("similar", "--index", artifact, "5", "-k", "3", "--json").stdout)
    assert payload["kind"] == "similar" and payload["query"] == [{"item_id": 5, "title": "Movie Number 5 (1905)"}]
    assert len(payload["results"]) == 3 and payload["unknown"] == []


def test_recommend_reports_unknown_movies_unless_strict(artifact):
    proc = run("recommend", "--index", artifact, "--watched", "1", "2", "99999", "Movie Nunber 7 (1907)",
               "--exclude", "3", "-k", "4")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 4
    notes = proc.stderr.splitlines()
    assert len(notes) == 2 and all(n.startswith("recgraph: note: left out: ") for n in notes)
    assert "Item id 99999 ('Left Out (1980)') is in the item catalogue but not in the graph" in notes[0]
    assert "No item titled 'Movie Nunber 7 (1907)'" in notes[1] and "did you mean 'Movie Number 7 (1907)'" in notes[1]
    payload = json.loads(run("recommend", "--index", artifact, "--watched", "1", "99999", "--json").stdout)
    assert payload["unknown"] == [99999] and payload["kind"] == "recommend"
    strict = run("recommend", "--index", artifact, "--watched", "1", "99999", "--strict")
    assert strict.returncode == 1 and strict.stdout == ""
    assert strict.stderr.startswith("recgraph: error: Item id 99999 ('Left Out (1980)') is in the item catalogue")
    assert len(strict.stderr.splitlines()) == 1


def test_an_index_that_is_a_file_is_named_as_a_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    proc = run("similar", "--index", notes, "1")
    assert proc.returncode == 1 and "is a file, not an artifact directory" in proc.stderr
    assert "does not exist" not in proc.stderr


def test_train_into_a_path_under_a_file_fails_before_any_work(tmp_path):
    """The output is checked first: the (missing) data is never reached."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    proc = run("train", "--data", tmp_path / "no-such-data", "--out", notes / "sub", "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"recgraph: error: Output {notes / 'sub'} cannot be created: {notes} is a file, "
                                   "not a directory; choose another --out.")
    assert notes.read_text() == "mine"
