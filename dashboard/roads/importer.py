"""Import a real road network: GeoJSON, GeoPackage, Shapefile (.shp or .zip) or an
OpenStreetMap extract (.osm.pbf / .osm, through GDAL's OSM driver).

The result is written to ``<state_dir>/network/roads.gpkg`` atomically: the new files are
written into a staging folder, loaded back as a ``RoadNetwork`` to validate them, and only
then moved into place with ``os.replace``, so a bad input never replaces a working network.
Every problem with the input raises ``NetworkImportError`` with a one-line message.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import uuid
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from shapely.ops import substring

from dashboard.roads.network import (DEFAULT_LANES, DISTRICT_FILES, IMPORTED_ROADS, NETWORK_SUBDIR, NetworkError,
                    axis_direction, clear_network_cache, load_network, prepare_districts)

MAX_SEGMENT_M = 500.0

# OSM highway=* values that are roads for the command centre, and their class.
HIGHWAY_CLASS = {
    "motorway": "expressway", "motorway_link": "expressway",
    "trunk": "expressway", "trunk_link": "expressway",
    "primary": "arterial", "primary_link": "arterial",
    "secondary": "secondary", "secondary_link": "secondary",
    "tertiary": "secondary", "tertiary_link": "secondary",
    "unclassified": "local", "residential": "local", "living_street": "local",
    "road": "local", "service": "local", "busway": "local",
}
NAME_COLUMNS = ("road_name", "name_zh", "name:zh", "name", "名称", "路名", "道路名称", "roadname",
                "road", "street")
CLASS_COLUMNS = ("road_class", "highway", "fclass", "class", "type")
ONEWAY_COLUMNS = ("oneway", "one_way", "单行")
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")
_HSTORE_RE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


class NetworkImportError(Exception):
    """The input cannot become a road network; the message is one line for a human."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else exc.__class__.__name__


def parse_other_tags(value) -> dict[str, str]:
    """GDAL's OSM ``other_tags`` hstore text ('"k"=>"v","k2"=>"v2"') as a dict."""
    if not isinstance(value, str) or not value:
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE_RE.findall(value)}


def _is_osm(src: Path) -> bool:
    return src.name.lower().endswith(OSM_SUFFIXES)


def _pick_layer(src: Path) -> str | None:
    """The first layer with line geometry (None: the only/default layer)."""
    try:
        layers = pyogrio.list_layers(src)
    except Exception as exc:  # GDAL raises several types; all mean "unreadable"
        raise NetworkImportError(f"cannot read {src.name}: {_one_line(exc)}") from exc
    if len(layers) == 0:
        raise NetworkImportError(f"{src.name} contains no layers")
    for name, gtype in layers:
        if gtype and "LineString" in str(gtype):
            return str(name)
    return str(layers[0][0]) if len(layers) > 1 else None


def read_source(src: Path) -> gpd.GeoDataFrame:
    """Read the input file into a GeoDataFrame (OSM: the "lines" layer)."""
    if not src.exists():
        raise NetworkImportError(f"file not found: {src}")
    if src.is_dir():
        raise NetworkImportError(f"{src} is a folder; give the .shp, .gpkg, .geojson or .zip file")
    layer = "lines" if _is_osm(src) else _pick_layer(src)
    try:
        kwargs = {"layer": layer} if layer else {}
        return pyogrio.read_dataframe(src, **kwargs)
    except Exception as exc:
        raise NetworkImportError(f"cannot read {src.name}: {_one_line(exc)}") from exc


def _column(gdf: gpd.GeoDataFrame, candidates: tuple[str, ...]) -> str | None:
    lower = {str(c).lower(): c for c in gdf.columns if c != gdf.geometry.name}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    return None


