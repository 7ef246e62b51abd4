"""The read-only JSON API for other systems: ``/api/v1/…`` (a Flask Blueprint).

- Anonymous callers (and restricted roles such as the wall kiosk) get masked event text;
  only a logged-in role holding ``see_pii`` gets the text as stored. Private data (the
  ``private:<id>`` hashes) is never read here, and ``attrs`` is reduced to a whitelist.
- Bad parameters (``params.BadParameter``) answer 400 with ``{"error": "<reason>"}``;
  Redis down answers 503.
- Masked answers are public and cacheable for a few seconds (a proxy in front can absorb a
  holiday crowd); bodies are cached by data version in Redis for every worker, keyed by the
  parameters each route reads and within a memory budget (``respond``).
- Anonymous callers are rate limited per client (``api_rate_limit``); 429 with Retry-After.
- Any other path under /api/ answers a JSON 404 (405 for a known path asked with a method it
  does not take), never the Dash page (``add_not_found_routes``).
"""
from __future__ import annotations

import hashlib
import math
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Response, jsonify, request

from dashboard.web import session
from dashboard.web.conditional import conditional_response
from dashboard.web.params import (BadParameter, canonical, check_params, error_response,
                                  parse_bbox, parse_district, parse_int, parse_kind,
                                  parse_levels, parse_time)
from dashboard.storage.cache import CacheBudget, ProcessCache, cache_for, dumps
from dashboard.web.ratelimit import limiter_for
from dashboard.congestion import LEVEL_NAMES, LEVEL_NAMES_EN
from dashboard.dispatch import incidents as incidents_mod
from dashboard.masking import mask_for_public, mask_or_empty
from dashboard.roads.works import live_works
from dashboard.storage.keys import KINDS

API_VERSION = "1.0.0"
MAX_LIMIT = 5000
DEFAULT_LIMIT = 500
MAX_WINDOW = timedelta(days=31)
API_CACHE_TTL_S = 120
API_RATE_SCOPE = "api"
CLEARED_LISTED_S = 24 * 3600      # ?state=all adds the incidents cleared in the last 24 h
INCIDENT_STATES = ("open", "all")
# attrs keys safe to publish (numbers and flags about the road, never about a person)
PUBLIC_ATTRS = ("count", "speed_kmh", "length_m", "delay_s", "level", "lanes_closed",
                "vehicle_impact", "reliability")
# the event fields a masked answer carries (an allowlist: a field added to RoadEvent later
# is not published until it is listed here); text and attrs are handled apart
PUBLIC_EVENT_FIELDS = ("id", "kind", "category", "severity", "source", "status",
                       "observed_at", "starts_at", "ends_at", "lon", "lat", "line",
                       "segment_id", "district", "road_names", "confidence")
METRIC_RE = re.compile(r"^(new:(incident|congestion|construction|report)(:[^:\s]{1,50})?"
                       r"|(cidx|ckm):[^:\s]{1,50})$")
SECRET_RE = re.compile(r"(?i)\b(key|token|secret|password|passwd|sig|signature|access_token)"
                       r"=([^&\s]+)")


# -- serialisers --------------------------------------------------------------------------
def event_json(ev, unmasked: bool) -> dict[str, Any]:
    """The public form of a RoadEvent: no raw_ref, whitelisted attrs, masked text."""
    full = ev.to_dict()
    d = {k: full[k] for k in PUBLIC_EVENT_FIELDS if k in full}
    attrs: dict[str, Any] = {}
    for k, v in (ev.attrs or {}).items():
        if k not in PUBLIC_ATTRS:
            continue
        if isinstance(v, bool) or (isinstance(v, (int, float)) and math.isfinite(v)):
            attrs[k] = v
        elif k == "vehicle_impact" and isinstance(v, str) and len(v) <= 40:
            attrs[k] = v
    d["attrs"] = attrs
    d["text"] = ev.text if unmasked else mask_for_public(ev.text)
    return d


