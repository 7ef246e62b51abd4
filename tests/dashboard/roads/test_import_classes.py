"""Importing a Chinese city's own GIS file: road grades and attribute names (道路等级, 路名 …),
a GBK Shapefile without .cpg, unnamed roads, and the per-class summary."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
from osmium.osm.mutable import Node, Way
from shapely import LineString

from dashboard.roads.classes import (DEFAULT_CLASS_MAP, SKIP, ClassMapError, load_class_map,
                                     normalise_class)
from dashboard.roads.dbf_encoding import detect, text_fields
from dashboard.roads.importer import ImportOptions, NetworkImportError, import_network
from dashboard.roads.network import clear_network_cache, get_network, load_network
from dashboard.roads.stretches import StretchFinder
from tests.dashboard.roads.jinan_like import EXPECTED_KM, EXPECTED_UNNAMED_KM, jinan_city

STAMP = "2024-01-01T00:00:00Z"
# CGCS2000 / 3-degree Gauss-Kruger CM 117E: 济南 is around x 500 km, y 4,058 km
GK_117 = "EPSG:4548"
X0, Y0 = 500_000.0, 4_058_000.0


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_network_cache()
    yield
    clear_network_cache()


def small_city() -> gpd.GeoDataFrame:
    """A 济南-like network in CGCS2000 Gauss-Krüger metres with known km per grade:
    高速公路 2×12 km and 快速路 2×10 km (expressway 44), 主干路 6×8 km (arterial 48), 次干路
    8×5 km (secondary 40), 支路 20×1.5 km of which 8 unnamed (local 30, unnamed 12) plus
    one 1 km 景区道路 (an unknown grade: local), and two 人行道 that are no roads."""
    rows: list[tuple[str | None, str, LineString]] = []

    def ew(name, grade, km, k):
        y = Y0 + k * 700.0
        rows.append((name, grade, LineString([(X0, y), (X0 + km * 1000.0, y)])))

    def ns(name, grade, km, k):
        x = X0 + 300.0 + k * 900.0
        rows.append((name, grade, LineString([(x, Y0 - 500.0), (x, Y0 - 500.0 + km * 1000.0)])))

    ew("G2京沪高速", "高速公路", 12, -8)
    ew("G3京台高速", "高速公路", 12, -9)
    ew("经十路", "快速路", 10, 0)
    ew("二环南路", "快速路", 10, 1)
    for k, name in enumerate(["泉城路", "解放路", "和平路", "文化东路", "山大路", "历山路"]):
        ns(name, "主干路", 8, k)
    for k, name in enumerate(["黑虎泉西路", "趵突泉北路", "泺源大街", "朝山街", "南门大街",
                              "青龙街", "县西巷", "芙蓉街"]):
        ew(name, "次干路", 5, k + 2)
    for k in range(20):
        ns(None if k < 8 else f"支{k}巷", "支路", 1.5, k + 7)
    ns("千佛山景区路", "景区道路", 1, 30)
    ew("步行道一", "人行道", 0.4, 20)
    ew("步行道二", "人行道", 0.4, 21)
    return gpd.GeoDataFrame({"路名": [r[0] for r in rows], "道路等级": [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs=GK_117)


def write_gbk_shapefile(folder: Path, gdf: gpd.GeoDataFrame, keep_cpg: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / "roads.shp"
    gdf.to_file(shp, encoding="GBK", engine="pyogrio")
    cpg = folder / "roads.cpg"
    assert cpg.read_text().strip() == "GBK"
    if not keep_cpg:
        cpg.unlink()
    return shp


def test_gbk_shapefile_without_cpg_imports_with_its_grades(tmp_path):
    shp = write_gbk_shapefile(tmp_path / "jinan", small_city())
    raw = (tmp_path / "jinan" / "roads.dbf").read_bytes()
    assert "路名".encode("gbk") in raw and "路名".encode("utf-8") not in raw   # really GBK

    summary = import_network(shp, tmp_path / "state")
    report = summary["import"]
    assert (report["encoding"], report["encoding_from"]) == ("GB18030", "detected")
    assert (report["name_field"], report["class_field"]) == ("路名", "道路等级")
    assert report["crs"].startswith("reprojected from EPSG:4548")
    assert report["unmapped_values"] == {"景区道路": 1}
    assert report["skipped_values"] == {"人行道": 2}
    assert {(v["value"], v["class"]) for v in report["class_values"]} == {
        ("高速公路", "expressway"), ("快速路", "expressway"), ("主干路", "arterial"),
        ("次干路", "secondary"), ("支路", "local"), ("景区道路", "local")}

    classes = summary["classes"]
    assert list(classes) == ["expressway", "arterial", "secondary", "local"]
    for cls, km in {"expressway": 44, "arterial": 48, "secondary": 40, "local": 31}.items():
        assert classes[cls]["km"] == pytest.approx(km, rel=0.003), cls
    assert classes["expressway"]["segments"] == 2 * 24 + 2 * 20   # ≤ 500 m pieces
    assert summary["unnamed_km"] == pytest.approx(12, rel=0.003)
    assert summary["unnamed_segments"] == 8 * 3

    net = get_network(tmp_path / "state")
    assert {"经十路", "泉城路", "芙蓉街", "支12巷", "千佛山景区路"} <= set(net.road_names())
    assert "步行道一" not in net.road_names()
    assert net.segment(net.segments_of("经十路")[0])["road_class"] == "expressway"
    assert net.segment(net.segments_of("历山路")[0])["road_class"] == "arterial"
    assert not any("Â" in n or "Ã" in n for n in net.road_names())


def test_a_jinan_like_city_at_its_size(tmp_path):
    """The README's figures: 828 ways, GBK without .cpg, in CGCS2000 Gauss-Krüger metres."""
    shp = write_gbk_shapefile(tmp_path / "city", jinan_city())
    summary = import_network(shp, tmp_path / "state")
    assert {c: v["segments"] for c, v in summary["classes"].items()} == {
        "expressway": 577, "arterial": 800, "secondary": 1560, "local": 1824}
    for cls, km in EXPECTED_KM.items():
        assert summary["classes"][cls]["km"] == pytest.approx(km, rel=0.002), cls
    assert summary["unnamed_km"] == pytest.approx(EXPECTED_UNNAMED_KM, rel=0.002)
    assert (summary["segments"], summary["named_roads"], summary["unnamed_segments"]) == (
        4761, 435, 684)
    assert summary["import"]["encoding"] == "GB18030"
    net = get_network(tmp_path / "state")
    # the dual carriageways are one road each in the public query's cut
    jam = {sid: {"level": 3} for sid in net.segments_of("经十路")}
    assert len(StretchFinder(net).stretches(jam)) == 1


