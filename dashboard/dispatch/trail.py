"""The audit view of one incident: its history entries as rows a person reads (who, when,
what, before → after, note), and the changed fields of an audit-stream entry in words.

Pure functions over the entries ``incidents.detail`` returns (times already local to the
city's zone, notes already masked for the reader's role) and over the audit stream's
``before``/``after`` JSON; nothing here reads Redis or renders anything.
"""
from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any, Iterable

from dashboard.dispatch.labels import ACTION_LABELS, INCIDENT_STATUS_LABELS

MAX_VALUE = 80       # characters of one field value shown in a change
MAX_FIELDS = 8       # changed fields shown per audit entry
# fields an audit entry changes on every action, or too long to read in a table
_QUIET_FIELDS = {"history", "updated_at", "updated_by", "rev", "status_at", "status_by"}


def _status(value: Any) -> str:
    return INCIDENT_STATUS_LABELS.get(str(value), str(value or "·"))


def _short(value: Any, limit: int = MAX_VALUE) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def change_of(entry: dict[str, Any]) -> str:
    """What one history entry changed, as "before → after" words (status, unit, report,
    place), e.g. "已报告 → 已派警；+ 警力 T-101"."""
    action = entry.get("action", "")
    parts: list[str] = []
    before, after = entry.get("from"), entry.get("to")
    if before != after:
        parts.append(f"{_status(before) if before else '·'} → {_status(after)}")
    if action == "acknowledge":
        parts.append("未确认 → 已确认")
    if entry.get("moved"):
        parts.append(str(entry["moved"]))
    unit = entry.get("unit")
    if unit:
        parts.append(f"{'− ' if action == 'release' else '+ '}警力 unit {unit}")
    released = entry.get("released") or []
    if released:
        parts.append("收回 released " + "、".join(str(u) for u in released))
    if entry.get("report"):
        if action == "split":
            target = entry.get("into") or entry.get("split_from") or ""
            parts.append(f"报告 report {entry['report']} → {target}".rstrip(" →"))
        else:
            parts.append(f"+ 报告 report {entry['report']}")
    elif entry.get("into"):
        parts.append(f"→ {entry['into']}")
    if entry.get("duplicate"):
        parts.append(f"+ {entry['duplicate']}")
    return "；".join(parts)


def rows(history: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """The audit view's rows, newest first: ``at`` (the entry's ``at_local``), ``who``
    (name and role), ``what`` (the action's label), ``change`` and ``note``. Every value is
    plain text for a table cell."""
    out = []
    for e in history:
        action = str(e.get("action", ""))
        role = e.get("role") or ""
        out.append({"at": str(e.get("at_local", "")),
                    "who": f"{e.get('by', '')}" + (f" ({role})" if role else ""),
                    "what": ACTION_LABELS.get(action, action), "change": change_of(e),
                    "note": str(e.get("note") or "")})
    out.reverse()
    return out


def _value(name: str, value: Any, tz: tzinfo | None) -> str:
    """A field's value in words: "·" for none, a time field (``*_at``) as local time."""
    if value in (None, "", [], {}, "[]", "{}"):
        return "·"
    if tz is not None and name.endswith("_at"):
        try:
            return datetime.fromtimestamp(float(value), tz).strftime("%m-%d %H:%M:%S")
        except (TypeError, ValueError, OverflowError, OSError):
            pass
    return _short(value)


def audit_changes(before: str | None, after: str | None,
                  tz: tzinfo | None = None) -> list[str]:
    """The fields an audit-stream entry changed, one "field: before → after" line each
    (``before``/``after`` are the entry's JSON: ``{target: {field: value}}`` for dispatch's
    incidents, a flat ``{field: value}`` for a unit or a bulletin; with several targets a
    line starts with its target). Times (``*_at``) in ``tz``, long values cut,
    bookkeeping fields left out, at most MAX_FIELDS lines (and "+n")."""
    def load(text: str | None) -> dict[str, Any]:
        try:
            value = json.loads(text or "{}")
        except ValueError:
            return {}
        if not isinstance(value, dict):
            return {}
        if value and all(isinstance(v, dict) for v in value.values()):
            return value
        return {"": value} if value else {}
    b, a = load(before), load(after)
    lines: list[str] = []
    targets = list(dict.fromkeys([*b, *a]))
    for target in targets:
        old = b.get(target) if isinstance(b.get(target), dict) else {}
        new = a.get(target) if isinstance(a.get(target), dict) else {}
        for name in dict.fromkeys([*old, *new]):
            if name in _QUIET_FIELDS:
                continue
            was, now = _value(name, old.get(name), tz), _value(name, new.get(name), tz)
            if was == now:
                continue
            label = f"{target} {name}" if len(targets) > 1 and target else name
            lines.append(f"{label}: {was} → {now}")
    if len(lines) > MAX_FIELDS:
        lines = lines[:MAX_FIELDS] + [f"+{len(lines) - MAX_FIELDS}"]
    return lines


def label_of(action: str) -> str:
    """An audit entry's action in words ("status:cleared" → "状态 status: 已清除")."""
    head, _, rest = str(action).partition(":")
    label = ACTION_LABELS.get(head, head)
    return f"{label}: {_status(rest)}" if rest else label

