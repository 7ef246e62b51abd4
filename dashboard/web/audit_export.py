"""The audit CSV export for admins (a Flask route, not a Dash callback): the audit trail
of dispatch and the comms desk (``dashboard.audit``) as a spreadsheet.

``GET /api/v1/audit.csv?since=&until=&who=&action=&target=&limit=`` (``view_audit``):
the audit stream as CSV (UTF-8 with BOM; cells that a spreadsheet would run as a formula
are prefixed with ``'``). ``since``/``until`` are epoch seconds or local times
(``dashboard.timeutil.parse_time``: ``2026-10-01``, ``2026-10-01 08:00``, ISO 8601…; a date
alone as ``until`` means the end of that day). The export is itself audited. A bad
parameter answers ``400 {"error": "<reason>"}``.

Register with ``app.server.register_blueprint(audit_export.blueprint(services))``.
"""
from __future__ import annotations

import re
import time
from datetime import tzinfo
from typing import Callable

import redis
from flask import Blueprint, Response, jsonify, request

from dashboard import audit

from dashboard.web import session
from dashboard.web.params import BadParameter, error_response
from dashboard.timeutil import SHANGHAI, city_zone, parse_time

MAX_ROWS = 100_000
DEFAULT_ROWS = 10_000
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME_RE = re.compile(r"^[\w.:\-]{1,120}$")


def _when(value: str | None, end: bool = False, tz: tzinfo = SHANGHAI) -> float | None:
    """Epoch seconds from an epoch number or a local time in ``tz``, the city's zone (a
    date alone: the start of the day, or its end for ``end``); None when absent."""
    if not value:
        return None
    try:
        v = float(value)   # a number is epoch seconds, even 20261001
    except ValueError:
        try:
            return parse_time(value, tz, end_of_day=end).timestamp()
        except ValueError:
            if _DATE_RE.match(value):
                raise BadParameter(f"not a date: {value!r}") from None
            raise BadParameter("since/until: a date (YYYY-MM-DD) or epoch seconds, "
                               f"got {value[:40]!r}") from None
    if not 0 <= v < 1e10:
        raise BadParameter("since/until out of range")
    return v


def _limit(value: str | None) -> int:
    """The row limit, 1..MAX_ROWS (``int()``'s own message when it is not a number)."""
    try:
        limit = int(value or DEFAULT_ROWS)
    except ValueError as exc:
        raise BadParameter(str(exc)) from None
    if not 1 <= limit <= MAX_ROWS:
        raise BadParameter(f"limit: 1-{MAX_ROWS}")
    return limit


def _name(value: str | None, what: str) -> str | None:
    if not value:
        return None
    if not _NAME_RE.match(value):
        raise BadParameter(f"{what}: letters, digits, '.', ':', '-', '_' only")
    return value


def blueprint(get_services: Callable[[], object]) -> Blueprint:
    bp = Blueprint("lukuang_dispatch", __name__)
    bp.register_error_handler(BadParameter, error_response)

    @bp.get("/api/v1/audit.csv")
    def audit_csv():
        user = session.require("view_audit")
        svc = get_services()
        tz = city_zone(svc.settings)
        since = _when(request.args.get("since"), tz=tz)
        until = _when(request.args.get("until"), end=True, tz=tz)
        limit = _limit(request.args.get("limit"))
        who = _name(request.args.get("who"), "who")
        action = _name(request.args.get("action"), "action")
        target = _name(request.args.get("target"), "target")
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
        return Response(audit.to_csv(entries, tz), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 f'attachment; filename="lukuang-audit-{stamp}.csv"',
                                 "Cache-Control": "no-store"})

    return bp
