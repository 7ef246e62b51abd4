"""Road classes: what an imported attribute value means for the wall and the locator.

The network has four classes (``ROAD_CLASSES``); the map draws and labels by them
(``roads.basemap.road_rank``: arterial and above get a name label, expressways the widest
line). An import maps its source's values onto them with one table, ``ClassMap``:

- OpenStreetMap ``highway=*`` (and Geofabrik's ``fclass``): motorway, trunk → expressway;
  primary → arterial; secondary, tertiary → secondary; unclassified, residential, service,
  living_street, road, busway → local; ``*_link`` as its parent; footway, cycleway, path,
  steps, track … are not roads for the command centre ("skip").
- Chinese road grades: 城市道路 (GB/T 51328, CJJ 37) 高速公路/快速路 → expressway, 主干路 →
  arterial, 次干路 → secondary, 支路 → local; 公路 technical grades (JTG B01) 一级公路 →
  arterial, 二级公路 → secondary, 三级/四级/等外公路 → local; administrative grades 国道/省道
  → arterial, 县道 → secondary, 乡道/村道 → local; 匝道 → expressway, 辅路 → secondary. A
  value not in the table that contains 人行 or 步行 is no road; one that contains 辅路, 高速,
  快速, 主干, 次干 or 支路 takes that class ("城市快速路（高架）", "高速公路辅路").
- The project's own values (expressway, arterial, secondary, local) as themselves.

A TOML or JSON file (``roads import --class-map FILE``, setting ``roads_class_map``) adds to
or overrides the table and names more attribute fields to look in::

    class_fields = ["RDLEVEL"]          # tried before the built-in names
    name_fields = ["RNAME"]
    [classes]                           # value → expressway | arterial | secondary | local | skip
    "城市快速路" = "expressway"
    "41000" = "arterial"
"""
from __future__ import annotations

import json
import math
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

ROAD_CLASSES = ("expressway", "arterial", "secondary", "local")
SKIP = "skip"        # a value that is not a road (footway, 人行道): the feature is dropped

OSM_CLASSES: dict[str, str] = {
    "motorway": "expressway", "trunk": "expressway",
    "primary": "arterial",
    "secondary": "secondary", "tertiary": "secondary",
    "unclassified": "local", "residential": "local", "living_street": "local",
    "road": "local", "service": "local", "busway": "local",
}
OSM_NOT_ROADS = ("footway", "pedestrian", "path", "cycleway", "steps", "bridleway", "track",
                 "track_grade1", "track_grade2", "track_grade3", "track_grade4",
                 "track_grade5", "corridor", "sidewalk", "crossing", "platform", "elevator",
                 "construction", "proposed", "abandoned", "disused", "raceway", "escape",
                 "bus_guideway", "via_ferrata", "unknown")
CHINESE_CLASSES: dict[str, str] = {
    # 城市道路等级 (GB/T 51328-2018, CJJ 37)
    "高速公路": "expressway", "高速": "expressway", "城市高速": "expressway",
    "城市高速公路": "expressway", "快速路": "expressway", "城市快速路": "expressway",
    "快速干道": "expressway", "快速公路": "expressway",
    "主干路": "arterial", "主干道": "arterial", "城市主干路": "arterial", "主干": "arterial",
    "次干路": "secondary", "次干道": "secondary", "城市次干路": "secondary", "次干": "secondary",
    "支路": "local", "城市支路": "local", "街坊路": "local", "小区路": "local",
    "内部道路": "local", "其他道路": "local", "其它道路": "local",
    # 公路技术等级 (JTG B01)
    "一级公路": "arterial", "二级公路": "secondary", "三级公路": "local", "四级公路": "local",
    "等外公路": "local",
    # 行政等级
    "国道": "arterial", "省道": "arterial", "县道": "secondary", "乡道": "local",
    "村道": "local", "专用公路": "local",
    # parts of a road
    "匝道": "expressway", "辅路": "secondary",
    # not for vehicles
    "人行道": SKIP, "步行道": SKIP, "步行街": SKIP, "自行车道": SKIP, "非机动车道": SKIP,
    "绿道": SKIP, "登山道": SKIP,
}
# a value not in the table that contains one of these words, first match wins
KEYWORDS: tuple[tuple[str, str], ...] = (("人行", SKIP), ("步行", SKIP), ("辅路", "secondary"),
                                         ("高速", "expressway"), ("快速", "expressway"),
                                         ("主干", "arterial"), ("次干", "secondary"),
                                         ("支路", "local"), ("匝道", "expressway"))
