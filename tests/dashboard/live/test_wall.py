"""The wall's domain (dashboard/live/wall.py), the offline basemap and the version-keyed cache,
against the real Redis and the demo road network."""
import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.roads import basemap
from dashboard.live import wall as W
from dashboard.storage.cache import VersionedCache
from dashboard.congestion import LEVEL_COLOURS
from dashboard.model import RoadEvent, validate
from dashboard.roads.network import load_network
from dashboard.auth import User
from dashboard.dispatch import incidents as I

pytestmark = pytest.mark.topologies("single", "cluster")

REPO = Path(__file__).resolve().parents[3]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 1, 2, 30, tzinfo=timezone.utc)      # 10:30 in Tai'an
NOW = T0.timestamp()
OFFICER = User("li", "officer")


@pytest.fixture(scope="module")
def network():
    return load_network(REPO / "data" / "taian" / "roads.geojson")


@pytest.fixture(scope="module")
def geom(network):
    return W.net_geom(network)


def ev(i, kind="incident", minutes_ago=5, **kw):
    base = dict(id=f"test:{kind}{i}", kind=kind, category={"incident": "accident",
                "construction": "roadworks", "report": "jam", "congestion": "jam"}[kind],
                severity=2, source="test", observed_at=T0 - timedelta(minutes=minutes_ago),
                lon=117.09 + i * 0.002, lat=36.19, district="泰山区")
    base.update(kw)
    return validate(RoadEvent(**base))


# -- network geometry and congestion traces ---------------------------------------------------
def test_net_geom_holds_every_segment_once_with_a_stable_key(network, geom):
    assert len(geom.ids) == len(network.segments) == len(set(geom.ids))
    assert W.net_geom(network) is geom
    assert len(geom.key) == 16 and geom.key != "none"
    x0, y0, x1, y1 = geom.bounds
    assert x0 < x1 and y0 < y1
    assert {name for name, _ in geom.district_bounds} == set(network.segments["district"].dropna())


def test_level_traces_group_segments_by_level_with_none_separators(geom):
    a, b, c = geom.ids[:3]
    levels = {a: 3, b: 3, c: 1}
    out = W.level_traces(geom, levels)
    assert out["count"] == [0, 1, 0, 2, 0]
    lon3, lat3 = W.typed_values(out["lon"][3]), W.typed_values(out["lat"][3])
    assert out["lon"][3]["dtype"] == "f4" and len(lon3) == len(lat3)
    assert lon3.count(None) == 2 and lon3[-1] is None
    n0 = len(geom.lons[0])
    assert lon3[:n0] == pytest.approx(list(geom.lons[0]), abs=1e-5)   # float32: < 1 m
    assert lat3[:n0] == pytest.approx(list(geom.lats[0]), abs=1e-5)
    assert lon3[n0] is None
    assert out["lon"][0] == [] and out["lon"][4] == []
    again = W.level_traces(geom, dict(levels))
    assert again["digest"] == out["digest"]
    moved = W.level_traces(geom, {a: 3, b: 4, c: 1})
    changed = [i for i in range(5) if moved["digest"][i] != out["digest"][i]]
    assert changed == [3, 4]


def test_current_levels_reads_the_snapshot_and_stale_is_unknown(store, geom):
    a, b = geom.ids[:2]
    store.set_congestion([(a, 3, 12.0, "amap", NOW - 60), (b, 2, 30.0, "amap", NOW - 5000)])
    assert W.current_levels(store, 900, NOW) == {a: 3, b: 0}


# -- view -------------------------------------------------------------------------------------
def test_view_fits_the_box_and_a_bigger_panel_zooms_in():
    box = (117.0, 36.08, 117.25, 36.25)
    small = basemap.view_for_bounds(box, 1219, 810)
    big = basemap.view_for_bounds(box, 2438, 1620)
    assert box[0] < small["center"]["lon"] < box[2] and box[1] < small["center"]["lat"] < box[3]
    assert big["zoom"] == pytest.approx(small["zoom"] + 1, abs=0.01)
    # the box's width in pixels at that zoom is no wider than the panel
    width_px = (box[2] - box[0]) / 360 * 512 * 2 ** small["zoom"]
    assert width_px <= 1219


