"""``lukuang reach import FILE`` and ``lukuang reach report …``: the weekly report and checks.

    lukuang reach import export.csv            # the owner's CSV export, or a statuses JSON
    lukuang reach report --from 2026-10-01 --to 2026-10-07
    lukuang reach report --holiday national-day --year 2026

``import`` prints {format, encoding, rows, posts, new_posts, snapshots, rejected:[{row,
reason}]} and exits 0 when the file was processed (rejected rows included), 2 when the
file is unusable. ``report`` prints the period's figures; a --from/--to range that is
exactly a holiday period is reported as that holiday (with its comparisons).
"""
from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path

import redis

from dashboard.cli.commands import EXIT_FAIL, EXIT_OK, emit, fail
from dashboard.comms.holidays import KINDS, HolidayCalendar, HolidayError
from dashboard.storage.keys import Keys
from dashboard.comms.reach import ReachFileError, ReachStore, report
from dashboard.settings import Settings
from dashboard.timeutil import city_zone

MAX_FILE_BYTES = 50 * 1024 * 1024


def _reach_store(settings: Settings) -> ReachStore:
    from dashboard.storage.connection import open_redis

    handle = open_redis(settings, start_embedded=False)
    return ReachStore(handle.client, Keys(settings.key_prefix, settings.city),
                      city_zone(settings))


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return fail(f"reach import: {path} is {size} bytes (max {MAX_FILE_BYTES})")
        payload = path.read_bytes()
    except OSError as exc:
        return fail(f"reach import: cannot read {path}: {exc.strerror or exc}")
    at = None
    if args.at:
        try:
            dt = datetime.fromisoformat(args.at)
        except ValueError:
            return fail("reach import: --at must be ISO 8601 with an offset, "
                        "e.g. 2026-10-08T09:00+08:00")
        if dt.tzinfo is None:
            return fail("reach import: --at needs a UTC offset, e.g. 2026-10-08T09:00+08:00")
        at = dt.timestamp()
    try:
        rs = _reach_store(settings)
        summary = rs.import_file(payload, at=at)
    except ReachFileError as exc:
        return fail(f"reach import: {path}: {exc}")
    except (redis.RedisError, OSError) as exc:
        return fail(f"reach import: Redis: {exc}", EXIT_FAIL)
    emit(summary)
    return EXIT_OK


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HolidayError(f"{name} must be YYYY-MM-DD, got {text!r}") from None


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    try:
        cal = HolidayCalendar.load(settings.state_dir)
        if args.holiday:
            if args.date_from or args.date_to:
                return fail("reach report: give --holiday/--year or --from/--to, not both")
            year = args.year or date.today().year
            period = cal.period_for(args.holiday, year)
            first, last = period.start, period.end
        else:
            if not (args.date_from and args.date_to):
                return fail("reach report: give --from and --to, or --holiday and --year")
            first, last = _day(args.date_from, "--from"), _day(args.date_to, "--to")
            if last < first or (last - first).days > 366:
                return fail("reach report: --to must be on or after --from, within a year")
            period = cal.period_at(first)
            if period is not None and (period.start, period.end) != (first, last):
                period = None
    except HolidayError as exc:
        return fail(f"reach report: {exc}")
    try:
        rep = report(_reach_store(settings), first, last, period=period, calendar=cal)
    except (redis.RedisError, OSError) as exc:
        return fail(f"reach report: Redis: {exc}", EXIT_FAIL)
    emit(rep)
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``lukuang reach import|report``."""
    p = sub.add_parser("reach", help="reach of the account's own posts: import metrics, "
                                     "period figures")
    rs = p.add_subparsers(dest="reach_cmd", required=True)
    i = rs.add_parser("import", help="import the owner's CSV export or a Weibo statuses JSON")
    i.add_argument("file")
    i.add_argument("--at", help="when the figures were taken (ISO 8601 with offset; "
                                "default now)")
    i.set_defaults(handler=cmd_import)
    r = rs.add_parser("report", help="figures of a period or a holiday, as JSON")
    r.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD (local)")
    r.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD (inclusive)")
    r.add_argument("--holiday", choices=KINDS, help="a holiday kind, e.g. national-day")
    r.add_argument("--year", type=int, help="the holiday's year (default: this year)")
    r.set_defaults(handler=cmd_report)
