"""Time helpers: aware datetimes, stored as UTC, shown in Asia/Shanghai."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")


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
