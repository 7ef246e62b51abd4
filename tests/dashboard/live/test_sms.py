"""The SMS road query's reply (dashboard.live.sms): the 70-character limit for any road,
name and list of close matches, the wording, and the same worst stretch as the public query
for the same snapshot (seeded through the real Store)."""
import time
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from shapely.geometry import LineString

from dashboard.comms.channels import sms_parts
from dashboard.congestion import LEVEL_NAMES
from dashboard.live.public import road_answer, road_status
from dashboard.live.sms import (MAX_CONTENT_CHARS, SMS_MAX_UNITS, SmsInputError, budget_for,
                                clean_content, cut, example_road, matches_reply,
                                name_candidates, reply_for, road_reply, sms_units,
                                worst_stretch)
from dashboard.roads.network import RoadNetwork, get_network, prepare_segments
from dashboard.timeutil import zone

SIGNATURE = "【泰安交警】"
BUDGET = budget_for(SIGNATURE)
TZ = zone("Asia/Shanghai")
ROAD = "东岳大街"
HYP = hsettings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def net():
    return get_network(Path("/nonexistent-lukuang-state"))   # the demo network in data/taian


def one_message(text: str, signature: str = SIGNATURE) -> bool:
    """What the phone network carries: the signature and the reply in one message."""
    whole = signature + text
    return sms_units(whole) <= SMS_MAX_UNITS and len(sms_parts(whole)) == 1


def snapshot_of(net, levels: dict[str, int], at: float) -> dict:
    return {sid: {"level": lvl, "speed": 10.0 * lvl, "source": "amap", "at": at}
            for sid, lvl in levels.items()}


def answer_of(net, road: str, snapshot: dict, now: float) -> dict:
    return {"as_of": datetime.fromtimestamp(now, timezone.utc).isoformat(),
            **road_status(net, road, snapshot, [], [])}


def local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(TZ).strftime("%H:%M")


# -- the text asked ----------------------------------------------------------------------------
def test_content_is_normalised_and_bad_content_refused():
    assert clean_content(" 东岳大街\r\n") == "东岳大街"
    assert clean_content("ＤＯＮＧＹＵＥ\t大街") == "DONGYUE 大街"
    with pytest.raises(SmsInputError, match="control"):
        clean_content("东岳\x00大街")
    with pytest.raises(SmsInputError, match="control"):
        clean_content("东岳\u200b大街")
    with pytest.raises(SmsInputError, match=str(MAX_CONTENT_CHARS)):
        clean_content("路" * (MAX_CONTENT_CHARS + 1))


@pytest.mark.parametrize("text", ["查询东岳大街", "东岳大街路况？", "路况 东岳大街",
                                  "请问东岳大街堵不堵", "东岳大街。"])
def test_words_around_the_name_are_taken_off(net, text):
    assert ROAD in name_candidates(clean_content(text))
    reply = reply_for(net, clean_content(text), lambda r: answer_of(net, r, {}, time.time()),
                      TZ, BUDGET)
    assert (reply.kind, reply.road) == ("road", ROAD)


@pytest.mark.parametrize("text", ["", "帮助", "?", "HELP", "路况"])
def test_an_empty_text_or_a_help_word_gets_the_help(net, text):
    reply = reply_for(net, clean_content(text), lambda r: pytest.fail("no road asked"), TZ,
                      BUDGET)
    assert reply.kind == "help" and example_road(net) in reply.text
    assert one_message(reply.text)


def test_unknown_names_get_close_matches_or_the_hint(net):
    reply = reply_for(net, "东越街", lambda r: pytest.fail("unknown"), TZ, BUDGET)
    assert reply.kind == "matches"
    assert reply.text.startswith("未找到东越街，您是否要查：东岳大街")
    none = reply_for(net, "完全不相干的名字xyz", lambda r: pytest.fail("unknown"), TZ, BUDGET)
    assert none.kind == "unknown" and "请发送道路名称" in none.text
    assert "完全不相干" in none.text and one_message(none.text)


def test_a_name_that_looks_like_personal_data_is_not_echoed(net):
    reply = reply_for(net, "13812345678", lambda r: pytest.fail("unknown"), TZ, BUDGET)
    assert "13812345678" not in reply.text and "未找到该道路" in reply.text


