"""app.py: the pages exist, /healthz reports Redis and the data version, the CLI's exit codes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from app import create_app
from dashboard.services import Services

pytestmark = pytest.mark.topologies("single", "cluster")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def client(settings):
    app = create_app(settings)
    yield app.server.test_client()
    app.server.config["LUKUANG"].close()


def test_healthz_reports_redis_and_version(client, store):
    body = client.get("/healthz").get_json()
    assert body["redis"] == "ok" and body["data_version"] == 0


def test_healthz_when_redis_is_down(settings):
    svc = Services.open(settings, start_embedded=False)
    svc.handle.client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    app = create_app(settings, svc=svc)
    resp = app.server.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["redis"].startswith("unreachable")


@pytest.mark.parametrize("path", ["/", "/wall", "/dispatch", "/comms", "/feeds"])
def test_every_page_is_served(client, path):
    resp = client.get(path)
    assert resp.status_code in (200, 403)


def cli(args, settings, **kw):
    env = {**os.environ, "REDIS_URL": settings.redis_url, "LUKUANG_KEY_PREFIX": settings.key_prefix,
           "LUKUANG_STATE_DIR": str(settings.state_dir)}
    return subprocess.run([sys.executable, "-c", "import sys, app; sys.exit(app.main())", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, **kw)


def test_cli_roads_match_and_miss(settings):
    hit = cli(["roads", "match", "117.0900", "36.1905"], settings)
    miss = cli(["roads", "match", "116.85", "35.95"], settings)
    assert hit.returncode == 0, hit.stderr
    out = json.loads(hit.stdout)
    assert out["road_name"] and out["distance_m"] < 150
    assert miss.returncode == 1 and "no road segment within" in miss.stdout


def test_cli_roads_import_bad_file_keeps_previous(settings, tmp_path):
    good = tmp_path / "net.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "测试路", "highway": "primary"},
         "geometry": {"type": "LineString", "coordinates": [[117.0, 36.0], [117.01, 36.0]]}}]}))
    ok = cli(["roads", "import", str(good)], settings)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["segments"] >= 2
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    res = cli(["roads", "import", str(bad)], settings)
    assert res.returncode == 2
    assert res.stderr.startswith("lukuang: roads import:") and res.stderr.count("\n") == 1
    summary = json.loads(cli(["roads", "summary"], settings).stdout)
    assert summary["named_roads"] == 1


def test_cli_doctor_plain_words(settings):
    res = cli(["doctor"], settings)
    assert "[  ok] redis" in res.stdout and "road network" in res.stdout
    down = cli(["doctor"], settings.__class__(**{**settings.__dict__,
                                                "redis_url": "redis://127.0.0.1:1/0"}))
    assert down.returncode == 1 and "cannot reach" in down.stdout


def test_cli_bad_config_exit_2(tmp_path, settings):
    cfg = tmp_path / "x.toml"
    cfg.write_text("port = 'x'")
    res = cli(["--config", str(cfg), "doctor"], settings)
    assert res.returncode == 2 and "setting port" in res.stderr


def test_the_wall_page_loads_only_what_the_wall_uses(settings):
    """/wall: no ag-grid bundle, no core-js polyfill (regeneratorRuntime instead), MapLibre
    preloaded, the charts' basic plotly bundle named for assets/wall_charts.js; the desks
    keep Dash's full set (their links navigate inside the app)."""
    from dataclasses import replace

    app = create_app(replace(settings, wall_token="tok", wall_map="maplibre"))
    c = app.server.test_client()
    try:
        wall = c.get("/wall?token=tok").get_data(as_text=True)
        desk = c.get("/dispatch").get_data(as_text=True)
    finally:
        app.server.config["LUKUANG"].close()
    assert "dash_ag_grid/dash_ag_grid" not in wall and "/deps/polyfill@" not in wall
    assert "vendor/regenerator-runtime/runtime.js" in wall
    assert 'rel="preload" as="script" href="/assets/vendor/maplibre-gl/maplibre-gl.js' in wall
    assert '<meta name="lukuang-charts" content="/assets/vendor/plotly/plotly-basic.min.js' in wall
    assert "dash_ag_grid/dash_ag_grid" in desk and "/deps/polyfill@" in desk
    assert "lukuang-charts" not in desk
    for asset in ("vendor/regenerator-runtime/runtime.js", "vendor/plotly/plotly-basic.min.js"):
        assert (REPO / "assets" / asset).is_file()


def test_scripts_are_revalidated_pages_never_stored(client):
    """Scripts and styles are the same for everyone: kept by the browser for an hour, then
    revalidated by ETag (a 304, not plotly.js again on every login); pages never stored."""
    for path in ("/_dash-component-suites/plotly/package_data/plotly.min.js",
                 "/assets/wall_map.js"):
        first = client.get(path)
        assert first.status_code == 200
        assert first.headers["Cache-Control"] == "public, max-age=3600"
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
    page = client.get("/login")
    assert page.headers["Cache-Control"] == "no-store"
