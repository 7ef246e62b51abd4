"""The text locator and classifier on the real demo network of 泰安 (data/taian).

Every case in ``locator_cases.CASES`` must pass; the few ``HARD`` cases are only
reported. The overall accuracy over both groups is printed (run with ``-s`` to see it).
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from dashboard.roads.geo import haversine_m
from dashboard.roads.locate import PRECISIONS, Location, classify_text, locate_text
from dashboard.roads.network import default_network_dir, load_network
from tests.dashboard.roads.locator_cases import CASES, HARD, Case

MAX_HARD = 5


@pytest.fixture(scope="module")
def net():
    return load_network(default_network_dir() / "roads.geojson")


def problems(case: Case, loc: Location | None, net) -> list[str]:
    """What the locator got wrong for one case (empty when right)."""
    if case.roads is None:
        return [] if loc is None else [f"expected no location, got {loc.roads} ({loc.precision})"]
    if loc is None:
        return ["no location found"]
    out = []
    if set(loc.roads) != set(case.roads):
        out.append(f"roads {loc.roads} != {case.roads}")
    if case.precision == "stretch" and loc.roads[:1] != case.roads[:1]:
        out.append(f"main road {loc.roads[:1]} != {case.roads[:1]}")
    if case.precision and loc.precision != case.precision:
        out.append(f"precision {loc.precision} != {case.precision}")
    if case.cross is None:
        if loc.intersection is not None:
            out.append(f"unexpected intersection {loc.intersection}")
    else:
        want = net.intersection(*case.cross)
        if loc.intersection is None or set(loc.roads[:2]) != set(case.cross):
            out.append(f"intersection {loc.roads[:2]} != {case.cross}")
        elif haversine_m(*loc.intersection, *want) > 1:
            out.append(f"intersection point {loc.intersection} != {want}")
    if case.landmark and loc.landmark != case.landmark:
        out.append(f"landmark {loc.landmark!r} != {case.landmark!r}")
    if case.direction and loc.direction != case.direction:
        out.append(f"direction {loc.direction!r} != {case.direction!r}")
    return out


def test_case_set_is_big_enough_and_uses_real_names(net):
    assert len(CASES) >= 80
    assert len(HARD) <= MAX_HARD
    names = set(net.road_names())
    marks = {v["name"] for v in net.landmarks().values()}
    for case in CASES + HARD:
        for road in case.roads or ():
            assert road in names, (case.text, road)
        if case.landmark:
            assert case.landmark in marks, (case.text, case.landmark)
        if case.cross:
            assert net.intersection(*case.cross) is not None, case.cross
    assert sum(c.roads is None for c in CASES) >= 8  # vague sentences are part of the set


@pytest.mark.parametrize("case", CASES, ids=[c.text[:24] for c in CASES])
def test_locate_case(case, net):
    loc = locate_text(case.text, net)
    assert problems(case, loc, net) == [], case.text


@pytest.mark.parametrize("case", CASES + HARD, ids=[c.text[:24] for c in CASES + HARD])
def test_classify_case(case):
    category, kind, severity = classify_text(case.text)
    assert category == case.category, case.text
    assert kind in ("incident", "report", "construction")
    assert 0 <= severity <= 4


def test_accuracy_report(net):
    """Overall accuracy, printed; only the listed hard cases may fail."""
    failed_hard = []
    for case in HARD:
        if problems(case, locate_text(case.text, net), net):
            failed_hard.append(case.text)
    ok_main = sum(not problems(c, locate_text(c.text, net), net) for c in CASES)
    total = len(CASES) + len(HARD)
    ok = ok_main + len(HARD) - len(failed_hard)
    print(f"\nlocator accuracy: {ok}/{total} = {ok / total:.1%} "
          f"(asserted set {ok_main}/{len(CASES)}, known hard {len(HARD) - len(failed_hard)}"
          f"/{len(HARD)}: failing {failed_hard})")
    assert ok_main == len(CASES)


def test_location_fields(net):
    loc = locate_text("长城路泰玻大街路口发生交通拥堵 @泰山交警", net)
    assert loc.precision == "intersection" and loc.precision in PRECISIONS
    assert loc.point == loc.intersection == net.intersection("长城路", "泰玻大街")
    assert loc.matched == "长城路泰玻大街路口"
    seg = net.segment(loc.segment_id)
    assert seg["road_name"] == "长城路"
    assert loc.district == seg["district"] == net.district_at(*loc.point)
    d = loc.to_dict()
    assert d["roads"] == ["长城路", "泰玻大街"] and d["point"] == list(loc.point)


def test_stretch_point_is_between_the_two_intersections(net):
    loc = locate_text("泰山大街(龙潭路—青年路)严重拥堵", net)
    a = net.intersection("泰山大街", "龙潭路")
    b = net.intersection("泰山大街", "青年路")
    da, db = haversine_m(*loc.point, *a), haversine_m(*loc.point, *b)
    ab = haversine_m(*a, *b)
    assert abs(da - db) < 0.1 * ab  # the middle of the stretch
    assert da + db < 1.2 * ab      # on the way from one to the other
    assert net.segment(loc.segment_id)["road_name"] == "泰山大街"
    # the same stretch written the other way round gives the same point
    back = locate_text("泰山大街从青年路到龙潭路都堵", net)
    assert haversine_m(*back.point, *loc.point) < 1


def test_landmark_on_named_road(net):
    loc = locate_text("泰山学院附近东岳大街施工", net)
    mark = net.landmarks()["泰山学院"]
    assert loc.landmark == "泰山学院" and loc.roads == ("东岳大街",)
    assert net.segment(loc.segment_id)["road_name"] == "东岳大街"
    # the point is on 东岳大街, near the landmark, not at the landmark itself
    assert haversine_m(loc.point[0], loc.point[1], mark["lon"], mark["lat"]) < 400
    assert net.nearest(*loc.point, 5).road_name == "东岳大街"


def test_road_point_is_on_the_road(net):
    loc = locate_text("灵山大街积水严重", net)
    assert loc.precision == "road"
    assert net.nearest(*loc.point, 5).road_name == "灵山大街"


def test_full_width_and_spaces(net):
    a = locate_text("长城路泰玻大街路口堵车", net)
    b = locate_text("长 城 路　泰玻大街　路 口 堵车", net)
    assert (a.roads, a.point) == (b.roads, b.point)
    c = locate_text("Ｇ３京台高速泮河大街口", net)
    assert c.roads == ("G3京台高速", "泮河大街") and c.precision == "intersection"


def test_mentions_are_not_places(net):
    # "@泰山交警" contains no road, "@长城路交警" is an account, not 长城路
    assert locate_text("@长城路交警 你们好", net) is None
    loc = locate_text("@长城路交警 泰玻大街堵了", net)
    assert loc.roads == ("泰玻大街",)


def test_vague_and_junk_return_none(net):
    for text in ("", "   ", "你好", "😂😂😂", "<script>alert(1)</script>", "x" * 10000):
        assert locate_text(text, net) is None
    assert locate_text(None, net) is None  # type: ignore[arg-type]
    assert locate_text("东岳大街", None) is None


def test_classify_severity():
    assert classify_text("东岳大街缓行")[2] < classify_text("东岳大街严重拥堵，大排长龙")[2]
    assert classify_text("轻微剐蹭")[2] < classify_text("多车追尾，有人受伤")[2]
    assert classify_text("追尾导致拥堵")[0] == "accident"
    assert classify_text("施工造成拥堵")[:2] == ("roadworks", "construction")
    assert classify_text("车坏在路上了")[:2] == ("breakdown", "incident")
    assert classify_text("你好") == ("other", "report", 1)
    assert classify_text(None) == ("other", "report", 1)  # type: ignore[arg-type]


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_locate_never_raises(net, text):
    loc = locate_text(text, net)
    if loc is not None:
        assert loc.precision in PRECISIONS
        assert loc.point is not None and all(math.isfinite(v) for v in loc.point)
    classify_text(text)


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["长城路", "泰玻大街", "与", "(", ")", "—", "至", "段", "路口", "口",
                                 "从", "到", "@泰山交警", "岱庙", "附近", "东向西", " ", "　",
                                 "堵", "追尾", "，", "红门", "红门路", "泰山", "大街"]), max_size=12))
def test_locate_fragments(net, parts):
    loc = locate_text("".join(parts), net)
    if loc is not None:
        assert set(loc.roads) <= set(net.road_names())
        assert loc.precision in PRECISIONS
        if loc.precision == "intersection":
            assert loc.intersection == loc.point
