#!/usr/bin/env python
"""The main job: ``python scripts/train.py --backend gensim --data SRC --out DIR``.

A thin wrapper over ``recgraph train``; see ``recgraph train --help`` for every option.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recgraph.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
