"""Find where a citizen's text report is, and what it is about.

``locate_text`` resolves road names, intersections ("长城路泰玻大街路口", "X路与Y路交叉口"),
stretches ("东岳大街(迎胜路口段)", "X路(A路—B路)", "X路A路至B路段") and gazetteer
landmarks ("岱庙门口") against the road network's own names and aliases, using only the
``RoadNetwork`` interface. ``classify_text`` turns the wording into a category, a kind
and a severity. Both are pure functions used by the Weibo and hotline adapters, by
dispatch and by comms.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from dashboard.masking import normalise
from dashboard.storage.cache import ProcessCache

PRECISIONS = ("intersection", "stretch", "landmark", "road")


@dataclass(frozen=True)
class Location:
    """Where a text puts its report. Points are WGS-84 (lon, lat)."""

    roads: tuple[str, ...]
    intersection: tuple[float, float] | None
    point: tuple[float, float] | None
    segment_id: str
    district: str
    precision: str
    matched: str
    direction: str = ""
    landmark: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["roads"] = list(self.roads)
        d["intersection"] = list(self.intersection) if self.intersection else None
        d["point"] = list(self.point) if self.point else None
        return d


# -- text preparation -----------------------------------------------------------------
_ACCOUNT_END = ("交警支队", "交警大队", "交警", "公安局", "公安", "警方", "发布", "广播", "路况",
                "交通", "电台", "微博")
_MENTION_RE = re.compile(r"@[^\s@:：,，。.!！?？#、;；)）(（\[\]【】]{1,30}")
_URL_RE = re.compile(r"(?:https?|javascript|data|ftp)\s*:[^\s\u4e00-\u9fff]*", re.I)
_TAG_RE = re.compile(r"<[^>]{0,500}>")
_SPACE_RE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]")


def _mention_span(m: re.Match) -> tuple[int, int]:
    """A mention ends at punctuation, or right after an account-like word such as 交警
    (people write "@泰山交警长城路堵了" without a space)."""
    body = m.group(0)
    best = len(body)
    for end in _ACCOUNT_END:
        i = body.find(end)
        if i > 0:
            best = min(best, i + len(end))
    return m.start(), m.start() + best


class _Text:
    """The report prepared for matching: normalised, without mentions, links, tags and
    spaces, with a map back to the original characters."""

    def __init__(self, text: str):
        self.original = text
        norm = normalise(text)
        blank = [False] * len(norm)
        drop = [False] * len(norm)  # HTML tags vanish; mentions and links separate
        for m in _TAG_RE.finditer(norm):
            for i in range(m.start(), m.end()):
                drop[i] = True
        for m in _URL_RE.finditer(norm):
            for i in range(m.start(), m.end()):
                blank[i] = True
        for m in _MENTION_RE.finditer(norm):
            s, e = _mention_span(m)
            for i in range(s, e):
                blank[i] = True
        chars, index = [], []
        for i, ch in enumerate(norm):
            if drop[i]:
                continue
            if blank[i] or _SPACE_RE.match(ch):
                if not blank[i]:
                    continue
                # a removed mention or link still separates what is on either side
                if chars and chars[-1] != "|":
                    chars.append("|")
                    index.append(i)
                continue
            chars.append(ch)
            index.append(i)
        self.compact = "".join(chars)
        self.index = index

    def original_span(self, start: int, end: int) -> str:
        if start >= end or not self.index:
            return ""
        return self.original[self.index[start]:self.index[end - 1] + 1]


# -- names ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    name: str      # canonical road name, or landmark name
    kind: str      # "road" | "landmark"


_SUFFIXES = ("大街", "大道", "路", "街", "道", "高速公路", "高速", "线", "桥")


def _road_surfaces(network) -> list[tuple[str, str]]:
    """(surface form, canonical road) for every name, alias and common short form."""
    out: dict[str, str] = {}
    for name in network.road_names():
        out.setdefault(normalise(name).replace(" ", ""), name)
    for alias, canonical in network.aliases().items():
        out.setdefault(normalise(alias).replace(" ", ""), canonical)
    # "泰玻大街" is often written "泰玻街"; only when that form is not another road
    extra: dict[str, str] = {}
    for surface, canonical in out.items():
        if surface.endswith("大街") and len(surface) >= 4:
            short = surface[:-2] + "街"
            if short not in out:
                extra.setdefault(short, canonical)
    out.update(extra)
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


def _landmark_surfaces(network) -> list[tuple[str, dict]]:
    items = [(normalise(k).replace(" ", ""), v) for k, v in network.landmarks().items()]
    return sorted((kv for kv in items if len(kv[0]) >= 2), key=lambda kv: -len(kv[0]))


_surfaces: ProcessCache[tuple[list, list, list]] = ProcessCache(9)   # per network object


def _names(network) -> tuple[list, list, list]:
    """Surface tables of a network, built once per network object."""
    return _surfaces.get_for(network, lambda: _build_names(network))


def _build_names(network) -> tuple[list, list, list]:
    roads = _road_surfaces(network)
    return roads, _landmark_surfaces(network), _fuzzy_patterns(roads)


def _fuzzy_patterns(roads: list[tuple[str, str]]) -> list[tuple[re.Pattern, tuple[str, ...]]]:
    """One-typo patterns ("擂鼓十大街" for 擂鼓石大街, "傲来峰路" for 傲徕峰路).

    The first character and the suffix must be exact and one other stem character may
    differ. Two-character stems only for 大街 names: "X山路" would match "下山路",
    "长X路" any 长-road of another city. A pattern that fits several roads keeps them all
    and is settled by the road it meets in the text (see ``_find_mentions``).
    """
    by_pattern: dict[str, list[str]] = {}
    for surface, canonical in roads:
        suffix = next((s for s in _SUFFIXES if surface.endswith(s)), "")
        stem = surface[:len(surface) - len(suffix)] if suffix else ""
        if not re.fullmatch(r"[\u4e00-\u9fff]+", stem or "x"):
            continue
        if len(stem) < 2 or (len(stem) == 2 and suffix != "大街"):
            continue
        for i in range(1, len(stem)):
            pat = re.escape(stem[:i]) + r"[\u4e00-\u9fff]" + re.escape(stem[i + 1:] + suffix)
            names = by_pattern.setdefault(pat, [])
            if canonical not in names:
                names.append(canonical)
    return [(re.compile(p), tuple(names)) for p, names in by_pattern.items()]


def _claim(found: list[_Mention], taken: list[bool], start: int, end: int, name: str,
           kind: str) -> None:
    if any(taken[start:end]):
        return
    for i in range(start, end):
        taken[i] = True
    found.append(_Mention(start, end, name, kind))


def _find_mentions(compact: str, network) -> list[_Mention]:
    """Road and landmark mentions, longest surface first, not overlapping."""
    roads, landmarks, fuzzy = _names(network)
    taken = [False] * len(compact)
    found: list[_Mention] = []
    # both tables merged by length, so that "泰山区政府" (landmark) beats "泰山" and
    # "红门路" (road) beats "红门" (landmark)
    table = [(s, c, "road") for s, c in roads] + [(s, v["name"], "landmark")
                                                  for s, v in landmarks]
    table.sort(key=lambda t: -len(t[0]))
    for surface, name, kind in table:
        start = compact.find(surface)
        while start >= 0:
            if _ascii_bounded(compact, start, start + len(surface)):
                _claim(found, taken, start, start + len(surface), name, kind)
            start = compact.find(surface, start + 1)
    exact_roads = [m for m in found if m.kind == "road"]
    for pat, names in fuzzy:
        for m in pat.finditer(compact):
            if any(taken[m.start():m.end()]):
                continue
            name = names[0] if len(names) == 1 else _settle(names, m.start(), m.end(),
                                                             exact_roads, network)
            if name:
                _claim(found, taken, m.start(), m.end(), name, "road")
    found.sort(key=lambda m: m.start)
    return found


def _ascii_bounded(text: str, start: int, end: int) -> bool:
    """An alias such as "G3" or "S31" must not be part of a longer code ("G35", "S310")."""
    def alnum(ch: str) -> bool:
        return ch.isascii() and ch.isalnum()
    if alnum(text[start]) and start > 0 and alnum(text[start - 1]):
        return False
    if alnum(text[end - 1]) and end < len(text) and alnum(text[end]):
        return False
    return True


def _settle(names: tuple[str, ...], start: int, end: int, exact: list[_Mention],
            network) -> str:
    """The one candidate of an ambiguous typo that crosses the road written next to it."""
    near = [m for m in exact if 0 <= start - m.end <= 3 or 0 <= m.start - end <= 3]
    fits = [n for n in names if any(_cross(network, n, m.name) for m in near)]
    return fits[0] if len(fits) == 1 else ""


# -- patterns between mentions ---------------------------------------------------------
_JOIN = r"(?:与|和|跟|同|及|/|、|&|\+|交|-|—|x|X|×)?"
_CROSS_SUFFIX = re.compile(
    r"^(?:的)?(?:交叉路口|交叉口|十字路口|十字口|丁字路口|路口|交汇处|交汇口|交界处|交口|交叉|口)")
_STRETCH_OPEN = r"[(\[【{<]"
_STRETCH_CLOSE = r"[)\]】}>]"
_RANGE_JOIN = re.compile(r"^(?:路口)?(?:-{1,2}|—{1,2}|~|～|至|到|-至|往|与|和|、)(?:路口)?$")
# joiners that make "X A—B" a stretch even without 段 or brackets
_RANGE_ONLY = re.compile(r"^(?:路口)?(?:-{1,2}|—{1,2}|~|～|至|到)(?:路口)?$")
_NEAR_CROSS_CLOSE = re.compile(r"^(?:路口|口)?(?:段|路段|附近|处)?[)\]】}>]")
_STRETCH_END = re.compile(r"^(?:路口)?(?:段|路段|之间|中间|一段|区间)")
_FROM_WORDS = ("从", "自", "由", "在", "上")

_DIRECTIONS = (
    (re.compile(r"(?:由|自|从)?东(?:向|往|到|至)西|西行|往西|向西"), "东向西"),
    (re.compile(r"(?:由|自|从)?西(?:向|往|到|至)东|东行|往东|向东"), "西向东"),
    (re.compile(r"(?:由|自|从)?南(?:向|往|到|至)北|北行|往北|向北"), "南向北"),
    (re.compile(r"(?:由|自|从)?北(?:向|往|到|至)南|南行|往南|向南"), "北向南"),
    (re.compile(r"双向"), "双向"),
    (re.compile(r"进城方向|进城"), "进城"),
    (re.compile(r"出城方向|出城"), "出城"),
)


def _direction(compact: str) -> str:
    best, where = "", len(compact) + 1
    for rx, label in _DIRECTIONS:
        m = rx.search(compact)
        if m and m.start() < where:
            best, where = label, m.start()
    return best


def _between(compact: str, a: _Mention, b: _Mention) -> str:
    return compact[a.end:b.start]


def _strip_from(s: str) -> str:
    """Drop leading 从/自/由/在/上 ("东岳大街上从迎胜路到…")."""
    while s[:1] and s[:1] in _FROM_WORDS:
        s = s[1:]
    return s


# -- geometry helpers (only through the RoadNetwork interface) --------------------------
_road_geoms: ProcessCache[dict[Any, Any]] = ProcessCache(9)   # per network object: road → …


def _road_segments(network, road: str) -> list[tuple[str, list[tuple[float, float]], str]]:
    """(segment id, coords, district) of a road, in the network's order along it.
    Cached per network object."""
    cache = _road_geoms.get_for(network, dict)
    if ("segs", road) not in cache:
        segs = []
        for sid in network.segments_of(road):
            seg = network.segment(sid) or {}
            coords = [(float(c[0]), float(c[1])) for c in seg.get("coords", [])]
            if len(coords) >= 2:
                segs.append((str(sid), coords, str(seg.get("district") or "")))
        cache[("segs", road)] = segs
    return cache[("segs", road)]


def _road_line(network, road: str) -> list[tuple[float, float]]:
    """The road as one line: its segments in order, each turned to continue from the
    end of the previous one."""
    path: list[tuple[float, float]] = []
    for _sid, coords, _d in _road_segments(network, road):
        coords = list(coords)
        if path and _dist2(path[-1], coords[-1]) < _dist2(path[-1], coords[0]):
            coords.reverse()
        if path and path[-1] == coords[0]:
            coords = coords[1:]
        path.extend(coords)
    return path


def _dist2(a: tuple[float, float], b: tuple[float, float]) -> float:
    k = math.cos(math.radians((a[1] + b[1]) / 2))
    return ((a[0] - b[0]) * k) ** 2 + (a[1] - b[1]) ** 2


def _project(line: list[tuple[float, float]], p: tuple[float, float]) -> float:
    """Distance along ``line`` (in degree-ish units) of the point nearest ``p``."""
    best, best_at, run = None, 0.0, 0.0
    for a, b in zip(line, line[1:]):
        k = math.cos(math.radians(a[1]))
        ax, ay, bx, by, px, py = a[0] * k, a[1], b[0] * k, b[1], p[0] * k, p[1]
        dx, dy = bx - ax, by - ay
        seg = math.hypot(dx, dy)
        t = 0.0 if seg == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / seg ** 2))
        qx, qy = ax + t * dx, ay + t * dy
        d = math.hypot(px - qx, py - qy)
        if best is None or d < best:
            best, best_at = d, run + t * seg
        run += seg
    return best_at


def _interpolate(line: list[tuple[float, float]], at: float) -> tuple[float, float]:
    run = 0.0
    for a, b in zip(line, line[1:]):
        k = math.cos(math.radians(a[1]))
        seg = math.hypot((b[0] - a[0]) * k, b[1] - a[1])
        if run + seg >= at and seg > 0:
            t = (at - run) / seg
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
        run += seg
    return line[-1]


def _length(line: list[tuple[float, float]]) -> float:
    return _project(line, line[-1]) if len(line) >= 2 else 0.0


def _segment_on(network, road: str, point: tuple[float, float]) -> tuple[str, str]:
    """(segment id, district) of ``road``'s segment nearest ``point``."""
    best = None
    for sid, coords, district in _road_segments(network, road):
        q = _interpolate(coords, _project(coords, point))
        d = _dist2(q, point)
        if best is None or d < best[0]:
            best = (d, sid, district)
    if best is None:
        return "", _district(network, point)
    return best[1], best[2] or _district(network, point)


