"""Start and watch the processes of ``lukuang run``; stop them all cleanly on a signal.

A child that exits is restarted with a growing delay, unless it exited with the usage
status (2: its configuration cannot work, e.g. no feed configured): restarting it would only
say so again every 30 s, so it is left stopped and said once.

With ``log_dir``, each child writes its log (``LUKUANG_LOG_FILE``) and its standard output to
``<log_dir>/<name>.log``; its standard error stays on the terminal, where its logging puts
warnings and errors only. ``ready``/``on_ready``: called once, as soon as ``ready()`` is true
(the web answers), e.g. to print the addresses.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger("lukuang.run")
EXIT_USAGE = 2   # dashboard.cli.commands.EXIT_USAGE: a configuration problem, not a crash
LOG_FILE_ENV = "LUKUANG_LOG_FILE"   # dashboard.settings: log_file


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
    log_dir: Path | None = None
    ready: Callable[[], bool] | None = None
    on_ready: Callable[[], None] | None = None

    def add(self, name: str, argv: list[str], critical: bool = False) -> None:
        self.children.append(Child(name, argv, critical))

    def log_file(self, name: str) -> Path | None:
        """Where the child ``name`` logs: ``<log_dir>/<name>.log`` (None without log_dir)."""
        return self.log_dir / f"{name}.log" if self.log_dir is not None else None

    def _start(self, child: Child) -> None:
        path = self.log_file(child.name)
        if path is None:
            child.proc = subprocess.Popen(child.argv, env=self.env)
        else:
            env = {**self.env, LOG_FILE_ENV: str(path)}
            with open(path, "ab") as out:   # the child keeps its own copy of the descriptor
                child.proc = subprocess.Popen(child.argv, env=env, stdout=out)
        child.started_at = time.monotonic()
        log.info("started %s (pid %s)", child.name, child.proc.pid)

    def _check_ready(self) -> None:
        """Call ``on_ready`` once, the first time ``ready()`` is true."""
        if self.ready is None or self.on_ready is None:
            return
        try:
            up = self.ready()
        except Exception:  # noqa: BLE001 - not up yet
            up = False
        if up:
            self.ready = None
            self.on_ready()

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
            self._check_ready()
            for child in self.children:
                code = child.proc.poll() if child.proc else None
                if code is None:
                    continue
                if child.critical:
                    log.error("%s exited with %s; stopping%s", child.name, code,
                              self._see_log(child))
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
                log.warning("%s exited with %s; restarting in %.0f s%s", child.name, code, delay,
                            self._see_log(child))
                time.sleep(delay)
                self._start(child)
        self.stop_all()
        return status

    def _see_log(self, child: Child) -> str:
        path = self.log_file(child.name)
        return f" (its log: {path})" if path is not None else ""

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
              config_file: str | os.PathLike | None = None,
              verbose: bool | None = None) -> dict[str, str]:
    """The children's environment: this one with the Redis URL and state directory in use,
    ``LUKUANG_DEMO`` and ``LUKUANG_VERBOSE`` as ``lukuang run`` decided them (``--no-demo``,
    ``--verbose``) and the settings file it read (``--config``), so that every child sees the
    same settings."""
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env["LUKUANG_STATE_DIR"] = state_dir
    env.pop(LOG_FILE_ENV, None)   # each child gets its own (Supervisor.log_dir)
    if demo is not None:
        env["LUKUANG_DEMO"] = "1" if demo else "0"
    if verbose is not None:
        env["LUKUANG_VERBOSE"] = "1" if verbose else "0"
    if config_file:
        env["LUKUANG_CONFIG"] = str(config_file)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
