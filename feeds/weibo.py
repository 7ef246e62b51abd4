"""Sina Weibo statuses (mentions / user timeline / search) → located, masked reports.

Most citizen reports carry no coordinates: the place is in the text and is found with
``dashboard.locate.locate_text`` against the city's own road names. A status that has
no place we can find is not dropped: it is rejected with the reason
"no location found in text" so that it shows in the quarantine with its raw bytes.

Every Weibo event has kind "report" (an officer turns reports into incidents); the
category comes from the wording. Text is masked before it is stored for display; the
raw text and the screen name go to ``ParseResult.private``.

``merge`` folds repeated reports of one place and category into one cluster event
``weibo:cluster:<place-key>:<category>:<first idstr>``. A report joins a cluster when
it was posted within ``window_s`` of the cluster's *last* report (a jam that people
keep reporting stays one cluster, however long it lasts); the count is the size of the
set of report ids, so a status seen again in the next poll changes nothing.
"""
from __future__ import annotations

import hashlib
import html
import json
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from dashboard.roads.locate import Location, classify_text, locate_text
from dashboard.masking import mask_known, mask_screen_name, mask_text
from dashboard.model import RoadEvent
from dashboard.settings import DEMO_PROFILE

from .parsing import Bad, load_json
from .base import Adapter, ParseContext, ParseResult, PayloadError, Rejected

MAX_DISPLAY_TEXT = 1000     # masked text kept on the event (the model allows 2000)
MAX_PRIVATE_TEXT = 10_000   # raw text kept for officers
MAX_REPORT_IDS = 200        # report ids listed in one cluster
MAX_PRIVATE_REPORTS = 50    # raw texts kept per cluster
MAX_STATUSES = 5000         # statuses read from one payload
MAX_SCREEN_NAME = 60

CONFIDENCE = {"geo": 0.7, "intersection": 0.8, "stretch": 0.7, "landmark": 0.6, "road": 0.4}

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_DATE_RE = re.compile(
    r"^\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r"\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+([+-])(\d{2})(\d{2})\s+(\d{4})\s*$")
_TAG_RE = re.compile(r"<[^>]{0,2000}>")
_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]{0,2000}>.*?</\1\s*>", re.I | re.S)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ID_RE = re.compile(r"^[0-9]{1,30}$")


def parse_weibo_date(value: Any) -> datetime:
    """An aware datetime from Weibo's ``Tue May 31 17:46:55 +0800 2011``."""
    if not isinstance(value, str):
        raise Bad("created_at missing" if value is None else "created_at is not a string")
    m = _DATE_RE.match(value[:80])
    if not m:
        raise Bad(f"unparsable created_at {value[:60]!r}")
    mon, day, hh, mm, ss, sign, oh, om, year = m.groups()
    try:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(offset if sign == "+" else -offset)
        out = datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    except ValueError as exc:
        raise Bad(f"unparsable created_at {value[:60]!r}: {exc}") from None
    if not 2000 <= out.year <= 2100:
        raise Bad(f"created_at year {out.year} is implausible")
    return out


def plain_text(value: str) -> str:
    """Weibo text as plain text: tags removed, entities decoded, control characters gone."""
    text = _TAG_RE.sub("", _SCRIPT_RE.sub("", value))
    text = html.unescape(text)
    # "&lt;script&gt;" decodes to a tag: drop it too
    text = _TAG_RE.sub("", _SCRIPT_RE.sub("", text))
    return _CONTROL_RE.sub("", text).strip()


def status_id(status: dict) -> str:
    """``idstr``, else ``id`` as an integer string; a float id has lost digits already."""
    idstr = status.get("idstr")
    if isinstance(idstr, str) and _ID_RE.match(idstr.strip()):
        return idstr.strip()
    raw = status.get("id")
    if isinstance(raw, bool):
        raise Bad("id is a boolean")
    if isinstance(raw, int):
        if raw <= 0 or raw >= 10 ** 30:
            raise Bad(f"id {raw} out of range")
        return str(raw)
    if isinstance(raw, str) and _ID_RE.match(raw.strip()):
        return raw.strip()
    if isinstance(raw, float):
        raise Bad("id is a floating-point number (digits lost); idstr missing")
    if idstr is not None:
        raise Bad("idstr is not a string of digits")
    raise Bad("no idstr or id")


