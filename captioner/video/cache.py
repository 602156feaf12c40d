"""The clip cache: decoded clips kept in memory, so re-running a prompt on the same upload
does not decode again.

Keyed by the file's content hash and size, the sampling spec and the reader asked for (not
the path: the same bytes under another name are a hit). Bounded by the total bytes of the
cached frames, least recently used first out; ``set_cache_limit`` sets the bound (default
512 MiB; 0 turns caching off).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Generic, Protocol, TypeVar

import captioner.video.messages as messages
from captioner.video.sampling import SamplingSpec

DEFAULT_LIMIT_BYTES = 512 * messages.MIB

CacheKey = tuple[str, int, SamplingSpec, str]


class Cacheable(Protocol):
    """What the cache needs of a clip (``clip.Clip``): its frames, to count their bytes.
    A protocol, so this module does not import the one that uses it."""

    @property
    def frames(self) -> Any: ...  # a numpy array


Clip = TypeVar("Clip", bound=Cacheable)


class ClipCache(Generic[Clip]):
    """LRU by total frame bytes."""

    def __init__(self, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self._items: OrderedDict[CacheKey, Clip] = OrderedDict()
        self._bytes = 0
        self._limit = limit_bytes
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> Clip | None:
        with self._lock:
            clip = self._items.get(key)
            if clip is not None:
                self._items.move_to_end(key)
            return clip

    def put(self, key: CacheKey, clip: Clip) -> None:
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key).frames.nbytes
            if clip.frames.nbytes > self._limit:
                return
            self._items[key] = clip
            self._bytes += clip.frames.nbytes
            self._evict()

    def set_limit(self, limit_bytes: int) -> None:
        with self._lock:
            self._limit = limit_bytes
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _evict(self) -> None:
        while self._bytes > self._limit:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.frames.nbytes


CACHE: ClipCache[Any] = ClipCache()  # of clip.Clip


def set_cache_limit(max_bytes: int) -> None:
    """Bound the clip cache to ``max_bytes`` of frames (0: cache nothing); evicts at once."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise messages.bad_cache_limit(max_bytes)
    CACHE.set_limit(max_bytes)
