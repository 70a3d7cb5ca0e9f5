"""MovieLens sources: a directory, a GroupLens zip read in place, or a URL of one.

A source is one of:

- a directory holding ``ratings.csv`` and ``movies.csv``;
- a GroupLens zip archive (``ml-latest-small.zip``, ``ml-25m.zip``, ``ml-32m.zip``, ...), read
  in place: the CSV members are parsed as they stream out of the archive, never extracted;
- an ``http(s)://`` URL of such an archive, downloaded once into the cache
  (``~/.cache/recgraph``, or ``$RECGRAPH_DATA_DIR``).

``None`` means the default ml-latest-small URL; its published MD5 is checked. Ratings must lie
in MovieLens' range 0.5 to 5 (generic logs, :func:`recgraph.data.load_log`, take any finite
rating).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifact import file_digest
from ..errors import DataError
from .csvfile import CsvFile
from .files import read_items
from .log import Ratings, make_ratings
from .tables import DEFAULT_COLUMNS, LogColumns, read_items_csv, read_log_csv

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
#: MD5 checksums GroupLens publishes for its archives, by file name.
PUBLISHED_MD5 = {"ml-latest-small.zip": "31a303aabbc519bd33d025e44d6c2570"}

RATING_COLUMNS = ("userId", "movieId", "rating")
MOVIE_COLUMNS = ("movieId", "title")
MIN_RATING, MAX_RATING = 0.5, 5.0


def cache_dir() -> Path:
    """Where downloads are kept: ``$RECGRAPH_DATA_DIR`` or ``~/.cache/recgraph``."""
    env = os.environ.get("RECGRAPH_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "recgraph"


def file_md5(path: str | os.PathLike) -> str:
    """Hex MD5 of a file, read in 1 MiB blocks."""
    return file_digest(path, "md5")


def load_movielens(source: str | os.PathLike | None = None) -> Ratings:
    """Load MovieLens ratings and movies from a directory, zip archive or URL.

    Parameters
    ----------
    source : directory, ``.zip`` path, ``http(s)://`` URL, or None for the
        ml-latest-small URL.

    Raises
    ------
    DataError
        One sentence naming the file (and line) that is missing or malformed.
    """
    if source is None:
        source = DEFAULT_URL
    text = os.fspath(source)
    if text.startswith(("http://", "https://")):
        path = download(text)
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise DataError(
                f"Data source {text!r} does not exist; pass a directory holding ratings.csv "
                "and movies.csv, a MovieLens .zip archive, or an http(s) URL."
            )
    return read_movielens(path, text)


def read_movielens(path: Path, text: str, columns: dict | None = None, items=None) -> Ratings:
    """A MovieLens directory or zip at ``path`` (``text``: the source as given).

    ``columns``: ``load_log`` column names (MovieLens' by default). ``items``: an items table
    to use instead of ``movies.csv`` (which then need not exist).
    """
    names_wanted = {**DEFAULT_COLUMNS, **(columns or {})}
    if path.is_dir():
        ratings_file = _member_path(path, "ratings.csv")
        movies_file = None if items is not None else _member_path(path, "movies.csv")
        md5 = file_md5(ratings_file)
        ratings_csv = CsvFile(label=str(ratings_file), path=str(ratings_file))
        movies_csv = None if movies_file is None else CsvFile(label=str(movies_file), path=str(movies_file))
    else:
        ratings_csv, movies_csv = _archive_members(path, need_movies=items is None)
        md5 = file_md5(path)
        expected = PUBLISHED_MD5.get(path.name)
        if expected and md5 != expected:
            raise DataError(
                f"Archive {path} has MD5 {md5}, but GroupLens publishes {expected} for "
                f"{path.name}; the file is corrupt or a different version (delete it and retry)."
            )
    log, names = read_log_csv(ratings_csv, names_wanted, require_rating=True)
    if log.rating is not None:  # None: the caller asked for no rating column (an implicit log)
        check_movielens_range(log.rating, ratings_csv.label)
    if items is not None:

        movies = read_items(items, names["item_col"])
    else:
        assert movies_csv is not None  # items is None, so movies.csv was found or refused
        movies = read_items_csv(movies_csv, id_name="movieId")
    ratings = make_ratings(log.user, log.item, log.rating, log.timestamp, movies,
                           source=text, md5=md5, columns=names, has_titles=True)
    logger.info("loaded %d ratings of %d movies from %s", len(ratings.ratings), len(movies), text)
    return ratings


def check_movielens_range(rating: np.ndarray, label: str) -> None:
    """Ratings outside 0.5..5 are an error naming the first one's line."""
    bad = (rating < MIN_RATING) | (rating > MAX_RATING)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{label} line {row + 2}: rating {rating[row]:g} is outside the MovieLens range "
            f"{MIN_RATING:g} to {MAX_RATING:g}."
        )


