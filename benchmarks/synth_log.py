"""A seeded synthetic MovieLens-format log with ML-25M's published shape, at any size.

    python benchmarks/synth_log.py --ratings 1000000 --out /work/synth/ml1m [--seed 0]

Writes ``OUT/ratings.csv`` (userId,movieId,rating,timestamp, sorted by user then movie, as
GroupLens does) and ``OUT/movies.csv`` (movieId,title,genres), built in a temporary
directory beside OUT and renamed into place, then prints the achieved shape.

The shape, scaled by the rating count R (ML-25M: 25,000,095 ratings):

- users: 162,541 x R / 25M; catalogue: 62,423 x R / 25M movies, of which ~59,047 x R / 25M
  end up rated (the rest have too little popularity to be drawn, as in the real catalogue);
- ratings per user: LensKit's log-normal fit of ML-25M (s 1.589, loc 18.6, scale 39.9),
  truncated to [20, 32,202 x items / 59,047], then scaled to sum to exactly R;
- movie popularity: a soft-capped log-normal, tuned so that the rated movies' Gini is ~0.94,
  the median movie has ~6 ratings and the top movie is rated by ~half the users;
- taste: movies belong to 19 latent clusters, one per MovieLens genre (a movie's first genre
  in movies.csv); each user has a Dirichlet(0.1) preference over clusters, mixed 80/20 with
  the clusters' overall popularity. A user's draws pick a cluster from that mixture, then a
  movie by popularity within it, so co-occurrence follows the clusters; ratings are higher on
  preferred clusters. A small share of heavy users' draws (0.5% at most) is uniform over the
  catalogue, which is what rates the long tail;
- rating shares: 5.0 14.5%, 4.5 8.5%, 4.0 26.6%, 3.5 12.6%, 3.0 19.6%, 2.5 5.1%, 2.0 6.7%,
  1.5 1.6%, 1.0 3.2%, 0.5 1.6% (the published top five; the rest split as in ML-25M),
  by cutting a per-rating score (user bias + movie quality + cluster affinity + noise) at
  quantiles taken from the first chunk;
- timestamps: each user is active over a log-normal span (median ~3 days) that starts
  uniformly between 1995-01-09 and 2019-11-21.

Each user's movies are a weighted sample without replacement (successive sampling): light
users by rounds of draws with replacement keeping first occurrences, heavy users (more than
2% of the catalogue) by Gumbel top-k over the whole catalogue. Everything is vectorized over
chunks of users; memory is bounded by the chunk (~2M ratings), not by R. Same arguments,
same files, byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy import stats

# ML-25M's published counts.
ML25M_RATINGS = 25_000_095
ML25M_USERS = 162_541
ML25M_RATED_MOVIES = 59_047
ML25M_CATALOGUE = 62_423
ML25M_MAX_PER_USER = 32_202
MIN_PER_USER = 20
LOGNORM_S, LOGNORM_LOC, LOGNORM_SCALE = 1.589, 18.6, 39.9

RATING_LEVELS = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])
RATING_SHARES = np.array([1.6, 3.2, 1.6, 6.7, 5.1, 19.6, 12.6, 26.6, 8.5, 14.5]) / 100.0
RATING_TEXT = [f"{r:.1f}" for r in RATING_LEVELS]

T_MIN, T_MAX = 789_652_009, 1_574_327_703  # ML-25M's first and last timestamps

GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance",
          "Sci-Fi", "Thriller", "War", "Western"]
_ADJ = ["Silent", "Broken", "Golden", "Last", "Hidden", "Crimson", "Lonely", "Wild", "Dark",
        "Bright", "Lost", "Frozen", "Electric", "Secret", "Midnight", "Endless", "Little",
        "Savage", "Quiet", "Burning", "Velvet", "Iron", "Paper", "Northern", "Forgotten"]
_NOUN = ["River", "Empire", "Garden", "Stranger", "Highway", "Kingdom", "Mirror", "Island",
         "Promise", "Horizon", "Machine", "Harbor", "Letter", "Shadow", "Winter", "Detective",
         "Orchard", "Voyage", "Storm", "Circus", "Signal", "Frontier", "Lantern", "Echo"]

N_CLUSTERS = 19
DIRICHLET_ALPHA = 0.1
GLOBAL_MIX = 0.2          # share of a user's cluster mixture that follows overall popularity
POP_SIGMA = 4.5           # log-normal popularity before the soft cap
POP_CAP_SHARE = 0.0025    # soft cap on one movie's share of all draws (sets the top movie)
EXPLORE = 0.005           # heavy users' share of uniform draws over the catalogue (the long tail)
EXPLORE_HALF = 500        # ratings at which a user explores at half that rate
HEAVY_SHARE = 0.02        # users rating more than this share of the catalogue use Gumbel top-k
CHUNK_RATINGS = 2_000_000


@dataclass
class Shape:
    """Sizes derived from the target rating count."""

    ratings: int
    users: int
    catalogue: int
    max_per_user: int

    @classmethod
    def scaled(cls, ratings: int) -> "Shape":
        f = ratings / ML25M_RATINGS
        users = max(1, round(ML25M_USERS * f))
        catalogue = max(50, round(ML25M_CATALOGUE * f))
        max_per_user = max(MIN_PER_USER, min(ML25M_MAX_PER_USER,
                                             round(ML25M_MAX_PER_USER * catalogue / ML25M_CATALOGUE)))
        if users * MIN_PER_USER > ratings or users * max_per_user < ratings:
            raise ValueError(f"--ratings {ratings} is too small for the ML-25M shape (try >= 10000).")
        return cls(ratings, users, catalogue, max_per_user)


@dataclass
class Stats:
    """Running tallies of what was written."""

    catalogue: int
    ratings: int = 0
    users: int = 0
    max_per_user: int = 0
    min_per_user: int = 1 << 62
    level_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(RATING_LEVELS), np.int64))
    item_counts: np.ndarray | None = None
    t_min: int = 1 << 62
    t_max: int = 0

    def __post_init__(self) -> None:
        self.item_counts = np.zeros(self.catalogue, np.int64)

    def summary(self) -> dict:
        rated = self.item_counts[self.item_counts > 0]
        return {
            "ratings": self.ratings,
            "users": self.users,
            "rated_movies": int(rated.size),
            "catalogue": self.catalogue,
            "shares": {RATING_TEXT[i]: round(float(c) / max(self.ratings, 1), 4)
                       for i, c in enumerate(self.level_counts)},
            "gini": round(gini(rated), 4),
            "median_per_movie": float(np.median(rated)) if rated.size else 0.0,
            "top_movie_users": int(rated.max()) if rated.size else 0,
            "top_movie_user_share": round(float(rated.max()) / max(self.users, 1), 3) if rated.size else 0.0,
            "min_per_user": self.min_per_user,
            "max_per_user": self.max_per_user,
            "first_timestamp": self.t_min,
            "last_timestamp": self.t_max,
        }


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0: all equal, 1: one holds everything)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2.0 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


def per_user_counts(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: truncated log-normal, rescaled to sum to exactly ``shape.ratings``."""
    dist = stats.lognorm(LOGNORM_S, loc=LOGNORM_LOC, scale=LOGNORM_SCALE)
    lo, hi = dist.cdf(MIN_PER_USER), dist.cdf(shape.max_per_user)
    counts = dist.ppf(rng.uniform(lo, hi, shape.users))
    counts[np.argmax(counts)] = shape.max_per_user   # the published maximum is one real user
    # Scale the excess over the minimum, so the floor of 20 stays where it is.
    top = np.argmax(counts)
    excess = counts - MIN_PER_USER
    excess[top] = 0.0
    factor = (shape.ratings - MIN_PER_USER * shape.users - (shape.max_per_user - MIN_PER_USER)) / excess.sum()
    counts = np.clip(np.floor(MIN_PER_USER + excess * factor), MIN_PER_USER,
                     shape.max_per_user).astype(np.int64)
    counts[top] = shape.max_per_user
    # Hand the rounding residual out one rating at a time to random users with room.
    residual = shape.ratings - int(counts.sum())
    while residual != 0:
        room = counts < shape.max_per_user if residual > 0 else counts > MIN_PER_USER
        cand = np.flatnonzero(room)
        pick = rng.choice(cand, size=min(abs(residual), cand.size), replace=False)
        counts[pick] += 1 if residual > 0 else -1
        residual = shape.ratings - int(counts.sum())
    return counts


