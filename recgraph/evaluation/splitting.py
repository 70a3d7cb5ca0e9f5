"""Train/test splits of a ratings frame, per user, over positive ratings.

Two protocols, both holding out only *positives* (ratings >= ``threshold``):

- :func:`leave_last_out` (temporal): each user's latest positive rating is the test
  item; ties on the timestamp go to the larger item id, so the split is deterministic.
- :func:`random_split`: a seeded random ``test_fraction`` of each user's positives
  (rounded half up, so a user with one positive keeps it in training).

Everything else stays in training, low ratings included (a user's low-rated items
are still "watched", so rankings never return them). A (user, item) pair that is
held out leaves training entirely, even if the file rates it twice: no leakage.
Splitting the training part again gives a validation split (:func:`validation_split`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..validation import check_float, check_int
from .settings import DEFAULT_TEST_FRACTION, DEFAULT_THRESHOLD, PROTOCOLS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """One split of a ratings frame.

    Attributes
    ----------
    train : the ratings kept for training (same columns as the input).
    test : the held-out positives, one row per (userId, movieId).
    protocol : ``"leave-last-out"`` or ``"random"``.
    params : threshold, test fraction, seed: what it takes to make the split again.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    protocol: str
    params: dict = field(default_factory=dict)

    def train_ratings(self, ratings):
        """The training part as :class:`recgraph.data.Ratings` (same items, source marked)."""
        import dataclasses

        # replace(): the log's other fields (implicit, has_titles, columns) carry over.
        return dataclasses.replace(ratings, ratings=self.train.reset_index(drop=True),
                                   source=f"{ratings.source} [{self.protocol} train]")

    def summary(self) -> dict:
        return {
            "protocol": self.protocol,
            **self.params,
            "train_ratings": int(len(self.train)),
            "test_ratings": int(len(self.test)),
            "test_users": int(self.test["userId"].nunique()),
        }


def _frame(ratings) -> pd.DataFrame:
    frame = getattr(ratings, "ratings", ratings)
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError("ratings must be a recgraph.data.Ratings or a DataFrame with userId, movieId, rating.")
    missing = [c for c in ("userId", "movieId", "rating") if c not in frame.columns]
    if missing:
        raise DataError(f"The ratings lack column(s) {', '.join(missing)}; a split needs userId, movieId and rating.")
    return frame


