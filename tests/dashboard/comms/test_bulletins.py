"""Bulletin templates: exact text for fixed inputs, from stored events and live congestion."""
from datetime import date, datetime

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from dashboard.comms.bulletins import (Bulletin, Control, Works,
                                 accident_prone_roads, cleared_notice, cn_span, cn_time,
                                 control_notice, holiday_advisory, incident_notice,
                                 live_holiday_advisory, live_traffic_report, parse_text,
                                 roadworks_notice, traffic_report, works_of)
from dashboard.roads.stretches import Stretch, StretchFinder
from dashboard.comms.holidays import HolidayPeriod
from dashboard.model import RoadEvent
from dashboard.roads.network import RoadNetwork, prepare_segments
from dashboard.timeutil import SHANGHAI

NOW = datetime(2026, 10, 1, 9, 30, tzinfo=SHANGHAI)
ADVICE = "请过往车辆提前规划路线，合理绕行。"


def at(h: int, m: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 10, day, h, m, tzinfo=SHANGHAI)


# -- a small hand-drawn network --------------------------------------------------------------
# 东岳大街 and 泰山大街 run west→east at lat 36.19 / 36.17, cut every 0.01° (~900 m);
# 青年路 (117.01), 迎胜路 (117.03) and 龙潭路 (117.05) run south→north across both.
def _net() -> RoadNetwork:
    rows = []
    for name, code, lat in (("东岳大街", "dy", 36.19), ("泰山大街", "ts", 36.17)):
        for i in range(6):
            rows.append({"segment_id": f"{code}-{i + 1}", "road_name": name,
                         "geometry": LineString([(117.0 + i * 0.01, lat),
                                                 (117.01 + i * 0.01, lat)])})
    for name, code, lon in (("青年路", "qn", 117.01), ("迎胜路", "ys", 117.03),
                            ("龙潭路", "lt", 117.05)):
        for i, (a, b) in enumerate(((36.16, 36.17), (36.17, 36.19), (36.19, 36.20))):
            rows.append({"segment_id": f"{code}-{i + 1}", "road_name": name,
                         "geometry": LineString([(lon, a), (lon, b)])})
    return RoadNetwork(prepare_segments(gpd.GeoDataFrame(rows, crs="EPSG:4326")))


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    return _net()


# -- wording ---------------------------------------------------------------------------------
def test_times_in_chinese():
    assert cn_time(NOW) == "10月1日9时30分"
    assert cn_time(at(9)) == "10月1日9时"
    assert cn_time(datetime(2026, 10, 1, 1, 5, tzinfo=SHANGHAI)) == "10月1日1时5分"
    utc = datetime.fromisoformat("2026-09-30T16:00:00+00:00")        # 00:00 in Tai'an
    assert cn_time(utc) == "10月1日0时"
    assert cn_span(at(8), at(18)) == "10月1日8时至18时"
    assert cn_span(at(8), at(18, day=7)) == "10月1日8时至10月7日18时"
    assert cn_span(at(8), None) == "自10月1日8时起"
    with pytest.raises(ValueError):
        cn_time(datetime(2026, 10, 1))


# -- 路况播报 ------------------------------------------------------------------------------------
STRETCHES = [
    Stretch("灵山大街", 2, "温泉路", "虎山路", 800),
    Stretch("泰山大街", 3, "龙潭路", "红门路", 900),
    Stretch("东岳大街", 4, "青年路", "迎胜路", 1200),
    Stretch("岱宗大街", 3, "红门路", "虎山路", 1500),
]


def test_traffic_report_groups_by_level_worst_first():
    b = traffic_report(STRETCHES, NOW)
    assert b.text == ("#泰安路况#【路况播报】截至10月1日9时30分，东岳大街(青年路—迎胜路)严重拥堵；"
                      "岱宗大街(红门路—虎山路)、泰山大街(龙潭路—红门路)拥堵；"
                      "灵山大街(温泉路—虎山路)缓行。" + ADVICE)
    assert b.kind == "traffic" and b.title == "路况播报"


def test_traffic_report_when_nothing_is_congested():
    empty = traffic_report([], NOW)
    assert empty.text == "#泰安路况#【路况播报】截至10月1日9时30分，全市主要道路通行顺畅。"
    free_only = traffic_report([Stretch("东岳大街", 1, "青年路", "迎胜路")], at(9))
    assert free_only.body == "截至10月1日9时，全市主要道路通行顺畅。"


