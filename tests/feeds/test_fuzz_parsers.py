"""Hostile and malformed payloads against every parser: a clean rejection, never a crash.

For each payload, ``parse`` either returns a ParseResult or raises PayloadError; every
event it returns passes ``dashboard.model.validate``; every rejection has a reason that
is not a caught crash ("internal error: ...").
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.masking import contains_pii
from dashboard.model import validate
from feeds.amap import AmapAdapter
from feeds.base import ParseResult, PayloadError
from feeds.hotline import HotlineAdapter
from feeds.waze import WazeAdapter
from feeds.wzdx import WzdxAdapter
from tests.feeds import make_ctx

# a point on 东岳大街 and one near 迎胜路 (WGS-84); GCJ-02 versions are offset ~500 m
TAIAN = (117.105, 36.19)
HOSTILE_TEXT = st.sampled_from([
    "<script>alert(1)</script>", "javascript:alert(1)", "<img src=x onerror=alert(1)>",
    "'; DROP TABLE events; --", "\u202e\u200b\ufeff", "东岳大街" * 500, "x" * 100_000,
    "电话１３８１２３４５６７８", "", " ", "\x00\x01", "NaN", "Infinity", "-1", "1e999",
])
NUMBERS = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 5e-324, 2**63, 36.19, 117.1]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=30), HOSTILE_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


def check(adapter, payload: bytes, ctx) -> ParseResult | None:
    """The property every parser must have."""
    try:
        result = adapter.parse(payload, ctx)
    except PayloadError as exc:
        assert str(exc)
        return None
    assert isinstance(result, ParseResult)
    for ev in result.events:
        validate(ev, ctx.bbox)  # raises EventError if the parser let a bad event through
    for rej in result.rejected:
        assert rej.reason and not rej.reason.startswith("internal error"), rej.reason
        assert isinstance(rej.raw, (bytes, str))
    for seg, level, speed, source, observed in result.congestion:
        assert isinstance(seg, str) and seg
        assert level in (0, 1, 2, 3, 4)
        assert speed is None or (math.isfinite(speed) and speed >= 0)
        assert math.isfinite(observed)
    for metric, when, value in result.gauges:
        assert math.isfinite(when) and math.isfinite(value)
    return result


def dumps(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, allow_nan=True).encode("utf-8")


def mutate(template: dict, data: st.DataObject) -> dict:
    """Each key of a valid record kept, dropped or replaced by a hostile value."""
    out = {}
    for key, value in template.items():
        action = data.draw(st.sampled_from(["keep", "keep", "drop", "hostile"]))
        if action == "keep":
            out[key] = value
        elif action == "hostile":
            out[key] = data.draw(JSON_VALUES)
    return out


def coords(data: st.DataObject) -> tuple[float, float]:
    """Mostly points in Tai'an, sometimes swapped, out of range, NaN or far away."""
    return data.draw(st.one_of(
        st.tuples(st.floats(117.0, 117.2), st.floats(36.1, 36.3)),
        st.just((TAIAN[1], TAIAN[0])), st.just((float("nan"), 36.2)),
        st.just((500.0, 36.2)), st.just((117.1, -95.0)), st.just((-74.0, 40.7)),
        st.just((float("inf"), float("-inf")))))


# -- generic byte-level junk, for every parser ----------------------------------------
ADAPTERS = [WazeAdapter, WzdxAdapter, AmapAdapter, HotlineAdapter]
JUNK = [
    b"", b"null", b"[]", b"{}", b"42", b'"text"', b"\xff\xfe\x00garbage", b"\x80\x81\x82",
    b"<html><body>502 Bad Gateway</body></html>", b"{" * 100_000, b"[" * 100_000 + b"]" * 100_000,
    b'{"alerts": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"a": 1e999999}',
    b'{"n": ' + b"9" * 5000 + b"}", b"\x00" * 1000, "工单号,来电时间\n".encode("utf-16-le"),
]


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.name)
@pytest.mark.parametrize("payload", JUNK, ids=range(len(JUNK)))
def test_junk_payloads_are_rejected_cleanly(cls, payload):
    check(cls(), payload, make_ctx(cls.name))


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.name)
@given(payload=st.binary(max_size=2000))
def test_random_bytes(cls, payload):
    check(cls(), payload, make_ctx(cls.name))


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.name)
@given(value=JSON_VALUES)
def test_random_json(cls, value):
    check(cls(), dumps(value), make_ctx(cls.name))


