"""122 hotline / citizen-app CSV drops → reports (and incidents for accidents).

Files come as UTF-8 (with or without BOM), GBK/GB18030 or UTF-16 (Excel "Unicode
text"), comma- or tab-separated, with Chinese headers. Times without an offset are in
the city's zone (``ParseContext.tz``, the ``timezone`` setting). Phone numbers and names
go only to ``ParseResult.private``; the event text is masked. A drop is a batch of new tickets, not a snapshot.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, tzinfo
from typing import Any

from dashboard.citizen import movecar
from dashboard.masking import mask_known, mask_name, mask_phone, mask_text, plates_in
from dashboard.model import MAX_TEXT, EventError, RoadEvent, point_problem, validate
from dashboard.textfiles import csv_delimiter
from dashboard.timeutil import SHANGHAI
from dashboard.timeutil import parse_time as parse_any_time

from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected

try:  # the full text locator (stretches, fuzzy names); the simple scan below stands in
    from dashboard.roads.locate import locate_text as full_locator
except ImportError:  # pragma: no cover - depends on what is installed
    full_locator = None
# generic record helpers shared by the adapters (they live with the first adapter)
from .parsing import Bad, locate_point, number

# column -> accepted header spellings (compared without spaces, case-insensitively)
HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("工单号", "工单编号", "编号", "单号", "id", "ticket", "ticket_id"),
    "time": ("来电时间", "受理时间", "报警时间", "接警时间", "时间", "time", "datetime"),
    "phone": ("来电号码", "联系电话", "电话", "手机", "phone", "tel"),
    "name": ("姓名", "来电人", "联系人", "报警人", "name"),
    "type": ("事件类型", "类别", "类型", "事件类别", "type", "category"),
    "location": ("地点", "事发地点", "地址", "事发地址", "location", "address"),
    "text": ("内容", "诉求内容", "事件描述", "描述", "来电内容", "text", "content"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
}
# keyword -> category, first match wins (checked in 事件类型 first, then the text)
CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accident", ("事故", "追尾", "剐蹭", "刮蹭", "碰撞", "相撞", "撞车", "翻车")),
    ("flooding", ("积水", "内涝", "淹", "涝")),
    ("roadworks", ("施工", "占道", "挖路", "修路")),
    ("closure", ("封路", "封闭", "管制", "断交")),
    ("illegal_parking", ("违停", "违章停车", "乱停", "违法停车", "停车占道")),
    ("overload", ("超员", "超载", "超限")),
    # a broken signal (信号灯故障) is a hazard at the junction, not a broken-down vehicle
    ("hazard", ("信号灯", "红绿灯")),
    ("breakdown", ("故障", "抛锚", "坏车", "熄火")),
    ("jam", ("拥堵", "堵车", "缓行", "排队", "堵塞", "堵")),
    ("weather", ("大雾", "团雾", "结冰", "冰雪", "积雪", "暴雨")),
    ("hazard", ("信号灯", "红绿灯", "坑", "障碍", "遗撒", "抛洒", "落石", "井盖")),
    ("police", ("警情", "求助")),
)
CATEGORY_SEVERITY = {"accident": 2, "closure": 2, "flooding": 2, "overload": 2}
_INTERSECTION = re.compile(r"(与|和|跟|、|交叉口|路口|交汇)")
MAX_ROWS = 100_000
MAX_PRIVATE_TEXT = 10_000


def decode(payload: bytes) -> str:
    """Text of a CSV drop in UTF-8 (BOM or not), UTF-16 with BOM, or GBK/GB18030."""
    if not isinstance(payload, (bytes, bytearray)):
        raise PayloadError(f"payload is {type(payload).__name__}, not bytes")
    data = bytes(payload)
    if data.startswith(b"\xef\xbb\xbf"):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "gb18030")
    for enc in encodings:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise PayloadError(f"undecodable: not {' or '.join(encodings)}")


def columns(header: list[str]) -> dict[str, int]:
    """Column index of each known field, from the header row."""
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        key = re.sub(r"\s+", "", cell.replace("\ufeff", "")).lower()
        for field, names in HEADERS.items():
            if field not in found and key in names:
                found[field] = i
                break
    return found


def parse_time(value: str, tz: tzinfo | None = None) -> datetime:
    """An aware datetime (``dashboard.timeutil.parse_time``); a value without an offset is
    read in ``tz``, the city's zone (default: the default ``timezone`` setting)."""
    text = re.sub(r"\s+", " ", value.strip().replace("\u3000", " "))
    if not text:
        raise Bad("来电时间 missing")
    try:
        dt = parse_any_time(text, tz or SHANGHAI)
    except ValueError:
        raise Bad(f"来电时间: {text[:40]!r} is not a date-time") from None
    if not 2000 <= dt.year <= 2100:
        raise Bad(f"来电时间: year {dt.year} is implausible")
    return dt


