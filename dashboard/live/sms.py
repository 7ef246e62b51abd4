"""The SMS road query (短信路况查询): one inbound text in, one reply of at most 70 characters.

Pure functions (no Flask, no Redis). The road is found exactly as the public query finds it
(``live.public.find_road``: name or alias, close matches for an unknown name), and the road's
answer is the public query's own (``live.public.road_status``, passed in through
``answer_for``), so the SMS and /public tell the same truth for the same snapshot.

- **Length.** A reply holding Chinese is sent as UCS-2: 70 UTF-16 units in one message
  (``comms.channels``). Chinese gateways (Aliyun, Tencent Cloud) put the signature
  (【泰安交警】) in front of every message and it counts, so the reply text gets
  ``70 - len(signature)`` units (``budget``). Every reply is built from the richest wording
  down to the plainest until one fits; the last resort cuts the text with "…", so no input
  makes a reply longer than the budget.
- **The road's answer.** The worst stretch: of the stretches at the road's worst level the
  longest (the first along the road on a tie), named by its cross streets as the 路况播报
  does ("青年路至通天街段"), with how many stretches share that level ("等2处"), the level
  in words (畅通/缓行/拥堵/严重拥堵), the open incidents and roadworks under way when there is
  room, and the data time (HH:MM in the city's time zone; the newest observation on the road).
  A road without a fresh observation says so, with the time of the query.
- **The text asked.** NFKC; tabs and line breaks count as spaces; any other control or format
  character, or more than ``MAX_CONTENT_CHARS`` characters, is refused (``SmsInputError``).
  Words people wrap around a road name ("查询 东岳大街", "东岳大街路况？") are taken off
  when the whole text is not a road name itself. An empty text or a help word gets the help.
- **What is echoed.** An unknown name is repeated in the reply only when short and without
  anything that looks like personal data (``masking.mask_for_public`` leaves it unchanged).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Callable

from dashboard.congestion import LEVEL_NAMES
from dashboard.live.public import MAX_NAME_CHARS, UnknownRoad, find_road
from dashboard.masking import mask_for_public
from dashboard.storage.cache import ProcessCache

SMS_MAX_UNITS = 70            # one UCS-2 message
MAX_CONTENT_CHARS = 160       # an inbound text longer than this is refused
ECHO_CHARS = 8                # an unknown name is echoed at most this long
ELLIPSIS = "…"
HELP_WORDS = frozenset({"帮助", "help", "?", "？", "h", "0", "路况", "查询", "路况查询", "查路况",
                        "菜单", "menu"})
PREFIXES = ("路况查询", "查询路况", "查路况", "查询", "路况", "请问", "查")
SUFFIXES = ("的路况", "路况", "怎么样", "堵不堵", "堵车吗", "堵吗", "情况")
EDGE_PUNCT = " 。，,.!！?？、:：;；\"“”'‘’()（）[]【】<>《》~～-—"


class SmsInputError(ValueError):
    """The inbound text cannot be used; the message is the reason given to the gateway."""


@dataclass(frozen=True)
class SmsReply:
    """One reply: ``kind`` road (the road's status), matches (close matches of an unknown
    name), unknown (no close match) or help; ``road`` the canonical road answered."""

    kind: str
    text: str
    road: str = ""


# -- counting -------------------------------------------------------------------------------
def sms_units(text: str) -> int:
    """UTF-16 units: what a UCS-2 message counts (a Chinese character is 1)."""
    return len(text.encode("utf-16-le")) // 2


def budget_for(signature: str) -> int:
    """Units left for the reply once the gateway's signature (counted) is in front."""
    return max(0, SMS_MAX_UNITS - sms_units(signature or ""))


def cut(text: str, units: int) -> str:
    """``text`` within ``units``, cut with "…" when longer (never inside a surrogate pair)."""
    if sms_units(text) <= units:
        return text
    out, n = "", 0
    for ch in text:
        size = sms_units(ch)
        if n + size > units - 1:
            break
        out += ch
        n += size
    return out + ELLIPSIS if units >= 1 else ""


