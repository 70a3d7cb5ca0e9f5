"""Query an artifact: similar movies and recommendations from a watch history.

This is the light side other services import: it needs numpy and annoy only
(no pandas, gensim, keras or jax).

>>> index = ItemIndex.load("artifacts/ml-small")
>>> index.similar("Star Wars: Episode IV - A New Hope (1977)", k=5)
[{"movie_id": 1196, "title": "Star Wars: Episode V - ...", "score": 0.93}, ...]
>>> index.recommend([260, 1196], k=5)   # with the artifact's scoring (manifest "scoring")
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import re
from pathlib import Path
from typing import Iterable, Union

import numpy as np

from .artifact_format import (
    EMBEDDINGS_FILE,
    FORMAT_VERSION,
    INDEX_FILE,
    ITEMS_FILE,
    MANIFEST_FILE,
    POPULAR_FILE,
    file_digest,
)
from .errors import ArtifactError, ParameterError, UnknownItemError
from .scoring import Popularity, ScoringOptions, candidate_pool, movie_ids_of, popular_fill, query_vector, rerank


MovieRef = Union[int, str]
_ID_PATTERN = re.compile(r"^\s*\d+\s*$", re.ASCII)
_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")


class ItemIndex:
    """A loaded artifact directory.

    Attributes
    ----------
    path : the directory (as given; a symlink stays a symlink).
    manifest : the parsed ``manifest.json``.
    movie_ids : int64 [n_items]; Annoy item i is ``movie_ids[i]``.
    titles, genres : lists of str, one per item.
    likes : int64 [n_items] (users who liked each movie in training) or None (older artifacts).
    popular : the most liked movies overall, ``(movie_id, title, likes)``, from popular.csv
        (empty when the artifact has none).
    scoring : the :class:`~recgraph.scoring.ScoringOptions` that :meth:`recommend` applies
        by default (the manifest's ``scoring``; plain cosine when absent).
    """

    def __init__(self, path: Path, manifest: dict, annoy_index, embeddings: np.ndarray,
                 movie_ids: np.ndarray, titles: list[str], genres: list[str],
                 likes: np.ndarray | None = None, popular: list[tuple[int, str, int]] | None = None):
        self.path = path
        self.manifest = manifest
        self._annoy = annoy_index
        self.embeddings = embeddings
        self.movie_ids = movie_ids
        self.titles = titles
        self.genres = genres
        self._row_of_id = {int(m): i for i, m in enumerate(movie_ids.tolist())}
        # A title two movies share is left out, so it falls through to the ambiguity error.
        title_counts: dict[str, int] = {}
        for t in titles:
            title_counts[t] = title_counts.get(t, 0) + 1
        self._row_of_title = {t: i for i, t in enumerate(titles) if title_counts[t] == 1}
        self._rows_of_lower: dict[str, list[int]] = {}
        for i, t in enumerate(titles):
            self._rows_of_lower.setdefault(t.lower(), []).append(i)
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        self._unit = embeddings / np.where(norms > 0, norms, 1.0)
        self.likes = None if likes is None else np.asarray(likes, dtype=np.int64)
        self.popular = list(popular or [])
        self._likes = None if likes is None else Popularity(movie_ids, self.likes)
        if self.popular:
            self._popular = Popularity(np.array([p[0] for p in self.popular], dtype=np.int64),
                                       np.array([p[2] for p in self.popular], dtype=np.float64))
            self._popular_titles = {p[0]: p[1] for p in self.popular}
        else:
            self._popular, self._popular_titles = self._likes, {}
        self.scoring = self._scoring_options(_manifest_scoring(manifest))

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> "ItemIndex":
        """Open an artifact directory; with ``verify``, check every file against the manifest.

        Annoy maps the index file into memory, so processes that load the same
        file share its pages.
        """
        from annoy import AnnoyIndex

        root = Path(path).expanduser()
        manifest_path = root / MANIFEST_FILE
        if not root.is_dir():
            raise ArtifactError(f"Index directory {root} does not exist; train one with 'recgraph train --out {root}'.")
        if not manifest_path.is_file():
            raise ArtifactError(f"{root} holds no {MANIFEST_FILE}; it is not a recgraph artifact.")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{manifest_path} is not valid JSON ({exc}).") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
            raise ArtifactError(f"{manifest_path} is not a recgraph manifest (expected a JSON object with 'files').")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise ArtifactError(
                f"{manifest_path} has format_version {version!r}; this recgraph reads version {FORMAT_VERSION}."
            )
        files = manifest.get("files", {})
        has_popular = (root / POPULAR_FILE).is_file()
        for name in (INDEX_FILE, EMBEDDINGS_FILE, ITEMS_FILE) + ((POPULAR_FILE,) if has_popular else ()):
            file_path = root / name
            if not file_path.is_file():
                raise ArtifactError(f"{file_path} is missing; the artifact is incomplete.")
            if verify:
                expected = files.get(name, {})
                size = file_path.stat().st_size
                if expected.get("size") != size:
                    raise ArtifactError(
                        f"{file_path} is {size} bytes but the manifest records {expected.get('size')}; "
                        "the file is truncated or from another artifact."
                    )
                if expected.get("sha256") != file_digest(file_path):
                    raise ArtifactError(
                        f"{file_path} does not match the SHA-256 in the manifest; the file is corrupt or from another artifact."
                    )
        movie_ids, titles, genres, likes = _read_items(root / ITEMS_FILE)
        popular = _read_popular(root / POPULAR_FILE) if has_popular else None
        embeddings = np.load(root / EMBEDDINGS_FILE, mmap_mode="r")
        dim, n_items = manifest.get("dim"), manifest.get("n_items")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (dim, n_items)):
            raise ArtifactError(f"{manifest_path}: dim and n_items must be positive integers; got {dim!r}, {n_items!r}.")
        if embeddings.shape != (n_items, dim) or len(movie_ids) != n_items:
            raise ArtifactError(
                f"{root}: manifest says {n_items} items of dim {dim}, but embeddings.npy is "
                f"{embeddings.shape} and items.csv has {len(movie_ids)} rows."
            )
        annoy_index = AnnoyIndex(dim, manifest.get("metric", "angular"))
        try:
            annoy_index.load(str(root / INDEX_FILE))  # mmap; prefault off
        except OSError as exc:
            raise ArtifactError(f"Annoy cannot load {root / INDEX_FILE} ({exc}).") from None
        if annoy_index.get_n_items() != n_items:
            raise ArtifactError(f"{root / INDEX_FILE} holds {annoy_index.get_n_items()} items; the manifest says {n_items}.")
        try:
            return cls(root, manifest, annoy_index, np.asarray(embeddings, dtype=np.float32), movie_ids, titles, genres,
                       likes, popular)
        except ParameterError as exc:
            raise ArtifactError(f"{manifest_path}: {exc}") from None

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.movie_ids)

    def __contains__(self, movie: MovieRef) -> bool:
        try:
            self.row(movie)
        except UnknownItemError:
            return False
        return True

    @property
    def artifact_id(self) -> str:
        return str(self.manifest.get("artifact_id", ""))

    def row(self, movie: MovieRef) -> int:
        """Annoy item number of a movie id (int or digits) or title (exact, then case-insensitive)."""
        if isinstance(movie, (int, np.integer)) and not isinstance(movie, bool):
            row = self._row_of_id.get(int(movie))
            if row is None:
                raise UnknownItemError(f"Movie id {int(movie)} is not in the index ({len(self)} movies).")
            return row
        if not isinstance(movie, str):
            raise ParameterError(f"A movie is an integer id or a title string; got {movie!r}.")
        if _ID_PATTERN.match(movie) and movie.strip() not in self._row_of_title:
            return self.row(int(movie))
        row = self._row_of_title.get(movie)
        if row is not None:
            return row
        rows = self._rows_of_lower.get(movie.strip().lower(), [])
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            ids = ", ".join(str(int(self.movie_ids[r])) for r in rows)
            raise UnknownItemError(f"{len(rows)} movies are titled {movie!r} (ids {ids}); pass the movie id instead.",
                                   [self.titles[r] for r in rows])
        suggestions = self.suggest(movie)
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else "."
        raise UnknownItemError(f"No movie titled {movie!r} is in the index{hint}", suggestions)

    def suggest(self, text: str, n: int = 3) -> list[str]:
        """Titles close to ``text`` (for error messages)."""
        return [self.titles[i] for i in self._closest_rows(text, n)]

    def search(self, text: str, k: int = 10) -> list[dict]:
        """Movies whose titles match ``text``: substring matches first, then close spellings."""
        k = _check_k(k)
        return [self._item(i, score) for i, score in self._title_matches(text, k)]

    def _closest_rows(self, text: str, n: int) -> list[int]:
        return [i for i, _ in self._title_matches(text, n)]

    def _title_matches(self, text: str, n: int) -> list[tuple[int, float]]:
        needle = text.strip().lower()
        if not needle:
            return []
        lowered = [t.lower() for t in self.titles]
        words = needle.split()
        hits = [i for i, t in enumerate(lowered) if all(w in t for w in words)]
        hits.sort(key=lambda i: (not lowered[i].startswith(needle), len(lowered[i])))
        found = [(i, 1.0) for i in hits[:n]]
        if len(found) < n:
            # Compare against titles without their "(year)" so "star wars" meets "Star Wars: ...".
            stems: dict[str, int] = {}
            for i, t in enumerate(lowered):
                stems.setdefault(_strip_year(t), i)
            seen = {i for i, _ in found}
            needle_stem = _strip_year(needle)
            for stem in difflib.get_close_matches(needle_stem, list(stems), n=n * 2, cutoff=0.6):
                i = stems[stem]
                if i not in seen:
                    found.append((i, round(difflib.SequenceMatcher(None, needle_stem, stem).ratio(), 4)))
                    seen.add(i)
        return found[:n]

    def _item(self, row: int, score: float) -> dict:
        return {"movie_id": int(self.movie_ids[row]), "title": self.titles[row], "score": float(score)}

    # ------------------------------------------------------------------ queries
    def similar(self, movie: MovieRef, k: int = 10) -> list[dict]:
        """The ``k`` movies most similar to ``movie`` (never the movie itself), best first.

        ``score`` is the cosine similarity of the two embeddings.
        """
        k = _check_k(k)
        row = self.row(movie)
        return self._nearest(self._unit[row], k, exclude={row})

    def recommend(self, watched: Iterable[MovieRef], k: int = 10, exclude: Iterable[MovieRef] = (),
                  on_unknown: str = "raise", scoring: ScoringOptions | dict | None = None) -> list[dict]:
        """Movies for someone who watched ``watched``, best first, as ``{"movie_id", "title", "score"}``.

        The query is the mean of the watched movies' unit vectors (with ``recent_weight`` > 0,
        ``watched`` is read oldest first and its last ``recent_count`` movies also get a
        direction of their own; see :func:`recgraph.scoring.query_vector`); its nearest
        neighbours by cosine are then scored with ``scoring`` (default: the artifact's,
        :attr:`scoring`):

        - ``popularity_weight > 0``: the best ``candidates`` are re-scored
          ``cosine + popularity_weight * log1p(likes)`` and sorted again;
        - ``fallback == "popular"``: a list shorter than ``k`` (also an empty one, when no
          watched movie is in the index) is topped up with the most liked movies not in
          ``watched`` or ``exclude``, scored ``popularity_weight * log1p(likes)``.

        Movies in ``watched`` and ``exclude`` are never returned. ``on_unknown``:
        ``"raise"`` (default): a movie not in the index is an error (UnknownItemError), with
        any fallback; ``"ignore"``: unknown movies are dropped (see :meth:`resolve` to learn
        which). When no watched movie is left, fallback ``"none"`` raises UnknownItemError and
        fallback ``"popular"`` returns the most liked movies.
        """
        k = _check_k(k)
        opts = self.scoring if scoring is None else self._scoring_options(scoring)
        watched, exclude = _as_list(watched), _as_list(exclude)  # iterate once; resolve refuses a lone movie
        rows, _ = self.resolve(watched, on_unknown)
        if not rows and opts.fallback != "popular":
            raise UnknownItemError("None of the watched movies is in the index, so there is nothing to recommend from.")
        skip, _ = self.resolve(exclude, "ignore")
        hits: list[dict] = []
        if rows:
            query = query_vector(self._unit[rows], opts)
            hits = self._nearest(query, min(candidate_pool(opts, k), len(self)), exclude=set(rows) | set(skip))
            hits = rerank(hits, opts, self._likes)[:k]
        if len(hits) < k and opts.fallback == "popular":
            seen = movie_ids_of(watched) | movie_ids_of(exclude) | {int(self.movie_ids[r]) for r in rows + skip}
            hits += popular_fill(k - len(hits), seen | {h["movie_id"] for h in hits}, opts, self._popular,
                                 self._title_of)
        return hits

    def _scoring_options(self, scoring) -> ScoringOptions:
        opts = ScoringOptions.from_value(scoring)
        if opts.needs_likes and self._likes is None:
            raise ParameterError("This artifact records no likes (items.csv has no likes column), so it supports "
                                 "plain cosine only: popularity_weight 0 and fallback 'none'.")
        return opts

    def _title_of(self, movie: int) -> str:
        row = self._row_of_id.get(movie)
        if row is not None:
            return self.titles[row]
        return self._popular_titles.get(movie, f"movie {movie}")

    def resolve(self, movies: Iterable[MovieRef], on_unknown: str = "raise") -> tuple[list[int], list[MovieRef]]:
        """Rows of the known movies and the list of unknown ones."""
        if on_unknown not in ("raise", "ignore"):
            raise ParameterError(f"on_unknown must be 'raise' or 'ignore'; got {on_unknown!r}.")
        if isinstance(movies, (str, bytes, int)):
            raise ParameterError("Pass several movies as a list, e.g. watched=[260, 1196].")
        rows, unknown = [], []
        for movie in movies:
            try:
                rows.append(self.row(movie))
            except UnknownItemError:
                if on_unknown == "raise":
                    raise
                unknown.append(movie)
        return rows, unknown

    def _nearest(self, query: np.ndarray, k: int, exclude: set[int]) -> list[dict]:
        n = len(self)
        want = min(n, k + len(exclude))
        while True:
            rows, distances = self._annoy.get_nns_by_vector(query.tolist(), want, include_distances=True)
            picked = [(r, d) for r, d in zip(rows, distances) if r not in exclude]
            if len(picked) >= k or want >= n:
                break
            want = min(n, want * 2)
        # Annoy's angular distance is sqrt(2 - 2 cos) of unit vectors.
        qnorm = float(np.linalg.norm(query))
        out = []
        for r, d in picked[:k]:
            score = float(self._unit[r] @ query) / qnorm if qnorm > 0 else 1.0 - d * d / 2.0
            out.append(self._item(r, round(score, 6)))
        return out


def _strip_year(title: str) -> str:
    return _YEAR_SUFFIX.sub("", title)


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 100_000:
        raise ParameterError(f"k must be an integer from 1 to 100000; got {k!r}.")
    return int(k)


def _as_list(movies):
    return movies if isinstance(movies, (str, bytes, int, np.integer)) else list(movies)


def _manifest_scoring(manifest: dict) -> dict:
    """The manifest's ``scoring`` (keys this version does not know are ignored)."""
    raw = manifest.get("scoring") or {}
    if not isinstance(raw, dict):
        raise ArtifactError(f"manifest.json's scoring must be an object; got {raw!r}.")
    known = ScoringOptions.__dataclass_fields__
    return {key: value for key, value in raw.items() if key in known}


