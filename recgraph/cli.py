"""Command line: ``recgraph train | graph | similar | recommend | serve | evaluate | compare``.

This module only dispatches: each command's parser and runner live in
:mod:`recgraph.commands` (flag tables shared in :mod:`recgraph.commands.flags`). Every
project error becomes one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from . import __version__
from .commands import compare as compare_command
from .commands import evaluate as evaluate_command
from .commands import graph as graph_command
from .commands import train as train_command
from .errors import RecgraphError

EXIT_ERROR = 1
EXIT_USAGE = 2

def _add_query_args(p) -> None:
    p.add_argument("--index", required=True, help="artifact directory written by 'recgraph train'")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _add_similar_parser(sub) -> None:
    p = sub.add_parser("similar", help="movies similar to one movie", description="Movies similar to one movie.")
    p.add_argument("movie", help="movie id or exact title, e.g. 'Toy Story (1995)'")
    _add_query_args(p)


def _add_recommend_parser(sub) -> None:
    p = sub.add_parser("recommend", help="recommendations from a watch history",
                       description="Recommend movies for someone who watched the given ones.")
    p.add_argument("--watched", nargs="+", required=True,
                   help="movie ids or titles, oldest first (an artifact with recency scoring weighs the last ones more)")
    p.add_argument("--exclude", nargs="*", default=[], help="movie ids or titles never to return")
    _add_query_args(p)


def _print_results(results: list[dict], as_json: bool, query: dict) -> None:
    if as_json:
        print(json.dumps({**query, "results": results}, indent=2))
        return
    for rank, hit in enumerate(results, 1):
        print(f"{rank:>3}  {hit['score']:.3f}  {hit['movie_id']:>7}  {hit['title']}")


def _run_similar(args) -> int:
    from .index import ItemIndex

    index = ItemIndex.load(args.index)
    results = index.similar(_movie_ref(args.movie), k=args.k)
    _print_results(results, args.json, {"movie": args.movie})
    return 0


def _run_recommend(args) -> int:
    from .index import ItemIndex

    index = ItemIndex.load(args.index)
    exclude = [_movie_ref(m) for m in args.exclude]
    index.resolve(exclude, on_unknown="raise")  # a typo in --exclude must not pass silently
    results = index.recommend([_movie_ref(m) for m in args.watched], k=args.k, exclude=exclude)
    _print_results(results, args.json, {"watched": args.watched, "exclude": args.exclude})
    return 0


def _movie_ref(text: str):
    """A movie id when the text is ASCII digits, else a title."""
    stripped = text.strip()
    return int(stripped) if stripped.isascii() and stripped.isdigit() else text


def _add_serve_parser(sub) -> None:
    from .serve import add_parser

    add_parser(sub)


def _run_serve(args) -> int:
    from .serve import run

    return run(args)


COMMANDS = {
    "train": (train_command.add_parser, train_command.run),
    "graph": (graph_command.add_parser, graph_command.run),
    "similar": (_add_similar_parser, _run_similar),
    "recommend": (_add_recommend_parser, _run_recommend),
    "serve": (_add_serve_parser, _run_serve),
    "evaluate": (evaluate_command.add_parser, evaluate_command.run),
    "compare": (compare_command.add_parser, compare_command.run),
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
        return COMMANDS[args.command][1](args)
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


if __name__ == "__main__":
    sys.exit(main())