def test_rotation_is_the_same_for_every_display_and_steps_with_time():
    assert W.rotation_index(1000, None, 4) == 0
    assert W.rotation_index(1000, 60, 1) == 0
    assert [W.rotation_index(t, 60, 4) for t in (0, 59, 60, 120, 180, 240)] == [0, 0, 1, 2, 3, 0]


# -- markers and KPIs -------------------------------------------------------------------------
def test_markers_size_report_clusters_by_count_and_draw_roadworks_lines(store):
    store.upsert_events([
        ev(1), ev(2, severity=4),
        ev(3, kind="construction", line=((117.10, 36.19), (117.11, 36.19))),
        ev(4, kind="report", attrs={"count": 1}), ev(5, kind="report", attrs={"count": 9}),
        ev(6, kind="report", minutes_ago=90, attrs={"count": 4}),   # older than the window
    ], now=NOW)
    # incident markers are dispatch's incidents (fusion makes them from incident events)
    for i in (1, 2):
        I.create_from_event(store.r, store.keys, OFFICER, f"test:incident{i}", now=NOW)
    m = W.marker_data(store, NOW, report_window_s=1800)
    assert len(m["incidents"]["lon"]) == 2
    assert m["incidents"]["size"][0] != m["incidents"]["size"][1]
    assert m["roadworks_lines"]["lon"] == [117.10, 117.11, None]
    assert len(m["reports"]["size"]) == 2 and sorted(m["reports"]["size"])[0] < \
        sorted(m["reports"]["size"])[1]
    digest = m["digest"]
    assert W.marker_data(store, NOW, 1800)["digest"] == digest
    store.upsert_events([ev(7)], now=NOW)
    I.create_from_event(store.r, store.keys, OFFICER, "test:incident7", now=NOW)
    assert W.marker_data(store, NOW, 1800)["digest"] != digest


def test_kpis_count_what_is_live_and_never_invent_comms_numbers(store, geom, r, keys):
    store.upsert_events([ev(1), ev(2), ev(3), ev(4, kind="construction"),
                         ev(5, kind="report", minutes_ago=10), ev(6, kind="report",
                                                                  minutes_ago=80)], now=NOW)
    # the incident tiles are dispatch's open incidents (issue 14: one lifecycle), not
    # the raw incident events
    made = [I.create_from_event(r, keys, OFFICER, f"test:incident{i}", now=NOW).incident_id
            for i in (1, 2, 3)]
    I.acknowledge(r, keys, OFFICER, made[1], now=NOW)
    seg = geom.ids[0]
    levels = {seg: 4, geom.ids[1]: 1}
    k = W.kpis(store, geom, levels, NOW)
    assert k["incidents"] == 3 and k["unacknowledged"] == 2
    assert k["unacknowledged"] == I.unacknowledged_count(r, keys)
    assert k["roadworks"] == 1
    assert k["reports_hour"] == 1
    assert k["congested_km"] == pytest.approx(round(geom.lengths[seg] / 1000, 1))
    assert k["bulletins_today"] is None and k["reach_today"] is None
    # acknowledged or moved on in dispatch: no longer unacknowledged; cleared: not active
    I.acknowledge(r, keys, OFFICER, made[0], now=NOW)
    assert W.kpis(store, geom, levels, NOW)["unacknowledged"] == 1
    I.transition(r, keys, OFFICER, made[2], "verified", now=NOW)
    assert W.kpis(store, geom, levels, NOW)["unacknowledged"] == 0
    I.transition(r, keys, OFFICER, made[2], "cleared", now=NOW)
    assert W.kpis(store, geom, levels, NOW)["incidents"] == 2


def test_kpis_read_congested_km_from_the_gauge_without_a_network(store):
    store.record_gauge("ckm:city", NOW - 120, 12.34)
    assert W.kpis(store, None, None, NOW)["congested_km"] == 12.3


