"""The encoded-answer cache of the API, bounded in bytes.

An entry is one answer already encoded (JSON and its gzip), keyed by everything the answer
depends on: the resource and its parsed parameters (never the raw query string, so junk
parameters cannot make new entries), the caller's :class:`rmds.access.Scope` (role and
units: what the access policy opens) and the lake's run. The least recently used entries
are dropped as soon as the encoded bytes held pass ``max_bytes``, so memory stays flat
under any stream of distinct URLs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Encoded", "ResponseCache"]


@dataclass(frozen=True)
class Encoded:
    """One answer: its JSON, the JSON gzipped, and whether restricted data is in it (each
    serving of a restricted answer is audited)."""

    raw: bytes
    gzipped: bytes
    restricted: bool
    name: str = ""   # a download's file name (without extension); empty for JSON

    @property
    def size(self) -> int:
        # the two buffers, plus what the key and the entry cost, roughly
        return len(self.raw) + len(self.gzipped) + 256


class ResponseCache:
    """Least-recently-used, thread-safe, at most ``max_bytes`` of answers held."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("o limite do cache não pode ser negativo")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Encoded] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evicted = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Encoded | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: Hashable, value: Encoded) -> None:
        """Keep ``value`` unless it alone is over the bound; evict the oldest to fit."""
        if value.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = value
            self._bytes += value.size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size
                self.evicted += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
