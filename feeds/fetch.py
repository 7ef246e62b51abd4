"""Fetch one payload from an upstream (HTTP or a file) within a TOTAL deadline.

The deadline holds whatever the server does: hang before the headers, drip one byte
a second, send 50 MB, or answer HTML with status 200. Per-read timeouts alone do not
give that (a drip resets them forever), so the wall clock is checked between chunks
and a watchdog thread shuts the socket down when the deadline passes.

Errors are split in two: ``RetriableFetchError`` (timeouts, connection errors, 5xx,
408, 429) is worth another try; ``FatalFetchError`` (other 4xx, oversize, wrong content
type, refused redirect) is not.
"""
from __future__ import annotations

import email.utils
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urljoin, urlsplit

import httpx

log = logging.getLogger(__name__)

USER_AGENT = "lukuang/0.1 (+feeds)"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_REDIRECTS = 3
ACCEPT = {"json": "application/json, application/geo+json;q=0.9, */*;q=0.1",
          "csv": "text/csv, text/plain;q=0.9, */*;q=0.1"}


class FetchError(Exception):
    """The fetch failed; ``retriable`` says whether another try may help."""

    retriable = False

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetriableFetchError(FetchError):
    """Timeouts, connection errors, 5xx, 408 and 429: try again later."""

    retriable = True


class FatalFetchError(FetchError):
    """Another try will not help: 4xx, oversize body, wrong content type, bad redirect."""


@dataclass(frozen=True)
class FetchResult:
    """One successful fetch. ``not_modified`` is True on 304 (then ``body`` is empty)."""

    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    elapsed_s: float
    url: str


