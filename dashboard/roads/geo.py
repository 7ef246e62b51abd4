"""Geo helpers: GCJ-02 <-> WGS-84 (and Baidu's BD-09 -> GCJ-02), great-circle distances,
and a road's main axis.

Chinese map providers (Amap/高德, Tencent) publish coordinates in GCJ-02, an obfuscated
datum shifted by a few hundred metres from WGS-84. The formulas below are the widely
published ones (Krasovsky ellipsoid). ``wgs84_to_gcj02`` is the forward transform;
``gcj02_to_wgs84`` inverts it by fixed-point iteration, which is accurate to well under
a millimetre. Outside China's bounding box the providers apply no shift, and neither
do we.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG)

# The crude box used by the providers' own SDKs and by every common port of the formulas.
CHINA_MIN_LON, CHINA_MAX_LON = 72.004, 137.8347
CHINA_MIN_LAT, CHINA_MAX_LAT = 0.8293, 55.8271

_INVERSE_ITERATIONS = 30
_INVERSE_TOLERANCE_DEG = 1e-10  # ~0.01 mm


def out_of_china(lon: float, lat: float) -> bool:
    """True when the point lies outside the box where GCJ-02 shifts coordinates."""
    return not (CHINA_MIN_LON <= lon <= CHINA_MAX_LON and CHINA_MIN_LAT <= lat <= CHINA_MAX_LAT)


def _transform_lat(x, y):
    """Latitude offset polynomial (x = lon - 105, y = lat - 35); works on floats and arrays."""
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret = ret + (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret = ret + (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret = ret + (160.0 * np.sin(y / 12.0 * math.pi)
                 + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x, y):
    """Longitude offset polynomial (x = lon - 105, y = lat - 35); works on floats and arrays."""
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret = ret + (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret = ret + (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret = ret + (150.0 * np.sin(x / 12.0 * math.pi)
                 + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _delta(lon, lat):
    """(dlon, dlat) in degrees that GCJ-02 adds to a WGS-84 point (floats or arrays)."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = np.sin(radlat)
    magic = 1.0 - KRASOVSKY_EE * magic * magic
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrtmagic * np.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 -> GCJ-02 (unchanged outside China)."""
    if out_of_china(lon, lat):
        return float(lon), float(lat)
    dlon, dlat = _delta(lon, lat)
    return float(lon + dlon), float(lat + dlat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> WGS-84 by iterating the forward transform (round trip far below 1 m)."""
    if out_of_china(lon, lat):
        return float(lon), float(lat)
    wlon, wlat = float(lon), float(lat)
    for _ in range(_INVERSE_ITERATIONS):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        wlon -= elon
        wlat -= elat
        if abs(elon) < _INVERSE_TOLERANCE_DEG and abs(elat) < _INVERSE_TOLERANCE_DEG:
            break
    return wlon, wlat


def _as_array(coords: Iterable) -> np.ndarray:
    arr = np.asarray(coords, dtype=float)
    if arr.size == 0:
        return arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError("coords must be a sequence of (lon, lat) pairs")
    return arr[:, :2].copy()


def _in_china_mask(arr: np.ndarray) -> np.ndarray:
    lon, lat = arr[:, 0], arr[:, 1]
    return ((lon >= CHINA_MIN_LON) & (lon <= CHINA_MAX_LON)
            & (lat >= CHINA_MIN_LAT) & (lat <= CHINA_MAX_LAT))


def wgs84_to_gcj02_many(coords: Iterable) -> np.ndarray:
    """Vectorised ``wgs84_to_gcj02`` for an (N, 2) array of (lon, lat); returns a new array."""
    arr = _as_array(coords)
    inside = _in_china_mask(arr)
    if inside.any():
        dlon, dlat = _delta(arr[inside, 0], arr[inside, 1])
        arr[inside, 0] += dlon
        arr[inside, 1] += dlat
    return arr


def gcj02_to_wgs84_many(coords: Iterable) -> np.ndarray:
    """Vectorised ``gcj02_to_wgs84`` for an (N, 2) array of (lon, lat); returns a new array."""
    target = _as_array(coords)
    out = target.copy()
    inside = _in_china_mask(target)
    if not inside.any():
        return out
    goal = target[inside]
    guess = goal.copy()
    for _ in range(_INVERSE_ITERATIONS):
        dlon, dlat = _delta(guess[:, 0], guess[:, 1])
        err_lon = guess[:, 0] + dlon - goal[:, 0]
        err_lat = guess[:, 1] + dlat - goal[:, 1]
        guess[:, 0] -= err_lon
        guess[:, 1] -= err_lat
        if np.all(np.abs(err_lon) < _INVERSE_TOLERANCE_DEG) and \
                np.all(np.abs(err_lat) < _INVERSE_TOLERANCE_DEG):
            break
    out[inside] = guess
    return out


_BD_X_PI = math.pi * 3000.0 / 180.0


def bd09_to_gcj02_many(coords: Iterable) -> np.ndarray:
    """Baidu's BD-09 -> GCJ-02 for an (N, 2) array of (lon, lat) (the published inverse of
    Baidu's offset; applied everywhere, as Baidu does); returns a new array."""
    arr = _as_array(coords)
    x, y = arr[:, 0] - 0.0065, arr[:, 1] - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return np.column_stack([z * np.cos(theta), z * np.sin(theta)])


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def haversine_many_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Vectorised ``haversine_m`` (numpy broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    h = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def polyline_length_m(coords: Iterable) -> float:
    """Length in metres of a (lon, lat) polyline, summed great-circle distances."""
    arr = _as_array(coords)
    if len(arr) < 2:
        return 0.0
    return float(haversine_many_m(arr[:-1, 0], arr[:-1, 1], arr[1:, 0], arr[1:, 1]).sum())


def main_axis(points: Iterable) -> np.ndarray:
    """Unit vector along the main direction of metric (x, y) points (their first principal
    component), pointing west→east, or south→north when the points spread mostly
    north–south: the order roads are listed in. (1, 0) for fewer than two points."""
    pts = np.asarray(points, dtype=float)
    if len(pts) < 2:
        return np.array([1.0, 0.0])
    _u, _s, vt = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)
    axis = vt[0]
    if abs(axis[0]) >= abs(axis[1]):
        return axis if axis[0] >= 0 else -axis
    return axis if axis[1] >= 0 else -axis