# -- trend figures ----------------------------------------------------------------------------
def test_congestion_figure_compares_with_the_same_weekday_last_week(store):
    store.record_gauge("cidx:city", NOW - 7 * 86400 - 2 * 3600, 0.40)
    store.record_gauge("cidx:city", NOW - 2 * 3600, 0.25)
    store.record_gauge("cidx:泰山区", NOW - 3600, 0.5)
    fig = W.congestion_figure(store, ["泰山区", "岱岳区"], NOW, TZ, step_minutes=10)
    json.dumps(fig, allow_nan=False)
    names = [t["name"] for t in fig["data"]]
    assert names == ["上周同日 last week", "泰山区", "全市 city"]
    last_week, today = fig["data"][0], fig["data"][-1]
    assert last_week["line"]["dash"] == "dash" and "dash" not in today["line"]
    # last week's point is drawn at the same clock time today: 08:30 local
    assert last_week["x"] == ["2026-10-01 08:30"] and last_week["y"] == [40.0]
    assert today["x"] == ["2026-10-01 08:30"] and today["y"] == [25.0]


def test_hourly_figure_counts_new_incidents_and_reports_per_hour(store):
    """Incidents are dispatch's incidents (as the tiles count them): a record folded into
    another incident by a merge is not counted again."""
    store.upsert_events([ev(1, minutes_ago=5), ev(2, minutes_ago=10), ev(4, minutes_ago=8),
                         ev(3, kind="report", minutes_ago=70)], now=NOW)
    made = [I.create_from_event(store.r, store.keys, OFFICER, f"test:incident{i}",
                                now=NOW).incident_id for i in (1, 2, 4)]
    I.merge(store.r, store.keys, OFFICER, made[2], made[0], now=NOW)
    fig = W.hourly_figure(store, NOW, TZ)
    inc, rep = fig["data"]
    assert (inc["type"], rep["type"]) == ("bar", "bar")
    assert sum(inc["y"]) == 2 and sum(rep["y"]) == 1
    assert "annotations" not in fig["layout"]
    empty = W.hourly_figure(store, NOW + 3 * 86400, TZ)
    assert empty["layout"]["annotations"][0]["text"].startswith("暂无数据")


# -- ticker and freshness ---------------------------------------------------------------------
def test_ticker_is_masked_plain_text_newest_first(store):
    store.upsert_events([
        ev(1, kind="report", minutes_ago=20, text="东岳大街堵车 电话13812345678",
           road_names=("东岳大街",)),
        ev(2, kind="report", minutes_ago=2, text="<b>红门路</b> 鲁J12345 违停",
           road_names=("红门路",), attrs={"count": 3}),
    ], now=NOW)
    items = W.ticker_items(store, NOW, TZ)
    assert [it["id"] for it in items] == ["test:report2", "test:report1"]
    assert items[0]["time"] == "10:28" and items[0]["count"] == "3"
    assert "13812345678" not in items[1]["text"] and "138****5678" in items[1]["text"]
    assert "鲁J12345" not in items[0]["text"]
    assert items[1]["place"] == "东岳大街"


def test_ticker_fails_closed_when_masking_breaks(store, monkeypatch):
    import dashboard.masking

    def broken(text):
        raise RuntimeError("masking broke")
    monkeypatch.setattr(dashboard.masking, "mask_text", broken)
    store.upsert_events([ev(1, kind="report", text="电话13812345678")], now=NOW)
    assert W.ticker_items(store, NOW, TZ)[0]["text"] == ""
    assert dashboard.masking.mask_for_public("电话13812345678") == ""


