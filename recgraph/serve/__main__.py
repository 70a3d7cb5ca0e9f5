"""``python -m recgraph.serve --index DIR ...``: the same as ``recgraph serve``."""

import argparse
import logging
import sys

from ..errors import RecgraphError
from .command import add_arguments, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="recgraph serve", description="Serve an index over HTTP (JSON).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except RecgraphError as exc:
        print(f"recgraph: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
