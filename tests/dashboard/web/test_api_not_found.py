"""Unknown paths under /api/ answer a JSON 404 (any method), not the Dash page with 200;
the real API routes keep answering, and a known path asked with the wrong method keeps its
405. Through the real app's Flask test client."""
import pytest

from app import create_app

UNKNOWN = ["/api/v1/nope", "/api/v1/events/extra", "/api/v1/public/nope", "/api/v2/events",
           "/api/whatever", "/api/", "/api", "/api/v1/timeseriesx/cidx:city",
           "/api/v1/%3Cscript%3E"]


@pytest.fixture
def client(settings):
    app = create_app(settings)
    yield app.server.test_client()
    app.server.config["LUKUANG"].close()


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_unknown_api_path_is_a_json_404(client, path, method):
    resp = client.open(path, method=method)
    assert resp.status_code == 404, (method, path, resp.status_code)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "not found"
    assert body["path"] == resp.request.path
    assert "<html" not in resp.get_data(as_text=True).lower()


def test_head_and_options_of_an_unknown_api_path_are_404(client):
    assert client.head("/api/v1/nope").status_code == 404
    assert client.options("/api/v1/nope").status_code == 404


def test_the_path_is_returned_as_json_data_not_markup(client):
    resp = client.get("/api/v1/<b>x</b>")
    assert resp.status_code == 404 and resp.get_json()["path"] == "/api/v1/<b>x</b>"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/incidents", "/api/v1/roadworks",
                                  "/api/v1/congestion", "/api/v1/feeds",
                                  "/api/v1/openapi.json", "/api/v1/timeseries/cidx:city",
                                  "/api/v1/public/roads?road=东岳大街"])
def test_real_routes_still_answer(client, path):
    resp = client.get(path)
    assert resp.status_code in (200, 400), (path, resp.status_code, resp.get_data(as_text=True))
    assert resp.mimetype == "application/json"
    assert "not found" != (resp.get_json() or {}).get("error")


def test_network_geojson_and_audit_export_keep_their_routes(client):
    geo = client.get("/api/v1/network.geojson")
    assert geo.status_code in (200, 304) and geo.get_json()["type"] == "FeatureCollection"
    audit = client.get("/api/v1/audit.csv")   # needs a logged-in role: refused, not unknown
    assert audit.status_code in (401, 403)


def test_a_known_path_with_a_wrong_method_stays_405(client):
    resp = client.post("/api/v1/events")
    assert resp.status_code == 405
    assert "GET" in resp.headers["Allow"]
    assert resp.get_json()["error"] == "method not allowed"


def test_pages_outside_the_api_are_still_pages(client):
    for path in ("/", "/login", "/public", "/no-such-page"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == "text/html", path
    assert client.get("/healthz").get_json()["redis"] == "ok"
