"""Shared fixtures: a real Redis-compatible server, never a mock.

The machine's Redis at 127.0.0.1:6379 is used with its own database number and a
per-test key prefix; where none is reachable, one embedded Valkey is started for
the session. Set LUKUANG_TEST_REDIS_URL to point the suite elsewhere.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis

from dashboard.embedded import EmbeddedValkey
from dashboard.keys import Keys
from dashboard.settings import load_settings
from dashboard.store import Store

TEST_DB = 13
DEFAULT_URL = f"redis://127.0.0.1:6379/{TEST_DB}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    url = os.environ.get("LUKUANG_TEST_REDIS_URL", DEFAULT_URL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        yield url
        return
    except redis.ConnectionError:
        pass
    emb = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    started = emb.start()
    yield started.rsplit("/", 1)[0] + f"/{TEST_DB}"
    emb.stop()


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys(r) -> Keys:
    """A key builder with a unique prefix; every key under it is deleted afterwards."""
    k = Keys(prefix=f"lktest{uuid.uuid4().hex[:8]}", city="taian")
    yield k
    for key in r.scan_iter(match=f"{k.prefix}:*", count=1000):
        r.delete(key)


@pytest.fixture
def store(r, keys) -> Store:
    return Store(r, keys)


@pytest.fixture
def settings(tmp_path, redis_url, keys):
    """Settings pointing at the test server, prefix and a private state dir."""
    return load_settings(env={}, redis_url=redis_url, key_prefix=keys.prefix,
                         state_dir=str(tmp_path / "state"))


REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "samples"
