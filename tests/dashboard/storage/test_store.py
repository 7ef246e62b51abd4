"""The store against the real server: idempotency, expiry, geo, time series, quarantine."""
from datetime import datetime, timedelta, timezone

import pytest
import redis

from dashboard.model import RoadEvent, validate
from dashboard.storage.store import Store
from tests.engines.cluster import node_client

pytestmark = pytest.mark.topologies("single", "cluster")

T0 = datetime(2026, 10, 1, 0, 30, tzinfo=timezone.utc)
NOW = T0.timestamp()


def ev(i: int = 1, **kw) -> RoadEvent:
    base = dict(id=f"waze:{i}", kind="incident", category="accident", severity=2,
                source="waze", observed_at=T0, lon=117.09 + i * 0.001, lat=36.19,
                district="泰山区")
    base.update(kw)
    return validate(RoadEvent(**base))


def test_same_batch_twice_changes_nothing_the_second_time(store, r, keys):
    batch = [ev(i) for i in range(10)]
    first = store.upsert_events(batch, now=NOW)
    assert (first.new, first.duplicates, first.version) == (10, 0, 1)
    stream_len = r.xlen(keys.changes())
    ts_before = r.hgetall(keys.ts("new:incident", "20261001"))
    second = store.upsert_events(batch, now=NOW + 5)
    assert (second.new, second.updated, second.duplicates) == (0, 0, 10)
    assert second.version == 1
    assert r.xlen(keys.changes()) == stream_len
    assert r.hgetall(keys.ts("new:incident", "20261001")) == ts_before == {"0030": "10"}


def test_retry_after_lost_reply_is_a_duplicate(store, r, keys, server_url):
    """The reply is lost (socket closed before reading); the client retries the batch."""
    batch = [ev(i) for i in range(3)]
    item_script = store.script("upsert_events")
    chunk = [store._item(e, NOW, None) for e in batch]
    raw = node_client(r, keys.version(), server_url)
    conn = raw.connection_pool.get_connection()
    item_script.sha = r.script_load(item_script.script)
    script_keys, script_args = store._upsert_call(chunk, NOW)
    conn.send_command("EVALSHA", item_script.sha, len(script_keys), *script_keys, *script_args)
    conn.disconnect()  # reply never read
    import time
    deadline = time.time() + 2
    while r.get(keys.version()) is None and time.time() < deadline:
        time.sleep(0.01)
    retry = store.upsert_events(batch, now=NOW + 1)
    assert (retry.new, retry.duplicates) == (0, 3)
    assert store.version() == 1
    assert r.xlen(keys.changes()) == 3


def test_changed_content_is_an_update(store, r, keys):
    store.upsert_events([ev(1)], now=NOW)
    res = store.upsert_events([ev(1, severity=4)], now=NOW + 1)
    assert (res.new, res.updated) == (0, 1)
    assert store.get_event("waze:1").severity == 4
    ops = [f["op"] for _, f in r.xrange(keys.changes())]
    assert ops == ["new", "update"]


def test_ended_event_leaves_active_set_and_geo(store, r, keys):
    store.upsert_events([ev(1), ev(2)], now=NOW)
    res = store.upsert_events([ev(1, status="ended")], now=NOW + 1)
    assert res.ended == 1
    assert store.active_ids("incident", now=NOW) == ["waze:2"]
    assert r.zscore(keys.geo("incident"), "waze:1") is None
    again = store.upsert_events([ev(1, status="ended")], now=NOW + 2)
    assert again.duplicates == 1 and again.version == res.version


def test_expiry_cleanup(store, r, keys):
    store.upsert_events([ev(1)], ttl_s=60, now=NOW)
    store.upsert_events([ev(2)], ttl_s=600, now=NOW)
    assert sorted(store.active_ids("incident", now=NOW + 61)) == ["waze:2"]
    v = store.version()
    assert store.expire_active(now=NOW + 61) == 1
    assert r.zrange(keys.active("incident"), 0, -1) == ["waze:2"]
    assert r.zscore(keys.geo("incident"), "waze:1") is None
    assert store.version() == v + 1
    assert store.expire_active(now=NOW + 61) == 0
    # an expired event seen again comes back to life
    res = store.upsert_events([ev(1)], ttl_s=60, now=NOW + 62)
    assert res.updated == 1 and "waze:1" in store.active_ids("incident", now=NOW + 62)


def test_construction_expires_at_its_end(store):
    end = T0 + timedelta(hours=3)
    store.upsert_events([ev(1, kind="construction", category="roadworks", starts_at=T0,
                            ends_at=end)], now=NOW)
    assert store.active_ids("construction", now=end.timestamp() - 1) == ["waze:1"]
    assert store.active_ids("construction", now=end.timestamp() + 1) == []


