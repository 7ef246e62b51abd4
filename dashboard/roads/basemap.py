"""The offline basemap: a MapLibre style built from the project's own data.

No tile server, no glyph or sprite URL, no external script: the style holds GeoJSON sources
(district outlines and fills, the road network) and nothing that makes the browser fetch.
Road and district labels are not symbol layers of the style (those need a glyph server):
they are plotly ``scattermap`` text traces; with no ``glyphs`` URL in the style MapLibre
draws those characters locally from the browser's own fonts (see ``label points``).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import shapely
from shapely import LineString, MultiLineString
from shapely.ops import linemerge

BACKGROUND = "#0a1220"
DISTRICT_FILLS = ("#101c30", "#121a2c", "#0f1f2a", "#161a30", "#0f1b26", "#14202e")
DISTRICT_LINE = "#3d5475"
ROAD_COLOURS = {3: "#56657c", 2: "#465467", 1: "#36424f", 0: "#2a333e"}
ROAD_WIDTHS = {3: 3.0, 2: 2.4, 1: 1.6, 0: 1.0}
# road_class values seen in the project's data and in OSM imports -> drawing rank
CLASS_RANK = {"expressway": 3, "motorway": 3, "trunk": 3, "arterial": 2, "primary": 2,
              "secondary": 1, "tertiary": 0, "local": 0, "residential": 0}
MAIN_RANK = 2   # ranks at or above this get a name label
DIGITS = 5


def road_rank(road_class: Any) -> int:
    return CLASS_RANK.get(str(road_class or "").lower().removesuffix("_link"), 0)


def _round_coords(coords) -> list[list[float]]:
    return [[round(float(x), DIGITS), round(float(y), DIGITS)] for x, y, *_ in coords]


def _geojson_geometry(geom) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    t = geom.geom_type
    if t == "LineString":
        return {"type": "LineString", "coordinates": _round_coords(geom.coords)}
    if t == "MultiLineString":
        return {"type": "MultiLineString",
                "coordinates": [_round_coords(g.coords) for g in geom.geoms]}
    if t == "Polygon":
        return {"type": "Polygon", "coordinates": [_round_coords(geom.exterior.coords)]
                + [_round_coords(r.coords) for r in geom.interiors]}
    if t == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [
            [_round_coords(p.exterior.coords)] + [_round_coords(r.coords) for r in p.interiors]
            for p in geom.geoms]}
    return None


def roads_geojson(network) -> dict[str, Any]:
    """The road network as a FeatureCollection with one ``rank`` property per feature."""
    segs = network.segments
    classes = segs["road_class"] if "road_class" in segs else [""] * len(segs)
    feats = []
    for geom, cls in zip(segs.geometry, classes):
        g = _geojson_geometry(geom)
        if g is not None:
            feats.append({"type": "Feature", "properties": {"rank": road_rank(cls)},
                          "geometry": g})
    feats.sort(key=lambda f: f["properties"]["rank"])  # bigger roads drawn last
    return {"type": "FeatureCollection", "features": feats}


def districts_geojson(network) -> dict[str, Any]:
    feats = []
    try:
        rows = list(zip(network.districts["name"], network.districts.geometry))
    except (AttributeError, KeyError):
        rows = []
    for i, (name, geom) in enumerate(rows):
        g = _geojson_geometry(geom)
        if g is not None:
            feats.append({"type": "Feature", "properties": {"i": i % len(DISTRICT_FILLS),
                                                            "name": str(name)},
                          "geometry": g})
    return {"type": "FeatureCollection", "features": feats}


def district_layers(scale: float = 1.0) -> list[dict[str, Any]]:
    """The district fill and outline layers (source ``districts``)."""
    fill_match: list[Any] = ["match", ["get", "i"]]
    for i, colour in enumerate(DISTRICT_FILLS):
        fill_match += [i, colour]
    fill_match.append(DISTRICT_FILLS[0])
    return [
        {"id": "district-fill", "type": "fill", "source": "districts",
         "paint": {"fill-color": fill_match, "fill-opacity": 0.9}},
        {"id": "district-outline", "type": "line", "source": "districts",
         "paint": {"line-color": DISTRICT_LINE, "line-width": 1.6 * scale,
                   "line-dasharray": [4, 3]}},
    ]


def build_style(network, scale: float = 1.0) -> dict[str, Any]:
    """A MapLibre style (version 8) with only local GeoJSON sources: background, district
    fills and outlines, roads by rank. It has no ``glyphs`` and no ``sprite`` on purpose."""
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background",
         "paint": {"background-color": BACKGROUND}},
        *district_layers(scale),
    ]
    for rank in (0, 1, 2, 3):
        layers.append({
            "id": f"roads-{rank}", "type": "line", "source": "roads",
            "filter": ["==", ["get", "rank"], rank],
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {"line-color": ROAD_COLOURS[rank],
                      "line-width": ["interpolate", ["linear"], ["zoom"],
                                     9, ROAD_WIDTHS[rank] * 0.6 * scale,
                                     13, ROAD_WIDTHS[rank] * 1.6 * scale,
                                     16, ROAD_WIDTHS[rank] * 3.0 * scale]}})
    return {"version": 8, "name": "lukuang-offline",
            "sources": {"districts": {"type": "geojson", "data": districts_geojson(network)},
                        "roads": {"type": "geojson", "data": roads_geojson(network)}},
            "layers": layers}


def style_urls(style: Any) -> list[str]:
    """Every string in the style that looks like a URL (tests assert there are none)."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("glyphs", "sprite", "url", "tiles"):
                    found.append(f"{k}={x}")
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and ("://" in v or v.startswith("//")):
            found.append(v)
    walk(style)
    return found


