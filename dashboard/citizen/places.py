"""The places a sticker can be put: intersections of named roads, or the blocks of a road
between its cross streets (``--kind segment``), from the road network."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from dashboard.citizen.stickers import Place
from dashboard.roads.geo import haversine_m

NEAR_DEG = 0.0005          # two roads whose boxes are this close may cross (about 50 m)
CROSS_AT_M = 40.0          # a segment end this near a crossing reaches that cross street


class PlacesError(ValueError):
    """A roads file that names roads the network does not know, or cannot be read."""


def read_roads_file(path: Path, network: Any) -> list[str]:
    """Canonical road names from a UTF-8 text file, one name (or alias) a line; empty lines
    and lines starting with # are skipped. Unknown names are an error that lists them."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PlacesError(f"roads file {path}: {exc}") from None
    wanted, unknown = [], []
    for line in lines:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        canon = network.resolve_road(name)
        if canon is None:
            unknown.append(name)
        elif canon not in wanted:
            wanted.append(canon)
    if unknown:
        raise PlacesError(f"roads file {path}: not roads of the network: "
                          f"{', '.join(unknown[:20])}")
    if not wanted:
        raise PlacesError(f"roads file {path}: no road names in it")
    return wanted


def _boxes(network: Any) -> dict[str, tuple[float, float, float, float]]:
    """Each named road's lon/lat box."""
    segs = network.segments
    b = segs.geometry.bounds
    b["road"] = segs["road_name"].fillna("").astype(str)
    b = b[b["road"] != ""]
    g = b.groupby("road").agg({"minx": "min", "miny": "min", "maxx": "max", "maxy": "max"})
    return {str(n): (float(r.minx), float(r.miny), float(r.maxx), float(r.maxy))
            for n, r in g.iterrows()}


def intersections(network: Any, roads: Iterable[str] | None = None) -> list[Place]:
    """Every intersection of two named roads (one per pair, ``network.intersection``), of
    ``roads`` only when given, sorted by name."""
    boxes = _boxes(network)
    only = set(roads) if roads is not None else None
    names = sorted(boxes)
    out: list[Place] = []
    for i, a in enumerate(names):
        ax0, ay0, ax1, ay1 = boxes[a]
        for b in names[i + 1:]:
            if only is not None and a not in only and b not in only:
                continue
            bx0, by0, bx1, by1 = boxes[b]
            if bx0 > ax1 + NEAR_DEG or bx1 < ax0 - NEAR_DEG or by0 > ay1 + NEAR_DEG \
                    or by1 < ay0 - NEAR_DEG:
                continue
            point = network.intersection(a, b)
            if point is not None:
                out.append(Place("intersection", point[0], point[1], (a, b)))
    return sorted(out, key=lambda p: p.roads)


def segments(network: Any, roads: Iterable[str] | None = None,
             crossings: list[Place] | None = None) -> list[Place]:
    """One place per block of each named road (of ``roads`` when given): walking the road's
    segments in order, a block ends at the segment that reaches the next cross street; it is
    placed at the middle of its middle segment and named ``road（A—B）``."""
    crossings = intersections(network, roads) if crossings is None else crossings
    out: list[Place] = []
    for road in (sorted(set(roads)) if roads is not None else sorted(_boxes(network))):
        crosses = [(p.roads[1] if p.roads[0] == road else p.roads[0], p.lon, p.lat)
                   for p in crossings if road in p.roads]
        passed, block = "", []
        for sid in network.segments_of(road):
            coords = network.segment(sid).get("coords") or []
            if len(coords) < 2:
                continue
            block.append(coords)
            reached = [n for n in (_at(crosses, coords[0]), _at(crosses, coords[-1]))
                       if n and n != passed]
            if reached:
                out.append(_block(road, passed, reached[-1], block))
                passed, block = reached[-1], []
        if block:
            out.append(_block(road, passed, "", block))
    return out


def _block(road: str, start: str, end: str, lines: list) -> Place:
    coords = lines[len(lines) // 2]
    lon, lat = coords[len(coords) // 2]
    return Place("segment", float(lon), float(lat), (road, *[n for n in (start, end) if n]))


def _at(crosses: list[tuple[str, float, float]], point: list[float]) -> str:
    """The cross street whose crossing is within ``CROSS_AT_M`` of ``point``, or ""."""
    best, best_m = "", CROSS_AT_M
    for name, lon, lat in crosses:
        m = haversine_m(point[0], point[1], lon, lat)
        if m < best_m:
            best, best_m = name, m
    return best
