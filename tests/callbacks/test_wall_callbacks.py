"""Wall and /feeds callbacks called as plain functions, against the real Redis and the demo
network: what a refresh sends (nothing, a Patch of some traces, or a full figure with the
plotly map; the setup once, then level deltas and markers with the MapLibre map), the token,
Redis going away, rotation, the freshness banner, and the layouts they fill."""
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import plotly.io
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from dash import Patch, html, no_update
from werkzeug.exceptions import Forbidden, Unauthorized

from callbacks import feeds_page as FP
from callbacks import wall as CW
from dashboard.live import wall as W
from dashboard.live import wall_map as WM
from dashboard.roads import basemap as W_basemap
from dashboard.auth import User
from dashboard.dispatch import incidents as I
from dashboard.model import RoadEvent, validate
from dashboard.services import Services
from layouts import feeds_page as feeds_layout
from layouts import ids
from layouts import wall as wall_layout

pytestmark = pytest.mark.topologies("single", "cluster")

T0 = datetime(2026, 10, 1, 2, 30, 10, tzinfo=timezone.utc)
NOW = T0.timestamp()


@pytest.fixture
def svc(settings):
    """The plotly map (``wall_map = "plotly"``): the figure tests."""
    s = Services.open(replace(settings, wall_map="plotly"), start_embedded=False)
    yield s
    s.close()


@pytest.fixture
def gl(settings):
    """The MapLibre map (``wall_map = "maplibre"``, the default)."""
    s = Services.open(replace(settings, wall_map="maplibre"), start_embedded=False)
    yield s
    s.close()


def ev(i, kind="incident", **kw):
    base = dict(id=f"t:{kind}{i}", kind=kind, category="roadworks" if kind == "construction"
                else "accident", severity=2, source="t", observed_at=T0 - timedelta(minutes=3),
                lon=117.09 + i * 0.002, lat=36.19, district="泰山区")
    base.update(kw)
    return validate(RoadEvent(**base))


def add_incident(store, i, now=NOW, **kw) -> str:
    """An incident event and the dispatch incident made of it (what fusion does on ingest;
    the wall shows dispatch's incidents). Returns the incident's id."""
    store.upsert_events([ev(i, **kw)], now=now)
    return I.create_from_event(store.r, store.keys, User("li", "officer"), f"t:incident{i}",
                               now=now).incident_id


def operations(patch: Patch) -> list[tuple]:
    return [(op["operation"], tuple(op["location"])) for op in
            patch.to_plotly_json()["operations"]]


def first_picture(svc, search="", scale=1):
    out = CW.refresh(0, scale, None, search, svc, now=NOW)
    assert tuple(out) == CW.REFRESH_OUTPUTS == (
        "map", "mapdata", "kpis", "cidx", "hourly", "ticker", "banner", "banner_class",
        "view_name", "state")
    return out


# -- layouts ----------------------------------------------------------------------------------
def as_text(component) -> str:
    """The component tree as Dash sends it (JSON, non-ASCII kept)."""
    return json.dumps(json.loads(plotly.io.json.to_json_plotly(component)), ensure_ascii=False)


def ids_in(component) -> set[str]:
    found = set()

    def walk(c):
        if isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
            return
        if getattr(c, "id", None):
            found.add(c.id)
        walk(getattr(c, "children", None) or [])
    walk(component)
    return found


def test_wall_layout_has_every_output_and_no_controls():
    page = wall_layout.layout(refresh_ms=5000, city_name="泰安", legend_items=W.legend_items())
    need = {ids.WALL_MAP, ids.WALL_MAP_DATA, ids.WALL_MAP_APPLIED, ids.WALL_KPIS, ids.WALL_CIDX, ids.WALL_HOURLY, ids.WALL_TICKER,
            ids.WALL_FEEDS, ids.WALL_CONN_BANNER, ids.WALL_STALE_BANNER, ids.WALL_CLOCK,
            ids.WALL_VERSION, ids.WALL_TICK, ids.WALL_SLOW_TICK, ids.WALL_SCALE, ids.WALL_URL,
            ids.WALL_VIEW_NAME}
    assert need <= ids_in(page)
    text = as_text(page)
    assert '"interval": 5000' in text
    for control in ("Button", "Dropdown", "Input", "Slider"):
        assert f'"type": "{control}"' not in text
    assert "畅通" in text and "严重拥堵" in text   # the legend


