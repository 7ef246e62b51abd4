"""The coordinate system of an imported road file, and its conversion to WGS-84.

The network is stored in WGS-84 longitude/latitude (EPSG:4326): the wall draws it as it is
and every feed converts its positions to WGS-84 before matching (Amap's GCJ-02 in
``feeds/amap.py``). An import follows these rules:

- WGS-84 as it is; CGCS2000 (EPSG:4490, China's national datum) taken as WGS-84 (the two
  differ by centimetres), and so is the datum of a projected CGCS2000 CRS (EPSG:4548,
  "CGCS2000 / 3-degree Gauss-Kruger CM 117E") once it is unprojected;
- any other projected CRS (UTM 50N, EPSG:32650, …) is reprojected with pyproj; another
  datum (Beijing 1954, Xi'an 1980) too, with a warning when pyproj knows only an
  approximate ("ballpark") transformation;
- no CRS: longitude/latitude values are taken as WGS-84 with a warning; anything else is
  refused with a hint (the Gauss-Krüger zone when the x values carry one);
- ``--crs`` overrides the file: an EPSG code, WKT or PROJ text, ``wgs84``, ``cgcs2000``,
  or ``gcj02`` / ``bd09`` — the shifted lon/lat of Amap/Tencent and Baidu, which are no
  EPSG CRS: converted to WGS-84 with ``roads.geo``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from dashboard.roads.geo import bd09_to_gcj02_many, gcj02_to_wgs84_many

WGS84 = CRS.from_epsg(4326)
CGCS2000_EPSG = 4490
SHIFTED = {"gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "amap": "gcj02",
           "bd09": "bd09", "bd-09": "bd09", "baidu": "bd09"}
NAMED = {"wgs84": "EPSG:4326", "wgs-84": "EPSG:4326", "cgcs2000": "EPSG:4490"}
SHIFT_NAMES = {"gcj02": "GCJ-02 (Amap/高德, Tencent)", "bd09": "BD-09 (Baidu)"}


class CrsError(ValueError):
    """Coordinates that cannot be turned into WGS-84; the message is one line for a human."""


@dataclass(frozen=True)
class Declared:
    """What ``--crs`` said: a CRS, or one of the shifted lon/lat systems."""

    text: str
    crs: CRS | None = None
    shift: str = ""          # "gcj02" | "bd09" | ""


def parse_crs(text: str) -> Declared:
    """``--crs`` text → Declared; CrsError naming the accepted forms when unknown."""
    word = "".join(str(text).split()).lower()
    if not word:
        raise CrsError("empty --crs")
    if word in SHIFTED:
        return Declared(str(text), None, SHIFTED[word])
    spec = NAMED.get(word, str(text).strip())
    if spec.isdigit():
        spec = f"EPSG:{spec}"
    try:
        return Declared(str(text), CRS.from_user_input(spec))
    except CRSError:
        raise CrsError(f"unknown coordinate reference system {str(text)!r}: give an EPSG code "
                       "(EPSG:4326, EPSG:4490, EPSG:4548, EPSG:32650 …), wgs84, cgcs2000, "
                       "gcj02 or bd09") from None


def describe(crs: CRS) -> str:
    """"EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E)" or the CRS's name."""
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def is_cgcs2000(crs: CRS) -> bool:
    """Whether the CRS's datum is CGCS2000 (China Geodetic Coordinate System 2000)."""
    geo = crs.geodetic_crs
    if geo is not None and geo.to_epsg(min_confidence=70) == CGCS2000_EPSG:
        return True
    datum = (crs.datum.name if crs.datum is not None else "").lower()
    return "china" in datum and "2000" in datum


def is_wgs84(crs: CRS) -> bool:
    """Whether the CRS is WGS-84 longitude/latitude (in any axis order)."""
    geo = crs.geodetic_crs
    return bool(crs.is_geographic and geo is not None
                and (geo.to_epsg(min_confidence=70) == 4326 or crs.equals(WGS84, True)))


def _lonlat_like(bounds) -> bool:
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    return all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) and \
        -180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0


