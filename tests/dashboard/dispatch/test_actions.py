"""dispatch.actions: what each button does to an incident (run, create) and where a unit
typed by hand is (parse_position), against the real Redis and the demo network."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dashboard.auth import User
from dashboard.dispatch import actions as A
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.model import RoadEvent
from dashboard.roads.network import load_network
from dashboard.storage.store import Store

pytestmark = pytest.mark.topologies("single", "cluster")

REPO = Path(__file__).resolve().parents[3]
OFFICER = User("li", "officer")
OFFICER2 = User("zhao", "officer")
AUX = User("wang", "aux")


@pytest.fixture(scope="module")
def network():
    return load_network(REPO / "data" / "taian" / "roads.geojson")


def seed(store: Store, r, keys, network, rid: str = "weibo:4990001") -> tuple[float, float]:
    lon, lat = network.intersection("长城路", "泰玻大街")
    now = time.time()
    store.upsert_events([RoadEvent(
        id=rid, kind="report", category="jam", severity=2, source="weibo",
        observed_at=datetime.fromtimestamp(now - 120, timezone.utc), lon=lon, lat=lat,
        district="泰山区", road_names=("长城路", "泰玻大街"), text="长城路泰玻大街路口拥堵",
        attrs={"place": "长城路泰玻大街路口"})])
    U.apply_feed(r, keys, [
        U.UnitReport("T-101", "patrol_car", "泰安交警101", lon + 0.004, lat, "free", now),
        U.UnitReport("T-102", "patrol_car", "泰安交警102", lon + 0.03, lat, "free", now)])
    return lon, lat


def test_the_lifecycle_with_conflicts(r, keys, store, network):
    seed(store, r, keys, network)
    inc = I.create_from_event(r, keys, OFFICER, "weibo:4990001").incident_id
    out = A.run(r, keys, store, OFFICER, "assign_nearest", inc, 1, network=network)
    assert out.level == "ok" and out.refresh
    assert "泰安交警101" in out.text and "by road" in out.text
    out = A.run(r, keys, store, AUX, "on_scene", inc, 2)
    assert "dispatched → on_scene" in out.text and out.refresh
    out = A.run(r, keys, store, OFFICER2, "clear", inc, 2)      # the page's rev is stale
    assert out.level == "warn" and out.refresh
    assert "changed by wang at" in out.text and "status dispatched → on_scene" in out.text
    assert "refreshed" in out.text
    assert I.load(r, keys, inc).status == "on_scene"
    out = A.run(r, keys, store, OFFICER2, "clear", inc, 3, A.Choices(note="  已处理  "))
    assert I.load(r, keys, inc).status == "cleared"
    assert I.load(r, keys, inc).history[-1]["note"] == "已处理"
    out = A.run(r, keys, store, OFFICER, "on_scene", inc, 4)
    assert out == A.Outcome("cannot go from cleared to on_scene; reopen first", "error", True)
    out = A.run(r, keys, store, OFFICER, "reopen", inc, 4, reopen_window_s=3600)
    assert out.level == "ok" and I.load(r, keys, inc).status != "cleared"


def test_what_the_page_must_choose_first(r, keys, store, network):
    seed(store, r, keys, network)
    inc = I.create_from_event(r, keys, OFFICER, "weibo:4990001").incident_id
    assert A.run(r, keys, store, OFFICER, "verify", None, None) == A.Outcome(
        "请先选择一个事件 Pick an incident first.", "warn", False)
    out = A.run(r, keys, store, OFFICER, "verify", inc, None)
    assert out.level == "error" and out.refresh and "reload" in out.text
    for action, missing in (("assign", "Pick a unit"), ("release", "Pick the unit to release"),
                            ("merge", "Pick the incident to merge into"),
                            ("link", "Pick a report first"),
                            ("follow", "Pick the follow-up report")):
        out = A.run(r, keys, store, OFFICER, action, inc, 1)
        assert missing in out.text and out.level == "warn" and not out.refresh, action
    assert A.run(r, keys, store, OFFICER, "explode", inc, 1) == A.Outcome(
        "unknown action 'explode'", "error", False)
    assert I.load(r, keys, inc).rev == 1                        # nothing was changed


def test_permission_and_missing_report(r, keys, store, network):
    seed(store, r, keys, network)
    inc = I.create_from_event(r, keys, OFFICER, "weibo:4990001").incident_id
    out = A.run(r, keys, store, AUX, "verify", inc, 1)
    assert out == A.Outcome("无权限 Your role may not do this.", "error", False)
    out = A.run(r, keys, store, OFFICER, "follow", inc, 1, A.Choices(report="weibo:nope"))
    assert out.level == "error" and out.refresh and "no event" in out.text


def test_assign_then_release_and_follow(r, keys, store, network):
    lon, lat = seed(store, r, keys, network)
    inc = I.create_from_event(r, keys, OFFICER, "weibo:4990001").incident_id
    out = A.run(r, keys, store, OFFICER, "assign", inc, 1, A.Choices(unit="T-102"))
    assert out.level == "ok" and I.load(r, keys, inc).units == ["T-102"]
    out = A.run(r, keys, store, OFFICER, "release", inc, 2, A.Choices(release="T-102"))
    assert out.level == "ok" and I.load(r, keys, inc).units == []
    store.upsert_events([RoadEvent(
        id="weibo:4990002", kind="report", category="jam", severity=2, source="weibo",
        observed_at=datetime.fromtimestamp(time.time() - 60, timezone.utc), lon=lon + 0.01,
        lat=lat, district="泰山区", road_names=("长城路",), text="长城路拥堵")])
    out = A.run(r, keys, store, OFFICER, "follow", inc, 3, A.Choices(report="weibo:4990002"),
                network=network)
    assert out.level == "ok", out.text
    got = I.load(r, keys, inc)
    assert "weibo:4990002" in got.reports and abs(got.lon - (lon + 0.01)) < 1e-6


def test_create_from_a_report(r, keys, store, network):
    seed(store, r, keys, network)
    out, res = A.create(r, keys, OFFICER, None)
    assert out.level == "warn" and res is None
    out, res = A.create(r, keys, OFFICER, "weibo:4990001")
    assert out.refresh and res.incident_id == "INC-000001" and res.rev == 1
    out, res = A.create(r, keys, OFFICER, "weibo:4990001")
    assert "already linked to INC-000001" in out.text and out.refresh and res is None


def test_parse_position(settings):
    assert A.parse_position("", settings) is None
    assert A.parse_position("  ", settings) is None
    assert A.parse_position("117.10，36.20", settings) == (117.10, 36.20)
    with pytest.raises(U.UnitError, match="outside the city"):
        A.parse_position("121.47, 31.23", settings)
    with pytest.raises(U.UnitError, match="cannot place"):
        A.parse_position("<script>x</script>", settings)
    lon, lat = A.parse_position("长城路与泰玻大街路口", settings)
    network = load_network(REPO / "data" / "taian" / "roads.geojson")
    x, y = network.intersection("长城路", "泰玻大街")
    assert abs(lon - x) < 1e-4 and abs(lat - y) < 1e-4
