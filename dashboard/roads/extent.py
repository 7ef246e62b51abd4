"""What the road network says about the city: its extent and districts, and the city
profile completed with them (``dashboard.city.CityProfile``).

The city's bounds are ``city_bbox`` when set, else the active network's extent plus
``dashboard.city.MARGIN_M``: importing a city's roads is enough for its records to be
accepted, and the demo's bounds never linger in another city.
"""
from __future__ import annotations

from typing import Any

from dashboard.city import Bbox, CityProfile, padded
from dashboard.settings import Settings


def network_bbox(network: Any) -> Bbox | None:
    """lon_min, lat_min, lon_max, lat_max of the network's segments; None without any."""
    if network is None or not len(network.segments):
        return None
    x0, y0, x1, y1 = (float(v) for v in network.segments.total_bounds)
    return (x0, y0, x1, y1)


def network_districts(network: Any) -> tuple[str, ...]:
    """District names of the network: its district polygons, else its segments' column."""
    if network is None:
        return ()
    names = [str(n) for n in network.districts["name"].tolist() if str(n or "").strip()]
    if not names and "district" in network.segments:
        names = sorted({str(d) for d in network.segments["district"].dropna() if str(d).strip()})
    return tuple(dict.fromkeys(names))


def city_profile(settings: Settings, network: Any) -> CityProfile:
    """The profile of ``settings`` with what it leaves unset taken from ``network``."""
    return CityProfile.from_settings(settings, network_bbox(network), network_districts(network))


def city_bbox(settings: Settings, network: Any) -> Bbox:
    """The city's bounds: ``settings.city_bbox``, else the network's extent plus a margin.
    ValueError when neither is known."""
    if settings.city_bbox is not None:
        return tuple(settings.city_bbox)
    box = network_bbox(network)
    if box is None:
        raise ValueError("no city_bbox is set and there is no road network to derive it from")
    return padded(box)
