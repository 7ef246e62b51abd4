"""Flask glue for accounts: who is asking, permission checks, login/logout, security headers.

Dash callbacks are reachable by POST whatever the page shows, so every callback and API
route calls ``require(permission)`` itself; hiding a link is not a check.
"""
from __future__ import annotations

import hmac
import secrets
import unicodedata
from pathlib import Path
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

from flask import Flask, Response, abort, current_app, g, has_request_context, redirect, \
    request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import Forbidden, Unauthorized
from werkzeug.urls import iri_to_uri

from dashboard.auth import AuthError, LoginPolicy, User, authenticate, create_session, \
    end_session, has_permission, session_user

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
       "worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
MAX_REQUEST_BYTES = 2 * 1024 * 1024
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
STATIC_CACHE = "public, max-age=3600"
KIOSK_USER = "wall-display"
# the browser's "known client" cookie (see ``login_client``): signed, long-lived
CLIENT_COOKIE = "lk_client"
CLIENT_COOKIE_MAX_AGE = 400 * 24 * 3600
CLIENT_KNOWN_USERS = 8
NEXT_MAX_CHARS = 2000


def secret_key(state_dir: Path, configured: str = "") -> str:
    """The configured key, else one generated once and kept in the state directory."""
    if configured:
        return configured
    path = Path(state_dir) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key


def services():
    """This worker's ``dashboard.services.Services`` (put there by app.create_app)."""
    return current_app.config["LUKUANG"]


def current_user() -> User | None:
    """The user behind this request: a session, or the wall kiosk token (role ``wall``)."""
    if "lk_user" in g:
        return g.lk_user
    svc = g.get("lk_services")
    user = None
    if svc is not None:
        user = session_user(svc.r, svc.keys, session.get("sid"))
        g.lk_session_user = user is not None
        if user is None and wall_token_ok(svc.settings.wall_token):
            user = User(KIOSK_USER, "wall")
    g.lk_user = user
    return user


def wall_token_ok(configured: str, supplied: str | None = None) -> bool:
    """Kiosk access to the wall, the one check of the kiosk token: no token configured →
    open; otherwise ``supplied`` must match (compared in constant time). Without
    ``supplied``, the token comes from this request: its ``?token=`` (the page), else the
    ``?token=`` of its Referer (the page's callback POSTs)."""
    if not configured:
        return True
    if supplied is None:
        supplied = request.args.get("token", "")
        if not supplied and request.referrer:
            from urllib.parse import parse_qs, urlparse

            supplied = (parse_qs(urlparse(request.referrer).query).get("token") or [""])[0]
    return hmac.compare_digest(supplied.encode(), configured.encode())


def flag_bad_input(problem: str) -> None:
    """Mark this request's input as malformed: ``require`` refuses it with 400 once the
    permission check has passed (so a caller without the permission still gets 401/403)."""
    g.lk_bad_input = problem


def require(permission: str) -> User:
    """Abort with 401 (nobody) or 403 (wrong role) unless the caller holds ``permission``;
    then with 400 when the request's input was flagged malformed."""
    user = current_user()
    if user is None:
        abort(401)
    if not has_permission(user.role, permission):
        abort(403)
    refuse_flagged_input()
    return user


def check(user: User | None, permission: str, *, anonymous: str = "log in first",
          forbidden: str = "") -> None:
    """Raise 401 (no user) or 403 (``user`` lacks ``permission``): for the plain functions
    behind callbacks, which take the user as an argument. ``anonymous`` and ``forbidden``
    are the messages (default: which permission is missing)."""
    if user is None:
        raise Unauthorized(anonymous)
    if not user.can(permission):
        raise Forbidden(forbidden or f"role {user.role!r} lacks {permission}")


def check_wall_access(configured: str, supplied: str, user: User | None) -> None:
    """Raise 403 unless the caller may see the wall: a logged-in user with ``view_wall``,
    or the kiosk ``supplied`` token matching the ``configured`` one (none configured: open)."""
    if user is not None and user.can("view_wall"):
        return
    if not wall_token_ok(configured, supplied):
        raise Forbidden("wall token missing or wrong")


