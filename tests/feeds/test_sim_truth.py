"""The simulator's truth (``feeds.sim.truth``) against what its feeds serve, read by the
real adapters: every record is accounted for, with the event id the adapter gives it."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dashboard.roads.geo import haversine_m
from dashboard.roads.network import load_network
from dashboard.settings import load_settings
from feeds.base import ParseContext
from feeds.registry import get_adapter
from feeds.sim.server import Upstream
from feeds.sim.truth import record_index, truth
from feeds.sim.world import World

from ..conftest import REPO

SEED = 20261001
BBOX = load_settings(env={}).city_bbox
T0 = datetime.fromisoformat("2026-09-29T07:40:00+08:00").timestamp()   # a working day's peak
SPAN_S = 40 * 60
PATHS = {"waze": ("/waze/feed.json", {}), "wzdx": ("/wzdx/feed.geojson", {}),
         "hotline": ("/hotline/latest.csv", {}),
         "weibo": ("/weibo/2/statuses/mentions.json", {"count": "200"})}


@pytest.fixture(scope="module")
def network():
    return load_network(REPO / "data" / "taian" / "roads.geojson")


@pytest.fixture(scope="module")
def world(network) -> World:
    return World(network, SEED, "normal")


def served(world: World, network, feed: str, t: float):
    """(events, rejected refs) of one poll of ``feed`` at ``t``, parsed by the real adapter."""
    path, query = PATHS[feed]
    body = Upstream(world, lambda: t).handle(path, query, {}).body
    ctx = ParseContext(network=network, bbox=BBOX, now=datetime.fromtimestamp(t, timezone.utc),
                       feed=feed, match_max_m=150.0)
    res = get_adapter(feed).parse(body, ctx)
    return res.events, [r.ref for r in res.rejected]


@pytest.fixture(scope="module")
def run(world, network):
    """A short run: Waze every minute, the other feeds every 10 minutes."""
    seen: dict[str, dict[str, object]] = {f: {} for f in PATHS}
    refused: dict[str, set[str]] = {f: set() for f in PATHS}
    for k in range(SPAN_S // 60 + 1):
        t = T0 + 60 * k
        for feed in PATHS:
            if feed != "waze" and k % 10:
                continue
            events, rejected = served(world, network, feed, t)
            for ev in events:
                seen[feed].setdefault(ev.id, ev)
            refused[feed].update(rejected)
    return seen, refused, truth(world, T0, T0 + SPAN_S)


def truth_ids(doc: dict, feed: str) -> set[str]:
    ids = {rec["id"] for section in ("incidents", "roadworks") for item in doc[section]
           for rec in item["records"] if rec["feed"] == feed}
    return ids | {rec["id"] for rec in doc["other"] if rec["feed"] == feed}


def test_truth_lists_true_incidents_with_their_records(run):
    _, _, doc = run
    assert len(doc["incidents"]) >= 5
    feeds = {rec["feed"] for inc in doc["incidents"] for rec in inc["records"]}
    assert feeds == {"waze", "hotline", "weibo"}
    for inc in doc["incidents"]:
        assert inc["id"] and inc["category"] and inc["start"] <= inc["end"]
        assert BBOX[0] <= inc["lon"] <= BBOX[2] and BBOX[1] <= inc["lat"] <= BBOX[3]
        assert inc["first_record_at"] == min(r["at"] for r in inc["records"])
    json.dumps(doc)   # JSON-ready


def test_every_waze_incident_alert_is_a_true_incident_with_the_adapters_id(run):
    seen, _, doc = run
    index = record_index(doc)
    items = {i["id"]: i for i in doc["incidents"] + doc["roadworks"]}
    alerts = {i: ev for i, ev in seen["waze"].items()
              if ev.kind in ("incident", "construction")}
    assert alerts
    assert set(alerts) == truth_ids(doc, "waze")
    for ev_id, ev in alerts.items():
        item = items[index[ev_id]]
        if ev.kind == "incident":
            assert ev.category == item["category"], ev_id
            assert haversine_m(ev.lon, ev.lat, item["lon"], item["lat"]) < 30, ev_id
        else:
            assert item["category"] == "roadworks"


@pytest.mark.parametrize("feed", ["hotline", "weibo", "wzdx"])
def test_every_record_served_is_in_the_truth_under_the_adapters_id(run, feed):
    """Accepted or quarantined, each record the feed served is in the truth (about a true
    incident, a roadworks job, a jam or nothing in particular), and nothing else is."""
    seen, refused, doc = run
    assert set(seen[feed]) | refused[feed] == truth_ids(doc, feed)


def test_incident_type_records_point_at_the_right_incident(run):
    seen, _, doc = run
    index = record_index(doc)
    items = {i["id"]: i for i in doc["incidents"]}
    incident_types = {"accident", "breakdown", "flooding", "closure"}
    checked = 0
    for feed in ("hotline", "weibo"):
        for ev_id, ev in seen[feed].items():
            if ev.category not in incident_types or ev_id not in index:
                continue
            item = items[index[ev_id]]
            located = ev.attrs.get("located_by") == "coordinates" or \
                ev.attrs.get("precision") == "geo"
            if located:   # coordinates from the caller or the post: near the true place
                assert haversine_m(ev.lon, ev.lat, item["lon"], item["lat"]) < 100, ev_id
                checked += 1
    assert checked > 0


def test_lukuang_sim_truth_writes_the_file_and_exits(tmp_path):
    import app

    out = tmp_path / "truth.json"
    rc = app.main(["sim", "--truth", str(out), "--start", "2026-09-29T07:40+08:00",
                   "--truth-hours", str(SPAN_S / 3600), "--scenario", "normal",
                   "--seed", str(SEED)])
    assert rc == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert (doc["from"], doc["to"], doc["seed"]) == (int(T0), int(T0 + SPAN_S), SEED)
    assert doc["incidents"]
