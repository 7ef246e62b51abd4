"""A MONITOR connection that records what a real server runs, for tests that check which
keys, slots and connections the app's commands use."""
from __future__ import annotations

import re
import threading
import uuid

import redis

_LINE = re.compile(rb'^[0-9.]+ \[(\d+) ([^\]]+)\] (.*)$')
_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_ESC = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b", b'"': b'"',
        b"\\": b"\\"}


def _unescape(raw: bytes) -> bytes:
    """Undo the quoting MONITOR applies to an argument (sdscatrepr)."""
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i:i + 1] == b"\\":
            nxt = raw[i + 1:i + 2]
            if nxt == b"x":
                out.append(int(raw[i + 2:i + 4], 16))
                i += 4
                continue
            out += _ESC.get(nxt, nxt)
            i += 2
            continue
        out.append(raw[i])
        i += 1
    return bytes(out)


class Monitor:
    """Records what the server runs, from MONITOR, until ``stop``."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)
        self.conn = self.client.connection_pool.get_connection()
        self.lines: list[tuple[str, list[bytes]]] = []  # (client or "lua", args)
        self.marker = f"monitor-end-{uuid.uuid4().hex}".encode()
        self.db = str(self.conn.db)
        self.conn.send_command("MONITOR")
        assert self.conn.read_response() in (b"OK", "OK")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            line = self.conn.read_response()
            m = _LINE.match(line)
            if not m or m.group(1).decode() != self.db:
                continue
            args = [_unescape(a) for a in _ARG.findall(m.group(3))]
            if args[:2] == [b"ECHO", self.marker]:
                return
            self.lines.append((m.group(2).decode(), args))

    def stop(self) -> None:
        self.client.echo(self.marker)
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "MONITOR never showed the end marker"
        self.conn.disconnect()
        self.client.close()


def command_keys(r: redis.Redis, args: list[bytes]) -> list[str]:
    """The keys of one command, as the server itself finds them (COMMAND GETKEYS)."""
    try:
        return [k if isinstance(k, str) else k.decode() for k in
                r.command_getkeys(*args)]
    except redis.ResponseError:  # "The command has no key arguments" and the like
        return []
