"""Request parameters: the one "bad parameter" error every route raises, its 400 answer,
and the parsers of the JSON API's query parameters.

A route (or a blueprint's error handler) turns ``BadParameter`` into
``400 {"error": "<reason>"}`` with ``error_response``; the reason is written for the caller.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone, tzinfo

from flask import Response, jsonify, request

from dashboard.storage.keys import KINDS
from dashboard.timeutil import parse_time as parse_any_time


class BadParameter(ValueError):
    """A request parameter is wrong; the message is the reason given to the caller."""


def error_response(exc: BadParameter) -> tuple[Response, int]:
    """``400 {"error": "<reason>"}`` (JSON) for a bad parameter."""
    return jsonify({"error": str(exc)}), 400


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``lon0,lat0,lon1,lat1`` (WGS-84, lon0 < lon1, lat0 < lat1); None when absent."""
    if value is None or value == "":
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise BadParameter("bbox must be lon0,lat0,lon1,lat1 (four numbers)")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise BadParameter("bbox must be lon0,lat0,lon1,lat1 (four numbers)") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise BadParameter("bbox values must be finite numbers")
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise BadParameter("bbox: longitudes must be within ±180 and latitudes within ±90")
    if x0 >= x1 or y0 >= y1:
        raise BadParameter("bbox: need lon0 < lon1 and lat0 < lat1")
    return x0, y0, x1, y1


def parse_time(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    """A time (``dashboard.timeutil.parse_time``; without an offset it is read in ``tz``),
    years 2000-2100, as UTC; None when absent."""
    if value is None or value == "":
        return None
    if len(value) > 40:
        raise BadParameter(f"{name}: not an ISO-8601 time")
    try:
        dt = parse_any_time(value, tz)
    except ValueError:
        raise BadParameter(f"{name}: not an ISO-8601 time (e.g. 2025-10-01T08:00:00+08:00)") \
            from None
    if not 2000 <= dt.year <= 2100:
        raise BadParameter(f"{name}: year {dt.year} is out of range")
    return dt.astimezone(timezone.utc)


def parse_int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    """A whole number ``lo``..``hi`` written with digits only; ``default`` when absent."""
    if value is None or value == "":
        return default
    if not re.fullmatch(r"\d{1,9}", value):
        raise BadParameter(f"{name} must be a whole number {lo}-{hi}")
    n = int(value)
    if not lo <= n <= hi:
        raise BadParameter(f"{name} must be between {lo} and {hi}")
    return n


def parse_kind(value: str | None) -> str | None:
    """An event kind (``dashboard.storage.keys.KINDS``); None when absent."""
    if value is None or value == "":
        return None
    if value not in KINDS:
        raise BadParameter(f"kind must be one of {', '.join(KINDS)}")
    return value


def parse_district(value: str | None, known: set[str] | None) -> str | None:
    """A district name, one of ``known`` unless that is None; None when absent."""
    if value is None or value == "":
        return None
    if len(value) > 50:
        raise BadParameter("district name too long")
    if known is not None and value not in known:
        raise BadParameter(f"unknown district {value!r} (one of {', '.join(sorted(known))})")
    return value


def parse_levels(value: str | None) -> set[int] | None:
    """A comma list of congestion levels 0-4; None when absent."""
    if value is None or value == "":
        return None
    out = set()
    for part in value.split(","):
        if part not in ("0", "1", "2", "3", "4"):
            raise BadParameter("level must be a comma list of 0-4")
        out.add(int(part))
    return out


def check_params(allowed: set[str]) -> None:
    """Unknown parameters are refused, so a typo (``bbx=``) is not silently ignored.
    Names starting with "_" (cache busters) are let through."""
    unknown = sorted(k for k in request.args if k not in allowed and not k.startswith("_"))
    if unknown:
        raise BadParameter(f"unknown parameter(s): {', '.join(unknown)} "
                           f"(allowed: {', '.join(sorted(allowed))})")
    for k in allowed:
        if len(request.args.getlist(k)) > 1:
            raise BadParameter(f"parameter {k} given more than once")


def canonical(values: dict[str, object]) -> str:
    """The parsed parameters a route reads, written one way only (sorted names; absent
    values dropped; sets sorted; times as UTC ISO-8601; floats by ``repr``): two requests
    that ask for the same thing give the same text, whatever their spelling, order, or
    extra parameters (``_=`` cache busters, which ``check_params`` lets through), so a
    route's shared cache key is made from it, never from the raw query string."""
    def one(v: object) -> str:
        if isinstance(v, datetime):
            return v.astimezone(timezone.utc).isoformat()
        if isinstance(v, (set, frozenset)):
            return ",".join(sorted(one(x) for x in v))
        if isinstance(v, (list, tuple)):
            return ",".join(one(x) for x in v)
        if isinstance(v, float):
            return repr(v)
        return str(v)
    return "&".join(f"{k}={one(v)}" for k, v in sorted(values.items()) if v is not None)
