"""``recgraph train``: walk, train and index, from the log in one go or from a graph directory."""

from __future__ import annotations

import argparse

from .flags import (DATA_HELP, GRAPH_FLAGS, SCORING_FLAGS, TRAINER_FLAGS, WALK_FLAGS, add_log_flags, add_run_flags,
                    given, load_checked, resolve_log)


def add_parser(sub) -> None:
    """Register ``recgraph train`` on an argparse subparsers object."""
    p = sub.add_parser("train", help="build the graph, walk it, train embeddings, write the index",
                       description="Train item embeddings and write an artifact directory, from the ratings "
                                   "(--data) or from a graph directory written by 'recgraph graph' (--graph). "
                                   "Without --preset or --config it runs the showcase preset.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", default=None, help=DATA_HELP)
    source.add_argument("--graph", default=None, metavar="GRAPH_DIR",
                        help="graph directory written by 'recgraph graph': walk, train and index from it")
    add_log_flags(p)
    p.add_argument("--out", required=True, help="artifact directory to write (replaced atomically)")
    add_run_flags(p, "trainer backend: gensim or keras (default: the configuration's, gensim in every preset)",
                  "graph (with a preset's extra graph views: the primary graph; not with --graph)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary; only the line naming the artifact")


def resolve(args: argparse.Namespace, graph_flags: bool = True, backends: tuple[str, ...] | None = None):
    """The run configuration the parsed flags name, and the log: ``(config, source, options)``
    (--data and the log flags, over the configuration file's ``data``).

    ``backends`` (evaluate, compare): the configuration chooses the first, and the trainer
    flags given must apply to each of them.
    """
    from ..config import load_config, resolve_config

    base = load_config(args.config) if getattr(args, "config", None) else None
    backend = getattr(args, "backend", None)
    if backends is not None:
        backend = backends[0] if backends else None
    trainer = given(args, TRAINER_FLAGS) if hasattr(args, "dim") else None
    config = resolve_config(
        preset=getattr(args, "preset", None), backend=backend, base=base,
        graph=given(args, GRAPH_FLAGS) if graph_flags else None,
        walks=given(args, WALK_FLAGS) if hasattr(args, "num_walks") else None,
        trainer=trainer,
        scoring=given(args, SCORING_FLAGS) if hasattr(args, "popularity_weight") else None,
        n_trees=getattr(args, "n_trees", None), seed=getattr(args, "seed", None), one_view=args.one_view)
    for other in (backends or ())[1:]:
        config.trainer.with_backend(other).updated(trainer or {})  # e.g. --vectors (gensim's) with keras: refused
    source, options = resolve_log(args, base)
    return config, source, options


def rating_thresholds(args: argparse.Namespace) -> dict:
    """The rating thresholds typed on the command line (None: left out), for an implicit log."""
    return {"--min-rating": getattr(args, "min_rating", None),
            "--history-min-rating": getattr(args, "history_min_rating", None)}


def run(args: argparse.Namespace) -> int:
    """Run ``recgraph train`` from parsed arguments."""
    from ..corpus import view_label
    from ..errors import ParameterError
    from ..pipeline import SHOWCASE_TITLES, loss_curves, train

    graph_flags = given(args, GRAPH_FLAGS)
    if args.graph is not None and (graph_flags or args.one_view):
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in graph_flags) or "--one-view"
        raise ParameterError(f"{flags} change how the graph is built, and --graph reads one already built; "
                             "rebuild it with 'recgraph graph', or train with --data.")
    from ..artifact import check_output_dir
    from ..data.options import log_options

    if args.graph is not None and log_options(args):
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in log_options(args))
        raise ParameterError(f"{flags} say how to read a log, and --graph reads a graph already built from one; "
                             "pass them to 'recgraph graph', or train with --data.")
    config, source, options = resolve(args)
    check_output_dir(args.out)  # a bad --out fails before the log is read
    data = None if args.graph else load_checked(source, options, rating_thresholds(args))
    result = train(data, args.out, config, graph=args.graph, log=None if args.graph else options,
                   show_progress=not args.quiet)
    if args.quiet:
        print(f"wrote {result.out_dir}")
        return 0
    from ..index import ItemIndex

    stats = result.manifest["graph"]
    print(f"graph: {stats['nodes']:,} nodes, {stats['edges']:,} edges, average degree {stats['avg_degree']}")
    for i, view in enumerate(stats.get("views", [])[1:], start=1):
        print(f"view {i} ({view_label(view)}): {view['nodes']:,} nodes, {view['edges']:,} edges")
    if "views" in stats:
        print(f"{stats['items']:,} items in all {len(stats['views'])} views")
    print("timings (s): " + ", ".join(f"{k} {v:.3f}" for k, v in result.timings_s.items()))
    if result.manifest.get("loss"):
        curves = loss_curves(result.manifest["loss"])
        for i, loss in enumerate(curves):
            view = f" (view {i})" if len(curves) > 1 else ""
            print(f"loss{view}: {loss[0]:.4f} -> {loss[-1]:.4f} over {len(loss)} epochs")
    assert result.out_dir is not None  # train was given an output directory
    index = ItemIndex.load(result.out_dir)
    shown = index.has_titles and any(title in index for title in SHOWCASE_TITLES)
    if not index.has_titles:
        print(f"\nThe log has no titles, so the showcase (five films looked up by title) is skipped; query by id: "
              f"recgraph similar --index {result.out_dir} {int(index.item_ids[0])}")
    elif not shown:
        print(f"\nNone of the showcase films (the Keras example's, looked up by title) is in this graph; query "
              f"it with: recgraph similar --index {result.out_dir} TITLE_OR_ID")
    for title in SHOWCASE_TITLES if shown else ():
        if title not in index:
            print(f"\n{title}: not in the graph")
            continue
        print(f"\n{title}:")
        for hit in index.similar(title, k=5):
            print(f"  {hit.score:.3f}  {hit.title}")
    print(f"\nwrote {result.out_dir}")
    return 0