def _positives(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    positives = frame.loc[frame["rating"].to_numpy() >= threshold]
    if positives.empty:
        raise DataError(f"No rating is >= the threshold {threshold:g}, so there is nothing to hold out.")
    return positives


def _pairs_in(frame: pd.DataFrame, held: pd.DataFrame) -> np.ndarray:
    """Bool per row of ``frame``: is its (userId, movieId) pair one of ``held``'s?"""
    users, items = frame["userId"].to_numpy(), frame["movieId"].to_numpy()
    if len(users):
        u0, m0 = int(users.min()), int(items.min())
        span = int(items.max()) - m0 + 1
        if (int(users.max()) - u0 + 1) * span < 2 ** 62:
            # One int64 key per pair, looked up in a hash table: linear in the rows, where a
            # MultiIndex of tens of millions of pairs is not. Held pairs outside the
            # frame's id ranges match nothing, so they are left out before keying.
            hu, hm = held["userId"].to_numpy(), held["movieId"].to_numpy()
            inside = (hu >= u0) & (hu - u0 < (int(users.max()) - u0 + 1)) & (hm >= m0) & (hm - m0 < span)
            keys = (users.astype(np.int64) - u0) * span + (items.astype(np.int64) - m0)
            held_keys = (hu[inside].astype(np.int64) - u0) * span + (hm[inside].astype(np.int64) - m0)
            return pd.Series(keys).isin(held_keys).to_numpy()
    held_pairs = pd.MultiIndex.from_arrays([held["userId"].to_numpy(), held["movieId"].to_numpy()])
    return pd.MultiIndex.from_arrays([users, items]).isin(held_pairs)


def _finish(frame: pd.DataFrame, test: pd.DataFrame, protocol: str, params: dict) -> Split:
    test = test.drop_duplicates(["userId", "movieId"], keep="last")
    # Drop every training row of a held-out (user, item) pair, duplicates included.
    train = frame.loc[~_pairs_in(frame, test)]
    split = Split(train=train, test=test.sort_values(["userId", "movieId"]).reset_index(drop=True),
                  protocol=protocol, params=params)
    logger.info("%s split: %d training ratings, %d held out over %d users", protocol,
                len(train), len(split.test), split.test["userId"].nunique())
    return split


def leave_last_out(ratings, threshold: float = DEFAULT_THRESHOLD) -> Split:
    """Hold out each user's latest rating >= ``threshold``.

    Parameters
    ----------
    ratings : :class:`recgraph.data.Ratings` or a DataFrame with ``timestamp``.
    threshold : ratings at or above it are positives.
    """
    frame = _frame(ratings)
    threshold = check_float("threshold", threshold)
    if "timestamp" not in frame.columns:
        raise DataError("leave-last-out needs a timestamp column in the ratings; use the random split instead.")
    positives = _positives(frame, threshold)
    user = positives["userId"].to_numpy()
    stamp = positives["timestamp"].to_numpy()
    # Each user's latest timestamp by hashing (linear), then the few rows at it sorted.
    latest = pd.Series(stamp).groupby(user, sort=False).transform("max").to_numpy()
    at_latest = np.flatnonzero(stamp == latest)
    order = at_latest[np.lexsort((positives["movieId"].to_numpy()[at_latest], user[at_latest]))]
    sorted_user = user[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = sorted_user[1:] != sorted_user[:-1]
    test = positives.iloc[order[last]]
    return _finish(frame, test, "leave-last-out", {"threshold": threshold})


def random_split(ratings, test_fraction: float = DEFAULT_TEST_FRACTION, threshold: float = DEFAULT_THRESHOLD,
                 seed: int | None = 0) -> Split:
    """Hold out a seeded random ``test_fraction`` of each user's positives.

    A user with ``n`` positives gives ``floor(test_fraction * n + 0.5)`` of them to the test
    part; users for whom that is 0 are not evaluated.
    """
    frame = _frame(ratings)
    threshold = check_float("threshold", threshold)
    test_fraction = check_float("test_fraction", test_fraction, low=0.0, high=1.0, open_low=True)
    positives = _positives(frame, threshold).drop_duplicates(["userId", "movieId"], keep="last")
    if seed is not None:
        seed = check_int("seed", seed, low=0)
    rng = np.random.default_rng(seed)
    user = positives["userId"].to_numpy()
    order = np.lexsort((rng.random(len(positives)), user))
    sorted_user = user[order]
    starts = np.flatnonzero(np.r_[True, sorted_user[1:] != sorted_user[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    n_test = np.floor(test_fraction * counts + 0.5).astype(np.int64)
    test = positives.iloc[order[rank < np.repeat(n_test, counts)]]
    return _finish(frame, test, "random",
                   {"threshold": threshold, "test_fraction": test_fraction, "seed": seed})


def make_split(ratings, protocol: str, threshold: float = DEFAULT_THRESHOLD,
               test_fraction: float = DEFAULT_TEST_FRACTION, seed: int | None = 0) -> Split:
    """Split by protocol name (``"leave-last-out"`` or ``"random"``)."""
    if protocol == "leave-last-out":
        return leave_last_out(ratings, threshold)
    if protocol == "random":
        return random_split(ratings, test_fraction, threshold, seed)
    raise ParameterError(f"Unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}.")


def validation_split(split: Split, seed: int | None = 1) -> Split:
    """Carve a validation split out of ``split.train`` with the same protocol.

    Tune on this, never on ``split.test``.
    """
    params = split.params
    return make_split(split.train, split.protocol, params["threshold"],
                      params.get("test_fraction", DEFAULT_TEST_FRACTION), seed)
