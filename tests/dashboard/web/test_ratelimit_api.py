"""Issue 15: anonymous calls to ``/api/v1/*`` are limited per client as the public query is
(``api_rate_limit`` per ``api_rate_window_s``; 429 with ``Retry-After``); a logged-in user's
are not."""
from __future__ import annotations

from dataclasses import replace

import pytest

from app import create_app
from dashboard.auth import User, add_user, create_session

pytestmark = pytest.mark.topologies("single", "cluster")


@pytest.fixture
def app(settings):
    a = create_app(replace(settings, api_rate_limit=5, api_rate_window_s=60))
    yield a
    a.server.config["LUKUANG"].close()


def test_anonymous_api_calls_over_the_limit_get_429_with_retry_after(app, r, keys):
    c = app.server.test_client()
    paths = ["/api/v1/events", "/api/v1/incidents", "/api/v1/congestion", "/api/v1/feeds",
             "/api/v1/openapi.json"]
    assert [c.get(p).status_code for p in paths] == [200] * 5   # every route counts
    over = c.get("/api/v1/events?_=1")
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert over.headers["Cache-Control"] == "no-store"
    assert "too many requests" in over.get_json()["error"]
    # another client (address) has its own count
    other = c.get("/api/v1/events", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200
    assert r.get(keys.rate("api", "127.0.0.1")) == "6"


def test_a_logged_in_user_is_not_limited(app, r, keys):
    add_user(r, keys, "li.officer", "officer", "correct-horse-1")
    sid = create_session(r, keys, User("li.officer", "officer"), 1)
    c = app.server.test_client()
    with c.session_transaction() as sess:
        sess["sid"] = sid
    assert [c.get("/api/v1/events").status_code for _ in range(8)] == [200] * 8


def test_the_public_road_query_keeps_its_own_limit(app):
    """/api/v1/public/roads is counted by its own limiter (public_rate_limit), not twice."""
    c = app.server.test_client()
    statuses = [c.get("/api/v1/public/roads?name=东岳大街").status_code for _ in range(8)]
    assert 429 not in statuses
