"""WZDx adapter on Tai'an fixtures: mapping, per-feature schema checks, versions, snapshots."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from feeds.base import PayloadError
from feeds.pipeline import ingest_payload
from feeds.wzdx import WzdxAdapter, schema_problem
from tests.feeds import fixture_bytes, make_ctx


def fixture() -> dict:
    return json.loads(fixture_bytes("wzdx_taian.geojson"))


def parse(data: dict | bytes, feed: str = "wzdx"):
    payload = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return WzdxAdapter().parse(payload, make_ctx(feed))


def by_id(result):
    return {ev.id: ev for ev in result.events}


def test_work_zone_mapping():
    ev = by_id(parse(fixture()))["wzdx:taian-wz-0001"]
    assert (ev.kind, ev.category, ev.severity, ev.status) == ("construction", "roadworks", 3,
                                                              "active")
    assert ev.starts_at == datetime(2026, 9, 28, tzinfo=timezone.utc)
    assert ev.ends_at == datetime(2026, 10, 20, 12, tzinfo=timezone.utc)
    assert ev.road_names == ("东岳大街",) and ev.text.startswith("东岳大街青年路至红门路段")
    assert ev.segment_id.startswith("dongyue-dajie-") and ev.district == "泰山区"
    assert len(ev.line) == 5
    assert ev.attrs["direction"] == "eastbound"
    assert ev.attrs["vehicle_impact"] == "some-lanes-closed"
    assert ev.attrs["lanes_closed"] == 2 and len(ev.attrs["lanes"]) == 3
    assert ev.attrs["reduced_speed_limit_kph"] == 30.0
    assert all(s.startswith("dongyue-dajie-") for s in ev.attrs["segments"])


def test_all_lanes_closed_is_a_closure_and_detour_a_detour():
    events = by_id(parse(fixture()))
    closure = events["wzdx:taian-wz-0002"]
    assert (closure.category, closure.severity) == ("closure", 4)
    assert closure.segment_id.startswith("hongmen-lu-")
    detour = events["wzdx:taian-detour-0001"]
    assert (detour.kind, detour.category) == ("construction", "detour")
    assert "vehicle_impact" not in detour.attrs


def test_multipoint_and_ended_work_zones():
    events = by_id(parse(fixture()))
    mp = events["wzdx:taian-wz-0003"]
    assert len(mp.line) == 2 and mp.segment_id.startswith("taishan-dajie-")
    done = events["wzdx:taian-wz-0004"]
    assert done.status == "ended" and done.severity == 1


def test_bad_features_rejected_with_schema_path():
    result = parse(fixture())
    reasons = {r.ref: r.reason for r in result.rejected}
    assert reasons["wzdx:taian-wz-bad-dir"].startswith(
        "schema: properties.core_details.direction: 'north' is not one of")
    assert "lat/lon swapped" in reasons["wzdx:taian-wz-bad-geom"]
    assert len(result.events) == 5 and len(result.rejected) == 2
    raw = json.loads(next(r.raw for r in result.rejected if r.ref == "wzdx:taian-wz-bad-dir"))
    assert raw["id"] == "taian-wz-bad-dir"


@pytest.mark.parametrize("mutation,expected", [
    (lambda p: p.pop("vehicle_impact"),
     "schema: properties: 'vehicle_impact' is a required property"),
    (lambda p: p.update(lanes=[{"order": "x", "status": "closed", "type": "general"}]),
     "schema: properties.lanes.0.order: 'x' is not of type 'integer'"),
    (lambda p: p["core_details"].pop("road_names"),
     "schema: properties.core_details: 'road_names' is a required property"),
    (lambda p: p.update(end_date="2026-09-01T00:00:00Z"),
     "properties.end_date is before start_date"),
    (lambda p: p.update(start_date="2026-10-01 08:00"), "no UTC offset"),
])
def test_feature_problems(mutation, expected):
    data = fixture()
    data["features"] = data["features"][:1]
    mutation(data["features"][0]["properties"])
    result = parse(data)
    assert not result.events
    assert expected in result.rejected[0].reason


def test_feed_info_problem_does_not_discard_the_features():
    data = fixture()
    del data["feed_info"]
    result = parse(data)
    assert len(result.events) == 5
    assert any(r.ref == "feed_info" and "feed_info missing" in r.reason for r in result.rejected)
    data["feed_info"] = {"version": 4.2}
    result = parse(data)
    assert len(result.events) == 5
    assert any(r.ref == "feed_info" and "version" in r.reason for r in result.rejected)


def test_whole_payload_errors():
    for payload in (b"<html>", b"[]", b'{"type": "FeatureCollection"}',
                    b'{"type": "FeatureCollection", "features": {}}'):
        with pytest.raises(PayloadError):
            parse(payload)


def test_v41_feature_with_deprecated_fields_is_accepted():
    """WZDx 4.0/4.1 used *_accuracy instead of is_*_verified; core_details is where it was."""
    data = fixture()
    data["feed_info"]["version"] = "4.1"
    data["road_event_feed_info"] = data.pop("feed_info")
    props = data["features"][0]["properties"]
    for old, new in (("start_date_accuracy", "is_start_date_verified"),
                     ("end_date_accuracy", "is_end_date_verified"),
                     ("beginning_accuracy", "is_start_position_verified"),
                     ("ending_accuracy", "is_end_position_verified")):
        props.pop(new)
        props[old] = "estimated"
    props["event_status"] = "active"
    result = parse(data)
    ev = by_id(result)["wzdx:taian-wz-0001"]
    assert ev.attrs["wzdx_version"] == "4.1" and ev.category == "roadworks"
    assert not any(r.ref == "wzdx:taian-wz-0001" for r in result.rejected)


def test_device_feed_features_are_not_road_events():
    device = {"id": "ab-1", "type": "Feature", "geometry": {"type": "Point",
              "coordinates": [117.1, 36.19]}, "properties": {"core_details": {
                  "device_type": "arrow-board", "data_source_id": "1", "road_names": ["东岳大街"],
                  "device_status": "ok"}}}
    data = fixture()
    data["features"] = [device]
    result = parse(data)
    assert not result.events and "device feed" in result.rejected[0].reason


def test_schema_refs_resolve_locally():
    feature = fixture()["features"][0]
    assert schema_problem(feature) is None
    feature = copy.deepcopy(feature)
    feature["geometry"] = {"type": "Point", "coordinates": [117.1, 36.19]}
    assert schema_problem(feature).startswith("schema: geometry")


def test_snapshot_ends_a_vanished_work_zone(store):
    adapter, ctx = WzdxAdapter(), make_ctx("wzdx", now=datetime.now(timezone.utc))
    data = fixture()
    for feat in data["features"]:  # the store expires by the real clock: keep them running
        if feat["id"] != "taian-wz-0004":
            feat["properties"]["end_date"] = "2099-12-31T00:00:00Z"
    first = ingest_payload(adapter, json.dumps(data).encode(), ctx, store)
    # the finished work zone is written once, as ended (the store counts it new and ended)
    assert first.new == 5 and first.ended == 1 and first.quarantined == 2
    assert "wzdx:taian-wz-0002" in store.active_ids("construction")
    data["features"] = [f for f in data["features"] if f["id"] != "taian-wz-0002"]
    second = ingest_payload(adapter, json.dumps(data).encode(), ctx, store)
    assert second.ended == 1 and second.new == 0
    assert "wzdx:taian-wz-0002" not in store.active_ids("construction")
    assert store.get_event("wzdx:taian-wz-0002").status == "ended"
    third = ingest_payload(adapter, json.dumps(data).encode(), ctx, store)
    assert third.new == third.updated == third.ended == 0