def first_fitting(variants: list[str], units: int) -> str:
    """The first variant that fits ``units``; else the last one cut to fit."""
    for v in variants:
        if sms_units(v) <= units:
            return v
    return cut(variants[-1], units)


# -- the text asked -----------------------------------------------------------------------------
def clean_content(raw: str) -> str:
    """The inbound text, normalised (NFKC, whitespace collapsed, trimmed); raises
    SmsInputError when too long or holding control characters."""
    if len(raw) > MAX_CONTENT_CHARS:
        raise SmsInputError(f"content is longer than {MAX_CONTENT_CHARS} characters")
    text = unicodedata.normalize("NFKC", raw)
    if len(text) > MAX_CONTENT_CHARS:
        raise SmsInputError(f"content is longer than {MAX_CONTENT_CHARS} characters")
    text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise SmsInputError("content contains control characters")
    return " ".join(text.split())


def is_help(content: str) -> bool:
    return content.strip(EDGE_PUNCT).casefold() in HELP_WORDS or not content.strip(EDGE_PUNCT)


def name_candidates(content: str) -> list[str]:
    """The names to try, in order: the text as sent, then without the words around it."""
    out = [content]
    name = content.strip(EDGE_PUNCT)
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if name.startswith(p) and len(name) > len(p):
                name, changed = name[len(p):].strip(EDGE_PUNCT), True
        for s in SUFFIXES:
            if name.endswith(s) and len(name) > len(s):
                name, changed = name[:-len(s)].strip(EDGE_PUNCT), True
    if name and name not in out:
        out.append(name)
    return [c for c in out if len(c) <= MAX_NAME_CHARS]


def echo(name: str) -> str:
    """How an unknown name is repeated back: short, and only when nothing in it looks like
    personal data; else "" (the reply then says 该道路)."""
    try:
        if mask_for_public(name) != name:
            return ""
    except Exception:  # noqa: BLE001 - a text we cannot mask is not repeated
        return ""
    return name if len(name) <= ECHO_CHARS else name[:ECHO_CHARS - 1] + ELLIPSIS


# -- the replies -----------------------------------------------------------------------------
_examples: ProcessCache[str] = ProcessCache(1)     # one network at a time


def example_road(network: Any) -> str:
    """The road the help names: the one with the most segments (then by name)."""
    def build() -> str:
        names = network.road_names()
        return min(names, key=lambda n: (-len(network.segments_of(n)), n)) if names else ""
    return _examples.get_for(network, build)


def help_reply(example: str, budget: int) -> SmsReply:
    eg = f"，如：{example}" if example else ""
    return SmsReply("help", first_fitting([
        f"发送道路名称查询实时路况{eg}。路况仅供参考。",
        f"发送道路名称查询实时路况{eg}。",
        "发送道路名称查询实时路况。"], budget))


def matches_reply(asked: str, matches: list[str], example: str, budget: int) -> SmsReply:
    """"未找到X，您是否要查：A、B" with as many matches as fit (at least one, cut if it
    must be); without matches, the help's hint."""
    said = echo(asked)
    heads = [f"未找到{said}" if said else "未找到该道路", "未找到该道路"]
    if not matches:
        eg = f"，如：{example}" if example else ""
        return SmsReply("unknown", first_fitting(
            [f"{heads[0]}。请发送道路名称查询路况{eg}。",
             f"{heads[1]}。请发送道路名称查询路况{eg}。",
             f"{heads[1]}。请发送道路名称查询路况。"], budget))
    for head in heads:
        for n in range(len(matches), 0, -1):
            text = f"{head}，您是否要查：{'、'.join(matches[:n])}"
            if sms_units(text) <= budget:
                return SmsReply("matches", text)
    return SmsReply("matches", cut(f"{heads[1]}，您是否要查：{matches[0]}", budget))


def worst_stretch(stretches: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, int]:
    """(the worst stretch, how many stretches share its level): the highest level, then the
    longest, then the first along the road; (None, 0) without stretches."""
    if not stretches:
        return None, 0
    level = max(int(s["level"]) for s in stretches)
    same = [s for s in stretches if int(s["level"]) == level]
    best = max(same, key=lambda s: (float(s.get("length_m") or 0.0), -same.index(s)))
    return best, len(same)


