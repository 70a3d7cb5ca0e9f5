"""The commands in-process (recgraph.commands via recgraph.cli.main): flags, files, messages."""

from __future__ import annotations

import json

import pytest

from recgraph.cli import build_parser, main

TRAIN_SMALL = ["--seed", "1", "--dim", "8", "--epochs", "1", "--num-walks", "2", "--walk-length", "5",
               "--workers", "1", "--quiet"]


def test_graph_flags_are_one_table_for_train_graph_and_evaluate():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for command in ("train", "graph", "evaluate"):
        flags = {s for a in sub.choices[command]._actions for s in a.option_strings}
        assert {"--min-rating", "--min-weight", "--min-item-users", "--max-degree", "--max-user-items",
                "--one-view"} <= flags, command
    args = build_parser().parse_args(["train", "--out", "x", "--max-degree", "30", "--max-user-items", "500"])
    assert (args.max_degree, args.max_user_items) == (30, 500)


def test_graph_then_train_graph(tiny_movielens_dir, tmp_path, capsys):
    graph = tmp_path / "graph"
    assert main(["graph", "--data", str(tiny_movielens_dir), "--out", str(graph), "--min-weight", "5"]) == 0
    out = capsys.readouterr().out
    assert "view 0 (ratings >= 5, weight >= 5): 12 nodes" in out
    for name in ("manifest.json", "items.parquet", "edges.parquet"):
        assert f"wrote {graph}/{name}" in out
    assert main(["train", "--graph", str(graph), "--out", str(tmp_path / "art"), *TRAIN_SMALL]) == 0
    manifest = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert manifest["config"]["graph"] == [{"min_rating": 5.0, "min_weight": 5.0, "min_item_users": 0}]
    assert manifest["data"]["graph_dir"] == str(graph) and manifest["n_items"] == 12


