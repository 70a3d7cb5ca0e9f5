"""Skip-gram example generation against a slow, readable pure-Python reference.

The reference follows ``keras.preprocessing.sequence.skipgrams`` (Keras 2) and the
document's ``generate_examples`` loop line by line (``../shared/seed``: a positive zeroes
the pair's earlier negative entry, a later negative draw of a pair already positive is
skipped), plus the option ``keep_cooccurring_negatives=True`` (every draw counted under its
own ``(target, context, label)`` key, as another published version of the example does).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import numpy as np
import pytest

from recgraph.errors import ParameterError
from recgraph.trainers.skipgrams import _negative_targets, skipgram_examples


# --------------------------------------------------------------------------- reference


def reference_skipgrams(sequence, vocabulary_size, window_size, negative_samples, rnd, shuffle=False):
    """Keras 2's ``skipgrams`` (no sampling table): couples and labels, shuffled together
    when ``shuffle`` (Keras' default, which the document uses)."""
    couples, labels = [], []
    for i, wi in enumerate(sequence):
        if not wi:
            continue
        window_start = max(0, i - window_size)
        window_end = min(len(sequence), i + window_size + 1)
        for j in range(window_start, window_end):
            if j != i:
                wj = sequence[j]
                if not wj:
                    continue
                couples.append([wi, wj])
                labels.append(1)
    if negative_samples > 0:
        num_negative_samples = int(len(labels) * negative_samples)
        words = [c[0] for c in couples]
        rnd.shuffle(words)
        couples += [[words[i % len(words)], rnd.randint(1, vocabulary_size - 1)]
                    for i in range(num_negative_samples)]
        labels += [0] * num_negative_samples
    if shuffle:
        order = list(range(len(labels)))
        rnd.shuffle(order)
        couples, labels = [couples[i] for i in order], [labels[i] for i in order]
    return couples, labels


def reference_examples(walks, vocabulary_size, window_size, negative_samples, seed=0, keep=False):
    """The document's ``generate_examples`` over shuffled ``skipgrams`` output, in its order;
    with ``keep``, every draw counted under its ``(target, context, label)`` key instead.

    Returns (positive {(t, c): weight}, negative {(t, c): weight}, raw draws by label,
    negative targets per walk as Counters).
    """
    rnd = random.Random(seed)
    example_weights = defaultdict(int)
    raw = Counter()
    negative_targets = []
    for sequence in walks:
        pairs, labels = reference_skipgrams(list(sequence), vocabulary_size, window_size, negative_samples, rnd,
                                            shuffle=True)
        negative_targets.append(Counter(p[0] for p, lab in zip(pairs, labels) if lab == 0))
        for pair, label in zip(pairs, labels):
            raw[label] += 1
            target, context = min(pair[0], pair[1]), max(pair[0], pair[1])
            if target == context:
                continue
            if keep:
                example_weights[(target, context, label)] += 1
            elif label == 1:
                example_weights[(target, context, 0)] = 0  # an earlier negative entry is zeroed
                example_weights[(target, context, 1)] += 1
            elif example_weights[(target, context, 1)] > 0:
                continue                                   # a later negative draw is skipped
            else:
                example_weights[(target, context, 0)] += 1
    positive = {(t, c): w for (t, c, label), w in example_weights.items() if label == 1 and w > 0}
    negative = {(t, c): w for (t, c, label), w in example_weights.items() if label == 0 and w > 0}
    return positive, negative, raw, negative_targets


def as_dicts(ex):
    pos, neg = {}, {}
    for t, c, label, w in zip(ex.targets.tolist(), ex.contexts.tolist(), ex.labels.tolist(), ex.weights.tolist()):
        (pos if label == 1.0 else neg)[(t, c)] = w
    return pos, neg


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def walks():
    """A fixed walk set: revisits (self-pairs), padding at the end, one all-padding row."""
    rng = np.random.default_rng(7)
    w = rng.integers(1, 12, size=(40, 8))
    w[3, 5:] = 0
    w[4, 1:] = 0        # a single token: no pair at all
    w[5, :] = 0         # all padding
    w[6] = [2, 3, 2, 3, 2, 3, 2, 3]
    w[7, 2] = 0         # padding inside a walk is skipped too
    return w


VOCAB = 12


# --------------------------------------------------------------------------- tests


def test_hand_worked_example():
    # Walk 1-2-3, window 1: couples (1,2) (2,1) (2,3) (3,2): pairs (1,2) and (2,3), weight 2 each.
    ex = skipgram_examples(np.array([[1, 2, 3]]), vocab_size=5, window=1, negative=0, rng=np.random.default_rng(0))
    pos, neg = as_dicts(ex)
    assert pos == {(1, 2): 2.0, (2, 3): 2.0}
    assert neg == {}
    assert ex.n_positive_pairs == 4 and ex.n_negative_pairs == 0
    assert ex.targets.dtype == np.int32 and ex.weights.dtype == np.float32 and ex.labels.dtype == np.float32


@pytest.mark.parametrize("window", [1, 2, 3, 7, 10])
def test_positives_match_reference(walks, window):
    ref_pos, _, raw, _ = reference_examples(walks, VOCAB, window, 4)
    ex = skipgram_examples(walks, VOCAB, window, 4, np.random.default_rng(0))
    pos, _ = as_dicts(ex)
    assert pos == {k: float(v) for k, v in ref_pos.items()}
    assert ex.n_positive_pairs == raw[1]


@pytest.mark.parametrize("negative", [1, 4, 0.5, 2.5, 0])
def test_negative_counts_and_ranges(walks, negative):
    _, _, raw, _ = reference_examples(walks, VOCAB, 3, negative)
    ex = skipgram_examples(walks, VOCAB, 3, negative, np.random.default_rng(1))
    assert ex.n_negative_pairs == raw[0]            # int(n_positive * negative) per walk
    neg = ex.labels == 0
    assert neg.sum() == ex.n_negative
    for arr in (ex.targets, ex.contexts):
        assert arr.min() >= 1 and arr.max() < VOCAB
    assert np.all(ex.targets < ex.contexts)          # ordered (min, max), no self-pair
    # Every draw is accounted for, and positive weights sum to the non-self couples.
    assert ex.weights[neg].sum() + ex.n_dropped_negative + ex.n_self_negative == ex.n_negative_pairs
    ref_pos, *_ = reference_examples(walks, VOCAB, 3, 0)
    assert ex.weights[~neg].sum() == sum(ref_pos.values())


def test_default_drops_every_negative_of_a_cooccurring_pair():
    """Hand-built: walk 1-2, window 1, vocabulary {1, 2}. Every negative draw is (1, 2) or a
    self-pair; (1, 2) co-occurs, so by default it keeps its positive weight 2 and no negative
    weight, whichever came first in the document's loop. The option keeps those draws."""
    walk = np.array([[1, 2]])
    ex = skipgram_examples(walk, vocab_size=3, window=1, negative=4, rng=np.random.default_rng(0))
    pos, neg = as_dicts(ex)
    assert pos == {(1, 2): 2.0} and neg == {}
    assert ex.n_negative_pairs == 8 and ex.n_dropped_negative > 0
    assert ex.n_dropped_negative + ex.n_self_negative == 8
    kept = skipgram_examples(walk, vocab_size=3, window=1, negative=4, rng=np.random.default_rng(0),
                             keep_cooccurring_negatives=True)
    pos_k, neg_k = as_dicts(kept)
    assert pos_k == {(1, 2): 2.0} and neg_k == {(1, 2): float(ex.n_dropped_negative)}
    assert kept.n_dropped_negative == 0 and kept.n_self_negative == ex.n_self_negative
    # The document's loop, whatever order the shuffle puts the draws in: the same rows.
    for seed in range(20):
        ref_pos, ref_neg, *_ = reference_examples([[1, 2]], 3, 1, 4, seed=seed)
        assert ref_pos == {(1, 2): 2} and ref_neg == {}


def test_no_pair_is_both_positive_and_negative(walks):
    ex = skipgram_examples(walks, VOCAB, 3, 4, np.random.default_rng(2))  # the default: the document's
    pos, neg = as_dicts(ex)
    assert not set(pos) & set(neg)
    keys = ex.targets.astype(np.int64) * VOCAB + ex.contexts
    assert np.unique(keys).shape[0] == keys.shape[0]  # one row per distinct pair
    assert ex.n_dropped_negative > 0                  # the rule actually bit on this data


@pytest.mark.parametrize("negative", [4, 2.5, 0.3])
def test_negative_targets_follow_the_shuffled_cycle(walks, negative):
    """Per walk: int(n * negative) targets, each positive target used q or q+1 times per occurrence."""
    *_, ref_targets = reference_examples(walks, VOCAB, 3, negative)
    tokens = walks.astype(np.int32)
    partners = np.zeros(tokens.shape, dtype=np.int64)
    for i in range(tokens.shape[1]):
        for j in range(tokens.shape[1]):
            if i != j and abs(i - j) <= 3:
                partners[:, i] += (tokens[:, i] > 0) & (tokens[:, j] > 0)
    targets = _negative_targets(tokens, partners, negative, np.random.default_rng(3))
    n_neg = np.floor(partners.sum(1) * negative).astype(int)
    assert targets.shape[0] == n_neg.sum()
    start = 0
    for k, (row, ref) in enumerate(zip(tokens, ref_targets)):
        ours = Counter(targets[start:start + n_neg[k]].tolist())
        start += n_neg[k]
        assert sum(ours.values()) == sum(ref.values())
        n = int(partners[k].sum())
        if n == 0:
            continue
        q = n_neg[k] // n
        occurrences = Counter(np.repeat(row, partners[k]).tolist())  # the walk's positive targets
        for token, mult in occurrences.items():
            assert q * mult <= ours.get(token, 0) <= (q + 1) * mult
        if n_neg[k] % n == 0:
            assert ours == ref  # whole cycles: the multiset is fixed, shuffle or not


@pytest.mark.parametrize("keep", [False, True])
def test_negative_aggregation_matches_reference_in_distribution(keep):
    """Negative weight per distinct pair: same totals as the reference over many walks."""
    rng = np.random.default_rng(4)
    walks = rng.integers(1, 400, size=(400, 10))  # ~1 pair in 5 positive: many negatives dropped, many kept
    _, ref_neg, raw, _ = reference_examples(walks, 400, 10, 4, seed=4, keep=keep)
    ex = skipgram_examples(walks, 400, 10, 4, np.random.default_rng(4), keep_cooccurring_negatives=keep)
    _, neg = as_dicts(ex)
    assert ex.n_negative_pairs == raw[0]
    assert len(ref_neg) > 40_000
    assert (ex.n_dropped_negative == 0) if keep else (ex.n_dropped_negative > 20_000)
    # Same expected number of kept negative draws and distinct pairs (seed to seed they
    # differ by under 0.5%).
    assert sum(neg.values()) == pytest.approx(sum(ref_neg.values()), rel=0.02)
    assert len(neg) == pytest.approx(len(ref_neg), rel=0.05)


def test_seeded(walks):
    a = skipgram_examples(walks, VOCAB, 3, 2.5, np.random.default_rng(5))
    b = skipgram_examples(walks, VOCAB, 3, 2.5, np.random.default_rng(5))
    for field in ("targets", "contexts", "labels", "weights"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_large_vocabulary_uses_int64_keys():
    # vocab_size**2 >= 2**31: keys must not overflow int32.
    v = 50_000
    walks = np.array([[v - 1, v - 2, 1, v - 1]])
    ex = skipgram_examples(walks, v, 3, 0, np.random.default_rng(0))
    pos, _ = as_dicts(ex)
    ref_pos, *_ = reference_examples(walks, v, 3, 0)
    assert pos == {k: float(w) for k, w in ref_pos.items()}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tokens": np.array([1, 2, 3])}, "2-D integer"),
        ({"tokens": np.array([[1, 2, 12]])}, r"\[0, 12\)"),
        ({"window": 0}, "window"),
        ({"negative": -1}, "negative"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"tokens": np.array([[1, 2, 3]]), "vocab_size": VOCAB, "window": 2, "negative": 1,
            "rng": np.random.default_rng(0)}
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        skipgram_examples(**args)


def test_keep_cooccurring_negatives_keeps_both_labels(walks):
    """The option: (target, context, label) keys, so a pair drawn as a negative and seen in
    a walk stays under both labels; the positives and the negative draws are the same as
    with the default."""
    dropped = skipgram_examples(walks, VOCAB, 3, 4, np.random.default_rng(2))  # the document's, the default
    kept = skipgram_examples(walks, VOCAB, 3, 4, np.random.default_rng(2), keep_cooccurring_negatives=True)
    pos_d, neg_d = as_dicts(dropped)
    pos_k, neg_k = as_dicts(kept)
    assert pos_k == pos_d
    assert kept.n_dropped_negative == 0
    assert set(pos_k) & set(neg_k)                                  # some pairs carry both labels
    assert {k: v for k, v in neg_k.items() if k not in pos_k} == neg_d
    assert kept.weights[kept.labels == 0].sum() + kept.n_self_negative == kept.n_negative_pairs