def where(stretch: dict[str, Any], whole: bool, chars: int | None = None) -> str:
    """The stretch by its cross streets ("青年路至通天街段"); cross street names cut to
    ``chars`` when given; "全线" for a stretch that is the whole road."""
    if whole:
        return "全线"
    a, b = stretch.get("from") or "", stretch.get("to") or ""

    def short(name: str) -> str:
        return name if chars is None else cut(name, chars)
    if a and b and a != b:                 # the form follows the names, not their cut copies
        return f"{short(a)}至{short(b)}段"
    if a or b:
        side = stretch.get("side") or ""
        return f"{short(a or b)}{side}段" if side else f"{short(a or b)}路口附近"
    return ""


def hhmm(iso: str | None, zone: tzinfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%H:%M") if iso else ""


def road_reply(answer: dict[str, Any], zone: tzinfo, budget: int) -> SmsReply:
    """The reply for one road from the public query's answer (``live.public.road_status``
    with ``as_of``)."""
    road = answer["road"]
    stretches = answer.get("stretches") or []
    worst, same = worst_stretch(stretches)
    level = int(answer.get("worst_level") or 0)
    n_inc = len(answer.get("incidents") or [])
    n_works = sum(1 for w in answer.get("roadworks") or [] if w.get("status") == "active")
    extras = "；".join(([f"事故{n_inc}起"] if n_inc else []) +
                      ([f"施工{n_works}处"] if n_works else []))
    extras = f"；{extras}" if extras else ""
    if level == 0 or worst is None:
        when = hhmm(answer.get("as_of"), zone)
        at = f"截至{when}" if when else ""
        return SmsReply("road", first_fitting(
            [f"{road}：{at}暂无实时路况数据{extras}。", f"{road}：{at}暂无实时路况数据。",
             f"{road}：暂无实时路况数据。", f"{cut(road, 12)}：暂无实时路况数据。"], budget),
            road)
    time = f"数据时间{hhmm(answer.get('data_time'), zone)}"
    word = LEVEL_NAMES[level]
    if level == 1:
        state = "全线畅通" if same == len(stretches) else "畅通（部分路段暂无数据）"
        short = "全线畅通" if same == len(stretches) else "畅通"
        variants = [f"{road}：{state}{extras}。{time}", f"{road}：{state}。{time}",
                    f"{road}：{short}。{time}"]
    else:
        whole = len(stretches) == 1
        more = f"等{same}处" if same > 1 else ""
        variants = []
        for name, chars in ((road, None), (road, 8), (cut(road, 12), None),
                            (cut(road, 12), 8), (cut(road, 12), 5)):
            w = where(worst, whole, chars)
            variants += [f"{name}：{w}{more}{word}{extras}。{time}",
                         f"{name}：{w}{more}{word}。{time}"]
        variants.append(f"{road}：有{word}路段。{time}")
    variants.append(f"{cut(road, 12)}：{'有' + word + '路段' if level > 1 else word}。{time}")
    return SmsReply("road", first_fitting(variants, budget), road)


def reply_for(network: Any, content: str, answer_for: Callable[[str], dict[str, Any]],
              zone: tzinfo, budget: int) -> SmsReply:
    """The reply to an inbound text (already ``clean_content``-ed): the road's status, close
    matches, or the help. ``answer_for(road)`` returns the public query's answer for a
    canonical road name."""
    example = example_road(network)
    if is_help(content):
        return help_reply(example, budget)
    candidates = name_candidates(content)
    matches: list[str] = []
    for name in candidates:
        try:
            road = find_road(network, name)
        except UnknownRoad as exc:
            matches = exc.close_matches or matches    # the barer name's, if it has any
            continue
        return road_reply(answer_for(road), zone, budget)
    asked = candidates[-1] if candidates else content
    return matches_reply(asked, matches, example, budget)
