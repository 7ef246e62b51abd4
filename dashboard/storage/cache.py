"""A cache of built figures and responses, keyed by the data version.

Two levels:
- Redis, shared by every gunicorn worker and host: ``keys.cache(name)`` holds
  ``"<tag>\\n<json>"`` with a TTL. The tag (usually the data version) is inside the value,
  so a reader can never take an old body for a new version, and a worker that writes late
  with an older tag only makes the next reader rebuild.
- A small dict in this process, safe to drop at any time (bounded; the oldest entry goes first).

Nothing here is the truth: every entry can be rebuilt from Redis data by ``build``.

Entries whose names depend on what a caller asks for (the API's query-dependent bodies) are
stored under a ``CacheBudget``: the group's entries together stay within a number of bytes
and of entries in Redis, the least recently stored going first (``_ADMIT_LUA``), so no
sequence of requests can make the shared cache grow past the budget.

``ProcessCache`` is the one helper behind every per-process cache of the app (loaded road
networks, per-network indexes and figures, these caches themselves).
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Generic, Hashable, TypeVar

import redis

from dashboard.storage.keys import Keys

DEFAULT_TTL_S = 600
LOCAL_MAX_ENTRIES = 64

# Store one entry of a budgeted group and evict the group's least recently stored entries
# until it fits. KEYS: the entry, the group's index (sorted set: entry name -> time stored,
# ms) and sizes (hash: entry name -> bytes). ARGV: entry name, value, TTL ms, now ms, budget
# bytes, budget entries. Index entries older than the TTL belong to expired keys and are
# dropped first. Returns the evicted names (oldest first): the caller deletes their keys
# (built by Keys, so the script never names a key it was not given).
_ADMIT_LUA = """
local name, value = ARGV[1], ARGV[2]
local ttl, now = tonumber(ARGV[3]), tonumber(ARGV[4])
local max_bytes, max_entries = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('SET', KEYS[1], value, 'PX', ttl)
redis.call('ZADD', KEYS[2], now, name)
redis.call('HSET', KEYS[3], name, string.len(value))
for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl)) do
  redis.call('HDEL', KEYS[3], old)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
