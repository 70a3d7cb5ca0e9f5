"""Command line: ``recgraph train | graph | similar | recommend | serve | evaluate | compare``.

This module only dispatches: each command's parser and runner live in
:mod:`recgraph.commands` (flag tables shared in :mod:`recgraph.commands.flags`). Every
project error becomes one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from ._version import __version__
from .commands import compare as compare_command
from .commands import evaluate as evaluate_command
from .commands import graph as graph_command
from .commands import query as query_command
from .commands import train as train_command
from .errors import RecgraphError

EXIT_ERROR = 1
EXIT_USAGE = 2
#: A reader closed the pipe (``recgraph similar ... | head``): the status a shell reports for SIGPIPE.
EXIT_BROKEN_PIPE = 128 + 13


def _add_serve_parser(sub) -> None:
    from .serve import add_parser

    add_parser(sub)


def _run_serve(args) -> int:
    from .serve import run

    return run(args)


COMMANDS = {
    "train": (train_command.add_parser, train_command.run),
    "graph": (graph_command.add_parser, graph_command.run),
    "similar": (query_command.add_similar_parser, query_command.run_similar),
    "recommend": (query_command.add_recommend_parser, query_command.run_recommend),
    "serve": (_add_serve_parser, _run_serve),
    "evaluate": (evaluate_command.add_parser, evaluate_command.run),
    "compare": (compare_command.add_parser, compare_command.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recgraph", description="Recommendations from node2vec walks over a PMI item graph (any log: films, SKUs, songs, places).")
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