def metric_hint(bounds) -> str:
    """What projected coordinates may be, from their values."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    zone = int(minx // 1_000_000)
    if 10_000_000 <= minx and maxx < 100_000_000 and zone == int(maxx // 1_000_000):
        if 25 <= zone <= 45:
            return (f"x values carry Gauss-Krüger zone {zone} (3-degree): CGCS2000 is "
                    f"--crs EPSG:{4513 + zone - 25}")
        if 13 <= zone <= 23:
            return (f"x values carry Gauss-Krüger zone {zone} (6-degree): CGCS2000 is "
                    f"--crs EPSG:{4491 + zone - 13}")
    if 0 < minx and maxx < 1_000_000 and 0 < miny and maxy < 10_000_000:
        return ("the values look like metres of a projected CRS: give it with --crs, e.g. "
                "EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E) or EPSG:32650 "
                "(UTM zone 50N)")
    return "give the file's coordinate reference system with --crs"


def _shift(gdf: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """GCJ-02 or BD-09 lon/lat → WGS-84 on every vertex."""
    def fn(xy: np.ndarray) -> np.ndarray:
        if kind == "bd09":
            xy = bd09_to_gcj02_many(xy)
        return gcj02_to_wgs84_many(xy)
    out = gdf.copy()
    out[out.geometry.name] = shapely.transform(gdf.geometry.values, fn)
    return out.set_crs(WGS84, allow_override=True)


def to_wgs84(gdf: gpd.GeoDataFrame, declared: Declared | None,
             name: str) -> tuple[gpd.GeoDataFrame, str, list[str]]:
    """``gdf`` in WGS-84, a line saying what was done, and warnings; CrsError when the
    coordinates cannot be placed."""
    warnings: list[str] = []
    file_crs = gdf.crs
    bounds = gdf.total_bounds
    if declared is not None and declared.crs is not None:
        if file_crs is not None and not file_crs.equals(declared.crs):
            warnings.append(f"{name} says {describe(file_crs)}; --crs {declared.text} wins")
        gdf = gdf.set_crs(declared.crs, allow_override=True)
    elif declared is not None and declared.shift:
        note = f"{SHIFT_NAMES[declared.shift]} (--crs {declared.text}) converted to WGS-84"
        if file_crs is not None and not file_crs.is_geographic:
            gdf = gdf.to_crs(WGS84)
            note = f"reprojected from {describe(file_crs)}, then {note}"
        elif not _lonlat_like(bounds):
            raise CrsError(f"{name}: --crs {declared.text} needs longitude/latitude values, "
                           f"but they are like ({bounds[0]:.0f}, {bounds[1]:.0f})")
        return _check(_shift(gdf, declared.shift), name), note, warnings
    elif file_crs is None:
        if not _lonlat_like(bounds):
            raise CrsError(f"{name} has no coordinate reference system and its coordinates "
                           f"are not longitude/latitude (x {bounds[0]:.0f}…{bounds[2]:.0f}, "
                           f"y {bounds[1]:.0f}…{bounds[3]:.0f}): {metric_hint(bounds)}")
        warnings.append(f"{name} has no coordinate reference system: taken as WGS-84 "
                        "longitude/latitude (Amap/高德 or Tencent data is GCJ-02: import it "
                        "with --crs gcj02; Baidu: --crs bd09)")
        return _check(gdf.set_crs(WGS84), name), "none in the file; taken as WGS-84", warnings

    crs = gdf.crs
    if is_wgs84(crs):
        if not _lonlat_like(bounds):
            raise CrsError(f"{name} says {describe(crs)} but its coordinates are not "
                           f"longitude/latitude (x {bounds[0]:.0f}…, y {bounds[1]:.0f}…): "
                           f"{metric_hint(bounds)}")
        out = gdf if crs.equals(WGS84) else gdf.to_crs(WGS84)
        return _check(out, name), describe(crs), warnings
    if crs.is_geographic and is_cgcs2000(crs):
        if not _lonlat_like(bounds):
            raise CrsError(f"{name} says {describe(crs)} but its coordinates are not "
                           f"longitude/latitude: {metric_hint(bounds)}")
        return (_check(gdf.set_crs(WGS84, allow_override=True), name),
                f"{describe(crs)} taken as WGS-84 (CGCS2000 and WGS-84 differ by centimetres)",
                warnings)
    try:
        transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
        out = gdf.to_crs(WGS84)
    except Exception as exc:  # pyproj raises several types; all mean "cannot reproject"
        text = " ".join(str(exc).split())[:200]
        raise CrsError(f"cannot reproject {name} from {describe(crs)} to WGS-84: {text}") \
            from exc
    note = f"reprojected from {describe(crs)} to WGS-84"
    if is_cgcs2000(crs):
        note += " (the CGCS2000 datum taken as WGS-84)"
    elif "ballpark" in (transformer.description or "").lower():
        warnings.append(f"pyproj knows no exact datum transformation from {describe(crs)} to "
                        "WGS-84: positions may be off by tens of metres or more")
    return _check(out, name, crs), note, warnings


def _check(gdf: gpd.GeoDataFrame, name: str, crs: CRS | None = None) -> gpd.GeoDataFrame:
    """Refuse results that are not longitude/latitude (a wrong CRS, values outside it)."""
    if len(gdf) and not _lonlat_like(gdf.total_bounds):
        said = f" for {describe(crs)}" if crs is not None else ""
        raise CrsError(f"{name}: the coordinates are out of range{said}; is the coordinate "
                       "reference system right? give it with --crs")
    return gdf
