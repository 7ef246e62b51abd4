"""The two ways of opening Redis (``connection.WORK`` and ``SERVE``): what bounds a call.

A hung server is a loopback proxy that forwards nothing (``tests/fault/tcp_proxy.py``
``freeze``): connections open, no answer ever comes, as under a stopped Redis process.
"""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlparse

import pytest
import redis

from dashboard.storage.connection import SERVE, open_redis
from tests.fault.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def proxy(redis_url):
    u = urlparse(redis_url)
    p = TcpProxy((u.hostname or "127.0.0.1", u.port or 6379)).start()
    yield p
    p.close()


def _via(proxy, redis_url: str, settings, **over):
    return replace(settings, redis_url=f"redis://127.0.0.1:{proxy.port}"
                                       f"{urlparse(redis_url).path}", **over)


def test_serving_connections_are_bounded_and_never_retry_a_timeout(settings):
    handle = open_redis(replace(settings, redis_serve_timeout_s=0.7), purpose=SERVE)
    try:
        kw = handle.client.connection_pool.connection_kwargs
        assert kw["socket_timeout"] == 0.7 and kw["socket_connect_timeout"] == 0.7
        retry = handle.client.get_retry()
        assert retry.get_retries() == 1
        assert redis.TimeoutError not in retry._supported_errors   # a hung server: no retry
        assert redis.ConnectionError in retry._supported_errors    # a dropped connection: one
    finally:
        handle.close()
    work = open_redis(settings)   # feed runners and commands: the longer bound
    try:
        assert work.client.connection_pool.connection_kwargs["socket_timeout"] == \
            settings.redis_timeout_s == 5.0
    finally:
        work.close()


def test_a_hung_server_makes_serving_calls_fail_not_wait(proxy, redis_url, settings):
    """The first call waits for its timeout and raises TimeoutError; then every call fails
    at once (ConnectionError, without asking Redis) until one tries again and Redis
    answers: the request then answers 503 or the wall's banner in milliseconds."""
    handle = open_redis(_via(proxy, redis_url, settings, redis_serve_timeout_s=0.5),
                        purpose=SERVE)
    client = handle.client
    client.breaker.retry_after_s = 0.3
    try:
        assert client.ping()
        proxy.freeze()
        with pytest.raises(redis.TimeoutError):
            client.get("lk:probe")
        with pytest.raises(redis.ConnectionError, match="did not answer"):
            client.get("lk:probe")
        with pytest.raises(redis.ConnectionError, match="did not answer"):
            client.pipeline(transaction=False).get("lk:probe").execute()
        proxy.thaw()
        assert _eventually(client.ping), "the client never asked Redis again"
        assert client.get("lk:probe") is None          # closed again: calls go through
    finally:
        proxy.thaw()
        handle.close()


def test_work_connections_never_fail_fast(proxy, redis_url, settings):
    handle = open_redis(_via(proxy, redis_url, settings, redis_timeout_s=0.5))
    try:
        assert handle.client.breaker is None
        proxy.freeze()
        for _ in range(2):   # each call really asks (and times out, after its retries)
            with pytest.raises(redis.TimeoutError):
                handle.client.get("lk:probe")
    finally:
        proxy.thaw()
        handle.close()


def _eventually(call, timeout: float = 20.0) -> bool:
    """Whether ``call()`` succeeds before ``timeout`` (trying every 50 ms)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return bool(call())
        except redis.ConnectionError:
            time.sleep(0.05)
    return False
