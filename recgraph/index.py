"""Query an artifact: similar items and recommendations from a history.

This is the light side other services import: numpy, annoy and rapidfuzz only (no pandas,
gensim, keras or jax). Reading and verifying the files is :func:`recgraph.artifact.read_artifact`'s
job; this module only answers queries.

Every answer is one of two result types with the same JSON envelope (:meth:`Similar.to_dict`,
:meth:`Recommendations.to_dict`), which the CLI's ``--json`` and the HTTP service print as is::

    {"kind": "similar" | "recommend",
     "query":   [{"item_id", "title"}, ...],       # the query items found in the index
     "unknown": [id or title, ...],                 # items of the request not in the index
     "results": [{"item_id", "title", "score"}, ...]}

>>> index = ItemIndex.load("artifacts/ml-small")
>>> index.similar("Star Wars: Episode IV - A New Hope (1977)", k=5).hits[0]
Hit(item_id=1210, title='Star Wars: Episode VI - Return of the Jedi (1983)', score=0.815314)
>>> index.recommend([260, 1196, 999999], k=5).unknown   # reported, not fatal
(999999,)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Union

import numpy as np

from .artifact import MANIFEST_FILE, ArtifactFiles, manifest_config, read_artifact  # noqa: F401  (MANIFEST_FILE: re-export)
from .errors import ArtifactError, ParameterError, UnknownItemError, excerpt
from .scoring import IdMap, Popularity, Scorer, ScoringOptions, as_history_matrix, recommend_ids, with_popular

#: An item as a query names it: its id (an int, or a string of digits) or its title.
ItemRef = Union[int, str]
_ID_PATTERN = re.compile(r"^\s*\d+\s*$", re.ASCII)
_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_ARTICLE = re.compile(r"^(?:the|a|an) |, (?:the|a|an)$")
#: Fuzzy title matches below this rapidfuzz score (0-100) are not suggested.
FUZZY_CUTOFF = 60.0
#: Largest k a query takes, in Python, the CLI and HTTP alike (recgraph.serve.app reads it too).
MAX_K = 1000


# ---------------------------------------------------------------------- result types
@dataclass(frozen=True)
class Item:
    """An item of the index: its id and title."""

    item_id: int
    title: str

    def to_dict(self) -> dict:
        return {"item_id": self.item_id, "title": self.title}


@dataclass(frozen=True)
class Hit:
    """One result: an item and its score (cosine; in recommend, plus the popularity prior)."""

    item_id: int
    title: str
    score: float

    def to_dict(self) -> dict:
        return {"item_id": self.item_id, "title": self.title, "score": self.score}


class _Answer:
    """What both result types share: a sequence of hits and the one JSON envelope."""

    kind = ""
    hits: tuple[Hit, ...]
    query: tuple[Item, ...]
    unknown: tuple[ItemRef, ...]

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, i):
        return self.hits[i]

    def to_dict(self) -> dict:
        """The JSON envelope (docs/serving.md): kind, query, unknown, results."""
        return {"kind": self.kind, "query": [m.to_dict() for m in self.query], "unknown": list(self.unknown),
                "results": [h.to_dict() for h in self.hits]}


@dataclass(frozen=True)
class Similar(_Answer):
    """The items most similar to ``item``, best first (never ``item`` itself)."""

    item: Item
    hits: tuple[Hit, ...]
    kind = "similar"

    @property
    def query(self) -> tuple[Item, ...]:  # type: ignore[override]  # read-only here, a field elsewhere
        return (self.item,)

    @property
    def unknown(self) -> tuple[ItemRef, ...]:  # type: ignore[override]
        return ()


@dataclass(frozen=True)
class Recommendations(_Answer):
    """Recommendations, best first; ``query``: the history's items found in the index, in the
    given order; ``unknown``: the history's and excluded items that are not in the index."""

    hits: tuple[Hit, ...]
    query: tuple[Item, ...] = ()
    unknown: tuple[ItemRef, ...] = ()
    kind = "recommend"


