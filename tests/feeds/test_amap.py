"""Amap traffic-status adapter: string numbers, GCJ-02 polylines, gauges, jammed roads."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.roads.geo import haversine_m
from feeds.amap import AmapAdapter
from feeds.base import PayloadError
from feeds.pipeline import ingest_payload
from tests.feeds import fixture_bytes, make_ctx, taian_network

DONGYUE_ID = "amap:东岳大街:从龙潭路到青年路"
# the WGS-84 points the fixture's first GCJ-02 polyline was made from
DONGYUE_WGS = [(117.092304, 36.19548), (117.0938, 36.195537), (117.095297, 36.195593),
               (117.096794, 36.195646), (117.09829, 36.195697), (117.099787, 36.195746)]


def fixture() -> dict:
    return json.loads(fixture_bytes("amap_rectangle_taian.json"))


def parse(data: dict | bytes, feed: str = "amap", now=None):
    payload = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    ctx = make_ctx(feed) if now is None else make_ctx(feed, now=now)
    return AmapAdapter().parse(payload, ctx)


def test_error_response_is_a_payload_error_with_the_info_text():
    with pytest.raises(PayloadError, match="INVALID_USER_KEY"):
        parse(fixture_bytes("amap_error.json"))
    with pytest.raises(PayloadError, match="status"):
        parse({"info": "OK"})


def test_evaluation_gauges():
    result = parse(fixture())
    gauges = {metric: value for metric, _, value in result.gauges}
    assert gauges == {"amap:expedite": 50.0, "amap:congested": 25.0, "amap:blocked": 16.67,
                      "amap:unknown": 8.33, "amap:status": 3}
    assert {when for _, when, _ in result.gauges} == {make_ctx("amap").now.timestamp()}


def test_gcj02_polyline_is_converted_before_matching():
    result = parse(fixture())
    ev = {e.id: e for e in result.events}[DONGYUE_ID]
    # back within a metre or two of the WGS-84 road the polyline was made from
    for (lon, lat), (x, y) in zip(ev.line, DONGYUE_WGS):
        assert haversine_m(lon, lat, x, y) < 3
    raw = fixture()["trafficinfo"]["roads"][0]["polyline"].split(";")[0].split(",")
    # unconverted, the same point would be hundreds of metres off the road
    assert haversine_m(float(raw[0]), float(raw[1]), *DONGYUE_WGS[0]) > 300
    assert ev.segment_id.startswith("dongyue-dajie-") and ev.district == "泰山区"
    assert taian_network().segment(ev.segment_id)["road_name"] == "东岳大街"


def test_roads_to_congestion_and_events():
    result = parse(fixture())
    levels = {seg: (lvl, spd) for seg, lvl, spd, src, _ in result.congestion}
    assert all(src == "amap" for *_, src, _ in result.congestion)
    assert {v for s, v in levels.items() if s.startswith("dongyue-dajie-02") and v[0] == 3}
    assert {v for s, v in levels.items() if s.startswith("taishan-dajie-")} == {(4, 4.0)}
    assert {v for s, v in levels.items() if s.startswith("longtan-lu-")} == {(2, 22.0)}
    assert not any(s.startswith("qingnian-lu-") for s in levels)  # status 0 is "unknown"
    events = {e.id: e for e in result.events}
    assert set(events) == {DONGYUE_ID, "amap:泰山大街:从红门路到青年路"}
    dongyue = events[DONGYUE_ID]
    assert (dongyue.kind, dongyue.category, dongyue.text) == (
        "congestion", "jam", "东岳大街 拥堵（从龙潭路到青年路）")
    assert dongyue.attrs["speed_kmh"] == 12.0 and dongyue.attrs["lcodes"] == "-12001,-12002,-12003"
    assert events["amap:泰山大街:从红门路到青年路"].text.startswith("泰山大街 严重拥堵")
    assert events["amap:泰山大街:从红门路到青年路"].severity > dongyue.severity


def test_bad_roads_are_rejected_and_the_rest_kept():
    result = parse(fixture())
    reasons = sorted(r.reason for r in result.rejected)
    assert reasons == ["polyline point 1: 'broken' is not 'lon,lat'",
                       "status: 7.0 is not a status 0-4"]
    assert all(json.loads(r.raw)["name"] in ("灵山大街", "红门路") for r in result.rejected)


def test_missing_fields_and_empty_lists_are_tolerated():
    data = {"status": "1", "info": "OK", "infocode": "10000", "trafficinfo": {
        "description": [], "evaluation": {"expedite": [], "status": "1"},
        "roads": [{"name": "东岳大街", "status": "3", "direction": [], "speed": [],
                   "polyline": fixture()["trafficinfo"]["roads"][0]["polyline"]}]}}
    result = parse(data)
    assert [e.id for e in result.events] == ["amap:东岳大街:"]
    assert result.gauges[0][0] == "amap:status"
    assert all(spd is None for _, _, spd, _, _ in result.congestion)


def test_no_road_list_is_not_a_snapshot():
    data = fixture()
    del data["trafficinfo"]["roads"]
    result = parse(data)
    assert result.snapshot_ids is None and len(result.gauges) == 5
    assert parse({"status": "1", "info": "OK", "trafficinfo": []}).events == []


def test_a_road_that_clears_ends_its_event_and_a_repeat_is_a_duplicate(store, r, keys):
    adapter = AmapAdapter()
    now = datetime.now(timezone.utc)
    data = fixture()
    first = ingest_payload(adapter, json.dumps(data).encode(), make_ctx("amap", now=now), store)
    assert first.new == 2 and first.quarantined == 2
    # the area figures went to the store as per-minute gauges
    assert r.hget(keys.ts("amap:expedite", now.date()), now.strftime("%H%M")) == "50.0000"
    # a minute later Amap says the same: unchanged roads are duplicates, not updates
    later = make_ctx("amap", now=now + timedelta(minutes=1))
    again = ingest_payload(adapter, json.dumps(data).encode(), later, store)
    assert (again.new, again.updated, again.duplicates) == (0, 0, 2)
    # then 东岳大街 clears: its event ends, 泰山大街 stays
    data["trafficinfo"]["roads"][0]["status"] = "1"
    cleared = ingest_payload(adapter, json.dumps(data).encode(),
                             make_ctx("amap", now=now + timedelta(minutes=2)), store)
    assert cleared.ended == 1
    assert store.active_ids("congestion") == ["amap:泰山大街:从红门路到青年路"]
    assert store.get_event(DONGYUE_ID).status == "ended"
    snap = store.congestion_snapshot(stale_s=10**10)
    dongyue = [v for s, v in snap.items() if s in ("dongyue-dajie-020", "dongyue-dajie-021")]
    assert dongyue and all(int(v["level"]) == 1 for v in dongyue)


def test_a_changed_speed_is_an_update_that_keeps_the_start(store):
    adapter = AmapAdapter()
    now = datetime.now(timezone.utc)
    data = fixture()
    ingest_payload(adapter, json.dumps(data).encode(), make_ctx("amap", now=now), store)
    data["trafficinfo"]["roads"][0]["speed"] = "6"
    later = now + timedelta(minutes=1)
    summary = ingest_payload(adapter, json.dumps(data).encode(), make_ctx("amap", now=later), store)
    assert summary.updated == 1 and summary.duplicates == 1
    ev = store.get_event(DONGYUE_ID)
    assert ev.attrs["speed_kmh"] == 6.0
    assert ev.observed_at == later
    assert ev.starts_at == now
