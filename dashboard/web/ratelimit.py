"""A per-client request limit in Redis: a fixed window counted by one Lua script. Used by
the public road query (scope "public") and by anonymous calls to the JSON API (scope "api").

The first request of a client starts a window of ``window_s`` seconds (the counter key's
TTL); every request in it increments the counter, and once it passes ``limit`` the caller
is told to wait until the key expires. One round trip per request, shared by every worker
and host. A fixed window lets a client send up to twice the limit across a window boundary;
that is good enough to keep one phone (or one script) from taking the server for itself.

The client is ``request.remote_addr``: behind a reverse proxy that is the proxy, unless the
proxy's ``X-Forwarded-For`` is trusted via ``settings.trusted_proxies`` (werkzeug ProxyFix,
applied in app.py); never trust that header without a proxy that sets it.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

import redis

from dashboard.storage.cache import ProcessCache
from dashboard.storage.keys import Keys

# INCR, and start the window on the first hit (or if the key somehow lost its TTL).
# Returns {count, milliseconds until the window ends}.
_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
_CLIENT_RE = re.compile(r"^[0-9A-Fa-f:.]{1,45}$")   # an IPv4 or IPv6 address


@dataclass(frozen=True)
class Verdict:
    """The outcome of one request: allowed or not, the count so far, when to retry."""

    allowed: bool
    count: int
    limit: int
    retry_after_s: int


def client_id(remote_addr: str | None) -> str:
    """A key-safe name for the client: its address, or a digest of anything odd."""
    addr = (remote_addr or "").strip()
    if _CLIENT_RE.match(addr):
        return addr
    return "x" + hashlib.sha1(addr.encode("utf-8", "replace")).hexdigest()[:16]


class RateLimiter:
    """``hit(client)`` counts one request of ``client`` under ``scope``."""

    def __init__(self, r: redis.Redis, keys: Keys, scope: str, limit: int, window_s: float):
        self.r = r
        self.keys = keys
        self.scope = scope
        self.limit = int(limit)
        self.window_ms = max(1000, int(window_s * 1000))
        self._script = r.register_script(_HIT_LUA)

    def hit(self, client: str) -> Verdict:
        """Count this request; raises ``redis.RedisError`` when Redis cannot be reached.
        A limit of 0 or less allows everything without touching Redis."""
        if self.limit <= 0:
            return Verdict(True, 0, self.limit, 0)
        key = self.keys.rate(self.scope, client_id(client))
        count, ttl_ms = self._script(keys=[key], args=[self.window_ms])
        count, ttl_ms = int(count), max(0, int(ttl_ms))
        retry = max(1, math.ceil(ttl_ms / 1000))
        return Verdict(count <= self.limit, count, self.limit, retry)


_limiters: ProcessCache[RateLimiter] = ProcessCache(16)   # by connection, city, scope


def limiter_for(svc, scope: str, limit: int, window_s: float) -> RateLimiter:
    """This process's limiter for ``scope`` on the worker's connection (``svc``: its
    Services), rebuilt when the limit or window changes."""
    return _limiters.get_for(svc.r, lambda: RateLimiter(svc.r, svc.keys, scope, limit,
                                                        window_s),
                             key=(svc.keys.base, scope), tag=(limit, window_s))
