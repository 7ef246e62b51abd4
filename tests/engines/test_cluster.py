"""The store's acknowledgement on a real Redis Cluster: WAIT goes to the master of the city's
slot, on the very connection that wrote the batch (MONITOR shows the client address)."""
from __future__ import annotations

import uuid

import pytest

from dashboard.storage.connection import client_for_url
from dashboard.storage.keys import Keys
from dashboard.storage.redis_compat import delete_matching
from dashboard.storage.store import NotConfirmed, Store
from tests.dashboard.storage.test_store import NOW, ev
from tests.engines.monitor import Monitor


@pytest.fixture(params=["taian", "zibo", "linyi"])
def city_keys(request):
    """Cities on each of the three masters (slots 2927, 7973, 14198): one of them sits on
    the node the client was given, the others must be routed by slot."""
    return Keys(prefix=f"lktest{uuid.uuid4().hex[:8]}", city=request.param)


def _holder_url(r, key: str) -> str:
    node = r.get_node_from_key(key)
    return f"redis://{node.host}:{node.port}/0"


def test_wait_runs_on_the_writing_connection_of_the_city_master(cluster_replicas_url,
                                                                city_keys):
    r, mode = client_for_url(cluster_replicas_url)
    assert mode == "cluster"
    try:
        store = Store(r, city_keys, wait_replicas=1, wait_timeout_ms=5000)
        mon = Monitor(_holder_url(r, city_keys.version()))
        try:
            res = store.upsert_events([ev(i) for i in range(5)], now=NOW)
        finally:
            mon.stop()
        assert (res.new, res.version) == (5, 1)
        writers = {c for c, args in mon.lines
                   if args[0].upper() in (b"EVAL", b"EVALSHA")
                   and args[3].decode() == city_keys.version()}
        waiters = {c for c, args in mon.lines if args[0].upper() == b"WAIT"}
        assert len(writers) == 1 and writers <= waiters, (writers, waiters)
        assert store.get_event("waze:1") is not None
    finally:
        delete_matching(r, f"{city_keys.prefix}:*")
        r.close()


def test_without_replicas_the_batch_is_not_confirmed(cluster_url, city_keys):
    r, _ = client_for_url(cluster_url)
    try:
        store = Store(r, city_keys, wait_replicas=1, wait_timeout_ms=100)
        with pytest.raises(NotConfirmed, match="confirmed by 0 of 1"):
            store.upsert_events([ev(1)], now=NOW)
    finally:
        delete_matching(r, f"{city_keys.prefix}:*")
        r.close()


def test_a_write_redirected_during_the_batch_is_not_confirmed(cluster_replicas_url):
    """The client's slot map is stale (as after a resharding): the batch goes to the wrong
    master, which answers MOVED, and redis-py redoes it on the right one, outside the
    connection the WAIT was queued on. The store must not call that confirmed; the retry is."""
    keys = Keys(prefix=f"lktest{uuid.uuid4().hex[:8]}", city="zibo")
    r, _ = client_for_url(cluster_replicas_url)
    try:
        store = Store(r, keys, wait_replicas=1, wait_timeout_ms=5000)
        right = r.get_node_from_key(keys.version())
        wrong = next(n for n in r.get_primaries() if n.name != right.name)
        r.nodes_manager.slots_cache[r.keyslot(keys.version())] = [wrong]
        with pytest.raises(NotConfirmed, match="slot moved"):
            store.upsert_events([ev(1), ev(2)], now=NOW)
        assert r.get_node_from_key(keys.version()).name == right.name  # the map healed
        retry = store.upsert_events([ev(1), ev(2)], now=NOW)
        assert (retry.new, retry.duplicates, retry.version) == (0, 2, 1)
    finally:
        delete_matching(r, f"{keys.prefix}:*")
        r.close()


def test_cleanup_by_pattern_reaches_every_master(cluster_url):
    """The tests' key cleanup (SCAN + DEL) finds keys of cities on all three masters."""
    r, _ = client_for_url(cluster_url)
    prefix = f"lktest{uuid.uuid4().hex[:8]}"
    try:
        cities = [Keys(prefix, c) for c in ("taian", "zibo", "linyi")]
        for k in cities:
            r.set(k.version(), 1)
        assert len({r.get_node_from_key(k.version()).name for k in cities}) == 3
        assert delete_matching(r, f"{prefix}:*") == 3
        assert [r.exists(k.version()) for k in cities] == [0, 0, 0]
    finally:
        r.close()
