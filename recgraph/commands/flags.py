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
    ("--min-item-users", int, "leave out items fewer users liked (default 0: none left out)"),
    ("--max-degree", int, "keep an edge when it is among the K heaviest of either item (default: no cap)"),
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
    ("--fallback", str, "'popular' or 'none' for users with no item in the graph"),
    ("--recent-weight", float, "weight of the last --recent-count watched items' direction in the query"),
    ("--recent-count", int, "how many of the latest watched items form the recent direction"),
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


PRESET_HELP = ("named configuration (recgraph/presets/NAME.toml): showcase (the default: the Keras example's graph "
               "and walks, gensim settings chosen for the first impression, docs/defaults.md), seed (the Keras "
               "example's parameters exactly), tuned (best measured, docs/tuning.md); a --config file and the "
               "flags given override it")


def add_config_flag(p: argparse.ArgumentParser) -> None:
    """``--preset`` and ``--config``: where a run's configuration starts (default: showcase)."""
    from ..presets import available_presets

    p.add_argument("--preset", default=None, choices=available_presets(), help=PRESET_HELP)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="run configuration: an artifact's manifest.json (reproduces that run) or a TOML/JSON "
                        "file with graph, walks, trainer, scoring and index sections (the shape of "
                        "recgraph/presets/*.toml); the preset and flags given explicitly override it")


def add_run_flags(p: argparse.ArgumentParser, backend_help: str, graph_title: str) -> None:
    """The run configuration's flags, the same for ``train``, ``evaluate`` and ``compare``:
    --backend, --preset, --config, --seed, then the graph, walk, trainer, scoring and index
    overrides (each None when not given: the preset's or the file's value stands)."""
    p.add_argument("--backend", default=None, help=backend_help)
    add_config_flag(p)
    p.add_argument("--seed", type=int, default=None,
                   help="one seed for walks, training and the index (default: the --config file's, else 0)")
    add_graph_flags(p, graph_title)
    add_flags(p.add_argument_group("walks (the preset's when omitted)"), WALK_FLAGS)
    add_flags(p.add_argument_group("trainer (the preset's, for the chosen backend, when omitted)"), TRAINER_FLAGS)
    add_flags(p.add_argument_group("scoring, applied at query time (the preset's when omitted)"), SCORING_FLAGS)
    p.add_argument("--n-trees", type=int, default=None, help="Annoy trees (the preset's when omitted: 50)")


def add_evaluation_flags(p: argparse.ArgumentParser, both: bool = False) -> None:
    """How ``evaluate`` and ``compare`` measure (:class:`recgraph.evaluation.settings.EvaluationSettings`);
    ``both``: --protocol also takes ``both`` (one run per protocol)."""
    from ..evaluation.settings import (DEFAULT_BASELINES, DEFAULT_EASE_LAMBDA, DEFAULT_EASE_MAX_GB,
                                       DEFAULT_TEST_FRACTION, DEFAULT_THRESHOLD, PROTOCOLS)

    g = p.add_argument_group("evaluation")
    g.add_argument("--protocol", default=PROTOCOLS[0], choices=(*PROTOCOLS, "both") if both else PROTOCOLS,
                   help="temporal leave-last-out (default) or a random per-user split of the positives"
                        + (", or both" if both else ""))
    g.add_argument("--split-seed", type=int, default=0, help="seed for the random split (default 0)")
    g.add_argument("--threshold", type=float, default=None,
                   help=f"ratings >= this are positives (default {DEFAULT_THRESHOLD:g}; an implicit log: every row)")
    g.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                   help=f"random split: share of each user's positives held out (default {DEFAULT_TEST_FRACTION:g})")
    g.add_argument("--validation", action="store_true",
                   help="measure on a validation split carved from the training part "
                        "(for tuning; the test part is never read)")
    g.add_argument("--validation-depth", type=int, default=None, metavar="N",
                   help="carve the validation split N times, each from the previous training part, "
                        "so it trains on less data (implies --validation; 1 is --validation itself)")
    g.add_argument("--baselines", default=",".join(DEFAULT_BASELINES),
                   help=f"comma-separated baselines (default {','.join(DEFAULT_BASELINES)}; '' for none)")
    g.add_argument("--ease-lambda", type=float, default=DEFAULT_EASE_LAMBDA,
                   help=f"EASE L2 weight (default {DEFAULT_EASE_LAMBDA:g})")
    g.add_argument("--ease-max-gb", type=float, default=DEFAULT_EASE_MAX_GB,
                   help=f"skip EASE (one sentence in the report) when its dense matrices need more than this "
                        f"(default {DEFAULT_EASE_MAX_GB:g} GB)")
    g.add_argument("--max-users", type=int, default=None, metavar="N",
                   help="score a sample of N eval users, drawn with --split-seed after the split "
                        "(training is unchanged; every model scores the same users; default all)")


def evaluation_settings(args: argparse.Namespace, protocol: str | None = None):
    """The :class:`~recgraph.evaluation.settings.EvaluationSettings` the parsed flags name."""
    from ..evaluation.harness import validation_depth
    from ..evaluation.settings import DEFAULT_THRESHOLD, EvaluationSettings

    validation = int(args.validation)
    if args.validation_depth is not None:
        validation = validation_depth(args.validation_depth, "--validation-depth", minimum=1)
    return EvaluationSettings(
        protocol=protocol or args.protocol, threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
        test_fraction=args.test_fraction, split_seed=args.split_seed, validation=validation,
        max_users=args.max_users, baselines=names(args.baselines), ease_lambda=args.ease_lambda,
        ease_max_gb=args.ease_max_gb)


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