def test_kpi_tiles_show_a_dash_not_a_number_when_nothing_was_posted_today():
    tiles = wall_layout.kpi_tiles({"incidents": 4, "unacknowledged": 4, "congested_km": 12.25,
                                   "roadworks": 2, "reports_hour": 9, "bulletins_today": None,
                                   "reach_today": None})
    text = as_text([t.to_plotly_json() for t in tiles])
    assert len(tiles) == 6
    assert text.count("none yet today") == 2 and text.count('"—"') == 2
    assert '"12.2"' in text or '"12.3"' in text
    assert "acknowledged in dispatch" in text   # the tooltip on the unacknowledged count


def test_ticker_renders_user_text_as_text_children():
    items = wall_layout.ticker([{"time": "10:00", "place": "红门路", "count": "2",
                                 "text": "<img src=x onerror=alert(1)>"}])
    spans = items[0].children
    assert any(isinstance(s, html.Span) and s.children == "<img src=x onerror=alert(1)>"
               for s in spans)
    assert wall_layout.ticker([])[0].children.startswith("暂无")


# -- refresh ----------------------------------------------------------------------------------
def test_first_refresh_sends_the_whole_picture(svc, store):
    store.upsert_events([ev(2, kind="construction",
                            line=((117.1, 36.19), (117.11, 36.19)))], now=NOW)
    add_incident(store, 1)
    seg = W.net_geom(svc.network).ids[0]
    store.set_congestion([(seg, 3, 10.0, "amap", NOW)], now=NOW)
    fig, mapdata, kpis, cidx, hourly, ticker, banner, banner_cls, view, state = \
        first_picture(svc).values()
    assert mapdata is no_update
    json.dumps(fig, allow_nan=False)
    assert fig["layout"]["uirevision"] == "wall"
    assert fig["layout"]["map"]["style"]["version"] == 8
    assert W.typed_values(fig["data"][W.TRACE_LEVEL[3]]["lon"]).count(None) == 1
    assert len(fig["data"][W.TRACE_INCIDENTS]["lon"]) == 1
    assert fig["data"][W.TRACE_ROADWORKS_LINES]["lon"] == [117.1, 117.11, None]
    assert cidx["layout"]["title"]["text"].startswith("拥堵指数")
    assert banner == "" and banner_cls == CW.HIDDEN and view == ""
    assert state["v"] == store.version() and state["sc"] == 1.0 and state["down"] is False
    assert len(kpis) == 6


def test_unchanged_data_sends_nothing(svc, store):
    store.upsert_events([ev(1)], now=NOW)
    state = first_picture(svc)["state"]
    again = CW.refresh(1, 1, state, "", svc, now=NOW + 5)
    assert all(v is no_update for v in again.values())


def test_a_congestion_change_patches_only_the_affected_level_traces(svc, store):
    ids_ = W.net_geom(svc.network).ids
    store.set_congestion([(ids_[0], 1, 50.0, "amap", NOW), (ids_[1], 1, 50.0, "amap", NOW),
                          (ids_[2], 3, 9.0, "amap", NOW)], now=NOW)
    state = first_picture(svc)["state"]
    store.set_congestion([(ids_[1], 4, 3.0, "amap", NOW + 2)], now=NOW + 2)
    out = CW.refresh(1, 1, state, "", svc, now=NOW + 5)
    patch = out["map"]
    assert isinstance(patch, Patch)
    ops = operations(patch)
    touched = {loc[1] for _, loc in ops}
    assert touched == {W.TRACE_LEVEL[1], W.TRACE_LEVEL[4]}
    assert all(loc[0] == "data" and loc[2] in ("lon", "lat") for _, loc in ops)
    assert not any(loc[0] == "layout" for _, loc in ops)   # the view is never touched
    new_state = out["state"]
    assert new_state["v"] > state["v"]
    assert new_state["lv"][3] == state["lv"][3] and new_state["lv"][4] != state["lv"][4]


