"""Open the Redis connection the settings ask for: a URL, Sentinel, Cluster or embedded Valkey."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from dashboard.storage.embedded import EmbeddedValkey
from dashboard.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RedisHandle:
    """A client plus what it is connected to, and the embedded server we own, if any."""

    client: redis.Redis
    url: str
    mode: str  # single | sentinel | cluster | embedded
    embedded: EmbeddedValkey | None = None
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Close the client and stop the embedded server if this process started it."""
        try:
            self.client.close()
        finally:
            if self.embedded is not None:
                self.embedded.stop()
                self.embedded = None


# Two ways of using Redis, two bounds on a call (``settings.redis_timeout_s`` and
# ``settings.redis_serve_timeout_s``):
# - "work" (feed runners, commands, benchmarks): a batch may legitimately take seconds (WAIT,
#   WAITAOF, a big pipeline), so the socket timeout is long and a dropped connection or a
#   timeout is retried a few times (the caller retries the batch anyway, idempotently);
# - "serve" (the web app, every request): each call must end soon whatever Redis does (a
#   frozen or unreachable server answers 503 or the wall's banner within a second or two,
#   not after redis-py's default 10 retries of 5 s each), so the socket timeout is short and
#   only a dropped connection (instant) is retried once; a timeout is never retried.
WORK, SERVE = "work", "serve"


# After a serving call found Redis not answering, every call fails at once for this long
# (then one call tries again): see FailFastRedis.
SERVE_RETRY_AFTER_S = 2.0


class _Breaker:
    """Whether Redis answered the last call: closed (calls go through), or open until a
    time (calls fail at once), then one call at a time tries again (a probe)."""

    def __init__(self, retry_after_s: float):
        self.retry_after_s = retry_after_s
        self._down_until = 0.0          # monotonic; 0: closed
        self._since = 0.0
        self._probe = threading.Lock()

    def enter(self) -> bool:
        """Before a call: raise ConnectionError while open; True when this call is the
        probe (it must call ``leave``)."""
        if not self._down_until:
            return False
        now = time.monotonic()
        if now < self._down_until or not self._probe.acquire(blocking=False):
            raise redis.ConnectionError(
                f"Redis did not answer {now - self._since:.1f} s ago; not asking again "
                f"for {max(0.0, self._down_until - now):.1f} s")
        return True

    def leave(self, probe: bool, answered: bool) -> None:
        """After a call: close on an answer, (re)open on a timeout or connection error."""
        if answered:
            self._down_until = 0.0
        else:
            now = time.monotonic()
            if not self._down_until:
                self._since = now
            self._down_until = now + self.retry_after_s
        if probe:
            self._probe.release()


class FailFastRedis(redis.Redis):
    """The web app's client. Each call is bounded by the socket timeout; in addition, once a
    call found Redis not answering (a timeout or a connection error), every call of this
    process fails at once with ``redis.ConnectionError`` for ``SERVE_RETRY_AFTER_S``, then
    one call at a time tries Redis again. During an outage a request is then answered in
    milliseconds (503, the wall's "数据连接中断") instead of holding a gunicorn thread for
    the timeout: with hundreds of displays polling every second, requests that each waited
    a second would queue without end, and the Dash renderer drops an answer that arrives
    after the page has asked again (the wall asks every second), so a banner sent a second
    late would never be shown. Answers of Redis itself (errors included) close it again."""

    breaker: _Breaker | None = None

    def _guarded(self, call, *args, **kwargs):
        breaker = self.breaker
        if breaker is None:
            return call(*args, **kwargs)
        probe = breaker.enter()
        answered = True
        try:
            return call(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError):
            answered = False
            raise
        finally:
            breaker.leave(probe, answered)

    def execute_command(self, *args, **options):
        return self._guarded(super().execute_command, *args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute
        pipe.execute = lambda *a, **kw: self._guarded(execute, *a, **kw)
        return pipe


def _retry(purpose: str) -> Retry:
    """The retry policy of a connection used for ``purpose``."""
    if purpose == SERVE:
        return Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.1), 1,
                     supported_errors=(redis.ConnectionError,))
    # up to 4 retries, 0.05 s doubling to at most 0.5 s apart: rides out a dropped connection
    # without hiding a failover in progress (a few seconds) from the caller for long
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 4,
                 supported_errors=(redis.ConnectionError, redis.TimeoutError))


