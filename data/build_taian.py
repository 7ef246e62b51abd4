"""Generate the SCHEMATIC demo road network of 泰安 (Tai'an) in data/taian/.

No surveyed road geometry is available offline, so the roads are drawn here along real,
publicly known Tai'an road names at approximately the right places: the old city (泰山区)
in the north-east below Mount Tai, 岱岳区 to the west and south, 高新区 in the south-east.
Positions are approximate; the network is for demonstrating the dashboard, not navigation.

The output is deterministic (no randomness): run

    .venv/bin/python data/build_taian.py

and commit data/taian/roads.geojson, districts.geojson and gazetteer.json.

How it is built: every road is a gently curved polyline; where two roads cross, both are
split at the exact same (rounded) point, so crossing roads share a vertex. Dangling stubs
shorter than 250 m at road ends (the overshoot used to make T-junctions) are dropped,
and every piece between crossings is divided into segments of at most 450 m.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from pyproj import Geod
from shapely import LineString, MultiPolygon, Point, Polygon
from shapely.ops import substring, unary_union

OUT_DIR = Path(__file__).resolve().parent / "taian"
PRECISION = 6            # decimals of a degree (~0.1 m)
STEP_DEG = 0.0015        # vertex spacing of the drawn polylines (~140 m)
OVERSHOOT = 0.0015       # how far a road is drawn past the road it ends at (~150 m)
STUB_M = 250.0           # end pieces shorter than this are trimmed
MAX_SEGMENT_M = 450.0    # pieces between crossings are split into segments of at most this

GEOD = Geod(ellps="WGS84")

LANES = {"expressway": 6, "arterial": 6, "secondary": 4, "local": 2}


@dataclass
class Road:
    """One named road as drawn, before splitting."""
    name: str
    slug: str
    road_class: str
    axis: str                  # "EW" or "NS": the road's general orientation
    coords: list[tuple[float, float]]
    oneway: str = ""           # "" two-way, else the travel direction: EB/WB/NB/SB
    aliases: tuple[str, ...] = ()


# -- drawing helpers --------------------------------------------------------------------
X_REF, Y_REF = 117.10, 36.15   # slopes and wiggles are measured from here


def _wiggle(t: float, amp: float, period: float, phase: float) -> float:
    if amp == 0.0:
        return 0.0
    return amp * math.sin(2.0 * math.pi * t / period + phase)


@dataclass
class EW:
    """The shape of an east-west street: lat = y0 + slope * (lon - X_REF) + wiggle(lon)."""
    y0: float
    slope: float = 0.0
    amp: float = 0.0
    period: float = 0.08
    phase: float = 0.0

    def y_at(self, x: float) -> float:
        return self.y0 + self.slope * (x - X_REF) + _wiggle(x - X_REF, self.amp, self.period,
                                                            self.phase)


@dataclass
class NS:
    """The shape of a north-south road: lon = x0 + slope * (lat - Y_REF) + wiggle(lat)."""
    x0: float
    slope: float = 0.0
    amp: float = 0.0
    period: float = 0.07
    phase: float = 0.0

    def x_at(self, y: float) -> float:
        return self.x0 + self.slope * (y - Y_REF) + _wiggle(y - Y_REF, self.amp, self.period,
                                                            self.phase)


def huanshan_y(x: float) -> float:
    """环山路 follows the foot of Mount Tai in an arc, highest below 红门."""
    return 36.2155 - 2.0 * (x - 117.12) ** 2


# Expressways: control points (lon, lat), densified. G3 runs down the west side of the
# city, S31 leaves it eastwards towards 新泰 south of the built-up area.
G3_POINTS = [(117.032, 36.250), (117.026, 36.232), (117.020, 36.215), (117.015, 36.197),
             (117.012, 36.180), (117.0105, 36.160), (117.010, 36.140), (117.0115, 36.125),
             (117.012, 36.110), (117.009, 36.095), (117.004, 36.080)]
S31_POINTS = [(117.0105, 36.1103), (117.035, 36.1095), (117.060, 36.1085), (117.090, 36.1072),
              (117.120, 36.1055), (117.150, 36.1035), (117.180, 36.1010), (117.215, 36.0965),
              (117.250, 36.0920)]


def g3_x(y: float) -> float:
    """Longitude of G3京台高速 at latitude ``y`` (linear between control points)."""
    pts = sorted(G3_POINTS, key=lambda p: p[1])
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if y0 <= y <= y1:
            return x0 + (x1 - x0) * (y - y0) / (y1 - y0)
    raise ValueError(f"G3 is not drawn at latitude {y}")


# -- the streets -------------------------------------------------------------------------
# East-west 大街, north to south: shape, then where the street starts and ends (a lon, or the
# name of the north-south road it ends at).
STREETS: dict[str, EW] = {
    "岱宗大街": EW(36.2030, slope=0.004, amp=0.0004, period=0.07, phase=0.5),
    "东岳大街": EW(36.1955, slope=0.02, amp=0.0003, period=0.09, phase=1.0),
    "财源大街": EW(36.1850, slope=-0.005, amp=0.0005, period=0.06, phase=2.0),
    "灵山大街": EW(36.1760, amp=0.0006, period=0.09, phase=0.2),
    "泰山大街": EW(36.1670, slope=0.006, amp=0.0004, period=0.11, phase=3.0),
    "擂鼓石大街": EW(36.1575, slope=-0.004, amp=0.0005, period=0.07, phase=1.7),
    "南湖大街": EW(36.1490, amp=0.0005, period=0.05, phase=0.9),
    "泮河大街": EW(36.1395, slope=-0.01, amp=0.0012, period=0.07, phase=2.5),
    "泰玻大街": EW(36.1290, slope=0.012, amp=0.0004, period=0.08, phase=0.0),
    "南天门大街": EW(36.1200, amp=0.0003, period=0.05, phase=1.2),
}
STREET_ENDS: dict[str, tuple[str | float, str | float]] = {
    "岱宗大街": ("长城路", "天烛峰路"),
    "东岳大街": ("G3京台高速", 117.2255),
    "财源大街": ("长城路", "天烛峰路"),
    "灵山大街": ("长城路", "博阳路"),
    "泰山大街": ("G3京台高速", 117.2255),
    "擂鼓石大街": ("长城路", "博阳路"),
    "南湖大街": ("迎胜路", "岱道庵路"),
    "泮河大街": ("G3京台高速", "博阳路"),
    "泰玻大街": ("长城路", "博阳路"),
    "南天门大街": ("温泉路", "博阳路"),
}

# North-south 路, west to east: shape, then from (south) and to (north): a lat, or the
# name of the east-west road it ends at.
ROADS_NS: dict[str, NS] = {
    "长城路": NS(117.040, slope=0.03, amp=0.0004, period=0.08, phase=0.3),
    "傲徕峰路": NS(117.052, amp=0.0003, period=0.05, phase=1.1),
    "迎胜路": NS(117.065, slope=-0.02, amp=0.0004, period=0.07),
    "华新路": NS(117.0775, amp=0.0002, period=0.04, phase=2.2),
    "龙潭路": NS(117.089, amp=0.0009, period=0.09, phase=0.6),
    "普照寺路": NS(117.098, slope=-0.05, amp=0.0002, period=0.04),
    "泰山大道": NS(117.100, slope=0.03, amp=0.0005, period=0.1, phase=1.4),
    "青年路": NS(117.108, amp=0.0003, period=0.06, phase=2.9),
    "通天街": NS(117.1195),
    "红门路": NS(117.127, slope=-0.03, amp=0.0002, period=0.05),
    "仓库路": NS(117.133, amp=0.0003, period=0.05, phase=0.4),
    "温泉路": NS(117.141, amp=0.0003, period=0.06, phase=1.9),
    "虎山路": NS(117.150, slope=0.03, amp=0.0003, period=0.05),
    "岱道庵路": NS(117.159, amp=0.0003, period=0.06, phase=0.8),
    "望岳西路": NS(117.167, amp=0.0003, period=0.07, phase=2.4),
    "望岳东路": NS(117.176, amp=0.0004, period=0.08, phase=1.0),
    "明堂路": NS(117.186, amp=0.0003, period=0.06, phase=0.1),
    "天烛峰路": NS(117.197, slope=0.02, amp=0.0004, period=0.07),
    "博阳路": NS(117.212, slope=-0.04, amp=0.0004, period=0.09, phase=1.6),
}
ROAD_ENDS: dict[str, tuple[str | float, str | float]] = {
    "长城路": (36.1000, "岱宗大街"),
    "傲徕峰路": ("泰玻大街", "岱宗大街"),
    "迎胜路": ("泰玻大街", "环山路"),
    "华新路": ("泰山大街", "东岳大街"),
    "龙潭路": ("泮河大街", 36.2170),          # north end at 天外村
    "普照寺路": ("东岳大街", 36.2230),        # north end at 普照寺
    "泰山大道": (36.0850, "泰山大街"),
    "青年路": ("南湖大街", "环山路"),
    "通天街": ("财源大街", "东岳大街"),
    "红门路": ("灵山大街", 36.2195),          # north end at 红门
    "仓库路": ("泮河大街", "财源大街"),
    "温泉路": ("擂鼓石大街", 36.2180),        # north end at 王母池
    "虎山路": ("泰山大街", "环山路"),
    "岱道庵路": ("南湖大街", "岱宗大街"),
    "望岳西路": ("南天门大街", "岱宗大街"),
    "望岳东路": (36.0980, "环山路"),
    "明堂路": ("泰玻大街", "环山路"),
    "天烛峰路": ("南天门大街", "岱宗大街"),
    "博阳路": (36.0900, "东岳大街"),
}
HUANSHAN_X = (117.058, 117.1875)


def _street_y(street: str, x: float) -> float:
    return huanshan_y(x) if street == "环山路" else STREETS[street].y_at(x)


def _road_x(road: str, y: float) -> float:
    return g3_x(y) if road == "G3京台高速" else ROADS_NS[road].x_at(y)


def _crossing(street: str, road: str) -> tuple[float, float]:
    """Where an east-west street meets a north-south road (fixed-point iteration)."""
    x = _road_x(road, 36.17)
    for _ in range(50):
        y = _street_y(street, x)
        x = _road_x(road, y)
    return x, _street_y(street, x)


def _steps(a: float, b: float) -> list[float]:
    n = max(2, int(math.ceil(abs(b - a) / STEP_DEG)) + 1)
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def street_coords(name: str) -> list[tuple[float, float]]:
    """A street drawn from OVERSHOOT before its west end to OVERSHOOT past its east end."""
    west, east = STREET_ENDS[name]
    x0 = _crossing(name, west)[0] - OVERSHOOT if isinstance(west, str) else west
    x1 = _crossing(name, east)[0] + OVERSHOOT if isinstance(east, str) else east
    return [(x, STREETS[name].y_at(x)) for x in _steps(x0, x1)]


def road_coords(name: str) -> list[tuple[float, float]]:
    """A north-south road drawn from OVERSHOOT below its south end to past its north end."""
    south, north = ROAD_ENDS[name]
    y0 = _crossing(south, name)[1] - OVERSHOOT if isinstance(south, str) else south
    y1 = _crossing(north, name)[1] + OVERSHOOT if isinstance(north, str) else north
    return [(ROADS_NS[name].x_at(y), y) for y in _steps(y0, y1)]


# (name, slug, class, one-way travel direction or "", aliases)
ROAD_INFO: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "东岳大街": ("dongyue-dajie", "arterial", "", ("东岳街", "Dongyue Dajie")),
    "泰山大街": ("taishan-dajie", "arterial", "", ("Taishan Dajie",)),
    "灵山大街": ("lingshan-dajie", "arterial", "", ("灵山街", "Lingshan Dajie")),
    "岱宗大街": ("daizong-dajie", "arterial", "", ("岱宗街", "Daizong Dajie")),
    "财源大街": ("caiyuan-dajie", "arterial", "", ("财源街", "Caiyuan Dajie")),
    "擂鼓石大街": ("leigushi-dajie", "arterial", "", ("擂鼓石街", "Leigushi Dajie")),
    "泮河大街": ("panhe-dajie", "arterial", "", ("泮河街", "Panhe Dajie")),
    "泰玻大街": ("taibo-dajie", "secondary", "", ("泰玻街", "Taibo Dajie")),
    "南湖大街": ("nanhu-dajie", "secondary", "", ("南湖街", "Nanhu Dajie")),
    "南天门大街": ("nantianmen-dajie", "secondary", "", ("南天门街", "Nantianmen Dajie")),
    "环山路": ("huanshan-lu", "secondary", "", ("Huanshan Lu",)),
    "长城路": ("changcheng-lu", "arterial", "", ("Changcheng Lu",)),
    "傲徕峰路": ("aolaifeng-lu", "secondary", "", ("Aolaifeng Lu",)),
    "迎胜路": ("yingsheng-lu", "arterial", "", ("Yingsheng Lu",)),
    "华新路": ("huaxin-lu", "local", "SB", ("Huaxin Lu",)),
    "龙潭路": ("longtan-lu", "arterial", "", ("Longtan Lu",)),
    "普照寺路": ("puzhaosi-lu", "local", "", ("Puzhaosi Lu",)),
    "泰山大道": ("taishan-dadao", "arterial", "", ("Taishan Dadao",)),
    "青年路": ("qingnian-lu", "arterial", "", ("Qingnian Lu",)),
    "通天街": ("tongtian-jie", "local", "NB", ("Tongtian Jie",)),
    "红门路": ("hongmen-lu", "secondary", "", ("Hongmen Lu",)),
    "仓库路": ("cangku-lu", "local", "", ("Cangku Lu",)),
    "温泉路": ("wenquan-lu", "arterial", "", ("Wenquan Lu",)),
    "虎山路": ("hushan-lu", "secondary", "", ("Hushan Lu",)),
    "岱道庵路": ("daidaoan-lu", "secondary", "", ("Daidaoan Lu",)),
    "望岳西路": ("wangyue-xilu", "secondary", "", ("Wangyue Xilu",)),
    "望岳东路": ("wangyue-donglu", "arterial", "", ("Wangyue Donglu",)),
    "明堂路": ("mingtang-lu", "secondary", "", ("Mingtang Lu",)),
    "天烛峰路": ("tianzhufeng-lu", "secondary", "", ("Tianzhufeng Lu",)),
    "博阳路": ("boyang-lu", "secondary", "", ("Boyang Lu",)),
    "G3京台高速": ("g3-jingtai-gaosu", "expressway", "",
                  ("京台高速", "京台高速公路", "G3", "G3高速", "G3京台高速公路", "Jingtai Expressway")),
    "S31泰新高速": ("s31-taixin-gaosu", "expressway", "",
                   ("泰新高速", "泰新高速公路", "S31", "S31高速", "S31泰新高速公路",
                    "Taixin Expressway")),
}


def _densify(points: list[tuple[float, float]],
             step: float = STEP_DEG) -> list[tuple[float, float]]:
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(math.ceil(math.hypot(x1 - x0, y1 - y0) / step)))
        out.extend((x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1))
    return out


def all_roads() -> list[Road]:
    """Every road as drawn (with overshoot), in a fixed order."""
    drawn: dict[str, tuple[str, list[tuple[float, float]]]] = {}
    drawn["环山路"] = ("EW", [(x, huanshan_y(x)) for x in _steps(*HUANSHAN_X)])
    for name in STREETS:
        drawn[name] = ("EW", street_coords(name))
    for name in ROADS_NS:
        drawn[name] = ("NS", road_coords(name))
    drawn["G3京台高速"] = ("NS", _densify(G3_POINTS))
    drawn["S31泰新高速"] = ("EW", _densify(S31_POINTS))
    roads = []
    for name, (axis, coords) in drawn.items():
        slug, cls, oneway, aliases = ROAD_INFO[name]
        if oneway in ("SB", "WB"):
            coords = coords[::-1]  # geometry runs in the travel direction
        roads.append(Road(name, slug, cls, axis, coords, oneway, aliases))
    return roads


# -- splitting ---------------------------------------------------------------------------
def _rounded(p: tuple[float, float]) -> tuple[float, float]:
    return (round(p[0], PRECISION), round(p[1], PRECISION))


def crossings(roads: list[Road]) -> dict[str, list[tuple[float, float]]]:
    """Rounded crossing points of every pair of roads, listed under both roads."""
    lines = {r.name: LineString(r.coords) for r in roads}
    cuts: dict[str, list[tuple[float, float]]] = {r.name: [] for r in roads}
    names = [r.name for r in roads]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            inter = lines[a].intersection(lines[b])
            if inter.is_empty:
                continue
            if inter.geom_type not in ("Point", "MultiPoint"):
                raise ValueError(f"{a} and {b} overlap ({inter.geom_type})")
            pts = [inter] if inter.geom_type == "Point" else list(inter.geoms)
            for p in pts:
                q = _rounded((p.x, p.y))
                cuts[a].append(q)
                cuts[b].append(q)
    return cuts


def cut_line(coords: list[tuple[float, float]],
             points: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Split a polyline at ``points`` (which lie on it), inserting each point exactly."""
    line = LineString(coords)
    cum = [0.0]
    for (x0, y0), (x1, y1) in zip(coords, coords[1:]):
        cum.append(cum[-1] + math.hypot(x1 - x0, y1 - y0))
    at = sorted((line.project(Point(p)), p) for p in set(points))
    pieces: list[list[tuple[float, float]]] = []
    current = [coords[0]]
    k = 1  # next original vertex to consider
    for d, p in at:
        while k < len(coords) and cum[k] < d:
            current.append(coords[k])
            k += 1
        current.append(p)
        pieces.append(current)
        current = [p]
        while k < len(coords) and cum[k] <= d:
            k += 1  # a vertex at the cut point itself is replaced by the point
    current.extend(coords[k:])
    pieces.append(current)
    return [_clean(pc) for pc in pieces if len(_clean(pc)) >= 2]