def test_active_events_filters(store):
    store.upsert_events([ev(1), ev(2, district="岱岳区"), ev(3, lon=117.3, lat=36.3),
                         ev(4, kind="report", category="jam", source="weibo")], now=NOW)
    assert {e.id for e in store.active_events(now=NOW)} == {"waze:1", "waze:2", "waze:3",
                                                            "waze:4"}
    assert {e.id for e in store.active_events("incident", now=NOW)} == {"waze:1", "waze:2",
                                                                       "waze:3"}
    assert {e.id for e in store.active_events("incident", district="岱岳区", now=NOW)} == {
        "waze:2"}
    box = (117.08, 36.18, 117.095, 36.20)
    assert {e.id for e in store.active_events("incident", bbox=box, now=NOW)} == {"waze:1",
                                                                                 "waze:2"}
    later = T0 + timedelta(minutes=1)
    store.upsert_events([ev(5, observed_at=later)], now=NOW)
    assert [e.id for e in store.active_events("incident", since=later, now=NOW)] == ["waze:5"]


def test_nearest_by_geo(store):
    store.upsert_events([ev(i) for i in range(1, 6)], now=NOW)
    near = store.nearest("incident", 117.0915, 36.19, radius_m=500, count=2)
    assert [i for i, _ in near] == ["waze:2", "waze:1"] or [i for i, _ in near] == ["waze:1",
                                                                                   "waze:2"]
    assert all(d < 200 for _, d in near)


