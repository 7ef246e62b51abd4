"""The embedded Valkey: AOF on, reused by a second command, data kept across restarts."""
import os
import signal

import redis

from dashboard.connection import open_redis, persistence_warnings
from dashboard.embedded import EmbeddedValkey
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
