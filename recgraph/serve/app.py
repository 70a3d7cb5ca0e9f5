"""The HTTP API over an :class:`~recgraph.index.ItemIndex` (FastAPI app factory).

Every response carries ``X-Recgraph-Artifact: <artifact_id>``, the version that answered it.
Bad input never gives a 5xx: unknown movie -> 404, invalid parameter or body -> 422,
too many ids in one call or too large a body -> 413.

The hot path is ``GET /v1/similar/{movie_id}``: answers are cached per artifact version as
finished bytes, and a pure-ASGI layer in front of FastAPI sends a cached answer without
routing or validation (``benchmarks/bench_serve.py`` measures it).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import ParameterError, UnknownItemError
from .cache import CachedResponse
from .reloader import IndexHolder, Snapshot

logger = logging.getLogger(__name__)

MAX_K = 1000
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
MovieId = Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX, description="MovieLens movie id")]
TopK = Annotated[StrictInt, Field(ge=1, le=MAX_K, description=f"number of results, 1 to {MAX_K}")]


class Hit(BaseModel):
    movie_id: int
    title: str
    score: float = Field(description="cosine similarity of the embeddings (1.0 for a title substring match in "
                                     "search); in recommend, plus the artifact's popularity prior")


class SimilarResponse(BaseModel):
    movie_id: int
    title: str
    results: list[Hit]


class SearchResponse(BaseModel):
    query: str
    results: list[Hit]


class RecommendRequest(BaseModel):
    watched: list[MovieId] = Field(min_length=1,
                                   description=f"movie ids the person watched, oldest first (at most {MAX_WATCHED}, else 413); "
                                               "with the artifact's recency scoring the last ones count more")
    k: TopK = 10
    exclude: list[MovieId] = Field(default_factory=list,
                                   description=f"movie ids never to return (at most {MAX_WATCHED}, else 413)")


class RecommendResponse(BaseModel):
    results: list[Hit]
    unknown: list[int] = Field(description="watched ids that are not in the index (ignored)")


class BatchRequest(BaseModel):
    movie_ids: list[MovieId] = Field(min_length=1, description=f"at most {MAX_BATCH} ids, else 413")
    k: TopK = 10


class BatchResponse(BaseModel):
    results: list[SimilarResponse]
    unknown: list[int] = Field(description="requested ids that are not in the index (left out of results)")


class Health(BaseModel):
    status: str
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


ERRORS_404 = {404: {"model": ErrorBody, "description": "movie not in the index (recommend: no watched movie in the "
                                                      "index and the artifact has no popular fallback)"}}
ERRORS_413 = {413: {"model": ErrorBody, "description": "too many ids or too large a body"}}


# ---------------------------------------------------------------------- responses
def _json(payload: Any, status: int = 200) -> Response:
    return Response(content=_dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str, suggestions: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"detail": message}
    if suggestions is not None:
        body["suggestions"] = suggestions
    return _json(body, status)


def _cached_json(request: Request, snapshot: Snapshot, payload: Any) -> Response:
    """A 200 JSON response, also stored in the version's cache under this exact GET request."""
    body = _dumps(payload)
    headers = [(b"content-type", JSON_TYPE), (b"content-length", str(len(body)).encode()), snapshot.header]
    snapshot.cache.put((request.scope["path"], request.scope["query_string"]), CachedResponse(headers, body))
    return Response(content=body, media_type="application/json")


def _snapshot(request: Request, holder: IndexHolder) -> Snapshot:
    # The ASGI layer pins one version per request; fall back to the current one without it.
    return request.scope.get("recgraph.snapshot") or holder.current