def count(value: Any) -> int:
    """A non-negative count from an int or a numeric string; anything else is 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, min(value, 10 ** 12))
    if isinstance(value, float) and math.isfinite(value):
        return max(0, min(int(value), 10 ** 12))
    if isinstance(value, str) and value.strip().isdigit():
        return min(int(value.strip()), 10 ** 12)
    return 0


def raw_of(record: Any) -> bytes:
    """The bytes of one record as it came, for the quarantine."""
    try:
        return json.dumps(record, ensure_ascii=False).encode("utf-8", "replace")
    except (TypeError, ValueError, RecursionError):
        return repr(record)[:65536].encode("utf-8", "replace")


_KEEP_RAW = ("idstr", "id", "mid", "created_at", "reposts_count", "comments_count",
             "attitudes_count", "geo")


def quarantine_raw(record: Any) -> bytes:
    """A status as it came, for the quarantine, with its personal data masked: every
    string (text, source …) masked, the author's screen name wherever it appears, and the
    user object reduced to the masked screen name and follower count. The quarantine is
    shown to roles that may not see personal data; the raw status itself is the private
    data of an accepted report only."""
    def screen_names(rec: Any) -> list[str]:
        if not isinstance(rec, dict):
            return []
        user = rec.get("user") if isinstance(rec.get("user"), dict) else {}
        sn = user.get("screen_name") or user.get("name")
        out = [plain_text(sn)[:MAX_SCREEN_NAME]] if isinstance(sn, str) else []
        return out + screen_names(rec.get("retweeted_status"))

    names = screen_names(record)

    def clean(value: Any, key: str = "", depth: int = 0) -> Any:
        if depth > 20:
            return None
        if isinstance(value, str):
            return value if key in _KEEP_RAW else mask_text(mask_known(value, names=names))
        if isinstance(value, list):
            return [clean(v, key, depth + 1) for v in value[:MAX_STATUSES]]
        if isinstance(value, dict):
            if key in ("user", "retweeted_user"):
                sn = value.get("screen_name")
                return {"screen_name": mask_screen_name(plain_text(sn)) if isinstance(sn, str)
                        else "", "followers_count": value.get("followers_count")}
            return {str(k): (v if k in _KEEP_RAW and not isinstance(v, (dict, list))
                             else clean(v, str(k), depth + 1)) for k, v in value.items()}
        return value
    try:
        return raw_of(clean(record))
    except RecursionError:
        return b""


def statuses_of(doc: Any) -> list[Any]:
    """The statuses in a mentions / timeline / search / show / repost / comments response."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        raise PayloadError(f"top level is {type(doc).__name__}, not an object or a list")
    for key in ("statuses", "reposts", "comments"):
        if key in doc:
            items = doc[key]
            if not isinstance(items, list):
                raise PayloadError(f"{key!r} is {type(items).__name__}, not a list")
            return items
    if "screen_name" in doc and isinstance(doc.get("status"), dict):
        # users/show: a user object carrying its latest status
        user = {k: v for k, v in doc.items() if k != "status"}
        return [{**doc["status"], "user": user}]
    if "text" in doc or "idstr" in doc or "created_at" in doc:
        return [doc]
    if "error_code" in doc or "error" in doc:
        raise PayloadError(f"API error {doc.get('error_code', '')}: {str(doc.get('error'))[:200]}")
    raise PayloadError("no statuses in payload (expected 'statuses', a list or a status)")


