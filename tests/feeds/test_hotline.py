"""122 hotline CSV adapter: encodings, headers, time zone, location, masking, private data."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dashboard.roads.geo import haversine_m
from dashboard.masking import contains_pii
from feeds.base import PayloadError
from feeds.hotline import HotlineAdapter, classify
from feeds.pipeline import ingest_payload
from tests.feeds import fixture_bytes, make_ctx, taian_network

pytestmark = pytest.mark.topologies("single", "cluster")

HEADER = "工单号,来电时间,来电号码,姓名,事件类型,事发地点,诉求内容,经度,纬度\n"


def parse(payload: bytes):
    return HotlineAdapter().parse(payload, make_ctx("hotline"))


def by_id(result):
    return {ev.id: ev for ev in result.events}


@pytest.mark.parametrize("name", ["hotline_utf8_bom.csv", "hotline_gbk.csv"])
def test_encodings_and_header_spellings_give_the_same_events(name):
    events = by_id(parse(fixture_bytes(name)))
    first = events["hotline:T20261001001"]
    assert (first.kind, first.category, first.severity) == ("incident", "accident", 2)
    assert events["hotline:T20261001002"].category == "jam"
    assert events["hotline:T20261001003"].category == "flooding"


def test_utf16_and_plain_utf8_and_tabs():
    text = HEADER + "U1,2026-10-01 16:05,13812345678,张三,交通拥堵,龙潭路,堵车,117.089142,36.18413\n"
    for payload in (text.encode("utf-16"), text.encode("utf-8"),
                    text.replace(",", "\t").encode("utf-8")):
        assert [e.id for e in parse(payload).events] == ["hotline:U1"]
    english = by_id(parse(fixture_bytes("hotline_english.tsv")))["hotline:E-1"]
    assert english.category == "accident" and english.segment_id.startswith("dongyue-dajie-")
    assert english.observed_at == datetime(2026, 10, 1, 8, 40, tzinfo=timezone.utc)


def test_naive_times_are_shanghai():
    events = by_id(parse(fixture_bytes("hotline_utf8_bom.csv")))
    assert events["hotline:T20261001001"].observed_at == datetime(2026, 10, 1, 8, 5,
                                                                  tzinfo=timezone.utc)
    assert events["hotline:T20261001002"].observed_at == datetime(2026, 10, 1, 8, 10,
                                                                  tzinfo=timezone.utc)


def test_personal_data_only_in_private_and_text_masked():
    result = parse(fixture_bytes("hotline_utf8_bom.csv"))
    events = by_id(result)
    first = events["hotline:T20261001001"]
    assert "13812345678" not in first.text and "138****5678" in first.text
    assert "张三" not in repr(first.to_dict())
    assert result.private["hotline:T20261001001"] == {
        "phone": "13812345678", "name": "张三",
        "raw_text": "两车追尾，请尽快处理，我的电话13812345678"}
    fullwidth = events["hotline:T20261001007"]  # "车主电话１３９１２３４５６７８"
    assert "phone" not in contains_pii(fullwidth.text)
    for ev in events.values():
        assert not contains_pii(ev.text) and not contains_pii(repr(ev.attrs))
    for rej in result.rejected:  # the quarantine keeps the row, but not the caller's number
        assert "1370000" not in rej.raw


def test_location_from_coordinates_intersection_landmark_and_road():
    events = by_id(parse(fixture_bytes("hotline_utf8_bom.csv")))
    net = taian_network()
    crossing = events["hotline:T20261001001"]
    assert crossing.attrs["located_by"] == "intersection"
    assert set(crossing.road_names) >= {"东岳大街", "青年路"}
    x, y = net.intersection("东岳大街", "青年路")
    assert haversine_m(crossing.lon, crossing.lat, x, y) < 50
    coords = events["hotline:T20261001002"]
    assert coords.attrs["located_by"] == "coordinates"
    assert coords.segment_id.startswith("longtan-lu-")
    landmark = events["hotline:T20261001003"]
    assert landmark.attrs["located_by"] == "landmark" and landmark.district == "泰山区"
    road = events["hotline:T20261001007"]
    assert road.attrs["located_by"] == "road" and road.road_names[0] == "泰山大街"
    assert road.confidence < crossing.confidence < coords.confidence


def test_bad_rows_rejected_with_reasons():
    result = parse(fixture_bytes("hotline_utf8_bom.csv"))
    reasons = {r.ref: r.reason for r in result.rejected}
    assert reasons["hotline:T20261001004"] == "来电时间 missing"
    assert reasons["hotline:T20261001005"].startswith("location: no 经度/纬度")
    assert "lat/lon swapped" in reasons["hotline:T20261001006"]
    assert len(result.events) == 4


@pytest.mark.parametrize("payload,message", [
    (b"", "empty"),
    (b"\xff\xfe\xff\xd8\xff", "undecodable"),
    (b"\x81\x30\xfe\xff\x80\xff", "undecodable"),
    ("姓名,内容\n张三,堵车\n".encode(), "no 工单号"),
])
def test_unusable_files(payload, message):
    with pytest.raises(PayloadError, match=message):
        parse(payload)


@pytest.mark.parametrize("type_text,text,expected", [
    ("交通事故", "", ("incident", "accident")),
    ("", "两车剐蹭", ("incident", "accident")),
    ("道路施工", "", ("report", "roadworks")),
    ("违法停车", "", ("report", "illegal_parking")),
    ("其他", "客车超员", ("report", "overload")),
    ("其他", "问路", ("report", "other")),
])
def test_classification(type_text, text, expected):
    assert classify(type_text, text)[:2] == expected


def test_through_the_pipeline_private_kept_apart(store):
    summary = ingest_payload(HotlineAdapter(), fixture_bytes("hotline_utf8_bom.csv"),
                             make_ctx("hotline"), store)
    assert summary.new == 4 and summary.quarantined == 3
    stored = store.get_event("hotline:T20261001001")
    assert "13812345678" not in stored.text
    assert store.get_private("hotline:T20261001001")["phone"] == "13812345678"
    for q in store.quarantined("hotline", 10):
        assert not contains_pii(q["raw"]), q["raw"]
    again = ingest_payload(HotlineAdapter(), fixture_bytes("hotline_utf8_bom.csv"),
                           make_ctx("hotline"), store)
    assert again.duplicates == 4 and again.new == 0


def test_a_broken_signal_is_a_hazard_not_a_breakdown():
    assert classify("", "青年路与东岳大街路口信号灯故障，一直黄闪")[1] == "hazard"
    assert classify("", "一辆货车故障停在路中间")[1] == "breakdown"


def test_a_parking_call_with_a_plate_opens_one_move_car_task(store):
    from dashboard.auth import User
    from dashboard.citizen import movecar

    payload = (HEADER
               + "P1,2026-10-01 16:05,13812345678,张三,违停,龙潭路,"
                 "一辆白色轿车鲁J·12345堵住小区出口，找不到车主,117.089142,36.18413\n"
               + "P2,2026-10-01 16:06,13912345678,李四,违停,龙潭路,有车乱停没看清车牌,"
                 "117.089142,36.18413\n"
               + "P3,2026-10-01 16:07,13712345678,王五,交通事故,龙潭路,鲁J54321追尾,"
                 "117.089142,36.18413\n").encode("utf-8")
    from datetime import timedelta

    called = datetime(2026, 10, 1, 8, 5, tzinfo=timezone.utc)   # 16:05 in Tai'an
    late = make_ctx("hotline", now=called + timedelta(minutes=2))
    ingest_payload(HotlineAdapter(), payload, late, store)
    tasks = movecar.active(store.r, store.keys)
    assert [t.report_id for t in tasks] == ["hotline:P1"]     # no plate, or not 违停: none
    # the clock runs from the call (16:05), not from when the file came in
    assert tasks[0].opened_at == pytest.approx(called.timestamp())
    assert store.get_private("hotline:P1")["plate"] == "鲁J12345"
    assert "12345" not in store.get_event("hotline:P1").text   # masked in the shared text
    officer = movecar.rows(store.r, store.keys, User("o", "officer"))
    aux = movecar.rows(store.r, store.keys, User("a", "aux"))
    assert officer[0]["plate"] == "鲁J12345" and "12345" not in repr(aux)
    # the same tickets again (the hotline resends its file): no second task
    ingest_payload(HotlineAdapter(), payload, late, store)
    assert len(movecar.active(store.r, store.keys)) == 1


def test_an_old_parking_call_opens_no_move_car_task(store):
    from datetime import timedelta

    from dashboard.citizen import movecar

    payload = (HEADER + "P9,2026-10-01 16:05,13812345678,张三,违停,龙潭路,"
               "鲁J12345挡住出口,117.089142,36.18413\n").encode("utf-8")
    called = datetime(2026, 10, 1, 8, 5, tzinfo=timezone.utc)
    ingest_payload(HotlineAdapter(), payload, make_ctx("hotline", now=called + timedelta(hours=3)),
                   store)
    assert movecar.active(store.r, store.keys) == []   # three hours later: the car is gone
