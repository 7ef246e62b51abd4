"""Stretches of a road between named cross streets: ``东岳大街(青年路—迎胜路)``.

``StretchFinder`` turns congested segments (or a works line) into stretches of one road,
bounded by the named cross streets at their ends, in the network's order along the road
(west→east, south→north; ``geo.main_axis``). The 路况播报 bulletin and the public road
query both cut roads this way.

A dual carriageway (two parallel ways of one road, often one-way in opposite directions)
is one road here: segments of the road that run side by side within ``CARRIAGEWAY_M`` of
each other are cut together at every segment end, each cut takes the worst level of the
carriageways there, and its length is theirs averaged (the road's length, not twice it).
So the public query lists one stretch after another instead of both carriageways'
stretches interleaved with alternating levels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import shapely
from shapely import LineString, STRtree

from dashboard.roads.geo import main_axis

CROSS_TOLERANCE_M = 30.0     # a cross street this close to a stretch end bounds it
MERGE_GAP_M = 60.0           # congested segments closer than this form one stretch
CARRIAGEWAY_M = 80.0         # segments of one road side by side within this: carriageways
CARRIAGEWAY_OVERLAP_M = 20.0  # ... when they run alongside each other for at least this
CARRIAGEWAY_SAMPLE_M = 10.0  # how finely "side by side" is checked along the overlap
SLIVER_M = 40.0              # a cut shorter than this between carriageway ends takes the
                             # worse level of its neighbours


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


_Piece = tuple[float, float, int, tuple[str, ...], float]  # lo, hi, level, segment ids, length


def _cut_together(members: list[tuple[float, float, int, str]],
                  length: dict[str, float]) -> list[_Piece]:
    """Carriageways side by side, cut at every segment end: each cut has the worst level of
    the segments over it and their mean length there; neighbouring cuts of one level join,
    and a sliver between two cuts takes the worse of its neighbours' levels."""
    points = sorted({m[0] for m in members} | {m[1] for m in members})
    cuts: list[list[Any]] = []          # [lo, hi, level, length]
    for a, b in zip(points, points[1:]):
        if b - a <= 1e-6:
            continue
        cover = [m for m in members if m[0] <= a + 1e-6 and m[1] >= b - 1e-6]
        if not cover:
            continue
        share = [length[m[3]] * (b - a) / (m[1] - m[0]) if m[1] > m[0] else length[m[3]]
                 for m in cover]
        cuts.append([a, b, max(m[2] for m in cover), sum(share) / len(share)])

    def join(cs: list[list[Any]]) -> list[list[Any]]:
        out: list[list[Any]] = []
        for c in cs:
            if out and out[-1][2] == c[2] and abs(out[-1][1] - c[0]) <= 1e-6:
                out[-1] = [out[-1][0], c[1], c[2], out[-1][3] + c[3]]
            else:
                out.append(list(c))
        return out
    cuts = join(cuts)
    if not cuts:
        return [(m[0], m[1], m[2], (m[3],), length[m[3]]) for m in members]
    for k, c in enumerate(cuts):
        if c[1] - c[0] >= SLIVER_M:
            continue
        near = [n[2] for n in (cuts[k - 1] if k else None,
                               cuts[k + 1] if k + 1 < len(cuts) else None)
                if n is not None and (abs(n[1] - c[0]) <= 1e-6 or abs(n[0] - c[1]) <= 1e-6)]
        if near and max(near) > c[2]:
            c[2] = max(near)
    cuts = join(cuts)
    # each segment goes with the cut it overlaps most (a cut left without one takes its
    # largest overlap), so no segment is listed twice
    def overlap(m: tuple[float, float, int, str], c: list[Any]) -> float:
        return min(m[1], c[1]) - max(m[0], c[0])
    home = {m[3]: max(range(len(cuts)), key=lambda k: (overlap(m, cuts[k]), cuts[k][2]))
            for m in members}
    out: list[_Piece] = []
    for k, c in enumerate(cuts):
        ids = [m[3] for m in sorted(members) if home[m[3]] == k]
        if not ids:
            ids = [max(members, key=lambda m: overlap(m, c))[3]]
        out.append((c[0], c[1], c[2], tuple(ids), c[3]))
    return out


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
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    partners: dict[str, set[str]] = field(default_factory=dict)   # the other carriageway

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
        scale = np.array([111_320.0 * math.cos(math.radians(lat0)), 110_540.0])   # _local_xy
        local = list(shapely.transform(np.asarray(geoms.values, dtype=object),
                                       lambda xy: xy * scale))
        for sid, line in zip(ids, local):
            frame.spans[str(sid)] = self._local_span(frame, line)
        frame.partners = self._side_by_side([str(i) for i in ids], local, frame)
        return frame

    @staticmethod
    def _local_span(frame: _RoadFrame, line: LineString) -> tuple[float, float]:
        xy = np.asarray(line.coords)
        ps = (xy[:, 0] - frame.origin[0]) * frame.axis[0] + \
            (xy[:, 1] - frame.origin[1]) * frame.axis[1]
        return float(ps.min()), float(ps.max())

    def _side_by_side(self, ids: list[str], local: list[LineString],
                      frame: _RoadFrame) -> dict[str, set[str]]:
        """Pairs of the road's segments that run alongside each other (the two carriageways
        of a dual carriageway): they overlap along the axis by ``CARRIAGEWAY_OVERLAP_M`` (or
        half the shorter one) and the shorter one stays within ``CARRIAGEWAY_M`` of the other
        all along the overlap."""
        partners: dict[str, set[str]] = {}
        if len(ids) < 2:
            return partners
        tree = STRtree(np.asarray(local, dtype=object))
        left, right = tree.query(np.asarray(local, dtype=object), predicate="dwithin",
                                 distance=CARRIAGEWAY_M)
        for i, j in zip(left.tolist(), right.tolist()):
            if i >= j:
                continue
            (lo_a, hi_a), (lo_b, hi_b) = frame.spans[ids[i]], frame.spans[ids[j]]
            lo, hi = max(lo_a, lo_b), min(hi_a, hi_b)
            shorter = min(hi_a - lo_a, hi_b - lo_b)
            if hi - lo <= 0 or hi - lo < min(CARRIAGEWAY_OVERLAP_M, 0.5 * shorter):
                continue
            near, far = (i, j) if hi_a - lo_a <= hi_b - lo_b else (j, i)
            if self._alongside(local[near], local[far], frame, lo, hi):
                partners.setdefault(ids[i], set()).add(ids[j])
                partners.setdefault(ids[j], set()).add(ids[i])
        return partners

    @staticmethod
    def _alongside(line: LineString, other: LineString, frame: _RoadFrame,
                   lo: float, hi: float) -> bool:
        n = max(2, int(line.length // CARRIAGEWAY_SAMPLE_M) + 1)
        pts = shapely.line_interpolate_point(line, np.linspace(0.0, 1.0, n), normalized=True)
        xy = shapely.get_coordinates(pts)
        pos = (xy[:, 0] - frame.origin[0]) * frame.axis[0] + \
            (xy[:, 1] - frame.origin[1]) * frame.axis[1]
        inside = pts[(pos >= lo - 1.0) & (pos <= hi + 1.0)]
        return len(inside) > 0 and float(shapely.distance(other, inside).max()) <= CARRIAGEWAY_M

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
        level each; adjacent segments of the same level join into one stretch, and the
        carriageways of a dual carriageway are cut together (module text). Pieces between
        the same two cross streets are one stretch at the worse level."""
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
            span = frame.spans.get(sid)
            if span is None:
                span = self._span(frame, list(segs.at[sid, "geometry"].coords))
            by_road.setdefault(road, []).append((span[0], span[1], level, sid))
        out: list[Stretch] = []
        for road, spans in sorted(by_road.items()):
            pieces = self._pieces(self.frame(road), spans)
            pieces.sort(key=lambda p: (p[0], p[1], p[2], p[3]))
            run: list[_Piece] = []
            for piece in pieces + [(math.inf, math.inf, -1, (), 0.0)]:
                if run and (piece[2] != run[-1][2] or piece[0] > max(p[1] for p in run)
                            + MERGE_GAP_M):
                    lo, hi = run[0][0], max(p[1] for p in run)
                    a, b, side = self.bounds(road, lo, hi)
                    ids = tuple(dict.fromkeys(i for p in run for i in p[3]))
                    length = round(sum(p[4] for p in run), 1)
                    stretch = Stretch(road, run[0][2], a, b, length, ids, side)
                    prev = out[-1] if out else None
                    if (prev is not None and prev.road == road
                            and (prev.start_cross, prev.end_cross, prev.side) == (a, b, side)
                            and self._touch(prev.segment_ids, ids)):
                        # one after the other between the same two cross streets: one
                        # stretch as a reader names it, at the worse level (not two lines
                        # with one name and two levels)
                        out[-1] = Stretch(road, max(prev.level, stretch.level), a, b,
                                          round(prev.length_m + length, 1),
                                          tuple(dict.fromkeys(prev.segment_ids + ids)), side)
                    else:
                        out.append(stretch)
                    run = []
                run.append(piece)
        return out

    def _touch(self, a: Sequence[str], b: Sequence[str], within_deg: float = 5e-5) -> bool:
        """Whether a segment of ``a`` ends where one of ``b`` begins or ends (~5 m)."""
        geoms = self.network.segments.geometry

        def ends(ids: Sequence[str]) -> list[tuple[float, float]]:
            out = []
            for sid in ids:
                c = shapely.get_coordinates(geoms.at[sid]) if sid in geoms.index else []
                out += [tuple(c[0]), tuple(c[-1])] if len(c) else []
            return out
        eb = ends(b)
        return any(abs(x - u) <= within_deg and abs(y - v) <= within_deg
                   for x, y in ends(a) for u, v in eb)

    def _pieces(self, frame: _RoadFrame | None,
                spans: list[tuple[float, float, int, str]]) -> list[_Piece]:
        """(lo, hi, level, segment ids, length) of one road's segments: a segment alone, or
        the carriageways side by side cut together."""
        length = {s[3]: float(self._length.get(s[3], 0.0)) for s in spans}
        partners = frame.partners if frame is not None else {}
        parent = {s[3]: s[3] for s in spans}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x
        for sid in parent:
            for other in partners.get(sid, ()):
                if other in parent:
                    parent[find(sid)] = find(other)
        groups: dict[str, list[tuple[float, float, int, str]]] = {}
        for s in spans:
            groups.setdefault(find(s[3]), []).append(s)
        out: list[_Piece] = []
        for members in groups.values():
            if len(members) == 1:
                lo, hi, level, sid = members[0]
                out.append((lo, hi, level, (sid,), length[sid]))
            else:
                out.extend(_cut_together(members, length))
        return out

    def line_stretch(self, road: str, line: Sequence[Sequence[float]]) -> str:
        """``road(A—B)`` for a works/closure line along ``road``; the road alone if unknown."""
        frame = self.frame(road)
        if frame is None or len(line) < 2:
            return road
        lo, hi = self._span(frame, line)
        a, b, side = self.bounds(road, lo, hi)
        return Stretch(road, 0, a, b, side=side).label
