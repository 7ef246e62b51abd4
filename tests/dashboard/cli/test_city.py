"""`lukuang city init NAME --roads FILE`: a working city in one command, checked by
`lukuang doctor`; its bounds derived from the roads (a record inside is accepted, one
outside quarantined); a file ingest is a drop, never stale. Real Redis, a private state
directory, the command run as the operator runs it (``app.main``)."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

import app
from dashboard.live.wall import feed_freshness
from dashboard.roads.network import active_network_path, clear_network_cache
from dashboard.settings import load_settings
from dashboard.storage.keys import Keys
from dashboard.storage.store import Store

LON0, LAT0 = 117.00, 36.66          # 济南: outside the demo city's bounds


@pytest.fixture(autouse=True)
def operator(monkeypatch, tmp_path, settings):
    """A shell in tmp_path: this test's Redis and key prefix, a private state directory,
    no other Lukuang settings in the environment."""
    import os

    for name in list(os.environ):
        if name.startswith("LUKUANG_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("LUKUANG_KEY_PREFIX", settings.key_prefix)
    monkeypatch.setenv("LUKUANG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    clear_network_cache()
    yield
    clear_network_cache()


def roads_file(path: Path) -> Path:
    """Two crossing roads of 济南, as an export names them (name, highway)."""
    feats = [
        {"type": "Feature", "properties": {"name": "经十路", "highway": "primary"},
         "geometry": {"type": "LineString",
                      "coordinates": [[LON0, LAT0], [LON0 + 0.03, LAT0]]}},
        {"type": "Feature", "properties": {"name": "舜耕路", "highway": "secondary"},
         "geometry": {"type": "LineString",
                      "coordinates": [[LON0 + 0.01, LAT0 - 0.01], [LON0 + 0.01, LAT0 + 0.01]]}},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False), encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, object]:
    """Exit status and the JSON printed by ``lukuang ARGV``."""
    capsys.readouterr()
    rc = app.main(list(argv))
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else None


def statuses(checks) -> dict[str, str]:
    return {c["check"]: c["status"] for c in checks}


def test_city_init_leaves_a_working_city(capsys, tmp_path, r, settings):
    rc, out = run(capsys, "city", "init", "jinan", "--roads", str(roads_file(tmp_path / "j.geojson")),
                  "--name", "济南", "--code", "370100")
    assert rc == 0, out
    cfg = tomllib.loads((tmp_path / "lukuang.toml").read_text(encoding="utf-8"))
    assert (cfg["city"], cfg["city_name"], cfg["city_code"], cfg["demo"]) == (
        "jinan", "济南", "370100", False)
    assert cfg["hashtags"] == ["济南路况"] and cfg["sms_signature"] == "【济南交警】"
    assert "city_bbox" not in cfg                      # derived from the roads
    prof = out["profile"]
    assert prof["bbox_source"] == "network" and prof["name"] == "济南"
    x0, y0, x1, y1 = prof["bbox"]
    assert x0 < LON0 < LON0 + 0.03 < x1 and y0 < LAT0 - 0.01 < LAT0 + 0.01 < y1
    assert active_network_path(tmp_path / "state") == tmp_path / "state" / "network" / "roads.gpkg"

    # the doctor is content with the city (Redis is the test server: some warnings at most)
    rc, checks = run(capsys, "doctor", "--json")
    by = statuses(checks)
    assert rc == 0 and "fail" not in by.values(), checks
    assert by["road network"] == "ok" and by["city bounds"] == "ok"
    assert by["city profile"] == "ok" and "city network" not in by

    # a hotline file: the call on 经十路 is accepted, the one in 泰安 quarantined
    csv = tmp_path / "calls.csv"
    csv.write_text("工单号,来电时间,事件类型,事发地点,诉求内容,经度,纬度\n"
                   f"J1,2026-12-04 09:00,交通事故,经十路,两车追尾,{LON0 + 0.012},{LAT0 + 0.0005}\n"
                   "J2,2026-12-04 09:05,交通事故,东岳大街,两车追尾,117.1,36.2\n",
                   encoding="utf-8")
    rc, got = run(capsys, "ingest", "hotline", str(csv))
    assert rc == 0 and (got["accepted"], got["quarantined"]) == (1, 1), got
    store = Store(r, Keys(settings.key_prefix, "jinan"))
    quarantined = store.r.xrange(store.keys.quarantine("hotline"))
    assert len(quarantined) == 1 and "outside" in json.dumps(quarantined, ensure_ascii=False)
    # a one-off file is a drop: never stale afterwards, judged by its result
    health = store.feed_health()
    assert health["hotline"]["mode"] == "drop"
    fresh = feed_freshness(health, float(health["hotline"]["last_ok"]) + 30 * 86400)
    assert fresh[0]["stale"] is False and fresh[0]["error"] is False
    rc, checks = run(capsys, "doctor", "--json")
    feed = next(c for c in checks if c["check"] == "feed hotline")
    assert feed["status"] == "ok" and feed["detail"].startswith("file drops")


def test_only_city_set_is_told_by_the_doctor(capsys, tmp_path):
    """The README's old example: `city` alone, no import. Nothing of 泰安 is taken for the
    new city: the doctor fails on the demo network instead of saying ok."""
    (tmp_path / "lukuang.toml").write_text('city = "jinan"\n', encoding="utf-8")
    rc, checks = run(capsys, "doctor", "--json")
    by = statuses(checks)
    assert rc == 1 and by["city network"] == "fail" and by["road network"] == "warn"
    assert by["city feeds"] == "warn"           # nothing configured, no demo simulator
    assert load_settings().demo is False


def test_init_keeps_an_existing_file_unless_forced(capsys, tmp_path):
    roads = str(roads_file(tmp_path / "j.geojson"))
    cfg = tmp_path / "lukuang.toml"
    cfg.write_text('wall_token = "kiosk-1"\ncity = "taian"\n[feeds.gaode]\nadapter = "amap"\n'
                   'url = "https://restapi.example/v3/traffic/status/rectangle?'
                   'rectangle=117.06,36.17;117.13,36.22"\n', encoding="utf-8")
    rc, _ = run(capsys, "city", "init", "jinan", "--roads", roads)
    assert rc == 2 and load_settings(cfg).city == "taian"
    rc, out = run(capsys, "city", "init", "jinan", "--roads", roads, "--force",
                  "--hashtag", "济南路况", "--hashtag", "泉城出行", "--bbox", "116.8,36.4,117.4,36.9")
    s = load_settings(cfg)
    assert rc == 0 and (s.city, s.wall_token, [f.name for f in s.feeds]) == (
        "jinan", "kiosk-1", ["gaode"])
    assert s.hashtags == "济南路况,泉城出行" and s.city_bbox == (116.8, 36.4, 117.4, 36.9)
    assert load_settings(tmp_path / "lukuang.toml.bak").city == "taian"
    # the feed still asks Amap for Tai'an: said
    assert statuses(out["checks"])["city feed gaode"] == "warn"


def test_init_refuses_bad_values_and_changes_nothing(capsys, tmp_path):
    roads = str(roads_file(tmp_path / "j.geojson"))
    rc, _ = run(capsys, "city", "init", "jinan", "--roads", roads, "--timezone", "Asia/Atlantis")
    assert rc == 2 and not (tmp_path / "lukuang.toml").exists()
    assert not (tmp_path / "state" / "network" / "roads.gpkg").exists()
    rc, _ = run(capsys, "city", "init", "jinan")          # no roads, none imported
    assert rc == 2 and not (tmp_path / "lukuang.toml").exists()
    rc, _ = run(capsys, "city", "init", "jinan", "--roads", str(tmp_path / "nope.geojson"))
    assert rc == 2 and not (tmp_path / "lukuang.toml").exists()


def test_city_show_prints_the_profile(capsys, tmp_path):
    rc, out = run(capsys, "city", "show")
    assert rc == 0 and out["profile"]["name"] == "泰安" and out["profile"]["bbox_source"] == \
        "settings"
    assert statuses(out["checks"])["city bounds"] == "ok"
