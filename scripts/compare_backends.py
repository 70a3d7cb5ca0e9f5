#!/usr/bin/env python
"""Compare trainer backends on one shared walk corpus.

``python scripts/compare_backends.py --data SRC --out DIR [--seed N]`` builds the graph and the
walks once, trains every backend (gensim, keras) on them, evaluates each through the index
and writes DIR/report.json, report.md and report.png. ``--help`` lists every option.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recgraph.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