def _district(network, point: tuple[float, float] | None) -> str:
    if point is None:
        return ""
    try:
        return network.district_at(point[0], point[1]) or ""
    except Exception:  # a point outside every district
        return ""


def _nearest_on_road(network, road: str, p: tuple[float, float]) -> tuple[float, float]:
    line = _road_line(network, road)
    if len(line) < 2:
        return p
    return _interpolate(line, _project(line, p))


def _road_middle(network, road: str) -> tuple[float, float] | None:
    line = _road_line(network, road)
    if not line:
        return None
    if len(line) == 1:
        return line[0]
    return _interpolate(line, _length(line) / 2)


def _stretch_middle(network, road: str, a: tuple[float, float],
                    b: tuple[float, float]) -> tuple[float, float]:
    line = _road_line(network, road)
    if len(line) < 2:
        return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    return _interpolate(line, (_project(line, a) + _project(line, b)) / 2)


def _cross(network, a: str, b: str) -> tuple[float, float] | None:
    if a == b:
        return None
    p = network.intersection(a, b)
    if p is None:
        return None
    return (float(p[0]), float(p[1]))


# -- the locator -----------------------------------------------------------------------
def locate_text(text: str, network) -> Location | None:
    """Where ``text`` says something happens, on ``network``; None when it does not say."""
    if not isinstance(text, str) or not text.strip() or network is None:
        return None
    prepared = _Text(text[:5000])
    compact = prepared.compact
    mentions = _find_mentions(compact, network)
    if not mentions:
        return None
    blanked = list(compact)
    for m in mentions:
        blanked[m.start:m.end] = ["|"] * (m.end - m.start)
    direction = _direction("".join(blanked))
    roads = [m for m in mentions if m.kind == "road"]
    marks = [m for m in mentions if m.kind == "landmark"]

    def loc(names: Iterable[str], inter, point, precision, start, end, road_for_seg,
            landmark="") -> Location:
        names = tuple(dict.fromkeys(names))
        if point is not None and road_for_seg:
            seg, district = _segment_on(network, road_for_seg, point)
        else:
            seg, district = "", _district(network, point)
        return Location(roads=names, intersection=inter, point=point, segment_id=seg,
                        district=district, precision=precision,
                        matched=prepared.original_span(start, end), direction=direction,
                        landmark=landmark)

    # stretches: X (A — B), X A至B段, X 从A到B; and X (A路口段)
    for i, x in enumerate(roads):
        rest = roads[i + 1:]
        if len(rest) >= 2:
            a, b = rest[0], rest[1]
            opened = compact[x.end:a.start]
            gap_xa = _strip_from(re.sub(_STRETCH_OPEN, "", opened))
            gap_ab = _strip_from(_between(compact, a, b))
            tail = compact[b.end:b.end + 4]
            closes = re.match(_STRETCH_CLOSE, tail) or _STRETCH_END.match(tail)
            from_word = any(w in opened for w in ("从", "自"))
            # "X 与 A、B 之间": a joined pair needs an explicit 段/之间 after it
            joined = gap_xa in ("与", "和") and closes
            if ((gap_xa == "" or joined) and _RANGE_JOIN.match(gap_ab)
                    and (closes or _RANGE_ONLY.match(gap_ab) or from_word)
                    and len({x.name, a.name, b.name}) == 3):
                pa, pb = _cross(network, x.name, a.name), _cross(network, x.name, b.name)
                if pa and pb:
                    mid = _stretch_middle(network, x.name, pa, pb)
                    end = b.end + (1 if closes and re.match(_STRETCH_CLOSE, tail) else 0)
                    return loc((x.name, a.name, b.name), None, mid, "stretch", x.start,
                               end, x.name)
        if rest:
            a = rest[0]
            gap = _between(compact, x, a)
            close = _NEAR_CROSS_CLOSE.match(compact[a.end:a.end + 5])
            if re.fullmatch(_STRETCH_OPEN, gap) and close:
                p = _cross(network, x.name, a.name)
                if p:
                    # "东岳大街(迎胜路口段)": the stretch at one crossing, placed on it
                    return loc((x.name, a.name), p, p, "intersection", x.start,
                               a.end + close.end(), x.name)

    # intersections: two roads side by side or joined by 与/和/、 (+ 路口 / 交叉口 …)
    for x, a in zip(roads, roads[1:]):
        gap = _between(compact, x, a)
        suffix = _CROSS_SUFFIX.match(compact[a.end:])
        # "东岳大街上迎胜路口", "迎胜路口东岳大街": looser gaps when a 口 makes it clear
        loose = (suffix and gap in ("上", "的")) or gap in ("口", "路口")
        if len(gap) > 3 or not (re.fullmatch(_JOIN, gap) or loose):
            continue
        p = _cross(network, x.name, a.name)
        if p is None:
            continue
        end = a.end + (suffix.end() if suffix else 0)
        return loc((x.name, a.name), p, p, "intersection", x.start, end, x.name)

    # a landmark, with the road it is on when one is named
    if marks:
        m = marks[0]
        info = _landmark_info(network, m.name)
        if info is not None:
            lm = (float(info["lon"]), float(info["lat"]))
            if roads:
                r = min(roads, key=lambda rm: abs(rm.start - m.start))
                p = _nearest_on_road(network, r.name, lm)
                if _metres(p, lm) <= 1000:
                    return loc((r.name,), None, p, "landmark", min(r.start, m.start),
                               max(r.end, m.end), r.name, landmark=m.name)
            near = network.nearest(lm[0], lm[1], 2000.0)
            road = near.road_name if near is not None else ""
            return loc((road,) if road else (), None, lm, "landmark", m.start, m.end, road,
                       landmark=m.name)

    # one road (or several that do not meet): the middle of the first named road
    first = roads[0]
    p = _road_middle(network, first.name)
    return loc([r.name for r in roads], None, p, "road", first.start, first.end, first.name)


