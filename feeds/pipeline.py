"""Run one payload through an adapter into the store, and account for every record."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis

from dashboard.city import split_names
from dashboard.dispatch.fusion import FusionRules, fuse
from dashboard.model import EventError, RoadEvent, validate
from dashboard.roads.extent import city_bbox
from dashboard.storage.store import Store
from dashboard.timeutil import city_zone

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
    incidents_created: int = 0
    incidents_linked: int = 0
    fusion_errors: int = 0
    quarantine_repeats: int = 0   # rejected records quarantined already (counted as duplicates)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _quarantine(store: Store, feed: str, rej: Rejected, summary: IngestSummary) -> None:
    """Quarantine a rejected record once: the same bad record re-sent on every poll (the
    same raw bytes and reason within a day) counts as a duplicate, not again (issue 14)."""
    if not store.quarantine_once(feed, rej.reason, rej.raw, rej.ref):
        summary.quarantine_repeats += 1
        return
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
    counters = {"accepted": summary.accepted + summary.congestion_segments,
                "duplicates": summary.duplicates, "ended": summary.ended, "polls": 1}
    now = time.time()
    store.update_feed_health(
        feed, counters, last_ok=f"{now:.0f}", last_batch_ms=f"{(now - started) * 1000:.0f}",
        last_count=str(len(result.events) + len(result.congestion)))
    if ctx.fusion is not None:
        # after the batch's health: the events are stored and counted whatever fusion does
        fusion_counters: dict[str, int] = {}
        health: dict[str, str] = {}
        _fuse(store, result.events, ctx, summary, fusion_counters, health)
        health["last_fusion_ms"] = f"{(time.time() - now) * 1000:.0f}"
        store.update_feed_health(feed, fusion_counters, **health)
    return summary


def _fuse(store: Store, events: list[RoadEvent], ctx: ParseContext, summary: IngestSummary,
          counters: dict[str, int], health: dict[str, str]) -> None:
    """Put the batch's incident records on incidents (``dashboard.dispatch.fusion``). The
    events are written already: a failure here is logged and counted, never raised."""
    try:
        done = fuse(store.r, store.keys, events, ctx.fusion, now=ctx.now.timestamp())
        summary.incidents_created, summary.incidents_linked = len(done.created), len(done.linked)
        errors, reason = done.errors, "fusion: some records failed (see the log)"
        if done.created or done.linked:
            summary.version = max(summary.version, store.version())
    except (redis.ConnectionError, redis.TimeoutError):
        # Redis is away: the runner records the outage and polls again; the stored records
        # are fused when the feed sends them again (linked ones are skipped)
        raise
    except Exception as exc:  # noqa: BLE001 - the ingested events must never be lost
        log.exception("%s: fusion failed", summary.feed)
        errors, reason = 1, f"fusion: {exc.__class__.__name__}: {exc}"
    summary.fusion_errors = errors
    if errors:
        counters["fusion_errors"] = errors
        health.update(last_error=reason[:500], last_error_at=f"{time.time():.0f}")


def make_context(network, settings, feed: str, now: datetime | None = None) -> ParseContext:
    """What one payload of ``feed`` is parsed with: the city's bounds (``city_bbox``, else
    the network's extent plus a margin), zone and accounts, the clock, the fusion rules."""
    return ParseContext(network=network, bbox=city_bbox(settings, network),
                        now=now or datetime.now(timezone.utc), feed=feed,
                        match_max_m=settings.match_max_m, tz=city_zone(settings),
                        accounts=split_names(settings.weibo_accounts),
                        fusion=FusionRules.from_settings(settings)
                        if settings.fusion_enabled else None)