def _oneway_value(value) -> int:
    """+1 one-way along the geometry, -1 one-way against it, 0 two-way."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    if isinstance(value, (bool,)) or (hasattr(value, "dtype") and str(value.dtype) == "bool"):
        return 1 if bool(value) else 0
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "f", "ft", "forward", "y", "是"):
        return 1
    if text in ("-1", "reverse", "t", "tf", "backward"):
        return -1
    return 0


def _from_osm(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """name, road_class, oneway (+1/-1/0), lanes, source id for OSM "lines" features."""
    if "highway" not in gdf:
        raise NetworkImportError("the OSM file has no highway lines")
    keep = gdf["highway"].isin(list(HIGHWAY_CLASS))
    gdf = gdf[keep]
    if gdf.empty:
        raise NetworkImportError("the OSM file contains no roads (no highway=motorway … "
                                 "residential ways)")
    tags = [parse_other_tags(v) for v in (gdf["other_tags"] if "other_tags" in gdf
                                          else [None] * len(gdf))]
    # a custom osmconf.ini may turn some of these tags into columns of their own
    for key in ("name:zh", "oneway", "lanes", "junction"):
        if key in gdf:
            for t, v in zip(tags, gdf[key]):
                if isinstance(v, str) and v:
                    t.setdefault(key, v)
    names = []
    for name, t in zip(gdf.get("name", pd.Series([None] * len(gdf), index=gdf.index)), tags):
        zh = t.get("name:zh") or t.get("name:zh-Hans")
        names.append(str(zh or name or "").strip())
    oneway = []
    for hw, t in zip(gdf["highway"], tags):
        ow = _oneway_value(t.get("oneway"))
        if ow == 0 and t.get("oneway") is None and (hw == "motorway" or
                                                    t.get("junction") == "roundabout"):
            ow = 1  # implied one-way in OSM
        oneway.append(ow)
    lanes = []
    for t in tags:
        try:
            lanes.append(int(str(t.get("lanes", "")).split(";")[0]))
        except ValueError:
            lanes.append(None)
    return pd.DataFrame({"road_name": names,
                         "road_class": [HIGHWAY_CLASS[h] for h in gdf["highway"]],
                         "oneway_sign": oneway, "lanes": lanes,
                         "source_id": [f"w{v}" if v is not None else None
                                       for v in gdf.get("osm_id", [None] * len(gdf))],
                         "geometry": gdf.geometry.values}, index=gdf.index)


def _class_of(value) -> str:
    text = str(value).strip().lower() if value is not None else ""
    if text in ("expressway", "arterial", "secondary", "local"):
        return text
    return HIGHWAY_CLASS.get(text, "local")


def _from_table(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """The same columns as ``_from_osm`` for GeoJSON/GeoPackage/Shapefile attributes."""
    name_col = _column(gdf, NAME_COLUMNS)
    if name_col is None:
        raise NetworkImportError("no road names found: expected a 'name' or 'road_name' "
                                 f"attribute (have: {', '.join(map(str, gdf.columns[:10]))})")
    class_col = _column(gdf, CLASS_COLUMNS)
    if class_col in ("highway", "fclass"):
        gdf = gdf[gdf[class_col].isna() | gdf[class_col].isin(list(HIGHWAY_CLASS) +
                                                              ["expressway", "arterial",
                                                               "secondary", "local"])]
    oneway_col = _column(gdf, ONEWAY_COLUMNS)
    lanes_col = _column(gdf, ("lanes", "车道数"))
    id_col = _column(gdf, ("segment_id", "osm_id", "id"))
    names = [("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip())
             for v in gdf[name_col]]
    lanes = []
    for v in (gdf[lanes_col] if lanes_col else [None] * len(gdf)):
        try:
            lanes.append(int(v) if v is not None and not pd.isna(v) else None)
        except (TypeError, ValueError):
            lanes.append(None)
    ids = None
    if id_col is not None:
        raw = gdf[id_col]
        if raw.notna().all() and not raw.astype(str).duplicated().any():
            ids = raw.astype(str).tolist()
    return pd.DataFrame({"road_name": names,
                         "road_class": [_class_of(v) for v in gdf[class_col]] if class_col
                         else ["local"] * len(gdf),
                         "oneway_sign": [_oneway_value(v) for v in gdf[oneway_col]] if oneway_col
                         else [0] * len(gdf),
                         "lanes": lanes,
                         "source_id": ids if ids is not None else [None] * len(gdf),
                         "geometry": gdf.geometry.values}, index=gdf.index)


def _check_geometry(gdf: gpd.GeoDataFrame, src: Path) -> gpd.GeoDataFrame:
    if len(gdf) == 0:
        raise NetworkImportError(f"{src.name} contains no features")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    types = set(gdf.geometry.geom_type)
    lines = gdf[gdf.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    if lines.empty:
        found = ", ".join(sorted(types)) or "no geometry"
        raise NetworkImportError(f"{src.name} has no line features (found {found}); "
                                 "a road network needs LineString geometries")
    if lines.crs is None:
        minx, miny, maxx, maxy = lines.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise NetworkImportError(f"{src.name} has no coordinate reference system and its "
                                     "coordinates are not longitude/latitude")
        lines = lines.set_crs("EPSG:4326")
    try:
        return lines.to_crs("EPSG:4326")
    except Exception as exc:
        raise NetworkImportError(f"cannot reproject {src.name} to WGS-84: {_one_line(exc)}") \
            from exc


def build_segments(src: Path) -> gpd.GeoDataFrame:
    """Read ``src`` and turn it into a segments frame ready for ``prepare_segments``."""
    raw = _check_geometry(read_source(src), src)
    table = _from_osm(raw) if _is_osm(src) else _from_table(raw)
    gdf = gpd.GeoDataFrame(table, geometry="geometry", crs="EPSG:4326")
    gdf = gdf.explode(index_parts=False)
    gdf = gdf[gdf.geometry.geom_type == "LineString"]
    gdf["geometry"] = shapely.force_2d(gdf.geometry.values)
    if gdf.empty:
        raise NetworkImportError(f"{src.name} has no usable road lines")
    if not any(gdf["road_name"]):
        raise NetworkImportError(f"{src.name}: no road has a name; the locator needs road names")
    # -1 one-way: turn the line round so it runs in the travel direction
    rev = gdf["oneway_sign"] < 0
    if rev.any():
        gdf.loc[rev, "geometry"] = shapely.reverse(gdf.geometry[rev].values)
    metric_crs = gdf.estimate_utm_crs()
    metric = gdf.geometry.to_crs(metric_crs)
    rows = []
    used: set[str] = set()
    for k, (row, geom) in enumerate(zip(gdf.itertuples(index=False), metric.values), start=1):
        length = geom.length
        if not length > 0.5:
            continue
        n = max(1, int(math.ceil(length / MAX_SEGMENT_M)))
        has_id = isinstance(row.source_id, str) and row.source_id != ""
        base = row.source_id if has_id else f"s{k:06d}"
        oneway = row.oneway_sign != 0
        cls = row.road_class
        for part_no in range(n):
            part = geom if n == 1 else substring(geom, part_no / n, (part_no + 1) / n,
                                                 normalized=True)
            sid = base if n == 1 else f"{base}-{part_no + 1}"
            while sid in used:
                sid = f"{sid}x"
            used.add(sid)
            (x0, y0), (x1, y1) = part.coords[0], part.coords[-1]
            lanes = (row.lanes if pd.notna(row.lanes) and row.lanes > 0
                     else DEFAULT_LANES[cls] // (2 if oneway else 1))
            rows.append({"segment_id": sid, "road_name": row.road_name, "road_class": cls,
                         "oneway": oneway, "direction": axis_direction(x1 - x0, y1 - y0, oneway),
                         "district": None, "length_m": round(part.length, 1),
                         "lanes": int(lanes), "geometry": part})
    if not rows:
        raise NetworkImportError(f"{src.name} has no road lines longer than half a metre")
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=metric_crs).to_crs("EPSG:4326")
    out["geometry"] = shapely.set_precision(out.geometry.values, 1e-7)
    out = out[~out.geometry.is_empty & (out.geometry.geom_type == "LineString")]
    return out


def _read_districts(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise NetworkImportError(f"districts file not found: {path}")
    try:
        return prepare_districts(pyogrio.read_dataframe(path))
    except NetworkError as exc:
        raise NetworkImportError(f"{path.name}: {exc}") from exc
    except Exception as exc:
        raise NetworkImportError(f"cannot read districts {path.name}: {_one_line(exc)}") from exc


def import_network(src: Path, state_dir: Path, districts: Path | None = None) -> dict:
    """Import ``src`` as the active road network of ``state_dir``; returns its summary."""
    src = Path(src)
    segments = build_segments(src)
    district_gdf = _read_districts(Path(districts)) if districts is not None else None
    if district_gdf is not None:
        metric = segments.geometry.to_crs(segments.estimate_utm_crs())
        mids = gpd.GeoDataFrame(geometry=metric.interpolate(0.5, normalized=True).to_crs(4326))
        joined = gpd.sjoin(mids, district_gdf[["name", "geometry"]], how="left",
                           predicate="intersects")
        first = joined[~joined.index.duplicated(keep="first")]["name"].reindex(mids.index)
        segments["district"] = [v if isinstance(v, str) else None for v in first]

    net_dir = Path(state_dir) / NETWORK_SUBDIR
    net_dir.mkdir(parents=True, exist_ok=True)
    staging = net_dir / f".incoming-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        roads_tmp = staging / IMPORTED_ROADS
        try:
            segments.to_file(roads_tmp, driver="GPKG", layer="roads", engine="pyogrio")
            if district_gdf is not None:
                district_gdf.to_file(staging / DISTRICT_FILES[0], driver="GPKG",
                                     layer="districts", engine="pyogrio")
        except Exception as exc:
            raise NetworkImportError(f"cannot write the network: {_one_line(exc)}") from exc
        try:
            network = load_network(roads_tmp)
        except Exception as exc:
            raise NetworkImportError(f"the converted network does not load: {_one_line(exc)}") \
                from exc
        summary = network.summary()
        if district_gdf is not None:
            os.replace(staging / DISTRICT_FILES[0], net_dir / DISTRICT_FILES[0])
        os.replace(roads_tmp, net_dir / IMPORTED_ROADS)
        if district_gdf is None:
            for name in DISTRICT_FILES:
                (net_dir / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    clear_network_cache()
    return summary
