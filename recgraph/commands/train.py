"""``recgraph train``: walk, train and index, from the log in one go or from a graph directory."""

from __future__ import annotations

import argparse

from .flags import (DATA_HELP, GRAPH_FLAGS, SCORING_FLAGS, TRAINER_FLAGS, WALK_FLAGS, add_config_flag, add_flags,
                    add_graph_flags, add_log_flags, given, load_checked, resolve_log)


def add_parser(sub) -> None:
    """Register ``recgraph train`` on an argparse subparsers object."""
    from ..presets import available_presets

    p = sub.add_parser("train", help="build the graph, walk it, train embeddings, write the index",
                       description="Train movie embeddings and write an artifact directory, from the ratings "
                                   "(--data) or from a graph directory written by 'recgraph graph' (--graph).")
    p.add_argument("--backend", default=None, help="trainer backend: gensim or keras (default gensim)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", default=None, help=DATA_HELP)
    source.add_argument("--graph", default=None, metavar="GRAPH_DIR",
                        help="graph directory written by 'recgraph graph': walk, train and index from it")
    add_log_flags(p)
    p.add_argument("--out", required=True, help="artifact directory to write (replaced atomically)")
    p.add_argument("--seed", type=int, default=None, help="one seed for walks, training and the index")
    p.add_argument("--preset", default=None, choices=available_presets(),
                   help="named parameters: 'seed' = the Keras example's, 'tuned' = best measured "
                        "(docs/tuning.md); flags given explicitly override the preset")
    add_config_flag(p)
    add_graph_flags(p, "graph (with a preset's extra graph views: the primary graph; not with --graph)")
    add_flags(p.add_argument_group("walks"), WALK_FLAGS)
    add_flags(p.add_argument_group("trainer (the backend's or preset's defaults when omitted)"), TRAINER_FLAGS)
    add_flags(p.add_argument_group("scoring, applied at query time (the preset's when omitted)"), SCORING_FLAGS)
    p.add_argument("--n-trees", type=int, default=None, help="Annoy trees (default 50)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def resolve(args: argparse.Namespace, graph_flags: bool = True):
    """The run configuration the parsed flags name, and the log: ``(config, source, options)``
    (--data and the log flags, over the configuration file's ``data``)."""
    from ..config import load_config, resolve_config

    base = load_config(args.config) if getattr(args, "config", None) else None
    config = resolve_config(
        preset=args.preset, backend=getattr(args, "backend", None), base=base,
        graph=given(args, GRAPH_FLAGS) if graph_flags else None,
        walks=given(args, WALK_FLAGS) if hasattr(args, "num_walks") else None,
        trainer=given(args, TRAINER_FLAGS) if hasattr(args, "dim") else None,
        scoring=given(args, SCORING_FLAGS) if hasattr(args, "popularity_weight") else None,
        n_trees=getattr(args, "n_trees", None), seed=getattr(args, "seed", None), one_view=args.one_view)
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
    result = train(data, args.out, config=config, graph=args.graph, log=None if args.graph else options,
                   show_progress=not args.quiet)
    if args.quiet:
        return 0
    from ..index import ItemIndex

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