# -- Waze -------------------------------------------------------------------------------
ALERT = {"uuid": "a-1", "type": "ACCIDENT", "subtype": "ACCIDENT_MAJOR", "pubMillis": 1790000000000,
         "location": {"x": 117.105, "y": 36.19}, "reliability": 7, "street": "东岳大街",
         "reportDescription": "追尾", "roadType": 2, "magvar": 90}
JAM = {"uuid": 9001, "level": 3, "pubMillis": 1790000000000, "speedKMH": 12.5, "delay": 120,
       "length": 800, "street": "东岳大街",
       "line": [{"x": 117.09, "y": 36.19}, {"x": 117.10, "y": 36.19}, {"x": 117.11, "y": 36.19}]}
IRREGULARITY = {"id": 77, "jamLevel": 4, "severity": 3, "updateDateMillis": 1790000000000,
                "detectionDateMillis": 1789999000000, "speed": 8.0, "delaySeconds": 300,
                "line": [{"x": 117.09, "y": 36.19}, {"x": 117.11, "y": 36.19}]}


def waze_payload(data: st.DataObject) -> dict:
    def alert():
        rec = mutate(ALERT, data)
        if data.draw(st.booleans()):
            x, y = coords(data)
            rec["location"] = {"x": x, "y": y}
        return rec

    def line_rec(template):
        rec = mutate(template, data)
        if data.draw(st.booleans()):
            rec["line"] = [{"x": x, "y": y} for x, y in
                           (coords(data) for _ in range(data.draw(st.integers(0, 4))))]
        return rec

    payload = {"alerts": [alert() for _ in range(data.draw(st.integers(0, 4)))],
               "jams": [line_rec(JAM) for _ in range(data.draw(st.integers(0, 3)))],
               "irregularities": [line_rec(IRREGULARITY)
                                  for _ in range(data.draw(st.integers(0, 2)))]}
    if data.draw(st.booleans()):
        section = data.draw(st.sampled_from(["alerts", "jams", "irregularities"]))
        payload[section] = data.draw(JSON_VALUES)
    return payload


@given(data=st.data())
def test_waze_hostile_records(data):
    payload = waze_payload(data)
    result = check(WazeAdapter(), dumps(payload), make_ctx("waze"))
    assert result is not None  # an object with the right keys is always usable as a whole
    n_records = sum(len(v) for v in payload.values() if isinstance(v, list))
    lists = sum(1 for v in payload.values() if v is not None and not isinstance(v, list))
    assert len(result.events) + len(result.rejected) == n_records + lists


# -- WZDx -------------------------------------------------------------------------------
def wzdx_feature(i: int) -> dict:
    return {"id": f"wz-{i}", "type": "Feature",
            "properties": {
                "core_details": {"data_source_id": "1", "event_type": "work-zone",
                                 "road_names": ["东岳大街"], "direction": "eastbound",
                                 "description": "道路施工"},
                "start_date": "2026-09-30T00:00:00Z", "end_date": "2026-10-30T00:00:00Z",
                "is_start_date_verified": False, "is_end_date_verified": False,
                "is_start_position_verified": False, "is_end_position_verified": False,
                "location_method": "channel-device-method", "vehicle_impact": "some-lanes-closed",
                "lanes": [{"order": 1, "status": "closed", "type": "general"}]},
            "geometry": {"type": "LineString", "coordinates": [[117.09, 36.19], [117.10, 36.19]]}}


