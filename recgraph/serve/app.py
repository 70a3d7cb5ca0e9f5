"""The HTTP API over an :class:`~recgraph.index.ItemIndex` (FastAPI app factory).

Every response carries ``X-Recgraph-Artifact: <artifact_id>``, the version that answered it.
Bad input never gives a 5xx: unknown item -> 404, invalid parameter or body -> 422 (a body
that is not UTF-8, or numbers JSON does not have: ``NaN``, ``Infinity``, ``1e400``, included),
too many ids in one call or too large a body (whatever the transfer encoding) -> 413, a POST
body not sent as ``application/json`` -> 415. ``HEAD`` is answered like ``GET`` wherever
``GET`` is, without the body.

Similar and recommend answers are :meth:`recgraph.index.Similar.to_dict` /
:meth:`recgraph.index.Recommendations.to_dict`, the envelope the CLI's ``--json`` prints too
(:class:`Answer` below is its schema).

The hot path is ``GET /v1/similar/{item_id}``: answers are cached per artifact version as
finished bytes under the normalized query (:func:`cache_key`), and a pure-ASGI layer in front
of FastAPI sends a cached answer without routing or validation (``benchmarks/bench_serve.py``
measures it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._version import __version__
from ..artifact import manifest_config
from ..errors import ParameterError, UnknownItemError
from ..index import MAX_K
from .cache import DEFAULT_MAX_BYTES, CachedResponse
from .reloader import IndexHolder, Snapshot

logger = logging.getLogger(__name__)

MAX_BATCH = 100
MAX_WATCHED = 1000
MAX_BODY_BYTES = 64 * 1024
MAX_QUERY_CHARS = 200
CONFIG_ENV = "RECGRAPH_SERVE_CONFIG"
JSON_TYPE = b"application/json"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

try:  # orjson is part of the 'serve' extra; plain json is the fallback
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover - depends on the environment
    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------- schema (OpenAPI)
ItemId = Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX, description="item id, as in the training log (64-bit)")]
TopK = Annotated[StrictInt, Field(ge=1, le=MAX_K, description=f"number of results, 1 to {MAX_K}")]


class Item(BaseModel):
    item_id: int
    title: str


class Hit(BaseModel):
    item_id: int
    title: str
    score: float = Field(description="cosine similarity of the embeddings (1.0 for a title substring match in "
                                     "search); in recommend, plus the artifact's popularity prior")


class Answer(BaseModel):
    """The one envelope of similar and recommend answers (also what ``recgraph similar|recommend --json`` prints)."""

    kind: Literal["similar", "recommend"]
    query: list[Item] = Field(description="the query items found in the index: similar's item; recommend's "
                                          "watched items, in the order given")
    unknown: list[int | str] = Field(description="items of the request (watched or exclude) that are not in the "
                                                 "index: left out of the query, never fatal unless strict")
    results: list[Hit] = Field(description="best first")


class SearchResponse(BaseModel):
    query: str
    results: list[Hit]


class RecommendRequest(BaseModel):
    watched: list[ItemId] = Field(min_length=1,
                                   description=f"item ids the person watched, oldest first (at most {MAX_WATCHED}, else 413); "
                                               "with the artifact's recency scoring the last ones count more")
    k: TopK = 10
    exclude: list[ItemId] = Field(default_factory=list,
                                   description=f"item ids never to return (at most {MAX_WATCHED}, else 413)")
    strict: bool = Field(default=False, description="true: a watched or excluded id not in the index is a 404 "
                                                    "instead of being listed in unknown")


class BatchRequest(BaseModel):
    item_ids: list[ItemId] = Field(min_length=1, description=f"at most {MAX_BATCH} ids, else 413")
    k: TopK = 10


class BatchResponse(BaseModel):
    results: list[Answer] = Field(description="one similar answer per known id, in order")
    unknown: list[int] = Field(description="requested ids that are not in the index (left out of results)")


class Refused(BaseModel):
    path: str = Field(description="the artifact directory the pointer named")
    artifact_id: str | None = Field(description="its manifest's artifact_id, when the manifest could be read")
    reason: str = Field(description="why it was not loaded (one sentence)")
    at: str = Field(description="when it was refused (ISO 8601, UTC)")


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="\"degraded\" while the version the pointer names was "
                                                          "refused and an older one is served (see refused)")
    refused: Refused | None = Field(description="the version refused at the last reload, or null")
    artifact_id: str
    format_version: int
    recgraph_version: str = Field(description="recgraph version that wrote the artifact")
    server_version: str = Field(description="recgraph version of this server")
    created_at: str
    n_items: int


class IndexSummary(BaseModel):
    artifact_id: str
    format_version: int
    backend: str
    metric: str
    dim: int
    n_items: int
    n_trees: int
    seed: int | None
    created_at: str
    recgraph_version: str
    graph: dict[str, Any]


class ErrorBody(BaseModel):
    detail: str
    suggestions: list[str] = Field(default_factory=list, description="close titles, when a title was given")


# Typed as FastAPI's ``responses`` parameter is (keys int | str, values dicts of Any).
Responses = dict[int | str, dict[str, Any]]
ERRORS_404: Responses = {404: {"model": ErrorBody, "description": "item not in the index (recommend: no watched item in the "
                                                      "index and the artifact has no popular fallback)"}}
ERRORS_413: Responses = {413: {"model": ErrorBody, "description": "too many ids or too large a body"}}
ERRORS_415: Responses = {415: {"model": ErrorBody, "description": "the body was not sent as Content-Type: application/json"}}
POST_ERRORS: Responses = {**ERRORS_404, **ERRORS_413, **ERRORS_415}


# ---------------------------------------------------------------------- responses
def _json(payload: Any, status: int = 200) -> Response:
    return Response(content=_dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str, suggestions: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"detail": message}
    if suggestions is not None:
        body["suggestions"] = suggestions
    return _json(body, status)


def _cached_json(snapshot: Snapshot, key: tuple, payload: Any) -> Response:
    """A 200 JSON response, also stored in the version's cache under the normalized query ``key``."""
    body = _dumps(payload)
    headers = [(b"content-type", JSON_TYPE), (b"content-length", str(len(body)).encode()), snapshot.header]
    snapshot.cache.put(key, CachedResponse(headers, body))
    return Response(content=body, media_type="application/json")


