"""One lifecycle, everywhere (issue 14): the dispatch incident's state is what the wall,
/api/v1/incidents, the public road query and the comms drafts show, at the same data
version. Real Redis, the real app, the demo network; time passed explicitly."""
from datetime import datetime, timedelta, timezone

import pytest

from app import create_app
from callbacks import wall as CW
from dashboard.auth import User
from dashboard.comms import drafts
from dashboard.comms.bulletin_store import BulletinError, BulletinStore
from dashboard.dispatch import incidents as I
from dashboard.live import wall as W
from dashboard.live.public import road_answer
from dashboard.model import RoadEvent, validate

pytestmark = pytest.mark.topologies("single", "cluster")

OFFICER = User("li", "officer")
COMMS = User("zhou", "comms")
ROAD = "东岳大街"


@pytest.fixture
def app(settings):
    a = create_app(settings)
    yield a
    a.server.config["LUKUANG"].close()


@pytest.fixture
def svc(app):
    return app.server.config["LUKUANG"]


def accident(svc, i: int, now: float) -> str:
    """An accident event on 东岳大街 and the dispatch incident made of it (what fusion does
    on ingest). Returns the incident id."""
    net = svc.network
    sid = net.segments_of(ROAD)[5 + i]
    lon, lat = net.segment(sid)["coords"][0]
    ev = validate(RoadEvent(
        id=f"waze:acc{i}", kind="incident", category="accident", severity=2, source="waze",
        observed_at=datetime.fromtimestamp(now - 300, timezone.utc), lon=lon, lat=lat,
        segment_id=sid, district="泰山区", road_names=(ROAD,),
        attrs={"place": f"{ROAD}{i}号路口"}))
    svc.store.upsert_events([ev], now=now)
    return I.create_from_event(svc.r, svc.keys, OFFICER, ev.id, now=now).incident_id


def marker_counts(out) -> dict[str, int]:
    """How many markers of each kind the wall's map is sent (the MapLibre map, the default:
    ``inc`` incident, ``clr`` cleared incident, ``rw`` roadworks, ``rep`` report cluster)."""
    counts: dict[str, int] = {}
    for f in out["mapdata"]["mk"]["features"]:
        k = f["properties"]["k"]
        counts[k] = counts.get(k, 0) + 1
    return counts


def tiles(out) -> tuple[str, str]:
    """(active incidents, unacknowledged) as the wall's first tile shows them."""
    first = out["kpis"][0]
    main, sub = first.children[1], first.children[2]
    return main.children[0].children, sub.children[0].children


def test_clearing_in_dispatch_is_seen_by_wall_api_public_and_comms_alike(app, svc):
    client = app.server.test_client()
    now = datetime.now(timezone.utc).timestamp()
    a, b = accident(svc, 1, now), accident(svc, 2, now)
    I.acknowledge(svc.r, svc.keys, OFFICER, b, now=now)
    wall = CW.refresh(0, 1, None, "", svc, now=now)
    version = wall["state"]["v"]
    assert tiles(wall) == ("2", "1") and I.unacknowledged_count(svc.r, svc.keys) == 1
    api = client.get("/api/v1/incidents").get_json()
    assert api["version"] == version and api["count"] == 2 and api["unacknowledged"] == 1
    assert {x["id"]: x["state"] for x in api["incidents"]} == {a: "reported", b: "reported"}
    assert api["incidents"][0]["sources"] == [{"feed": "waze", "count": 1}]
    draft = drafts.build(svc.r, svc.keys, svc.store, svc.settings, "accident", a, "", "", {},
                         now)
    rec = BulletinStore(svc.r, svc.keys).create(draft, COMMS, now=now)
    with pytest.raises(BulletinError, match="not cleared"):
        drafts.build(svc.r, svc.keys, svc.store, svc.settings, "cleared", rec.id, "", "", {},
                     now)

    # dispatch clears a: one data version later every screen agrees
    I.transition(svc.r, svc.keys, OFFICER, a, "cleared", now=now + 1)
    wall2 = CW.refresh(1, 1, wall["state"], "", svc, now=now + 1)
    version2 = wall2["state"]["v"]
    assert version2 > version and tiles(wall2) == ("1", "0")
    shown = marker_counts(CW.refresh(0, 1, None, "", svc, now=now + 1))
    assert shown.get("inc") == 1
    assert shown.get("clr") == 1     # marked cleared
    api = client.get("/api/v1/incidents").get_json()
    assert api["version"] == version2 and [x["id"] for x in api["incidents"]] == [b]
    assert api["unacknowledged"] == 0
    every = client.get("/api/v1/incidents?state=all").get_json()
    assert {x["id"]: x["state"] for x in every["incidents"]} == {a: "cleared", b: "reported"}
    public = road_answer(svc.store, svc.network, ROAD, now + 1, version2)
    assert len(public["incidents"]) == 1 and public["incidents"][0]["id"] == b
    notice = drafts.build(svc.r, svc.keys, svc.store, svc.settings, "accident", a, "", "",
                          {}, now + 1)
    assert "现场已处置完毕" in notice.body
    cleared = drafts.build(svc.r, svc.keys, svc.store, svc.settings, "cleared", rec.id, "",
                           "", {}, now + 1)
    assert cleared.kind == "cleared" and "恢复通行" in cleared.body