class _Watchdog:
    """Shuts the connection down when the deadline passes or ``stop`` is set.

    Shutting the socket down (not just closing it) wakes a thread blocked in recv().
    """

    def __init__(self, deadline: float, stop: threading.Event | None):
        self.deadline = deadline
        self.stop = stop
        self.fired = ""  # "deadline" | "stop" once it has acted
        self._streams: list = []
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="fetch-watchdog", daemon=True)
        self._thread.start()

    def trace(self, event: str, info: dict) -> None:
        """httpx ``trace`` extension: remember each network stream as it is opened."""
        stream = info.get("return_value") if event.endswith(".complete") else None
        if stream is not None and hasattr(stream, "get_extra_info"):
            self.watch(stream)

    def watch(self, stream) -> None:
        with self._lock:
            self._streams.append(stream)
            fired = self.fired
        if fired:
            self._kill(stream)

    def _watch(self) -> None:
        while not self._done.wait(min(0.05, max(0.0, self.deadline - time.monotonic()))):
            if self.stop is not None and self.stop.is_set():
                reason = "stop"
            elif time.monotonic() >= self.deadline:
                reason = "deadline"
            else:
                continue
            with self._lock:
                self.fired = reason
                streams = list(self._streams)
            for s in streams:
                self._kill(s)
            return

    @staticmethod
    def _kill(stream) -> None:
        try:
            sock = stream.get_extra_info("socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._done.set()


def _is_file(source: str) -> bool:
    return source.startswith("file:") or "://" not in source


def _file_path(source: str) -> Path:
    if source.startswith("file:"):
        parts = urlsplit(source)
        return Path(unquote(parts.path))
    return Path(source)


def _fetch_file(source: str, max_bytes: int, etag: str | None, started: float) -> FetchResult:
    """Read a local file; its 'ETag' is size and mtime, so an unchanged drop is skipped."""
    path = _file_path(source)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise RetriableFetchError(f"file not found: {path}") from None
    except OSError as exc:
        raise RetriableFetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise FatalFetchError(f"not a file: {path}")
    if st.st_size > max_bytes:
        raise FatalFetchError(f"body larger than {max_bytes} bytes")
    tag = f'"{st.st_size}-{st.st_mtime_ns}"'
    last_mod = email.utils.formatdate(st.st_mtime, usegmt=True)
    if etag and etag == tag:
        return FetchResult(304, b"", tag, last_mod, True, time.monotonic() - started, str(path))
    try:
        with path.open("rb") as fh:
            body = fh.read(max_bytes + 1)
    except OSError as exc:
        raise RetriableFetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise FatalFetchError(f"body larger than {max_bytes} bytes")
    return FetchResult(200, body, tag, last_mod, False, time.monotonic() - started, str(path))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _check_content(expect: str | None, content_type: str, body: bytes) -> None:
    """Refuse an HTML error page (or any non-JSON) served with status 200."""
    if not expect:
        return
    ctype = content_type.split(";")[0].strip().lower()
    head = body[:512].lstrip().lower()
    looks_html = head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))
    if ctype in ("text/html", "application/xhtml+xml") or looks_html:
        raise FatalFetchError(f"expected {expect.upper()}, got {ctype or 'text/html'}")
    if expect == "json" and "json" not in ctype and "javascript" not in ctype:
        # some servers label JSON text/plain or send no type at all: accept only
        # when the body plainly is JSON
        if not head.startswith((b"{", b"[", b"\xef\xbb\xbf{", b"\xef\xbb\xbf[")):
            raise FatalFetchError(f"expected JSON, got {ctype or 'no content type'}")


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def fetch(source: str, *, deadline_s: float, max_bytes: int, etag: str | None = None,
          last_modified: str | None = None, headers: dict[str, str] | None = None,
          client: httpx.Client | None = None, expect: str | None = None,
          allowed_hosts: frozenset[str] | set[str] | None = None,
          stop: threading.Event | None = None) -> FetchResult:
    """Fetch ``source`` (http(s) URL, file path or file:// URL) within ``deadline_s`` seconds.

    ``expect`` ("json" or "csv") refuses HTML and other wrong bodies. ``allowed_hosts``
    lists the hosts that may be contacted (default: the source's own host, plus
    loopback); redirects to another host are never followed. Setting ``stop`` aborts.
    """
    started = time.monotonic()
    if _is_file(source):
        return _fetch_file(source, max_bytes, etag, started)
    url = httpx.URL(source)
    if url.scheme not in ("http", "https"):
        raise FatalFetchError(f"unsupported URL scheme {url.scheme!r}")
    allowed = set(allowed_hosts) if allowed_hosts is not None else {url.host} | LOOPBACK_HOSTS
    if url.host not in allowed:
        raise FatalFetchError(f"host {url.host!r} is not a configured upstream")
    deadline = started + deadline_s
    req_headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT.get(expect or "", "*/*"),
                   "Accept-Encoding": "gzip, deflate"}
    if etag:
        req_headers["If-None-Match"] = etag
    if last_modified:
        req_headers["If-Modified-Since"] = last_modified
    req_headers.update(headers or {})
    own_client = client is None
    if own_client:
        # trust_env=False: no proxy from the environment may reroute a loopback request
        client = httpx.Client(follow_redirects=False, trust_env=False)
    dog = _Watchdog(deadline, stop)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            result = _one_request(client, url, req_headers, deadline, max_bytes, expect, dog,
                                  started)
            if isinstance(result, FetchResult):
                return result
            target = httpx.URL(urljoin(str(url), result))
            if not _same_origin(url, target) or target.host not in allowed:
                raise FatalFetchError(f"redirect to another host refused: {target.host}")
            url = target
        raise FatalFetchError(f"more than {MAX_REDIRECTS} redirects")
    finally:
        dog.close()
        if own_client:
            client.close()


def _deadline_error(dog: _Watchdog, deadline_s: float) -> FetchError:
    if dog.fired == "stop":
        return RetriableFetchError("fetch aborted: stopping")
    return RetriableFetchError(f"deadline of {deadline_s:.1f} s exceeded")


