"""The wall's MapLibre map (setting ``wall_map = "maplibre"``): geometry once, then levels.

The road geometry is one GeoJSON document per network (``network_geojson``), fetched by the
browser once from a versioned, cacheable URL (``dashboard/web/network_geojson.py``). Each
feature's numeric ``id`` is its segment's index in ``NetGeom.ids`` plus one; the browser
colours a segment with ``setFeatureState`` and never re-draws its geometry.

Levels travel as a *level vector*: one character per segment in ``NetGeom.ids`` order,
``"0"``–``"4"`` or ``"-"`` (no reading). A page that holds the vector of an earlier data tag
gets only the segments that changed since (``level_delta``); a page without one, or too far
behind, gets the whole vector (a few bytes per segment).
"""
from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any, Sequence

from dashboard.congestion import LEVEL_COLOURS
from dashboard.live.wall import (CLEARED_COLOUR, INCIDENT_COLOUR, LEVELS, REPORT_COLOUR,
                                 ROADWORKS_COLOUR, NetGeom)
from dashboard.roads import basemap
from dashboard.storage.cache import ProcessCache

NO_LEVEL = "-"
GEOJSON_PATH = "/api/v1/network.geojson"
# a delta larger than this share of the network is sent as the whole vector instead
FULL_SHARE = 0.125
LEVEL_WIDTHS = {0: 2.5, 1: 3.5, 2: 4.5, 3: 5.5, 4: 6.5}   # px at scale 1 (as the plotly map)


# -- geometry --------------------------------------------------------------------------------
def segment_ranks(network, geom: NetGeom) -> list[int]:
    """The drawing rank (``basemap.road_rank``) of each segment, in ``geom.ids`` order."""
    segs = network.segments
    if "road_class" not in segs:
        return [0] * len(geom.ids)
    by_id = {str(k): basemap.road_rank(v) for k, v in segs["road_class"].items()}
    return [by_id.get(sid, 0) for sid in geom.ids]


def network_geojson(network, geom: NetGeom) -> dict[str, Any]:
    """Every segment as a Feature with a numeric ``id`` (index in ``geom.ids`` + 1) and one
    property ``r`` (rank); coordinates rounded as in ``NetGeom`` (5 decimals, ~1 m)."""
    feats = []
    for i, (xs, ys, rank) in enumerate(zip(geom.lons, geom.lats,
                                           segment_ranks(network, geom))):
        parts: list[list[list[float]]] = [[]]
        for x, y in zip(xs, ys):
            if x is None:
                parts.append([])
            else:
                parts[-1].append([x, y])
        parts = [p for p in parts if len(p) >= 2]
        if not parts:
            continue
        g = ({"type": "LineString", "coordinates": parts[0]} if len(parts) == 1 else
             {"type": "MultiLineString", "coordinates": parts})
        feats.append({"type": "Feature", "id": i + 1, "properties": {"r": rank},
                      "geometry": g})
    return {"type": "FeatureCollection", "features": feats}


_bodies: ProcessCache[tuple[bytes, bytes]] = ProcessCache(2)


def network_geojson_bytes(network, geom: NetGeom) -> tuple[bytes, bytes]:
    """(plain, gzip) bytes of ``network_geojson``, built once per network in this process."""
    def build() -> tuple[bytes, bytes]:
        plain = json.dumps(network_geojson(network, geom), separators=(",", ":"),
                           allow_nan=False).encode()
        return plain, gzip.compress(plain, compresslevel=6, mtime=0)
    return _bodies.get(geom.key, build)


def warm(get_network) -> None:
    """Build what the wall's first load needs from the network (the network itself, its
    plain geometry, the GeoJSON body) in this process now, before a wall asks: at 100,000
    segments that is 5-7 s of a web worker's time that would otherwise land on the first
    wall's first request to each worker. ``get_network()`` returns the active network; no
    network (none imported yet) is not an error here."""
    from dashboard.live.wall import net_geom

    try:
        network = get_network()
    except Exception:  # noqa: BLE001 - no network file yet: nothing to warm
        return
    network_geojson_bytes(network, net_geom(network))


