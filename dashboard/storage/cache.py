"""A cache of built figures and responses, keyed by the data version.

Two levels:
- Redis, shared by every gunicorn worker and host: ``keys.cache(name)`` holds
  ``"<tag>\\n<json>"`` with a TTL. The tag (usually the data version) is inside the value,
  so a reader can never take an old body for a new version, and a worker that writes late
  with an older tag only makes the next reader rebuild.
- A small dict in this process, safe to drop at any time (bounded; the oldest entry goes first).

Nothing here is the truth: every entry can be rebuilt from Redis data by ``build``.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Callable

import redis

from dashboard.storage.keys import Keys

DEFAULT_TTL_S = 600
LOCAL_MAX_ENTRIES = 64


def dumps(obj: Any) -> str:
    """Compact JSON (plain dicts and lists only; NaN is refused, it is not valid JSON)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class VersionedCache:
    """``get(name, tag, build)``: the JSON text of ``build()`` for ``tag``, built at most once
    per tag across all workers in the common case (two workers may race and both build;
    they produce the same text, so that is harmless)."""

    def __init__(self, r: redis.Redis | None, keys: Keys, ttl_s: int = DEFAULT_TTL_S,
                 local_max: int = LOCAL_MAX_ENTRIES):
        self.r = r
        self.keys = keys
        self.ttl_s = ttl_s
        self.local_max = local_max
        self._local: OrderedDict[str, list] = OrderedDict()
        self._memo: dict[str, tuple[str, Any]] = {}
        self._lock = threading.Lock()
        self.hits_local = self.hits_shared = self.builds = 0

    def _local_get(self, name: str, tag: str) -> list | None:
        with self._lock:
            entry = self._local.get(name)
            if entry is not None and entry[0] == tag:
                self._local.move_to_end(name)
                return entry
        return None

    def _local_put(self, name: str, tag: str, text: str, value: Any = None,
                   parsed: bool = False) -> list:
        entry = [tag, text, value, parsed]
        with self._lock:
            self._local[name] = entry
            self._local.move_to_end(name)
            while len(self._local) > self.local_max:
                self._local.popitem(last=False)
        return entry

    def _entry(self, name: str, tag: str, build: Callable[[], Any],
               ttl_s: int | None = None) -> list:
        """[tag, json text, parsed value or None, parsed?] for (name, tag)."""
        entry = self._local_get(name, tag)
        if entry is not None:
            self.hits_local += 1
            return entry
        key = self.keys.cache(name)
        if self.r is not None:
            try:
                raw = self.r.get(key)
            except redis.RedisError:
                raw = None
            if raw:
                if isinstance(raw, bytes):
                    raw = raw.decode("utf-8")
                stored_tag, _, body = raw.partition("\n")
                if stored_tag == tag:
                    self.hits_shared += 1
                    return self._local_put(name, tag, body)
        value = build()
        text = dumps(value)
        self.builds += 1
        entry = self._local_put(name, tag, text, json.loads(text), True)
        if self.r is not None:
            try:
                self.r.set(key, f"{tag}\n{text}", ex=ttl_s or self.ttl_s)
            except redis.RedisError:
                pass
        return entry

    def get_text(self, name: str, tag: str | int, build: Callable[[], Any],
                 ttl_s: int | None = None) -> str:
        """The cached JSON text for (name, tag), else ``dumps(build())`` stored for next time.

        Redis errors while reading or writing the shared copy are not fatal: the body is
        built here instead (the caller decides what to do when Redis is down for real).
        """
        return self._entry(name, str(tag), build, ttl_s)[1]

    def get(self, name: str, tag: str | int, build: Callable[[], Any]) -> Any:
        """Like ``get_text`` but as Python objects, parsed once per worker and version.
        The value is shared by every caller in this process: treat it as read-only."""
        entry = self._entry(name, str(tag), build)
        if not entry[3]:
            value = json.loads(entry[1])
            with self._lock:
                entry[2], entry[3] = value, True
        return entry[2]

    def memo(self, name: str, tag: str | int, build: Callable[[], Any]) -> Any:
        """In-process only (no Redis, no JSON): for objects that are cheap to keep and costly
        to rebuild per request, such as the per-network base figure."""
        tag = str(tag)
        with self._lock:
            entry = self._memo.get(name)
            if entry is not None and entry[0] == tag:
                return entry[1]
        value = build()
        with self._lock:
            self._memo[name] = (tag, value)
            while len(self._memo) > self.local_max:
                self._memo.pop(next(iter(self._memo)))
        return value

    def drop_local(self) -> None:
        """Forget everything held in this process (the shared copies stay)."""
        with self._lock:
            self._local.clear()
            self._memo.clear()


_caches: dict[tuple[int, str], VersionedCache] = {}
_caches_lock = threading.Lock()


def cache_for(r: redis.Redis, keys: Keys) -> VersionedCache:
    """One cache per (connection, key prefix) in this process."""
    k = (id(r), keys.base)
    with _caches_lock:
        c = _caches.get(k)
        if c is None or c.r is not r:
            c = _caches[k] = VersionedCache(r, keys)
        return c
