"""Hostile files and faults (issue 20, the data half): nothing crashes, nothing lies, nothing
escapes its directory, nothing is left behind. Tiny data built here; bounded in size and time."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recgraph import artifact as artifact_module
from recgraph.artifact import (
    MAX_FIELD_CHARS,
    read_artifact,
    sha256_file,
    write_artifact,
)
from recgraph.atomic import atomic_dir, recover, replace_dir, staging_dir
from recgraph.data import load_log
from recgraph.data import movielens as movielens_module
from recgraph.errors import ArtifactError, DataError, ParameterError
from recgraph.index import ItemIndex

REPO = Path(__file__).resolve().parent.parent
EMBEDDINGS = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [-1, 0, 0], [0, 0.2, 1]], dtype=np.float32)
IDS = np.array([11, 12, 13, 14, 15])
TITLES = ["Alpha (2000)", "Alpha Two (2001)", "Beta (1999)", "Gamma (1990)", "beta (2005)"]


def tiny_artifact(path, titles=TITLES, **kwargs):
    return write_artifact(path, EMBEDDINGS, IDS, list(titles), ["A", "A", "B", "C", "B"], {"backend": "test"},
                          n_trees=5, seed=1, **kwargs)


def cli(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "recgraph.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout, env=env, check=False)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def rewrite_manifest(root: Path, **changes) -> dict:
    manifest = json.loads((root / "manifest.json").read_text())
    manifest.update(changes)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def record(root: Path, name: str) -> None:
    """Make the manifest's checksum of ``name`` match the file as it is now."""
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"][name] = {"size": (root / name).stat().st_size, "sha256": sha256_file(root / name)}
    (root / "manifest.json").write_text(json.dumps(manifest))


# ---------------------------------------------------------------- 1. an artifact its reader rejects
def test_a_title_past_the_csv_default_limit_trains_and_reads_back(tmp_path):
    import pandas as pd
    from conftest import tiny_log

    ratings, movies = tiny_log()
    movies.loc[0, "title"] = "T" * 200_000  # over Python's csv default of 131,072
    data = tmp_path / "log"
    data.mkdir()
    ratings.to_csv(data / "ratings.csv", index=False)
    movies.to_csv(data / "movies.csv", index=False)
    out = tmp_path / "art"
    trained = cli("train", "--data", data, "--out", out, "--seed", "1", "--min-weight", "1", "--workers", "1",
                  "--quiet")
    assert trained.returncode == 0, trained.stderr
    answer = cli("similar", "2", "--index", out, "--json", "-k", "18")
    assert answer.returncode == 0, answer.stderr
    titles = {hit["item_id"]: hit["title"] for hit in json.loads(answer.stdout)["results"]}
    assert titles.get(1) == "T" * 200_000 or len(ItemIndex.load(out).titles[0]) == 200_000
    assert pd.read_csv(out / "items.csv")["title"].str.len().max() == 200_000


def test_a_field_past_the_readers_limit_is_refused_before_any_work(tmp_path):
    titles = list(TITLES)
    titles[2] = "x" * (MAX_FIELD_CHARS + 1)
    with pytest.raises(ParameterError, match=r"title of item 13 is 1,048,577 characters long; an artifact stores "
                                             r"at most 1,048,576"):
        tiny_artifact(tmp_path / "a", titles=titles)
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []


def test_the_artifact_is_read_back_before_the_swap(tmp_path, monkeypatch):
    out = tmp_path / "a"
    tiny_artifact(out)
    before = sha256_file(out / "manifest.json")

    def refuse(path):
        raise ArtifactError(f"{path}: refused by the reader")

    monkeypatch.setattr(artifact_module, "_read_items", refuse)
    with pytest.raises(ArtifactError, match=r"could not be read back .*refused by the reader.*was left unchanged"):
        tiny_artifact(out)
    assert sha256_file(out / "manifest.json") == before
    assert [p.name for p in tmp_path.iterdir()] == ["a"]  # no staging left


