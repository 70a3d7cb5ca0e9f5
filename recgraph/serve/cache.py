"""A small LRU of finished HTTP responses (status 200, body bytes), one per loaded artifact.

The service keeps one cache per artifact version, so a hot reload drops the old
answers with the old index and no entry can outlive the version it was computed from.

Keys are the *normalized* query (the route and the validated parameters that decide the
answer, e.g. ``("similar", 260, 10)``), never the raw query string, so parameters the
service ignores cannot multiply entries; and the cache is bounded in bytes as well as in
entries, so distinct large answers cannot grow a worker past ``max_bytes``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import NamedTuple

#: Default byte budget of one cache (one artifact version in one worker).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Bookkeeping counted per entry on top of its bytes (dict slot, tuples, bytes objects).
ENTRY_OVERHEAD = 256


class CachedResponse(NamedTuple):
    """A ready-to-send response: ASGI header list and body bytes."""

    headers: list[tuple[bytes, bytes]]
    body: bytes


def entry_size(key: Hashable, value: CachedResponse) -> int:
    """Bytes charged for one entry: body, header bytes, the key's text and a fixed overhead."""
    headers = sum(len(name) + len(val) for name, val in value.headers)
    key_text = sum(len(str(part)) for part in key) if isinstance(key, tuple) else len(str(key))
    return len(value.body) + headers + key_text + ENTRY_OVERHEAD


class ResponseCache:
    """Least-recently-used map from a normalized request key to a :class:`CachedResponse`.

    Parameters
    ----------
    max_entries : at most this many entries (0 turns caching off).
    max_bytes : at most this many bytes in all (:func:`entry_size`); an answer larger than
        the whole budget is not stored (0 turns caching off).

    Reads take no lock (an ``OrderedDict`` lookup and ``move_to_end`` are single C calls
    under the GIL); writes and evictions take one, since the thread-pool handlers may
    store concurrently.
    """

    def __init__(self, max_entries: int = 4096, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_entries = int(max_entries)
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._entries: OrderedDict[Hashable, tuple[CachedResponse, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> CachedResponse | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        try:
            self._entries.move_to_end(key)
        except KeyError:  # evicted by another thread in between; the hit is still good
            pass
        return hit[0]

    def put(self, key: Hashable, value: CachedResponse) -> None:
        if self.max_entries <= 0 or self.max_bytes <= 0:
            return
        size = entry_size(key, value)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            self._entries[key] = (value, size)
            self.nbytes += size
            while len(self._entries) > self.max_entries or self.nbytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.nbytes -= dropped
