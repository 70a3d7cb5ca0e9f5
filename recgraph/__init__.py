"""recgraph: movie recommendations from node2vec walks over a PMI item graph.

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

This module imports nothing heavy, so ``import recgraph.index`` stays light.
"""

__version__ = "0.2.0"