def test_the_cpg_an_argument_and_shape_encoding_win_over_detection(tmp_path, monkeypatch):
    gdf = small_city().iloc[:6]
    with_cpg = write_gbk_shapefile(tmp_path / "a", gdf, keep_cpg=True)
    report = import_network(with_cpg, tmp_path / "s1")["import"]
    assert (report["encoding"], report["encoding_from"]) == ("GBK", ".cpg")
    assert "经十路" in get_network(tmp_path / "s1").road_names()

    bare = write_gbk_shapefile(tmp_path / "b", gdf)
    report = import_network(bare, tmp_path / "s2", options=ImportOptions(encoding="GBK"))["import"]
    assert (report["encoding"], report["encoding_from"]) == ("GBK", "argument")
    monkeypatch.setenv("SHAPE_ENCODING", "CP936")
    report = import_network(bare, tmp_path / "s3")["import"]
    assert (report["encoding"], report["encoding_from"]) == ("CP936", "SHAPE_ENCODING")
    clear_network_cache()
    assert "经十路" in get_network(tmp_path / "s3").road_names()


def test_a_cpg_that_does_not_fit_is_overruled(tmp_path):
    shp = write_gbk_shapefile(tmp_path / "c", small_city().iloc[:6], keep_cpg=True)
    (tmp_path / "c" / "roads.cpg").write_text("UTF-8")        # wrong: the text is GBK
    report = import_network(shp, tmp_path / "state")["import"]
    assert (report["encoding"], report["encoding_from"]) == ("GB18030", "detected")
    assert report["warnings"] == ["the .cpg says UTF-8, but the attributes are not UTF-8 text"]
    assert "经十路" in get_network(tmp_path / "state").road_names()


