"""Production configuration: no debug anywhere, and request size limits that hold.

- ``create_app()`` (even with FLASK_DEBUG=1 in the environment): Flask debug off, no
  Werkzeug debugger, Dash dev tools (UI, hot reload, dev bundles, props check) off, the
  page's ``_dash-config`` says so, and ``/_reload-hash`` is not served.
- ``lukuang run``'s gunicorn command line (``app.web_argv``) has no reload/debug and sets
  the request-line and header limits; a real gunicorn started with it answers an over-long
  request line with 414, too many or too large header fields with 431, a body over
  Flask's MAX_CONTENT_LENGTH with 413, and serves no debugger resource.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from dataclasses import replace

import httpx
import pytest

import app as lukuang_app
from bench.common import stop_process, wait_http
from dashboard.web import session

from .conftest import REPO

OVER = session.MAX_REQUEST_BYTES + 1024


def _fresh_app(settings):
    from .callbacks.test_roles import register_every_callback

    register_every_callback()
    return lukuang_app.create_app(settings)


def _dash_config(html: str) -> dict:
    m = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html,
                  re.S)
    assert m, "no _dash-config in the page"
    return json.loads(m.group(1))


def test_create_app_has_no_debug_and_limits_bodies(settings, monkeypatch):
    from werkzeug.debug import DebuggedApplication

    monkeypatch.setenv("FLASK_DEBUG", "1")   # an operator's stray variable changes nothing
    dash_app = _fresh_app(replace(settings, wall_token=""))
    server = dash_app.server
    try:
        assert server.debug is False and server.config["DEBUG"] is False
        assert not isinstance(server.wsgi_app, DebuggedApplication)
        dev = dash_app._dev_tools
        assert not dev.ui and not dev.hot_reload and not dev.serve_dev_bundles \
            and not dev.props_check
        c = server.test_client()
        assert c.get("/_reload-hash").status_code == 404
        page = c.get("/login")
        assert page.status_code == 200
        config = _dash_config(page.get_data(as_text=True))
        assert config.get("ui") is False and "hot_reload" not in config
        assert server.config["MAX_CONTENT_LENGTH"] == session.MAX_REQUEST_BYTES
        big = b"x" * OVER
        assert c.post("/login", data=big,
                      content_type="application/x-www-form-urlencoded").status_code == 413
        assert c.post("/_dash-update-component", data=big,
                      content_type="application/json").status_code == 413
        # just under the limit is read (and refused for what it is, not for its size)
        small = c.post("/_dash-update-component", data=b"x" * 1000,
                       content_type="application/json")
        assert small.status_code == 400
    finally:
        server.config["LUKUANG"].close()


def test_web_argv_has_no_reload_and_sets_limits():
    argv = lukuang_app.web_argv("127.0.0.1", 8050, 2)
    joined = " ".join(argv)
    for flag in ("--reload", "--debug", "--spew", "--check-config"):
        assert flag not in argv, flag
    assert "app:server" in argv
    assert f"--limit-request-line {lukuang_app.LIMIT_REQUEST_LINE}" in joined
    assert f"--limit-request-fields {lukuang_app.LIMIT_REQUEST_FIELDS}" in joined
    assert f"--limit-request-field_size {lukuang_app.LIMIT_REQUEST_FIELD_SIZE}" in joined
    assert 0 < lukuang_app.LIMIT_REQUEST_LINE <= 8190
    assert 0 < lukuang_app.LIMIT_REQUEST_FIELDS <= 100
    assert 0 < lukuang_app.LIMIT_REQUEST_FIELD_SIZE <= 16384


def _raw(port: int, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes, return (status, response head)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    assert m, data[:200]
    return int(m.group(1)), data[:300]


@pytest.fixture
def gunicorn_run(redis_url, keys, tmp_path):
    """A real gunicorn started with ``lukuang run``'s command line (one worker, loopback),
    FLASK_DEBUG=1 in its environment. Yields the port; stopped by PID."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = lukuang_app.web_argv("127.0.0.1", port, 1)
    env = {**os.environ, "REDIS_URL": redis_url, "LUKUANG_KEY_PREFIX": keys.prefix,
           "LUKUANG_STATE_DIR": str(tmp_path / "state"), "LUKUANG_SECRET_KEY": "sec-test",
           "FLASK_DEBUG": "1"}
    env.pop("LUKUANG_CONFIG", None)
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, 60, tmp_path / "gunicorn.log")
        yield port
    finally:
        stop_process(proc, timeout=15)
        log.close()


def test_real_gunicorn_enforces_limits_and_serves_no_debugger(gunicorn_run):
    port = gunicorn_run
    base = f"http://127.0.0.1:{port}"
    ok, _ = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert ok == 200
    # request line over the limit
    path = "/login?x=" + "a" * (lukuang_app.LIMIT_REQUEST_LINE + 100)
    status, head = _raw(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status in (400, 414), head
    # too many header fields, and one too large
    many = "".join(f"X-F{i}: v\r\n" for i in range(lukuang_app.LIMIT_REQUEST_FIELDS + 5))
    status, head = _raw(port, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    assert status in (400, 431), head
    big = "X-Big: " + "b" * (lukuang_app.LIMIT_REQUEST_FIELD_SIZE + 100) + "\r\n"
    status, head = _raw(port, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{big}\r\n".encode())
    assert status in (400, 431), head
    # a body over MAX_CONTENT_LENGTH is refused from its Content-Length, before it is read
    # (a client still sending it then sees the connection close after the 413)
    for target, ctype in (("/login", "application/x-www-form-urlencoded"),
                          ("/_dash-update-component", "application/json")):
        status, head = _raw(port, (f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                   f"{ctype}\r\nContent-Length: {OVER}\r\n\r\n").encode()
                            + b"u" * 65536)
        assert status == 413, head
    with httpx.Client(base_url=base, timeout=30) as c:
        # no development tools
        assert c.get("/_reload-hash").status_code == 404
        dbg = c.get("/login", params={"__debugger__": "yes", "cmd": "resource",
                                      "f": "debugger.js"})
        assert "text/javascript" not in dbg.headers.get("content-type", "")
        # the ordinary page comes back: no debugger intercepts ?__debugger__=
        assert b"Werkzeug Debugger" not in dbg.content and b"DashRenderer" in dbg.content
        # the page reflects its URL into meta tags: escaped, never markup
        hostile = '"><script>window.__xss=1</script><img src=x onerror=alert(1)>'
        reflected = c.get("/login", params={"next": hostile})
        assert reflected.status_code == 200
        assert b"<script>window.__xss" not in reflected.content
        assert b"<img src=x" not in reflected.content
        page = c.get("/login")
        config = _dash_config(page.text)
        assert config.get("ui") is False and "hot_reload" not in config
        bad = c.post("/_dash-update-component", content=b"{not json",
                     headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and b"Traceback" not in bad.content
