"""The artifact's file names, format version and checksum: shared by writer and reader.

Light on purpose (standard library only): :mod:`recgraph.index` imports it.
"""

from __future__ import annotations

import hashlib
import os

FORMAT_VERSION = 1
METRIC = "angular"
INDEX_FILE = "index.ann"
EMBEDDINGS_FILE = "embeddings.npy"
ITEMS_FILE = "items.csv"
POPULAR_FILE = "popular.csv"
MANIFEST_FILE = "manifest.json"
LOSS_PLOT_FILE = "loss.png"
ITEM_COLUMNS = ("index", "movie_id", "title", "genres")
LIKES_COLUMN = "likes"
POPULAR_COLUMNS = ("movie_id", "title", "likes")
#: Every file recgraph may write into an artifact directory.
ARTIFACT_FILES = frozenset({INDEX_FILE, EMBEDDINGS_FILE, ITEMS_FILE, POPULAR_FILE, MANIFEST_FILE, LOSS_PLOT_FILE})


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