def test_a_new_incident_patches_the_marker_traces_only(svc, store):
    ids_ = W.net_geom(svc.network).ids
    store.set_congestion([(ids_[0], 2, 20.0, "amap", NOW)], now=NOW)
    state = first_picture(svc)["state"]
    add_incident(store, 5, now=NOW + 1)
    patch = CW.refresh(1, 1, state, "", svc, now=NOW + 5)["map"]
    touched = {loc[1] for _, loc in operations(patch)}
    assert W.TRACE_INCIDENTS in touched and W.TRACE_REPORTS in touched
    assert not touched & set(W.TRACE_LEVEL.values())


def test_a_new_minute_refreshes_tiles_and_trends_but_not_the_map(svc, store):
    store.upsert_events([ev(1)], now=NOW)
    state = first_picture(svc)["state"]
    out = CW.refresh(1, 1, state, "", svc, now=NOW + 60)
    assert out["map"] is no_update
    # rebuilt for the new minute; each panel is sent only if its content changed
    for name in ("kpis", "cidx", "hourly", "ticker"):
        assert (out[name] is no_update) == (out["state"][f"d_{name}"] == state[f"d_{name}"])
    assert out["state"]["m"] == state["m"] + 1


def test_a_different_screen_size_gets_a_full_figure_at_its_scale(svc, store):
    state = first_picture(svc)["state"]
    fig = CW.refresh(1, 2.0, state, "", svc, now=NOW + 5)["map"]
    assert isinstance(fig, dict)
    small = first_picture(svc)["map"]
    assert fig["layout"]["map"]["zoom"] == pytest.approx(small["layout"]["map"]["zoom"] + 1,
                                                          abs=0.01)
    assert CW.norm_scale("2.13") == 2.25 and CW.norm_scale(None) == 1.0 \
        and CW.norm_scale(1e9) == 1.0 and CW.norm_scale(0.1) == 0.5


def test_redis_down_keeps_the_last_picture_and_says_since_when(svc, settings, store):
    state = first_picture(svc)["state"]
    store.update_feed_health("waze", last_ok=f"{NOW - 5:.0f}", interval_s="10")
    fresh_strip = CW.freshness(0, "", svc, now=NOW)["feeds"]
    assert "lk-feed-ok" in as_text(fresh_strip) and "5 s" in as_text(fresh_strip)
    down = Services.open(settings, start_embedded=False)
    down.handle.client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                     retry=Retry(NoBackoff(), 0))
    out = CW.refresh(1, 1, state, "", down, now=NOW + 30)
    assert all(out[k] is no_update for k in ("map", "mapdata", "kpis", "cidx", "hourly",
                                             "ticker"))
    assert out["view_name"] is no_update
    assert out["banner"] == "数据连接中断 — showing the picture of 10:30"
    assert out["banner_class"] == CW.SHOWN and out["state"]["down"] is True
    # back again: the banner goes away even though the data did not change
    back = CW.refresh(2, 1, out["state"], "", svc, now=NOW + 35)
    assert back["banner"] == "" and back["banner_class"] == CW.HIDDEN
    # issue 15: the feed strip does not freeze green; the last health this worker read,
    # aged to now, every feed marked stale (nobody can tell whether it still delivers)
    strip, banner, cls, clock = CW.freshness(1, "", down, now=NOW + 20).values()
    assert "lk-feed-ok" not in as_text(strip) and "lk-feed-stale" in as_text(strip)
    assert "25 s" in as_text(strip) and "waze" in as_text(strip)
    assert banner == "" and clock.endswith("10:30")    # 25 s: not late yet by its interval
    strip, banner, cls, _ = CW.freshness(2, "", down, now=NOW + 40).values()
    assert "45 s" in as_text(strip) and "waze stale since 10:30" in banner and cls == CW.SHOWN


def test_the_token_is_checked_on_every_refresh(svc):
    svc.settings = replace(svc.settings, wall_token="s3cret")
    with pytest.raises(Forbidden):
        CW.refresh(0, 1, None, "", svc, now=NOW)
    with pytest.raises(Forbidden):
        CW.refresh(0, 1, None, "?token=wrong", svc, now=NOW)
    with pytest.raises(Forbidden):
        CW.freshness(0, "?token=s3cre", svc, now=NOW)
    assert isinstance(CW.refresh(0, 1, None, "?token=s3cret", svc, now=NOW)["map"], dict)
    officer = User("li", "officer")
    assert isinstance(CW.refresh(0, 1, None, "", svc, now=NOW, user=officer)["map"], dict)
    assert CW.parse_query("?token=a&rotate=5") == {"token": "a", "rotate": 10}
    assert CW.parse_query("?rotate=abc")["rotate"] is None


