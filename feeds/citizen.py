"""Citizen reports from the QR-sticker form (``/r/<sticker id>``) → the one feed pipeline.

The web route (dashboard/web/citizen_api.py) checks the form and the sticker and hands the
report here (app.py injects ``submit``: dashboard/ never imports feeds/). ``submit`` makes one
JSON payload of it and runs it through ``feeds.pipeline.ingest_payload`` with the adapter
below, as every feed's payload is run: validated (a bad record is quarantined with its reason,
its phone and plate masked), written idempotently (a form sent twice is one report: the
event id is the form's reference number), fused into incidents, the data version bumped so
every screen shows it within a tick. The event's source is ``qr``; its text is masked; the
call-back phone, the plate and the citizen's own words go to the report's private hash,
which only roles with ``see_pii`` read. A 违停/挪车 report with a plate then opens a move-car
task (``dashboard.citizen.movecar``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dashboard.citizen import movecar
from dashboard.citizen.report import CATEGORY_BY_VALUE, MOVE_CAR, Report
from dashboard.citizen.stickers import KINDS, Place
from dashboard.masking import mask_known, mask_phone, mask_plate, mask_text
from dashboard.model import MAX_TEXT, RoadEvent

from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected
from .parsing import locate_point
from .pipeline import IngestSummary, ingest_payload, make_context

FEED = "qr"
PRECISION = {"intersection": "intersection", "segment": "stretch"}


def payload_of(report: Report, place: Place, at: datetime) -> bytes:
    """The one-record payload of a checked report (what the quarantine keeps, masked)."""
    return json.dumps({"ref": report.ref, "category": report.category, "text": report.text,
                       "phone": report.phone, "plate": report.plate,
                       "at": at.astimezone(timezone.utc).isoformat(),
                       "place": {"kind": place.kind, "lon": place.lon, "lat": place.lat,
                                 "roads": list(place.roads)}},
                      ensure_ascii=False).encode()


def _masked_raw(rec: dict[str, Any]) -> str:
    out = dict(rec)
    if out.get("phone"):
        out["phone"] = mask_phone(str(out["phone"]))
    if out.get("plate"):
        out["plate"] = mask_plate(str(out["plate"]))
    if out.get("text"):
        out["text"] = mask_text(mask_known(str(out["text"]), numbers=[str(rec.get("phone"))]))
    return json.dumps(out, ensure_ascii=False)


class CitizenAdapter(Adapter):
    """One checked QR-form report → one ``report`` event (source ``qr``)."""

    name = FEED
    ttl_s = None   # a report's default (1 h)

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        try:
            rec = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PayloadError(f"not a JSON report: {exc}") from None
        if not isinstance(rec, dict):
            raise PayloadError("not a JSON object")
        result = ParseResult()
        ref = str(rec.get("ref") or "")[:80]
        try:
            ev, private = self._event(rec, ref, ctx)
        except (KeyError, TypeError, ValueError) as exc:
            result.rejected.append(Rejected(f"bad report: {exc}"[:300], _masked_raw(rec),
                                            f"{FEED}:{ref}"))
            return result
        result.events.append(ev)
        if private:
            result.private[ev.id] = private
        return result

    def _event(self, rec: dict[str, Any], ref: str, ctx: ParseContext
               ) -> tuple[RoadEvent, dict[str, str]]:
        if not ref or any(c.isspace() for c in ref):
            raise ValueError("no reference number")
        value, label, category, severity = CATEGORY_BY_VALUE[str(rec["category"])]
        place = rec["place"]
        if place.get("kind") not in KINDS.values():
            raise ValueError(f"unknown place kind {place.get('kind')!r}")
        lon, lat = float(place["lon"]), float(place["lat"])
        roads = tuple(str(n)[:80] for n in place.get("roads") or ())[:3]
        where = Place(place["kind"], lon, lat, roads)
        at = datetime.fromisoformat(str(rec["at"]))
        seg, district, road = locate_point(ctx, lon, lat)
        phone, plate = str(rec.get("phone") or ""), str(rec.get("plate") or "")
        text = str(rec.get("text") or "")
        masked = mask_text(mask_known(text, numbers=[n for n in (phone,) if n]))
        shown = f"{label}：{masked}" if masked else label
        names = list(where.roads[:2]) + ([road] if road and road not in where.roads else [])
        ev = RoadEvent(
            id=f"{FEED}:{ref}", kind="report", category=category, severity=severity,
            source=FEED, observed_at=at, lon=lon, lat=lat, segment_id=seg, district=district,
            road_names=tuple(names), starts_at=at, confidence=0.6,
            text=shown[:MAX_TEXT], raw_ref=f"{FEED}:{ref}",
            attrs={"located_by": PRECISION[where.kind], "place": where.name,
                   "form_category": value})
        private = {k: v for k, v in (("phone", phone), ("plate", plate),
                                     ("raw_text", text)) if v}
        return ev, private


@dataclass(frozen=True)
class Receipt:
    """What the citizen is told: the reference, whether the report was stored (or already
    was: a resend), quarantined, and the move-car task it opened."""

    ref: str
    event_id: str
    outcome: str                 # "accepted" | "duplicate" | "quarantined"
    task_id: str = ""
    summary: dict[str, Any] | None = None


def submit(svc: Any, report: Report, place: Place, at: datetime | None = None) -> Receipt:
    """Run one checked report through the pipeline (``svc``: the worker's Services) and,
    for a 违停/挪车 report with a plate, open its move-car task. Raises redis errors (the
    web answers 503: the citizen is told to send again, nothing was half-stored)."""
    now = datetime.now(timezone.utc)
    # the report's time is when the form was opened: the same form sent twice is one record
    at = at or (datetime.fromtimestamp(report.opened_at, timezone.utc) if report.opened_at
                else now)
    ctx = make_context(svc.network, svc.settings, FEED, now=now)
    # citizens report now and then, not on a poll: like a file drop, never "stale" on the wall
    svc.store.update_feed_health(FEED, None, mode="drop", source="QR stickers")
    summary: IngestSummary = ingest_payload(CitizenAdapter(), payload_of(report, place, at),
                                            ctx, svc.store, FEED)
    event_id = f"{FEED}:{report.ref}"
    if summary.quarantined or summary.quarantine_repeats:
        return Receipt(report.ref, event_id, "quarantined", summary=summary.to_dict())
    outcome = "accepted" if summary.accepted else "duplicate"
    task_id = ""
    if report.category == MOVE_CAR and report.plate:
        ev = (svc.store.get_events([event_id]) or [None])[0]
        district = ev.district if ev is not None else ""
        task_id, _ = movecar.open_task(svc.r, svc.keys, event_id, FEED, place.name,
                                       place.lon, place.lat, district,
                                       now=now.timestamp())
    return Receipt(report.ref, event_id, outcome, task_id, summary.to_dict())
