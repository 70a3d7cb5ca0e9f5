"""recgraph against what a practitioner would use instead, on logs of several shapes (issue 18).

    python -m benchmarks.bench_peers [--logs ml-random,ml-last,checkins,music,movies1m] [--scale 0.25]
                                      [--max-eval-users 5000] [--out peers.json]

One split per log, one evaluator: every method ranks the whole catalogue minus the user's
training items, Recall@20 and NDCG@20 over the held-out items. Methods: most-popular,
item-kNN (cosine), EASE (when it fits in memory), implicit's ALS and BPR (``pip install
implicit``; a benchmark dependency only), and recgraph: the PMI graph -> node2vec walks ->
gensim skip-gram embeddings, ranked exactly by

- ``rg mean+pop``: cosine to the history's mean vector + 0.1 log(1 + count) (issue 18's probe);
- ``rg tuned``: :mod:`recgraph.user_model` with its build and parameters (weights, lam, edge_power) chosen by
  :func:`recgraph.autotune.select` on a validation slice of the training log (never the test).

Logs: ml-latest-small turned implicit (every rating is an interaction) with a seeded 20%
per-user holdout (``ml-random``) or each user's latest (``ml-last``), and the synthetic
shapes of :mod:`benchmarks.synth_implicit` (20% per-user holdout; ``--scale`` shrinks them).
Prints a markdown table; ``--out`` writes every figure (validation ones too) as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recgraph import autotune, user_model
from recgraph.config import GraphParams, WalkParams
from recgraph.corpus import build_graphs, walk_graphs
from recgraph.evaluation.baselines import BaselineTooLarge, make_baseline
from recgraph.evaluation.interactions import Interactions
from recgraph.evaluation.metrics import ndcg, recall, top_k
from recgraph.trainers import get_trainer

ML_SMALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small.zip"
K = 20
logger = logging.getLogger("bench_peers")


# ---- logs -------------------------------------------------------------------------------
def ml_log(protocol: str, seed: int):
    from recgraph.data import load

    frame = load(str(ML_SMALL)).ratings
    users, u = np.unique(frame["userId"].to_numpy(), return_inverse=True)
    items, i = np.unique(frame["movieId"].to_numpy(), return_inverse=True)
    x = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(len(users), len(items)))
    order = sp.csr_matrix((frame["timestamp"].to_numpy(np.float64) + 1.0, (u, i)), shape=x.shape)
    if protocol == "ml-last":
        train, test = autotune.holdout(x, order=order, count=1, min_items=2)
        return train, test, _train_order(order, train)
    train, test = autotune.holdout(x, 0.2, seed=seed, min_items=2)
    return train, test, _train_order(order, train)


def _train_order(order: sp.csr_matrix, train: sp.csr_matrix) -> sp.csr_matrix:
    """The times of ``train``'s entries (its pattern, ``order``'s values)."""
    o = order.multiply(train > 0).tocsr()
    o.sort_indices()
    return o


def synth_log(name: str, scale: float, seed: int):
    from benchmarks.synth_implicit import implicit_log

    user, item = implicit_log(name, seed=seed, scale=scale)
    items, col = np.unique(item, return_inverse=True)
    x = sp.csr_matrix((np.ones(len(user), np.float32), (user, col)), shape=(int(user.max()) + 1, len(items)))
    train, test = autotune.holdout(x, 0.2, seed=seed + 1, min_items=2)
    return train, test, None


# ---- recgraph ---------------------------------------------------------------------------
def recgraph_build(graph: GraphParams, walks: WalkParams, trainer: dict, seed: int):
    """A build for :func:`recgraph.autotune.select`: training matrix -> (embeddings, adjacency),
    through recgraph's own graph, walk and trainer stages."""

    def build(x: sp.csr_matrix, embed: bool = True):
        """(embeddings, adjacency) on ``x``'s columns; ``embed`` False: (None, adjacency), no walks."""
        coo = x.tocoo()
        frame = pd.DataFrame({"userId": coo.row.astype(np.int64), "movieId": coo.col.astype(np.int64),
                              "rating": np.full(coo.nnz, 5.0)})
        g = build_graphs(frame, (graph,))[0]
        rows = np.repeat(g.item_ids, np.diff(g.indptr))
        adjacency = sp.csr_matrix((g.weights, (rows, g.item_ids[g.indices])), shape=(x.shape[1],) * 2)
        if not embed:
            return None, adjacency
        corpus = walk_graphs((g,), (graph,), walks, seed=seed)
        vectors = np.asarray(get_trainer("gensim", seed=seed, **trainer).fit(corpus.walks[0], g.num_nodes))
        emb = np.zeros((x.shape[1], vectors.shape[1]), np.float32)
        emb[g.item_ids] = vectors
        build.stats = {**g.stats(), "walks": list(corpus.walks[0].shape)}
        build.last = emb
        return emb, adjacency

    return build


