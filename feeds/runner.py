"""Run every configured feed at its own interval in one process, until told to stop.

One thread per feed: hold the feed's lease → fetch (conditional, with retries, within
the feed's deadline) → ``ingest_payload`` → feed health. Whatever goes wrong in one
feed is logged and recorded in its health; it never stops the others. A housekeeping
thread expires old events (every ~10 s) and records the congestion index (every
minute and right after a congestion batch).

Leases: ``SET lease <runner-id> NX PX ttl``, renewed each poll only by the holder, so
two runners (on one host or several) never poll the same feed, and when a holder dies
another takes the feed over once the lease runs out.

A feed of mode "drop" (files delivered now and then, ``FeedConfig.mode``) is looked at only
when it has a ``url`` (a file: a missing file is "no drop yet", not an error) and is never
stale between drops; its health hash says ``mode=drop``. ``run_housekeeping`` is the
housekeeping alone, for a host that polls nothing (``lukuang housekeeping``).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import unquote, urlsplit

import redis

from dashboard.settings import FeedConfig, Settings
from dashboard.storage.store import Store

from .base import Adapter, ParseContext, ParseResult, PayloadError
from .breaker import Breaker
from .config import mask_secrets, public_url, with_credentials
from .fetch import FetchError, fetch_with_retries
from .pipeline import ingest_payload, make_context

log = logging.getLogger("lukuang.feeds")

EXPIRE_EVERY_S = 10.0
INDEX_EVERY_S = 60.0
JOIN_TIMEOUT_S = 8.0
LEASE_MIN_S, LEASE_MAX_S = 0.6, 15.0  # a feed lease lives half an interval, within these
# what each adapter's upstream must send (an HTML error page is refused either way)
EXPECT = {"hotline": "csv"}

# renew only if we still hold the lease; release only our own
_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def new_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Observed(Adapter):
    """Wraps an adapter to note the newest ``observed_at`` a payload carried (for lag)."""

    def __init__(self, inner: Adapter):
        self.inner = inner
        self.name = inner.name
        self.ttl_s = inner.ttl_s
        self.newest: float | None = None

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        result = self.inner.parse(payload, ctx)
        stamps = [ev.observed_at.timestamp() for ev in result.events
                  if getattr(ev, "observed_at", None) is not None]
        stamps += [float(c[4]) for c in result.congestion]
        self.newest = max(stamps) if stamps else None
        return result

    def merge(self, result: ParseResult, store: Any, ctx: ParseContext) -> ParseResult:
        return self.inner.merge(result, store, ctx)


def drop_path(feed: FeedConfig) -> Path | None:
    """The file a "drop" feed's ``url`` names (a path or ``file:`` URL); None for a polled
    feed or one without a file."""
    url = feed.url
    if feed.mode != "drop" or not url or ("://" in url and not url.startswith("file:")):
        return None
    return Path(unquote(urlsplit(url).path)) if url.startswith("file:") else Path(url)


def pollable(feed: FeedConfig) -> bool:
    """Whether a runner has anything to do for ``feed``: enabled, and polled or a drop
    with a file to look at (a drop without ``url`` arrives by ``lukuang ingest`` only)."""
    return feed.enabled and (feed.mode != "drop" or bool(feed.url))


def resolve_adapter(feed: FeedConfig, adapters: Mapping[str, Any] | None = None) -> Adapter:
    """The adapter for a feed: from ``adapters`` (by feed or adapter name), else the registry."""
    found = None
    if adapters:
        found = adapters.get(feed.name) or adapters.get(feed.adapter)
    if found is None:
        from .registry import get_adapter

        found = get_adapter(feed.adapter)
    return found() if isinstance(found, type) else found


@dataclass
class FeedWorker:
    """Polls one feed; ``run`` loops until ``stop`` is set."""

    feed: FeedConfig
    settings: Settings
    store: Store
    adapter: Adapter
    network: Callable[[], Any]
    stop: threading.Event
    runner_id: str
    congestion_written: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.time
    breaker: Breaker = field(default_factory=Breaker)
    _scripts: dict[str, Any] = field(default_factory=dict, repr=False)
    # a Redis error that could not be recorded while Redis was down; written once it is back
    _unrecorded: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def lease_key(self) -> str:
        return self.store.keys.lease(self.feed.name)

    def lease_ttl_ms(self) -> int:
        """Half an interval (0.6–15 s). A heartbeat renews it every third of that, so a dead
        holder's feed is taken over within ttl + ttl/3, i.e. inside one poll interval."""
        return int(1000 * min(LEASE_MAX_S, max(LEASE_MIN_S, 0.5 * self.feed.interval_s)))

    def lease_tick_s(self) -> float:
        return self.lease_ttl_ms() / 3000

    def _script(self, name: str, text: str):
        if name not in self._scripts:
            self._scripts[name] = self.store.r.register_script(text)
        return self._scripts[name]

    def hold_lease(self) -> bool:
        """Take the lease when free, renew it when ours; False when another runner has it."""
        r, ttl = self.store.r, self.lease_ttl_ms()
        if r.set(self.lease_key, self.runner_id, nx=True, px=ttl):
            return True
        return bool(self._script("renew", _RENEW_LUA)(keys=[self.lease_key],
                                                      args=[self.runner_id, ttl]))

    def release_lease(self) -> None:
        try:
            self._script("release", _RELEASE_LUA)(keys=[self.lease_key], args=[self.runner_id])
        except redis.RedisError as exc:
            log.warning("%s: could not release the lease: %s", self.feed.name, exc)

    def _health(self, counters: dict[str, int] | None = None, **fields: Any) -> None:
        pending = dict(self._unrecorded)
        if pending:
            counters = {**(counters or {}), "errors": (counters or {}).get("errors", 0) + 1}
            fields = {**pending, **fields}
        try:
            self.store.update_feed_health(self.feed.name, counters, **fields)
            self._unrecorded.clear()
        except redis.RedisError as exc:
            log.error("%s: cannot record feed health: %s", self.feed.name, exc)
            self._remember_redis_error(exc)

    def _remember_redis_error(self, exc: BaseException) -> None:
        """Keep the first error of an outage, to record once Redis answers again."""
        if not self._unrecorded:
            self._unrecorded.update(last_error=f"redis: {exc}"[:500],
                                    last_error_at=f"{self.clock():.0f}")

    def _common(self, now: float) -> dict[str, str]:
        return {"last_poll_at": f"{now:.0f}", "runner": self.runner_id,
                "interval_s": f"{self.feed.interval_s:g}", "source": public_url(self.feed.url),
                "mode": self.feed.mode, **self.breaker.health()}

    def poll_once(self) -> None:
        """One poll: fetch, ingest, record health. Never raises."""
        started = self.clock()
        try:
            self._poll(started)
        except (FetchError, PayloadError) as exc:
            if self.stop.is_set() and isinstance(exc, FetchError):
                return  # aborted by the shutdown, not the upstream's fault
            self._failed(started, exc, counted=isinstance(exc, PayloadError))
        except redis.RedisError as exc:  # not the upstream's fault: leave the breaker alone
            log.error("%s: Redis error: %s", self.feed.name, exc)
            self._health({"errors": 1}, last_error=f"redis: {exc}"[:500],
                         last_error_at=f"{self.clock():.0f}")
        except Exception as exc:  # noqa: BLE001 - one feed's bug must not stop the runner
            log.exception("%s: poll failed", self.feed.name)
            self._failed(started, exc, counted=False)

    def _poll(self, started: float) -> None:
        name = self.feed.name
        drop = drop_path(self.feed)
        if drop is not None and not drop.exists():   # no drop yet (or taken away): waiting
            self.breaker.record_success()
            self._health({"polls": 1}, **self._common(started))
            return
        health = self.store.r.hgetall(self.store.keys.feed(name))
        url, headers = with_credentials(self.feed)
        result = fetch_with_retries(
            url, deadline_s=self.feed.timeout_s, max_bytes=self.feed.max_bytes,
            etag=health.get("etag") or None, last_modified=health.get("last_modified") or None,
            headers=headers, expect=getattr(self.adapter, "expect", None)
            or EXPECT.get(self.feed.adapter, "json"), stop=self.stop)
        if result.not_modified:
            self.breaker.record_success()
            now = self.clock()
            newest = float(health.get("newest_observed_at") or started)
            self._health({"polls": 1, "not_modified": 1}, last_ok=f"{now:.0f}",
                         lag_s=f"{max(0.0, now - newest):.0f}", **self._common(started))
            return
        network = self.network()
        if not self.hold_lease():  # a slow fetch outlived the lease and another runner has it
            log.warning("%s: lease lost during the fetch; this payload is left to %s", name,
                        self.store.r.get(self.lease_key))
            return
        observed = _Observed(self.adapter)
        ctx = make_context(network, self.settings, name)
        summary = ingest_payload(observed, result.body, ctx, self.store, feed=name)
        self.breaker.record_success()
        now = self.clock()
        newest = observed.newest if observed.newest is not None else started
        self._health(None, lag_s=f"{max(0.0, now - newest):.0f}",
                     newest_observed_at=f"{newest:.0f}", etag=result.etag or "",
                     last_modified=result.last_modified or "",
                     last_fetch_ms=f"{result.elapsed_s * 1000:.0f}",
                     last_bytes=str(len(result.body)), **self._common(started))
        if summary.congestion_segments:
            self.congestion_written.set()
        log.debug("%s: %s", name, summary.to_dict())

    def _failed(self, started: float, exc: BaseException, counted: bool) -> None:
        self.breaker.record_failure()
        message = mask_secrets(f"{exc.__class__.__name__}: {exc}")[:500]
        log.warning("%s: %s (breaker %s)", self.feed.name, message, self.breaker.state)
        fields = self._common(started)
        if not counted:  # the pipeline already counted and described a bad payload
            fields.update(last_error=message, last_error_at=f"{self.clock():.0f}")
        self._health(None if counted else {"errors": 1}, **fields)

    def run(self) -> None:
        """Poll at the feed's interval while holding its lease, until ``stop`` is set.

        A heartbeat thread takes or renews the lease every ``lease_tick_s`` (also while a slow
        fetch runs); this loop polls only while the lease is ours, and polls at once when it
        has just been taken over, so a dead runner's feed misses less than one interval.
        """
        try:  # load the road network before taking the lease: a first load takes seconds
            self.network()
        except Exception:  # noqa: BLE001 - each poll reports it in the feed health
            log.exception("%s: cannot load the road network", self.feed.name)
        held = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(held,), daemon=True,
                                name=f"lease-{self.feed.name}")
        beat.start()
        tick = self.lease_tick_s()
        next_at = time.monotonic()
        try:
            while not self.stop.is_set():
                if not held.is_set():
                    next_at = time.monotonic()  # poll as soon as the lease is ours
                    held.wait(min(tick, 0.5))  # short, so that a stop is seen at once
                    continue
                if time.monotonic() >= next_at:
                    if self.breaker.allow():
                        self.poll_once()
                    else:
                        self._health(None, **self._common(self.clock()))
                    next_at = max(next_at + self.feed.interval_s, time.monotonic())
                self.stop.wait(min(tick, max(0.0, next_at - time.monotonic())))
        finally:
            beat.join(timeout=5)
            self.release_lease()

    def _heartbeat(self, held: threading.Event) -> None:
        """Take or renew the lease every tick until ``stop``; ``held`` says whether it is ours."""
        while not self.stop.is_set():
            try:
                mine = self.hold_lease()
            except redis.RedisError as exc:
                log.error("%s: lease check failed: %s", self.feed.name, exc)
                self._remember_redis_error(exc)
                mine = False
            if mine:
                held.set()
            else:
                held.clear()
            self.stop.wait(self.lease_tick_s())


