"""The embedded Valkey: AOF on, reused by a second command, data kept across restarts."""
import os
import signal

import redis

from dashboard.storage.connection import open_redis, persistence_warnings
from dashboard.storage.embedded import EmbeddedValkey
from dashboard.settings import load_settings


def test_embedded_server_keeps_data_across_a_restart(tmp_path):
    settings = load_settings(env={}, state_dir=str(tmp_path))
    first = open_redis(settings)
    try:
        assert first.mode == "embedded" and first.embedded is not None
        assert first.client.config_get("appendonly")["appendonly"] == "yes"
        assert persistence_warnings(first.client) == []
        # a second command finds the running server and does not own it
        second = open_redis(settings)
        assert second.url == first.url and second.embedded is None
        second.client.set("lk:{taian}:probe", "kept")
        second.close()
        assert first.client.get("lk:{taian}:probe") == "kept"
    finally:
        first.close()
    assert EmbeddedValkey(tmp_path).running_url() is None
    again = open_redis(settings)
    try:
        assert again.client.get("lk:{taian}:probe") == "kept"
    finally:
        again.close()


def test_acknowledged_write_survives_sigkill(tmp_path):
    """appendfsync everysec may lose up to a second; after a second's wait nothing is lost."""
    emb = EmbeddedValkey(tmp_path)
    url = emb.start()
    c = redis.Redis.from_url(url, decode_responses=True)
    c.set("k", "v")
    import time
    time.sleep(1.5)
    os.kill(emb.process.pid, signal.SIGKILL)
    emb.process.wait()
    emb.process = None
    url2 = emb.start()
    try:
        assert redis.Redis.from_url(url2, decode_responses=True).get("k") == "v"
    finally:
        emb.stop()


def test_persistence_off_is_warned(r):
    # the machine's Redis in CI keeps nothing on disk; when it does, the warning is absent
    aof = r.config_get("appendonly")["appendonly"]
    save = r.config_get("save")["save"]
    warnings = persistence_warnings(r)
    if aof == "no" and not save:
        assert warnings and "persistence off" in warnings[0]
    elif aof == "no":
        assert "AOF off" in warnings[0]
    else:
        assert warnings == []


def test_no_server_and_no_embedded_is_a_clear_error(tmp_path):
    settings = load_settings(env={}, state_dir=str(tmp_path))
    try:
        open_redis(settings, start_embedded=False)
    except redis.ConnectionError as exc:
        assert "no REDIS_URL" in str(exc)
    else:
        raise AssertionError("expected ConnectionError")


def test_batches_wait_for_the_aof_fsync_on_the_embedded_server(tmp_path):
    """With WAITAOF an acknowledged batch is on disk: SIGKILL right after loses nothing."""
    from datetime import datetime, timezone

    from dashboard.storage.keys import Keys
    from dashboard.model import RoadEvent
    from dashboard.storage.store import Store

    emb = EmbeddedValkey(tmp_path)
    url = emb.start()
    c = redis.Redis.from_url(url, decode_responses=True)
    store = Store(c, Keys(), wait_aof=True)
    t = datetime(2026, 10, 1, tzinfo=timezone.utc)
    acked = 0
    for i in range(20):
        store.upsert_events([RoadEvent(id=f"t:{i}", kind="report", category="jam", severity=1,
                                       source="t", observed_at=t, lon=117.1, lat=36.2)])
        acked += 1
    assert store.wait_aof  # the server supports it, so it stayed on
    os.kill(emb.process.pid, signal.SIGKILL)
    emb.process.wait()
    emb.process = None
    url2 = emb.start()
    try:
        c2 = redis.Redis.from_url(url2, decode_responses=True)
        kept = sum(1 for i in range(acked) if c2.exists(Keys().event(f"t:{i}")))
        assert kept == acked
    finally:
        emb.stop()


def test_wait_aof_turns_itself_off_without_aof(r, keys):
    from dashboard.storage.store import Store

    if r.config_get("appendonly")["appendonly"] == "yes":
        import pytest
        pytest.skip("this server has AOF on; the fallback path is not reachable here")
    from tests.dashboard.storage.test_store import NOW, ev

    s = Store(r, keys, wait_aof=True)
    assert s.upsert_events([ev(1)], now=NOW).new == 1  # written and acknowledged
    assert s.wait_aof is False
