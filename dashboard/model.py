"""The one record type for everything on the map: ``RoadEvent``, and its validation; and
the one way a record (any dataclass) becomes a flat Redis hash and back."""
from __future__ import annotations

import hashlib
import json
import math
import types
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timezone
from functools import lru_cache
from typing import (Any, Callable, Container, Mapping, NamedTuple, Union, get_args, get_origin,
                    get_type_hints)

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
        # sorted keys: the content hash must not depend on the order attrs were built in
        return encode_hash(self, sort_keys=True)

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> "RoadEvent":
        """Rebuild an event from its Redis hash (the inverse of ``to_hash``)."""
        return cls(**decode_hash(cls, h))


# -- records as Redis hashes ---------------------------------------------------------------
def encode_hash(record: Any, *, skip: Container[str] = (),
                sort_keys: bool = False) -> dict[str, str]:
    """A dataclass instance as flat Redis hash fields, each by its value: None → "",
    bool → "1"/"0", datetime → UTC ISO 8601, list/tuple/dict → compact JSON (keys sorted
    when ``sort_keys``), anything else → ``str()``. Fields named in ``skip`` are left out."""
    out: dict[str, str] = {}
    for f in fields(record):
        if f.name in skip:
            continue
        value = getattr(record, f.name)
        if value is None:
            out[f.name] = ""
        elif isinstance(value, bool):
            out[f.name] = "1" if value else "0"
        elif isinstance(value, datetime):
            out[f.name] = value.astimezone(timezone.utc).isoformat()
        elif isinstance(value, (list, tuple, dict)):
            out[f.name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                                     sort_keys=sort_keys)
        else:
            out[f.name] = str(value)
    return out


def decode_hash(cls: type, h: Mapping[str, str], *, skip: Container[str] = ()) -> dict[str, Any]:
    """Constructor arguments of dataclass ``cls`` from its Redis hash (the inverse of
    ``encode_hash``), each field read by its type annotation: str, int, float, bool, datetime,
    list, dict, tuple (nested tuples too) and ``X | None`` ("" is None).

    A field missing from the hash, or empty when it is not a str, takes its default; one
    without a default takes its type's empty value (0, "", None, [] …). Fields named in
    ``skip`` are left to the caller."""
    kwargs: dict[str, Any] = {}
    for name, decode, empty, is_str, has_default in _hash_codecs(cls):
        if name in skip:
            continue
        raw = h.get(name)
        if is_str and raw is not None:
            kwargs[name] = raw
        elif raw:
            kwargs[name] = decode(raw)
        elif not has_default:
            kwargs[name] = empty()
    return kwargs


class _FieldCodec(NamedTuple):
    name: str
    decode: Callable[[str], Any]      # hash value (not empty) → field value
    empty: Callable[[], Any]          # the value of a missing field without a default
    is_str: bool                      # "" is a value, not "missing"
    has_default: bool


@lru_cache(maxsize=None)
def _hash_codecs(cls: type) -> tuple[_FieldCodec, ...]:
    """One codec per field of ``cls``, from its resolved type annotations (built once)."""
    hints = get_type_hints(cls)
    codecs = []
    for f in fields(cls):
        decode, empty = _codec_for(cls, f.name, hints[f.name])
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        codecs.append(_FieldCodec(f.name, decode, empty, hints[f.name] is str, has_default))
    return tuple(codecs)


def _codec_for(cls: type, name: str, tp: Any) -> tuple[Callable[[str], Any], Callable[[], Any]]:
    """(decode, empty) for a field of type ``tp``."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _codec_for(cls, name, inner[0])[0], lambda: None
    if tp is str:
        return str, str
    if tp in (int, float):
        return tp, tp
    if tp is bool:
        return (lambda v: v == "1"), bool
    if tp is datetime:
        return datetime.fromisoformat, lambda: None
    if tp in (list, dict) or origin in (list, dict):
        return json.loads, origin or tp
    if tp is tuple or origin is tuple:
        to_tuple = _tuple_of(tp)
        return (lambda v: to_tuple(json.loads(v))), tuple

    def unsupported(*_: Any) -> Any:
        raise TypeError(f"{cls.__name__}.{name}: no Redis hash form for {tp!r}")
    return unsupported, unsupported


def _tuple_of(tp: Any) -> Callable[[Any], Any]:
    """Turns decoded JSON lists into the (nested) tuples that ``tp`` describes."""
    if tp is not tuple and get_origin(tp) is not tuple:
        return lambda v: v
    args = get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        item = _tuple_of(args[0])
        return lambda v: tuple(item(x) for x in v)
    return tuple


def point_problem(lon: float, lat: float, bbox: tuple[float, float, float, float] | None,
                  where: str) -> str | None:
    """Why a point (finite floats) cannot be used, or None: lat/lon swapped, out of range,
    or outside the city's ``bbox`` (when one is given). The one point check: events are
    validated with it and the feed adapters use it on upstream coordinates."""
    in_range = -180 <= lon <= 180 and -90 <= lat <= 90
    if bbox:
        x0, y0, x1, y1 = bbox
        if x0 <= lon <= x1 and y0 <= lat <= y1:
            return None
        if x0 <= lat <= x1 and y0 <= lon <= y1:
            return f"{where}: lat/lon swapped (lon={lon}, lat={lat})"
        if not in_range:
            return f"{where}: coordinates out of range (lon={lon}, lat={lat})"
        return f"{where}: outside the city bounds (lon={lon}, lat={lat})"
    if in_range:
        return None
    if -90 <= lon <= 90 and -180 <= lat <= 180:
        return f"{where}: lat/lon swapped (lon={lon}, lat={lat})"
    return f"{where}: coordinates out of range (lon={lon}, lat={lat})"


def _check_point(lon: Any, lat: Any, where: str,
                 bbox: tuple[float, float, float, float] | None) -> list[str]:
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError):
        return [f"{where}: coordinates are not numbers ({lon!r}, {lat!r})"]
    if isinstance(lon, bool) or isinstance(lat, bool):
        return [f"{where}: coordinates are booleans"]
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)):
        return [f"{where}: coordinates are not finite ({lon_f}, {lat_f})"]
    problem = point_problem(lon_f, lat_f, bbox, where)
    return [problem] if problem else []


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