def test_a_wrong_encoding_names_the_garbling(tmp_path):
    bare = write_gbk_shapefile(tmp_path / "b", small_city().iloc[:4])
    with pytest.raises(NetworkImportError) as exc:
        import_network(bare, tmp_path / "state", options=ImportOptions(encoding="ISO-8859-1"))
    text = str(exc.value)
    assert "no road names found" in text and "--encoding GBK" in text and "\n" not in text
    with pytest.raises(NetworkImportError) as exc:
        import_network(bare, tmp_path / "state", options=ImportOptions(encoding="UTF-8"))
    assert "no road names found" in str(exc.value) and "--encoding GBK" in str(exc.value)
    with pytest.raises(NetworkImportError) as exc:
        import_network(bare, tmp_path / "state", options=ImportOptions(encoding="klingon"))
    assert "unknown text encoding 'klingon'" in str(exc.value)
    assert not (tmp_path / "state" / "network" / "roads.gpkg").exists()


def test_a_zipped_gbk_shapefile_without_cpg(tmp_path):
    shp = write_gbk_shapefile(tmp_path / "z", small_city().iloc[:6])
    archive = tmp_path / "jinan.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in shp.parent.iterdir():
            z.write(f, f"道路/{f.name}")
    summary = import_network(archive, tmp_path / "state")
    assert summary["import"]["encoding"] == "GB18030"
    assert "经十路" in get_network(tmp_path / "state").road_names()


@pytest.mark.filterwarnings("ignore:Could not decode error message")
def test_utf8_dbf_with_cut_field_names(tmp_path):
    folder = tmp_path / "u"
    folder.mkdir()
    gdf = small_city().iloc[:4]
    # a .dbf field name holds 10 bytes: UTF-8 道路等级 (12) is cut inside its 4th character
    gdf.to_file(folder / "roads.shp", encoding="UTF-8", engine="pyogrio")
    for cpg in (True, False):
        summary = import_network(folder / "roads.shp", tmp_path / f"s{cpg}")
        report = summary["import"]
        assert (report["encoding"], report["encoding_from"]) == (
            ("UTF-8", ".cpg") if cpg else ("UTF-8", "detected"))
        assert (report["name_field"], report["class_field"]) == ("路名", "道路等")
        assert summary["classes"]["expressway"]["km"] == pytest.approx(44, rel=0.003)
        assert "经十路" in get_network(tmp_path / f"s{cpg}").road_names()
        (folder / "roads.cpg").unlink(missing_ok=True)
    assert detect(text_fields((folder / "roads.dbf").read_bytes())).name == "UTF-8"


def test_detection_rules():
    assert detect([b"NAME", b"Jingshi Road"]).how == "ascii"
    # a multi-byte character cut by the field width still counts as UTF-8 / GBK
    assert detect(["经十路".encode("utf-8")[:-1]]).name == "UTF-8"
    assert detect(["经十路".encode("gbk")[:-1]]).name == "GB18030"
    assert detect([bytes([0x81, 0x20, 0xFF, 0xFE])]).how == "unknown"


