"""The road network in a process: segments, districts, gazetteer, and spatial look-ups.

A network is a GeoDataFrame of LineString segments (WGS-84) with the columns
``road_name, road_class, oneway, direction, district, length_m, lanes`` and the
``segment_id`` as index, plus optional district polygons and a gazetteer of road
aliases and landmarks. Look-ups by position (nearest segment, map-matching a polyline,
where two roads cross) are done in a local metric projection (the network's UTM zone)
with one STRtree built per network, so every distance is in metres.

The demo city's files are in ``data/taian/``; an imported network lives in
``<state_dir>/network/roads.gpkg`` (see ``dashboard.roads_import``) and wins when present.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely import LineString, Point, STRtree
from shapely.ops import nearest_points, unary_union

from dashboard.roads.classes import ROAD_CLASSES, normalise_class
from dashboard.roads.geo import main_axis
from dashboard.storage.cache import ProcessCache

DEFAULT_LANES = {"expressway": 6, "arterial": 6, "secondary": 4, "local": 2}
INTERSECTION_TOLERANCE_M = 30.0
MATCH_STEP_M = 50.0
MATCH_MAX_ANGLE_DEG = 45.0
MATCH_END_INSET_M = 5.0

NETWORK_SUBDIR = "network"
IMPORTED_ROADS = "roads.gpkg"
DISTRICT_FILES = ("districts.gpkg", "districts.geojson")
GAZETTEER_FILE = "gazetteer.json"
# what sources put where a road has no name: such a segment is unnamed ("")
PLACEHOLDER_NAMES = frozenset({"nan", "none", "null", "<null>", "n/a", "无", "无名", "无名路",
                               "无名道路", "未命名", "未命名道路"})


class NetworkError(ValueError):
    """A network file that cannot be used (missing columns, no line features, ...)."""


@dataclass(frozen=True)
class SegmentMatch:
    """The segment nearest a point, and how far away it is."""
    segment_id: str
    road_name: str
    distance_m: float
    district: str | None


def name_key(name: str) -> str:
    """Comparison form of a road or place name: NFKC (full-width -> half-width), no
    whitespace, case-folded."""
    text = unicodedata.normalize("NFKC", str(name))
    return "".join(text.split()).casefold()


# a carriageway's direction after its road's name: "经十路(东向西)", "经十路（上行）",
# "经十路东行", "经十路北幅"; the two carriageways are one road (its stretches, its label)
_DIRECTION = r"(?:[东西南北]{1,2}(?:向|往|至)[东西南北]{1,2}|[东西南北]{1,2}(?:向|行|幅|侧)(?:线)?|上行|下行|双向)"
_CARRIAGEWAY_RE = re.compile(r"^(?P<road>.{2,}?)\s*(?:[(（]\s*" + _DIRECTION + r"\s*[)）]"
                             r"|(?:上行|下行|[东西南北]行线?|[东西南北]幅))$")


def carriageway_road(name: str) -> str:
    """The road a carriageway's name belongs to ("经十路(东向西)" -> "经十路"); a name
    without a direction (and a service road, "经十路辅路") is returned as it is."""
    m = _CARRIAGEWAY_RE.match(name)
    return m.group("road").strip() if m else name


def clean_road_name(value: Any) -> str:
    """A road name as text, stripped, without a carriageway's direction; "" for None, NaN
    and placeholders ("nan", "无名路")."""
    if value is None:
        return ""
    try:
        if value != value:          # NaN, pandas NA
            return ""
    except (TypeError, ValueError):
        return ""
    text = " ".join(str(value).split())
    if unicodedata.normalize("NFKC", text).casefold() in PLACEHOLDER_NAMES:
        return ""
    return carriageway_road(text)


def _finite(*values: float) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def axis_direction(dx: float, dy: float, oneway: bool) -> str:
    """"EW"/"NS" for a two-way road, the travel direction (EB/WB/NB/SB) for a one-way one."""
    if abs(dx) >= abs(dy):
        return ("EB" if dx >= 0 else "WB") if oneway else "EW"
    return ("NB" if dy >= 0 else "SB") if oneway else "NS"


class RoadNetwork:
    """Segments, districts and gazetteer of one city, with spatial look-ups in metres."""

    def __init__(self, segments: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None = None,
                 gazetteer: dict | None = None, source: Path | None = None):
        self.source = source
        self.segments = segments
        if districts is None:
            districts = gpd.GeoDataFrame({"name": pd.Series([], dtype=object),
                                          "code": pd.Series([], dtype=object)},
                                         geometry=gpd.GeoSeries([], crs="EPSG:4326"))
        self.districts = districts
        self.gazetteer = gazetteer or {"roads": {}, "landmarks": {}}

        # metric projection, built once
        self.metric_crs = segments.estimate_utm_crs() if len(segments) else "EPSG:32650"
        self._to_metric = Transformer.from_crs("EPSG:4326", self.metric_crs, always_xy=True)
        self._to_wgs = Transformer.from_crs(self.metric_crs, "EPSG:4326", always_xy=True)
        metric = segments.geometry.to_crs(self.metric_crs)
        self._geoms = np.asarray(metric.values, dtype=object)
        self._ids = [str(i) for i in segments.index]
        self._pos = {sid: i for i, sid in enumerate(self._ids)}
        self._names = segments["road_name"].fillna("").astype(str).to_numpy()
        self._tree = STRtree(self._geoms)
        self._district_tree = STRtree(np.asarray(self.districts.geometry.values, dtype=object))

        # road name -> ordered segment ids
        self._mids = shapely.get_coordinates(
            shapely.line_interpolate_point(self._geoms, 0.5, normalized=True))
        members: dict[str, list[int]] = {}
        for i, name in enumerate(self._names):
            if name:
                members.setdefault(name, []).append(i)
        self._by_road: dict[str, list[str]] = {}
        for name in sorted(members):
            self._by_road[name] = self._order_along(np.array(members[name]))
        self._road_geom: dict[str, Any] = {}
        self._crossings: dict[tuple[str, str], tuple[float, float] | None] = {}

        # names and aliases
        self._aliases: dict[str, str] = {}
        for name in self._by_road:
            self._aliases[name] = name
        for canonical, info in (self.gazetteer.get("roads") or {}).items():
            if canonical not in self._by_road:
                continue
            for alias in (info or {}).get("aliases", []) or []:
                if alias and str(alias) not in self._aliases:
                    self._aliases[str(alias)] = canonical
        self._alias_keys = {name_key(a): c for a, c in self._aliases.items()}
        # canonical names win over aliases on a clash
        self._alias_keys.update({name_key(n): n for n in self._by_road})
        self._landmarks: dict[str, dict] = {}
        for name, info in (self.gazetteer.get("landmarks") or {}).items():
            try:
                lon, lat = float(info["lon"]), float(info["lat"])
            except (KeyError, TypeError, ValueError):
                continue
            entry = {"name": name, "lon": lon, "lat": lat}
            self._landmarks[name] = entry
            for alias in info.get("aliases", []) or []:
                self._landmarks.setdefault(str(alias), entry)

    # -- construction helpers ---------------------------------------------------------
    def _order_along(self, idx: np.ndarray) -> list[str]:
        """Segment ids of one road sorted along its main axis (west->east or
        south->north), ties broken by id."""
        if len(idx) == 1:
            return [self._ids[idx[0]]]
        mids = self._mids[idx]
        proj = (mids - mids.mean(axis=0)) @ main_axis(mids)
        order = sorted(range(len(idx)), key=lambda k: (round(float(proj[k]), 3),
                                                      self._ids[idx[k]]))
        return [self._ids[idx[k]] for k in order]

    def _metric_point(self, lon: float, lat: float) -> Point:
        x, y = self._to_metric.transform(float(lon), float(lat))
        return Point(x, y)

    def _road_union(self, road: str):
        geom = self._road_geom.get(road)
        if geom is None:
            ids = self._by_road.get(road, [])
            geom = unary_union([self._geoms[self._pos[s]] for s in ids])
            self._road_geom[road] = geom
        return geom

    # -- look-ups ---------------------------------------------------------------------
    def nearest(self, lon: float, lat: float, max_m: float = 150.0) -> SegmentMatch | None:
        """The segment nearest (lon, lat) within ``max_m`` metres, or None."""
        if not _finite(lon, lat, max_m) or max_m < 0 or len(self._ids) == 0:
            return None
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            return None
        pt = self._metric_point(lon, lat)
        idx, dist = self._tree.query_nearest(pt, max_distance=max_m, return_distance=True,
                                             all_matches=True)
        if len(idx) == 0:
            return None
        best = min(range(len(idx)), key=lambda k: (float(dist[k]), self._ids[idx[k]]))
        i = int(idx[best])
        district = self.segments["district"].iat[i] if "district" in self.segments else None
        return SegmentMatch(self._ids[i], str(self._names[i]), float(dist[best]),
                            district if isinstance(district, str) and district else None)

    def match_line(self, coords: list[tuple[float, float]], max_m: float = 60.0) -> list[str]:
        """Segment ids a polyline runs along, in order along the line.

        The line is sampled every ~50 m; each sample takes the nearest segment within
        ``max_m`` that runs roughly parallel to the line there (crossing streets are not
        "along"). Roads seen at a single sample only are dropped when the line has more
        samples than that, so a jam line is not attributed to every street it crosses.
        """
        pts = [(float(c[0]), float(c[1])) for c in coords if _finite(c[0], c[1])]
        if not pts or not _finite(max_m) or len(self._ids) == 0:
            return []
        if len(pts) == 1 or all(p == pts[0] for p in pts):
            m = self.nearest(pts[0][0], pts[0][1], max_m)
            return [m.segment_id] if m is not None else []
        xs, ys = self._to_metric.transform([p[0] for p in pts], [p[1] for p in pts])
        line = LineString(list(zip(xs, ys)))
        total = line.length
        step = max(MATCH_STEP_M, total / 2000.0)
        n = max(2, int(math.ceil(total / step)) + 1)
        # the first and last samples sit a few metres inside the line, so a line that
        # starts exactly where two segments meet is not given the one it never enters
        inset = min(MATCH_END_INSET_M, total / 4.0)
        distances = np.linspace(inset, total - inset, n)
        picks: list[tuple[int, int]] = []   # (sample number, segment position)
        for k, d in enumerate(distances):
            p = line.interpolate(d)
            a = line.interpolate(max(0.0, d - 10.0))
            b = line.interpolate(min(total, d + 10.0))
            heading = math.atan2(b.y - a.y, b.x - a.x)
            cand = self._tree.query(p, predicate="dwithin", distance=max_m)
            best = None
            for i in cand:
                g = self._geoms[i]
                at = g.project(p)
                ga = g.interpolate(max(0.0, at - 10.0))
                gb = g.interpolate(min(g.length, at + 10.0))
                seg_heading = math.atan2(gb.y - ga.y, gb.x - ga.x)
                diff = abs(math.degrees(heading - seg_heading)) % 180.0
                diff = min(diff, 180.0 - diff)
                if diff > MATCH_MAX_ANGLE_DEG:
                    continue
                dist = g.distance(p)
                key = (dist, self._ids[i])
                if best is None or key < best[0]:
                    best = (key, int(i))
            if best is not None:
                picks.append((k, best[1]))
        if not picks:
            return []
        road_count: dict[str, int] = {}
        for _k, i in picks:
            road_count[self._names[i]] = road_count.get(self._names[i], 0) + 1
        min_count = 2 if len(picks) > 2 else 1
        out: list[str] = []
        seen: set[str] = set()
        for _k, i in picks:
            if road_count[self._names[i]] < min_count:
                continue
            sid = self._ids[i]
            if sid not in seen:
                seen.add(sid)
                out.append(sid)
        return out

    def resolve_road(self, name: str) -> str | None:
        """Canonical road name for a name or alias (exact, after normalising), else None."""
        if not isinstance(name, str) or not name.strip():
            return None
        return self._alias_keys.get(name_key(name))

    def road_names(self) -> list[str]:
        """Canonical road names, longest first (then alphabetical)."""
        return sorted(self._by_road, key=lambda n: (-len(n), n))

    def aliases(self) -> dict[str, str]:
        """Every alias and canonical name -> canonical name."""
        return dict(self._aliases)

    def landmarks(self) -> dict[str, dict]:
        """Landmark name or alias -> {"name", "lon", "lat"}."""
        return {k: dict(v) for k, v in self._landmarks.items()}

    def segments_of(self, road: str) -> list[str]:
        """Segment ids of a road (name or alias), ordered along it; [] if unknown."""
        canonical = self.resolve_road(road)
        return list(self._by_road.get(canonical, [])) if canonical else []

    def intersection(self, road_a: str, road_b: str) -> tuple[float, float] | None:
        """(lon, lat) where two named roads cross, or meet within ~30 m; else None."""
        a, b = self.resolve_road(road_a), self.resolve_road(road_b)
        if a is None or b is None or a == b:
            return None
        key = (a, b) if a < b else (b, a)
        if key not in self._crossings:
            self._crossings[key] = self._compute_crossing(*key)
        return self._crossings[key]

    def _compute_crossing(self, a: str, b: str) -> tuple[float, float] | None:
        ga, gb = self._road_union(a), self._road_union(b)
        if ga.is_empty or gb.is_empty:
            return None
        inter = ga.intersection(gb)
        point: Point | None = None
        if not inter.is_empty:
            parts = [g for g in shapely.get_parts(inter)]
            pts = [g if g.geom_type == "Point" else g.representative_point() for g in parts]
            # several crossings: the one nearest the middle of the shorter road
            shorter = ga if ga.length <= gb.length else gb
            centre = shorter.interpolate(0.5, normalized=True)
            point = min(pts, key=lambda p: (p.distance(centre), p.x, p.y))
        elif ga.distance(gb) <= INTERSECTION_TOLERANCE_M:
            pa, pb = nearest_points(ga, gb)
            point = Point((pa.x + pb.x) / 2.0, (pa.y + pb.y) / 2.0)
        if point is None:
            return None
        lon, lat = self._to_wgs.transform(point.x, point.y)
        return (round(float(lon), 7), round(float(lat), 7))

    def district_at(self, lon: float, lat: float) -> str | None:
        """Name of the district containing (lon, lat), or None."""
        if not _finite(lon, lat) or len(self.districts) == 0:
            return None
        idx = self._district_tree.query(Point(float(lon), float(lat)), predicate="intersects")
        if len(idx) == 0:
            return None
        name = self.districts["name"].iat[int(min(idx))]
        return str(name) if name is not None else None

    def segment(self, segment_id: str) -> dict:
        """Properties of a segment plus its "coords" [[lon, lat], ...]; {} if unknown."""
        i = self._pos.get(str(segment_id))
        if i is None:
            return {}
        row = self.segments.iloc[i]
        out: dict[str, Any] = {"segment_id": self._ids[i]}
        for col in self.segments.columns:
            if col == self.segments.geometry.name:
                continue
            value = row[col]
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            out[col] = value
        out["coords"] = [[float(x), float(y)] for x, y in row.geometry.coords]
        return out

    def summary(self) -> dict:
        """Counts, total length, segments and km per road class, unnamed segments,
        bounding box and district names."""
        segs = self.segments
        bounds = segs.total_bounds if len(segs) else [0.0, 0.0, 0.0, 0.0]
        lengths = segs["length_m"].astype(float)
        classes = segs["road_class"].astype(str) if "road_class" in segs else \
            pd.Series(["local"] * len(segs), index=segs.index)
        unnamed = self._names == ""
        return {
            "segments": int(len(segs)),
            "named_roads": len(self._by_road),
            "total_km": round(float(lengths.sum()) / 1000.0, 3),
            "classes": {cls: {"segments": int((classes == cls).sum()),
                              "km": round(float(lengths[classes == cls].sum()) / 1000.0, 3)}
                        for cls in ROAD_CLASSES},
            "unnamed_segments": int(unnamed.sum()),
            "unnamed_km": round(float(lengths.to_numpy()[unnamed].sum()) / 1000.0, 3),
            "bbox": [round(float(v), 6) for v in bounds],
            "districts": [str(n) for n in self.districts["name"].tolist()],
        }


def summary_lines(summary: dict) -> list[str]:
    """``RoadNetwork.summary`` (optionally with a "path") as a short plain-text table."""
    head = f"{summary['segments']:,} segments, {summary['named_roads']:,} named roads, " \
           f"{summary['total_km']:,.1f} km"
    lines = [f"{summary['path']}: {head}" if summary.get("path") else head,
             f"{'class':<12}{'segments':>10}{'km':>10}"]
    for cls, row in (summary.get("classes") or {}).items():
        lines.append(f"{cls:<12}{row['segments']:>10,}{row['km']:>10,.1f}")
    lines.append(f"{'(unnamed)':<12}{summary.get('unnamed_segments', 0):>10,}"
                 f"{summary.get('unnamed_km', 0.0):>10,.1f}")
    if summary.get("districts"):
        lines.append("districts: " + ", ".join(summary["districts"]))
    return lines


# -- loading ------------------------------------------------------------------------------
def _read(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(path, engine="pyogrio")


def prepare_segments(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check and complete a segments frame: LineStrings in EPSG:4326, every column present
    (defaults for missing optional ones), index = segment_id."""
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    types = set(gdf.geometry.geom_type)
    if not types or types != {"LineString"}:
        raise NetworkError(f"road segments must be LineStrings, found {sorted(types) or 'none'}")
    gdf = gdf.copy()
    if "road_name" not in gdf:
        raise NetworkError("road segments have no 'road_name' column")
    gdf["road_name"] = [clean_road_name(v) for v in gdf["road_name"]]
    if "segment_id" in gdf:
        ids = gdf["segment_id"].astype(str)
    else:
        ids = pd.Series([f"s{i:06d}" for i in range(1, len(gdf) + 1)], index=gdf.index)
    if ids.duplicated().any():
        raise NetworkError(f"duplicate segment_id {ids[ids.duplicated()].iloc[0]!r}")
    if "road_class" not in gdf:
        gdf["road_class"] = "local"
    raw = gdf["road_class"].astype(object).where(gdf["road_class"].notna(), None)
    known = {v: normalise_class(v) for v in set(raw) if v is not None}
    gdf["road_class"] = [known[v] if v is not None else "local" for v in raw]
    if "oneway" not in gdf:
        gdf["oneway"] = False
    gdf["oneway"] = gdf["oneway"].fillna(False).astype(bool)
    if "direction" not in gdf:
        gdf["direction"] = None
    missing = gdf["direction"].isna() | (gdf["direction"].astype(str) == "")
    if missing.any():
        gdf.loc[missing, "direction"] = [
            axis_direction(g.coords[-1][0] - g.coords[0][0], g.coords[-1][1] - g.coords[0][1],
                            bool(ow))
            for g, ow in zip(gdf.geometry[missing], gdf["oneway"][missing])]
    if "district" not in gdf:
        gdf["district"] = None
    gdf["district"] = gdf["district"].astype(object).where(gdf["district"].notna(), None)
    if "length_m" not in gdf or gdf["length_m"].isna().any():
        metric = gdf.geometry.to_crs(gdf.estimate_utm_crs())
        gdf["length_m"] = metric.length.round(1)
    gdf["length_m"] = gdf["length_m"].astype(float)
    if "lanes" not in gdf:
        gdf["lanes"] = gdf["road_class"].map(DEFAULT_LANES)
    gdf["lanes"] = gdf["lanes"].fillna(gdf["road_class"].map(DEFAULT_LANES)).astype(int)
    gdf.index = pd.Index(ids.tolist(), name="segment_id")
    columns = ["road_name", "road_class", "oneway", "direction", "district", "length_m",
               "lanes"]
    return gpd.GeoDataFrame(gdf[columns], geometry=gdf.geometry, crs="EPSG:4326")