def place_key(loc_roads: tuple[str, ...], precision: str, segment_id: str,
              lon: float, lat: float) -> str:
    """What makes two reports "the same place": the intersection (its two roads, in
    any order) or the segment; a rounded point when neither is known."""
    if precision == "intersection" and len(loc_roads) >= 2:
        pair = "|".join(sorted(loc_roads[:2]))
        return "x" + hashlib.sha1(pair.encode()).hexdigest()[:10]
    if segment_id:
        return "s" + re.sub(r"[^0-9A-Za-z_.-]", "_", segment_id)[:60]
    return f"p{lon:.3f},{lat:.3f}"


def place_label(loc: Location | None, precision: str) -> str:
    """A short human description of the place, for lists and bulletins."""
    if loc is None:
        return ""
    roads = loc.roads
    if precision == "intersection" and len(roads) >= 2:
        return f"{roads[0]}与{roads[1]}路口"
    if precision == "stretch" and len(roads) >= 3:
        return f"{roads[0]}({roads[1]}—{roads[2]})"
    if precision == "landmark" and loc.landmark:
        return f"{loc.landmark}附近" + (f"({roads[0]})" if roads else "")
    return roads[0] if roads else ""


class WeiboAdapter(Adapter):
    """Weibo statuses → report events (and clusters of repeated reports)."""

    name = "weibo"
    ttl_s = None                       # the report default (1 h after the last report)
    window_s: float = 1800             # merge window, measured from a cluster's last report
    max_age_s: float = 24 * 3600       # older statuses (search results) are not live reports
    # the police's own accounts (a status mentioning one is flagged): the city profile's
    # weibo_accounts through ``ParseContext.accounts``; the demo city's without one
    accounts: tuple[str, ...] = tuple(DEMO_PROFILE["weibo_accounts"].split(","))

    # -- parse ------------------------------------------------------------------------
    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        if not isinstance(payload, (bytes, bytearray)):
            raise PayloadError(f"payload is {type(payload).__name__}, not bytes")
        doc = load_json(payload)
        result = ParseResult()
        statuses = statuses_of(doc)
        for status in statuses[:MAX_STATUSES]:
            try:
                ev, private = self.status_event(status, ctx)
            except Bad as exc:
                ref = ""
                if isinstance(status, dict):
                    try:
                        ref = status_id(status)
                    except Bad:
                        pass
                result.rejected.append(Rejected(mask_text(str(exc)), quarantine_raw(status),
                                                f"weibo:{ref}" if ref else ""))
                continue
            result.events.append(ev)
            result.private[ev.id] = private
        for status in statuses[MAX_STATUSES:]:
            result.rejected.append(Rejected(f"more than {MAX_STATUSES} statuses in one payload",
                                            quarantine_raw(status)))
        return result

    def status_event(self, status: Any, ctx: ParseContext) -> tuple[RoadEvent, dict[str, str]]:
        """One status → (event, private data); raises Bad with the reason otherwise."""
        if not isinstance(status, dict):
            raise Bad(f"status is {type(status).__name__}, not an object")
        sid = status_id(status)
        observed = parse_weibo_date(status.get("created_at"))
        raw_text = status.get("text")
        if not isinstance(raw_text, str):
            raise Bad("text missing" if raw_text is None else "text is not a string")
        text = plain_text(raw_text[:MAX_PRIVATE_TEXT])
        if not text:
            raise Bad("text is empty")
        if observed > ctx.now + timedelta(hours=1):
            raise Bad(f"created_at {observed.isoformat()} is in the future")
        user = status.get("user") if isinstance(status.get("user"), dict) else {}
        screen_name = user.get("screen_name") if isinstance(user.get("screen_name"), str) else ""
        screen_name = plain_text(screen_name)[:MAX_SCREEN_NAME]

        point, loc, precision = self.locate(status, text, ctx)
        if point is None:
            raise Bad("no location found in text")
        if observed < ctx.now - timedelta(seconds=self.max_age_s):
            raise Bad(f"status is older than {self.max_age_s / 3600:g} h "
                      f"(created_at {observed.isoformat()})")
        lon, lat = point
        category, _kind, severity = classify_text(text)
        # the author's own name (self-mentions, "我是泰安小李") goes wherever it appears
        masked = mask_text(mask_known(text, names=[screen_name]))
        if len(masked) > MAX_DISPLAY_TEXT:
            masked = masked[:MAX_DISPLAY_TEXT - 1] + "…"
        roads = loc.roads if loc is not None else ()
        segment_id = loc.segment_id if loc is not None else ""
        district = loc.district if loc is not None else ""
        if precision == "geo":
            segment_id, district, roads = self.match_point(ctx, lon, lat, roads)
        compact = text.replace(" ", "")
        attrs = {
            "reposts": count(status.get("reposts_count")),
            "comments": count(status.get("comments_count")),
            "likes": count(status.get("attitudes_count")),
            "followers": count(user.get("followers_count")),
            "screen_name": mask_screen_name(screen_name),
            "mention": any(f"@{a}" in compact for a in ctx.accounts or self.accounts),
            "precision": precision,
            "direction": loc.direction if loc is not None else "",
            "landmark": loc.landmark if loc is not None else "",
            "matched": mask_text(loc.matched) if loc is not None else "",
            "place": place_label(loc, precision),
            "place_key": place_key(roads, precision, segment_id, lon, lat),
            "upstream_id": sid,
        }
        ev = RoadEvent(
            id=f"weibo:{sid}", kind="report", category=category, severity=severity,
            source="weibo", observed_at=observed, lon=lon, lat=lat, segment_id=segment_id,
            district=district, road_names=tuple(roads)[:20], confidence=CONFIDENCE[precision],
            text=masked, raw_ref=f"weibo:status:{sid}", attrs=attrs)
        private = {"raw_text": raw_text[:MAX_PRIVATE_TEXT], "screen_name": screen_name}
        return ev, private

    def locate(self, status: dict, text: str, ctx: ParseContext
               ) -> tuple[tuple[float, float] | None, Location | None, str]:
        """(point, text location, precision): the status's own ``geo`` when it is usable,
        else what the text says. The retweeted status is never used for the place."""
        loc = locate_text(text, ctx.network) if ctx.network is not None else None
        geo_point = self.geo_point(status.get("geo"), ctx)
        if geo_point is not None:
            return geo_point, loc, "geo"
        if loc is None or loc.point is None:
            return None, None, ""
        x0, y0, x1, y1 = ctx.bbox
        lon, lat = loc.point
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return None, None, ""
        return loc.point, loc, loc.precision

    @staticmethod
    def geo_point(geo: Any, ctx: ParseContext) -> tuple[float, float] | None:
        """WGS-84 (lon, lat) from Weibo's GCJ-02 ``{"type": "Point", "coordinates":
        [lat, lon]}`` (latitude first), or None when absent or unusable."""
        if not isinstance(geo, dict):
            return None
        coords = geo.get("coordinates")
        if not isinstance(coords, (list, tuple)) or len(coords) != 2:
            return None
        try:
            values = [float(c) for c in coords if not isinstance(c, bool)]
        except (TypeError, ValueError, OverflowError):
            return None
        if len(values) != 2 or not all(math.isfinite(v) for v in values):
            return None
        lat, lon = values
        x0, y0, x1, y1 = ctx.bbox
        if not (x0 - 0.1 <= lon <= x1 + 0.1 and y0 - 0.1 <= lat <= y1 + 0.1):
            if x0 <= lat <= x1 and y0 <= lon <= y1:
                lat, lon = lon, lat  # someone sent [lon, lat]
            else:
                return None
        from dashboard.roads.geo import gcj02_to_wgs84
        wlon, wlat = gcj02_to_wgs84(lon, lat)
        if not (x0 <= wlon <= x1 and y0 <= wlat <= y1):
            return None
        return float(wlon), float(wlat)

    @staticmethod
    def match_point(ctx: ParseContext, lon: float, lat: float, roads: tuple[str, ...]
                    ) -> tuple[str, str, tuple[str, ...]]:
        """(segment, district, roads) for a geotagged status."""
        net = ctx.network
        if net is None:
            return "", "", roads
        m = net.nearest(lon, lat, ctx.match_max_m)
        district = (m.district if m is not None else "") or net.district_at(lon, lat) or ""
        if m is None:
            return "", district, roads
        names = tuple(dict.fromkeys((m.road_name,) + tuple(roads)))
        return m.segment_id, district, names

    # -- merge ------------------------------------------------------------------------
    def merge(self, result: ParseResult, store: Any, ctx: ParseContext) -> ParseResult:
        """Fold the parsed reports into clusters (one event per place and category)."""
        reports = sorted((e for e in result.events if not e.id.startswith("weibo:cluster:")),
                         key=lambda e: (e.observed_at, e.id))
        others = [e for e in result.events if e.id.startswith("weibo:cluster:")
                  or not e.id.startswith("weibo:")]
        existing = [e for e in store.active_events("report")
                    if e.id.startswith("weibo:cluster:")] if reports else []
        report_ids = {e.id for e in reports}
        clusters: dict[str, _Cluster] = {}
        for ev in reports:
            cluster = self._find_cluster(ev, clusters, existing, store)
            cluster.add(ev, result.private.get(ev.id, {}))
        out = ParseResult(
            events=others + [c.event() for c in clusters.values()],
            congestion=result.congestion, rejected=result.rejected,
            snapshot_ids=result.snapshot_ids, snapshot_kinds=result.snapshot_kinds,
            private={k: v for k, v in result.private.items() if k not in report_ids},
            gauges=result.gauges)
        for c in clusters.values():
            out.private[c.id] = c.private()
        return out

    def _find_cluster(self, ev: RoadEvent, clusters: dict[str, "_Cluster"],
                      existing: list[RoadEvent], store: Any) -> "_Cluster":
        key, cat, sid = ev.attrs["place_key"], ev.category, ev.id
        t = ev.observed_at.timestamp()
        candidates = [c for c in clusters.values() if c.key == key and c.category == cat]
        for c in candidates:  # already a member: a repeated poll
            if sid in c.report_ids:
                return c
        for c in candidates:
            if c.first - self.window_s <= t <= c.last + self.window_s:
                return c
        stored = [e for e in existing if e.attrs.get("place_key") == key and e.category == cat
                  and e.id not in clusters]
        for e in stored:
            if sid in e.attrs.get("report_ids", []):
                return clusters.setdefault(e.id, _Cluster.from_event(e, store))
        for e in stored:
            first = float(e.attrs.get("first_seen", e.observed_at.timestamp()))
            last = float(e.attrs.get("last_seen", e.observed_at.timestamp()))
            if first - self.window_s <= t <= last + self.window_s:
                return clusters.setdefault(e.id, _Cluster.from_event(e, store))
        cid = f"weibo:cluster:{key}:{cat}:{ev.attrs['upstream_id']}"
        return clusters.setdefault(cid, _Cluster(cid, key, cat))


