"""Accounts, sessions and the login rate limit against the real server."""
import pytest

from dashboard.auth import (MAX_FAILURES, PERMISSIONS, ROLES, AuthError, add_user, authenticate,
                            create_session, end_session, has_permission, list_users,
                            session_user)

pytestmark = pytest.mark.topologies("single", "cluster")


def test_password_is_hashed_and_checked(r, keys):
    add_user(r, keys, "li.wei", "officer", "correct horse")
    stored = r.hget(keys.user("li.wei"), "pw")
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert authenticate(r, keys, "li.wei", "correct horse").role == "officer"
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(r, keys, "li.wei", "wrong")
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(r, keys, "nobody", "whatever1")


def test_bad_accounts_are_refused(r, keys):
    with pytest.raises(AuthError, match="unknown role"):
        add_user(r, keys, "a", "chief", "12345678")
    with pytest.raises(AuthError, match="8 characters"):
        add_user(r, keys, "a", "aux", "short")
    with pytest.raises(AuthError, match="user name"):
        add_user(r, keys, "<script>", "aux", "12345678")
    add_user(r, keys, "a", "aux", "12345678")
    with pytest.raises(AuthError, match="exists"):
        add_user(r, keys, "a", "aux", "12345678")
    add_user(r, keys, "a", "officer", "87654321", replace=True)
    assert [(u.name, u.role) for u in list_users(r, keys)] == [("a", "officer")]


def test_failed_logins_lock_the_account(r, keys):
    add_user(r, keys, "zhang", "aux", "right-password")
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthError):
            authenticate(r, keys, "zhang", "nope", client="10.0.0.9")
    with pytest.raises(AuthError, match="too many failed logins"):
        authenticate(r, keys, "zhang", "right-password", client="10.0.0.9")
    assert 0 < r.ttl(keys.login_failures("user:zhang")) <= 900


def test_sessions_expire_and_end(r, keys):
    user = add_user(r, keys, "wang", "comms", "password1")
    sid = create_session(r, keys, user, hours=0.5)
    assert session_user(r, keys, sid) == user
    assert 0 < r.ttl(keys.session(sid)) <= 1800
    end_session(r, keys, sid)
    assert session_user(r, keys, sid) is None
    assert session_user(r, keys, "forged") is None and session_user(r, keys, None) is None


def test_restricted_roles_never_see_pii():
    for role in ("wall", "aux"):
        assert not has_permission(role, "see_pii")
    assert has_permission("officer", "see_pii")
    assert has_permission("aux", "acknowledge") and not has_permission("aux", "dispatch")
    assert not has_permission("wall", "acknowledge")
    assert not has_permission("admin", "no-such-permission")
    assert all(set(roles) <= set(ROLES) for roles in PERMISSIONS.values())