def test_traffic_report_over_long_drops_whole_items_with_deng():
    many = STRETCHES + [Stretch(f"测试{i}路", 2, "甲路", "乙路", 100 - i) for i in range(20)]
    b = traffic_report(many, NOW, max_len=140)
    assert b.text == ("#泰安路况#【路况播报】截至10月1日9时30分，东岳大街(青年路—迎胜路)严重拥堵；"
                      "岱宗大街(红门路—虎山路)、泰山大街(龙潭路—红门路)拥堵；"
                      "灵山大街(温泉路—虎山路)、测试0路(甲路—乙路)、测试1路(甲路—乙路)等路段缓行。"
                      + ADVICE)
    assert len(b.text) == 133          # one more stretch (12 characters) would pass 140
    tight = traffic_report(many, NOW, max_len=90)      # 79 characters; with 泰山大街 93
    assert tight.text == ("#泰安路况#【路况播报】截至10月1日9时30分，东岳大街(青年路—迎胜路)严重拥堵；"
                          "岱宗大街(红门路—虎山路)等路段拥堵。" + ADVICE)


def test_traffic_report_always_names_the_worst_stretch():
    huge = Stretch("特" * 80, 4, "甲路", "乙路", 10)
    b = traffic_report([huge, Stretch("东岳大街", 3, "青年路", "迎胜路")], NOW, max_len=50)
    assert b.body == f"截至10月1日9时30分，{'特' * 80}(甲路—乙路)等路段严重拥堵。{ADVICE}"


def test_tags_and_mentions_are_plain_text():
    b = traffic_report([], NOW, hashtags=["泰安路况", "#国庆出行#"], mentions=["@泰安发布", "泰安交通广播"])
    assert b.text == ("#泰安路况##国庆出行#【路况播报】截至10月1日9时30分，全市主要道路通行顺畅。"
                      " @泰安发布 @泰安交通广播")


def test_hostile_names_stay_text():
    b = traffic_report([Stretch("<b>东岳大街</b>", 3, "<script>x</script>", "青年路")], NOW)
    assert "<b>东岳大街</b>(<script>x</script>—青年路)拥堵" in b.body


# -- stretches from the network ----------------------------------------------------------------
def test_stretches_between_named_cross_streets(net):
    snap = {"dy-2": {"level": 3}, "dy-3": {"level": 3},        # 青年路 … 迎胜路
            "dy-4": {"level": 2},                                # 迎胜路 … 龙潭路 (117.04)
            "dy-1": {"level": 4},                                # west of 青年路
            "dy-6": {"level": 3},                                # east of 龙潭路
            "lt-2": {"level": 3},                                # 龙潭路 between the two 大街
            "ts-1": {"level": 1}, "qn-3": {"level": 0}}
    got = {(s.label, s.level, s.segment_ids) for s in StretchFinder(net).stretches(snap)}
    assert got == {
        ("东岳大街(青年路—迎胜路)", 3, ("dy-2", "dy-3")),
        ("东岳大街(迎胜路—龙潭路)", 2, ("dy-4",)),
        ("东岳大街(青年路以西)", 4, ("dy-1",)),
        ("东岳大街(龙潭路以东)", 3, ("dy-6",)),
        ("龙潭路(泰山大街—东岳大街)", 3, ("lt-2",)),
    }


def test_live_traffic_report_from_the_store(store, net):
    t = NOW.timestamp()
    store.set_congestion([("dy-2", 3, 12.0, "amap", t), ("dy-3", 3, 11.0, "amap", t),
                          ("dy-1", 4, 4.0, "amap", t), ("ts-3", 2, 25.0, "amap", t),
                          ("ts-4", 2, 25.0, "amap", t - 3600)])          # stale: unknown
    b = live_traffic_report(store, net, NOW)
    assert b.text == ("#泰安路况#【路况播报】截至10月1日9时30分，东岳大街(青年路以西)严重拥堵；"
                      "东岳大街(青年路—迎胜路)拥堵；泰山大街(青年路—迎胜路)缓行。" + ADVICE)
    assert set(b.refs) == {"dy-1", "dy-2", "dy-3", "ts-3"}
    assert live_traffic_report(store, net, datetime(2026, 10, 1, 11, 0, tzinfo=SHANGHAI)).body \
        == "截至10月1日11时，全市主要道路通行顺畅。"


# -- notices from stored events ---------------------------------------------------------------
def _event(**kw) -> RoadEvent:
    base = dict(id="waze:acc-1", kind="incident", category="accident", severity=3,
                source="waze", observed_at=at(9, 12), lon=117.01, lat=36.19,
                road_names=("东岳大街", "青年路"))
    base.update(kw)
    return RoadEvent(**base)


def test_accident_notice_from_a_stored_event(store):
    store.upsert_events([_event(attrs={"direction": "东向西"})], now=NOW.timestamp())
    ev = store.get_event("waze:acc-1")
    b = incident_notice(ev, NOW)
    assert b.text == ("#泰安路况#【事故快报】10月1日9时12分，东岳大街与青年路路口东向西方向发生一起"
                      "交通事故，交警正在赶赴现场处置。请过往车辆减速慢行，注意避让。")
    on_scene = incident_notice(ev, NOW, status="on_scene", hashtags=())
    assert on_scene.text.startswith("【事故快报】") and "交警正在现场处置" in on_scene.text
    assert (b.place, b.subject, b.refs) == ("东岳大街与青年路路口东向西方向", "交通事故",
                                            ("waze:acc-1",))