def test_feed_freshness_uses_the_feed_interval_and_names_the_stale_ones(store):
    store.update_feed_health("waze", last_ok=f"{NOW - 25:.0f}", interval_s="10")   # 2.5x
    store.update_feed_health("amap", last_ok=f"{NOW - 400:.0f}", interval_s="120")  # 3.3x
    store.update_feed_health("wzdx", last_ok=f"{NOW - 300:.0f}")                  # default 120
    store.update_feed_health("weibo", last_error="boom")                         # never ok
    fresh = {f["name"]: f for f in W.feed_freshness(store.feed_health(), NOW)}
    assert not fresh["waze"]["stale"] and fresh["waze"]["age_s"] == 25
    assert fresh["amap"]["stale"] and not fresh["wzdx"]["stale"]
    assert fresh["weibo"]["stale"] and fresh["weibo"]["age_s"] is None
    msg = W.stale_message(list(fresh.values()), TZ)
    assert "amap stale since 10:23" in msg and "weibo no data yet" in msg
    assert "waze" not in msg and "wzdx" not in msg
    assert W.stale_message([fresh["waze"]], TZ) == ""
    assert fresh["weibo"]["error"] and not fresh["waze"]["error"]
    # an old error is cleared by a later success; a newer one is not
    store.update_feed_health("waze", last_error="timeout", last_error_at=f"{NOW - 60:.0f}")
    assert not W.feed_freshness(store.feed_health("waze"), NOW)[0]["error"]
    store.update_feed_health("waze", last_error_at=f"{NOW - 5:.0f}")
    assert W.feed_freshness(store.feed_health("waze"), NOW)[0]["error"]
    assert [W.age_text(a) for a in (None, 5, 600, 7200, 200000)] == \
        ["—", "5 s", "10 min", "2 h", "2 d"]


# -- the base figure and the offline style ----------------------------------------------------
def test_base_figure_is_plain_json_with_a_fixed_trace_order(network, geom):
    style = basemap.build_style(network)
    view = basemap.view_for_bounds(geom.bounds, *W.MAP_PANEL_PX)
    labels = basemap.road_labels(network) + [{"name": "<img src=x>", "lon": 117.1, "lat": 36.2}]
    base = W.base_figure(style, labels, basemap.district_labels(network), view)
    text = json.dumps(base, allow_nan=False)
    assert len(base["data"]) == W.N_TRACES
    for lvl in W.LEVELS:
        assert base["data"][W.TRACE_LEVEL[lvl]]["line"]["color"] == LEVEL_COLOURS[lvl]
    for t in base["data"]:
        assert t["type"] == "scattermap"
        if "marker" in t:
            assert t["marker"]["symbol"] == "circle"   # other symbols fetch icons from a CDN
    assert "<img" not in text and "＜img src=x＞" in base["data"][W.TRACE_ROAD_LABELS]["text"]
    assert base["layout"]["uirevision"] == "wall"
    assert base["layout"]["map"]["center"] == view["center"]
    full = W.fill_figure(base, W.level_traces(geom, {geom.ids[0]: 2}),
                         {"incidents": {"lon": [1], "lat": [2], "size": [3]},
                          "roadworks": {"lon": [], "lat": [], "size": []},
                          "roadworks_lines": {"lon": [], "lat": []},
                          "reports": {"lon": [], "lat": [], "size": []}})
    assert full["data"][W.TRACE_LEVEL[2]]["lon"] and not base["data"][W.TRACE_LEVEL[2]]["lon"]
    assert full["data"][W.TRACE_INCIDENTS]["marker"]["size"] == [3]
    assert base["data"][W.TRACE_INCIDENTS]["marker"]["size"] == []


def test_the_style_is_local_only(network):
    style = basemap.build_style(network, scale=2.0)
    assert style["version"] == 8
    assert "glyphs" not in style and "sprite" not in style
    assert basemap.style_urls(style) == []
    assert {s["type"] for s in style["sources"].values()} == {"geojson"}
    layer_ids = [layer["id"] for layer in style["layers"]]
    assert layer_ids[0] == "background" and "district-outline" in layer_ids
    assert all(layer["type"] != "symbol" for layer in style["layers"])
    roads = style["sources"]["roads"]["data"]["features"]
    assert len(roads) == len(network.segments)
    ranks = [f["properties"]["rank"] for f in roads]
    assert ranks == sorted(ranks)
    assert basemap.style_urls({"glyphs": "https://fonts.example/{fontstack}/{range}.pbf"})