def incident_json(inc, unmasked: bool) -> dict[str, Any]:
    """The API form of a dispatch incident: its lifecycle state, where, since when, and the
    feeds its reports came from. Text and place are masked unless ``unmasked``; reporters'
    private data is never included."""
    def shown(text: str) -> str:
        return text if unmasked else mask_for_public(text)
    return {"id": inc.id, "state": inc.status, "category": inc.category,
            "severity": inc.severity, "place": shown(inc.place), "lon": inc.lon,
            "lat": inc.lat, "district": inc.district,
            "road_names": list(inc.road_names),
            "first_reported_at": _iso(inc.reported_at or inc.created_at),
            "acknowledged": bool(inc.ack), "cleared_at": _iso(inc.cleared_at),
            "updated_at": _iso(inc.updated_at), "text": shown(inc.text),
            "sources": incidents_mod.sources_of(inc)}


def works_json(item, unmasked: bool) -> dict[str, Any]:
    """The API form of one roadworks (``roads.works``): every feed's events about the same
    works in one item, ``status`` "active" (under way) or "planned" (starts later)."""
    ev = item.event
    return {"id": item.id, "status": item.status, "category": ev.category,
            "road_names": list(ev.road_names), "district": ev.district, "lon": ev.lon,
            "lat": ev.lat, "line": [list(p) for p in ev.line],
            "starts_at": item.starts_at.isoformat() if item.starts_at else None,
            "ends_at": item.ends_at.isoformat() if item.ends_at else None,
            "text": ev.text if unmasked else mask_for_public(ev.text),
            "sources": item.sources, "event_ids": item.event_ids}


def redact_error(text: str, restricted: bool = True) -> str:
    """A feed error as shown to outsiders: credentials in URLs removed, PII masked (for a
    restricted audience also withheld when a residue of personal data remains)."""
    text = SECRET_RE.sub(r"\1=***", text or "")
    return mask_for_public(text) if restricted else mask_or_empty(text)


def _iso(epoch: float | None) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def feeds_json(health: dict[str, dict[str, str]], now: float) -> list[dict[str, Any]]:
    """Feed health for the API (and the pages): ages, staleness, counters, breaker."""
    from dashboard.live.wall import feed_freshness

    out = []
    for f in feed_freshness(health, now):
        h = health.get(f["name"], {})
        out.append({
            "name": f["name"], "last_ok": _iso(f["last_ok"]), "age_s": f["age_s"],
            "interval_s": f["interval_s"], "stale": f["stale"],
            "stale_since": _iso(f["stale_since"]),
            "last_error": redact_error(h.get("last_error", "")) or None,
            "last_error_at": _iso(float(h["last_error_at"])) if _num(h.get("last_error_at"))
            else None,
            "lag_s": float(h["lag_s"]) if _num(h.get("lag_s")) else None,
            "breaker": h.get("breaker") or None,
            "counters": {c: int(h.get(c) or 0) for c in
                         ("accepted", "duplicates", "quarantined", "updated", "ended", "polls",
                          "errors")},
        })
    return out


def _num(v: str | None) -> bool:
    try:
        return v not in (None, "") and math.isfinite(float(v))
    except ValueError:
        return False


# -- the segment index used to filter congestion by district and box ----------------------
_seg_indexes: ProcessCache[dict[str, tuple]] = ProcessCache(1)   # one network at a time


def segment_index(network) -> dict[str, tuple[str, str, float, float, float, float]]:
    """segment_id -> (road_name, district, minx, miny, maxx, maxy), built once per network."""
    return _seg_indexes.get_for(network, lambda: _build_segment_index(network))


