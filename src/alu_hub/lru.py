"""A bounded, thread-safe mapping that drops the least recently used entry first: the base of
the hub's per-process caches (``feed.ItemJsonCache``, ``auth.TokenCache``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        #: held by every method; re-entrant, so a subclass can hold it around several calls
        self.lock = threading.RLock()

    def get(self, key: K) -> V | None:
        with self.lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        with self.lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
