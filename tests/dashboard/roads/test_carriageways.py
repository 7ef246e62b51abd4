"""A dual carriageway (two parallel one-way ways of one road, 30 m apart, cut at different
places) is one road: one name, and stretches that follow each other along it with the worse
level of the two carriageways, not both carriageways' stretches interleaved."""
from __future__ import annotations

import json

import pytest

from dashboard.live.public import road_stretches
from dashboard.roads.geo import haversine_m
from dashboard.roads.importer import import_network
from dashboard.roads.network import clear_network_cache, get_network
from dashboard.roads.stretches import StretchFinder

LAT = 36.65
GAP = 0.00027               # ~30 m of latitude between the carriageways
WEST, EAST = 117.000, 117.030
CUT = 117.0137              # the westbound carriageway is two ways, cut here


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_network_cache()
    yield
    clear_network_cache()


def line(coords, **props) -> dict:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]}}


@pytest.fixture
def net(tmp_path):
    feats = [
        line([(WEST, LAT), (EAST, LAT)], name="经十路", highway="trunk", oneway="yes"),
        line([(EAST, LAT + GAP), (CUT, LAT + GAP)], name="经十路", highway="trunk",
             oneway="yes"),
        line([(CUT, LAT + GAP), (WEST, LAT + GAP)], name="经十路", highway="trunk",
             oneway="yes"),
        line([(117.010, LAT - 0.005), (117.010, LAT + 0.005)], name="舜耕路",
             highway="primary"),
        line([(117.020, LAT - 0.005), (117.020, LAT + 0.005)], name="历山路",
             highway="primary"),
        # one name on two roads 330 m apart: not carriageways of one road
        line([(117.000, 36.700), (117.020, 36.700)], name="滨河路", highway="secondary"),
        line([(117.000, 36.703), (117.020, 36.703)], name="滨河路", highway="secondary"),
        line([(117.010, 36.695), (117.010, 36.708)], name="河东路", highway="secondary"),
    ]
    src = tmp_path / "dual.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                              ensure_ascii=False), encoding="utf-8")
    import_network(src, tmp_path / "state")
    return get_network(tmp_path / "state")


def carriageway(net, sid: str) -> str:
    lat = net.segment(sid)["coords"][0][1]
    return "eb" if abs(lat - LAT) < GAP / 2 else "wb"


def mid_lon(net, sid: str) -> float:
    c = net.segment(sid)["coords"]
    return (c[0][0] + c[-1][0]) / 2


def snapshot(net, level_of) -> dict[str, dict]:
    return {sid: {"level": level_of(carriageway(net, sid), mid_lon(net, sid)),
                  "speed": 30.0, "at": 1_700_000_000.0}
            for sid in net.segments_of("经十路")}


def test_the_carriageways_are_one_road_cut_differently(net):
    ids = net.segments_of("经十路")
    sides = {carriageway(net, s) for s in ids}
    assert sides == {"eb", "wb"} and net.road_names().count("经十路") == 1
    frame = StretchFinder(net).frame("经十路")
    eastbound = [s for s in ids if carriageway(net, s) == "eb"]
    westbound = [s for s in ids if carriageway(net, s) == "wb"]
    assert all(frame.partners.get(s) for s in ids)           # each has one alongside
    assert all(carriageway(net, p) != carriageway(net, s)
               for s in ids for p in frame.partners[s])
    # the two carriageways are cut at different places
    cuts_eb = {round(net.segment(s)["coords"][-1][0], 4) for s in eastbound} - {EAST}
    cuts_wb = {round(net.segment(s)["coords"][0][0], 4) for s in westbound} - {EAST}
    assert cuts_eb and cuts_wb and cuts_eb.isdisjoint(cuts_wb)
    assert StretchFinder(net).frame("滨河路").partners == {}   # 330 m apart: two roads


def test_public_query_follows_the_road_with_the_worse_carriageway(net):
    # eastbound jammed west of 117.015, everything else flowing
    snap = snapshot(net, lambda side, lon: 3 if side == "eb" and lon < 117.015 else 1)
    stretches = road_stretches(net, "经十路", snap)
    assert [s["level"] for s in stretches] == [3, 1]
    labels = [s["label"] for s in stretches]
    assert len(set(labels)) == len(labels)
    assert stretches[0]["from"] == "" and stretches[0]["to"] == "历山路"
    road_km = haversine_m(WEST, LAT, EAST, LAT) / 1000
    # the road's length, not both carriageways'
    assert sum(s["length_m"] for s in stretches) / 1000 == pytest.approx(road_km, rel=0.01)
    assert stretches[0]["length_m"] / 1000 == pytest.approx(
        haversine_m(WEST, LAT, 117.0149, LAT) / 1000, rel=0.12)
    # every segment is on exactly one stretch
    finder = StretchFinder(net)
    listed = [sid for s in finder.stretches(snap, min_level=0) for sid in s.segment_ids]
    assert sorted(listed) == sorted(snap)


