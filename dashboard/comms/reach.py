"""Reach of the account's own posts: import per-post metrics, keep snapshots over time,
and work out the figures of a period (a holiday campaign) with its comparisons.

Two sources, as the design says:
- the Weibo API's statuses of the account's own timeline: ``idstr``, ``created_at``,
  ``text``, ``reposts_count``, ``comments_count``, ``attitudes_count`` (no reads);
- the account owner's CSV export with reads (阅读数): headers 微博ID, 发布时间, 微博内容,
  阅读数, 转发数, 评论数, 点赞数 or id, created_at, text, reads, reposts, comments, likes;
  UTF-8, UTF-8 with BOM or GBK (read as GB18030, its superset); numbers written 12345,
  12,345, 1.2万, 3.4亿 or 10万+ (a lower bound, taken as 100000).

Bad rows are never dropped silently: each comes back as (row, reason). CSV rows are
numbered as a spreadsheet shows them (the header is row 1); JSON statuses from 1.

Storage (all keys under the city's hash tag):
- ``reach_post(id)`` hash: id, created_at (epoch), text, the latest value of each metric
  and the snapshot time it came from (``reads``/``reads_at`` …), ``last_<source>``;
- ``reach_snapshots(id)`` sorted set scored by snapshot time, members JSON
  ``{"at", "src", "reads", "reposts", "comments", "likes"}`` (null = not in that source);
- ``reach_index`` sorted set: post ids scored by publication time.
A snapshot identical to the previous one from the same source is not stored again, so
importing the same file twice adds nothing.

"Reads per day" attributes each post's latest reads to the day it was published (the
export gives totals per post, not per day).
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Iterable, Sequence

import redis

from dashboard.storage.keys import Keys
from dashboard.storage.redis_compat import run_script
from dashboard.textfiles import csv_delimiter
from dashboard.timeutil import SHANGHAI, parse_time as read_time

METRICS = ("reads", "reposts", "comments", "likes")
MAX_ROWS = 100_000
MAX_TEXT = 2000
REPO = Path(__file__).resolve().parents[2]
REFERENCE_FILE = REPO / "data" / "reach_reference.json"

HEADER_ALIASES = {
    "id": ("微博id", "id", "idstr", "mid", "微博编号"),
    "created_at": ("发布时间", "created_at", "时间", "发布日期", "发布时间(北京时间)"),
    "text": ("微博内容", "text", "内容", "正文", "博文内容"),
    "reads": ("阅读数", "reads", "阅读量", "阅读", "reads_count"),
    "reposts": ("转发数", "reposts", "转发", "reposts_count"),
    "comments": ("评论数", "comments", "评论", "comments_count"),
    "likes": ("点赞数", "likes", "点赞", "赞", "attitudes", "attitudes_count"),
}
_HEADER_OF = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
HEADER_LABELS = {"id": "微博ID", "created_at": "发布时间", "text": "微博内容", "reads": "阅读数",
                 "reposts": "转发数", "comments": "评论数", "likes": "点赞数"}


class ReachFileError(ValueError):
    """The whole file is unusable (not text, no header we know, not JSON statuses…)."""


class BadValue(ValueError):
    """One value cannot be read; the message is the reason."""


@dataclass(frozen=True)
class PostMetrics:
    """One row: a post and the metrics one source gives for it (None = not given)."""

    post_id: str
    created_at: datetime | None
    text: str = ""
    reads: int | None = None
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None

    def metrics(self) -> dict[str, int | None]:
        return {m: getattr(self, m) for m in METRICS}


@dataclass
class ImportBatch:
    """What a file held: good rows, rejected rows with reasons, and its format."""

    source: str                       # "csv" or "api"
    rows: list[PostMetrics] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    encoding: str = ""


# -- values ---------------------------------------------------------------------------------
_COUNT_RE = re.compile(r"^(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)(?P<unit>万|亿|w|k)?"
                       r"(?P<plus>\+)?$", re.I)


def parse_count(value: Any) -> int | None:
    """A non-negative count from 12345, "12,345", "1.2万", "3.4亿", "10万+", "1.5w";
    None for an empty cell; BadValue otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadValue("a boolean, not a number")
    if isinstance(value, int):
        if value < 0:
            raise BadValue(f"negative ({value})")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0 or value != int(value):
            raise BadValue(f"not a whole non-negative number ({value})")
        return int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "")
    if text in ("", "-", "—", "--"):
        return None
    m = _COUNT_RE.match(text)
    if not m:
        raise BadValue(f"not a count: {str(value)[:40]!r}")
    num, unit = m.group("num").replace(",", ""), (m.group("unit") or "").lower()
    factor = {"万": 10_000, "w": 10_000, "亿": 100_000_000, "k": 1000}.get(unit, 1)
    if factor == 1 and "." in num:
        raise BadValue(f"not a whole number: {str(value)[:40]!r}")
    n = round(float(num) * factor)
    if n > 10 ** 12:
        raise BadValue(f"implausibly large: {str(value)[:40]!r}")
    return int(n)


