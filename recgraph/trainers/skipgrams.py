"""Skip-gram training examples from walks, as the Keras node2vec example builds them, vectorized.

The example calls ``keras.preprocessing.sequence.skipgrams`` on every walk and then
aggregates the pairs in a Python dict. Per walk of tokens (0 = padding, skipped):

- positives: ``(w[i], w[j])`` for every position ``i`` and every ``j`` with
  ``0 < |i - j| <= window``, both tokens non-zero, label 1;
- negatives: ``int(n_positive * negative)`` pairs whose target cycles through the
  walk's shuffled positive targets and whose context is uniform in ``[1, vocab_size)``,
  label 0.

Then every pair is ordered as ``(min, max)``, self-pairs are dropped and duplicates
are merged into a count per ``(pair, label)``, used as the sample weight. As in the
document's ``generate_examples`` (``../shared/seed``), a negative draw of a pair that
co-occurs in any walk is dropped: its loop zeroes an earlier negative entry when the
positive arrives and skips a later one, so whatever the order of the draws, no
co-occurring pair keeps a negative weight. ``keep_cooccurring_negatives=True`` keeps
those draws instead, as a row labelled 0 beside the pair's positive row (another
published version of the example does this); the model then learns
``P(label 1) = positive count / (positive + negative count)`` for such a pair.

Everything is whole-array numpy: one loop over window offsets, no loop per walk or
per pair; duplicates are merged by ``np.unique`` on packed integer keys
(``min * vocab_size + max``). (A dense ``bincount`` over all ``vocab_size**2`` keys
was measured too: no faster on ml-latest-small, and its memory grows with the square
of the vocabulary.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..validation import check_float, check_int

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkipgramExamples:
    """Aggregated training examples: one row per distinct (pair, label).

    Attributes
    ----------
    targets, contexts : int32 tokens, ``targets < contexts`` on every row.
    labels : float32, 1.0 for a positive pair, 0.0 for a negative one.
    weights : float32 counts: how many times the pair was drawn with that label.
    n_positive_pairs, n_negative_pairs : pairs drawn before aggregation (self-pairs included).
    n_dropped_negative : negative pairs (before aggregation) dropped because the pair is
        also a positive.
    n_self_negative : negative pairs dropped because target == context.

    Every draw is accounted for: ``weights[labels == 0].sum() + n_dropped_negative +
    n_self_negative == n_negative_pairs``.
    """

    targets: np.ndarray
    contexts: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    n_positive_pairs: int
    n_negative_pairs: int
    n_dropped_negative: int
    n_self_negative: int

    @property
    def n_examples(self) -> int:
        return int(self.targets.shape[0])

    @property
    def n_positive(self) -> int:
        """Distinct positive pairs (rows labelled 1)."""
        return int(np.count_nonzero(self.labels))

    @property
    def n_negative(self) -> int:
        """Distinct negative pairs (rows labelled 0)."""
        return self.n_examples - self.n_positive

    def counts(self) -> dict:
        """The numbers a training history records."""
        return {
            "n_examples": self.n_examples,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
            "n_positive_pairs": self.n_positive_pairs,
            "n_negative_pairs": self.n_negative_pairs,
            "n_dropped_negative": self.n_dropped_negative,
            "n_self_negative": self.n_self_negative,
        }


def skipgram_examples(
    tokens: np.ndarray,
    vocab_size: int,
    window: int,
    negative: float,
    rng: np.random.Generator,
    keep_cooccurring_negatives: bool = False,
) -> SkipgramExamples:
    """Positive and negative skip-gram examples of every walk, aggregated.

    Parameters
    ----------
    tokens : int array [n_walks, walk_length] of tokens in ``[0, vocab_size)``; 0 is
        padding (never a target or context), as in ``keras.preprocessing.sequence``.
    vocab_size : number of tokens, the reserved 0 included.
    window : maximum distance between target and context within a walk.
    negative : negative pairs per positive pair (``int(n_positive * negative)`` per walk).
    rng : the generator for negative pairs.
    keep_cooccurring_negatives : False (default): the document's aggregation, every
        negative draw of a pair that co-occurs in a walk is dropped (counted in
        ``n_dropped_negative``). True: such draws are kept as a negative row beside the
        pair's positive row (``docs/keras_backend.md``).
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ParameterError(f"tokens must be a 2-D integer array; got {tokens.dtype} of shape {tokens.shape}.")
    vocab_size = check_int("vocab_size", vocab_size, low=2)
    window = check_int("window", window)
    negative = check_float("negative", negative, low=0.0)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ParameterError(f"tokens must lie in [0, {vocab_size}).")
    # int32 keys (half the memory traffic) while vocab_size**2 fits, else int64.
    key_dtype = np.int32 if vocab_size * vocab_size < 2**31 else np.int64
    tokens = tokens.astype(key_dtype, copy=False)
    n_walks, length = tokens.shape

    # Positives. skipgrams emits (w[i], w[j]) and (w[j], w[i]) for each unordered
    # position pair, so count each once and double it. partners[k, i] is how many
    # couples have position i of walk k as target: each target of the walk's
    # positive list, which the negatives cycle through.
    partners = np.zeros((n_walks, length), dtype=np.int64)
    pos_parts = []
    for d in range(1, min(window, length - 1) + 1):
        a, b = tokens[:, :-d], tokens[:, d:]
        valid = (a > 0) & (b > 0)
        partners[:, :-d] += valid
        partners[:, d:] += valid
        a, b = a[valid], b[valid]
        pos_parts.append(_pack(a, b, vocab_size))
    pos_keys = np.concatenate(pos_parts) if pos_parts else np.zeros(0, dtype=key_dtype)
    n_positive_pairs = int(partners.sum())

    neg_targets = _negative_targets(tokens, partners, negative, rng)
    neg_contexts = np.asarray(rng.integers(1, vocab_size, size=neg_targets.shape[0], dtype=key_dtype))
    neg_keys = _pack(neg_targets, neg_contexts, vocab_size)
    del neg_contexts

    pos_uniq, pos_count, neg_uniq, neg_count, n_dropped, n_self = _aggregate(pos_keys, neg_keys, vocab_size,
                                                                              keep_cooccurring_negatives)
    pos_count *= 2

    keys = np.concatenate([pos_uniq, neg_uniq])
    examples = SkipgramExamples(
        targets=(keys // vocab_size).astype(np.int32),
        contexts=(keys % vocab_size).astype(np.int32),
        labels=np.concatenate([np.ones(pos_uniq.shape[0], np.float32), np.zeros(neg_uniq.shape[0], np.float32)]),
        weights=np.concatenate([pos_count, neg_count]).astype(np.float32),
        n_positive_pairs=n_positive_pairs,
        n_negative_pairs=int(neg_targets.shape[0]),
        n_dropped_negative=n_dropped,
        n_self_negative=n_self,
    )
    logger.info("skip-gram examples: %d (%d positive, %d negative; %d negative pairs dropped as positive)",
                examples.n_examples, examples.n_positive, examples.n_negative, n_dropped)
    return examples


def _negative_targets(tokens: np.ndarray, partners: np.ndarray, negative: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Targets of the negative pairs: per walk, its positive targets shuffled and cycled."""
    per_walk = partners.sum(axis=1)                       # positive couples per walk
    n_neg = np.floor(per_walk * negative).astype(np.int64)  # int(len(labels) * negative_samples)
    # The walk's positive targets, grouped by walk (row-major): w[i] once per partner.
    pos_targets = np.repeat(tokens.ravel(), partners.ravel())
    if np.all(n_neg % np.maximum(per_walk, 1) == 0):
        # Whole cycles only: every positive target is used n_neg / per_walk times
        # whatever the shuffle, and contexts are i.i.d., so the shuffle changes nothing.
        return np.repeat(pos_targets, np.repeat(n_neg // np.maximum(per_walk, 1), per_walk))
    walk_of = np.repeat(np.arange(tokens.shape[0]), per_walk)
    pos_targets = pos_targets[np.lexsort((rng.random(pos_targets.shape[0]), walk_of))]  # shuffle within walks
    starts = np.cumsum(per_walk) - per_walk
    walk_of_neg = np.repeat(np.arange(tokens.shape[0]), n_neg)
    i = np.arange(walk_of_neg.shape[0]) - np.repeat(np.cumsum(n_neg) - n_neg, n_neg)
    return pos_targets[starts[walk_of_neg] + i % per_walk[walk_of_neg]]


def _pack(a: np.ndarray, b: np.ndarray, vocab_size: int) -> np.ndarray:
    """One key per unordered pair, ``min * vocab_size + max`` (self-pairs kept: see ``_is_self``)."""
    lo = np.minimum(a, b)
    lo *= vocab_size
    lo += np.maximum(a, b)
    return lo


def _is_self(keys: np.ndarray, vocab_size: int) -> np.ndarray:
    """Whether each key packs a self-pair: ``a * vocab_size + a`` is a multiple of ``vocab_size + 1``."""
    return keys % (vocab_size + 1) == 0


def _aggregate(pos_keys: np.ndarray, neg_keys: np.ndarray, vocab_size: int,
               keep_cooccurring_negatives: bool = False):
    """Distinct positive and negative keys (ascending, self-pairs dropped) with their counts.

    Returns ``(pos_keys, pos_counts, neg_keys, neg_counts, n_dropped, n_self_negative)``:
    negatives that are also positive are dropped and ``n_dropped`` counts the draws that
    removed, unless ``keep_cooccurring_negatives`` (then ``n_dropped`` is 0);
    ``n_self_negative`` counts the negative self-pair draws.
    """
    pos_uniq, pos_count = np.unique(pos_keys, return_counts=True)
    neg_uniq, neg_count = np.unique(neg_keys, return_counts=True)
    keep = ~_is_self(pos_uniq, vocab_size)
    pos_uniq, pos_count = pos_uniq[keep], pos_count[keep]
    keep = ~_is_self(neg_uniq, vocab_size)
    n_self = int(neg_count[~keep].sum())
    neg_uniq, neg_count = neg_uniq[keep], neg_count[keep]
    if keep_cooccurring_negatives:  # the option: (a, b, 0) kept beside (a, b, 1)
        return pos_uniq, pos_count, neg_uniq, neg_count, 0, n_self
    # The document's: a pair that is positive anywhere is never a negative.
    seen = np.isin(neg_uniq, pos_uniq, assume_unique=True)
    n_dropped = int(neg_count[seen].sum())
    return pos_uniq, pos_count, neg_uniq[~seen], neg_count[~seen], n_dropped, n_self