def test_rotation_moves_the_view_only_when_the_step_changes(svc, store):
    search = "?rotate=60"
    views = W.views(W.net_geom(svc.network))
    assert len(views) == 4 and views[0][0] == "全市"
    start = NOW // 240 * 240   # four views of 60 s: the city's turn
    out = CW.refresh(0, 1, None, search, svc, now=start + 1)
    assert out["view_name"] == "全市" and out["map"]["layout"]["uirevision"] == "wall-0"
    state = out["state"]
    same = CW.refresh(1, 1, state, search, svc, now=start + 30)
    assert all(v is no_update for v in same.values())
    step = CW.refresh(2, 1, state, search, svc, now=start + 61)
    ops = operations(step["map"])
    assert {loc for _, loc in ops} == {("layout", "map", "center"), ("layout", "map", "zoom"),
                                       ("layout", "uirevision")}
    assert step["view_name"] == views[1][0]


def test_freshness_shows_each_feed_and_the_stale_banner(svc, store):
    store.update_feed_health("waze", last_ok=f"{NOW - 12:.0f}", interval_s="10")
    store.update_feed_health("amap", last_ok=f"{NOW - 3600:.0f}", interval_s="60")
    out = CW.freshness(0, "", svc, now=NOW)
    assert tuple(out) == ("feeds", "banner", "banner_class", "clock")
    strip, banner, cls, clock = out.values()
    assert banner == "数据源延迟 · amap stale since 09:30" and cls == CW.SHOWN
    text = as_text([s.to_plotly_json() for s in strip])
    assert "waze" in text and "12 s" in text and "lk-feed-stale" in text
    store.update_feed_health("amap", last_ok=f"{NOW:.0f}")
    # health is read once per 10 s per worker; the next read sees the feed back
    out = CW.freshness(1, "", svc, now=NOW + 10)
    assert (out["banner"], out["banner_class"]) == ("", CW.HIDDEN)


# -- /feeds -----------------------------------------------------------------------------------
def test_feeds_page_needs_a_desk_role(svc):
    with pytest.raises(Unauthorized):
        FP.feeds_view(0, svc, None)
    with pytest.raises(Forbidden):
        FP.feeds_view(0, svc, User("wall-display", "wall"))


def test_feeds_page_warns_when_many_records_are_quarantined(store):
    """A feed quarantining a large share of its records is not "ok" (issue 14)."""
    tz = CW.ZoneInfo("Asia/Shanghai")
    store.update_feed_health("weibo", {"accepted": 122, "quarantined": 61},
                             last_ok=f"{NOW - 20:.0f}", interval_s="15")
    store.update_feed_health("waze", {"accepted": 500, "quarantined": 12},
                             last_ok=f"{NOW - 5:.0f}", interval_s="10")
    rows = {r["name"]: r for r in FP.feed_rows(store.feed_health(), NOW, tz)}
    assert rows["weibo"]["state"] == "warn" and "33%" in rows["weibo"]["state_text"]
    assert rows["waze"]["state"] == "ok"


def test_feeds_page_shows_health_and_quarantined_records_as_text(svc, store):
    store.update_feed_health("weibo", {"accepted": 5, "duplicates": 2}, last_ok=f"{NOW - 20:.0f}",
                             interval_s="15", breaker="closed", lag_s="42",
                             last_error="ConnectError https://api.example/x?access_token=abc123",
                             last_error_at=f"{NOW - 100:.0f}")
    raw = "<script>alert(1)</script> 联系电话13812345678 " + "x" * 1000
    store.quarantine("weibo", "position: lat/lon swapped", raw, "weibo:99")
    out = FP.feeds_view(0, svc, User("wang", "aux"), now=NOW)
    table, status = out["table"], out["status"]
    rows = FP.feed_rows(store.feed_health(), NOW, CW.ZoneInfo("Asia/Shanghai"))
    row = rows[0]
    assert (row["name"], row["state"], row["accepted"], row["quarantined"]) == \
        ("weibo", "ok", "5", "1")
    assert row["age"] == "20 s ago" and row["lag"] == "42 s"
    assert "abc123" not in row["last_error"] and "access_token=***" in row["last_error"]
    groups = FP.quarantine_groups(store, ["weibo"], CW.ZoneInfo("Asia/Shanghai"))
    rec = groups[0]["records"][0]
    assert rec["reason"] == "position: lat/lon swapped" and rec["ref"] == "weibo:99"
    assert "13812345678" not in rec["raw"] and rec["raw"].endswith("chars)")
    assert len(rec["raw"]) < feeds_layout.RAW_MAX_CHARS + 40
    page = feeds_layout.quarantine_list(groups)
    pre = [c for c in page if isinstance(c, html.Table)][0]
    text = as_text(pre)
    assert "<script>alert(1)</script>" in text   # a string child: shown, never parsed
    assert isinstance(table, html.Table) and "updated" in status
    assert ids.FEEDS_TABLE in ids_in(feeds_layout.layout())



