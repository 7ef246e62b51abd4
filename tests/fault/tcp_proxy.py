"""A small threaded loopback TCP proxy that can drop replies or cut the link on demand.

``drop_replies(n)``: for the next ``n`` requests, forward the request to the server,
then close the client connection instead of forwarding the reply (the server did the
work; the client never hears about it). ``block()`` closes every connection and refuses
new ones until ``unblock()`` (the server looks unreachable). ``freeze()`` keeps every
connection open and accepts new ones but forwards nothing either way until ``thaw()`` (the
server looks hung, as under ``DEBUG SLEEP`` or a stopped process).
"""
from __future__ import annotations

import socket
import threading


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target`` (host, port)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self._lock = threading.Lock()
        self._drop = 0
        self._min_bytes = 0
        self._blocked = False
        self._flowing = threading.Event()
        self._flowing.set()
        self.dropped = 0
        self._conns: set[socket.socket] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tcp-proxy")

    def start(self) -> "TcpProxy":
        self._thread.start()
        return self

    def drop_replies(self, n: int, min_request_bytes: int = 0) -> None:
        """Drop the reply to each of the next ``n`` requests of at least
        ``min_request_bytes`` bytes (closing that client connection)."""
        with self._lock:
            self._drop += n
            self._min_bytes = min_request_bytes

    def block(self) -> None:
        """Cut every connection and refuse new ones until ``unblock``."""
        with self._lock:
            self._blocked = True
            conns = list(self._conns)
        for s in conns:
            _close(s)

    def unblock(self) -> None:
        with self._lock:
            self._blocked = False

    def freeze(self) -> None:
        """Forward nothing (held until ``thaw``); connections stay open, new ones are
        accepted: to a client the server answers nothing at all."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Forward again, what was held first."""
        self._flowing.set()

    def close(self) -> None:
        self._stopped.set()
        self._flowing.set()
        _close(self._listener)
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            _close(s)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                blocked = self._blocked
            if blocked:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._conns.update((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        """Request/reply at a time per connection: read from client, send to the server,
        then relay whatever the server answers until the client speaks again."""
        pending_drop = False

        def up() -> None:
            nonlocal pending_drop
            while True:
                try:
                    data = client.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                self._flowing.wait()
                with self._lock:
                    if self._drop > 0 and not pending_drop and len(data) >= self._min_bytes:
                        self._drop -= 1
                        self.dropped += 1
                        pending_drop = True
                try:
                    server.sendall(data)
                except OSError:
                    break
            _close(server)

        t = threading.Thread(target=up, daemon=True)
        t.start()
        try:
            while True:
                try:
                    data = server.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                self._flowing.wait()
                if pending_drop:
                    break  # the request reached the server; its reply never reaches the client
                try:
                    client.sendall(data)
                except OSError:
                    break
        finally:
            _close(client)
            _close(server)
            t.join(5)
            with self._lock:
                self._conns.discard(client)
                self._conns.discard(server)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
