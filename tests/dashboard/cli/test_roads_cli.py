"""`lukuang roads import` options and `lukuang roads summary` (segments and km per class,
unnamed segments), through the real argument parser and handlers (no Redis needed)."""
from __future__ import annotations

import argparse
import json

import geopandas as gpd
import pytest
from shapely import LineString

from dashboard.cli.commands import register
from dashboard.roads.network import clear_network_cache
from dashboard.settings import load_settings


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_network_cache()
    yield
    clear_network_cache()


def run(argv: list[str], settings) -> int:
    parser = argparse.ArgumentParser(prog="lukuang")
    register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    return args.handler(args, settings)


@pytest.fixture
def gbk_shapefile(tmp_path):
    """济南-like roads in CGCS2000 Gauss-Krüger metres, GBK attributes, no .cpg, no .prj."""
    x0, y0 = 500_000.0, 4_058_000.0
    rows = [("经十路", "快速路", 0), ("泉城路", "主干路", 1), ("芙蓉街", "次干路", 2),
            ("曲水亭街", "支路", 3), (None, "支路", 4)]
    gdf = gpd.GeoDataFrame({"ROADNAME": [r[0] for r in rows], "GRADE": [r[1] for r in rows]},
                           geometry=[LineString([(x0, y0 + k * 300), (x0 + 2000, y0 + k * 300)])
                                     for *_, k in rows], crs="EPSG:4548")
    folder = tmp_path / "shp"
    folder.mkdir()
    gdf.to_file(folder / "roads.shp", encoding="GBK")
    (folder / "roads.cpg").unlink()
    (folder / "roads.prj").unlink()
    return folder / "roads.shp"


def test_import_with_options_then_summary(tmp_path, gbk_shapefile, capsys):
    settings = load_settings(env={}, state_dir=str(tmp_path / "state"))
    # metres without a CRS: refused, with the hint
    assert run(["roads", "import", str(gbk_shapefile)], settings) == 2
    assert "--crs" in capsys.readouterr().err
    assert run(["roads", "import", str(gbk_shapefile), "--crs", "EPSG:4548",
                "--name-field", "roadname", "--class-field", "grade"], settings) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["import"]["encoding"] == "GB18030" and out["import"]["name_field"] == "ROADNAME"
    assert {k: v["segments"] for k, v in out["classes"].items()} == {
        "expressway": 4, "arterial": 4, "secondary": 4, "local": 8}
    assert out["unnamed_segments"] == 4

    assert run(["roads", "summary"], settings) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["classes"]["expressway"]["km"] == pytest.approx(2.0, rel=0.002)
    assert summary["unnamed_km"] == pytest.approx(2.0, rel=0.002)
    assert summary["named_roads"] == 4

    assert run(["roads", "summary", "--text"], settings) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("20 segments, 4 named roads, 10.0 km")
    assert lines[1].split() == ["class", "segments", "km"]
    assert lines[2].split() == ["expressway", "4", "2.0"]
    assert lines[6].split() == ["(unnamed)", "4", "2.0"]


def test_settings_supply_the_options_and_the_argument_wins(tmp_path, gbk_shapefile, capsys):
    cmap = tmp_path / "classes.toml"
    cmap.write_text('class_fields = ["GRADE"]\n[classes]\n"支路" = "secondary"\n',
                    encoding="utf-8")
    settings = load_settings(env={"LUKUANG_ROADS_CRS": "EPSG:4548",
                                  "LUKUANG_ROADS_NAME_FIELD": "ROADNAME",
                                  "LUKUANG_ROADS_CLASS_MAP": str(cmap),
                                  "LUKUANG_ROADS_ENCODING": "UTF-8"},
                             state_dir=str(tmp_path / "state"))
    # the environment's UTF-8 is wrong for this file; --encoding on the command line wins
    assert run(["roads", "import", str(gbk_shapefile), "--encoding", "GBK"], settings) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["import"]["encoding"], out["import"]["encoding_from"]) == ("GBK", "argument")
    assert out["import"]["class_field"] == "GRADE"
    assert out["classes"]["secondary"]["segments"] == 12     # 支路 mapped by the file


def test_a_bad_class_map_is_one_line(tmp_path, gbk_shapefile, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[classes]\n"支路" = "alley"\n', encoding="utf-8")
    settings = load_settings(env={}, state_dir=str(tmp_path / "state"))
    assert run(["roads", "import", str(gbk_shapefile), "--crs", "EPSG:4548",
                "--class-map", str(bad)], settings) == 2
    err = capsys.readouterr().err
    assert err.startswith("lukuang: roads import: class map") and err.count("\n") == 1