def _sentinel_client(url: str, db: int, timeout: float, purpose: str = WORK) -> redis.Redis:
    """``redis+sentinel://h1:p1,h2:p2/MASTER[/DB]``; the data servers' password comes from
    REDIS_PASSWORD, the sentinels' from REDIS_SENTINEL_PASSWORD.

    The client follows failovers: every new connection asks a sentinel for the master, and a
    connection that fails (killed master, or READONLY from a demoted one, which redis-py turns
    into a ConnectionError) is dropped and the command retried a few times with a short
    backoff. Longer outages surface as ConnectionError to the caller, who retries.
    """
    import os

    rest = url.split("://", 1)[1]
    hosts_part, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ValueError("sentinel URL needs a master name: redis+sentinel://HOST:PORT/MASTER")
    master = unquote(parts[0])
    if len(parts) > 1:
        db = int(parts[1])
    nodes = []
    for hp in hosts_part.split(","):
        host, _, port = hp.rpartition(":")
        nodes.append((host or "127.0.0.1", int(port or 26379)))
    # sentinel_kwargs replaces redis-py's defaults, so the timeouts must be repeated here:
    # without them a hung sentinel would block the discovery forever.
    sentinel = Sentinel(nodes, sentinel_kwargs={
        "password": os.environ.get("REDIS_SENTINEL_PASSWORD") or None,
        "socket_timeout": min(timeout, 1.0), "socket_connect_timeout": min(timeout, 1.0)})
    client = sentinel.master_for(master, db=db, redis_class=FailFastRedis,
                                 password=os.environ.get("REDIS_PASSWORD") or None,
                                 decode_responses=True, socket_timeout=timeout,
                                 socket_connect_timeout=timeout, retry=_retry(purpose),
                                 health_check_interval=30)
    if purpose == SERVE:
        client.breaker = _Breaker(SERVE_RETRY_AFTER_S)
    return client


def client_for_url(url: str, db: int | None = None, timeout: float = 5.0,
                   force_cluster: bool = False,
                   purpose: str = WORK) -> tuple[redis.Redis, str]:
    """A decoded-responses client for ``url`` and the mode it runs in. ``timeout`` bounds
    each connect and each reply; ``purpose`` (``WORK`` or ``SERVE``) picks the retries."""
    scheme = urlparse(url).scheme
    if scheme == "redis+sentinel":
        return _sentinel_client(url, db or 0, timeout, purpose), "sentinel"
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"unsupported Redis URL scheme {scheme!r} "
                         "(use redis://, rediss://, unix:// or redis+sentinel://)")
    kwargs = {"decode_responses": True, "socket_timeout": timeout,
              "socket_connect_timeout": timeout, "health_check_interval": 30,
              "retry": _retry(purpose)}
    if db is not None and scheme != "unix":
        kwargs["db"] = db
    client = FailFastRedis.from_url(url, **kwargs)
    if force_cluster or _is_cluster(client):
        client.close()
        try:
            return RedisCluster.from_url(url, decode_responses=True, socket_timeout=timeout,
                                         socket_connect_timeout=timeout), "cluster"
        except RedisClusterException as exc:  # not a RedisError: say what to change
            raise ValueError(f"cannot open {url} as a Redis Cluster"
                             f"{' (LUKUANG_CLUSTER is set)' if force_cluster else ''}: "
                             f"{exc}") from exc
    if purpose == SERVE:   # after _is_cluster: a server that is down at start is no cluster
        client.breaker = _Breaker(SERVE_RETRY_AFTER_S)
    return client, "single"


def _is_cluster(client: redis.Redis) -> bool:
    try:
        return str(client.info("cluster").get("cluster_enabled", 0)) == "1"
    except redis.RedisError:
        return False


def persistence_warnings(client: redis.Redis) -> list[str]:
    """Plain-words warnings when acknowledged data could be lost on a restart.
    On a cluster every master is checked, and each warning names its node."""
    if isinstance(client, RedisCluster):
        out = []
        for node in client.get_primaries():
            for w in persistence_warnings(client.get_redis_connection(node)):
                out.append(f"{node.name}: {w}")
        return out
    try:
        info = client.info("persistence")
    except redis.RedisError as exc:
        return [f"could not read persistence settings: {exc}"]
    aof = str(info.get("aof_enabled", 0)) == "1"
    rdb_saves = ""
    try:
        rdb_saves = client.config_get("save").get("save", "")
    except redis.RedisError:
        pass
    if not aof and not rdb_saves:
        return ["the Redis server has persistence off (no AOF, no RDB snapshots): "
                "a restart loses every event; enable appendonly yes"]
    if not aof:
        return ["the Redis server has AOF off: a crash loses the writes since the last snapshot"]
    return []


def open_redis(settings: Settings, start_embedded: bool = True,
               purpose: str = WORK) -> RedisHandle:
    """Connect as configured. Without REDIS_URL, reuse or start the embedded Valkey.
    ``purpose=SERVE`` (the web app) bounds every call by ``settings.redis_serve_timeout_s``
    and never retries a timeout; ``WORK`` uses ``settings.redis_timeout_s``."""
    timeout = settings.redis_serve_timeout_s if purpose == SERVE else settings.redis_timeout_s
    if settings.redis_url:
        client, mode = client_for_url(settings.redis_url, settings.redis_db, timeout,
                                      force_cluster=settings.cluster, purpose=purpose)
        handle = RedisHandle(client, settings.redis_url, mode)
    else:
        emb = EmbeddedValkey(settings.state_dir)
        url = emb.running_url()
        owner = None
        if url is None:
            if not start_embedded:
                raise redis.ConnectionError(
                    f"no REDIS_URL and no embedded server running for {settings.state_dir}")
            url = emb.start()
            owner = emb
        client, _ = client_for_url(url, settings.redis_db, timeout, purpose=purpose)
        handle = RedisHandle(client, url, "embedded", embedded=owner)
    for warning in persistence_warnings(handle.client):
        log.warning(warning)
        handle.notes.append(warning)
    return handle
