"""The one record type for everything on the map: ``RoadEvent``, and its validation."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

KINDS = ("incident", "congestion", "construction", "report")
CATEGORIES = (
    "accident", "breakdown", "hazard", "closure", "jam", "roadworks", "flooding", "weather",
    "illegal_parking", "overload", "police", "event", "detour", "other",
)
STATUSES = ("active", "ended")
MAX_TEXT = 2000
MAX_ID = 200
MAX_NAMES = 20
MAX_NAME = 80
MAX_LINE_POINTS = 5000


class EventError(ValueError):
    """A record cannot become a RoadEvent; ``reasons`` says each thing that is wrong."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


@dataclass(frozen=True)
class RoadEvent:
    """One thing on the map. Geometry is WGS-84; times are aware and stored as UTC."""

    id: str
    kind: str
    category: str
    severity: int
    source: str
    observed_at: datetime
    lon: float
    lat: float
    line: tuple[tuple[float, float], ...] = ()
    status: str = "active"
    segment_id: str = ""
    district: str = ""
    road_names: tuple[str, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    confidence: float = 1.0
    text: str = ""
    raw_ref: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    def content_hash(self, fields: dict[str, str] | None = None) -> str:
        """A digest of everything the event says; equal digests mean nothing changed.
        Pass ``to_hash()``'s result when you have it, to avoid building it twice."""
        fields = self.to_hash() if fields is None else fields
        return hashlib.sha1(json.dumps(fields, sort_keys=True, ensure_ascii=False)
                            .encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (times as UTC ISO strings). A shallow build: no deep copies,
        which made ``dataclasses.asdict`` the main cost of ingest."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("observed_at", "starts_at", "ends_at"):
            v = d[key]
            d[key] = v.astimezone(timezone.utc).isoformat() if v else None
        d["line"] = [list(p) for p in self.line]
        d["road_names"] = list(self.road_names)
        d["attrs"] = dict(self.attrs)
        return d

    def to_hash(self) -> dict[str, str]:
        """Flat string fields for a Redis hash."""
        out: dict[str, str] = {}
        for key, value in self.to_dict().items():
            if value is None:
                out[key] = ""
            elif isinstance(value, (list, dict)):
                # sorted keys: the content hash must not depend on the order attrs were built in
                out[key] = json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                                      sort_keys=True)
            else:
                out[key] = str(value)
        return out

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> "RoadEvent":
        """Rebuild an event from its Redis hash (the inverse of ``to_hash``)."""
        def dt(v: str) -> datetime | None:
            return datetime.fromisoformat(v) if v else None
        return cls(
            id=h["id"], kind=h["kind"], category=h["category"], severity=int(h["severity"]),
            source=h["source"], observed_at=dt(h["observed_at"]),  # type: ignore[arg-type]
            lon=float(h["lon"]), lat=float(h["lat"]),
            line=tuple(tuple(p) for p in json.loads(h.get("line") or "[]")),
            status=h.get("status", "active"), segment_id=h.get("segment_id", ""),
            district=h.get("district", ""),
            road_names=tuple(json.loads(h.get("road_names") or "[]")),
            starts_at=dt(h.get("starts_at", "")), ends_at=dt(h.get("ends_at", "")),
            confidence=float(h.get("confidence") or 1.0), text=h.get("text", ""),
            raw_ref=h.get("raw_ref", ""), attrs=json.loads(h.get("attrs") or "{}"),
        )


def _check_point(lon: Any, lat: Any, where: str,
                 bbox: tuple[float, float, float, float] | None) -> list[str]:
    reasons: list[str] = []
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError):
        return [f"{where}: coordinates are not numbers ({lon!r}, {lat!r})"]
    if isinstance(lon, bool) or isinstance(lat, bool):
        return [f"{where}: coordinates are booleans"]
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)):
        return [f"{where}: coordinates are not finite ({lon_f}, {lat_f})"]
    in_range = -180 <= lon_f <= 180 and -90 <= lat_f <= 90
    if bbox:
        x0, y0, x1, y1 = bbox
        inside = x0 <= lon_f <= x1 and y0 <= lat_f <= y1
        swapped_inside = x0 <= lat_f <= x1 and y0 <= lon_f <= y1
        if not inside:
            if swapped_inside:
                reasons.append(f"{where}: lat/lon swapped (lon={lon_f}, lat={lat_f})")
            elif not in_range:
                reasons.append(f"{where}: coordinates out of range (lon={lon_f}, lat={lat_f})")
            else:
                reasons.append(f"{where}: outside the city bounds (lon={lon_f}, lat={lat_f})")
    elif not in_range:
        if -90 <= lon_f <= 90 and -180 <= lat_f <= 180:
            reasons.append(f"{where}: lat/lon swapped (lon={lon_f}, lat={lat_f})")
        else:
            reasons.append(f"{where}: coordinates out of range (lon={lon_f}, lat={lat_f})")
    return reasons


