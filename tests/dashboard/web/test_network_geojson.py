"""GET /api/v1/network.geojson through Flask's test client: the wall's road geometry, once
per network: gzip, ETag = network key, immutable for the versioned URL, 304 on revalidation,
and the wall's access rule (kiosk token, or a session with view_wall)."""
import gzip
import json
from dataclasses import replace

import pytest

from app import create_app
from dashboard.auth import add_user
from dashboard.live import wall as W

pytestmark = pytest.mark.topologies("single")

TOKEN = "geo-token"


@pytest.fixture
def app(settings):
    a = create_app(replace(settings, wall_token=TOKEN))
    yield a
    a.server.config["LUKUANG"].close()


@pytest.fixture
def key(app):
    return W.net_geom(app.server.config["LUKUANG"].network).key


def test_the_versioned_geometry_is_gzipped_and_cached_for_good(app, key):
    c = app.server.test_client()
    resp = c.get(f"/api/v1/network.geojson?v={key}&token={TOKEN}",
                 headers={"Accept-Encoding": "gzip, deflate"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["ETag"] == f'"{key}"' and "Accept-Encoding" in resp.headers["Vary"]
    assert resp.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    body = json.loads(gzip.decompress(resp.data))
    geom = W.net_geom(app.server.config["LUKUANG"].network)
    feats = body["features"]
    assert [f["id"] for f in feats] == list(range(1, len(geom.ids) + 1))
    assert all(set(f["properties"]) == {"r"} for f in feats)
    assert len(resp.data) * 3 < len(gzip.decompress(resp.data))
    again = c.get(f"/api/v1/network.geojson?v={key}&token={TOKEN}",
                  headers={"If-None-Match": f'"{key}"'})
    assert again.status_code == 304 and again.data == b""
    # another version asked for: the current geometry, revalidated every time
    old = c.get(f"/api/v1/network.geojson?v=older&token={TOKEN}")
    assert old.status_code == 200 and old.headers["Cache-Control"] == "no-cache"
    assert "Content-Encoding" not in old.headers and json.loads(old.data) == body


def test_the_geometry_needs_the_wall_token_or_a_wall_role(app, key):
    c = app.server.test_client()
    assert c.get(f"/api/v1/network.geojson?v={key}").status_code == 401
    assert c.get(f"/api/v1/network.geojson?v={key}&token=nope").status_code == 401
    # the page's token through the Referer (as for the wall's callbacks)
    ok = c.get(f"/api/v1/network.geojson?v={key}",
               headers={"Referer": f"http://localhost/wall?token={TOKEN}"})
    assert ok.status_code == 200
    svc = app.server.config["LUKUANG"]
    add_user(svc.r, svc.keys, "aux1", "aux", "correct horse battery")
    resp = c.post("/login", data={"username": "aux1", "password": "correct horse battery",
                                  "next": "/"}, headers={"Origin": "http://localhost"})
    assert resp.status_code == 302
    assert c.get(f"/api/v1/network.geojson?v={key}").status_code == 200