def classify(type_text: str, text: str) -> tuple[str, str, int]:
    """(kind, category, severity) from 事件类型, falling back on the text."""
    for source in (type_text, text):
        for category, words in CATEGORY_WORDS:
            if any(w in source for w in words):
                kind = "incident" if category == "accident" else "report"
                return kind, category, CATEGORY_SEVERITY.get(category, 1)
    return "report", "other", 1


def find_roads(text: str, network: Any) -> list[str]:
    """Canonical road names mentioned in ``text``, in order of appearance (longest
    name wins where names overlap)."""
    if network is None or not text:
        return []
    names = {n: n for n in network.road_names()}
    names.update({a: c for a, c in network.aliases().items() if len(a) >= 2})
    taken = [False] * len(text)
    hits: list[tuple[int, str]] = []
    for name in sorted(names, key=len, reverse=True):
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            if not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                hits.append((start, names[name]))
            start = text.find(name, end)
    out: list[str] = []
    for _, canon in sorted(hits):
        if canon not in out:
            out.append(canon)
    return out


def locate_text(text: str, ctx: ParseContext) -> tuple[float, float, str, tuple[str, ...]] | None:
    """(lon, lat, how, roads) from a location sentence: "X与Y" intersections first,
    then a landmark, then the middle of a single named road."""
    net = ctx.network
    if net is None or not text:
        return None
    if full_locator is not None:
        loc = full_locator(text, net)
        if loc is not None and loc.point is not None:
            return float(loc.point[0]), float(loc.point[1]), loc.precision, tuple(loc.roads)
    roads = find_roads(text, net)
    if len(roads) >= 2 and _INTERSECTION.search(text):
        for i in range(len(roads) - 1):
            point = net.intersection(roads[i], roads[i + 1])
            if point is not None:
                return point[0], point[1], "intersection", (roads[i], roads[i + 1])
    for name, place in sorted(net.landmarks().items(), key=lambda kv: -len(kv[0])):
        if len(name) >= 2 and name in text:
            return float(place["lon"]), float(place["lat"]), "landmark", tuple(roads[:2])
    if roads:
        segs = list(net.segments_of(roads[0]))
        if segs:
            coords = net.segment(segs[len(segs) // 2])["coords"]
            lon, lat = coords[len(coords) // 2]
            return float(lon), float(lat), "road", (roads[0],)
    return None


def _known(row: list[str], cols: dict[str, int]) -> dict[str, list[str]]:
    """The caller's name and phone in this row, to be masked wherever else they appear."""
    def cell(field: str) -> str:
        i = cols.get(field)
        return row[i].strip()[:100] if i is not None and i < len(row) else ""
    return {"names": [cell("name")], "numbers": [cell("phone")]}


def _masked(text: str, known: dict[str, list[str]]) -> str:
    """Free text of the row masked, the row's own name and phone included."""
    return mask_text(mask_known(text, **known))


def _row_raw(row: list[str], cols: dict[str, int]) -> str:
    """The row as CSV for the quarantine, with its phone and name cells masked (and
    wherever else in the row they appear)."""
    cells = list(row)
    known = _known(row, cols)
    for field, masker in (("phone", mask_phone), ("name", mask_name)):
        i = cols.get(field)
        if i is not None and i < len(cells) and cells[i].strip():
            cells[i] = masker(cells[i])
    out = io.StringIO()
    csv.writer(out).writerow([_masked(c[:MAX_PRIVATE_TEXT], known) for c in cells])
    return out.getvalue()


MOVE_CAR_CATEGORY = "illegal_parking"   # 违停/挪车: its plate opens a move-car task
MOVE_CAR_MAX_AGE_S = 3600                # a call older than this opens none


class HotlineAdapter(Adapter):
    """122 hotline CSV → located, masked reports with the caller's details kept apart; a
    违停 call naming a plate opens a move-car task (5-minute clock) on the dispatch desk."""

    name = "hotline"
    ttl_s = None  # the kind's default (report 1 h, incident 2 h)

    def merge(self, result: ParseResult, store: Any, ctx: ParseContext) -> ParseResult:
        """Open the move-car task of each 违停 call with a plate (once per call: a resent
        ticket opens nothing)."""
        for ev in result.events:
            if ev.category != MOVE_CAR_CATEGORY or not result.private.get(ev.id, {}).get("plate"):
                continue
            called = ev.observed_at.timestamp()
            if ctx.now.timestamp() - called > MOVE_CAR_MAX_AGE_S:
                continue   # an old call in a resent file: the car is long gone
            place = str(ev.attrs.get("location_text") or "、".join(ev.road_names))
            # the clock runs from the call, not from when the file reached us
            movecar.open_task(store.r, store.keys, ev.id, self.name, place, ev.lon, ev.lat,
                              ev.district or "", now=min(called, ctx.now.timestamp()))
        return result

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        text = decode(payload)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
        try:
            header = next(reader)
        except StopIteration:
            raise PayloadError("empty file") from None
        except csv.Error as exc:
            raise PayloadError(f"header row: {exc}") from None
        cols = columns(header)
        if "id" not in cols or "time" not in cols:
            raise PayloadError("no 工单号/编号 and 来电时间/受理时间 columns in the header "
                               f"({', '.join(h[:20] for h in header[:12])[:300]})")
        prefix = ctx.feed or self.name
        result = ParseResult()
        line_no = 1
        while True:
            line_no += 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                result.rejected.append(Rejected(f"row {line_no}: bad CSV: {exc}", b"",
                                                f"row {line_no}"))
                continue
            if not any(cell.strip() for cell in row):
                continue
            if line_no > MAX_ROWS:
                result.rejected.append(Rejected(f"more than {MAX_ROWS} rows: rest ignored",
                                                b"", f"row {line_no}"))
                break
            i = cols["id"]
            ticket = row[i].strip()[:100] if i < len(row) else ""
            ref = f"{prefix}:{ticket}" if ticket else f"row {line_no}"
            try:
                ev, private = self._row(row, cols, prefix, ctx)
                ev = validate(ev, ctx.bbox)
            except (Bad, EventError) as exc:
                # a reason quotes the cell it is about: that may be a phone in the wrong column
                result.rejected.append(Rejected(_masked(str(exc), _known(row, cols)),
                                                _row_raw(row, cols), ref))
                continue
            except Exception as exc:  # noqa: BLE001 - one odd row never stops the rest
                result.rejected.append(Rejected(_masked(
                    f"internal error: {exc.__class__.__name__}: {str(exc)[:200]}",
                    _known(row, cols)), _row_raw(row, cols), ref))
                continue
            result.events.append(ev)
            if private:
                result.private[ev.id] = private
        return result

    def _row(self, row: list[str], cols: dict[str, int], prefix: str, ctx: ParseContext):
        def cell(field: str) -> str:
            i = cols.get(field)
            return row[i].strip() if i is not None and i < len(row) else ""

        ticket = cell("id")
        if not ticket:
            raise Bad("工单号 missing")
        if len(ticket) > 100 or any(c.isspace() for c in ticket):
            raise Bad("工单号: too long or contains spaces")
        ev_id = f"{prefix}:{ticket}"
        observed = parse_time(cell("time"), ctx.tz)
        type_text, content, place = cell("type")[:200], cell("text"), cell("location")[:500]
        kind, category, severity = classify(type_text, content[:MAX_TEXT])
        lon_s, lat_s = cell("lon"), cell("lat")
        if lon_s or lat_s:
            lon, lat = number(lon_s or None, "经度"), number(lat_s or None, "纬度")
            problem = point_problem(lon, lat, ctx.bbox, "经度/纬度")
            if problem:
                raise Bad(problem)
            seg, district, road = locate_point(ctx, lon, lat)
            how, roads = "coordinates", ((road,) if road else ())
            confidence = 0.8
        else:
            found = locate_text(place, ctx) or locate_text(content[:MAX_TEXT], ctx)
            if found is None:
                raise Bad("location: no 经度/纬度 and no known road, intersection or landmark "
                          "in 地点/内容")
            lon, lat, how, roads = found
            problem = point_problem(lon, lat, ctx.bbox, "located point")
            if problem:
                raise Bad(problem)
            seg, district, road = locate_point(ctx, lon, lat)
            confidence = {"intersection": 0.7, "landmark": 0.6}.get(how, 0.4)
        known = _known(row, cols)
        masked = _masked(content[:MAX_TEXT + 40], known)[:MAX_TEXT]
        attrs: dict[str, Any] = {"located_by": how}
        if type_text:
            attrs["hotline_type"] = _masked(type_text, known)
        if place:
            attrs["location_text"] = _masked(place, known)
        names = list(roads)
        if road and road not in names:
            names.append(road)
        ev = RoadEvent(
            id=ev_id, kind=kind, category=category, severity=severity, source=self.name,
            observed_at=observed, lon=lon, lat=lat, segment_id=seg, district=district,
            road_names=tuple(n[:80] for n in names[:20]), starts_at=observed,
            confidence=confidence, text=masked or _masked(place, known), raw_ref=ev_id,
            attrs=attrs)
        # a 违停 call naming a plate: the plate opens a move-car task (merge), kept private
        plate = (plates_in(content[:MAX_TEXT]) or [""])[0] if category == MOVE_CAR_CATEGORY \
            else ""
        private = {k: v for k, v in (("phone", cell("phone")[:100]), ("name", cell("name")[:100]),
                                     ("raw_text", content[:MAX_PRIVATE_TEXT]),
                                     ("plate", plate[:20])) if v}
        return ev, private
