"""Accounts, roles, permissions and server-side sessions, kept in Redis.

Roles: ``wall`` (read-only), ``aux`` (辅警: acknowledge and update status, masked data only),
``officer`` (dispatch, sees reporter contact details), ``comms``, ``admin``.

Logins are counted before the password is checked (``authenticate``: per account and client,
with a short backoff per account). Each user's sessions are listed in an index
(``list_sessions``, ``end_sessions``); a reset (new password or role) or a removal ends them
all, and an account generation in every session catches any the index does not list.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard.settings import Settings
from dashboard.storage.keys import Keys
from dashboard.storage.redis_compat import delete_matching

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
_hasher = PasswordHasher()


class AuthError(ValueError):
    """A login or account operation failed; the message is safe to show."""


class LoginRefused(AuthError):
    """A login refused before its password was checked (too many tries): ``retry_after`` is
    how many seconds until this client may try again."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed logins are let through, per account (see ``authenticate``).

    ``max_failures`` tries per (account, client) within ``lock_s`` of the last one; once the
    account has ``backoff_after`` failures from all clients, an unknown client waits
    1, 2, 4 … up to ``backoff_max_s`` seconds between its tries.
    """

    max_failures: int = 5
    lock_s: int = 900
    backoff_after: int = 10
    backoff_max_s: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> "LoginPolicy":
        return cls(max_failures=settings.login_max_failures, lock_s=settings.login_lock_s,
                   backoff_after=settings.login_backoff_after,
                   backoff_max_s=settings.login_backoff_max_s)

    def delay_s(self, failures: int) -> int:
        """The wait before a further try once the account has ``failures`` from all clients."""
        over = failures - self.backoff_after
        if over <= 0:
            return 0
        return min(self.backoff_max_s, 2 ** min(over - 1, 30))


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
    """Create (or with ``replace`` reset) an account with an Argon2 password hash. A reset
    (new password and role) ends every session of the account."""
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
    # the account's generation: a session made under an older one is no longer valid, even
    # one that the session index below does not list (made before there was an index)
    pipe.hincrby(keys.user(name), "gen", 1)
    pipe.sadd(keys.users_index(), name)
    pipe.execute()
    end_sessions(r, keys, name)
    return User(name, role)


def remove_user(r: redis.Redis, keys: Keys, name: str) -> int:
    """Delete an account, end its sessions and forget its failed logins; returns how many
    sessions were ended. Raises ``AuthError`` when there is no such account."""
    name = validate_username(name)
    pipe = r.pipeline(transaction=True)
    pipe.delete(keys.user(name))
    pipe.srem(keys.users_index(), name)
    if not any(pipe.execute()):
        raise AuthError(f"no user {name!r}")
    ended = end_sessions(r, keys, name)
    unlock(r, keys, name)
    return ended


def list_users(r: redis.Redis, keys: Keys) -> list[User]:
    names = sorted(r.smembers(keys.users_index()))
    pipe = r.pipeline(transaction=False)
    for n in names:
        pipe.hget(keys.user(n), "role")
    return [User(n, role) for n, role in zip(names, pipe.execute()) if role]


def authenticate(r: redis.Redis, keys: Keys, name: str, password: str, client: str = "",
                 known: bool = False, policy: LoginPolicy = LoginPolicy()) -> User:
    """Check a password. Every try is counted first, atomically, and the password is checked
    only if the count allows it, so parallel tries cannot get past the limits:

    * per (account, client): the ``policy.max_failures`` + 1st try within ``policy.lock_s``
      of the last one is refused (``LoginRefused``) without checking the password. An attacker
      elsewhere therefore never locks the owner's own client out.
    * per account: once it has ``policy.backoff_after`` failures from all clients, a client
      that is not ``known`` must wait ``policy.delay_s`` (1 s, doubling, at most
      ``backoff_max_s``) between its tries; the owner on a new machine waits at most that.

    ``client`` names the caller (the web layer passes ``known:<id>`` for a browser that has
    logged in to this account before, ``ip:<address>`` otherwise) and ``known`` says which.
    A success clears this client's count; ``users unlock`` clears all of the account's.
    A wrong password (or unknown user) raises ``AuthError``, a refused try ``LoginRefused``.
    """
    name = (name or "").strip()[:64]
    try:
        account = validate_username(name)
    except AuthError:   # never an account: all such tries share one set of counters
        account = ""
    who, client = account or "~", (client or "-")[:80]
    k_client, k_all = keys.login_failures(who, client), keys.login_failures_all(who)
    k_gate = keys.login_gate(who, client)
    pipe = r.pipeline(transaction=True)
    pipe.incr(k_client)
    pipe.expire(k_client, policy.lock_s)
    pipe.incr(k_all)
    pipe.expire(k_all, policy.lock_s)
    tries, _, all_tries, _ = pipe.execute()
    if tries > policy.max_failures:
        wait = max(1, int(r.ttl(k_client)))
        raise LoginRefused("too many failed logins from here; try again in "
                           f"{-(-wait // 60)} min or ask an admin to unlock", wait)
    delay = 0 if known else policy.delay_s(all_tries - 1)
    if delay and not r.set(k_gate, "1", px=delay * 1000, nx=True):
        wait = max(1, -(-int(r.pttl(k_gate)) // 1000))
        raise LoginRefused(f"too many failed logins on this account; try again in {wait} s",
                           wait)
    h = r.hgetall(keys.user(account)) if account else {}
    ok = False
    if h.get("pw"):
        try:
            ok = _hasher.verify(h["pw"], password or "")
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash("timing-equaliser")  # unknown user costs the same as a wrong password
    if not ok or not h.get("role"):
        raise AuthError("wrong user name or password")
    pipe = r.pipeline(transaction=True)
    pipe.delete(k_client, k_gate)
    pipe.decr(k_all)   # this try was no failure
    pipe.expire(k_all, policy.lock_s)
    if pipe.execute()[1] <= 0:
        r.delete(k_all)
    return User(account, h["role"])


def unlock(r: redis.Redis, keys: Keys, name: str) -> int:
    """Forget every failed login and wait of account ``name``; returns how many counters
    and waits were removed."""
    return delete_matching(r, keys.login_pattern(validate_username(name)))


def create_session(r: redis.Redis, keys: Keys, user: User, hours: float,
                   client: str = "") -> str:
    """A new random session id, valid for ``hours`` on the server side and listed in the
    user's session index; ``client`` (an address) is kept for ``list_sessions``."""
    sid = secrets.token_urlsafe(32)
    ttl = max(1, int(hours * 3600))
    gen = r.hget(keys.user(user.name), "gen") or "0"
    pipe = r.pipeline(transaction=True)
    pipe.hset(keys.session(sid), mapping={"user": user.name, "role": user.role, "gen": gen,
                                          "client": client[:80],
                                          "created_at": f"{time.time():.0f}"})
    pipe.expire(keys.session(sid), ttl)
    pipe.sadd(keys.user_sessions(user.name), sid)
    pipe.expire(keys.user_sessions(user.name), ttl)   # no session outlives the newest one
    pipe.execute()
    return sid


