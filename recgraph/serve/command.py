"""``recgraph serve``: run the HTTP service on uvicorn.

This module imports neither FastAPI nor uvicorn until the command runs, so the CLI
works without the ``serve`` extra for every other command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket

from ..errors import MissingDependencyError, ParameterError, RecgraphError

#: Chosen with benchmarks/bench_serve.py on a 2-core machine (table in docs/serving.md):
#: two workers answered more requests per second than one, cached and uncached.
DEFAULT_WORKERS = 2
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_RELOAD_INTERVAL = 1.0
DEFAULT_CACHE_SIZE = 4096
#: Bytes of finished answers one worker caches per artifact version (``--cache-mib``).
DEFAULT_CACHE_MIB = 64
#: Seconds a client has to send a request's headers (``--header-timeout``); then the connection is closed.
DEFAULT_HEADER_TIMEOUT = 10.0
#: Pending connections the listening socket queues (uvicorn's default).
BACKLOG = 2048
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``serve`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("serve", help="serve an index over HTTP (JSON)",
                       description="Serve similar-item queries and recommendations over HTTP. "
                                   "Needs the 'serve' extra: pip install 'recgraph[serve]'.")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", required=True,
                   help="artifact directory, or a symlink / pointer file naming one (reloaded when it moves)")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                   help=f"worker processes; they share the memory-mapped index (default {DEFAULT_WORKERS})")
    p.add_argument("--reload-interval", type=float, default=DEFAULT_RELOAD_INTERVAL,
                   help="seconds between checks for a new artifact version, 0 = never "
                        f"(default {DEFAULT_RELOAD_INTERVAL:g})")
    p.add_argument("--cache-size", type=int, default=DEFAULT_CACHE_SIZE,
                   help=f"GET responses cached per artifact version, 0 = off (default {DEFAULT_CACHE_SIZE})")
    p.add_argument("--cache-mib", type=float, default=DEFAULT_CACHE_MIB,
                   help="MiB those cached responses may hold, per worker and artifact version, 0 = off "
                        f"(default {DEFAULT_CACHE_MIB})")
    p.add_argument("--header-timeout", type=float, default=DEFAULT_HEADER_TIMEOUT,
                   help="seconds a client has to send a request's headers, counted from the connection (or its "
                        f"first byte after a keep-alive wait); then it is closed (default {DEFAULT_HEADER_TIMEOUT:g})")
    p.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS,
                   help="server log level; info reports each reload (default info)")


def run(args: argparse.Namespace) -> int:
    """Check the settings and the artifact, then serve until interrupted."""
    if not 0 <= args.port <= 65535:
        raise ParameterError(f"--port must be from 0 to 65535; got {args.port}.")
    if args.workers < 1:
        raise ParameterError(f"--workers must be an integer >= 1; got {args.workers}.")
    if args.reload_interval < 0:
        raise ParameterError(f"--reload-interval must be >= 0 seconds; got {args.reload_interval:g}.")
    if args.cache_size < 0:
        raise ParameterError(f"--cache-size must be >= 0; got {args.cache_size}.")
    if not 0 <= args.cache_mib < float("inf"):
        raise ParameterError(f"--cache-mib must be a number >= 0; got {args.cache_mib:g}.")
    if not 0 < args.header_timeout < float("inf"):
        raise ParameterError(f"--header-timeout must be a number of seconds > 0; got {args.header_timeout:g}.")
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(
            f"recgraph serve needs {exc.name}; install the extra with: pip install 'recgraph[serve]'."
        ) from None

    from ..index import ItemIndex
    from .reloader import resolve_artifact_dir

    # Fail here, with one clear line, rather than in every worker.
    index_path = os.path.abspath(os.path.expanduser(args.index))
    ItemIndex.load(resolve_artifact_dir(index_path))
    sock = listen(args.host, args.port)
    os.environ["RECGRAPH_SERVE_CONFIG"] = json.dumps({
        "index": index_path,
        "reload_interval": args.reload_interval,
        "cache_size": args.cache_size,
        "cache_bytes": int(args.cache_mib * 1024 * 1024),
        "log_level": args.log_level,
    })
    config = uvicorn.Config(
        "recgraph.serve.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=sock.getsockname()[1],
        workers=args.workers,
        access_log=args.access_log,
        log_level=args.log_level,
        server_header=False,
        http="recgraph.serve.protocols:HeaderTimeoutProtocol",
        backlog=BACKLOG,
    )
    setattr(config, "recgraph_header_timeout", args.header_timeout)  # noqa: B010  (read by the protocol in every worker)
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)",
                                            args.host, sock.getsockname()[1])
    # The socket listens already; uvicorn's workers serve it instead of binding their own.
    if args.workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
        return 0
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    return 0 if server.started else 3


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, or one clear sentence when the address is taken.

    Bound and listening before uvicorn starts, so of two servers started together on one
    port exactly one gets it: without ``SO_REUSEPORT``, Linux lets a second socket bind the
    port while nobody listens (``SO_REUSEADDR``, kept so a restart need not wait for old
    connections' TIME_WAIT) but refuses the second ``listen``. Checking first and binding
    later left a window in which both passed the check.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise RecgraphError(f"Cannot listen on {host}:{port} ({reason}); choose another --port or --host.") from None
    sock.set_inheritable(True)
    return sock