@given(data=st.data())
def test_wzdx_hostile_features(data):
    features = []
    for i in range(data.draw(st.integers(0, 4))):
        feat = wzdx_feature(i)
        target = data.draw(st.sampled_from(["feature", "properties", "core", "geometry", "none"]))
        if target == "feature":
            feat = mutate(feat, data)
        elif target == "properties":
            feat["properties"] = mutate(feat["properties"], data)
        elif target == "core":
            feat["properties"]["core_details"] = mutate(feat["properties"]["core_details"], data)
        elif target == "geometry":
            feat["geometry"]["coordinates"] = [list(coords(data)) for _ in
                                               range(data.draw(st.integers(0, 4)))]
        features.append(feat)
    feed = {"type": "FeatureCollection", "features": features,
            "feed_info": data.draw(st.one_of(st.just({"version": "4.2"}), JSON_VALUES))}
    result = check(WzdxAdapter(), dumps(feed), make_ctx("wzdx"))
    assert result is not None
    rejected = sum(1 for r in result.rejected if r.ref != "feed_info")
    assert len(result.events) + rejected == len(features)


# -- Amap -------------------------------------------------------------------------------
ROAD = {"name": "东岳大街", "status": "3", "direction": "从迎胜路到青年路", "angle": "90",
        "lcodes": "-1001,-1002", "speed": "12", "polyline": "117.1110,36.1880;117.1210,36.1880"}


@given(data=st.data())
def test_amap_hostile_roads(data):
    roads = []
    for _ in range(data.draw(st.integers(0, 4))):
        road = mutate(ROAD, data)
        if data.draw(st.booleans()):
            pts = [coords(data) for _ in range(data.draw(st.integers(0, 3)))]
            road["polyline"] = data.draw(st.sampled_from([
                ";".join(f"{x},{y}" for x, y in pts), "117.1,36.1;;", "a,b;c,d", "117.1;36.1",
                "117.1,36.1,5;117.2,36.2"]))
        roads.append(road)
    payload = {"status": data.draw(st.sampled_from(["1", "1", "0", 1, None])), "info": "OK",
               "infocode": "10000",
               "trafficinfo": {"evaluation": mutate({"expedite": "33.33%", "congested": "50%",
                                                     "blocked": "16.67%", "unknown": "0.00%",
                                                     "status": "3"}, data),
                               "roads": roads}}
    check(AmapAdapter(), dumps(payload), make_ctx("amap"))


# -- hotline ----------------------------------------------------------------------------
CELLS = st.one_of(st.text(max_size=40), HOSTILE_TEXT, st.sampled_from([
    "2026-10-01 08:15:00", "2026/10/1 8:15", "2026年10月1日 08:15", "31/12/2026", "117.105",
    "36.19", "nan", "inf", "-999", "东岳大街与迎胜路路口", '"', '""', "a,b", "\n", "\r\n"]))


@given(rows=st.lists(st.lists(CELLS, min_size=0, max_size=11), max_size=5),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16"]))
def test_hotline_hostile_rows(rows, encoding):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["工单号", "来电时间", "来电号码", "姓名", "事件类型", "地点", "内容", "经度", "纬度"])
    writer.writerows(rows)
    payload = out.getvalue().encode(encoding, "replace")
    result = check(HotlineAdapter(), payload, make_ctx("hotline"))
    if result is not None:
        for ev in result.events:  # no phone number (full-width ones included) in the text
            assert "phone" not in contains_pii(ev.text), ev.text


@given(text=st.text(max_size=3000))
def test_hotline_any_text(text):
    check(HotlineAdapter(), text.encode("utf-8"), make_ctx("hotline"))


def test_the_unmutated_templates_are_valid_records():
    """The hostile tests start from these: each must parse into events when left alone."""
    ctx = make_ctx("waze")
    result = WazeAdapter().parse(dumps({"alerts": [ALERT], "jams": [JAM],
                                        "irregularities": [IRREGULARITY]}), ctx)
    assert len(result.events) == 3 and not result.rejected
    feed = {"type": "FeatureCollection", "feed_info": {"version": "4.2"},
            "features": [wzdx_feature(0)]}
    assert len(WzdxAdapter().parse(dumps(feed), make_ctx("wzdx")).events) == 1
    amap = {"status": "1", "trafficinfo": {"roads": [ROAD]}}
    assert len(AmapAdapter().parse(dumps(amap), make_ctx("amap")).events) == 1
