"""The seeded world of the demo upstream (泰安): traffic, incidents, roadworks, reports, units.

Everything the simulator serves is a pure function of (seed, scenario, simulated time):
time is cut into slots, and each slot's incidents, jams and reports come from their own
``random.Random`` seeded with (seed, stream, slot). Restarting the simulator therefore
never changes a past payload, and two simulators with the same seed agree.

Streams and what they drive:
- ``jam``: bottleneck jams on the arterials, dense in the 7-9 and 17-19 peaks;
- ``inc``: incidents (accidents, breakdowns, hazards, signal faults, …) that start, grow
  (an accident may turn major, its jam lengthens) and clear;
- ``works``/``project``: roadworks announced days ahead, active for days or weeks;
- ``bg``: citizens' posts and hotline calls not tied to any incident (vague complaints,
  illegal parking, broken signals);
- ``coach``: the overloaded coach on G3京台高速 reported again and again as it moves;
- ``*-h``: the holiday layer (National Day), added on top of the normal streams so the
  normal records stay the same when the scenario is switched.
"""
from __future__ import annotations

import math
import random
import time
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any, Callable

from . import texts

UTC = timezone.utc
TZ_OFFSET = 8 * 3600          # Asia/Shanghai, no daylight saving
DAY = 86400
SLOT_INC = 600                # incidents and background reports: 10-minute slots
SLOT_JAM = 900                # bottleneck jams: 15-minute slots
COACH_PERIOD = 3 * 3600       # at most one overloaded coach every 3 hours
MAX_INC_S = 3 * 3600          # no incident lasts longer (bounds the look-back)
MAX_JAM_S = 2 * 3600
REPORT_WINDOW_S = 6 * 3600    # mentions reach this far back
SCENARIOS = ("auto", "normal", "holiday")
M_PER_DEG_LAT = 111_320.0

# Amap-style congestion levels: 0 未知, 1 畅通, 2 缓行, 3 拥堵, 4 严重拥堵
LEVEL_CUTS = (0.64, 0.78, 0.90)
# the network's road classes (the demo's own, or OSM highway=* of an imported network)
CLASS_OF = {"expressway": "expressway", "motorway": "expressway", "motorway_link": "expressway",
            "arterial": "arterial", "trunk": "arterial", "primary": "arterial",
            "secondary": "secondary", "tertiary": "secondary"}
FREE_SPEED = {"expressway": 100.0, "arterial": 50.0, "secondary": 40.0, "local": 30.0}
PEAK_WEIGHT = {"expressway": 0.10, "arterial": 0.27, "secondary": 0.22, "local": 0.14}
LEVEL_SPEED = {1: 0.92, 2: 0.58, 3: 0.33, 4: 0.14}
ARTERIAL = ("arterial", "secondary")
EXPRESSWAY = "expressway"
# the scenic area at the foot of Mount Tai (holiday crowds)
SCENIC_WORDS = ("红门", "环山", "天外村", "岱庙", "虎山", "普照寺", "王母池", "天地广场", "天烛峰")


# -- deterministic randomness ---------------------------------------------------------
def make_rng(*parts: Any) -> random.Random:
    """A Random seeded from the parts (str seeding is stable across runs and machines)."""
    return random.Random("|".join(str(p) for p in parts))


def _mix(x: int) -> float:
    """splitmix64 of an integer, as a float in [0, 1): cheap per-segment noise."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 31)) / 2.0 ** 64


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth; lam is small here)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# -- time of day ----------------------------------------------------------------------
def local_hour(t: float) -> float:
    return ((t + TZ_OFFSET) % DAY) / 3600.0


def local_day(t: float) -> int:
    """Days since 1970-01-01 in Asia/Shanghai."""
    return int((t + TZ_OFFSET) // DAY)


def day_start(day: int) -> float:
    return day * DAY - TZ_OFFSET


def peak(h: float) -> float:
    """Commuter peaks: 1.0 at ~08:00 and ~18:00 (7-9, 17-19), small elsewhere."""
    return math.exp(-((h - 8.0) / 0.8) ** 2) + 0.95 * math.exp(-((h - 18.0) / 0.9) ** 2)


def daytime(h: float) -> float:
    """0.1 at night, 1 from 07:00 to 21:00."""
    up = 1 / (1 + math.exp(-(h - 6.3) * 2.5))
    down = 1 / (1 + math.exp((h - 21.5) * 2.0))
    return 0.1 + 0.9 * up * down


def tourist(h: float) -> float:
    """Holiday traffic to the scenic area: up in the morning, back in the afternoon."""
    return math.exp(-((h - 9.5) / 1.6) ** 2) + 0.8 * math.exp(-((h - 16.0) / 1.5) ** 2)


@lru_cache(maxsize=512)
def statutory_holiday(day: int) -> bool:
    """Whether a local day is a statutory holiday (chinese-calendar; not weekends)."""
    try:
        import chinese_calendar
        on, name = chinese_calendar.get_holiday_detail(date.fromordinal(day + 719163))
    except (ImportError, NotImplementedError):
        return False
    return bool(on and name)


# -- the simulated clock --------------------------------------------------------------
class SimClock:
    """Simulated time = start + (real time since start) × speed."""

    def __init__(self, speed: float = 1.0, start: float | None = None,
                 real: Callable[[], float] = time.time):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._real = real
        self._real0 = real()
        self.start = float(start) if start is not None else self._real0

    def now(self) -> float:
        return self.start + (self._real() - self._real0) * self.speed


# -- the city, read once from the road network -----------------------------------------
@dataclass
class Seg:
    """One network segment as the simulator sees it."""

    idx: int
    id: str
    road: str
    cls: str
    chain: int
    m0: float                         # where it starts/ends along its chain, metres
    m1: float
    coords: tuple[tuple[float, float], ...]   # WGS-84, in chain order
    length: float
    lanes: int
    district: str
    scenic: bool = False
    exit: bool = False
    bias: float = 0.0
    key: int = 0


@dataclass
class Chain:
    """A connected run of one road's segments, in order, with its crossings."""

    idx: int
    road: str
    cls: str
    coords: list[tuple[float, float]]
    cum: list[float]
    segs: list[int]                   # Seg.idx in order
    crossings: list[tuple[float, str]] = field(default_factory=list)  # (along m, other road)
    landmarks: list[tuple[float, str]] = field(default_factory=list)  # (along m, name)

    @property
    def length(self) -> float:
        return self.cum[-1]

    def point_at(self, m: float) -> tuple[float, float]:
        m = min(max(m, 0.0), self.length)
        i = _bisect(self.cum, m)
        if i >= len(self.coords) - 1:
            return self.coords[-1]
        span = self.cum[i + 1] - self.cum[i]
        f = 0.0 if span <= 0 else (m - self.cum[i]) / span
        (x0, y0), (x1, y1) = self.coords[i], self.coords[i + 1]
        return (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)

    def bearing(self, m0: float, m1: float) -> float:
        """Compass-free angle of travel from m0 to m1: degrees from east, anticlockwise."""
        (x0, y0), (x1, y1) = self.point_at(m0), self.point_at(m1)
        dx = (x1 - x0) * math.cos(math.radians(y0))
        return math.degrees(math.atan2(y1 - y0, dx)) % 360.0

    def slice(self, m0: float, m1: float) -> list[tuple[float, float]]:
        """The polyline between two distances (in the order m0 → m1)."""
        lo, hi = sorted((max(0.0, m0), min(self.length, m1)))
        pts = [self.point_at(lo)]
        pts += [p for p, c in zip(self.coords, self.cum) if lo < c < hi]
        pts.append(self.point_at(hi))
        return pts if m0 <= m1 else pts[::-1]

    def axis_ns(self) -> bool:
        """Whether the chain runs more north-south than east-west."""
        (x0, y0), (x1, y1) = self.coords[0], self.coords[-1]
        return abs(y1 - y0) > abs(x1 - x0) * math.cos(math.radians(y0))

    def seg_at(self, m: float, segs: list[Seg]) -> Seg:
        for i in self.segs:
            if segs[i].m0 <= m <= segs[i].m1:
                return segs[i]
        return segs[self.segs[-1]]

    def cross_near(self, m: float, max_m: float = 10_000.0) -> tuple[float, str] | None:
        best = min(self.crossings, key=lambda c: abs(c[0] - m), default=None)
        return best if best and abs(best[0] - m) <= max_m else None

    def landmark_near(self, m: float, max_m: float) -> str | None:
        best = min(self.landmarks, key=lambda c: abs(c[0] - m), default=None)
        return best[1] if best and abs(best[0] - m) <= max_m else None