local total = 0
for _, size in ipairs(redis.call('HVALS', KEYS[3])) do total = total + tonumber(size) end
local count = redis.call('ZCARD', KEYS[2])
local evicted = {}
while count > 0 and (total > max_bytes or count > max_entries) do
  local oldest = redis.call('ZPOPMIN', KEYS[2])[1]
  total = total - tonumber(redis.call('HGET', KEYS[3], oldest) or '0')
  redis.call('HDEL', KEYS[3], oldest)
  count = count - 1
  evicted[#evicted + 1] = oldest
end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return evicted
"""


@dataclass(frozen=True)
class CacheBudget:
    """A group of shared entries (e.g. every API body for every query) that together stay
    within ``max_bytes`` and ``max_entries`` in Redis. A body larger than the whole budget
    is not shared at all (this process still keeps it in its small local cache)."""

    group: str
    max_bytes: int
    max_entries: int

V = TypeVar("V")
_BY_IDENTITY = object()   # marks the keys of ``ProcessCache.get_for``


class ProcessCache(Generic[V]):
    """A thread-safe, bounded cache in this process: at most ``max_entries`` entries, the least
    recently used goes first.

    An entry is found by its key and its tag (e.g. a data version or a file stamp; an entry
    with another tag is a miss and is replaced). ``get_for`` keys an entry by the identity of
    an object and keeps that object alive while the entry exists, so its ``id()`` cannot be
    reused meanwhile by another object. ``build`` runs outside the lock; when two threads
    miss at once both build and the first stored value wins.
    """

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Any, Hashable, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], V], *, tag: Hashable = None) -> V:
        """The value cached under (``key``, ``tag``), else ``build()``, stored."""
        return self._get(key, None, tag, build)

    def get_for(self, obj: object, build: Callable[[], V], *, key: Hashable = None,
                tag: Hashable = None) -> V:
        """The value cached for the object ``obj`` itself (and ``key``, ``tag``), else
        ``build()``, stored."""
        return self._get((_BY_IDENTITY, id(obj), key), obj, tag, build)

    def peek(self, key: Hashable, *, tag: Hashable = None) -> V | None:
        """The value cached under (``key``, ``tag``), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] is not None or entry[1] != tag:
                return None
            self._entries.move_to_end(key)
            return entry[2]

    def put(self, key: Hashable, value: V, *, tag: Hashable = None) -> V:
        """Store ``value`` under (``key``, ``tag``), replacing what was there; returns it."""
        return self._store(key, None, tag, value, replace=True)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _get(self, key: Hashable, anchor: object, tag: Hashable, build: Callable[[], V]) -> V:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is anchor and entry[1] == tag:
                self._entries.move_to_end(key)
                return entry[2]
        return self._store(key, anchor, tag, build(), replace=False)

    def _store(self, key: Hashable, anchor: object, tag: Hashable, value: V,
               replace: bool) -> V:
        with self._lock:
            entry = self._entries.get(key)
            if (not replace and entry is not None and entry[0] is anchor
                    and entry[1] == tag):
                value = entry[2]          # another thread stored it meanwhile
            else:
                self._entries[key] = (anchor, tag, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return value


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
        self._local: ProcessCache[list] = ProcessCache(local_max)   # name → entry, by tag
        self._memo: ProcessCache[Any] = ProcessCache(local_max)
        self._lock = threading.Lock()   # guards an entry's parsed value
        self._admit = r.register_script(_ADMIT_LUA) if r is not None else None
        self.hits_local = self.hits_shared = self.builds = self.evicted = 0

    def _local_put(self, name: str, tag: str, text: str, value: Any = None,
                   parsed: bool = False) -> list:
        return self._local.put(name, [tag, text, value, parsed], tag=tag)

    def _entry(self, name: str, tag: str, build: Callable[[], Any],
               ttl_s: int | None = None, budget: CacheBudget | None = None) -> list:
        """[tag, json text, parsed value or None, parsed?] for (name, tag)."""
        entry = self._local.peek(name, tag=tag)
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
                if budget is None:
                    self.r.set(key, f"{tag}\n{text}", ex=ttl_s or self.ttl_s)
                else:
                    self._store_budgeted(name, f"{tag}\n{text}", ttl_s or self.ttl_s, budget)
            except redis.RedisError:
                pass
        return entry

    def _store_budgeted(self, name: str, value: str, ttl_s: int, budget: CacheBudget) -> None:
        """Store ``value`` as the shared entry ``name`` within ``budget``; delete what the
        script evicted to make room. A value larger than the whole budget is not stored."""
        if len(value.encode("utf-8")) > budget.max_bytes:
            return
        evicted = self._admit(
            keys=[self.keys.cache(name), self.keys.cache(f"{budget.group}@index"),
                  self.keys.cache(f"{budget.group}@sizes")],
            args=[name, value, int(ttl_s * 1000), int(time.time() * 1000), budget.max_bytes,
                  budget.max_entries])
        if evicted:
            self.evicted += len(evicted)
            self.r.delete(*[self.keys.cache(n) for n in evicted])

    def get_text(self, name: str, tag: str | int, build: Callable[[], Any],
                 ttl_s: int | None = None, budget: CacheBudget | None = None) -> str:
        """The cached JSON text for (name, tag), else ``dumps(build())`` stored for next time
        (within ``budget`` when given: names that callers choose must use one).

        Redis errors while reading or writing the shared copy are not fatal: the body is
        built here instead (the caller decides what to do when Redis is down for real).
        """
        return self._entry(name, str(tag), build, ttl_s, budget)[1]

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
        return self._memo.get(name, build, tag=str(tag))

    def drop_local(self) -> None:
        """Forget everything held in this process (the shared copies stay)."""
        self._local.clear()
        self._memo.clear()


_caches: ProcessCache[VersionedCache] = ProcessCache(16)


def cache_for(r: redis.Redis, keys: Keys) -> VersionedCache:
    """One cache per (connection, key prefix) in this process."""
    return _caches.get_for(r, lambda: VersionedCache(r, keys), key=keys.base)
