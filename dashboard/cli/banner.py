"""What ``lukuang run`` prints once the web answers: every page's address, the commands that
create the accounts still missing, and where the logs are.

Pure functions of their arguments (``banner_lines``), plus the two look-ups they need:
the command that names ``lukuang`` as the operator typed it, and the environment a second
terminal needs to reach the same Redis and state (``users_command_prefix``).
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote, urlsplit

from dashboard.settings import Settings

# (path, what it is, who may open it); the pages of app.PAGES come first, in its order
PAGE_NOTES = {
    "/wall": "wall, the big screen (every role; kiosk: this link, no login)",
    "/dispatch": "dispatch desk (officer, aux, admin)",
    "/comms": "comms desk (comms, admin)",
    "/feeds": "feed health (aux, officer, comms, admin)",
}
MORE_PAGES = (("/public", "public road query 路况查询 (anyone, no login)"),
              ("/login", "log in"),
              ("/healthz", "health check (JSON)"),
              ("/api/v1/openapi.json", "read-only JSON API (its description)"))
# the accounts a demo needs: (suggested name, role, who)
ACCOUNTS = (("officer", "officer", "duty officer: dispatch, sees phone numbers"),
            ("aux", "aux", "auxiliary: dispatch without personal data"),
            ("comms", "comms", "comms officer: bulletins"),
            ("admin", "admin", "administrator: everything"))


@dataclass(frozen=True)
class Banner:
    """What the banner says; ``existing`` is role → account names already there."""

    base_url: str
    pages: Sequence[str]
    wall_token: str
    command: str
    existing: dict[str, list[str]]
    log_dir: Path
    log_files: Sequence[str]
    redis: str
    demo: bool
    backfill: bool


def banner_lines(b: Banner) -> list[str]:
    """The lines to print (no trailing newlines)."""
    notes = dict(PAGE_NOTES)
    pages = [(p, notes.get(p, p.strip("/"))) for p in b.pages] + list(MORE_PAGES)
    urls = []
    for path, what in pages:
        url = b.base_url + path
        if path == "/wall" and b.wall_token:
            url += "?token=" + quote(b.wall_token, safe="")
        urls.append((url, what))
    width = max(len(u) for u, _ in urls)
    out = [f"lukuang: up (Redis {b.redis})", "", "Pages:"]
    out += [f"  {u.ljust(width)}  {what}" for u, what in urls]
    missing = [(n, role, who) for n, role, who in ACCOUNTS if not b.existing.get(role)]
    out.append("")
    if missing:
        out.append("Accounts to create (in another terminal; each asks for a password twice):")
        cmds = [f"{b.command} users add {n} --role {role}" for n, role, _ in missing]
        cw = max(len(c) for c in cmds)
        out += [f"  {c.ljust(cw)}  # {who}" for c, (_, _, who) in zip(cmds, missing)]
    have = [f"{', '.join(names)} ({role})" for role, names in sorted(b.existing.items())
            if names]
    if have:
        out.append(f"Accounts already there: {'; '.join(have)}  "
                   f"(`{b.command} users list`)")
    out.append("")
    out.append(f"Logs: {b.log_dir}/ ({', '.join(b.log_files)}); here: warnings and "
               "errors only")
    out.append("  every line here too, one per feed poll: `lukuang run --verbose` or "
               "LUKUANG_VERBOSE=1")
    if b.demo and b.backfill:
        out.append("Demo: the trend charts start with 8 days of simulated history (shaded "
                   "\"模拟历史 simulated\" on the wall; LUKUANG_DEMO_BACKFILL=0 starts empty)")
    out.append("Stop: Ctrl-C")
    return out


def base_url(host: str, port: int) -> str:
    """The address to open: a wildcard bind is reached on 127.0.0.1."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def lukuang_command(argv0: str | None = None, executable: str | None = None) -> str:
    """``lukuang`` when that name runs this install, else the absolute path of its script
    (a second terminal opens in another directory)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    candidates = []
    if Path(argv0).name == "lukuang" and Path(argv0).is_file():
        candidates.append(argv0)
    beside = Path(executable).parent / "lukuang"
    if beside.is_file():
        candidates.append(str(beside))
    on_path = shutil.which("lukuang")
    for c in candidates:
        if on_path and os.path.samefile(on_path, c):
            return "lukuang"
    if not candidates:
        return "lukuang"
    return shlex.quote(str(Path(candidates[0]).absolute()))


def users_command_prefix(settings: Settings, redis_url_in_env: str = "") -> str:
    """The environment a second terminal needs for ``users add`` to reach this install's
    Redis and state: only what differs from the defaults (a URL with a password is not
    repeated: the operator has it)."""
    defaults = Settings()
    parts = []
    if redis_url_in_env and not urlsplit(redis_url_in_env).password:
        parts.append(f"REDIS_URL={shlex.quote(redis_url_in_env)}")
    if Path(settings.state_dir) != Path(defaults.state_dir):
        parts.append(f"LUKUANG_STATE_DIR={shlex.quote(str(settings.state_dir))}")
    for env, attr in (("LUKUANG_CITY", "city"), ("LUKUANG_KEY_PREFIX", "key_prefix"),
                      ("LUKUANG_REDIS_DB", "redis_db")):
        value = getattr(settings, attr)
        if value != getattr(defaults, attr):
            parts.append(f"{env}={shlex.quote(str(value))}")
    return " ".join(parts)


def users_command(settings: Settings, redis_url_in_env: str = "",
                  argv0: str | None = None) -> str:
    """The ``lukuang`` command line, with the environment and ``--config`` it needs."""
    prefix = users_command_prefix(settings, redis_url_in_env)
    cmd = lukuang_command(argv0)
    if settings.config_file is not None:
        cmd += f" --config {shlex.quote(str(settings.config_file))}"
    return f"{prefix} {cmd}" if prefix else cmd


def existing_accounts(users: Iterable) -> dict[str, list[str]]:
    """role → names, from ``dashboard.auth.list_users``."""
    out: dict[str, list[str]] = {}
    for u in users:
        out.setdefault(u.role, []).append(u.name)
    return out
