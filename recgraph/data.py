"""Load and validate MovieLens ratings and movies.

A source is one of:

- a directory holding ``ratings.csv`` and ``movies.csv``;
- a GroupLens zip archive (e.g. ``ml-latest-small.zip``), read in place;
- an ``http(s)://`` URL of such an archive, downloaded once into the cache
  (``~/.cache/recgraph``, or ``$RECGRAPH_DATA_DIR``).

``None`` means the default ml-latest-small URL; its published MD5 is checked.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .artifact_format import file_digest
from .errors import DataError

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
#: MD5 checksums GroupLens publishes for its archives, by file name.
PUBLISHED_MD5 = {"ml-latest-small.zip": "31a303aabbc519bd33d025e44d6c2570"}

RATING_COLUMNS = ("userId", "movieId", "rating")
MOVIE_COLUMNS = ("movieId", "title")
MIN_RATING, MAX_RATING = 0.5, 5.0


@dataclass(frozen=True)
class Ratings:
    """Validated ratings and movie metadata.

    Attributes
    ----------
    ratings : DataFrame with int64 ``userId``, ``movieId``, float64 ``rating`` and,
        when the file has it, int64 ``timestamp``.
    movies : DataFrame with int64 ``movieId``, str ``title`` and ``genres``.
    source : where the data came from (path or URL).
    md5 : MD5 of the archive, or of ``ratings.csv`` for a directory.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame
    source: str
    md5: str

    def titles(self) -> dict[int, str]:
        """Map movie id to title."""
        return dict(zip(self.movies["movieId"].tolist(), self.movies["title"].tolist()))


def cache_dir() -> Path:
    """Where downloads are kept: ``$RECGRAPH_DATA_DIR`` or ``~/.cache/recgraph``."""
    env = os.environ.get("RECGRAPH_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "recgraph"


def file_md5(path: str | os.PathLike) -> str:
    """Hex MD5 of a file."""
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
        path = _download(text)
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise DataError(
                f"Data source {text!r} does not exist; pass a directory holding ratings.csv "
                "and movies.csv, a MovieLens .zip archive, or an http(s) URL."
            )
    if path.is_dir():
        ratings_bytes = _read_member_file(path, "ratings.csv")
        movies_bytes = _read_member_file(path, "movies.csv")
        md5 = hashlib.md5(ratings_bytes).hexdigest()
    else:
        ratings_bytes, movies_bytes = _read_archive(path)
        md5 = file_md5(path)
        expected = PUBLISHED_MD5.get(path.name)
        if expected and md5 != expected:
            raise DataError(
                f"Archive {path} has MD5 {md5}, but GroupLens publishes {expected} for "
                f"{path.name}; the file is corrupt or a different version (delete it and retry)."
            )
    sep = "/" if path.is_dir() else ":"
    ratings = parse_ratings(ratings_bytes, f"{path}{sep}ratings.csv")
    movies = parse_movies(movies_bytes, f"{path}{sep}movies.csv")
    logger.info("loaded %d ratings of %d movies from %s", len(ratings), len(movies), text)
    return Ratings(ratings=ratings, movies=movies, source=text, md5=md5)


def _read_member_file(directory: Path, name: str) -> bytes:
    path = directory / name
    if not path.is_file():
        raise DataError(f"{path} is missing; a MovieLens directory must hold ratings.csv and movies.csv.")
    return path.read_bytes()


def _read_archive(path: Path) -> tuple[bytes, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            found = {}
            for wanted in ("ratings.csv", "movies.csv"):
                matches = sorted(n for n in names if n == wanted or n.endswith("/" + wanted))
                if not matches:
                    raise DataError(f"Archive {path} holds no {wanted}; expected a MovieLens archive with ratings.csv and movies.csv.")
                found[wanted] = archive.read(min(matches, key=len))
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"Cannot read {path} as a zip archive ({exc}); pass a MovieLens .zip or a directory.") from None
    return found["ratings.csv"], found["movies.csv"]


def _download(url: str) -> Path:
    name = url.rstrip("/").rsplit("/", 1)[-1] or "download.zip"
    target = cache_dir() / name
    if target.is_file():
        logger.info("using cached %s", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, target)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"Could not download {url} ({reason}); without network access pass a local copy "
            f"instead, e.g. --data path/to/{name} or a directory holding ratings.csv and movies.csv."
        ) from None
    # Atomic: a partial download never sits in the cache under the final name.
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp.write(payload)
    os.replace(tmp.name, target)
    return target


def _read_csv(payload: bytes, label: str, required: tuple[str, ...]) -> pd.DataFrame:
    if not payload.strip():
        raise DataError(f"{label} is empty; expected a CSV header with columns {', '.join(required)}.")
    try:
        frame = pd.read_csv(io.BytesIO(payload), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{label} is not a readable CSV file ({str(exc).splitlines()[0]}).") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{label} lacks column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}."
        )
    if frame.empty:
        raise DataError(f"{label} has a header but no rows.")
    return frame


def _numeric(frame: pd.DataFrame, column: str, label: str, integer: bool) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy().copy()
    if integer:
        filled = values.fillna(0).to_numpy(dtype=np.float64)
        bad |= filled != np.round(filled)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a number"
        raise DataError(f"{label} line {row + 2}: {column} {raw.iloc[row]!r} is not {kind}.")
    return values.to_numpy()


def parse_ratings(payload: bytes, label: str = "ratings.csv") -> pd.DataFrame:
    """Parse and validate a ratings CSV (``userId,movieId,rating[,timestamp]``)."""
    frame = _read_csv(payload, label, RATING_COLUMNS)
    out = pd.DataFrame(
        {
            "userId": _numeric(frame, "userId", label, True).astype(np.int64),
            "movieId": _numeric(frame, "movieId", label, True).astype(np.int64),
            "rating": _numeric(frame, "rating", label, False).astype(np.float64),
        }
    )
    if "timestamp" in frame.columns:
        out["timestamp"] = _numeric(frame, "timestamp", label, True).astype(np.int64)
    rating = out["rating"].to_numpy()
    bad = (rating < MIN_RATING) | (rating > MAX_RATING)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{label} line {row + 2}: rating {rating[row]:g} is outside the MovieLens range "
            f"{MIN_RATING:g} to {MAX_RATING:g}."
        )
    return out


def parse_movies(payload: bytes, label: str = "movies.csv") -> pd.DataFrame:
    """Parse and validate a movies CSV (``movieId,title[,genres]``)."""
    frame = _read_csv(payload, label, MOVIE_COLUMNS)
    out = pd.DataFrame(
        {
            "movieId": _numeric(frame, "movieId", label, True).astype(np.int64),
            "title": frame["title"].astype(str),
            "genres": frame["genres"].astype(str) if "genres" in frame.columns else "",
        }
    )
    dup = out["movieId"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(f"{label} line {row + 2}: movieId {out['movieId'].iloc[row]} appears twice.")
    return out
