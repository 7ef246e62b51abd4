"""What `lukuang run` tells the operator: every page's address (each one answers), the
`users add` commands (the printed command works as printed), where the logs go; and a quiet
terminal: INFO and per-poll lines in the log files, warnings and errors on the terminal.

The pages through the real app's Flask test client, the commands and the logging in real
subprocesses, the test Redis (db 13, a per-test prefix)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from app import PAGES, create_app
from dashboard.auth import add_user, list_users
from dashboard.cli.banner import (ACCOUNTS, Banner, banner_lines, base_url, existing_accounts,
                                  users_command)
from dashboard.cli.logs import gunicorn_log_config
from tests.fault.helpers import REPO, supervise

SCRIPT = REPO / ".venv" / "bin" / "lukuang"


def banner(settings, **kw) -> list[str]:
    b = Banner(base_url="http://127.0.0.1:8050", pages=[p for _, p, _, _ in PAGES],
               wall_token=kw.pop("wall_token", ""), command=kw.pop("command", "lukuang"),
               existing=kw.pop("existing", {}), log_dir=Path("/var/lib/lk/logs"),
               log_files=["run.log", "sim.log", "feeds.log", "web.log"],
               redis="embedded at redis://127.0.0.1:1/0", demo=True, backfill=True)
    return banner_lines(replace(b, **kw))


def urls(lines: list[str]) -> list[str]:
    return [w for line in lines for w in line.split() if w.startswith("http://")]


# -- the addresses ----------------------------------------------------------------------------
def test_every_page_is_listed_and_answers(settings):
    lines = banner(settings)
    listed = urls(lines)
    paths = [u.removeprefix("http://127.0.0.1:8050") for u in listed]
    assert paths[:len(PAGES)] == [p for _, p, _, _ in PAGES]
    assert {"/wall", "/dispatch", "/comms", "/feeds", "/public", "/login", "/healthz"} \
        <= set(paths)
    app = create_app(settings)
    try:
        client = app.server.test_client()
        for path in paths:
            resp = client.get(path)
            assert resp.status_code == 200, (path, resp.status_code)
            if path == "/healthz":
                assert resp.get_json()["redis"] == "ok"
    finally:
        app.server.config["LUKUANG"].close()


def test_the_wall_address_carries_the_kiosk_token(settings):
    lines = banner(settings, wall_token="k i/o&sk")
    wall = [u for u in urls(lines) if "/wall" in u]
    assert wall == ["http://127.0.0.1:8050/wall?token=k%20i%2Fo%26sk"]
    app = create_app(replace(settings, wall_token="k i/o&sk"))
    try:
        client = app.server.test_client()
        assert client.get("/wall?token=k%20i%2Fo%26sk").status_code == 200
        assert client.get("/wall").status_code == 403
    finally:
        app.server.config["LUKUANG"].close()


def test_base_url_of_a_wildcard_bind_is_loopback():
    assert base_url("0.0.0.0", 8050) == "http://127.0.0.1:8050"
    assert base_url("10.1.2.3", 80) == "http://10.1.2.3:80"


# -- the accounts -----------------------------------------------------------------------------
def test_the_four_accounts_are_offered_until_they_exist(settings, r, keys):
    lines = banner(settings)
    cmds = [ln.split("#")[0].strip() for ln in lines if " users add " in ln]
    assert cmds == [f"lukuang users add {n} --role {role}" for n, role, _ in ACCOUNTS]
    assert [role for _, role, _ in ACCOUNTS] == ["officer", "aux", "comms", "admin"]
    add_user(r, keys, "zhang", "officer", "a long enough password 1")
    lines = banner(settings, existing=existing_accounts(list_users(r, keys)))
    cmds = [ln for ln in lines if " users add " in ln]
    assert len(cmds) == 3 and not any("--role officer" in c for c in cmds)
    assert any("zhang (officer)" in ln for ln in lines)


@pytest.mark.skipif(not SCRIPT.is_file(), reason="the lukuang script of .venv is not installed")
def test_the_printed_users_add_command_works_as_printed(settings, r, keys, tmp_path):
    """In another terminal: the printed line, run by a shell from another directory,
    reaches this install's Redis, prefix and state."""
    env = {**os.environ, "REDIS_URL": settings.redis_url}
    for name in ("LUKUANG_KEY_PREFIX", "LUKUANG_STATE_DIR", "LUKUANG_CONFIG", "LUKUANG_CITY",
                 "LUKUANG_REDIS_DB"):
        env.pop(name, None)
    cmd = users_command(settings, settings.redis_url, argv0=str(SCRIPT))
    lines = banner(settings, command=cmd)
    line = next(ln for ln in lines if "--role comms" in ln).split("#")[0].strip()
    other = tmp_path / "elsewhere"
    other.mkdir()
    done = subprocess.run(["sh", "-c", line + " --password-stdin"], cwd=other, env=env,
                          input="a long enough password 2\n", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"user": "comms", "role": "comms"}
    assert [(u.name, u.role) for u in list_users(r, keys)] == [("comms", "comms")]


