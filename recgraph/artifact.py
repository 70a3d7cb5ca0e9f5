"""The artifact other services query: its format, its writer and its reader, in one place.

Directory layout (``docs/artifact.md`` documents it for other languages)::

    index.ann        Annoy index, angular metric; Annoy item i is row i of items.csv
    embeddings.npy   float32 [n_items, dim]; row i is Annoy item i
    items.csv        index,item_id,title,genres[,likes]
    popular.csv      item_id,title,likes: the most liked items (optional; for the fallback)
    catalogue.csv    item_id,title: every item of the training log, also those not in the
                     graph (optional; so a query can tell "not in the graph" from a typo)
    manifest.json    format, parameters, scoring, graph stats, timings, checksums

:func:`write_artifact` builds everything in a temporary directory beside the target, then
renames it into place; a failure leaves an existing directory untouched.
:func:`read_artifact` opens one and checks every file against the manifest. The CSVs' id
column is ``item_id``; the reader also takes ``movie_id``, its name in artifacts written by 0.1.

Light on purpose (numpy, and annoy inside the functions that need it; no pandas):
:mod:`recgraph.index` imports it.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Final, Iterable, Literal, Mapping, TypedDict

import numpy as np

from ._version import __version__
from .atomic import replace_dir, staging_dir  # noqa: F401  (re-exported: the artifact's own staging)
from .errors import ArtifactError, ParameterError, excerpt
from .scoring import POPULAR_SIZE, ScoringOptions
from .validation import check_int

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------- format
#: Version 2 records the run's configuration once, under ``config``; version 1 (recgraph
#: 0.1) also kept copies of it (``params``, ``backend``, ``seed``, ``preset``, ``scoring``,
#: ``n_trees``). Both load; :func:`manifest_config` reads the configuration of either.
FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
METRIC: Final[Literal["angular"]] = "angular"
INDEX_FILE = "index.ann"
EMBEDDINGS_FILE = "embeddings.npy"
ITEMS_FILE = "items.csv"
POPULAR_FILE = "popular.csv"
CATALOGUE_FILE = "catalogue.csv"
#: The fitted user model of the "blend" scoring (recgraph.user_model): arrays, no pickles.
USER_MODEL_FILE = "user_model.npz"
#: Its arrays (dtype kind, dimensions): unit vectors, the subspace map, popularity, the blend's
#: weights and fit settings, and the normalised item graph as CSR arrays.
USER_MODEL_ARRAYS = {"e": ("f", 2), "w": ("f", 2), "popularity": ("f", 1), "weights": ("f", 1), "lam": ("f", 0),
                     "eps": ("f", 0), "edge_power": ("f", 0), "graph_indptr": ("i", 1), "graph_indices": ("i", 1),
                     "graph_data": ("f", 1)}
MANIFEST_FILE = "manifest.json"
LOSS_PLOT_FILE = "loss.png"
ITEM_COLUMNS = ("index", "item_id", "title", "genres")
LIKES_COLUMN = "likes"
POPULAR_COLUMNS = ("item_id", "title", "likes")
CATALOGUE_COLUMNS = ("item_id", "title")
#: The id column's name in the CSVs of artifacts written by recgraph 0.1 (still read).
LEGACY_ID_COLUMN = "movie_id"
#: Files every artifact has, and files it may have (checked against the manifest when present).
REQUIRED_FILES = (INDEX_FILE, EMBEDDINGS_FILE, ITEMS_FILE)
OPTIONAL_FILES = (POPULAR_FILE, CATALOGUE_FILE, USER_MODEL_FILE)
#: Every file recgraph may write into an artifact directory.
ARTIFACT_FILES = frozenset(REQUIRED_FILES + OPTIONAL_FILES + (MANIFEST_FILE, LOSS_PLOT_FILE))
#: The ``kind`` in a graph directory's manifest (:data:`recgraph.graph_store.GRAPH_KIND`), so an
#: artifact's reader and output check can tell one apart without importing pyarrow.
GRAPH_KIND = "recgraph-graph"


class FileRecord(TypedDict):
    """A file's entry in the manifest's ``files``."""

    size: int
    sha256: str


class Manifest(TypedDict, total=False):
    """``manifest.json``, format 2 (``docs/artifact.md``). ``config`` is the run's whole
    configuration (:meth:`recgraph.config.RunConfig.to_dict`), recorded once; the rest are
    facts of the files and of the run."""

    format_version: int
    artifact_id: str
    config: dict          # preset, seed, graph (views), walks, trainer, scoring, index
    metric: str
    dim: int
    n_items: int
    graph: dict           # statistics: nodes, edges, avg_degree (+ views, items)
    data: dict            # source, md5, implicit, has_titles, columns, rows, users, items
    walks_sha256: str
    training: dict
    loss: list
    timings_s: dict
    recgraph_version: str
    created_at: str
    files: dict[str, FileRecord]


#: Trainer parameters a configuration never records: the run's seed decides the trainer's.
_RUN_LEVEL_TRAINER_PARAMS = ("seed", "show_progress")


def manifest_config(manifest: Mapping) -> dict:
    """The configuration an artifact was trained with, in
    :meth:`recgraph.config.RunConfig.to_dict`'s shape, whatever the manifest's format.

    Format 2 records it once under ``config``. Format 1 kept it in several places; this
    reads them in one way: ``config`` when present (its ``trainer.params`` become the
    backend's own table), else rebuilt from ``params``, ``backend``, ``seed`` and
    ``preset``, with ``scoring`` and ``n_trees`` from the top level. Sections the manifest
    does not hold are left out (the preset's apply: :meth:`RunConfig.from_manifest`). A
    plain dict, light (no pandas): :mod:`recgraph.index` and the service read it.
    """
    recorded = manifest.get("config")
    if manifest.get("format_version") != 1:
        config = json.loads(json.dumps(recorded)) if isinstance(recorded, Mapping) else {}
        return _scoring_as_written(config)
    if isinstance(recorded, Mapping):
        config = json.loads(json.dumps(recorded))
    else:  # written before the manifest recorded its configuration
        params = manifest.get("params") or {}
        config = {"preset": manifest.get("preset"), "seed": manifest.get("seed"),
                  "graph": params.get("views") or ([params["graph"]] if params.get("graph") else None),
                  "walks": params.get("walks"),
                  "trainer": {"backend": manifest.get("backend", "gensim"), "params": params.get("trainer") or {}}}
        if "n_trees" in params:
            config["index"] = {"n_trees": params["n_trees"]}
        config = {k: v for k, v in config.items() if v is not None or k == "seed"}
    trainer = config.get("trainer")
    if isinstance(trainer, dict) and "params" in trainer:
        backend = trainer.get("backend") or "gensim"
        own = {k: v for k, v in (trainer.pop("params") or {}).items() if k not in _RUN_LEVEL_TRAINER_PARAMS}
        if "drop_positive_negatives" in own:  # 0.1's name, with the opposite sense
            own["keep_cooccurring_negatives"] = not own.pop("drop_positive_negatives")
        trainer[backend] = own
    if config.get("preset") is None:  # 0.1 ran without a preset on the class defaults: showcase
        config.pop("preset", None)
    if "scoring" not in config and isinstance(manifest.get("scoring"), Mapping):
        config["scoring"] = dict(manifest["scoring"])
    if "index" not in config and isinstance(manifest.get("n_trees"), int):
        config["index"] = {"n_trees": manifest["n_trees"]}
    return _scoring_as_written(config)


def _scoring_as_written(config: dict) -> dict:
    """A recorded scoring without a ``method`` was written before there was another: cosine (so
    a preset's newer method never applies to an artifact that lacks its files)."""
    if isinstance(config.get("scoring"), dict):
        config["scoring"].setdefault("method", "cosine")
        config["scoring"].setdefault("search", False)
    return config


#: Longest field (a title, genres) the CSV files of an artifact hold, in characters: the
#: writer refuses longer ones and the reader reads up to this (Python's csv default is 131,072).
MAX_FIELD_CHARS = 1 << 20
#: Largest manifest.json the reader parses, in bytes.
MAX_MANIFEST_BYTES = 16 << 20


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    return file_digest(path, "sha256")


# ---------------------------------------------------------------------- output checks
def check_output_dir(
    out_dir: str | os.PathLike,
    marker: str = MANIFEST_FILE,
    marker_keys: tuple[str, ...] = ("format_version", "files"),
    allowed: frozenset[str] | Callable[[str], object] = ARTIFACT_FILES,
    is_ours: Callable[[Path], bool] | None = None,
    what: str = "an artifact recgraph wrote",
) -> Path:
    """Refuse, before any work, an output directory we could not write or would destroy.

    It must be absent, empty, or something recgraph wrote: ``marker`` is a JSON object
    with ``marker_keys`` (or ``is_ours(directory)`` holds) and every entry is one of
    ``allowed`` (a set of names, or a test of a name); ``what`` names such a directory in
    the refusal. Every folder above it that
    exists must be a directory (``--out notes.txt/run`` names ``notes.txt`` as a file) and
    the nearest one writable. A symbolic link is refused too: replacing it would turn the
    link into a directory (the roll-out recipe in docs/serving.md writes each version to
    its own directory, then switches the link).
    """
    out = Path(out_dir).expanduser()
    if out.is_symlink():
        raise ArtifactError(
            f"Output {out} is a symbolic link; write to a new directory and switch the link to it "
            "(see docs/serving.md)."
        )
    if out.exists() or out.is_file():
        if not out.is_dir():
            raise ArtifactError(f"Output {out} is a file, not a directory; choose another --out.")
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            refuse = (f"Output directory {out} is not empty and is not {what}; refusing to "
                      "replace it (choose a new or empty directory)")
            ours = is_ours(out) if is_ours is not None else _is_marker(out / marker, marker_keys)
            if ours and marker == MANIFEST_FILE and is_ours is None and _is_graph_dir(out):
                ours = False  # a graph directory has a manifest with files too
            if not ours:
                if is_ours is None and _is_graph_dir(out):
                    raise ArtifactError(f"Output directory {out} is a graph directory (written by 'recgraph graph'), "
                                        f"not {what}; refusing to replace it (train from it with "
                                        f"'recgraph train --graph {out} --out NEW_DIR').")
                raise ArtifactError(f"{refuse}.")
            known = allowed if callable(allowed) else allowed.__contains__
            foreign = [name for name in entries if not known(name)]
            if foreign:
                raise ArtifactError(f"{refuse}: it also holds {', '.join(foreign[:5])}.")
    parent = _nearest_existing_parent(out)
    if not parent.is_dir():
        raise ArtifactError(f"Output {out} cannot be created: {parent} is a file, not a directory; "
                            "choose another --out.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ArtifactError(f"Cannot write into {parent}: permission denied; choose another --out.")
    return out


def check_output_file(path: str | os.PathLike, flag: str = "--json") -> Path:
    """Refuse, before any work, an output file that could not be written (a report, a JSON
    dump): every folder above it that exists must be a directory, the nearest one writable,
    and ``path`` itself must not be a directory. ``flag`` names the option in the sentence."""
    out = Path(path).expanduser()
    if out.is_dir():
        raise ArtifactError(f"{flag} {out} is a directory, not a file; name a file to write.")
    parent = _nearest_existing_parent(out)
    if not parent.is_dir():
        raise ArtifactError(f"{flag} {out} cannot be created: {parent} is a file, not a directory.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ArtifactError(f"Cannot write {flag} {out} into {parent}: permission denied.")
    return out


def _nearest_existing_parent(path: Path) -> Path:
    """The closest folder above ``path`` that exists (or is a file in its way)."""
    for parent in path.absolute().parents:
        if parent.exists() or parent.is_symlink():
            return parent
    return Path(path.absolute().anchor)


def _is_graph_dir(directory: Path) -> bool:
    """Whether ``directory``'s manifest.json is a graph directory's (``recgraph graph``)."""
    try:
        payload = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and payload.get("kind") == GRAPH_KIND


def _is_marker(path: Path, keys: tuple[str, ...]) -> bool:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and all(k in payload for k in keys)


# ---------------------------------------------------------------------- writer
def write_artifact(
    out_dir: str | os.PathLike,
    embeddings: np.ndarray,
    item_ids: np.ndarray,
    titles: list[str],
    genres: list[str],
    manifest: dict,
    n_trees: int = 50,
    seed: int | None = None,
    extra_files: dict[str, bytes] | None = None,
    likes: np.ndarray | None = None,
    popular: list[tuple[int, str, int]] | None = None,
    scoring: ScoringOptions | dict | None = None,
    final_timings: Callable[[], dict] | None = None,
    catalogue: Any = None,
    n_jobs: int = -1,
    user_model: dict | None = None,
) -> dict:
    """Build the artifact in a temporary directory beside ``out_dir``, then rename it into place.

    Parameters
    ----------
    embeddings : float32 [n_items, dim]; row i becomes Annoy item i.
    item_ids, titles, genres : one per row.
    manifest : keys to record (:class:`Manifest`: config, graph, data, training,
        timings_s, ...); the format, metric, sizes and checksums are added here, and
        ``config``'s ``scoring`` and ``index`` are set to ``scoring`` and ``n_trees``.
    extra_files : more files to place in the directory (e.g. ``loss.png``).
    likes : int [n_items], users who liked each item (training rating >= 4.0); written as
        a fifth ``likes`` column of items.csv. None: no such column.
    popular : ``(item_id, title, likes)`` rows, any item (also ones not in the index);
        the ``POPULAR_SIZE`` most liked (ties by item id) are written to popular.csv.
    scoring : :class:`~recgraph.scoring.ScoringOptions` (or its dict) recorded in the
        manifest and applied by ``ItemIndex.recommend``; None: plain cosine. A popularity
        weight or the ``"popular"`` fallback needs ``likes``.
    final_timings : called once everything but the manifest is written; its dict becomes
        the manifest's ``timings_s`` (so the index stage and the total are in the one
        atomic write).
    catalogue : every item of the training log, in or out of the graph: a table with
        ``movieId`` (recgraph's internal item column) and ``title`` columns (e.g.
        ``Ratings.movies``) or ``(item_id, title)``
        pairs; written to catalogue.csv. None: no catalogue.
    n_jobs : threads Annoy builds the trees with (-1: every core). With more than one,
        the trees are the same on every run on one machine but land in ``index.ann`` in a
        different order, so the file (and ``artifact_id``) is bit-identical only with 1.

    Returns
    -------
    The manifest as written.
    """
    from annoy import AnnoyIndex

    out = check_output_dir(out_dir)
    n_trees = check_int("n_trees", n_trees)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or not (n_jobs == -1 or n_jobs >= 1):
        raise ParameterError(f"n_jobs must be -1 (every core) or an integer >= 1; got {n_jobs!r}.")
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    n_items, dim = embeddings.shape
    if not (len(item_ids) == len(titles) == len(genres) == n_items):
        raise ParameterError("item_ids, titles and genres must have one entry per embedding row.")
    if not np.all(np.isfinite(embeddings)):
        raise ArtifactError("The embeddings hold NaN or infinite values; training diverged (lower the learning rate).")
    _check_field_lengths(item_ids, titles, genres)
    scoring = ScoringOptions.from_value(scoring)
    if likes is not None:
        likes = np.asarray(likes)
        if likes.shape != (n_items,) or (likes.size and (np.any(likes < 0) or np.any(likes != np.round(likes)))):
            raise ParameterError("likes must hold one non-negative integer per embedding row.")
        likes = likes.astype(np.int64)
    elif scoring.needs_likes:
        raise ParameterError("A popularity_weight > 0 or fallback 'popular' needs the items' likes.")
    if scoring.method == "blend" and user_model is None:
        raise ParameterError("Scoring method 'blend' needs its fitted user model; fit it (recgraph.pipeline.train "
                             "does) or record scoring method 'cosine'.")
    popular_rows = None
    if popular is not None:
        popular_rows = sorted(((int(m), str(t), int(n)) for m, t, n in popular), key=lambda r: (-r[2], r[0]))
        popular_rows = [r for r in popular_rows if r[2] > 0][:POPULAR_SIZE]
    catalogue_rows = None if catalogue is None else _catalogue_rows(catalogue)
    tmp = staging_dir(out)
    try:
        index = AnnoyIndex(dim, METRIC)
        if seed is not None:
            index.set_seed(int(seed) % (2**31 - 1))
        for i, vector in enumerate(embeddings):  # Annoy has no bulk add: one call per item
            index.add_item(i, vector)
        index.build(n_trees, n_jobs=int(n_jobs))
        index.save(str(tmp / INDEX_FILE))
        index.unload()
        np.save(tmp / EMBEDDINGS_FILE, embeddings)
        item_list = np.asarray(item_ids).tolist()
        if likes is None:
            _write_csv(tmp / ITEMS_FILE, ITEM_COLUMNS, zip(range(n_items), item_list, titles, genres))
        else:
            _write_csv(tmp / ITEMS_FILE, ITEM_COLUMNS + (LIKES_COLUMN,),
                       zip(range(n_items), item_list, titles, genres, likes.tolist()))
        names = list(REQUIRED_FILES)
        if popular_rows is not None:
            _write_csv(tmp / POPULAR_FILE, POPULAR_COLUMNS, popular_rows)
            names.append(POPULAR_FILE)
        if catalogue_rows is not None:
            _write_csv(tmp / CATALOGUE_FILE, CATALOGUE_COLUMNS, catalogue_rows)
            names.append(CATALOGUE_FILE)
        if user_model is not None:
            arrays: dict[str, Any] = {k: np.asarray(user_model[k]) for k in USER_MODEL_ARRAYS}
            np.savez(tmp / USER_MODEL_FILE, **arrays)
            names.append(USER_MODEL_FILE)
        for name, payload in (extra_files or {}).items():
            (tmp / name).write_bytes(payload)
        full = dict(manifest)
        # The configuration, once: the index and scoring this artifact was built with are its own.
        config = dict(full.pop("config", None) or {})
        config["scoring"] = scoring.to_dict()
        config["index"] = {**dict(config.get("index") or {}), "n_trees": n_trees}
        full = {"format_version": FORMAT_VERSION, "config": config, **full}
        full.update(
            metric=METRIC,
            dim=int(dim),
            n_items=int(n_items),
            recgraph_version=__version__,
            created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            files={name: {"size": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)} for name in names},
        )
        full["artifact_id"] = full["files"][INDEX_FILE]["sha256"][:12]
        if final_timings is not None:
            full["timings_s"] = final_timings()
        (tmp / MANIFEST_FILE).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        check_readable(tmp, out)
        replace_dir(tmp, out)
    except BaseException as exc:
        failure = _write_failure(exc, tmp, out) if isinstance(exc, OSError) else None
        shutil.rmtree(tmp, ignore_errors=True)
        if failure is not None:
            raise failure from None
        raise
    logger.info("wrote artifact %s (%d items, dim %d)", out, n_items, dim)
    return full


def check_readable(staged: Path, out: Path) -> None:
    """Read the artifact just built in ``staged`` back with :func:`read_artifact` (checksums
    were computed a moment ago, so they are not hashed again): a job never reports success
    for an artifact its own reader would refuse. Nothing is replaced when it would."""
    try:
        files = read_artifact(staged, verify=False)
    except ArtifactError as exc:
        raise ArtifactError(f"The artifact built for {out} could not be read back ({exc}); {out} was left "
                            "unchanged.") from None
    files.annoy.unload()


def _check_field_lengths(item_ids, titles, genres) -> None:
    """Refuse a title or genres longer than :data:`MAX_FIELD_CHARS` (the reader's limit), before any work."""
    for kind, values in (("title", titles), ("genres", genres)):
        for i, value in enumerate(values):
            if len(str(value)) > MAX_FIELD_CHARS:
                raise ParameterError(
                    f"The {kind} of item {item_ids[i]} is {len(str(value)):,} characters long; an artifact "
                    f"stores at most {MAX_FIELD_CHARS:,} per field (shorten it in the items table).")


def _write_failure(exc: OSError, staged: Path, out: Path) -> ArtifactError:
    """One sentence for an OS error while writing the artifact: the file and the cause."""
    name = Path(exc.filename).name if getattr(exc, "filename", None) else None
    if name is None:  # numpy and Annoy name no file: the one being written is the newest
        try:
            written = sorted(staged.iterdir(), key=lambda p: p.stat().st_mtime_ns)
            name = written[-1].name if written else None
        except OSError:
            name = None
    try:
        full = exc.errno == errno.ENOSPC or shutil.disk_usage(out.parent).free < (1 << 20)
    except OSError:
        full = exc.errno == errno.ENOSPC
    cause = (f"the disk holding {out.parent} is full" if full
             else (exc.strerror or str(exc) or type(exc).__name__))
    what = f"{name} of the artifact {out}" if name else f"the artifact {out}"
    return ArtifactError(f"Could not write {what}: {cause}; {out} was left unchanged.")


def _clip(message: object, limit: int = 120) -> str:
    """An exception's text, cut to ``limit`` characters (some quote the hostile input)."""
    text = str(message)
    return text if len(text) <= limit else text[:limit] + "..."


def _catalogue_rows(catalogue: Any) -> list[tuple[int, str]]:
    """``(item_id, title)`` rows sorted by id, one per item, from a table or from pairs."""
    if hasattr(catalogue, "columns"):  # a DataFrame (duck-typed: this module never imports pandas)
        missing = [c for c in ("movieId", "title") if c not in catalogue.columns]
        if missing:
            raise ParameterError(f"The catalogue table needs the columns movieId and title; it lacks {', '.join(missing)}.")
        pairs: Iterable = zip(np.asarray(catalogue["movieId"]).tolist(), catalogue["title"].tolist())
    else:
        pairs = catalogue
    rows: dict[int, str] = {}
    try:
        for item, title in pairs:
            rows.setdefault(int(item), str(title))
    except (TypeError, ValueError):
        raise ParameterError("The catalogue must be a table with movieId and title, or (item_id, title) pairs.") from None
    return sorted(rows.items())


def _write_csv(path: Path, header: tuple[str, ...], rows: Iterable) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


# ---------------------------------------------------------------------- reader
@dataclass(frozen=True)
class ArtifactFiles:
    """The verified contents of an artifact directory (what :func:`read_artifact` returns).

    Attributes
    ----------
    path : the directory, as given.
    manifest : the parsed manifest.json.
    annoy : the loaded (memory-mapped) ``annoy.AnnoyIndex``.
    embeddings : float32 [n_items, dim].
    item_ids : int64 [n_items]; titles, genres : one str per item.
    likes : int64 [n_items], or None when items.csv has no likes column.
    popular : ``(item_id, title, likes)`` rows of popular.csv, or None without the file.
    catalogue : ``(item_id, title)`` rows of catalogue.csv, or None without the file.
    """

    path: Path
    manifest: dict
    annoy: Any
    embeddings: np.ndarray
    item_ids: np.ndarray
    titles: list[str]
    genres: list[str]
    likes: np.ndarray | None
    popular: list[tuple[int, str, int]] | None
    catalogue: list[tuple[int, str]] | None
    user_model: dict | None = None


def read_artifact(path: str | os.PathLike, verify: bool = True) -> ArtifactFiles:
    """Open an artifact directory; with ``verify``, check every file against the manifest.

    Annoy maps the index file into memory, so processes that load the same file share its
    pages. Every problem is one :class:`~recgraph.errors.ArtifactError` sentence; nothing
    outside the directory is read (a file that is a symbolic link leading out of it is
    refused), and an error quotes at most a short excerpt of a file.
    """
    from annoy import AnnoyIndex

    root = Path(path).expanduser()
    manifest_path = root / MANIFEST_FILE
    if root.is_file():
        raise ArtifactError(f"Index {root} is a file, not an artifact directory; pass the directory "
                            "'recgraph train --out' wrote.")
    if not root.is_dir():
        raise ArtifactError(f"Index directory {root} does not exist; train one with 'recgraph train --out {root}'.")
    if not manifest_path.is_file():
        raise ArtifactError(f"{root} holds no {MANIFEST_FILE}; it is not a recgraph artifact.")
    manifest = load_manifest(root)
    if manifest.get("kind") == GRAPH_KIND:
        raise ArtifactError(f"{root} is a graph directory (written by 'recgraph graph'), not an artifact; train from "
                            f"it with 'recgraph train --graph {root} --out DIR' and query DIR.")
    files = manifest.get("files", {})
    for name, record in files.items():
        if name not in REQUIRED_FILES + OPTIONAL_FILES:
            raise ArtifactError(f"{manifest_path} lists a file {excerpt(name)}; an artifact's files are "
                                f"{', '.join(REQUIRED_FILES + OPTIONAL_FILES)}, plain names inside its directory.")
        if not isinstance(record, dict):
            raise ArtifactError(f"{manifest_path}: the record of {name} must be an object with size and sha256.")
    version = manifest.get("format_version")
    if version not in READABLE_FORMAT_VERSIONS or isinstance(version, bool):
        readable = " and ".join(str(v) for v in READABLE_FORMAT_VERSIONS)
        raise ArtifactError(
            f"{manifest_path} has format_version {excerpt(version)}; this recgraph reads versions {readable}."
        )
    for key in ("data", "params", "scoring"):
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise ArtifactError(f"{manifest_path}: {key} must be a JSON object; got {type(manifest[key]).__name__}.")
    if manifest.get("metric", METRIC) != METRIC:
        raise ArtifactError(f"{manifest_path} has metric {excerpt(manifest.get('metric'))}; this recgraph "
                            f"reads {METRIC!r} indexes.")
    dim, n_items = manifest.get("dim"), manifest.get("n_items")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v < 2**31 for v in (dim, n_items)):
        raise ArtifactError(f"{manifest_path}: dim and n_items must be positive integers; got "
                            f"{excerpt(dim, 20)}, {excerpt(n_items, 20)}.")
    dim, n_items = int(dim), int(n_items)  # type: ignore[arg-type]  # checked just above
    present = [name for name in OPTIONAL_FILES if (root / name).is_file() or name in files]
    for name in REQUIRED_FILES + tuple(present):
        _check_file(root, name, files.get(name, {}), verify)
    item_ids, titles, genres, likes = _read_items(root / ITEMS_FILE)
    popular = _read_popular(root / POPULAR_FILE) if POPULAR_FILE in present else None
    catalogue = _read_catalogue(root / CATALOGUE_FILE) if CATALOGUE_FILE in present else None
    user_model = _read_user_model(root / USER_MODEL_FILE) if USER_MODEL_FILE in present else None
    try:
        embeddings = np.load(root / EMBEDDINGS_FILE, mmap_mode="r")
    except Exception as exc:  # noqa: BLE001  (numpy parses the header with ast: SyntaxError, TokenError, ValueError, ...)
        raise ArtifactError(f"{root / EMBEDDINGS_FILE} is not a readable .npy array ({_clip(exc)}).") from None
    if embeddings.shape != (n_items, dim) or len(item_ids) != n_items:
        raise ArtifactError(
            f"{root}: manifest says {n_items} items of dim {dim}, but embeddings.npy is "
            f"{embeddings.shape} and items.csv has {len(item_ids)} rows."
        )
    try:
        vectors = np.asarray(embeddings, dtype=np.float32)
    except (ValueError, TypeError):
        raise ArtifactError(f"{root / EMBEDDINGS_FILE} does not hold numbers.") from None
    if not np.isfinite(vectors).all():
        raise ArtifactError(f"{root / EMBEDDINGS_FILE} holds NaN or infinite values; the file is corrupt.")
    check_annoy_file(root / INDEX_FILE, dim, n_items)
    annoy_index = AnnoyIndex(dim, METRIC)
    try:
        annoy_index.load(str(root / INDEX_FILE))  # mmap; prefault off
    except OSError as exc:
        raise ArtifactError(f"Annoy cannot load {root / INDEX_FILE} ({exc}).") from None
    if annoy_index.get_n_items() != n_items:
        raise ArtifactError(f"{root / INDEX_FILE} holds {annoy_index.get_n_items()} items; the manifest says {n_items}.")
    return ArtifactFiles(root, manifest, annoy_index, vectors, item_ids, titles, genres, likes, popular, catalogue,
                         user_model)


def _read_user_model(path: Path) -> dict:
    """user_model.npz's arrays, each of the kind and rank :data:`USER_MODEL_ARRAYS` says (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files if name in USER_MODEL_ARRAYS}
    except Exception as exc:  # noqa: BLE001  (zip and npy parsing raise many kinds)
        raise ArtifactError(f"{path} is not a readable .npz archive ({_clip(exc)}).") from None
    for name, (kind, ndim) in USER_MODEL_ARRAYS.items():
        array = arrays.get(name)
        if array is None or array.dtype.kind not in (kind, "u" if kind == "i" else kind) or array.ndim != ndim:
            raise ArtifactError(f"{path} lacks a valid {name!r} array; the file is corrupt or from another version.")
    n = arrays["e"].shape[0]
    indptr, indices = arrays["graph_indptr"], arrays["graph_indices"]
    if (arrays["popularity"].shape != (n,) or arrays["weights"].shape not in ((4,), (6,)) or indptr.shape != (n + 1,)
            or int(indptr[-1]) != indices.size or indices.size != arrays["graph_data"].size
            or (indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n)) or np.any(np.diff(indptr) < 0)
            or arrays["w"].shape != (arrays["e"].shape[1],) * 2):
        raise ArtifactError(f"{path}'s arrays do not fit together; the file is corrupt.")
    return arrays


def check_annoy_file(path: Path, dim: int, n_items: int, chunk: int = 1 << 20) -> None:
    """Refuse an ``index.ann`` that Annoy would crash on or loop in (Annoy trusts its file):
    a size that is not a whole number of nodes, an item node that is not a leaf, a leaf list
    naming an item outside ``0 .. n_items - 1``, or a split node whose children do not come
    before it (Annoy writes children first; a pointer forward could make a cycle). Vectorized,
    in chunks of ``chunk`` nodes; reading the file once costs about as much as hashing it."""
    words = 3 + dim  # angular node: n_descendants, children[2], v[dim]; 4 bytes each
    leaf_max = words - 1  # Annoy's _K: item ids a leaf node holds in place of children and vector
    size = path.stat().st_size
    bad = None
    if size == 0 or size % (4 * words):
        bad = f"its {size:,} bytes are not a whole number of {4 * words}-byte nodes"
    else:
        nodes = np.memmap(path, dtype=np.int32, mode="r").reshape(-1, words)
        total = nodes.shape[0]
        if total < n_items:
            bad = f"it holds {total:,} nodes for {n_items:,} items"
        for start in range(0, total, chunk):
            if bad:
                break
            block = np.asarray(nodes[start:start + chunk])
            index = np.arange(start, start + block.shape[0])
            count = block[:, 0]
            item = index < n_items
            children = block[:, 1:]
            leaf = ~item & (count >= 1) & (count <= leaf_max)
            listed = leaf[:, None] & (np.arange(leaf_max)[None, :] < count[:, None])
            split = ~item & (count > leaf_max)
            wrong = (item & (count != 1)) | (~item & (count < 1))
            wrong |= np.any(listed & ((children < 0) | (children >= n_items)), axis=1)
            wrong |= split & np.any((children[:, :2] < 0) | (children[:, :2] >= index[:, None]), axis=1)
            if wrong.any():
                bad = f"node {int(index[np.flatnonzero(wrong)[0]]):,} is malformed"
        del nodes
    if bad:
        raise ArtifactError(f"{path} is not a valid Annoy index of {n_items:,} items of dim {dim}: {bad}; the file "
                            "is corrupt.")


def load_manifest(root: Path, name: str = MANIFEST_FILE) -> dict:
    """The JSON object in ``root/name``, with a ``files`` object; one ArtifactError sentence otherwise
    (also for a file over :data:`MAX_MANIFEST_BYTES`, nesting too deep to parse, or text that is not UTF-8)."""
    where = Path(root) / name
    inside_or_refuse(Path(root), name)
    try:
        size = where.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ArtifactError(f"{where} is {size:,} bytes; a manifest is at most {MAX_MANIFEST_BYTES:,}.")
        manifest = json.loads(where.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ArtifactError(f"{where} is not UTF-8 text; it is not a recgraph manifest.") from None
    except RecursionError:
        raise ArtifactError(f"{where} nests too deeply to be a recgraph manifest.") from None
    except ValueError as exc:
        raise ArtifactError(f"{where} is not valid JSON ({_clip(exc)}).") from None
    except OSError as exc:
        raise ArtifactError(f"Cannot read {where} ({exc.strerror or exc}).") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise ArtifactError(f"{where} is not a recgraph manifest (expected a JSON object with 'files').")
    return manifest


def inside_or_refuse(root: Path, rel: str) -> Path:
    """``root/rel``, refused in one sentence when it is a symbolic link (or below one) that leads
    out of ``root``: a manifest's files are read from inside its directory only."""
    path = root / rel
    if not (path.is_symlink() or any(p.is_symlink() for p in path.parents if p != root and root in p.parents)):
        return path
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    if not inside:
        raise ArtifactError(f"{path} is a symbolic link that leads out of {root}; refusing to read it "
                            "(the files of a recgraph directory live inside it).")
    return path


def _check_file(root: Path, name: str, expected: dict, verify: bool) -> None:
    file_path = inside_or_refuse(root, name)
    if not file_path.is_file():
        raise ArtifactError(f"{file_path} is missing; the artifact is incomplete.")
    if not verify:
        return
    size = file_path.stat().st_size
    if expected.get("size") != size:
        raise ArtifactError(
            f"{file_path} is {size} bytes but the manifest records {excerpt(expected.get('size'), 20)}; "
            "the file is truncated or from another artifact."
        )
    if expected.get("sha256") != file_digest(file_path):
        raise ArtifactError(
            f"{file_path} does not match the SHA-256 in the manifest; the file is corrupt or from another artifact."
        )


def _read_csv(path: Path, header: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    if csv.field_size_limit() < MAX_FIELD_CHARS:  # raised once for the process, never lowered
        csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            first = next(reader, None)
            # 0.1 named the id column movie_id; it is read as item_id.
            legacy = tuple(LEGACY_ID_COLUMN if c == "item_id" else c for c in header)
            if first is None or tuple(first[:len(header)]) not in (header, legacy):
                got = "nothing" if first is None else excerpt(",".join(first))
                raise ArtifactError(f"{path} must start with the header {','.join(header)} (or {','.join(legacy)}, "
                                    f"as recgraph 0.1 wrote it); got {got}.")
            return first, list(reader)
    except UnicodeDecodeError:
        raise ArtifactError(f"{path} is not UTF-8 text; the file is corrupt.") from None
    except csv.Error as exc:
        raise ArtifactError(f"{path} is not a readable CSV file ({_clip(exc)}); fields hold at most "
                            f"{MAX_FIELD_CHARS:,} characters.") from None


def _read_popular(path: Path) -> list[tuple[int, str, int]]:
    _, rows = _read_csv(path, POPULAR_COLUMNS)
    try:
        return [(_int64(r[0]), r[1], _int64(r[2])) for r in rows]
    except (ValueError, IndexError):
        raise ArtifactError(f"{path} has a row whose item_id or likes is not an integer.") from None


def _read_catalogue(path: Path) -> list[tuple[int, str]]:
    _, rows = _read_csv(path, CATALOGUE_COLUMNS)
    try:
        return [(_int64(r[0]), r[1]) for r in rows]
    except (ValueError, IndexError):
        raise ArtifactError(f"{path} has a row whose item_id is not an integer.") from None


def _int64(text: str) -> int:
    """A 64-bit integer written in decimal; ValueError otherwise (also for 5,000 digits)."""
    if len(text) > 21:
        raise ValueError(text[:21])
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(text)
    return value


def _read_items(path: Path) -> tuple[np.ndarray, list[str], list[str], np.ndarray | None]:
    header, rows = _read_csv(path, ITEM_COLUMNS)
    try:
        order = [_int64(r[0]) for r in rows]
        item_ids = np.array([_int64(r[1]) for r in rows], dtype=np.int64)
        titles = [r[2] for r in rows]
    except (ValueError, IndexError):
        raise ArtifactError(f"{path} has a row whose index or item_id is not an integer, or no title.") from None
    if order != list(range(len(rows))):
        raise ArtifactError(f"{path}: the index column must count 0, 1, 2, ... in order.")
    likes = None
    if LIKES_COLUMN in header[len(ITEM_COLUMNS):]:
        col = header.index(LIKES_COLUMN, len(ITEM_COLUMNS))
        try:
            likes = np.array([_int64(r[col]) for r in rows], dtype=np.int64)
        except (ValueError, IndexError):
            raise ArtifactError(f"{path} has a row whose likes is not an integer.") from None
    return item_ids, titles, [r[3] if len(r) > 3 else "" for r in rows], likes
