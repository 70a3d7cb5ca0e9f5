"""gensim Word2Vec skip-gram with negative sampling over the walks."""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from ..errors import ParameterError
from ..validation import check_float, check_int
from .base import Trainer

logger = logging.getLogger(__name__)

#: With ``workers=None`` (the default) a corpus of fewer tokens than this trains on one
#: thread, bit-for-bit reproducible; a larger one on every available core (gensim's
#: threads race on the shared vectors, so the result then varies run to run).
#: ml-latest-small's default walks hold 70,250 tokens (docs/defaults.md).
SINGLE_THREAD_MAX_TOKENS = 250_000


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def auto_workers(tokens: int) -> int:
    """Training threads for ``workers=None``: 1 below :data:`SINGLE_THREAD_MAX_TOKENS`, else every core."""
    return 1 if tokens < SINGLE_THREAD_MAX_TOKENS else available_cores()


class GensimTrainer(Trainer):
    """Skip-gram with negative sampling (gensim ``Word2Vec(sg=1)``).

    Defaults were chosen by measurement on the example's graph and walks (see
    ``docs/defaults.md``, ``benchmarks/showcase_seeds.py``): the walk corpus is tiny
    (5 walks x 10 steps per node, 70,250 tokens on ml-latest-small), so: no frequency
    subsampling (every node starts the same number of walks), 8 epochs at a higher
    learning rate, one negative sample drawn from a flat distribution (``ns_exponent``
    0.25) so that popular items are not pushed apart from each other while rare ones
    crowd the hubs, and input plus output vectors. With these, Star Wars IV's top 5 holds
    both sequels and The Lion King's holds Aladdin for every seed 0-9.

    Parameters
    ----------
    dim : embedding size.
    window : maximum distance between target and context within a walk.
    negative : negative samples per positive pair.
    epochs : passes over the walks.
    sample : frequency subsampling threshold (0 disables it).
    ns_exponent : exponent of the negative sampling distribution.
    alpha, min_alpha : learning rate, linearly decayed.
    vectors : ``"input"`` (gensim's ``wv``), ``"output"`` (``syn1neg``) or ``"both"``
        (the sum of the two, each scaled to unit length).
    workers : training threads. None (default): 1 for a corpus of fewer than
        :data:`SINGLE_THREAD_MAX_TOKENS` tokens, else every available core. 1 makes the
        result bit-for-bit reproducible for a seed; more threads do not.
    seed : seeds the initial vectors and gensim's own generator.
    show_progress : a tqdm bar over epochs.
    """

    name = "gensim"

    def __init__(
        self,
        dim: int = 50,
        window: int = 5,
        negative: int = 1,
        epochs: int = 8,
        sample: float = 0.0,
        ns_exponent: float = 0.25,
        alpha: float = 0.05,
        min_alpha: float = 0.0001,
        vectors: str = "both",
        workers: int | None = None,
        seed: int | None = None,
        show_progress: bool = False,
    ):
        self.dim = dim
        self.window = window
        self.negative = negative
        self.epochs = epochs
        self.sample = sample
        self.ns_exponent = ns_exponent
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.vectors = vectors
        self.workers = workers
        self.seed = seed
        self.show_progress = show_progress

    def validate(self) -> dict:
        if self.vectors not in ("input", "output", "both"):
            raise ParameterError(f"vectors must be 'input', 'output' or 'both'; got {self.vectors!r}.")
        return {
            "dim": check_int("dim", self.dim),
            "window": check_int("window", self.window),
            "negative": check_int("negative", self.negative),
            "epochs": check_int("epochs", self.epochs),
            "sample": check_float("sample", self.sample, low=0.0),
            "ns_exponent": check_float("ns_exponent", self.ns_exponent),
            "alpha": check_float("alpha", self.alpha, low=0.0, open_low=True),
            "min_alpha": check_float("min_alpha", self.min_alpha, low=0.0),
            "workers": None if self.workers is None else check_int("workers", self.workers),
        }

    def _fit(self, walks: np.ndarray, num_nodes: int) -> tuple[np.ndarray, dict]:
        checked = self.validate()
        dim, window, negative, epochs = checked["dim"], checked["window"], checked["negative"], checked["epochs"]
        sample, ns_exponent, workers = checked["sample"], checked["ns_exponent"], checked["workers"]
        alpha, min_alpha = checked["alpha"], checked["min_alpha"]
        from gensim.models import Word2Vec

        rng = np.random.default_rng(self.seed)
        gensim_seed = int(rng.integers(2**31 - 1))
        # Integer tokens: gensim keys may be any hashable; padding (-1) is dropped.
        corpus = [row[row >= 0].tolist() for row in walks] if (walks < 0).any() else walks.tolist()
        words = int(np.count_nonzero(walks >= 0))
        if workers is None:
            workers = auto_workers(words)
        model = Word2Vec(
            vector_size=dim,
            window=window,
            negative=negative,
            hs=0,
            sg=1,
            min_count=1,
            sample=sample,
            ns_exponent=ns_exponent,
            alpha=alpha,
            min_alpha=min_alpha,
            workers=workers,
            seed=gensim_seed,
        )
        # The vocabulary from counts taken with numpy, keys in first-seen order, so gensim ranks
        # equal counts as its own scan would (the same vocabulary, without a Python pass over
        # every token).
        flat = walks[walks >= 0] if (walks < 0).any() else walks.ravel()
        uniq, first, counts = np.unique(flat, return_index=True, return_counts=True)
        seen = np.argsort(first, kind="stable")
        model.build_vocab_from_freq(dict(zip(uniq[seen].tolist(), counts[seen].tolist())), corpus_count=len(corpus))
        model.corpus_total_words = words
        # gensim seeds each vector from hash(str(word) + str(seed)), which changes with
        # PYTHONHASHSEED; draw them from our own generator instead (same distribution).
        model.wv.vectors[:] = ((rng.random(model.wv.vectors.shape) - 0.5) / dim).astype(np.float32)
        from gensim.models.callbacks import CallbackAny2Vec
        from tqdm.auto import tqdm

        class _EpochBar(CallbackAny2Vec):
            def __init__(self, bar):
                self.bar = bar

            def on_epoch_end(self, model):
                self.bar.update(1)

        t = time.perf_counter()
        with tqdm(total=epochs, desc="gensim epochs", unit="epoch", disable=not self.show_progress, leave=False) as bar:
            model.train(corpus, total_examples=len(corpus), total_words=words, epochs=epochs, compute_loss=False,
                        callbacks=[_EpochBar(bar)])
        fit_s = time.perf_counter() - t
        words_per_s = words * epochs / max(fit_s, 1e-9)
        logger.info("gensim: %d words x %d epochs on %d thread(s): %.0f words/s", words, epochs, workers,
                    words_per_s)
        source = {"input": model.wv.vectors, "output": model.syn1neg}.get(self.vectors)
        if source is None:  # "both": sum of the unit input and output vectors
            source = _unit(model.wv.vectors) + _unit(model.syn1neg)
        embeddings = np.zeros((num_nodes, dim), dtype=np.float32)
        keys = np.fromiter(model.wv.index_to_key, dtype=np.int64, count=len(model.wv.index_to_key))
        embeddings[keys] = source
        history = {
            "words": words,
            "epochs": epochs,
            "workers": workers,
            # One thread: the same seed gives the same vectors, bit for bit.
            "reproducible": workers == 1,
            "train_s": round(fit_s, 4),
            "words_per_s": round(words_per_s),
        }
        return embeddings, history


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
