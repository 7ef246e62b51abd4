"""Units: feed updates, status ownership, nearest free by straight line and by road, set by
hand, and the units feed adapter against the demo upstream (real Redis, real simulator)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import LineString

from dashboard import audit

from dashboard.dispatch import units as U
from dashboard.auth import User
from dashboard.roads.geo import haversine_m
from dashboard.roads.network import load_network
from feeds.base import ParseContext
from feeds.pipeline import ingest_payload, make_context
from feeds.units import UnitsAdapter, poll_units

pytestmark = pytest.mark.topologies("single", "cluster")

REPO = Path(__file__).resolve().parents[3]
OFFICER = User("li", "officer")
AUX = User("wang", "aux")
BBOX = (116.80, 35.90, 117.45, 36.45)


def rep(uid, lon, lat, status="free", at=None, utype="patrol_car"):
    return U.UnitReport(uid, utype, f"call-{uid}", lon, lat, status,
                        time.time() if at is None else at)


def test_feed_creates_moves_and_ignores_older_reports(r, keys):
    now = time.time()
    changed, v1 = U.apply_feed(r, keys, [rep("T-1", 117.1, 36.2, at=now),
                                         rep("T-2", 117.2, 36.2, "off_duty", at=now)])
    assert changed == 2 and v1 >= 1
    assert {u.id: u.status for u in U.all_units(r, keys)} == {"T-1": "free", "T-2": "off_duty"}
    # the same report again changes nothing and does not bump the data version
    assert U.apply_feed(r, keys, [rep("T-1", 117.1, 36.2, at=now)]) == (0, v1)
    # an older report (a late retry) does not move the unit back
    U.apply_feed(r, keys, [rep("T-1", 117.15, 36.25, at=now + 5)])
    U.apply_feed(r, keys, [rep("T-1", 117.1, 36.2, at=now + 1)])
    u = U.get_unit(r, keys, "T-1")
    assert (u.lon, u.lat) == (117.15, 36.25)
    lon, lat = r.geopos(keys.units_geo(), "T-1")[0]
    assert lon == pytest.approx(117.15, abs=1e-5) and lat == pytest.approx(36.25, abs=1e-5)


def test_feed_never_overrides_dispatch_or_a_hand_hold(r, keys):
    now = time.time()
    U.apply_feed(r, keys, [rep("T-1", 117.1, 36.2, at=now), rep("T-2", 117.2, 36.2, at=now)])
    # dispatch owns T-1 (what incidents.assign_unit writes)
    r.hset(keys.unit("T-1"), mapping={"status": "assigned", "incident": "INC-000001"})
    U.set_unit(r, keys, OFFICER, "T-2", status="off_duty")
    U.apply_feed(r, keys, [rep("T-1", 117.11, 36.2, "free", at=now + 1),
                           rep("T-2", 117.21, 36.2, "free", at=now + 1)])
    t1, t2 = U.get_unit(r, keys, "T-1"), U.get_unit(r, keys, "T-2")
    assert (t1.status, t1.lon) == ("assigned", 117.11)     # moved, status kept
    assert (t2.status, t2.lon, t2.hold) == ("off_duty", 117.21, "hand")
    U.set_unit(r, keys, OFFICER, "T-2", status="feed")      # hand it back to the feed
    U.apply_feed(r, keys, [rep("T-2", 117.21, 36.2, "free", at=now + 2)])
    assert U.get_unit(r, keys, "T-2").status == "free"


def test_set_by_hand_is_audited_and_needs_manage_units(r, keys):
    with pytest.raises(PermissionError):
        U.set_unit(r, keys, AUX, "T-9", unit_type="tow_truck", lon=117.1, lat=36.2)
    with pytest.raises(U.UnitError, match="type must be one of"):
        U.set_unit(r, keys, OFFICER, "T-9", lon=117.1, lat=36.2)
    with pytest.raises(U.UnitError, match="unit id"):
        U.set_unit(r, keys, OFFICER, "T 9<b>", unit_type="tow_truck", lon=117.1, lat=36.2)
    u = U.set_unit(r, keys, OFFICER, "Q-9", unit_type="tow_truck", callsign="清障9",
                   lon=117.1, lat=36.2)
    assert (u.status, u.rev, u.source) == ("free", 1, "hand")
    U.set_unit(r, keys, OFFICER, "Q-9", lon=117.12, lat=36.21, expected_rev=1)
    with pytest.raises(U.UnitError, match="changed meanwhile"):
        U.set_unit(r, keys, OFFICER, "Q-9", status="off_duty", expected_rev=1)
    with pytest.raises(U.UnitError, match="by hand"):
        U.set_unit(r, keys, OFFICER, "Q-9", status="on_scene")
    entries = audit.read(r, keys, target="unit:Q-9", newest_first=False)
    assert [e["action"] for e in entries] == ["unit_create", "unit_update"]
    assert json.loads(entries[1]["after"])["lon"] == "117.120000"
    assert entries[1]["who"] == "li" and entries[1]["rev"] == "2"


def test_nearest_free_by_straight_line(r, keys):
    now = time.time()
    U.apply_feed(r, keys, [
        rep("near-busy", 117.1001, 36.2, "assigned", at=now),
        rep("near-off", 117.1002, 36.2, "off_duty", at=now),
        rep("a", 117.105, 36.2, at=now),
        rep("b", 117.11, 36.2, at=now),
        rep("tow", 117.103, 36.2, at=now, utype="tow_truck"),
        rep("stale", 117.1003, 36.2, at=now - 7200),
        rep("far", 117.4, 36.4, at=now)])
    got = U.nearest_free_units(r, keys, 117.1, 36.2, count=3, radius_m=5000, now=now)
    assert [c.unit.id for c in got] == ["tow", "a", "b"]
    assert all(c.by == "straight" and c.road_m is None for c in got)
    assert got[1].straight_m == pytest.approx(haversine_m(117.1, 36.2, 117.105, 36.2), rel=0.01)
    cars = U.nearest_free_units(r, keys, 117.1, 36.2, types=["patrol_car"], now=now)
    assert [c.unit.id for c in cars] == ["a", "b"]          # "far" is 35 km away
    wide = U.nearest_free_units(r, keys, 117.1, 36.2, types=["patrol_car"], radius_m=50_000,
                                now=now)
    assert [c.unit.id for c in wide] == ["a", "b", "far"]
    with_stale = U.nearest_free_units(r, keys, 117.1, 36.2, max_age_s=None, count=1, now=now)
    assert with_stale[0].unit.id == "stale"


class _Net:
    """A road network with only what the re-ranking reads: ``segments``."""

    def __init__(self, lines):
        self.segments = gpd.GeoDataFrame({"road_name": [f"r{i}" for i in range(len(lines))]},
                                         geometry=[LineString(c) for c in lines], crs=4326)


def test_road_distance_reranks_a_unit_across_the_river(r, keys):
    """U1 is 1.1 km away as the crow flies but across water: by road it must go round
    (about 10 km). U2 is 2.7 km away on the same road. By road, U2 is nearer."""
    net = _Net([[(117.00, 36.00), (117.05, 36.00)],
                [(117.05, 36.00), (117.05, 36.01)],
                [(117.05, 36.01), (117.00, 36.01)]])
    now = time.time()
    U.apply_feed(r, keys, [rep("U1", 117.00, 36.01, at=now), rep("U2", 117.03, 36.00, at=now)])
    straight = U.nearest_free_units(r, keys, 117.00, 36.00, now=now)
    assert [c.unit.id for c in straight] == ["U1", "U2"]
    by_road = U.nearest_free_units(r, keys, 117.00, 36.00, network=net, now=now)
    assert [c.unit.id for c in by_road] == ["U2", "U1"]
    u1 = next(c for c in by_road if c.unit.id == "U1")
    assert u1.by == "road" and 9_000 < u1.road_m < 11_000
    assert by_road[0].road_m == pytest.approx(by_road[0].straight_m, rel=0.05)


# -- the units feed -------------------------------------------------------------------------
def ctx():
    return ParseContext(network=None, bbox=BBOX, now=datetime.now(timezone.utc), feed="units")


def test_units_adapter_parses_and_rejects_with_reasons():
    now = datetime.now(timezone.utc).isoformat()
    payload = json.dumps({"units": [
        {"id": "T-101", "type": "patrol_car", "callsign": "泰安交警101", "lon": 117.1,
         "lat": 36.2, "status": "free", "updated_at": now},
        {"id": "M-1", "type": "motorcycle", "callsign": "铁骑1", "lon": 117.1, "lat": 36.2,
         "status": "busy", "updated_at": now},
        {"id": "X-1", "type": "tank", "lon": 117.1, "lat": 36.2, "status": "free"},
        {"id": "S-1", "type": "patrol_car", "lon": 36.2, "lat": 117.1, "status": "free"},
        {"id": "N-1", "type": "patrol_car", "lon": "NaN", "lat": 36.2, "status": "free"},
        {"id": "<script>", "type": "patrol_car", "lon": 117.1, "lat": 36.2, "status": "free"},
        {"id": "T-101", "type": "patrol_car", "lon": 117.1, "lat": 36.2, "status": "free"},
        "not an object"]}).encode()
    res = UnitsAdapter().parse(payload, ctx())
    assert [(u.id, u.status) for u in res.units] == [("T-101", "free"), ("M-1", "assigned")]
    reasons = [x.reason for x in res.rejected]
    assert any("unknown type 'tank'" in x for x in reasons)
    assert any("lat/lon swapped" in x for x in reasons)
    assert any("not numbers" in x for x in reasons)
    assert any("unit id must be" in x for x in reasons)
    assert any("listed twice" in x for x in reasons)
    assert any("not an object" in x for x in reasons)
    assert res.events == []


@pytest.mark.parametrize("payload", [b"", b"{", b"[]", b'{"units": 5}', b"\xff\xfe"])
def test_units_adapter_refuses_unusable_payloads(payload):
    from feeds.base import PayloadError

    with pytest.raises(PayloadError):
        UnitsAdapter().parse(payload, ctx())


def test_units_feed_from_the_demo_upstream(r, keys, store, settings):
    """The real simulator serves /units/positions.json; the adapter through the real
    pipeline writes every unit, and the nearest free search finds them."""
    from feeds.sim.server import SimServer
    from feeds.sim.world import World

    network = load_network(REPO / "data" / "taian" / "roads.geojson")
    t = datetime(2026, 9, 29, 10, 0, tzinfo=timezone.utc).timestamp()
    server = SimServer(World(network, 20261001, "normal"), lambda: t, port=0).start()
    try:
        summary = poll_units(server.url + "/units/positions.json", settings, store, network)
        served = json.loads(__import__("urllib.request").request.urlopen(
            server.url + "/units/positions.json", timeout=5).read())["units"]
    finally:
        server.close()
    assert summary.quarantined == 0
    units = U.all_units(r, keys)
    assert len(units) == len(served) > 10
    assert {u.type for u in units} == {"patrol_car", "motorcycle", "tow_truck"}
    assert store.feed_health("units")["units"]["accepted"] == str(len(served))
    free = [u for u in served if u["status"] == "free"]
    got = U.nearest_free_units(r, keys, free[0]["lon"], free[0]["lat"], count=1,
                               network=network, now=t)
    assert got and got[0].unit.id == free[0]["id"]


def test_units_adapter_in_the_pipeline_quarantines_bad_records(r, keys, store, settings):
    payload = json.dumps({"units": [
        {"id": "T-1", "type": "patrol_car", "lon": 117.1, "lat": 36.2, "status": "free"},
        {"id": "T-2", "type": "patrol_car", "lon": 117.1, "lat": 36.2, "status": "flying"}]})
    ctx_ = make_context(None, settings, "units")
    summary = ingest_payload(UnitsAdapter(), payload.encode(), ctx_, store, feed="units")
    assert summary.quarantined == 1
    assert "unknown status 'flying'" in store.quarantined("units")[0]["reason"]
    assert [u.id for u in U.all_units(r, keys)] == ["T-1"]