def test_a_malformed_page_state_gets_a_full_picture_not_an_error(svc, store):
    for bad in ("x", ["v"], {"v": "1", "lv": "nope", "at": "noon", "net": 5}, {"lv": [1, 2]}):
        out = CW.refresh(0, 1, bad, "", svc, now=NOW)
        assert isinstance(out["map"], dict) and out["state"]["down"] is False


# -- the MapLibre map (wall_map = "maplibre") -----------------------------------------------------
def held(out) -> dict:
    """What the page's map reports after applying a refresh's message (assets/wall_map.js)."""
    msg = out["mapdata"]
    return {"k": msg["k"], "t": msg["lv"]["t"]}


def test_maplibre_first_refresh_sends_the_setup_all_levels_and_markers(gl, store):
    geom = W.net_geom(gl.network)
    store.set_congestion([(geom.ids[3], 4, 3.0, "amap", NOW)], now=NOW)
    add_incident(store, 1)
    out = first_picture(gl)
    assert out["map"] is no_update
    msg = out["mapdata"]
    json.dumps(msg, allow_nan=False)
    cfg = msg["cfg"]
    style = cfg["style"]
    # the geometry is not in the message: the style names its versioned URL, nothing else
    assert style["sources"]["net"]["data"] == f"/api/v1/network.geojson?v={geom.key}"
    assert W_basemap.style_urls(style) == [] and "glyphs" not in style and "sprite" not in style
    assert cfg["n"] == len(geom.ids) and cfg["labels"] and cfg["view"]["zoom"] > 8
    assert cfg["lib"].endswith("vendor/maplibre-gl/maplibre-gl.js")
    lv = msg["lv"]
    assert lv["k"] == geom.key and len(lv["full"]) == len(geom.ids)
    assert lv["full"][3] == "4" and set(lv["full"]) <= set("-01234")
    kinds = [f["properties"]["k"] for f in msg["mk"]["features"]]
    assert kinds.count("inc") == 1 and kinds.count("halo") == 1
    assert out["state"]["lv"] == WM.vector_digest(lv["full"])


def test_maplibre_a_change_sends_only_the_segments_that_changed(gl, store):
    ids_ = W.net_geom(gl.network).ids
    store.set_congestion([(s, 1, 50.0, "amap", NOW) for s in ids_[:50]], now=NOW)
    first = first_picture(gl)
    # the page applied it: nothing changed, nothing sent
    same = CW.refresh(1, 1, first["state"], "", gl, now=NOW + 5, applied=held(first))
    assert all(v is no_update for v in same.values())
    store.set_congestion([(ids_[7], 4, 3.0, "amap", NOW + 2),
                          (ids_[60], 3, 9.0, "amap", NOW + 2)], now=NOW + 2)
    out = CW.refresh(2, 1, first["state"], "", gl, now=NOW + 5, applied=held(first))
    msg = out["mapdata"]
    assert set(msg) == {"k", "sc", "lv"}              # no setup, no markers
    assert msg["lv"]["base"] == first["mapdata"]["lv"]["t"]
    assert msg["lv"]["d"] == [7, 4, 60, 3] and "full" not in msg["lv"]
    assert len(json.dumps(msg)) < 200
    assert out["state"]["lv"] != first["state"]["lv"]
    # a reading that goes away: level -1 (not drawn)
    store.r.hdel(store.keys.congestion(), ids_[60])
    store.r.incr(store.keys.version())
    again = CW.refresh(3, 1, out["state"], "", gl, now=NOW + 6, applied=held(out))
    assert again["mapdata"]["lv"]["d"] == [60, -1]


