"""Any log end to end: CSV, Parquet parts and DataFrames with their own column names, no rating
column (implicit feedback), an optional items table; through the commands and pipeline.train."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recgraph.cli import main

TRAIN_SMALL = ["--seed", "1", "--dim", "8", "--epochs", "1", "--num-walks", "2", "--walk-length", "5",
               "--workers", "1", "--min-weight", "1", "--quiet"]
COLUMNS = ["--user-col", "u", "--item-col", "i", "--time-col", "t"]
N_USERS, N_ITEMS, CLUSTERS = 60, 40, 4


@pytest.fixture
def clicks() -> pd.DataFrame:
    """60 users x 40 items (ids 101..140) in 4 clusters of 10: each user clicks 6 items of one
    cluster and 1 other item, so items of a cluster share many users. No rating column."""
    rng = np.random.default_rng(7)
    rows = []
    size = N_ITEMS // CLUSTERS
    for user in range(N_USERS):
        cluster = user % CLUSTERS
        items = cluster * size + rng.choice(size, 6, replace=False)
        other = rng.choice(np.setdiff1d(np.arange(N_ITEMS), np.arange(cluster * size, (cluster + 1) * size)))
        for n, item in enumerate([*items.tolist(), int(other)]):
            rows.append((1000 + user, 101 + item, 1_600_000_000 + 100 * user + n))
    return pd.DataFrame(rows, columns=["u", "i", "t"])


@pytest.fixture
def clicks_csv(clicks, tmp_path):
    path = tmp_path / "log.csv"
    clicks.to_csv(path, index=False)
    return path


def cluster_of(item_id: int) -> int:
    return (item_id - 101) // (N_ITEMS // CLUSTERS)


def similar_ids(index_dir, movie, capsys) -> list[int]:
    capsys.readouterr()
    assert main(["similar", "--index", str(index_dir), str(movie), "-k", "5", "--json"]) == 0
    return [hit["item_id"] for hit in json.loads(capsys.readouterr().out)["results"]]


def test_a_csv_without_ratings_trains_end_to_end(clicks_csv, tmp_path, capsys):
    out = tmp_path / "art"
    assert main(["train", "--data", str(clicks_csv), *COLUMNS, "--out", str(out), *TRAIN_SMALL]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    data = manifest["data"]
    assert data["implicit"] is True and data["has_titles"] is False
    assert data["columns"] == {"user_col": "u", "item_col": "i", "rating_col": None, "time_col": "t"}
    assert data["rows"] == N_USERS * 7 and data["users"] == N_USERS
    items = pd.read_csv(out / "items.csv")
    assert (items["title"] == [f"item {m}" for m in items["item_id"]]).all()
    hits = similar_ids(out, 101, capsys)
    assert len(hits) == 5 and 101 not in hits
    # The planted structure: most neighbours of an item are in its cluster.
    assert sum(cluster_of(m) == cluster_of(101) for m in hits) >= 3
    # By title there is nothing to find, and the answer says why.
    assert main(["similar", "--index", str(out), "Toy Story"]) == 1
    assert "trained on a log without titles" in capsys.readouterr().err


def test_the_manifest_reproduces_a_run_on_a_custom_log(clicks_csv, tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["train", "--data", str(clicks_csv), *COLUMNS, "--out", str(first), *TRAIN_SMALL]) == 0
    assert main(["train", "--config", str(first / "manifest.json"), "--out", str(again), "--quiet"]) == 0
    a, b = (json.loads((d / "manifest.json").read_text()) for d in (first, again))
    assert a["data"]["columns"] == b["data"]["columns"] and a["data"]["md5"] == b["data"]["md5"]
    assert a["config"] == b["config"] and a["walks_sha256"] == b["walks_sha256"]
    assert (first / "embeddings.npy").read_bytes() == (again / "embeddings.npy").read_bytes()


def test_parquet_parts_and_an_items_table(clicks, tmp_path, capsys):
    parts = tmp_path / "log"
    parts.mkdir()
    for n, start in enumerate(range(0, len(clicks), 150)):
        chunk = clicks.iloc[start:start + 150]
        chunk.to_parquet(parts / f"part-{n:05d}.parquet", index=False)
    (parts / "_SUCCESS").write_text("")
    items = tmp_path / "items.csv"
    pd.DataFrame({"i": range(101, 141), "title": [f"Product {m}" for m in range(101, 141)],
                  "genres": ["A|B"] * 40}).to_csv(items, index=False)
    out = tmp_path / "art"
    assert main(["train", "--data", str(parts), *COLUMNS, "--items", str(items), "--out", str(out),
                 *TRAIN_SMALL]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["has_titles"] is True and manifest["data"]["items_table"] == str(items)
    table = pd.read_csv(out / "items.csv")
    assert (table["title"] == [f"Product {m}" for m in table["item_id"]]).all()
    capsys.readouterr()
    assert main(["similar", "--index", str(out), "Product 101", "-k", "3"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_a_dataframe_through_pipeline_train(clicks, tmp_path):
    from recgraph.config import resolve_config
    from recgraph.index import ItemIndex
    from recgraph.pipeline import train

    config = resolve_config(graph={"min_weight": 1.0}, walks={"num_walks": 2, "walk_length": 5},
                            trainer={"dim": 8, "epochs": 1, "workers": 1}, seed=1)
    result = train(clicks, tmp_path / "art", config=config, show_progress=False,
                   log={"user_col": "u", "item_col": "i", "time_col": "t"})
    assert result.manifest["data"]["source"] == "DataFrame" and result.manifest["data"]["implicit"] is True
    assert result.graph.num_nodes == N_ITEMS
    assert len(ItemIndex.load(tmp_path / "art").similar(120, k=3)) == 3


def test_graph_then_train_graph_on_a_custom_log(clicks_csv, tmp_path, capsys):
    graph = tmp_path / "graph"
    assert main(["graph", "--data", str(clicks_csv), *COLUMNS, "--out", str(graph), "--min-weight", "1",
                 "--quiet"]) == 0
    stored = json.loads((graph / "manifest.json").read_text())
    assert stored["data"]["implicit"] is True and stored["data"]["has_titles"] is False
    assert stored["data"]["columns"]["user_col"] == "u"
    out = tmp_path / "art"
    at = TRAIN_SMALL.index("--min-weight")
    small = TRAIN_SMALL[:at] + TRAIN_SMALL[at + 2:]
    assert main(["train", "--graph", str(graph), "--out", str(out), *small]) == 0
    data = json.loads((out / "manifest.json").read_text())["data"]
    assert data["graph_dir"] == str(graph) and data["has_titles"] is False and data["implicit"] is True
    assert len(similar_ids(out, 101, capsys)) == 5
    # Log flags with --graph are refused: the graph is built already.
    assert main(["train", "--graph", str(graph), "--user-col", "u", "--out", str(tmp_path / "x"), *small]) == 1
    assert "--user-col say how to read a log" in capsys.readouterr().err


@pytest.mark.parametrize("command, flag", [("train", "--min-rating"), ("train", "--history-min-rating"),
                                           ("graph", "--min-rating"), ("evaluate", "--threshold"),
                                           ("evaluate", "--min-rating"), ("compare", "--threshold")])
def test_rating_thresholds_on_an_implicit_log_are_one_sentence(command, flag, clicks_csv, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [command, "--data", str(clicks_csv), *COLUMNS, flag, "4"]
    argv += ["--quiet"] if command == "evaluate" else ["--out", str(out), "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"recgraph: error: {clicks_csv} has no rating column (implicit feedback: every row is a "
                   f"positive, stored as 5), so {flag} cannot apply; leave it out.")
    assert not out.exists()


def test_evaluate_random_on_an_implicit_parquet_log(clicks, tmp_path, capsys):
    path = tmp_path / "log.parquet"
    clicks.to_parquet(path, index=False)
    report = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(path), *COLUMNS, "--protocol", "random", "--baselines", "most-popular",
                 "--seed", "1", "--dim", "8", "--epochs", "1", "--num-walks", "2", "--walk-length", "5",
                 "--workers", "1", "--min-weight", "1", "--one-view", "--quiet", "--json", str(report)]) == 0
    evaluation = json.loads(report.read_text())["evaluations"][0]
    assert evaluation["data"]["implicit"] is True
    # The threshold (4) keeps every row of an implicit log: 20% of each user's 7 clicks are held out.
    assert evaluation["split"]["eval_users"] == N_USERS
    assert [row["name"] for row in evaluation["rows"]] == ["gensim/showcase", "most-popular"]  # the default preset
    assert all(0 <= row["metrics"]["hr@10"] <= 1 for row in evaluation["rows"])


def test_a_missing_source_is_one_sentence(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "art"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("recgraph: error: Data source ") and err.count(". ") == 0 and err.endswith("URL.")


def test_a_config_files_data_table_names_the_log(clicks_csv, tmp_path, capsys):
    run = tmp_path / "run.toml"
    run.write_text(f'seed = 1\n[[graph]]\nmin_weight = 1\n[walks]\nnum_walks = 2\nwalk_length = 5\n'
                   f'[trainer.gensim]\ndim = 8\nepochs = 1\nworkers = 1\n'
                   f'[data]\nsource = "{clicks_csv}"\nuser_col = "u"\nitem_col = "i"\ntime_col = "t"\n')
    out = tmp_path / "art"
    assert main(["train", "--config", str(run), "--out", str(out), "--quiet"]) == 0
    data = json.loads((out / "manifest.json").read_text())["data"]
    assert data["source"] == str(clicks_csv) and data["implicit"] is True and data["users"] == N_USERS
    run.write_text(f'[data]\nsource = "{clicks_csv}"\nuser_column = "u"\n')
    capsys.readouterr()
    assert main(["train", "--config", str(run), "--out", str(tmp_path / "bad"), "--quiet"]) == 1
    assert capsys.readouterr().err.strip() == ("recgraph: error: Unknown data field(s) user_column; valid: source, "
                                               "user_col, item_col, rating_col, time_col, items.")