def test_road_labels_name_the_main_roads_only(network):
    labels = basemap.road_labels(network)
    names = {lb["name"] for lb in labels}
    segs = network.segments
    main = set(segs[segs["road_class"].isin(["expressway", "arterial"])]["road_name"])
    assert names == main and "东岳大街" in names
    minor_only = set(segs["road_name"]) - main
    assert not names & minor_only
    x0, y0, x1, y1 = segs.total_bounds
    assert all(x0 <= lb["lon"] <= x1 and y0 <= lb["lat"] <= y1 for lb in labels)
    districts = basemap.district_labels(network)
    assert {d["name"] for d in districts} == set(network.districts["name"])


# -- the cache --------------------------------------------------------------------------------
def test_cache_is_shared_between_workers_and_keyed_by_tag(r, keys):
    calls = []

    def build():
        calls.append(1)
        return {"n": len(calls), "x": [1.5, None]}
    worker_a, worker_b = VersionedCache(r, keys), VersionedCache(r, keys)
    assert worker_a.get("fig", 7, build) == {"n": 1, "x": [1.5, None]}
    assert worker_b.get("fig", 7, build) == {"n": 1, "x": [1.5, None]}   # from Redis
    assert worker_b.get("fig", 7, build) == {"n": 1, "x": [1.5, None]}   # from its own dict
    assert (worker_b.hits_shared, worker_b.hits_local, len(calls)) == (1, 1, 1)
    assert r.get(keys.cache("fig")).startswith("7\n")
    assert r.ttl(keys.cache("fig")) > 0
    assert worker_b.get("fig", 8, build)["n"] == 2                       # new version
    assert worker_a.get("fig", 8, build)["n"] == 2
    worker_a.drop_local()
    assert worker_a.get("fig", 8, build)["n"] == 2 and len(calls) == 2


def test_cache_still_answers_when_redis_is_down(keys):
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                          retry=Retry(NoBackoff(), 0))
    c = VersionedCache(down, keys)
    assert c.get("x", 1, lambda: [1, 2]) == [1, 2]
    assert c.get_text("x", 1, lambda: [3]) == "[1,2]"   # served from the process
    with pytest.raises(ValueError):
        c.get("nan", 1, lambda: [math.nan])            # NaN is not JSON


def test_bulletins_and_reach_today_come_from_the_reach_snapshots(store):
    from dashboard.comms.reach import PostMetrics, ReachStore

    local = datetime.fromtimestamp(NOW, timezone(timedelta(hours=8)))
    reach = ReachStore(store.r, store.keys)
    reach.record([PostMetrics("p1", local - timedelta(minutes=30), "#泰安路况#", reads=1200),
                  PostMetrics("p2", local - timedelta(minutes=5), "#泰安路况#", reads=300),
                  PostMetrics("old", local - timedelta(days=2), "前天", reads=99999)],
                 source="csv", at=NOW)
    k = W.kpis(store, None, None, NOW)
    same_day = (local - timedelta(minutes=30)).date() == local.date()
    assert k["bulletins_today"] == (2 if same_day else 1)
    assert k["reach_today"] == (1500 if same_day else 300)


def test_large_counts_are_written_in_wan_so_the_tile_fits():
    from layouts.wall import wan

    assert [wan(v) for v in (None, 8312, 431269, 2065899, 312_000_000)] == \
        [("—", ""), ("8,312", ""), ("43.1", "万"), ("206.6", "万"), ("3.1", "亿")]


def test_congestion_figure_marks_no_simulated_history_when_there_is_none(store):
    store.record_gauge("cidx:city", NOW - 600, 0.2)
    fig = W.congestion_figure(store, [], NOW, TZ, step_minutes=10)
    assert store.simulated_history() is None
    assert "shapes" not in fig["layout"] and "annotations" not in fig["layout"]
