"""The public road query (路况查询): the pure answer against the demo network and the real
Redis store, and /api/v1/public/roads and /public through the real app's test client."""
import re
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app import create_app
from dashboard.roads.stretches import StretchFinder
from dashboard.storage.cache import cache_for
from dashboard.model import RoadEvent, validate
from dashboard.live.public import (MAX_NAME_CHARS, QueryError, UnknownRoad, clean_name,
                              close_matches, find_road, road_answer)
from dashboard.roads.network import get_network
from dashboard.services import Services
from dashboard.auth import User
from dashboard.dispatch import incidents

ROAD = "东岳大街"
PHONE = "13812345678"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def net():
    return get_network(Path("/nonexistent-lukuang-state"))   # the demo network in data/taian


def event(i, kind="incident", **kw):
    base = dict(id=f"pub:{kind}{i}", kind=kind, severity=3, source="test",
                category="roadworks" if kind == "construction" else "accident",
                observed_at=datetime.now(timezone.utc) - timedelta(minutes=3),
                lon=117.1, lat=36.19, district="泰山区")
    base.update(kw)
    return validate(RoadEvent(**base))


def seed(store, net, now=None):
    """东岳大街: segments 10-13 拥堵 at 9 km/h, 30-31 stale (so unknown), the rest 畅通;
    an accident on one of its segments with a phone number and markup in the text,
    roadworks naming it, and an accident on another road."""
    now = time.time() if now is None else now
    ids = net.segments_of(ROAD)
    rows = []
    for k, sid in enumerate(ids):
        if 10 <= k < 14:
            rows.append((sid, 3, 9.0, "amap", now))
        elif 30 <= k < 32:
            rows.append((sid, 3, 5.0, "amap", now - 3600))
        else:
            rows.append((sid, 1, 42.0, "amap", now))
    store.set_congestion(rows, now=now)
    acc = net.segment(ids[11])["coords"][0]
    other = net.segments_of("泰山大街")[3]
    store.upsert_events([
        event(1, segment_id=ids[11], lon=acc[0], lat=acc[1],
              text=f"追尾事故 车主电话{PHONE} {HOSTILE}"),
        event(2, kind="construction", road_names=(ROAD,), text="管线施工",
              attrs={"beginning_cross_street": "青年路", "ending_cross_street": "通天街",
                     "vehicle_impact": "some-lanes-closed", "lanes_closed": 1},
              starts_at=datetime.now(timezone.utc) - timedelta(days=1),
              ends_at=datetime.now(timezone.utc) + timedelta(days=5)),
        event(3, segment_id=other, road_names=("泰山大街",), text="别的路"),
    ])
    # the incidents dispatch makes of them (fusion does so on ingest): the public sees those
    for rid in ("pub:incident1", "pub:incident3"):
        incidents.create_from_event(store.r, store.keys, User("li", "officer"), rid)
    return ids