class _Cluster:
    """Reports of one place and category; builds the one event that stands for them."""

    def __init__(self, cid: str, key: str, category: str):
        self.id, self.key, self.category = cid, key, category
        self.base: RoadEvent | None = None      # the first report (position, place)
        self.latest: RoadEvent | None = None    # the newest report (text)
        self.report_ids: list[str] = []
        self.extra_count = 0                    # members beyond the listed ids
        self.engagement: dict[str, list[int]] = {}  # id -> [reposts, comments, likes]
        self.first = math.inf
        self.last = -math.inf
        self.severity = 0
        self.mentions = 0
        self.raw: list[dict[str, str]] = []

    @classmethod
    def from_event(cls, ev: RoadEvent, store: Any) -> "_Cluster":
        a = ev.attrs
        c = cls(ev.id, a.get("place_key", ""), ev.category)
        c.base = ev
        c.latest = ev
        c.report_ids = [str(i) for i in a.get("report_ids", [])]
        c.extra_count = max(0, int(a.get("count", len(c.report_ids))) - len(c.report_ids))
        c.engagement = {str(k): [int(x) for x in v][:3]
                        for k, v in (a.get("engagement") or {}).items()}
        c.first = float(a.get("first_seen", ev.observed_at.timestamp()))
        c.last = float(a.get("last_seen", ev.observed_at.timestamp()))
        c.severity = int(a.get("max_severity", ev.severity))
        c.mentions = int(a.get("mentions", 0))
        try:
            c.raw = json.loads(store.get_private(ev.id).get("reports", "[]"))
        except (ValueError, TypeError):
            c.raw = []
        return c

    def add(self, ev: RoadEvent, private: dict[str, str]) -> None:
        sid = ev.id
        a = ev.attrs
        self.engagement[sid] = [a.get("reposts", 0), a.get("comments", 0), a.get("likes", 0)]
        if sid in self.report_ids:
            return  # seen before: only its engagement figures may have moved
        if self.base is None:
            self.base = ev
        t = ev.observed_at.timestamp()
        if self.latest is None or t >= self.last:
            self.latest = ev
        self.first, self.last = min(self.first, t), max(self.last, t)
        if len(self.report_ids) < MAX_REPORT_IDS:
            self.report_ids.append(sid)
        else:
            self.extra_count += 1
        self.severity = max(self.severity, ev.severity)
        self.mentions += 1 if a.get("mention") else 0
        if len(self.raw) < MAX_PRIVATE_REPORTS:
            self.raw.append({"id": sid, "at": ev.observed_at.isoformat(),
                             "raw_text": private.get("raw_text", ""),
                             "screen_name": private.get("screen_name", "")})

    @property
    def count(self) -> int:
        return len(self.report_ids) + self.extra_count

    def event(self) -> RoadEvent:
        base, latest = self.base, self.latest
        assert base is not None and latest is not None
        n = self.count
        bump = 2 if n >= 10 else 1 if n >= 3 else 0
        listed = self.engagement
        attrs = {**base.attrs}
        for k in ("upstream_id", "reposts", "comments", "likes", "followers", "screen_name",
                  "mention"):
            attrs.pop(k, None)
        attrs.update({
            "count": n,
            "report_ids": self.report_ids,
            "first_seen": self.first,
            "last_seen": self.last,
            "reposts": sum(v[0] for v in listed.values()),
            "comments": sum(v[1] for v in listed.values()),
            "likes": sum(v[2] for v in listed.values()),
            "engagement": {k: listed[k] for k in list(listed)[:MAX_REPORT_IDS]},
            "mentions": self.mentions,
            "max_severity": self.severity,
            "screen_name": latest.attrs.get("screen_name", ""),
            "direction": latest.attrs.get("direction") or base.attrs.get("direction", ""),
        })
        return RoadEvent(
            id=self.id, kind="report", category=self.category,
            severity=min(4, self.severity + bump), source="weibo",
            observed_at=datetime.fromtimestamp(self.last, timezone.utc),
            starts_at=datetime.fromtimestamp(self.first, timezone.utc),
            lon=base.lon, lat=base.lat, segment_id=base.segment_id, district=base.district,
            road_names=base.road_names,
            confidence=min(1.0, CONFIDENCE.get(attrs.get("precision", ""), 0.5) + 0.05 * (n - 1)),
            text=latest.text, raw_ref=latest.raw_ref, attrs=attrs)

    def private(self) -> dict[str, str]:
        latest = self.raw[-1] if self.raw else {}
        return {"raw_text": latest.get("raw_text", ""),
                "screen_name": latest.get("screen_name", ""),
                "reports": json.dumps(self.raw, ensure_ascii=False)}
