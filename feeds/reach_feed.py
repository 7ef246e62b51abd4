"""A small poller for the account's own posts, so the reach panel is live in the demo.

Each poll fetches, from the upstream (the demo simulator on 127.0.0.1:<sim_port>):
- ``/weibo/2/statuses/user_timeline.json`` (the account's own posts with their growing
  reposts / comments / attitudes counts), a few pages of 100;
- ``/weibo/export/reads.csv`` (the owner's export with reads, last 7 days by default);
and, once per process, the export for the current (or latest) holiday period and the
previous holiday of the same kind, so the comparison chart has both campaigns.

Everything goes through ``dashboard.reach`` exactly as ``lukuang reach import`` does;
rejected rows are counted in the feed health of ``reach`` (shown on /feeds).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from dashboard.comms.holidays import HolidayCalendar
from dashboard.storage.keys import Keys
from dashboard.comms.reach import ReachFileError, ReachStore, parse_csv_text, parse_statuses_text
from dashboard.settings import Settings
from dashboard.storage.store import Store
from dashboard.timeutil import city_zone

from .fetch import FetchError, fetch

log = logging.getLogger("lukuang.reach")
FEED = "reach"
TIMELINE_PATH = "/weibo/2/statuses/user_timeline.json"
EXPORT_PATH = "/weibo/export/reads.csv"
PAGE_COUNT = 100
MAX_PAGES = 5
DEADLINE_S = 10.0
MAX_BYTES = 20 * 1024 * 1024
POLL_INTERVAL_S = 60.0
_backfilled: set[tuple[str, str, str]] = set()   # (base url, first day, last day) done


def _clients(settings: Settings, store_or_redis: Any) -> tuple[ReachStore, Store]:
    tz = city_zone(settings)
    if isinstance(store_or_redis, Store):
        return ReachStore(store_or_redis.r, store_or_redis.keys, tz), store_or_redis
    keys = Keys(settings.key_prefix, settings.city)
    return ReachStore(store_or_redis, keys, tz), Store.from_settings(store_or_redis, settings)


def _get(url: str, expect: str) -> str:
    res = fetch(url, deadline_s=DEADLINE_S, max_bytes=MAX_BYTES, expect=expect)
    return res.body.decode("utf-8-sig")


def poll_reach(settings: Settings, store_or_redis: Any, *, base_url: str | None = None,
               backfill: bool = True) -> dict[str, Any]:
    """One poll; returns {posts, snapshots, rejected, errors, backfilled}. Never raises for
    an upstream problem: errors are listed and written to the feed health."""
    reach, store = _clients(settings, store_or_redis)
    base = (base_url or f"http://127.0.0.1:{settings.sim_port}").rstrip("/")
    started = time.time()
    out: dict[str, Any] = {"posts": 0, "snapshots": 0, "rejected": 0, "errors": [],
                           "backfilled": []}
    newest: datetime | None = None
    seen: set[str] = set()

    def take(batch) -> None:
        nonlocal newest
        res = reach.record(batch.rows, batch.source, at=time.time())
        seen.update(r.post_id for r in batch.rows)
        out["posts"] = len(seen)
        out["snapshots"] += res.snapshots
        out["rejected"] += len(batch.rejected)
        for row in batch.rows:
            if row.created_at and (newest is None or row.created_at > newest):
                newest = row.created_at

    # the timeline, newest first, page by page
    max_id = 0
    for _ in range(MAX_PAGES):
        url = f"{base}{TIMELINE_PATH}?count={PAGE_COUNT}" + (f"&max_id={max_id}" if max_id else "")
        try:
            batch = parse_statuses_text(_get(url, "json"))
        except (FetchError, ReachFileError, UnicodeDecodeError) as exc:
            out["errors"].append(f"timeline: {exc}")
            break
        take(batch)
        if len(batch.rows) < PAGE_COUNT:
            break
        max_id = min(int(r.post_id) for r in batch.rows) - 1
    # the export with reads
    try:
        take(parse_csv_text(_get(f"{base}{EXPORT_PATH}", "csv")))
    except (FetchError, ReachFileError, UnicodeDecodeError) as exc:
        out["errors"].append(f"export: {exc}")
    if backfill and newest is not None:
        for first, last in _backfill_periods(settings, newest):
            key = (base, first, last)
            if key in _backfilled:
                continue
            try:
                take(parse_csv_text(_get(f"{base}{EXPORT_PATH}?from={first}&to={last}", "csv")))
                _backfilled.add(key)
                out["backfilled"].append([first, last])
            except (FetchError, ReachFileError, UnicodeDecodeError) as exc:
                out["errors"].append(f"export {first}..{last}: {exc}")
    fields = {"last_poll": f"{started:.0f}", "interval_s": f"{POLL_INTERVAL_S:g}"}
    if out["errors"]:
        fields.update(last_error="; ".join(out["errors"])[:500], last_error_at=f"{time.time():.0f}")
    else:
        fields.update(last_ok=f"{time.time():.0f}", lag_s=f"{time.time() - started:.1f}")
    store.update_feed_health(FEED, {"polls": 1, "accepted": out["snapshots"],
                                    "quarantined": out["rejected"],
                                    "errors": 1 if out["errors"] else 0}, **fields)
    return out


def _backfill_periods(settings: Settings, newest: datetime) -> list[tuple[str, str]]:
    """The holiday period around the newest post (or the latest before it) and the previous
    one of the same kind, as (first, last) ISO days."""
    cal = HolidayCalendar.load(settings.state_dir)
    day = newest.astimezone(city_zone(settings)).date()
    current = cal.period_at(day)
    if current is None:
        earlier = [p for p in cal.periods(day.year) if p.end < day]
        current = earlier[-1] if earlier else None
    if current is None:
        return []
    out = [(current.start.isoformat(), min(current.end, day).isoformat())]
    prev = cal.previous(current.kind, current.start)
    if prev is not None:
        out.append((prev.start.isoformat(), prev.end.isoformat()))
    return out


def run_reach_poller(settings: Settings, store: Store, stop, interval_s: float = POLL_INTERVAL_S
                     ) -> None:
    """Poll until ``stop`` (a threading.Event) is set; for the feed runner's thread."""
    # give the upstream (in the demo, the simulator started alongside) a moment to come up
    if stop.wait(min(5.0, interval_s)):
        return
    while not stop.is_set():
        try:
            poll_reach(settings, store)
        except Exception:  # noqa: BLE001 - a bad poll must not end the thread
            log.exception("reach poll failed")
        stop.wait(interval_s)