def session_user(r: redis.Redis, keys: Keys, sid: str | None) -> User | None:
    """The user of a live session; the role is re-read so a changed role applies at once.
    A session of a removed or reset account is ended here."""
    if not sid or len(sid) > 100:
        return None
    h = r.hgetall(keys.session(sid))
    if not h:
        return None
    role, gen = r.hmget(keys.user(h["user"]), "role", "gen")
    if not role or (gen or "0") != h.get("gen", "0"):
        end_session(r, keys, sid)
        return None
    return User(h["user"], role)


def end_session(r: redis.Redis, keys: Keys, sid: str | None) -> None:
    """End one session (nothing when it is already gone)."""
    if not sid or len(sid) > 100:
        return
    name = r.hget(keys.session(sid), "user")
    pipe = r.pipeline(transaction=True)
    pipe.delete(keys.session(sid))
    if name:
        pipe.srem(keys.user_sessions(name), sid)
    pipe.execute()


def session_label(sid: str) -> str:
    """A short name of a session for people (the id itself is a password: never shown)."""
    return hashlib.sha256(sid.encode()).hexdigest()[:12]


def list_sessions(r: redis.Redis, keys: Keys, name: str) -> list[dict[str, object]]:
    """The live sessions of ``name``, oldest first: label, created_at, client, expires_in_s.
    Index entries of sessions that have ended are dropped on the way."""
    name = validate_username(name)
    sids = sorted(r.smembers(keys.user_sessions(name)))
    pipe = r.pipeline(transaction=False)
    for sid in sids:
        pipe.hgetall(keys.session(sid))
        pipe.ttl(keys.session(sid))
    replies = pipe.execute()
    gen = r.hget(keys.user(name), "gen") or "0"
    out, dead = [], []
    for sid, h, ttl in zip(sids, replies[::2], replies[1::2]):
        if not h or h.get("gen", "0") != gen:
            dead.append(sid)
            continue
        out.append({"session": session_label(sid), "created_at": int(h.get("created_at", 0)),
                    "client": h.get("client", ""), "expires_in_s": int(ttl)})
    if dead:
        r.srem(keys.user_sessions(name), *dead)
    return sorted(out, key=lambda s: (s["created_at"], s["session"]))


def end_sessions(r: redis.Redis, keys: Keys, name: str) -> int:
    """End every session of ``name``; returns how many listed ones were live. The account's
    generation moves on first, so a session the index does not list ends too."""
    if r.exists(keys.user(name)):
        r.hincrby(keys.user(name), "gen", 1)
    sids = list(r.smembers(keys.user_sessions(name)))
    if not sids:
        return 0
    pipe = r.pipeline(transaction=True)
    for sid in sids:
        pipe.delete(keys.session(sid))
    pipe.srem(keys.user_sessions(name), *sids)   # not DEL: keep a session made meanwhile
    return sum(pipe.execute()[:-1])