# -- the road's answer -----------------------------------------------------------------------
def test_the_reply_names_the_worst_stretch_its_level_and_the_data_time(net):
    now = time.time()
    ids = net.segments_of(ROAD)
    levels = {sid: 1 for sid in ids}
    levels.update({sid: 3 for sid in ids[10:14]})            # a long 拥堵 stretch
    levels.update({sid: 3 for sid in ids[30:31]})            # a short one
    ans = answer_of(net, ROAD, snapshot_of(net, levels, now), now)
    worst, same = worst_stretch(ans["stretches"])
    assert same == 2 and worst["segments"] == 4
    reply = road_reply(ans, TZ, BUDGET)
    assert reply.text == (f"{ROAD}：{worst['from']}至{worst['to']}段等2处拥堵。"
                          f"数据时间{local(ans['data_time'])}")
    assert one_message(reply.text)


def test_flowing_unknown_and_whole_road_wordings(net):
    now = time.time()
    ids = net.segments_of(ROAD)
    ans = answer_of(net, ROAD, snapshot_of(net, {sid: 1 for sid in ids}, now), now)
    assert road_reply(ans, TZ, BUDGET).text == f"{ROAD}：全线畅通。数据时间{local(ans['data_time'])}"
    part = answer_of(net, ROAD, snapshot_of(net, {sid: 1 for sid in ids[:5]}, now), now)
    assert "畅通（部分路段暂无数据）" in road_reply(part, TZ, BUDGET).text
    jam = answer_of(net, ROAD, snapshot_of(net, {sid: 4 for sid in ids}, now), now)
    assert road_reply(jam, TZ, BUDGET).text.startswith(f"{ROAD}：全线严重拥堵。")
    empty = answer_of(net, ROAD, {}, now)
    text = road_reply(empty, TZ, BUDGET).text
    assert text == f"{ROAD}：截至{local(empty['as_of'])}暂无实时路况数据。"


def test_incidents_and_roadworks_are_counted_when_there_is_room(net):
    now = time.time()
    ids = net.segments_of(ROAD)
    ans = answer_of(net, ROAD, snapshot_of(net, {sid: 2 for sid in ids[:3]}, now), now)
    ans = {**ans, "incidents": [{}, {}], "roadworks": [{"status": "active"},
                                                       {"status": "planned"}]}
    text = road_reply(ans, TZ, BUDGET).text
    assert "；事故2起；施工1处。" in text and "缓行" in text and one_message(text)


def test_the_worst_stretch_is_the_public_querys_for_the_same_snapshot(store, net):
    """Seeded through the real Store: the SMS reply and road_answer (what /public serves)
    read the same snapshot and name the same stretch, level and time."""
    now = time.time()
    ids = net.segments_of(ROAD)
    rows = [(sid, 1, 40.0, "amap", now) for sid in ids]
    rows[20:26] = [(sid, 4, 3.0, "amap", now) for sid in ids[20:26]]
    rows[3:5] = [(sid, 2, 20.0, "amap", now) for sid in ids[3:5]]
    store.set_congestion(rows, now=now)
    public = road_answer(store, net, ROAD, now, store.version())
    jam = [s for s in public["stretches"] if s["level"] == public["worst_level"]]
    assert public["worst_level"] == 4 and len(jam) == 1
    reply = reply_for(net, "东岳街", lambda road: road_answer(store, net, road, now,
                                                             store.version()), TZ, BUDGET)
    assert reply.road == ROAD
    assert f"{jam[0]['from']}至{jam[0]['to']}段严重拥堵" in reply.text
    assert reply.text.endswith(f"数据时间{local(public['data_time'])}")


# -- the limit, for any road and any list of matches -------------------------------------------
@HYP
@given(data=st.data())
def test_any_road_of_the_network_with_any_levels_fits_one_message(net, data):
    names = sorted(net.aliases())
    asked = data.draw(st.sampled_from(names), label="name or alias")
    road = net.resolve_road(asked)
    ids = net.segments_of(road)
    levels = data.draw(st.lists(st.integers(0, 4), min_size=len(ids), max_size=len(ids)))
    now = time.time()
    ans = answer_of(net, road, snapshot_of(net, dict(zip(ids, levels)), now), now)
    reply = reply_for(net, asked, lambda r: ans, TZ, BUDGET)
    assert reply.kind == "road" and reply.road == road
    assert one_message(reply.text), reply.text
    worst = max(levels) if any(levels) else 0
    assert LEVEL_NAMES[worst] in reply.text or (worst == 0 and "暂无" in reply.text)


LONG = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1,
               max_size=60)


@HYP
@given(road=LONG, a=LONG, b=LONG, level=st.integers(1, 4), same=st.integers(1, 30),
       incidents=st.integers(0, 99), signature=st.sampled_from(["", SIGNATURE,
                                                                "【泰安市公安局交通警察支队】"]))
