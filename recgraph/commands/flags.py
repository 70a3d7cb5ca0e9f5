"""Flag tables the commands share, and how parsed flags become a run configuration.

Each table row is ``(flag, type, help)``; the field a flag sets is its name without the
dashes (``--min-item-users`` -> ``min_item_users``). A flag left out is None, so only
the flags given override the preset or the configuration file
(:func:`recgraph.config.resolve_config`).
"""

from __future__ import annotations

import argparse

DATA_HELP = ("the log: a CSV or Parquet file, or a directory of Parquet or CSV parts (name its columns with "
             "--user-col, --item-col, --rating-col, --time-col; no rating column: implicit feedback), or a "
             "MovieLens directory (ratings.csv + movies.csv), .zip or URL (default: download ml-latest-small; "
             "offline, pass a local copy)")
LOG_GROUP = "log columns and items table (CSV/Parquet logs; MovieLens names by default)"

GRAPH_FLAGS = (
    ("--min-rating", float, "ratings >= this count as liked (default 5)"),
    ("--min-weight", float, "keep edges with PMI x count >= this (default 10)"),
    ("--min-item-users", int, "leave out movies fewer users liked (default 0: none left out)"),
    ("--max-degree", int, "keep an edge when it is among the K heaviest of either movie (default: no cap)"),
    ("--max-user-items", int, "count only each user's N latest likes (default: no cap)"),
)
WALK_FLAGS = (
    ("--num-walks", int, "walks per node (default 5)"),
    ("--max-walks", int, "walk budget per graph view: fewer walks per node on graphs past max_walks / num_walks "
                         "nodes (default: none)"),
    ("--walk-length", int, "nodes per walk (default 10)"),
    ("--p", float, "return parameter (default 2)"),
    ("--q", float, "in-out parameter (default 1.5)"),
)
#: Trainer options; only those given are passed to the backend.
TRAINER_FLAGS = (
    ("--dim", int, "embedding size"),
    ("--window", int, "skip-gram window"),
    ("--negative", int, "negative samples per positive pair"),
    ("--epochs", int, "training epochs"),
    ("--sample", float, "gensim: frequency subsampling threshold (0 = off)"),
    ("--ns-exponent", float, "gensim: negative sampling exponent"),
    ("--vectors", str, "gensim: input, output or both"),
    ("--workers", int, "gensim: training threads"),
    ("--batch-size", int, "keras: batch size"),
    ("--learning-rate", float, "keras: Adam learning rate"),
)
SCORING_FLAGS = (
    ("--popularity-weight", float, "weight of log(1 + likes) added to the cosine"),
    ("--history-min-rating", float, "ratings >= this form the query"),
    ("--candidates", int, "index results re-ranked when the popularity weight is > 0"),
    ("--fallback", str, "'popular' or 'none' for users with no movie in the graph"),
    ("--recent-weight", float, "weight of the last --recent-count watched movies' direction in the query"),
    ("--recent-count", int, "how many of the latest watched movies form the recent direction"),
)


SPARK_GROUP = "spark engine (--engine spark; docs/spark.md)"


def add_spark_flags(p: argparse.ArgumentParser) -> None:
    """The Spark engine's options: --master, --spark-conf, --shuffle-partitions, --driver-memory."""
    g = p.add_argument_group(SPARK_GROUP)
    g.add_argument("--master", default="local[*]",
                   help="Spark master: local[*] (this machine, every core), local[N], spark://HOST:PORT, yarn "
                        "(default local[*])")
    g.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting, repeatable (e.g. spark.executor.memory=8g)")
    g.add_argument("--shuffle-partitions", type=int, default=None,
                   help="spark.sql.shuffle.partitions and the log's user partitions (default: one per 64 MiB of CSV "
                        "or 16 MiB of Parquet, at least 2 per core; docs/spark.md says how to size it)")
    g.add_argument("--driver-memory", default=None,
                   help="driver JVM heap, e.g. 8g (local mode: the whole job runs in it)")


def spark_options(args: argparse.Namespace) -> dict:
    """The Spark engine's keyword options (:class:`recgraph.engines.spark.SparkEngine`) from its flags."""
    return {"master": args.master, "spark_conf": parse_spark_conf(args.spark_conf),
            "shuffle_partitions": args.shuffle_partitions, "driver_memory": args.driver_memory}


def parse_spark_conf(pairs) -> dict:
    """``["KEY=VALUE", ...]`` (``--spark-conf``) -> dict; one sentence for a bad pair."""
    from ..errors import ParameterError

    conf = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--spark-conf {pair!r} is not KEY=VALUE, e.g. spark.driver.memory=8g.")
        conf[key.strip()] = value.strip()
    return conf


def field_name(flag: str) -> str:
    return flag[2:].replace("-", "_")


def add_flags(group, table) -> None:
    """Add every flag of ``table`` to ``group`` (default None: not given)."""
    for flag, kind, text in table:
        group.add_argument(flag, type=kind, default=None, help=text)


def given(args: argparse.Namespace, table) -> dict:
    """The fields of ``table``'s flags that were given on the command line."""
    out = {}
    for flag, _, _ in table:
        value = getattr(args, field_name(flag), None)
        if value is not None:
            out[field_name(flag)] = value
    return out


def add_graph_flags(p: argparse.ArgumentParser, title: str) -> None:
    g = p.add_argument_group(title)
    add_flags(g, GRAPH_FLAGS)
    g.add_argument("--one-view", action="store_true",
                   help="only the primary graph, without the preset's extra graph views (docs/tuning.md)")


def add_config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, metavar="FILE",
                   help="run configuration: an artifact's manifest.json (reproduces that run) or a TOML/JSON "
                        "file with graph, walks, trainer, scoring and index sections; the preset and flags "
                        "given explicitly override it")


def names(text: str) -> tuple[str, ...]:
    """``"a, b,"`` -> ``("a", "b")``."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def add_log_flags(p: argparse.ArgumentParser) -> None:
    """The loader's options (:data:`recgraph.data.options.LOG_FLAGS`) in their own group."""
    from ..data.options import add_log_arguments

    add_log_arguments(p.add_argument_group(LOG_GROUP))


def resolve_log(args: argparse.Namespace, base: dict | None = None) -> tuple[str | None, dict]:
    """The log to read: ``(source, load_log options)``, lowest priority first: the configuration
    file's ``data`` section, then ``--data`` (the source) and the log flags given."""
    from ..config import data_section
    from ..data.options import log_options

    source, options = data_section((base or {}).get("data"))
    if getattr(args, "data", None) is not None:
        source = args.data
    return source, {**options, **log_options(args)}


def load_checked(source, options: dict, thresholds: dict):
    """Read the log now and refuse the rating thresholds the user typed (``{"--flag": value or
    None}``) when it is implicit feedback, before any work is written."""
    from ..data import check_rating_options
    from ..pipeline import load_log_source

    ratings = load_log_source(source, options)
    check_rating_options(ratings, thresholds)
    return ratings