# -- levels ----------------------------------------------------------------------------------
def level_vector(geom: NetGeom, levels: dict[str, int]) -> str:
    """One character per segment of ``geom.ids``: its level, or ``NO_LEVEL``."""
    return "".join(str(levels[sid]) if levels.get(sid) in LEVELS else NO_LEVEL
                   for sid in geom.ids)


def vector_digest(vector: str) -> str:
    return hashlib.sha1(vector.encode()).hexdigest()[:12]


def level_delta(old: str, new: str) -> list[int] | None:
    """``[index, level, index, level, …]`` of the segments whose level differs between two
    vectors of one network (level -1: no reading any more); None when they are of different
    networks or the delta would be larger than sending ``new`` whole."""
    if len(old) != len(new):
        return None
    out: list[int] = []
    limit = max(16, int(len(new) * FULL_SHARE)) * 2
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            out += [i, -1 if b == NO_LEVEL else int(b)]
            if len(out) > limit:
                return None
    return out


def levels_message(netkey: str, tag: str, new: str, old: str | None,
                   old_tag: str | None) -> dict[str, Any]:
    """What the page is sent about levels: ``{"k": network, "t": tag, "full": vector}`` or
    ``{"k", "t", "base": old_tag, "d": delta}`` (applied only by a page holding ``base``)."""
    if old is not None and old_tag is not None:
        delta = level_delta(old, new)
        if delta is not None:
            return {"k": netkey, "t": tag, "base": old_tag, "d": delta}
    return {"k": netkey, "t": tag, "full": new}


# -- markers ----------------------------------------------------------------------------------
def _points(kind: str, m: dict[str, list], factor: float = 1.0) -> list[dict[str, Any]]:
    return [{"type": "Feature", "properties": {"k": kind, "s": round(s * factor / 2, 1)},
             "geometry": {"type": "Point", "coordinates": [x, y]}}
            for x, y, s in zip(m["lon"], m["lat"], m["size"])]


def markers_geojson(markers: dict[str, Any]) -> dict[str, Any]:
    """``wall.marker_data`` as one FeatureCollection: property ``k`` is the kind (``rwl``
    roadworks line, ``rw`` roadworks, ``rep`` report cluster, ``clr`` cleared incident,
    ``halo`` and ``inc`` incident), ``s`` the circle radius in px."""
    feats: list[dict[str, Any]] = []
    line: list[list[float]] = []
    lines = markers["roadworks_lines"]
    for x, y in zip(lines["lon"], lines["lat"]):
        if x is None:
            if len(line) >= 2:
                feats.append({"type": "Feature", "properties": {"k": "rwl", "s": 0},
                              "geometry": {"type": "LineString", "coordinates": line}})
            line = []
        else:
            line.append([x, y])
    if len(line) >= 2:
        feats.append({"type": "Feature", "properties": {"k": "rwl", "s": 0},
                      "geometry": {"type": "LineString", "coordinates": line}})
    cleared = markers.get("cleared") or {"lon": [], "lat": [], "size": []}
    feats += _points("rw", markers["roadworks"])
    feats += _points("rep", markers["reports"])
    feats += _points("clr", cleared)
    feats += _points("halo", markers["incidents"], 1.9)
    feats += _points("inc", markers["incidents"])
    return {"type": "FeatureCollection", "features": feats}