def test_long_names_are_shortened_never_over_the_limit(road, a, b, level, same, incidents,
                                                       signature):
    stretch = {"from": a, "to": b, "side": "", "level": level, "length_m": 900.0}
    others = [{"from": "", "to": "", "side": "", "level": level, "length_m": 10.0}] * (same - 1)
    ans = {"road": road, "worst_level": level, "stretches": [stretch, *others,
                                                             {"level": 0, "length_m": 5.0}],
           "incidents": [{}] * incidents, "roadworks": [],
           "data_time": "2026-10-01T06:05:00+00:00", "as_of": "2026-10-01T06:06:00+00:00"}
    budget = budget_for(signature)
    text = road_reply(ans, TZ, budget).text
    assert sms_units(text) <= budget and one_message(text, signature), text
    assert text.endswith("数据时间14:05")                  # the time is never cut off


@HYP
@given(asked=st.text(min_size=1, max_size=MAX_CONTENT_CHARS),
       matches=st.lists(LONG, min_size=0, max_size=5, unique=True))
def test_any_close_matches_fit_one_message(asked, matches):
    reply = matches_reply(asked, matches, "东岳大街", BUDGET)
    assert sms_units(reply.text) <= BUDGET and one_message(reply.text), reply.text
    assert reply.text.startswith("未找到")
    fitting = [m for m in matches if len(m) <= BUDGET - len("未找到该道路，您是否要查：")]
    if matches and fitting and fitting[0] == matches[0]:
        assert matches[0] in reply.text          # the best match is offered whole when it can be


def _long_network() -> RoadNetwork:
    """Eight roads with 30-character names, crossed by streets with 20-character names."""
    stem = "泰山区经济技术开发区高新技术产业园区北环"
    rows = []
    for k in range(8):
        lat = 36.10 + 0.01 * k
        name = f"{stem}第{'一二三四五六七八'[k]}大街东延长线工程段"
        for i in range(4):
            rows.append({"segment_id": f"r{k}-{i}", "road_name": name,
                         "geometry": LineString([(117.0 + i * 0.01, lat),
                                                 (117.01 + i * 0.01, lat)])})
    for i in range(5):
        lon = 117.0 + i * 0.01
        rows.append({"segment_id": f"c{i}", "road_name": f"岱岳区满庄镇南留村至北留村{i}号连接线路",
                     "geometry": LineString([(lon, 36.09), (lon, 36.18)])})
    return RoadNetwork(prepare_segments(gpd.GeoDataFrame(rows, crs="EPSG:4326")))


@pytest.fixture(scope="module")
def long_net():
    return _long_network()


@HYP
@given(data=st.data())
def test_long_road_names_of_a_network_and_their_matches_fit(long_net, data):
    roads = long_net.road_names()
    road = data.draw(st.sampled_from(roads))
    ids = long_net.segments_of(road)
    levels = data.draw(st.lists(st.integers(0, 4), min_size=len(ids), max_size=len(ids)))
    now = time.time()
    snap = snapshot_of(long_net, dict(zip(ids, levels)), now)
    reply = reply_for(long_net, road, lambda r: answer_of(long_net, r, snap, now), TZ, BUDGET)
    assert reply.road == road and one_message(reply.text), reply.text
    # a misspelt long name: several long close matches, still one message
    typo = data.draw(st.integers(0, len(road) - 1))
    asked = road[:typo] + "某" + road[typo + 1:]
    if long_net.resolve_road(asked) is None:
        miss = reply_for(long_net, asked, lambda r: pytest.fail("unknown"), TZ, BUDGET)
        assert miss.kind == "matches" and one_message(miss.text), miss.text
        assert any(r in miss.text for r in roads)


def test_cut_never_splits_a_surrogate_pair():
    assert cut("路况🚗🚗🚗", 5) == "路况🚗…"
    assert sms_units(cut("🚗" * 40, 9)) <= 9


def test_long_cross_street_names_are_cut_keeping_the_from_to_form(long_net):
    road = long_net.road_names()[0]
    ids = long_net.segments_of(road)
    now = time.time()
    snap = snapshot_of(long_net, dict(zip(ids, [1, 3, 3, 1])), now)
    ans = answer_of(long_net, road, snap, now)
    text = road_reply(ans, TZ, BUDGET).text
    assert one_message(text) and text.startswith(road + "：")
    assert "…至" in text and text.endswith(f"…段拥堵。数据时间{local(ans['data_time'])}")
