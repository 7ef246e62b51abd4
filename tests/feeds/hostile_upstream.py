"""A loopback HTTP server that misbehaves on purpose, for the fetcher and runner tests.

Endpoints (all on 127.0.0.1, port chosen by the OS):
  /ok                 small JSON
  /hang               accepts, reads the request, never answers (until the server stops)
  /drip?every=S       headers at once, then one byte of body every S seconds (default 1)
  /huge               50 MB with a Content-Length
  /huge-chunked       50 MB, chunked, no Content-Length
  /html               an HTML error page with status 200
  /flaky?key=K&fail=N 500 for the first N requests of key K, then JSON
  /status/CODE        that status (``?retry_after=S`` adds Retry-After)
  /etag               JSON with ETag and Last-Modified; 304 when If-None-Match matches
  /redirect-away      302 to another host (127.0.0.2, which is still loopback)
  /redirect-same      302 to /ok on this host
  /payload/NAME       bytes put in ``server.payloads[NAME]`` (404 when absent)
Every request is counted in ``server.hits[path]``.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HUGE_BYTES = 50 * 1024 * 1024
ETAG = '"v1-lukuang"'
LAST_MODIFIED = "Wed, 01 Oct 2025 08:00:00 GMT"
OK_BODY = json.dumps({"ok": True, "alerts": []}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: "HostileUpstream._Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _stream(self, total: int, chunked: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        block = b"[" + b"0," * 32767 + b"0"  # 64 KiB of JSON-ish filler
        sent = 0
        try:
            while sent < total and not self.server.stopping.is_set():
                piece = block[:min(len(block), total - sent)]
                if chunked:
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                else:
                    self.wfile.write(piece)
                sent += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client gave up, as it should
            pass
        self.server.bytes_sent[self.path] += sent

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        self.server.hits[path] += 1
        self.server.last_headers[path] = dict(self.headers)
        if path == "/ok":
            self._send(200, OK_BODY)
        elif path == "/hang":
            self.server.stopping.wait()
            self.close_connection = True
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            every = float(query.get("every", ["1"])[0])
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    if self.server.stopping.wait(every):
                        break
            except OSError:
                pass
            self.close_connection = True
        elif path == "/huge":
            self._stream(HUGE_BYTES, chunked=False)
            self.close_connection = True
        elif path == "/huge-chunked":
            self._stream(HUGE_BYTES, chunked=True)
            self.close_connection = True
        elif path == "/html":
            self._send(200, b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1>"
                            b"</body></html>", "text/html; charset=utf-8")
        elif path == "/flaky":
            key = query.get("key", ["default"])[0]
            fail = int(query.get("fail", ["1"])[0])
            with self.server.lock:
                self.server.flaky[key] += 1
                n = self.server.flaky[key]
            if n <= fail:
                self._send(500, b"internal error", "text/plain")
            else:
                self._send(200, OK_BODY)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            extra = {}
            if "retry_after" in query:
                extra["Retry-After"] = query["retry_after"][0]
            self._send(code, b'{"error": "status"}', extra=extra)
        elif path == "/etag":
            if self.headers.get("If-None-Match") == ETAG:
                self.send_response(304)
                self.send_header("ETag", ETAG)
                self.send_header("Last-Modified", LAST_MODIFIED)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(200, OK_BODY, extra={"ETag": ETAG, "Last-Modified": LAST_MODIFIED})
        elif path == "/redirect-away":
            port = self.server.server_address[1]
            self._send(302, b"", extra={"Location": f"http://127.0.0.2:{port}/ok"})
        elif path == "/redirect-same":
            self._send(302, b"", extra={"Location": "/ok"})
        elif path.startswith("/payload/"):
            body = self.server.payloads.get(path.split("/", 2)[2])
            if body is None:
                self._send(404, b'{"error": "no payload"}')
            else:
                self._send(200, body)
        else:
            self._send(404, b'{"error": "not found"}')


class HostileUpstream:
    """Start with ``with HostileUpstream() as up:``; ``up.url("/drip")`` gives an address."""

    class _Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.stopping = threading.Event()
            self.lock = threading.Lock()
            self.hits: Counter[str] = Counter()
            self.flaky: Counter[str] = Counter()
            self.bytes_sent: Counter[str] = Counter()
            self.last_headers: dict[str, dict[str, str]] = {}
            self.payloads: dict[str, bytes] = {}

        def handle_error(self, request, client_address) -> None:
            pass  # clients hanging up on purpose are the point of this server

    def __init__(self) -> None:
        self.server = self._Server(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def hits(self) -> Counter[str]:
        return self.server.hits

    @property
    def payloads(self) -> dict[str, bytes]:
        return self.server.payloads

    def start(self) -> "HostileUpstream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "HostileUpstream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

