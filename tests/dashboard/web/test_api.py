"""The read-only JSON API through Flask's test client: filters, 400s with a reason, masking,
no private data, caching headers, OpenAPI; and the wall's kiosk token on /wall."""
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app import create_app
from dashboard.auth import add_user
from dashboard.model import RoadEvent, validate
from dashboard.services import Services

pytestmark = pytest.mark.topologies("single", "cluster")

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def app(settings):
    a = create_app(settings)
    yield a
    a.server.config["LUKUANG"].close()


@pytest.fixture
def client(app):
    return app.server.test_client()


def ev(i, kind="incident", **kw):
    base = dict(id=f"api:{kind}{i}", kind=kind, severity=2, source="api",
                category={"report": "jam", "construction": "roadworks"}.get(kind, "accident"),
                observed_at=NOW - timedelta(minutes=5), lon=117.09 + i * 0.01, lat=36.19,
                district="泰山区")
    base.update(kw)
    return validate(RoadEvent(**base))


@pytest.fixture
def seeded(store):
    store.upsert_events([
        ev(1, text="东岳大街追尾 车主电话13812345678 鲁J12345",
           attrs={"count": 3, "reporter_phone": "13812345678", "nickname": "张三"},
           raw_ref="weibo:raw:1"),
        ev(2, district="岱岳区", lon=117.02, lat=36.15),
        ev(3, kind="report", text="红门路积水", observed_at=NOW - timedelta(hours=3)),
        ev(4, kind="construction", line=((117.1, 36.2), (117.11, 36.2))),
    ])
    store.put_private({"api:incident1": {"phone": "13999999999", "raw_text": "SECRET-RAW"}})
    return store


# -- events ---------------------------------------------------------------------------------
def test_events_are_masked_for_anonymous_callers_and_carry_no_private_data(client, seeded):
    resp = client.get("/api/v1/events?kind=incident")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["masked"] is True and body["count"] == 2
    one = next(e for e in body["events"] if e["id"] == "api:incident1")
    assert "13812345678" not in one["text"] and "138****5678" in one["text"]
    assert "鲁J12345" not in one["text"]
    assert one["attrs"] == {"count": 3}
    assert "raw_ref" not in one
    raw = resp.get_data(as_text=True)
    for secret in ("13812345678", "13999999999", "SECRET-RAW", "张三", "weibo:raw:1"):
        assert secret not in raw
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    assert resp.headers["ETag"]


def test_event_filters(client, seeded):
    def got(q):
        resp = client.get(f"/api/v1/events{q}")
        assert resp.status_code == 200, resp.get_json()
        return sorted(e["id"] for e in resp.get_json()["events"])
    assert got("") == ["api:construction4", "api:incident1", "api:incident2", "api:report3"]
    assert got("?kind=construction") == ["api:construction4"]
    assert got("?district=岱岳区") == ["api:incident2"]
    assert got("?bbox=117.0,36.1,117.05,36.17") == ["api:incident2"]
    since = (NOW - timedelta(hours=1)).isoformat()
    assert "api:report3" not in got(f"?since={since.replace('+', '%2B')}")
    # a time without an offset is read in Asia/Shanghai
    for hours, expected in ((1, []), (4, ["api:report3"])):
        local = (NOW - timedelta(hours=hours)).astimezone(timezone(timedelta(hours=8)))
        assert got(f"?since={local.strftime('%Y-%m-%dT%H:%M:%S')}&kind=report") == expected
    assert len(got("?limit=1")) == 1


def test_masking_fails_closed(client, seeded, monkeypatch):
    import dashboard.masking

    def broken(text):
        raise RuntimeError("masking broke")
    monkeypatch.setattr(dashboard.masking, "mask_text", broken)
    body = client.get("/api/v1/events?kind=incident&_=1").get_json()
    assert all(e["text"] == "" for e in body["events"])


def test_an_officer_session_gets_the_text_as_stored_and_no_public_cache(client, seeded, settings):
    svc = Services.open(settings, start_embedded=False)
    add_user(svc.r, svc.keys, "li.officer", "officer", "correct-horse-1")
    svc.close()
    resp = client.post("/login", data={"username": "li.officer", "password": "correct-horse-1",
                                       "next": "/"}, headers={"Origin": "http://localhost"})
    assert resp.status_code == 302
    resp = client.get("/api/v1/events?kind=incident")
    body = resp.get_json()
    assert body["masked"] is False
    assert any("13812345678" in e["text"] for e in body["events"])
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert "SECRET-RAW" not in resp.get_data(as_text=True)   # never the private hash