# -- class values and attribute names ------------------------------------------------------
@pytest.mark.parametrize("value,cls", [
    ("高速公路", "expressway"), ("快速路", "expressway"), ("城市快速路", "expressway"),
    ("主干路", "arterial"), ("次干路", "secondary"), ("支路", "local"),
    ("国道", "arterial"), ("县道", "secondary"), ("一级公路", "arterial"), ("匝道", "expressway"),
    ("城市快速路（高架）", "expressway"), (" 主干路 ", "arterial"), ("次干道（规划）", "secondary"),
    ("高速公路辅路", "secondary"), ("人行天桥", SKIP),
    ("motorway", "expressway"), ("Motorway_Link", "expressway"), ("ＴＲＵＮＫ", "expressway"),
    ("primary", "arterial"), ("primary_link", "arterial"), ("tertiary", "secondary"),
    ("residential", "local"), ("service", "local"), ("footway", SKIP), ("人行道", SKIP),
    ("arterial", "arterial"), ("景区道路", None), ("", None), (None, None), (float("nan"), None),
])
def test_class_values(value, cls):
    assert DEFAULT_CLASS_MAP.classify(value) == cls


def test_stored_values_are_normalised_on_load(tmp_path):
    src = tmp_path / "hand.geojson"
    feats = [{"type": "Feature", "properties": {"road_name": name, "road_class": cls},
              "geometry": {"type": "LineString",
                           "coordinates": [[117.0, 36.6 + k / 100], [117.01, 36.6 + k / 100]]}}
             for k, (name, cls) in enumerate([("经十路", "motorway"), ("泉城路", "主干路"),
                                              ("nan", "支路"), ("无名路", "tertiary"),
                                              ("芙蓉街", "gibberish")])]
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                              ensure_ascii=False), encoding="utf-8")
    net = load_network(src)
    assert list(net.segments["road_class"]) == ["expressway", "arterial", "local", "secondary",
                                                "local"]
    assert net.road_names() == ["泉城路", "经十路", "芙蓉街"]
    assert net.summary()["unnamed_segments"] == 2
    assert normalise_class("次干路") == "secondary" and normalise_class(None) == "local"


def test_attribute_names_are_found_case_insensitively(tmp_path):
    gdf = gpd.GeoDataFrame({"NAME": ["Jingshi Road", "Lishan Road"],
                            "FCLASS": ["trunk", "primary_link"]},
                           geometry=[LineString([(117.0, 36.65), (117.02, 36.65)]),
                                     LineString([(117.01, 36.64), (117.01, 36.66)])],
                           crs="EPSG:4326")
    gdf.to_file(tmp_path / "r.gpkg", driver="GPKG")
    summary = import_network(tmp_path / "r.gpkg", tmp_path / "state")
    assert (summary["import"]["name_field"], summary["import"]["class_field"]) == ("NAME",
                                                                                  "FCLASS")
    assert summary["classes"]["expressway"]["segments"] > 0
    assert summary["classes"]["arterial"]["segments"] > 0


def test_class_map_file_and_explicit_fields(tmp_path):
    gdf = gpd.GeoDataFrame({"RNAME": ["经十路", "泉城路", "芙蓉街"],
                            "RDLEVEL": ["41000", "42000", "43000"],
                            "名称": ["x", "y", "z"]},
                           geometry=[LineString([(117.0, 36.65 + k / 100),
                                                 (117.02, 36.65 + k / 100)]) for k in range(3)],
                           crs="EPSG:4326")
    src = tmp_path / "codes.geojson"
    gdf.to_file(src, driver="GeoJSON")
    cmap = tmp_path / "classes.toml"
    cmap.write_text('class_fields = ["RDLEVEL"]\nname_fields = ["RNAME"]\n'
                    '[classes]\n"41000" = "expressway"\n"42000" = "arterial"\n'
                    '"43000" = "secondary"\n', encoding="utf-8")
    summary = import_network(src, tmp_path / "s1", options=ImportOptions(class_map=cmap))
    assert (summary["import"]["name_field"], summary["import"]["class_field"]) == ("RNAME",
                                                                                  "RDLEVEL")
    assert summary["import"]["class_map"] == str(cmap)
    net = get_network(tmp_path / "s1")
    assert [net.segment(net.segments_of(n)[0])["road_class"]
            for n in ("经十路", "泉城路", "芙蓉街")] == ["expressway", "arterial", "secondary"]

    # without the map: 名称 is a name field, RDLEVEL is not a class field
    summary = import_network(src, tmp_path / "s2")
    assert summary["import"]["name_field"] == "名称" and summary["import"]["class_field"] is None
    assert summary["classes"]["local"]["segments"] == summary["segments"]
    assert any("no road class attribute" in w for w in summary["import"]["warnings"])

    # explicit fields; the values unknown to the built-in map are local and reported
    summary = import_network(src, tmp_path / "s3", options=ImportOptions(
        class_field="rdlevel", name_field="rname"))
    assert summary["import"]["unmapped_values"] == {"41000": 1, "42000": 1, "43000": 1}
    with pytest.raises(NetworkImportError) as exc:
        import_network(src, tmp_path / "s4", options=ImportOptions(class_field="道路等级"))
    assert "'道路等级' is not in the file" in str(exc.value) and "RDLEVEL" in str(exc.value)


