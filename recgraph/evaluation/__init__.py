"""Offline evaluation: splits, metrics, baselines and the harness that ties them together.

Modules, one job each::

    settings      defaults (threshold 4, 80/20, K = 10 and 20, EASE lambda)
    splitting     ratings -> Split (temporal leave-last-out, random 80/20 of positives)
    interactions  Split -> sparse user x item matrices (the catalogue ranked in full)
    metrics       top-K lists + held-out items -> HR, NDCG, Recall, coverage
    baselines     most-popular, item-kNN (cosine), EASE
    harness       train on the split, rank through the index, measure, tabulate

``recgraph evaluate`` is :mod:`recgraph.commands.evaluate`. Names below are imported on
first use, so ``import recgraph.evaluation`` (and the command line) stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Split": "splitting", "leave_last_out": "splitting", "random_split": "splitting",
    "make_split": "splitting", "validation_split": "splitting",
    "Interactions": "interactions",
    "top_k": "metrics", "hit_rate": "metrics", "ndcg": "metrics", "recall": "metrics",
    "coverage": "metrics", "summarize": "metrics",
    "EASE": "baselines", "ItemKNN": "baselines", "MostPopular": "baselines", "make_baseline": "baselines",
    "run_evaluation": "harness", "evaluate_index": "harness", "evaluate_baseline": "harness",
    "format_table": "harness", "EvaluationSettings": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