def test_report_place_label_is_used_and_masked(store):
    ev = _event(id="weibo:cluster:x:accident:1", kind="report", source="weibo",
                category="breakdown", road_names=("长城路",),
                attrs={"place": "长城路与泰玻大街路口 电话13812345678"})
    b = incident_notice(ev, NOW)
    assert b.title == "路况提示"
    assert b.body == ("10月1日9时12分，长城路与泰玻大街路口 电话138****5678有车辆故障停驶，"
                      "交警正在赶赴现场处置。请过往车辆减速慢行，注意避让。")


def test_roadworks_notice_from_a_construction_event(store):
    ev = RoadEvent(id="wzdx:w1", kind="construction", category="roadworks", severity=2,
                   source="wzdx", observed_at=at(7), lon=117.05, lat=36.18,
                   road_names=("龙潭路",), starts_at=at(8), ends_at=at(18, day=7),
                   attrs={"beginning_cross_street": "泰山大街",
                          "ending_cross_street": "东岳大街",
                          "vehicle_impact": "some-lanes-closed", "lanes_closed": 2})
    store.upsert_events([ev], now=NOW.timestamp())
    b = roadworks_notice(Works.from_event(store.get_event("wzdx:w1")), NOW)
    assert b.text == ("#泰安路况#【施工公告】因道路施工，10月1日8时至10月7日18时，"
                      "龙潭路(泰山大街—东岳大街)占用2条车道施工，通行能力下降。"
                      "请过往车辆减速慢行，提前选择绕行路线。")
    closed = Works("东岳大街", "东岳大街(青年路—迎胜路)", at(8), at(18), "all-lanes-closed")
    assert roadworks_notice(closed, NOW, hashtags=()).text == (
        "【施工公告】因道路施工，10月1日8时至18时，东岳大街(青年路—迎胜路)全封闭施工，"
        "禁止车辆通行。请过往车辆提前选择绕行路线。")


def test_roadworks_stretch_from_the_line_when_no_cross_streets_given(net):
    ev = RoadEvent(id="wzdx:w2", kind="construction", category="roadworks", severity=2,
                   source="wzdx", observed_at=at(7), lon=117.025, lat=36.19,
                   line=((117.012, 36.19), (117.028, 36.19)), road_names=("东岳大街",),
                   starts_at=at(8), ends_at=None)
    w = works_of(ev, StretchFinder(net))
    assert w.stretch == "东岳大街(青年路—迎胜路)"
    assert roadworks_notice(w, NOW, hashtags=()).body == (
        "因道路施工，自10月1日8时起，东岳大街(青年路—迎胜路)进行道路施工。"
        "请过往车辆减速慢行，注意安全。")


def test_control_notice_from_the_form_and_from_a_closure():
    form = Control("东岳大街(青年路—迎胜路)", "举办大型活动", at(8), at(12), detour="泰山大街")
    assert control_notice(form, NOW).text == (
        "#泰安路况#【交通管制】因举办大型活动，10月1日8时至12时，对东岳大街(青年路—迎胜路)"
        "实行交通管制，禁止机动车通行。请过往车辆经泰山大街绕行，给您带来的不便敬请谅解。")
    closure = _event(id="wzdx:c1", kind="construction", category="closure",
                     road_names=("龙潭路",), starts_at=at(20), ends_at=None)
    b = control_notice(Control.from_event(closure), NOW, hashtags=())
    assert b.text == ("【交通管制】因道路施工，自10月1日20时起，对龙潭路实行交通管制，"
                      "禁止机动车通行。请过往车辆提前绕行，给您带来的不便敬请谅解。")


# -- holiday advisory ---------------------------------------------------------------------------
def test_holiday_advisory_two_lists_and_a_reminder():
    works = [Works("龙潭路", "龙潭路(泰山大街—东岳大街)", at(8), at(18, day=7))]
    b = holiday_advisory(("national-day", "mid-autumn"), date(2025, 10, 1), date(2025, 10, 8),
                         NOW, congested=["东岳大街(青年路—迎胜路)", "泰山大街(龙潭路—红门路)"],
                         accident_prone=["G3京台高速", "S31泰新高速"], works=works,
                         tips=["出行前请关注实时路况。", "系好安全带"])
    assert b.title == "中秋国庆假期出行提示"
    assert b.text == (
        "#泰安路况#【中秋国庆假期出行提示】10月1日至8日中秋国庆假期期间，泰安交警提示：\n"
        "一、易拥堵路段：东岳大街(青年路—迎胜路)、泰山大街(龙潭路—红门路)；\n"
        "二、事故易发路段：G3京台高速、S31泰新高速；\n"
        "三、施工路段：龙潭路(泰山大街—东岳大街)(10月1日8时至10月7日18时)；\n"
        "温馨提示：出行前请关注实时路况；系好安全带。")


