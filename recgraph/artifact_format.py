"""Compatibility alias: the artifact's format now lives in :mod:`recgraph.artifact`, beside
its writer and reader. Import from there; this module only re-exports."""

from .artifact import (  # noqa: F401
    ARTIFACT_FILES,
    CATALOGUE_COLUMNS,
    CATALOGUE_FILE,
    EMBEDDINGS_FILE,
    FORMAT_VERSION,
    INDEX_FILE,
    ITEM_COLUMNS,
    ITEMS_FILE,
    LIKES_COLUMN,
    LOSS_PLOT_FILE,
    MANIFEST_FILE,
    METRIC,
    POPULAR_COLUMNS,
    POPULAR_FILE,
    file_digest,
)
