"""Time helpers: aware datetimes, stored as UTC, shown in the city's time zone
(``city_zone(settings)``: the ``timezone`` setting); ``parse_time`` reads the times people
and feeds write."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
# the default of the ``timezone`` setting (and of the demo city); code that shows or reads
# local times takes the city's zone from ``city_zone(settings)``, never this constant
DEFAULT_TIMEZONE = "Asia/Shanghai"
SHANGHAI = ZoneInfo(DEFAULT_TIMEZONE)

_WEIBO_RE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+"
    r"(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+([+-])(\d{2})(\d{2})\s+(\d{4})$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# local forms tried before ISO 8601 (strptime also takes them without leading zeros)
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                  "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M",
                  "%Y年%m月%d日%H时%M分", "%Y%m%d%H%M%S", "%Y-%m-%d", "%Y/%m/%d")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Shanghai``, ``Asia/Tokyo``); ValueError when
    there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def city_zone(settings: Any) -> ZoneInfo:
    """The city's time zone: the ``timezone`` setting of ``settings``
    (``dashboard.settings.Settings``), in which local times are shown and read."""
    return zone(getattr(settings, "timezone", None) or DEFAULT_TIMEZONE)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_epoch(dt: datetime) -> float:
    """Seconds since the epoch of an aware datetime."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.timestamp()


def from_epoch(ts: float) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def local_hhmm(ts: float, tz: ZoneInfo = SHANGHAI) -> str:
    """'HH:MM' of an epoch in the display timezone."""
    return datetime.fromtimestamp(float(ts), tz).strftime("%H:%M")


def parse_time(text: str, tz: tzinfo = SHANGHAI, end_of_day: bool = False) -> datetime:
    """An aware datetime from ISO 8601 (``2026-10-01T08:00:00+08:00``, ``2026-10-01 08:00``,
    ``2026-10-01``), a local ``2026/10/01 08:00`` or ``2026年10月01日 08:00``, or Weibo's
    ``Tue Oct 01 08:00:00 +0800 2026`` (full-width characters and surrounding spaces are
    fine). A time without an offset is read in ``tz``; one with an offset keeps it. A date
    alone is the start of that day, or with ``end_of_day`` the start of the next (an
    exclusive end). Raises ValueError for anything else; callers word their own message."""
    s = unicodedata.normalize("NFKC", text).strip()
    m = _WEIBO_RE.match(s)
    if m:
        mon, day, hh, mm, ss, sign, oh, om, year = m.groups()
        off = timedelta(hours=int(oh), minutes=int(om))
        return datetime(int(year), _MONTHS.index(mon) + 1, int(day), int(hh), int(mm),
                        int(ss), tzinfo=timezone(off if sign == "+" else -off))
    dt, date_only = _read(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    if end_of_day and date_only:
        try:
            dt += timedelta(days=1)
        except OverflowError:   # 9999-12-31
            raise ValueError(f"no day after {s!r}") from None
    return dt


def _read(s: str) -> tuple[datetime, bool]:
    """(the datetime ``s`` writes, naive or not; whether ``s`` is a date alone)."""
    for fmt in _LOCAL_FORMATS:
        try:
            return datetime.strptime(s, fmt), fmt in _DATE_FORMATS
        except ValueError:
            continue
    dt = datetime.fromisoformat(s)   # ValueError when s is not ISO 8601 either
    try:
        date.fromisoformat(s)   # not alone: it takes some strings datetime refuses
    except ValueError:
        return dt, False
    return dt, True