# ---------------------------------------------------------------- 3. ids past int64
@pytest.mark.parametrize("value", ["9223372036854775808", "1e19", "-9223372036854775809", "18446744073709551616",
                                   "7" * 5000])
def test_ids_past_int64_are_refused_naming_file_line_and_value(tmp_path, value):
    path = tmp_path / "log.csv"
    path.write_text(f"userId,movieId,rating\n1,2,4\n1,{value},5\n2,3,4\n")
    with pytest.raises(DataError) as err:
        load_log(path)
    message = str(err.value)
    assert message.startswith(f"{path} line 3: movieId '{value[:60]}'")
    assert "is outside the 64-bit integer range (-9223372036854775808 to 9223372036854775807)." in message
    assert len(message) < 300


def test_the_largest_int64_id_is_kept_exactly_also_beside_a_float(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("userId,movieId,rating\n1,2.0,4\n1,9223372036854775807,5\n2,9007199254740993,4\n")
    ids = load_log(path).ratings["movieId"].tolist()
    assert ids == [2, 9223372036854775807, 9007199254740993]


def test_parquet_float_ids_past_int64_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"userId": [1, 1, 2], "movieId": [1.0, 1e19, 2.0], "rating": [4.0, 5.0, 4.0]}), path)
    with pytest.raises(DataError, match=rf"^{path} row 2: movieId 1e\+19 is outside the 64-bit integer range"):
        load_log(path)


# ---------------------------------------------------------------- 5. crash leftovers
def test_staging_of_a_killed_run_is_swept_by_the_next_write(tmp_path, caplog):
    out = tmp_path / "art"
    tiny_artifact(out)
    script = ("import os, signal, sys; from pathlib import Path; from recgraph.atomic import staging_dir; "
              "t = staging_dir(Path(sys.argv[1])); (t / 'index.ann').write_bytes(b'half'); "
              "os.kill(os.getpid(), signal.SIGKILL)")
    child = subprocess.Popen([sys.executable, "-c", script, str(out)], env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.wait(timeout=60) == -signal.SIGKILL
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".art.{child.pid}.")
    with caplog.at_level(logging.WARNING, logger="recgraph.atomic"):
        tiny_artifact(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]
    assert "staging area of an interrupted run" in caplog.text and leftovers[0] in caplog.text


def test_a_live_runs_staging_is_left_alone(tmp_path):
    out = tmp_path / "art"
    mine = staging_dir(out)  # this process is alive
    assert recover(out) == [] and mine.is_dir()
    shutil.rmtree(mine)


