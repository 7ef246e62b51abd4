"""Fitting a map view to a box: the one formula the wall and the dispatch map use."""
from __future__ import annotations

import math

import pytest

from dashboard.roads.basemap import view_for_bounds

CITY = (116.80, 35.90, 117.45, 36.45)


def _merc(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


@pytest.mark.parametrize("padding", [0.0, 0.04, 0.055])
@pytest.mark.parametrize("panel", [(560, 430), (1219, 760), (2438, 1520)])
def test_the_padded_box_fits_the_panel_and_fills_one_side(padding, panel):
    w, h = panel
    view = view_for_bounds(CITY, w, h, padding=padding)
    x0, y0, x1, y1 = CITY
    assert x0 < view["center"]["lon"] < x1 and y0 < view["center"]["lat"] < y1
    scale = 512 * 2 ** view["zoom"]     # pixels per world width
    grow = 1 + 2 * padding
    width_px = (x1 - x0) * grow / 360 * scale
    height_px = (_merc(y1) - _merc(y0)) * grow / (2 * math.pi) * scale
    assert width_px <= w * 1.001 and height_px <= h * 1.001
    assert max(width_px / w, height_px / h) == pytest.approx(1.0, abs=0.005)


def test_padding_is_the_margin_and_the_zoom_is_capped():
    bare = view_for_bounds(CITY, 560, 430, padding=0.0)
    dispatch = view_for_bounds(CITY, 560, 430, padding=0.055)
    # 5.5 % on each side is the dispatch map's margin of about 0.15 zoom levels
    assert bare["zoom"] - dispatch["zoom"] == pytest.approx(0.15, abs=0.01)
    assert view_for_bounds((117.0, 36.0, 117.0, 36.0), 560, 430)["zoom"] == 18.0
