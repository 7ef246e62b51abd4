"""Unit positions (AVL) from the upstream's ``GET /units/positions.json``:

    {"units": [{"id", "type", "callsign", "lon", "lat", "status", "updated_at"}], "updated_at"}

Units are not road events: ``parse`` (pure) returns a ``UnitsParseResult`` whose ``units``
list carries them and whose ``events`` stay empty, and ``merge`` (the pipeline's hook
with the store) writes them with ``dashboard.dispatch.units.apply_feed``. So the adapter runs in
the ordinary runner like any other feed; ``poll_units`` is a one-shot helper for tests
and scripts.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.dispatch.units import UNIT_STATUSES, UNIT_TYPES, UnitReport, apply_feed
from dashboard.model import point_problem

from .parsing import load_json
from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected

MAX_UNITS = 5000
MAX_ID = 40
MAX_CALLSIGN = 40
# upstream status words → ours (AVL systems differ in wording)
STATUS_ALIASES = {"busy": "assigned", "enroute": "assigned", "en_route": "assigned",
                  "onscene": "on_scene", "offduty": "off_duty", "off": "off_duty",
                  "available": "free", "idle": "free"}


@dataclass
class UnitsParseResult(ParseResult):
    units: list[UnitReport] = field(default_factory=list)


def _time(value: Any, ctx: ParseContext) -> float:
    if isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"updated_at {value[:40]!r} is not RFC 3339") from None
        if dt.tzinfo is None:
            raise ValueError("updated_at has no timezone")
        return dt.timestamp()
    return ctx.now.timestamp()


def parse_unit(item: Any, ctx: ParseContext) -> UnitReport:
    """One upstream unit → UnitReport; ValueError with the reason otherwise."""
    if not isinstance(item, dict):
        raise ValueError(f"unit is {type(item).__name__}, not an object")
    uid = item.get("id")
    if not isinstance(uid, str) or not uid or len(uid) > MAX_ID or not all(
            c.isalnum() or c in "-_." for c in uid):
        raise ValueError(f"unit id must be 1-{MAX_ID} letters, digits, '-', '_', '.'")
    utype = item.get("type")
    if utype not in UNIT_TYPES:
        raise ValueError(f"unit {uid}: unknown type {utype!r}")
    status = str(item.get("status") or "").strip().lower()
    status = STATUS_ALIASES.get(status, status)
    if status not in UNIT_STATUSES:
        raise ValueError(f"unit {uid}: unknown status {item.get('status')!r}")
    lon, lat = item.get("lon"), item.get("lat")
    if isinstance(lon, bool) or isinstance(lat, bool) or not isinstance(lon, (int, float)) \
            or not isinstance(lat, (int, float)):
        raise ValueError(f"unit {uid}: coordinates are not numbers")
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError(f"unit {uid}: coordinates are not finite")
    problem = point_problem(lon, lat, ctx.bbox, f"unit {uid}")
    if problem:
        raise ValueError(problem)
    callsign = item.get("callsign")
    callsign = callsign.strip()[:MAX_CALLSIGN] if isinstance(callsign, str) else uid
    at = _time(item.get("updated_at"), ctx)
    if at > ctx.now.timestamp() + 300:
        raise ValueError(f"unit {uid}: updated_at is in the future")
    return UnitReport(uid, utype, callsign or uid, float(lon), float(lat), status, at)


class UnitsAdapter(Adapter):
    """Unit positions and status from an AVL-style JSON list."""

    name = "units"

    def parse(self, payload: bytes, ctx: ParseContext) -> UnitsParseResult:
        doc = load_json(payload)
        items = doc.get("units") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise PayloadError("no 'units' list at the top level")
        result = UnitsParseResult()
        seen: set[str] = set()
        for i, item in enumerate(items):
            raw = json.dumps(item, ensure_ascii=False)[:4000] if i < MAX_UNITS else ""
            if i >= MAX_UNITS:
                result.rejected.append(Rejected(f"more than {MAX_UNITS} units", raw))
                continue
            try:
                u = parse_unit(item, ctx)
            except ValueError as exc:
                result.rejected.append(Rejected(str(exc), raw))
                continue
            if u.id in seen:
                result.rejected.append(Rejected(f"unit {u.id}: listed twice", raw, u.id))
                continue
            seen.add(u.id)
            result.units.append(u)
        return result

    def merge(self, result: ParseResult, store: Any, ctx: ParseContext) -> ParseResult:
        units = getattr(result, "units", [])
        if units:
            changed, _version = apply_feed(store.r, store.keys, units)
            store.update_feed_health(ctx.feed or self.name, {"accepted": len(units)},
                                     units_changed=str(changed))
        return result


def poll_units(url: str, settings, store, network=None, timeout_s: float = 5.0):
    """Fetch ``url`` once and write the units (for tests and scripts; the runner does this
    on its own once the adapter is registered). Returns the ingest summary."""
    from .fetch import fetch_with_retries
    from .pipeline import ingest_payload, make_context

    fetched = fetch_with_retries(url, deadline_s=timeout_s, max_bytes=5 * 1024 * 1024,
                                 expect="json")
    ctx = make_context(network, settings, "units")
    return ingest_payload(UnitsAdapter(), fetched.body, ctx, store, feed="units")
