"""/login and /logout through the real app (Flask test client, real Redis): the same-origin
check, the ``next`` target, the known-client cookie, the Secure flag, the logout form."""
from dataclasses import replace

import pytest
from flask import session as flask_session

import app as lukuang_app
from app import create_app
from dashboard.auth import User, add_user, list_sessions
from dashboard.web.session import CLIENT_COOKIE, current_user, safe_next

pytestmark = pytest.mark.topologies("single")

PW = "correct horse battery"
HERE = {"Origin": "http://localhost"}


def make_server(settings, r, keys, **changes):
    app = create_app(replace(settings, **changes))
    add_user(r, keys, "li.wei", "officer", PW)
    return app.server


@pytest.fixture
def server(settings, r, keys):
    srv = make_server(settings, r, keys)
    yield srv
    srv.config["LUKUANG"].close()


def login(client, password=PW, next_="/dispatch", headers=HERE, **form):
    return client.post("/login", data={"username": "li.wei", "password": password,
                                       "next": next_, **form}, headers=headers)


def test_a_same_origin_login_makes_a_session_and_remembers_the_browser(server, r, keys):
    c = server.test_client()
    resp = login(c)
    assert resp.status_code == 302 and resp.headers["Location"] == "/dispatch"
    assert len(list_sessions(r, keys, "li.wei")) == 1
    assert c.get_cookie(CLIENT_COOKIE) is not None
    cookie = c.get_cookie("session").value
    with server.test_request_context(headers={"Cookie": f"session={cookie}"}):
        server.preprocess_request()
        assert current_user() == User("li.wei", "officer")
    # the Referer alone (a browser that sends no Origin) is enough
    resp = login(server.test_client(), headers={"Referer": "http://localhost/login?next=/"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/dispatch"


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"}, {"Origin": "null"},
    {"Origin": "http://localhost.evil.example"},
    {"Referer": "https://evil.example/login"},
    {"Origin": "https://evil.example", "Referer": "http://localhost/login"},
    {},                                       # neither, and no token: refused too
])
def test_a_cross_site_login_is_refused_before_anything_happens(server, r, keys, headers):
    c = server.test_client()
    resp = login(c, headers=headers)
    assert resp.status_code == 403 and resp.mimetype == "text/plain"
    assert list_sessions(r, keys, "li.wei") == []
    assert "Set-Cookie" not in resp.headers
    assert r.keys(keys.login_pattern("li.wei")) == []    # not even counted as a try


def test_without_origin_or_referer_the_form_token_is_needed(server, r, keys):
    c = server.test_client()
    with c.session_transaction() as s:
        s["csrf"] = "token-of-this-browser"
    assert login(c, headers={}, csrf="another-token").status_code == 403
    resp = login(c, headers={}, csrf="token-of-this-browser")
    assert resp.status_code == 302 and resp.headers["Location"] == "/dispatch"
    assert len(list_sessions(r, keys, "li.wei")) == 1


def test_the_login_form_carries_the_browser_token_and_a_checked_next(server):
    with server.test_request_context("/login"):
        page = lukuang_app.login_page(next="/%09/evil.example/")
        token = flask_session["csrf"]
    inputs = {i.name: getattr(i, "value", None) for i in walk(page)
              if type(i).__name__ == "Input"}
    assert inputs["csrf"] == token and len(token) >= 20
    assert inputs["next"] == "/"


HOSTILE_NEXT = ["/%09/evil.example/", "/\t/evil.example/", "/%0d%0aSet-Cookie:%20x=1",
                "/\r\nSet-Cookie: x=1", "\\\\evil.example", "/\\evil.example",
                "https://evil.example/", "//evil.example", "///evil.example",
                "/%2F/evil.example", "/%5cevil.example", "javascript:alert(1)",
                " /dispatch", "/\u202e/evil", "http:/evil.example", "", "dispatch",
                "/" + "a" * 3000]


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_next_is_a_path_of_this_site_or_home(server, hostile):
    resp = login(server.test_client(), next_=hostile)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert safe_next(hostile) == "/"


def test_next_keeps_good_paths_normalised():
    assert safe_next("/dispatch") == "/dispatch"
    assert safe_next("/comms?period=2026-10") == "/comms?period=2026-10"
    assert safe_next("/public?name=东岳街") == "/public?name=%E4%B8%9C%E5%B2%B3%E8%A1%97"
    assert safe_next("/a/../dispatch") == "/dispatch"
    assert safe_next("/./%2e%2e/feeds/") == "/feeds/"
    assert safe_next("/.//evil.example") == "/evil.example"
    assert safe_next("/dispatch#frag") == "/dispatch"
    assert safe_next(None) == "/"


