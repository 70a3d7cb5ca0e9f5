"""``recgraph evaluate``: train on a split, rank through the index, print a table, write JSON.

It takes the run configuration as ``recgraph train`` does (--preset, --config and the same
flags, the same defaults: the showcase preset, seed 0) and the evaluation flags shared with
``recgraph compare``. Register it with ``add_parser(sub)``; run it with ``run(args)``.
"""

from __future__ import annotations

import argparse

from .flags import DATA_HELP, add_evaluation_flags, add_log_flags, add_run_flags, evaluation_settings, load_checked, names


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help=DATA_HELP)
    add_log_flags(p)
    add_run_flags(p, "comma-separated trainer backends to evaluate, each with its own trainer settings "
                     "(default: the configuration's, gensim; '' for baselines only)",
                  "graph overrides: the primary graph (the preset's values when omitted)")
    add_evaluation_flags(p, both=True)
    p.add_argument("--json", dest="json_out", default=None, metavar="FILE", help="write the full results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars or table; only the line naming --json's file")


def add_parser(sub) -> None:
    """Register ``recgraph evaluate`` on an argparse subparsers object."""
    p = sub.add_parser("evaluate", help="measure recommendations on a held-out split, against baselines",
                       description="Split the ratings, train on the training part, rank every unrated item "
                                   "for each user through the index, and report HR, NDCG, Recall and coverage "
                                   "next to most-popular, item-kNN and EASE. Without --preset or --config it "
                                   "evaluates the showcase preset.")
    add_arguments(p)


def run(args) -> int:
    """Run ``recgraph evaluate`` from parsed arguments."""
    from .._version import __version__
    from ..artifact import check_output_file
    from ..atomic import write_json
    from ..evaluation.harness import format_table, run_evaluation
    from ..evaluation.settings import PROTOCOLS
    from .train import resolve

    backends = None if args.backend is None else names(args.backend)
    config, source, options = resolve(args, backends=backends)
    settings = [evaluation_settings(args, p) for p in (PROTOCOLS if args.protocol == "both" else (args.protocol,))]
    if args.json_out:
        check_output_file(args.json_out)
    ratings = load_checked(source, options, {"--threshold": args.threshold, "--min-rating": args.min_rating,
                                             "--history-min-rating": args.history_min_rating})
    reports = []
    for each in settings:
        report = run_evaluation(ratings, config, each, backends=backends, show_progress=not args.quiet)
        reports.append(report)
        if not args.quiet:
            print(format_table(report))
            print()
    if args.json_out:
        path = write_json(args.json_out, {"recgraph_version": __version__, "evaluations": reports})
        print(f"wrote {path}")
    return 0