def _build_segment_index(network) -> dict[str, tuple[str, str, float, float, float, float]]:
    segs = network.segments
    bounds = segs.geometry.bounds
    names = segs["road_name"].fillna("").astype(str)
    districts = segs["district"].fillna("").astype(str) if "district" in segs else None
    index = {}
    for sid, name, minx, miny, maxx, maxy, dist in zip(
            segs.index.astype(str), names, bounds["minx"], bounds["miny"], bounds["maxx"],
            bounds["maxy"], districts if districts is not None else [""] * len(segs)):
        index[sid] = (name, dist, float(minx), float(miny), float(maxx), float(maxy))
    return index


def _district_names(network) -> set[str] | None:
    try:
        return {str(n) for n in network.districts["name"]}
    except Exception:  # noqa: BLE001 - no network: accept any name
        return None


# -- the OpenAPI document ------------------------------------------------------------------
def openapi_document(city_name: str = "", timezone_name: str = "Asia/Shanghai") -> dict:
    """OpenAPI 3.1 description of every route of this blueprint."""
    def p(name, schema, desc, where="query", required=False):
        return {"name": name, "in": where, "required": required, "description": desc,
                "schema": schema}
    err = {"description": "bad parameter", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
    unavailable = {"description": "the data store is unreachable", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    limited = {"description": "too many requests from this client (anonymous callers: "
                              "api_rate_limit per api_rate_window_s); see Retry-After",
               "content": {"application/json": {"schema": {
                   "$ref": "#/components/schemas/Error"}}}}
    since = p("since", {"type": "string", "format": "date-time"},
              f"ISO-8601 time; without an offset it is read in {timezone_name}")
    bbox = p("bbox", {"type": "string", "pattern": r"^[-0-9.eE+]+(,[-0-9.eE+]+){3}$"},
             "lon0,lat0,lon1,lat1 (WGS-84)")
    district = p("district", {"type": "string", "maxLength": 50}, "district name")

    def ok(schema_ref):
        return {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"路况 Lukuang road conditions API {city_name}".strip(),
                 "version": API_VERSION,
                 "description": "Read-only live road conditions. Event text is masked for "
                                "anonymous callers; times are UTC ISO-8601."},
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/events": {"get": {
                "summary": "Active events (incidents, congestion, roadworks, citizen reports)",
                "parameters": [p("kind", {"type": "string", "enum": list(KINDS)}, "event kind"),
                               district, bbox, since,
                               p("limit", {"type": "integer", "minimum": 1,
                                           "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                                 "maximum number of events (newest first)")],
                "responses": {"200": ok("EventList"), "400": err, "429": limited,
                              "503": unavailable}}},
            "/incidents": {"get": {
                "summary": "Incidents as dispatch holds them (one per real incident, every "
                           "feed's reports fused into it): the open ones, or with "
                           "state=all also those cleared in the last 24 h",
                "parameters": [p("state", {"type": "string", "enum": list(INCIDENT_STATES),
                                           "default": "open"},
                                 "open: open incidents (reported, verified, dispatched, "
                                 "on_scene); all: also those cleared in the last 24 h")],
                "responses": {"200": ok("IncidentList"), "304": {
                    "description": "not modified (If-None-Match matched the ETag)"},
                    "400": err, "429": limited, "503": unavailable}}},
            "/roadworks": {"get": {
                "summary": "Roadworks, one item per works however many feeds report it "
                           "(Waze, WZDx …); status active (under way) or planned",
                "responses": {"200": ok("WorksList"), "304": {
                    "description": "not modified (If-None-Match matched the ETag)"},
                    "429": limited, "503": unavailable}}},
            "/congestion": {"get": {
                "summary": "Congestion level of each road segment (latest snapshot)",
                "parameters": [district, bbox,
                               p("level", {"type": "string", "pattern": "^[0-4](,[0-4])*$"},
                                 "comma list of levels 0-4 to keep")],
                "responses": {"200": ok("SegmentList"), "400": err, "429": limited,
                              "503": unavailable}}},
            "/timeseries/{metric}": {"get": {
                "summary": "A per-minute metric aggregated per step",
                "parameters": [
                    p("metric", {"type": "string"}, "new:<kind>[:<district>], cidx:<area> or "
                      "ckm:<area> (area is 'city' or a district)", where="path", required=True),
                    since, p("until", {"type": "string", "format": "date-time"}, "end (now)"),
                    p("step", {"type": "integer", "minimum": 1, "maximum": 1440,
                               "default": 60}, "bucket in minutes"),
                    p("how", {"type": "string", "enum": ["sum", "mean", "last"]},
                      "aggregation (sum for new:*, mean otherwise)")],
                "responses": {"200": ok("TimeSeries"), "400": err, "429": limited,
                              "503": unavailable}}},
            "/feeds": {"get": {
                "summary": "Health of each upstream feed",
                "responses": {"200": ok("FeedList"), "429": limited, "503": unavailable}}},
            "/public/roads": {"get": {
                "summary": "One road's status for the public (路况查询): stretches between "
                           "cross streets, incidents, roadworks; masked text, anonymous, "
                           "rate limited per client",
                "parameters": [p("name", {"type": "string", "minLength": 1, "maxLength": 40},
                                 "road name or alias", required=True)],
                "responses": {
                    "200": ok("RoadStatus"),
                    "304": {"description": "not modified (If-None-Match matched the ETag)"},
                    "400": err,
                    "404": {"description": "unknown road; close_matches lists up to 5 names",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/UnknownRoad"}}}},
                    "429": {"description": "too many requests; see Retry-After",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/Error"}}}},
                    "503": unavailable}}},
            "/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OK"}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"],
                      "properties": {"error": {"type": "string"}}},
            "Event": {"type": "object", "properties": {
                "id": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)},
                "category": {"type": "string"}, "severity": {"type": "integer"},
                "source": {"type": "string"}, "status": {"type": "string"},
                "observed_at": {"type": "string", "format": "date-time"},
                "starts_at": {"type": ["string", "null"], "format": "date-time"},
                "ends_at": {"type": ["string", "null"], "format": "date-time"},
                "lon": {"type": "number"}, "lat": {"type": "number"},
                "line": {"type": "array", "items": {"type": "array",
                                                    "items": {"type": "number"}}},
                "segment_id": {"type": "string"}, "district": {"type": "string"},
                "road_names": {"type": "array", "items": {"type": "string"}},
                "confidence": {"type": "number"}, "text": {"type": "string"},
                "attrs": {"type": "object"}}},
            "EventList": {"type": "object", "properties": {
                "version": {"type": "integer"}, "generated_at": {"type": "string"},
                "masked": {"type": "boolean"}, "count": {"type": "integer"},
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
            "Incident": {"type": "object", "properties": {
                "id": {"type": "string"},
                "state": {"type": "string", "enum": ["reported", "verified", "dispatched",
                                                     "on_scene", "cleared"]},
                "category": {"type": "string"}, "severity": {"type": "integer"},
                "place": {"type": "string"}, "lon": {"type": "number"},
                "lat": {"type": "number"}, "district": {"type": "string"},
                "road_names": {"type": "array", "items": {"type": "string"}},
                "first_reported_at": {"type": ["string", "null"], "format": "date-time"},
                "acknowledged": {"type": "boolean"},
                "cleared_at": {"type": ["string", "null"], "format": "date-time"},
                "updated_at": {"type": ["string", "null"], "format": "date-time"},
                "text": {"type": "string"},
                "sources": {"type": "array", "items": {"type": "object", "properties": {
                    "feed": {"type": "string"}, "count": {"type": "integer"}}}}}},
            "IncidentList": {"type": "object", "properties": {
                "version": {"type": "integer"}, "generated_at": {"type": "string"},
                "masked": {"type": "boolean"}, "state": {"type": "string"},
                "count": {"type": "integer"}, "open": {"type": "integer"},
                "unacknowledged": {"type": "integer"},
                "incidents": {"type": "array",
                              "items": {"$ref": "#/components/schemas/Incident"}}}},
            "Works": {"type": "object", "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": ["active", "planned"]},
                "category": {"type": "string"},
                "road_names": {"type": "array", "items": {"type": "string"}},
                "district": {"type": "string"}, "lon": {"type": "number"},
                "lat": {"type": "number"},
                "line": {"type": "array", "items": {"type": "array",
                                                    "items": {"type": "number"}}},
                "starts_at": {"type": ["string", "null"], "format": "date-time"},
                "ends_at": {"type": ["string", "null"], "format": "date-time"},
                "text": {"type": "string"},
                "sources": {"type": "array", "items": {"type": "object", "properties": {
                    "feed": {"type": "string"}, "count": {"type": "integer"}}}},
                "event_ids": {"type": "array", "items": {"type": "string"}}}},
            "WorksList": {"type": "object", "properties": {
                "version": {"type": "integer"}, "generated_at": {"type": "string"},
                "masked": {"type": "boolean"}, "active": {"type": "integer"},
                "planned": {"type": "integer"},
                "roadworks": {"type": "array", "items": {"$ref": "#/components/schemas/Works"}}}},
            "Segment": {"type": "object", "properties": {
                "segment_id": {"type": "string"}, "road_name": {"type": "string"},
                "district": {"type": "string"}, "level": {"type": "integer"},
                "level_name": {"type": "string"}, "level_name_en": {"type": "string"},
                "speed_kmh": {"type": ["number", "null"]}, "source": {"type": "string"},
                "observed_at": {"type": ["string", "null"], "format": "date-time"}}},
            "SegmentList": {"type": "object", "properties": {
                "version": {"type": "integer"}, "generated_at": {"type": "string"},
                "count": {"type": "integer"},
                "segments": {"type": "array",
                             "items": {"$ref": "#/components/schemas/Segment"}}}},
            "TimeSeries": {"type": "object", "properties": {
                "metric": {"type": "string"}, "step_minutes": {"type": "integer"},
                "how": {"type": "string"}, "since": {"type": "string"},
                "until": {"type": "string"},
                "points": {"type": "array", "items": {"type": "object", "properties": {
                    "t": {"type": "string", "format": "date-time"},
                    "value": {"type": "number"}}}}}},
            "Feed": {"type": "object", "properties": {
                "name": {"type": "string"}, "last_ok": {"type": ["string", "null"]},
                "age_s": {"type": ["number", "null"]}, "interval_s": {"type": "number"},
                "stale": {"type": "boolean"}, "stale_since": {"type": ["string", "null"]},
                "last_error": {"type": ["string", "null"]},
                "last_error_at": {"type": ["string", "null"]},
                "lag_s": {"type": ["number", "null"]}, "breaker": {"type": ["string", "null"]},
                "counters": {"type": "object",
                             "additionalProperties": {"type": "integer"}}}},
            "UnknownRoad": {"type": "object", "required": ["error", "close_matches"],
                            "properties": {"error": {"type": "string"},
                                           "close_matches": {"type": "array",
                                                             "items": {"type": "string"}}}},
            "RoadStatus": {"type": "object", "properties": {
                "version": {"type": "integer"}, "as_of": {"type": "string"},
                "road": {"type": "string"},
                "aliases": {"type": "array", "items": {"type": "string"}},
                "worst_level": {"type": "integer"}, "worst_level_name": {"type": "string"},
                "length_m": {"type": "number"},
                "data_time": {"type": ["string", "null"], "format": "date-time"},
                "stretches": {"type": "array", "items": {"type": "object", "properties": {
                    "label": {"type": "string"}, "from": {"type": "string"},
                    "to": {"type": "string"}, "level": {"type": "integer"},
                    "level_name": {"type": "string"}, "length_m": {"type": "number"},
                    "speed_kmh": {"type": ["number", "null"]}}}},
                "incidents": {"type": "array", "items": {"type": "object"}},
                "roadworks": {"type": "array", "items": {"type": "object"}}}},
            "FeedList": {"type": "object", "properties": {
                "generated_at": {"type": "string"},
                "feeds": {"type": "array", "items": {"$ref": "#/components/schemas/Feed"}}}},
        }},
    }


