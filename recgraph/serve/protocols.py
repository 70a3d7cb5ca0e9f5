"""uvicorn's HTTP protocol with a header-read timeout (``recgraph serve --header-timeout``).

uvicorn closes a keep-alive connection that stays silent, but not one that has sent part of
its headers, nor a new connection that sends nothing: each is held for as long as the client
likes (a slow-headers attack needs only many of them). Here a client has ``header_timeout``
seconds, from the connection or from its first byte after a keep-alive wait, until its
request's headers are complete; then the connection is closed. A request being answered is
never cut: the clock runs only while no request is in progress.

Imported by uvicorn in each worker (``Config(http="recgraph.serve.protocols:HeaderTimeoutProtocol")``);
the timeout comes from the ``recgraph_header_timeout`` attribute of uvicorn's ``Config``.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

#: Used when the Config carries no ``recgraph_header_timeout`` (see recgraph.serve.command).
DEFAULT_HEADER_TIMEOUT = 10.0


class HeaderTimeoutMixin:
    """Close a connection whose request headers are not complete ``header_timeout`` s after it went idle."""

    def __init__(self, config, *args, **kwargs) -> None:
        super().__init__(config, *args, **kwargs)  # type: ignore[call-arg]
        self.header_timeout = float(getattr(config, "recgraph_header_timeout", DEFAULT_HEADER_TIMEOUT))
        self._header_timer: asyncio.TimerHandle | None = None
        self._cycle_at_arm = None

    def _idle(self) -> bool:
        """No request in progress: waiting for (the rest of) the next request's headers."""
        cycle = self.cycle  # type: ignore[attr-defined]
        return cycle is None or cycle.response_complete

    def _arm(self) -> None:
        self._cycle_at_arm = self.cycle  # type: ignore[attr-defined]
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout_expired)  # type: ignore[attr-defined]

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._idle():
            self._arm()  # the first byte after a keep-alive wait: the clock for these headers starts
        super().data_received(data)  # type: ignore[misc]
        if self._header_timer is not None and self.cycle is not self._cycle_at_arm:  # type: ignore[attr-defined]
            self._disarm()  # a new request's headers are complete

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _header_timeout_expired(self) -> None:
        self._header_timer = None
        if self.cycle is not self._cycle_at_arm or not self._idle():  # type: ignore[attr-defined]
            return  # the headers came (e.g. parsed while a pipelined answer completed)
        if not self.transport.is_closing():  # type: ignore[attr-defined]
            logger.debug("closing a connection that sent no complete request headers in %g s", self.header_timeout)
            self.transport.close()  # type: ignore[attr-defined]


class H11HeaderTimeoutProtocol(HeaderTimeoutMixin, H11Protocol):
    """uvicorn's h11 protocol with the header-read timeout."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is optional (uvicorn picks h11 then too)
    HeaderTimeoutProtocol: type = H11HeaderTimeoutProtocol
else:
    class HttpToolsHeaderTimeoutProtocol(HeaderTimeoutMixin, HttpToolsProtocol):
        """uvicorn's httptools protocol with the header-read timeout."""

    HeaderTimeoutProtocol = HttpToolsHeaderTimeoutProtocol