def _member_path(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise DataError(f"{path} is missing; a MovieLens directory must hold ratings.csv and movies.csv.")
    return path


def _archive_members(path: Path, need_movies: bool = True) -> tuple[CsvFile, CsvFile | None]:
    """ratings.csv and movies.csv inside a zip, as CSVs that stream from the archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"Cannot read {path} as a zip archive ({exc}); pass a MovieLens .zip or a directory.") from None
    found = {}
    for wanted in ("ratings.csv", "movies.csv") if need_movies else ("ratings.csv",):
        matches = sorted(n for n in names if n == wanted or n.endswith("/" + wanted))
        if not matches:
            raise DataError(f"Archive {path} holds no {wanted}; expected a MovieLens archive with ratings.csv and movies.csv.")
        member = min(matches, key=len)
        found[wanted] = CsvFile(label=f"{path}:{member.rsplit('/', 1)[-1]}", opener=_member_opener(path, member))
    return found["ratings.csv"], found.get("movies.csv")


#: Environment variable: how many times its compressed size a zip member may expand to.
UNZIP_RATIO_ENV = "RECGRAPH_MAX_UNZIP_RATIO"
#: Default of :data:`UNZIP_RATIO_ENV`; MovieLens CSVs expand about 3 to 5 times.
MAX_UNZIP_RATIO = 50
#: A member may always expand to this many bytes, whatever its compressed size.
UNZIP_FLOOR_BYTES = 64 << 20


def max_unzip_ratio() -> float:
    """:data:`UNZIP_RATIO_ENV` as a number >= 1 (:data:`MAX_UNZIP_RATIO` when unset)."""
    text = os.environ.get(UNZIP_RATIO_ENV, "").strip()
    if not text:
        return float(MAX_UNZIP_RATIO)
    try:
        ratio = float(text)
    except ValueError:
        ratio = float("nan")
    if not ratio >= 1:
        raise DataError(f"{UNZIP_RATIO_ENV} must be a number >= 1 (times a zip member's compressed size); "
                        f"got {text[:40]!r}.")
    return ratio


class _MemberStream:
    """A zip member opened for reading; closing it closes the archive too.

    Decompression is capped (a zip bomb is refused, not expanded): at most
    ``RECGRAPH_MAX_UNZIP_RATIO`` times the member's compressed size (and always 64 MiB).
    A failure is recorded in ``error`` and reads as the end of the data, so no exception is
    raised inside pyarrow's reading thread; the caller raises ``error`` once pyarrow is done.
    """

    def __init__(self, path: Path, member: str):
        self.error: DataError | None = None
        self._read = 0
        self._lock = threading.Lock()
        self._active = 0  # reads in progress (pyarrow calls read from its own threads)
        self._stopped = False
        self._owner = threading.get_ident()
        self._foreign = False  # read from another thread (pyarrow's) before the data ended
        self._ended = False
        try:
            self._archive = zipfile.ZipFile(path)
            info = self._archive.getinfo(member)
            self._stream = self._archive.open(member)
        except (zipfile.BadZipFile, OSError, KeyError) as exc:
            raise DataError(f"Cannot read {path} as a zip archive ({exc}); pass a MovieLens .zip or a directory.") from None
        ratio = max_unzip_ratio()
        self._limit = max(int(ratio * info.compress_size), UNZIP_FLOOR_BYTES)
        self._what = (f"{path}:{member} expands to more than {self._limit:,} bytes ({ratio:g} times its "
                      f"{info.compress_size:,} compressed bytes); refusing to decompress further (raise "
                      f"{UNZIP_RATIO_ENV} if the archive is genuine).")

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            if self.error is not None or self._stopped:
                return b""
            self._active += 1
            self._foreign |= threading.get_ident() != self._owner
        try:
            block = self._read_block(size)
            self._ended |= not block
            return block
        finally:
            with self._lock:
                self._active -= 1

    def stop(self, wait_s: float = 5.0) -> None:
        """End the data for every later read and wait until no read runs: pyarrow may still be
        reading ahead in its own thread after it gave up, and a thread inside Python while
        the interpreter exits aborts the process (``PyGILState_Release``)."""
        with self._lock:
            self._stopped = True
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._active:
                    break
            time.sleep(0.002)
        if self._foreign and not self._ended:  # it gave up early: let its thread leave Python
            time.sleep(0.02)  # (the GIL is released only after read returns)

    def _read_block(self, size: int) -> bytes:
        want = self._limit + 1 - self._read if size is None or size < 0 else min(size, self._limit + 1 - self._read)
        try:
            block = self._stream.read(want)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            self.error = DataError(f"Cannot read a member of {self._archive.filename} ({str(exc)[:120]}); "
                                   "the archive is damaged.")
            return b""
        self._read += len(block)
        if self._read > self._limit:
            self.error = DataError(self._what)
            return b""
        return block

    # pyarrow reads any object with read/close/closed; the rest makes it a context manager.
    @property
    def closed(self) -> bool:
        return self._stream.closed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.stop()
        with self._lock:  # no read of pyarrow's may be inside the stream while it closes
            self._stream.close()
            self._archive.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _member_opener(path: Path, member: str):
    return lambda: _MemberStream(path, member)


def download(url: str) -> Path:
    """The cached copy of ``url``, downloading it (in blocks, atomically) when absent."""
    name = url.rstrip("/").rsplit("/", 1)[-1] or "download.zip"
    target = cache_dir() / name
    if target.is_file():
        logger.info("using cached %s", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, target)
    # Atomic: a partial download never sits in the cache under the final name.
    tmp = tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part")
    try:
        with tmp, urllib.request.urlopen(url, timeout=30) as response:
            shutil.copyfileobj(response, tmp, 1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        os.unlink(tmp.name)
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"Could not download {url} ({reason}); without network access pass a local copy "
            f"instead, e.g. --data path/to/{name} or a directory holding ratings.csv and movies.csv."
        ) from None
    os.replace(tmp.name, target)
    return target


_download = download  # the pre-package name


def parse_ratings(payload: bytes, label: str = "ratings.csv") -> pd.DataFrame:
    """Parse and validate a ratings CSV (``userId,movieId,rating[,timestamp]``)."""
    log, _ = read_log_csv(CsvFile.from_bytes(payload, label), dict(DEFAULT_COLUMNS), require_rating=True)
    assert log.rating is not None  # require_rating: a log without ratings was refused
    check_movielens_range(log.rating, label)
    return _frame(log)


def parse_movies(payload: bytes, label: str = "movies.csv") -> pd.DataFrame:
    """Parse and validate a movies CSV (``movieId,title[,genres]``)."""
    return read_items_csv(CsvFile.from_bytes(payload, label), id_name="movieId")


def _frame(log: LogColumns) -> pd.DataFrame:
    data = {"userId": log.user, "movieId": log.item, "rating": log.rating}
    if log.timestamp is not None:
        data["timestamp"] = log.timestamp
    return pd.DataFrame(data, copy=False)