def _landmark_info(network, name: str) -> dict | None:
    lms = network.landmarks()
    if name in lms:
        return lms[name]
    for v in lms.values():
        if v.get("name") == name:
            return v
    return None


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.sqrt(_dist2(a, b)) * 111_195.0


# -- classification --------------------------------------------------------------------
# (category, kind, base severity, keywords); the first category that matches wins, so
# causes come before effects ("追尾导致拥堵" is an accident, "施工造成拥堵" roadworks).
_CLASSES: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("accident", "incident", 2, ("事故", "追尾", "剐蹭", "刮蹭", "挂蹭", "擦碰", "相撞", "撞了",
                                 "撞上", "撞到", "撞车", "被撞", "碰撞", "翻车", "侧翻", "车祸",
                                 "连环撞", "碰了", "撞倒", "蹭车", "蹭了", "蹭到")),
    ("overload", "incident", 3, ("超员", "超载", "超限")),
    ("flooding", "report", 2, ("积水", "被淹", "淹了", "淹没", "水深", "内涝", "涉水", "水漫",
                               "淹")),
    ("hazard", "incident", 2, ("信号灯坏", "红绿灯坏", "信号灯不亮", "红绿灯不亮", "红绿灯灭",
                               "信号灯灭", "红绿灯故障", "信号灯故障", "灯不亮", "井盖", "路面塌陷",
                               "塌陷", "大坑", "落石", "石头", "障碍物", "抛洒物", "遗撒", "掉落物",
                               "散落", "撒了", "洒了", "撒落", "洒落", "遗洒",
                               # "红绿灯是不是坏了", "信号灯一直红灯"
                               r"(?:红绿灯|信号灯|信号机)[^,.!?;。]{0,8}"
                               r"(?:坏|不亮|灭|故障|失灵|不工作|不变|一直红|黄闪)")),
    ("breakdown", "incident", 1, ("故障", "抛锚", "坏在路上", "坏路上", "坏在", "熄火", "爆胎",
                                  "没油", "趴窝")),
    ("roadworks", "construction", 1, ("施工", "修路", "封路", "挖路", "道路维修", "占道作业",
                                      "封闭")),
    ("closure", "report", 2, ("交通管制", "管制")),
    ("illegal_parking", "report", 1, ("违停", "乱停", "违章停车", "违法停车", "占道停车",
                                      "停在路中间", "乱停乱放")),
    ("jam", "report", 2, ("拥堵", "堵车", "堵死", "堵了", "排长队", "走不动", "缓行", "水泄不通",
                          "大排长龙", "排长龙", "长龙", "排队", "龟速", "一动不动", "动不了", "挪不动", "车多",
                          "堵", "都是车", "全是车", "车很多", "车太多", r"全是[^,.!?;。]{1,6}的车",
                          r"排到[^,.!?;。]{0,6}上")),
)
# one regex per class: the entries are literal words or small patterns
_CLASS_RES = tuple((category, kind, base, re.compile("|".join(words)))
                   for category, kind, base, words in _CLASSES)
_SEVERE = ("严重", "多车", "连环", "大排长龙", "排长龙", "瘫痪", "堵死", "水泄不通", "受伤", "伤者",
           "流血", "起火", "着火", "冒烟", "翻车", "侧翻", "一个多小时", "半小时", "几公里",
           "好几公里", "动不了", "一动不动", "救护车", "危险品", "大客车")
_MILD = ("轻微", "小剐蹭", "轻微剐蹭", "有点", "稍微", "略", "缓行", "已处理", "已经挪")


def classify_text(text: str) -> tuple[str, str, int]:
    """(category, kind, severity 0-4) of a report from its wording.

    Unknown wording gives ("other", "report", 1).
    """
    if not isinstance(text, str):
        return "other", "report", 1
    compact = _Text(text[:5000]).compact
    for category, kind, base, rx in _CLASS_RES:
        if rx.search(compact):
            severe = sum(1 for w in _SEVERE if w in compact)
            mild = any(w in compact for w in _MILD)
            severity = base + min(severe, 2) - (1 if mild and not severe else 0)
            return category, kind, max(0, min(4, severity))
    return "other", "report", 1