def test_bulletin_stretches_and_both_carriageways_congested(net):
    finder = StretchFinder(net)
    snap = snapshot(net, lambda side, lon: 3 if side == "eb" and lon < 117.015 else 1)
    jams = finder.stretches(snap)                       # the 路况播报's cut: level ≥ 2
    assert [(s.road, s.level) for s in jams] == [("经十路", 3)]
    assert jams[0].label == "经十路(历山路以西)"
    # eastbound slow all along, westbound at a standstill west of the cut
    snap = snapshot(net, lambda side, lon: 2 if side == "eb" else (4 if lon < CUT else 1))
    out = finder.stretches(snap)
    assert [s.level for s in out] == [4, 2]
    assert out[0].length_m / 1000 == pytest.approx(
        haversine_m(WEST, LAT, CUT, LAT) / 1000, rel=0.15)
    levels = [s["level"] for s in road_stretches(net, "经十路", snap)]
    assert levels == [4, 2]


def test_a_single_carriageway_is_cut_as_before(net):
    finder = StretchFinder(net)
    ids = net.segments_of("舜耕路")
    snap = {sid: {"level": 3 if k % 2 else 2} for k, sid in enumerate(ids)}
    out = finder.stretches(snap)
    assert [s.level for s in out] == [3 if k % 2 else 2 for k in range(len(ids))]
    assert [s.segment_ids for s in out] == [(sid,) for sid in ids]
    lengths = net.segments["length_m"]
    assert [s.length_m for s in out] == [round(float(lengths[sid]), 1) for sid in ids]


def test_one_name_on_two_roads_apart_is_not_merged(net):
    ids = net.segments_of("滨河路")
    snap = {sid: {"level": 3 if net.segment(sid)["coords"][0][1] > 36.701 else 1}
            for sid in ids}
    levels = sorted(s.level for s in StretchFinder(net).stretches(snap, min_level=0))
    assert 1 in levels and 3 in levels           # the flowing road is not painted red


@pytest.mark.parametrize("name, road", [
    ("经十路(东向西)", "经十路"), ("经十路（西向东）", "经十路"), ("经十路 上行", "经十路"),
    ("经十路东行", "经十路"), ("泰山大街西行线", "泰山大街"), ("经十路北幅", "经十路"),
    ("G3京台高速(北向南)", "G3京台高速"),
    # not a carriageway's direction: left as it is
    ("经十路辅路", "经十路辅路"), ("东行路", "东行路"), ("华东行", "华东行"), ("青年路", "青年路"),
])
def test_a_carriageways_direction_is_not_part_of_the_road_name(name, road):
    from dashboard.roads.network import clean_road_name

    assert clean_road_name(name) == road


def test_carriageways_named_by_direction_are_one_road(tmp_path):
    feats = [
        line([(WEST, LAT), (EAST, LAT)], name="经十路(西向东)", highway="trunk", oneway="yes"),
        line([(EAST, LAT + GAP), (WEST, LAT + GAP)], name="经十路（东向西）", highway="trunk",
             oneway="yes"),
        line([(117.010, LAT - 0.005), (117.010, LAT + 0.005)], name="舜耕路",
             highway="primary"),
    ]
    src = tmp_path / "named.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                              ensure_ascii=False), encoding="utf-8")
    import_network(src, tmp_path / "state")
    n = get_network(tmp_path / "state")
    assert sorted(n.road_names()) == ["经十路", "舜耕路"]
    ids = n.segments_of("经十路")
    assert {carriageway(n, s) for s in ids} == {"eb", "wb"}
    frame = StretchFinder(n).frame("经十路")
    # each carriageway's segments have partners on the other one: cut together
    for sid in ids:
        assert {carriageway(n, p) for p in frame.partners.get(sid, set())} \
            == {"wb" if carriageway(n, sid) == "eb" else "eb"}


def test_pieces_between_the_same_cross_streets_are_one_stretch_at_the_worse_level(tmp_path):
    """One way between two cross streets, cut in two with different levels: the public
    reads one stretch 舜耕路—历山路 at the worse level, not two lines with one name."""
    mid = 117.015
    feats = [
        line([(117.000, LAT), (117.005, LAT)], name="经十路", highway="trunk"),
        line([(117.005, LAT), (mid, LAT)], name="经十路", highway="trunk"),
        line([(mid, LAT), (117.025, LAT)], name="经十路", highway="trunk"),
        line([(117.025, LAT), (117.030, LAT)], name="经十路", highway="trunk"),
        line([(117.005, LAT - 0.005), (117.005, LAT + 0.005)], name="舜耕路", highway="primary"),
        line([(117.025, LAT - 0.005), (117.025, LAT + 0.005)], name="历山路", highway="primary"),
    ]
    src = tmp_path / "cut.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                              ensure_ascii=False), encoding="utf-8")
    import_network(src, tmp_path / "state")
    n = get_network(tmp_path / "state")
    def level(sid: str) -> int:
        x = mid_lon(n, sid)
        return 1 if not 117.005 < x < 117.025 else 4 if x < mid else 2
    snap = {sid: {"level": level(sid), "speed": 20.0, "at": 1_700_000_000.0}
            for sid in n.segments_of("经十路")}
    rows = road_stretches(n, "经十路", snap)
    inside = [r for r in rows if r["from"] and r["to"]]
    assert len(inside) == 1, rows
    assert (inside[0]["from"], inside[0]["to"]) in (("舜耕路", "历山路"), ("历山路", "舜耕路"))
    assert inside[0]["level"] == 4