def _bisect(cum: list[float], m: float) -> int:
    lo, hi = 0, len(cum) - 1
    while lo < hi - 1:
        mid = (lo + hi) // 2
        if cum[mid] <= m:
            lo = mid
        else:
            hi = mid
    return lo


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance in metres (exact enough inside one city)."""
    k = math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot((a[0] - b[0]) * k, a[1] - b[1]) * M_PER_DEG_LAT


def project(coords: list[tuple[float, float]], cum: list[float],
            p: tuple[float, float]) -> tuple[float, float]:
    """(along metres, distance metres) of the point's projection onto the polyline."""
    k = math.cos(math.radians(p[1])) * M_PER_DEG_LAT
    best = (0.0, float("inf"))
    px, py = p[0] * k, p[1] * M_PER_DEG_LAT
    for i in range(len(coords) - 1):
        ax, ay = coords[i][0] * k, coords[i][1] * M_PER_DEG_LAT
        bx, by = coords[i + 1][0] * k, coords[i + 1][1] * M_PER_DEG_LAT
        dx, dy = bx - ax, by - ay
        L2 = dx * dx + dy * dy
        f = 0.0 if L2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L2))
        d = math.hypot(ax + f * dx - px, ay + f * dy - py)
        if d < best[1]:
            best = (cum[i] + f * (cum[i + 1] - cum[i]), d)
    return best


def _chains_of(pieces: list[tuple[str, list[tuple[float, float]]]]
               ) -> list[list[tuple[str, list[tuple[float, float]]]]]:
    """Order one road's segments into connected chains (reversing pieces as needed)."""
    def key(p):
        return (round(p[0], 5), round(p[1], 5))

    remaining = list(pieces)
    chains = []
    while remaining:
        chain = [remaining.pop(0)]
        grew = True
        while grew:
            grew = False
            head, tail = key(chain[0][1][0]), key(chain[-1][1][-1])
            for i, (sid, coords) in enumerate(remaining):
                a, b = key(coords[0]), key(coords[-1])
                if a == tail:
                    chain.append((sid, coords))
                elif b == tail:
                    chain.append((sid, coords[::-1]))
                elif b == head:
                    chain.insert(0, (sid, coords))
                elif a == head:
                    chain.insert(0, (sid, coords[::-1]))
                else:
                    continue
                remaining.pop(i)
                grew = True
                break
        chains.append(chain)
    return chains


