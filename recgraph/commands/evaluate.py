"""``recgraph evaluate``: train on a split, rank through the index, print a table, write JSON.

Register it with ``add_parser(sub)``; run it with ``run(args)``.
"""

from __future__ import annotations

import argparse

from ..evaluation.settings import (DEFAULT_BASELINES, DEFAULT_EASE_LAMBDA, DEFAULT_EASE_MAX_GB, DEFAULT_TEST_FRACTION,
                                   DEFAULT_THRESHOLD, PROTOCOLS)
from .flags import (DATA_HELP, GRAPH_FLAGS, SCORING_FLAGS, TRAINER_FLAGS, WALK_FLAGS, add_flags, add_graph_flags,
                    add_log_flags, given, load_checked, names, resolve_log)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..presets import available_presets

    p.add_argument("--data", default=None, help=DATA_HELP)
    add_log_flags(p)
    p.add_argument("--protocol", default="leave-last-out", choices=(*PROTOCOLS, "both"),
                   help="temporal leave-last-out (default), random 80/20 of positives, or both")
    p.add_argument("--backend", default="gensim",
                   help="comma-separated trainer backends to evaluate (default gensim; '' for baselines only)")
    p.add_argument("--preset", default="tuned", choices=available_presets(), help="parameter preset (default tuned)")
    p.add_argument("--seed", type=int, default=0, help="seed for walks, training and the index (default 0)")
    p.add_argument("--split-seed", type=int, default=0, help="seed for the random split (default 0)")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"ratings >= this are positives (default {DEFAULT_THRESHOLD:g}; an implicit log: every row)")
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
    add_graph_flags(p, "graph overrides: the primary graph (the preset's values when omitted)")
    add_flags(p.add_argument_group("walk overrides (the preset's values when omitted)"), WALK_FLAGS)
    add_flags(p.add_argument_group("trainer overrides (the preset's values when omitted)"), TRAINER_FLAGS)
    add_flags(p.add_argument_group("scoring overrides (the preset's values when omitted)"), SCORING_FLAGS)
    p.add_argument("--quiet", action="store_true", help="no progress bars or table")


def add_parser(sub) -> None:
    """Register ``recgraph evaluate`` on an argparse subparsers object."""
    p = sub.add_parser("evaluate", help="measure recommendations on a held-out split, against baselines",
                       description="Split the ratings, train on the training part, rank every unrated movie "
                                   "for each user through the index, and report HR, NDCG, Recall and coverage "
                                   "next to most-popular, item-kNN and EASE.")
    add_arguments(p)


def run(args) -> int:
    """Run ``recgraph evaluate`` from parsed arguments."""
    from .._version import __version__
    from ..atomic import write_json
    from ..evaluation.harness import format_table, run_evaluation, validation_depth

    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    validation = int(args.validation)
    if args.validation_depth is not None:
        validation = validation_depth(args.validation_depth, "--validation-depth", minimum=1)
    source, options = resolve_log(args)
    ratings = load_checked(source, options, {"--threshold": args.threshold, "--min-rating": args.min_rating,
                                             "--history-min-rating": args.history_min_rating})
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    reports = []
    for protocol in protocols:
        report = run_evaluation(
            ratings, protocol, backends=names(args.backend), preset=args.preset, seed=args.seed,
            split_seed=args.split_seed,
            baselines=names(args.baselines), threshold=threshold, test_fraction=args.test_fraction,
            validation=validation, ease_lambda=args.ease_lambda, max_users=args.max_users,
            ease_max_gb=args.ease_max_gb,
            trainer_overrides=given(args, TRAINER_FLAGS), scoring=given(args, SCORING_FLAGS),
            graph_overrides=given(args, GRAPH_FLAGS), walk_overrides=given(args, WALK_FLAGS),
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
