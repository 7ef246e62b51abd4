"""Open the Redis connection the settings ask for: a URL, Sentinel, Cluster or embedded Valkey."""
from __future__ import annotations

import logging
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


def _sentinel_client(url: str, db: int, timeout: float) -> redis.Redis:
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
    # up to 4 retries, 0.05 s doubling to at most 0.5 s apart: rides out a dropped connection
    # without hiding a failover in progress (a few seconds) from the caller for long
    retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 4,
                  supported_errors=(redis.ConnectionError, redis.TimeoutError))
    return sentinel.master_for(master, db=db, password=os.environ.get("REDIS_PASSWORD") or None,
                               decode_responses=True, socket_timeout=timeout,
                               socket_connect_timeout=timeout, retry=retry,
                               health_check_interval=30)


def client_for_url(url: str, db: int | None = None, timeout: float = 5.0,
                   force_cluster: bool = False) -> tuple[redis.Redis, str]:
    """A decoded-responses client for ``url`` and the mode it runs in."""
    scheme = urlparse(url).scheme
    if scheme == "redis+sentinel":
        return _sentinel_client(url, db or 0, timeout), "sentinel"
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"unsupported Redis URL scheme {scheme!r} "
                         "(use redis://, rediss://, unix:// or redis+sentinel://)")
    kwargs = {"decode_responses": True, "socket_timeout": timeout,
              "socket_connect_timeout": timeout, "health_check_interval": 30}
    if db is not None and scheme != "unix":
        kwargs["db"] = db
    client = redis.Redis.from_url(url, **kwargs)
    if force_cluster or _is_cluster(client):
        client.close()
        try:
            return RedisCluster.from_url(url, decode_responses=True,
                                         socket_timeout=timeout), "cluster"
        except RedisClusterException as exc:  # not a RedisError: say what to change
            raise ValueError(f"cannot open {url} as a Redis Cluster"
                             f"{' (LUKUANG_CLUSTER is set)' if force_cluster else ''}: "
                             f"{exc}") from exc
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


def open_redis(settings: Settings, start_embedded: bool = True) -> RedisHandle:
    """Connect as configured. Without REDIS_URL, reuse or start the embedded Valkey."""
    if settings.redis_url:
        client, mode = client_for_url(settings.redis_url, settings.redis_db,
                                      force_cluster=settings.cluster)
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
        client, _ = client_for_url(url, settings.redis_db)
        handle = RedisHandle(client, url, "embedded", embedded=owner)
    for warning in persistence_warnings(handle.client):
        log.warning(warning)
        handle.notes.append(warning)
    return handle
