"""recgraph: recommendations from node2vec walks over a PMI item graph, for any interaction log.

The pipeline, one module per arrow::

    recgraph.data         ratings.csv + movies.csv  -> Ratings
    recgraph.graph        Ratings                   -> ItemGraph (CSR)
    recgraph.graph_store  ItemGraphs + items        <-> graph dir (edges*.parquet, items.parquet, manifest.json)
    recgraph.walks        ItemGraph                 -> int32 walks [num_walks * nodes, walk_length]
    recgraph.trainers     walks                     -> float32 embeddings [nodes, dim]
    recgraph.corpus       graph views (one or more) -> walks per view -> one embedding table
    recgraph.artifact     embeddings                -> artifact dir (index.ann, manifest.json, ...)
    recgraph.index        artifact dir              -> ItemIndex.similar / .recommend

recgraph.config holds the run configuration every stage reads (presets are named ones),
recgraph.pipeline the one training path, recgraph.seeds the run seed's stage streams,
recgraph.atomic the atomic writes, recgraph.commands the command line (recgraph.cli dispatches).

The fitted model, :class:`recgraph.model.Recommender` (``from recgraph import Recommender``),
holds item ids, embeddings and scoring and answers ``recommend``/``similar_items`` in batches.

This module imports nothing heavy (``Recommender`` is imported on first use), so
``import recgraph.index`` stays light.
"""

from ._version import __version__

__all__ = ["Recommender", "__version__"]


def __getattr__(name: str):
    if name == "Recommender":
        from .model import Recommender

        return Recommender
    raise AttributeError(f"module 'recgraph' has no attribute {name!r}")