# ---------------------------------------------------------------------- ASGI layer
class ServeLayer:
    """Pure-ASGI layer in front of the routes.

    Pins the current version for the request, sends cached GET answers directly, refuses
    bodies over ``MAX_BODY_BYTES`` with 413, and adds the ``X-Recgraph-Artifact`` header.
    """

    def __init__(self, app: Callable, holder: IndexHolder):
        self.app = app
        self.holder = holder

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        snapshot = self.holder.current
        if scope["method"] == "GET":
            hit = snapshot.cache.get((scope["path"], scope["query_string"]))
            if hit is not None:
                await send({"type": "http.response.start", "status": 200, "headers": hit.headers})
                await send({"type": "http.response.body", "body": hit.body})
                return
        elif _content_length(scope) > MAX_BODY_BYTES:
            body = _dumps({"detail": f"The request body is over {MAX_BODY_BYTES} bytes."})
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", JSON_TYPE), (b"content-length", str(len(body)).encode()),
                snapshot.header, (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
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


def _content_length(scope) -> int:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


# ---------------------------------------------------------------------- the app
def create_app(index: str | os.PathLike | IndexHolder, reload_interval: float = 1.0,
               cache_size: int = 4096) -> FastAPI:
    """The FastAPI app serving the artifact at ``index``.

    Parameters
    ----------
    index : artifact directory, a symlink or pointer file naming one (hot-reloaded when it
        moves), or a ready :class:`IndexHolder`.
    reload_interval : seconds between checks of the pointer (0 = never reload).
    cache_size : finished GET responses kept per artifact version (0 = no cache).
    """
    holder = index if isinstance(index, IndexHolder) else IndexHolder(index, reload_interval, cache_size)

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
        summary="Similar movies and recommendations from a recgraph artifact.",
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.add_middleware(ServeLayer, holder=holder)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz(request: Request) -> Response:
        """Liveness and the version being served."""
        manifest = _snapshot(request, holder).index.manifest
        return _json({
            "status": "ok",
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
        seed = manifest.get("seed")
        return _json({
            "artifact_id": str(manifest.get("artifact_id", "")),
            "format_version": int(manifest.get("format_version", 0)),
            "backend": str(manifest.get("backend", "")),
            "metric": str(manifest.get("metric", "")),
            "dim": int(manifest.get("dim", 0)),
            "n_items": int(manifest.get("n_items", 0)),
            "n_trees": int(manifest.get("n_trees", 0)),
            "seed": seed if isinstance(seed, int) else None,
            "created_at": str(manifest.get("created_at", "")),
            "recgraph_version": str(manifest.get("recgraph_version", "")),
            "graph": dict(manifest.get("graph", {})),
        })

    @app.get("/v1/similar/{movie_id}", response_model=SimilarResponse, responses=ERRORS_404, tags=["query"])
    async def similar(request: Request, movie_id: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)],
                      k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> Response:
        """The ``k`` movies most similar to one movie (never the movie itself), best first."""
        return _similar_response(request, holder, movie_id, k)

    @app.get("/v1/similar", response_model=SimilarResponse, responses=ERRORS_404, tags=["query"])
    async def similar_by_title(request: Request,
                               title: Annotated[str, Query(
                                   min_length=1, max_length=MAX_QUERY_CHARS,
                                   description="exact title, e.g. 'Toy Story (1995)' (case-insensitive)")],
                               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> Response:
        """Like ``/v1/similar/{movie_id}``, by title; an unknown title gets 404 with close titles."""
        return _similar_response(request, holder, title, k)

    @app.get("/v1/search", response_model=SearchResponse, tags=["query"])
    def search(request: Request,
               q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="words of a title")],
               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> Response:
        """Movies whose titles contain every word of ``q`` (case-insensitive), then close spellings."""
        snapshot = _snapshot(request, holder)
        return _cached_json(request, snapshot, {"query": q, "results": snapshot.index.search(q, k)})

    @app.post("/v1/recommend", response_model=RecommendResponse, responses={**ERRORS_404, **ERRORS_413}, tags=["query"])
    def recommend(request: Request, body: RecommendRequest) -> Response:
        """Movies for someone who watched ``watched``; ids not in the index are reported in ``unknown``.

        Scored as the artifact's manifest ``scoring`` says (popularity prior, fallback). With
        fallback ``"popular"``, a history with no movie in the index gets the most liked movies.
        """
        if len(body.watched) > MAX_WATCHED or len(body.exclude) > MAX_WATCHED:
            return _error(413, f"watched and exclude take at most {MAX_WATCHED} ids each.")
        index = _snapshot(request, holder).index
        rows, unknown = index.resolve(body.watched, on_unknown="ignore")
        if not rows and index.scoring.fallback != "popular":  # with the fallback: the most liked movies
            return _error(404, f"None of the {len(body.watched)} watched movies is in the index, "
                               "so there is nothing to recommend from.")
        known = [int(index.movie_ids[r]) for r in rows]
        return _json({"results": index.recommend(known, body.k, exclude=body.exclude, on_unknown="ignore"),
                      "unknown": unknown})

    @app.post("/v1/similar:batch", response_model=BatchResponse, responses={**ERRORS_404, **ERRORS_413}, tags=["query"])
    def similar_batch(request: Request, body: BatchRequest) -> Response:
        """``/v1/similar/{movie_id}`` for up to 100 ids in one call; unknown ids are reported, not fatal."""
        if len(body.movie_ids) > MAX_BATCH:
            return _error(413, f"A batch takes at most {MAX_BATCH} movie ids; got {len(body.movie_ids)}.")
        index = _snapshot(request, holder).index
        results, unknown = [], []
        for movie_id in body.movie_ids:
            try:
                row = index.row(movie_id)
            except UnknownItemError:
                unknown.append(movie_id)
                continue
            results.append(_similar_payload(index, row, body.k))
        if not results:
            return _error(404, f"None of the {len(body.movie_ids)} movie ids is in the index.")
        return _json({"results": results, "unknown": unknown})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's answer to a body it cannot decode (not UTF-8): malformed JSON
            return _json({"detail": [{"type": "json_invalid", "loc": ["body"],
                                      "msg": "The request body is not valid JSON (UTF-8)."}]}, 422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(UnknownItemError)
    async def unknown_item(request: Request, exc: UnknownItemError) -> Response:
        return _error(404, str(exc), exc.suggestions or None)

    @app.exception_handler(ParameterError)
    async def bad_parameter(request: Request, exc: ParameterError) -> Response:
        return _error(422, str(exc))

    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers: the settings come as JSON in ``RECGRAPH_SERVE_CONFIG``."""
    try:
        config = json.loads(os.environ[CONFIG_ENV])
    except KeyError:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start the service with 'recgraph serve'.") from None
    level = config.get("log_level", "info").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s [%(process)d]: %(message)s")
    return create_app(config["index"], config.get("reload_interval", 1.0), config.get("cache_size", 4096))


def _similar_payload(index, row: int, k: int) -> dict:
    """The body of a similar-movies answer for the movie on Annoy row ``row``."""
    movie_id = int(index.movie_ids[row])
    return {"movie_id": movie_id, "title": index.titles[row], "results": index.similar(movie_id, k)}


def _similar_response(request, holder, movie, k: int) -> Response:
    """A similar-movies answer for a movie id or title; 404 (with title suggestions) when unknown."""
    snapshot = _snapshot(request, holder)
    try:
        row = snapshot.index.row(movie)
    except UnknownItemError as exc:
        return _error(404, str(exc), exc.suggestions if isinstance(movie, str) else None)
    return _cached_json(request, snapshot, _similar_payload(snapshot.index, row, k))