def housekeeping(store: Store, network: Callable[[], Any], stop: threading.Event,
                 congestion_written: threading.Event, stale_s: float = 900,
                 expire_every_s: float = EXPIRE_EVERY_S,
                 index_every_s: float = INDEX_EVERY_S) -> None:
    """Expire old events and record the congestion index until ``stop`` is set."""
    from dashboard.congestion import record_congestion_index

    def record_index() -> None:
        try:
            record_congestion_index(store, network(), stale_s=stale_s)
        except Exception:  # noqa: BLE001 - try again next round
            log.exception("congestion index failed")

    next_expire = next_index = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_expire:
            next_expire = now + expire_every_s
            try:
                store.expire_active()
            except Exception:  # noqa: BLE001
                log.exception("expire_active failed")
        if now >= next_index or congestion_written.is_set():
            congestion_written.clear()
            next_index = now + index_every_s
            record_index()
        stop.wait(0.5)
    if congestion_written.is_set():  # a batch landed during the last round: index it
        record_index()


def _store_and_network(settings: Settings, store: Store | None,
                       network: Callable[[], Any] | None):
    """(the Redis handle this call opened or None, the store, a function returning the road
    network): what the caller gave, else opened from ``settings``."""
    handle = None
    if store is None:
        from dashboard.storage.connection import open_redis

        handle = open_redis(settings)
        store = Store.from_settings(handle.client, settings)
    if network is None:
        def network():
            from dashboard.roads.network import get_network

            return get_network(settings.state_dir)
    return handle, store, network