_CANONICAL_ID = re.compile(r"-?[1-9][0-9]{0,18}|0")
_CANONICAL_K = re.compile(r"[1-9][0-9]{0,5}")
_SIMILAR_PREFIX = "/v1/similar/"
_TEXT_PARAM = {"/v1/similar": ("title", "title"), "/v1/search": ("search", "q")}


def cache_key(scope) -> tuple | None:
    """The normalized query of a cacheable GET, as the handlers store it, or None.

    ``("similar", item_id, k)``, ``("title", title, k)`` or ``("search", q, k)``: only the
    parameters that decide the answer, so ``?k=5&n=1`` and ``?n=2&k=5`` share one entry.
    None (no lookup; the routes validate and answer) for anything not in canonical form
    (``k=05``, a repeated parameter, a missing one): a cached answer is only ever sent for a
    request the routes would have given exactly that answer.
    """
    path = scope["path"]
    if path.startswith(_SIMILAR_PREFIX):
        ident = path[len(_SIMILAR_PREFIX):]
        if not _CANONICAL_ID.fullmatch(ident):
            return None
        route, value, text_name = "similar", int(ident), None
    elif path in _TEXT_PARAM:
        (route, text_name), value = _TEXT_PARAM[path], None
    else:
        return None
    k = None
    # The same decoding as Starlette's query_params, so a text parameter matches what the route sees.
    for name, given in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if name == "k":
            if k is not None or not _CANONICAL_K.fullmatch(given):
                return None
            k = int(given)
        elif name == text_name:
            if value is not None:
                return None
            value = given
    if value is None:
        return None
    return route, value, 10 if k is None else k