def test_a_small_change_sends_the_map_delta_and_not_the_unchanged_panels(gl, store):
    ids_ = W.net_geom(gl.network).ids
    store.set_congestion([(s, 1, 50.0, "amap", NOW) for s in ids_[:20]], now=NOW)
    first = first_picture(gl)
    assert first["kpis"] is not no_update and first["hourly"] is not no_update
    # one segment from free to slow: not congested km, no new report, the same minute
    store.set_congestion([(ids_[3], 2, 25.0, "amap", NOW + 2)], now=NOW + 2)
    out = CW.refresh(1, 1, first["state"], "", gl, now=NOW + 5, applied=held(first))
    assert out["mapdata"]["lv"]["d"] == [3, 2]
    assert out["kpis"] is no_update and out["hourly"] is no_update
    assert out["ticker"] is no_update
    # a new report changes the ticker and the tiles: they are sent again
    store.upsert_events([ev(9, kind="report")], now=NOW + 3)
    later = CW.refresh(2, 1, out["state"], "", gl, now=NOW + 6, applied=held(out))
    assert later["ticker"] is not no_update and later["kpis"] is not no_update


def test_maplibre_a_page_out_of_step_gets_every_level(gl, store):
    ids_ = W.net_geom(gl.network).ids
    store.set_congestion([(ids_[0], 2, 20.0, "amap", NOW)], now=NOW)
    first = first_picture(gl)
    store.set_congestion([(ids_[1], 3, 9.0, "amap", NOW + 1)], now=NOW + 1)
    # a tag the history never held, another network's, or nothing: the whole vector
    for applied in ({"k": W.net_geom(gl.network).key, "t": "999:1"},
                    {"k": "othernetwork", "t": first["mapdata"]["lv"]["t"]}, None, "junk",
                    {"k": W.net_geom(gl.network).key, "t": ["x"]}):
        out = CW.refresh(1, 1, first["state"], "", gl, now=NOW + 5, applied=applied)
        lv = out["mapdata"]["lv"]
        assert "full" in lv and lv["full"][1] == "3" and "cfg" not in out["mapdata"]


def test_maplibre_a_large_change_is_sent_whole(gl, store):
    ids_ = W.net_geom(gl.network).ids
    first = first_picture(gl)
    store.set_congestion([(s, 2, 20.0, "amap", NOW + 1) for s in ids_], now=NOW + 1)
    out = CW.refresh(1, 1, first["state"], "", gl, now=NOW + 5, applied=held(first))
    assert set(out["mapdata"]["lv"]["full"]) == {"2"}


def test_maplibre_a_new_incident_sends_the_markers_only(gl, store):
    ids_ = W.net_geom(gl.network).ids
    store.set_congestion([(ids_[0], 2, 20.0, "amap", NOW)], now=NOW)
    first = first_picture(gl)
    add_incident(store, 5, now=NOW + 1)
    out = CW.refresh(1, 1, first["state"], "", gl, now=NOW + 5, applied=held(first))
    msg = out["mapdata"]
    # the page is sent the new tag's (empty) delta so that it keeps step, and the markers
    assert msg["lv"]["d"] == [] and [f["properties"]["k"] for f in msg["mk"]["features"]
                                     ].count("inc") == 1
    assert "cfg" not in msg


def test_maplibre_rotation_sends_the_view_step(gl):
    search = "?rotate=60"
    start = NOW // 240 * 240
    out = CW.refresh(0, 1, None, search, gl, now=start + 1)
    assert out["mapdata"]["view"]["i"] == 0
    step = CW.refresh(2, 1, out["state"], search, gl, now=start + 61, applied=held(out))
    view = step["mapdata"]["view"]
    assert view["i"] == 1 and view["center"] != out["mapdata"]["view"]["center"]
    # the data did not change (the new minute's tag: an empty delta), the markers neither
    assert step["mapdata"]["lv"]["d"] == [] and "mk" not in step["mapdata"]


def test_the_map_kind_can_change_under_an_open_page(gl, svc, store):
    """A page built for one map kind (a restart with another setting) gets a full answer."""
    state = first_picture(svc)["state"]
    out = CW.refresh(1, 1, state, "", gl, now=NOW + 5)
    assert "cfg" in out["mapdata"]
