"""Dispatch routes that are not Dash callbacks: the audit export for admins.

``GET /api/v1/audit.csv?since=&until=&who=&action=&target=&limit=`` (``view_audit``):
the audit stream as CSV (UTF-8 with BOM; cells that a spreadsheet would run as a formula
are prefixed with ``'``). ``since``/``until`` are dates (``2026-10-01``, local days) or
epoch seconds. The export is itself audited.

Register with ``app.server.register_blueprint(dispatch_api.blueprint(services))``.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Callable

import redis
from flask import Blueprint, Response, jsonify, request

from dashboard import audit

from dashboard.web import session
from dashboard.timeutil import SHANGHAI

MAX_ROWS = 100_000
DEFAULT_ROWS = 10_000
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME_RE = re.compile(r"^[\w.:\-]{1,120}$")


class BadParam(ValueError):
    pass


def _when(value: str | None, end: bool = False) -> float | None:
    """Epoch seconds from a local date (start of day, or end of day for ``end``) or an
    epoch number; None when absent."""
    if not value:
        return None
    if _DATE_RE.match(value):
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=SHANGHAI)
        except ValueError:
            raise BadParam(f"not a date: {value!r}") from None
        return (day + timedelta(days=1) if end else day).timestamp()
    try:
        v = float(value)
    except ValueError:
        raise BadParam(f"since/until: a date (YYYY-MM-DD) or epoch seconds, got {value[:40]!r}") \
            from None
    if not 0 <= v < 1e10:
        raise BadParam("since/until out of range")
    return v


def _name(value: str | None, what: str) -> str | None:
    if not value:
        return None
    if not _NAME_RE.match(value):
        raise BadParam(f"{what}: letters, digits, '.', ':', '-', '_' only")
    return value


def blueprint(get_services: Callable[[], object]) -> Blueprint:
    bp = Blueprint("lukuang_dispatch", __name__)

    @bp.get("/api/v1/audit.csv")
    def audit_csv():
        user = session.require("view_audit")
        svc = get_services()
        try:
            since = _when(request.args.get("since"))
            until = _when(request.args.get("until"), end=True)
            limit = int(request.args.get("limit") or DEFAULT_ROWS)
            if not 1 <= limit <= MAX_ROWS:
                raise BadParam(f"limit: 1-{MAX_ROWS}")
            who = _name(request.args.get("who"), "who")
            action = _name(request.args.get("action"), "action")
            target = _name(request.args.get("target"), "target")
        except (BadParam, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400
        try:
            entries = audit.read(svc.r, svc.keys, since=since, until=until, who=who,
                                 action=action, target=target, count=limit,
                                 newest_first=False)
            audit.append(svc.r, svc.keys, user.name, user.role, "audit_export", "audit",
                         after={"rows": len(entries), "since": since, "until": until},
                         note=request.query_string.decode("utf-8", "replace")[:300])
        except redis.RedisError:
            return jsonify({"error": "data store unavailable"}), 503
        stamp = time.strftime("%Y%m%d-%H%M")
        return Response(audit.to_csv(entries), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 f'attachment; filename="lukuang-audit-{stamp}.csv"',
                                 "Cache-Control": "no-store"})

    return bp
