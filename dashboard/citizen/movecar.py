"""Move-car (挪车) tasks: a report of a car blocking the way, with its plate, opens a task
with a 5-minute clock; an officer marks the owner notified, the car moved or towed.

A task is a hash (``keys.movecar``) with the report it came from, the place, the district,
its status (``open`` → ``notified`` → ``moved`` | ``towed``; ``open`` may go straight to
moved or towed) and its times. The plate is personal data and stays in the report's
private hash (``keys.private``): ``rows`` gives it only to a role with ``see_pii``. Every
change goes through ``audit.commit`` (checked against the status the officer acted on, one
winner when two act at once, an audit entry, the data version bumped); the audit entry never
holds the plate. ``durations`` feeds the clearance statistics (dispatch/clearance.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import redis

from dashboard import audit
from dashboard.auth import User
from dashboard.storage.keys import Keys
from dashboard.timeutil import SHANGHAI

CLOCK_S = 300                     # the promise: moved within 5 minutes
ACTIONS = {"notified": "notified", "moved": "moved", "towed": "towed"}
CLOSED = ("moved", "towed")
STATUS_LABELS = {"open": "待处理 open", "notified": "已通知车主 owner notified",
                 "moved": "已挪走 moved", "towed": "已拖移 towed"}
SHOW_CLOSED_S = 600               # a closed task stays in the desk's list this long
SYSTEM_ROLE = "system"


class MoveCarError(ValueError):
    """An action on a task that cannot be done (unknown task, wrong state, not allowed)."""


@dataclass(frozen=True)
class Task:
    id: str
    report_id: str
    source: str
    place: str
    lon: float
    lat: float
    district: str
    status: str
    opened_at: float
    deadline_at: float
    notified_at: float | None = None
    closed_at: float | None = None
    closed_by: str = ""
    rev: int = 0

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> "Task":
        def num(name: str) -> float | None:
            v = h.get(name) or ""
            return float(v) if v else None
        return cls(id=h["id"], report_id=h.get("report_id", ""), source=h.get("source", ""),
                   place=h.get("place", ""), lon=float(h.get("lon") or 0),
                   lat=float(h.get("lat") or 0), district=h.get("district", ""),
                   status=h.get("status", "open"), opened_at=float(h.get("opened_at") or 0),
                   deadline_at=float(h.get("deadline_at") or 0), notified_at=num("notified_at"),
                   closed_at=num("closed_at"), closed_by=h.get("closed_by", ""),
                   rev=int(h.get("rev") or 0))


def open_task(r: redis.Redis, keys: Keys, report_id: str, source: str, place: str,
              lon: float, lat: float, district: str, now: float | None = None
              ) -> tuple[str, bool]:
    """Open the task of one report (``source`` is the feed that took it: ``qr``,
    ``hotline``); (task id, True) when opened now, (its task id, False) when the report has
    one already (a resent report opens nothing)."""
    existing = r.hget(keys.movecar_by_report(), report_id)
    if existing:
        return existing, False
    now = time.time() if now is None else now
    task_id = f"MC-{int(r.incr(keys.movecar_seq()))}"
    key = keys.movecar(task_id)
    fields = {"id": task_id, "report_id": report_id, "source": source, "place": place[:200],
              "lon": repr(float(lon)), "lat": repr(float(lat)), "district": district[:80],
              "status": "open", "opened_at": f"{now:.3f}",
              "deadline_at": f"{now + CLOCK_S:.3f}"}
    change = audit.Change(action="movecar_open", target=task_id, who=source,
                          role=SYSTEM_ROLE, at=now, rev=1,
                          after={"status": "open", "report": report_id, "place": place[:200]})
    change.check(keys.movecar_by_report(), report_id, "")
    change.sets += [(key, fields), (keys.movecar_by_report(), {report_id: task_id})]
    change.bump.append(key)
    change.zadd += [(keys.movecar_active(), now + CLOCK_S, task_id),
                    (keys.movecar_index(), now, task_id)]
    result = audit.commit(r, keys, change)
    if not result.ok:   # another process opened it a moment ago
        return r.hget(keys.movecar_by_report(), report_id) or "", False
    return task_id, True


def get(r: redis.Redis, keys: Keys, task_id: str) -> Task | None:
    h = r.hgetall(keys.movecar(task_id)) if task_id else {}
    return Task.from_hash(h) if h.get("id") else None


def mark(r: redis.Redis, keys: Keys, user: User, task_id: str, action: str,
         now: float | None = None) -> Task:
    """Mark a task notified, moved or towed (officers and admins: ``dispatch``)."""
    if not user.can("dispatch"):
        raise MoveCarError(f"role {user.role!r} may not change move-car tasks")
    if action not in ACTIONS:
        raise MoveCarError(f"unknown action {action!r}")
    task = get(r, keys, task_id or "")
    if task is None:
        raise MoveCarError(f"no move-car task {task_id!r}")
    if task.status in CLOSED:
        raise MoveCarError(f"{task.id} is closed already ({STATUS_LABELS[task.status]})")
    if action == "notified" and task.status == "notified":
        raise MoveCarError(f"{task.id}: the owner was notified already")
    now = time.time() if now is None else now
    key = keys.movecar(task.id)
    sets = {"status": action}
    if action == "notified":
        sets["notified_at"] = f"{now:.3f}"
    else:
        sets.update(closed_at=f"{now:.3f}", closed_by=user.name)
    change = audit.Change(action=f"movecar_{action}", target=task.id, who=user.name,
                          role=user.role, at=now, rev=task.rev + 1,
                          before={"status": task.status}, after={"status": action})
    change.check(key, "status", task.status)
    change.sets.append((key, sets))
    change.bump.append(key)
    if action in CLOSED:
        change.zrem.append((keys.movecar_active(), task.id))
    result = audit.commit(r, keys, change)
    if not result.ok:
        raise MoveCarError(f"{task.id} was changed meanwhile (now "
                           f"{STATUS_LABELS.get(result.actual, result.actual)}); look again")
    return get(r, keys, task.id) or task


def active(r: redis.Redis, keys: Keys, now: float | None = None) -> list[Task]:
    """Tasks not closed, and those closed in the last ``SHOW_CLOSED_S``, by deadline."""
    now = time.time() if now is None else now
    ids = list(r.zrange(keys.movecar_active(), 0, 199))
    recent = r.zrangebyscore(keys.movecar_index(), now - 6 * 3600, "+inf")
    tasks = [t for t in (get(r, keys, i) for i in dict.fromkeys(ids + list(recent))) if t]
    shown = [t for t in tasks if t.status not in CLOSED
             or (t.closed_at or 0) >= now - SHOW_CLOSED_S]
    return sorted(shown, key=lambda t: (t.status in CLOSED, t.deadline_at))


def active_count(r: redis.Redis, keys: Keys) -> int:
    return int(r.zcard(keys.movecar_active()))


def _left(seconds: float) -> str:
    s = int(abs(seconds))
    text = f"{s // 60}:{s % 60:02d}"
    return f"超时 overdue {text}" if seconds < 0 else text


def rows(r: redis.Redis, keys: Keys, user: User, now: float | None = None,
         tz: tzinfo | None = None) -> list[dict[str, Any]]:
    """The desk's move-car list as plain rows, for ``view_dispatch`` roles: place, district,
    status, opened (local time), time left on the 5-minute clock (or overdue, or how long it
    took), and the plate for ``see_pii`` only (anyone else: 已隐藏 masked)."""
    if not user.can("view_dispatch"):
        raise MoveCarError(f"role {user.role!r} may not see move-car tasks")
    now = time.time() if now is None else now
    tz = tz or SHANGHAI
    pii = user.can("see_pii")
    out = []
    for t in active(r, keys, now):
        if t.status in CLOSED:
            took = (t.closed_at or now) - t.opened_at
            left = f"用时 took {int(took) // 60}:{int(took) % 60:02d}"
        else:
            left = _left(t.deadline_at - now)
        plate = (r.hget(keys.private(t.report_id), "plate") or "—") if pii else "已隐藏 masked"
        out.append({"id": t.id, "place": t.place, "district": t.district or "—",
                    "status": t.status, "status_label": STATUS_LABELS.get(t.status, t.status),
                    "opened": datetime.fromtimestamp(t.opened_at, tz).strftime("%H:%M:%S"),
                    "left": left, "overdue": t.status not in CLOSED and now > t.deadline_at,
                    "plate": plate, "source": t.source})
    return out


def durations(r: redis.Redis, keys: Keys, start: float, end: float
              ) -> list[tuple[float, str, float | None]]:
    """(opened at, district, minutes from opened to moved/towed or None while not closed) of
    the tasks opened in [start, end) (epoch seconds)."""
    out = []
    for task_id in r.zrangebyscore(keys.movecar_index(), start, f"({end}"):
        t = get(r, keys, task_id)
        if t is None:
            continue
        minutes = (t.closed_at - t.opened_at) / 60.0 if t.status in CLOSED and t.closed_at \
            else None
        out.append((t.opened_at, t.district, minutes))
    return out