class CityMap:
    """What the simulator needs from ``dashboard.roads.RoadNetwork``, computed once."""

    def __init__(self, network: Any):
        self.network = network
        self.segs: list[Seg] = []
        self.chains: list[Chain] = []
        self.by_road: dict[str, list[int]] = {}
        self._build(network)

    def _build(self, net: Any) -> None:
        frame = net.segments
        groups: dict[str, list[tuple[str, list[tuple[float, float]]]]] = {}
        meta: dict[str, dict[str, Any]] = {}
        for sid, row in frame.iterrows():
            name = str(row.get("road_name") or "").strip()
            geom = row.geometry
            if not name or geom is None or geom.is_empty or geom.geom_type != "LineString":
                continue
            groups.setdefault(name, []).append((str(sid), [(float(x), float(y))
                                                           for x, y in geom.coords]))
            lanes = row.get("lanes")
            meta[str(sid)] = {
                "cls": CLASS_OF.get(str(row.get("road_class") or ""), "local"),
                "lanes": int(lanes) if isinstance(lanes, (int, float)) and lanes == lanes
                and lanes > 0 else 2,
                "district": str(row.get("district") or ""),
            }
        for road in sorted(groups):
            for pieces in _chains_of(groups[road]):
                self._add_chain(road, pieces, meta)
        self._crossings(net)
        self._landmarks(net)

    def _add_chain(self, road: str, pieces, meta) -> None:
        idx = len(self.chains)
        coords: list[tuple[float, float]] = []
        cum: list[float] = []
        seg_idx: list[int] = []
        classes: dict[str, float] = {}
        for sid, pts in pieces:
            start_m = cum[-1] if cum else 0.0
            for j, p in enumerate(pts):
                if coords and j == 0:
                    continue  # shared joint
                cum.append(cum[-1] + metres(coords[-1], p) if coords else 0.0)
                coords.append(p)
            m = meta[sid]
            seg = Seg(idx=len(self.segs), id=sid, road=road, cls=m["cls"], chain=idx,
                      m0=start_m, m1=cum[-1], coords=tuple(pts), length=cum[-1] - start_m,
                      lanes=m["lanes"], district=m["district"])
            classes[seg.cls] = classes.get(seg.cls, 0.0) + seg.length
            self.segs.append(seg)
            seg_idx.append(seg.idx)
        cls = max(classes, key=classes.get) if classes else "local"
        self.chains.append(Chain(idx=idx, road=road, cls=cls, coords=coords, cum=cum,
                                 segs=seg_idx))
        self.by_road.setdefault(road, []).append(idx)

    def _crossings(self, net: Any) -> None:
        roads = sorted(self.by_road)
        boxes = {r: _bbox([p for c in self.by_road[r] for p in self.chains[c].coords])
                 for r in roads}
        for i, a in enumerate(roads):
            for b in roads[i + 1:]:
                if not _boxes_touch(boxes[a], boxes[b], 0.002):
                    continue
                try:
                    pt = net.intersection(a, b)
                except Exception:  # noqa: BLE001 - a network without the pair is fine
                    pt = None
                if pt is None:
                    continue
                for road, other in ((a, b), (b, a)):
                    for c in self.by_road[road]:
                        ch = self.chains[c]
                        along, dist = project(ch.coords, ch.cum, (pt[0], pt[1]))
                        if dist <= 60:
                            ch.crossings.append((along, other))
        for ch in self.chains:
            ch.crossings.sort()

    def _landmarks(self, net: Any) -> None:
        try:
            marks = net.landmarks()
        except Exception:  # noqa: BLE001
            marks = {}
        seen: dict[str, tuple[float, float]] = {}
        for entry in marks.values():
            name = str(entry.get("name") or "")
            if name and name not in seen:
                seen[name] = (float(entry["lon"]), float(entry["lat"]))
        self.landmarks = seen
        for name, p in sorted(seen.items()):
            best: tuple[float, int, float] | None = None
            for ch in self.chains:
                along, dist = project(ch.coords, ch.cum, p)
                if best is None or dist < best[0]:
                    best = (dist, ch.idx, along)
            if best and best[0] <= 600:
                self.chains[best[1]].landmarks.append((best[2], name))

    def finish(self, seed: int) -> None:
        """Per-segment static traits that depend on the seed."""
        scenic_pts = [p for n, p in self.landmarks.items()
                      if any(w in n for w in SCENIC_WORDS)]
        # expressway exits: where an expressway meets a city road
        exit_m = {ch.idx: [m for m, other in ch.crossings
                           if self.chains[self.by_road[other][0]].cls != EXPRESSWAY]
                  for ch in self.chains if ch.cls == EXPRESSWAY}
        for s in self.segs:
            mid = s.coords[len(s.coords) // 2]
            s.key = zlib.crc32(f"{seed}|{s.id}".encode())
            s.bias = 0.12 * _mix(s.key)
            s.scenic = (any(w in s.road for w in SCENIC_WORDS)
                        or any(metres(mid, p) < 800 for p in scenic_pts))
            if s.cls == EXPRESSWAY:
                s.exit = any(s.m0 - 1500 <= m <= s.m1 + 1500 for m in exit_m.get(s.chain, ()))


def _bbox(points) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _boxes_touch(a, b, pad: float) -> bool:
    return not (a[2] + pad < b[0] or b[2] + pad < a[0] or a[3] + pad < b[1] or b[3] + pad < a[1])


# -- what happens ------------------------------------------------------------------------
@dataclass(frozen=True)
class Jam:
    """A queue behind a bottleneck: its head stays put, its tail grows and shrinks."""

    key: str
    chain: int
    head_m: float
    upstream: int          # +1: the queue extends towards larger along-distances
    start: float
    end: float
    max_len: float
    strength: float        # load added at full length (0.3 … 0.7)
    cause: str = ""        # the incident key behind it, if any
    holiday: bool = False

    def extent(self, t: float) -> tuple[float, float, float] | None:
        """(from m, to m, load added) at t, or None when there is no queue."""
        if not self.start <= t < self.end:
            return None
        dur = self.end - self.start
        f = (t - self.start) / dur
        grow = min(1.0, f / 0.35) if f < 0.35 else (1.0 if f < 0.75 else (1 - f) / 0.25)
        length = max(120.0, self.max_len * grow)
        a, b = self.head_m, self.head_m + self.upstream * length
        return (min(a, b), max(a, b), self.strength * (0.55 + 0.45 * grow))


@dataclass(frozen=True)
class Incident:
    """Something on the road: where, what, when, and how it develops."""

    key: str
    kind: str              # accident, breakdown, hazard, pothole, signal, flooding, closure
    chain: int
    along: float
    lon: float
    lat: float
    road: str
    cross: str             # the crossing road when at an intersection, else ""
    start: float
    end: float
    escalate_at: float     # accidents: when it turns major (inf: never)
    plate: str
    heading: int
    holiday: bool = False

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def major(self, t: float) -> bool:
        return t >= self.escalate_at


@dataclass(frozen=True)
class Works:
    """Roadworks on a schedule: announced, active, over."""

    key: str
    chain: int
    m0: float
    m1: float
    announced: float
    start: float
    end: float
    impact: str            # WZDx vehicle_impact
    lanes: int
    closed: int
    work: str              # WZDx types_of_work type_name
    work_zh: str
    from_cross: str
    to_cross: str
    source: str            # WZDx data_source_id

    def visible(self, t: float) -> bool:
        return self.announced <= t < self.end

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class User:
    id: int
    screen_name: str
    followers: int
    statuses: int
    created: float


@dataclass(frozen=True)
class Report:
    """A citizen's Weibo post that mentions the police account."""

    key: str
    created: int           # epoch seconds
    kind: str
    text: str
    user: User
    geo: tuple[float, float] | None   # WGS-84 (lon, lat); rendered as GCJ-02 [lat, lon]
    about: str = ""        # incident/jam/coach key
    final: tuple[int, int, int] = (0, 0, 0)   # reposts, comments, likes eventually


@dataclass(frozen=True)
class Call:
    """One 122 hotline ticket."""

    key: str
    created: int
    kind: str
    phone: str
    caller: str
    place: str
    content: str
    lon: float | None
    lat: float | None


@dataclass(frozen=True)
class Post:
    """The police account's own post, with metrics that grow after publication."""

    key: str
    created: int
    text: str
    final: tuple[int, int, int, int]   # reposts, comments, likes, reads
    tau: float

    def metrics(self, t: float) -> tuple[int, int, int, int]:
        if t < self.created:
            return (0, 0, 0, 0)
        g = 1.0 - math.exp(-(t - self.created) / self.tau)
        return tuple(int(v * g) for v in self.final)  # type: ignore[return-value]


@dataclass(frozen=True)
class Unit:
    id: str
    type: str
    callsign: str
    chain: int
    base_m: float
    patrol_m: float        # half-width of the beat along the chain
    speed: float           # m/s while patrolling
    shift: int             # 0 day, 1 night, 2 always
    depot: tuple[float, float]


@dataclass(frozen=True)
class Coach:
    key: str
    chain: int
    start: float
    stop: float
    m0: float
    direction: int
    speed: float           # m/s
    plate: str
    toward: str

    def along(self, t: float) -> float:
        return self.m0 + self.direction * self.speed * (min(t, self.stop) - self.start)


WAZE_KINDS = ("accident", "breakdown", "hazard", "pothole", "signal", "flooding", "closure")
INC_WEIGHTS = (0.46, 0.22, 0.10, 0.06, 0.08, 0.03, 0.05)
INC_MINUTES = {"accident": (25, 95), "breakdown": (15, 50), "hazard": (20, 60),
               "pothole": (120, 170), "signal": (40, 150), "flooding": (40, 120),
               "closure": (60, 170)}
REPORT_KIND = {"accident": "accident", "breakdown": "breakdown", "hazard": "hazard",
               "pothole": "hazard", "signal": "signal", "flooding": "flooding",
               "closure": "jam"}
WORKS = (("surface-work", "路面维修"), ("below-road-work", "管道铺设"),
         ("below-road-work", "雨污分流改造"), ("painting", "标线施划"),
         ("maintenance", "桥梁检修"), ("roadside-work", "绿化提升"))


class World:
    """The demo city's traffic as a pure function of (seed, scenario, time)."""

    def __init__(self, network: Any, seed: int, scenario: str = "auto"):
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {SCENARIOS}")
        self.seed = int(seed)
        self.scenario = scenario
        self.city = CityMap(network)
        self.city.finish(self.seed)
        c = self.city
        self.arterials = [ch.idx for ch in c.chains if ch.cls in ARTERIAL and ch.crossings]
        if not self.arterials:
            self.arterials = [ch.idx for ch in c.chains if ch.crossings] or \
                [ch.idx for ch in c.chains]
        self.scenic = [ch.idx for ch in c.chains
                       if sum(c.segs[i].scenic for i in ch.segs) * 2 >= len(ch.segs)]
        self.expressways = [ch.idx for ch in c.chains if ch.cls == EXPRESSWAY
                            or any(w in ch.road for w in ("高速", "G3", "S31"))]
        g3 = [i for i in self.expressways if "G3" in c.chains[i].road]
        self.g3 = max(g3, key=lambda i: c.chains[i].length) if g3 else None
        self.users = self._user_pool()
        self.units = self._unit_roster()
        self._level_cache: dict[tuple[str, int], list[int]] = {}

    # -- scenario --------------------------------------------------------------------
    def holiday(self, t: float) -> bool:
        if self.scenario == "holiday":
            return True
        if self.scenario == "normal":
            return False
        return statutory_holiday(local_day(t))

    def set_scenario(self, name: str) -> None:
        if name not in SCENARIOS:
            raise ValueError(f"scenario must be one of {SCENARIOS}")
        self.scenario = name
        self._level_cache.clear()

    # -- jams --------------------------------------------------------------------------
    def _jam_rate(self, t: float) -> float:
        h = local_hour(t)
        return 0.05 + 0.9 * daytime(h) + 2.6 * peak(h)

    @lru_cache(maxsize=2048)
    def _jam_slot(self, k: int, holiday: bool) -> tuple[Jam, ...]:
        t0 = k * SLOT_JAM
        out = []
        rng = make_rng(self.seed, "jam", k)
        for i in range(poisson(rng, self._jam_rate(t0))):
            out.append(self._bottleneck(rng, f"j{k}-{i}", t0, self.arterials, False))
        if holiday:
            rng = make_rng(self.seed, "jam-h", k)
            pool = self.scenic + self.expressways or self.arterials
            for i in range(poisson(rng, 0.2 + 2.8 * tourist(local_hour(t0)))):
                out.append(self._bottleneck(rng, f"jh{k}-{i}", t0, pool, True))
        return tuple(j for j in out if j is not None)

    def _bottleneck(self, rng: random.Random, key: str, t0: float, pool: list[int],
                    holiday: bool) -> Jam | None:
        if not pool:
            return None
        ch = self.city.chains[rng.choice(pool)]
        if ch.crossings and rng.random() < 0.85:
            head = rng.choice(ch.crossings)[0]
        else:
            head = rng.uniform(0, ch.length)
        start = t0 + rng.uniform(0, SLOT_JAM)
        return Jam(key=key, chain=ch.idx, head_m=head, upstream=rng.choice((1, -1)),
                   start=start, end=start + rng.uniform(20, 75) * 60,
                   max_len=rng.uniform(350, 1800), strength=rng.uniform(0.3, 0.6),
                   holiday=holiday)

    def jams(self, t: float, window: float = MAX_JAM_S) -> list[Jam]:
        """Every jam (bottleneck or incident queue) that started in (t - window, t]."""
        out: list[Jam] = []
        for k in range(int((t - window) // SLOT_JAM), int(t // SLOT_JAM) + 1):
            out.extend(j for j in self._jam_slot(k, self.holiday(k * SLOT_JAM))
                       if j.start <= t)
        for inc in self.incidents(t, window):
            jam = self.incident_jam(inc)
            if jam is not None:
                out.append(jam)
        return out

    def active_jams(self, t: float) -> list[tuple[Jam, tuple[float, float, float]]]:
        out = []
        for j in self.jams(t, MAX_INC_S):
            ext = j.extent(t)
            if ext is not None:
                out.append((j, ext))
        return out

    @lru_cache(maxsize=4096)
    def incident_jam(self, inc: Incident) -> Jam | None:
        """The queue behind an incident on a main road, if it causes one."""
        if inc.kind not in ("accident", "breakdown", "closure", "signal"):
            return None
        ch = self.city.chains[inc.chain]
        if ch.cls not in ARTERIAL and ch.cls != EXPRESSWAY and inc.kind != "closure":
            return None
        rng = make_rng(self.seed, "incjam", inc.key)
        big = inc.kind == "closure" or inc.escalate_at < inc.end
        return Jam(key=inc.key + "-q", chain=inc.chain, head_m=inc.along,
                   upstream=rng.choice((1, -1)), start=inc.start + rng.uniform(60, 240),
                   end=inc.end + rng.uniform(120, 600),
                   max_len=rng.uniform(900, 2200) if big else rng.uniform(300, 900),
                   strength=rng.uniform(0.5, 0.7) if big else rng.uniform(0.3, 0.5),
                   cause=inc.key, holiday=inc.holiday)

    # -- incidents ---------------------------------------------------------------------
    def _incident_rate(self, t: float) -> float:
        h = local_hour(t)
        return 0.08 + 0.55 * daytime(h) + 0.75 * peak(h)

    @lru_cache(maxsize=4096)
    def _incident_slot(self, k: int, holiday: bool) -> tuple[Incident, ...]:
        t0 = k * SLOT_INC
        rng = make_rng(self.seed, "inc", k)
        out = [self._incident(f"i{k}-{i}", t0, self.arterials + self.expressways, False)
               for i in range(poisson(rng, self._incident_rate(t0)))]
        if holiday:
            rng = make_rng(self.seed, "inc-h", k)
            pool = self.scenic + self.expressways or self.arterials
            out += [self._incident(f"ih{k}-{i}", t0, pool, True)
                    for i in range(poisson(rng, 0.1 + 0.7 * tourist(local_hour(t0))))]
        return tuple(i for i in out if i is not None)

    def _incident(self, key: str, t0: float, pool: list[int], holiday: bool
                  ) -> Incident | None:
        if not pool:
            return None
        rng = make_rng(self.seed, "incident", key)
        kind = rng.choices(WAZE_KINDS, INC_WEIGHTS)[0]
        ch = self.city.chains[rng.choice(pool)]
        cross = ""
        if ch.crossings and ch.cls != EXPRESSWAY and rng.random() < 0.7:
            along, cross = rng.choice(ch.crossings)
        else:
            along = rng.uniform(0.05, 0.95) * ch.length
        lon, lat = ch.point_at(along)
        start = t0 + rng.uniform(0, SLOT_INC)
        lo, hi = INC_MINUTES[kind]
        end = start + rng.uniform(lo, hi) * 60
        escalate = math.inf
        if kind == "accident" and rng.random() < 0.3:
            escalate = start + rng.uniform(4, 15) * 60
        heading = int(round((90 - ch.bearing(max(0, along - 50), along + 50)) % 360))
        return Incident(key=key, kind=kind, chain=ch.idx, along=along, lon=lon, lat=lat,
                        road=ch.road, cross=cross, start=int(start), end=int(end),
                        escalate_at=escalate, plate=texts.plate(rng), heading=heading,
                        holiday=holiday)

    def incidents(self, t: float, window: float = MAX_INC_S) -> list[Incident]:
        """Incidents that started in (t - window, t] (some may have cleared already)."""
        out: list[Incident] = []
        for k in range(int((t - window) // SLOT_INC), int(t // SLOT_INC) + 1):
            out.extend(i for i in self._incident_slot(k, self.holiday(k * SLOT_INC))
                       if i.start <= t)
        return out

    def active_incidents(self, t: float) -> list[Incident]:
        return [i for i in self.incidents(t) if i.active(t)]

    # -- roadworks ---------------------------------------------------------------------
    @lru_cache(maxsize=512)
    def _works_day(self, day: int) -> tuple[Works, ...]:
        rng = make_rng(self.seed, "works", day)
        out = []
        for i in range(poisson(rng, 0.45)):
            out.append(self._works(rng, f"w{day}-{i}", day, rng.uniform(1, 21)))
        if day % 45 == 0:  # a long project every 45 days
            prng = make_rng(self.seed, "project", day)
            out.append(self._works(prng, f"p{day}", day, prng.uniform(50, 80)))
        return tuple(w for w in out if w is not None)

    def _works(self, rng: random.Random, key: str, day: int, days: float) -> Works | None:
        pool = [i for i in self.arterials if len(self.city.chains[i].crossings) >= 2]
        if not pool:
            return None
        ch = self.city.chains[rng.choice(pool)]
        j = rng.randrange(len(ch.crossings) - 1)
        (m0, a), (m1, b) = ch.crossings[j], ch.crossings[j + 1]
        if m1 - m0 < 80:
            m1 = min(ch.length, m0 + 400)
        night = rng.random() < 0.6
        start = day_start(day) + (22 if night else 9) * 3600 + rng.choice((0, 1800))
        end = start + days * DAY
        end = day_start(local_day(end)) + (6 if night else 18) * 3600 + DAY
        impact, closed = rng.choice((("some-lanes-closed", 1), ("some-lanes-closed", 1),
                                     ("some-lanes-closed-merge-left", 1),
                                     ("all-lanes-open-shift-right", 0),
                                     ("alternating-one-way", 1), ("all-lanes-closed", 99)))
        lanes = max(2, self.city.segs[ch.seg_at((m0 + m1) / 2, self.city.segs).idx].lanes)
        work, work_zh = rng.choice(WORKS)
        return Works(key=key, chain=ch.idx, m0=m0, m1=m1,
                     announced=start - rng.uniform(1.5, 3) * DAY, start=start, end=end,
                     impact=impact, lanes=lanes, closed=min(closed, lanes), work=work,
                     work_zh=work_zh, from_cross=a, to_cross=b,
                     source="2" if work in ("below-road-work", "roadside-work") else "1")

    def works(self, t: float) -> list[Works]:
        """Roadworks announced and not yet over at t (planned, active or ending)."""
        out: list[Works] = []
        today = local_day(t)
        for day in range(today - 85, today + 4):
            out.extend(w for w in self._works_day(day) if w.visible(t))
        return out

    def works_changed_at(self, t: float) -> float:
        """The last schedule boundary (announcement, start, end) at or before t."""
        today = local_day(t)
        last = day_start(today - 85)
        for day in range(today - 85, today + 4):
            for w in self._works_day(day):
                for b in (w.announced, w.start, w.end):
                    if last < b <= t:
                        last = b
        return last

    # -- congestion --------------------------------------------------------------------
    def levels(self, t: float) -> list[int]:
        """Amap-scale level (0 未知 … 4 严重拥堵) of every segment at t (integral second)."""
        t = int(t)
        ck = (self.scenario, t)
        cached = self._level_cache.get(ck)
        if cached is not None:
            return cached
        loads = self.loads(t)
        out = []
        bucket = int(t // 3600)
        for s, load in zip(self.city.segs, loads):
            if s.cls not in ARTERIAL and s.cls != EXPRESSWAY and \
                    _mix(s.key ^ (bucket * 7919)) < 0.04:
                out.append(0)  # no probe data for this minor segment this hour
                continue
            out.append(1 if load < LEVEL_CUTS[0] else 2 if load < LEVEL_CUTS[1]
                       else 3 if load < LEVEL_CUTS[2] else 4)
        if len(self._level_cache) > 64:
            self._level_cache.clear()
        self._level_cache[ck] = out
        return out

    def loads(self, t: float) -> list[float]:
        """Traffic load per segment: ~0.3 free flow, > 0.9 severe congestion."""
        h = local_hour(t)
        hol = self.holiday(t)
        pk, dt, tour = peak(h), daytime(h), tourist(h)
        commute = 0.55 if hol else 1.0          # fewer commuters on a holiday
        k, frac = int(t // 900), (t % 900) / 900.0
        out = []
        for s in self.city.segs:
            n = _mix(s.key ^ k) * (1 - frac) + _mix(s.key ^ (k + 1)) * frac
            load = 0.20 + 0.15 * dt + PEAK_WEIGHT.get(s.cls, 0.15) * pk * commute \
                + s.bias + 0.10 * (n - 0.5)
            if hol:
                if s.scenic:
                    load += 0.45 * tour
                if s.exit:
                    load += 0.40 * tour
            out.append(load)
        segs = self.city.segs
        for jam, (m0, m1, add) in self.active_jams(t):
            for i in self.city.chains[jam.chain].segs:
                if segs[i].m1 > m0 and segs[i].m0 < m1:
                    out[i] += add
        for w in self.works(t):
            if w.active(t) and w.closed:
                for i in self.city.chains[w.chain].segs:
                    if segs[i].m1 > w.m0 and segs[i].m0 < w.m1:
                        out[i] += 0.25 if w.closed < w.lanes else 0.5
        return out

    def speed(self, seg: Seg, level: int, t: float) -> float:
        """km/h on a segment at a level."""
        free = FREE_SPEED.get(seg.cls, 35.0)
        if level == 0:
            return free
        return round(free * LEVEL_SPEED[level] * (0.9 + 0.2 * _mix(seg.key ^ int(t // 120))),
                     1)

    def busy_stretches(self, t: float, limit: int = 3) -> list[str]:
        """The worst queues at t, named the way a bulletin names them."""
        worst = sorted(self.active_jams(t), key=lambda je: (-je[1][2], je[0].key))
        names: list[str] = []
        for jam, _ in worst:
            ch = self.city.chains[jam.chain]
            cross = ch.cross_near(jam.head_m, 400)
            name = f"{ch.road}({cross[1]}路口段)" if cross else ch.road
            if name not in names:
                names.append(name)
            if len(names) >= limit:
                break
        return names

    # -- people --------------------------------------------------------------------------
    def _user_pool(self) -> list[User]:
        rng = make_rng(self.seed, "users")
        users, names = [], set()
        while len(users) < 400:
            name = texts.nickname(rng)
            if name in names:
                name += str(rng.randrange(10, 99))
            if name in names:
                continue
            names.add(name)
            users.append(User(id=rng.randrange(1_000_000_000, 7_999_999_999), screen_name=name,
                              followers=int(rng.lognormvariate(5, 1.4)),
                              statuses=rng.randrange(20, 9000),
                              created=rng.uniform(1.3e9, 1.75e9)))
        return users

    def _user(self, rng: random.Random) -> User:
        return self.users[rng.randrange(len(self.users))]

    # -- place wording -------------------------------------------------------------------
    def place_text(self, rng: random.Random, chain: int, along: float, cross: str = "",
                   kind: str = "") -> str:
        """How a citizen names a spot on a chain: intersection, stretch, landmark or road."""
        ch = self.city.chains[chain]
        if ch.cls == EXPRESSWAY:   # expressways have exits, not 路口
            near = ch.cross_near(along, 2500)
            return texts.coach_place(rng, ch.road, near[1] if near else None,
                                     ch.landmark_near(along, 1500))
        near = ch.cross_near(along, 250)
        mark = ch.landmark_near(along, 350)
        roll = rng.random()
        if cross and roll < 0.55:
            return texts.intersection(rng, *rng.sample((ch.road, cross), 2)
                                      if rng.random() < 0.25 else (ch.road, cross))
        if near and roll < 0.8:
            other = ch.cross_near(along + rng.choice((-1, 1)) * 600, 900)
            return texts.stretch(rng, ch.road, near[1],
                                 other[1] if other and other[1] != near[1] else None)
        if mark and roll < 0.92:
            return texts.landmark_place(rng, mark)
        return texts.road_place(rng, ch.road, whole=kind in ("jam", "holiday"))

    def _geo(self, rng: random.Random, lon: float, lat: float, share: float
             ) -> tuple[float, float] | None:
        if rng.random() >= share:
            return None
        k = math.cos(math.radians(lat)) * M_PER_DEG_LAT
        return (lon + rng.uniform(-25, 25) / k, lat + rng.uniform(-25, 25) / M_PER_DEG_LAT)

    def _report(self, rng: random.Random, key: str, created: float, kind: str, text: str,
                geo: tuple[float, float] | None, about: str) -> Report:
        fin = (poisson(rng, 1.2), poisson(rng, 2.0), poisson(rng, 4.0))
        return Report(key=key, created=int(created), kind=kind, text=text, user=self._user(rng),
                      geo=geo, about=about, final=fin)

    # -- reports: incidents, jams, background, coach -------------------------------------
    @lru_cache(maxsize=4096)
    def incident_reports(self, inc: Incident, holiday: bool) -> tuple[Report, ...]:
        rng = make_rng(self.seed, "increp", inc.key)
        kind = REPORT_KIND[inc.kind]
        n = {"accident": 2.2, "breakdown": 0.9, "hazard": 0.7, "pothole": 0.4, "signal": 1.0,
             "flooding": 2.0, "closure": 1.2}[inc.kind]
        if inc.escalate_at < inc.end:
            n += 1.5
        if holiday:
            n *= 1.8
        count = poisson(rng, n)
        if inc.kind == "accident":
            count = max(count, 1)
        out: list[Report] = []
        for i in range(count):
            created = inc.start + rng.uniform(60, min(1800, inc.end - inc.start))
            if out and rng.random() < 0.3:   # someone repeats an earlier post
                first = rng.choice(out)
                if rng.random() < 0.5:
                    text = first.text       # copied word for word
                else:
                    text = texts.echo_text(rng, first.text, self.place_text(
                        rng, inc.chain, inc.along, inc.cross, kind), first.user.screen_name)
                created = max(created, first.created + rng.uniform(30, 600))
            else:
                place = self.place_text(rng, inc.chain, inc.along, inc.cross, kind)
                text = texts.citizen_text(
                    rng, kind, place=place, plate=texts.plate(rng) if rng.random() < 0.5
                    else texts.masked_plate(inc.plate), phone=texts.phone(rng),
                    hhmm=_hhmm(created))
            out.append(self._report(rng, f"{inc.key}/r{i}", created, kind, text,
                                    self._geo(rng, inc.lon, inc.lat, 0.12), inc.key))
        return tuple(out)

    @lru_cache(maxsize=2048)
    def jam_reports(self, jam: Jam) -> tuple[Report, ...]:
        if jam.cause:
            return ()
        rng = make_rng(self.seed, "jamrep", jam.key)
        h = local_hour(jam.start)
        count = poisson(rng, (1.8 if jam.holiday else 0.35) + 0.8 * peak(h))
        ch = self.city.chains[jam.chain]
        out = []
        for i in range(count):
            created = rng.uniform(jam.start + 300, max(jam.start + 301, jam.end - 60))
            kind = "holiday" if jam.holiday and rng.random() < 0.6 else "jam"
            cross = ch.cross_near(jam.head_m, 30)
            text = texts.citizen_text(rng, kind, place=self.place_text(
                rng, jam.chain, jam.head_m, cross[1] if cross else "", kind),
                hhmm=_hhmm(created))
            lon, lat = ch.point_at(jam.head_m)
            out.append(self._report(rng, f"{jam.key}/r{i}", created, "jam", text,
                                    self._geo(rng, lon, lat, 0.1), jam.key))
        return tuple(out)

    @lru_cache(maxsize=4096)
    def background_reports(self, k: int, holiday: bool) -> tuple[Report, ...]:
        t0 = k * SLOT_INC
        h = local_hour(t0)
        out = []
        streams = [("bg", 0.15 + 0.7 * daytime(h))]
        if holiday:
            streams.append(("bg-h", 0.3 + 2.4 * tourist(h)))
        for stream, lam in streams:
            rng = make_rng(self.seed, stream, k)
            for i in range(poisson(rng, lam)):
                created = t0 + rng.uniform(0, SLOT_INC)
                out.append(self._background(rng, f"{stream}{k}-{i}", created, stream == "bg-h"))
        return tuple(out)

    def _background(self, rng: random.Random, key: str, created: float, holiday: bool
                    ) -> Report:
        c = self.city
        kind = rng.choices(("vague", "illegal_parking", "signal", "hazard", "holiday"),
                           (0.4, 0.35, 0.1, 0.15, 0.0) if not holiday else
                           (0.35, 0.1, 0.0, 0.05, 0.5))[0]
        pool = self.scenic if kind == "holiday" and self.scenic else self.arterials
        ch = c.chains[rng.choice(pool)] if pool else c.chains[0]
        if ch.crossings and rng.random() < 0.6:
            along, cross = rng.choice(ch.crossings)
        else:
            along, cross = rng.uniform(0, ch.length), ""
        geo = None
        if kind == "vague":
            text = texts.citizen_text(rng, "vague", hhmm=_hhmm(created))
        else:
            text = texts.citizen_text(rng, kind,
                                      place=self.place_text(rng, ch.idx, along, cross, kind),
                                      plate=texts.plate(rng), phone=texts.phone(rng),
                                      hhmm=_hhmm(created))
            geo = self._geo(rng, *ch.point_at(along), 0.15)
        return self._report(rng, key, created, "jam" if kind in ("vague", "holiday") else kind,
                            text, geo, "")

    @lru_cache(maxsize=256)
    def coach(self, cycle: int, holiday: bool) -> Coach | None:
        """The overloaded coach of one 3-hour cycle on G3京台高速, if there is one."""
        if self.g3 is None:
            return None
        rng = make_rng(self.seed, "coach", cycle)
        if rng.random() > (0.95 if holiday else 0.6):
            return None
        ch = self.city.chains[self.g3]
        direction = rng.choice((1, -1))
        start = cycle * COACH_PERIOD + rng.uniform(0, COACH_PERIOD - 3600)
        m0 = rng.uniform(0.02, 0.15) * ch.length if direction > 0 else \
            rng.uniform(0.85, 0.98) * ch.length
        speed = rng.uniform(60, 80) / 3.6
        run = (ch.length * 0.99 - m0) if direction > 0 else (m0 - ch.length * 0.01)
        stop = start + min(run / speed, rng.uniform(15, 45) * 60)
        heading_north = ch.bearing(m0, m0 + direction * 500) < 180
        return Coach(key=f"coach{cycle}", chain=ch.idx, start=start, stop=stop, m0=m0,
                     direction=direction, speed=speed, plate=texts.plate(rng, "鲁", "A"),
                     toward="济南" if heading_north else "曲阜")

    @lru_cache(maxsize=256)
    def coach_reports(self, coach: Coach) -> tuple[Report, ...]:
        rng = make_rng(self.seed, "coachrep", coach.key)
        ch = self.city.chains[coach.chain]
        out: list[Report] = []
        t = coach.start + rng.uniform(0, 120)
        passenger = self._user(rng)
        i = 0
        while t < coach.stop:
            m = coach.along(t)
            mark = ch.landmark_near(m, 2000)
            cross = ch.cross_near(m, 8000)
            beyond = ""
            if cross and abs(cross[0] - m) > 1500:
                here, there = ch.point_at(m), ch.point_at(cross[0])
                side = ("北" if here[1] > there[1] else "南") if ch.axis_ns() else \
                    ("东" if here[0] > there[0] else "西")
                beyond = f"以{side}{abs(cross[0] - m) / 1000:.0f}公里"
            place = texts.coach_place(rng, ch.road, cross[1] if cross else None, mark, beyond)
            shown = coach.plate if rng.random() < 0.6 else texts.masked_plate(coach.plate)
            text = texts.coach_text(rng, i == 0, plate=shown, place=place, toward=coach.toward)
            lon, lat = ch.point_at(m)
            rep = self._report(rng, f"{coach.key}/r{i}", t, "overload", text,
                               self._geo(rng, lon, lat, 0.6), coach.key)
            if i == 0 or rng.random() < 0.4:   # the passenger keeps posting
                rep = Report(**{**rep.__dict__, "user": passenger})
            out.append(rep)
            i += 1
            t += rng.uniform(150, 260)
        return tuple(out)

    def coaches(self, t: float, window: float) -> list[Coach]:
        out = []
        for cyc in range(int((t - window) // COACH_PERIOD) - 1, int(t // COACH_PERIOD) + 1):
            c = self.coach(cyc, self.holiday(cyc * COACH_PERIOD))
            if c is not None and c.start <= t:
                out.append(c)
        return out

    def reports(self, t: float, window: float = REPORT_WINDOW_S) -> list[Report]:
        """Every citizen report created in (t - window, t], newest first."""
        lo = t - window
        out: list[Report] = []
        for inc in self.incidents(t, window + MAX_INC_S):
            out.extend(self.incident_reports(inc, inc.holiday or self.holiday(inc.start)))
        for k in range(int((t - window - MAX_JAM_S) // SLOT_JAM), int(t // SLOT_JAM) + 1):
            for jam in self._jam_slot(k, self.holiday(k * SLOT_JAM)):
                out.extend(self.jam_reports(jam))
        for k in range(int(lo // SLOT_INC), int(t // SLOT_INC) + 1):
            out.extend(self.background_reports(k, self.holiday(k * SLOT_INC)))
        for coach in self.coaches(t, window):
            out.extend(self.coach_reports(coach))
        seen: set[str] = set()
        result = []
        for r in sorted(out, key=lambda r: (-r.created, r.key)):
            if lo < r.created <= t and r.key not in seen:
                seen.add(r.key)
                result.append(r)
        return result

    # -- hotline -------------------------------------------------------------------------
    def calls(self, t: float, window: float = 1800) -> list[Call]:
        """122 hotline tickets created in (t - window, t], oldest first."""
        if window > MAX_INC_S:
            raise ValueError("look-back longer than an incident lasts")
        out: list[Call] = []
        for inc in self.incidents(t, window + MAX_INC_S):
            out.extend(self._incident_calls(inc))
        for k in range(int((t - window) // SLOT_INC), int(t // SLOT_INC) + 1):
            out.extend(self._background_calls(k, self.holiday(k * SLOT_INC)))
        for coach in self.coaches(t, window):
            out.extend(self._coach_calls(coach))
        return sorted((c for c in out if t - window < c.created <= t),
                      key=lambda c: (c.created, c.key))

    def _call(self, rng: random.Random, key: str, created: float, kind: str, chain: int,
              along: float, cross: str, plate: str) -> Call:
        ch = self.city.chains[chain]
        if ch.cls == EXPRESSWAY:
            near = ch.cross_near(along, 5000)
            place = f"{ch.road}{near[1]}出口附近" if near else f"{ch.road}泰安段"
        elif cross:
            place = f"{ch.road}与{cross}交叉口"
        else:
            near = ch.cross_near(along, 800)
            if near:
                offset = int(abs(near[0] - along) // 10 * 10)
                place = f"{ch.road}{near[1]}路口附近" if offset < 30 else \
                    f"{ch.road}{near[1]}路口{rng.choice('东西南北')}{offset}米"
            else:
                place = ch.road
        lon, lat = ch.point_at(along)
        located = rng.random() < 0.5
        return Call(key=key, created=int(created), kind=kind,
                    phone=_ascii_digits(texts.phone(rng)), caller=texts.caller_label(rng),
                    place=place, content=texts.hotline_content(rng, kind, plate),
                    lon=round(lon, 6) if located else None,
                    lat=round(lat, 6) if located else None)

    @lru_cache(maxsize=4096)
    def _incident_calls(self, inc: Incident) -> tuple[Call, ...]:
        rng = make_rng(self.seed, "call", inc.key)
        n = {"accident": 1.4, "breakdown": 0.6, "signal": 0.7, "flooding": 1.2,
             "hazard": 0.4, "pothole": 0.2, "closure": 0.3}[inc.kind]
        kind = {"pothole": "hazard", "closure": "jam"}.get(inc.kind, inc.kind)
        return tuple(self._call(rng, f"{inc.key}/c{i}", inc.start + rng.uniform(60, 900), kind,
                                inc.chain, inc.along, inc.cross, texts.plate(rng))
                     for i in range(poisson(rng, n)))

    @lru_cache(maxsize=4096)
    def _background_calls(self, k: int, holiday: bool) -> tuple[Call, ...]:
        rng = make_rng(self.seed, "callbg", k)
        lam = (0.3 + 0.6 * daytime(local_hour(k * SLOT_INC))) * (1.8 if holiday else 1.0)
        out = []
        for i in range(poisson(rng, lam)):
            ch = self.city.chains[rng.choice(self.arterials)]
            along, cross = rng.choice(ch.crossings) if ch.crossings else (ch.length / 2, "")
            kind = rng.choice(("illegal_parking", "illegal_parking", "jam", "signal"))
            out.append(self._call(rng, f"cb{k}-{i}", k * SLOT_INC + rng.uniform(0, SLOT_INC),
                                  kind, ch.idx, along, cross, texts.plate(rng)))
        return tuple(out)

    @lru_cache(maxsize=256)
    def _coach_calls(self, coach: Coach) -> tuple[Call, ...]:
        rng = make_rng(self.seed, "coachcall", coach.key)
        when = coach.start + rng.uniform(120, 600)
        return (self._call(rng, f"{coach.key}/c0", when, "overload", coach.chain,
                           coach.along(when), "", coach.plate),)

    # -- the police account's own posts -------------------------------------------------
    def posts(self, t: float, window: float = 3 * DAY) -> list[Post]:
        """The account's posts created in (t - window, t], newest first."""
        lo = t - window
        out: list[Post] = []
        for day in range(local_day(lo), local_day(t) + 1):
            out.extend(self._scheduled_posts(day, self.holiday(day_start(day) + 12 * 3600)))
        for inc in self.incidents(t, window + MAX_INC_S):
            out.extend(self._incident_posts(inc))
        today = local_day(t)
        for day in range(today - 85, today + 4):
            for w in self._works_day(day):
                if lo < w.announced <= t:
                    out.append(self._works_post(w))
        return sorted((p for p in out if lo < p.created <= t), key=lambda p: (-p.created, p.key))

    def _finals(self, rng: random.Random, holiday: bool, boost: float = 1.0
                ) -> tuple[int, int, int, int]:
        f = (2.6 if holiday else 1.0) * boost
        reads = int(rng.lognormvariate(math.log(3500), 0.8) * f)
        return (int(reads * rng.uniform(0.002, 0.01)), int(reads * rng.uniform(0.002, 0.008)),
                int(reads * rng.uniform(0.005, 0.02)), min(reads, 400_000))

    @lru_cache(maxsize=256)
    def _scheduled_posts(self, day: int, holiday: bool) -> tuple[Post, ...]:
        times = [(8, 0), (9, 0), (10, 0), (11, 0), (12, 0), (14, 0), (15, 0), (16, 0),
                 (17, 0), (18, 0), (19, 0), (20, 0)] if holiday else \
            [(7, 40), (8, 30), (12, 10), (17, 40), (18, 30)]
        out = []
        for hh, mm in times:
            created = int(day_start(day) + hh * 3600 + mm * 60)
            rng = make_rng(self.seed, "post", day, hh, mm, holiday)
            created += rng.randrange(0, 240)
            busy = self.busy_stretches(created)
            text = texts.traffic_report(f"{hh}:{mm:02d}", busy, holiday)
            out.append(Post(key=f"d{day}-{hh:02d}{mm:02d}", created=created, text=text,
                            final=self._finals(rng, holiday), tau=rng.uniform(1.5, 4) * 3600))
        if holiday:
            created = int(day_start(day) + 7 * 3600 + 30 * 60)
            rng = make_rng(self.seed, "advisory", day)
            out.append(Post(key=f"d{day}-adv", created=created,
                            text=texts.holiday_advisory("7:30", self.busy_stretches(created)),
                            final=self._finals(rng, True, 3.0), tau=5 * 3600))
        return tuple(out)

    @lru_cache(maxsize=4096)
    def _incident_posts(self, inc: Incident) -> tuple[Post, ...]:
        if not (inc.kind == "closure" or inc.escalate_at < inc.end):
            return ()
        rng = make_rng(self.seed, "incpost", inc.key)
        ch = self.city.chains[inc.chain]
        place = f"{ch.road}与{inc.cross}交叉口" if inc.cross else self.place_text(
            rng, inc.chain, inc.along)
        first = inc.start if inc.kind == "closure" else min(inc.escalate_at, inc.end)
        when = int(first + rng.uniform(300, 700))
        if inc.kind == "closure":
            text = texts.control_notice(_hhmm(inc.start + 300), place)
        else:
            text = texts.accident_notice(_hhmm(when), place, rng.choice(
                ("多车追尾事故", "两车相撞事故", "交通事故")))
        holiday = inc.holiday or self.holiday(inc.start)
        out = [Post(key=f"{inc.key}/p", created=when, text=text,
                    final=self._finals(rng, holiday, 1.5), tau=2 * 3600)]
        if inc.end > when + 300:
            out.append(Post(key=f"{inc.key}/p2", created=int(inc.end + 120),
                            text=texts.cleared_notice(_hhmm(inc.end), place),
                            final=self._finals(rng, holiday, 0.6), tau=2 * 3600))
        return tuple(out)

    @lru_cache(maxsize=1024)
    def _works_post(self, w: Works) -> Post:
        rng = make_rng(self.seed, "workspost", w.key)
        ch = self.city.chains[w.chain]
        impact = {"all-lanes-closed": "施工期间该路段封闭", "alternating-one-way":
                  "施工期间单车道交替通行"}.get(w.impact, "施工期间占用部分车道")
        text = texts.roadworks_notice(_mdhm(w.start), _mdhm(w.end), ch.road,
                                      f"({w.from_cross}—{w.to_cross})", w.work_zh, impact)
        return Post(key=f"{w.key}/p", created=int(w.announced), text=text,
                    final=self._finals(rng, False, 0.8), tau=6 * 3600)

    # -- units ---------------------------------------------------------------------------
    def _unit_roster(self) -> list[Unit]:
        rng = make_rng(self.seed, "units")
        c = self.city
        out: list[Unit] = []
        if not c.chains:
            return out
        city_pool = self.arterials or [ch.idx for ch in c.chains]

        def add(uid, utype, callsign, pool, speed, shift):
            ch = c.chains[rng.choice(pool)]
            base = rng.uniform(0.2, 0.8) * ch.length
            out.append(Unit(id=uid, type=utype, callsign=callsign, chain=ch.idx, base_m=base,
                            patrol_m=min(ch.length / 2, rng.uniform(800, 3000)), speed=speed,
                            shift=shift, depot=ch.point_at(base)))

        for i in range(12):
            add(f"T-{101 + i}", "patrol_car", f"泰安交警{101 + i}", city_pool,
                rng.uniform(6, 10), i % 3 if i % 3 < 2 else 2)
        for i in range(4):
            add(f"G-{151 + i}", "patrol_car", f"高速交警{151 + i}",
                self.expressways or city_pool, rng.uniform(15, 22), 2)
        for i in range(8):
            add(f"M-{201 + i}", "motorcycle", f"铁骑{201 + i}", city_pool,
                rng.uniform(5, 9), 0)
        for i in range(4):
            add(f"Q-{301 + i}", "tow_truck", f"清障{301 + i}", city_pool, 0.0, 2)
        return out

    def unit_states(self, t: float) -> list[dict[str, Any]]:
        """Each unit's position and status at t."""
        h = local_hour(t)
        tows = self._tow_jobs(t)
        out = []
        for u in self.units:
            ch = self.city.chains[u.chain]
            on = u.shift == 2 or (u.shift == 0 and 7 <= h < 19) or \
                (u.shift == 1 and not 7 <= h < 19)
            status = "free" if on else "off_duty"
            if u.type == "tow_truck":
                lon, lat = u.depot
                job = tows.get(u.id)
                if job is not None:
                    (inc, leave, arrive) = job
                    if t < arrive:
                        f = (t - leave) / max(1.0, arrive - leave)
                        lon = u.depot[0] + (inc.lon - u.depot[0]) * f
                        lat = u.depot[1] + (inc.lat - u.depot[1]) * f
                        status = "assigned"
                    else:
                        lon, lat, status = inc.lon, inc.lat, "on_scene"
            elif on and u.speed > 0:
                span = 2 * u.patrol_m
                phase = (t * u.speed + _mix(zlib.crc32(u.id.encode())) * span * 2) % (2 * span)
                offset = phase if phase < span else 2 * span - phase
                lon, lat = ch.point_at(u.base_m - u.patrol_m + offset)
            else:
                lon, lat = u.depot
            out.append({"unit": u, "lon": lon, "lat": lat, "status": status})
        return out

    def _tow_jobs(self, t: float) -> dict[str, tuple[Incident, float, float]]:
        """Tow trucks sent to accidents and breakdowns, first come first served."""
        tows = [u for u in self.units if u.type == "tow_truck"]
        busy_until = {u.id: -math.inf for u in tows}
        current: dict[str, tuple[Incident, float, float]] = {}
        for inc in sorted(self.incidents(t), key=lambda i: (i.start, i.key)):
            if inc.kind not in ("accident", "breakdown"):
                continue
            leave = inc.start + 600
            if leave > t:
                continue
            free = [u for u in tows if busy_until[u.id] <= leave]
            if not free:
                continue
            u = min(free, key=lambda u: (metres(u.depot, (inc.lon, inc.lat)), u.id))
            arrive = leave + metres(u.depot, (inc.lon, inc.lat)) / 8.0
            done = max(inc.end, arrive + 300)
            busy_until[u.id] = done + metres(u.depot, (inc.lon, inc.lat)) / 8.0
            if leave <= t < done:
                current[u.id] = (inc, leave, arrive)
        return current


def _ascii_digits(text: str) -> str:
    """Hotline systems store numbers typed by the operator: ASCII digits."""
    return "".join(chr(ord(c) - 0xFEE0) if "\uff10" <= c <= "\uff19" else c for c in text)


def _hhmm(t: float) -> str:
    lt = datetime.fromtimestamp(t + TZ_OFFSET, UTC)
    return f"{lt.hour}:{lt.minute:02d}"


def _mdhm(t: float) -> str:
    lt = datetime.fromtimestamp(t + TZ_OFFSET, UTC)
    return f"{lt.month}月{lt.day}日{lt.hour}时"

