"""Flask glue for accounts: who is asking, permission checks, login/logout, security headers.

Dash callbacks are reachable by POST whatever the page shows, so every callback and API
route calls ``require(permission)`` itself; hiding a link is not a check.
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Callable

from flask import Flask, abort, current_app, g, has_request_context, redirect, request, \
    session
from werkzeug.exceptions import Forbidden, Unauthorized

from dashboard.auth import AuthError, User, authenticate, create_session, end_session, has_permission, \
    session_user

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
       "worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
MAX_REQUEST_BYTES = 2 * 1024 * 1024
KIOSK_USER = "wall-display"


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


def install(server: Flask, get_services: Callable[[], object]) -> None:
    """Sessions, size limits, security headers, and the /login and /logout routes."""
    svc = get_services()
    server.secret_key = secret_key(svc.settings.state_dir, svc.settings.secret_key)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                         MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
                         PERMANENT_SESSION_LIFETIME=int(svc.settings.session_hours * 3600))

    @server.before_request
    def _who():
        g.lk_services = get_services()

    @server.after_request
    def _headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cache-Control"] = resp.headers.get("Cache-Control", "no-store")
        return resp

    @server.post("/login")
    def _login():
        s = get_services()
        name = request.form.get("username", "")
        nxt = request.form.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        try:
            user = authenticate(s.r, s.keys, name, request.form.get("password", ""),
                                client=request.remote_addr or "")
        except AuthError as exc:
            from urllib.parse import quote

            return redirect(f"/login?error={quote(str(exc))}&next={quote(nxt)}")
        end_session(s.r, s.keys, session.get("sid"))
        session.clear()
        session["sid"] = create_session(s.r, s.keys, user, s.settings.session_hours)
        session.permanent = True
        return redirect(nxt)

    @server.route("/logout", methods=["GET", "POST"])
    def _logout():
        s = get_services()
        end_session(s.r, s.keys, session.get("sid"))
        session.clear()
        return redirect("/login")