def implicit_graph(x: sp.csr_matrix) -> GraphParams:
    """One implicit view; min_weight low enough that sparse logs keep their co-occurrences, and a
    degree cap that bounds the walks' graph."""
    return GraphParams(min_rating=5.0, min_weight=1.0, max_degree=50)


def walk_budget(x: sp.csr_matrix) -> WalkParams:
    return WalkParams(num_walks=10, walk_length=10, max_walks=100_000)


TRAINER = {"dim": 64, "epochs": 5, "window": 5, "negative": 5, "workers": 2}


# ---- methods ----------------------------------------------------------------------------
class Scorer:
    """fit(train) then scores(users) -> dense [len(users), items]."""

    def __init__(self, name, fit, scores):
        self.name, self._fit, self._scores = name, fit, scores


def baseline(name: str, **params):
    def fit(train, order):
        data = Interactions(np.arange(train.shape[0]), np.arange(train.shape[1]), train, train, np.zeros(0, np.int64), 0.0)
        return make_baseline(name, **params).fit(data)

    return Scorer(name, fit, lambda model, users: model.scores(users))


def implicit_model(kind: str):
    def fit(train, order):
        try:
            from implicit.cpu.als import AlternatingLeastSquares
            from implicit.cpu.bpr import BayesianPersonalizedRanking
        except ImportError:
            raise SystemExit("bench_peers needs implicit for its ALS and BPR baselines: pip install implicit") from None
        cls = AlternatingLeastSquares if kind == "als" else BayesianPersonalizedRanking
        params = {"factors": 128, "iterations": 15, "regularization": 0.05} if kind == "als" else {
            "factors": 128, "iterations": 100, "learning_rate": 0.05}
        model = cls(random_state=1, **params)
        model.fit(sp.csr_matrix(train, dtype=np.float32), show_progress=False)
        return model

    return Scorer(f"implicit-{kind}", fit, lambda m, users: m.user_factors[users] @ m.item_factors.T)


def recgraph_mean_pop(seed: int):
    def fit(train, order):
        emb, _ = recgraph_build(implicit_graph(train), walk_budget(train), TRAINER, seed)(train)
        return {"e": user_model.unit_rows(emb), "pop": np.log1p(np.asarray(train.sum(axis=0)).ravel())}

    def scores(state, users):
        m = np.asarray(CURRENT_TRAIN[users] @ state["e"])
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        return m @ state["e"].T + 0.1 * state["pop"]

    return Scorer("rg mean+pop", fit, scores)


def recgraph_tuned(seed: int, report: dict, reuse: bool = False):
    """``reuse``: the final model keeps the embeddings trained on the validation slice's fit part
    (one gensim training per fit); only the graph, W and popularity are refitted on the whole log."""

    def fit(train, order):
        builds = {"w1-deg50": recgraph_build(implicit_graph(train), walk_budget(train), TRAINER, seed)}
        params, rep = autotune.select(train, builds, order=order, seed=seed)
        t = time.perf_counter()
        build = builds[params["build"]]
        if reuse:
            emb, (_, adjacency) = build.last, build(train, embed=False)
        else:
            emb, adjacency = build(train)
        state = user_model.fit(emb, train, adjacency, {k: v for k, v in params.items() if k != "build"})
        rep["final_fit_s"] = round(time.perf_counter() - t, 2)
        rep["graph"] = build.stats
        report.update(rep)
        return state

    return Scorer("rg tuned 1-build" if reuse else "rg tuned", fit, lambda state, users: user_model.score(state, CURRENT_TRAIN[users], exclude_seen=False))


