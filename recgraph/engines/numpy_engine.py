"""The numpy engine: every graph view built in memory on this machine (:mod:`recgraph.graph`).

>>> with NumpyEngine() as engine, engine.build("ml-latest-small.zip", [GraphParams()]) as tables:
...     tables.edges[0].stats
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

from ..catalog import ItemCatalog
from ..config import GraphParams
from ..corpus import build_graphs
from ..graph_store import GraphTables, LocalOutput, edge_table, items_table, local_output
from ..log_source import data_summary, load_log_source


class NumpyEngine:
    """Reads the log with :func:`recgraph.data.load` (or takes loaded :class:`~recgraph.data.Ratings`)
    and builds each view with :func:`recgraph.graph.build_item_graph`; writes to this machine."""

    name = "numpy"

    def __enter__(self) -> "NumpyEngine":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def output(self, out_dir) -> LocalOutput:
        return local_output(out_dir)

    @contextmanager
    def build(self, source, views: Sequence[GraphParams], log: Mapping | None = None) -> Iterator[GraphTables]:
        started = time.perf_counter()
        ratings = load_log_source(source, log)
        read = time.perf_counter() - started
        # A log the caller read first (the CLI checks it before any work) counts its own reading,
        # in the load and in the total.
        earlier = max((ratings.load_s or 0.0) - read, 0.0)
        timings = {"load": round(read + earlier, 3)}
        t = time.perf_counter()
        graphs = build_graphs(ratings, views)
        items = ItemCatalog.from_ratings(ratings)
        timings["graph"] = round(time.perf_counter() - t, 3)
        yield GraphTables([edge_table(g) for g in graphs], items_table(items), data_summary(ratings, log), timings,
                          started=started - earlier)
