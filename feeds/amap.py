"""Amap (高德) traffic status: ``/v3/traffic/status/road|rectangle|circle`` responses.

Numbers arrive as strings (``"status": "1"``, ``"expedite": "33.33%"``, ``"speed": "27"``)
and empty values sometimes as ``[]``. Road status is already on the 0-4 scale every
provider is mapped onto (0 未知, 1 畅通, 2 缓行, 3 拥堵, 4 严重拥堵). Polylines are
GCJ-02 and are converted to WGS-84 before anything is matched.
"""
from __future__ import annotations

from typing import Any

from dashboard.congestion import LEVEL_NAMES
from dashboard.roads.geo import gcj02_to_wgs84
from dashboard.model import EventError, RoadEvent, point_problem, validate

from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected
# generic record helpers shared by the adapters (they live with the first adapter)
from .parsing import Bad, load_json, locate_line, number, raw_of, road_names

EVALUATION_GAUGES = ("expedite", "congested", "blocked", "unknown")
# road status 3/4 → event severity, in line with Waze jam levels 3/4
STATUS_SEVERITY = {3: 2, 4: 3}
MAX_POINTS = 5000


def text_of(value: Any, limit: int = 200) -> str:
    """A string field; Amap sends ``[]`` for an empty one."""
    if isinstance(value, str):
        return value.strip()[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)[:limit]
    return ""


def percent(value: Any, where: str) -> float:
    """33.33 from "33.33%" (or a bare number), 0-100."""
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip()
    pct = number(value, where)
    if not 0 <= pct <= 100:
        raise Bad(f"{where}: {pct} outside 0-100%")
    return pct


def status_level(value: Any, where: str) -> int:
    lvl = number(value, where)
    if lvl != int(lvl) or not 0 <= lvl <= 4:
        raise Bad(f"{where}: {lvl} is not a status 0-4")
    return int(lvl)


def polyline(value: Any, bbox: tuple[float, float, float, float]
             ) -> tuple[tuple[float, float], ...]:
    """WGS-84 points from a GCJ-02 "lon,lat;lon,lat" string."""
    if not isinstance(value, str) or not value.strip():
        raise Bad("polyline missing")
    parts = [p for p in value.strip().strip(";").split(";") if p.strip()]
    if len(parts) < 2:
        raise Bad("polyline: fewer than 2 points")
    if len(parts) > MAX_POINTS:
        raise Bad(f"polyline: {len(parts)} points (max {MAX_POINTS})")
    out = []
    for i, part in enumerate(parts):
        xy = part.split(",")
        if len(xy) != 2:
            raise Bad(f"polyline point {i}: {part[:40]!r} is not 'lon,lat'")
        lon = number(xy[0], f"polyline point {i} lon")
        lat = number(xy[1], f"polyline point {i} lat")
        # check before converting: the GCJ-02 formulas only make sense near China
        problem = point_problem(lon, lat, bbox, f"polyline point {i}")
        if problem:
            raise Bad(problem)
        out.append(tuple(gcj02_to_wgs84(lon, lat)))
    return tuple(out)