def parse_time(value: Any, tz: tzinfo | None = None) -> datetime:
    """An aware datetime from Weibo's ``Tue Oct 01 08:00:00 +0800 2026``, ISO 8601, or a
    local ``2026-10-01 08:00`` (in ``tz``, the city's zone): ``dashboard.timeutil.parse_time``,
    years 2000-2100."""
    if not isinstance(value, str) or not value.strip():
        raise BadValue("missing")
    try:
        dt = read_time(value, tz or SHANGHAI)
    except ValueError:
        raise BadValue(f"unreadable time {value[:40]!r}") from None
    if not 2000 <= dt.year <= 2100:
        raise BadValue(f"implausible year {dt.year}")
    return dt


def parse_post_id(value: Any) -> str:
    """Digits only; a spreadsheet's ``4.98E+15`` has lost digits and is refused."""
    if isinstance(value, bool) or value is None:
        raise BadValue("missing")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        raise BadValue("a floating-point id (digits lost); export ids as text")
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().strip("'\"\t")
    if not text:
        raise BadValue("missing")
    if re.fullmatch(r"\d+(\.\d+)?[eE]\+?\d+", text):
        raise BadValue(f"{text!r} is a spreadsheet number: digits lost; export ids as text")
    if not re.fullmatch(r"\d{1,30}", text):
        raise BadValue(f"not a post id: {text[:40]!r}")
    return text


def plain_text(value: Any) -> str:
    """Post text without tags or control characters (shown as text, never as HTML)."""
    if not isinstance(value, str):
        return ""
    text = re.sub(r"<[^>]{0,2000}>", "", value)
    text = re.sub(r"<[^>]{0,2000}>", "", html.unescape(text))
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).strip()[:MAX_TEXT]