def road_labels(network, min_rank: int = MAIN_RANK, long_m: float = 7000.0) -> list[dict]:
    """Label points of the main roads: the middle of each road's longest continuous
    stretch (and its quarter points when that stretch is long)."""
    segs = network.segments
    if "road_name" not in segs or len(segs) == 0:
        return []
    ranks = [road_rank(c) for c in (segs["road_class"] if "road_class" in segs
                                    else [""] * len(segs))]
    by_road: dict[str, list] = {}
    for name, geom, rank in zip(segs["road_name"], segs.geometry, ranks):
        if not name or rank < min_rank or geom is None or geom.is_empty:
            continue
        by_road.setdefault(str(name), []).append(geom)
    labels = []
    for name, geoms in sorted(by_road.items()):
        lines = []
        for g in geoms:
            lines.extend([g] if g.geom_type == "LineString" else list(getattr(g, "geoms", [])))
        merged = linemerge(MultiLineString(lines)) if len(lines) > 1 else lines[0]
        parts = list(merged.geoms) if merged.geom_type == "MultiLineString" else [merged]
        longest: LineString = max(parts, key=lambda p: p.length)
        metres = _approx_length_m(longest)
        fractions = (0.25, 0.75) if metres > long_m else (0.5,)
        for f in fractions:
            p = longest.interpolate(f, normalized=True)
            labels.append({"name": name, "lon": round(p.x, DIGITS), "lat": round(p.y, DIGITS)})
    return labels


def district_labels(network) -> list[dict]:
    """One label per district at a point inside it, nudged towards its roads."""
    out = []
    try:
        rows = list(zip(network.districts["name"], network.districts.geometry))
    except (AttributeError, KeyError):
        return out
    try:   # the roads' bounding box: no union of every segment (seconds at 100,000)
        road_hull = shapely.box(*network.segments.total_bounds)
    except Exception:  # noqa: BLE001 - labels are a nicety
        road_hull = None
    for name, geom in rows:
        if geom is None or geom.is_empty:
            continue
        area = geom.intersection(road_hull) if road_hull is not None else geom
        if area.is_empty:
            area = geom
        p = area.representative_point()
        out.append({"name": str(name), "lon": round(p.x, DIGITS), "lat": round(p.y, DIGITS)})
    return out


def view_for_bounds(bounds: Sequence[float], width_px: float, height_px: float,
                    padding: float = 0.04) -> dict[str, Any]:
    """MapLibre centre and zoom (Web Mercator, a 512 px world at zoom 0, at most 18) that fit
    a lon/lat box, grown by ``padding`` of its size on each side, into a panel of the given
    size in pixels."""
    x0, y0, x1, y1 = bounds
    pad_x, pad_y = (x1 - x0) * padding, (y1 - y0) * padding
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    dx = max(x1 - x0, 1e-6)
    dy = max(merc(y1) - merc(y0), 1e-8)
    zx = math.log2(width_px * 360.0 / (dx * 512.0))
    zy = math.log2(height_px * 2 * math.pi / (dy * 512.0))
    zoom = max(0.0, min(zx, zy, 18.0))
    cy = math.degrees(2 * math.atan(math.exp((merc(y0) + merc(y1)) / 2)) - math.pi / 2)
    return {"center": {"lon": round((x0 + x1) / 2, 6), "lat": round(cy, 6)},
            "zoom": round(zoom, 3)}


def _approx_length_m(line: LineString) -> float:
    coords = list(line.coords)
    total = 0.0
    for (x0, y0), (x1, y1) in zip(coords, coords[1:]):
        kx = 111_320 * math.cos(math.radians((y0 + y1) / 2))
        total += math.hypot((x1 - x0) * kx, (y1 - y0) * 110_570)
    return total
