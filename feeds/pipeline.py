"""Run one payload through an adapter into the store, and account for every record."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dashboard.model import EventError, RoadEvent, validate
from dashboard.storage.store import Store

from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """Counts for one payload: every record is accepted, a duplicate or quarantined."""

    feed: str
    accepted: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    ended: int = 0
    congestion_segments: int = 0
    congestion_changed: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    version: int = 0
    error: str = ""

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _quarantine(store: Store, feed: str, rej: Rejected, summary: IngestSummary) -> None:
    store.quarantine(feed, rej.reason, rej.raw, rej.ref)
    summary.quarantined += 1
    key = rej.reason.split(":")[0][:80]
    summary.reasons[key] = summary.reasons.get(key, 0) + 1


def ended_copies(store: Store, feed: str, result: ParseResult, now: datetime) -> list[RoadEvent]:
    """Live events of this feed that a full snapshot no longer contains, marked ended."""
    if result.snapshot_ids is None:
        return []
    prefix = f"{feed}:"
    gone: list[str] = []
    for kind in result.snapshot_kinds:
        gone += [i for i in store.active_ids(kind) if i.startswith(prefix)
                 and i not in result.snapshot_ids]
    out = []
    for ev in store.get_events(gone):
        out.append(RoadEvent(**{**ev.__dict__, "status": "ended", "ends_at": now
                                if ev.ends_at is None or ev.ends_at > now else ev.ends_at}))
    return out


def ingest_payload(adapter: Adapter, payload: bytes, ctx: ParseContext, store: Store,
                   feed: str | None = None) -> IngestSummary:
    """Parse, validate, merge and write one payload. Raises PayloadError (after
    quarantining the payload) when it is unusable as a whole."""
    feed = feed or adapter.name
    summary = IngestSummary(feed)
    started = time.time()
    try:
        result = adapter.parse(payload, ctx)
    except PayloadError as exc:
        _quarantine(store, feed, Rejected(f"payload: {exc}", payload[:64 * 1024]), summary)
        store.update_feed_health(feed, {"errors": 1}, last_error=f"payload: {exc}"[:500],
                                 last_error_at=f"{time.time():.0f}")
        raise
    except Exception as exc:  # a parser bug must not lose the payload or stop the feed
        log.exception("%s: parser failed", feed)
        reason = f"parser error: {exc.__class__.__name__}: {exc}"
        _quarantine(store, feed, Rejected(reason, payload[:64 * 1024]), summary)
        store.update_feed_health(feed, {"errors": 1}, last_error=reason[:500],
                                 last_error_at=f"{time.time():.0f}")
        raise PayloadError(reason) from exc
    for rej in result.rejected:
        _quarantine(store, feed, rej, summary)
    valid: list[RoadEvent] = []
    for ev in result.events:
        try:
            valid.append(validate(ev, ctx.bbox))
        except EventError as exc:
            _quarantine(store, feed, Rejected(f"invalid event: {exc}", repr(ev.to_dict()
                        if isinstance(ev, RoadEvent) else ev), getattr(ev, "id", "")), summary)
    result.events = valid
    result = adapter.merge(result, store, ctx)
    ended = ended_copies(store, feed, result, ctx.now)
    batch = store.upsert_events(result.events + ended, ttl_s=adapter.ttl_s)
    store.put_private(result.private)
    summary.new, summary.updated = batch.new, batch.updated
    summary.duplicates, summary.ended = batch.duplicates, batch.ended
    summary.accepted = batch.new + batch.updated
    summary.version = batch.version
    if result.congestion:
        changed, version = store.set_congestion(result.congestion)
        summary.congestion_segments = len(result.congestion)
        summary.congestion_changed = changed
        summary.version = max(summary.version, version)
    for metric, when, value in result.gauges:
        store.record_gauge(metric, when, value)
    now = time.time()
    store.update_feed_health(
        feed, {"accepted": summary.accepted + summary.congestion_segments,
               "duplicates": summary.duplicates, "ended": summary.ended, "polls": 1},
        last_ok=f"{now:.0f}", last_batch_ms=f"{(now - started) * 1000:.0f}",
        last_count=str(len(result.events) + len(result.congestion)))
    return summary


def make_context(network, settings, feed: str, now: datetime | None = None) -> ParseContext:
    return ParseContext(network=network, bbox=settings.city_bbox,
                        now=now or datetime.now(timezone.utc), feed=feed,
                        match_max_m=settings.match_max_m)
