"""Process helpers for the fault tests that start ``lukuang run`` / ``lukuang feeds``.

Every process is started in its own session on 127.0.0.1 and stopped by PID: the
``lukuang run`` supervisor first (SIGTERM, it stops its gunicorn), then SIGKILL for any
process of its tree that is still alive (the tree is recorded while it runs).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import httpx

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).resolve().parent / "gunicorn_probe.py"


def lukuang_argv(*args: str) -> list[str]:
    """The ``lukuang`` console script as a subprocess command line."""
    return [sys.executable, "-c", f"import sys, app; sys.exit(app.main({list(args)!r}))"]


def base_env(redis_url: str, prefix: str, state_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a deployment host: the test Redis (its db number too), the key prefix,
    a private state dir, no demo. ``extra`` adds LUKUANG_* variables."""
    u = urlparse(redis_url)
    env = dict(os.environ)
    env.pop("LUKUANG_CONFIG", None)
    env.update(REDIS_URL=redis_url, LUKUANG_REDIS_DB=u.path.strip("/") or "0",
               LUKUANG_KEY_PREFIX=prefix, LUKUANG_STATE_DIR=str(state_dir),
               LUKUANG_DEMO="0", LUKUANG_SECRET_KEY="fault-test", PYTHONUNBUFFERED="1")
    env.update(extra)
    state_dir.mkdir(parents=True, exist_ok=True)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ppid_of(pid: int) -> int | None:
    """The parent PID from /proc (None when the process is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def children_of(pid: int) -> list[int]:
    """Live children of ``pid`` (a scan of /proc: no psutil here)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and ppid_of(int(entry)) == pid:
            out.append(int(entry))
    return sorted(out)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(pred, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


@dataclass
class LukuangProc:
    """One ``lukuang …`` process (run or feeds) and every descendant PID seen while it ran."""

    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    seen: dict[int, str] = field(default_factory=dict)  # pid -> cmdline when first seen

    def start(self) -> "LukuangProc":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.seen[self.proc.pid] = cmdline(self.proc.pid)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def descendants(self) -> list[int]:
        """Live descendants now (recorded for the final kill)."""
        out, todo = [], [self.pid]
        while todo:
            for c in children_of(todo.pop()):
                out.append(c)
                todo.append(c)
                self.seen.setdefault(c, cmdline(c))
        return out

    def gunicorn_master(self) -> int | None:
        for pid in children_of(self.pid):
            if "gunicorn" in cmdline(pid):
                self.seen.setdefault(pid, cmdline(pid))
                return pid
        return None

    def workers(self) -> list[int]:
        master = self.gunicorn_master()
        if master is None:
            return []
        found = [p for p in children_of(master) if alive(p)]
        for p in found:
            self.seen.setdefault(p, cmdline(p))
        return found

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the process (its supervisor stops the rest), then SIGKILL what is left,
        each by its recorded PID (and only if it still runs the same command line)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.descendants()
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for pid, cmd in self.seen.items():
            if pid != self.proc.pid and alive(pid) and cmdline(pid) == cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def wait_healthy(base: str, proc: LukuangProc, timeout: float = 90.0) -> None:
    """Wait until ``GET /healthz`` answers 200; fail with the log when the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"lukuang exited with {proc.proc.returncode}:\n{proc.tail()}")
        time.sleep(0.3)
    raise RuntimeError(f"no healthy answer from {base} in {timeout:.0f} s:\n{proc.tail()}")


def supervise(script: str, out: Path, ready: Callable[[], bool], stop: Path) -> int:
    """Run a supervisor ``script`` (``python -c``) with its terminal in ``out``; once
    ``ready()``, create ``stop`` (its critical child watches for it) and return the
    supervisor's exit code (killed if it has not ended within 30 s)."""
    with open(out, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=f,
                                stderr=subprocess.STDOUT)
    try:
        assert wait_for(ready, 30), out.read_text()
        stop.touch()
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
