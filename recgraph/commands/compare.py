"""``recgraph compare``: train every backend on one walk corpus, evaluate, write a report directory.

It takes the run configuration as ``recgraph train`` does (--preset, --config and the same
flags, the same defaults) and the evaluation flags of ``recgraph evaluate``.
"""

from __future__ import annotations

import argparse

from .flags import DATA_HELP, add_evaluation_flags, add_log_flags, add_run_flags, evaluation_settings, load_checked, names


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..compare import DEFAULT_BACKENDS

    p.add_argument("--data", default=None, help=DATA_HELP)
    add_log_flags(p)
    p.add_argument("--out", required=True, help="report directory (replaced atomically)")
    add_run_flags(p, f"comma-separated trainer backends, each with its own trainer settings "
                     f"(default {','.join(DEFAULT_BACKENDS)})",
                  "graph overrides: the primary graph (the preset's values when omitted)")
    add_evaluation_flags(p)
    p.add_argument("--keep-artifacts", action="store_true", help="keep each backend's artifact under OUT/artifacts/")
    p.add_argument("--quiet", action="store_true", help="no progress bars or table; only the line naming OUT")


def add_parser(sub) -> None:
    """Register ``recgraph compare`` on an argparse subparsers object."""
    p = sub.add_parser("compare", help="train every backend on one walk corpus and compare them",
                       description="Build the graph and walks once, train each backend on them, evaluate, "
                                   "and write report.json, report.md and report.png. Without --preset or "
                                   "--config it compares on the showcase preset.")
    add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run ``recgraph compare`` from parsed arguments."""
    from ..compare import DEFAULT_BACKENDS, compare_backends, report_markdown
    from .train import resolve

    backends = DEFAULT_BACKENDS if args.backend is None else names(args.backend)
    config, source, options = resolve(args, backends=backends)
    settings = evaluation_settings(args)
    ratings = load_checked(source, options, {"--threshold": args.threshold, "--min-rating": args.min_rating,
                                             "--history-min-rating": args.history_min_rating})
    report = compare_backends(ratings, args.out, config, settings, backends=backends,
                              keep_artifacts=args.keep_artifacts, show_progress=not args.quiet)
    if args.quiet:
        print(f"wrote {args.out}")
        return 0
    print(report_markdown(report), end="")
    print()
    from pathlib import Path

    for path in sorted(p for p in Path(args.out).rglob("*") if p.is_file()):
        print(f"wrote {path}")
    return 0
