"""Interaction logs: load, validate and normalise them into :class:`Ratings`.

- :func:`load_log` / :func:`load`: CSV or Parquet (a file or a directory of parts), a pandas
  DataFrame, or MovieLens (directory, zip read in place, URL), with named columns.
- :func:`load_movielens`: MovieLens only, as before.
- :mod:`recgraph.data.log`: the rules every engine applies (column names, implicit feedback,
  duplicates); :mod:`recgraph.data.options`: the command-line flags.

Reading is typed and multi-threaded (pyarrow); every bad input is one sentence naming the
file, line (row) and value. See docs/data.md.
"""

from .log import IMPLICIT_RATING, Ratings, duplicate_mask
from .movielens import (DEFAULT_URL, MAX_RATING, MIN_RATING, MOVIE_COLUMNS, PUBLISHED_MD5, RATING_COLUMNS,
                        cache_dir, file_md5, load_movielens, parse_movies, parse_ratings)
from .options import LOG_FLAGS, add_log_arguments, check_rating_options, log_options
from .sources import load, load_log, read_items

__all__ = [
    "DEFAULT_URL", "IMPLICIT_RATING", "LOG_FLAGS", "MAX_RATING", "MIN_RATING", "MOVIE_COLUMNS",
    "PUBLISHED_MD5", "RATING_COLUMNS", "Ratings", "add_log_arguments", "cache_dir",
    "check_rating_options", "duplicate_mask", "file_md5", "load", "load_log", "load_movielens",
    "log_options", "parse_movies", "parse_ratings", "read_items",
]