def run_housekeeping(settings: Settings, stop_event: threading.Event, *,
                     store: Store | None = None,
                     network: Callable[[], Any] | None = None) -> None:
    """Expire old events and record the congestion index every minute until ``stop_event``
    is set: what ``run_feeds`` does besides polling, for a host that polls no feed (``lukuang
    run --no-feeds``, or no feed configured) so that the index chart never stays empty.
    Running it next to a feed runner is harmless: both writes of a minute are the same."""
    handle, store, network = _store_and_network(settings, store, network)
    backfill = demo_backfill_thread(settings, store, network, stop_event)
    log.info("housekeeping: expiring events and recording the congestion index every %.0f s",
             INDEX_EVERY_S)
    try:
        if backfill is not None:
            backfill.start()
        housekeeping(store, network, stop_event, threading.Event(), settings.congestion_stale_s)
    finally:
        if backfill is not None:
            backfill.join(JOIN_TIMEOUT_S)
        if handle is not None:
            handle.close()


BACKFILL_AFTER_S = 30.0   # the demo's backfill waits at most this for the first live data


def demo_backfill_thread(settings: Settings, store: Store, network: Callable[[], Any],
                         stop_event: threading.Event,
                         after: threading.Event | None = None) -> threading.Thread | None:
    """The demo's first start: claim the simulated history now, before the live index
    records its first minute, and write it in a thread (``feeds.backfill``) once ``after``
    is set (the feeds' first congestion is in: the backfill's seconds of work do not delay
    the first live data) or 30 s have passed; None when there is nothing to do (not the
    demo, history already there, …). Never raises."""
    from .backfill import plan_backfill, write_backfill

    try:
        span = plan_backfill(settings, store)
    except Exception:  # noqa: BLE001 - the demo runs without its history
        log.exception("demo history: cannot plan the backfill")
        return None
    if span is None:
        return None

    def run() -> None:
        if after is not None:
            after.wait(BACKFILL_AFTER_S)
        if stop_event.is_set():
            return
        try:
            write_backfill(settings, store, network(), span, stop=stop_event)
        except Exception:  # noqa: BLE001
            log.exception("demo history: the backfill failed")
    return threading.Thread(target=run, name="demo-backfill", daemon=True)


