"""The road network as a plain graph, for along-road distance estimates.

Nodes sit at every vertex of the network's segments (densified to ~100 m), the segments
noded at every crossing; edges are weighted by great-circle metres. One-way rules and
turn bans are ignored, so a distance is an estimate (dispatch uses it to re-rank the
nearest free units).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from dashboard.roads.geo import haversine_m
from dashboard.storage.cache import ProcessCache

MAX_SNAP_M = 1500.0      # a point further than this from every road gets no road estimate


@dataclass
class RoadGraph:
    """A plain adjacency graph of the road network for shortest-path estimates."""

    lons: list[float]
    lats: list[float]
    adj: list[list[tuple[int, float]]] = field(repr=False)

    @classmethod
    def from_lines(cls, lines: Iterable[Sequence[tuple[float, float]]],
                   step_m: float = 100.0) -> "RoadGraph":
        """Nodes at every vertex (lines densified to ``step_m``), joined where coordinates
        coincide to ~0.1 m; lines must already be split at their crossings."""
        index: dict[tuple[int, int], int] = {}
        lons: list[float] = []
        lats: list[float] = []
        adj: list[list[tuple[int, float]]] = []

        def node(x: float, y: float) -> int:
            k = (round(x * 1e6), round(y * 1e6))
            i = index.get(k)
            if i is None:
                i = index[k] = len(lons)
                lons.append(x)
                lats.append(y)
                adj.append([])
            return i

        for line in lines:
            pts = list(line)
            for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                d = haversine_m(x0, y0, x1, y1)
                n = max(1, int(d // step_m))
                prev = node(x0, y0)
                for j in range(1, n + 1):
                    f = j / n
                    cur = node(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)
                    if cur != prev:
                        w = d / n
                        adj[prev].append((cur, w))
                        adj[cur].append((prev, w))
                    prev = cur
        return cls(lons, lats, adj)

    def nearest_node(self, lon: float, lat: float) -> tuple[int, float]:
        """(node, metres) of the node nearest a point (equirectangular scan)."""
        k = math.cos(math.radians(lat))
        best, best_d2 = -1, math.inf
        for i, (x, y) in enumerate(zip(self.lons, self.lats)):
            d2 = ((x - lon) * k) ** 2 + (y - lat) ** 2
            if d2 < best_d2:
                best, best_d2 = i, d2
        if best < 0:
            return -1, math.inf
        return best, haversine_m(lon, lat, self.lons[best], self.lats[best])

    def distances_from(self, source: int, limit_m: float) -> dict[int, float]:
        """Dijkstra from ``source`` up to ``limit_m``."""
        dist = {source: 0.0}
        heap = [(0.0, source)]
        while heap:
            d, n = heapq.heappop(heap)
            if d > dist.get(n, math.inf) or d > limit_m:
                continue
            for m, w in self.adj[n]:
                nd = d + w
                if nd < dist.get(m, math.inf):
                    dist[m] = nd
                    heapq.heappush(heap, (nd, m))
        return dist

    def road_distances(self, lon: float, lat: float,
                       targets: Sequence[tuple[float | None, float | None, float]]
                       ) -> list[float | None]:
        """Along-road metres from (lon, lat) to each target ``(lon, lat, straight-line
        metres)``, never less than the straight line; None for a target without a position
        or that the network does not connect to the point."""
        out: list[float | None] = [None] * len(targets)
        if not self.lons or not targets:
            return out
        src, snap = self.nearest_node(lon, lat)
        if snap > MAX_SNAP_M:
            return out
        limit = max(straight for _, _, straight in targets) * 4 + 2 * MAX_SNAP_M
        dist = self.distances_from(src, limit)
        for i, (t_lon, t_lat, straight) in enumerate(targets):
            if t_lon is None or t_lat is None:
                continue
            n, s = self.nearest_node(t_lon, t_lat)
            if s > MAX_SNAP_M or n not in dist:
                continue
            out[i] = max(straight, snap + dist[n] + s)
        return out


_graphs: ProcessCache[RoadGraph | None] = ProcessCache(1)   # one network at a time


def road_graph(network: Any) -> RoadGraph | None:
    """The shortest-path graph of ``network`` (built once per network object), or None
    when the network has no usable segments."""
    return _graphs.get_for(network, lambda: _build_graph(network))


def _build_graph(network: Any) -> RoadGraph | None:
    graph = None
    try:
        segments = getattr(network, "segments", None)
        if segments is not None and len(segments):
            import shapely

            geoms = [g for g in segments.geometry if g is not None and not g.is_empty]
            noded = shapely.union_all(geoms)  # splits the lines at every crossing
            parts = getattr(noded, "geoms", [noded])
            graph = RoadGraph.from_lines([list(p.coords) for p in parts
                                          if p.geom_type == "LineString"])
    except Exception:  # noqa: BLE001 - no estimate is better than no answer
        graph = None
    return graph