@dataclass
class World:
    """Everything fixed before the users draw: movies, clusters, user tastes."""

    movie_ids: np.ndarray        # catalogue movie ids (sorted, sparse like GroupLens')
    cluster: np.ndarray          # cluster of each catalogue movie
    log_pop: np.ndarray          # log popularity weight of each movie
    quality: np.ndarray          # movie's rating offset
    order: np.ndarray            # catalogue indices sorted by cluster
    within_cdf: np.ndarray       # cluster index + cumulative popularity share within cluster
    cluster_share: np.ndarray    # P[k]: share of all popularity in cluster k
    counts: np.ndarray           # ratings per user
    taste: np.ndarray            # users x clusters mixture pi_u
    bias: np.ndarray             # user's rating offset
    t_start: np.ndarray          # user's first timestamp
    t_span: np.ndarray           # user's active span in seconds
    explore: np.ndarray          # share of a user's draws that ignore popularity and taste


def build_world(shape: Shape, rng: np.random.Generator) -> World:
    n = shape.catalogue
    movie_ids = np.sort(rng.choice(np.arange(1, int(n * 3.4) + 2), size=n, replace=False)).astype(np.int64)
    cluster_weights = rng.dirichlet(np.full(N_CLUSTERS, 2.0))
    cluster = rng.choice(N_CLUSTERS, size=n, p=cluster_weights)
    raw = rng.standard_normal(n) * POP_SIGMA
    pop = np.exp(raw - raw.max())
    pop /= pop.sum()
    pop = pop / (1.0 + pop / POP_CAP_SHARE)   # soft cap: the top movies flatten out
    pop /= pop.sum()
    log_pop = np.log(pop)
    quality = 0.12 * (raw - raw.mean()) / raw.std() + rng.normal(0.0, 0.45, n)

    order = np.lexsort((np.arange(n), cluster))
    cluster_share = np.bincount(cluster, weights=pop, minlength=N_CLUSTERS)
    sorted_pop = pop[order]
    sorted_cluster = cluster[order]
    cum = np.cumsum(sorted_pop)
    start_of = np.searchsorted(sorted_cluster, np.arange(N_CLUSTERS))
    before = np.concatenate([[0.0], cum])[start_of]          # cumulative mass before each cluster
    within = (cum - before[sorted_cluster]) / np.where(cluster_share > 0, cluster_share, 1.0)[sorted_cluster]
    within_cdf = sorted_cluster + np.minimum(within, 1.0)

    counts = per_user_counts(shape, rng)
    prefs = rng.dirichlet(np.full(N_CLUSTERS, DIRICHLET_ALPHA), size=shape.users)
    taste = (1.0 - GLOBAL_MIX) * prefs + GLOBAL_MIX * cluster_share[None, :]
    taste[:, cluster_share == 0] = 0.0
    taste /= taste.sum(axis=1, keepdims=True)
    bias = rng.normal(0.0, 0.45, shape.users)
    span = np.minimum(np.exp(rng.normal(np.log(3 * 86_400), 2.6, shape.users)), T_MAX - T_MIN)
    t_start = T_MIN + rng.uniform(0.0, 1.0, shape.users) * (T_MAX - T_MIN - span)
    explore = EXPLORE * counts / (counts + EXPLORE_HALF)
    return World(movie_ids, cluster, log_pop, quality, order, within_cdf, cluster_share,
                 counts, taste, bias, t_start, span, explore)


