"""Write the artifact other services query: an Annoy index plus its metadata.

Directory layout (``docs/artifact.md`` documents it for other languages)::

    index.ann        Annoy index, angular metric; Annoy item i is row i of items.csv
    embeddings.npy   float32 [n_items, dim]; row i is Annoy item i
    items.csv        index,movie_id,title,genres[,likes]
    popular.csv      movie_id,title,likes: the most liked movies (optional; for the fallback)
    manifest.json    format, parameters, scoring, graph stats, timings, checksums

Writes are atomic: everything is built in a temporary directory beside the target,
then renamed into place; a failure leaves an existing directory untouched.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .artifact_format import (
    ARTIFACT_FILES,
    EMBEDDINGS_FILE,
    FORMAT_VERSION,
    INDEX_FILE,
    ITEM_COLUMNS,
    ITEMS_FILE,
    LIKES_COLUMN,
    MANIFEST_FILE,
    METRIC,
    POPULAR_COLUMNS,
    POPULAR_FILE,
    file_digest,
)
from .errors import ArtifactError, ParameterError
from .scoring import POPULAR_SIZE, ScoringOptions
from .validation import check_int

logger = logging.getLogger(__name__)

def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    return file_digest(path, "sha256")


def check_output_dir(
    out_dir: str | os.PathLike,
    marker: str = MANIFEST_FILE,
    marker_keys: tuple[str, ...] = ("format_version", "files"),
    allowed: frozenset[str] = ARTIFACT_FILES,
) -> Path:
    """Refuse an output directory we would destroy.

    It must be absent, empty, or something recgraph wrote: ``marker`` is a JSON object
    with ``marker_keys`` and every entry is one of ``allowed``. A symbolic link is refused
    too: replacing it would turn the link into a directory (the roll-out recipe in
    docs/serving.md writes each version to its own directory, then switches the link).
    """
    out = Path(out_dir).expanduser()
    if out.is_symlink():
        raise ArtifactError(
            f"Output {out} is a symbolic link; write to a new directory and switch the link to it "
            "(see docs/serving.md)."
        )
    if out.exists():
        if not out.is_dir():
            raise ArtifactError(f"Output {out} exists and is not a directory; choose another --out.")
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            refuse = (f"Output directory {out} is not empty and is not something recgraph wrote; refusing to "
                      "replace it (choose a new or empty directory)")
            if not _is_marker(out / marker, marker_keys):
                raise ArtifactError(f"{refuse}.")
            foreign = [name for name in entries if name not in allowed]
            if foreign:
                raise ArtifactError(f"{refuse}: it also holds {', '.join(foreign[:5])}.")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise ArtifactError(f"Cannot write into {parent}: permission denied.")
    return out


def _is_marker(path: Path, keys: tuple[str, ...]) -> bool:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and all(k in payload for k in keys)


def write_artifact(
    out_dir: str | os.PathLike,
    embeddings: np.ndarray,
    movie_ids: np.ndarray,
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
) -> dict:
    """Build the artifact in a temporary directory beside ``out_dir``, then rename it into place.

    Parameters
    ----------
    embeddings : float32 [n_items, dim]; row i becomes Annoy item i.
    movie_ids, titles, genres : one per row.
    manifest : keys to record (backend, params, graph, timings_s, data, ...); the
        format, metric, sizes and checksums are added here.
    extra_files : more files to place in the directory (e.g. ``loss.png``).
    likes : int [n_items], users who liked each movie (training rating >= 4.0); written as
        a fifth ``likes`` column of items.csv. None: no such column.
    popular : ``(movie_id, title, likes)`` rows, any movie (also ones not in the index);
        the ``POPULAR_SIZE`` most liked (ties by movie id) are written to popular.csv.
    scoring : :class:`~recgraph.scoring.ScoringOptions` (or its dict) recorded in the
        manifest and applied by ``ItemIndex.recommend``; None: plain cosine. A popularity
        weight or the ``"popular"`` fallback needs ``likes``.
    final_timings : called once everything but the manifest is written; its dict becomes
        the manifest's ``timings_s`` (so the index stage and the total are in the one
        atomic write).

    Returns
    -------
    The manifest as written.
    """
    from annoy import AnnoyIndex

    out = check_output_dir(out_dir)
    n_trees = check_int("n_trees", n_trees)
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    n_items, dim = embeddings.shape
    if not (len(movie_ids) == len(titles) == len(genres) == n_items):
        raise ParameterError("movie_ids, titles and genres must have one entry per embedding row.")
    if not np.all(np.isfinite(embeddings)):
        raise ArtifactError("The embeddings hold NaN or infinite values; training diverged (lower the learning rate).")
    scoring = ScoringOptions.from_value(scoring)
    if likes is not None:
        likes = np.asarray(likes)
        if likes.shape != (n_items,) or (likes.size and (np.any(likes < 0) or np.any(likes != np.round(likes)))):
            raise ParameterError("likes must hold one non-negative integer per embedding row.")
        likes = likes.astype(np.int64)
    elif scoring.needs_likes:
        raise ParameterError("A popularity_weight > 0 or fallback 'popular' needs the items' likes.")
    popular_rows = None
    if popular is not None:
        popular_rows = sorted(((int(m), str(t), int(n)) for m, t, n in popular), key=lambda r: (-r[2], r[0]))
        popular_rows = [r for r in popular_rows if r[2] > 0][:POPULAR_SIZE]
    tmp = staging_dir(out)
    try:
        index = AnnoyIndex(dim, METRIC)
        if seed is not None:
            index.set_seed(int(seed) % (2**31 - 1))
        for i in range(n_items):  # Annoy only adds one item per call
            index.add_item(i, embeddings[i])
        index.build(n_trees)
        index.save(str(tmp / INDEX_FILE))
        index.unload()
        np.save(tmp / EMBEDDINGS_FILE, embeddings)
        with open(tmp / ITEMS_FILE, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if likes is None:
                writer.writerow(ITEM_COLUMNS)
                writer.writerows(zip(range(n_items), np.asarray(movie_ids).tolist(), titles, genres))
            else:
                writer.writerow(ITEM_COLUMNS + (LIKES_COLUMN,))
                writer.writerows(zip(range(n_items), np.asarray(movie_ids).tolist(), titles, genres, likes.tolist()))
        names = [INDEX_FILE, EMBEDDINGS_FILE, ITEMS_FILE]
        if popular_rows is not None:
            with open(tmp / POPULAR_FILE, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(POPULAR_COLUMNS)
                writer.writerows(popular_rows)
            names.append(POPULAR_FILE)
        for name, payload in (extra_files or {}).items():
            (tmp / name).write_bytes(payload)
        full = dict(manifest)
        full.update(
            format_version=FORMAT_VERSION,
            metric=METRIC,
            dim=int(dim),
            n_items=int(n_items),
            n_trees=n_trees,
            recgraph_version=__version__,
            created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            scoring=scoring.to_dict(),
            files={name: {"size": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)} for name in names},
        )
        full["artifact_id"] = full["files"][INDEX_FILE]["sha256"][:12]
        if final_timings is not None:
            full["timings_s"] = final_timings()
        (tmp / MANIFEST_FILE).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote artifact %s (%d items, dim %d)", out, n_items, dim)
    return full


def staging_dir(out: Path) -> Path:
    """A temporary directory beside ``out`` (same filesystem, so the final rename is atomic).

    ``mkdtemp`` makes it private (0700); give it the permissions a plain ``mkdir`` would,
    since other services read the artifact.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is swapped out, then removed."""
    if not target.exists():
        os.rename(new, target)
        return
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)  # put the previous artifact back
        raise
    shutil.rmtree(old, ignore_errors=True)
