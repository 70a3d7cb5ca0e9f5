"""Serve an index over HTTP: ``recgraph serve --index DIR`` (the ``serve`` extra).

Importing this package loads neither FastAPI nor uvicorn; :func:`create_app` does.

>>> from recgraph.serve import create_app
>>> app = create_app("artifacts/ml-small")   # a FastAPI app; run it with uvicorn
"""

from __future__ import annotations

from .command import DEFAULT_WORKERS, add_parser, run

__all__ = ["DEFAULT_WORKERS", "add_parser", "create_app", "run"]


def create_app(*args, **kwargs):
    """The FastAPI app; see :func:`recgraph.serve.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)
