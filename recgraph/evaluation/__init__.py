"""Offline evaluation: splits, metrics, baselines and the harness that ties them together.

Modules, one job each::

    splitting     ratings -> Split (temporal leave-last-out, random 80/20 of positives)
    interactions  Split -> sparse user x item matrices (the catalogue ranked in full)
    metrics       top-K lists + held-out items -> HR, NDCG, Recall, coverage
    baselines     most-popular, item-kNN (cosine), EASE
    scoring       ItemIndex.recommend + popularity prior + fallback (ScoringOptions)
    harness       train on the split, rank through the index, measure, tabulate
    command       ``recgraph evaluate``

Heavy modules (the pipeline, gensim) are imported only when a model is trained.
"""

from .metrics import coverage, hit_rate, ndcg, recall, summarize, top_k
from .splitting import Split, leave_last_out, make_split, random_split, validation_split

__all__ = [
    "Split",
    "coverage",
    "hit_rate",
    "leave_last_out",
    "make_split",
    "ndcg",
    "random_split",
    "recall",
    "summarize",
    "top_k",
    "validation_split",
]
