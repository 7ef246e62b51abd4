"""The demo's first start: 8 days of simulated congestion index history, written through
the store, marked simulated, once; never outside the demo.

Real Redis (db 13, a per-test prefix; single and cluster), the demo network, the
simulator's real world."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.live.wall import congestion_figure
from dashboard.roads.network import default_network_dir, get_network
from dashboard.settings import FeedConfig
from feeds.backfill import (BACKFILL_DAYS, STEP_S, backfill_demo_history, plan_backfill,
                            refusal)
from feeds.runner import run_housekeeping

pytestmark = pytest.mark.topologies("single", "cluster")

TZ = ZoneInfo("Asia/Shanghai")
DAY = 86400


@pytest.fixture
def demo(settings):
    """The demo's settings (the fixture's are the demo city with its network already)."""
    return replace(settings, demo=True, demo_backfill=True, feeds=())


@pytest.fixture
def network(demo):
    return get_network(demo.state_dir)


def series(store, metric, now, days=BACKFILL_DAYS + 1):
    end = datetime.fromtimestamp(now, timezone.utc) + timedelta(minutes=1)
    return store.timeseries(metric, end - timedelta(days=days), end, 1, "last")


def districts(network):
    return sorted({d for d in network.segments["district"].dropna() if d})


def test_first_start_writes_8_days_marked_simulated_and_the_week_line_is_there(
        demo, store, network):
    now = time.time()
    empty = congestion_figure(store, districts(network), now, TZ)
    assert all(not t["x"] for t in empty["data"]) and empty["layout"].get("annotations")

    fields = backfill_demo_history(demo, store, network, now=now)

    assert fields is not None
    pts = series(store, "cidx:city", now)
    first, last = pts[0][0].timestamp(), pts[-1][0].timestamp()
    assert now - BACKFILL_DAYS * DAY - STEP_S <= first <= now - BACKFILL_DAYS * DAY + STEP_S
    assert now - 2 * STEP_S <= last < now
    assert len(pts) == BACKFILL_DAYS * DAY // STEP_S
    assert all(0.0 <= v <= 1.0 for _, v in pts) and max(v for _, v in pts) > 0
    # the rush hours are busier than the night (the simulator's day, not noise)
    by_hour: dict[int, list[float]] = {}
    for t, v in pts:
        by_hour.setdefault(t.astimezone(TZ).hour, []).append(v)
    mean = {h: sum(v) / len(v) for h, v in by_hour.items()}
    assert mean[8] > 2 * mean[3] and mean[18] > 2 * mean[3]
    assert series(store, "ckm:city", now)

    marker = store.r.hgetall(store.keys.history_simulated())
    assert marker == fields
    areas = {m.split(":", 1)[1] for m in marker["metrics"].split(",")} - {"city"}
    assert len(areas) >= 2 and areas <= set(districts(network))   # the districts Amap covers
    for d in areas:
        assert len(series(store, f"cidx:{d}", now)) == len(pts)
        assert len(series(store, f"ckm:{d}", now)) == len(pts)
    assert float(marker["from"]) == pytest.approx(first) and float(marker["to"]) > last
    assert float(marker["to"]) - float(marker["from"]) == BACKFILL_DAYS * DAY
    assert {"cidx:city", "ckm:city"} <= set(marker["metrics"].split(","))
    assert store.r.ttl(store.keys.history_simulated()) > 30 * DAY

    # the wall's 24 h chart: today's line and the same hours last week, at once
    fig = congestion_figure(store, districts(network), now, TZ)
    traces = {t["name"]: t for t in fig["data"]}
    week = traces["上周同日 last week"]
    assert len(week["x"]) >= 24 * 6 - 1 and max(week["y"]) > 0
    assert len(traces["全市 city"]["x"]) >= 24 * 6 - 1
    # the span drawn from simulated history is shaded and says so (here: the whole chart)
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["模拟历史 simulated"]
    (shade,) = fig["layout"]["shapes"]
    assert shade["x0"] == fig["layout"]["xaxis"]["range"][0]
    assert shade["x1"] <= fig["layout"]["xaxis"]["range"][1]

    # a second start does nothing: no new values, the marker unchanged
    before = {m: series(store, m, now) for m in ("cidx:city", "ckm:city")}
    assert backfill_demo_history(demo, store, network, now=now + 3600) is None
    assert {m: series(store, m, now) for m in before} == before
    assert store.r.hgetall(store.keys.history_simulated()) == marker


def test_the_runner_backfills_once_at_the_demo_s_first_start(demo, store, network):
    segs = list(network.segments.index[:20])   # something for the live index to record
    store.set_congestion([(s, 3, 10.0, "amap", time.time()) for s in segs])

    def run_once() -> None:
        stop = threading.Event()
        runner = threading.Thread(target=run_housekeeping, args=(demo, stop),
                                  kwargs={"store": store, "network": lambda: network})
        runner.start()
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and \
                    "to" not in store.r.hgetall(store.keys.history_simulated()):
                time.sleep(0.2)
            # and the live index its first minute, after the backfilled span
            while time.monotonic() < deadline and not live_minutes():
                time.sleep(0.2)
        finally:
            stop.set()
            runner.join(30)
        assert not runner.is_alive()

    def live_minutes() -> list:
        marker = store.r.hgetall(store.keys.history_simulated())
        return [t for t, _ in series(store, "cidx:city", time.time())
                if "to" in marker and t.timestamp() >= float(marker["to"])]

    run_once()
    marker = store.r.hgetall(store.keys.history_simulated())
    assert int(marker["points"]) == BACKFILL_DAYS * DAY // STEP_S
    assert len(series(store, "cidx:city", time.time())) == \
        BACKFILL_DAYS * DAY // STEP_S + len(live_minutes())
    run_once()
    assert store.r.hgetall(store.keys.history_simulated()) == marker


@pytest.mark.parametrize("change, why", [
    ({"demo": False}, "not the demo"),
    ({"demo_backfill": False}, "demo_backfill is off"),
    ({"city": "jinan"}, "not the demo city"),
    ({"feeds": (FeedConfig("amap", "amap", "https://restapi.amap.com/v3/x"),)},
     "feeds are configured"),
])
def test_never_outside_the_demo(demo, store, network, change, why):
    s = replace(demo, **change)
    assert why in refusal(s)
    assert backfill_demo_history(s, store, network) is None
    assert list(store.r.scan_iter(match=f"{store.keys.prefix}:*")) == []


def test_never_on_an_imported_network(demo, store, network, tmp_path):
    imported = tmp_path / "state" / "network" / "roads.gpkg"
    assert "not the demo network" in refusal(demo, imported)
    assert plan_backfill(demo, store, network_path=imported) is None
    assert refusal(demo, default_network_dir() / "roads.geojson") is None
    assert list(store.r.scan_iter(match=f"{store.keys.prefix}:*")) == []


def test_a_store_with_history_is_left_alone(demo, store, network):
    now = time.time()
    store.record_gauge("cidx:city", now - 3 * DAY, 0.25)
    assert plan_backfill(demo, store, now=now) is None
    assert not store.r.exists(store.keys.history_simulated())
    assert [v for _, v in series(store, "cidx:city", now)] == [0.25]
