"""Waze for Cities adapter on Tai'an fixtures: mapping, jams, rejections, snapshots."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from dashboard.model import CATEGORIES, KINDS
from feeds.base import PayloadError
from feeds.pipeline import ingest_payload
from feeds.waze import JAM_LEVEL_TO_AMAP, SUBTYPES, TYPES, WazeAdapter, classify
from tests.feeds import fixture_bytes, make_ctx

A = "waze:6a1f0c2e-0001-4b7a-9d1e-a1a1a1a1a1a1"
B = "waze:6a1f0c2e-0002-4b7a-9d1e-b2b2b2b2b2b2"
# a stretch of 东岳大街 between 龙潭路 and 青年路 (WGS-84, on the demo network)
DONGYUE = [(117.092304, 36.19548), (117.0938, 36.195537), (117.095297, 36.195593),
           (117.096794, 36.195646)]


def parse(payload: bytes, feed: str = "waze"):
    return WazeAdapter().parse(payload, make_ctx(feed))


def fixture() -> dict:
    return json.loads(fixture_bytes("waze_taian.json"))


def by_id(result):
    return {ev.id: ev for ev in result.events}


def test_alerts_become_located_events():
    events = by_id(parse(fixture_bytes("waze_taian.json")))
    a = events[A]
    assert (a.kind, a.category, a.severity) == ("incident", "accident", 3)
    assert a.observed_at == datetime(2026, 10, 1, 8, 25, tzinfo=timezone.utc)
    assert a.confidence == pytest.approx(0.8)
    assert a.text == "两车追尾，占用两条车道"
    assert a.segment_id.startswith("dongyue-dajie-") and a.district == "泰山区"
    assert a.road_names == ("东岳大街",)
    assert a.attrs["subtype"] == "ACCIDENT_MAJOR"
    b = events[B]
    assert (b.kind, b.category, b.segment_id[:10]) == ("incident", "breakdown", "longtan-lu")
    closed = events["waze:6a1f0c2e-0003-4b7a-9d1e-c3c3c3c3c3c3"]
    assert (closed.kind, closed.category, closed.severity) == ("construction", "closure", 3)
    flood = events["waze:6a1f0c2e-0004-4b7a-9d1e-d4d4d4d4d4d4"]
    # no street in the record: the matched road's name is used
    assert flood.category == "flooding" and flood.road_names == ("灵山大街",)


def test_unknown_type_is_other_not_rejected():
    result = parse(fixture_bytes("waze_taian.json"))
    ev = by_id(result)["waze:6a1f0c2e-0005-4b7a-9d1e-e5e5e5e5e5e5"]
    assert (ev.kind, ev.category) == ("report", "other")
    assert not any("FUTURE" in r.reason for r in result.rejected)


def test_bad_alerts_are_rejected_with_reasons_and_raw_bytes():
    result = parse(fixture_bytes("waze_taian.json"))
    reasons = {r.ref: r.reason for r in result.rejected}
    assert "lat/lon swapped" in reasons["waze:bad-swapped-0006"]
    assert reasons["waze:bad-nopub-0007"] == "pubMillis missing"
    assert reasons["waze:bad-x-0008"] == "location.x: not a number"
    for rej in result.rejected:
        assert json.loads(rej.raw)["uuid"] in rej.ref
    assert len(result.events) == 8 and len(result.rejected) == 3


def test_subtype_table():
    assert len(SUBTYPES) >= 35
    for sub, (kind, category, severity) in {**SUBTYPES, **TYPES}.items():
        assert kind in KINDS and category in CATEGORIES and 0 <= severity <= 4, sub
    for sub in ("ACCIDENT_MINOR", "ACCIDENT_MAJOR", "JAM_MODERATE_TRAFFIC", "JAM_HEAVY_TRAFFIC",
                "JAM_STAND_STILL_TRAFFIC", "JAM_LIGHT_TRAFFIC", "HAZARD_ON_ROAD_POT_HOLE",
                "HAZARD_ON_SHOULDER_CAR_STOPPED", "HAZARD_WEATHER_FOG", "ROAD_CLOSED_EVENT",
                "ROAD_CLOSED_HAZARD", "POLICE_HIDING"):
        assert sub in SUBTYPES
    assert classify("ACCIDENT", "ACCIDENT_MINOR")[2] < classify("ACCIDENT", "ACCIDENT_MAJOR")[2]
    assert classify("JAM", "JAM_LIGHT_TRAFFIC")[2] < classify("JAM", "JAM_STAND_STILL_TRAFFIC")[2]
    assert classify("CONSTRUCTION", "")[:2] == ("construction", "roadworks")
    assert classify("ACCIDENT", "")[1] == "accident"
    assert classify("WEIRD", "WEIRD_THING")[1] == "other"
    assert classify(None, 42)[1] == "other"


@pytest.mark.parametrize("level,expected", sorted(JAM_LEVEL_TO_AMAP.items()))
def test_jam_level_to_amap_scale(level, expected):
    data = {"jams": [{"uuid": 1, "level": level, "pubMillis": 1790843000000, "speedKMH": 20,
                      "delay": 30, "line": [{"x": x, "y": y} for x, y in DONGYUE]}]}
    result = parse(json.dumps(data).encode())
    assert [ev.id for ev in result.events] == ["waze:jam:1"]
    assert result.congestion and {c[1] for c in result.congestion} == {expected}
    assert {c[0][:13] for c in result.congestion} == {"dongyue-dajie"}
    assert expected == {0: 1, 1: 2, 2: 2, 3: 3, 4: 4, 5: 4}[level]


def test_jams_give_congestion_and_line_events():
    result = parse(fixture_bytes("waze_taian.json"))
    jam = by_id(result)["waze:jam:880001"]
    assert jam.kind == "congestion" and jam.category == "jam" and len(jam.line) == 6
    assert jam.attrs["speed_kmh"] == 8.5 and jam.attrs["amap_level"] == 4
    levels = {seg: (lvl, spd, src) for seg, lvl, spd, src, _ in result.congestion}
    dongyue = {s: v for s, v in levels.items() if s.startswith("dongyue-dajie-")}
    assert dongyue and set(dongyue.values()) == {(4, 8.5, "waze")}
    assert set(jam.attrs["segments"]) == set(dongyue)
    blocked = by_id(result)["waze:jam:880002"]
    assert blocked.attrs["blocked"] is True and blocked.severity == 4
    irr = by_id(result)["waze:irr:990001"]
    assert irr.kind == "congestion" and irr.segment_id.startswith("qingnian-lu-")
    assert irr.starts_at < irr.observed_at
    assert any(s.startswith("qingnian-lu-") and lvl == 3 for s, lvl, *_ in result.congestion)


def test_snapshot_lists_every_record_even_rejected_ones():
    result = parse(fixture_bytes("waze_taian.json"))
    assert set(result.snapshot_kinds) == set(KINDS)
    assert {ev.id for ev in result.events} <= result.snapshot_ids
    assert "waze:bad-nopub-0007" in result.snapshot_ids  # a bad resend does not end it


def test_feed_name_prefixes_ids():
    result = parse(fixture_bytes("waze_taian.json"), feed="waze_east")
    assert all(ev.id.startswith("waze_east:") for ev in result.events)
    assert all(ev.source == "waze" for ev in result.events)


def test_whole_payload_errors():
    for payload in (b"not json", b"[]", b'{"startTimeMillis": 1}', b"\xff\xfe\xfa"):
        with pytest.raises(PayloadError):
            parse(payload)


def test_section_of_wrong_type_is_rejected_not_fatal():
    data = fixture()
    data["jams"] = {"oops": 1}
    result = parse(json.dumps(data).encode())
    assert any(r.reason == "jams: not a list" for r in result.rejected)
    assert A in by_id(result)
    assert result.snapshot_ids is None  # so no live jam is ended because of it


def test_outside_city_rejected():
    data = {"alerts": [{"uuid": "far", "type": "ACCIDENT", "pubMillis": 1790843000000,
                        "location": {"x": -74.0, "y": 40.7}}]}
    result = parse(json.dumps(data).encode())
    assert not result.events
    assert "outside the city bounds" in result.rejected[0].reason


def test_snapshot_ending_through_the_pipeline(store):
    adapter = WazeAdapter()
    ctx = make_ctx("waze")
    data = fixture()
    data["jams"], data["irregularities"] = [], []
    data["alerts"] = [a for a in data["alerts"] if f"waze:{a['uuid']}" in (A, B)]
    first = ingest_payload(adapter, json.dumps(data).encode(), ctx, store)
    assert (first.new, first.ended) == (2, 0)
    assert set(store.active_ids("incident")) == {A, B}

    data["alerts"] = [a for a in data["alerts"] if f"waze:{a['uuid']}" == A]
    poll2 = json.dumps(data).encode()
    second = ingest_payload(adapter, poll2, ctx, store)
    assert (second.new, second.duplicates, second.ended) == (0, 1, 1)
    assert store.active_ids("incident") == [A]
    ended = store.get_event(B)
    assert ended.status == "ended" and ended.ends_at == ctx.now

    version = store.version()
    third = ingest_payload(adapter, poll2, ctx, store)
    assert (third.new, third.updated, third.ended, third.duplicates) == (0, 0, 0, 1)
    assert store.version() == version == third.version


def test_congestion_and_quarantine_through_the_pipeline(store):
    ctx = make_ctx("waze")
    summary = ingest_payload(WazeAdapter(), fixture_bytes("waze_taian.json"), ctx, store)
    assert summary.new == 8 and summary.quarantined == 3
    assert summary.congestion_segments >= 4
    snap = store.congestion_snapshot(stale_s=10**10)
    assert any(seg.startswith("dongyue-dajie-") for seg in snap)
    quarantined = store.quarantined("waze", 10)
    assert {q["reason"] for q in quarantined} >= {"pubMillis missing", "location.x: not a number"}


def test_resend_with_a_change_is_an_update(store):
    ctx = make_ctx("waze")
    data = fixture()
    ingest_payload(WazeAdapter(), json.dumps(data).encode(), ctx, store)
    changed = copy.deepcopy(data)
    changed["alerts"][0]["reliability"] = 10
    summary = ingest_payload(WazeAdapter(), json.dumps(changed).encode(), ctx, store)
    assert summary.updated == 1 and summary.new == 0
    assert store.get_event(A).confidence == 1.0
