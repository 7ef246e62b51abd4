"""Roadworks as one item per works, read side: the construction events of every feed
(Waze CONSTRUCTION alerts, WZDx work zones …) that describe the same works are grouped
into one ``WorksItem`` that lists its sources.

Two construction events are the same works when all of these hold:
- the same road: they share a segment, or a road name (compared by ``name_key``), or one
  of them names no road at all;
- nearby geometry: their lines (or points) come within ``near_m`` metres (default 100 m);
- overlapping time: [start, end] intervals overlap (start = ``starts_at`` or the time
  observed; no end = open-ended).
Groups are the connected components of that relation.

An item is ``planned`` when its earliest start lies after ``now`` (a WZDx job that starts
in two days), else ``active``. Only active items count as active roadworks and are drawn
on the wall; planned ones are listed as planned (API, public query, holiday advisory).
Nothing is written: this is a view over the live events.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from dashboard.model import RoadEvent
from dashboard.roads.network import name_key

DEFAULT_NEAR_M = 100.0
M_PER_DEG_LAT = 111_320.0
ACTIVE, PLANNED = "active", "planned"


@dataclass(frozen=True)
class WorksItem:
    """One roadworks: its events (the representative first), schedule and status."""

    events: tuple[RoadEvent, ...]
    starts_at: datetime
    ends_at: datetime | None
    status: str                      # ACTIVE or PLANNED

    @property
    def event(self) -> RoadEvent:
        """The representative event: the one with the fullest description."""
        return self.events[0]

    @property
    def id(self) -> str:
        return self.event.id

    @property
    def event_ids(self) -> list[str]:
        return [e.id for e in self.events]

    @property
    def sources(self) -> list[dict[str, Any]]:
        """``[{"feed": name, "count": n}]`` by feed name."""
        counts: dict[str, int] = {}
        for e in self.events:
            counts[e.source] = counts.get(e.source, 0) + 1
        return [{"feed": f, "count": n} for f, n in sorted(counts.items())]

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE


# -- the relation ------------------------------------------------------------------------
def _start(ev: RoadEvent) -> float:
    return (ev.starts_at or ev.observed_at).timestamp()


def _end(ev: RoadEvent) -> float:
    return ev.ends_at.timestamp() if ev.ends_at else math.inf


def _same_road(a: RoadEvent, b: RoadEvent) -> bool:
    if a.segment_id and a.segment_id == b.segment_id:
        return True
    names_a = {name_key(n) for n in a.road_names if n}
    names_b = {name_key(n) for n in b.road_names if n}
    return not names_a or not names_b or bool(names_a & names_b)


def _points(ev: RoadEvent) -> list[tuple[float, float]]:
    return [tuple(p) for p in ev.line] if len(ev.line) >= 2 else [(ev.lon, ev.lat)]


def _point_segment_m(p, a, b, kx: float) -> float:
    """Distance in metres from p to the segment a-b (local equirectangular metres)."""
    px, py = p[0] * kx, p[1] * M_PER_DEG_LAT
    ax, ay = a[0] * kx, a[1] * M_PER_DEG_LAT
    bx, by = b[0] * kx, b[1] * M_PER_DEG_LAT
    dx, dy = bx - ax, by - ay
    seg2 = dx * dx + dy * dy
    t = 0.0 if seg2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / seg2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _pieces(pts: list[tuple[float, float]]) -> list[tuple[tuple, tuple]]:
    return list(zip(pts[:-1], pts[1:])) if len(pts) >= 2 else [(pts[0], pts[0])]


def geometry_gap_m(a: RoadEvent, b: RoadEvent) -> float:
    """The shortest distance in metres between two events' lines (or points)."""
    pa, pb = _points(a), _points(b)
    kx = M_PER_DEG_LAT * math.cos(math.radians((a.lat + b.lat) / 2))
    best = math.inf
    for p in pa:
        for s, e in _pieces(pb):
            best = min(best, _point_segment_m(p, s, e, kx))
    for p in pb:
        for s, e in _pieces(pa):
            best = min(best, _point_segment_m(p, s, e, kx))
    return best


def _boxes_apart(a: RoadEvent, b: RoadEvent, near_m: float) -> bool:
    """A cheap test that rules out far-apart pairs before measuring."""
    pa, pb = _points(a), _points(b)
    margin_lat = near_m / M_PER_DEG_LAT
    margin_lon = near_m / (M_PER_DEG_LAT * max(0.1, math.cos(math.radians(a.lat))))
    return (max(x for x, _ in pa) + margin_lon < min(x for x, _ in pb)
            or max(x for x, _ in pb) + margin_lon < min(x for x, _ in pa)
            or max(y for _, y in pa) + margin_lat < min(y for _, y in pb)
            or max(y for _, y in pb) + margin_lat < min(y for _, y in pa))


def same_works(a: RoadEvent, b: RoadEvent, near_m: float = DEFAULT_NEAR_M) -> bool:
    """Whether two construction events describe the same works (see the module text)."""
    if _start(a) > _end(b) or _start(b) > _end(a):
        return False
    if not _same_road(a, b) or _boxes_apart(a, b, near_m):
        return False
    return geometry_gap_m(a, b) <= near_m


# -- grouping -----------------------------------------------------------------------------
def _representative_order(ev: RoadEvent) -> tuple:
    """The fullest description first: a schedule, cross streets, a line, then oldest."""
    a = ev.attrs or {}
    return (ev.ends_at is None, not (a.get("beginning_cross_street")
                                     or a.get("ending_cross_street")),
            len(ev.line) < 2, _start(ev), ev.id)


def group_works(events: Iterable[RoadEvent], now: float,
                near_m: float = DEFAULT_NEAR_M) -> list[WorksItem]:
    """Construction events → one item per works, active ones first, then by start."""
    evs = sorted((e for e in events if e.kind == "construction" and e.status == "active"),
                 key=lambda e: e.id)
    parent = list(range(len(evs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for i in range(len(evs)):
        for j in range(i + 1, len(evs)):
            if root(i) != root(j) and same_works(evs[i], evs[j], near_m):
                parent[root(j)] = root(i)
    groups: dict[int, list[RoadEvent]] = {}
    for i, ev in enumerate(evs):
        groups.setdefault(root(i), []).append(ev)
    items = []
    for members in groups.values():
        members.sort(key=_representative_order)
        start = min(_start(e) for e in members)
        rep = members[0]
        ends = [_end(e) for e in members]
        end = rep.ends_at.timestamp() if rep.ends_at else max(ends)
        items.append(WorksItem(
            events=tuple(members),
            starts_at=datetime.fromtimestamp(start, timezone.utc),
            ends_at=datetime.fromtimestamp(end, timezone.utc) if math.isfinite(end) else None,
            status=PLANNED if start > now else ACTIVE))
    items.sort(key=lambda w: (not w.is_active, w.starts_at, w.id))
    return items


def live_works(store: Any, now: float, near_m: float = DEFAULT_NEAR_M) -> list[WorksItem]:
    """The live construction events of the Store, grouped (``group_works``)."""
    return group_works(store.active_events("construction", now=now), now, near_m)


def split(items: Sequence[WorksItem]) -> tuple[list[WorksItem], list[WorksItem]]:
    """(active, planned)."""
    return [w for w in items if w.is_active], [w for w in items if not w.is_active]