# -- files ------------------------------------------------------------------------------------
def decode(payload: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM), else GB18030 (covers GBK)."""
    if not payload:
        raise ReachFileError("the file is empty")
    try:
        return payload.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return payload.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise ReachFileError(f"neither UTF-8 nor GBK text: {exc}") from None


def parse_file(payload: bytes, tz: tzinfo | None = None) -> ImportBatch:
    """A CSV export or a statuses JSON, whichever the file is; local times in ``tz``."""
    text, enc = decode(payload)
    head = text.lstrip()[:1]
    batch = parse_statuses_text(text) if head in ("{", "[") else parse_csv_text(text, tz)
    batch.encoding = enc
    return batch


def parse_csv_text(text: str, tz: tzinfo | None = None) -> ImportBatch:
    """The owner's export (local times in ``tz``, the city's zone). Row numbers are as a
    spreadsheet shows them (header = 1)."""
    reader = csv.reader(io.StringIO(text), delimiter=csv_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ReachFileError("the file is empty") from None
    except csv.Error as exc:
        raise ReachFileError(f"not CSV: {exc}") from None
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        key = _HEADER_OF.get(unicodedata.normalize("NFKC", name).strip().lower())
        if key and key not in columns:
            columns[key] = i
    if "id" not in columns:
        raise ReachFileError(f"no post id column (微博ID or id) in the header "
                             f"{[h[:20] for h in header[:10]]}")
    if not any(m in columns for m in METRICS):
        raise ReachFileError("no metric column (阅读数/reads, 转发数/reposts, 评论数/comments, "
                             "点赞数/likes)")
    if "created_at" not in columns:
        raise ReachFileError("no 发布时间/created_at column")
    batch = ImportBatch("csv")
    row_no = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row_no += 1
            batch.rejected.append({"row": row_no, "reason": f"unreadable CSV: {exc}"})
            continue
        row_no += 1
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(batch.rows) + len(batch.rejected) >= MAX_ROWS:
            batch.rejected.append({"row": row_no, "reason": f"more than {MAX_ROWS} rows"})
            break
        try:
            batch.rows.append(_csv_row(cells, columns, tz))
        except BadValue as exc:
            batch.rejected.append({"row": row_no, "reason": str(exc)})
    return batch


def _csv_row(cells: list[str], columns: dict[str, int],
             tz: tzinfo | None = None) -> PostMetrics:
    def cell(name: str) -> str | None:
        i = columns.get(name)
        return cells[i] if i is not None and i < len(cells) else None

    try:
        pid = parse_post_id(cell("id"))
    except BadValue as exc:
        raise BadValue(f"{HEADER_LABELS['id']}: {exc}") from None
    try:
        created = parse_time(cell("created_at"), tz)
    except BadValue as exc:
        raise BadValue(f"{HEADER_LABELS['created_at']}: {exc}") from None
    values: dict[str, int | None] = {}
    for m in METRICS:
        try:
            values[m] = parse_count(cell(m))
        except BadValue as exc:
            raise BadValue(f"{HEADER_LABELS[m]}: {exc}") from None
    if all(v is None for v in values.values()):
        raise BadValue("no metric value in the row")
    return PostMetrics(pid, created, plain_text(cell("text")), **values)


def parse_statuses_text(text: str) -> ImportBatch:
    """The account's own timeline (``{"statuses": [...]}``, a list, or one status)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ReachFileError(f"not JSON: {str(exc)[:200]}") from None
    if isinstance(doc, dict) and "statuses" in doc:
        items = doc["statuses"]
    elif isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict) and ("idstr" in doc or "id" in doc) and "created_at" in doc:
        items = [doc]
    elif isinstance(doc, dict) and ("error_code" in doc or "error" in doc):
        raise ReachFileError(f"API error {doc.get('error_code', '')}: "
                             f"{str(doc.get('error'))[:200]}")
    else:
        raise ReachFileError("no statuses (expected {\"statuses\": [...]} or a list)")
    if not isinstance(items, list):
        raise ReachFileError("'statuses' is not a list")
    batch = ImportBatch("api")
    for n, st in enumerate(items[:MAX_ROWS], start=1):
        try:
            batch.rows.append(_status_row(st))
        except BadValue as exc:
            batch.rejected.append({"row": n, "reason": str(exc)})
    for n in range(MAX_ROWS + 1, len(items) + 1):
        batch.rejected.append({"row": n, "reason": f"more than {MAX_ROWS} statuses"})
    return batch


def _status_row(st: Any) -> PostMetrics:
    if not isinstance(st, dict):
        raise BadValue(f"status is {type(st).__name__}, not an object")
    raw_id = st.get("idstr") if st.get("idstr") not in (None, "") else st.get("id")
    try:
        pid = parse_post_id(raw_id)
    except BadValue as exc:
        raise BadValue(f"idstr: {exc}") from None
    try:
        created = parse_time(st.get("created_at"))
    except BadValue as exc:
        raise BadValue(f"created_at: {exc}") from None
    values = {}
    for m, name in (("reposts", "reposts_count"), ("comments", "comments_count"),
                    ("likes", "attitudes_count")):
        try:
            values[m] = parse_count(st.get(name))
        except BadValue as exc:
            raise BadValue(f"{name}: {exc}") from None
    if all(v is None for v in values.values()):
        raise BadValue("no reposts_count, comments_count or attitudes_count")
    return PostMetrics(pid, created, plain_text(st.get("text")), reads=None, **values)


