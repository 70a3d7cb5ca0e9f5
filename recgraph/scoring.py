"""How recommendations are scored: one exact, batched scoring (:class:`Scorer`), its options and the popularity prior.

Every surface (the fitted model, :class:`recgraph.index.ItemIndex`, the CLI, the HTTP service,
the evaluation) ranks through :meth:`Scorer.top`, which scores every item of the catalogue with
matrix products, a block of users at a time, with the artifact's :class:`ScoringOptions`
(recorded in ``manifest.json`` under ``config.scoring``):

- **cosine** (method ``"cosine"``): cosine to the mean of the history's unit vectors, plus
  ``popularity_weight * log(1 + likes)``, where ``likes`` is how many users rated the item
  >= 4.0 in training; rarely walked items have noisy vectors, and the prior puts them back
  in place. With ``recent_weight`` > 0 an ordered history's last ``recent_count`` items get a
  direction of their own.
- **blend** (method ``"blend"``): the fitted user model of :mod:`recgraph.user_model`.
- **fallback**: with ``"popular"``, a user none of whose items is known gets the most liked
  items instead of nothing.

The defaults (weight 0, fallback ``"none"``, no recency) are plain cosine. This module needs
numpy and scipy only (no pandas, gensim, keras, jax): :mod:`recgraph.index` imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from .errors import ParameterError
from .validation import check_float, check_int

FALLBACKS = ("popular", "none")
METHODS = ("cosine", "blend")
#: How the search holds items out: the latest when the log has times ("auto"), always the
#: latest ("latest": a log without times then falls back to random), or a seeded random share.
SEARCH_HOLDOUTS = ("auto", "latest", "random")
#: A like is a training rating at or above this; ``likes`` counts distinct users.
LIKE_MIN_RATING = 4.0
#: How many of the most liked items an artifact's ``popular.csv`` keeps.
POPULAR_SIZE = 1000


@dataclass(frozen=True)
class ScoringOptions:
    """How recommendations are scored from an index; the same for every backend.

    Attributes
    ----------
    history_min_rating : ratings at or above it form the query ("watched"); None: every
        rated item. Every rated item is excluded from the results either way. (Used by
        whoever builds the query, e.g. the evaluation harness; recorded for callers.)
    popularity_weight : weight of ``log(1 + likes)`` added to the cosine (0: plain cosine).
    candidates : recorded for readers of 0.1 (which re-ranked that many of Annoy's results);
        ranking has been exact since 0.2, so it changes nothing.
    fallback : ``"popular"`` or ``"none"`` for users with no watched item in the index.
    recent_weight : weight of the last ``recent_count`` watched items' direction added to
        the whole history's (0: the order of ``watched`` does not matter).
    recent_count : how many of the last watched items form that recent direction (and, for
        the blend, the history its recent scores read).
    method : ``"cosine"`` (the score above) or ``"blend"``: the fitted user model of
        :mod:`recgraph.user_model`, standardised scores over the embeddings and the item
        graph (mean-vector cosine, a linear autoencoder in the embedding subspace, the PMI
        graph's neighbourhoods, popularity) summed with ``blend_weights``; it needs the
        artifact's ``user_model.npz``, fitted with ``blend_lam`` and ``blend_edge_power``.
    blend_weights : the weights of those four scores and of two that read order (the cosine
        to the last ``recent_count`` items' mean vector, and those items' graph neighbourhoods;
        on an unordered history they read the whole history); 4 numbers mean the last two are 0.
    blend_lam, blend_edge_power : the subspace ridge and the graph's embedding re-weighting.
    search : choose ``blend_weights``, ``blend_lam`` and ``blend_edge_power`` at fit time on a
        validation slice carved from the training log (:mod:`recgraph.autotune`); the
        artifact records the values chosen and the validation figures.
    search_holdout : which items the search holds out: ``"auto"`` (each validation user's latest
        when the log has times, else a seeded random share), ``"latest"`` (the same) or
        ``"random"`` (a seeded random share even when the log has times: what to choose when
        the recommendations will be judged on randomly held-out items rather than the next
        ones, as ``recgraph evaluate --protocol random`` does).
    """

    history_min_rating: float | None = 4.0
    popularity_weight: float = 0.0
    candidates: int = 200
    fallback: str = "none"
    recent_weight: float = 0.0
    recent_count: int = 5
    method: str = "cosine"
    blend_weights: tuple[float, ...] = (2.0, 0.0, 0.5, 1.0, 0.0, 0.0)
    blend_lam: float = 10.0
    blend_edge_power: float = 1.0
    search: bool = False
    search_holdout: str = "auto"

    def __post_init__(self):
        if self.history_min_rating is not None:
            check_float("history_min_rating", self.history_min_rating)
        check_float("popularity_weight", self.popularity_weight, low=0.0)
        check_int("candidates", self.candidates)
        check_float("recent_weight", self.recent_weight, low=0.0)
        check_int("recent_count", self.recent_count)
        if self.fallback not in FALLBACKS:
            raise ParameterError(f"fallback must be one of {', '.join(FALLBACKS)}; got {self.fallback!r}.")
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}.")
        try:
            weights = tuple(float(w) for w in self.blend_weights)
        except (TypeError, ValueError):
            weights = ()
        if len(weights) == 4:  # written before the recent scores existed: they weigh nothing
            weights = weights + (0.0, 0.0)
        if len(weights) != 6 or not all(np.isfinite(w) and w >= 0 for w in weights) or not any(weights):
            raise ParameterError("blend_weights must be 6 numbers >= 0 (or 4, the first ones), not all 0 "
                                 "(embedding, subspace, graph, popularity, recent, recent_graph); "
                                 f"got {self.blend_weights!r}.")
        object.__setattr__(self, "blend_weights", weights)
        check_float("blend_lam", self.blend_lam, low=0.0, open_low=True)
        check_float("blend_edge_power", self.blend_edge_power, low=0.0)
        if not isinstance(self.search, bool):
            raise ParameterError(f"search must be true or false; got {self.search!r}.")
        if self.search_holdout not in SEARCH_HOLDOUTS:
            raise ParameterError(f"search_holdout must be one of {', '.join(SEARCH_HOLDOUTS)}; "
                                 f"got {self.search_holdout!r}.")

    @classmethod
    def from_value(cls, value: "ScoringOptions | dict | None") -> "ScoringOptions":
        """Options from an instance, a dict (unknown keys are an error) or None (the defaults)."""
        if isinstance(value, cls):
            return value
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise ParameterError(f"scoring must be a dict of {', '.join(f.name for f in fields(cls))}; got {value!r}.")
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ParameterError(f"Unknown scoring option(s) {', '.join(sorted(unknown))}; "
                                 f"known: {', '.join(f.name for f in fields(cls))}.")
        return cls(**value)

    @property
    def needs_likes(self) -> bool:
        return self.popularity_weight > 0 or self.fallback == "popular"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["blend_weights"] = list(self.blend_weights)
        return out


class Popularity:
    """How many users liked each item in the training data.

    Parameters
    ----------
    item_ids : int64 [n]; counts : float [n] (>= 0), aligned with ``item_ids``.
    """

    def __init__(self, item_ids: np.ndarray, counts: np.ndarray):
        item_ids = np.asarray(item_ids, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.float64)
        if item_ids.shape != counts.shape or item_ids.ndim != 1:
            raise ParameterError("item_ids and counts must be 1-D arrays of the same length.")
        order = np.argsort(item_ids, kind="stable")
        self.item_ids = item_ids[order]
        self.counts = counts[order]
        # Most popular first; ties by item id, so the fallback list is deterministic.
        self.ranked = self.item_ids[np.lexsort((self.item_ids, -self.counts))]

    @classmethod
    def from_ratings(cls, user_ids, item_ids, ratings, min_rating: float = LIKE_MIN_RATING) -> "Popularity":
        """Count distinct users per item among ratings >= ``min_rating``."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        item_ids = np.asarray(item_ids, dtype=np.int64)
        liked = np.asarray(ratings, dtype=np.float64) >= min_rating
        items, item_code = np.unique(item_ids[liked], return_inverse=True)
        users, user_code = np.unique(user_ids[liked], return_inverse=True)
        # Distinct (item, user) pairs as one int64 key each; a user counts once per item.
        pairs = np.unique(item_code.astype(np.int64) * max(users.size, 1) + user_code)
        counts = np.bincount(pairs // max(users.size, 1), minlength=items.size)
        keep = counts > 0
        return cls(items[keep], counts[keep].astype(np.float64))

    def count(self, item_ids) -> np.ndarray:
        """Counts of ``item_ids`` (0 for an item never liked)."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        if self.item_ids.size == 0:
            return np.zeros(item_ids.shape)
        pos = np.minimum(np.searchsorted(self.item_ids, item_ids), self.item_ids.size - 1)
        return np.where(self.item_ids[pos] == item_ids, self.counts[pos], 0.0)

    def top(self, n: int = POPULAR_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most liked items with at least one like (ids, counts), ties by item id."""
        ids = self.ranked[: int(n)]
        counts = self.count(ids)
        keep = counts > 0
        return ids[keep], counts[keep]


# ---------------------------------------------------------------------- the one scoring
#: Users are scored in blocks of about this many (user, item) scores (float64, 2 MB), which
#: stay in cache while they are rounded, masked and ranked...
BLOCK_ENTRIES = 2 ** 18
#: ...but of at least this many users, so a large catalogue's item matrix is read once per
#: block of users, not per user...
MIN_BLOCK_ROWS = 256
#: ...and never more than this many scores (128 MB), so memory follows the block whatever
#: the batch and the catalogue.
MAX_BLOCK_ENTRIES = 2 ** 24
#: History entries are ordered by one sort of ``(user * n_items + column) * places + place``
#: while that stays below this; by a lexsort of the three otherwise.
PACK_LIMIT = 2 ** 62
#: :class:`IdMap` maps ids through a lookup table when they span at most 32 values per item
#: or this many in all, and never more than LOOKUP_MAX (64 MB of int32).
LOOKUP_MIN = 2 ** 16
LOOKUP_MAX = 2 ** 24
#: Scores are rounded to this many decimals before ranking, so a list does not depend on
#: how many users were scored together (BLAS may sum a product in another order for a batch
#: than for one row); ties then go to the lower item row.
SCORE_DECIMALS = 6


def as_history_matrix(histories, n_items: int, row_of_id=None) -> tuple["object", list[list]]:
    """Histories as a CSR [users, n_items] whose values are each item's place in its history.

    ``histories`` is a scipy sparse matrix whose columns are the scorer's items (every stored
    entry is history; values other than positions mean "no order") or a sequence of item-id
    sequences, oldest first (one flat sequence of ids is one user). ``row_of_id`` maps an id to
    its column or None (ids it does not know are returned per user as ``unknown``). A repeated
    item counts once, at its last place. A sparse matrix has no order: every entry gets place 1,
    so recency changes nothing for it. Returns the matrix and the unknown ids per user.
    """
    import scipy.sparse as sp

    if sp.issparse(histories):
        matrix = sp.csr_matrix(histories, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != n_items:
            raise ParameterError(f"A history matrix needs one column per item ({n_items}); got shape {matrix.shape}.")
        matrix.sum_duplicates()
        matrix.data = np.ones_like(matrix.data)  # one place for all: no order, so no recency
        return matrix, [[] for _ in range(matrix.shape[0])]
    if isinstance(histories, (str, bytes)) or not hasattr(histories, "__iter__"):
        raise ParameterError("histories must be a sequence of item-id sequences or a sparse user x item matrix.")
    rows = list(histories)
    if rows and all(not _is_sequence(r) for r in rows):
        rows = [rows]  # one user's history
    cols: list[int] = []
    places: list[float] = []
    indptr = [0]
    unknown: list[list] = []
    for history in rows:
        if not _is_sequence(history):
            raise ParameterError(f"Each history must be a sequence of item ids; got {history!r}.")
        missing: list = []
        seen: dict[int, int] = {}
        place = 0
        for item in history:
            col = row_of_id(item) if row_of_id is not None else _int_item(item, n_items)
            if col is None:
                missing.append(item)
            else:
                place += 1  # places count the known items, so recency reads the last known ones
                seen[col] = place  # a repeat keeps its last place
        ordered = sorted(seen.items())
        cols.extend(c for c, _ in ordered)
        places.extend(float(p) for _, p in ordered)
        indptr.append(len(cols))
        unknown.append(missing)
    matrix = sp.csr_matrix((np.asarray(places, dtype=np.float64), np.asarray(cols, dtype=np.int64),
                            np.asarray(indptr, dtype=np.int64)), shape=(len(rows), n_items))
    return matrix, unknown


def _excerpt(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _is_sequence(value) -> bool:
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes))


def _int_item(item, n_items: int):
    if isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= int(item) < n_items:
        return int(item)
    return None


class Scorer:
    """The one scoring function: every item of a catalogue scored exactly for many users at once.

    The fitted model (:class:`recgraph.model.Recommender`), :class:`recgraph.index.ItemIndex`,
    the command line, the HTTP service and the evaluation all rank through :meth:`top`, so a
    list never depends on who asked or how many users were asked together.

    A user's score for item ``j`` is::

        cos(query, e_j) + popularity_weight * log1p(likes_j)

    where ``query`` is the mean of the history's unit vectors (with ``recent_weight`` > 0 and
    an ordered history: plus ``recent_weight`` times the unit mean of its last
    ``recent_count`` items). A user with no item in the catalogue gets, with fallback
    ``"popular"``, the most liked items (scored ``log1p(likes)`` times the weight, or 1
    when the weight is 0), and with ``"none"`` an empty list.

    Parameters
    ----------
    embeddings : float [n_items, dim], one row per item (rows of zeros: items without a vector).
    likes : int [n_items] or None (then the prior and the fallback are unavailable).
    options : :class:`ScoringOptions`.
    """

    def __init__(self, embeddings: np.ndarray, likes: np.ndarray | None, options: ScoringOptions | dict | None,
                 user_model: dict | None = None):
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.ndim != 2:
            raise ParameterError(f"embeddings must be a 2-D array [items, dim]; got shape {embeddings.shape}.")
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        self.unit = embeddings / np.where(norms > 0, norms, 1.0)
        # Kept C-ordered, so every product is one plain GEMM on contiguous operands.
        self._unit_t = np.ascontiguousarray(self.unit.T)
        self._no_vector = np.flatnonzero(norms.ravel() == 0)
        self.n_items = int(embeddings.shape[0])
        self.likes = None if likes is None else np.asarray(likes, dtype=np.float64)
        if self.likes is not None and self.likes.shape != (self.n_items,):
            raise ParameterError("likes must hold one value per item.")
        self._log_likes = None if self.likes is None else np.log1p(self.likes)
        if user_model is not None and np.shape(user_model["e"])[0] != self.n_items:
            raise ParameterError(f"The user model scores {np.shape(user_model['e'])[0]} items; "
                                 f"the catalogue has {self.n_items}.")
        # Scored in float64 (the saved arrays are float32): a list must not depend on how many
        # users a BLAS call covered, and float32 sums differ in the 6th digit between batch sizes.
        if user_model is not None:
            from .user_model import prepared

            user_model = prepared({k: (np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f"
                                       else np.asarray(v)) for k, v in user_model.items()})
        self.user_model = user_model
        self.options = self.check_options(options)

    def check_options(self, options) -> ScoringOptions:
        """``options`` as ScoringOptions, refused in one sentence when they need likes this scorer lacks."""
        options = ScoringOptions.from_value(options)
        if options.needs_likes and self.likes is None:
            raise ParameterError("These items record no likes, so only plain cosine scoring is possible: "
                                 "popularity_weight 0 and fallback 'none'.")
        if options.method == "blend" and self.user_model is None:
            raise ParameterError("Scoring method 'blend' needs a fitted user model (an artifact's user_model.npz, "
                                 "written when the model is fitted with method 'blend'); use method 'cosine'.")
        return options

    def scores(self, history, options: ScoringOptions | None = None) -> np.ndarray:
        """Scores float64 [users, n_items] for a history matrix (:func:`as_history_matrix`);
        rows of users with no history are ``-inf`` (fallback "none") or the popularity prior."""
        opts = self.options if options is None else options
        counts = np.diff(history.indptr)
        if opts.method == "blend":
            from . import user_model

            assert self.user_model is not None  # check_options refuses blend without one
            out = np.asarray(user_model.blended(self.user_model, history, opts.blend_weights, opts.recent_count),
                             dtype=np.float64)
            return self._fallback(out, counts, opts)
        weights = history.copy()
        weights.data = np.ones_like(weights.data)
        query = np.asarray(weights @ self.unit) / np.maximum(counts, 1)[:, None]
        if opts.recent_weight > 0 and history.nnz:
            # Each entry's place from the end of its history: the last recent_count are recent
            # (all of them when every place is equal, as in an unordered history).
            last = np.repeat(history.max(axis=1).toarray().ravel(), counts)
            recent = weights.copy()
            recent.data = ((last - history.data) < opts.recent_count).astype(np.float64)
            query = _unit_rows(query) + opts.recent_weight * _unit_rows(np.asarray(recent @ self.unit))
        query = _unit_rows(query)
        out = query @ self._unit_t
        if opts.popularity_weight > 0:
            assert self._log_likes is not None  # check_options refuses a prior without likes
            out += opts.popularity_weight * self._log_likes[None, :]
        return self._fallback(out, counts, opts)

    def _fallback(self, out: np.ndarray, counts: np.ndarray, opts: ScoringOptions) -> np.ndarray:
        """Rows of users with no known item: the popularity prior (fallback "popular") or -inf."""
        empty = counts == 0
        if np.any(empty):
            if opts.fallback == "popular":
                assert self._log_likes is not None  # check_options refuses the fallback without likes
                prior = self._log_likes * (opts.popularity_weight if opts.popularity_weight > 0 else 1.0)
                out[empty] = prior[None, :]
            else:
                out[empty] = -np.inf
        return out

    def top(self, history, n: int, exclude=None, options: ScoringOptions | None = None,
            block_entries: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best items (columns) and their scores per user, best first.

        ``history`` is a history matrix (:func:`as_history_matrix`); history items and the
        stored entries of ``exclude`` (a CSR of the same shape, or None) are never returned.
        A row with fewer than ``n`` candidates is padded with column -1 and score ``-inf``.
        """
        opts = self.options if options is None else self.check_options(options)
        return rank_top(lambda block: self.scores(block, opts), history, n, exclude, self.n_items, block_entries)

    def similar(self, cols, n: int, block_entries: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items closest to each of the items ``cols`` by cosine, never the item itself,
        best first, rounded and tie-broken as :meth:`top` does (padded as there)."""
        cols = np.asarray(cols, dtype=np.int64).ravel()
        out_cols = np.full((cols.size, int(n)), -1, dtype=np.int64)
        out_vals = np.full((cols.size, int(n)), -np.inf)
        step = block_rows(self.n_items, block_entries)
        for lo in range(0, cols.size, step):
            part = cols[lo:lo + step]
            block = np.round(_unit_rows(self.unit[part]) @ self._unit_t, SCORE_DECIMALS)
            block[np.arange(part.size), part] = -np.inf
            block[:, self._no_vector] = -np.inf  # an item without a vector is similar to nothing
            out_cols[lo:lo + step], out_vals[lo:lo + step] = top_columns(block, int(n))
        return out_cols, out_vals


def block_rows(n_items: int, block_entries: int | None = None) -> int:
    """How many users one block scores: ``block_entries // n_items`` when given, else
    :data:`BLOCK_ENTRIES`' worth but at least :data:`MIN_BLOCK_ROWS` users, within
    :data:`MAX_BLOCK_ENTRIES` (one user at least)."""
    n_items = max(int(n_items), 1)
    if block_entries is not None:
        return max(1, int(block_entries) // n_items)
    return max(1, min(max(BLOCK_ENTRIES // n_items, MIN_BLOCK_ROWS), MAX_BLOCK_ENTRIES // n_items))


def rank_top(score_block, history, n: int, exclude=None, n_items: int | None = None,
             block_entries: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rank every column for each row of ``history`` with ``score_block`` (a history block ->
    float scores [rows, n_items]), a block of users at a time (:func:`block_rows`) so memory follows the block.

    Scores are rounded to :data:`SCORE_DECIMALS`; history items and stored entries of
    ``exclude`` are never returned; returns :func:`top_columns`' columns and scores.
    Every recommender of recgraph (the embedding model and the baselines) ranks through it.
    """
    import scipy.sparse as sp

    n_users = history.shape[0]
    n_items = history.shape[1] if n_items is None else n_items
    n = int(n)
    cols = np.full((n_users, n), -1, dtype=np.int64)
    vals = np.full((n_users, n), -np.inf)
    skip = history if exclude is None else (history + sp.csr_matrix(exclude, dtype=np.float64)).tocsr()
    step = block_rows(n_items, block_entries)
    for lo in range(0, n_users, step):
        hi = min(lo + step, n_users)
        whole = lo == 0 and hi == n_users  # one block: no row slice (a slice copies the CSR)
        block = np.asarray(score_block(history if whole else history[lo:hi]), dtype=np.float64)
        np.round(block, SCORE_DECIMALS, out=block)
        part = skip if whole else skip[lo:hi]
        block[np.repeat(np.arange(hi - lo), np.diff(part.indptr)), part.indices] = -np.inf
        cols[lo:hi], vals[lo:hi] = top_columns(block, n)
    return cols, vals


def top_columns(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` highest-scoring columns of each row, best first, ties to the lower column;
    ``-inf`` and NaN are never returned (column -1, score ``-inf`` pad a short row)."""
    scores = np.asarray(scores, dtype=np.float64)
    nan = np.isnan(scores)
    if nan.any():
        scores = np.where(nan, -np.inf, scores)
    n_rows, n_cols = scores.shape
    take = min(n, n_cols)
    cols = np.full((n_rows, n), -1, dtype=np.int64)
    vals = np.full((n_rows, n), -np.inf)
    if take == 0 or n_rows == 0:
        return cols, vals
    if take < n_cols:
        # The take-th best value per row; every column at least as good is a candidate (ties kept).
        kth = np.partition(scores, n_cols - take, axis=1)[:, n_cols - take]
        # flatnonzero and a divmod: several times faster than a 2-D nonzero on a sparse mask.
        cand_rows, cand_cols = np.divmod(np.flatnonzero(scores >= kth[:, None]), n_cols)
    else:
        cand_rows, cand_cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    cand_vals = scores[cand_rows, cand_cols]
    order = np.lexsort((cand_cols, -cand_vals, cand_rows))
    cand_rows, cand_cols, cand_vals = cand_rows[order], cand_cols[order], cand_vals[order]
    starts = np.searchsorted(cand_rows, np.arange(n_rows))
    place = np.arange(cand_rows.size) - starts[cand_rows]
    keep = (place < take) & np.isfinite(cand_vals)
    cols[cand_rows[keep], place[keep]] = cand_cols[keep]
    vals[cand_rows[keep], place[keep]] = cand_vals[keep]
    return cols, vals


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def with_popular(item_ids: np.ndarray, embeddings: np.ndarray, likes: np.ndarray | None,
                 popular) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The scored catalogue: the items with a vector, then the most liked items of the log that
    have none (``popular``: ``(item_id, title, likes)`` rows, e.g. popular.csv) with a zero
    vector, so the popularity prior and the fallback reach them too. Returns ids, embeddings
    and likes; without likes (or popular rows) the items with a vector alone."""
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if likes is None or not popular:
        return item_ids, embeddings, likes
    ids = np.array([int(p[0]) for p in popular], dtype=np.int64)
    counts = np.array([int(p[2]) for p in popular], dtype=np.int64)
    extra = ~np.isin(ids, item_ids)
    if not extra.any():
        return item_ids, embeddings, likes
    zeros = np.zeros((int(extra.sum()), embeddings.shape[1]), dtype=embeddings.dtype)
    return (np.concatenate([item_ids, ids[extra]]), np.vstack([embeddings, zeros]),
            np.concatenate([np.asarray(likes, dtype=np.int64), counts[extra]]))


class IdMap:
    """Item ids <-> scorer columns, vectorized (ids need not be sorted).

    When the ids span at most 32 values per item (or :data:`LOOKUP_MIN` in all), and never more
    than :data:`LOOKUP_MAX`, an int32 lookup table maps them in one gather (at most 4 bytes x 32
    per item); otherwise a binary search over the sorted ids does.
    """

    def __init__(self, item_ids: np.ndarray):
        self.item_ids = np.asarray(item_ids, dtype=np.int64)
        self._order = np.argsort(self.item_ids, kind="stable")
        self._sorted = self.item_ids[self._order]
        self._low = self._high = 0
        self._lut: np.ndarray | None = None
        if self._sorted.size:
            low, high = int(self._sorted[0]), int(self._sorted[-1])
            span = high - low + 1
            if span <= min(max(LOOKUP_MIN, 32 * self._sorted.size), LOOKUP_MAX):
                self._low, self._high = low, high
                self._lut = np.full(span, -1, dtype=np.int32)
                # A repeated id maps to its first column, as the binary search below does.
                self._lut[self._sorted[::-1] - low] = self._order[::-1]

    def columns(self, ids) -> np.ndarray:
        """The column of each id, -1 for an id not in the map."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if self._sorted.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        if self._lut is not None:
            inside = (ids >= self._low) & (ids <= self._high)
            return np.where(inside, self._lut[np.where(inside, ids - self._low, 0)], -1).astype(np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, ids), self._sorted.size - 1)
        return np.where(self._sorted[pos] == ids, self._order[pos], -1)

    def matrix(self, histories, name: str = "histories", unknown: bool = True):
        """``histories`` (a sparse matrix over these items, or a sequence of id sequences, oldest
        first; one flat sequence is one user) as :func:`as_history_matrix` returns it, with the
        unknown ids per user (an int64 array each; None when ``unknown`` is false). Integer ids
        only; a repeated id keeps its last place."""
        import scipy.sparse as sp

        n_items = self.item_ids.shape[0]
        if sp.issparse(histories):
            matrix, missing_ids = as_history_matrix(histories, n_items)
            return matrix, (missing_ids if unknown else None)
        if isinstance(histories, np.ndarray) and histories.ndim == 2:
            histories = list(histories)  # a 2-D array: one row per user
        elif isinstance(histories, (str, bytes)) or not hasattr(histories, "__iter__"):
            raise ParameterError(f"{name} must be a sequence of item-id sequences or a sparse user x item matrix.")
        rows = list(histories)
        if rows and all(not _is_sequence(r) for r in rows):
            rows = [rows]
        if not rows:  # no users: an empty matrix
            empty = sp.csr_matrix((0, n_items), dtype=np.float64)
            return empty, ([] if unknown else None)
        arrays = []
        for r in rows:  # one conversion per user, checked by dtype (no loop per item)
            if type(r) is np.ndarray and r.ndim == 1 and r.dtype.kind == "i":
                arrays.append(r)  # the common case, already what the rest needs
                continue
            try:
                array = np.asarray(r) if _is_sequence(r) else None
            except (TypeError, ValueError, OverflowError):
                array = None
            if array is None or array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
                raise ParameterError(f"Each entry of {name} must be a sequence of integer item ids; "
                                     f"got {_excerpt(r)}.")
            if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
                raise ParameterError(f"Item ids in {name} must fit in 64-bit signed integers.")
            arrays.append(array.astype(np.int64, copy=False))
        lengths = np.array([a.size for a in arrays], dtype=np.int64)
        flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
        user = np.repeat(np.arange(len(arrays)), lengths)
        cols = self.columns(flat)
        known = cols >= 0
        # Places count each user's known ids, oldest first.
        known_user, known_col = user[known], cols[known]
        counts = np.bincount(known_user, minlength=len(arrays))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        place = np.arange(known_user.size) - np.repeat(starts, counts) + 1
        matrix = _last_places(known_user, known_col, place, len(arrays), n_items)
        missing = ~known
        if not unknown:
            return matrix, None
        if not missing.any():
            return matrix, [flat[:0] for _ in arrays]
        bounds = np.cumsum(np.bincount(user[missing], minlength=len(arrays)))[:-1]
        return matrix, np.split(flat[missing], bounds)


def _last_places(user: np.ndarray, col: np.ndarray, place: np.ndarray, n_users: int, n_items: int):
    """The CSR [n_users, n_items] (sorted indices, no duplicates) holding each (user, column)'s
    last place: one sort of a packed key when it fits in int64, a lexsort otherwise."""
    import scipy.sparse as sp

    span = int(place.max()) + 1 if place.size else 1
    if place.size and n_users * n_items * span < PACK_LIMIT:
        key = np.sort((user * n_items + col) * span + place)
        pair, place = np.divmod(key, span)
        user, col = np.divmod(pair, n_items)
    else:
        order = np.lexsort((place, col, user))
        user, col, place = user[order], col[order], place[order]
        pair = user * n_items + col if place.size else user
    last = np.ones(place.size, dtype=bool)
    last[:-1] = pair[1:] != pair[:-1]  # a repeat keeps its last (largest) place
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(user[last], minlength=n_users), out=indptr[1:])
    return sp.csr_matrix((place[last].astype(np.float64), col[last], indptr), shape=(n_users, n_items))


def recommend_ids(scorer, ids: IdMap, histories, n: int, exclude=None,
                  options: ScoringOptions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` item ids and scores for many histories of item ids (:meth:`IdMap.matrix`'s
    shapes), through ``scorer.top`` (a :class:`Scorer`, or a baseline's): what every batch
    surface answers with. Unknown ids are
    ignored; short rows are padded with id -1 and score ``-inf``."""
    history, _ = ids.matrix(histories, unknown=False)
    skip = None
    if exclude is not None:
        skip, _ = ids.matrix(exclude, "exclude", unknown=False)
        if skip.shape[0] != history.shape[0]:
            raise ParameterError(f"exclude has {skip.shape[0]} rows; histories have {history.shape[0]}.")
    cols, scores = scorer.top(history, n, skip, options)
    return np.where(cols >= 0, ids.item_ids[np.maximum(cols, 0)], -1), scores
