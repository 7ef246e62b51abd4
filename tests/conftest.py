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

from dashboard.storage.embedded import EmbeddedValkey
from dashboard.storage.keys import Keys
from dashboard.storage.redis_compat import delete_matching
from dashboard.settings import load_settings
from dashboard.storage.store import Store

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


NO_BINARY = "no redis-server or valkey-server binary"


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory) -> str:
    """A real 3-master Redis Cluster on loopback ports, started once per session."""
    from tests.engines.cluster import LocalCluster
    from tests.engines.procs import server_binary

    if server_binary() is None:
        pytest.skip(NO_BINARY)
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster.url
    cluster.stop()


@pytest.fixture(scope="session")
def cluster_replicas_url(tmp_path_factory) -> str:
    """A second real cluster: 3 masters with one replica each, started once per session."""
    from tests.engines.cluster import LocalCluster
    from tests.engines.procs import server_binary

    if server_binary() is None:
        pytest.skip(NO_BINARY)
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster-replicas"), replicas=1).start()
    yield cluster.url
    cluster.stop()


def pytest_generate_tests(metafunc):
    """``pytestmark = pytest.mark.topologies("single", "cluster")`` runs every test of the
    module that uses ``r``/``keys``/``store``/``settings`` once per topology."""
    marker = metafunc.definition.get_closest_marker("topologies")
    if marker is not None and "topology" in metafunc.fixturenames:
        metafunc.parametrize("topology", marker.args, indirect=True, ids=list(marker.args))


@pytest.fixture
def topology(request) -> str:
    """single (the machine Redis, db 13) or cluster (the session's own 3-master cluster)."""
    return getattr(request, "param", "single")


@pytest.fixture
def server_url(request, topology) -> str:
    """The URL of the server under test for this topology."""
    if topology == "cluster":
        return request.getfixturevalue("cluster_url")
    return request.getfixturevalue("redis_url")


@pytest.fixture
def r(server_url, topology):
    """A decode_responses client; a RedisCluster on the cluster (built the way the app does)."""
    if topology == "cluster":
        from dashboard.storage.connection import client_for_url

        client, mode = client_for_url(server_url)
        assert mode == "cluster"
    else:
        client = redis.Redis.from_url(server_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys(r) -> Keys:
    """A key builder with a unique prefix; every key under it is deleted afterwards
    (on a cluster, SCAN visits every master)."""
    k = Keys(prefix=f"lktest{uuid.uuid4().hex[:8]}", city="taian")
    yield k
    delete_matching(r, f"{k.prefix}:*")


@pytest.fixture
def store(r, keys) -> Store:
    return Store(r, keys)


@pytest.fixture
def settings(tmp_path, server_url, keys):
    """Settings pointing at the test server, prefix and a private state dir."""
    return load_settings(env={}, redis_url=server_url, key_prefix=keys.prefix,
                         state_dir=str(tmp_path / "state"))


REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "samples"