# -- storage -----------------------------------------------------------------------------------
_RECORD_LUA = """
-- KEYS: post hash, snapshots zset, index zset
-- ARGV: id, created epoch, text, at, source, metrics json (compare), snapshot member
local new = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'created_at', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'text', ARGV[3]) end
local m = cjson.decode(ARGV[6])
local at = tonumber(ARGV[4])
for _, name in ipairs({'reads', 'reposts', 'comments', 'likes'}) do
  local v = m[name]
  if v ~= nil and v ~= cjson.null then
    local prev = tonumber(redis.call('HGET', KEYS[1], name .. '_at') or '-1')
    if at >= prev then
      redis.call('HSET', KEYS[1], name, string.format('%d', v), name .. '_at', ARGV[4])
    end
  end
end
local added = 0
if redis.call('HGET', KEYS[1], 'last_' .. ARGV[5]) ~= ARGV[6] then
  redis.call('ZADD', KEYS[2], at, ARGV[7])
  redis.call('HSET', KEYS[1], 'last_' .. ARGV[5], ARGV[6])
  added = 1
end
if new then return {1, added} end
return {0, added}
"""


@dataclass
class RecordResult:
    posts: int = 0           # distinct posts in the batch
    new_posts: int = 0
    snapshots: int = 0       # snapshots stored (unchanged ones are not)


class ReachStore:
    """Per-post metric snapshots and the period figures, for one city (local days and
    times in ``tz``, the city's zone)."""

    def __init__(self, r: redis.Redis, keys: Keys, tz: tzinfo | None = None):
        self.r, self.keys = r, keys
        self.tz = tz or SHANGHAI
        self._script = r.register_script(_RECORD_LUA)

    def record(self, rows: Sequence[PostMetrics], source: str,
               at: float | None = None) -> RecordResult:
        """Store one snapshot per row taken at ``at`` (default now), in one pipeline."""
        at = time.time() if at is None else float(at)
        pipe = self.r.pipeline(transaction=False)
        ids = []
        for row in rows:
            if row.created_at is None:
                continue
            metrics = json.dumps(row.metrics(), sort_keys=True)
            member = json.dumps({"at": round(at, 3), "src": source, **row.metrics()},
                                sort_keys=True)
            run_script(self._script, [self.keys.reach_post(row.post_id),
                                      self.keys.reach_snapshots(row.post_id),
                                      self.keys.reach_index()],
                       [row.post_id, f"{row.created_at.timestamp():.0f}", row.text,
                        repr(at), source, metrics, member], client=pipe)
            ids.append(row.post_id)
        res = RecordResult(posts=len(set(ids)))
        for new, added in pipe.execute() if ids else []:
            res.new_posts += int(new)
            res.snapshots += int(added)
        return res

    def import_file(self, payload: bytes, at: float | None = None) -> dict[str, Any]:
        """Parse and store a file; the summary the CLI prints. ReachFileError if unusable."""
        batch = parse_file(payload, self.tz)
        res = self.record(batch.rows, batch.source, at)
        return {"format": batch.source, "encoding": batch.encoding, "rows": len(batch.rows),
                "posts": res.posts, "new_posts": res.new_posts, "snapshots": res.snapshots,
                "rejected": batch.rejected}

    def snapshots(self, post_id: str) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.r.zrange(self.keys.reach_snapshots(post_id), 0, -1)]

    def post(self, post_id: str) -> dict[str, str]:
        return self.r.hgetall(self.keys.reach_post(post_id))

    def posts_between(self, start: datetime, end: datetime) -> list[dict[str, str]]:
        """Posts published in [start, end), oldest first."""
        ids = self.r.zrangebyscore(self.keys.reach_index(), start.timestamp(),
                                   f"({end.timestamp()!r}")
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self.keys.reach_post(i))
        return [h for h in pipe.execute() if h]

    def period_posts(self, first: date, last: date) -> list[dict[str, Any]]:
        """The table rows (``post_rows``) of the posts published on the local days
        ``first``..``last``."""
        start = datetime(first.year, first.month, first.day, tzinfo=self.tz)
        end = datetime(last.year, last.month, last.day, tzinfo=self.tz) + timedelta(days=1)
        return post_rows(self.posts_between(start, end), self.tz)

    def figures(self, first: date, last: date) -> dict[str, Any]:
        """Figures for the local days ``first``..``last`` (inclusive)."""
        start = datetime(first.year, first.month, first.day, tzinfo=self.tz)
        end = datetime(last.year, last.month, last.day, tzinfo=self.tz) + timedelta(days=1)
        return figures_of(self.posts_between(start, end), first, last, self.tz)