def _check_time(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, datetime):
        return [f"{name} is not a datetime ({type(value).__name__})"]
    if value.tzinfo is None or value.utcoffset() is None:
        return [f"{name} is a naive datetime (no timezone)"]
    if not 2000 <= value.year <= 2100:
        return [f"{name} year {value.year} is implausible"]
    return []


def validate(ev: RoadEvent, bbox: tuple[float, float, float, float] | None = None) -> RoadEvent:
    """Return ``ev`` with times normalised to UTC, or raise EventError naming every problem."""
    reasons: list[str] = []
    if not isinstance(ev.id, str) or not ev.id or len(ev.id) > MAX_ID or ":" not in ev.id:
        reasons.append(f"id must be 'source:upstream-id' of at most {MAX_ID} chars")
    if ev.kind not in KINDS:
        reasons.append(f"unknown kind {ev.kind!r} (one of {', '.join(KINDS)})")
    if ev.category not in CATEGORIES:
        reasons.append(f"unknown category {ev.category!r}")
    if isinstance(ev.severity, bool) or not isinstance(ev.severity, int) or not 0 <= ev.severity <= 4:
        reasons.append(f"severity must be an integer 0-4, got {ev.severity!r}")
    if ev.status not in STATUSES:
        reasons.append(f"unknown status {ev.status!r}")
    if not isinstance(ev.source, str) or not ev.source:
        reasons.append("source is empty")
    reasons += _check_point(ev.lon, ev.lat, "position", bbox)
    if len(ev.line) > MAX_LINE_POINTS:
        reasons.append(f"line has {len(ev.line)} points (max {MAX_LINE_POINTS})")
    else:
        for i, p in enumerate(ev.line):
            if not isinstance(p, (tuple, list)) or len(p) != 2:
                reasons.append(f"line point {i} is not a (lon, lat) pair")
                break
            bad = _check_point(p[0], p[1], f"line point {i}", bbox)
            if bad:
                reasons += bad
                break
    for name in ("observed_at", "starts_at", "ends_at"):
        reasons += _check_time(getattr(ev, name), name)
    if ev.observed_at is None:
        reasons.append("observed_at is missing")
    if (isinstance(ev.starts_at, datetime) and isinstance(ev.ends_at, datetime)
            and ev.starts_at.tzinfo and ev.ends_at.tzinfo and ev.ends_at < ev.starts_at):
        reasons.append("ends_at is before starts_at")
    if not isinstance(ev.text, str):
        reasons.append("text is not a string")
    elif len(ev.text) > MAX_TEXT:
        reasons.append(f"text too long ({len(ev.text)} chars, max {MAX_TEXT})")
    if len(ev.road_names) > MAX_NAMES or any(
            not isinstance(n, str) or len(n) > MAX_NAME for n in ev.road_names):
        reasons.append(f"road_names: at most {MAX_NAMES} names of at most {MAX_NAME} chars")
    try:
        conf = float(ev.confidence)
        if not (0.0 <= conf <= 1.0):
            reasons.append(f"confidence {conf} outside 0-1")
    except (TypeError, ValueError):
        reasons.append("confidence is not a number")
    try:
        json.dumps(ev.attrs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        reasons.append(f"attrs not JSON-serialisable: {exc}")
    if reasons:
        raise EventError(reasons)
    utc = timezone.utc
    return RoadEvent(**{**ev.__dict__,
                        "observed_at": ev.observed_at.astimezone(utc),
                        "starts_at": ev.starts_at.astimezone(utc) if ev.starts_at else None,
                        "ends_at": ev.ends_at.astimezone(utc) if ev.ends_at else None,
                        "lon": float(ev.lon), "lat": float(ev.lat),
                        "line": tuple((float(x), float(y)) for x, y in ev.line)})
