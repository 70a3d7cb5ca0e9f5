"""Where the keras backend's first-epoch loss parts from the document's: the order of the examples.

    python benchmarks/keras_document_order.py            # both orders, seed 1 (about 3 minutes)
    python benchmarks/keras_document_order.py --order document

Builds the document's examples with its own loop (``../shared/seed``: ``skipgrams`` per
walk, shuffled, then ``generate_examples``' dict, whose rows come out in the order each
pair was first drawn), then trains the keras backend's model on them for 10 epochs, fed

- ``document``: as its ``tf.data`` pipeline does, through a shuffle buffer of two
  batches (2,048) over that insertion order, refilled each epoch;
- ``full``: as recgraph does, a full reshuffle each epoch.

Prints the number of examples and the loss per epoch of each, beside the document's.
A slow, pure-Python measurement (the loop alone takes about 20 s), not part of recgraph.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("KERAS_BACKEND", "jax")

from recgraph.data import load_movielens  # noqa: E402 (after the sys.path and KERAS_BACKEND set-up)
from recgraph.graph import build_item_graph  # noqa: E402 (after the sys.path and KERAS_BACKEND set-up)
from recgraph.walks import node2vec_walks  # noqa: E402 (after the sys.path and KERAS_BACKEND set-up)

DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-latest-small.zip"
DOCUMENT_LOSS = [2.1005, 1.7545, 1.6827, 1.6522, 1.6343, 1.6209, 1.6084, 1.5952, 1.5807, 1.5650]
BATCH = 1024


def document_examples(walks: list[list[int]], vocab_size: int, window: int, negative: int,
                      rnd: random.Random) -> np.ndarray:
    """Rows ``(target, context, label, weight)`` in the document's dict order."""
    weights: dict = defaultdict(int)
    for seq in walks:
        couples = [(seq[i], seq[j]) for i in range(len(seq)) for j in range(max(0, i - window),
                   min(len(seq), i + window + 1)) if j != i and seq[i] and seq[j]]
        labels = [1] * len(couples)
        targets = [c[0] for c in couples]
        rnd.shuffle(targets)
        n_neg = int(len(couples) * negative)
        couples += [(targets[i % len(targets)], rnd.randint(1, vocab_size - 1)) for i in range(n_neg)]
        labels += [0] * n_neg
        order = list(range(len(labels)))
        rnd.shuffle(order)  # skipgrams(shuffle=True)
        for k in order:
            (a, b), label = couples[k], labels[k]
            t, c = min(a, b), max(a, b)
            if t == c:
                continue
            if label == 1:
                weights[(t, c, 0)] = 0          # an earlier negative entry is zeroed
                weights[(t, c, 1)] += 1
            elif weights[(t, c, 1)] > 0:        # (the lookup inserts the key, as in the document)
                continue                        # a later negative draw is skipped
            else:
                weights[(t, c, 0)] += 1
    return np.array([(t, c, label, w) for (t, c, label), w in weights.items() if w > 0], dtype=np.int64)


def buffer_order(n: int, buffer: int, rnd: random.Random) -> np.ndarray:
    """``tf.data.Dataset.shuffle(buffer)``: emit a uniform element of the buffer, refill from the input."""
    held = list(range(min(buffer, n)))
    following = len(held)
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        i = rnd.randrange(len(held))
        out[k] = held[i]
        if following < n:
            held[i] = following
            following += 1
        else:
            held[i] = held[-1]
            held.pop()
    return out


def train(rows: np.ndarray, vocab_size: int, order: str, seed: int) -> list[float]:
    import keras

    from recgraph.trainers.keras_backend import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(keras, vocab_size, 50)
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  steps_per_execution=64)
    targets, contexts = rows[:, 0].astype(np.int32), rows[:, 1].astype(np.int32)
    labels, weights = rows[:, 2].astype(np.float32), rows[:, 3].astype(np.float32)
    steps = rows.shape[0] // BATCH
    rng, rnd = np.random.default_rng(seed), random.Random(seed)
    losses = []
    for _ in range(10):
        idx = buffer_order(rows.shape[0], 2 * BATCH, rnd) if order == "document" else rng.permutation(rows.shape[0])
        idx = idx[: steps * BATCH]  # batch(drop_remainder=True)
        history = model.fit({"target": targets[idx], "context": contexts[idx]}, labels[idx],
                            sample_weight=weights[idx], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        losses.append(float(history.history["loss"][-1]))
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", choices=["document", "full", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    graph = build_item_graph(load_movielens(args.data))
    walks = (node2vec_walks(graph, 5, 10, p=2, q=1.5, seed=args.seed) + 1).tolist()
    rows = document_examples(walks, graph.num_nodes + 1, 10, 4, random.Random(args.seed))
    print(f"examples: {rows.shape[0]:,} (the document: 730,460)")
    print(f"{'the document':>14}: " + " ".join(f"{x:.4f}" for x in DOCUMENT_LOSS))
    for order in (["document", "full"] if args.order == "both" else [args.order]):
        losses = train(rows, graph.num_nodes + 1, order, args.seed)
        print(f"{order + ' order':>14}: " + " ".join(f"{x:.4f}" for x in losses), flush=True)


if __name__ == "__main__":
    main()