def _int(h: dict[str, str], name: str) -> int:
    try:
        return int(h.get(name) or 0)
    except ValueError:
        return 0


def figures_of(posts: Iterable[dict[str, str]], first: date, last: date,
               tz: tzinfo | None = None) -> dict[str, Any]:
    """Posts, total reads (latest per post), best post, per day (local to ``tz``),
    reposts/comments/likes."""
    tz = tz or SHANGHAI
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    per_day = {d: {"date": d.isoformat(), "posts": 0, **{m: 0 for m in METRICS}} for d in days}
    totals = {m: 0 for m in METRICS}
    with_reads = 0
    best = None
    as_of = 0.0
    for h in posts:
        created = datetime.fromtimestamp(float(h["created_at"]), tz)
        row = per_day.get(created.date())
        if row is None:
            continue
        row["posts"] += 1
        for m in METRICS:
            v = _int(h, m)
            row[m] += v
            totals[m] += v
            as_of = max(as_of, float(h.get(f"{m}_at") or 0))
        if h.get("reads") not in (None, ""):
            with_reads += 1
            key = (_int(h, "reads"), -float(h["created_at"]))
            if best is None or key > best[0]:
                best = (key, h)
    best_post = None
    if best is not None:
        h = best[1]
        best_post = {"id": h["id"], "reads": _int(h, "reads"), "text": h.get("text", ""),
                     "created_at": datetime.fromtimestamp(float(h["created_at"]),
                                                          tz).isoformat()}
    return {"from": first.isoformat(), "to": last.isoformat(), "days": len(days),
            "posts": sum(r["posts"] for r in per_day.values()), "reads": totals["reads"],
            "posts_with_reads": with_reads, "reposts": totals["reposts"],
            "comments": totals["comments"], "likes": totals["likes"], "best_post": best_post,
            "reads_per_day": [per_day[d] for d in days],
            "as_of": datetime.fromtimestamp(as_of, tz).isoformat() if as_of else None}