def test_holiday_advisory_empty_and_over_long_lists():
    b = holiday_advisory(("labour-day",), date(2026, 4, 30), date(2026, 5, 5), NOW,
                         congested=[f"路{i}" for i in range(8)], hashtags=(), tips=())
    assert b.text == ("【五一假期出行提示】4月30日至5月5日五一假期期间，泰安交警提示：\n"
                      "一、易拥堵路段：路0、路1、路2、路3、路4等；\n"
                      "二、事故易发路段：暂无；\n"
                      "三、施工路段：暂无；\n"
                      "温馨提示：请注意行车安全。")


def test_live_holiday_advisory_reads_the_store(store, net):
    t = NOW.timestamp()
    store.set_congestion([("dy-2", 4, 5.0, "amap", t), ("ts-2", 2, 20.0, "amap", t)])
    store.upsert_events([
        _event(id="waze:a1", road_names=("泰山大街",)),
        _event(id="waze:a2", road_names=("泰山大街",), observed_at=at(9, 20)),
        _event(id="waze:a3", road_names=("东岳大街",)),
        _event(id="waze:b1", category="breakdown", road_names=("青年路",)),
        RoadEvent(id="wzdx:w3", kind="construction", category="roadworks", severity=2,
                  source="wzdx", observed_at=at(7), lon=117.05, lat=36.18,
                  road_names=("龙潭路",), starts_at=at(8), ends_at=at(18, day=7),
                  attrs={"beginning_cross_street": "泰山大街",
                         "ending_cross_street": "东岳大街"})], now=t)
    assert accident_prone_roads(store, NOW) == ["泰山大街", "东岳大街"]
    period = HolidayPeriod(date(2026, 10, 1), date(2026, 10, 7), ("national-day",))
    b = live_holiday_advisory(store, net, period, NOW, hashtags=(), tips=("慢行",))
    assert b.body == ("10月1日至7日国庆假期期间，泰安交警提示：\n"
                      "一、易拥堵路段：东岳大街(青年路—迎胜路)；\n"
                      "二、事故易发路段：泰山大街、东岳大街；\n"
                      "三、施工路段：龙潭路(泰山大街—东岳大街)(10月1日8时至10月7日18时)；\n"
                      "温馨提示：慢行。")


# -- follow-ups and free text ---------------------------------------------------------------------
def test_cleared_follow_up_for_each_kind(store):
    acc = incident_notice(_event(), at(9, 15), mentions=("泰安发布",))
    later = at(10, 5)
    assert cleared_notice(acc, later).text == (
        "#泰安路况#【恢复通行】10月1日9时12分东岳大街与青年路路口发生的交通事故已处置完毕，"
        "截至10月1日10时5分，现场已恢复通行。感谢广大驾驶人的理解与配合。 @泰安发布")
    works = roadworks_notice(Works("龙潭路", "龙潭路(泰山大街—东岳大街)"), NOW)
    assert cleared_notice(works, later, hashtags=()).text == (
        "【恢复通行】龙潭路(泰山大街—东岳大街)道路施工已结束，截至10月1日10时5分已恢复正常通行。"
        "感谢广大驾驶人的理解与配合。")
    jam = traffic_report(STRETCHES[:2], NOW)
    assert cleared_notice(jam, later).body == (
        "截至10月1日10时5分，泰山大街(龙潭路—红门路)、灵山大街(温泉路—虎山路)拥堵已缓解，"
        "恢复正常通行。")
    # round trip through the stored form keeps what the follow-up needs
    again = Bulletin.from_dict(acc.to_dict())
    assert cleared_notice(again, later).text == cleared_notice(acc, later).text


def test_parse_free_text_and_edit():
    b = parse_text("  #泰安路况##国庆出行#【路况播报】东岳大街拥堵。 @泰安发布 @泰安交通广播 ")
    assert (b.hashtags, b.title, b.body, b.mentions) == (
        ("泰安路况", "国庆出行"), "路况播报", "东岳大街拥堵。", ("泰安发布", "泰安交通广播"))
    plain = parse_text("只有正文，@不在末尾也算正文。")
    assert (plain.title, plain.body, plain.mentions) == ("", "只有正文，@不在末尾也算正文。", ())
    acc = incident_notice(_event(), NOW)
    edited = acc.with_text("【事故快报】东岳大街事故已有交警处置。")
    assert edited.kind == "accident" and edited.place == acc.place
    assert edited.text == "【事故快报】东岳大街事故已有交警处置。"