CURRENT_TRAIN: sp.csr_matrix = sp.csr_matrix((0, 0))


def evaluate(scorer: Scorer, train, test, order, users, repeat: int = 1) -> dict:
    global CURRENT_TRAIN
    CURRENT_TRAIN = train
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        model = scorer._fit(train, order)
        times.append(time.perf_counter() - t)
    block = max(1, 30_000_000 // train.shape[1])
    rec, nd = [], []
    for lo in range(0, len(users), block):
        u = users[lo:lo + block]
        top = top_k(np.asarray(scorer._scores(model, u), dtype=np.float64), K, exclude=train[u])
        rec.append(recall(top, test[u], K))
        nd.append(ndcg(top, test[u], K))
    return {"recall@20": float(np.concatenate(rec).mean()), "ndcg@20": float(np.concatenate(nd).mean()),
            "fit_s": round(statistics.median(times), 2)}


def run_log(name: str, args) -> dict:
    if name.startswith("ml-"):
        train, test, order = ml_log(name, args.seed)
    else:
        train, test, order = synth_log(name, args.scale, args.seed)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if args.max_eval_users and users.size > args.max_eval_users:
        users = np.sort(np.random.default_rng(args.seed).choice(users, args.max_eval_users, replace=False))
    out = {"users": train.shape[0], "items": train.shape[1], "train_pairs": int(train.nnz),
           "test_pairs": int(test.nnz), "eval_users": int(users.size), "methods": {}}
    tuned_report: dict = {}
    methods = [baseline("most-popular"), baseline("item-knn"), baseline("ease", lam=args.ease_lambda, max_gb=args.ease_gb),
               implicit_model("als"), implicit_model("bpr"), recgraph_mean_pop(args.seed),
               recgraph_tuned(args.seed, tuned_report), recgraph_tuned(args.seed, {}, reuse=True)]
    for m in methods:
        if args.only and m.name not in args.only:
            continue
        try:
            out["methods"][m.name] = evaluate(m, train, test, order, users, repeat=args.repeat if "rg" not in m.name
                                              and "bpr" not in m.name else 1)
        except BaselineTooLarge as exc:
            out["methods"][m.name] = {"skipped": str(exc)}
        print(name, m.name, out["methods"][m.name], flush=True)
    out["validation"] = tuned_report
    return out


def table(results: dict) -> str:
    names = []
    for r in results.values():
        names += [n for n in r["methods"] if n not in names]
    lines = ["| log | users | items | train pairs | " + " | ".join(names) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(names)]
    for log, r in results.items():
        cells = []
        for n in names:
            m = r["methods"].get(n)
            cells.append("—" if m is None or "skipped" in m else f"{m['recall@20']:.4f} / {m['ndcg@20']:.4f} ({m['fit_s']:g} s)")
        lines.append(f"| {log} | {r['users']:,} | {r['items']:,} | {r['train_pairs']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", default="ml-random,ml-last,checkins,music,movies1m")
    parser.add_argument("--scale", type=float, default=1.0, help="size of the synthetic logs (1: the issue's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-eval-users", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1, help="fits per baseline (median fit time)")
    parser.add_argument("--ease-lambda", type=float, default=200.0)
    parser.add_argument("--ease-gb", type=float, default=4.0)
    parser.add_argument("--only", type=lambda s: set(s.split(",")), default=None)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    results = {log: run_log(log, args) for log in args.logs.split(",")}
    meta = {"command": " ".join(sys.argv), "machine": f"{platform.node()} {platform.processor()} "
            f"({__import__('os').cpu_count()} cores)", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
