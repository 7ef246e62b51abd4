"""Bulletin templates (路况播报, accident, roadworks, traffic control, holiday advisory,
"cleared" follow-up) and the functions that gather their data from the live picture.

Every template is a pure function of (data, now) returning a ``Bulletin``: a title, a
body, hashtags and @-mentions, plus what a later "cleared" follow-up needs (where, what,
when). ``Bulletin.text`` is the Weibo-style full text ``#泰安路况#【路况播报】正文 @账号``
(the topics and the signing 交警 are the city profile's: ``hashtags``, ``sms_signature``);
``dashboard.channels`` fits a bulletin to each medium.

Wording decisions:
- Times are local to the zone of the template's ``now`` (the caller gives ``now`` in the
  city's zone, ``timeutil.city_zone``) and written ``10月1日9时30分``; on the hour ``10月1日9时``.
- Congestion words follow the map providers' scale: 2 缓行, 3 拥堵, 4 严重拥堵.
- A stretch is ``东岳大街(青年路—迎胜路)``: the road, then the named cross streets at its
  ends in the network's order along the road (west→east, south→north); stretches are
  found by ``dashboard.roads.stretches.StretchFinder``.
- Over-long inputs are shortened by whole items, never mid-word: the last item kept is
  followed by "等路段" (lists in the holiday advisory by "等").

Gathering (``live_*``, ``*_candidates``) reads the Store and the road network; it is the
only part here that does I/O.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Iterable, Sequence

from dashboard.masking import mask_text
from dashboard.model import RoadEvent
from dashboard.roads.stretches import Stretch, StretchFinder
from dashboard.roads.works import live_works
from dashboard.settings import DEMO_PROFILE
from dashboard.timeutil import SHANGHAI

KINDS = ("traffic", "accident", "roadworks", "control", "holiday", "cleared", "free")
KIND_TITLES = {"traffic": "路况播报", "accident": "事故快报", "roadworks": "施工公告",
               "control": "交通管制", "holiday": "假期出行提示", "cleared": "恢复通行",
               "free": "路况信息"}
LEVEL_WORDS = {2: "缓行", 3: "拥堵", 4: "严重拥堵"}
# the demo city's topics and issuer; drafting passes the configured ones (drafts.build)
DEFAULT_HASHTAGS = tuple(DEMO_PROFILE["hashtags"].split(","))
DEFAULT_ISSUER = DEMO_PROFILE["sms_signature"].strip("【】")
TRAFFIC_MAX_LEN = 140        # 路况播报 fits the Weibo feed preview by default
MAX_LIST_ITEMS = 5           # per section of the holiday advisory

TRAFFIC_ADVICE = "请过往车辆提前规划路线，合理绕行。"
THANKS = "感谢广大驾驶人的理解与配合。"
DEFAULT_TIPS = (
    "出行前请关注实时路况，错峰出行",
    "高速公路行车保持安全车距，不疲劳驾驶",
    "遇交通事故请拍照取证后快速撤离，轻微事故快处快赔",
)
# incident categories → (what happened, for the notice; the subject, for the follow-up)
CATEGORY_PHRASES = {
    "accident": ("发生一起交通事故", "交通事故"),
    "breakdown": ("有车辆故障停驶", "故障车辆"),
    "hazard": ("路面有障碍物", "路面障碍"),
    "flooding": ("出现道路积水", "道路积水"),
    "closure": ("道路封闭", "道路封闭"),
    "jam": ("交通拥堵", "交通拥堵"),
    "overload": ("发现一辆涉嫌超员车辆", "超员车辆"),
    "illegal_parking": ("有车辆违法停放", "违法停车"),
    "weather": ("受天气影响通行缓慢", "恶劣天气影响"),
}
# dispatch statuses → what police are doing
STATUS_PHRASES = {
    "dispatched": "交警已赶赴现场处置",
    "on_scene": "交警正在现场处置",
    "cleared": "现场已处置完毕",
}
DEFAULT_STATUS_PHRASE = "交警正在赶赴现场处置"
SHORT_NAMES = {"new-year": "元旦", "spring-festival": "春节", "qingming": "清明",
               "labour-day": "五一", "dragon-boat": "端午", "mid-autumn": "中秋",
               "national-day": "国庆", "victory-day": "纪念日"}
_SHORT_ORDER = ("new-year", "spring-festival", "qingming", "labour-day", "dragon-boat",
                "mid-autumn", "national-day", "victory-day")


# -- the bulletin -------------------------------------------------------------------------
@dataclass(frozen=True)
class Bulletin:
    """One bulletin, channel-independent."""

    kind: str
    title: str
    body: str
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    at: str = ""                      # ISO time the bulletin describes
    refs: tuple[str, ...] = ()        # event ids it was drawn from
    place: str = ""                   # where (for the follow-up)
    subject: str = ""                 # what (交通事故, 道路施工 …) for the follow-up
    event_at: str = ""                # when it happened (ISO), for the follow-up

    @property
    def text(self) -> str:
        """The full text: ``#tag#【title】body @mention``."""
        return decorate(f"【{self.title}】{self.body}" if self.title else self.body,
                        self.hashtags, self.mentions)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("hashtags", "mentions", "refs"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Bulletin":
        known = {f for f in cls.__dataclass_fields__}
        clean = {k: v for k, v in d.items() if k in known}
        for k in ("hashtags", "mentions", "refs"):
            clean[k] = tuple(clean.get(k) or ())
        return cls(**clean)

    def with_text(self, text: str) -> "Bulletin":
        """This bulletin with its text replaced by a staff edit (kind and facts kept)."""
        edited = parse_text(text, self.kind)
        return Bulletin(self.kind, edited.title, edited.body, edited.hashtags,
                        edited.mentions, self.at, self.refs, self.place, self.subject,
                        self.event_at)


def clean_tag(tag: str) -> str:
    """A hashtag or mention name without its marks and spaces (at most 30 characters)."""
    return re.sub(r"[#@\s]", "", tag or "")[:30]


def decorate(core: str, hashtags: Iterable[str] = (), mentions: Iterable[str] = ()) -> str:
    """``#tag#`` in front, `` @name`` behind: Weibo's syntax, as plain text."""
    tags = "".join(f"#{t}#" for t in (clean_tag(t) for t in hashtags) if t)
    ments = "".join(f" @{m}" for m in (clean_tag(m) for m in mentions) if m)
    return f"{tags}{core}{ments}"


def split_tags(text: str) -> list[str]:
    """Names from a comma/space separated field (``泰安路况, #国庆出行#``)."""
    return [t for t in (clean_tag(p) for p in re.split(r"[,，、\s]+", text or "")) if t]


_PARSE_RE = re.compile(
    r"^\s*(?P<tags>(?:#[^#\n]{1,30}#\s*)*)(?:【(?P<title>[^】\n]{1,64})】)?"
    r"(?P<body>.*?)(?P<mentions>(?:\s*@[\w\-]{1,30})*)\s*$", re.S)


def parse_text(text: str, kind: str = "free") -> Bulletin:
    """A bulletin from free text: leading ``#tags#``, an optional ``【title】``, the body and
    trailing ``@mentions`` are recognised; everything else is body."""
    m = _PARSE_RE.match(text or "")
    assert m is not None  # the pattern matches any string
    tags = tuple(t for t in re.findall(r"#([^#\n]{1,30})#", m.group("tags")) if t.strip())
    mentions = tuple(re.findall(r"@([\w\-]{1,30})", m.group("mentions")))
    title = (m.group("title") or "").strip()
    return Bulletin(kind if kind in KINDS else "free", title, m.group("body").strip(),
                    tuple(clean_tag(t) for t in tags), mentions)


# -- wording helpers --------------------------------------------------------------------
def cn_time(dt: datetime, with_date: bool = True, tz: tzinfo | None = None) -> str:
    """``10月1日9时30分`` (local time in ``tz``, the city's zone; default the default
    ``timezone`` setting); ``10月1日9时`` on the hour."""
    if dt.tzinfo is None:
        raise ValueError("cn_time needs an aware datetime")
    lt = dt.astimezone(tz or SHANGHAI)
    hm = f"{lt.hour}时" + (f"{lt.minute}分" if lt.minute else "")
    return f"{lt.month}月{lt.day}日{hm}" if with_date else hm


def cn_date(d: date) -> str:
    return f"{d.month}月{d.day}日"


def cn_span(start: datetime | None, end: datetime | None, tz: tzinfo | None = None) -> str:
    """``10月1日8时至10月7日18时``, ``10月1日8时至18时`` (same day), ``自10月1日8时起``
    (local time in ``tz``, as ``cn_time``)."""
    if start and end:
        s, e = start.astimezone(tz or SHANGHAI), end.astimezone(tz or SHANGHAI)
        tail = cn_time(end, with_date=s.date() != e.date(), tz=tz)
        return f"{cn_time(start, tz=tz)}至{tail}"
    if start:
        return f"自{cn_time(start, tz=tz)}起"
    if end:
        return f"即日起至{cn_time(end, tz=tz)}"
    return "即日起"


def cn_date_span(start: date, end: date) -> str:
    """``10月1日至7日`` (same month) or ``9月29日至10月6日``."""
    if start == end:
        return cn_date(start)
    if start.month == end.month:
        return f"{cn_date(start)}至{end.day}日"
    return f"{cn_date(start)}至{cn_date(end)}"


def holiday_short_name(kinds: Sequence[str]) -> str:
    """``国庆``, ``中秋国庆`` (kinds in calendar order)."""
    ordered = sorted(set(kinds), key=lambda k: _SHORT_ORDER.index(k) if k in _SHORT_ORDER else 99)
    return "".join(SHORT_NAMES.get(k, k) for k in ordered)


def join_items(items: Sequence[str], limit: int = MAX_LIST_ITEMS, empty: str = "暂无") -> str:
    """``A、B、C`` with at most ``limit`` items, then ``等``; ``empty`` when there are none."""
    items = [i for i in items if i]
    if not items:
        return empty
    shown = "、".join(items[:limit])
    return shown + ("等" if len(items) > limit else "")


# -- data the templates take ------------------------------------------------------------
@dataclass(frozen=True)
class Works:
    """Roadworks: where, when, how much of the road is taken."""

    road: str
    stretch: str = ""                 # "龙潭路(东岳大街—泰山大街)"; road when unknown
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    impact: str = ""                  # WZDx vehicle_impact
    lanes_closed: int = 0
    ids: tuple[str, ...] = ()

    @property
    def place(self) -> str:
        return self.stretch or self.road

    @classmethod
    def from_event(cls, ev: RoadEvent, stretch: str = "") -> "Works":
        a = ev.attrs or {}
        road = ev.road_names[0] if ev.road_names else ""
        if not stretch:
            b, e = a.get("beginning_cross_street") or "", a.get("ending_cross_street") or ""
            stretch = Stretch(road, 0, b, e).label if road else ""
        return cls(road=road, stretch=stretch, starts_at=ev.starts_at, ends_at=ev.ends_at,
                   impact=str(a.get("vehicle_impact") or ""),
                   lanes_closed=int(a.get("lanes_closed") or 0), ids=(ev.id,))


@dataclass(frozen=True)
class Control:
    """A traffic-control measure (交通管制), from a closure event or the form."""

    place: str
    reason: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    measure: str = "禁止机动车通行"
    detour: str = ""
    ids: tuple[str, ...] = ()

    @classmethod
    def from_event(cls, ev: RoadEvent, place: str = "") -> "Control":
        reason = "道路施工" if ev.kind == "construction" else "交通事故处置" \
            if ev.category == "accident" else "道路封闭"
        return cls(place=place or event_place(ev), reason=reason, starts_at=ev.starts_at,
                   ends_at=ev.ends_at, ids=(ev.id,))


def event_place(ev: RoadEvent) -> str:
    """Where an event is, in words: the report's own place label, an intersection
    ``A与B路口``, or the road; with the direction when known."""
    a = ev.attrs or {}
    place = str(a.get("place") or "")
    if not place:
        roads = [r for r in ev.road_names if r]
        place = f"{roads[0]}与{roads[1]}路口" if len(roads) >= 2 else (roads[0] if roads else "")
    direction = str(a.get("direction") or "")
    if direction and place and re.fullmatch(r"[东南西北]{1,2}向[东南西北]{1,2}", direction):
        place += f"{direction}方向"
    return mask_text(place) if place else "相关路段"


# -- templates ------------------------------------------------------------------------------
def traffic_report(stretches: Sequence[Stretch], now: datetime, *,
                   hashtags: Sequence[str] = DEFAULT_HASHTAGS, mentions: Sequence[str] = (),
                   max_len: int = TRAFFIC_MAX_LEN, area: str = "全市主要道路") -> Bulletin:
    """路况播报: the most congested stretches, worst first, grouped by level.

    The whole text (tags and mentions included) is kept within ``max_len`` characters by
    dropping whole stretches from the end; the last one kept is followed by "等路段".
    At least the worst stretch is always named.
    """
    title = KIND_TITLES["traffic"]
    when = f"截至{cn_time(now, tz=now.tzinfo)}"
    items = sorted((s for s in stretches if s.level in LEVEL_WORDS),
                   key=lambda s: (-s.level, -s.length_m, s.label))
    common = dict(kind="traffic", title=title, hashtags=tuple(clean_tag(t) for t in hashtags),
                  mentions=tuple(clean_tag(m) for m in mentions), at=now.isoformat())
    if not items:
        return Bulletin(body=f"{when}，{area}通行顺畅。", place=area, **common)

    def body_with(n: int) -> str:
        groups: list[str] = []
        shown = items[:n]
        for level in (4, 3, 2):
            labels = [s.label for s in shown if s.level == level]
            if not labels:
                continue
            last_group = level == shown[-1].level
            more = "等路段" if (last_group and n < len(items)) else ""
            groups.append("、".join(labels) + more + LEVEL_WORDS[level])
        return f"{when}，" + "；".join(groups) + "。" + TRAFFIC_ADVICE

    n = len(items)
    body = body_with(n)
    while n > 1 and len(decorate(f"【{title}】{body}", hashtags, mentions)) > max_len:
        n -= 1
        body = body_with(n)
    shown = items[:n]
    refs = tuple(sid for s in shown for sid in s.segment_ids)
    place = "、".join(s.label for s in shown[:3]) + ("等路段" if len(shown) > 3 else "")
    return Bulletin(body=body, refs=refs, place=place, subject="拥堵", **common)


def incident_notice(ev: RoadEvent, now: datetime, *, status: str | None = None,
                    place: str = "", hashtags: Sequence[str] = DEFAULT_HASHTAGS,
                    mentions: Sequence[str] = ()) -> Bulletin:
    """事故快报 (or 路况提示 for other incident categories) from one event."""
    what, subject = CATEGORY_PHRASES.get(ev.category, ("发生交通异常情况", "交通异常"))
    title = KIND_TITLES["accident"] if ev.category == "accident" else "路况提示"
    happened = ev.starts_at or ev.observed_at
    where = place or event_place(ev)
    action = STATUS_PHRASES.get(status or "", DEFAULT_STATUS_PHRASE)
    body = (f"{cn_time(happened, tz=now.tzinfo)}，{where}{what}，{action}。"
            "请过往车辆减速慢行，注意避让。")
    return Bulletin("accident", title, body, tuple(clean_tag(t) for t in hashtags),
                    tuple(clean_tag(m) for m in mentions), now.isoformat(), (ev.id,), where,
                    subject, happened.isoformat())


def roadworks_notice(works: Works, now: datetime, *,
                     hashtags: Sequence[str] = DEFAULT_HASHTAGS,
                     mentions: Sequence[str] = ()) -> Bulletin:
    """施工公告: road and stretch, schedule, how the road is taken, advice."""
    if works.impact == "all-lanes-closed":
        how, advice = "全封闭施工，禁止车辆通行", "请过往车辆提前选择绕行路线。"
    elif works.lanes_closed > 0:
        how = f"占用{works.lanes_closed}条车道施工，通行能力下降"
        advice = "请过往车辆减速慢行，提前选择绕行路线。"
    elif works.impact in ("some-lanes-closed", "some-lanes-closed-merge-left",
                          "some-lanes-closed-merge-right", "alternating-one-way"):
        how = "占用部分车道施工，通行能力下降"
        advice = "请过往车辆减速慢行，提前选择绕行路线。"
    else:
        how, advice = "进行道路施工", "请过往车辆减速慢行，注意安全。"
    span = cn_span(works.starts_at, works.ends_at, now.tzinfo)
    body = f"因道路施工，{span}，{works.place}{how}。{advice}"
    return Bulletin("roadworks", KIND_TITLES["roadworks"], body,
                    tuple(clean_tag(t) for t in hashtags), tuple(clean_tag(m) for m in mentions),
                    now.isoformat(), works.ids, works.place, "道路施工",
                    works.starts_at.isoformat() if works.starts_at else "")


def control_notice(ctl: Control, now: datetime, *,
                   hashtags: Sequence[str] = DEFAULT_HASHTAGS,
                   mentions: Sequence[str] = ()) -> Bulletin:
    """交通管制: reason, schedule, place, measure, detour."""
    reason = f"因{ctl.reason}，" if ctl.reason else ""
    measure = f"，{ctl.measure}" if ctl.measure else ""
    detour = f"请过往车辆经{ctl.detour}绕行" if ctl.detour else "请过往车辆提前绕行"
    body = (f"{reason}{cn_span(ctl.starts_at, ctl.ends_at, now.tzinfo)}，对{ctl.place}"
            f"实行交通管制{measure}。"
            f"{detour}，给您带来的不便敬请谅解。")
    return Bulletin("control", KIND_TITLES["control"], body,
                    tuple(clean_tag(t) for t in hashtags), tuple(clean_tag(m) for m in mentions),
                    now.isoformat(), ctl.ids, ctl.place, "交通管制",
                    ctl.starts_at.isoformat() if ctl.starts_at else "")


def holiday_advisory(kinds: Sequence[str], start: date, end: date, now: datetime, *,
                     congested: Sequence[str] = (), accident_prone: Sequence[str] = (),
                     works: Sequence[Works] = (), tips: Sequence[str] = DEFAULT_TIPS,
                     hashtags: Sequence[str] = DEFAULT_HASHTAGS, mentions: Sequence[str] = (),
                     max_items: int = MAX_LIST_ITEMS, issuer: str = DEFAULT_ISSUER) -> Bulletin:
    """假期出行提示 in the 两公布一提示 structure: 易拥堵路段, 事故易发路段, 施工路段,
    温馨提示, said by ``issuer`` (the city profile's, e.g. 泰安交警). Each list keeps at most
    ``max_items`` items, then "等"."""
    name = holiday_short_name(kinds)
    title = f"{name}{KIND_TITLES['holiday']}"
    work_items = []
    for w in works:
        when = cn_span(w.starts_at, w.ends_at, now.tzinfo) if (w.starts_at or w.ends_at) else ""
        work_items.append(f"{w.place}({when})" if when else w.place)
    tip_text = "；".join(t.rstrip("。；;") for t in tips if t.strip()) or "请注意行车安全"
    body = (f"{cn_date_span(start, end)}{name}假期期间，{issuer}提示：\n"
            f"一、易拥堵路段：{join_items(list(congested), max_items)}；\n"
            f"二、事故易发路段：{join_items(list(accident_prone), max_items)}；\n"
            f"三、施工路段：{join_items(work_items, max_items)}；\n"
            f"温馨提示：{tip_text}。")
    return Bulletin("holiday", title, body, tuple(clean_tag(t) for t in hashtags),
                    tuple(clean_tag(m) for m in mentions), now.isoformat(),
                    tuple(i for w in works for i in w.ids), "", "")


def cleared_notice(earlier: Bulletin, now: datetime, *,
                   hashtags: Sequence[str] | None = None,
                   mentions: Sequence[str] | None = None) -> Bulletin:
    """已恢复通行: the follow-up to an earlier bulletin."""
    t = cn_time(now, tz=now.tzinfo)
    place = earlier.place or "相关路段"
    if earlier.kind == "accident":
        happened = ""
        if earlier.event_at:
            happened = cn_time(datetime.fromisoformat(earlier.event_at), tz=now.tzinfo)
        subject = earlier.subject or "交通事故"
        body = f"{happened}{place}发生的{subject}已处置完毕，截至{t}，现场已恢复通行。{THANKS}"
    elif earlier.kind == "roadworks":
        body = f"{place}道路施工已结束，截至{t}已恢复正常通行。{THANKS}"
    elif earlier.kind == "control":
        body = f"{place}交通管制已解除，截至{t}已恢复正常通行。{THANKS}"
    elif earlier.kind == "traffic":
        body = f"截至{t}，{place}拥堵已缓解，恢复正常通行。"
    else:
        body = f"截至{t}，{place}已恢复通行。{THANKS}"
    return Bulletin("cleared", KIND_TITLES["cleared"], body,
                    tuple(earlier.hashtags if hashtags is None else
                          (clean_tag(h) for h in hashtags)),
                    tuple(earlier.mentions if mentions is None else
                          (clean_tag(m) for m in mentions)),
                    now.isoformat(), earlier.refs, place, earlier.subject, earlier.event_at)


# -- gathering from the live picture (Store + road network) --------------------------------
def live_traffic_report(store: Any, network: Any, now: datetime, *, stale_s: float = 900,
                        **kw: Any) -> Bulletin:
    """路况播报 from the current congestion snapshot."""
    snap = store.congestion_snapshot(stale_s=stale_s, now=now.timestamp())
    return traffic_report(StretchFinder(network).stretches(snap), now, **kw)


def incident_candidates(store: Any, now: datetime) -> list[RoadEvent]:
    """Live incidents, worst and newest first (for the accident notice picker)."""
    evs = store.active_events("incident", now=now.timestamp())
    return sorted(evs, key=lambda e: (-e.severity, -e.observed_at.timestamp(), e.id))


def works_candidates(store: Any, now: datetime) -> list[RoadEvent]:
    """Live roadworks, one event per works (the same works reported by several feeds is
    listed once: ``roads.works``), under way or planned, soonest first."""
    items = live_works(store, now.timestamp())
    return sorted((w.event for w in items),
                  key=lambda e: ((e.starts_at or e.observed_at).timestamp(), e.id))


def closure_candidates(store: Any, now: datetime) -> list[RoadEvent]:
    """Live closures (any kind), for the traffic-control notice."""
    evs = [e for e in store.active_events(now=now.timestamp()) if e.category == "closure"]
    return sorted(evs, key=lambda e: (-e.observed_at.timestamp(), e.id))


def works_of(ev: RoadEvent, finder: StretchFinder | None) -> Works:
    """A Works record, its stretch from WZDx cross streets or from the line's ends."""
    a = ev.attrs or {}
    road = ev.road_names[0] if ev.road_names else ""
    if a.get("beginning_cross_street") or a.get("ending_cross_street") or finder is None \
            or not road or len(ev.line) < 2:
        return Works.from_event(ev)
    return Works.from_event(ev, finder.line_stretch(road, ev.line))


def accident_prone_roads(store: Any, now: datetime, top: int = MAX_LIST_ITEMS + 1) -> list[str]:
    """Roads with the most live accident events (incidents and citizen reports)."""
    counts: dict[str, int] = {}
    for ev in store.active_events(now=now.timestamp()):
        if ev.category == "accident" and ev.road_names:
            n = int((ev.attrs or {}).get("count") or 1)
            counts[ev.road_names[0]] = counts.get(ev.road_names[0], 0) + n
    return [r for r, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:top]


def live_holiday_advisory(store: Any, network: Any, period: Any, now: datetime, *,
                          stale_s: float = 900, **kw: Any) -> Bulletin:
    """The holiday advisory from the live picture: the stretches congested now, the roads
    with the most accidents, the live roadworks. Staff edit it before publishing."""
    finder = StretchFinder(network)
    snap = store.congestion_snapshot(stale_s=stale_s, now=now.timestamp())
    stretches = sorted(finder.stretches(snap, min_level=3),
                       key=lambda s: (-s.level, -s.length_m, s.label))
    works = [works_of(e, finder) for e in works_candidates(store, now)]
    return holiday_advisory(period.kinds, period.start, period.end, now,
                            congested=[s.label for s in stretches],
                            accident_prone=accident_prone_roads(store, now), works=works, **kw)
