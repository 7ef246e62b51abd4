"""Coordinates of an imported road file: WGS-84, CGCS2000, projected CRSs, none at all, and
the shifted GCJ-02 / BD-09 lon/lat that only ``--crs`` can declare. The network is stored in
WGS-84 (the wall draws it as it is)."""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import LineString

from dashboard.roads.crs import CrsError, metric_hint, parse_crs
from dashboard.roads.geo import gcj02_to_wgs84, haversine_m, wgs84_to_gcj02
from dashboard.roads.importer import ImportOptions, NetworkImportError, import_network
from dashboard.roads.network import clear_network_cache, get_network

pytestmark = pytest.mark.filterwarnings("ignore:'crs' was not provided")
# 经十路 in 济南, WGS-84
A, B = (117.00, 36.65), (117.02, 36.65)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_network_cache()
    yield
    clear_network_cache()


def first_coords(state: Path) -> list[float]:
    net = get_network(state)
    return net.segment(net.segments_of("经十路")[0])["coords"][0]


def write(tmp_path: Path, gdf: gpd.GeoDataFrame, name: str = "roads.gpkg") -> Path:
    src = tmp_path / name
    gdf.to_file(src, driver="GPKG" if name.endswith(".gpkg") else "GeoJSON")
    return src


def road(crs=None, coords=(A, B)) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"路名": ["经十路"], "道路等级": ["快速路"]},
                            geometry=[LineString(coords)], crs=crs)


@pytest.mark.parametrize("epsg", [4548, 4547, 32650, 3857])
def test_projected_crs_is_reprojected(tmp_path, epsg):
    src = write(tmp_path, road("EPSG:4326").to_crs(f"EPSG:{epsg}"))
    summary = import_network(src, tmp_path / "state")
    assert summary["import"]["crs"].startswith(f"reprojected from EPSG:{epsg}")
    assert first_coords(tmp_path / "state") == pytest.approx(list(A), abs=1e-6)
    assert summary["total_km"] == pytest.approx(haversine_m(*A, *B) / 1000, rel=0.005)
    if epsg in (4548, 4547):
        assert "CGCS2000 datum taken as WGS-84" in summary["import"]["crs"]
    assert summary["import"]["warnings"] == []


def test_cgcs2000_is_taken_as_wgs84(tmp_path):
    src = write(tmp_path, road("EPSG:4490"))
    summary = import_network(src, tmp_path / "state")
    assert "EPSG:4490" in summary["import"]["crs"] and "taken as WGS-84" in summary["import"]["crs"]
    assert first_coords(tmp_path / "state") == pytest.approx(list(A), abs=1e-7)


def test_no_crs_lonlat_is_wgs84_with_a_warning(tmp_path):
    src = tmp_path / "bare.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "经十路", "highway": "trunk"},
         "geometry": {"type": "LineString", "coordinates": [list(A), list(B)]}}]},
        ensure_ascii=False), encoding="utf-8")
    # a GeoJSON is WGS-84 by definition; a Shapefile without .prj is the real case
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    road(None).to_file(shp_dir / "roads.shp", encoding="GBK")
    assert not (shp_dir / "roads.prj").exists()
    summary = import_network(shp_dir / "roads.shp", tmp_path / "state")
    assert summary["import"]["crs"] == "none in the file; taken as WGS-84"
    assert any("no coordinate reference system" in w and "--crs gcj02" in w
               for w in summary["import"]["warnings"])
    assert first_coords(tmp_path / "state") == pytest.approx(list(A), abs=1e-7)
    assert import_network(src, tmp_path / "s2")["import"]["warnings"] == []