# ---------------------------------------------------------------------- the index
class ItemIndex:
    """A loaded artifact directory.

    Attributes
    ----------
    path : the directory (as given; a symlink stays a symlink).
    manifest : the parsed ``manifest.json``.
    item_ids : int64 [n_items]; Annoy item i is ``item_ids[i]``.
    titles, genres : lists of str, one per item.
    likes : int64 [n_items] (users who liked each item in training) or None (older artifacts).
    popular : the most liked items overall, ``(item_id, title, likes)``, from popular.csv
        (empty when the artifact has none).
    catalogue : item id -> title for every item of the training log (catalogue.csv;
        empty for artifacts without one), so an item left out of the graph is told as such.
    scoring : the :class:`~recgraph.scoring.ScoringOptions` that :meth:`recommend` applies
        by default (the manifest's ``scoring``; plain cosine when absent).
    """

    def __init__(self, files: ArtifactFiles):
        self.path = files.path
        self.manifest = files.manifest
        self._annoy = files.annoy
        self.embeddings = files.embeddings
        self.item_ids = files.item_ids
        self.titles = files.titles
        self.genres = files.genres
        self._row_of_id = {m: i for i, m in enumerate(self.item_ids.tolist())}
        # A title two items share is left out, so it falls through to the ambiguity error.
        self._row_of_title: dict[str, int] = {}
        self._rows_of_lower: dict[str, list[int]] = {}
        shared: set[str] = set()
        for i, t in enumerate(self.titles):
            if t in self._row_of_title:
                shared.add(t)
            self._row_of_title[t] = i
            self._rows_of_lower.setdefault(t.lower(), []).append(i)
        for t in shared:
            del self._row_of_title[t]
        self.catalogue = dict(files.catalogue or ())
        self._catalogue_of_lower: dict[str, list[int]] = {}
        for item, title in self.catalogue.items():
            self._catalogue_of_lower.setdefault(title.lower(), []).append(item)
        self.likes = files.likes
        self.popular = list(files.popular or [])
        self._likes = None if self.likes is None else Popularity(self.item_ids, self.likes)
        self._stems: list[str] | None = None
        # Scored: the index's items, then popular.csv's items without a vector (prior only).
        scored_ids, scored_vectors, scored_likes = with_popular(self.item_ids, self.embeddings, self.likes,
                                                                self.popular)
        self._ids = IdMap(scored_ids)
        self._extra_titles = {p[0]: p[1] for p in self.popular}
        try:
            self.scorer = Scorer(scored_vectors, scored_likes, _manifest_scoring(self.manifest), files.user_model)
        except ParameterError as exc:
            raise ArtifactError(f"{self.path / MANIFEST_FILE}: {exc}") from None
        self.scoring = self.scorer.options

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> "ItemIndex":
        """Open an artifact directory; with ``verify``, check every file against the manifest
        (:func:`recgraph.artifact.read_artifact`)."""
        return cls(read_artifact(path, verify=verify))

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.item_ids)

    def __contains__(self, item: ItemRef) -> bool:
        return self._find(item) is not None

    @property
    def artifact_id(self) -> str:
        return str(self.manifest.get("artifact_id", ""))

    @property
    def has_titles(self) -> bool:
        """False when the training log had no titles (items are then named ``item <id>``)."""
        return bool((self.manifest.get("data") or {}).get("has_titles", True))

    def item(self, row: int) -> Item:
        """The item on Annoy row ``row``."""
        return Item(int(self.item_ids[row]), self.titles[row])

    def row(self, item: ItemRef) -> int:
        """Annoy item number of an item id (int or digits) or title (exact, then case-insensitive).

        An item not in the index raises UnknownItemError with a sentence for people
        (:meth:`explain`) and, for a title, close titles in ``suggestions``.
        """
        row = self._find(item)
        if row is None:
            raise self._unknown(item)
        return row

    def explain(self, item: ItemRef) -> str:
        """Why ``item`` is not in the index, in one sentence (a typo, an item the graph left
        out, an id nobody knows); "" when it is."""
        return "" if self._find(item) is not None else str(self._unknown(item))

    def _find(self, item: ItemRef) -> int | None:
        """The row of ``item``, or None (also for an ambiguous title); never raises for a miss."""
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            return self._row_of_id.get(int(item))
        if not isinstance(item, str):
            raise ParameterError(f"An item is an integer id or a title string; got {item!r}.")
        if _ID_PATTERN.match(item) and item.strip() not in self._row_of_title:
            return self._row_of_id.get(_id_value(item))
        row = self._row_of_title.get(item)
        if row is not None:
            return row
        rows = self._rows_of_lower.get(item.strip().lower(), [])
        return rows[0] if len(rows) == 1 else None

    def _unknown(self, item: ItemRef) -> UnknownItemError:
        if not isinstance(item, str) or _ID_PATTERN.match(item):
            item_id = _id_value(item)
            if item_id is None:
                return UnknownItemError(f"Item id {_id_text(item)} is not in the index: ids are 64-bit integers.")
            title = self.catalogue.get(item_id)
            if title is not None:
                return UnknownItemError(f"Item id {item_id} ({title!r}) is in the item catalogue but not in the graph: "
                                        f"{self._left_out_reason()}.")
            where = " nor in the item catalogue" if self.catalogue else ""
            return UnknownItemError(f"Item id {item_id} is not in the index ({len(self):,} items){where}.")
        rows = self._rows_of_lower.get(item.strip().lower(), [])
        if len(rows) > 1:
            ids = ", ".join(str(int(self.item_ids[r])) for r in rows)
            return UnknownItemError(f"{len(rows)} items are titled {item!r} (ids {ids}); pass the item id instead.",
                                    [self.titles[r] for r in rows])
        if not self.has_titles:
            example = int(self.item_ids[0]) if len(self) else 1
            return UnknownItemError(f"This artifact was trained on a log without titles, so its items are named by "
                                    f"id; pass an item id (e.g. {example}) instead of {item!r}.")
        left_out = self._catalogue_of_lower.get(item.strip().lower(), [])
        if left_out:
            ids = ", ".join(str(m) for m in left_out)
            return UnknownItemError(f"{self.catalogue[left_out[0]]!r} (id {ids}) is in the item catalogue but not in the "
                                    f"graph: {self._left_out_reason()}.")
        suggestions = self.suggest(item)
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else "."
        return UnknownItemError(f"No item titled {item!r} is in the index{hint}", suggestions)

    def _left_out_reason(self) -> str:
        """Why the graph leaves a catalogue item out, from the artifact's recorded graph parameters."""
        views = manifest_config(self.manifest).get("graph") or []
        graph = views[0] if isinstance(views, list) and views else {}
        if not isinstance(graph, dict) or "min_weight" not in graph:
            return "the graph's thresholds left it out"
        implicit = bool((self.manifest.get("data") or {}).get("implicit", False))
        shared = "users" if implicit else f"ratings >= {graph.get('min_rating', 5.0):g}"
        reason = (f"too few {shared} in common with other items for an edge of weight >= "
                  f"{graph['min_weight']:g}")
        if graph.get("min_item_users"):
            reason += f", or fewer than {graph['min_item_users']} users liked it"
        if isinstance(views, list) and len(views) > 1:
            reason = f"in none of its {len(views)} graph views ({reason} in the primary one)"
        flags = "--min-weight" if implicit else "--min-rating and --min-weight"
        return f"{reason}; see {flags}"

    def suggest(self, text: str, n: int = 3) -> list[str]:
        """Titles close to ``text`` (for error messages): those holding every word of it or,
        when none does, the closest spellings."""
        return [self.titles[i] for i, _ in self._title_matches(text, n)]

    def search(self, text: str, k: int = 10) -> list[Hit]:
        """Items whose titles match ``text``: titles holding every word of it (score 1.0) or,
        when none does, the closest spellings (score < 1, rapidfuzz similarity)."""
        k = _check_k(k)
        return [Hit(int(self.item_ids[i]), self.titles[i], score) for i, score in self._title_matches(text, k)]

    def _title_matches(self, text: str, n: int) -> list[tuple[int, float]]:
        needle = text.strip().lower()
        if not needle or not self.has_titles:
            return []
        lowered = [t.lower() for t in self.titles]
        words = needle.split()
        hits = [i for i, t in enumerate(lowered) if all(w in t for w in words)]
        hits.sort(key=lambda i: (not lowered[i].startswith(needle), len(lowered[i])))
        if hits:
            return [(i, 1.0) for i in hits[:n]]
        return self._fuzzy(needle, n)

    def _fuzzy(self, needle: str, n: int) -> list[tuple[int, float]]:
        """The ``n`` titles closest in spelling, by rapidfuzz: the better of the whole title's
        similarity and (slightly discounted) its beginning's, so 'star wors' meets 'Star Wars: ...'.

        Titles are compared without their year and leading or trailing article; ties go to
        the title with the query's year, then the most liked item, then the shortest title.
        """
        from rapidfuzz import fuzz, process

        if self._stems is None:
            self._stems = [_stem(t) for t in self.titles]
        stems = self._stems
        query = _stem(needle)
        if not query or not stems:
            return []
        whole = process.cdist([query], stems, scorer=fuzz.ratio, dtype=np.float32)[0]
        heads = [s[:len(query)] for s in stems]
        head = process.cdist([query], heads, scorer=fuzz.ratio, dtype=np.float32)[0]
        longer = np.fromiter((len(s) > len(query) for s in stems), dtype=bool, count=len(stems))
        score = np.maximum(whole, np.where(longer, 0.95 * head, 0.0))
        keep = np.flatnonzero(score >= FUZZY_CUTOFF)
        if keep.size == 0:
            return []
        year = _YEAR.search(needle)
        other_year = np.array([not (year and self.titles[i].endswith(f"({year.group(1)})")) for i in keep])
        likes = self.likes[keep] if self.likes is not None else np.zeros(keep.size)
        lengths = np.array([len(self.titles[i]) for i in keep])
        order = np.lexsort((lengths, -likes, other_year, -score[keep]))[:n]
        return [(int(keep[j]), min(round(float(score[keep[j]]) / 100.0, 4), 0.9999)) for j in order]

    # ------------------------------------------------------------------ queries
    def similar(self, item: ItemRef, k: int = 10) -> Similar:
        """The ``k`` items most similar to ``item`` (never the item itself), best first.

        ``score`` is the cosine similarity of the two embeddings. An item not in the index
        raises UnknownItemError: there is nothing to answer from.
        """
        k = _check_k(k)
        row = self.row(item)
        cols, scores = self.scorer.similar([row], k)
        return Similar(self.item(row), self._hits(cols[0], scores[0]))

    def similar_many(self, items: Iterable[ItemRef], k: int = 10) -> tuple[list[Similar], list[ItemRef]]:
        """:meth:`similar` for many items in one scoring call (the HTTP batch route's path):
        the answers of the known items, in order, and the unknown ones."""
        k = _check_k(k)
        items = list(items)
        found = [(item, self._find(item)) for item in items]
        rows = [row for _, row in found if row is not None]
        cols, scores = self.scorer.similar(rows, k) if rows else (np.empty((0, k), np.int64), np.empty((0, k)))
        answers = [Similar(self.item(row), self._hits(cols[i], scores[i])) for i, row in enumerate(rows)]
        return answers, [item for item, row in found if row is None]

    def recommend(self, watched: Iterable[ItemRef], k: int = 10, exclude: Iterable[ItemRef] = (),
                  scoring: ScoringOptions | dict | None = None, *, strict: bool = False) -> Recommendations:
        """Items for someone who watched ``watched`` (oldest first), best first.

        Every item of the index is scored exactly (:class:`recgraph.scoring.Scorer`, the one
        scoring function of the fitted model, the CLI, the HTTP service and the evaluation):
        cosine to the mean of the watched items' unit vectors (with ``recent_weight`` > 0,
        its last ``recent_count`` items also get a direction of their own), plus
        ``popularity_weight * log1p(likes)``, with ``scoring`` (default: the artifact's,
        :attr:`scoring`). When no watched item is in the index, fallback ``"popular"``
        returns the most liked items and fallback ``"none"`` raises UnknownItemError: there
        is nothing to recommend from.

        Items in ``watched`` and ``exclude`` are never returned. Items of either that are
        not in the index are left out of the query and listed in the answer's ``unknown``;
        with ``strict=True`` the first one raises UnknownItemError instead.
        """
        k = _check_k(k)
        opts = self.scoring if scoring is None else self._scoring_options(scoring)
        watched, exclude = _as_list(watched), _as_list(exclude)  # iterate once; resolve refuses a lone item
        rows, unknown = self.resolve(watched, strict=strict)
        skip, unknown_skip = self.resolve(exclude, strict=strict)
        if not rows and opts.fallback != "popular":
            raise self._nothing_to_recommend(watched, unknown)
        # The scored columns, in order: the index's items, and popular.csv's items without a
        # vector given by id (never recommended back), as Recommender.recommend reads a history.
        history, _ = as_history_matrix([self._scored_columns(watched)], self.scorer.n_items)
        excluded, _ = as_history_matrix([self._scored_columns(exclude)], self.scorer.n_items)
        cols, scores = self.scorer.top(history, k, excluded, opts)
        query_items = tuple(self.item(r) for r in rows)
        return Recommendations(self._hits(cols[0], scores[0]), query_items, tuple(_dedupe(unknown + unknown_skip)))

    def _scored_columns(self, items: Iterable) -> list[int]:
        """Scorer columns of ``items`` in order: index rows, or (for an id) a popular item
        without a vector; others are left out."""
        cols = []
        for item in items:
            row = self._find(item)
            if row is None and isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                row = int(self._ids.columns([int(item)])[0]) if -2 ** 63 <= int(item) < 2 ** 63 else -1
                row = row if row >= 0 else None
            if row is not None:
                cols.append(row)
        return cols

    def recommend_many(self, histories, k: int = 10, exclude=None,
                       scoring: ScoringOptions | dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item ids and scores for many users at once, as
        :meth:`recgraph.model.Recommender.recommend` answers: ``histories`` is a sequence of
        item-id sequences (oldest first) or a sparse matrix over this index's rows; returns
        arrays [users, k], short rows padded with id -1 and score ``-inf``."""
        k = _check_k(k)
        opts = self.scoring if scoring is None else self._scoring_options(scoring)
        return recommend_ids(self.scorer, self._ids, histories, k, exclude, opts)

    def resolve(self, items: Iterable[ItemRef], *, strict: bool = False) -> tuple[list[int], list[ItemRef]]:
        """Rows of the known items and the unknown ones, as given; ``strict``: raise
        UnknownItemError for the first unknown one instead."""
        if isinstance(items, (str, bytes, int, np.integer)):
            raise ParameterError("Pass several items as a list, e.g. watched=[260, 1196].")
        rows, unknown = [], []
        for item in items:
            row = self._find(item)
            if row is not None:
                rows.append(row)
            elif strict:
                raise self._unknown(item)
            else:
                unknown.append(item)
        return rows, unknown

    def _nothing_to_recommend(self, watched, unknown: list) -> UnknownItemError:
        if len(unknown) == 1:
            return UnknownItemError(f"The one watched item is not in the index, so there is nothing to recommend "
                                    f"from: {self._unknown(unknown[0])}")
        count = f"{len(watched)} " if watched else ""
        return UnknownItemError(f"None of the {count}watched items is in the index, so there is nothing to "
                                "recommend from.")

    def _scoring_options(self, scoring) -> ScoringOptions:
        try:
            return self.scorer.check_options(scoring)
        except ParameterError:
            if ScoringOptions.from_value(scoring).needs_likes and self._likes is None:
                raise ParameterError("This artifact records no likes (items.csv has no likes column), so it "
                                     "supports plain cosine only: popularity_weight 0 and fallback 'none'.") from None
            raise

    def _hits(self, cols: np.ndarray, scores: np.ndarray) -> tuple[Hit, ...]:
        """Hits of the valid scored columns (-1 pads a short list; a column past the index's rows
        is a popular item without a vector)."""
        keep = cols >= 0
        cols, scores = cols[keep], scores[keep]
        ids = self._ids.item_ids[cols].tolist()
        n = len(self)
        return tuple(Hit(m, self.titles[c] if c < n else self._extra_titles.get(m) or self.catalogue.get(m)
                         or f"item {m}", s) for m, c, s in zip(ids, cols.tolist(), scores.tolist()))


def _stem(title: str) -> str:
    """A title for spelling comparison: lower case, no "(year)", no leading or trailing article."""
    return _ARTICLE.sub("", _YEAR.sub("", title.strip().lower())).strip()


def _id_value(item) -> int | None:
    """An item id (an int, or a string of digits) as an int, or None past the 64-bit range
    (a 5,000-digit string is not parsed: Python refuses such ints)."""
    if isinstance(item, str):
        digits = item.strip().lstrip("0") or "0"
        if len(digits) > 19:
            return None
        item = int(digits)
    value = int(item)
    return value if -(2**63) <= value < 2**63 else None


def _id_text(item) -> str:
    """An id too large for int64, shown in at most a short excerpt."""
    if isinstance(item, str):
        return f"{excerpt(item.strip(), 24)}"
    return f"of {int(item).bit_length()} bits"


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ParameterError(f"k must be an integer from 1 to {MAX_K}; got {k!r}.")
    return int(k)


def _as_list(items):
    return items if isinstance(items, (str, bytes, int, np.integer)) else list(items)


def _ids_of(items: Iterable) -> list[int]:
    """The integer ids among ``items`` (titles, and ids past 64 bits that no index holds, are skipped)."""
    return [int(m) for m in items if isinstance(m, (int, np.integer)) and not isinstance(m, bool)
            and -2 ** 63 <= int(m) < 2 ** 63]


def _dedupe(items: list) -> list:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _manifest_scoring(manifest: dict) -> dict:
    """The recorded configuration's ``scoring`` (keys this version does not know are ignored)."""
    raw = manifest_config(manifest).get("scoring") or {}
    if not isinstance(raw, dict):
        raise ArtifactError(f"manifest.json's scoring must be an object; got {raw!r}.")
    known = ScoringOptions.__dataclass_fields__
    return {key: value for key, value in raw.items() if key in known}