def test_train_graph_refuses_graph_flags_and_artifacts(tiny_movielens_dir, tmp_path, capsys):
    graph = tmp_path / "graph"
    assert main(["graph", "--data", str(tiny_movielens_dir), "--out", str(graph), "--quiet"]) == 0
    assert main(["train", "--graph", str(graph), "--out", str(tmp_path / "a"), "--min-rating", "4"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recgraph: error: --min-rating change how the graph is built") and err.count("\n") == 1
    assert main(["train", "--graph", str(tiny_movielens_dir), "--out", str(tmp_path / "a")]) == 1
    assert "is not a graph directory: it has no manifest.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "--graph", str(graph), "--data", str(tiny_movielens_dir), "--out", str(tmp_path / "a")])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_train_config_file_and_manifest(tiny_movielens_dir, tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text(f'data = "{tiny_movielens_dir}"\nseed = 4\n[[graph]]\nmin_weight = 5\n[walks]\nnum_walks = 2\n'
                    '[trainer.gensim]\ndim = 8\nepochs = 1\nworkers = 1\n[index]\nn_trees = 3\n')
    assert main(["train", "--config", str(toml), "--out", str(tmp_path / "a"), "--walk-length", "5", "--quiet"]) == 0
    first = json.loads((tmp_path / "a" / "manifest.json").read_text())
    config = first["config"]
    assert config["seed"] == 4 and config["index"]["n_trees"] == 3 and config["walks"]["walk_length"] == 5
    assert config["graph"][0]["min_weight"] == 5.0 and config["trainer"]["gensim"]["dim"] == 8
    # The manifest is a configuration file too (its data source included): the same run again.
    assert main(["train", "--config", str(tmp_path / "a" / "manifest.json"), "--out", str(tmp_path / "b"),
                 "--quiet"]) == 0
    again = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert again["config"] == first["config"] and again["walks_sha256"] == first["walks_sha256"]
    assert (tmp_path / "a" / "embeddings.npy").read_bytes() == (tmp_path / "b" / "embeddings.npy").read_bytes()


def test_bad_config_file_is_one_line(tmp_path, capsys):
    (tmp_path / "run.json").write_text('{"walks": {"steps": 3}}')
    assert main(["train", "--config", str(tmp_path / "run.json"), "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert err == "recgraph: error: Unknown walks field(s) steps; valid: num_walks, walk_length, p, q, max_walks.\n"


def test_compare_prints_every_file_it_writes(tiny_movielens_dir, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["compare", "--data", str(tiny_movielens_dir), "--out", str(out), "--backend", "gensim",
                 "--preset", "seed", "--epochs", "1", "--baselines", "most-popular"]) == 0
    printed = capsys.readouterr().out
    written = sorted(p.name for p in out.iterdir())
    assert {"report.json", "report.md"} <= set(written)
    for name in written:
        assert f"wrote {out / name}\n" in printed


def test_train_evaluate_and_compare_share_the_run_flags_and_defaults():
    from recgraph.cli import build_parser

    parser = build_parser()
    runs = {name: vars(parser.parse_args([name, "--out", "x"] if name != "evaluate" else [name]))
            for name in ("train", "evaluate", "compare")}
    shared = ("preset", "config", "seed", "backend", "min_rating", "num_walks", "dim", "vectors",
              "popularity_weight", "n_trees", "one_view")
    for name, args in runs.items():
        assert {k: args[k] for k in shared} == {k: runs["train"][k] for k in shared}, name
    assert runs["train"]["preset"] is None  # None: the showcase preset (or the --config file's)
    assert "showcase (the default" in parser._subparsers._group_actions[0].choices["evaluate"].format_help()
    evaluate, compare = runs["evaluate"], runs["compare"]
    for key in ("protocol", "split_seed", "threshold", "test_fraction", "baselines", "ease_lambda", "max_users"):
        assert evaluate[key] == compare[key], key


def test_quiet_prints_only_where_the_output_went(tiny_movielens_dir, tmp_path, capsys):
    out = tmp_path / "art"
    assert main(["train", "--data", str(tiny_movielens_dir), "--out", str(out), "--epochs", "1", "--quiet"]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    graph = tmp_path / "graph"
    assert main(["graph", "--data", str(tiny_movielens_dir), "--out", str(graph), "--quiet"]) == 0
    assert capsys.readouterr().out == f"wrote {graph}\n"


def test_graph_records_the_time_it_took_to_load(tiny_movielens_dir, tmp_path, capsys):
    graph = tmp_path / "graph"
    assert main(["graph", "--data", str(tiny_movielens_dir), "--out", str(graph)]) == 0
    assert "load 0.000" not in capsys.readouterr().out
    assert json.loads((graph / "manifest.json").read_text())["timings_s"]["load"] > 0


def test_a_graph_directory_is_named_by_train_and_similar(tiny_movielens_dir, tmp_path, capsys):
    graph = tmp_path / "graph"
    assert main(["graph", "--data", str(tiny_movielens_dir), "--out", str(graph), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(tiny_movielens_dir), "--out", str(graph), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "is a graph directory (written by 'recgraph graph'), not an artifact" in err and err.count("\n") == 1
    assert main(["similar", "--index", str(graph), "1"]) == 1
    err = capsys.readouterr().err
    assert f"is a graph directory (written by 'recgraph graph'), not an artifact; train from it with " \
           f"'recgraph train --graph {graph}" in err
    assert (graph / "edges.parquet").is_file()


def test_a_log_without_titles_skips_the_showcase_in_one_sentence(tmp_path, capsys, caplog):
    from conftest import tiny_log

    ratings, _ = tiny_log()
    log = tmp_path / "log.csv"
    ratings.rename(columns={"userId": "user", "movieId": "item", "timestamp": "ts"}).to_csv(log, index=False)
    out = tmp_path / "art"
    assert main(["train", "--data", str(log), "--user-col", "user", "--item-col", "item", "--out", str(out),
                 "--min-weight", "1", "--epochs", "1"]) == 0
    captured = capsys.readouterr()
    assert "not in the graph" not in captured.out
    assert captured.out.count("The log has no titles, so the showcase") == 1
    # The ts column was not named: a warning says so (recency and leave-last-out would run without times).
    assert "column 'ts' looks like a time but is not read" in caplog.text and "--time-col ts" in caplog.text
