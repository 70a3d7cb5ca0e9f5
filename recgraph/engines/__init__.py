"""Graph engines: one interface, several engines, imported only when chosen.

An engine builds every graph view from a log and hands back tables
(:class:`recgraph.graph_store.GraphTables`); it never writes the graph directory itself:
:func:`recgraph.graph_store.write_graph` does, for every engine. ``numpy`` builds in memory
on this machine; ``spark`` builds with Spark SQL, for logs past one machine (docs/spark.md).

>>> manifest = build_graph("spark", "ratings/", "graph/", [GraphParams(5.0, 10.0)], master="local[2]")
>>> with get_engine("numpy") as engine:
...     output = engine.output("graph/")             # the target is checked before any work
...     with engine.build("ml.zip", views, log={}) as tables:
...         manifest = write_graph(output, tables, views, engine.name)
"""

from __future__ import annotations

import importlib
from typing import Mapping, Sequence

from ..errors import MissingDependencyError, ParameterError
from .base import GraphEngine, run_engine, view_params

#: Engine name -> (module, class, pip extra that brings its dependencies or None).
ENGINES: dict[str, tuple[str, str, str | None]] = {
    "numpy": ("recgraph.engines.numpy_engine", "NumpyEngine", None),
    "spark": ("recgraph.engines.spark", "SparkEngine", "spark"),
}


def available_engines() -> list[str]:
    """Names accepted by :func:`get_engine`."""
    return sorted(ENGINES)


def get_engine(name: str, **options) -> GraphEngine:
    """The engine registered as ``name``, made with its keyword ``options`` (Spark: ``master``,
    ``spark_conf``, ``shuffle_partitions``, ``driver_memory``, ``spark``)."""
    if name not in ENGINES:
        raise ParameterError(f"Unknown graph engine {name!r}; available: {', '.join(available_engines())}.")
    module_name, class_name, extra = ENGINES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if isinstance(exc, MissingDependencyError):
            raise
        hint = f"pip install 'recgraph[{extra}]'" if extra else "pip install recgraph"
        raise MissingDependencyError(f"The {name} engine needs {getattr(exc, 'name', None) or exc}, which is not "
                                     f"installed; install it with {hint}.") from None
    return getattr(module, class_name)(**options)


def build_graph(engine: str | GraphEngine, source, out_dir, views: Sequence, log: Mapping | None = None,
                **options) -> dict:
    """Build ``views`` from ``source`` with ``engine`` and write the graph directory ``out_dir``.

    ``engine`` is a name (made with ``options``) or an engine object. The output is checked
    before the log is read. Returns the manifest written.
    """
    if isinstance(engine, str):
        engine = get_engine(engine, **options)
    elif options:
        raise ParameterError(f"Engine options {', '.join(sorted(options))} go with an engine name, not an engine.")
    return run_engine(engine, source, out_dir, views, log)


__all__ = ["ENGINES", "GraphEngine", "available_engines", "build_graph", "get_engine", "run_engine", "view_params"]
