"""Graph views -> walk corpus -> one embedding table.

A *view* is one item graph built from the ratings with its own :class:`GraphParams`
(rating threshold, weight threshold, items left out). The example has one view, the
5-star graph. The ``tuned`` preset adds two: one built from ratings >= 4 among items at
least 10 users liked, which carries twice the co-occurrence evidence that the 5-star graph
throws away, and one from ratings >= 4.5; the views' similarities are complementary
(``docs/tuning.md``).

Every view is walked with the same :class:`WalkParams` and embedded by the same trainer,
separately: the trainer never sees two graphs in one corpus (one skip-gram over the union
of the walks was measured and is worse). With one view the embedding table is the
trainer's output, unchanged. With several, each view's vectors are scaled to unit length
and placed side by side, zeros where a view lacks the item, over the union of the
views' items; the cosine of two such rows is the mean of the views' cosines where both
items are in every view.

>>> corpus = build_corpus(ratings, [GraphParams(), GraphParams(4.0, 30.0, 10)], WalkParams(40), seed=1)
>>> vectors, history = fit_embeddings(get_trainer("gensim"), corpus)   # [len(corpus.item_ids), 2 * dim]
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np

from .config import GraphParams, WalkParams
from .errors import EmptyGraphError
from .graph import ItemGraph, build_item_graph
from .seeds import view_seed
from .walks import node2vec_walks

__all__ = ["GraphParams", "WalkParams", "WalkCorpus", "build_corpus", "build_graphs", "walk_graphs",
           "fit_embeddings", "view_label", "view_seed", "walks_sha256"]


def walks_sha256(*walks: np.ndarray) -> str:
    """SHA-256 of one or more walk arrays as C-ordered int32, each prefixed by its shape
    (``rows x cols:``, later ones ``|rows x cols:``)."""
    digest = hashlib.sha256()
    for i, array in enumerate(walks):
        array = np.ascontiguousarray(array, dtype=np.int32)
        digest.update(f"{'|' if i else ''}{array.shape[0]}x{array.shape[1]}:".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def view_label(view: Mapping) -> str:
    """``ratings >= 4, weight >= 30, items liked by >= 10 users`` for a view's parameters
    (the later parts only when the view leaves items out or caps users or degrees)."""
    label = f"ratings >= {view['min_rating']:g}, weight >= {view['min_weight']:g}"
    if view.get("min_item_users"):
        label += f", items liked by >= {view['min_item_users']} users"
    if view.get("max_user_items"):
        label += f", <= {view['max_user_items']} latest likes per user"
    if view.get("max_degree"):
        label += f", top {view['max_degree']} edges per item"
    return label


@dataclass(frozen=True, eq=False)
class WalkCorpus:
    """The graphs of every view and their walks (node numbers of each view's own graph)."""

    graphs: tuple[ItemGraph, ...]
    walks: tuple[np.ndarray, ...]
    params: tuple[GraphParams, ...]

    @property
    def graph(self) -> ItemGraph:
        """The first (primary) view's graph."""
        return self.graphs[0]

    @cached_property
    def item_ids(self) -> np.ndarray:
        """Item ids of the embedding table's rows: the union of the views' items, sorted."""
        if len(self.graphs) == 1:
            return self.graphs[0].item_ids
        return np.unique(np.concatenate([g.item_ids for g in self.graphs]))

    @property
    def shape(self) -> list[int]:
        """``[walks in all views, walk length]``."""
        return [int(sum(w.shape[0] for w in self.walks)), int(self.walks[0].shape[1])]

    def sha256(self) -> str:
        """:func:`walks_sha256` of every view's walks, in order."""
        return walks_sha256(*self.walks)

    def stats(self) -> dict:
        """The primary graph's stats; with several views, also ``views`` (each one's params and stats)
        and ``items`` (the union)."""
        stats = self.graph.stats()
        if len(self.graphs) > 1:
            stats["items"] = int(len(self.item_ids))
            stats["views"] = [{**p.to_dict(), **g.stats()} for p, g in zip(self.params, self.graphs)]
        return stats


def build_corpus(ratings, graph_params, walk_params: WalkParams, seed: int | None = None,
                 timings: dict | None = None) -> WalkCorpus:
    """Build every view's graph and walk it (:func:`build_graphs`, then :func:`walk_graphs`).

    ``graph_params`` is one :class:`GraphParams` or a sequence of them (the first is the
    primary view). ``timings``, when given, receives ``graph`` and ``walks`` seconds.
    """
    t = time.perf_counter()
    views = _views(graph_params)
    graphs = build_graphs(ratings, views)
    if timings is not None:
        timings["graph"] = round(time.perf_counter() - t, 4)
    return walk_graphs(graphs, views, walk_params, seed, timings)


def _views(graph_params) -> tuple[GraphParams, ...]:
    views = (graph_params,) if isinstance(graph_params, GraphParams) else tuple(graph_params)
    if not views:
        raise ValueError("graph_params must name at least one view")
    return views


def build_graphs(ratings, graph_params) -> tuple[ItemGraph, ...]:
    """Every view's graph from ``ratings``, in order; an empty extra view names itself."""
    graphs = []
    for i, v in enumerate(_views(graph_params)):
        try:
            graphs.append(build_item_graph(ratings, **v.build_kwargs()))
        except EmptyGraphError as exc:
            if i == 0:
                raise
            raise EmptyGraphError(f"Extra graph view {i} ({view_label(v.to_dict())}) is empty: {exc} Its parameters "
                                  "come from the preset; pass --one-view to train on the primary graph only.") from None
    return tuple(graphs)


def walk_graphs(graphs, graph_params, walk_params: WalkParams, seed: int | None = None,
                timings: dict | None = None) -> WalkCorpus:
    """Walk every view's graph (view ``i`` with :func:`recgraph.seeds.view_seed`); ``timings``,
    when given, receives ``walks`` seconds."""
    views = _views(graph_params)
    graphs = tuple(graphs)
    if len(graphs) != len(views):
        raise ValueError(f"{len(graphs)} graphs for {len(views)} graph views")
    t = time.perf_counter()
    walks = tuple(node2vec_walks(g, walk_params.walks_per_node(g.num_nodes), walk_params.walk_length, walk_params.p,
                                 walk_params.q, seed=view_seed(seed, i)) for i, g in enumerate(graphs))
    if timings is not None:
        timings["walks"] = round(time.perf_counter() - t, 4)
    return WalkCorpus(graphs, walks, views)


def fit_embeddings(trainer, corpus: WalkCorpus) -> tuple[np.ndarray, dict]:
    """Train ``trainer`` on each view's walks; return the embedding table and the history.

    One view: the trainer's embeddings and ``history_`` as they are. Several: unit-length
    view blocks side by side over ``corpus.item_ids`` (zeros where a view lacks an item),
    and ``{"views": [history of each view], "timings_s": summed, "loss": [per view]}``.
    """
    if len(corpus.graphs) == 1:
        embeddings = trainer.fit(corpus.walks[0], corpus.graph.num_nodes)
        return embeddings, dict(getattr(trainer, "history_", {}) or {})
    item_ids = corpus.item_ids
    blocks, histories = [], []
    for graph, walks in zip(corpus.graphs, corpus.walks):
        vectors = np.asarray(trainer.fit(walks, graph.num_nodes), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        block = np.zeros((len(item_ids), vectors.shape[1]), dtype=np.float32)
        block[np.searchsorted(item_ids, graph.item_ids)] = vectors / np.maximum(norms, 1e-12)
        blocks.append(block)
        histories.append(dict(getattr(trainer, "history_", {}) or {}))
    history: dict = {}
    timings: dict[str, float] = {}
    for h in histories:
        for name, seconds in h.pop("timings_s", {}).items():
            timings[name] = round(timings.get(name, 0.0) + float(seconds), 4)
    if timings:
        history["timings_s"] = timings
    if any("loss" in h for h in histories):
        history["loss"] = [h.pop("loss", []) for h in histories]
    history["views"] = histories
    return np.hstack(blocks), history