# -- the map's setup ---------------------------------------------------------------------------
def map_style(network, geom: NetGeom | None, geojson_url: str | None,
              scale: float = 1.0) -> dict[str, Any]:
    """The MapLibre style: background, district fills and outlines (inline, small), the
    road network from ``geojson_url`` (grey by rank; coloured by the feature state ``l``,
    the level, on top), the marker layers. No glyphs, no sprite, no tiles."""
    districts = basemap.districts_geojson(network) if network is not None else \
        {"type": "FeatureCollection", "features": []}
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background",
         "paint": {"background-color": basemap.BACKGROUND}}]
    if network is not None:
        layers += basemap.district_layers(scale)
    sources: dict[str, Any] = {"districts": {"type": "geojson", "data": districts},
                               "markers": {"type": "geojson", "data": {
                                   "type": "FeatureCollection", "features": []}}}
    if geom is not None and geojson_url:
        sources["net"] = {"type": "geojson", "data": geojson_url, "buffer": 32,
                          "tolerance": 0.5}
        rank = ["get", "r"]
        colour: list[Any] = ["match", rank]
        for r in (3, 2, 1):
            colour += [r, basemap.ROAD_COLOURS[r]]
        colour.append(basemap.ROAD_COLOURS[0])

        def by_rank(factor: float) -> list[Any]:
            expr: list[Any] = ["match", rank]
            for r in (3, 2, 1):
                expr += [r, round(basemap.ROAD_WIDTHS[r] * factor * scale, 2)]
            expr.append(round(basemap.ROAD_WIDTHS[0] * factor * scale, 2))
            return expr
        # One line layer draws every segment once: grey by rank without a reading, in its
        # level's colour and width with one (the feature state ``l``). One layer, butt caps
        # and miter joins tessellate the network once and with the fewest triangles: at
        # 25,000 segments the map's first load is the cost of building its line buckets.
        state = ["coalesce", ["feature-state", "l"], -1]
        has_level = [">=", state, 0]
        lcolour: list[Any] = ["match", state]
        lwidth: list[Any] = ["match", state]
        for lvl in LEVELS:
            lcolour += [lvl, LEVEL_COLOURS[lvl]]
            lwidth += [lvl, LEVEL_WIDTHS[lvl] * scale]
        lcolour.append(colour)
        lwidth.append(0)

        def width(factor: float) -> list[Any]:
            return ["case", has_level, lwidth, by_rank(factor)]
        layers.append({"id": "levels", "type": "line", "source": "net",
                       "layout": {"line-cap": "butt", "line-join": "miter"},
                       "paint": {"line-color": lcolour,
                                 "line-width": ["interpolate", ["linear"], ["zoom"],
                                                9, width(0.6), 13, width(1.6),
                                                16, width(3.0)]}})
    kind = ["get", "k"]
    layers += [
        {"id": "roadworks-lines", "type": "line", "source": "markers",
         "filter": ["==", kind, "rwl"],
         "paint": {"line-color": ROADWORKS_COLOUR, "line-width": 6 * scale}},
        _circles("roadworks", "rw", ROADWORKS_COLOUR, 1.0),
        _circles("reports", "rep", REPORT_COLOUR, 0.75),
        _circles("cleared", "clr", CLEARED_COLOUR, 0.8),
        _circles("incident-halo", "halo", INCIDENT_COLOUR, 0.3),
        _circles("incidents", "inc", INCIDENT_COLOUR, 1.0),
    ]
    return {"version": 8, "name": "lukuang-wall", "sources": sources, "layers": layers}


def _circles(layer_id: str, kind: str, colour: str, opacity: float) -> dict[str, Any]:
    return {"id": layer_id, "type": "circle", "source": "markers",
            "filter": ["==", ["get", "k"], kind],
            "paint": {"circle-color": colour, "circle-radius": ["get", "s"],
                      "circle-opacity": opacity}}


def labels(road_labels: Sequence[dict[str, Any]], district_labels: Sequence[dict[str, Any]],
           scale: float = 1.0) -> list[dict[str, Any]]:
    """Map labels as plain values (drawn by the browser as text, never as HTML): ``c`` is
    the class (road or district), ``px`` the font size."""
    out = [{"n": lb["name"], "lon": lb["lon"], "lat": lb["lat"], "c": "district",
            "px": round(22 * scale, 1)} for lb in district_labels]
    out += [{"n": lb["name"], "lon": lb["lon"], "lat": lb["lat"], "c": "road",
             "px": round(18 * scale, 1)} for lb in road_labels]
    return out