def test_a_cleared_incident_stays_marked_for_a_few_minutes_then_leaves_the_wall(svc):
    now = datetime.now(timezone.utc).timestamp()
    inc = accident(svc, 1, now)
    I.transition(svc.r, svc.keys, OFFICER, inc, "cleared", now=now)
    window = svc.settings.cleared_visible_s
    assert window == 300
    for later, shown in ((60, 1), (window - 30, 1), (window + 60, 0)):
        counts = marker_counts(CW.refresh(0, 1, None, "", svc, now=now + later))
        assert counts.get("clr", 0) == shown, later
        assert counts.get("inc", 0) == 0
    assert [i.id for i in I.recently_cleared(svc.r, svc.keys, window, now + 60)] == [inc]
    assert I.recently_cleared(svc.r, svc.keys, window, now + window + 60) == []


def test_the_wall_legend_names_cleared_incidents():
    items = {it["label_en"]: it["colour"] for it in W.legend_items()}
    assert items["cleared"] == W.CLEARED_COLOUR != items["incident"]


def test_roadworks_from_two_feeds_count_once_and_planned_ones_not_at_all(svc):
    now = datetime.now(timezone.utc).timestamp()
    t = datetime.fromtimestamp(now, timezone.utc)
    line = ((117.098, 36.190), (117.104, 36.190))

    def works(rid, source, **kw):
        base = dict(id=rid, kind="construction", category="roadworks", severity=2,
                    source=source, observed_at=t - timedelta(minutes=10), lon=117.101,
                    lat=36.1902, road_names=(ROAD,))
        base.update(kw)
        return validate(RoadEvent(**base))
    svc.store.upsert_events([
        works("wzdx:1", "wzdx", line=line, starts_at=t - timedelta(days=1),
              ends_at=t + timedelta(days=3)),
        works("waze:c1", "waze", starts_at=t - timedelta(minutes=20)),
        works("wzdx:2", "wzdx", line=((117.2, 36.25), (117.21, 36.25)), lon=117.205,
              lat=36.25, starts_at=t + timedelta(days=2), ends_at=t + timedelta(days=9)),
    ], now=now)
    wall = CW.refresh(0, 1, None, "", svc, now=now)
    assert wall["kpis"][2].children[1].children[0].children == "1"
    assert marker_counts(wall).get("rw") == 1
    public = road_answer(svc.store, svc.network, ROAD, now, svc.store.version())
    # the planned works also name 东岳大街: listed, as planned, after the one under way
    assert [w["status"] for w in public["roadworks"]] == ["active", "planned"]
    assert public["roadworks"][0]["sources"] == [{"feed": "waze", "count": 1},
                                                 {"feed": "wzdx", "count": 1}]