class AmapAdapter(Adapter):
    """Amap traffic status → segment congestion, area gauges and events for jammed roads."""

    name = "amap"
    ttl_s = 600.0

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        data = load_json(payload)
        if not isinstance(data, dict):
            raise PayloadError(f"top level is {type(data).__name__}, expected an object")
        status = text_of(data.get("status"))
        if status != "1":
            info = text_of(data.get("info"), 300) or "no info"
            code = text_of(data.get("infocode"), 20)
            raise PayloadError(f"amap error {code}: {info}" if status == "0"
                               else f"status {status or 'missing'!r}: {info}")
        prefix = ctx.feed or self.name
        result = ParseResult()
        traffic = data.get("trafficinfo")
        if not isinstance(traffic, dict):
            if traffic in (None, [], ""):
                return result  # no data for this area
            raise PayloadError("trafficinfo: not an object")
        now = ctx.now.timestamp()
        evaluation = traffic.get("evaluation")
        if isinstance(evaluation, dict):
            self._gauges(evaluation, prefix, now, result)
        elif evaluation not in (None, [], ""):
            result.rejected.append(Rejected("evaluation: not an object", raw_of(evaluation),
                                            "evaluation"))
        roads = traffic.get("roads")
        if roads is None or roads == "":
            return result  # extensions=base: no road list, not a snapshot of roads
        result.snapshot_ids, result.snapshot_kinds = set(), ("congestion",)
        if not isinstance(roads, list):
            result.rejected.append(Rejected("roads: not a list", raw_of(roads), "roads"))
            return result
        levels: dict[str, tuple[int, float | None]] = {}
        events: dict[str, RoadEvent] = {}
        for i, road in enumerate(roads):
            try:
                if not isinstance(road, dict):
                    raise Bad(f"road is {type(road).__name__}, not an object")
                ev, segs, level, speed = self._road(road, prefix, ctx)
                ev = validate(ev, ctx.bbox) if ev is not None else None
            except (Bad, EventError) as exc:
                result.rejected.append(Rejected(str(exc), raw_of(road), f"roads[{i}]"))
                continue
            except Exception as exc:  # noqa: BLE001 - one odd road never stops the rest
                result.rejected.append(Rejected(
                    f"internal error: {exc.__class__.__name__}: {str(exc)[:200]}",
                    raw_of(road), f"roads[{i}]"))
                continue
            if level > 0:  # 0 is "unknown": never overwrite another source's level with it
                for seg in segs:
                    if seg not in levels or level > levels[seg][0]:
                        levels[seg] = (level, speed)
            if ev is not None:
                result.snapshot_ids.add(ev.id)
                old = events.get(ev.id)  # one road may come in pieces: keep the worst
                if old is None or ev.severity > old.severity:
                    events[ev.id] = ev
        result.events = list(events.values())
        result.congestion = [(seg, lvl, spd, self.name, now) for seg, (lvl, spd) in levels.items()]
        return result

    def _gauges(self, evaluation: dict, prefix: str, now: float, result: ParseResult) -> None:
        for key in EVALUATION_GAUGES:
            if evaluation.get(key) in (None, [], ""):
                continue
            try:
                result.gauges.append((f"{prefix}:{key}", now, percent(evaluation[key],
                                                                      f"evaluation.{key}")))
            except Bad as exc:
                result.rejected.append(Rejected(str(exc), raw_of(evaluation), "evaluation"))
        if evaluation.get("status") not in (None, [], ""):
            try:
                result.gauges.append((f"{prefix}:status", now,
                                      status_level(evaluation["status"], "evaluation.status")))
            except Bad as exc:
                result.rejected.append(Rejected(str(exc), raw_of(evaluation), "evaluation"))

    def _road(self, road: dict, prefix: str, ctx: ParseContext):
        name = text_of(road.get("name"), 80)
        level = status_level(road.get("status"), "status") if road.get("status") not in (
            None, [], "") else None
        if level is None:
            raise Bad("status missing")
        speed = None
        if road.get("speed") not in (None, [], ""):
            speed = number(road["speed"], "speed")
            if not 0 <= speed <= 400:
                raise Bad(f"speed: {speed} out of range")
        line = polyline(road.get("polyline"), ctx.bbox)
        segs, district, matched = locate_line(ctx, line)
        if level < 3:
            return None, segs, level, speed
        if not name:
            raise Bad("name missing for a congested road")
        direction = text_of(road.get("direction"), 80)
        mid = line[len(line) // 2]
        attrs: dict[str, Any] = {"amap_level": level}
        if speed is not None:
            attrs["speed_kmh"] = speed
        if direction:
            attrs["direction"] = direction
        for key in ("angle", "lcodes"):
            value = text_of(road.get(key), 500)
            if value:
                attrs[key] = value
        if segs:
            attrs["segments"] = segs[:200]
        text = f"{name} {LEVEL_NAMES[level]}" + (f"（{direction}）" if direction else "")
        ev = RoadEvent(
            id=f"{prefix}:{name}:{direction}"[:200], kind="congestion", category="jam",
            severity=STATUS_SEVERITY[level], source=self.name, observed_at=ctx.now,
            lon=mid[0], lat=mid[1], line=line, segment_id=segs[0] if segs else "",
            district=district, road_names=road_names(ctx, name, matched), starts_at=ctx.now,
            confidence=0.9, text=text, raw_ref=f"{prefix}:{name}:{direction}"[:200], attrs=attrs)
        return ev, segs, level, speed

    def merge(self, result: ParseResult, store: Any, ctx: ParseContext) -> ParseResult:
        """Keep the first-seen times of roads that are still jammed, so an unchanged
        road is a duplicate rather than an update on every poll."""
        if not result.events:
            return result
        known = {ev.id: ev for ev in store.get_events([ev.id for ev in result.events])}
        merged = []
        for ev in result.events:
            old = known.get(ev.id)
            if old is not None and old.status == "active":
                same = RoadEvent(**{**ev.__dict__, "observed_at": old.observed_at,
                                    "starts_at": old.starts_at})
                if same.content_hash() == old.content_hash():
                    ev = same  # nothing changed: a duplicate, only its liveness is refreshed
                else:
                    ev = RoadEvent(**{**ev.__dict__, "starts_at": old.starts_at or ev.starts_at})
            merged.append(ev)
        result.events = merged
        return result
