"""``recgraph evaluate``: train on a split, rank through the index, print a table, write JSON.

Register it with ``add_parser(sub)``; run it with ``run(args)``. ``main(argv)`` is a
stand-alone entry point with the same options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from ..cli import TRAINER_OPTIONS
from .settings import (DEFAULT_BASELINES, DEFAULT_EASE_LAMBDA, DEFAULT_EASE_MAX_GB, DEFAULT_TEST_FRACTION,
                       DEFAULT_THRESHOLD, PROTOCOLS)

#: Trainer options accepted as overrides of the preset: the same table as ``recgraph train``.
TRAINER_FLAGS = TRAINER_OPTIONS
GRAPH_FLAGS = (
    ("--min-rating", float, "primary graph: ratings >= this count as liked"),
    ("--min-weight", float, "primary graph: keep edges with PMI x count >= this"),
    ("--min-item-users", int, "primary graph: leave out movies fewer users liked"),
)
WALK_FLAGS = (
    ("--num-walks", int, "walks per node"),
    ("--walk-length", int, "nodes per walk"),
    ("--p", float, "return parameter"),
    ("--q", float, "in-out parameter"),
)
SCORING_FLAGS = (
    ("--popularity-weight", float, "weight of log(1 + likes) added to the cosine"),
    ("--history-min-rating", float, "ratings >= this form the query"),
    ("--candidates", int, "index results re-ranked when the popularity weight is > 0"),
    ("--fallback", str, "'popular' or 'none' for users with no movie in the graph"),
    ("--recent-weight", float, "weight of the last --recent-count watched movies' direction in the query"),
    ("--recent-count", int, "how many of the latest watched movies form the recent direction"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..presets import available_presets

    p.add_argument("--data", default=None,
                   help="directory with ratings.csv + movies.csv, a MovieLens .zip, or a URL "
                        "(default: download ml-latest-small; offline, pass a local copy)")
    p.add_argument("--protocol", default="leave-last-out", choices=(*PROTOCOLS, "both"),
                   help="temporal leave-last-out (default), random 80/20 of positives, or both")
    p.add_argument("--backend", default="gensim",
                   help="comma-separated trainer backends to evaluate (default gensim; '' for baselines only)")
    p.add_argument("--preset", default="tuned", choices=available_presets(), help="parameter preset (default tuned)")
    p.add_argument("--seed", type=int, default=0, help="seed for walks, training and the index (default 0)")
    p.add_argument("--split-seed", type=int, default=0, help="seed for the random split (default 0)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"ratings >= this are positives (default {DEFAULT_THRESHOLD:g})")
    p.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                   help=f"random split: share of each user's positives held out (default {DEFAULT_TEST_FRACTION:g})")
    p.add_argument("--validation", action="store_true",
                   help="measure on a validation split carved from the training part "
                        "(for tuning; the test part is never read)")
    p.add_argument("--validation-depth", type=int, default=None, metavar="N",
                   help="carve the validation split N times, each from the previous training part, "
                        "so it trains on less data (implies --validation; 1 is --validation itself)")
    p.add_argument("--baselines", default=",".join(DEFAULT_BASELINES),
                   help=f"comma-separated baselines (default {','.join(DEFAULT_BASELINES)}; '' for none)")
    p.add_argument("--ease-lambda", type=float, default=DEFAULT_EASE_LAMBDA,
                   help=f"EASE L2 weight (default {DEFAULT_EASE_LAMBDA:g})")
    p.add_argument("--ease-max-gb", type=float, default=DEFAULT_EASE_MAX_GB,
                   help=f"skip EASE (one sentence in the report) when its dense matrices need more than this "
                        f"(default {DEFAULT_EASE_MAX_GB:g} GB)")
    p.add_argument("--max-users", type=int, default=None, metavar="N",
                   help="score a sample of N eval users, drawn with --split-seed after the split "
                        "(training is unchanged; every model scores the same users; default all)")
    p.add_argument("--json", dest="json_out", default=None, metavar="FILE", help="write the full results as JSON")
    g = p.add_argument_group("graph and walk overrides (the preset's values when omitted)")
    for flag, kind, text in GRAPH_FLAGS + WALK_FLAGS:
        g.add_argument(flag, type=kind, default=None, help=text)
    g.add_argument("--one-view", action="store_true",
                   help="only the primary graph, without the preset's extra graph views")
    t = p.add_argument_group("trainer overrides (the preset's values when omitted)")
    for flag, kind, text in TRAINER_FLAGS:
        t.add_argument(flag, type=kind, default=None, help=text)
    s = p.add_argument_group("scoring overrides (the preset's values when omitted)")
    for flag, kind, text in SCORING_FLAGS:
        s.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument("--quiet", action="store_true", help="no progress bars or table")


def add_parser(sub) -> None:
    """Register ``recgraph evaluate`` on an argparse subparsers object."""
    p = sub.add_parser("evaluate", help="measure recommendations on a held-out split, against baselines",
                       description="Split the ratings, train on the training part, rank every unrated movie "
                                   "for each user through the index, and report HR, NDCG, Recall and coverage "
                                   "next to most-popular, item-kNN and EASE.")
    add_arguments(p)


def _given(args, flags) -> dict:
    out = {}
    for flag, _, _ in flags:
        name = flag[2:].replace("-", "_")
        value = getattr(args, name, None)
        if value is not None:
            out[name] = value
    return out


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` as JSON atomically (temporary file beside it, then rename)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False, encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")
    os.replace(fh.name, path)
    return path


def run(args) -> int:
    """Run ``recgraph evaluate`` from parsed arguments."""
    from .. import __version__
    from .harness import format_table, run_evaluation, validation_depth

    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    validation = int(args.validation)
    if args.validation_depth is not None:
        validation = validation_depth(args.validation_depth, "--validation-depth", minimum=1)
    reports = []
    for protocol in protocols:
        report = run_evaluation(
            args.data, protocol, backends=_names(args.backend), preset=args.preset, seed=args.seed,
            split_seed=args.split_seed,
            baselines=_names(args.baselines), threshold=args.threshold, test_fraction=args.test_fraction,
            validation=validation, ease_lambda=args.ease_lambda, max_users=args.max_users,
            ease_max_gb=args.ease_max_gb,
            trainer_overrides=_given(args, TRAINER_FLAGS), scoring=_given(args, SCORING_FLAGS),
            graph_overrides=_given(args, GRAPH_FLAGS), walk_overrides=_given(args, WALK_FLAGS),
            one_view=args.one_view, show_progress=not args.quiet,
        )
        reports.append(report)
        if not args.quiet:
            print(format_table(report))
            print()
    if args.json_out:
        path = write_json(args.json_out, {"recgraph_version": __version__, "evaluations": reports})
        if not args.quiet:
            print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m recgraph.evaluation.command ...`` is ``recgraph evaluate``."""
    from ..cli import main as cli_main

    return cli_main(["evaluate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
