"""Command-line options of the loader, for the commands that read a log.

The commands add :data:`LOG_FLAGS` to their parsers (``add_log_arguments``), pass
``log_options(args)`` to :func:`recgraph.data.load`, and call :func:`check_rating_options`
with the rating-threshold flags the user typed.
"""

from __future__ import annotations

import argparse

from typing import TYPE_CHECKING

from ..errors import ParameterError

if TYPE_CHECKING:  # the log (and pandas) only when a log is checked, not when flags are added
    from .log import Ratings

#: (flag, type, help) of each loader option; every default is None (= load_log's default).
LOG_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("--user-col", str, "user id column of a CSV/Parquet log (default userId)"),
    ("--item-col", str, "item id column of a CSV/Parquet log (default movieId)"),
    ("--rating-col", str, "rating column (default rating; a log without one is implicit feedback: "
                          "every row a positive; '' forces that)"),
    ("--time-col", str, "time column, Unix seconds or ISO-8601 (default timestamp; optional)"),
    ("--items", str, "items table, CSV or Parquet, with an id column, title and optional genres "
                     "(default: MovieLens' movies.csv; for other logs items are named 'item <id>')"),
)
_KEYWORDS = {"--user-col": "user_col", "--item-col": "item_col", "--rating-col": "rating_col",
             "--time-col": "time_col", "--items": "items"}


def add_log_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add :data:`LOG_FLAGS` to a parser or argument group."""
    for flag, kind, help_text in LOG_FLAGS:
        parser.add_argument(flag, type=kind, default=None, help=help_text)


def log_options(args: argparse.Namespace) -> dict:
    """The ``load_log`` keyword arguments the user gave (flags left out keep their defaults)."""
    options = {}
    for flag, keyword in _KEYWORDS.items():
        value = getattr(args, keyword, None)
        if value is not None:
            options[keyword] = value
    return options


def check_rating_options(log: Ratings, given: dict) -> None:
    """Refuse rating thresholds the user gave explicitly for an implicit log.

    ``given`` maps option names (as the user knows them, e.g. ``"--min-rating"``) to the value
    typed, None for options left at their default. An implicit log stores every row as 5.0,
    so a preset's thresholds (at most 5) keep every row; a threshold typed by hand would
    silently mean nothing, so it is one sentence instead.
    """
    from .log import IMPLICIT_RATING

    if not log.implicit:
        return
    typed = [name for name, value in given.items() if value is not None]
    if typed:
        raise ParameterError(
            f"{log.source} has no rating column (implicit feedback: every row is a positive, "
            f"stored as {IMPLICIT_RATING:g}), so {', '.join(typed)} cannot apply; leave "
            f"{'it' if len(typed) == 1 else 'them'} out."
        )