def _snapshot(request: Request, holder: IndexHolder) -> Snapshot:
    # The ASGI layer pins one version per request; fall back to the current one without it.
    return request.scope.get("recgraph.snapshot") or holder.current


# ---------------------------------------------------------------------- ASGI layer
class ServeLayer:
    """Pure-ASGI layer in front of the routes.

    Pins the current version for the request, answers HEAD as GET without the body, sends
    cached GET answers directly (looked up by :func:`cache_key`), refuses a POST to
    ``json_paths`` whose Content-Type is not JSON with 415, reads request bodies itself and
    refuses one over ``MAX_BODY_BYTES`` with 413 (by Content-Length when there is one, else
    by counting: a chunked body has none) and one that is not UTF-8 with 422, and adds the
    ``X-Recgraph-Artifact`` header.
    """

    def __init__(self, app: Callable, holder: IndexHolder, json_paths: frozenset[str] = frozenset()):
        self.app = app
        self.holder = holder
        self.json_paths = json_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        snapshot = self.holder.current
        if scope["method"] == "HEAD":
            # Routed as GET (405 where GET is not allowed either); the server sends no body.
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        if scope["method"] == "GET":
            key = cache_key(scope)
            hit = snapshot.cache.get(key) if key is not None else None
            if hit is not None:
                await send({"type": "http.response.start", "status": 200, "headers": hit.headers})
                await send({"type": "http.response.body", "body": hit.body})
                return
        else:
            if scope["method"] == "POST" and scope["path"] in self.json_paths and not _is_json(scope):
                given = _header(scope, b"content-type")
                got = f"got {given!r}" if given is not None else "the request has no Content-Type"
                await _send_error(send, snapshot, 415, "The request body must be JSON, sent with Content-Type: "
                                                       f"application/json; {got}.")
                return
            if _content_length(scope) > MAX_BODY_BYTES:
                await _send_error(send, snapshot, 413, f"The request body is over {MAX_BODY_BYTES} bytes.")
                return
            receive, body = await _read_body(receive)
            if receive is None:
                await _send_error(send, snapshot, 413, f"The request body is over {MAX_BODY_BYTES} bytes.")
                return
            if scope["method"] == "POST" and scope["path"] in self.json_paths and not _is_utf8(body):
                # json.loads would guess UTF-16 or UTF-32 from the first bytes; this API takes UTF-8 only.
                await _send_json(send, snapshot, 422, NOT_UTF8)
                return
        scope["recgraph.snapshot"] = snapshot
        name = snapshot.header[0]

        async def send_with_version(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(key.lower() == name for key, _ in headers):
                    headers.append(snapshot.header)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_version)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _content_length(scope) -> int:
    try:
        return int(_header(scope, b"content-length") or 0)
    except ValueError:
        return 0


def _is_json(scope) -> bool:
    """Content-Type application/json, parameters (``; charset=utf-8``) allowed."""
    value = _header(scope, b"content-type")
    return value is not None and value.split(";", 1)[0].strip().lower() == "application/json"


