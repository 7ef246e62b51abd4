"""Accounts, sessions and the login limits against the real server (single and cluster)."""
import threading

import pytest

from dashboard.auth import (PERMISSIONS, ROLES, AuthError, LoginPolicy, LoginRefused, add_user,
                            authenticate, create_session, end_session, end_sessions,
                            has_permission, list_sessions, list_users, remove_user,
                            session_user, unlock)

pytestmark = pytest.mark.topologies("single", "cluster")

PW = "right-password"


def test_password_is_hashed_and_checked(r, keys):
    add_user(r, keys, "li.wei", "officer", "correct horse")
    stored = r.hget(keys.user("li.wei"), "pw")
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert authenticate(r, keys, "li.wei", "correct horse").role == "officer"
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(r, keys, "li.wei", "wrong")
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(r, keys, "nobody", "whatever1")
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(r, keys, "<not a name>:*", "whatever1")


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


def test_five_failures_lock_that_client_out_of_that_account_only(r, keys):
    add_user(r, keys, "zhang", "aux", PW)
    add_user(r, keys, "zhao", "aux", PW)
    for _ in range(5):
        with pytest.raises(AuthError) as failed:
            authenticate(r, keys, "zhang", "nope", client="ip:10.0.0.9")
        assert not isinstance(failed.value, LoginRefused)
    with pytest.raises(LoginRefused, match="too many failed logins") as refused:
        authenticate(r, keys, "zhang", PW, client="ip:10.0.0.9")
    assert 0 < refused.value.retry_after <= 900
    assert 0 < r.ttl(keys.login_failures("zhang", "ip:10.0.0.9")) <= 900
    # the owner elsewhere, and another account from the same client, are not locked
    assert authenticate(r, keys, "zhang", PW, client="known:owner-browser", known=True)
    assert authenticate(r, keys, "zhang", PW, client="ip:10.0.0.10")
    assert authenticate(r, keys, "zhao", PW, client="ip:10.0.0.9")