def test_a_crash_between_the_two_renames_is_restored(tmp_path, caplog):
    out = tmp_path / "art"
    tiny_artifact(out)
    old_manifest = (out / "manifest.json").read_text()
    pid = dead_pid()
    os.rename(out, tmp_path / f".art.old.{pid}")  # the state a kill between the renames leaves
    with caplog.at_level(logging.WARNING, logger="recgraph.atomic"):
        done = recover(out)
    assert done == [(f"restored {out} from .art.old.{pid}, left by an interrupted run (process {pid}) between the "
                     "two renames of its swap")]
    assert (out / "manifest.json").read_text() == old_manifest and "restored" in caplog.text
    read_artifact(out)
    # The next write also finds it there (and a finished swap's old copy is removed).
    shutil.copytree(out, tmp_path / f".art.old.{pid}")
    tiny_artifact(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


def test_the_swap_exchanges_the_names_in_one_call(tmp_path, monkeypatch):
    from recgraph import atomic

    target = tmp_path / "out"
    target.mkdir()
    (target / "v").write_text("1")
    new = staging_dir(target)
    (new / "v").write_text("2")
    probe = tmp_path / "probe"
    probe.mkdir()
    if not atomic._exchange(probe, target) or not atomic._exchange(probe, target):  # swap twice: back as it was
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")

    def no_rename(*args):
        raise AssertionError("a plain rename would open a window without the target")

    monkeypatch.setattr(atomic.os, "rename", no_rename)
    replace_dir(new, target)
    assert (target / "v").read_text() == "2" and not new.exists()


def test_the_two_rename_fallback_still_works(tmp_path, monkeypatch):
    from recgraph import atomic

    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    target.mkdir()
    with atomic_dir(target) as tmp:
        (tmp / "v").write_text("2")
    assert (target / "v").read_text() == "2" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------- 6. manifests that point out of their directory
@pytest.fixture
def graph_dir(tiny_ratings, tmp_path):
    pytest.importorskip("pyarrow")
    from recgraph.config import GraphParams, RunConfig
    from recgraph.pipeline import build_graph_dir

    out = tmp_path / "graph"
    build_graph_dir(tiny_ratings, out, RunConfig(graph=(GraphParams(5.0, 10.0),)))
    return out


@pytest.mark.parametrize("change", ["absolute_edges", "absolute_items", "dotdot_items", "dotdot_file", "nested_edges"])
def test_graph_manifest_paths_stay_inside(graph_dir, tmp_path, change):
    from recgraph.graph_store import read_graph_dir

    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(graph_dir / "edges.parquet", outside / "edges.parquet")
    shutil.copy(graph_dir / "items.parquet", outside / "items.parquet")
    manifest = json.loads((graph_dir / "manifest.json").read_text())
    if change == "absolute_edges":
        manifest["views"][0]["edges"] = str(outside / "edges.parquet")
    elif change == "absolute_items":
        manifest["items"] = str(outside / "items.parquet")
    elif change == "dotdot_items":
        manifest["items"] = "../outside/items.parquet"
    elif change == "dotdot_file":
        manifest["files"]["../outside/edges.parquet"] = {"size": 1, "sha256": "0"}
    else:
        manifest["views"][0]["edges"] = "items.parquet/../../outside/edges.parquet"
    (graph_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="is not a file of the graph directory; paths in a manifest are names "
                                            "inside it"):
        read_graph_dir(graph_dir, verify=False)


def test_graph_files_entries_reveal_nothing_about_outside_paths(graph_dir, tmp_path):
    from recgraph.graph_store import read_graph_dir

    (tmp_path / "exists").write_text("x")
    messages = []
    for name in ("../exists", "../does-not-exist"):
        manifest = json.loads((graph_dir / "manifest.json").read_text())
        manifest["files"] = {name: {"size": 1, "sha256": "0"}}
        (graph_dir / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ArtifactError) as err:
            read_graph_dir(graph_dir)
        messages.append(str(err.value).replace(name, "NAME"))
    assert messages[0] == messages[1]


def test_graph_file_linked_out_of_the_directory_is_refused(graph_dir, tmp_path):
    from recgraph.graph_store import read_graph_dir

    outside = tmp_path / "elsewhere.parquet"
    shutil.move(graph_dir / "edges.parquet", outside)
    (graph_dir / "edges.parquet").symlink_to(outside)  # the checksum still matches
    with pytest.raises(ArtifactError, match="edges.parquet is a symbolic link that leads out of"):
        read_graph_dir(graph_dir)


def test_graph_file_without_a_checksum_is_refused(graph_dir):
    from recgraph.graph_store import read_graph_dir

    manifest = json.loads((graph_dir / "manifest.json").read_text())
    del manifest["files"]["edges.parquet"]
    (graph_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="edges.parquet has no checksum in the manifest"):
        read_graph_dir(graph_dir)
    read_graph_dir(graph_dir, verify=False)  # unverified reading stays possible


def test_artifact_manifest_names_outside_are_refused(tmp_path):
    tiny_artifact(tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest["files"]["../secret"] = {"size": 1, "sha256": "0"}
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"lists a file '\.\./secret'; an artifact's files are .*plain names"):
        read_artifact(tmp_path / "a")


@pytest.mark.parametrize("verify", [True, False])
def test_items_csv_linked_to_a_foreign_file_is_refused_without_quoting_it(tmp_path, verify):
    tiny_artifact(tmp_path / "a")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:SECRET-LINE:0:0\n")
    (tmp_path / "a" / "items.csv").unlink()
    (tmp_path / "a" / "items.csv").symlink_to(secret)
    with pytest.raises(ArtifactError) as err:
        read_artifact(tmp_path / "a", verify=verify)
    assert "symbolic link that leads out of" in str(err.value) and "SECRET" not in str(err.value)


def test_a_link_inside_the_directory_is_still_read(tmp_path):
    tiny_artifact(tmp_path / "a")
    (tmp_path / "a" / "items.csv").rename(tmp_path / "a" / "items-v1.csv")
    (tmp_path / "a" / "items.csv").symlink_to("items-v1.csv")
    assert read_artifact(tmp_path / "a").titles == TITLES


# ---------------------------------------------------------------- 8. errors and memory bounded by what is kept
def test_a_row_of_a_million_fields_gives_a_short_message(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("userId,movieId,rating\n1,2,4\n" + ",".join(["9"] * 1_000_000) + "\n")
    with pytest.raises(DataError) as err:
        load_log(path)
    assert str(err.value).startswith(f"{path} line 3: expected 3 columns") and len(str(err.value)) < 400


def test_a_header_of_too_many_columns_is_refused_before_parsing(tmp_path):
    path = tmp_path / "log.csv"
    names = ["userId", "movieId", "rating"] + [f"c{i}" for i in range(20_000)]
    path.write_text(",".join(names) + "\n" + ",".join(["1"] * len(names)) + "\n")
    with pytest.raises(DataError, match=r"the header has 20,003 columns; a log or items table has at most 10,000\.$"):
        load_log(path)


def test_a_header_longer_than_a_mebibyte_is_refused(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(b"userId,movieId,rating," + b"x" * (2 << 20))
    with pytest.raises(DataError, match=r"the header \(line 1\) is longer than 1,048,576 bytes"):
        load_log(path)


def bomb(path: Path, line: bytes, size: int, movies: bool = True) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("ml/ratings.csv", "w") as member:
            member.write(b"userId,movieId,rating\n")
            block = line * (1 << 20 // len(line) or 1)
            for _ in range(size // len(block)):
                member.write(block)
        if movies:
            archive.writestr("ml/movies.csv", "movieId,title,genres\n1,One (2000),Drama\n")
    return path


def test_zip_expansion_is_capped_and_adjustable(tmp_path, monkeypatch):
    monkeypatch.setattr(movielens_module, "UNZIP_FLOOR_BYTES", 1 << 20)
    path = bomb(tmp_path / "bomb.zip", b"1,1,5.0\n", 8 << 20)
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"bomb.zip:ml/ratings.csv expands to more than .* \(50 times its .* "
                                        r"compressed bytes\); refusing .* \(raise RECGRAPH_MAX_UNZIP_RATIO if"):
        load_log(path)
    monkeypatch.setenv("RECGRAPH_MAX_UNZIP_RATIO", "100000")
    assert len(load_log(path).ratings) == 1  # one (user, item) pair, repeated
    monkeypatch.setenv("RECGRAPH_MAX_UNZIP_RATIO", "lots")
    with pytest.raises(DataError, match="RECGRAPH_MAX_UNZIP_RATIO must be a number >= 1"):
        load_log(path)


def test_a_huge_single_line_member_ends_in_a_clean_error(tmp_path):
    path = bomb(tmp_path / "line.zip", b"9" * 4096, 80 << 20)
    script = ("import sys\nfrom recgraph.data import load_log\nfrom recgraph.errors import DataError\n"
              "try:\n    load_log(sys.argv[1])\nexcept DataError as exc:\n    print(exc)\n    sys.exit(3)\n")
    for _ in range(4):  # the abort at exit came in about 1 run of 8
        proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
        assert proc.returncode == 3, proc.stderr[-2000:]
        assert "line.zip:ratings.csv has a line longer than 16,777,216 bytes" in proc.stdout
        assert "Fatal" not in proc.stderr and len(proc.stdout) < 600


# ---------------------------------------------------------------- 9. smaller
def test_a_full_disk_names_the_file_and_the_cause(tmp_path, monkeypatch):
    out = tmp_path / "a"
    tiny_artifact(out)
    before = sha256_file(out / "manifest.json")

    def short_write(path, array):
        Path(path).write_bytes(b"\x93NUMPY" + b"\0" * 100)
        raise OSError("70250 requested and 34784 written")

    monkeypatch.setattr(artifact_module.np, "save", short_write)
    monkeypatch.setattr(artifact_module.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 0))
    with pytest.raises(ArtifactError, match=rf"^Could not write embeddings.npy of the artifact {out}: the disk "
                                            rf"holding {tmp_path} is full; {out} was left unchanged\.$"):
        tiny_artifact(out)
    assert sha256_file(out / "manifest.json") == before and [p.name for p in tmp_path.iterdir()] == ["a"]


@pytest.mark.parametrize("tamper, match", [
    (lambda m: "[" * 200_000 + "]" * 200_000, "nests too deeply"),
    (lambda m: {**m, "files": {**m["files"], "items.csv": "x"}}, "the record of items.csv must be an object"),
    (lambda m: {**m, "metric": "hamming-ish"}, "has metric 'hamming-ish'; this recgraph reads 'angular'"),
    (lambda m: {**m, "data": ["x"]}, "data must be a JSON object"),
    (lambda m: {**m, "dim": 10**40}, "dim and n_items must be positive integers"),
    (lambda m: b"\xff\xfe{\x00}", "is not UTF-8 text"),
])
def test_tampered_manifests_are_one_sentence(tmp_path, tamper, match):
    tiny_artifact(tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    changed = tamper(manifest)
    path = tmp_path / "a" / "manifest.json"
    if isinstance(changed, bytes):
        path.write_bytes(changed)
    else:
        path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    with pytest.raises(ArtifactError, match=match):
        ItemIndex.load(tmp_path / "a")


def test_items_csv_not_utf8_is_one_sentence(tmp_path):
    tiny_artifact(tmp_path / "a")
    (tmp_path / "a" / "items.csv").write_bytes(b"index,movie_id,title,genres\n0,11,\xff\xfe,A\n")
    record(tmp_path / "a", "items.csv")
    with pytest.raises(ArtifactError, match="items.csv is not UTF-8 text"):
        read_artifact(tmp_path / "a")


def test_a_five_thousand_digit_id_on_the_command_line(tmp_path):
    tiny_artifact(tmp_path / "a")
    digits = "1" * 5000
    similar = cli("similar", digits, "--index", tmp_path / "a")
    assert similar.returncode == 1 and "Traceback" not in similar.stderr
    assert similar.stderr.startswith("recgraph: error: Item id '111") and "ids are 64-bit integers" in similar.stderr
    assert len(similar.stderr) < 300
    recommend = cli("recommend", "--watched", "11", digits, "--index", tmp_path / "a")
    assert recommend.returncode == 0 and "Traceback" not in recommend.stderr and "left out" in recommend.stderr


def test_a_corrupt_annoy_file_with_a_matching_checksum_is_refused_not_crashed_on(tmp_path):
    tiny_artifact(tmp_path / "a")
    data = bytearray((tmp_path / "a" / "index.ann").read_bytes())
    node = 4 * (3 + 3)  # angular, dim 3: n_descendants, two children, three floats
    last = len(data) // node - 1  # a root: a split node; point its child forward, past itself
    data[last * node + 4:last * node + 8] = (10**6).to_bytes(4, "little")
    (tmp_path / "a" / "index.ann").write_bytes(bytes(data))
    record(tmp_path / "a", "index.ann")
    with pytest.raises(ArtifactError, match=r"index.ann is not a valid Annoy index of 5 items of dim 3: node \d+ is "
                                            r"malformed; the file is corrupt"):
        read_artifact(tmp_path / "a")