def _one_request(client: httpx.Client, url: httpx.URL, headers: dict[str, str], deadline: float,
                 max_bytes: int, expect: str | None, dog: _Watchdog,
                 started: float) -> FetchResult | str:
    """One HTTP exchange. Returns the result, or the Location of a redirect."""
    remaining = deadline - time.monotonic()
    total = deadline - started
    if remaining <= 0 or dog.fired:
        raise _deadline_error(dog, total)
    timeout = httpx.Timeout(remaining, pool=min(remaining, 5.0))
    request = client.build_request("GET", url, headers=headers, timeout=timeout,
                                   extensions={"trace": dog.trace})
    try:
        response = client.send(request, stream=True, follow_redirects=False)
    except httpx.TimeoutException:
        raise _deadline_error(dog, total) from None
    except (httpx.TransportError, OSError) as exc:
        if dog.fired:
            raise _deadline_error(dog, total) from None
        raise RetriableFetchError(f"connection failed: {exc.__class__.__name__}: {exc}") from None
    try:
        stream = response.extensions.get("network_stream")
        if stream is not None:
            dog.watch(stream)
        status = response.status_code
        if status == 304:
            return FetchResult(304, b"", response.headers.get("etag") or headers.get(
                "If-None-Match"), response.headers.get("last-modified")
                or headers.get("If-Modified-Since"), True, time.monotonic() - started, str(url))
        if 300 <= status < 400:
            location = response.headers.get("location")
            if not location:
                raise FatalFetchError(f"HTTP {status} without Location", status=status)
            return location
        if status in (408, 429) or status >= 500:
            raise RetriableFetchError(f"HTTP {status}", status=status,
                                      retry_after=_retry_after(response.headers.get("retry-after")))
        if status >= 400:
            raise FatalFetchError(f"HTTP {status}", status=status)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise FatalFetchError(f"body larger than {max_bytes} bytes", status=status)
        body = _read_body(response, deadline, max_bytes, dog, total)
        _check_content(expect, response.headers.get("content-type", ""), body)
        return FetchResult(status, body, response.headers.get("etag"),
                           response.headers.get("last-modified"), False,
                           time.monotonic() - started, str(url))
    finally:
        response.close()


def _read_body(response: httpx.Response, deadline: float, max_bytes: int, dog: _Watchdog,
               total: float) -> bytes:
    """Read the (decoded) body chunk by chunk, checking the size cap and the wall clock."""
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():  # no chunk_size: it would buffer a drip
            size += len(chunk)
            if size > max_bytes:
                raise FatalFetchError(f"body larger than {max_bytes} bytes")
            parts.append(chunk)
            if time.monotonic() >= deadline or dog.fired:
                raise _deadline_error(dog, total)
    except httpx.TimeoutException:
        raise _deadline_error(dog, total) from None
    except (httpx.TransportError, httpx.StreamError, OSError) as exc:
        if dog.fired or time.monotonic() >= deadline:
            raise _deadline_error(dog, total) from None
        raise RetriableFetchError(f"body read failed: {exc.__class__.__name__}: {exc}") from None
    return b"".join(parts)


def backoff_delay(attempt: int, base_s: float, cap_s: float,
                  rng: Callable[[float, float], float] = random.uniform) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    return rng(0.0, min(cap_s, base_s * (2 ** attempt)))


def fetch_with_retries(source: str, *, deadline_s: float, max_bytes: int, attempts: int = 4,
                       base_delay_s: float = 0.5, max_delay_s: float = 8.0,
                       stop: threading.Event | None = None,
                       rng: Callable[[float, float], float] = random.uniform,
                       **kwargs) -> FetchResult:
    """``fetch`` with retries inside ONE overall deadline.

    Retriable errors are retried with exponential backoff and full jitter; a server's
    Retry-After is honoured when it fits in the time left, else the error is raised.
    Fatal errors are raised at once. ``kwargs`` go to ``fetch``.
    """
    started = time.monotonic()
    deadline = started + deadline_s
    last: FetchError | None = None
    for attempt in range(max(1, attempts)):
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            break
        try:
            return fetch(source, deadline_s=remaining, max_bytes=max_bytes, stop=stop, **kwargs)
        except RetriableFetchError as exc:
            last = exc
        if stop is not None and stop.is_set():
            break
        remaining = deadline - time.monotonic()
        if last.retry_after is not None:
            if last.retry_after >= remaining:
                raise RetriableFetchError(f"{last} (Retry-After {last.retry_after:.0f} s is past "
                                          f"the deadline)", status=last.status,
                                          retry_after=last.retry_after)
            delay = last.retry_after
        else:
            delay = backoff_delay(attempt, base_delay_s, max_delay_s, rng)
        if attempt == attempts - 1 or delay >= remaining:
            break
        log.debug("fetch %s failed (%s); retry %d in %.2f s", source, last, attempt + 1, delay)
        if stop is not None:
            if stop.wait(delay):
                break
        else:
            time.sleep(delay)
    if last is None:
        raise RetriableFetchError(f"deadline of {deadline_s:.1f} s exceeded")
    raise last