def _is_utf8(body: bytes) -> bool:
    """UTF-8 with no NUL byte: JSON has no place for one, and json.loads reads NULs as UTF-16 or UTF-32."""
    if b"\x00" in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _without_body(send):
    """``send`` for a HEAD request answered by the GET route: headers (Content-Length too), no body."""
    async def send_head(message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_head


async def _read_body(receive):
    """Read the whole request body (at most ``MAX_BODY_BYTES``): a ``receive`` that replays it
    and the body's bytes, or ``(None, b"")`` when the body is larger. Counting the bytes is
    what caps a chunked body."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the app see it
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None, b""
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if message["type"] != "http.request":
        pending = [message]
    else:
        pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay():
        if pending:
            return pending.pop()
        return await receive()

    return replay, body


async def _send_error(send, snapshot: Snapshot, status: int, message: str) -> None:
    await _send_json(send, snapshot, status, {"detail": message})


async def _send_json(send, snapshot: Snapshot, status: int, payload: Any) -> None:
    body = _dumps(payload)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", JSON_TYPE), (b"content-length", str(len(body)).encode()),
        snapshot.header, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------------- the app
def create_app(index: str | os.PathLike | IndexHolder, reload_interval: float = 1.0,
               cache_size: int = 4096, cache_bytes: int = DEFAULT_MAX_BYTES) -> FastAPI:
    """The FastAPI app serving the artifact at ``index``.

    Parameters
    ----------
    index : artifact directory, a symlink or pointer file naming one (hot-reloaded when it
        moves), or a ready :class:`IndexHolder`.
    reload_interval : seconds between checks of the pointer (0 = never reload).
    cache_size : finished GET responses kept per artifact version (0 = no cache).
    cache_bytes : bytes those responses may hold per artifact version (0 = no cache).
    """
    holder = (index if isinstance(index, IndexHolder)
              else IndexHolder(index, reload_interval, cache_size, cache_bytes))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder.start()
        try:
            yield
        finally:
            holder.stop()

    app = FastAPI(
        title="recgraph",
        version=__version__,
        summary="Similar items and recommendations from a recgraph artifact.",
        lifespan=lifespan,
    )
    app.state.holder = holder

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz(request: Request) -> Response:
        """Liveness and the version being served; \"degraded\" (still 200) while a newer version was refused."""
        manifest = _snapshot(request, holder).index.manifest
        refused = holder.refused
        return _json({
            "status": "ok" if refused is None else "degraded",
            "refused": refused,
            "artifact_id": str(manifest.get("artifact_id", "")),
            "format_version": int(manifest.get("format_version", 0)),
            "recgraph_version": str(manifest.get("recgraph_version", "")),
            "server_version": __version__,
            "created_at": str(manifest.get("created_at", "")),
            "n_items": int(manifest.get("n_items", 0)),
        })

    @app.get("/v1/index", response_model=IndexSummary, tags=["service"])
    async def index_summary(request: Request) -> Response:
        """Summary of the artifact's manifest: backend, size, creation time, graph statistics."""
        manifest = _snapshot(request, holder).index.manifest
        config = manifest_config(manifest)
        seed = config.get("seed")
        return _json({
            "artifact_id": str(manifest.get("artifact_id", "")),
            "format_version": int(manifest.get("format_version", 0)),
            "backend": str((config.get("trainer") or {}).get("backend", "")),
            "metric": str(manifest.get("metric", "")),
            "dim": int(manifest.get("dim", 0)),
            "n_items": int(manifest.get("n_items", 0)),
            "n_trees": int((config.get("index") or {}).get("n_trees", 0)),
            "seed": seed if isinstance(seed, int) else None,
            "created_at": str(manifest.get("created_at", "")),
            "recgraph_version": str(manifest.get("recgraph_version", "")),
            "graph": dict(manifest.get("graph", {})),
        })

    @app.get("/v1/similar/{item_id}", response_model=Answer, responses=ERRORS_404, tags=["query"])
    async def similar(request: Request,
                      item_id: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX,
                                                   description="item id, as in the training log (64-bit)")],
                      k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> Response:
        """The ``k`` items most similar to one item (never the item itself), best first."""
        return _similar_response(request, holder, item_id, k, ("similar", item_id, k))

    @app.get("/v1/similar", response_model=Answer, responses=ERRORS_404, tags=["query"])
    async def similar_by_title(request: Request,
                               title: Annotated[str, Query(
                                   min_length=1, max_length=MAX_QUERY_CHARS,
                                   description="exact title, e.g. 'Toy Story (1995)' (case-insensitive)")],
                               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> Response:
        """Like ``/v1/similar/{item_id}``, by title; an unknown title gets 404 with close titles."""
        return _similar_response(request, holder, title, k, ("title", title, k))

    @app.get("/v1/search", response_model=SearchResponse, tags=["query"])
    def search(request: Request,
               q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="words of a title")],
               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> Response:
        """Items whose titles contain every word of ``q`` (case-insensitive), then close spellings."""
        snapshot = _snapshot(request, holder)
        hits = [h.to_dict() for h in snapshot.index.search(q, k)]
        return _cached_json(snapshot, ("search", q, k), {"query": q, "results": hits})

    @app.post("/v1/recommend", response_model=Answer, responses=POST_ERRORS, tags=["query"])
    def recommend(request: Request, body: RecommendRequest) -> Response:
        """Items for someone who watched ``watched``; ids not in the index are reported in ``unknown``.

        Scored as the artifact's manifest ``scoring`` says (popularity prior, fallback). With
        fallback ``"popular"``, a history with no item in the index gets the most liked items;
        without it, that is a 404 (nothing to recommend from), as is any unknown id with ``strict``.
        """
        if len(body.watched) > MAX_WATCHED or len(body.exclude) > MAX_WATCHED:
            return _error(413, f"watched and exclude take at most {MAX_WATCHED} ids each.")
        index = _snapshot(request, holder).index
        answer = index.recommend(body.watched, body.k, exclude=body.exclude, strict=body.strict)
        return _json(answer.to_dict())

    @app.post("/v1/similar:batch", response_model=BatchResponse, responses=POST_ERRORS, tags=["query"])
    def similar_batch(request: Request, body: BatchRequest) -> Response:
        """``/v1/similar/{item_id}`` for up to 100 ids in one call; unknown ids are reported, not fatal."""
        if len(body.item_ids) > MAX_BATCH:
            return _error(413, f"A batch takes at most {MAX_BATCH} item ids; got {len(body.item_ids)}.")
        index = _snapshot(request, holder).index
        answers, unknown = index.similar_many(body.item_ids, body.k)  # one scoring call for the batch
        results = [answer.to_dict() for answer in answers]
        if not results:
            return _error(404, f"None of the {len(body.item_ids)} item ids is in the index.")
        return _json({"results": results, "unknown": unknown})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's answer to a body it cannot decode (not UTF-8): malformed JSON
            return _json(NOT_UTF8, 422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own list, with the numbers JSON cannot carry (NaN, Infinity, 1e400 read as inf)
        # quoted as text: its default handler fails on them with a 500.
        # Standard json, not orjson: an out-of-range id (past int64) is quoted back as given.
        body = json.dumps({"detail": _json_safe(jsonable_encoder(exc.errors()))}, allow_nan=False,
                          ensure_ascii=False, separators=(",", ":"))
        return Response(content=body.encode("utf-8"), status_code=422, media_type="application/json")

    @app.exception_handler(UnknownItemError)
    async def unknown_item(request: Request, exc: UnknownItemError) -> Response:
        return _error(404, str(exc), exc.suggestions or None)

    @app.exception_handler(ParameterError)
    async def bad_parameter(request: Request, exc: ParameterError) -> Response:
        return _error(422, str(exc))

    json_paths = frozenset(getattr(route, "path", "") for route in app.routes
                           if "POST" in (getattr(route, "methods", None) or ()))
    app.add_middleware(ServeLayer, holder=holder, json_paths=json_paths)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers: the settings come as JSON in ``RECGRAPH_SERVE_CONFIG``."""
    try:
        config = json.loads(os.environ[CONFIG_ENV])
    except KeyError:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start the service with 'recgraph serve'.") from None
    level = config.get("log_level", "info").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s [%(process)d]: %(message)s")
    return create_app(config["index"], config.get("reload_interval", 1.0), config.get("cache_size", 4096),
                      config.get("cache_bytes", DEFAULT_MAX_BYTES))


NOT_UTF8 = {"detail": [{"type": "json_invalid", "loc": ["body"], "msg": "The request body is not valid JSON (UTF-8)."}]}


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats written as JSON-like text (``"NaN"``, ``"Infinity"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def _similar_response(request, holder, item, k: int, key: tuple) -> Response:
    """A similar-items answer for an item id or title; 404 (with title suggestions) when unknown."""
    snapshot = _snapshot(request, holder)
    try:
        answer = snapshot.index.similar(item, k)
    except UnknownItemError as exc:
        return _error(404, str(exc), exc.suggestions if isinstance(item, str) else None)
    return _cached_json(snapshot, key, answer.to_dict())
