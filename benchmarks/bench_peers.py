"""recgraph against what a practitioner would use instead, on logs of several shapes (issue 18).

    python -m benchmarks.bench_peers [--logs ml-random,ml-last,checkins,music,movies1m] [--scale 0.25]
                                      [--max-eval-users 5000] [--repeat 1] [--only NAMES] [--out peers.json]

One split per log, one evaluator: every method ranks the whole catalogue minus the user's
training items, Recall@20 and NDCG@20 over the held-out items. Methods: most-popular,
item-kNN (cosine), EASE (when it fits in memory), implicit's ALS and BPR (``pip install
implicit``; a benchmark dependency only), and recgraph through its public path only:

- ``recgraph tuned``: ``Recommender(preset="tuned", seed=seed).fit(log)`` on the training log as a
  DataFrame -> ``save`` -> :meth:`recgraph.index.ItemIndex.load` -> ``recommend_many(histories,
  20, exclude=histories)``, what ``--preset tuned`` serves; its fit time is fit + save (the blend's
  validation search included);
- ``diag: recgraph cosine+pop`` (a diagnostic, issue 18's probe): the same path with
  ``scoring={"method": "cosine", "popularity_weight": 0.1}``.

Logs: ml-latest-small turned implicit (every rating is an interaction) with a seeded 20%
per-user holdout (``ml-random``) or each user's latest (``ml-last``), and the synthetic
shapes of :mod:`benchmarks.synth_implicit` (20% per-user holdout; ``--scale`` shrinks them).
Prints a markdown table of test figures and one of the blend's validation choices; ``--out``
writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recgraph import autotune
from recgraph.evaluation.baselines import BaselineTooLarge, make_baseline
from recgraph.evaluation.interactions import Interactions
from recgraph.evaluation.metrics import hit_rate, ndcg, recall, top_k

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


# ---- methods ----------------------------------------------------------------------------
class Scorer:
    """``fit(train, order)`` -> model, then either ``scores(model, users)`` -> dense [len(users), items]
    (ranked here, training items excluded) or ``top(model, users, train)`` -> the method's own top-K
    column ids [len(users), K] (-1 pads)."""

    def __init__(self, name, fit, scores, top=None):
        self.name, self._fit, self._scores, self._top = name, fit, scores, top


def baseline(name: str, **params):
    def fit(train, order):
        data = Interactions(np.arange(train.shape[0]), np.arange(train.shape[1]), train, train, np.zeros(0, np.int64), 0.0)
        return make_baseline(name, **params).fit_interactions(data), train

    return Scorer(name, fit, lambda model, users: model[0].scores(model[1][users]))


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


def log_frame(train: sp.csr_matrix, order: sp.csr_matrix | None) -> pd.DataFrame:
    """The training matrix as the log a user would hand recgraph: ``userId`` = row, ``movieId`` =
    column, no rating column (implicit: every row a positive), ``timestamp`` when the log has times."""
    coo = train.tocoo()
    frame = pd.DataFrame({"userId": coo.row.astype(np.int64), "movieId": coo.col.astype(np.int64)})
    if order is not None:
        frame["timestamp"] = np.asarray(order.tocsr()[coo.row, coo.col]).ravel().astype(np.int64) - 1
    return frame


def histories(train: sp.csr_matrix, users: np.ndarray, order: sp.csr_matrix | None = None) -> list[np.ndarray]:
    """Each user's training items (column ids), as item-id sequences: oldest first when the log
    has times (``order``, the training matrix's pattern with rising times), else by column."""
    if order is None:
        return [train.indices[train.indptr[u]:train.indptr[u + 1]].astype(np.int64) for u in users]
    order = sp.csr_matrix(order)
    order.sort_indices()
    out = []
    for u in users:  # one argsort per user (a benchmark helper, not a hot path)
        lo, hi = order.indptr[u], order.indptr[u + 1]
        out.append(order.indices[lo:hi][np.argsort(order.data[lo:hi], kind="stable")].astype(np.int64))
    return out


def recgraph_public(seed: int, report: dict, name: str = "recgraph tuned", scoring: dict | None = None,
                    workdir: Path | None = None) -> "Scorer":
    """recgraph as a user runs it: ``Recommender(preset="tuned", seed=seed).fit(log)`` -> ``save``
    -> :meth:`recgraph.index.ItemIndex.load` -> ``recommend_many`` (what ``--preset tuned`` serves).
    The timed fit is fit + save (into ``workdir``, default a temporary directory); ``scoring``
    overrides the preset's scoring fields (the diagnostic). ``report`` receives the artifact
    paths (``fits``), the scoring as chosen and the manifest's validation report."""

    def fit(train, order):
        from recgraph.model import Recommender

        model = Recommender(preset="tuned", seed=seed, **({"scoring": scoring} if scoring else {}))
        model.fit(log_frame(train, order))
        path = Path(workdir or WORKDIR.name) / f"{name.replace(' ', '-').replace(':', '')}-{len(report.get('fits', []))}"
        model.save(path)
        ORDERS[path] = order
        s = model.config_.scoring
        report.setdefault("fits", []).append(str(path))
        report["scoring"] = {"method": s.method, "blend_weights": list(s.blend_weights), "blend_lam": s.blend_lam,
                             "blend_edge_power": s.blend_edge_power, "popularity_weight": s.popularity_weight}
        report["validation"] = (model.manifest_ or {}).get("validation") or {}
        report["items_with_vector"] = int(len(model.item_ids_))
        return path

    def top(path, users, train):
        from recgraph.index import ItemIndex

        index = LOADED.get(path)
        if index is None:
            index = LOADED[path] = ItemIndex.load(path)
        h = histories(train, users, ORDERS.get(path))  # oldest first when the log has times, as a caller would
        ids, _ = index.recommend_many(h, K, exclude=h)
        return ids  # the log's item ids are the training matrix's columns; -1 pads a short row

    return Scorer(name, fit, None, top)


WORKDIR = tempfile.TemporaryDirectory(prefix="bench_peers-")
LOADED: dict = {}
ORDERS: dict = {}


def evaluate(scorer: Scorer, train, test, order, users, repeat: int = 1) -> dict:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        model = scorer._fit(train, order)
        times.append(time.perf_counter() - t)
    block = max(1, 30_000_000 // train.shape[1])
    rec, nd, hr10, nd10 = [], [], [], []
    for lo in range(0, len(users), block):
        u = users[lo:lo + block]
        if scorer._top is not None:
            top = np.asarray(scorer._top(model, u, train), dtype=np.int64)
        else:
            top = top_k(np.asarray(scorer._scores(model, u), dtype=np.float64), K, exclude=train[u])
        rec.append(recall(top, test[u], K))
        nd.append(ndcg(top, test[u], K))
        hr10.append(hit_rate(top[:, :10], test[u], 10))
        nd10.append(ndcg(top[:, :10], test[u], 10))
    return {"recall@20": float(np.concatenate(rec).mean()), "ndcg@20": float(np.concatenate(nd).mean()),
            "hr@10": float(np.concatenate(hr10).mean()), "ndcg@10": float(np.concatenate(nd10).mean()),
            "fit_s": round(statistics.median(times), 2), "fit_runs_s": [round(x, 2) for x in times]}


def load_log(name: str, args):
    """(train, test, order or None) of the log called ``name``."""
    if name.startswith("ml-"):
        return ml_log(name, args.seed)
    return synth_log(name, args.scale, args.seed)


def eval_users(test: sp.csr_matrix, max_users: int, seed: int) -> np.ndarray:
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if max_users and users.size > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    return users


def methods(args, report: dict, diagnostic: dict, log: str = "") -> list[Scorer]:
    # ml-random's test items are a random share: the fit-time search validates the same way
    # (what recgraph evaluate --protocol random does); every other log keeps the preset's.
    tuned = {"search_holdout": "random"} if log == "ml-random" else None
    return [baseline("most-popular"), baseline("item-knn"), baseline("ease", lam=args.ease_lambda, max_gb=args.ease_gb),
            implicit_model("als"), implicit_model("bpr"), recgraph_public(args.seed, report, scoring=tuned),
            recgraph_public(args.seed, diagnostic, name=DIAGNOSTIC, scoring={"method": "cosine", "popularity_weight": 0.1})]


DIAGNOSTIC = "diag: recgraph cosine+pop"


def run_log(name: str, args) -> dict:
    train, test, order = load_log(name, args)
    users = eval_users(test, args.max_eval_users, args.seed)
    out = {"users": train.shape[0], "items": train.shape[1], "train_pairs": int(train.nnz),
           "test_pairs": int(test.nnz), "eval_users": int(users.size), "methods": {}}
    report: dict = {}
    diagnostic: dict = {}
    for m in methods(args, report, diagnostic, name):
        if args.only and m.name not in args.only:
            continue
        try:
            out["methods"][m.name] = evaluate(m, train, test, order, users,
                                              repeat=1 if m.name in ("implicit-bpr", DIAGNOSTIC) else args.repeat)
        except BaselineTooLarge as exc:
            out["methods"][m.name] = {"skipped": str(exc)}
        print(name, m.name, out["methods"][m.name], flush=True)
    for r in (report, diagnostic):
        for path in r.pop("fits", []):
            LOADED.pop(Path(path), None)
            ORDERS.pop(Path(path), None)
            shutil.rmtree(path, ignore_errors=True)
    out["recgraph"] = report
    out["diagnostic"] = diagnostic
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


def validation_table(results: dict) -> str:
    """recgraph tuned's choice per log: the manifest's ``validation`` report and ``config.scoring``."""
    lines = ["| log | validation Recall@20, chosen | alone on validation: embedding / subspace / graph / popularity "
             "| chosen λ, edge_power, weights (emb, sub, graph, pop[, recent, recent graph]) | test Recall@20 | fit + save s (search s) | ALS fit s "
             "| ratio |", "|---|---:|---|---|---:|---:|---:|---:|"]
    for log, r in results.items():
        rep, m = r.get("recgraph") or {}, r["methods"]
        if "scoring" not in rep:
            continue
        val, s = rep.get("validation") or {}, rep["scoring"]
        chosen = (val.get("chosen") or {}).get("recall@20")
        alone = (val.get("chosen") or {}).get("alone") or {}
        alone_cell = " / ".join(f"{alone[c]:.3f}" if isinstance(alone.get(c), (int, float)) else "?"
                                for c in ("embedding", "subspace", "graph", "popularity")) if alone else "—"
        rg, als = m.get("recgraph tuned", {}), m.get("implicit-als", {})
        ratio = f"{rg['fit_s'] / als['fit_s']:.1f}×" if rg.get("fit_s") and als.get("fit_s") else "—"
        lines.append(f"| {log} | {chosen if chosen is None else f'{chosen:.4f}'} | {alone_cell} | {s['blend_lam']:g}, "
                     f"{s['blend_edge_power']:g}, ({', '.join(f'{w:g}' for w in s['blend_weights'])}) | "
                     f"{rg.get('recall@20', float('nan')):.4f} | {rg.get('fit_s', '—')} ({val.get('seconds', '—')}) | {als.get('fit_s', '—')} | {ratio} |")
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
    load_start = [round(x, 2) for x in os.getloadavg()]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with WORKDIR:
        results = {log: run_log(log, args) for log in args.logs.split(",")}
    meta = {"command": " ".join(sys.argv), "machine": f"{platform.node()} {platform.processor()} "
            f"({os.cpu_count()} cores)", "started": started,
            "ended": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average_at_start": load_start, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    print(table(results))
    print()
    print(validation_table(results))
    if args.out:
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