# attribute names, case-insensitive, first present wins
CLASS_FIELDS = ("road_class", "道路等级", "路网等级", "道路级别", "公路等级", "技术等级",
                "等级", "道路类型", "道路类别", "dldj", "grade", "fclass", "highway", "class",
                "roadclass", "road_type", "kind", "type")
NAME_FIELDS = ("road_name", "name:zh", "name_zh", "name:zh-hans", "道路名称", "路名", "名称",
               "道路名", "dlmc", "name", "roadname", "road_nm", "mc", "road", "street")
# columns holding OSM highway values: a value that is not in the table is not a road
OSM_FIELDS = ("highway", "fclass")


class ClassMapError(ValueError):
    """A class-map file that cannot be used; the message names the file and the entry."""


def value_key(value: Any) -> str:
    """Comparison form of an attribute value: NFKC, no whitespace, case-folded; integral
    numbers without ".0"; "" for None/NaN."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            value = int(value)
    try:
        if value != value:      # pandas NA and friends
            return ""
    except (TypeError, ValueError):
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(text.split()).casefold()


def _default_values() -> dict[str, str]:
    values: dict[str, str] = {c: c for c in ROAD_CLASSES}
    for key, cls in OSM_CLASSES.items():
        values[key] = cls
        values[f"{key}_link"] = cls
    for key in OSM_NOT_ROADS:
        values[key] = SKIP
    values.update({value_key(k): v for k, v in CHINESE_CLASSES.items()})
    return values


@dataclass(frozen=True)
class ClassMap:
    """Attribute value → road class, and the attribute names to look for."""

    values: Mapping[str, str] = field(default_factory=_default_values)
    keywords: tuple[tuple[str, str], ...] = KEYWORDS
    class_fields: tuple[str, ...] = CLASS_FIELDS
    name_fields: tuple[str, ...] = NAME_FIELDS
    source: str = "built-in"

    def classify(self, value: Any) -> str | None:
        """The class of a value, ``SKIP`` for what is not a road, None when the value is
        empty or unknown."""
        key = value_key(value)
        if not key:
            return None
        cls = self.values.get(key)
        if cls is not None:
            return cls
        for word, kw_cls in self.keywords:
            if word in key:
                return kw_cls
        return None


DEFAULT_CLASS_MAP = ClassMap()


def normalise_class(value: Any) -> str:
    """One of ``ROAD_CLASSES`` for a stored or hand-made value (``local`` when unknown)."""
    cls = DEFAULT_CLASS_MAP.classify(value)
    return cls if cls in ROAD_CLASSES else "local"


def _names(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    raw = data.get(key, [])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        raise ClassMapError(f"{where}: {key} must be a list of attribute names")
    return tuple(v.strip() for v in raw)


def load_class_map(path: str | Path) -> ClassMap:
    """The built-in map with a TOML or JSON file's ``[classes]`` entries and field names
    added in front (the file wins)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ClassMapError(f"class map {p}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ClassMapError(f"class map {p}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ClassMapError(f"class map {p}: expected a table/object at the top")
    unknown = set(data) - {"classes", "class_fields", "name_fields"}
    if unknown:
        raise ClassMapError(f"class map {p}: unknown keys {sorted(unknown)} "
                            "(expected classes, class_fields, name_fields)")
    table = data.get("classes", {})
    if not isinstance(table, dict):
        raise ClassMapError(f"class map {p}: classes must be a table of value = class")
    values = dict(DEFAULT_CLASS_MAP.values)
    allowed = (*ROAD_CLASSES, SKIP)
    for raw, cls in table.items():
        if not isinstance(cls, str) or cls.strip().lower() not in allowed:
            raise ClassMapError(f"class map {p}: {raw!r} = {cls!r}: the class must be one of "
                                f"{', '.join(allowed)}")
        key = value_key(raw)
        if not key:
            raise ClassMapError(f"class map {p}: an empty value cannot be mapped")
        values[key] = cls.strip().lower()
    extra_class = _names(data, "class_fields", f"class map {p}")
    extra_name = _names(data, "name_fields", f"class map {p}")
    return ClassMap(values=values,
                    class_fields=extra_class + tuple(f for f in CLASS_FIELDS
                                                     if f not in extra_class),
                    name_fields=extra_name + tuple(f for f in NAME_FIELDS
                                                   if f not in extra_name),
                    source=str(p))
