"""Accounts, roles, permissions and server-side sessions, kept in Redis.

Roles: ``wall`` (read-only), ``aux`` (辅警: acknowledge and update status, masked data only),
``officer`` (dispatch, sees reporter contact details), ``comms``, ``admin``.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard.storage.keys import Keys

ROLES = ("wall", "aux", "officer", "comms", "admin")

# permission -> roles that hold it. Every callback and API route checks one of these.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_wall": frozenset(ROLES),
    "view_feeds": frozenset({"aux", "officer", "comms", "admin"}),
    "view_dispatch": frozenset({"aux", "officer", "admin"}),
    "acknowledge": frozenset({"aux", "officer", "admin"}),      # acknowledge, update status
    "dispatch": frozenset({"officer", "admin"}),                # verify, assign, merge, link, create
    "see_pii": frozenset({"officer", "admin"}),                 # phones, full plates, names, raw text
    "manage_units": frozenset({"officer", "admin"}),
    "view_comms": frozenset({"comms", "admin"}),
    "draft_bulletin": frozenset({"comms", "admin"}),
    "approve_bulletin": frozenset({"comms", "admin"}),
    "import_reach": frozenset({"comms", "admin"}),
    "view_audit": frozenset({"admin"}),
    "manage_users": frozenset({"admin"}),
}
RESTRICTED_ROLES = frozenset({"wall", "aux"})
MAX_FAILURES = 5
LOCKOUT_S = 900
_hasher = PasswordHasher()


class AuthError(ValueError):
    """A login or account operation failed; the message is safe to show."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, permission: str) -> bool:
        return has_permission(self.role, permission)

    @property
    def restricted(self) -> bool:
        return self.role in RESTRICTED_ROLES


def has_permission(role: str | None, permission: str) -> bool:
    """True when ``role`` holds ``permission``; unknown permissions are refused."""
    return role is not None and role in PERMISSIONS.get(permission, frozenset())


def validate_username(name: str) -> str:
    name = (name or "").strip()
    if not (1 <= len(name) <= 32) or not all(c.isalnum() or c in "._-" for c in name):
        raise AuthError("user name: 1-32 letters, digits, '.', '_' or '-'")
    return name


def add_user(r: redis.Redis, keys: Keys, name: str, role: str, password: str,
             replace: bool = False) -> User:
    """Create (or with ``replace`` reset) an account with an Argon2 password hash."""
    name = validate_username(name)
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if len(password) < 8:
        raise AuthError("password: at least 8 characters")
    fields = {"name": name, "role": role, "pw": _hasher.hash(password),
              "created_at": f"{time.time():.0f}"}
    if not replace and r.exists(keys.user(name)):
        raise AuthError(f"user {name!r} exists (use --replace to reset)")
    pipe = r.pipeline(transaction=True)
    pipe.hset(keys.user(name), mapping=fields)
    pipe.sadd(keys.users_index(), name)
    pipe.execute()
    return User(name, role)


def list_users(r: redis.Redis, keys: Keys) -> list[User]:
    names = sorted(r.smembers(keys.users_index()))
    pipe = r.pipeline(transaction=False)
    for n in names:
        pipe.hget(keys.user(n), "role")
    return [User(n, role) for n, role in zip(names, pipe.execute()) if role]


def authenticate(r: redis.Redis, keys: Keys, name: str, password: str, client: str = "") -> User:
    """Check a password, with a lockout after repeated failures per user and per client."""
    name = (name or "").strip()[:64]
    counters = [keys.login_failures(f"user:{name}")]
    if client:
        counters.append(keys.login_failures(f"client:{client}"))
    if any(int(r.get(k) or 0) >= MAX_FAILURES for k in counters):
        raise AuthError("too many failed logins; try again in 15 minutes")
    h = r.hgetall(keys.user(name)) if name else {}
    ok = False
    if h.get("pw"):
        try:
            ok = _hasher.verify(h["pw"], password or "")
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash("timing-equaliser")  # unknown user costs the same as a wrong password
    if not ok:
        pipe = r.pipeline(transaction=False)
        for k in counters:
            pipe.incr(k)
            pipe.expire(k, LOCKOUT_S)
        pipe.execute()
        raise AuthError("wrong user name or password")
    r.delete(*counters)
    return User(name, h["role"])


def create_session(r: redis.Redis, keys: Keys, user: User, hours: float) -> str:
    """A new random session id, valid for ``hours`` on the server side."""
    sid = secrets.token_urlsafe(32)
    pipe = r.pipeline(transaction=True)
    pipe.hset(keys.session(sid), mapping={"user": user.name, "role": user.role,
                                          "created_at": f"{time.time():.0f}"})
    pipe.expire(keys.session(sid), int(hours * 3600))
    pipe.execute()
    return sid


def session_user(r: redis.Redis, keys: Keys, sid: str | None) -> User | None:
    """The user of a live session; the role is re-read so a changed role applies at once."""
    if not sid or len(sid) > 100:
        return None
    h = r.hgetall(keys.session(sid))
    if not h:
        return None
    role = r.hget(keys.user(h["user"]), "role")
    return User(h["user"], role) if role else None


def end_session(r: redis.Redis, keys: Keys, sid: str | None) -> None:
    if sid:
        r.delete(keys.session(sid))
