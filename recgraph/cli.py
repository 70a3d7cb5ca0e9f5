"""Command line: ``recgraph train | similar | recommend | serve | evaluate | compare``.

The CLI only parses, calls the library and prints; every project error becomes one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from . import __version__
from .commands import query
from .errors import RecgraphError

EXIT_ERROR = 1
EXIT_USAGE = 2
#: A reader closed the pipe (``recgraph similar ... | head``): the status a shell reports for SIGPIPE.
EXIT_BROKEN_PIPE = 128 + 13

#: Trainer options the CLI knows; only those given are passed to the backend.
TRAINER_OPTIONS = (
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


def _add_train_parser(sub) -> None:
    from .presets import available_presets
    from .walks import DEFAULT_NUM_WALKS, DEFAULT_P, DEFAULT_Q, DEFAULT_WALK_LENGTH

    p = sub.add_parser("train", help="build the graph, walk it, train embeddings, write the index",
                       description="Train movie embeddings and write an artifact directory.")
    p.add_argument("--backend", default="gensim", help="trainer backend: gensim or keras (default gensim)")
    p.add_argument("--data", default=None,
                   help="directory with ratings.csv + movies.csv, a MovieLens .zip, or a URL "
                        "(default: download ml-latest-small; offline, pass a local copy)")
    p.add_argument("--out", required=True, help="artifact directory to write (replaced atomically)")
    p.add_argument("--seed", type=int, default=None, help="one seed for walks, training and the index")
    p.add_argument("--preset", default=None, choices=available_presets(),
                   help="named parameters: 'seed' = the Keras example's, 'tuned' = best measured "
                        "(docs/tuning.md); flags given explicitly override the preset")
    g = p.add_argument_group("graph (with a preset's extra graph views: the primary graph)")
    g.add_argument("--min-rating", type=float, default=None, help="ratings >= this count as liked (default 5)")
    g.add_argument("--min-weight", type=float, default=None, help="keep edges with PMI x count >= this (default 10)")
    g.add_argument("--min-item-users", type=int, default=None,
                   help="leave out movies fewer users liked (default 0: none left out)")
    g.add_argument("--one-view", action="store_true",
                   help="only the primary graph, without the preset's extra graph views (docs/tuning.md)")
    w = p.add_argument_group("walks")
    w.add_argument("--p", type=float, default=None, help=f"return parameter (default {DEFAULT_P:g})")
    w.add_argument("--q", type=float, default=None, help=f"in-out parameter (default {DEFAULT_Q:g})")
    w.add_argument("--num-walks", type=int, default=None, help=f"walks per node (default {DEFAULT_NUM_WALKS})")
    w.add_argument("--walk-length", type=int, default=None, help=f"nodes per walk (default {DEFAULT_WALK_LENGTH})")
    t = p.add_argument_group("trainer (the backend's or preset's defaults when omitted)")
    for flag, kind, text in TRAINER_OPTIONS:
        t.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument("--n-trees", type=int, default=50, help="Annoy trees (default 50)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def _run_train(args) -> int:
    from .corpus import view_label
    from .pipeline import SHOWCASE_TITLES, GraphParams, WalkParams, loss_curves, train

    trainer_params = _given(args, [flag[2:].replace("-", "_") for flag, _, _ in TRAINER_OPTIONS])
    graph = _given(args, ["min_rating", "min_weight", "min_item_users"])
    walks = _given(args, ["num_walks", "walk_length", "p", "q"])
    extra = None
    if args.preset:
        from .presets import pipeline_kwargs, preset_params

        params = preset_params(args.preset, args.backend, trainer_params, graph, walks, one_view=args.one_view)
        kwargs = pipeline_kwargs(params)
        extra = {"preset": args.preset}
        kwargs["scoring"] = params.scoring
    else:
        kwargs = dict(backend=args.backend, graph_params=GraphParams(**graph), walk_params=WalkParams(**walks),
                      trainer_params=trainer_params)
    result = train(args.data, args.out, seed=args.seed, n_trees=args.n_trees, show_progress=not args.quiet,
                   extra_manifest=extra, **kwargs)
    if args.quiet:
        return 0
    from .index import ItemIndex

    stats = result.manifest["graph"]
    print(f"graph: {stats['nodes']:,} nodes, {stats['edges']:,} edges, average degree {stats['avg_degree']}")
    for i, view in enumerate(stats.get("views", [])[1:], start=1):
        print(f"view {i} ({view_label(view)}): {view['nodes']:,} nodes, {view['edges']:,} edges")
    if "views" in stats:
        print(f"{stats['items']:,} movies in all {len(stats['views'])} views")
    print("timings (s): " + ", ".join(f"{k} {v:.3f}" for k, v in result.timings_s.items()))
    if result.manifest.get("loss"):
        curves = loss_curves(result.manifest["loss"])
        for i, loss in enumerate(curves):
            view = f" (view {i})" if len(curves) > 1 else ""
            print(f"loss{view}: {loss[0]:.4f} -> {loss[-1]:.4f} over {len(loss)} epochs")
    index = ItemIndex.load(result.out_dir)
    for title in SHOWCASE_TITLES:
        if title not in index:
            print(f"\n{title}: not in the graph")
            continue
        print(f"\n{title}:")
        for hit in index.similar(title, k=5):
            print(f"  {hit['score']:.3f}  {hit['title']}")
    print(f"\nwrote {result.out_dir}")
    return 0


def _given(args, names: list[str]) -> dict:
    """The options among ``names`` that the user set (None = not given)."""
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _add_serve_parser(sub) -> None:
    from .serve import add_parser

    add_parser(sub)


def _run_serve(args) -> int:
    from .serve import run

    return run(args)


def _add_evaluate_parser(sub) -> None:
    from .evaluation.command import add_parser

    add_parser(sub)


def _run_evaluate(args) -> int:
    from .evaluation.command import run

    return run(args)


def _add_compare_parser(sub) -> None:
    from .compare import add_parser

    add_parser(sub)


def _run_compare(args) -> int:
    from .compare import run

    return run(args)


COMMANDS = {
    "train": (_add_train_parser, _run_train),
    "similar": (query.add_similar_parser, query.run_similar),
    "recommend": (query.add_recommend_parser, query.run_recommend),
    "serve": (_add_serve_parser, _run_serve),
    "evaluate": (_add_evaluate_parser, _run_evaluate),
    "compare": (_add_compare_parser, _run_compare),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recgraph", description="Movie recommendations from node2vec walks over a PMI movie graph.")
    parser.add_argument("--version", action="version", version=f"recgraph {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        status = COMMANDS[args.command][1](args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except RecgraphError as exc:
        print(f"recgraph: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("recgraph: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"recgraph: error: {exc.strerror or exc}{where}.", file=sys.stderr)
        return EXIT_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the exit's final flush into the closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
