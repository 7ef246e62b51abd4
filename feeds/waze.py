"""Waze for Cities (CCP / Partner Hub) traffic feed: alerts, jams and irregularities.

Every poll resends every live record, so the payload is a full snapshot: an alert
that stops appearing has ended. A missing ``alerts``/``jams``/``irregularities``
key means "none of that type" (Waze leaves empty lists out).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from dashboard.model import KINDS, MAX_TEXT, EventError, RoadEvent, point_problem, validate

from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected
from .parsing import (Bad, load_json, locate_line, locate_point, number, raw_of, road_names,
                      short)

UTC = timezone.utc
# Waze jam level 0 (free flow) .. 5 (blocked) onto Amap's 0-4 scale (1 畅通 .. 4 严重拥堵)
JAM_LEVEL_TO_AMAP = {0: 1, 1: 2, 2: 2, 3: 3, 4: 4, 5: 4}

# subtype -> (kind, category, severity 0-4)
SUBTYPES: dict[str, tuple[str, str, int]] = {
    "ACCIDENT_MINOR": ("incident", "accident", 2),
    "ACCIDENT_MAJOR": ("incident", "accident", 3),
    "JAM_LIGHT_TRAFFIC": ("congestion", "jam", 1),
    "JAM_MODERATE_TRAFFIC": ("congestion", "jam", 2),
    "JAM_HEAVY_TRAFFIC": ("congestion", "jam", 3),
    "JAM_STAND_STILL_TRAFFIC": ("congestion", "jam", 4),
    "HAZARD_ON_ROAD": ("incident", "hazard", 2),
    "HAZARD_ON_ROAD_OBJECT": ("incident", "hazard", 2),
    "HAZARD_ON_ROAD_POT_HOLE": ("incident", "hazard", 1),
    "HAZARD_ON_ROAD_ROAD_KILL": ("incident", "hazard", 1),
    "HAZARD_ON_ROAD_CAR_STOPPED": ("incident", "breakdown", 2),
    "HAZARD_ON_ROAD_CONSTRUCTION": ("construction", "roadworks", 2),
    "HAZARD_ON_ROAD_LANE_CLOSED": ("incident", "closure", 2),
    "HAZARD_ON_ROAD_OIL": ("incident", "hazard", 2),
    "HAZARD_ON_ROAD_ICE": ("incident", "hazard", 3),
    "HAZARD_ON_ROAD_TRAFFIC_LIGHT_FAULT": ("incident", "hazard", 2),
    "HAZARD_ON_ROAD_EMERGENCY_VEHICLE": ("incident", "hazard", 1),
    "HAZARD_ON_SHOULDER": ("incident", "hazard", 1),
    "HAZARD_ON_SHOULDER_CAR_STOPPED": ("incident", "breakdown", 1),
    "HAZARD_ON_SHOULDER_ANIMALS": ("incident", "hazard", 1),
    "HAZARD_ON_SHOULDER_MISSING_SIGN": ("incident", "hazard", 1),
    "HAZARD_WEATHER": ("incident", "weather", 1),
    "HAZARD_WEATHER_FOG": ("incident", "weather", 2),
    "HAZARD_WEATHER_HAIL": ("incident", "weather", 2),
    "HAZARD_WEATHER_HEAVY_RAIN": ("incident", "weather", 2),
    "HAZARD_WEATHER_HEAVY_SNOW": ("incident", "weather", 3),
    "HAZARD_WEATHER_FREEZING_RAIN": ("incident", "weather", 3),
    "HAZARD_WEATHER_FLOOD": ("incident", "flooding", 3),
    "HAZARD_WEATHER_MONSOON": ("incident", "weather", 3),
    "HAZARD_WEATHER_TORNADO": ("incident", "weather", 4),
    "HAZARD_WEATHER_HURRICANE": ("incident", "weather", 4),
    "HAZARD_WEATHER_HEAT_WAVE": ("incident", "weather", 1),
    "ROAD_CLOSED_HAZARD": ("incident", "closure", 3),
    "ROAD_CLOSED_CONSTRUCTION": ("construction", "closure", 3),
    "ROAD_CLOSED_EVENT": ("incident", "closure", 3),
    "POLICE_VISIBLE": ("report", "police", 0),
    "POLICE_HIDING": ("report", "police", 0),
}
# type -> (kind, category, severity) for an empty or unknown subtype of a known type
TYPES: dict[str, tuple[str, str, int]] = {
    "ACCIDENT": ("incident", "accident", 2),
    "JAM": ("congestion", "jam", 2),
    "WEATHERHAZARD": ("incident", "hazard", 1),
    "HAZARD": ("incident", "hazard", 1),
    "ROAD_CLOSED": ("incident", "closure", 3),
    "CONSTRUCTION": ("construction", "roadworks", 2),
    "MISC": ("report", "other", 1),
    "POLICE": ("report", "police", 0),
    "POLICEMAN": ("report", "police", 0),
    "CHIT_CHAT": ("report", "other", 0),
}
UNKNOWN = ("report", "other", 1)


def classify(wtype: Any, subtype: Any) -> tuple[str, str, int]:
    """(kind, category, severity) of an alert type/subtype; unknown ones are "other"."""
    sub = subtype if isinstance(subtype, str) else ""
    typ = wtype if isinstance(wtype, str) else ""
    if sub in SUBTYPES:
        return SUBTYPES[sub]
    return TYPES.get(typ, UNKNOWN)


def epoch_ms(value: Any, where: str) -> datetime:
    """An aware UTC datetime from epoch milliseconds, 2000-2100 only."""
    if value is None:
        raise Bad(f"{where} missing")
    ms = number(value, where)
    if not 946_684_800_000 <= ms <= 4_102_444_800_000:
        raise Bad(f"{where}: {ms:.0f} is not a plausible epoch in milliseconds")
    return datetime.fromtimestamp(ms / 1000.0, UTC)


def xy(obj: Any, where: str, bbox: tuple[float, float, float, float]) -> tuple[float, float]:
    """(lon, lat) from a Waze ``{x, y}`` point inside the city bounds."""
    if not isinstance(obj, dict):
        raise Bad(f"{where}: missing" if obj is None else f"{where}: not an object")
    lon, lat = number(obj.get("x"), f"{where}.x"), number(obj.get("y"), f"{where}.y")
    problem = point_problem(lon, lat, bbox, where)
    if problem:
        raise Bad(problem)
    return lon, lat


def xy_line(points: Any, where: str,
            bbox: tuple[float, float, float, float]) -> tuple[tuple[float, float], ...]:
    """A line from a Waze ``[{x, y}, ...]`` list of at least two points."""
    if not isinstance(points, list):
        raise Bad(f"{where}: missing" if points is None else f"{where}: not a list")
    if len(points) < 2:
        raise Bad(f"{where}: fewer than 2 points")
    if len(points) > 5000:
        raise Bad(f"{where}: {len(points)} points (max 5000)")
    return tuple(xy(p, f"{where}[{i}]", bbox) for i, p in enumerate(points))


class WazeAdapter(Adapter):
    """Waze for Cities JSON → incidents, congestion events and segment congestion."""

    name = "waze"
    ttl_s = 300.0  # a live record is resent every poll (1-2 min)

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        data = load_json(payload)
        if not isinstance(data, dict):
            raise PayloadError(f"top level is {type(data).__name__}, expected an object")
        sections = ("alerts", "jams", "irregularities")
        if not any(k in data for k in sections):
            raise PayloadError("no alerts, jams or irregularities")
        prefix = ctx.feed or self.name
        result = ParseResult(snapshot_ids=set(), snapshot_kinds=KINDS)
        levels: dict[str, tuple[int, float | None, float]] = {}
        handlers = {"alerts": self._alert, "jams": self._jam, "irregularities": self._irregularity}
        complete = True  # a broken section says nothing about which of its records ended
        for section in sections:
            records = data.get(section)
            if records is None:
                continue
            if not isinstance(records, list):
                result.rejected.append(Rejected(f"{section}: not a list", raw_of(records),
                                                section))
                complete = False
                continue
            for i, rec in enumerate(records):
                ref = f"{section}[{i}]"
                ev_id = ""
                try:
                    if not isinstance(rec, dict):
                        raise Bad(f"{section} record is {type(rec).__name__}, not an object")
                    ev_id = self._id(section, rec, prefix)
                    result.snapshot_ids.add(ev_id)  # a bad resend must not end a live record
                    ev, segs = handlers[section](rec, ev_id, ctx)
                    ev = validate(ev, ctx.bbox)
                except (Bad, EventError) as exc:
                    result.rejected.append(Rejected(str(exc), raw_of(rec), ev_id or ref))
                    continue
                except Exception as exc:  # noqa: BLE001 - one odd record never stops the rest
                    result.rejected.append(Rejected(
                        f"internal error: {exc.__class__.__name__}: {str(exc)[:200]}",
                        raw_of(rec), ev_id or ref))
                    continue
                result.events.append(ev)
                for seg, level, speed in segs:
                    old = levels.get(seg)
                    if old is None or level > old[0]:
                        levels[seg] = (level, speed, ev.observed_at.timestamp())
        result.congestion = [(seg, lvl, spd, self.name, obs)
                             for seg, (lvl, spd, obs) in levels.items()]
        if not complete:
            result.snapshot_ids, result.snapshot_kinds = None, ()
        return result

    @staticmethod
    def _id(section: str, rec: dict, prefix: str) -> str:
        key = "id" if section == "irregularities" else "uuid"
        value = rec.get(key)
        if value is None and section == "jams":
            value = rec.get("id")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise Bad(f"{key} missing" if value is None else f"{key}: not a string or integer")
        text = str(value).strip()
        if not text or len(text) > 120 or any(c.isspace() for c in text):
            raise Bad(f"{key}: empty, too long or contains spaces")
        tag = {"alerts": "", "jams": "jam:", "irregularities": "irr:"}[section]
        return f"{prefix}:{tag}{text}"

    def _alert(self, rec: dict, ev_id: str, ctx: ParseContext):
        observed = epoch_ms(rec.get("pubMillis"), "pubMillis")
        lon, lat = xy(rec.get("location"), "location", ctx.bbox)
        kind, category, severity = classify(rec.get("type"), rec.get("subtype"))
        conf = _confidence(rec)
        seg, district, matched = locate_point(ctx, lon, lat)
        text = short(rec.get("reportDescription"), MAX_TEXT)
        attrs = {k: rec[k] for k in ("type", "subtype") if isinstance(rec.get(k), str)}
        for k in ("magvar", "roadType", "nThumbsUp", "reportRating", "reliability", "confidence"):
            v = rec.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                attrs["waze_confidence" if k == "confidence" else k] = v
        if isinstance(rec.get("city"), str):
            attrs["city"] = short(rec["city"], 80)
        ev = RoadEvent(
            id=ev_id, kind=kind, category=category, severity=severity, source=self.name,
            observed_at=observed, lon=lon, lat=lat, segment_id=seg, district=district,
            road_names=road_names(ctx, short(rec.get("street"), 200), matched),
            starts_at=observed, confidence=conf, text=text, raw_ref=ev_id, attrs=attrs)
        return ev, []

    def _jam(self, rec: dict, ev_id: str, ctx: ParseContext):
        observed = epoch_ms(rec.get("pubMillis"), "pubMillis")
        level = _level(rec.get("level"), "level")
        line = xy_line(rec.get("line"), "line", ctx.bbox)
        delay = _optional(rec, "delay")
        blocked = level == 5 or delay == -1
        amap = 4 if blocked else JAM_LEVEL_TO_AMAP[level]
        speed = _optional(rec, "speedKMH")
        if speed is None and _optional(rec, "speed") is not None:
            speed = _optional(rec, "speed") * 3.6  # m/s
        if speed is not None and not 0 <= speed <= 400:
            raise Bad(f"speedKMH: {speed} out of range")
        segs, district, matched = locate_line(ctx, line)
        mid = line[len(line) // 2]
        attrs: dict[str, Any] = {"level": level, "amap_level": amap, "blocked": blocked}
        for k, v in (("speed_kmh", speed), ("delay_s", delay),
                     ("length_m", _optional(rec, "length"))):
            if v is not None:
                attrs[k] = round(v, 2)
        if segs:
            attrs["segments"] = segs[:200]
        for k in ("blockingAlertUuid", "endNode", "startNode", "turnType", "city"):
            if isinstance(rec.get(k), str):
                attrs[k] = short(rec[k], 120)
        ev = RoadEvent(
            id=ev_id, kind="congestion", category="jam", severity=4 if blocked else
            max(0, level - 1), source=self.name, observed_at=observed, lon=mid[0], lat=mid[1],
            line=line, segment_id=segs[0] if segs else "", district=district,
            road_names=road_names(ctx, short(rec.get("street"), 200), matched),
            starts_at=observed, confidence=1.0, raw_ref=ev_id, attrs=attrs)
        return ev, [(s, amap, speed) for s in segs]

    def _irregularity(self, rec: dict, ev_id: str, ctx: ParseContext):
        when = rec.get("updateDateMillis")
        observed = epoch_ms(when if when is not None else rec.get("detectionDateMillis"),
                            "updateDateMillis" if when is not None else "detectionDateMillis")
        detected = rec.get("detectionDateMillis")
        starts = epoch_ms(detected, "detectionDateMillis") if detected is not None else observed
        jam_level = _level(rec.get("jamLevel"), "jamLevel")
        sev_raw = rec.get("severity")
        sev = _level(sev_raw, "severity") if sev_raw is not None else 0
        line = xy_line(rec.get("line"), "line", ctx.bbox)
        segs, district, matched = locate_line(ctx, line)
        mid = line[len(line) // 2]
        speed = _optional(rec, "speed")  # km/h in irregularities
        attrs: dict[str, Any] = {"jam_level": jam_level, "irregularity_severity": sev}
        for k in ("speed", "regularSpeed", "delaySeconds", "seconds", "length", "driversCount",
                  "alertsCount", "trend"):
            v = _optional(rec, k)
            if v is not None:
                attrs[k] = round(v, 2)
        for k in ("type", "causeType", "endNode"):
            if isinstance(rec.get(k), str):
                attrs[k] = short(rec[k], 120)
        alerts = rec.get("alerts")
        if isinstance(alerts, list):
            attrs["alert_uuids"] = [a["uuid"] for a in alerts[:100] if isinstance(a, dict)
                                    and isinstance(a.get("uuid"), str)][:100]
        ev = RoadEvent(
            id=ev_id, kind="congestion", category="jam",
            severity=min(4, max(0, max(jam_level, sev) - 1)), source=self.name,
            observed_at=observed, lon=mid[0], lat=mid[1], line=line,
            segment_id=segs[0] if segs else "", district=district,
            road_names=road_names(ctx, short(rec.get("street"), 200), matched),
            starts_at=min(starts, observed), confidence=1.0, raw_ref=ev_id, attrs=attrs)
        amap = JAM_LEVEL_TO_AMAP[jam_level]
        return ev, [(s, amap, speed if speed is not None and 0 <= speed <= 400 else None)
                    for s in segs]


def _confidence(rec: dict) -> float:
    value = rec.get("reliability")
    if value is None:
        return 0.5
    rel = number(value, "reliability")
    if not 0 <= rel <= 10:
        raise Bad(f"reliability: {rel} outside 0-10")
    return rel / 10.0


def _level(value: Any, where: str) -> int:
    if value is None:
        raise Bad(f"{where} missing")
    lvl = number(value, where)
    if lvl != int(lvl) or not 0 <= lvl <= 5:
        raise Bad(f"{where}: {lvl} is not an integer 0-5")
    return int(lvl)


def _optional(rec: dict, key: str) -> float | None:
    value = rec.get(key)
    return None if value is None else number(value, key)
