"""Fusion (issue 14): feed records about one real incident end up on one incident, through
the real adapters and pipeline into real Redis; the rules one by one; officer splits."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta, timezone

import pytest

from dashboard import audit
from dashboard.auth import User
from dashboard.dispatch import fusion as F
from dashboard.dispatch import incidents as I
from dashboard.model import RoadEvent
from dashboard.settings import load_settings
from feeds.hotline import HotlineAdapter
from feeds.pipeline import ingest_payload, make_context
from feeds.waze import WazeAdapter
from feeds.weibo import WeiboAdapter
from tests.feeds import NOW, make_ctx

pytestmark = pytest.mark.topologies("single", "cluster")

OFFICER = User("li", "officer")
AUX = User("wang", "aux")
CST = timezone(timedelta(hours=8))
# 长城路 × 泰玻大街 in the demo network, and a point on 泰玻大街 2 km east of it
CROSS = (117.038968, 36.128666)
EAST_2KM = (117.061300, 36.128700)


def ms(minutes_before: float) -> int:
    return int((NOW - timedelta(minutes=minutes_before)).timestamp() * 1000)


def waze(*alerts: dict) -> bytes:
    return json.dumps({"alerts": list(alerts)}, ensure_ascii=False).encode()


def alert(uuid: str, lonlat: tuple[float, float], minutes_before: float,
          subtype: str = "ACCIDENT_MINOR", typ: str = "ACCIDENT", street: str = "长城路") -> dict:
    return {"uuid": uuid, "type": typ, "subtype": subtype, "street": street,
            "location": {"x": lonlat[0], "y": lonlat[1]}, "pubMillis": ms(minutes_before),
            "reliability": 8}


def hotline(*rows: tuple[str, float, str, str, str]) -> bytes:
    """Rows of (ticket, minutes before NOW, 事件类型, 事发地点, 诉求内容)."""
    lines = ["工单号,来电时间,来电号码,姓名,事件类型,事发地点,诉求内容,经度,纬度"]
    for ticket, before, typ, place, text in rows:
        at = (NOW - timedelta(minutes=before)).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{ticket},{at},13812345678,张三,{typ},{place},{text},,")
    return ("\n".join(lines) + "\n").encode("utf-8")


def weibo(*posts: tuple[str, float, str]) -> bytes:
    """Posts of (idstr, minutes before NOW, text)."""
    out = []
    for idstr, before, text in posts:
        at = (NOW - timedelta(minutes=before)).astimezone(CST)
        out.append({"created_at": at.strftime("%a %b %d %H:%M:%S +0800 %Y"), "idstr": idstr,
                    "text": text, "user": {"screen_name": "网友", "followers_count": 3}})
    return json.dumps({"statuses": out}, ensure_ascii=False).encode()


RULES = F.FusionRules()
ACCIDENT_FILES = [
    (WazeAdapter(), waze(alert("w-acc-1", (117.0392, 36.1288), 20))),
    (HotlineAdapter(), hotline(("T-1", 15, "交通事故", "长城路与泰玻大街路口", "两车追尾"))),
    (WeiboAdapter(), weibo(("4900000000000001", 12, "长城路泰玻大街路口追尾了，堵着"),
                           ("4900000000000002", 9, "长城路和泰玻大街路口两车相撞"))),
]


def ingest(store, adapter, payload: bytes, rules=RULES):
    ctx = replace(make_ctx(adapter.name), fusion=rules)
    return ingest_payload(adapter, payload, ctx, store, feed=adapter.name)


def ingest_all(store, files=ACCIDENT_FILES):
    return [ingest(store, a, p) for a, p in files]


def open_incidents(r, keys):
    return I.open_incidents(r, keys)


# -- end to end through the adapters -------------------------------------------------------
def test_one_accident_from_three_feeds_is_one_incident(r, keys, store):
    summaries = ingest_all(store)
    assert [s.incidents_created for s in summaries] == [1, 0, 0]
    assert [s.incidents_linked for s in summaries] == [0, 1, 1]
    [inc] = open_incidents(r, keys)
    assert inc.status == "reported" and inc.category == "accident"
    assert [x["feed"] for x in F.sources_of(inc)] == ["hotline", "waze", "weibo"]
    assert inc.reports[0] == "waze:w-acc-1" and len(inc.reports) == 3
    notes = [e.get("note", "") for e in inc.history]
    assert notes[0].startswith("new: no open incident of a compatible category within 150 m")
    assert all(n.startswith("merged: ") for n in notes[1:]) and "min apart" in notes[1]
    assert [e["by"] for e in inc.history] == ["fusion"] * 3
    # the Waze alert's own time stays the incident's reported time
    assert inc.reported_at == pytest.approx(ms(20) / 1000)


def test_two_accidents_2_km_apart_are_two_incidents(r, keys, store):
    ingest(store, WazeAdapter(), waze(alert("a", CROSS, 10),
                                      alert("b", EAST_2KM, 8, street="泰玻大街")))
    incs = open_incidents(r, keys)
    assert len(incs) == 2
    assert sorted(i.reports[0] for i in incs) == ["waze:a", "waze:b"]


def test_resending_every_file_creates_nothing(r, keys, store):
    ingest_all(store)
    entries = audit.length(r, keys)
    again = ingest_all(store)
    assert sum(s.incidents_created + s.incidents_linked for s in again) == 0
    assert len(open_incidents(r, keys)) == 1
    assert audit.length(r, keys) == entries


def test_an_updated_alert_that_moved_stays_on_its_incident(r, keys, store):
    ingest(store, WazeAdapter(), waze(alert("m", CROSS, 10)))
    moved = alert("m", EAST_2KM, 10, street="泰玻大街")
    summary = ingest(store, WazeAdapter(), waze(moved))
    assert summary.updated == 1 and summary.incidents_created == 0
    assert len(open_incidents(r, keys)) == 1


def test_jams_and_roadworks_make_no_incident(r, keys, store):
    ingest(store, WazeAdapter(), waze(alert("j", CROSS, 5, "JAM_HEAVY_TRAFFIC", "JAM"),
                                      alert("c", CROSS, 5, "", "CONSTRUCTION"),
                                      alert("p", CROSS, 5, "POLICE_VISIBLE", "POLICE")))
    ingest(store, WeiboAdapter(), weibo(("4900000000000009", 5, "长城路泰玻大街路口堵车了")))
    ingest(store, HotlineAdapter(), hotline(("T-9", 5, "交通拥堵", "长城路与泰玻大街路口",
                                             "堵车严重")))
    assert open_incidents(r, keys) == []


def test_split_then_resend_stays_split(r, keys, store):
    ingest_all(store)
    [inc] = open_incidents(r, keys)
    res = I.split_report(r, keys, OFFICER, inc.id, "hotline:T-1", expected_rev=inc.rev,
                         now=NOW.timestamp() + 60)
    new_id = res.extra["new_incident"]
    old, new = I.load(r, keys, inc.id), I.load(r, keys, new_id)
    assert "hotline:T-1" not in old.reports and old.split_off == ["hotline:T-1"]
    assert new.reports == ["hotline:T-1"] and new.status == "reported"
    assert new.split_from == inc.id
    assert old.history[-1]["action"] == "split" and new.history[-1]["action"] == "split"
    assert I.incident_of_report(r, keys, "hotline:T-1") == new_id
    again = ingest_all(store)
    assert sum(s.incidents_created + s.incidents_linked for s in again) == 0
    assert I.incident_of_report(r, keys, "hotline:T-1") == new_id
    assert "hotline:T-1" not in I.load(r, keys, inc.id).reports


def test_split_needs_dispatch_and_a_second_report(r, keys, store):
    ingest_all(store)
    [inc] = open_incidents(r, keys)
    with pytest.raises(PermissionError):
        I.split_report(r, keys, AUX, inc.id, "hotline:T-1")
    with pytest.raises(I.TransitionError, match="not a report"):
        I.split_report(r, keys, OFFICER, inc.id, "hotline:nope")
    new_id = I.split_report(r, keys, OFFICER, inc.id, "hotline:T-1").extra["new_incident"]
    with pytest.raises(I.TransitionError, match="only report"):
        I.split_report(r, keys, OFFICER, new_id, "hotline:T-1")


def test_a_fusion_failure_keeps_the_events_and_shows_in_feed_health(r, keys, store):
    summary = ingest(store, WazeAdapter(), waze(alert("f", CROSS, 5)), rules=object())
    assert summary.new == 1 and summary.fusion_errors == 1
    assert store.get_event("waze:f") is not None
    health = store.feed_health("waze")["waze"]
    assert health["fusion_errors"] == "1" and health["last_error"].startswith("fusion:")
    # the next poll (fusion working again) puts the record on an incident
    ingest(store, WazeAdapter(), waze(alert("f", CROSS, 5)))
    assert [i.reports for i in open_incidents(r, keys)] == [["waze:f"]]


def test_make_context_takes_the_rules_from_settings(server_url, keys):
    s = load_settings(env={"LUKUANG_FUSION_POINT_M": "90"}, redis_url=server_url,
                      key_prefix=keys.prefix)
    ctx = make_context(None, s, "waze")
    assert ctx.fusion.point_m == 90 and ctx.fusion.window_s == 3600
    off = load_settings(env={"LUKUANG_FUSION_ENABLED": "0"}, redis_url=server_url)
    assert make_context(None, off, "waze").fusion is None


def test_pre_existing_open_incidents_are_found(r, keys, store):
    """Open incidents from before the geo index existed are indexed on the first pass."""
    rules = replace(RULES, distinct_feeds=())    # two Waze alerts may be one incident here
    ingest(store, WazeAdapter(), waze(alert("old", CROSS, 10)), rules=rules)
    r.delete(keys.incidents_geo())
    ingest(store, WazeAdapter(), waze(alert("old", CROSS, 10), alert("new", CROSS, 2)),
           rules=rules)
    [inc] = open_incidents(r, keys)
    assert inc.reports == ["waze:old", "waze:new"]


# -- the rules one by one --------------------------------------------------------------------
def event(eid: str, lonlat=CROSS, minutes_before: float = 0, category="accident",
          kind="incident", severity=2, roads=("长城路",), status="active", **attrs) -> RoadEvent:
    at = NOW - timedelta(minutes=minutes_before)
    return RoadEvent(id=eid, kind=kind, category=category, severity=severity,
                     source=eid.split(":")[0], observed_at=at, starts_at=at,
                     lon=lonlat[0], lat=lonlat[1], road_names=tuple(roads), status=status,
                     attrs=attrs)


def incident(ev: RoadEvent, status: str = "reported") -> I.Incident:
    t = ev.observed_at.timestamp()
    return I.Incident(id="INC-1", status=status, category=ev.category, lon=ev.lon, lat=ev.lat,
                      road_names=list(ev.road_names), precision=I.precision_of(ev),
                      reported_at=t, last_report_at=t, reports=[ev.id])


def offset(lonlat, metres_east: float) -> tuple[float, float]:
    return lonlat[0] + metres_east / 89_900, lonlat[1]    # ~89.9 km per degree at 36.13°N


@pytest.mark.parametrize("ev,expected", [
    (event("waze:1"), True),
    (event("waze:2", category="weather"), True),
    (event("weibo:3", kind="report", category="flooding"), True),
    (event("weibo:4", kind="report", category="jam"), False),
    (event("waze:5", kind="construction", category="roadworks"), False),
    (event("hotline:6", kind="report", category="illegal_parking"), False),
    (event("waze:7", kind="report", category="police", severity=0), False),
    (event("waze:8", status="ended"), False),
])
def test_eligible(ev, expected):
    assert F.eligible(ev, RULES) is expected


def test_distance_depends_on_the_coarser_precision():
    base = incident(event("waze:1"))
    near = event("waze:2", offset(CROSS, 140))
    far = event("waze:3", offset(CROSS, 180))
    assert F.match(near, base, RULES) is not None
    assert F.match(far, base, RULES) is None
    landmark = event("weibo:4", offset(CROSS, 280), kind="report", precision="landmark")
    assert "limit 300 m" in F.match(landmark, base, RULES).why
    other_road = replace(landmark, road_names=("泰山大街",))
    assert F.match(other_road, base, RULES) is None


def test_same_intersection_and_same_segment():
    a = event("hotline:1", roads=("长城路", "泰玻大街"), located_by="intersection")
    b = event("weibo:2", offset(CROSS, 350), roads=("泰玻大街", "长城路"), kind="report",
              precision="intersection")
    m = F.match(b, incident(a), RULES)
    assert m is not None and m.why.startswith("same intersection 长城路·泰玻大街")
    seg = replace(event("waze:3", offset(CROSS, 250)), segment_id="s-1")
    inc = replace(incident(event("waze:4")), segment_id="s-1")
    assert F.match(seg, inc, RULES).why.startswith("same segment of 长城路, 250 m")


def test_category_and_time_window():
    inc = incident(event("waze:1", minutes_before=100))
    assert F.match(event("waze:2", category="breakdown", minutes_before=90), inc, RULES)
    assert F.match(event("waze:3", category="other", minutes_before=90), inc, RULES)
    assert F.match(event("waze:4", category="flooding", minutes_before=90), inc, RULES) is None
    assert F.match(event("waze:5", minutes_before=30), inc, RULES) is None    # 70 min later
    # units on scene: the incident is still there, whatever the time
    assert F.match(event("waze:6", minutes_before=30), replace(inc, status="on_scene"), RULES)
    assert F.match(event("waze:7"), replace(inc, status="cleared"), RULES) is None


def test_best_match_is_the_closest():
    a = replace(incident(event("waze:1", offset(CROSS, 100))), id="INC-A")
    b = replace(incident(event("waze:2", offset(CROSS, 30))), id="INC-B")
    ev = event("waze:3")
    cands = [(a, 100.0), (b, 30.0)]
    assert F.best_match(ev, cands, RULES).incident.id == "INC-B"


def test_only_the_system_user_fuses(r, keys, store):
    ev = event("waze:x")
    store.upsert_events([ev], ttl_s=3600)
    with pytest.raises(PermissionError):
        I.auto_create(r, keys, OFFICER, ev, "new: test")
    with pytest.raises(PermissionError):
        I.auto_link(r, keys, OFFICER, "INC-000001", ev, "merged: test")


# -- linking never rewrites the reported time --------------------------------------------------
def test_linking_an_older_report_keeps_the_reported_time(r, keys, store):
    t = NOW.timestamp()
    store.upsert_events([event("weibo:new", minutes_before=10),
                         event("hotline:old", minutes_before=70)], ttl_s=10 * 86400, now=t)
    inc_id = I.create_from_event(r, keys, OFFICER, "weibo:new", now=t).incident_id
    I.link_report(r, keys, OFFICER, inc_id, "hotline:old", now=t + 60)
    inc = I.load(r, keys, inc_id)
    assert inc.reported_at == pytest.approx(t - 600)
    assert inc.reports == ["weibo:new", "hotline:old"]


# -- rules for moving targets, coarse places, one road, jam reports, Waze alerts ---------------
G3 = ("G3京台高速",)


def test_a_moving_coach_is_one_incident_that_follows_it():
    first = event("weibo:c1", CROSS, 20, category="overload", kind="report", roads=G3,
                  precision="intersection")
    later = event("weibo:c2", offset(CROSS, 4_000), 16, category="overload", kind="report",
                  roads=G3, precision="intersection")
    m = F.match(later, incident(first), RULES)
    assert m is not None and m.move and m.why.startswith("moving overload on G3京台高速, moved 4.0 km")
    # an older report joins but does not move it back
    older = event("weibo:c0", offset(CROSS, -4_000), 25, category="overload", kind="report",
                  roads=G3, precision="intersection")
    assert not F.match(older, incident(first), RULES).move
    # another road, or beyond the moving distance: not the same coach
    assert F.match(replace(later, road_names=("泰山大街",)), incident(first), RULES) is None
    far = event("weibo:c3", offset(CROSS, 25_000), 10, category="overload", kind="report",
                roads=G3)
    assert F.match(far, incident(first), RULES) is None


def test_the_coach_incident_moves_with_the_newest_report(r, keys, store):
    first = event("weibo:c1", CROSS, 20, category="overload", kind="report", roads=G3,
                  precision="intersection", place="G3京台高速与S31泰新高速路口")
    later = event("weibo:c2", offset(CROSS, 4_000), 16, category="overload", kind="report",
                  roads=G3, precision="point", place="G3京台高速")
    store.upsert_events([first, later], ttl_s=3600)
    F.fuse(r, keys, [first], RULES, now=NOW.timestamp())
    F.fuse(r, keys, [later], RULES, now=NOW.timestamp())
    [inc] = open_incidents(r, keys)
    assert inc.reports == ["weibo:c1", "weibo:c2"]
    assert (inc.lon, inc.lat) == pytest.approx(offset(CROSS, 4_000))
    assert inc.history[-1]["note"].endswith("(moved to the newest report)")


def test_a_road_only_report_joins_the_nearest_incident_on_its_road():
    inc = incident(event("waze:1", CROSS, 10))
    coarse = event("weibo:2", offset(CROSS, 4_500), 5, kind="report", precision="road")
    m = F.match(coarse, inc, RULES)
    assert m is not None and m.why.startswith("road only: the nearest open incident on 长城路")
    assert F.match(replace(coarse, road_names=("泰山大街",)), inc, RULES) is None
    assert F.match(replace(coarse, lon=offset(CROSS, 12_000)[0]), inc, RULES) is None
    # the nearest in time and of its own category wins over a closer incident
    a = replace(incident(event("waze:3", offset(CROSS, 3_500), 10, category="breakdown")),
                id="INC-A")
    b = replace(inc, id="INC-B")
    assert F.best_match(coarse, [(a, 1_000.0), (b, 4_500.0)], RULES).incident.id == "INC-B"
    # a place match beats a road-only match
    near = replace(incident(event("waze:4", offset(CROSS, 4_480), 10)), id="INC-C")
    assert F.best_match(coarse, [(b, 4_500.0), (near, 20.0)], RULES).incident.id == "INC-C"


def test_same_road_widens_the_limit_when_one_is_not_a_gps_point():
    inc = incident(event("waze:1", CROSS, 10))
    corner = event("hotline:2", offset(CROSS, 230), 5, kind="report",
                   roads=("长城路", "泰玻大街"), located_by="intersection")
    m = F.match(corner, inc, RULES)
    assert m is not None and m.why.startswith("same road 长城路, 230 m apart")
    assert F.match(replace(corner, road_names=("泰山大街", "泰玻大街")), inc, RULES) is None
    assert F.match(replace(corner, lon=offset(CROSS, 700)[0]), inc, RULES) is None
    # two GPS points keep the point limit
    assert F.match(event("hotline:3", offset(CROSS, 230), 5), inc, RULES) is None


def test_an_expressway_interchange_reaches_further_than_a_city_corner():
    # a Waze breakdown on G3 and a post that names the G3×S31 interchange 900 m away
    # (a caller names the nearest interchange; they are 5-10 km apart)
    inc = incident(event("waze:1", CROSS, 10, category="breakdown", roads=("G3京台高速",)))
    post = event("weibo:2", offset(CROSS, 900), 5, kind="report", category="breakdown",
                 roads=("G3京台高速", "S31泰新高速"), located_by="intersection")
    m = F.match(post, inc, RULES)
    assert m is not None and m.why.startswith("same road G3京台高速, 899 m apart")
    assert "limit 3000 m" in m.why
    assert F.match(replace(post, lon=offset(CROSS, 3_100)[0]), inc, RULES) is None
    # on a city street the same 900 m are two places
    city = incident(event("waze:3", CROSS, 10, category="breakdown"))
    assert F.match(replace(post, road_names=("长城路", "泰玻大街")), city, RULES) is None
    assert F.match(post, inc, replace(RULES, expressway_m=600.0)) is None


def test_a_road_only_place_matches_by_its_road_alone():
    # "G3 上有情况" placed at the road's middle lies on some segment near some incident:
    # neither the segment nor the distance says anything about where it happened
    inc = incident(event("waze:1", CROSS, 10, category="overload"))
    post = event("weibo:2", offset(CROSS, 100), 5, kind="report", category="other",
                 precision="road")
    post = replace(post, segment_id="s1")
    inc = replace(inc, segment_id="s1")
    assert F.match(post, inc, RULES) is None      # join-only: never by its road alone
    acc = replace(post, category="accident")
    m = F.match(acc, replace(inc, category="accident"), RULES)
    assert m is not None and m.rank == 4 and m.why.startswith("road only")


def test_an_accident_report_joins_the_accident_not_the_pothole_nearer_by():
    corner = event("weibo:9", CROSS, 5, kind="report", roads=("长城路", "泰玻大街"),
                   located_by="intersection")
    pothole = replace(incident(event("waze:1", offset(CROSS, 130), 40, category="hazard",
                                     roads=("泰玻大街",))), id="INC-P")
    crash = replace(incident(event("waze:2", offset(CROSS, 420), 6)), id="INC-A")
    assert F.match(corner, pothole, RULES).rank == 2          # a place match …
    assert F.match(corner, crash, RULES).rank == 3            # … and a road match
    assert F.best_match(corner, [(pothole, 130.0), (crash, 420.0)], RULES).incident.id \
        == "INC-A"


def test_a_road_only_report_needs_the_same_category():
    # "环山路 车坏了" (road only) is not the accident 3 km along 环山路
    crash = incident(event("waze:1", CROSS, 40))
    post = event("weibo:2", offset(CROSS, 3_000), 5, kind="report", category="breakdown",
                 precision="road")
    assert F.match(post, crash, RULES) is None
    assert F.match(replace(post, category="accident"), crash, RULES) is not None


def test_two_different_intersections_on_one_road_are_two_places():
    a = incident(event("hotline:1", CROSS, 20, kind="report", roads=("长城路", "泰玻大街"),
                       located_by="intersection"))
    b = event("hotline:2", offset(CROSS, 590), 5, kind="report", roads=("长城路", "东岳大街"),
              located_by="intersection")
    assert F.match(b, a, RULES) is None
    # the same corner named again is one place
    assert F.match(replace(b, road_names=("泰玻大街", "长城路")), a, RULES).rank == 0


def test_a_road_only_report_with_two_incidents_on_its_road_waits_for_an_officer():
    coarse = event("weibo:5", offset(CROSS, 4_000), 5, kind="report", precision="road")
    a = replace(incident(event("waze:1", CROSS, 20)), id="INC-A")
    b = replace(incident(event("waze:2", offset(CROSS, 6_000), 10)), id="INC-B")
    found = F.matches(coarse, [(a, 4_000.0), (b, 2_000.0)], RULES)
    assert F.ambiguous(coarse, found) == ["INC-A", "INC-B"]
    assert F.ambiguous(coarse, F.matches(coarse, [(a, 4_000.0)], RULES)) == []
    # a well-located record is never ambiguous
    point = event("hotline:6", offset(CROSS, 50), 5, kind="report")
    assert F.ambiguous(point, F.matches(point, [(a, 50.0), (b, 5_950.0)], RULES)) == []


def test_in_one_poll_located_records_are_fused_before_road_only_ones(r, keys, store):
    # one Weibo poll: "泰山大道 车祸" (road only) older than a post naming the corner of a
    # second accident, while another accident on 泰山大道 is open: the road-only post is
    # ambiguous once the second accident exists, so it waits instead of joining the first
    ingest(store, WazeAdapter(), waze(alert("w-1", (117.10047, 36.14941), 30,
                                            street="泰山大道")))
    ingest(store, WeiboAdapter(), weibo(
        ("4900000000000011", 12, "泰山大道出车祸了，大家绕行"),
        ("4900000000000012", 8, "泰山大道与泰山大街路口两车相撞")))
    incs = open_incidents(r, keys)
    assert len(incs) == 2
    assert not any(len(i.reports) > 1 for i in incs)
    linked = I.linked_reports(r, keys, [e.id for e in store.active_events("report")])
    road_only = [e for e in store.active_events("report")
                 if I.precision_of(e) == "road" and e.category == "accident"]
    assert road_only and all(e.id not in linked for e in road_only)


def test_a_jam_report_joins_an_incident_but_never_creates_one(r, keys, store):
    ingest(store, HotlineAdapter(), hotline(("T-9", 5, "交通拥堵", "长城路与泰玻大街路口",
                                             "堵车严重")))
    assert open_incidents(r, keys) == []
    ingest(store, WazeAdapter(), waze(alert("cl", (117.0392, 36.1288), 8, "ROAD_CLOSED_EVENT",
                                            "ROAD_CLOSED")))
    ingest(store, HotlineAdapter(), hotline(("T-9", 5, "交通拥堵", "长城路与泰玻大街路口",
                                             "堵车严重")))
    [inc] = open_incidents(r, keys)
    assert inc.reports == ["waze:cl", "hotline:T-9"]
    assert F.eligible(store.get_event("hotline:T-9"), RULES) is False
    assert F.joins_only(store.get_event("hotline:T-9"), RULES) is True


def test_two_waze_alerts_are_two_incidents_however_close(r, keys, store):
    ingest(store, WazeAdapter(), waze(alert("p1", CROSS, 50, "HAZARD_ON_ROAD_POT_HOLE",
                                            "HAZARD"), alert("a1", CROSS, 10)))
    incs = open_incidents(r, keys)
    assert sorted(i.reports[0] for i in incs) == ["waze:a1", "waze:p1"]
    # a call about the accident joins the accident, not the pothole at the same corner
    ingest(store, HotlineAdapter(), hotline(("T-2", 5, "交通事故", "长城路与泰玻大街路口",
                                             "两车追尾")))
    acc = I.load(r, keys, I.incident_of_report(r, keys, "hotline:T-2"))
    assert acc.reports == ["waze:a1", "hotline:T-2"]


def test_the_new_rules_come_from_settings(server_url):
    s = load_settings(env={"LUKUANG_FUSION_MOVING_CATEGORIES": "overload,police",
                           "LUKUANG_FUSION_DISTINCT_FEEDS": "", "LUKUANG_FUSION_COARSE_M": "5000"},
                      redis_url=server_url)
    rules = F.FusionRules.from_settings(s)
    assert rules.moving == ("overload", "police") and rules.distinct_feeds == ()
    assert rules.coarse_m == 5000 and rules.join_only == ("jam", "other")
    assert rules.expressway_m == 3000 and rules.expressway_words == ("高速",)
