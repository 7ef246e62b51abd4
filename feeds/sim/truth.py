"""What really happened in the simulated city, and which feed records told of it.

``truth(world, t0, t1)`` lists every true incident, overloaded coach and roadworks job that
the simulator's feeds could serve at some time in [t0, t1], each with the ids of the feed
records about it, spelled exactly as the adapters spell ``RoadEvent.id`` when the feed is
named after its adapter (the demo's names):

- Waze alerts: ``waze:<uuid>`` (the feed lists an incident from the minute after it starts
  until it ends; a roadworks job while it is active);
- 122 hotline tickets: ``hotline:<工单号>``;
- Weibo mentions: ``weibo:<status id>``. The Weibo adapter folds statuses into cluster
  events (``weibo:cluster:…``), whose ``report_ids`` list these ids: resolve the cluster
  after ingest;
- WZDx work zones: ``wzdx:<feature id>``.

Records about nothing in particular (citizens' background posts and calls) and records
about a jam (congestion, not an incident) are listed under ``other`` with what they are
about. Nothing here changes what the feeds serve: it renders the same world the same way.

Limits, deliberately not modelled: the hotline drop's 30-row cap and the mentions page's
200-status cap (the demo never reaches them between two polls at the demo's intervals).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import formats
from .world import (MAX_INC_S, REPORT_WINDOW_S, Call, Coach, Incident, Report, Works, World)

# the simulator's incident kinds → the category the Waze adapter gives them
CATEGORY = {"accident": "accident", "breakdown": "breakdown", "hazard": "hazard",
            "pothole": "hazard", "signal": "hazard", "flooding": "flooding",
            "closure": "closure"}


def _record(feed: str, rid: str, at: float) -> dict[str, Any]:
    return {"feed": feed, "id": rid, "at": int(at)}


def waze_alert_id(world: World, key: str) -> str:
    """The event id of the Waze alert the simulator publishes for an incident or works key."""
    return f"waze:{formats.stable_uuid(world, key)}"


def hotline_id(call: Call) -> str:
    return f"hotline:{formats.hotline_ticket(call)}"


def weibo_id(rep: Report) -> str:
    return f"weibo:{formats.status_id(rep.created, rep.key)}"


def _waze_first_served(start: float, end: float, t0: float, t1: float) -> float | None:
    """The first time in [t0, t1] when the Waze file lists an alert published at ``start``
    and live until ``end`` (the file covers the last completed minute), else None."""
    first = max(t0, math.ceil(start / 60) * 60)
    return first if first <= t1 and first < end else None


def _calls(world: World, t0: float, t1: float) -> list[Call]:
    """Every hotline ticket the drop can show in [t0, t1] (created in (t0 - 3 h, t1])."""
    out: list[Call] = []
    end = t1
    while end > t0 - formats.HOTLINE_WINDOW_S:
        window = min(MAX_INC_S, end - (t0 - formats.HOTLINE_WINDOW_S))
        out.extend(world.calls(end, window))
        end -= window
    return out


def _works(world: World, t0: float, t1: float) -> list[Works]:
    """Roadworks visible in the WZDx feed at some time in [t0, t1]."""
    seen: dict[str, Works] = {}
    t = t0
    while True:
        for w in world.works(t):
            seen.setdefault(w.key, w)
        if t >= t1:
            break
        t = min(t1, t + 6 * 3600)
    return sorted(seen.values(), key=lambda w: (w.start, w.key))


def _incident_item(inc: Incident) -> dict[str, Any]:
    return {"id": inc.key, "kind": inc.kind, "category": CATEGORY[inc.kind],
            "lon": round(inc.lon, 6), "lat": round(inc.lat, 6), "road": inc.road,
            "cross": inc.cross, "start": int(inc.start), "end": int(inc.end),
            "records": []}


def _coach_item(world: World, coach: Coach) -> dict[str, Any]:
    lon, lat = world.city.chains[coach.chain].point_at(coach.along(coach.start))
    return {"id": coach.key, "kind": "overload", "category": "overload",
            "lon": round(lon, 6), "lat": round(lat, 6),
            "road": world.city.chains[coach.chain].road, "cross": "",
            "start": int(coach.start), "end": int(coach.stop), "moving": True, "records": []}


def _works_item(world: World, w: Works) -> dict[str, Any]:
    ch = world.city.chains[w.chain]
    lon, lat = ch.point_at((w.m0 + w.m1) / 2)
    return {"id": w.key, "kind": "roadworks", "category": "roadworks",
            "lon": round(lon, 6), "lat": round(lat, 6), "road": ch.road,
            "cross": f"{w.from_cross}—{w.to_cross}", "announced": int(w.announced),
            "start": int(w.start), "end": int(w.end), "records": []}


def truth(world: World, t0: float, t1: float) -> dict[str, Any]:
    """The true incidents, coaches and roadworks behind what the feeds serve in [t0, t1],
    with their feed records (see the module docstring); JSON-ready."""
    if t1 < t0:
        raise ValueError("t1 before t0")
    back = REPORT_WINDOW_S + MAX_INC_S
    items: dict[str, dict[str, Any]] = {}
    for inc in world.incidents(t1, t1 - t0 + back):
        items[inc.key] = _incident_item(inc)
        served = _waze_first_served(inc.start, inc.end, t0, t1)
        if served is not None:
            items[inc.key]["records"].append(
                _record("waze", waze_alert_id(world, inc.key), inc.start))
    for coach in world.coaches(t1, t1 - t0 + back):
        items[coach.key] = _coach_item(world, coach)
    other: list[dict[str, Any]] = []
    for call in _calls(world, t0, t1):
        about = call.key.split("/")[0] if "/" in call.key else ""
        rec = _record("hotline", hotline_id(call), call.created)
        if about in items:
            items[about]["records"].append(rec)
        else:
            other.append({**rec, "about": "background", "kind": call.kind})
    for rep in world.reports(t1, t1 - t0 + REPORT_WINDOW_S):
        rec = _record("weibo", weibo_id(rep), rep.created)
        if rep.about in items:
            items[rep.about]["records"].append(rec)
        else:
            other.append({**rec, "about": f"jam:{rep.about}" if rep.about else "background",
                          "kind": rep.kind})
    works = []
    for w in _works(world, t0, t1):
        item = _works_item(world, w)
        item["records"].append(_record("wzdx", f"wzdx:{formats.stable_uuid(world, w.key, 5)}",
                                       w.announced))
        if _waze_first_served(w.start, w.end, t0, t1) is not None:
            item["records"].append(_record("waze", waze_alert_id(world, w.key), w.start))
        works.append(item)
    incidents = []
    for item in items.values():
        if not item["records"]:
            continue   # over before t0 and nothing about it still served
        item["records"].sort(key=lambda r: (r["at"], r["id"]))
        item["first_record_at"] = item["records"][0]["at"]
        incidents.append(item)
    incidents.sort(key=lambda i: (i["start"], i["id"]))
    other.sort(key=lambda r: (r["at"], r["id"]))
    return {"seed": world.seed, "scenario": world.scenario, "from": int(t0), "to": int(t1),
            "incidents": incidents, "roadworks": works, "other": other}


def record_index(doc: dict[str, Any]) -> dict[str, str]:
    """Record id → the id of the true incident or roadworks job it is about."""
    return {rec["id"]: item["id"] for section in ("incidents", "roadworks")
            for item in doc[section] for rec in item["records"]}


def write_truth(world: World, t0: float, t1: float, path: Path) -> dict[str, Any]:
    """Write ``truth(world, t0, t1)`` as JSON to ``path``; returns it."""
    doc = truth(world, t0, t1)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return doc


__all__ = ["truth", "record_index", "write_truth", "waze_alert_id", "hotline_id", "weibo_id",
           "CATEGORY"]
