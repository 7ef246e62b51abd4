"""Importing real road networks: GeoJSON, GeoPackage, Shapefile zip, OpenStreetMap .osm.pbf."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import osmium
import pytest
from osmium.osm.mutable import Node, Way
from shapely import LineString, Point, Polygon

from dashboard.roads.geo import haversine_m
from dashboard.roads.network import active_network_path, clear_network_cache, get_network, load_network
from dashboard.roads.importer import NetworkImportError, import_network, parse_other_tags

LON0, LAT0 = 117.10, 36.20
STAMP = "2024-01-01T00:00:00Z"


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_network_cache()
    yield
    clear_network_cache()


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def line_feature(coords, **props) -> dict:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]}}


@pytest.fixture
def small_geojson(tmp_path) -> Path:
    return write_geojson(tmp_path / "city.geojson", [
        # ~1.8 km east-west, must be split into <= 500 m pieces
        line_feature([(117.10, 36.20), (117.12, 36.20)], name="测试大街", highway="primary"),
        line_feature([(117.11, 36.19), (117.11, 36.21)], name="测试路", highway="secondary",
                     oneway="yes"),
        line_feature([(117.105, 36.195), (117.105, 36.198)], name="", highway="residential"),
        line_feature([(117.105, 36.19), (117.106, 36.19)], name="小径", highway="footway"),
        {"type": "Feature", "properties": {"name": "双线路", "highway": "tertiary"},
         "geometry": {"type": "MultiLineString",
                      "coordinates": [[[117.13, 36.20], [117.13, 36.202]],
                                      [[117.14, 36.20], [117.14, 36.202]]]}},
    ])


def test_import_geojson(small_geojson, tmp_path):
    state = tmp_path / "state"
    summary = import_network(small_geojson, state)
    assert active_network_path(state) == state / "network" / "roads.gpkg"
    net = get_network(state)
    report = summary.pop("import")
    assert summary == net.summary()
    assert report["class_field"] == "highway" and report["name_field"] == "name"
    assert report["encoding"] == "UTF-8" and report["encoding_from"] == "format"
    assert report["skipped_values"] == {"footway": 1}
    assert summary["unnamed_segments"] == 1
    assert summary["classes"]["arterial"]["segments"] == 4
    assert set(net.road_names()) == {"测试大街", "测试路", "双线路"}
    assert "小径" not in net.road_names()             # footways are not roads
    segs = net.segments
    assert segs.index.is_unique
    assert segs["length_m"].max() <= 500.5
    east_west = segs[segs["road_name"] == "测试大街"]
    assert len(east_west) == 4
    assert east_west["length_m"].sum() == pytest.approx(
        haversine_m(117.10, 36.20, 117.12, 36.20), rel=0.005)
    assert set(east_west["road_class"]) == {"arterial"}
    assert set(east_west["direction"]) == {"EW"}
    assert not east_west["oneway"].any()
    north_south = segs[segs["road_name"] == "测试路"]
    assert north_south["oneway"].all() and set(north_south["direction"]) == {"NB"}
    assert set(north_south["road_class"]) == {"secondary"}
    assert len(segs[segs["road_name"] == "双线路"]) == 2   # the multi-line was exploded
    assert (segs["road_name"] == "").sum() == 1            # unnamed roads are kept
    assert summary["districts"] == []
    assert net.district_at(117.11, 36.20) is None
    # segments are ordered along the road and still meet end to end
    ids = net.segments_of("测试大街")
    for a, b in zip(ids, ids[1:]):
        assert haversine_m(*net.segment(a)["coords"][-1], *net.segment(b)["coords"][0]) < 0.05
    m = net.nearest(117.115, 36.2002)
    assert m is not None and m.road_name == "测试大街" and m.district is None
    assert net.intersection("测试大街", "测试路") == pytest.approx((117.11, 36.20), abs=1e-6)


def test_import_with_districts(small_geojson, tmp_path):
    districts = tmp_path / "d.geojson"
    gpd.GeoDataFrame({"name": ["西区", "东区"], "code": ["1", "2"]},
                     geometry=[Polygon([(117.0, 36.1), (117.112, 36.1), (117.112, 36.3),
                                        (117.0, 36.3)]),
                               Polygon([(117.112, 36.1), (117.2, 36.1), (117.2, 36.3),
                                        (117.112, 36.3)])],
                     crs="EPSG:4326").to_file(districts, driver="GeoJSON")
    state = tmp_path / "state"
    summary = import_network(small_geojson, state, districts=districts)
    assert summary["districts"] == ["西区", "东区"]
    net = get_network(state)
    assert net.district_at(117.105, 36.2) == "西区"
    assert set(net.segments.loc[net.segments_of("双线路"), "district"]) == {"东区"}
    assert set(net.segments.loc[net.segments_of("测试路"), "district"]) == {"西区"}
    # a later import without districts drops them rather than keeping stale ones
    import_network(small_geojson, state)
    assert get_network(state).summary()["districts"] == []


def test_import_geopackage_in_a_projected_crs(tmp_path):
    gdf = gpd.GeoDataFrame({"road_name": ["东岳大街"], "road_class": ["arterial"]},
                           geometry=[LineString([(LON0, LAT0), (LON0 + 0.004, LAT0)])],
                           crs="EPSG:4326").to_crs("EPSG:32650")
    src = tmp_path / "roads_utm.gpkg"
    gdf.to_file(src, driver="GPKG")
    import_network(src, tmp_path / "state")
    net = get_network(tmp_path / "state")
    coords = net.segment(net.segments_of("东岳大街")[0])["coords"]
    assert coords[0] == pytest.approx([LON0, LAT0], abs=1e-6)


def test_import_zipped_shapefile(tmp_path):
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gpd.GeoDataFrame({"NAME": ["龙潭路", "迎胜路"], "fclass": ["primary", "secondary"],
                      "oneway": ["B", "T"]},
                     geometry=[LineString([(117.09, 36.18), (117.09, 36.19)]),
                               LineString([(117.07, 36.18), (117.07, 36.185)])],
                     crs="EPSG:4326").to_file(shp_dir / "roads.shp", encoding="utf-8")
    archive = tmp_path / "roads.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    summary = import_network(archive, tmp_path / "state")
    assert summary["named_roads"] == 2
    net = get_network(tmp_path / "state")
    yingsheng = net.segment(net.segments_of("迎胜路")[0])
    # Geofabrik's "T": one-way against the digitised direction -> turned round, southbound
    assert yingsheng["oneway"] is True and yingsheng["direction"] == "SB"
    assert yingsheng["coords"][0][1] > yingsheng["coords"][-1][1]
    assert net.segment(net.segments_of("龙潭路")[0])["road_class"] == "arterial"


def write_pbf(path: Path) -> Path:
    """A tiny OpenStreetMap extract, written with pyosmium."""
    nodes = {1: (117.10, 36.20), 2: (117.11, 36.20), 3: (117.12, 36.2005),
             4: (117.11, 36.21), 5: (117.11, 36.19), 6: (117.13, 36.19), 7: (117.13, 36.21),
             8: (117.09, 36.18), 9: (117.09, 36.22), 10: (117.095, 36.19), 11: (117.096, 36.19)}
    ways = [
        (100, [1, 2, 3], {"highway": "primary", "name": "Dongyue Street", "name:zh": "东岳大街",
                          "lanes": "6"}),
        (101, [5, 2, 4], {"highway": "secondary", "name": "青年路", "oneway": "yes"}),
        (102, [6, 7], {"highway": "residential", "name": "虎山路", "oneway": "-1"}),
        (103, [8, 9], {"highway": "motorway", "name": "京台高速", "ref": "G3"}),
        (104, [10, 11], {"highway": "footway", "name": "步道"}),
        (105, [5, 6], {"highway": "tertiary", "name": "小街", "oneway": "no"}),
    ]
    writer = osmium.SimpleWriter(str(path))
    try:
        for nid, loc in nodes.items():
            writer.add_node(Node(id=nid, location=loc, version=1, timestamp=STAMP))
        for wid, refs, tags in ways:
            writer.add_way(Way(id=wid, nodes=refs, tags=tags, version=1, timestamp=STAMP))
    finally:
        writer.close()
    return path


def test_import_osm_pbf(tmp_path):
    src = write_pbf(tmp_path / "tiny.osm.pbf")
    summary = import_network(src, tmp_path / "state")
    net = get_network(tmp_path / "state")
    assert summary["named_roads"] == 5
    assert set(net.road_names()) == {"东岳大街", "青年路", "虎山路", "京台高速", "小街"}  # name:zh wins
    assert "步道" not in net.road_names()

    def props(road):
        return [net.segment(s) for s in net.segments_of(road)]

    dongyue = props("东岳大街")
    assert {p["road_class"] for p in dongyue} == {"arterial"}
    assert {p["oneway"] for p in dongyue} == {False}
    assert {p["lanes"] for p in dongyue} == {6}
    assert all(p["segment_id"].startswith("w100") for p in dongyue)
    qingnian = props("青年路")
    assert {p["road_class"] for p in qingnian} == {"secondary"}
    assert {(p["oneway"], p["direction"]) for p in qingnian} == {(True, "NB")}
    hushan = props("虎山路")   # oneway=-1: drawn north, driven south
    assert {(p["oneway"], p["direction"]) for p in hushan} == {(True, "SB")}
    assert {p["road_class"] for p in hushan} == {"local"}
    motorway = props("京台高速")
    assert {(p["road_class"], p["oneway"]) for p in motorway} == {("expressway", True)}
    assert {p["oneway"] for p in props("小街")} == {False}
    assert {p["road_class"] for p in props("小街")} == {"secondary"}
    assert net.intersection("东岳大街", "青年路") == pytest.approx((117.11, 36.20), abs=1e-6)


def test_parse_other_tags():
    assert parse_other_tags('"name:zh"=>"东岳大街","oneway"=>"yes"') == {
        "name:zh": "东岳大街", "oneway": "yes"}
    assert parse_other_tags(None) == {}
    assert parse_other_tags('"note"=>"say \\"hi\\""') == {"note": 'say "hi"'}


# -- bad input -------------------------------------------------------------------------------
def _assert_one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text and len(text) < 400
    return text


def test_bad_file_keeps_the_previous_network(small_geojson, tmp_path):
    state = tmp_path / "state"
    import_network(small_geojson, state)
    target = state / "network" / "roads.gpkg"
    before = target.read_bytes()
    good = get_network(state).summary()

    garbage = tmp_path / "broken.geojson"
    garbage.write_bytes(b'{"type": "FeatureCollection", "features": [ {"type": "Feat')
    with pytest.raises(NetworkImportError) as exc:
        import_network(garbage, state)
    assert "broken.geojson" in _assert_one_line(exc)

    noise = tmp_path / "noise.osm.pbf"
    noise.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(NetworkImportError) as exc:
        import_network(noise, state)
    _assert_one_line(exc)

    assert target.read_bytes() == before
    clear_network_cache()
    assert get_network(state).summary() == good
    assert [p.name for p in (state / "network").iterdir()] == ["roads.gpkg"]  # no leftovers


def test_missing_file(tmp_path):
    with pytest.raises(NetworkImportError) as exc:
        import_network(tmp_path / "nope.geojson", tmp_path / "state")
    assert "not found" in _assert_one_line(exc)
    assert not (tmp_path / "state" / "network" / "roads.gpkg").exists()


def test_points_only_rejected(tmp_path):
    src = write_geojson(tmp_path / "points.geojson", [
        {"type": "Feature", "properties": {"name": "岱庙"},
         "geometry": {"type": "Point", "coordinates": [117.12, 36.19]}},
        {"type": "Feature", "properties": {"name": "红门"},
         "geometry": {"type": "Point", "coordinates": [117.127, 36.219]}},
    ])
    with pytest.raises(NetworkImportError) as exc:
        import_network(src, tmp_path / "state")
    text = _assert_one_line(exc)
    assert "no line features" in text and "Point" in text


def test_polygons_rejected(tmp_path):
    src = tmp_path / "areas.gpkg"
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(117.1, 36.2).buffer(0.01)],
                     crs="EPSG:4326").to_file(src, driver="GPKG")
    with pytest.raises(NetworkImportError) as exc:
        import_network(src, tmp_path / "state")
    assert "Polygon" in _assert_one_line(exc)


def test_no_names_rejected(tmp_path):
    unnamed = write_geojson(tmp_path / "unnamed.geojson", [
        line_feature([(117.10, 36.20), (117.11, 36.20)], name="", highway="primary"),
        line_feature([(117.10, 36.21), (117.11, 36.21)], name=None, highway="primary")])
    with pytest.raises(NetworkImportError) as exc:
        import_network(unnamed, tmp_path / "state")
    assert "name" in _assert_one_line(exc)
    no_column = write_geojson(tmp_path / "nocol.geojson", [
        line_feature([(117.10, 36.20), (117.11, 36.20)], kind="road")])
    with pytest.raises(NetworkImportError) as exc:
        import_network(no_column, tmp_path / "state")
    assert "name" in _assert_one_line(exc)


def test_empty_collection_rejected(tmp_path):
    src = write_geojson(tmp_path / "empty.geojson", [])
    with pytest.raises(NetworkImportError) as exc:
        import_network(src, tmp_path / "state")
    _assert_one_line(exc)


def test_osm_without_roads_rejected(tmp_path):
    src = tmp_path / "paths.osm.pbf"
    writer = osmium.SimpleWriter(str(src))
    writer.add_node(Node(id=1, location=(117.1, 36.2), version=1, timestamp=STAMP))
    writer.add_node(Node(id=2, location=(117.11, 36.2), version=1, timestamp=STAMP))
    writer.add_way(Way(id=5, nodes=[1, 2], tags={"highway": "footway", "name": "小路"},
                       version=1, timestamp=STAMP))
    writer.close()
    with pytest.raises(NetworkImportError) as exc:
        import_network(src, tmp_path / "state")
    assert "no roads" in _assert_one_line(exc)


def test_reimporting_the_demo_keeps_its_ids(tmp_path):
    demo_dir = Path(__file__).resolve().parents[3] / "data" / "taian"
    summary = import_network(demo_dir / "roads.geojson", tmp_path / "state",
                             districts=demo_dir / "districts.geojson")
    demo = load_network(demo_dir / "roads.geojson")
    assert summary["segments"] == demo.summary()["segments"]
    assert summary["named_roads"] == demo.summary()["named_roads"]
    net = get_network(tmp_path / "state")
    assert set(net.segments.index) == set(demo.segments.index)
    sid = demo.segments_of("东岳大街")[5]
    assert net.segment(sid)["district"] == demo.segment(sid)["district"]
    assert net.segment(sid)["road_class"] == "arterial"