def refuse_flagged_input() -> None:
    """Abort with 400 when this request's input was flagged malformed (``flag_bad_input``);
    for callbacks that check access themselves, call it after that check."""
    if has_request_context() and g.get("lk_bad_input"):
        abort(400, description=g.lk_bad_input)


def cookie_secure(mode: str) -> bool:
    """The Secure flag of this response's cookies: ``on``, ``off``, or ``auto``: when this
    request came over HTTPS (``request.is_secure``; behind ``trusted_proxies`` reverse
    proxies, as their X-Forwarded-Proto says: ProxyFix in app.py)."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return has_request_context() and request.is_secure


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the Secure flag decided per request."""

    def __init__(self, mode: str):
        self.mode = mode

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookie_secure(self.mode)


def _bad_char(ch: str) -> bool:
    return ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in "CZ"


def safe_next(raw: str | None) -> str:
    """Where to go after logging in: ``raw`` when it is a path of this site, else ``/``.

    Refused: a control, format or space character or a backslash anywhere (browsers drop
    tabs and newlines and read ``\\`` as ``/``, so ``/<TAB>/evil`` or ``/\\evil`` would be
    ``//evil``: another host), a scheme or host, and anything that does not start with one
    ``/``, as sent or percent-decoded. Empty and dot segments are removed."""
    if not raw or len(raw) > NEXT_MAX_CHARS:
        return "/"
    for text in (raw, unquote(raw)):
        if any(_bad_char(ch) for ch in text) or not text.startswith("/") \
                or text.startswith("//"):
            return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return "/"
    segments: list[str] = []
    for seg in parts.path.split("/"):
        plain = unquote(seg)
        if plain in ("", "."):
            continue
        if plain == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    path = "/" + "/".join(segments)
    if segments and parts.path.endswith("/"):
        path += "/"
    if parts.query:
        path += "?" + parts.query
    return iri_to_uri(path)


