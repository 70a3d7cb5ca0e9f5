"""``python -m recgraph.serve --index DIR ...``: the same as ``recgraph serve``."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
