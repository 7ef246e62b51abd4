"""Conditional GET (dashboard.web.conditional) alone in a bare Flask app, and through the two
routes that use it: /api/v1/events (weak tags) and /api/v1/public/roads (strong tags)."""
import pytest
from flask import Flask

from app import create_app
from dashboard.web.conditional import conditional_response

pytestmark = pytest.mark.topologies("single")

TAG = "12.345.abcdef"


@pytest.fixture
def bare():
    built = []
    server = Flask(__name__)

    @server.get("/strong")
    def strong():
        return conditional_response(TAG, lambda: built.append(1) or "body", "text/plain",
                                    "public, max-age=5")

    @server.get("/weak")
    def weak():
        return conditional_response(TAG, lambda: "body", "text/plain", "public, max-age=5",
                                    weak=True)
    client = server.test_client()
    client.built = built
    return client


def status(client, path, header):
    return client.get(path, headers={"If-None-Match": header} if header is not None
                      else {}).status_code


def test_a_200_carries_the_tag_and_cache_control(bare):
    resp = bare.get("/strong")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "body"
    assert resp.headers["ETag"] == f'"{TAG}"'
    assert resp.headers["Cache-Control"] == "public, max-age=5"
    assert bare.get("/weak").headers["ETag"] == f'W/"{TAG}"'


@pytest.mark.parametrize("header", [f'"{TAG}"', f'W/"{TAG}"', f'"other", "{TAG}"',
                                    f'"other",W/"{TAG}" , "more"', "*"])
def test_a_matching_if_none_match_gets_304_without_a_body_or_a_build(bare, header):
    for path in ("/strong", "/weak"):
        resp = bare.get(path, headers={"If-None-Match": header})
        assert resp.status_code == 304 and resp.get_data() == b"", (path, header)
        assert resp.headers["ETag"].endswith(f'"{TAG}"')
        assert resp.headers["Cache-Control"] == "public, max-age=5"
    assert bare.built == []


@pytest.mark.parametrize("header", [
    None, "", f'"x{TAG}x"', f'W/"x{TAG}x"', f'"{TAG}x"', f'x"{TAG}"', f'xW/"{TAG}"',
    f'W/"{TAG}"-old', '"other"', f'"{TAG[:-1]}"',
])
def test_another_tag_gets_200_even_when_it_contains_the_real_one(bare, header):
    assert status(bare, "/strong", header) == 200, header
    assert status(bare, "/weak", header) == 200, header


# -- the routes ------------------------------------------------------------------------------
@pytest.fixture
def client(settings):
    app = create_app(settings)
    yield app.server.test_client()
    app.server.config["LUKUANG"].close()


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/public/roads?name=东岳大街"])
def test_routes_answer_304_only_for_their_own_tag(client, store, path):
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["ETag"]                       # W/"…" for the API, "…" for /public
    opaque = etag.removeprefix("W/").strip('"')
    for same in (etag, f'"{opaque}"', f'W/"{opaque}"', f'"nope", {etag}', "*"):
        again = client.get(path, headers={"If-None-Match": same})
        if again.headers["ETag"] != etag:              # the minute turned between the two
            continue
        assert again.status_code == 304 and again.get_data() == b"", same
    # a different tag that contains the real one (once a substring test answered 304)
    for other in (f'"x{opaque}x"', f"x{etag}", f"{etag}x", f'W/"{opaque}0"'):
        resp = client.get(path, headers={"If-None-Match": other})
        assert resp.status_code == 200 and resp.get_data(), other