def run_feeds(settings: Settings, feeds: list[FeedConfig], stop_event: threading.Event, *,
              store: Store | None = None, network: Callable[[], Any] | None = None,
              adapters: Mapping[str, Any] | None = None, runner_id: str | None = None,
              with_housekeeping: bool = True) -> None:
    """Run every enabled feed until ``stop_event`` is set; return once they have stopped.

    ``store``, ``network`` (a function returning the road network) and ``adapters``
    (name → adapter, overriding ``feeds.registry``) are for tests and embedding.
    """
    handle, store, network = _store_and_network(settings, store, network)
    runner_id = runner_id or new_runner_id()
    congestion_written = threading.Event()
    threads: list[threading.Thread] = []
    try:
        for feed in feeds:
            if not pollable(feed):
                if feed.enabled and feed.mode == "drop":   # known as a drop feed on /feeds
                    store.update_feed_health(feed.name, None, mode="drop")
                continue
            try:
                adapter = resolve_adapter(feed, adapters)
            except Exception as exc:  # noqa: BLE001 - a bad entry must not stop the others
                log.error("%s: no adapter %r: %s", feed.name, feed.adapter, exc)
                store.update_feed_health(feed.name, {"errors": 1},
                                         last_error=f"no adapter {feed.adapter!r}: {exc}"[:500],
                                         last_error_at=f"{time.time():.0f}")
                continue
            worker = FeedWorker(feed, settings, store, adapter, network, stop_event, runner_id,
                                congestion_written,
                                breaker=Breaker(base_cooldown_s=max(5.0, 2 * feed.interval_s)))
            threads.append(threading.Thread(target=worker.run, name=f"feed-{feed.name}",
                                            daemon=True))
        if with_housekeeping:
            threads.append(threading.Thread(
                target=housekeeping, name="feed-housekeeping", daemon=True,
                args=(store, network, stop_event, congestion_written,
                      settings.congestion_stale_s)))
        if settings.demo and not settings.feeds and adapters is None:
            # the demo account's own timeline and reads export (the comms reach panel)
            from .reach_feed import run_reach_poller

            threads.append(threading.Thread(target=run_reach_poller, name="feed-reach",
                                            daemon=True, args=(settings, store, stop_event)))
            backfill = demo_backfill_thread(settings, store, network, stop_event,
                                            after=congestion_written)
            if backfill is not None:   # the demo's first start: its simulated history
                threads.append(backfill)
        names = [t.name[len("feed-"):] for t in threads
                 if t.name.startswith("feed-") and t.name != "feed-housekeeping"]
        log.info("runner %s: %d feed(s): %s", runner_id, len(names), ", ".join(names))
        for t in threads:
            t.start()
        while not stop_event.wait(0.5):
            pass
        stopping = time.monotonic()
        for t in threads:
            t.join(max(0.1, stopping + JOIN_TIMEOUT_S - time.monotonic()))
            if t.is_alive():
                log.warning("%s did not finish within %.0f s", t.name, JOIN_TIMEOUT_S)
        log.info("runner %s stopped in %.2f s", runner_id, time.monotonic() - stopping)
    finally:
        if handle is not None:
            handle.close()
