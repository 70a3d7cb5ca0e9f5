"""The graph engine interface, and building a graph directory with an engine.

Every engine (:mod:`recgraph.engines`) builds the views and hands back tables; the one
writer (:func:`recgraph.graph_store.write_graph`) writes them, whoever built them.
"""

from __future__ import annotations

from typing import ContextManager, Mapping, Protocol, Sequence

from ..config import GraphParams, _section
from ..errors import ParameterError
from ..graph_store import GraphOutput, GraphTables, write_graph


class GraphEngine(Protocol):
    """What every graph engine implements.

    Used as a context manager: entering starts what the engine runs on (a Spark session),
    leaving stops what it started.
    """

    name: str

    def __enter__(self) -> "GraphEngine": ...

    def __exit__(self, *exc) -> None: ...

    def output(self, out_dir) -> GraphOutput:
        """The checked output for ``out_dir`` (refused, in one sentence, before any work)."""
        ...

    def build(self, source, views: Sequence[GraphParams], log: Mapping | None = None) -> ContextManager[GraphTables]:
        """Build ``views`` from the log ``source`` (read with ``log``'s options: column names,
        items table); the tables are valid inside the ``with`` block."""
        ...


def view_params(view) -> GraphParams:
    """One graph view as :class:`recgraph.config.GraphParams` (the one place graph parameters are
    checked), from a GraphParams or a table of its fields; an unknown field is one sentence."""
    if isinstance(view, GraphParams):
        return view
    return _section(GraphParams, "graph", dict(view) if isinstance(view, Mapping) else dict(vars(view)))


def run_engine(engine: GraphEngine, source, out_dir, views: Sequence, log: Mapping | None = None) -> dict:
    """Build ``views`` from ``source`` with ``engine`` and write the graph directory ``out_dir``:
    the output is checked before the log is read. Returns the manifest written."""
    checked = [view_params(v) for v in views]
    if not checked:
        raise ParameterError("views is empty; give at least one graph view's parameters.")
    with engine as running:
        output = running.output(out_dir)
        with running.build(source, checked, log) as tables:
            return write_graph(output, tables, checked, running.name)
