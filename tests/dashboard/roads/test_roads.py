"""The demo road network of 泰安 and the RoadNetwork look-ups."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from pyproj import Transformer
from shapely import Point
from shapely.ops import unary_union

from dashboard.roads.geo import haversine_m
from dashboard.roads.network import (
    ROAD_CLASSES, RoadNetwork, SegmentMatch, active_network_path, clear_network_cache,
    default_network_dir, get_network, load_network,
)

DATA = default_network_dir()
REQUIRED = ["东岳大街", "泰山大街", "灵山大街", "岱宗大街", "财源大街", "擂鼓石大街", "泮河大街",
            "泰玻大街", "龙潭路", "迎胜路", "青年路", "红门路", "温泉路", "虎山路", "望岳东路",
            "长城路", "天烛峰路", "G3京台高速", "S31泰新高速"]
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
TO_WGS = Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    return load_network(DATA / "roads.geojson")


def road_distance_m(net: RoadNetwork, road: str, lon: float, lat: float) -> float:
    """Distance in metres from a point to a named road (brute force, no index)."""
    ids = net.segments_of(road)
    geoms = net.segments.loc[ids].to_crs("EPSG:32650").geometry
    return float(geoms.distance(Point(*TO_UTM.transform(lon, lat))).min())


def offset_point(coords, metres: float) -> tuple[float, float]:
    """A point ``metres`` to the left of the middle of a polyline."""
    xy = [TO_UTM.transform(*c) for c in coords]
    from shapely import LineString
    line = LineString(xy)
    mid = line.interpolate(0.5, normalized=True)
    a = line.interpolate(line.length / 2 - 5)
    b = line.interpolate(line.length / 2 + 5)
    dx, dy = b.x - a.x, b.y - a.y
    n = (dx * dx + dy * dy) ** 0.5
    return TO_WGS.transform(mid.x - dy / n * metres, mid.y + dx / n * metres)


# -- the data files -----------------------------------------------------------------------
def test_demo_network_size(net):
    s = net.summary()
    assert s["segments"] >= 300
    assert s["named_roads"] >= 25
    assert 200 < s["total_km"] < 600
    minlon, minlat, maxlon, maxlat = s["bbox"]
    # around Tai'an: city centre ≈ 117.09E 36.19N, Mount Tai to the north
    assert 116.9 < minlon < 117.09 < maxlon < 117.35
    assert 36.0 < minlat < 36.19 < maxlat < 36.3
    assert set(s["districts"]) >= {"泰山区", "岱岳区"}


def test_required_names_present(net):
    names = set(net.road_names())
    missing = [n for n in REQUIRED if n not in names]
    assert not missing
    assert len(names) >= 30


def test_every_segment_is_complete(net):
    segs = net.segments
    assert segs.crs.to_epsg() == 4326
    assert segs.index.is_unique
    assert set(segs.geometry.geom_type) == {"LineString"}
    assert segs["road_name"].str.len().min() > 0
    assert set(segs["road_class"]) <= set(ROAD_CLASSES)
    assert set(segs["road_class"]) == set(ROAD_CLASSES)
    district_names = set(net.districts["name"])
    assert segs["district"].isin(district_names).all()
    for _sid, row in segs.iterrows():
        if row["oneway"]:
            assert row["direction"] in ("EB", "WB", "NB", "SB")
        else:
            assert row["direction"] in ("EW", "NS")
    assert (segs["lanes"] >= 1).all()
    assert segs["oneway"].any() and not segs["oneway"].all()
    for sid in segs.index:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-\d{3}", sid), sid


def test_segment_lengths_and_stored_length(net):
    segs = net.segments
    assert segs["length_m"].min() >= 150
    assert segs["length_m"].max() <= 500
    metric = segs.to_crs("EPSG:32650").length
    assert ((metric - segs["length_m"]).abs() / segs["length_m"]).max() < 0.01


def test_districts_cover_the_network_without_overlap(net):
    cover = unary_union(list(net.districts.geometry))
    assert cover.covers(unary_union(list(net.segments.geometry)))
    geoms = list(net.districts.geometry)
    for i, a in enumerate(geoms):
        for b in geoms[i + 1:]:
            assert a.intersection(b).area < 1e-9
    codes = dict(zip(net.districts["name"], net.districts["code"]))
    assert codes["泰山区"] == "370902" and codes["岱岳区"] == "370911"


def test_segment_district_is_where_its_middle_is(net):
    for sid in list(net.segments.index)[::25]:
        mid = net.segments.geometry[sid].interpolate(0.5, normalized=True)
        assert net.district_at(mid.x, mid.y) == net.segments.at[sid, "district"]


def test_geojson_is_compact():
    raw = (DATA / "roads.geojson").read_text(encoding="utf-8")
    data = json.loads(raw)
    for feature in data["features"][:200]:
        for lon, lat in feature["geometry"]["coordinates"]:
            assert round(lon, 6) == lon and round(lat, 6) == lat


def test_committed_files_match_the_generator():
    spec = importlib.util.spec_from_file_location("build_taian", DATA.parent / "build_taian.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules["build_taian"] = build  # dataclasses look their module up there
    try:
        spec.loader.exec_module(build)
    finally:
        sys.modules.pop("build_taian", None)
    features = build.build_segments(build.all_roads())
    committed = json.loads((DATA / "roads.geojson").read_text(encoding="utf-8"))["features"]
    assert len(features) == len(committed)
    assert json.loads(json.dumps(features)) == committed


# -- gazetteer ------------------------------------------------------------------------------
def test_aliases_resolve(net):
    assert net.resolve_road("东岳大街") == "东岳大街"
    assert net.resolve_road("东岳街") == "东岳大街"
    assert net.resolve_road(" 东 岳 大 街 ") == "东岳大街"
    assert net.resolve_road("京台高速") == "G3京台高速"
    assert net.resolve_road("Ｇ３") == "G3京台高速"          # full-width
    assert net.resolve_road("泰新高速") == "S31泰新高速"
    assert net.resolve_road("s31") == "S31泰新高速"
    assert net.resolve_road("dongyue dajie") == "东岳大街"
    assert net.resolve_road("长安街") is None
    assert net.resolve_road("") is None
    aliases = net.aliases()
    assert aliases["京台高速"] == "G3京台高速"
    assert all(aliases[n] == n for n in net.road_names())
    assert set(aliases.values()) <= set(net.road_names())


def test_aliases_are_unambiguous():
    gaz = json.loads((DATA / "gazetteer.json").read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for road, info in gaz["roads"].items():
        for alias in [road, *info["aliases"]]:
            assert seen.setdefault(alias, road) == road, alias
    assert "泰山街" not in seen  # could be 泰山大街 or 泰山大道


def test_road_names_longest_first(net):
    names = net.road_names()
    assert [len(n) for n in names] == sorted((len(n) for n in names), reverse=True)


def test_landmarks_near_roads(net):
    lms = net.landmarks()
    names = {v["name"] for v in lms.values()}
    assert len(names) >= 12
    assert lms["泰安火车站"]["name"] == "泰安站"
    assert lms["泰山医学院"]["name"] == "山东第一医科大学"
    for name in names:
        lm = lms[name]
        assert net.nearest(lm["lon"], lm["lat"], max_m=600) is not None, name
        assert net.district_at(lm["lon"], lm["lat"]) is not None, name


# -- look-ups ---------------------------------------------------------------------------------
def test_nearest_point_next_to_dongyue_dajie(net):
    ids = net.segments_of("东岳大街")
    seg = net.segment(ids[len(ids) // 2])
    lon, lat = offset_point(seg["coords"], 20.0)
    m = net.nearest(lon, lat)
    assert isinstance(m, SegmentMatch)
    assert m.road_name == "东岳大街"
    assert m.segment_id == seg["segment_id"]
    assert 15.0 < m.distance_m < 25.0
    assert m.district == seg["district"]
    assert net.nearest(lon, lat, max_m=10.0) is None


def test_nearest_far_from_any_road(net):
    lon, lat = 117.15, 36.245  # on the slopes of Mount Tai
    assert net.nearest(lon, lat) is None
    assert net.nearest(lon, lat, max_m=2000.0) is None
    far = min(road_distance_m(net, r, lon, lat) for r in net.road_names())
    assert far > 2000.0


def test_nearest_rejects_nonsense(net):
    assert net.nearest(float("nan"), 36.19) is None
    assert net.nearest(117.09, float("inf")) is None
    assert net.nearest(500.0, 36.19) is None


@pytest.mark.parametrize("a, b", [("长城路", "泰玻大街"), ("东岳大街", "迎胜路"),
                                  ("东岳大街", "青年路"), ("东岳大街", "龙潭路"),
                                  ("东岳大街", "红门路"), ("京台高速", "泰山大街"),
                                  ("泰新高速", "泰山大道")])
def test_intersections_lie_on_both_roads(net, a, b):
    p = net.intersection(a, b)
    assert p is not None
    assert net.intersection(b, a) == p
    for road in (a, b):
        assert road_distance_m(net, net.resolve_road(road), *p) < 1.0


def test_no_intersection_for_parallel_or_unknown_roads(net):
    assert net.intersection("东岳大街", "泰山大街") is None
    assert net.intersection("东岳大街", "长安街") is None
    assert net.intersection("东岳大街", "东岳街") is None


def test_segments_of_is_ordered_and_connected(net):
    for road in ("东岳大街", "龙潭路", "环山路", "G3京台高速"):
        ids = net.segments_of(road)
        assert len(ids) >= 5
        for a, b in zip(ids, ids[1:]):
            ca, cb = net.segment(a)["coords"], net.segment(b)["coords"]
            ends_a = {tuple(ca[0]), tuple(ca[-1])}
            assert ends_a & {tuple(cb[0]), tuple(cb[-1])}, (a, b)
    assert net.segments_of("东岳街") == net.segments_of("东岳大街")
    assert net.segments_of("长安街") == []
    # west to east
    first, last = net.segment(net.segments_of("东岳大街")[0]), net.segment(
        net.segments_of("东岳大街")[-1])
    assert first["coords"][0][0] < last["coords"][-1][0]


def test_segment_properties(net):
    sid = net.segments_of("通天街")[0]
    seg = net.segment(sid)
    assert seg["segment_id"] == sid
    assert seg["road_name"] == "通天街"
    assert seg["oneway"] is True and seg["direction"] == "NB"
    assert isinstance(seg["length_m"], float) and isinstance(seg["lanes"], int)
    assert len(seg["coords"]) >= 2
    json.dumps(seg, ensure_ascii=False)
    assert net.segment("no-such-segment") == {}


def test_district_at(net):
    assert net.district_at(117.125, 36.20) == "泰山区"      # the old city by 岱庙
    assert net.district_at(117.03, 36.12) == "岱岳区"
    assert net.district_at(2.35, 48.85) is None
    assert net.district_at(float("nan"), 1.0) is None


def test_match_line_along_a_road(net):
    ids = net.segments_of("东岳大街")[10:15]
    coords = []
    for sid in ids:
        c = net.segment(sid)["coords"]
        coords.extend(c if not coords else c[1:])
    assert net.match_line(coords) == ids
    assert net.match_line(coords[::-1]) == ids[::-1]


def test_match_line_offset_and_sparse(net):
    ids = net.segments_of("龙潭路")[4:9]
    first, last = net.segment(ids[0])["coords"], net.segment(ids[-1])["coords"]
    # a provider's line: 15 m to the side, only a handful of vertices
    pts = [offset_point(net.segment(s)["coords"], 15.0) for s in ids]
    line = [tuple(first[0])] + pts + [tuple(last[-1])]
    got = net.match_line(line)
    assert set(got) <= set(ids)
    assert got[0] == ids[0] and got[-1] == ids[-1]
    assert len(got) >= 4
    assert all(net.segment(s)["road_name"] == "龙潭路" for s in got)


def test_match_line_nowhere_near(net):
    assert net.match_line([(117.15, 36.245), (117.16, 36.246)]) == []
    assert net.match_line([]) == []


def test_match_line_single_point(net):
    c = net.segment(net.segments_of("泰山大街")[3])["coords"]
    lon, lat = c[0][0] + 0.0001, c[0][1] + 0.0001
    assert net.match_line([(lon, lat)]) == [net.nearest(lon, lat, 60.0).segment_id]


def _segments_around(net, road: str, point: tuple[float, float], n: int) -> list[str]:
    """``n`` segments of ``road`` before and ``n`` after ``point`` (in road order)."""
    ids = net.segments_of(road)
    at = next(k for k, sid in enumerate(ids)
              if haversine_m(*point, *net.segment(sid)["coords"][0]) < 1.0)
    assert at >= n
    return ids[at - n:at + n]


def _coords(net, ids: list[str]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for sid in ids:
        c = [tuple(p) for p in net.segment(sid)["coords"]]
        if out and out[-1] != c[0]:
            c = c[::-1]
        out.extend(c if not out else c[1:])
    return out


def test_match_line_through_a_crossing_ignores_the_cross_street(net):
    cross = net.intersection("东岳大街", "迎胜路")
    ids = _segments_around(net, "东岳大街", cross, 2)
    got = net.match_line(_coords(net, ids))
    assert got == ids
    assert not set(got) & set(net.segments_of("迎胜路"))


def test_match_line_turning_at_a_junction(net):
    cross = net.intersection("东岳大街", "青年路")
    along = _segments_around(net, "东岳大街", cross, 2)[:2]      # the two west of the crossing
    up = [s for s in _segments_around(net, "青年路", cross, 2)[2:]]  # the two north of it
    line = _coords(net, along) + _coords(net, up)[1:]
    got = net.match_line(line)
    assert got == along + up


# -- which network is active --------------------------------------------------------------------
def test_active_network_defaults_to_demo(tmp_path):
    assert active_network_path(tmp_path) == DATA / "roads.geojson"
    clear_network_cache()
    a = get_network(tmp_path)
    b = get_network(tmp_path)
    assert a is b
    assert a.summary()["segments"] >= 300


def test_get_network_follows_an_imported_file(tmp_path):
    net_dir = tmp_path / "network"
    net_dir.mkdir()
    demo = load_network(DATA / "roads.geojson")
    small = demo.segments.loc[demo.segments_of("东岳大街")].reset_index()
    small.to_file(net_dir / "roads.gpkg", driver="GPKG", engine="pyogrio")
    assert active_network_path(tmp_path) == net_dir / "roads.gpkg"
    net = get_network(tmp_path)
    assert net.road_names() == ["东岳大街"]
    assert net.district_at(117.12, 36.19) is None     # no districts next to it
    assert net.aliases() == {"东岳大街": "东岳大街"}    # no gazetteer: names only
    assert net.landmarks() == {}
    assert get_network(tmp_path) is net