def test_bad_class_map_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[classes]\n"主干路" = "highway"\n', encoding="utf-8")
    with pytest.raises(ClassMapError, match="must be one of"):
        load_class_map(bad)
    bad.write_text('colours = 1\n', encoding="utf-8")
    with pytest.raises(ClassMapError, match="unknown keys"):
        load_class_map(bad)
    js = tmp_path / "m.json"
    js.write_text(json.dumps({"classes": {"城市道路": "arterial"}}, ensure_ascii=False),
                  encoding="utf-8")
    assert load_class_map(js).classify("城市道路") == "arterial"
    with pytest.raises(ClassMapError, match="not-there"):
        load_class_map(tmp_path / "not-there.toml")


# -- unnamed roads -------------------------------------------------------------------------
def test_nan_names_are_unnamed_not_a_road_called_nan(tmp_path):
    n = 12
    gdf = gpd.GeoDataFrame({"name": ["经十路"] + [np.nan] * n,
                            "highway": ["primary"] + ["residential"] * n},
                           geometry=[LineString([(117.0, 36.65), (117.03, 36.65)])]
                           + [LineString([(117.001 + k / 400, 36.651), (117.001 + k / 400, 36.655)])
                              for k in range(n)], crs="EPSG:4326")
    src = tmp_path / "nan.gpkg"
    gdf.to_file(src, driver="GPKG")
    summary = import_network(src, tmp_path / "state")
    net = get_network(tmp_path / "state")
    assert net.road_names() == ["经十路"] and summary["named_roads"] == 1
    assert summary["unnamed_segments"] == n
    assert set(net.segments["road_name"]) == {"经十路", ""}
    for word in ("nan", "NaN", "None", ""):
        assert net.resolve_road(word) is None and net.segments_of(word) == []
    # congestion on the unnamed ways makes no stretch of a road of their own
    jam = {sid: {"level": 4} for sid in net.segments.index}
    roads = {s.road for s in StretchFinder(net).stretches(jam)}
    assert roads == {"经十路"}


def test_unnamed_osm_ways_are_not_a_road_called_nan(tmp_path):
    src = tmp_path / "unnamed.osm.pbf"
    writer = osmium.SimpleWriter(str(src))
    for nid in range(1, 8):
        writer.add_node(Node(id=nid, location=(117.0 + nid / 200, 36.65), version=1,
                             timestamp=STAMP))
    writer.add_way(Way(id=10, nodes=[1, 2, 3], tags={"highway": "primary", "name": "经十路"},
                       version=1, timestamp=STAMP))
    for k, (a, b) in enumerate([(3, 4), (4, 5), (5, 6), (6, 7)]):
        writer.add_way(Way(id=20 + k, nodes=[a, b], tags={"highway": "residential"},
                           version=1, timestamp=STAMP))
    writer.close()
    summary = import_network(src, tmp_path / "state")
    net = get_network(tmp_path / "state")
    assert net.road_names() == ["经十路"]
    assert summary["unnamed_segments"] >= 4
    assert net.resolve_road("nan") is None
    assert summary["import"]["class_values"][0]["value"] in ("primary", "residential")