def same_minute(seconds: float = 6.0) -> None:
    """ETags name the minute: wait for the next one if fewer than ``seconds`` are left, so a
    test comparing tags does not straddle a minute boundary."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


# -- the pure part --------------------------------------------------------------------------
def test_names_and_aliases_resolve_to_the_road(net):
    assert find_road(net, clean_name("  东岳大街 ")) == ROAD
    assert find_road(net, "东岳街") == ROAD
    assert find_road(net, clean_name("ＤＯＮＧＹＵＥ ＤＡＪＩＥ")) == ROAD   # full-width, case


@pytest.mark.parametrize("raw, reason", [
    (None, "required"), ("", "empty"), ("   ", "empty"),
    ("路" * (MAX_NAME_CHARS + 1), "longer than"), ("东岳\x00大街", "control")])
def test_bad_names_are_refused_with_a_reason(raw, reason):
    with pytest.raises(QueryError, match=reason):
        clean_name(raw)


def test_an_unknown_road_gets_close_matches(net):
    with pytest.raises(UnknownRoad) as exc:
        find_road(net, "东越街")                  # 东岳街 (an alias) misspelt
    assert exc.value.close_matches[0] == ROAD
    assert 1 <= len(exc.value.close_matches) <= 5
    assert len(close_matches(net, "Dajie")) <= 5
    assert close_matches(net, "完全不相干的名字xyz") == []


def test_the_answer_stretch_by_stretch_with_incidents_and_roadworks(store, net):
    now = time.time()
    ids = seed(store, net, now)
    ans = road_answer(store, net, ROAD, now, store.version(), stale_s=900)
    assert ans["road"] == ROAD and "东岳街" in ans["aliases"]
    levels = [s["level"] for s in ans["stretches"]]
    assert levels == [1, 3, 1, 0, 1]             # in order along the road, west → east
    jam = ans["stretches"][1]
    assert (jam["level_name"], jam["speed_kmh"], jam["segments"]) == ("拥堵", 9.0, 4)
    # the same stretch and label as the 路况播报 finds for the same snapshot
    snap = store.congestion_snapshot(900, now=now)
    bulletin = [s for s in StretchFinder(net).stretches(snap, min_level=3) if s.road == ROAD]
    assert [s.label for s in bulletin] == [jam["label"]]
    unknown = ans["stretches"][3]
    assert unknown["level_name"] == "未知" and unknown["speed_kmh"] is None   # stale
    lengths = net.segments.loc[ids, "length_m"].sum()
    assert ans["length_m"] == pytest.approx(lengths, abs=0.5)
    assert ans["worst_level"] == 3 and ans["data_time"] is not None
    # incidents and roadworks on this road only, text masked
    assert [e["category_name"] for e in ans["incidents"]] == ["交通事故"]
    text = ans["incidents"][0]["text"]
    assert PHONE not in text and "138****5678" in text
    works = ans["roadworks"]
    assert len(works) == 1 and works[0]["place"] == "东岳大街(青年路—通天街)"
    assert (works[0]["impact_name"], works[0]["lanes_closed"]) == ("占用部分车道", 1)
    assert "别的路" not in str(ans)


def test_a_road_without_observations_is_one_unknown_stretch(store, net):
    ans = road_answer(store, net, ROAD, time.time(), store.version())
    assert [s["level"] for s in ans["stretches"]] == [0]
    assert ans["data_time"] is None and ans["incidents"] == [] and ans["roadworks"] == []


# -- the routes -------------------------------------------------------------------------------
@pytest.fixture
def make_client(settings):
    apps = []

    def make(**changes):
        app = create_app(replace(settings, **changes))
        apps.append(app)
        return app.server.test_client()
    yield make
    for app in apps:
        app.server.config["LUKUANG"].close()


@pytest.fixture
def client(make_client):
    return make_client()


def test_json_answer_shape_masking_and_cache_headers(client, store, net):
    seed(store, net)
    resp = client.get(f"/api/v1/public/roads?name={ROAD}")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["road"] == ROAD and body["version"] == store.version()
    assert [s["level"] for s in body["stretches"]] == [1, 3, 1, 0, 1]
    for s in body["stretches"]:
        assert set(s) >= {"label", "from", "to", "level", "level_name", "length_m",
                          "speed_kmh"}
    raw = resp.get_data(as_text=True)
    assert PHONE not in raw and "138****5678" in raw
    etag = resp.headers["ETag"]
    assert re.fullmatch(r'"\d+\.\d+\.[0-9a-f]{16}"', etag)          # strong: no W/
    assert resp.headers["Cache-Control"] == "public, max-age=5"
    assert "Set-Cookie" not in resp.headers                            # nothing per person


def test_conditional_requests_and_a_new_version(client, store, net):
    ids = seed(store, net)
    same_minute()
    first = client.get(f"/api/v1/public/roads?name={ROAD}")
    etag = first.headers["ETag"]
    again = client.get(f"/api/v1/public/roads?name={ROAD}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"].startswith("public")
    # the alias is the same road, hence the same representation
    alias = client.get("/api/v1/public/roads?name=东岳街", headers={"If-None-Match": etag})
    assert alias.status_code == 304
    # the page is another format: another tag
    page = client.get(f"/public?name={ROAD}", headers={"If-None-Match": etag})
    assert page.status_code == 200 and page.headers["ETag"] != etag
    store.set_congestion([(ids[0], 4, 3.0, "amap", time.time())])      # new data version
    fresh = client.get(f"/api/v1/public/roads?name={ROAD}", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert fresh.get_json()["stretches"][0]["level"] == 4


def test_one_build_per_version_shared_through_redis(client, store, net, r, keys, settings):
    seed(store, net)
    svc = Services.open(settings, start_embedded=False)
    try:
        same_minute()
        before = client.get(f"/api/v1/public/roads?name={ROAD}")
        app_svc = client.application.config["LUKUANG"]
        cache = cache_for(app_svc.r, app_svc.keys)
        builds = cache.builds
        for _ in range(5):
            assert client.get(f"/api/v1/public/roads?name={ROAD}").data == before.data
        assert cache.builds == builds
        stored = [k for k in r.scan_iter(match=f"{keys.base}cache:public:json:*")]
        assert len(stored) == 1
        # another worker (an empty local cache) reads the body from Redis, no build
        other = cache_for(svc.r, svc.keys)
        other.drop_local()
        version, minute = before.headers["ETag"].strip('"').split(".")[:2]
        name = stored[0].removeprefix(keys.base + "cache:")
        text = other.get_text(name, f"{version}:{minute}",
                              lambda: pytest.fail("built again instead of read from Redis"))
        assert text.encode() == before.data
    finally:
        svc.close()


def test_unknown_road_answers_404_with_close_matches(client):
    resp = client.get("/api/v1/public/roads?name=东越街")
    assert resp.status_code == 404
    body = resp.get_json()
    assert "东越街" in body["error"] and body["close_matches"][0] == ROAD
    page = client.get("/public?name=东越街")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert 'href="/public?name=%E4%B8%9C%E5%B2%B3%E5%A4%A7%E8%A1%97"' in html


@pytest.mark.parametrize("query, reason", [
    ("", "required"), ("name=", "empty"), ("name=%20%20", "empty"),
    (f"name={'路' * 41}", "longer than"), ("name=a&name=b", "more than once")])
def test_bad_names_answer_400(client, query, reason):
    resp = client.get(f"/api/v1/public/roads?{query}")
    assert resp.status_code == 400 and reason in resp.get_json()["error"]


def test_the_page_answers_400_for_an_empty_name_and_shows_the_form_without_one(client):
    assert client.get("/public?name=").status_code == 400
    landing = client.get("/public")
    assert landing.status_code == 200 and 'name="name"' in landing.get_data(as_text=True)


def test_rate_limit_per_client_with_retry_after(make_client, store, net):
    seed(store, net)
    c = make_client(public_rate_limit=3, public_rate_window_s=30)
    url = f"/api/v1/public/roads?name={ROAD}"
    same_minute()
    etag = c.get(url).headers["ETag"]
    assert c.get(url, headers={"If-None-Match": etag}).status_code == 304   # counts as well
    assert c.get("/public?name=东岳大街").status_code == 200                   # one bucket
    over = c.get(url)
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 30
    assert "too many requests" in over.get_json()["error"]
    page = c.get("/public?name=东岳大街")
    assert page.status_code == 429 and "秒后再试" in page.get_data(as_text=True)
    # another client has its own budget
    other = c.get(url, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_forwarded_for_counts_only_behind_a_trusted_proxy(make_client, store, net):
    seed(store, net)
    url = f"/api/v1/public/roads?name={ROAD}"
    direct = make_client(public_rate_limit=1)
    assert direct.get(url, headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 200
    assert direct.get(url, headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 429
    proxied = make_client(public_rate_limit=1, trusted_proxies=1)
    for client_ip in ("10.9.0.1", "10.9.0.2"):
        assert proxied.get(url, headers={"X-Forwarded-For": client_ip}).status_code == 200
    assert proxied.get(url, headers={"X-Forwarded-For": "10.9.0.1"}).status_code == 429


def test_the_page_escapes_the_query_and_feed_text(client, store, net):
    seed(store, net)
    hostile = client.get("/public?name=<script>alert(1)</script>")
    html = hostile.get_data(as_text=True)
    assert hostile.status_code == 404
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = client.get(f"/public?name={ROAD}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert PHONE not in html and "138****5678" in html
    assert "拥堵" in html and "东岳大街(青年路—通天街)" in html and "数据时间" in html
    assert "<script" not in html                        # no JavaScript on the page at all
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_public_routes_need_no_login_even_with_a_wall_token(make_client, store, net):
    seed(store, net)
    c = make_client(wall_token="kiosk-secret")
    assert c.get("/wall").status_code == 403                               # still guarded
    assert c.get(f"/public?name={ROAD}").status_code == 200
    assert c.get(f"/api/v1/public/roads?name={ROAD}").status_code == 200


def test_redis_down_answers_503(settings):
    svc = Services.open(settings, start_embedded=False)
    svc.handle.client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                     retry=Retry(NoBackoff(), 0))
    app = create_app(settings, svc=svc)
    c = app.server.test_client()
    resp = c.get(f"/api/v1/public/roads?name={ROAD}")
    assert resp.status_code == 503 and "unreachable" in resp.get_json()["error"]
    page = c.get(f"/public?name={ROAD}")
    assert page.status_code == 503 and "暂时无法获取" in page.get_data(as_text=True)
    svc.close()