def _read_popular(path: Path) -> list[tuple[int, str, int]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(header[:3]) != ("movie_id", "title", "likes"):
            raise ArtifactError(f"{path} must start with the header movie_id,title,likes; got {header}.")
        try:
            return [(int(r[0]), r[1], int(r[2])) for r in reader]
        except (ValueError, IndexError):
            raise ArtifactError(f"{path} has a row whose movie_id or likes is not an integer.") from None


def _read_items(path: Path) -> tuple[np.ndarray, list[str], list[str], np.ndarray | None]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(header[:4]) != ("index", "movie_id", "title", "genres"):
            raise ArtifactError(f"{path} must start with the header index,movie_id,title,genres; got {header}.")
        rows = list(reader)
    try:
        order = [int(r[0]) for r in rows]
        movie_ids = np.array([int(r[1]) for r in rows], dtype=np.int64)
    except (ValueError, IndexError):
        raise ArtifactError(f"{path} has a row whose index or movie_id is not an integer.") from None
    if order != list(range(len(rows))):
        raise ArtifactError(f"{path}: the index column must count 0, 1, 2, ... in order.")
    likes = None
    if "likes" in header[4:]:
        col = header.index("likes", 4)
        try:
            likes = np.array([int(r[col]) for r in rows], dtype=np.int64)
        except (ValueError, IndexError):
            raise ArtifactError(f"{path} has a row whose likes is not an integer.") from None
    return movie_ids, [r[2] for r in rows], [r[3] if len(r) > 3 else "" for r in rows], likes
