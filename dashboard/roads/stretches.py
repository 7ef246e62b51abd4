"""Stretches of a road between named cross streets: ``东岳大街(青年路—迎胜路)``.

``StretchFinder`` turns congested segments (or a works line) into stretches of one road,
bounded by the named cross streets at their ends, in the network's order along the road
(west→east, south→north; ``geo.main_axis``). The 路况播报 bulletin and the public road
query both cut roads this way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from dashboard.roads.geo import main_axis

CROSS_TOLERANCE_M = 30.0     # a cross street this close to a stretch end bounds it
MERGE_GAP_M = 60.0           # congested segments closer than this form one stretch


@dataclass(frozen=True)
class Stretch:
    """A congested part of one road between two named cross streets."""

    road: str
    level: int
    start_cross: str = ""
    end_cross: str = ""
    length_m: float = 0.0
    segment_ids: tuple[str, ...] = ()
    side: str = ""            # 以西/以东/以南/以北 when only one end has a cross street

    @property
    def label(self) -> str:
        a, b = self.start_cross, self.end_cross
        if a and b and a != b:
            return f"{self.road}({a}—{b})"
        if a or b:
            if self.side:
                return f"{self.road}({a or b}{self.side})"
            return f"{self.road}与{a or b}路口附近"
        return self.road


def _local_xy(lon: float, lat: float, lat0: float) -> tuple[float, float]:
    """Metres in a local equirectangular frame (ordering within a city only)."""
    return (lon * 111_320.0 * math.cos(math.radians(lat0)), lat * 110_540.0)


@dataclass
class _RoadFrame:
    """Positions along one road: its axis, and where each named cross street is."""

    origin: tuple[float, float]
    axis: tuple[float, float]
    lat0: float
    crossings: list[tuple[float, str]] = field(default_factory=list)

    @property
    def sides(self) -> tuple[str, str]:
        """Words for "before the first / after the last cross street" along the axis."""
        return ("以西", "以东") if abs(self.axis[0]) >= abs(self.axis[1]) else ("以南", "以北")

    def pos(self, lon: float, lat: float) -> float:
        x, y = _local_xy(lon, lat, self.lat0)
        return (x - self.origin[0]) * self.axis[0] + (y - self.origin[1]) * self.axis[1]


class StretchFinder:
    """Turns congested segments or a works line into stretches between cross streets,
    using the network's geometry and its ``intersection()``."""

    def __init__(self, network: Any):
        self.network = network
        self._frames: dict[str, _RoadFrame | None] = {}
        segs = network.segments
        self._road_of = segs["road_name"].fillna("").astype(str).to_dict()
        self._length = segs["length_m"].to_dict() if "length_m" in segs else {}

    def frame(self, road: str) -> _RoadFrame | None:
        if road not in self._frames:
            self._frames[road] = self._build_frame(road)
        return self._frames[road]

    def _build_frame(self, road: str) -> _RoadFrame | None:
        ids = self.network.segments_of(road)
        if not ids:
            return None
        segs = self.network.segments
        geoms = segs.loc[ids].geometry
        coords = [c for g in geoms for c in g.coords]
        lat0 = sum(c[1] for c in coords) / len(coords)
        pts = np.array([_local_xy(c[0], c[1], lat0) for c in coords])
        centre = pts.mean(axis=0)
        ax = main_axis(pts)
        frame = _RoadFrame((float(centre[0]), float(centre[1])), (float(ax[0]), float(ax[1])),
                           lat0)
        # cross streets: named roads whose segments come near this road
        union = geoms.union_all() if hasattr(geoms, "union_all") else geoms.unary_union
        near = segs.sindex.query(union.buffer(0.0005), predicate="intersects")
        names = sorted({self._road_of.get(str(segs.index[i]), "") for i in near} - {"", road})
        for other in names:
            p = self.network.intersection(road, other)
            if p is not None:
                frame.crossings.append((frame.pos(*p), other))
        frame.crossings.sort()
        return frame

    def _span(self, frame: _RoadFrame, coords: Sequence[Sequence[float]]) -> tuple[float, float]:
        ps = [frame.pos(c[0], c[1]) for c in coords]
        return min(ps), max(ps)

    def bounds(self, road: str, lo: float, hi: float) -> tuple[str, str, str]:
        """(cross street before, cross street after, side word) for a span [lo, hi] along
        ``road``; the side word is set when only one end has a cross street."""
        frame = self.frame(road)
        if frame is None:
            return "", "", ""
        before = [(p, n) for p, n in frame.crossings if p <= lo + CROSS_TOLERANCE_M]
        after = [(p, n) for p, n in frame.crossings if p >= hi - CROSS_TOLERANCE_M]
        a = before[-1][1] if before else ""
        b = after[0][1] if after else ""
        side = ""
        if a and not b:
            side = frame.sides[1]
        elif b and not a:
            side = frame.sides[0]
        return a, b, side

    def stretches(self, snapshot: dict[str, dict[str, Any]], min_level: int = 2) -> list[Stretch]:
        """Congested segments (level ≥ ``min_level``) grouped by road into stretches of one
        level each; adjacent segments of the same level join into one stretch."""
        by_road: dict[str, list[tuple[float, float, int, str]]] = {}
        segs = self.network.segments
        for sid, obs in snapshot.items():
            level = int(obs.get("level") or 0)
            road = self._road_of.get(sid, "")
            if level < min_level or not road or sid not in segs.index:
                continue
            frame = self.frame(road)
            if frame is None:
                continue
            lo, hi = self._span(frame, list(segs.at[sid, "geometry"].coords))
            by_road.setdefault(road, []).append((lo, hi, level, sid))
        out: list[Stretch] = []
        for road, spans in sorted(by_road.items()):
            spans.sort()
            run: list[tuple[float, float, int, str]] = []
            for span in spans + [(math.inf, math.inf, -1, "")]:
                if run and (span[2] != run[-1][2] or span[0] > max(s[1] for s in run)
                            + MERGE_GAP_M):
                    lo, hi = run[0][0], max(s[1] for s in run)
                    a, b, side = self.bounds(road, lo, hi)
                    ids = tuple(s[3] for s in run)
                    length = round(sum(float(self._length.get(i, 0.0)) for i in ids), 1)
                    out.append(Stretch(road, run[0][2], a, b, length, ids, side))
                    run = []
                run.append(span)
        return out

    def line_stretch(self, road: str, line: Sequence[Sequence[float]]) -> str:
        """``road(A—B)`` for a works/closure line along ``road``; the road alone if unknown."""
        frame = self.frame(road)
        if frame is None or len(line) < 2:
            return road
        lo, hi = self._span(frame, line)
        a, b, side = self.bounds(road, lo, hi)
        return Stretch(road, 0, a, b, side=side).label
