"""The public road-condition query (路况查询): one road's status for a person on a phone.

Pure functions of the road network, a congestion snapshot and the live events (no Flask,
no Redis), plus ``road_answer`` that reads those two from the Store.

- The road is found by name or alias through the network's gazetteer (``resolve_road``);
  an unknown name gets up to five close matches (difflib over names and aliases).
- The road is cut into stretches the way the 路况播报 does (``roads.stretches.StretchFinder``):
  runs of segments of one level, labelled by the named cross streets at their ends, in the
  network's order (west→east, south→north). Segments without a fresh observation count as
  level 0 (未知) and form stretches of their own.
- Incidents are dispatch's open incidents on one of the road's segments or naming the
  road (every feed's reports of one incident fused into it; a cleared one is gone).
  Roadworks are the live works (``roads.works``: one item per works however many feeds
  report it), ``status`` "active" or "planned". Citizen reports are not shown (unverified).
- Every text that comes from a feed is masked (``masking.mask_for_public``, failing closed
  to ""); nothing from the private hashes is read. Names from the network are not masked.
"""
from __future__ import annotations

import difflib
import math
import unicodedata
from datetime import datetime, timezone
from typing import Any, Sequence

from dashboard.comms.bulletins import CATEGORY_PHRASES, event_place, works_of
from dashboard.congestion import LEVEL_COLOURS, LEVEL_NAMES, LEVEL_NAMES_EN
from dashboard.dispatch.incidents import Incident, open_incidents
from dashboard.masking import mask_for_public
from dashboard.model import RoadEvent
from dashboard.roads.network import name_key
from dashboard.roads.stretches import StretchFinder
from dashboard.roads.works import WorksItem, live_works
from dashboard.storage.cache import ProcessCache

MAX_NAME_CHARS = 40
MAX_CLOSE_MATCHES = 5
CLOSE_MATCH_CUTOFF = 0.5
MAX_EVENTS = 20            # per list; a road rarely has more, a page should not either
WORKS_NAMES = {"roadworks": "道路施工", "closure": "道路封闭"}
IMPACT_NAMES = {"all-lanes-closed": "全封闭", "some-lanes-closed": "占用部分车道",
                "some-lanes-closed-merge-left": "占用部分车道",
                "some-lanes-closed-merge-right": "占用部分车道",
                "alternating-one-way": "单向交替通行", "all-lanes-open": "不占道"}


class QueryError(ValueError):
    """The road name cannot be used; the message is the reason given to the caller."""


class UnknownRoad(LookupError):
    """No road of that name; ``close_matches`` are canonical names to suggest."""

    def __init__(self, name: str, close_matches: list[str]):
        super().__init__(f"no road named {name!r}")
        self.name = name
        self.close_matches = close_matches


