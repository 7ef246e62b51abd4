"""Helpers every adapter's parser uses: JSON loading, numbers, locating on the road
network, and the raw bytes of a record for the quarantine. Coordinates are checked with
``dashboard.model.point_problem``."""
from __future__ import annotations

import json
import math
from typing import Any

from dashboard.model import MAX_NAME

from .base import ParseContext, PayloadError


class Bad(ValueError):
    """One record is unusable; the message is the quarantine reason."""


def raw_of(record: Any) -> bytes:
    """The bytes of one record as it came, for the quarantine."""
    try:
        return json.dumps(record, ensure_ascii=False).encode("utf-8", "replace")
    except (TypeError, ValueError, RecursionError):
        return b"<record not serialisable>"


def load_json(payload: bytes) -> Any:
    """Decode a JSON payload or raise PayloadError."""
    if not isinstance(payload, (bytes, bytearray, str)):
        raise PayloadError(f"payload is {type(payload).__name__}, not bytes")
    try:
        return json.loads(payload)
    except RecursionError:
        raise PayloadError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge int literals
        raise PayloadError(f"not JSON: {str(exc)[:200]}") from None


def number(value: Any, where: str) -> float:
    """A finite float from a JSON number (or numeric string)."""
    if isinstance(value, bool) or value is None:
        raise Bad(f"{where}: {'missing' if value is None else 'not a number'}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise Bad(f"{where}: not a number") from None
    if not isinstance(value, (int, float)):
        raise Bad(f"{where}: not a number")
    try:
        out = float(value)
    except OverflowError:
        raise Bad(f"{where}: number too large") from None
    if not math.isfinite(out):
        raise Bad(f"{where}: not finite")
    return out


def locate_point(ctx: ParseContext, lon: float, lat: float) -> tuple[str, str, str]:
    """(segment_id, district, road name) of the nearest segment, "" where nothing is near."""
    net = ctx.network
    if net is None:
        return "", "", ""
    m = net.nearest(lon, lat, ctx.match_max_m)
    if m is not None:
        return m.segment_id, m.district or "", m.road_name or ""
    return "", net.district_at(lon, lat) or "", ""


def locate_line(ctx: ParseContext, line: tuple[tuple[float, float], ...]
                ) -> tuple[list[str], str, str]:
    """(matched segment ids, district, road name) of a line; district/road from its middle."""
    net = ctx.network
    if net is None:
        return [], "", ""
    segs = list(net.match_line(list(line), ctx.match_max_m))
    mid = line[len(line) // 2]
    seg, district, road = locate_point(ctx, *mid)
    if not road and segs:
        info = net.segment(segs[0]) or {}
        road = info.get("road_name") or ""
        district = district or info.get("district") or ""
    return segs, district, road


def road_names(ctx: ParseContext, street: str, matched: str) -> tuple[str, ...]:
    """The upstream street name (canonical when the network knows it) plus the matched road."""
    names: list[str] = []
    if street:
        canon = ctx.network.resolve_road(street) if ctx.network is not None else None
        names.append((canon or street)[:MAX_NAME])
    if matched and matched not in names:
        names.append(matched[:MAX_NAME])
    return tuple(names)


def short(value: Any, limit: int) -> str:
    """A bounded string from a str field; other types give ""."""
    return value.strip()[:limit] if isinstance(value, str) else ""