def test_no_crs_metres_are_refused_with_a_hint(tmp_path):
    gk = road("EPSG:4326").to_crs("EPSG:4527")      # 3-degree GK zone 39, x = 39 xxx xxx
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gk.set_crs(None, allow_override=True).to_file(shp_dir / "roads.shp", encoding="GBK")
    with pytest.raises(NetworkImportError) as exc:
        import_network(shp_dir / "roads.shp", tmp_path / "state")
    text = str(exc.value)
    assert "no coordinate reference system" in text and "--crs EPSG:4527" in text
    # … and with --crs it imports
    summary = import_network(shp_dir / "roads.shp", tmp_path / "state",
                             options=ImportOptions(crs="4527"))
    assert first_coords(tmp_path / "state") == pytest.approx(list(A), abs=1e-6)
    assert summary["import"]["crs"].startswith("reprojected from EPSG:4527")

    assert "EPSG:4548" in metric_hint((500_000, 4_050_000, 502_000, 4_060_000))
    assert "6-degree" in metric_hint((20_500_000, 4_050_000, 20_502_000, 4_060_000))


def test_a_file_that_misstates_its_crs(tmp_path):
    metres = road("EPSG:4326").to_crs("EPSG:4548").set_crs("EPSG:4326", allow_override=True)
    src = write(tmp_path, metres)
    with pytest.raises(NetworkImportError) as exc:
        import_network(src, tmp_path / "state")
    assert "says EPSG:4326" in str(exc.value) and "not longitude/latitude" in str(exc.value)
    summary = import_network(src, tmp_path / "state", options=ImportOptions(crs="EPSG:4548"))
    assert any("--crs EPSG:4548 wins" in w for w in summary["import"]["warnings"])
    assert first_coords(tmp_path / "state") == pytest.approx(list(A), abs=1e-6)


@pytest.mark.parametrize("word", ["gcj02", "GCJ-02"])
def test_gcj02_is_converted_to_wgs84(tmp_path, word):
    shifted = [wgs84_to_gcj02(*A), wgs84_to_gcj02(*B)]
    assert haversine_m(*shifted[0], *A) > 100          # the shift is hundreds of metres
    src = write(tmp_path, road("EPSG:4326", shifted))
    summary = import_network(src, tmp_path / "state", options=ImportOptions(crs=word))
    assert summary["import"]["crs"].startswith("GCJ-02")
    got = first_coords(tmp_path / "state")
    assert haversine_m(*got, *A) < 0.05
    assert got == pytest.approx(list(gcj02_to_wgs84(*shifted[0])), abs=1e-7)


def test_bd09_is_converted_to_wgs84(tmp_path):
    # Baidu's published forward offset GCJ-02 → BD-09
    import math

    def gcj_to_bd(lon, lat):
        x_pi = math.pi * 3000.0 / 180.0
        z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * x_pi)
        theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
        return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006
    bd = [gcj_to_bd(*wgs84_to_gcj02(*p)) for p in (A, B)]
    src = write(tmp_path, road("EPSG:4326", bd))
    import_network(src, tmp_path / "state", options=ImportOptions(crs="bd09"))
    assert haversine_m(*first_coords(tmp_path / "state"), *A) < 1.0


def test_unknown_crs_text_is_refused(tmp_path):
    src = write(tmp_path, road("EPSG:4326"))
    with pytest.raises(NetworkImportError) as exc:
        import_network(src, tmp_path / "state", options=ImportOptions(crs="mars"))
    text = str(exc.value)
    assert "unknown coordinate reference system 'mars'" in text and "gcj02" in text
    assert not (tmp_path / "state" / "network" / "roads.gpkg").exists()
    with pytest.raises(CrsError):
        parse_crs("EPSG:999999")
    assert parse_crs("cgcs2000").crs.to_epsg() == 4490
    assert parse_crs("Baidu").shift == "bd09"


def test_an_approximate_datum_is_warned_about(tmp_path):
    src = write(tmp_path, road("EPSG:4610"))           # Xi'an 1980, geographic
    summary = import_network(src, tmp_path / "state")
    assert summary["import"]["crs"].startswith("reprojected from EPSG:4610")
    assert any("no exact datum transformation" in w for w in summary["import"]["warnings"])