def test_a_failed_login_goes_back_to_the_form_with_the_checked_next(server):
    resp = login(server.test_client(), password="wrong password", next_="//evil.example")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?error=")
    assert resp.headers["Location"].endswith("&next=/")


def test_an_attacker_at_the_owners_address_cannot_lock_the_owners_browser(server):
    owner = server.test_client()   # both at 127.0.0.1 (one NAT)
    assert login(owner).status_code == 302          # the owner's browser is now known
    attacker = server.test_client()
    for _ in range(5):
        assert "wrong" in login(attacker, password="guess-guess").headers["Location"]
    assert "too%20many" in login(attacker).headers["Location"]   # locked, even the password
    resp = login(owner)
    assert resp.status_code == 302 and resp.headers["Location"] == "/dispatch"
    # a cookie that is not ours makes nobody known
    forger = server.test_client()
    forger.set_cookie(CLIENT_COOKIE, owner.get_cookie(CLIENT_COOKIE).value + "x")
    assert "too%20many" in login(forger).headers["Location"]


def test_logout_is_a_same_origin_post_that_ends_the_server_session(server, r, keys):
    c = server.test_client()
    login(c)
    assert c.get("/logout").status_code == 405
    assert c.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.post("/logout").status_code == 403      # no Origin, Referer nor token
    assert len(list_sessions(r, keys, "li.wei")) == 1 and c.get_cookie("session")
    resp = c.post("/logout", headers=HERE)
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert list_sessions(r, keys, "li.wei") == [] and c.get_cookie("session") is None
    # the logout form's token works for a browser that sends no Origin
    login(c)
    with c.session_transaction() as s:
        token = s["csrf"]
    assert c.post("/logout", data={"csrf": token}).status_code == 302
    assert list_sessions(r, keys, "li.wei") == []


def walk(node):
    yield node
    kids = getattr(node, "children", None)
    for kid in kids if isinstance(kids, (list, tuple)) else [kids] if kids is not None else []:
        yield from walk(kid)


def test_every_desk_page_says_who_is_logged_in_with_a_logout_form(server, r, keys):
    add_user(r, keys, "admin1", "admin", PW)
    c = server.test_client()
    c.post("/login", data={"username": "admin1", "password": PW}, headers=HERE)
    cookie = c.get_cookie("session").value
    for name, path, permission, _title in lukuang_app.PAGES:
        with server.test_request_context(path, headers={"Cookie": f"session={cookie}"}):
            server.preprocess_request()
            page = lukuang_app.guarded(permission, name)()
            token = flask_session["csrf"]
        forms = [n for n in walk(page) if type(n).__name__ == "Form"]
        if name == "wall":      # the kiosk screen has no nav bar
            assert forms == []
            continue
        assert len(forms) == 1, path
        form = forms[0]
        assert form.action == "/logout" and form.method == "POST"
        text = " ".join(str(n) for n in walk(form) if isinstance(n, str))
        assert "admin1" in text and "退出" in text
        hidden = [n for n in walk(form) if getattr(n, "name", None) == "csrf"]
        assert hidden[0].value == token
    # nobody logged in: no bar
    with server.test_request_context("/"):
        server.preprocess_request()
        assert not [n for n in walk(lukuang_app.home_page()) if type(n).__name__ == "Form"]


def cookie_flags(resp, name):
    for header in resp.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return {p.strip().split("=")[0].lower() for p in header.split(";")[1:]}, header
    raise AssertionError(f"no {name} cookie in {resp.headers.getlist('Set-Cookie')}")


@pytest.mark.parametrize("mode, trusted, url, proto, secure", [
    ("auto", 0, "http://localhost", None, False),
    ("auto", 0, "https://localhost", None, True),
    ("auto", 0, "http://localhost", "https", False),   # X-Forwarded-Proto not trusted
    ("auto", 1, "http://localhost", "https", True),    # ... unless behind a trusted proxy
    ("on", 0, "http://localhost", None, True),
    ("off", 0, "https://localhost", None, False),
])
def test_cookies_are_secure_as_configured_and_always_samesite(settings, r, keys, mode,
                                                              trusted, url, proto, secure):
    srv = make_server(settings, r, keys, cookie_secure=mode, trusted_proxies=trusted)
    try:
        c = srv.test_client()
        headers = {"Origin": url, **({"X-Forwarded-Proto": proto} if proto else {})}
        resp = c.post("/login", base_url=url, headers=headers,
                      data={"username": "li.wei", "password": PW, "next": "/"})
        assert resp.status_code == 302 and resp.headers["Location"] == "/"
        for name in ("session", CLIENT_COOKIE):
            flags, header = cookie_flags(resp, name)
            assert ("secure" in flags) == secure, header
            assert "httponly" in flags and "SameSite=Strict" in header, header
    finally:
        srv.config["LUKUANG"].close()
