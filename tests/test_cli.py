"""The CLI end to end, as a user runs it: real processes, real data (training ones are slow)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "recgraph", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def run_script(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def artifact(ml_small_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "art"
    proc = run_script("--backend", "gensim", "--data", ml_small_path, "--out", out, "--seed", "3", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "1,405 nodes, 40,043 edges, average degree 57.0" in proc.stdout
    assert "Star Wars: Episode IV - A New Hope (1977):" in proc.stdout
    assert "timings (s): load" in proc.stdout
    return out


@pytest.mark.slow
def test_train_writes_artifact(artifact):
    assert sorted(p.name for p in artifact.iterdir()) == ["catalogue.csv", "embeddings.npy", "index.ann", "items.csv",
                                                              "manifest.json", "popular.csv"]
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 3 and manifest["config"]["trainer"]["gensim"]["workers"] == 1


@pytest.mark.slow
def test_similar_and_recommend(artifact):
    out = run("similar", "--index", artifact, "Star Wars: Episode IV - A New Hope (1977)", "-k", "10", "--json")
    payload = json.loads(out.stdout)
    ids = [r["item_id"] for r in payload["results"]]
    assert len(ids) == 10 and 260 not in ids and 1196 in ids
    text = run("similar", "--index", artifact, "260", "-k", "3").stdout.splitlines()
    assert len(text) == 3 and text[0].split()[0] == "1"
    rec = json.loads(run("recommend", "--index", artifact, "--watched", "260", "1196", "--exclude", "1210",
                         "-k", "5", "--json").stdout)
    assert len(rec["results"]) == 5 and not {260, 1196, 1210} & {r["item_id"] for r in rec["results"]}


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["similar", "--index", "{art}", "Star Wars"], "No item titled 'Star Wars' is in the index; did you mean"),
        (["similar", "--index", "{art}", "999999"], "Item id 999999 is not in the index"),
        (["similar", "--index", "{art}", "260", "-k", "0"], "k must be an integer"),
        (["similar", "--index", "/nonexistent/dir", "260"], "does not exist"),
        (["recommend", "--index", "{art}", "--watched", "999998"], "Item id 999998 is not in the index"),
        (["recommend", "--index", "{art}", "--watched", "260", "--exclude", "Star Wars V", "--strict"],
         "No item titled 'Star Wars V'"),
        (["similar", "--index", "{art}", "²"], "No item titled '²'"),
    ],
)
def test_query_errors_are_one_sentence(artifact, args, message):
    proc = run(*[a.replace("{art}", str(artifact)) for a in args], check=False)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--p", "0"], "p must be a finite number > 0"),
        (["--q", "-1"], "q must be a finite number > 0"),
        (["--walk-length", "0"], "walk_length must be an integer >= 1"),
        (["--num-walks", "0"], "num_walks must be an integer >= 1"),
        (["--min-weight", "1e9"], "min_weight 1e+09"),
        (["--backend", "torch"], "Unknown backend 'torch'; available: gensim, keras"),
        (["--dim", "0"], "dim must be an integer >= 1"),
        (["--vectors", "sideways"], "vectors must be 'input', 'output' or 'both'"),
        (["--seed", "-1"], "seed must be an integer >= 0"),
    ],
)
def test_train_errors_keep_existing_artifact(artifact, ml_small_path, extra, message):
    before = (artifact / "manifest.json").read_bytes()
    proc = run_script("--data", ml_small_path, "--out", artifact, "--quiet", *extra)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (artifact / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in artifact.parent.iterdir()) == ["art"]  # no temporary directory left


def test_bad_data_sources(tmp_path):
    proc = run_script("--data", tmp_path / "missing.zip", "--out", tmp_path / "o", "--quiet")
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating\n1,1,9\n")
    (tmp_path / "movies.csv").write_text("movieId,title\n1,A\n")
    proc = run_script("--data", tmp_path, "--out", tmp_path / "o", "--quiet")
    assert proc.returncode == 1 and "line 2: rating 9 is outside" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_refuses_to_overwrite_a_foreign_directory(tmp_path, ml_small_path):
    (tmp_path / "notes.txt").write_text("keep me")
    proc = run_script("--data", ml_small_path, "--out", tmp_path, "--quiet")
    assert proc.returncode == 1 and "is not an artifact recgraph wrote" in proc.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_usage_errors_exit_2():
    proc = run("similar", check=False)
    assert proc.returncode == 2 and "usage:" in proc.stderr


@pytest.mark.slow
def test_seed_preset_reproduces_the_example_graph(tmp_path, ml_small_path):
    out = tmp_path / "seed"
    proc = run_script("--preset", "seed", "--data", ml_small_path, "--out", out, "--quiet", "--epochs", "2",
                      "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    config = manifest["config"]
    assert config["preset"] == "seed"
    assert manifest["graph"] == {"nodes": 1405, "edges": 40043, "avg_degree": 57.0}
    assert config["walks"] == {"num_walks": 5, "walk_length": 10, "p": 2.0, "q": 1.5}
    # The preset's trainer values, with the explicit flag winning.
    assert config["trainer"]["gensim"]["window"] == 10 and config["trainer"]["gensim"]["epochs"] == 2


@pytest.mark.slow
def test_movielens_preset_trains_three_graph_views(tmp_path, ml_small_path):
    out = tmp_path / "tuned"
    proc = run_script("--preset", "movielens", "--data", ml_small_path, "--out", out, "--epochs", "1", "--num-walks", "2",
                      "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["graph"]["nodes"] == 1405 and manifest["graph"]["views"][0]["nodes"] == 1405
    second = manifest["graph"]["views"][1]
    assert (second["min_rating"], second["min_weight"], second["min_item_users"]) == (4.0, 30.0, 10)
    assert (second["max_degree"], second["max_user_items"]) == (60, 1000)
    third = manifest["graph"]["views"][2]
    assert (third["min_rating"], third["min_weight"], third["min_item_users"]) == (4.5, 20.0, 0)
    assert [v["min_rating"] for v in manifest["config"]["graph"]] == [5.0, 4.0, 4.5]
    # One row per movie of any view, three 50-d blocks side by side.
    assert manifest["n_items"] == manifest["graph"]["items"] > max(v["nodes"] for v in manifest["graph"]["views"])
    assert manifest["dim"] == 150
    assert ("view 1 (ratings >= 4, weight >= 30, items liked by >= 10 users, <= 1000 latest likes per user, "
            "top 60 edges per item)") in proc.stdout
    assert ("view 2 (ratings >= 4.5, weight >= 20, <= 1000 latest likes per user, top 60 edges per item):"
            in proc.stdout)
    assert f"{manifest['n_items']:,} items in all 3 views" in proc.stdout
    one = tmp_path / "one"
    proc = run_script("--preset", "movielens", "--one-view", "--data", ml_small_path, "--out", one, "--quiet",
                      "--epochs", "1", "--num-walks", "2", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((one / "manifest.json").read_text())
    assert "views" not in manifest["graph"] and manifest["n_items"] == 1405 and manifest["dim"] == 50


def test_bad_min_item_users_is_one_sentence(tmp_path, ml_small_path):
    proc = run_script("--data", ml_small_path, "--out", tmp_path / "o", "--min-item-users", "-2", "--quiet")
    assert proc.returncode == 1 or proc.returncode == 2
    assert "min_item_users must be an integer >= 0; got -2." in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_preset_is_a_usage_error(tmp_path):
    proc = run_script("--preset", "best", "--out", tmp_path / "o")
    assert proc.returncode == 2 and "invalid choice: 'best'" in proc.stderr
