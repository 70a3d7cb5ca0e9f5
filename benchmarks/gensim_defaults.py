"""How the gensim backend's defaults were chosen: neighbour sanity over many seeds.

    python benchmarks/gensim_defaults.py --seeds 16

For each candidate setting, train the whole default pipeline (example graph and walks:
5 walks x 10 steps, p 2, q 1.5) with seeds 100..100+N and count how often
- Star Wars IV's top 10 holds both Empire Strikes Back and Return of the Jedi, and
- The Lion King's top 5 holds Aladdin or Beauty and the Beast,
with the median training time. One gensim worker, so every row is reproducible.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from recgraph.data import load_movielens
from recgraph.pipeline import train

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = {
    "gensim stock (window 5, sample 1e-3, 5 epochs, alpha 0.025, input vectors)":
        dict(epochs=5, sample=1e-3, alpha=0.025, vectors="input"),
    "stock, sample 0": dict(epochs=5, sample=0.0, alpha=0.025, vectors="input"),
    "sample 0, 8 epochs, input vectors": dict(epochs=8, sample=0.0, alpha=0.05, vectors="input"),
    "sample 0, 8 epochs, output vectors": dict(epochs=8, sample=0.0, alpha=0.05, vectors="output"),
    "recgraph default (sample 0, 8 epochs, alpha 0.05, input+output)": dict(),
    "default, 5 epochs": dict(epochs=5),
    "default, 20 epochs": dict(epochs=20),
}


def top(unit: np.ndarray, row: int, k: int) -> np.ndarray:
    scores = unit @ unit[row]
    scores[row] = -np.inf
    return np.argsort(-scores)[:k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ml-latest-small.zip")
    args = parser.parse_args()
    ratings = load_movielens(args.data)
    print(f"{args.seeds} seeds each; one gensim worker\n")
    print("| setting | SW top 10 has ESB and RotJ | Lion King top 5 has Aladdin or B&B | train s (median) |")
    print("|---|---:|---:|---:|")
    for name, params in CANDIDATES.items():
        sw = lk = 0
        seconds = []
        for seed in range(100, 100 + args.seeds):
            res = train(ratings, None, seed=seed, trainer_params={**params, "workers": 1}, show_progress=False)
            ids = res.graph.item_ids
            row = {int(m): i for i, m in enumerate(ids)}
            norms = np.linalg.norm(res.embeddings, axis=1, keepdims=True)
            unit = res.embeddings / np.where(norms > 0, norms, 1)
            sw_top = set(ids[top(unit, row[260], 10)].tolist())
            lk_top = set(ids[top(unit, row[364], 5)].tolist())
            sw += {1196, 1210} <= sw_top
            lk += bool({588, 595} & lk_top)
            seconds.append(res.timings_s["train"])
        print(f"| {name} | {sw}/{args.seeds} | {lk}/{args.seeds} | {statistics.median(seconds):.2f} |", flush=True)


if __name__ == "__main__":
    main()
