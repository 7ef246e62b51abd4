"""GCJ-02 <-> WGS-84 conversion and great-circle distances."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from dashboard.roads.geo import (
    gcj02_to_wgs84, gcj02_to_wgs84_many, haversine_m, out_of_china, polyline_length_m,
    wgs84_to_gcj02, wgs84_to_gcj02_many,
)

# China's mainland box, well inside the providers' shift box
china_lon = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)


@hsettings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_round_trip_wgs_gcj_wgs_below_one_metre(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert haversine_m(lon, lat, *back) < 1.0


@hsettings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_round_trip_gcj_wgs_gcj_below_one_metre(lon, lat):
    again = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert haversine_m(lon, lat, *again) < 1.0


@hsettings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_shift_inside_china_is_tens_to_hundreds_of_metres(lon, lat):
    shifted = wgs84_to_gcj02(lon, lat)
    assert 1.0 < haversine_m(lon, lat, *shifted) < 1500.0


def test_known_vector():
    # the test vector published with the widely used "eviltransform" ports
    lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)
    assert lon == pytest.approx(121.531541859215, abs=1e-9)
    assert lat == pytest.approx(31.17530398364597, abs=1e-9)


def test_offset_near_taian_is_a_few_hundred_metres_east():
    lon, lat = 117.09, 36.19
    glon, glat = wgs84_to_gcj02(lon, lat)
    d = haversine_m(lon, lat, glon, glat)
    assert 100.0 < d < 700.0
    assert glon > lon  # GCJ-02 is shifted east here
    # and the inverse brings a provider's coordinate back onto the WGS-84 map
    back = gcj02_to_wgs84(glon, glat)
    assert haversine_m(lon, lat, *back) < 0.01


@pytest.mark.parametrize("lon, lat", [(2.35, 48.85), (-74.0, 40.7), (151.2, -33.9),
                                      (139.7, 60.0), (60.0, 30.0)])
def test_out_of_china_passthrough(lon, lat):
    assert out_of_china(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_out_of_china_inside():
    assert not out_of_china(117.09, 36.19)
    assert not out_of_china(121.47, 31.23)


def test_vectorised_matches_scalar():
    pts = [(117.09, 36.19), (121.5, 31.2), (2.35, 48.85), (104.06, 30.67), (116.4, 39.9)]
    fwd = wgs84_to_gcj02_many(pts)
    for (lon, lat), got in zip(pts, fwd):
        assert tuple(got) == pytest.approx(wgs84_to_gcj02(lon, lat), abs=1e-12)
    inv = gcj02_to_wgs84_many(fwd)
    for (lon, lat), got in zip(pts, inv):
        assert haversine_m(lon, lat, got[0], got[1]) < 0.01
    assert gcj02_to_wgs84_many([]).shape == (0, 2)
    # the input is not modified in place
    arr = np.array(pts)
    gcj02_to_wgs84_many(arr)
    assert arr.tolist() == [list(p) for p in pts]


def test_vectorised_rejects_bad_shape():
    with pytest.raises(ValueError):
        gcj02_to_wgs84_many([1.0, 2.0, 3.0])


def test_haversine():
    assert haversine_m(117.0, 36.0, 117.0, 36.0) == 0.0
    # one degree of latitude is ~111.2 km
    assert haversine_m(117.0, 36.0, 117.0, 37.0) == pytest.approx(111_195, rel=1e-3)
    # one degree of longitude at 36° N is cos(36°) of that
    assert haversine_m(117.0, 36.0, 118.0, 36.0) == pytest.approx(
        111_195 * math.cos(math.radians(36.0)), rel=2e-3)
    assert haversine_m(0, 0, 180, 0) == pytest.approx(math.pi * 6371008.8, rel=1e-9)


def test_polyline_length():
    assert polyline_length_m([(117.0, 36.0)]) == 0.0
    line = [(117.0, 36.0), (117.0, 36.5), (117.0, 37.0)]
    assert polyline_length_m(line) == pytest.approx(haversine_m(117.0, 36.0, 117.0, 37.0))
