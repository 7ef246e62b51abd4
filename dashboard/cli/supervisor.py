"""Start and watch the processes of ``lukuang run``; stop them all cleanly on a signal.

A child that exits is restarted with a growing delay, unless it exited with the usage
status (2: its configuration cannot work, e.g. no feed configured): restarting it would only
say so again every 30 s, so it is left stopped and said once.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

log = logging.getLogger("lukuang.run")
EXIT_USAGE = 2   # dashboard.cli.commands.EXIT_USAGE: a configuration problem, not a crash


@dataclass
class Child:
    name: str
    argv: list[str]
    critical: bool = False  # when it dies for good, everything stops
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    given_up: bool = False  # exited with EXIT_USAGE: not restarted


@dataclass
class Supervisor:
    """Runs children with a shared environment; restarts non-critical ones with backoff."""

    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def add(self, name: str, argv: list[str], critical: bool = False) -> None:
        self.children.append(Child(name, argv, critical))

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=self.env)
        child.started_at = time.monotonic()
        log.info("started %s (pid %s)", child.name, child.proc.pid)

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> int:
        """Start everything and watch until a signal or a critical child exits."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        for child in self.children:
            self._start(child)
        status = 0
        while not self.stopping:
            time.sleep(0.5)
            for child in self.children:
                code = child.proc.poll() if child.proc else None
                if code is None:
                    continue
                if child.critical:
                    log.error("%s exited with %s; stopping", child.name, code)
                    self.stopping, status = True, code or 1
                    break
                if code == EXIT_USAGE:
                    log.error("%s exited with %s (its configuration cannot work, see above); "
                              "not restarting it", child.name, code)
                    child.proc, child.given_up = None, True
                    continue
                child.restarts += 1
                delay = min(30.0, 2 ** min(child.restarts, 5))
                if time.monotonic() - child.started_at > 60:
                    child.restarts, delay = 0, 1.0
                log.warning("%s exited with %s; restarting in %.0f s", child.name, code, delay)
                time.sleep(delay)
                self._start(child)
        self.stop_all()
        return status

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM every child (web last), then SIGKILL what is still alive after ``timeout``."""
        for child in reversed(self.children):
            if child.proc and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("%s did not stop in time; killing pid %s", child.name, child.proc.pid)
                child.proc.kill()
                child.proc.wait()


def child_env(redis_url: str, state_dir: str, *, demo: bool | None = None,
              config_file: str | os.PathLike | None = None) -> dict[str, str]:
    """The children's environment: this one with the Redis URL and state directory in use,
    ``LUKUANG_DEMO`` as ``lukuang run`` decided it (``--no-demo``) and the settings file it
    read (``--config``), so that every child sees the same settings."""
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env["LUKUANG_STATE_DIR"] = state_dir
    if demo is not None:
        env["LUKUANG_DEMO"] = "1" if demo else "0"
    if config_file:
        env["LUKUANG_CONFIG"] = str(config_file)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
