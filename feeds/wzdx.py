"""WZDx v4.x work-zone feeds (GeoJSON FeatureCollection) → construction events.

Each feature is validated on its own against the v4.2 ``RoadEventFeature`` schema, so
one bad feature is quarantined with the schema's error path and the rest still count.
v4.0/v4.1 features (``core_details`` at the same place, deprecated accuracy fields)
validate against it too. The payload is a full snapshot of the feed's road events.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from dashboard.model import MAX_TEXT, EventError, RoadEvent, point_problem, validate

from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected
# generic record helpers shared by the adapters (they live with the first adapter)
from .parsing import (Bad, load_json, locate_line, locate_point, number, raw_of, road_names,
                   short)

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
FEATURE_SCHEMA_ID = ("https://raw.githubusercontent.com/usdot-jpo-ode/wzdx/main/schemas/4.2/"
                     "RoadEventFeature.json")
FEED_INFO_SCHEMA_ID = ("https://raw.githubusercontent.com/usdot-jpo-ode/wzdx/main/schemas/4.2/"
                       "FeedInfo.json")
# vehicle_impact -> severity 0-4
IMPACT_SEVERITY = {
    "all-lanes-closed": 4,
    "some-lanes-closed": 3,
    "some-lanes-closed-merge-left": 3,
    "some-lanes-closed-merge-right": 3,
    "some-lanes-closed-split": 3,
    "alternating-one-way": 3,
    "flagging": 2,
    "temporary-traffic-signal": 2,
    "all-lanes-open-shift-left": 1,
    "all-lanes-open-shift-right": 1,
    "all-lanes-open": 1,
    "unknown": 2,
}
MAX_POINTS = 5000


@lru_cache(maxsize=1)
def _registry() -> Registry:
    """Every local schema under its own $id: no $ref ever leaves this folder."""
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=4)
def validator(schema_id: str = FEATURE_SCHEMA_ID) -> jsonschema.Draft7Validator:
    """A draft-07 validator for one of the local schemas, by $id."""
    schema = _registry().contents(schema_id)
    return jsonschema.Draft7Validator(schema, registry=_registry())


def _leaves(err: jsonschema.ValidationError):
    """The innermost errors under a oneOf/anyOf/allOf error."""
    if not err.context:
        yield err
    for sub in err.context:
        yield from _leaves(sub)


def schema_problem(instance: Any, schema_id: str = FEATURE_SCHEMA_ID) -> str | None:
    """The most specific schema error as "schema: path: message", or None when valid.

    For a oneOf (work zone or detour) the branch that fails only on ``event_type`` is
    the wrong branch; the error reported is the deepest one of the other branch.
    """
    try:
        errors = list(validator(schema_id).iter_errors(instance))
        if not errors:
            return None
        leaves = [leaf for err in errors for leaf in _leaves(err)]
    except RecursionError:
        return "schema: nested too deeply"
    useful = [e for e in leaves if not (e.validator == "const"
                                        and list(e.absolute_path)[-1:] == ["event_type"])]
    err = max(useful or leaves, key=lambda e: len(e.absolute_path))
    path = ".".join(str(p) for p in err.absolute_path) or "(feature)"
    return f"schema: {path}: {err.message[:300]}"


def rfc3339(value: Any, where: str) -> datetime:
    """An aware datetime from an RFC 3339 string (WZDx dates are UTC)."""
    if not isinstance(value, str):
        raise Bad(f"{where} missing" if value is None else f"{where}: not a string")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Bad(f"{where}: {value[:40]!r} is not an RFC 3339 date-time") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise Bad(f"{where}: {value[:40]!r} has no UTC offset")
    if not 2000 <= dt.year <= 2100:
        raise Bad(f"{where}: year {dt.year} is implausible")
    return dt.astimezone(timezone.utc)


def geometry_line(geom: Any, bbox: tuple[float, float, float, float]
                  ) -> tuple[tuple[float, float], ...]:
    """The (lon, lat) points of a LineString or MultiPoint geometry, inside the city."""
    if not isinstance(geom, dict):
        raise Bad("geometry missing" if geom is None else "geometry: not an object")
    gtype = geom.get("type")
    if gtype not in ("LineString", "MultiPoint"):
        raise Bad(f"geometry.type: {str(gtype)[:40]!r} is not LineString or MultiPoint")
    coords = geom.get("coordinates")
    if not isinstance(coords, list) or not coords:
        raise Bad("geometry.coordinates: not a non-empty list")
    if len(coords) > MAX_POINTS:
        raise Bad(f"geometry.coordinates: {len(coords)} points (max {MAX_POINTS})")
    if gtype == "LineString" and len(coords) < 2:
        raise Bad("geometry.coordinates: a LineString needs 2 points")
    out = []
    for i, p in enumerate(coords):
        where = f"geometry.coordinates[{i}]"
        if not isinstance(p, list) or len(p) < 2:
            raise Bad(f"{where}: not a [lon, lat] position")
        lon, lat = number(p[0], f"{where}[0]"), number(p[1], f"{where}[1]")
        problem = point_problem(lon, lat, bbox, where)
        if problem:
            raise Bad(problem)
        out.append((lon, lat))
    return tuple(out)


def _lanes(value: Any) -> list[dict[str, Any]]:
    """Lane order/status/type, bounded; anything else in a lane is left out."""
    if not isinstance(value, list):
        return []
    out = []
    for lane in value[:30]:
        if isinstance(lane, dict):
            out.append({k: lane[k] for k in ("order", "status", "type")
                        if isinstance(lane.get(k), (str, int)) and not isinstance(lane[k], bool)})
    return out


class WzdxAdapter(Adapter):
    """WZDx v4.x FeatureCollection → construction events (work zones and detours)."""

    name = "wzdx"
    ttl_s = None  # construction default; ends_at bounds each event

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        data = load_json(payload)
        if not isinstance(data, dict):
            raise PayloadError(f"top level is {type(data).__name__}, expected a FeatureCollection")
        features = data.get("features")
        if not isinstance(features, list):
            raise PayloadError("no features list (not a WZDx FeatureCollection)")
        result = ParseResult(snapshot_ids=set(), snapshot_kinds=("construction",))
        info = data.get("feed_info", data.get("road_event_feed_info"))
        problem = "feed_info missing" if info is None else schema_problem(info,
                                                                         FEED_INFO_SCHEMA_ID)
        if problem:
            result.rejected.append(Rejected(f"feed_info: {problem}", raw_of(info), "feed_info"))
        info = info if isinstance(info, dict) else {}
        prefix = ctx.feed or self.name
        for i, feat in enumerate(features):
            ev_id = ""
            try:
                if not isinstance(feat, dict):
                    raise Bad(f"feature is {type(feat).__name__}, not an object")
                ev_id = self._id(feat, prefix)
                result.snapshot_ids.add(ev_id)
                result.events.append(validate(self._feature(feat, ev_id, info, ctx), ctx.bbox))
            except (Bad, EventError) as exc:
                result.rejected.append(Rejected(str(exc), raw_of(feat), ev_id or f"features[{i}]"))
            except Exception as exc:  # noqa: BLE001 - one odd feature never stops the rest
                result.rejected.append(Rejected(
                    f"internal error: {exc.__class__.__name__}: {str(exc)[:200]}",
                    raw_of(feat), ev_id or f"features[{i}]"))
        return result

    @staticmethod
    def _id(feat: dict, prefix: str) -> str:
        value = feat.get("id")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise Bad("id missing" if value is None else "id: not a string")
        text = str(value).strip()
        if not text or len(text) > 150 or any(c.isspace() for c in text):
            raise Bad("id: empty, too long or contains spaces")
        return f"{prefix}:{text}"

    def _feature(self, feat: dict, ev_id: str, info: dict, ctx: ParseContext) -> RoadEvent:
        props = feat.get("properties")
        core = props.get("core_details") if isinstance(props, dict) else None
        if isinstance(core, dict) and "device_type" in core:
            raise Bad(f"a WZDx device feed feature ({str(core['device_type'])[:40]}), "
                      "not a road event")
        problem = schema_problem(feat)
        if problem:
            raise Bad(problem)
        event_type = core["event_type"]
        starts = rfc3339(props.get("start_date"), "properties.start_date")
        ends = rfc3339(props.get("end_date"), "properties.end_date")
        if ends < starts:
            raise Bad("properties.end_date is before start_date")
        line = geometry_line(feat.get("geometry"), ctx.bbox)
        if core.get("update_date") is not None:
            observed = rfc3339(core["update_date"], "core_details.update_date")
        elif info.get("update_date") is not None:
            observed = rfc3339(info["update_date"], "feed_info.update_date")
        else:
            observed = ctx.now
        impact = props.get("vehicle_impact") if event_type == "work-zone" else None
        if event_type == "detour":
            category, severity = "detour", 1
        else:
            category = "closure" if impact == "all-lanes-closed" else "roadworks"
            severity = IMPACT_SEVERITY.get(impact, 2)
        segs, district, matched = locate_line(ctx, line) if len(line) > 1 else ([], "", "")
        mid = line[len(line) // 2]
        if len(line) == 1:
            seg, district, matched = locate_point(ctx, *mid)
            segs = [seg] if seg else []
        names = [n for n in core["road_names"] if isinstance(n, str) and n.strip()][:10]
        road = road_names(ctx, names[0] if names else "", matched)
        extra = tuple(n.strip()[:80] for n in names[1:] if n.strip()[:80] not in road)
        attrs: dict[str, Any] = {"event_type": event_type, "direction": core["direction"],
                                 "data_source_id": short(core.get("data_source_id"), 120)}
        if impact:
            attrs["vehicle_impact"] = impact
        lanes = _lanes(props.get("lanes"))
        if lanes:
            attrs["lanes"] = lanes
            attrs["lanes_closed"] = sum(1 for ln in lanes if ln.get("status") == "closed")
        for key in ("beginning_cross_street", "ending_cross_street", "work_zone_type"):
            if isinstance(props.get(key), str):
                attrs[key] = short(props[key], 120)
        speed = props.get("reduced_speed_limit_kph")
        if speed is not None:
            attrs["reduced_speed_limit_kph"] = round(number(speed, "reduced_speed_limit_kph"), 1)
        work = props.get("types_of_work")
        if isinstance(work, list):
            attrs["types_of_work"] = [w["type_name"] for w in work[:20] if isinstance(w, dict)
                                      and isinstance(w.get("type_name"), str)]
        related = core.get("related_road_events")
        if isinstance(related, list):
            attrs["related"] = [{"type": r["type"], "id": r["id"]} for r in related[:20]
                                if isinstance(r, dict) and isinstance(r.get("type"), str)
                                and isinstance(r.get("id"), str)]
        if isinstance(core.get("name"), str):
            attrs["name"] = short(core["name"], 200)
        if segs:
            attrs["segments"] = segs[:200]
        version = info.get("version")
        if isinstance(version, str):
            attrs["wzdx_version"] = version[:10]
        description = short(core.get("description"), MAX_TEXT)
        if description:
            attrs["description"] = description
        text = description or short(core.get("name"), MAX_TEXT)
        return RoadEvent(
            id=ev_id, kind="construction", category=category, severity=severity,
            source=self.name, observed_at=observed, lon=mid[0], lat=mid[1],
            line=line if len(line) > 1 else (),
            status="ended" if ends <= ctx.now else "active",
            segment_id=segs[0] if segs else "", district=district,
            road_names=(road + extra)[:20], starts_at=starts, ends_at=ends, confidence=1.0,
            text=text, raw_ref=ev_id, attrs=attrs)
