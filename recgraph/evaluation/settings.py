"""Evaluation defaults, in a module light enough for the command line to import at start-up."""

from __future__ import annotations

#: Ratings at or above it are positives (held out, and the baselines' interactions).
DEFAULT_THRESHOLD = 4.0
#: Share of each user's positives held out by the random split.
DEFAULT_TEST_FRACTION = 0.2
PROTOCOLS = ("leave-last-out", "random")
DEFAULT_KS = (10, 20)
DEFAULT_BASELINES = ("most-popular", "item-knn", "ease")
#: EASE's L2 weight, chosen on validation splits of ml-latest-small (docs/tuning.md).
DEFAULT_EASE_LAMBDA = 100.0
#: EASE is skipped (with one sentence in the report) when its dense matrices need more.
DEFAULT_EASE_MAX_GB = 4.0
#: Users whose items are evaluated in the sample drawn by ``--max-users`` (None: all).
DEFAULT_MAX_USERS = None
