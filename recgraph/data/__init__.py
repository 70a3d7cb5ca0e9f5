"""Interaction logs: load, validate and normalise them into :class:`Ratings`.

- :func:`load_log` / :func:`load`: CSV or Parquet (a file or a directory of parts), a pandas
  DataFrame, or MovieLens (directory, zip read in place, URL), with named columns.
- :func:`load_movielens`: MovieLens only, as before.
- :mod:`recgraph.data.log`: the rules every engine applies (column names, implicit feedback,
  duplicates); :mod:`recgraph.data.options`: the command-line flags.

Reading is typed and multi-threaded (pyarrow); every bad input is one sentence naming the
file, line (row) and value. See docs/data.md.
"""

from __future__ import annotations

import importlib

# Names are imported when first used (PEP 562), so the command line can take the log flags
# (recgraph.data.options) without importing pandas for ``recgraph similar`` or ``--help``.
_EXPORTS = {
    **dict.fromkeys(("IMPLICIT_RATING", "Ratings", "duplicate_mask"), "log"),
    **dict.fromkeys(("DEFAULT_URL", "MAX_RATING", "MIN_RATING", "MOVIE_COLUMNS", "PUBLISHED_MD5", "RATING_COLUMNS",
                     "cache_dir", "file_md5", "load_movielens", "parse_movies", "parse_ratings"), "movielens"),
    **dict.fromkeys(("LOG_FLAGS", "add_log_arguments", "check_rating_options", "log_options"), "options"),
    **dict.fromkeys(("load", "load_log", "read_items"), "sources"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