def prepare_districts(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """District polygons with ``name`` and ``code`` columns in EPSG:4326."""
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    types = set(gdf.geometry.geom_type)
    if not types or not types <= {"Polygon", "MultiPolygon"}:
        raise NetworkError(f"districts must be polygons, found {sorted(types) or 'none'}")
    name_col = next((c for c in gdf.columns if c.lower() in ("name", "名称", "district")), None)
    if name_col is None:
        raise NetworkError("districts have no 'name' column")
    code_col = next((c for c in gdf.columns if c.lower() in ("code", "adcode", "代码")), None)
    out = gpd.GeoDataFrame({"name": gdf[name_col].astype(str).tolist(),
                            "code": (gdf[code_col].astype(str).tolist() if code_col
                                     else [""] * len(gdf))},
                           geometry=gdf.geometry.tolist(), crs="EPSG:4326")
    return out


def load_network(path: Path, districts_path: Path | None = None,
                 gazetteer_path: Path | None = None) -> RoadNetwork:
    """Load a network file (GeoJSON, GeoPackage, ...). Districts and gazetteer default to
    ``districts.gpkg``/``districts.geojson`` and ``gazetteer.json`` next to it, if present."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"road network file not found: {path}")
    if districts_path is None:
        districts_path = next((path.parent / n for n in DISTRICT_FILES
                               if (path.parent / n).exists()), None)
    if gazetteer_path is None and (path.parent / GAZETTEER_FILE).exists():
        gazetteer_path = path.parent / GAZETTEER_FILE
    segments = prepare_segments(_read(path))
    districts = prepare_districts(_read(Path(districts_path))) if districts_path else None
    gazetteer = None
    if gazetteer_path:
        with open(gazetteer_path, encoding="utf-8") as fh:
            gazetteer = json.load(fh)
        if not isinstance(gazetteer, dict):
            raise NetworkError(f"{gazetteer_path}: the gazetteer must be a JSON object")
    return RoadNetwork(segments, districts, gazetteer, source=path)


def default_network_dir() -> Path:
    """The demo city's data: the repository's ``data/taian``."""
    return Path(__file__).resolve().parents[2] / "data" / "taian"


def imported_network_path(state_dir: Path) -> Path:
    """Where ``roads import`` puts a network: ``<state_dir>/network/roads.gpkg``."""
    return Path(state_dir) / NETWORK_SUBDIR / IMPORTED_ROADS


def active_network_path(state_dir: Path) -> Path:
    """The imported network if there is one, else the demo network."""
    imported = imported_network_path(state_dir)
    if imported.exists():
        return imported
    return default_network_dir() / "roads.geojson"


_networks: ProcessCache[RoadNetwork] = ProcessCache(16)   # by resolved path, tagged by _stamp


def _stamp(path: Path) -> tuple:
    """mtime and size of a network file and of its sibling districts/gazetteer files."""
    parts = []
    for p in (path, *(path.parent / n for n in DISTRICT_FILES), path.parent / GAZETTEER_FILE):
        try:
            st = p.stat()
            parts.append((p.name, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            parts.append((p.name, None, None))
    return tuple(parts)


def get_network(state_dir: Path) -> RoadNetwork:
    """The active network, loaded once per process and reloaded when its files change."""
    path = active_network_path(Path(state_dir))
    return _networks.get(str(path.resolve()), lambda: load_network(path), tag=_stamp(path))


def clear_network_cache() -> None:
    """Forget every loaded network (they are reloaded on next use)."""
    _networks.clear()