def test_timeseries_buckets(store):
    batch = [ev(i, observed_at=T0 + timedelta(minutes=i * 7)) for i in range(20)]
    store.upsert_events(batch, now=NOW)
    hourly = store.timeseries("new:incident", T0, T0 + timedelta(hours=3), step_minutes=60)
    assert sum(v for _, v in hourly) == 20
    assert hourly[0][0] == datetime(2026, 10, 1, 0, 0, tzinfo=timezone.utc)
    by_district = store.timeseries("new:incident:泰山区", T0, T0 + timedelta(hours=3))
    assert len(by_district) == 20
    store.record_gauge("cidx:city", NOW, 0.25)
    store.record_gauge("cidx:city", NOW + 60, 0.35)
    g = store.timeseries("cidx:city", T0, T0 + timedelta(minutes=5), step_minutes=5,
                         how="mean")
    assert g == [(T0.replace(minute=30), pytest.approx(0.30))]
    with pytest.raises(ValueError):
        store.timeseries("x", datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_congestion_snapshot_and_staleness(store, r, keys):
    changed, v1 = store.set_congestion([("s1", 3, 12.0, "amap", NOW), ("s2", 1, 50, "amap", NOW)],
                                       now=NOW)
    assert changed == 2
    changed, v2 = store.set_congestion([("s1", 3, 11.0, "amap", NOW + 60)], now=NOW + 60)
    assert changed == 0 and v2 == v1
    changed, v3 = store.set_congestion([("s1", 4, 3.0, "amap", NOW + 120)], now=NOW + 120)
    assert changed == 1 and v3 == v1 + 1
    snap = store.congestion_snapshot(stale_s=900, now=NOW + 130)
    assert snap["s1"]["level"] == 4 and snap["s2"]["level"] == 1
    stale = store.congestion_snapshot(stale_s=900, now=NOW + 1000)
    assert stale["s2"]["level"] == 0 and stale["s1"]["level"] == 4
    with pytest.raises(ValueError):
        store.set_congestion([("s1", 7, None, "x", NOW)])


def test_quarantine_keeps_reason_and_raw_bytes(store, r, keys):
    store.quarantine("weibo", "created_at: not a Weibo date", b'{"idstr": "1", "created_at": 5}')
    store.quarantine("hotline", "bad encoding", "电话".encode("gbk"))
    rows = store.quarantined("weibo")
    assert rows[0]["reason"] == "created_at: not a Weibo date"
    assert '"idstr": "1"' in rows[0]["raw"]
    gbk = store.quarantined("hotline")[0]
    assert bytes.fromhex(gbk["raw_hex"]).decode("gbk") == "电话"
    assert store.feed_health()["weibo"]["quarantined"] == "1"


def test_feed_health(store):
    store.update_feed_health("waze", {"accepted": 5, "duplicates": 2}, last_ok=NOW, lag_s=3.2)
    store.update_feed_health("waze", {"accepted": 1}, last_error="timeout", last_error_at=NOW)
    h = store.feed_health("waze")["waze"]
    assert h["accepted"] == "6" and h["duplicates"] == "2" and h["last_error"] == "timeout"
    assert store.feed_names() == ["waze"]


def test_every_key_written_carries_the_prefix_and_tag(store, r, keys):
    store.upsert_events([ev(1), ev(2, kind="report", category="jam")], now=NOW)
    store.set_congestion([("s1", 2, 20, "amap", NOW)], now=NOW)
    store.expire_active(now=NOW + 10 ** 6)
    store.quarantine("x", "r", b"raw")
    written = list(r.scan_iter(match=f"{keys.prefix}:*"))
    assert written and all(k.startswith(keys.base) for k in written)


def test_wait_with_no_replica_raises_not_confirmed(r, keys):
    from dashboard.storage.store import NotConfirmed

    s = Store(r, keys, wait_replicas=1, wait_timeout_ms=50)
    with pytest.raises(NotConfirmed):
        s.upsert_events([ev(1)], now=NOW)
    # the write itself happened on the master; a retry is a duplicate
    s.wait_replicas = 0
    assert s.upsert_events([ev(1)], now=NOW).duplicates == 1


def test_a_long_lived_event_keeps_its_hash_while_active(store, r, keys):
    """Roadworks ending in 80 days outlive the 7-day hash TTL only if the TTL counts from
    their end; a re-sent unchanged event renews it (it would otherwise come back as new)."""
    import time as _time

    now = _time.time()
    works = ev(7, kind="construction", category="roadworks",
               ends_at=datetime.fromtimestamp(now, timezone.utc) + timedelta(days=80))
    assert store.upsert_events([works], now=now).new == 1
    ttl = r.ttl(keys.event(works.id))
    assert 80 * 86400 < ttl <= 80 * 86400 + store.event_ttl_s + 60
    r.expire(keys.event(works.id), 100)  # as if it had not been seen for a long time
    again = store.upsert_events([works], now=now + 60)
    assert again.duplicates == 1
    assert r.ttl(keys.event(works.id)) > 80 * 86400 - 120


def test_two_sources_alternating_do_not_flip_a_segment(store, r, keys):
    """Two equally ranked sources (Weibo and app reports, both unlisted) disagree on
    alternate polls: the first level stands, and the data version does not move, until the
    other level is confirmed in a row."""
    changed, v1 = store.set_congestion([("s1", 3, 10.0, "app", NOW)], now=NOW)
    assert changed == 1
    for i in range(1, 7):
        t = NOW + 10 * i
        reading = ("s1", 2, 25.0, "weibo", t) if i % 2 else ("s1", 3, 9.0, "app", t)
        changed, v = store.set_congestion([reading], now=t)
        assert (changed, v) == (0, v1)
        assert store.congestion_snapshot(now=t + 1)["s1"]["level"] == 3
    # app reports stop and Weibo says 2 twice in a row: confirmed, one change
    store.set_congestion([("s1", 2, 25.0, "weibo", NOW + 70)], now=NOW + 70)
    changed, v2 = store.set_congestion([("s1", 2, 25.0, "weibo", NOW + 80)], now=NOW + 80)
    assert (changed, v2) == (1, v1 + 1)
    assert store.congestion_snapshot(now=NOW + 81)["s1"]["level"] == 2


def test_stale_or_unknown_reading_does_not_replace_a_fresh_one(store):
    """The flicker of issue 14: a 20-minute-old Waze "unknown" replaced a fresh Amap level."""
    changed, v1 = store.set_congestion([("s1", 3, 12.0, "amap", NOW)], now=NOW)
    assert changed == 1
    old = NOW - 20 * 60
    assert store.set_congestion([("s1", 0, None, "waze", old)], now=NOW + 5) == (0, v1)
    # a fresh unknown from a source, an old known level from another: neither replaces it
    assert store.set_congestion([("s1", 0, None, "waze", NOW + 10)], now=NOW + 10) == (0, v1)
    assert store.set_congestion([("s1", 0, None, "amap", NOW + 12)], now=NOW + 12) == (0, v1)
    assert store.set_congestion([("s1", 1, 50.0, "waze", NOW - 400)], now=NOW + 14) == (0, v1)
    # even its own source cannot go back in time
    assert store.set_congestion([("s1", 1, 50.0, "amap", NOW - 1)], now=NOW + 16) == (0, v1)
    snap = store.congestion_snapshot(now=NOW + 20)["s1"]
    assert (snap["level"], snap["source"]) == (3, "amap")
    # once the Amap reading is no longer fresh, any newer reading replaces it
    later = NOW + store.congestion_fresh_s + 1
    assert store.set_congestion([("s1", 2, 20.0, "waze", later)], now=later) == (1, v1 + 1)


def test_a_fresher_higher_ranked_reading_wins_at_once(store):
    """Amap ranks above Waze: its fresh reading replaces Waze's at once; Waze's next
    reading of another level does not take it back while Amap's is fresh."""
    changed, v1 = store.set_congestion([("s1", 3, 10.0, "waze", NOW)], now=NOW)
    changed, v2 = store.set_congestion([("s1", 2, 25.0, "amap", NOW + 30)], now=NOW + 30)
    assert (changed, v2) == (1, v1 + 1)
    for t in (NOW + 40, NOW + 50, NOW + 60):
        assert store.set_congestion([("s1", 3, 9.0, "waze", t)], now=t) == (0, v2)
    assert store.congestion_snapshot(now=NOW + 61)["s1"]["level"] == 2
    # a source replaces its own reading; the same level again changes nothing
    assert store.set_congestion([("s1", 4, 3.0, "amap", NOW + 70)], now=NOW + 70) == (1, v2 + 1)
    assert store.set_congestion([("s1", 4, 3.0, "amap", NOW + 80)], now=NOW + 80) == (0, v2 + 1)


def test_congestion_source_ranks_come_from_settings(r, keys):
    from dashboard.settings import load_settings

    s = load_settings(env={"LUKUANG_CONGESTION_SOURCES": "waze, amap",
                           "LUKUANG_CONGESTION_CONFIRM": "3"})
    store = Store.from_settings(r, s)
    assert store.congestion_sources == ("waze", "amap") and store.congestion_confirm == 3