@pytest.mark.parametrize("query, reason", [
    ("kind=accident", "kind must be one of"),
    ("bbox=1,2,3", "four numbers"),
    ("bbox=a,b,c,d", "four numbers"),
    ("bbox=117.2,36.1,117.0,36.2", "lon0 < lon1"),
    ("bbox=117,36,200,37", "within ±180"),
    ("bbox=nan,36,117,37", "finite"),
    ("since=yesterday", "ISO-8601"),
    ("since=1899-01-01T00:00:00Z", "out of range"),
    ("limit=0", "between 1 and"),
    ("limit=-3", "whole number"),
    ("limit=99999", "between 1 and"),
    ("district=火星区", "unknown district"),
    ("bbx=1,2,3,4", "unknown parameter"),
    ("kind=report&kind=incident", "more than once"),
])
def test_bad_event_parameters_answer_400_with_a_reason(client, query, reason):
    resp = client.get(f"/api/v1/events?{query}")
    assert resp.status_code == 400
    assert reason in resp.get_json()["error"]


# -- congestion, time series, feeds ----------------------------------------------------------
def test_congestion_by_level_district_and_box(client, store, app):
    net = app.server.config["LUKUANG"].network
    segs = net.segments
    tai = segs[segs["district"] == "泰山区"].index[:2].tolist()
    dai = segs[segs["district"] == "岱岳区"].index[:1].tolist()
    now = datetime.now(timezone.utc).timestamp()
    store.set_congestion([(tai[0], 3, 8.0, "amap", now), (tai[1], 1, 55.0, "amap", now),
                          (dai[0], 4, 2.0, "amap", now)])
    body = client.get("/api/v1/congestion").get_json()
    assert body["count"] == 3
    row = next(s for s in body["segments"] if s["segment_id"] == tai[0])
    assert (row["level"], row["level_name"], row["level_name_en"], row["speed_kmh"]) == \
        (3, "拥堵", "congested", 8.0)
    assert row["road_name"] == segs.loc[tai[0], "road_name"] and row["district"] == "泰山区"
    ids = lambda q: sorted(s["segment_id"] for s in client.get(
        f"/api/v1/congestion?{q}").get_json()["segments"])
    assert ids("level=3,4") == sorted([tai[0], dai[0]])
    assert ids("district=岱岳区") == dai
    x0, y0, x1, y1 = segs.loc[dai[0]].geometry.bounds
    assert dai[0] in ids(f"bbox={x0 - 1e-4},{y0 - 1e-4},{x1 + 1e-4},{y1 + 1e-4}")
    assert client.get("/api/v1/congestion?level=5").status_code == 400


def test_timeseries(client, store):
    t = datetime.now(timezone.utc) - timedelta(hours=2)
    store.record_gauge("cidx:city", t.timestamp(), 0.42)
    body = client.get("/api/v1/timeseries/cidx:city?step=60").get_json()
    assert body["how"] == "mean" and body["step_minutes"] == 60
    assert [p["value"] for p in body["points"]] == [0.42]
    store.upsert_events([ev(9)])
    counts = client.get("/api/v1/timeseries/new:incident").get_json()
    assert counts["how"] == "sum" and sum(p["value"] for p in counts["points"]) == 1
    for bad, reason in [("/api/v1/timeseries/flushall", "metric must be"),
                        ("/api/v1/timeseries/new:unicorn", "metric must be"),
                        ("/api/v1/timeseries/cidx:city?step=0", "step"),
                        ("/api/v1/timeseries/cidx:city?how=max", "how must be"),
                        ("/api/v1/timeseries/cidx:city?since=2026-01-10T00:00:00Z"
                         "&until=2026-01-01T00:00:00Z", "before until"),
                        ("/api/v1/timeseries/cidx:city?since=2025-01-01T00:00:00Z"
                         "&until=2026-01-01T00:00:00Z", "31 days")]:
        resp = client.get(bad)
        assert resp.status_code == 400 and reason in resp.get_json()["error"], bad


def test_feeds_health_hides_credentials(client, store):
    now = datetime.now(timezone.utc).timestamp()
    store.update_feed_health("amap", {"accepted": 7}, last_ok=f"{now - 10:.0f}", interval_s="30",
                             last_error="HTTP 500 from https://restapi.example/v3?key=SECRETKEY",
                             breaker="closed")
    body = client.get("/api/v1/feeds").get_json()
    feed = body["feeds"][0]
    assert feed["name"] == "amap" and feed["stale"] is False and feed["counters"]["accepted"] == 7
    assert "SECRETKEY" not in json.dumps(body) and "key=***" in feed["last_error"]
    assert client.get("/api/v1/feeds?x=1").status_code == 400


