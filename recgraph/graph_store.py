"""The graph directory: the item graph as a stage's output, in files any engine can write.

``recgraph graph`` writes it, ``recgraph train --graph DIR`` walks, trains and indexes
from it (``docs/artifact.md``). :func:`write_graph` is its one writer: every graph engine
(:mod:`recgraph.engines`: numpy, Spark) hands it tables and a :class:`GraphOutput`::

    manifest.json      kind "recgraph-graph", format_version, engine, data, views, files
    items.parquet      item_id int64, title string, genres string, likes int64 (every item of the log)
    edges.parquet      view 0: src int64, dst int64, weight float64 (item ids, src < dst, sorted)
    edges-1.parquet    view 1 of a multi-view preset, and so on

Any ``*.parquet`` may be one file or a directory of part files. The directory is written
atomically (built beside the target, then renamed) and never replaces a directory that
recgraph did not write as a graph directory.

>>> write_graph_dir("runs/graph", graphs, views, items, data={"source": "ml.zip", "md5": None})
>>> write_graph(local_output("runs/graph"), tables, views, engine="numpy")   # what write_graph_dir does
>>> stored = read_graph_dir("runs/graph")
>>> stored.graphs[0].stats(), stored.views[0]
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ContextManager, Iterable, Iterator, Literal, Protocol, overload

import numpy as np

from ._version import __version__
from .artifact import (
    MAX_MANIFEST_BYTES,
    check_output_dir,
    excerpt,
    file_digest,
    inside_or_refuse,
)
from .atomic import atomic_dir
from .catalog import ItemCatalog
from .config import GraphParams
from .errors import ArtifactError, MissingDependencyError, ParameterError
from .graph import ItemGraph

logger = logging.getLogger(__name__)

GRAPH_KIND = "recgraph-graph"
GRAPH_FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
ITEMS_FILE = "items.parquet"
ITEM_COLUMNS = ("item_id", "title", "genres", "likes")
EDGE_COLUMNS = ("src", "dst", "weight")
ENGINES = ("numpy", "spark")
#: Top-level names a graph directory may hold.
_ENTRY = re.compile(r"^(manifest\.json|items\.parquet|edges(-[1-9][0-9]*)?\.parquet)$")


def edges_file(view: int) -> str:
    """``edges.parquet`` for view 0, ``edges-<view>.parquet`` for the others."""
    return "edges.parquet" if view == 0 else f"edges-{view}.parquet"


@dataclass(frozen=True, eq=False)
class GraphDir:
    """A graph directory read back: one graph per view, the views' parameters, the items."""

    path: Path
    manifest: dict
    graphs: tuple[ItemGraph, ...]
    views: tuple[GraphParams, ...]
    items: ItemCatalog

    @property
    def data(self) -> dict:
        """The log it was built from (``source``, ``md5``, ``rows``, ...)."""
        return dict(self.manifest.get("data", {}))


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("Graph directories need pyarrow, which is not installed; "
                                     "install it with pip install 'pyarrow>=14'.") from None
    return pa, pq


