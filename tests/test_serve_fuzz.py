"""Fuzz the real server from its own OpenAPI schema (schemathesis): no input gives a 5xx.

Positive and negative cases for every operation, bounded in examples so the test stays
within seconds. The schema is the app's own ``openapi()``; the requests go over HTTP to
the same ``python -m recgraph.serve`` subprocess as in tests/test_serve.py.

(``schemathesis.pytest.from_fixture`` would load the schema from the running server, but
schemathesis 4.32 sets ``request.node._nodeid`` there, which pytest 9 no longer has; the
schema is built at import instead, from a tiny artifact in a temporary directory.)
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
schemathesis = pytest.importorskip("schemathesis", minversion="4.0")

from hypothesis import HealthCheck, settings  # noqa: E402  (schemathesis brings hypothesis)
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_serve import make_artifact, running_server  # noqa: E402

from recgraph.serve.app import create_app  # noqa: E402

MAX_EXAMPLES = 30

_ROOT = Path(tempfile.mkdtemp(prefix="recgraph-fuzz-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
make_artifact(_ROOT / "v1", seed=3)
schema = schemathesis.openapi.from_dict(create_app(_ROOT / "v1", reload_interval=0).openapi())
schema.config.generation.update(max_examples=MAX_EXAMPLES)


@pytest.fixture(scope="module")
def fuzz_server():
    yield from running_server(_ROOT / "v1", _ROOT / "server.log")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzz_server):
    # Besides "no 5xx": every status code is documented, and 2xx bodies match their schema.
    case.call_and_validate(base_url=fuzz_server.base,
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