def test_conditional_get_and_redis_down(client, seeded, settings):
    first = client.get("/api/v1/events")
    again = client.get("/api/v1/events", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    svc = Services.open(settings, start_embedded=False)
    svc.handle.client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                     retry=Retry(NoBackoff(), 0))
    down = create_app(settings, svc=svc).server.test_client()
    resp = down.get("/api/v1/events")
    assert resp.status_code == 503 and "unreachable" in resp.get_json()["error"]


def test_openapi_document_lists_every_route(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    routes = {r.rule.removeprefix("/api/v1").replace("<path:metric>", "{metric}")
              for r in app.server.url_map.iter_rules() if r.endpoint.startswith("api_v1.")
              or r.rule.startswith("/api/v1/public/")}
    assert routes == set(doc["paths"])
    params = {p["name"] for p in doc["paths"]["/events"]["get"]["parameters"]}
    assert params == {"kind", "district", "bbox", "since", "limit"}
    for path in doc["paths"].values():
        for op in path.values():
            for resp in op["responses"].values():
                ref = json.dumps(resp)
                if "$ref" in ref:
                    name = ref.split("#/components/schemas/")[1].split('"')[0]
                    assert name in doc["components"]["schemas"]


# -- the wall's kiosk token -------------------------------------------------------------------
def test_wall_needs_the_token_when_one_is_set(settings):
    app = create_app(replace(settings, wall_token="kiosk-123"))
    c = app.server.test_client()
    denied = c.get("/wall")
    assert denied.status_code == 403 and denied.mimetype == "text/plain"
    assert c.get("/wall?token=wrong").status_code == 403
    assert c.get("/wall?token=kiosk-123").status_code == 200
    assert c.get("/api/v1/feeds").status_code == 200   # the API does not need it
    app.server.config["LUKUANG"].close()


def test_wall_is_open_without_a_configured_token(client):
    assert client.get("/wall").status_code == 200


# -- incidents and roadworks (issue 14: one truth) ------------------------------------------
def test_incidents_are_dispatchs_masked_for_anonymous_with_their_sources(client, seeded):
    from dashboard.auth import User
    from dashboard.dispatch import incidents as I

    officer = User("li", "officer")
    seeded.upsert_events([ev(5, attrs={"place": "东岳大街 电话13812345678"})])
    a = I.create_from_event(seeded.r, seeded.keys, officer, "api:incident1").incident_id
    b = I.create_from_event(seeded.r, seeded.keys, officer, "api:incident5").incident_id
    I.link_report(seeded.r, seeded.keys, officer, a, "api:report3")
    resp = client.get("/api/v1/incidents")
    assert resp.status_code == 200 and resp.headers["ETag"]
    body = resp.get_json()
    assert body["masked"] is True and body["count"] == 2 == body["open"]
    got = {x["id"]: x for x in body["incidents"]}
    assert got[a]["sources"] == [{"feed": "api", "count": 2}]
    assert got[a]["state"] == "reported" and got[a]["first_reported_at"]
    for field in ("id", "state", "category", "severity", "place", "lon", "lat", "district",
                  "first_reported_at", "sources"):
        assert field in got[b], field
    raw = resp.get_data(as_text=True)
    for secret in ("13812345678", "13999999999", "SECRET-RAW", "张三"):
        assert secret not in raw
    I.transition(seeded.r, seeded.keys, officer, b, "cleared")
    assert [x["id"] for x in client.get("/api/v1/incidents").get_json()["incidents"]] == [a]
    every = client.get("/api/v1/incidents?state=all").get_json()["incidents"]
    assert {x["id"]: x["state"] for x in every} == {a: "reported", b: "cleared"}
    bad = client.get("/api/v1/incidents?state=closed")
    assert bad.status_code == 400 and "state" in bad.get_json()["error"]
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/incidents" in doc["paths"] and "/roadworks" in doc["paths"]


def test_roadworks_are_one_item_per_works_and_future_ones_planned(client, store):
    line = ((117.1, 36.2), (117.11, 36.2))
    store.upsert_events([
        ev(1, kind="construction", source="wzdx", line=line, road_names=("东岳大街",),
           starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=2)),
        ev(2, kind="construction", source="waze", lon=117.105, lat=36.2003,
           road_names=("东岳大街",)),
        ev(3, kind="construction", source="wzdx", lon=117.3, lat=36.3,
           starts_at=NOW + timedelta(days=2), ends_at=NOW + timedelta(days=4)),
    ])
    body = client.get("/api/v1/roadworks").get_json()
    assert (body["active"], body["planned"]) == (1, 1)
    first, second = body["roadworks"]
    assert first["status"] == "active" and sorted(first["event_ids"]) == [
        "api:construction1", "api:construction2"]
    assert first["sources"] == [{"feed": "waze", "count": 1}, {"feed": "wzdx", "count": 1}]
    assert second["status"] == "planned" and second["id"] == "api:construction3"
