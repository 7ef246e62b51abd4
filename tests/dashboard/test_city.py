"""The city profile: settings with the demo profile for the demo city, names and the road
network for any other, one time zone function, and the bounds derived from the network."""
from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.city import MARGIN_M, CityProfile, covers, padded, split_names
from dashboard.roads.extent import city_bbox, city_profile, network_bbox
from dashboard.roads.geo import haversine_m
from dashboard.roads.network import clear_network_cache, load_network
from dashboard.settings import DEMO_PROFILE, SettingsError, load_settings
from dashboard.timeutil import city_zone, zone


def write_roads(path: Path, lon0: float = 117.00, lat0: float = 36.66) -> Path:
    """A small network (two crossing roads, one in each of two districts) near (lon0, lat0)."""
    feats = [
        {"type": "Feature", "properties": {"road_name": "经十路", "road_class": "arterial",
                                           "district": "历下区"},
         "geometry": {"type": "LineString",
                      "coordinates": [[lon0, lat0], [lon0 + 0.03, lat0]]}},
        {"type": "Feature", "properties": {"road_name": "舜耕路", "road_class": "secondary",
                                           "district": "市中区"},
         "geometry": {"type": "LineString",
                      "coordinates": [[lon0 + 0.01, lat0 - 0.01], [lon0 + 0.01, lat0 + 0.01]]}},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _fresh_networks():
    clear_network_cache()
    yield
    clear_network_cache()


def test_the_demo_city_keeps_its_profile():
    s = load_settings(env={})
    assert (s.city, s.city_name, s.city_code) == ("taian", "泰安", "370900")
    assert s.city_bbox == DEMO_PROFILE["city_bbox"] and s.demo is True
    prof = CityProfile.from_settings(s)
    assert prof.hashtags == ("泰安路况",) and prof.sms_signature == "【泰安交警】"
    assert prof.weibo_accounts == ("泰山交警", "泰安交警", "泰安公安交警")
    assert prof.issuer == "泰安交警" and prof.bbox_source == "settings" and prof.is_demo


def test_another_city_takes_nothing_from_the_demo():
    """Only `city` set (the README's old example): no Tai'an bounds, topics or simulator."""
    s = load_settings(env={"LUKUANG_CITY": "jinan"})
    assert s.city_bbox is None and s.demo is False
    assert (s.city_name, s.hashtags, s.sms_signature, s.weibo_accounts) == (
        "jinan", "jinan路况", "【jinan交警】", "jinan交警")
    s = load_settings(env={"LUKUANG_CITY": "jinan", "LUKUANG_CITY_NAME": "济南"})
    prof = CityProfile.from_settings(s)
    assert prof.hashtags == ("济南路况",) and prof.issuer == "济南交警" and not prof.is_demo
    assert prof.bbox is None and prof.bbox_source == ""


def test_profile_settings_from_a_file_with_lists(tmp_path):
    cfg = tmp_path / "lukuang.toml"
    cfg.write_text('city = "jinan"\ncity_name = "济南"\ncity_code = "370100"\n'
                   'timezone = "Asia/Tokyo"\nhashtags = ["济南路况", "#泉城出行#"]\n'
                   'weibo_accounts = ["济南交警", "济南公安"]\ndistricts = ["历下区"]\n'
                   'city_bbox = [116.8, 36.4, 117.4, 36.9]\n', encoding="utf-8")
    s = load_settings(cfg, env={})
    prof = CityProfile.from_settings(s)
    assert prof.hashtags == ("济南路况", "泉城出行")
    assert prof.weibo_accounts == ("济南交警", "济南公安") and prof.districts == ("历下区",)
    assert prof.bbox == (116.8, 36.4, 117.4, 36.9) and prof.bbox_source == "settings"
    assert prof.zone == ZoneInfo("Asia/Tokyo") and city_zone(s) == ZoneInfo("Asia/Tokyo")
    assert load_settings(cfg, env={"LUKUANG_CITY_BBOX": "auto"}).city_bbox is None


@pytest.mark.parametrize("text, fragment", [
    ('timezone = "Asia/Atlantis"', "setting timezone"),
    ('timezone = ""', "setting timezone"),
    ('[feeds.hotline]\nmode = "sometimes"', "mode 'sometimes'"),
])
def test_bad_profile_values_are_named(tmp_path, text, fragment):
    cfg = tmp_path / "lukuang.toml"
    cfg.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=fragment):
        load_settings(cfg, env={})


def test_zone_is_the_setting_and_refuses_unknown_zones():
    assert city_zone(load_settings(env={})) == ZoneInfo("Asia/Shanghai")
    assert city_zone(load_settings(env={"LUKUANG_TIMEZONE": "Europe/Berlin"})) == \
        ZoneInfo("Europe/Berlin")
    with pytest.raises(ValueError, match="unknown time zone"):
        zone("Mars/Olympus")


def test_split_names_and_boxes():
    assert split_names("#济南路况#, 泉城出行、@济南交警  x") == ("济南路况", "泉城出行", "济南交警", "x")
    assert split_names("") == ()
    box = padded((117.0, 36.6, 117.1, 36.7), 5000)
    assert covers(box, (117.0, 36.6, 117.1, 36.7)) and not covers((117.0, 36.6, 117.1, 36.7), box)
    # 5 km on every side, measured on the ground
    assert haversine_m(117.0, 36.65, box[0], 36.65) == pytest.approx(5000, rel=0.01)
    assert haversine_m(117.05, 36.6, 117.05, box[1]) == pytest.approx(5000, rel=0.01)


def test_bounds_and_districts_come_from_the_network_unless_set(tmp_path):
    net = load_network(write_roads(tmp_path / "roads.geojson"))
    assert network_bbox(net) == pytest.approx((117.00, 36.65, 117.03, 36.67))
    s = load_settings(env={"LUKUANG_CITY": "jinan", "LUKUANG_CITY_NAME": "济南"})
    prof = city_profile(s, net)
    assert prof.bbox == padded(network_bbox(net), MARGIN_M) and prof.bbox_source == "network"
    assert set(prof.districts) == {"历下区", "市中区"} and prof.districts_source == "network"
    assert city_bbox(s, net) == prof.bbox
    fixed = load_settings(env={"LUKUANG_CITY": "jinan", "LUKUANG_CITY_BBOX": "116,36,118,37",
                               "LUKUANG_DISTRICTS": "历下区"})
    assert city_bbox(fixed, net) == (116.0, 36.0, 118.0, 37.0)
    assert city_profile(fixed, net).districts == ("历下区",)
    with pytest.raises(ValueError, match="no city_bbox"):
        city_bbox(s, None)


def test_the_readme_example_is_a_working_settings_file(tmp_path):
    """The complete lukuang.toml of the README's "Set up a new city" loads as it stands."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Set up a new city", 1)[1].split("\n## ", 1)[0]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = tmp_path / "lukuang.toml"
    cfg.write_text(example, encoding="utf-8")
    s = load_settings(cfg, env={})
    prof = CityProfile.from_settings(s)
    assert (prof.city, prof.name, prof.code, prof.bbox) == ("jinan", "济南", "370100", None)
    assert s.demo is False and prof.sms_signature == "【济南交警】"
    assert {f.name: f.mode for f in s.feeds} == {"waze": "poll", "gaode": "poll",
                                                 "weibo": "poll", "hotline": "drop",
                                                 "units": "poll"}
