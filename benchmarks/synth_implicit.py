"""Seeded synthetic implicit logs (user, item pairs; no ratings, times or titles) of other shapes.

    python -m benchmarks.synth_implicit --shape checkins --out /tmp/checkins [--scale 0.25] [--seed 0]

Writes ``OUT/interactions.csv`` (``user,item``, sorted by user then item) and prints the shape.
Three shapes, after the held-back logs of issue 18 (sizes at ``scale`` 1):

- ``checkins``: sparse power law, 30,000 users, 41,000 places, ~810k pairs. Places sit in
  1,000 small "cities" of ~40; each user has a home city (about half the draws) and five
  others, plus 20% of draws by global popularity, so most places are seen by few users and
  the co-occurrence is local but noisy;
- ``music``: dense, 15,400 users, 1,000 songs, ~289k pairs; 20 genres, each user a
  Dirichlet mixture over 3 of them plus popularity;
- ``movies1m``: 6,040 users, 3,706 movies, ~800k pairs (ML-1M's shape: at least 20 per user,
  a heavy tail); 19 genres, each user a mixture over 4.

- ``geo``: the check-ins' sizes on a map instead of disjoint clusters: places in the cells of
  a 64 x 64 torus, homes gathered around 300 cities, each user's draws scattered around home
  (a log-normal multiple of 0.012), plus 10% by popularity. Neighbourhoods overlap smoothly,
  so co-occurrence is sparse where similarity is not: a shape where latent factors (ALS, the
  embeddings) should pay over raw co-occurrence.

Taste: items belong to clusters; a user's draws pick a cluster from their own few (Dirichlet
weights) or the whole catalogue by popularity (``global_share``), then an item by
popularity within the cluster. Items are drawn with replacement and the first occurrences
kept, several rounds until each user has their count (or the rounds run out), so a user
never repeats an item. Everything is vectorized over users; same arguments, same pairs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks.synth_log import gini


@dataclass(frozen=True)
class ImplicitShape:
    """The sizes and taste structure of one synthetic implicit log."""

    name: str
    users: int
    items: int
    pairs: int
    clusters: int
    user_clusters: int        # clusters a user draws from (besides the global share)
    alpha: float              # Dirichlet concentration over the user's clusters
    home_weight: float        # extra weight on the first (home) cluster: locality
    global_share: float       # share of draws by overall popularity
    pop_sigma: float          # log-normal item popularity
    cluster_sigma: float      # log-normal cluster popularity (which clusters users pick)
    activity_sigma: float     # log-normal pairs per user
    min_per_user: int
    radius: float = 0.0       # geo: a user's draws scatter this far from home (map units; 0: clusters)
    cities: int = 0           # geo: homes gather around this many city centres

    def scaled(self, scale: float) -> ImplicitShape:
        """The same shape with users, items, pairs and clusters times ``scale`` (items and
        clusters only when the shape's catalogue grows with its users: ``checkins``)."""
        if scale == 1.0:
            return self
        grow_items = self.name in ("checkins", "geo")
        return replace(self, users=max(50, round(self.users * scale)), pairs=max(500, round(self.pairs * scale)),
                       items=max(50, round(self.items * scale)) if grow_items else self.items,
                       clusters=max(5, round(self.clusters * scale)) if grow_items else self.clusters)


SHAPES = {
    "checkins": ImplicitShape("checkins", 30_000, 41_000, 810_000, clusters=1_000, user_clusters=6, alpha=0.3,
                              home_weight=1.0, global_share=0.2, pop_sigma=1.3, cluster_sigma=1.0,
                              activity_sigma=0.9, min_per_user=10),
    "music": ImplicitShape("music", 15_400, 1_000, 289_000, clusters=20, user_clusters=3, alpha=0.3,
                           home_weight=0.0, global_share=0.25, pop_sigma=1.0, cluster_sigma=0.5,
                           activity_sigma=0.6, min_per_user=5),
    "geo": ImplicitShape("geo", 30_000, 41_000, 810_000, clusters=64 * 64, user_clusters=1, alpha=1.0,
                         home_weight=0.0, global_share=0.1, pop_sigma=1.3, cluster_sigma=0.0,
                         activity_sigma=0.9, min_per_user=10, radius=0.012, cities=300),
    "movies1m": ImplicitShape("movies1m", 6_040, 3_706, 800_000, clusters=19, user_clusters=4, alpha=0.3,
                              home_weight=0.0, global_share=0.3, pop_sigma=1.6, cluster_sigma=0.6,
                              activity_sigma=1.1, min_per_user=20),
}


def get_shape(name: str, scale: float = 1.0) -> ImplicitShape:
    """The shape called ``name`` (``checkins``, ``music``, ``movies1m``) at ``scale``."""
    if name not in SHAPES:
        raise ValueError(f"Unknown shape {name!r}; available: {', '.join(SHAPES)}.")
    if not scale > 0:
        raise ValueError(f"scale must be > 0; got {scale!r}.")
    return SHAPES[name].scaled(float(scale))


def _per_user(shape: ImplicitShape, rng: np.random.Generator) -> np.ndarray:
    """Pairs per user: log-normal, floored at ``min_per_user``, scaled to sum to about ``pairs``,
    capped at half the catalogue."""
    raw = rng.lognormal(0.0, shape.activity_sigma, shape.users)
    spare = shape.pairs - shape.min_per_user * shape.users
    if spare <= 0:
        raise ValueError(f"{shape.name}: {shape.pairs} pairs are too few for {shape.users} users of "
                         f">= {shape.min_per_user} each.")
    counts = shape.min_per_user + np.floor(raw / raw.sum() * spare)
    return np.minimum(counts, shape.items // 2).astype(np.int64)


def implicit_log(shape: ImplicitShape | str, seed: int = 0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw the log: ``(user, item)`` int64 arrays, one row per distinct pair, sorted by user then item.

    Users are numbered ``0..users-1``, items ``0..items-1`` (an item nobody drew is absent).
    """
    if isinstance(shape, str):
        shape = get_shape(shape, scale)
    rng = np.random.default_rng(seed)
    n_u, n_i, n_c = shape.users, shape.items, shape.clusters
    # Items: a cluster each, a log-normal popularity; a cluster's own popularity sets its size of draws.
    cluster = rng.integers(0, n_c, n_i)
    pop = rng.lognormal(0.0, shape.pop_sigma, n_i)
    order = np.lexsort((np.arange(n_i), cluster))
    sizes = np.bincount(cluster, minlength=n_c)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    # cluster index + cumulative share within the cluster: one increasing key for every item.
    cum = np.cumsum(pop[order])
    totals = np.add.reduceat(pop[order], starts[:-1][sizes > 0])
    cluster_total = np.zeros(n_c)
    cluster_total[sizes > 0] = totals
    before = np.concatenate([[0.0], np.cumsum(cluster_total)])[cluster[order]]
    key = cluster[order] + (cum - before) / np.maximum(cluster_total[cluster[order]], 1e-300)
    global_cdf = cum / cum[-1]
    cluster_pop = rng.lognormal(0.0, shape.cluster_sigma, n_c) * (sizes > 0)
    # Users: their clusters (by cluster popularity), Dirichlet weights, the home cluster boosted.
    k = shape.user_clusters
    mine = rng.choice(n_c, size=(n_u, k), p=cluster_pop / cluster_pop.sum())
    weights = rng.dirichlet(np.full(k, shape.alpha), n_u)
    weights[:, 0] += shape.home_weight
    weights /= weights.sum(axis=1, keepdims=True)
    weights = np.hstack([weights * (1.0 - shape.global_share), np.full((n_u, 1), shape.global_share)])
    wcdf = np.cumsum(weights, axis=1)
    if shape.radius > 0:
        # geo: items sit in the cells of a side x side map (a torus); homes gather around cities,
        # and each user roams a log-normal multiple of ``radius`` around home.
        side = int(round(np.sqrt(n_c)))
        centres = rng.random((max(shape.cities, 1), 2))
        home = np.mod(centres[rng.integers(0, centres.shape[0], n_u)] + rng.normal(0.0, 0.03, (n_u, 2)), 1.0)
        reach = shape.radius * rng.lognormal(0.0, 0.5, n_u)
    counts = _per_user(shape, rng)
    have = np.zeros(n_u, np.int64)
    got_u, got_i = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for _ in range(8):
        need = counts - have
        if not need.any():
            break
        n_draw = np.where(need > 0, need + need // 2 + 2, 0)
        users = np.repeat(np.arange(n_u), n_draw)
        slot = (rng.random(users.size)[:, None] > wcdf[users, :-1]).sum(axis=1)
        by_cluster = slot < k
        u01 = rng.random(users.size)
        item = np.empty(users.size, np.int64)
        if shape.radius > 0:  # geo: the cell under a point scattered around the user's home
            drawn = users[by_cluster]
            point = home[drawn] + rng.normal(0.0, 1.0, (drawn.size, 2)) * reach[drawn, None]
            cell = np.floor(np.mod(point, 1.0) * side).astype(np.int64) % side
            c = cell[:, 0] * side + cell[:, 1]
        else:
            c = mine[users[by_cluster], slot[by_cluster]]
        pos = np.searchsorted(key, c + u01[by_cluster], side="right")
        item[by_cluster] = order[np.minimum(pos, n_i - 1)]
        pos = np.searchsorted(global_cdf, u01[~by_cluster], side="right")
        item[~by_cluster] = order[np.minimum(pos, n_i - 1)]
        # Keep first occurrences not already held, then each user's first `need` of them.
        all_u = np.concatenate(got_u + [users])
        all_i = np.concatenate(got_i + [item])
        pair = all_u * n_i + all_i
        _, first = np.unique(pair, return_index=True)
        fresh = np.zeros(pair.size, bool)
        fresh[first] = True
        held = sum(x.size for x in got_u)
        new_u, new_i = users[fresh[held:]], item[fresh[held:]]
        rank = np.arange(new_u.size) - np.searchsorted(new_u, new_u)  # position within the user's new draws
        keep = rank < need[new_u]
        got_u.append(new_u[keep])
        got_i.append(new_i[keep])
        have += np.bincount(new_u[keep], minlength=n_u)
    user, item = np.concatenate(got_u), np.concatenate(got_i)
    by = np.lexsort((item, user))
    return user[by], item[by]


def describe(user: np.ndarray, item: np.ndarray) -> dict:
    """Users, items, pairs, density and the item-popularity spread of a log."""
    per_item = np.bincount(item)
    per_item = per_item[per_item > 0]
    per_user = np.bincount(user)
    per_user = per_user[per_user > 0]
    return {"users": int(per_user.size), "items": int(per_item.size), "pairs": int(user.size),
            "density": round(user.size / max(per_user.size * per_item.size, 1), 5),
            "median_per_item": float(np.median(per_item)), "max_per_item": int(per_item.max()),
            "median_per_user": float(np.median(per_user)), "gini_items": round(gini(per_item), 3)}


def write_log(user: np.ndarray, item: np.ndarray, out: Path) -> Path:
    """``OUT/interactions.csv`` (``user,item``), built beside ``out`` and renamed into place."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        np.savetxt(tmp / "interactions.csv", np.column_stack([user, item]), fmt="%d", delimiter=",",
                   header="user,item", comments="")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "interactions.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    user, item = implicit_log(args.shape, args.seed, args.scale)
    print(write_log(user, item, args.out), describe(user, item))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
