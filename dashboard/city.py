"""The city profile: who and where the install serves, in one object.

Built from the settings (``dashboard.settings``: city, city_name, city_code, timezone,
city_bbox, hashtags, sms_signature, weibo_accounts, districts) and, for what the settings
leave unset, from the active road network: its extent plus a margin is the city's bounds,
its districts the district names (``dashboard.roads.extent.city_profile`` passes them in;
this module knows no network). Everything that used to say 泰安 outside the demo profile
reads this instead: the comms drafts' topics and signature, the Weibo adapter's own
accounts, the time zone of every local time.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.settings import DEMO_CITY, Settings
from dashboard.timeutil import zone

Bbox = tuple[float, float, float, float]
# what the derived bounds add around the network: a record a little beyond the last road
# (an alert at the edge, a caller on the ring road) is still the city's
MARGIN_M = 5000.0
M_PER_DEG_LAT = 111_320.0
CHINA_BBOX: Bbox = (73.5, 18.0, 135.1, 53.6)


def split_names(text: str) -> tuple[str, ...]:
    """Names from a comma, 、 or whitespace separated setting, without # and @ marks."""
    parts = re.split(r"[,，、;；\s]+", text or "")
    return tuple(dict.fromkeys(p.strip().strip("#@") for p in parts if p.strip().strip("#@")))


def padded(bbox: Bbox, margin_m: float = MARGIN_M) -> Bbox:
    """``bbox`` grown by ``margin_m`` metres on every side."""
    x0, y0, x1, y1 = bbox
    dlat = margin_m / M_PER_DEG_LAT
    mid = math.radians((y0 + y1) / 2)
    dlon = margin_m / (M_PER_DEG_LAT * max(0.05, math.cos(mid)))
    return (round(max(-180.0, x0 - dlon), 6), round(max(-90.0, y0 - dlat), 6),
            round(min(180.0, x1 + dlon), 6), round(min(90.0, y1 + dlat), 6))


def covers(outer: Bbox, inner: Bbox) -> bool:
    """Whether ``outer`` contains all of ``inner``."""
    return (outer[0] <= inner[0] and outer[1] <= inner[1]
            and outer[2] >= inner[2] and outer[3] >= inner[3])


def inside(bbox: Bbox, lon: float, lat: float) -> bool:
    return bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


@dataclass(frozen=True)
class CityProfile:
    """One city: its id (the Redis hash tag), name, 行政区划代码, time zone, bounds,
    comms identity and districts, each with where it came from."""

    city: str
    name: str
    code: str
    timezone: str
    bbox: Bbox | None                # None: not set and no network to derive it from
    bbox_source: str                 # "settings", "network" or ""
    hashtags: tuple[str, ...]
    sms_signature: str
    weibo_accounts: tuple[str, ...]
    districts: tuple[str, ...]
    districts_source: str            # "settings", "network" or ""

    @classmethod
    def from_settings(cls, settings: Settings, network_bbox: Bbox | None = None,
                      network_districts: tuple[str, ...] = ()) -> "CityProfile":
        """The profile of ``settings``; an unset bbox is ``network_bbox`` plus MARGIN_M,
        unset districts are ``network_districts``."""
        if settings.city_bbox is not None:
            bbox, bbox_source = tuple(settings.city_bbox), "settings"
        elif network_bbox is not None:
            bbox, bbox_source = padded(network_bbox), "network"
        else:
            bbox, bbox_source = None, ""
        districts = split_names(settings.districts)
        source = "settings" if districts else ("network" if network_districts else "")
        return cls(city=settings.city, name=settings.city_name or settings.city,
                   code=settings.city_code, timezone=settings.timezone, bbox=bbox,
                   bbox_source=bbox_source, hashtags=split_names(settings.hashtags),
                   sms_signature=settings.sms_signature.strip(),
                   weibo_accounts=split_names(settings.weibo_accounts),
                   districts=districts or tuple(network_districts), districts_source=source)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def is_demo(self) -> bool:
        return self.city == DEMO_CITY

    @property
    def issuer(self) -> str:
        """Who signs: the SMS signature without its brackets (泰安交警), else 交警."""
        return self.sms_signature.strip("【】[] ") or f"{self.name}交警"

    def to_dict(self) -> dict[str, Any]:
        return {"city": self.city, "name": self.name, "code": self.code,
                "timezone": self.timezone, "bbox": list(self.bbox) if self.bbox else None,
                "bbox_source": self.bbox_source, "hashtags": list(self.hashtags),
                "sms_signature": self.sms_signature,
                "weibo_accounts": list(self.weibo_accounts), "districts": list(self.districts),
                "districts_source": self.districts_source}


def fallback_bbox(settings: Settings) -> Bbox:
    """Where a map looks when the road network did not load: ``city_bbox``, else China."""
    return tuple(settings.city_bbox) if settings.city_bbox is not None else CHINA_BBOX


def issuer_of(settings: Settings) -> str:
    """``CityProfile.issuer`` from the settings alone."""
    return CityProfile.from_settings(settings).issuer