# -- the name ------------------------------------------------------------------------------
def clean_name(raw: str | None) -> str:
    """The road name as asked, trimmed; raises QueryError when missing, empty, too long
    or holding control characters."""
    if raw is None:
        raise QueryError("name is required (a road name or alias, e.g. 东岳大街)")
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        raise QueryError("name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise QueryError(f"name is longer than {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise QueryError("name contains control characters")
    return name


def close_matches(network: Any, name: str, n: int = MAX_CLOSE_MATCHES) -> list[str]:
    """Canonical names of up to ``n`` roads whose name or alias is close to ``name``."""
    by_key: dict[str, str] = {}
    for alias, canonical in network.aliases().items():
        by_key.setdefault(name_key(alias), canonical)
    out: list[str] = []
    for key in difflib.get_close_matches(name_key(name), list(by_key), n=len(by_key),
                                         cutoff=CLOSE_MATCH_CUTOFF):
        road = by_key[key]
        if road not in out:
            out.append(road)
        if len(out) == n:
            break
    return out


def find_road(network: Any, name: str) -> str:
    """The canonical road for a name or alias; raises UnknownRoad with close matches."""
    road = network.resolve_road(name)
    if road is None or not network.segments_of(road):
        raise UnknownRoad(name, close_matches(network, name))
    return road


# -- the answer ----------------------------------------------------------------------------
_finders: ProcessCache[StretchFinder] = ProcessCache(1)   # one network at a time


def finder_for(network: Any) -> StretchFinder:
    """One StretchFinder per network in this process (it caches each road's frame)."""
    return _finders.get_for(network, lambda: StretchFinder(network))


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat() if epoch else None


def _time(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat() if dt else None


def level_json(level: int) -> dict[str, Any]:
    return {"level": level, "level_name": LEVEL_NAMES[level],
            "level_name_en": LEVEL_NAMES_EN[level], "colour": LEVEL_COLOURS[level]}


def road_stretches(network: Any, road: str, snapshot: dict[str, dict[str, Any]],
                   finder: StretchFinder | None = None) -> list[dict[str, Any]]:
    """The road's stretches in order along it, each with its level, length, speed (the
    length-weighted mean of the observed speeds, None when none is known) and the time of
    its newest observation."""
    finder = finder or finder_for(network)
    ids = network.segments_of(road)
    sub = {sid: snapshot.get(sid) or {"level": 0} for sid in ids}
    lengths = network.segments["length_m"]
    out = []
    for s in finder.stretches(sub, min_level=0):
        weighted = total = 0.0
        newest = 0.0
        for sid in s.segment_ids:
            obs = sub[sid]
            if int(obs.get("level") or 0) == 0:
                continue          # unknown or stale: its speed says nothing about now
            newest = max(newest, float(obs.get("at") or 0.0))
            speed = obs.get("speed")
            if speed is not None and math.isfinite(float(speed)):
                w = float(lengths.get(sid, 0.0)) or 1.0
                weighted += w * float(speed)
                total += w
        out.append({"label": s.label, "from": s.start_cross, "to": s.end_cross,
                    "side": s.side, **level_json(s.level), "length_m": s.length_m,
                    "speed_kmh": round(weighted / total, 1) if total else None,
                    "segments": len(s.segment_ids), "observed_at": _iso(newest)})
    return out


def on_road(ev: RoadEvent | Incident, network: Any, road: str, segment_ids: set[str]) -> bool:
    """Whether an event or incident lies on ``road``: on one of its segments, or naming it."""
    if ev.segment_id and ev.segment_id in segment_ids:
        return True
    return any(network.resolve_road(n) == road for n in ev.road_names if n)


def _place(ev: RoadEvent) -> str:
    try:
        return mask_for_public(event_place(ev))
    except Exception:  # noqa: BLE001 - a place we cannot mask is not shown
        return ""


def _masked(text: str) -> str:
    try:
        return mask_for_public(text)
    except Exception:  # noqa: BLE001 - a text we cannot mask is not shown
        return ""


def incident_json(inc: Incident) -> dict[str, Any]:
    """What the public sees of a (dispatch) incident: what, where, since when, its state;
    text masked."""
    what = CATEGORY_PHRASES.get(inc.category, ("", "交通异常"))[1]
    roads = [n for n in inc.road_names if n]
    place = inc.place or (f"{roads[0]}与{roads[1]}路口" if len(roads) >= 2
                          else (roads[0] if roads else ""))
    reported = _iso(inc.reported_at or inc.created_at)
    return {"id": inc.id, "category": inc.category, "category_name": what,
            "severity": inc.severity, "state": inc.status, "place": _masked(place),
            "text": _masked(inc.text), "observed_at": reported, "starts_at": reported}


def works_json(item: WorksItem, finder: StretchFinder | None) -> dict[str, Any]:
    """What the public sees of roadworks: the stretch, schedule, impact, whether under way
    or planned; text masked."""
    ev = item.event
    try:
        place = mask_for_public(works_of(ev, finder).place)
    except Exception:  # noqa: BLE001 - odd WZDx attributes: fall back to the place
        place = _place(ev)
    impact = str((ev.attrs or {}).get("vehicle_impact") or "")
    lanes = (ev.attrs or {}).get("lanes_closed")
    return {"category": ev.category, "category_name": WORKS_NAMES.get(ev.category, "道路施工"),
            "place": place, "text": mask_for_public(ev.text),
            "impact": impact if impact in IMPACT_NAMES else "",
            "impact_name": IMPACT_NAMES.get(impact, ""),
            "lanes_closed": int(lanes) if isinstance(lanes, (int, float))
            and not isinstance(lanes, bool) and math.isfinite(lanes) else None,
            "starts_at": _time(item.starts_at), "ends_at": _time(item.ends_at),
            "status": item.status, "sources": item.sources}


def road_status(network: Any, road: str, snapshot: dict[str, dict[str, Any]],
                incidents: Sequence[Incident], works: Sequence[WorksItem],
                finder: StretchFinder | None = None) -> dict[str, Any]:
    """The whole answer for one (canonical) road: stretches, the open incidents and the
    roadworks on it (under way first, then planned), the worst level, and the time of the
    newest congestion observation on it."""
    finder = finder or finder_for(network)
    stretches = road_stretches(network, road, snapshot, finder)
    seg_ids = set(network.segments_of(road))
    incidents = sorted((i for i in incidents if i.is_open
                        and on_road(i, network, road, seg_ids)),
                       key=lambda i: (-i.severity, -(i.reported_at or i.created_at), i.id))
    works = sorted((w for w in works if any(on_road(e, network, road, seg_ids)
                                            for e in w.events)),
                   key=lambda w: (not w.is_active, w.starts_at, w.id))
    times = [s["observed_at"] for s in stretches if s["observed_at"]]
    aliases = sorted(a for a, c in network.aliases().items() if c == road and a != road)
    return {
        "road": road, "aliases": aliases,
        **{f"worst_{k}": v for k, v in level_json(max((s["level"] for s in stretches),
                                                       default=0)).items()},
        "length_m": round(sum(s["length_m"] for s in stretches), 1),
        "data_time": max(times) if times else None,
        "stretches": stretches,
        "incidents": [incident_json(e) for e in incidents[:MAX_EVENTS]],
        "roadworks": [works_json(e, finder) for e in works[:MAX_EVENTS]],
    }


def road_answer(store: Any, network: Any, road: str, now: float, version: int,
                stale_s: float = 900) -> dict[str, Any]:
    """``road_status`` from the Store's current snapshot, dispatch's open incidents and the
    live roadworks at ``now``; ``version`` is the data version the caller read (and keys
    its cache by)."""
    snapshot = store.congestion_snapshot(stale_s, now=now)
    incidents = open_incidents(store.r, store.keys)
    works = live_works(store, now)
    return {"version": version, "as_of": _iso(now),
            **road_status(network, road, snapshot, incidents, works)}