# -- the blueprint -------------------------------------------------------------------------
def make_api(get_services: Callable[[], Any]) -> Blueprint:
    """``/api/v1/…`` routes. ``get_services()`` returns the worker's Services."""
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    bp.register_error_handler(BadParameter, error_response)

    @bp.errorhandler(redis.RedisError)
    def _down(exc: redis.RedisError):
        return jsonify({"error": f"data store unreachable ({exc.__class__.__name__})"}), 503

    def caller_unmasked() -> bool:
        user = session.current_user()
        return user is not None and user.name != session.KIOSK_USER and user.can("see_pii")

    @bp.before_request
    def _rate_limit():
        """Anonymous callers (and the wall kiosk) count against ``api_rate_limit`` per
        ``api_rate_window_s``, as the public query does; over it: 429 with Retry-After."""
        user = session.current_user()
        if user is not None and user.name != session.KIOSK_USER:
            return None
        s = get_services().settings
        verdict = limiter_for(get_services(), API_RATE_SCOPE, s.api_rate_limit,
                              s.api_rate_window_s).hit(request.remote_addr or "")
        if verdict.allowed:
            return None
        resp = jsonify({"error": f"too many requests: at most {verdict.limit} per "
                                 f"{s.api_rate_window_s} s; retry after "
                                 f"{verdict.retry_after_s} s",
                        "retry_after_s": verdict.retry_after_s})
        resp.status_code = 429
        resp.headers["Retry-After"] = str(verdict.retry_after_s)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def respond(name: str, build: Callable[[], Any], cacheable: bool,
                key: dict[str, Any]) -> Response:
        """Serve the body for this request: from the version-keyed cache when public. The
        shared entry is named by ``key``, the parsed parameters the route reads
        (``params.canonical``), never by the raw query (``_=`` busters, spellings), and
        stored within the API's budget (``api_cache_bytes``, ``api_cache_entries``)."""
        svc = get_services()
        now = time.time()
        version = svc.store.version()
        tag = f"{version}:{int(now // 60)}"
        if not cacheable:
            resp = Response(dumps(build()), mimetype="application/json")
            resp.headers["Cache-Control"] = "private, no-store"
            return resp
        digest = hashlib.sha1(f"{name}?{canonical(key)}".encode()).hexdigest()[:20]
        budget = CacheBudget("api", svc.settings.api_cache_bytes, svc.settings.api_cache_entries)

        def text() -> str:
            return cache_for(svc.r, svc.keys).get_text(f"api:{name}:{digest}", tag, build,
                                                       ttl_s=API_CACHE_TTL_S, budget=budget)
        max_age = max(1, int(min(svc.settings.refresh_s, 30)))
        resp = conditional_response(f"{tag}-{digest[:8]}", text, "application/json",
                                    f"public, max-age={max_age}", weak=True)
        resp.headers["Vary"] = "Cookie"
        return resp

    @bp.get("/events")
    def events():
        svc = get_services()
        check_params({"kind", "district", "bbox", "since", "limit"})
        tz = ZoneInfo(svc.settings.timezone)
        kind = parse_kind(request.args.get("kind"))
        district = parse_district(request.args.get("district"), _known_districts(svc))
        bbox = parse_bbox(request.args.get("bbox"))
        since = parse_time(request.args.get("since"), "since", tz)
        limit = parse_int(request.args.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        unmasked = caller_unmasked()

        def build():
            evs = svc.store.active_events(kind, district, bbox, since)[:limit]
            return {"version": svc.store.version(),
                    "generated_at": datetime.now(timezone.utc).isoformat(),
                    "masked": not unmasked, "count": len(evs),
                    "events": [event_json(e, unmasked) for e in evs]}
        return respond("events", build, cacheable=not unmasked,
                       key={"kind": kind, "district": district, "bbox": bbox, "since": since,
                            "limit": limit})

    @bp.get("/incidents")
    def incidents():
        svc = get_services()
        check_params({"state"})
        state = request.args.get("state") or "open"
        if state not in INCIDENT_STATES:
            raise BadParameter("state must be open or all")
        unmasked = caller_unmasked()

        def build():
            now = time.time()
            version = svc.store.version()
            found = incidents_mod.open_incidents(svc.r, svc.keys)
            if state == "all":
                found += incidents_mod.recently_cleared(svc.r, svc.keys, CLEARED_LISTED_S, now)
            return {"version": version, "generated_at": _iso(now), "masked": not unmasked,
                    "state": state, "count": len(found),
                    "open": incidents_mod.open_count(svc.r, svc.keys),
                    "unacknowledged": incidents_mod.unacknowledged_count(svc.r, svc.keys),
                    "incidents": [incident_json(i, unmasked) for i in found]}
        return respond("incidents", build, cacheable=not unmasked, key={"state": state})

    @bp.get("/roadworks")
    def roadworks():
        svc = get_services()
        check_params(set())
        unmasked = caller_unmasked()

        def build():
            now = time.time()
            items = live_works(svc.store, now, svc.settings.works_near_m)
            return {"version": svc.store.version(), "generated_at": _iso(now),
                    "masked": not unmasked,
                    "active": sum(1 for w in items if w.is_active),
                    "planned": sum(1 for w in items if not w.is_active),
                    "roadworks": [works_json(w, unmasked) for w in items]}
        return respond("roadworks", build, cacheable=not unmasked, key={})

    @bp.get("/congestion")
    def congestion():
        svc = get_services()
        check_params({"district", "bbox", "level"})
        district = parse_district(request.args.get("district"), _known_districts(svc))
        bbox = parse_bbox(request.args.get("bbox"))
        levels = parse_levels(request.args.get("level"))

        def build():
            snap = svc.store.congestion_snapshot(svc.settings.congestion_stale_s)
            index = _safe_index(svc)
            rows = []
            for seg in sorted(snap):
                obs = snap[seg]
                name, dist, x0, y0, x1, y1 = index.get(seg, ("", "", None, None, None, None))
                if district and dist != district:
                    continue
                if bbox and (x0 is None or x1 < bbox[0] or x0 > bbox[2] or y1 < bbox[1]
                             or y0 > bbox[3]):
                    continue
                if levels is not None and obs["level"] not in levels:
                    continue
                rows.append({"segment_id": seg, "road_name": name, "district": dist,
                             "level": obs["level"], "level_name": LEVEL_NAMES[obs["level"]],
                             "level_name_en": LEVEL_NAMES_EN[obs["level"]],
                             "speed_kmh": obs["speed"], "source": obs["source"],
                             "observed_at": _iso(obs["at"])})
            return {"version": svc.store.version(),
                    "generated_at": datetime.now(timezone.utc).isoformat(),
                    "count": len(rows), "segments": rows}
        return respond("congestion", build, cacheable=True,
                       key={"district": district, "bbox": bbox, "level": levels})

    @bp.get("/timeseries/<path:metric>")
    def timeseries(metric: str):
        svc = get_services()
        check_params({"since", "until", "step", "how"})
        if not METRIC_RE.match(metric):
            raise BadParameter("metric must be new:<kind>[:<district>], cidx:<area> or "
                               "ckm:<area>")
        tz = ZoneInfo(svc.settings.timezone)
        now = datetime.now(timezone.utc)
        until = parse_time(request.args.get("until"), "until", tz) or now
        since = parse_time(request.args.get("since"), "since", tz) or until - timedelta(hours=24)
        if since >= until:
            raise BadParameter("since must be before until")
        if until - since > MAX_WINDOW:
            raise BadParameter("the window since..until is at most 31 days")
        step = parse_int(request.args.get("step"), "step", 60, 1, 1440)
        how = request.args.get("how") or ("sum" if metric.startswith("new:") else "mean")
        if how not in ("sum", "mean", "last"):
            raise BadParameter("how must be sum, mean or last")

        def build():
            pts = svc.store.timeseries(metric, since, until, step, how)
            return {"metric": metric, "step_minutes": step, "how": how,
                    "since": since.isoformat(), "until": until.isoformat(),
                    "points": [{"t": t.isoformat(), "value": round(v, 6)} for t, v in pts]}
        return respond("ts", build, cacheable=True,
                       key={"metric": metric, "step": step, "how": how,
                            "since": parse_time(request.args.get("since"), "since", tz),
                            "until": parse_time(request.args.get("until"), "until", tz)})

    @bp.get("/feeds")
    def feeds():
        svc = get_services()
        check_params(set())
        body = {"generated_at": datetime.now(timezone.utc).isoformat(),
                "feeds": feeds_json(svc.store.feed_health(), time.time())}
        resp = Response(dumps(body), mimetype="application/json")
        resp.headers["Cache-Control"] = "public, max-age=5"
        return resp

    @bp.get("/openapi.json")
    def openapi():
        svc = get_services()
        resp = jsonify(openapi_document(svc.settings.city_name, svc.settings.timezone))
        resp.headers["Cache-Control"] = "public, max-age=3600"
        return resp

    # registered on the app itself (a blueprint's rules all sit under its url_prefix): every
    # path under /api/ that no route of any blueprint answers, whatever the method
    bp.record_once(lambda state: add_not_found_routes(state.app))
    return bp


# -- unknown paths under /api/ ---------------------------------------------------------------
NOT_FOUND_ENDPOINT = "api_not_found"
NOT_FOUND_RULES = ("/api", "/api/", "/api/<path:rest>")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def add_not_found_routes(app) -> None:
    """Answer a JSON 404 for every unknown path under /api/ (any method) instead of the
    Dash page that its catch-all route would serve with 200. A known path asked with a method
    it does not take keeps its 405 (with Allow). The specific routes of every blueprint win
    over these rules (werkzeug matches static parts before converters)."""
    for rule in NOT_FOUND_RULES:
        app.add_url_rule(rule, NOT_FOUND_ENDPOINT, api_not_found, methods=list(HTTP_METHODS),
                         provide_automatic_options=False, strict_slashes=False)


def api_not_found(rest: str = "") -> Response:
    """``{"error": "not found", "path": …}`` with 404, or 405 when another method of the
    path is served."""
    allowed = _methods_served(request.path)
    if allowed and request.method not in allowed:
        resp = jsonify({"error": "method not allowed", "path": request.path,
                        "allowed": sorted(allowed)})
        resp.status_code = 405
        resp.headers["Allow"] = ", ".join(sorted(allowed))
    else:
        resp = jsonify({"error": "not found", "path": request.path})
        resp.status_code = 404
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _methods_served(path: str) -> set[str]:
    """The methods a real route (not these catch-alls, not Dash's page route) takes at
    ``path``."""
    from flask import current_app
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    adapter = current_app.url_map.bind_to_environ(request.environ)
    served: set[str] = set()
    for method in HTTP_METHODS:
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except (HTTPException, RequestRedirect):
            continue
        if rule.endpoint != NOT_FOUND_ENDPOINT:
            served.add(method)
    return served


def _safe_network(svc):
    try:
        return svc.network
    except Exception:  # noqa: BLE001 - the API still answers without a road network
        return None


def _known_districts(svc) -> set[str] | None:
    net = _safe_network(svc)
    return _district_names(net) if net is not None else None


def _safe_index(svc) -> dict[str, tuple]:
    net = _safe_network(svc)
    return segment_index(net) if net is not None else {}