def edge_arrays(graph: ItemGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(src, dst, weight)`` of each undirected edge once, as item ids with src < dst,
    sorted by (src, dst)."""
    rows = np.repeat(np.arange(graph.num_nodes, dtype=np.int64), graph.degrees())
    upper = rows < graph.indices  # CSR rows are in id order and sorted within, so this is sorted
    return graph.item_ids[rows[upper]], graph.item_ids[graph.indices[upper]], graph.weights[upper]


def graph_from_edges(src, dst, weight, params: dict | None = None) -> ItemGraph:
    """The :class:`ItemGraph` of an edge list in item ids (nodes: every item with an edge,
    by id), exactly the graph :func:`recgraph.graph.build_item_graph` returns for those edges."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if np.any(src >= dst):
        raise ParameterError("Every edge must have src < dst (one row per undirected edge).")
    nodes = np.unique(np.concatenate([src, dst]))
    graph = ItemGraph.from_edges(np.searchsorted(nodes, src), np.searchsorted(nodes, dst),
                                 np.asarray(weight, dtype=np.float64), num_nodes=len(nodes), item_ids=nodes)
    if graph.num_edges != len(src):
        raise ParameterError("The edge list holds the same pair twice.")
    object.__setattr__(graph, "params", dict(params or {}))
    return graph


def check_graph_output(out_dir: str | os.PathLike) -> Path:
    """Refuse a target that is a link, a file (or under one), unwritable, or a non-empty directory
    that is not a graph directory (:func:`recgraph.artifact.check_output_dir`'s rules)."""
    return check_output_dir(out_dir, allowed=_ENTRY.match, is_ours=lambda d: _read_manifest(d, strict=False) is not None,
                            what=GRAPH_DIR_WHAT)


#: How a refusal names a directory the writer may replace.
GRAPH_DIR_WHAT = "a graph directory recgraph wrote"


class Table(Protocol):
    """A table an engine hands the writer; it writes itself as Parquet (a file or a directory
    of parts) at the path the writer names."""

    def write_parquet(self, path: str) -> None: ...


class EdgeTable(Table, Protocol):
    """One graph view's edges: ``src``, ``dst``, ``weight`` (item ids, src < dst, sorted)."""

    stats: dict


@dataclass
class GraphTables:
    """What an engine hands the writer.

    ``edges`` holds one :class:`EdgeTable` per view, in view order; it may be an iterator that
    builds each view when the writer reaches it. ``data`` (the log's record) and ``timings``
    are read after every table is written, so an engine may complete them while writing.
    ``extra`` is the engine's own section of the manifest (e.g. ``{"spark": {...}}``);
    ``started`` is when the engine began (``time.perf_counter()``), for the total time.
    """

    edges: Iterable
    items: Table
    data: dict
    timings: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class ArrowTable:
    """A pyarrow table in memory (the numpy engine's tables)."""

    table: object
    stats: dict = field(default_factory=dict)

    def write_parquet(self, path: str) -> None:
        _, pq = _pyarrow()
        pq.write_table(self.table, path)


def edge_table(graph: ItemGraph) -> ArrowTable:
    """``graph``'s edges as the writer's table (:func:`edge_arrays`), with its stats."""
    pa, _ = _pyarrow()
    src, dst, weight = edge_arrays(graph)
    return ArrowTable(pa.table({"src": pa.array(src, pa.int64()), "dst": pa.array(dst, pa.int64()),
                                "weight": pa.array(weight, pa.float64())}), graph.stats())


def items_table(items: ItemCatalog) -> ArrowTable:
    """Every item of the log (ids, titles, genres, likes) as the writer's table."""
    pa, _ = _pyarrow()
    return ArrowTable(pa.table({"item_id": pa.array(items.item_ids, pa.int64()),
                                "title": pa.array(list(items.titles), pa.string()),
                                "genres": pa.array(list(items.genres), pa.string()),
                                "likes": pa.array(items.likes, pa.int64())}))


class GraphOutput(Protocol):
    """Where a graph directory goes. :class:`LocalOutput` for this machine's file system; an
    engine that reaches others (Spark: ``hdfs://``, ``s3a://``) brings its own. Made only for
    a target that passed the output check."""

    @property
    def location(self) -> str:
        """The target, as messages name it."""
        ...

    def staging(self) -> ContextManager[str]:
        """A temporary directory beside the target; on success it replaces the target, on error
        it is removed."""
        ...

    def join(self, directory: str, name: str) -> str: ...

    def write_text(self, path: str, text: str) -> None: ...

    def file_records(self, directory: str) -> dict:
        """``{relative path: {"size", "sha256"}}`` of every file under ``directory`` but the manifest."""
        ...


@dataclass(frozen=True)
class LocalOutput:
    """A graph directory on this machine: :func:`check_graph_output`'s rules, written through
    :func:`recgraph.atomic.atomic_dir`, every file's SHA-256 listed."""

    path: Path

    @property
    def location(self) -> str:
        return str(self.path)

    @contextmanager
    def staging(self) -> Iterator[str]:
        with atomic_dir(self.path) as tmp:
            yield str(tmp)

    def join(self, directory: str, name: str) -> str:
        return str(Path(directory) / name)

    def write_text(self, path: str, text: str) -> None:
        Path(path).write_text(text, encoding="utf-8")

    def file_records(self, directory: str) -> dict:
        return file_records(Path(directory))


def local_output(out_dir: str | os.PathLike) -> LocalOutput:
    """The checked :class:`LocalOutput` for ``out_dir`` (:func:`check_graph_output`)."""
    return LocalOutput(check_graph_output(out_dir))


def is_graph_manifest(text: str | bytes) -> bool:
    """True when ``text`` is a graph directory's manifest (JSON of kind ``recgraph-graph``)."""
    try:
        payload = json.loads(text)
    except (TypeError, ValueError):
        return False
    return isinstance(payload, dict) and payload.get("kind") == GRAPH_KIND


def is_graph_entry(name: str) -> bool:
    """True for a top-level name a graph directory may hold."""
    return bool(_ENTRY.match(name))


def write_graph(output: GraphOutput, tables: GraphTables, views, engine: str) -> dict:
    """Write an engine's tables as the graph directory ``output``: the one writer of the format.

    Names the files (:func:`edges_file`, :data:`ITEMS_FILE`), writes them into a staging
    directory, lists them with their sizes and checksums in the manifest (written last) and
    swaps the directory into place. Returns the manifest as written.
    """
    views = tuple(views)
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.")
    writing = 0.0  # seconds in the tables' writes (a lazy engine computes between them)
    with output.staging() as tmp:
        records = []
        for i, table in enumerate(tables.edges):
            if i >= len(views):
                raise ParameterError(f"The engine built more edge tables than the {len(views)} view(s) asked for.")
            t = time.perf_counter()
            table.write_parquet(output.join(tmp, edges_file(i)))
            writing += time.perf_counter() - t
            records.append({"params": asdict(views[i]), "stats": dict(table.stats), "edges": edges_file(i)})
        if len(records) != len(views) or not records:
            raise ParameterError(f"write_graph needs one edge table per view; got {len(records)} tables, "
                                 f"{len(views)} views.")
        t = time.perf_counter()
        tables.items.write_parquet(output.join(tmp, ITEMS_FILE))
        writing += time.perf_counter() - t
        timings = {**tables.timings, "write": round(writing, 3),
                   "total": round(time.perf_counter() - tables.started, 3)}
        manifest = {
            "kind": GRAPH_KIND,
            "format_version": GRAPH_FORMAT_VERSION,
            "engine": engine,
            "recgraph_version": __version__,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "data": dict(tables.data),
            "views": records,
            "items": ITEMS_FILE,
            "timings_s": timings,
            **{k: v for k, v in tables.extra.items() if k not in _MANIFEST_KEYS},
            "files": output.file_records(tmp),
        }
        output.write_text(output.join(tmp, MANIFEST_FILE), json.dumps(manifest, indent=2) + "\n")
    logger.info("wrote graph directory %s (%d views)", output.location, len(records))
    return manifest


_MANIFEST_KEYS = frozenset({"kind", "format_version", "engine", "recgraph_version", "created_at", "data", "views",
                            "items", "timings_s", "files"})


def write_graph_dir(out_dir: str | os.PathLike, graphs, views, items: ItemCatalog, data: dict,
                    timings: dict | None = None, engine: str = "numpy") -> dict:
    """Write one graph per view (``views[i]`` built ``graphs[i]``) and the items to ``out_dir``
    (:func:`write_graph` of in-memory graphs).

    Parameters
    ----------
    graphs, views : one :class:`ItemGraph` and one :class:`GraphParams` per view, primary first.
    items : every item of the log (titles, genres, likes).
    data : the log's record: ``source``, ``md5`` and, when known, ``implicit``,
        ``has_titles``, ``columns``, ``rows``, ``users``, ``items``.

    Returns
    -------
    The manifest as written.
    """
    graphs, views = tuple(graphs), tuple(views)
    if not graphs or len(graphs) != len(views):
        raise ParameterError(f"write_graph_dir needs one GraphParams per graph; got {len(graphs)} graphs, "
                             f"{len(views)} views.")
    output = local_output(out_dir)
    return write_graph(output, GraphTables([edge_table(g) for g in graphs], items_table(items), data,
                                           dict(timings or {})), views, engine)


def file_records(root: Path) -> dict:
    """``{relative path: {"size", "sha256"}}`` of every file under ``root`` but the manifest."""
    out = {}
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST_FILE:
            out[rel] = {"size": path.stat().st_size, "sha256": file_digest(path)}
    return out


@overload
def _read_manifest(path: Path, strict: Literal[True] = ...) -> dict: ...
@overload
def _read_manifest(path: Path, strict: bool) -> dict | None: ...
def _read_manifest(path: Path, strict: bool = True) -> dict | None:
    """The graph manifest of ``path``; a refusal when ``strict``, else None where it is not one."""
    where = path / MANIFEST_FILE
    try:
        if where.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"it is over {MAX_MANIFEST_BYTES:,} bytes")
        manifest = json.loads(where.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        if not strict:
            return None
        raise ArtifactError(f"{path} is not a graph directory: it has no {MANIFEST_FILE} "
                            "(write one with 'recgraph graph').") from None
    except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        if not strict:
            return None
        reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
        raise ArtifactError(f"{where} is not readable JSON: {reason}.") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != GRAPH_KIND or "views" not in manifest:
        if not strict:
            return None
        raise ArtifactError(f"{path} is not a graph directory: its {MANIFEST_FILE} is not of kind {GRAPH_KIND!r} "
                            "(an artifact goes to --index, a graph directory to --graph).")
    return manifest


def _member_name(root: Path, value, what: str, nested: bool = False) -> str:
    """A path the manifest names, checked before anything is opened: a plain name of the graph
    directory's layout (``nested``: or a part file below one, ``edges.parquet/part-0.parquet``),
    never absolute, never ``..``; and not a symbolic link that leads out of ``root``."""
    ok = isinstance(value, str) and "\\" not in value and "\x00" not in value
    if ok:
        parts = value.split("/")
        ok = (bool(_ENTRY.match(parts[0])) and parts[0] != MANIFEST_FILE and (nested or len(parts) == 1)
              and all(p not in ("", ".", "..") for p in parts))
    if not ok:
        raise ArtifactError(f"{root}/{MANIFEST_FILE}: {what} {excerpt(value)} is not a file of the graph "
                            "directory; paths in a manifest are names inside it (items.parquet, edges.parquet, "
                            "edges-1.parquet, ...).")
    inside_or_refuse(root, value)
    return value


def _covered(root: Path, name: str, records: dict) -> None:
    """Every file under ``root/name`` must be one the manifest records (so all that is read was checked)."""
    where = root / name
    found = [where] if where.is_file() else sorted(
        p for p in where.rglob("*")
        if p.is_file() and not any(part.startswith(("_", ".")) for part in p.relative_to(where).parts))
    for file in found:  # (pyarrow skips _SUCCESS and other _/. files of a directory of parts)
        rel = file.relative_to(root).as_posix()
        if rel not in records:
            raise ArtifactError(f"{root}/{rel} has no checksum in the manifest; rebuild the graph.")


def read_graph_dir(path: str | os.PathLike, verify: bool = True) -> GraphDir:
    """Read a graph directory (written by ``recgraph graph`` or the Spark engine).

    ``verify`` checks every file's size and SHA-256 against the manifest first.
    """
    _, pq = _pyarrow()
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ArtifactError(f"Graph directory {root} does not exist (write one with 'recgraph graph').")
    manifest = _read_manifest(root)
    version = manifest.get("format_version")
    if version != GRAPH_FORMAT_VERSION:
        raise ArtifactError(f"{root} has graph format_version {version!r}; this recgraph reads "
                            f"version {GRAPH_FORMAT_VERSION}.")
    records = manifest.get("files") or {}
    views_list = manifest["views"]
    if not isinstance(records, dict) or not isinstance(views_list, list) \
            or not all(isinstance(v, dict) and isinstance(v.get("params", {}), dict) for v in views_list):
        raise ArtifactError(f"{root}/{MANIFEST_FILE} is not a graph manifest: files must be an object and views "
                            "a list of objects with params.")
    for rel in records:
        _member_name(root, rel, "the files entry", nested=True)
    items_name = _member_name(root, manifest.get("items", ITEMS_FILE), "items")
    edge_names = [_member_name(root, view.get("edges", edges_file(i)), f"views[{i}].edges")
                  for i, view in enumerate(views_list)]
    if verify:
        for rel, record in records.items():
            file = root / rel
            if not file.is_file():
                raise ArtifactError(f"{root} is incomplete: {rel} is missing.")
            if not isinstance(record, dict) or file.stat().st_size != record.get("size") \
                    or file_digest(file) != record.get("sha256"):
                raise ArtifactError(f"{root}/{rel} does not match the manifest's checksum; rebuild the graph.")
        for name in [items_name, *edge_names]:
            _covered(root, name, records)
    items_table = _read_table(pq, root, items_name, ITEM_COLUMNS)
    ids = items_table["item_id"].to_numpy().astype(np.int64)
    order = np.argsort(ids, kind="stable")
    titles = items_table["title"].to_pylist()
    genres = items_table["genres"].to_pylist()
    items = ItemCatalog(ids[order], tuple(titles[i] or "" for i in order.tolist()),
                        tuple(genres[i] or "" for i in order.tolist()),
                        items_table["likes"].to_numpy().astype(np.int64)[order])
    known = {f.name for f in fields(GraphParams)}
    graphs, views = [], []
    if not views_list:
        raise ArtifactError(f"{root}/{MANIFEST_FILE} lists no graph view.")
    for i, view in enumerate(views_list):
        try:
            params = GraphParams(**{k: v for k, v in view.get("params", {}).items() if k in known})
        except (ParameterError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{root}/{MANIFEST_FILE}: views[{i}].params are not valid ({str(exc)[:120]}).") from None
        table = _read_table(pq, root, edge_names[i], EDGE_COLUMNS)
        try:
            graph = graph_from_edges(table["src"].to_numpy().astype(np.int64),
                                     table["dst"].to_numpy().astype(np.int64),
                                     table["weight"].to_numpy().astype(np.float64), params.to_dict())
        except ParameterError as exc:
            raise ArtifactError(f"{root}/{edge_names[i]}: {exc}") from None
        missing = np.setdiff1d(graph.item_ids, items.item_ids)
        if missing.size:
            raise ArtifactError(f"{root}: item {int(missing[0])} has edges but is not in {ITEMS_FILE}.")
        graphs.append(graph)
        views.append(params)
    return GraphDir(root, manifest, tuple(graphs), tuple(views), items)


def _read_table(pq, root: Path, name: str, columns: tuple[str, ...]):
    where = root / name
    if not where.exists():
        raise ArtifactError(f"{root} is incomplete: {name} is missing.")
    try:
        table = pq.read_table(where)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise ArtifactError(f"{where} is not a readable Parquet file or directory: {exc}.") from None
    absent = [c for c in columns if c not in table.column_names]
    if absent:
        raise ArtifactError(f"{where} lacks column(s) {', '.join(absent)}; it needs {', '.join(columns)}.")
    return table.select(list(columns)).combine_chunks()
