"""Evaluation defaults, in a module light enough for the command line to import at start-up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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
@dataclass(frozen=True)
class EvaluationSettings:
    """How a run is measured (``recgraph evaluate`` and ``recgraph compare``), apart from the
    run configuration (:class:`recgraph.config.RunConfig`) that trains it.

    Attributes
    ----------
    protocol : ``"leave-last-out"`` (each user's latest positive) or ``"random"`` (a per-user
        ``test_fraction`` of positives).
    threshold : ratings at or above it are positives (an implicit log: every row).
    test_fraction : the random split's held-out share.
    split_seed : seeds the random split, the validation carvings and the ``max_users`` sample.
    validation : carvings of a validation split from the training part (0: the test split).
    max_users : score a seeded sample of this many eval users (None: all).
    ks : cut-offs of the metrics.
    baselines : baselines measured beside the models.
    ease_lambda, ease_max_gb : EASE's L2 weight and memory limit (past it EASE is skipped).
    """

    protocol: str = "leave-last-out"
    threshold: float = DEFAULT_THRESHOLD
    test_fraction: float = DEFAULT_TEST_FRACTION
    split_seed: int | None = 0
    validation: int = 0
    max_users: int | None = DEFAULT_MAX_USERS
    ks: tuple[int, ...] = DEFAULT_KS
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    ease_lambda: float = DEFAULT_EASE_LAMBDA
    ease_max_gb: float = DEFAULT_EASE_MAX_GB

    def __post_init__(self):
        from ..errors import ParameterError

        if self.protocol not in PROTOCOLS:
            raise ParameterError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {self.protocol!r}.")
        try:
            ks = tuple(sorted({int(k) for k in self.ks}))
        except (TypeError, ValueError):
            ks = ()
        if not ks or ks[0] < 1:
            raise ParameterError(f"ks must hold positive integers; got {self.ks!r}.")
        object.__setattr__(self, "ks", ks)
        object.__setattr__(self, "baselines", tuple(self.baselines))

    def replace(self, **changes) -> "EvaluationSettings":
        """A copy with ``changes``, validated again."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {**asdict(self), "ks": list(self.ks), "baselines": list(self.baselines)}