def _host_key(url: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """``host[:port]`` of a URL, lower case, without a default port; None when it has no
    host or its scheme is not one of ``schemes``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in schemes or not parts.hostname:
        return None
    return parts.hostname.lower() + (f":{port}" if port not in (None, 80, 443) else "")


def same_origin() -> bool:
    """True when this POST was sent by a page of this site (against login and logout CSRF):
    its ``Origin`` names this host; without an Origin, its ``Referer`` does; without either
    (an old browser, a script), the form's ``csrf`` field matches this browser's token
    (``csrf_token``: in the login and logout forms, kept in the session cookie, which is
    SameSite=Strict and so never sent with another site's form). Behind a reverse proxy the
    proxy must pass the Host header (or X-Forwarded-Host with ``trusted_proxies``)."""
    here = _host_key("//" + request.host, schemes=("",))
    origin = request.headers.get("Origin")
    if origin is not None:
        return here is not None and _host_key(origin) == here
    referer = request.headers.get("Referer")
    if referer:
        return here is not None and _host_key(referer) == here
    expected = session.get("csrf") or ""
    supplied = request.form.get("csrf") or ""
    return bool(expected) and hmac.compare_digest(supplied.encode(), expected.encode())


def csrf_token() -> str:
    """This browser's token for the login and logout forms (made on first use, kept in its
    session cookie, new at each login); '' outside a request."""
    if not has_request_context():
        return ""
    token = session.get("csrf")
    if not token:
        # hex: a random token must never look like personal data to the PII checks
        # (urlsafe base64 can spell "wx" or "QQ" followed by an account-like run)
        token = session["csrf"] = secrets.token_hex(24)
    return token


def account() -> tuple[str, str] | None:
    """(user name, CSRF token) for a caller logged in with a session, for the "logged in as"
    bar and its logout form; None for anyone else (nobody, the wall kiosk)."""
    user = current_user()
    if user is None or not g.get("lk_session_user"):
        return None
    return user.name, csrf_token()


def _client_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="lk-client")


def _client_cookie() -> tuple[str, list[str]]:
    """(client id, accounts it logged in to) from this browser's signed ``lk_client``
    cookie; ("", []) when it has none or it is not ours."""
    try:
        data = _client_signer().loads(request.cookies.get(CLIENT_COOKIE, ""))
    except BadSignature:
        return "", []
    cid, users = (data.get("id"), data.get("users")) if isinstance(data, dict) else ("", [])
    if not isinstance(cid, str) or not isinstance(users, list):
        return "", []
    return cid, [u for u in users if isinstance(u, str)]


def login_client(name: str) -> tuple[str, bool]:
    """Who is trying to log in to account ``name``, for the counts of
    ``auth.authenticate``: (``known:<id>``, True) for a browser that logged in to that account
    before (its signed ``lk_client`` cookie, set at each login, names the account); else
    (``ip:<address>``, False), the address being the socket's peer or, with
    ``trusted_proxies``, the one the proxies put in X-Forwarded-For. A cookie cannot be
    forged without the secret key, and one from another account does not make a browser
    known to this one, so an attacker gets neither the owner's count nor its exemption."""
    cid, users = _client_cookie()
    if cid and (name or "").strip() in users:
        return f"known:{cid}", True
    return f"ip:{request.remote_addr or '-'}", False


def _remember_client(resp: Response, name: str, mode: str) -> None:
    cid, users = _client_cookie()
    users = [name, *[u for u in users if u != name]][:CLIENT_KNOWN_USERS]
    value = _client_signer().dumps({"id": cid or secrets.token_urlsafe(16), "users": users})
    resp.set_cookie(CLIENT_COOKIE, value, max_age=CLIENT_COOKIE_MAX_AGE, path="/",
                    httponly=True, samesite="Strict", secure=cookie_secure(mode))


def _cross_site() -> Response:
    return Response("403 Forbidden: this form must be sent from a page of this site\n", 403,
                    mimetype="text/plain")


def install(server: Flask, get_services: Callable[[], object]) -> None:
    """Sessions, size limits, security headers, and the /login and /logout routes."""
    svc = get_services()
    server.secret_key = secret_key(svc.settings.state_dir, svc.settings.secret_key)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                         MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
                         PERMANENT_SESSION_LIFETIME=int(svc.settings.session_hours * 3600))
    server.session_interface = _CookieSessions(svc.settings.cookie_secure)

    @server.before_request
    def _who():
        g.lk_services = get_services()

    @server.after_request
    def _headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        if request.path.startswith(STATIC_PREFIXES):
            # scripts and styles (the same for everyone) are kept for an hour, then
            # revalidated by ETag (Dash and Flask say "no-cache": revalidate every time),
            # so a login does not ask for plotly.js again (Dash loads it by an unversioned
            # URL); fingerprinted files keep Dash's year
            if resp.headers.get("Cache-Control", "no-cache") == "no-cache":
                resp.headers["Cache-Control"] = STATIC_CACHE
        elif "Cache-Control" not in resp.headers:
            # everything else, which may hold a user's data, is never stored
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @server.post("/login")
    def _login():
        s = get_services()
        if not same_origin():
            return _cross_site()
        nxt = safe_next(request.form.get("next"))
        name = request.form.get("username", "")
        client, known = login_client(name)
        try:
            user = authenticate(s.r, s.keys, name, request.form.get("password", ""),
                                client=client, known=known,
                                policy=LoginPolicy.from_settings(s.settings))
        except AuthError as exc:
            return redirect(f"/login?error={quote(str(exc))}&next={quote(nxt)}")
        end_session(s.r, s.keys, session.get("sid"))
        session.clear()
        session["sid"] = create_session(s.r, s.keys, user, s.settings.session_hours,
                                        client=request.remote_addr or "")
        session["csrf"] = secrets.token_urlsafe(24)
        session.permanent = True
        resp = redirect(nxt)
        _remember_client(resp, user.name, s.settings.cookie_secure)
        return resp

    @server.post("/logout")
    def _logout():
        """End the server session and clear the cookie: a POST of this site only."""
        s = get_services()
        if not same_origin():
            return _cross_site()
        end_session(s.r, s.keys, session.get("sid"))
        session.clear()
        return redirect("/login")

    @server.get("/logout")
    def _logout_get():
        """A link (or an <img>) on another page must not log anyone out."""
        return Response("405 Method Not Allowed: log out with the button on the page\n", 405,
                        mimetype="text/plain", headers={"Allow": "POST"})
