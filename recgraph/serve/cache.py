"""A small LRU of finished HTTP responses (status 200, body bytes), one per loaded artifact.

The service keeps one cache per artifact version, so a hot reload drops the old
answers with the old index and no entry can outlive the version it was computed from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import NamedTuple


class CachedResponse(NamedTuple):
    """A ready-to-send response: ASGI header list and body bytes."""

    headers: list[tuple[bytes, bytes]]
    body: bytes


class ResponseCache:
    """Least-recently-used map from a request key to a :class:`CachedResponse`.

    ``max_entries=0`` turns caching off. Reads take no lock (an ``OrderedDict`` lookup and
    ``move_to_end`` are single C calls under the GIL); writes and evictions take one, since
    the thread-pool handlers may store concurrently.
    """

    def __init__(self, max_entries: int = 4096):
        self.max_entries = int(max_entries)
        self._entries: OrderedDict[Hashable, CachedResponse] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> CachedResponse | None:
        hit = self._entries.get(key)
        if hit is not None:
            try:
                self._entries.move_to_end(key)
            except KeyError:  # evicted by another thread in between; the hit is still good
                pass
        return hit

    def put(self, key: Hashable, value: CachedResponse) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
