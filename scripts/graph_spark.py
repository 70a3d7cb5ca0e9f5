"""``recgraph graph --engine spark`` as a file, for ``spark-submit scripts/graph_spark.py --data ... --out ...``."""

import sys

from recgraph.cli import main

if __name__ == "__main__":
    sys.exit(main(["graph", "--engine", "spark", *sys.argv[1:]]))