def _draw(world: World, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One with-replacement draw per entry of ``users`` (global user indices): catalogue index."""
    span_users = np.unique(users)
    pos = np.searchsorted(span_users, users)
    cdf = np.cumsum(world.taste[span_users], axis=1)
    cdf[:, -1] = 1.0
    flat = (np.arange(span_users.size)[:, None] + cdf).ravel()
    k = np.searchsorted(flat, pos + rng.random(users.size) * (1 - 1e-12), side="right") - pos * N_CLUSTERS
    k = np.minimum(k, N_CLUSTERS - 1)
    j = np.searchsorted(world.within_cdf, k + rng.random(users.size), side="right")
    j = np.minimum(j, world.within_cdf.size - 1)
    return world.order[j]


def _light_sample(world: World, users: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Successive sampling for light users: rounds of draws, first occurrences kept."""
    n = world.movie_ids.size
    need = world.counts[users]
    keys = np.empty(0, np.int64)                     # accepted user*n+item, in draw order
    got = np.zeros(users.size, np.int64)
    over = 1.3
    while True:
        deficit = need - got
        todo = np.flatnonzero(deficit > 0)
        if todo.size == 0:
            break
        draws = np.repeat(users[todo], np.ceil(deficit[todo] * over).astype(np.int64) + 1)
        items = _draw(world, draws, rng)
        explore = rng.random(draws.size) < world.explore[draws]
        items[explore] = rng.integers(0, n, int(explore.sum()))
        keys = np.concatenate([keys, draws * n + items])
        uniq, first = np.unique(keys, return_index=True)
        keys = uniq[np.argsort(first, kind="stable")]              # distinct, in draw order
        owner = keys // n
        by_user = np.argsort(owner, kind="stable")
        owner_sorted = owner[by_user]
        start = np.searchsorted(owner_sorted, users)
        rank = np.arange(keys.size) - start[np.searchsorted(users, owner_sorted)]
        keep = rank < need[np.searchsorted(users, owner_sorted)]
        keys = np.sort(keys[by_user[keep]])   # order inside a user no longer matters past here
        # keep draw order for the next round's first-occurrence rule: existing keys stay first
        got = np.bincount(np.searchsorted(users, keys // n), minlength=users.size)
        over = min(over * 2.0, 64.0)
    return keys // n, keys % n


def _heavy_sample(world: World, users: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exact weighted sampling without replacement for heavy users: Gumbel top-k per row."""
    n = world.movie_ids.size
    out_u, out_i = [], []
    rows = max(1, 8_000_000 // n)
    for s in range(0, users.size, rows):
        block = users[s:s + rows]
        taste_w = world.taste[block][:, world.cluster] / world.cluster_share[world.cluster][None, :]
        e = world.explore[block][:, None]
        logw = np.log((1.0 - e) * np.exp(world.log_pop)[None, :] * taste_w + e / n)
        keys = logw - np.log(-np.log(rng.random(logw.shape)))
        ranked = np.argsort(-keys, axis=1)
        c = world.counts[block]
        mask = np.arange(n)[None, :] < c[:, None]
        out_u.append(np.broadcast_to(block[:, None], ranked.shape)[mask])
        out_i.append(ranked[mask])
    return np.concatenate(out_u), np.concatenate(out_i)


def chunk_ratings(world: World, users: np.ndarray, rng: np.random.Generator):
    """(user index, catalogue index, score, timestamp) for a contiguous range of users."""
    n = world.movie_ids.size
    heavy = world.counts[users] > HEAVY_SHARE * n
    parts = []
    if (~heavy).any():
        parts.append(_light_sample(world, users[~heavy], rng))
    if heavy.any():
        parts.append(_heavy_sample(world, users[heavy], rng))
    u = np.concatenate([p[0] for p in parts])
    i = np.concatenate([p[1] for p in parts])
    order = np.lexsort((world.movie_ids[i], u))
    u, i = u[order], i[order]
    c = world.cluster[i]
    affinity = np.log(world.taste[u, c] / world.cluster_share[c])
    score = (world.bias[u] + world.quality[i] + 0.35 * np.clip(affinity, -2.0, 2.0)
             + rng.normal(0.0, 0.7, u.size))
    ts = (world.t_start[u] + rng.random(u.size) * world.t_span[u]).astype(np.int64)
    return u, i, score, ts


def cut_points(score: np.ndarray) -> np.ndarray:
    """Score thresholds that give RATING_SHARES on this sample."""
    return np.quantile(score, np.cumsum(RATING_SHARES)[:-1])


def generate(ratings: int, out: Path, seed: int = 0, chunk_ratings_target: int = CHUNK_RATINGS,
             progress: bool = True) -> dict:
    """Write OUT/ratings.csv and OUT/movies.csv atomically; return the achieved stats."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or choose another --out.")
    shape = Shape.scaled(ratings)
    root = np.random.SeedSequence(seed)
    world_seq, chunk_seq = root.spawn(2)
    world = build_world(shape, np.random.default_rng(world_seq))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        tally = Stats(shape.catalogue)
        bounds = np.searchsorted(np.cumsum(world.counts), np.arange(chunk_ratings_target, ratings,
                                                                   chunk_ratings_target), side="left")
        bounds = np.unique(np.concatenate([[0], bounds + 1, [shape.users]]).clip(0, shape.users))
        schema = pa.schema([("userId", pa.int64()), ("movieId", pa.int64()),
                            ("rating", pa.dictionary(pa.int8(), pa.string())), ("timestamp", pa.int64())])
        levels = pa.array(RATING_TEXT)
        cuts = None
        t0 = time.perf_counter()
        with open(tmp / "ratings.csv", "wb") as fh:
            fh.write(b"userId,movieId,rating,timestamp\n")
            writer = pacsv.CSVWriter(fh, schema, write_options=pacsv.WriteOptions(
                include_header=False, quoting_style="none", batch_size=1 << 16))
            seqs = chunk_seq.spawn(len(bounds) - 1)
            for b, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
                rng = np.random.default_rng(seqs[b])
                u, i, score, ts = chunk_ratings(world, np.arange(lo, hi), rng)
                if cuts is None:
                    cuts = cut_points(score)
                code = np.searchsorted(cuts, score, side="right").astype(np.int8)
                writer.write_table(pa.table({
                    "userId": u + 1, "movieId": world.movie_ids[i],
                    "rating": pa.DictionaryArray.from_arrays(pa.array(code), levels),
                    "timestamp": ts}, schema=schema))
                tally.ratings += u.size
                tally.users += int(hi - lo)
                per_user = world.counts[lo:hi]
                tally.max_per_user = max(tally.max_per_user, int(per_user.max()))
                tally.min_per_user = min(tally.min_per_user, int(per_user.min()))
                tally.level_counts += np.bincount(code, minlength=len(RATING_LEVELS))
                tally.item_counts += np.bincount(i, minlength=shape.catalogue)
                tally.t_min, tally.t_max = min(tally.t_min, int(ts.min())), max(tally.t_max, int(ts.max()))
                if progress:
                    print(f"  chunk {b + 1}/{len(bounds) - 1}: users {lo + 1}-{hi}, "
                          f"{tally.ratings:,} ratings, {time.perf_counter() - t0:.1f} s",
                          file=sys.stderr, flush=True)
            writer.close()
        write_movies(tmp / "movies.csv", world, np.random.default_rng(root.spawn(1)[0]))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the log is for everyone
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tally.summary()


def write_movies(path: Path, world: World, rng: np.random.Generator) -> None:
    """movies.csv with fake titles (some with GroupLens' ", The" and quoted commas)."""
    n = world.movie_ids.size
    adj = rng.integers(0, len(_ADJ), n)
    noun = rng.integers(0, len(_NOUN), n)
    year = rng.integers(1915, 2020, n)
    article = rng.random(n) < 0.12
    extra = rng.integers(0, len(GENRES), (n, 2))
    n_extra = rng.integers(0, 3, n)
    primary = world.cluster % len(GENRES)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["movieId", "title", "genres"])
        for m in range(n):  # tens of thousands of rows at most; the ratings are the hot path
            title = f"{_ADJ[adj[m]]} {_NOUN[noun[m]]}"
            if article[m]:
                title += ", The"
            genres = [GENRES[primary[m]]] + [GENRES[g] for g in extra[m, :n_extra[m]]]
            genres = list(dict.fromkeys(genres))
            w.writerow([int(world.movie_ids[m]), f"{title} {m} ({year[m]})", "|".join(genres)])


def print_summary(s: dict, target_ratings: int) -> None:
    f = target_ratings / ML25M_RATINGS
    print(f"ratings          {s['ratings']:>12,}   target {target_ratings:,}")
    print(f"users            {s['users']:>12,}   target {round(ML25M_USERS * f):,}")
    print(f"rated movies     {s['rated_movies']:>12,}   target ~{round(ML25M_RATED_MOVIES * f):,}"
          f" (catalogue {s['catalogue']:,})")
    print(f"gini (rated)     {s['gini']:>12.3f}   target ~0.94")
    print(f"median / movie   {s['median_per_movie']:>12.1f}   target ~6")
    print(f"top movie users  {s['top_movie_users']:>12,}   = {s['top_movie_user_share']:.0%} of users, target ~50%")
    print(f"per user         min {s['min_per_user']}, max {s['max_per_user']:,}   target min 20, max "
          f"{min(ML25M_MAX_PER_USER, round(ML25M_MAX_PER_USER * s['catalogue'] / ML25M_CATALOGUE)):,}")
    target = dict(zip(RATING_TEXT, RATING_SHARES))
    print("shares           " + "  ".join(f"{k}:{v:.3f}/{target[k]:.3f}" for k, v in s["shares"].items()))
    print(f"timestamps       {time.strftime('%Y-%m-%d', time.gmtime(s['first_timestamp']))} .. "
          f"{time.strftime('%Y-%m-%d', time.gmtime(s['last_timestamp']))}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ratings", type=int, required=True, help="target number of ratings")
    ap.add_argument("--out", type=Path, required=True, help="directory to create (must not exist)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-ratings", type=int, default=CHUNK_RATINGS)
    ap.add_argument("--done", action="store_true", help="touch OUT/DONE once everything is in place")
    ap.add_argument("--quiet", action="store_true", help="no per-chunk progress")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    try:
        summary = generate(args.ratings, args.out, args.seed, args.chunk_ratings, not args.quiet)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} in {time.perf_counter() - t:.1f} s")
    print_summary(summary, args.ratings)
    if args.done:
        (args.out / "DONE").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