def _clean(coords: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for c in coords:
        c = _rounded(c)
        if not out or out[-1] != c:
            out.append(c)
    return out


def length_m(coords: list[tuple[float, float]]) -> float:
    return float(GEOD.geometry_length(LineString(coords)))


def subdivide(coords: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Equal parts of at most MAX_SEGMENT_M; the piece's own end points are kept exactly."""
    total = length_m(coords)
    n = max(1, int(math.ceil(total / MAX_SEGMENT_M)))
    if n == 1:
        return [coords]
    line = LineString(coords)
    parts = []
    for i in range(n):
        part = substring(line, i / n, (i + 1) / n, normalized=True)
        pc = _clean(list(part.coords))
        if i == 0:
            pc[0] = coords[0]
        if i == n - 1:
            pc[-1] = coords[-1]
        parts.append(pc)
    # consecutive parts share their cut point exactly
    for i in range(1, n):
        parts[i][0] = parts[i - 1][-1]
    return parts


# -- districts ---------------------------------------------------------------------------
BOX = (116.95, 36.04, 117.30, 36.30)
TAISHAN = Polygon([(117.0692, 36.30), (117.30, 36.30), (117.30, 36.1612), (117.1455, 36.1612),
                   (117.1180, 36.1608), (117.0905, 36.1603), (117.0815, 36.1718),
                   (117.0712, 36.1905), (117.0718, 36.2150)])
GAOXIN = Polygon([(117.1455, 36.1612), (117.30, 36.1612), (117.30, 36.04), (117.1455, 36.04),
                  (117.1440, 36.0900), (117.1470, 36.1300)])
DISTRICTS = [("泰山区", "370902", TAISHAN), ("岱岳区", "370911", None),
             ("高新区", "370971", GAOXIN)]


def district_polygons() -> list[tuple[str, str, Polygon | MultiPolygon]]:
    """泰山区 and 高新区 as drawn; 岱岳区 is the rest of the box, so there are no gaps."""
    box = Polygon([(BOX[0], BOX[1]), (BOX[2], BOX[1]), (BOX[2], BOX[3]), (BOX[0], BOX[3])])
    daiyue = box.difference(unary_union([TAISHAN, GAOXIN]))
    out = []
    for name, code, poly in DISTRICTS:
        out.append((name, code, daiyue if poly is None else poly))
    return out


def district_of(p: Point, polys: list[tuple[str, str, Polygon | MultiPolygon]]) -> str:
    for name, _code, poly in polys:
        if poly.covers(p):
            return name
    raise ValueError(f"point {p} outside every district")


# -- gazetteer ---------------------------------------------------------------------------
LANDMARKS: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "泰安站": (117.0868, 36.1838, ("泰安火车站",)),
    "岱庙": (117.1210, 36.1985, ("岱庙景区", "岱庙正阳门")),
    "红门": (117.1265, 36.2190, ("红门游客中心", "红门景区")),
    "天外村": (117.0893, 36.2160, ("天外村广场", "天外村游客中心")),
    "天地广场": (117.1280, 36.2140, ()),
    "普照寺": (117.0978, 36.2222, ()),
    "王母池": (117.1418, 36.2170, ("王母池景区",)),
    "山东农业大学": (117.1100, 36.2045, ("山农大", "山东农大")),
    "山东第一医科大学": (117.0675, 36.1775, ("泰山医学院", "山一大")),
    "泰山学院": (117.1700, 36.1985, ()),
    "泰安市中心医院": (117.0915, 36.1990, ("市中心医院",)),
    "万达广场": (117.1110, 36.1680, ("泰安万达广场", "泰安万达")),
    "银座商城": (117.1150, 36.1960, ("泰安银座",)),
    "泰山区政府": (117.1330, 36.1880, ("泰山区人民政府",)),
    "岱岳区政府": (117.0420, 36.1700, ("岱岳区人民政府",)),
}


def gazetteer(roads: list[Road]) -> dict:
    """Road aliases/classes and landmarks with their aliases."""
    return {
        "note": "SCHEMATIC demo data generated by data/build_taian.py; positions approximate.",
        "roads": {r.name: {"aliases": list(r.aliases), "class": r.road_class} for r in roads},
        "landmarks": {name: {"lon": lon, "lat": lat, "aliases": list(al)}
                      for name, (lon, lat, al) in LANDMARKS.items()},
    }


# -- output ------------------------------------------------------------------------------
def build_segments(roads: list[Road]) -> list[dict]:
    """GeoJSON features, one per segment."""
    cuts = crossings(roads)
    polys = district_polygons()
    features = []
    for road in roads:
        pieces = cut_line(road.coords, cuts[road.name])
        if len(pieces) > 1 and length_m(pieces[0]) < STUB_M:
            pieces = pieces[1:]
        if len(pieces) > 1 and length_m(pieces[-1]) < STUB_M:
            pieces = pieces[:-1]
        segments = [part for piece in pieces for part in subdivide(piece)]
        direction = road.oneway or road.axis
        for k, coords in enumerate(segments, start=1):
            line = LineString(coords)
            mid = line.interpolate(0.5, normalized=True)
            props = {
                "segment_id": f"{road.slug}-{k:03d}",
                "road_name": road.name,
                "road_class": road.road_class,
                "oneway": bool(road.oneway),
                "direction": direction,
                "district": district_of(mid, polys),
                "length_m": round(length_m(coords), 1),
                "lanes": LANES[road.road_class] // (2 if road.oneway else 1),
            }
            features.append({"type": "Feature", "properties": props,
                             "geometry": {"type": "LineString",
                                          "coordinates": [list(c) for c in coords]}})
    return features


def _polygon_coords(poly: Polygon) -> list:
    rings = [poly.exterior] + list(poly.interiors)
    return [[[round(x, PRECISION), round(y, PRECISION)] for x, y in ring.coords] for ring in rings]


def write_feature_collection(path: Path, name: str, features: list[dict]) -> None:
    """Compact GeoJSON, one feature per line (readable diffs)."""
    dump = lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":"))  # noqa: E731
    lines = [f'{{"type":"FeatureCollection","name":{dump(name)},"features":[']
    lines.append(",\n".join(dump(f) for f in features))
    lines.append("]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    roads = all_roads()
    features = build_segments(roads)
    write_feature_collection(OUT_DIR / "roads.geojson", "taian_roads_schematic", features)
    district_features = []
    for name, code, poly in district_polygons():
        geom = ({"type": "Polygon", "coordinates": _polygon_coords(poly)}
                if poly.geom_type == "Polygon" else
                {"type": "MultiPolygon", "coordinates": [_polygon_coords(p) for p in poly.geoms]})
        district_features.append({"type": "Feature", "properties": {"name": name, "code": code},
                                  "geometry": geom})
    write_feature_collection(OUT_DIR / "districts.geojson", "taian_districts_schematic",
                             district_features)
    (OUT_DIR / "gazetteer.json").write_text(
        json.dumps(gazetteer(roads), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    total_km = sum(f["properties"]["length_m"] for f in features) / 1000
    print(f"{len(features)} segments, {len(roads)} roads, {total_km:.1f} km -> {OUT_DIR}")


if __name__ == "__main__":
    main()
