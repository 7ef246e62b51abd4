"""/wall in headless Chromium against a real gunicorn and the test Redis.

Fails on any SEVERE console message and on any request to a host other than 127.0.0.1 /
localhost; saves screenshots at 1920x1080 and 3840x2160; checks that a moved map view
survives data refreshes, and that the kiosk token is enforced on the server.
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dashboard.live import wall as W
from dashboard.model import RoadEvent, validate
from dashboard.roads.network import default_network_dir, load_network

from .conftest import LEVEL_COUNT, MAP_READY, WALL_TOKEN

pytestmark = pytest.mark.browser



def seed(store, now: float) -> list[str]:
    """A plausible city: every segment with a level, incidents, roadworks, report clusters,
    fresh feeds. Returns the segment ids."""
    network = load_network(default_network_dir() / "roads.geojson")   # what the server shows
    seg_ids = list(network.segments.index)
    rnd = random.Random(4)
    store.set_congestion([(s, rnd.choices([1, 2, 3, 4], [70, 15, 10, 5])[0], 30.0, "amap", now)
                          for s in seg_ids], now=now)
    utc = timezone.utc
    events = []
    for i in range(8):
        seg = network.segment(seg_ids[(i * 97) % len(seg_ids)])
        lon, lat = seg["coords"][0]
        kind = ("incident", "report", "construction")[i % 3]
        events.append(validate(RoadEvent(
            id=f"browser:{i}", kind=kind,
            category={"incident": "accident", "report": "jam", "construction": "roadworks"}[kind],
            severity=1 + i % 4, source="browser", lon=lon, lat=lat,
            observed_at=datetime.fromtimestamp(now, utc) - timedelta(minutes=i),
            line=tuple(tuple(c) for c in seg["coords"]) if kind == "construction" else (),
            road_names=(seg["road_name"],), district=seg.get("district") or "",
            text=(f"{seg['road_name']}拥堵 <b>电话13812345678</b>" if i == 1 else
                  f"{seg['road_name']}车多缓行，请绕行") if kind == "report" else "",
            attrs={"count": 2 + i} if kind == "report" else {})))
    store.upsert_events(events, now=now)
    for feed, interval in (("waze", 10), ("amap", 30), ("wzdx", 60)):
        store.update_feed_health(feed, {"accepted": 10}, last_ok=f"{now - 3:.0f}",
                                 interval_s=str(interval), breaker="closed")
    return seg_ids


def wait_until(fn, timeout: float = 45.0, step: float = 0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    return fn()


def open_wall(browser, base: str):
    browser.driver.get(f"{base}/wall?token={WALL_TOKEN}")
    drawn = wait_until(lambda: browser.driver.execute_script(MAP_READY))
    assert drawn, "the map did not draw"
    # the first refresh filled the tiles and the ticker
    wait_until(lambda: browser.driver.execute_script(
        "var v = document.querySelector('.lk-kpi-value');"
        "return v && v.textContent !== '—' && document.querySelector('.lk-ticker-item');"))
    time.sleep(1.5)  # let MapLibre finish drawing labels before a screenshot
    return drawn


def assert_clean(browser):
    browser.collect()
    assert browser.urls, "no request was recorded (performance logging broken?)"
    assert browser.foreign_requests() == []
    assert browser.severe() == []


@pytest.mark.parametrize("width, height", [(1920, 1080), (3840, 2160)])
def test_wall_draws_offline_without_console_errors(live_server, browser_store, browser_factory,
                                                   screenshot_dir, width, height):
    seed(browser_store, time.time())
    b = browser_factory(width, height)
    drawn = open_wall(b, live_server)
    assert b.driver.execute_script("return [innerWidth, innerHeight]") == [width, height]
    assert drawn > 100   # road network, congestion lines and markers are on the canvas
    d = b.driver.execute_script("""
        var m = window.lukuangWall.map;
        var style = m.getStyle();
        var coloured = m.queryRenderedFeatures({layers: ['levels']}).filter(function (f) {
            return f.state && f.state.l >= 1; }).length;
        return {glyphs: style.glyphs || null, sprite: style.sprite || null,
                labels: document.querySelectorAll('.lk-map-label-road').length,
                districts: document.querySelectorAll('.lk-map-label-district').length,
                coloured: coloured, zoom: m.getZoom(),
                markers: m.queryRenderedFeatures({layers: ['reports', 'roadworks']}).length,
                kpi: parseFloat(getComputedStyle(document.querySelector('.lk-kpi-value')).fontSize),
                ticker: Array.from(document.querySelectorAll('.lk-ticker-text'))
                        .map(function (e) { return e.textContent; }).join(' | '),
                wall: document.querySelector('.lk-wall').getBoundingClientRect().width};""")
    assert d["glyphs"] is None and d["sprite"] is None and d["labels"] > 10
    assert d["districts"] >= 3 and d["markers"] >= 2   # report clusters and roadworks
    assert d["coloured"] > 100   # drawn in their level's colour (feature state), not grey
    assert d["wall"] == width
    assert d["kpi"] >= 60 * width / 1920 * 0.95           # big numbers, scaled with the screen
    assert "13812345678" not in d["ticker"] and "<b>" in d["ticker"]   # masked, shown as text
    # the charts come after the map, drawn by plotly's basic bundle (assets/wall_charts.js)
    charts = wait_until(lambda: b.driver.execute_script(
        "return window.Plotly && window.Plotly.react"
        " && document.querySelectorAll('.js-plotly-plot .main-svg').length;"))
    assert charts and charts >= 2
    b.driver.save_screenshot(str(screenshot_dir / f"wall-{width}.png"))
    assert_clean(b)
    assert any("plotly-basic.min.js" in u for u in b.urls)
    assert not any("package_data/plotly.min.js" in u for u in b.urls)


def test_map_view_survives_two_refreshes(live_server, browser_store, browser_factory):
    seg_ids = seed(browser_store, time.time())
    b = browser_factory(1920, 1080)
    open_wall(b, live_server)
    b.driver.execute_script("window.lukuangWall.map.jumpTo("
                            "{center: [117.1, 36.15], zoom: 13.5});")
    time.sleep(0.5)
    for round_ in range(2):
        before = b.driver.execute_script(LEVEL_COUNT, 4)
        # move a few more segments to 严重拥堵: a new data version
        batch = [s for s in seg_ids[round_ * 40:(round_ + 1) * 40]]
        browser_store.set_congestion([(s, 4, 3.0, "amap", time.time()) for s in batch])
        grew = wait_until(lambda: b.driver.execute_script(LEVEL_COUNT, 4) > before,
                          timeout=20)
        assert grew, f"refresh {round_ + 1} did not arrive"
        view = b.driver.execute_script("var m = window.lukuangWall.map, c = m.getCenter();"
                                       "return [c.lng, c.lat, m.getZoom()];")
        assert view == pytest.approx([117.1, 36.15, 13.5], abs=1e-6)
    # the page was sent the changed segments only, and its levels match the server's
    levels = W.current_levels(browser_store, 900, time.time())
    geom = W.net_geom(load_network(default_network_dir() / "roads.geojson"))
    want = sum(1 for s in geom.ids if levels.get(s) == 4)
    assert b.driver.execute_script(LEVEL_COUNT, 4) == want
    assert_clean(b)


def dash_refresh_request(search: str) -> dict:
    outputs = [("wall-map", "figure"), ("wall-map-data", "data"), ("wall-kpis", "children"),
               ("wall-cidx", "figure"),
               ("wall-hourly", "figure"), ("wall-ticker", "children"),
               ("wall-conn-banner", "children"), ("wall-conn-banner", "className"),
               ("wall-view-name", "children"), ("wall-version", "data")]
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": "wall-tick", "property": "n_intervals", "value": 1},
                   {"id": "wall-scale", "property": "data", "value": 1}],
        "state": [{"id": "wall-version", "property": "data", "value": None},
                  {"id": "wall-url", "property": "search", "value": search},
                  {"id": "wall-map-applied", "property": "data", "value": None}],
        "changedPropIds": ["wall-tick.n_intervals"],
    }


def test_the_kiosk_token_is_enforced_on_the_server(live_server, browser_store):
    assert httpx.get(f"{live_server}/wall").status_code == 403
    wrong = httpx.get(f"{live_server}/wall?token=nope")
    assert wrong.status_code == 403 and "403" in wrong.text and "<script" not in wrong.text
    assert httpx.get(f"{live_server}/wall?token={WALL_TOKEN}").status_code == 200
    url = f"{live_server}/_dash-update-component"
    # the callback checks the token from the page's URL, whatever the Referer says
    headers = {"Referer": f"{live_server}/wall?token={WALL_TOKEN}"}
    refused = httpx.post(url, json=dash_refresh_request("?token=nope"), headers=headers)
    assert refused.status_code == 403
    ok = httpx.post(url, json=dash_refresh_request(f"?token={WALL_TOKEN}"), headers=headers)
    assert ok.status_code == 200 and '"wall-map-data"' in ok.text
    # the road geometry: the same rule (token, or a session with view_wall)
    assert httpx.get(f"{live_server}/api/v1/network.geojson").status_code == 401
    geo = httpx.get(f"{live_server}/api/v1/network.geojson?token={WALL_TOKEN}")
    assert geo.status_code == 200 and geo.json()["type"] == "FeatureCollection"


def test_the_watchers_catch_foreign_requests_and_console_errors(live_server, browser_factory):
    """The checks above can fail: a request to another host (127.0.0.2 stays on loopback
    but is not the app's host) and a console error are both seen."""
    b = browser_factory(800, 600)
    b.driver.get(f"{live_server}/wall?token={WALL_TOKEN}")
    b.driver.execute_script("new Image().src = 'http://127.0.0.2:9/probe.png';"
                            "console.error('probe error');")
    time.sleep(1.0)
    b.collect()
    assert any("127.0.0.2" in u for u in b.foreign_requests())
    assert any("probe error" in m["message"] for m in b.severe())