def burst(r, keys, passwords, client, n_threads=None):
    """Try every password at once (one thread each, released together); returns the
    outcomes: "accepted", "wrong" (the password was checked) or "refused" (it was not)."""
    gate = threading.Barrier(len(passwords))
    out = [None] * len(passwords)

    def one(i, pw):
        gate.wait()
        try:
            authenticate(r, keys, "li", pw, client=client)
            out[i] = "accepted"
        except LoginRefused:
            out[i] = "refused"
        except AuthError:
            out[i] = "wrong"
    threads = [threading.Thread(target=one, args=(i, pw)) for i, pw in enumerate(passwords)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_a_burst_of_25_parallel_wrong_passwords_gets_5_checked(r, keys):
    add_user(r, keys, "li", "officer", PW)
    out = burst(r, keys, ["wrong-guess"] * 25, client="ip:203.0.113.7")
    assert out.count("wrong") == 5 and out.count("refused") == 20
    # the right password after the limit, inside a second burst: refused with the rest
    out = burst(r, keys, ["wrong-guess"] * 9 + [PW] + ["wrong-guess"] * 10,
                client="ip:203.0.113.7")
    assert out == ["refused"] * 20


def test_the_right_password_in_a_burst_counts_within_the_same_limit(r, keys):
    add_user(r, keys, "li", "officer", PW)
    out = burst(r, keys, ["wrong-guess"] * 12 + [PW] + ["wrong-guess"] * 12,
                client="ip:203.0.113.8")
    # 5 tries were let through to the password check, whichever they were
    assert out.count("wrong") + out.count("accepted") == 5 and out.count("refused") == 20
    assert out.count("accepted") <= 1


def test_the_backoff_delays_unknown_clients_only(r, keys):
    policy = LoginPolicy(max_failures=5, lock_s=900, backoff_after=3, backoff_max_s=60)
    add_user(r, keys, "wu", "comms", PW)
    for n in range(9):   # 9 failures from 9 clients: the account now has a 32 s backoff
        with pytest.raises(AuthError) as failed:
            authenticate(r, keys, "wu", "guess", client=f"ip:198.51.100.{n}", policy=policy)
        assert not isinstance(failed.value, LoginRefused) or n >= 4
    # a new client: its first try is checked, the next one must wait
    with pytest.raises(AuthError) as first:
        authenticate(r, keys, "wu", "guess", client="ip:192.0.2.1", policy=policy)
    assert not isinstance(first.value, LoginRefused)
    with pytest.raises(LoginRefused) as wait:
        authenticate(r, keys, "wu", PW, client="ip:192.0.2.1", policy=policy)
    assert 1 <= wait.value.retry_after <= 60
    # the owner's known browser is not delayed: a typo is checked, the password accepted
    for _ in range(2):
        with pytest.raises(AuthError) as typo:
            authenticate(r, keys, "wu", "typo", client="known:c1", known=True, policy=policy)
        assert not isinstance(typo.value, LoginRefused)
    assert authenticate(r, keys, "wu", PW, client="known:c1", known=True, policy=policy)
    # nor is the owner's first try from a new machine
    assert authenticate(r, keys, "wu", PW, client="ip:192.0.2.2", policy=policy)


def test_backoff_doubles_up_to_its_cap():
    p = LoginPolicy(backoff_after=10, backoff_max_s=60)
    assert [p.delay_s(n) for n in range(9, 19)] == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert p.delay_s(10_000) == 60


def test_unlock_forgets_the_counts_of_that_account_only(r, keys):
    policy = LoginPolicy(max_failures=2, lock_s=900, backoff_after=1, backoff_max_s=60)
    add_user(r, keys, "li", "officer", PW)
    add_user(r, keys, "li.wei", "officer", PW)
    for name in ("li", "li.wei"):
        for _ in range(2):
            with pytest.raises(AuthError):
                authenticate(r, keys, name, "guess", client="ip:10.1.1.1", policy=policy)
        with pytest.raises(LoginRefused):
            authenticate(r, keys, name, PW, client="ip:10.1.1.1", policy=policy)
    assert unlock(r, keys, "li") >= 2     # the client's count, the account's, its wait
    assert authenticate(r, keys, "li", PW, client="ip:10.1.1.1", policy=policy)
    with pytest.raises(LoginRefused):
        authenticate(r, keys, "li.wei", PW, client="ip:10.1.1.1", policy=policy)
    with pytest.raises(AuthError, match="user name"):
        unlock(r, keys, "li*")


def test_sessions_expire_and_end(r, keys):
    user = add_user(r, keys, "wang", "comms", "password1")
    sid = create_session(r, keys, user, hours=0.5)
    assert session_user(r, keys, sid) == user
    assert 0 < r.ttl(keys.session(sid)) <= 1800
    end_session(r, keys, sid)
    assert session_user(r, keys, sid) is None
    assert session_user(r, keys, "forged") is None and session_user(r, keys, None) is None
    assert list_sessions(r, keys, "wang") == []


def test_sessions_are_listed_without_their_ids_and_ended(r, keys):
    user = add_user(r, keys, "wang", "comms", "password1")
    sids = [create_session(r, keys, user, hours=1, client="10.0.0.5") for _ in range(3)]
    listed = list_sessions(r, keys, "wang")
    assert len(listed) == 3 and {s["client"] for s in listed} == {"10.0.0.5"}
    assert all(0 < s["expires_in_s"] <= 3600 for s in listed)
    assert not any(sid[:8] in str(listed) for sid in sids)   # a session id is a password
    r.delete(keys.session(sids[0]))        # as if expired: dropped from the index lazily
    assert len(list_sessions(r, keys, "wang")) == 2
    assert r.smembers(keys.user_sessions("wang")) == set(sids[1:])
    assert end_sessions(r, keys, "wang") == 2
    assert [session_user(r, keys, sid) for sid in sids] == [None] * 3
    assert list_sessions(r, keys, "wang") == []


def test_a_password_reset_ends_every_session_even_unlisted_ones(r, keys):
    user = add_user(r, keys, "chen", "officer", "password1")
    r.hdel(keys.user("chen"), "gen")   # an account and a session from before generations:
    sid = create_session(r, keys, user, hours=12)
    # a session made before sessions were indexed (no generation, not in the index)
    r.hset(keys.session("legacy-session"), mapping={"user": "chen", "role": "officer"})
    assert session_user(r, keys, "legacy-session") == user
    add_user(r, keys, "chen", "aux", "new-password", replace=True)
    assert session_user(r, keys, sid) is None and not r.exists(keys.session(sid))
    assert session_user(r, keys, "legacy-session") is None
    # a new login after the reset works
    fresh = create_session(r, keys, authenticate(r, keys, "chen", "new-password"), hours=1)
    assert session_user(r, keys, fresh).role == "aux"


def test_removing_a_user_ends_its_sessions(r, keys):
    user = add_user(r, keys, "sun", "comms", "password1")
    sid = create_session(r, keys, user, hours=12)
    assert remove_user(r, keys, "sun") == 1
    assert session_user(r, keys, sid) is None and list_users(r, keys) == []
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(r, keys, "sun", "password1")
    with pytest.raises(AuthError, match="no user"):
        remove_user(r, keys, "sun")


def test_restricted_roles_never_see_pii():
    for role in ("wall", "aux"):
        assert not has_permission(role, "see_pii")
    assert has_permission("officer", "see_pii")
    assert has_permission("aux", "acknowledge") and not has_permission("aux", "dispatch")
    assert not has_permission("wall", "acknowledge")
    assert not has_permission("admin", "no-such-permission")
    assert all(set(roles) <= set(ROLES) for roles in PERMISSIONS.values())
