"""``recgraph compare``: train every backend on one walk corpus, evaluate, write a report directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..compare import DEFAULT_BACKENDS
from ..evaluation.settings import DEFAULT_BASELINES, DEFAULT_EASE_LAMBDA, DEFAULT_TEST_FRACTION, DEFAULT_THRESHOLD
from .flags import DATA_HELP, add_log_flags, load_checked, names, resolve_log


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..presets import available_presets

    p.add_argument("--data", default=None, help=DATA_HELP)
    add_log_flags(p)
    p.add_argument("--out", required=True, help="report directory (replaced atomically)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, walks, training and index (default 0)")
    p.add_argument("--backends", default=",".join(DEFAULT_BACKENDS),
                   help=f"comma-separated trainer backends (default {','.join(DEFAULT_BACKENDS)})")
    p.add_argument("--preset", default="tuned", choices=available_presets(), help="parameter preset (default tuned)")
    p.add_argument("--protocol", default="random", choices=("random", "leave-last-out"),
                   help="split: random 80/20 of positives (default) or temporal leave-last-out")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"ratings >= this are positives (default {DEFAULT_THRESHOLD:g}; an implicit log: every row)")
    p.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                   help="random split: share held out (default 0.2)")
    p.add_argument("--baselines", default=",".join(DEFAULT_BASELINES),
                   help="comma-separated baselines to add for scale ('' for none)")
    p.add_argument("--ease-lambda", type=float, default=DEFAULT_EASE_LAMBDA, help="EASE L2 weight (default 100)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs for every backend")
    p.add_argument("--keep-artifacts", action="store_true", help="keep each backend's artifact under OUT/artifacts/")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")


def add_parser(sub) -> None:
    """Register ``recgraph compare`` on an argparse subparsers object."""
    p = sub.add_parser("compare", help="train every backend on one walk corpus and compare them",
                       description="Build the graph and walks once, train each backend on them, evaluate, "
                                   "and write report.json, report.md and report.png.")
    add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run ``recgraph compare`` from parsed arguments."""
    from ..compare import compare_backends, report_markdown

    backends = names(args.backends)
    overrides = {b: {"epochs": args.epochs} for b in backends} if args.epochs is not None else None
    source, options = resolve_log(args)
    ratings = load_checked(source, options, {"--threshold": args.threshold})
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    report = compare_backends(ratings, args.out, seed=args.seed, backends=backends, preset=args.preset,
                              protocol=args.protocol, threshold=threshold, test_fraction=args.test_fraction,
                              baselines=names(args.baselines), ease_lambda=args.ease_lambda,
                              trainer_overrides=overrides, keep_artifacts=args.keep_artifacts,
                              show_progress=not args.quiet)
    if not args.quiet:
        print(report_markdown(report), end="")
        print()
        out = Path(args.out)
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            print(f"wrote {path}")
    return 0
