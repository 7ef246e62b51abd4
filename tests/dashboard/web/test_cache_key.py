"""Issue 15: the API's shared cache is keyed by what a route reads, and bounded.

1,000 anonymous requests to ``/api/v1/events?limit=5000&_=<n>`` used to store 1,000 bodies
in Redis (one per distinct query string). Now the key is the parsed, canonical parameters
(``params.canonical``), so cache busters, spellings and order make one entry; and every
query-dependent body is stored within the API's budget (``api_cache_bytes``,
``api_cache_entries``), so distinct valid queries cannot grow it past that either.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from app import create_app
from dashboard.model import RoadEvent, validate
from dashboard.web.params import canonical

pytestmark = pytest.mark.topologies("single", "cluster")

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def seeded(store):
    store.upsert_events([validate(RoadEvent(
        id=f"ck:{i}", kind="incident", category="accident", severity=2, source="ck",
        observed_at=NOW - timedelta(minutes=5), lon=117.09 + i * 0.001, lat=36.19,
        district="泰山区", text=f"追尾 {i}")) for i in range(30)])
    return store


def _app(settings, **over):
    # the rate limit off: these tests count cache entries, not refusals
    return create_app(replace(settings, api_rate_limit=0, **over))


def _entries(r, keys) -> list[str]:
    return list(r.scan_iter(match=keys.cache("api:events:*"), count=1000))


def test_cache_busters_spellings_and_order_make_one_entry(settings, seeded, r, keys):
    app = _app(settings)
    try:
        c = app.server.test_client()
        bodies = set()
        for n in range(40):
            resp = c.get(f"/api/v1/events?limit=5000&_={n}")
            assert resp.status_code == 200
            bodies.add(resp.get_data(as_text=True))
        for query in ("limit=05000", "_=x&limit=5000", "limit=5000&_a=1&_b=2"):
            assert c.get(f"/api/v1/events?{query}").status_code == 200
        assert len(_entries(r, keys)) == 1
        assert len(bodies) == 1
        # what the route reads does make another entry
        assert c.get("/api/v1/events?limit=10").get_json()["count"] == 10
        assert c.get("/api/v1/events?limit=5000&kind=incident").status_code == 200
        assert len(_entries(r, keys)) == 3
    finally:
        app.server.config["LUKUANG"].close()


def test_distinct_valid_queries_stay_within_the_budget(settings, seeded, r, keys):
    app = _app(settings, api_cache_entries=10)
    try:
        c = app.server.test_client()
        for limit in range(1, 61):
            assert c.get(f"/api/v1/events?limit={limit}").get_json()["count"] == \
                min(limit, 30)
        assert len(_entries(r, keys)) == 10
        assert r.zcard(keys.cache("api@index")) == 10
    finally:
        app.server.config["LUKUANG"].close()


def test_the_byte_budget_bounds_the_bodies_stored(settings, seeded, r, keys):
    app = _app(settings, api_cache_bytes=40_000)
    try:
        c = app.server.test_client()
        for limit in range(1, 31):
            assert c.get(f"/api/v1/events?limit={limit}").status_code == 200
        stored = sum(len(r.get(k).encode()) for k in _entries(r, keys))
        assert 0 < stored <= 40_000
        assert len(_entries(r, keys)) < 30
    finally:
        app.server.config["LUKUANG"].close()


def test_canonical_writes_one_thing_one_way():
    t1 = datetime(2026, 10, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    t2 = datetime(2026, 10, 1, 0, 0, tzinfo=timezone.utc)
    assert canonical({"since": t1, "limit": 5, "kind": None}) == \
        canonical({"limit": 5, "since": t2}) == "limit=5&since=2026-10-01T00:00:00+00:00"
    assert canonical({"level": {3, 1}}) == canonical({"level": {1, 3}}) == "level=1,3"
    assert canonical({"bbox": (117.0, 36.1, 117.2, 36.3)}) == "bbox=117.0,36.1,117.2,36.3"
    assert canonical({"limit": 5}) != canonical({"limit": 50})
