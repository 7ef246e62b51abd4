"""/feeds callback: feed health and quarantined records, every 10 s.

``feeds_view`` is the plain function (it returns the outputs by name); the decorated
callback checks the caller's permission (``view_feeds``) on the server before reading
anything.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis
from dash import Input, Output, callback, no_update

from dashboard.live import wall as W
from dashboard.masking import mask_or_empty, text_for_restricted
from dashboard.storage.store import QUARANTINE_WARN_SHARE, quarantine_share
from dashboard.web import session
from dashboard.web.api import redact_error
from layouts import feeds_page as L
from layouts import ids

QUARANTINE_PER_FEED = 10


def _hhmm(epoch: float | None, tz: ZoneInfo, with_date: bool = False) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, tz).strftime("%m-%d %H:%M:%S" if with_date else "%H:%M")


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def feed_rows(health: dict[str, dict[str, str]], now: float, tz: ZoneInfo,
              restricted: bool = True) -> list[dict]:
    """Display rows (strings only) for the health table; errors as ``redact_error``
    shows them to a ``restricted`` audience (no ``see_pii``) or to an officer."""
    rows = []
    for f in W.feed_freshness(health, now):
        h = health.get(f["name"], {})
        if f["stale"]:
            state, text = "stale", "延迟 stale" if f["last_ok"] else "无数据 no data"
        elif h.get("breaker") and h.get("breaker") != "closed":
            state, text = "warn", f"熔断 {h['breaker']}"
        elif h.get("mode") == "drop" and f["error"]:   # judged by the last drop, not by age
            state, text = "warn", "上次投递失败 last drop failed"
        elif h.get("mode") == "drop" and not f["last_ok"]:
            state, text = "ok", "等待投递 waiting for a drop"
        elif (share := quarantine_share(h)) is not None and share >= QUARANTINE_WARN_SHARE:
            state, text = "warn", f"隔离过多 {share:.0%} quarantined"
        else:
            state, text = "ok", "正常 ok"
        lag = _num(h.get("lag_s"))
        err_at = _num(h.get("last_error_at"))
        rows.append({
            "name": f["name"], "state": state, "state_text": text,
            "age": W.age_text(f["age_s"]) + (" ago" if f["age_s"] is not None else ""),
            "last_ok_hhmm": _hhmm(f["last_ok"], tz, with_date=True),
            "lag": W.age_text(lag) if lag is not None else "",
            "last_error": redact_error(h.get("last_error", ""), restricted)[:300],
            "last_error_at": _hhmm(err_at, tz, with_date=True) if err_at else "",
            "accepted": h.get("accepted", "0"), "duplicates": h.get("duplicates", "0"),
            "quarantined": h.get("quarantined", "0"), "breaker": h.get("breaker", ""),
        })
    return rows


def quarantine_groups(store, feeds: list[str], tz: ZoneInfo,
                      per_feed: int = QUARANTINE_PER_FEED,
                      restricted: bool = True) -> list[dict[str, Any]]:
    """The newest quarantined records of each feed, raw text truncated (shown as text).
    Reasons quote what they are about and the raw bytes may hold personal data, so all
    three (reason, ref, raw) are masked like any free text: for a ``restricted`` audience
    (no ``see_pii``) with ``text_for_restricted``, which withholds what keeps a residue."""
    shown_as = text_for_restricted if restricted else mask_or_empty
    groups = []
    for feed in feeds:
        records = []
        for rec in store.quarantined(feed, per_feed):
            raw = rec.get("raw", "")
            # masked before it is cut: a number cut in half is not found any more
            shown = shown_as(raw[:L.RAW_MAX_CHARS + 40])[:L.RAW_MAX_CHARS] if raw else ""
            if len(raw) > L.RAW_MAX_CHARS:
                shown += f" … ({len(raw)} chars)"
            records.append({"at": _hhmm(_num(rec.get("at")), tz, with_date=True),
                            "reason": shown_as((rec.get("reason") or "")[:500]),
                            "ref": shown_as((rec.get("ref") or "")[:120]), "raw": shown})
        groups.append({"feed": feed, "total": len(records), "records": records})
    return groups


def feeds_view(n: int | None, svc, user, now: float | None = None) -> dict[str, Any]:
    """The health table, the quarantine list and the status line. Needs ``view_feeds``."""
    session.check(user, "view_feeds", anonymous="log in to see the feeds",
                  forbidden="your role cannot see the feeds")
    session.refuse_flagged_input()
    now = time.time() if now is None else now
    tz = ZoneInfo(svc.settings.timezone)
    restricted = not user.can("see_pii")
    try:
        health = svc.store.feed_health()
        groups = quarantine_groups(svc.store, sorted(health), tz, restricted=restricted)
    except redis.RedisError as exc:
        return {"table": no_update, "quarantine": no_update,
                "status": f"数据连接中断 data store unreachable ({exc.__class__.__name__}) — "
                          f"showing the last picture"}
    status = f"更新于 updated {_hhmm(now, tz, with_date=True)} · 每10秒刷新 refreshes every 10 s"
    return {"table": L.health_table(feed_rows(health, now, tz, restricted)),
            "quarantine": L.quarantine_list(groups), "status": status}


@callback(output=dict(table=Output(ids.FEEDS_TABLE, "children"),
                      quarantine=Output(ids.FEEDS_QUARANTINE, "children"),
                      status=Output(ids.FEEDS_STATUS, "children")),
          inputs=dict(tick=Input(ids.FEEDS_TICK, "n_intervals")))
def _feeds_cb(tick):
    return feeds_view(tick, session.services(), session.current_user())