# -- comparisons ----------------------------------------------------------------------------
def load_references(path: Path = REFERENCE_FILE) -> list[dict[str, Any]]:
    """Reference campaigns shipped as data (data/reach_reference.json)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [dict(e, source=e.get("source") or doc.get("source", ""))
            for e in doc.get("references", [])]


def report(reach: ReachStore, first: date, last: date, *, period: Any = None,
           calendar: Any = None, references: Sequence[dict[str, Any]] | None = None
           ) -> dict[str, Any]:
    """The figures of a period, with the previous holiday of the same kind and the
    reference campaign of that kind when ``period`` (a HolidayPeriod) is given."""
    out = reach.figures(first, last)
    out["holiday"] = period.to_dict() if period is not None else None
    out["previous"] = None
    out["reference"] = None
    if period is None:
        return out
    if calendar is not None:
        prev = calendar.previous(period.kind, period.start)
        if prev is not None:
            pf = reach.figures(prev.start, prev.end)
            pf["holiday"] = prev.to_dict()
            out["previous"] = pf
    refs = load_references() if references is None else references
    for ref in refs:
        if ref.get("kind") in period.kinds:
            out["reference"] = ref
            break
    out["vs_previous"] = _ratio(out["reads"], (out["previous"] or {}).get("reads"))
    out["vs_reference"] = _ratio(out["reads"], (out["reference"] or {}).get("reads"))
    return out


def _ratio(a: int, b: int | None) -> float | None:
    return round(a / b, 4) if b else None


def cumulative(per_day: Sequence[dict[str, Any]]) -> list[int]:
    """Running total of reads by day of the period."""
    out, total = [], 0
    for row in per_day:
        total += int(row["reads"])
        out.append(total)
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(rep: dict[str, Any]) -> str:
    """Per-day figures and the totals as CSV (UTF-8 with BOM, so Excel reads Chinese)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["日期", "发布数", "阅读数", "转发数", "评论数", "点赞数"])
    for row in rep["reads_per_day"]:
        w.writerow([row["date"], row["posts"], row["reads"], row["reposts"], row["comments"],
                    row["likes"]])
    w.writerow(["合计", rep["posts"], rep["reads"], rep["reposts"], rep["comments"], rep["likes"]])
    best = rep.get("best_post")
    if best:
        w.writerow(["单条最高", best["id"], best["reads"], "", "", "", _cell(best["text"][:200])])
    for name in ("previous", "reference"):
        other = rep.get(name)
        if other:
            label = (other.get("holiday") or {}).get("name") or other.get("label") or name
            w.writerow([_cell(f"{'上一同类假期' if name == 'previous' else '参考'}: {label}"),
                        other.get("posts", ""), other.get("reads", "")])
    return buf.getvalue()


# -- per post -----------------------------------------------------------------------------------
POST_TEXT_SHOWN = 80


def _metric(h: dict[str, str], name: str) -> int | None:
    """A post's latest value of ``name``; None when no source gave it."""
    if h.get(name) in (None, ""):
        return None
    return _int(h, name)


def post_rows(posts: Iterable[dict[str, str]], tz: tzinfo | None = None) -> list[dict[str, Any]]:
    """One row per post (the reach table): id, local time, text (plain, shortened), and the
    latest reads, reposts, comments and likes (None when not known); most read first, then
    the earlier (as the report's best post)."""
    tz = tz or SHANGHAI
    rows = []
    for h in posts:
        created = float(h.get("created_at") or 0)
        text = plain_text(h.get("text", ""))
        rows.append({"id": h.get("id", ""), "created_at": created,
                     "time": datetime.fromtimestamp(created, tz).strftime("%Y-%m-%d %H:%M"),
                     "text": text[:POST_TEXT_SHOWN] + ("…" if len(text) > POST_TEXT_SHOWN
                                                       else ""),
                     **{m: _metric(h, m) for m in METRICS}})
    rows.sort(key=lambda r: (-(r["reads"] if r["reads"] is not None else -1), r["created_at"],
                             r["id"]))
    return rows


def reads_series(snapshots: Iterable[dict[str, Any]]) -> list[tuple[float, int]]:
    """(snapshot time, reads) of the snapshots that carry reads, oldest first (one point
    per time: the last one stored)."""
    points: dict[float, int] = {}
    for s in snapshots:
        reads = s.get("reads")
        if isinstance(reads, int) and not isinstance(reads, bool) and reads >= 0:
            points[float(s.get("at") or 0)] = reads
    return sorted(points.items())


def posts_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The per-post table as CSV (UTF-8 with BOM); a cell that a spreadsheet would read as
    a formula is quoted with a leading apostrophe."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([HEADER_LABELS[k] for k in ("id", "created_at", "reads", "reposts", "comments",
                                           "likes", "text")])
    for r in rows:
        w.writerow([_cell(r["id"]), r["time"], *("" if r[m] is None else r[m] for m in METRICS),
                    _cell(r["text"])])
    return buf.getvalue()