def test_the_command_names_only_what_differs_from_the_defaults(settings):
    from dashboard.settings import Settings

    plain = replace(Settings(), redis_url="")
    assert users_command(plain, "", argv0="/nonexistent/lukuang").endswith("lukuang")
    assert "LUKUANG_" not in users_command(plain, "", argv0="/nonexistent/lukuang")
    secret = users_command(plain, "redis://:pw@10.0.0.1:6379/0", argv0="x")
    assert "pw" not in secret and "REDIS_URL" not in secret
    cmd = users_command(settings, "", argv0="x")
    assert f"LUKUANG_STATE_DIR={settings.state_dir}" in cmd
    assert f"LUKUANG_KEY_PREFIX={settings.key_prefix}" in cmd


def test_the_logs_line_names_the_directory_and_verbose():
    lines = banner(None)
    logs = next(ln for ln in lines if ln.startswith("Logs:"))
    assert "/var/lib/lk/logs/" in logs and "feeds.log" in logs and "web.log" in logs
    assert any("--verbose" in ln and "LUKUANG_VERBOSE=1" in ln for ln in lines)
    assert any("simulated history" in ln for ln in lines)
    assert not any("simulated" in ln for ln in banner(None, backfill=False))


# -- the quiet terminal -----------------------------------------------------------------------
LOGGING_PROBE = textwrap.dedent("""
    import logging, sys
    from dashboard.cli.logs import setup_logging
    setup_logging(verbose=sys.argv[1] == "1", log_file=sys.argv[2] or None)
    logging.getLogger("lukuang.feeds").info("runner up")
    logging.getLogger("lukuang.feeds").debug("waze: a poll summary")
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/waze")
    logging.getLogger("lukuang.feeds").warning("amap: breaker open")
    logging.getLogger("lukuang.feeds").error("hotline: cannot record health")
""")


def probe_logging(verbose: bool, log_file: Path | None) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", LOGGING_PROBE, "1" if verbose else "0",
                           str(log_file or "")], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr, log_file.read_text() if log_file else ""


def test_with_a_log_file_the_terminal_shows_warnings_and_errors_only(tmp_path):
    terminal, logged = probe_logging(False, tmp_path / "logs" / "feeds.log")
    assert "breaker open" in terminal and "cannot record health" in terminal
    assert "runner up" not in terminal and "HTTP Request" not in terminal
    assert "runner up" in logged and "breaker open" in logged
    assert "HTTP Request" not in logged and "poll summary" not in logged


def test_verbose_shows_every_line_and_each_poll(tmp_path):
    terminal, logged = probe_logging(True, tmp_path / "feeds.log")
    for line in ("runner up", "HTTP Request", "poll summary", "breaker open"):
        assert line in terminal and line in logged


def test_without_a_log_file_the_terminal_keeps_info_but_no_poll_lines():
    terminal, _ = probe_logging(False, None)
    assert "runner up" in terminal and "breaker open" in terminal
    assert "HTTP Request" not in terminal and "poll summary" not in terminal


def test_gunicorn_logging_goes_to_the_file_and_errors_to_the_terminal(tmp_path):
    conf = gunicorn_log_config(tmp_path / "web.log", False, tmp_path / "access.log")
    script = textwrap.dedent(f"""
        import json, logging, logging.config
        logging.config.dictConfig(json.loads({json.dumps(json.dumps(conf))}))
        logging.getLogger("gunicorn.error").info("Booting worker with pid: 1")
        logging.getLogger("gunicorn.error").critical("WORKER TIMEOUT (pid:2)")
        logging.getLogger("gunicorn.access").info("GET /wall 200")
        logging.getLogger("lukuang.app").warning("app warning")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    web = (tmp_path / "web.log").read_text()
    assert "Booting worker" in web and "WORKER TIMEOUT" in web and "app warning" in web
    assert "Booting worker" not in done.stderr and "WORKER TIMEOUT" in done.stderr
    assert "app warning" in done.stderr and "GET /wall" not in done.stderr + done.stdout
    assert (tmp_path / "access.log").read_text().strip() == "GET /wall 200"


# -- the supervisor ---------------------------------------------------------------------------
def test_each_child_logs_to_its_file_and_the_banner_comes_once_when_ready(tmp_path):
    flag, done = tmp_path / "up", tmp_path / "stop"
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from dashboard.cli.supervisor import Supervisor
        sup = Supervisor(dict(os.environ), log_dir=Path({str(tmp_path / 'logs')!r}))
        child = ("import os, sys, time\\n"
                 "print('child says hello', flush=True)\\n"
                 "print('child error', file=sys.stderr, flush=True)\\n"
                 "open({str(flag)!r}, 'w').write(os.environ['LUKUANG_LOG_FILE'])\\n"
                 "while not os.path.exists({str(done)!r}): time.sleep(0.05)\\n")
        sup.add("web", [sys.executable, "-c", child], critical=True)
        sup.ready = lambda: os.path.exists({str(flag)!r})
        sup.on_ready = lambda: print("BANNER", flush=True)
        sys.exit(sup.run())
    """)
    (tmp_path / "logs").mkdir()
    out = tmp_path / "terminal"
    # its critical child ended: everything stops
    assert supervise(script, out, lambda: "BANNER" in out.read_text(), done) == 1
    terminal = out.read_text()
    assert terminal.count("BANNER") == 1
    assert "child error" in terminal and "child says hello" not in terminal
    assert "child says hello" in (tmp_path / "logs" / "web.log").read_text()
    assert flag.read_text() == str(tmp_path / "logs" / "web.log")
