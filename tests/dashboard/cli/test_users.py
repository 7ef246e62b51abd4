"""`lukuang users add|list|remove|sessions|unlock` in-process, against the real server."""
from __future__ import annotations

import io
import json
import sys

import pytest

import app as lukuang_app
from dashboard.auth import AuthError, LoginRefused, authenticate, create_session, session_user

pytestmark = pytest.mark.topologies("single")


@pytest.fixture
def cli(monkeypatch, tmp_path, server_url, keys, capsys):
    """``run(*argv, stdin="") -> (exit status, JSON answer or None, stderr)``."""
    for name in ("LUKUANG_CONFIG", "LUKUANG_KEY_PREFIX", "REDIS_URL", "LUKUANG_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", server_url)
    monkeypatch.setenv("LUKUANG_KEY_PREFIX", keys.prefix)
    monkeypatch.setenv("LUKUANG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)

    def run(*argv: str, stdin: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = lukuang_app.main(list(argv))
        out, err = capsys.readouterr()
        return status, (json.loads(out) if out.strip() else None), err
    return run


def add(cli, name, role="officer", password="password-123", *extra):
    status, answer, err = cli("users", "add", name, "--role", role, "--password-stdin", *extra,
                              stdin=password + "\n")
    assert status == 0, err
    return answer


def test_sessions_are_listed_and_ended(cli, r, keys):
    add(cli, "li.wei")
    user = authenticate(r, keys, "li.wei", "password-123")
    sids = [create_session(r, keys, user, hours=1, client="10.0.0.7") for _ in range(2)]
    status, answer, _ = cli("users", "sessions", "li.wei")
    assert status == 0 and answer["user"] == "li.wei" and len(answer["sessions"]) == 2
    assert {s["client"] for s in answer["sessions"]} == {"10.0.0.7"}
    assert not any(sid in json.dumps(answer) for sid in sids)
    status, answer, _ = cli("users", "sessions", "li.wei", "--end")
    assert status == 0 and answer == {"user": "li.wei", "sessions_ended": 2}
    assert [session_user(r, keys, sid) for sid in sids] == [None, None]
    assert cli("users", "sessions", "li.wei")[1]["sessions"] == []


def test_a_reset_with_replace_ends_the_sessions(cli, r, keys):
    add(cli, "wang")
    sid = create_session(r, keys, authenticate(r, keys, "wang", "password-123"), hours=12)
    assert add(cli, "wang", "aux", "new-password-1", "--replace") == {"user": "wang",
                                                                      "role": "aux"}
    assert session_user(r, keys, sid) is None
    with pytest.raises(AuthError):
        authenticate(r, keys, "wang", "password-123")


def test_remove_deletes_the_account_and_its_sessions(cli, r, keys):
    add(cli, "zhao")
    add(cli, "qian", "comms")
    sid = create_session(r, keys, authenticate(r, keys, "zhao", "password-123"), hours=12)
    status, answer, _ = cli("users", "remove", "zhao")
    assert status == 0 and answer == {"user": "zhao", "removed": True, "sessions_ended": 1}
    assert session_user(r, keys, sid) is None
    assert cli("users", "list")[1] == [{"user": "qian", "role": "comms"}]
    status, answer, err = cli("users", "remove", "zhao")
    assert status == 1 and answer is None and "no user 'zhao'" in err
    status, _, err = cli("users", "remove", "bad name!")
    assert status == 1 and "user name" in err


def test_unlock_lets_a_locked_out_client_in_again(cli, r, keys):
    add(cli, "sun")
    for _ in range(5):
        with pytest.raises(AuthError):
            authenticate(r, keys, "sun", "guess-guess", client="ip:10.9.9.9")
    with pytest.raises(LoginRefused):
        authenticate(r, keys, "sun", "password-123", client="ip:10.9.9.9")
    status, answer, _ = cli("users", "unlock", "sun")
    assert status == 0 and answer["user"] == "sun" and answer["cleared"] >= 2
    assert authenticate(r, keys, "sun", "password-123", client="ip:10.9.9.9").name == "sun"
    assert cli("users", "unlock", "sun")[1]["cleared"] == 0
