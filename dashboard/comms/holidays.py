"""Statutory holiday periods (法定节假日) and make-up workdays (调休上班).

The source is PyPI ``chinese_calendar`` (2004–2026; later years raise NotImplementedError),
plus periods configured by hand for the years it does not cover, or to correct it:
``data/holidays_manual.json`` shipped with the project and ``<state_dir>/holidays.toml``
or ``<state_dir>/holidays.json`` kept by the operator. Hand-configured periods win over
the package where they overlap; the state directory wins over the shipped file.

A *period* is a run of consecutive days off that contains at least one statutory holiday
day. When two festivals fall together (国庆 + 中秋 in 2020, 2023 and 2025) the period
carries both kinds, so ``period_for("mid-autumn", 2025)`` and
``period_for("national-day", 2025)`` are the same eight days. Make-up workdays are the
weekend days worked in exchange; chinese_calendar marks them ``(False, <holiday name>)``.

File format (JSON; TOML has the same fields under ``[[period]]``)::

    {"periods": [{"kind": "national-day", "start": "2027-10-01", "end": "2027-10-07",
                  "makeup": ["2027-09-26"], "name": "国庆节", "provisional": true,
                  "note": "why / where from"}]}

``kind`` may be a list for a combined period.

For the years neither covers (2027 on, until the package or a file has the notice), the
periods are *derived* from the statutory rules of 《全国年节及纪念日放假办法》 (as amended
in 2024, in force from 2025): 元旦 1 Jan; 春节 除夕 to 初三 (4 days, lunar); 清明 the solar
term's day (about 4-5 April); 劳动节 1-2 May; 端午 5th of the 5th lunar month; 中秋 15th of the
8th; 国庆 1-3 Oct. A derived period is the statutory days with the weekend days that touch
them, plus one weekday off after it for each statutory day that falls on a weekend (补假);
periods that touch are one combined period. The lunar dates and the solar term come from
PyPI ``lunar_python`` (pure Python). Derived periods are ``provisional`` (暂定): their make-up
workdays are unknown until the official notice is loaded (a manual file, which wins).
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import chinese_calendar
from lunar_python import Lunar, Solar

REPO = Path(__file__).resolve().parents[2]
SHIPPED_FILE = REPO / "data" / "holidays_manual.json"
STATE_FILES = ("holidays.toml", "holidays.json")

# chinese_calendar's holiday names -> our kinds
KIND_OF_NAME = {
    "New Year's Day": "new-year",
    "Spring Festival": "spring-festival",
    "Tomb-sweeping Day": "qingming",
    "Labour Day": "labour-day",
    "Dragon Boat Festival": "dragon-boat",
    "National Day": "national-day",
    "Mid-autumn Festival": "mid-autumn",
    "Anti-Fascist 70th Day": "victory-day",
}
KIND_NAMES = {
    "new-year": "元旦", "spring-festival": "春节", "qingming": "清明节", "labour-day": "劳动节",
    "dragon-boat": "端午节", "national-day": "国庆节", "mid-autumn": "中秋节",
    "victory-day": "抗战胜利纪念日",
}
KINDS = tuple(KIND_NAMES)
# the order in which the kinds of a combined period are named
_NAME_ORDER = {k: i for i, k in enumerate(("national-day", "spring-festival", "labour-day",
                                           "mid-autumn", "new-year", "qingming", "dragon-boat",
                                           "victory-day"))}


DERIVED_SOURCE = "derived"
DERIVED_NOTE = ("暂定：按《全国年节及纪念日放假办法》推算，调休上班日待国务院办公厅通知 "
                "(provisional: derived from the statutory rules; make-up workdays unknown "
                "until the official notice is loaded)")
# the kinds derived for a year, in calendar order
DERIVED_KINDS = ("new-year", "spring-festival", "qingming", "labour-day", "dragon-boat",
                 "mid-autumn", "national-day")
DERIVED_YEARS = (1901, 2099)     # the range the lunar tables answer for, with a margin


class HolidayError(ValueError):
    """A period is unknown or a configuration file is wrong; the message says what to do."""


@dataclass(frozen=True)
class HolidayPeriod:
    """Consecutive days off, ``start`` to ``end`` inclusive (local dates)."""

    start: date
    end: date
    kinds: tuple[str, ...]
    makeup: tuple[date, ...] = ()
    source: str = "chinese_calendar"
    provisional: bool = False
    name: str = ""
    note: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def kind(self) -> str:
        """The main kind (for a combined period, the first in naming order)."""
        return self.kinds[0]

    @property
    def label(self) -> str:
        """"国庆节·中秋节 2025-10-01—10-08"-style label for pickers."""
        name = self.name or "·".join(KIND_NAMES.get(k, k) for k in self.kinds)
        return f"{name} {self.start.isoformat()}—{self.end.strftime('%m-%d')}"

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def day_number(self, day: date) -> int | None:
        """1 for the first day of the period, None outside it."""
        return (day - self.start).days + 1 if self.contains(day) else None

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": list(self.kinds), "name": self.name or "·".join(
                    KIND_NAMES.get(k, k) for k in self.kinds),
                "from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days,
                "makeup_workdays": [d.isoformat() for d in self.makeup],
                "source": self.source, "provisional": self.provisional}


def _order_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(kinds), key=lambda k: (_NAME_ORDER.get(k, 99), k)))


# -- chinese_calendar ---------------------------------------------------------------------
def _detail(day: date) -> tuple[bool, str | None] | None:
    """(is holiday, name) from the package, None when it does not cover the year."""
    try:
        on, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return bool(on), (name.value if hasattr(name, "value") else name)


@lru_cache(maxsize=64)
def package_periods(year: int) -> tuple[HolidayPeriod, ...]:
    """Periods ending in ``year`` according to chinese_calendar; () for uncovered years."""
    if _detail(date(year, 6, 1)) is None:
        return ()
    first, last = date(year - 1, 12, 1), date(year + 1, 1, 31)
    days: list[tuple[date, bool, str | None]] = []
    d = first
    while d <= last:
        det = _detail(d)
        if det is None:  # the neighbouring year is not covered: treat as unknown
            days.append((d, False, None))
        else:
            days.append((d, det[0], det[1]))
        d += timedelta(days=1)
    periods: list[HolidayPeriod] = []
    run: list[tuple[date, bool, str | None]] = []
    for item in days + [(last + timedelta(days=1), False, None)]:
        if item[1]:
            run.append(item)
            continue
        named = [KIND_OF_NAME.get(n, n) for _, _, n in run if n]
        if run and named:
            periods.append(HolidayPeriod(run[0][0], run[-1][0], _order_kinds(named)))
        run = []
    makeup = [(dd, KIND_OF_NAME.get(n, n)) for dd, on, n in days if not on and n]
    out = []
    for p in periods:
        if p.end.year != year:
            continue
        mine = tuple(dd for dd, kind in makeup
                     if kind in p.kinds and abs((dd - p.start).days) <= 21)
        out.append(HolidayPeriod(p.start, p.end, p.kinds, mine))
    return tuple(out)


# -- derived from the statutory rules ---------------------------------------------------------
def _lunar_day(year: int, month: int, day: int) -> date:
    """The Gregorian date of a lunar-calendar day of lunar ``year``."""
    s = Lunar.fromYmd(year, month, day).getSolar()
    return date(s.getYear(), s.getMonth(), s.getDay())


def _qingming(year: int) -> date:
    """The day of the 清明 solar term in ``year``."""
    table = Solar.fromYmd(year, 4, 15).getLunar().getJieQiTable()
    s = table["清明"]
    return date(s.getYear(), s.getMonth(), s.getDay())


def statutory_days(kind: str, year: int) -> tuple[date, ...]:
    """The statutory days off (法定假日) of ``kind`` in ``year`` under the rules in force
    since 2025; () for a kind with no rule (抗战胜利纪念日 was a one-off)."""
    if kind == "new-year":
        return (date(year, 1, 1),)
    if kind == "spring-festival":
        first = _lunar_day(year, 1, 1)
        return tuple(first + timedelta(days=i) for i in range(-1, 3))   # 除夕 to 初三
    if kind == "qingming":
        return (_qingming(year),)
    if kind == "labour-day":
        return (date(year, 5, 1), date(year, 5, 2))
    if kind == "dragon-boat":
        return (_lunar_day(year, 5, 5),)
    if kind == "mid-autumn":
        return (_lunar_day(year, 8, 15),)
    if kind == "national-day":
        return (date(year, 10, 1), date(year, 10, 2), date(year, 10, 3))
    return ()


def _run(days: tuple[date, ...]) -> tuple[date, date]:
    """The days off around statutory ``days``: with the weekend days that touch them, then
    one weekday more for each statutory day on a weekend (补假)."""
    start, end = min(days), max(days)
    while (start - timedelta(days=1)).weekday() >= 5:
        start -= timedelta(days=1)
    while (end + timedelta(days=1)).weekday() >= 5:
        end += timedelta(days=1)
    owed = sum(1 for d in days if d.weekday() >= 5)
    while owed:
        end += timedelta(days=1)
        if end.weekday() < 5:
            owed -= 1
    while (end + timedelta(days=1)).weekday() >= 5:
        end += timedelta(days=1)
    return start, end


@lru_cache(maxsize=64)
def derived_periods(year: int) -> tuple[HolidayPeriod, ...]:
    """Provisional periods of ``year`` derived from the statutory rules (see the module
    docstring), in date order; () outside the lunar tables' years."""
    if not DERIVED_YEARS[0] <= year <= DERIVED_YEARS[1]:
        return ()
    runs = sorted((*_run(statutory_days(k, year)), k) for k in DERIVED_KINDS)
    merged: list[list] = []
    for start, end, kind in runs:
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2].append(kind)
        else:
            merged.append([start, end, [kind]])
    return tuple(HolidayPeriod(s, e, _order_kinds(k), (), source=DERIVED_SOURCE,
                               provisional=True, note=DERIVED_NOTE) for s, e, k in merged)


# -- hand-configured periods --------------------------------------------------------------
def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise HolidayError(f"{where}: {value!r} is not a YYYY-MM-DD date") from None


def parse_manual(doc: Any, origin: str) -> list[HolidayPeriod]:
    """Periods from a parsed manual file; raises HolidayError naming the bad entry."""
    entries = doc.get("periods", doc.get("period", [])) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise HolidayError(f"{origin}: expected a list under 'periods'")
    out = []
    for i, e in enumerate(entries):
        where = f"{origin}: period {i + 1}"
        if not isinstance(e, dict):
            raise HolidayError(f"{where} is not a table/object")
        kinds = e.get("kind", e.get("kinds"))
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not kinds or not all(isinstance(k, str) and k in KIND_NAMES for k in kinds):
            raise HolidayError(f"{where}: kind must be one or more of {', '.join(KINDS)}")
        start = _parse_date(e.get("start"), where)
        end = _parse_date(e.get("end"), where)
        if end < start or (end - start).days > 30:
            raise HolidayError(f"{where}: end must be on or after start, within 31 days")
        makeup = tuple(sorted(_parse_date(m, where) for m in e.get("makeup", [])))
        out.append(HolidayPeriod(start, end, _order_kinds(kinds), makeup, source=origin,
                                 provisional=bool(e.get("provisional", False)),
                                 name=str(e.get("name", ""))[:40], note=str(e.get("note", ""))))
    return out


def load_manual_file(path: Path) -> list[HolidayPeriod]:
    """Periods from one JSON or TOML file ([] when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    try:
        doc = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise HolidayError(f"{path}: {exc}") from None
    return parse_manual(doc, path.name)


class HolidayCalendar:
    """Holiday periods from chinese_calendar and hand-configured files."""

    def __init__(self, manual: Iterable[HolidayPeriod] = ()):
        self.manual = sorted(manual, key=lambda p: p.start)

    @classmethod
    def load(cls, state_dir: Path | str | None = None,
             shipped: Path | None = SHIPPED_FILE) -> "HolidayCalendar":
        """The shipped file, overridden by the operator's file in the state directory."""
        periods: list[HolidayPeriod] = load_manual_file(shipped) if shipped else []
        if state_dir is not None:
            for name in STATE_FILES:
                local = load_manual_file(Path(state_dir) / name)
                periods = [p for p in periods if not any(_overlap(p, q) for q in local)] + local
        return cls(periods)

    def periods(self, year: int) -> list[HolidayPeriod]:
        """Every period ending in ``year``, in date order: the hand-configured ones, then
        the package's; for a year the package does not cover, the derived (provisional)
        ones that no hand-configured period overlaps."""
        manual = [p for p in self.manual if p.end.year == year]
        auto = list(package_periods(year))
        if not auto and _detail(date(year, 6, 1)) is None:
            # a kind the year's hand-configured periods name is theirs: no derived twin
            named = {k for p in manual for k in p.kinds}
            auto = [p for p in derived_periods(year) + derived_periods(year + 1)
                    if p.end.year == year and not named.intersection(p.kinds)]
        auto = [p for p in auto if not any(_overlap(p, m) for m in self.manual)]
        return sorted(auto + manual, key=lambda p: p.start)

    def covered(self, year: int) -> bool:
        """True when the package, a manual file or the statutory rules say anything about
        ``year``."""
        return bool(package_periods(year)) or bool(derived_periods(year)) or any(
            p.end.year == year for p in self.manual)

    def period_for(self, kind: str, year: int) -> HolidayPeriod:
        """The period of ``kind`` in ``year``; HolidayError explains what is missing."""
        if kind not in KIND_NAMES:
            raise HolidayError(f"unknown holiday kind {kind!r} (one of {', '.join(KINDS)})")
        found = [p for p in self.periods(year) if kind in p.kinds]
        if not found:
            if not self.covered(year):
                raise HolidayError(
                    f"no holiday data for {year}: chinese_calendar covers 2004–2026 and "
                    f"periods are derived for {DERIVED_YEARS[0]}–{DERIVED_YEARS[1]}; add the "
                    f"period to <state_dir>/holidays.toml or data/holidays_manual.json")
            raise HolidayError(f"no {kind} period in {year}")
        return found[-1]

    def period_at(self, day: date) -> HolidayPeriod | None:
        """The period containing ``day``, if any."""
        for p in self.periods(day.year) + self.periods(day.year + 1):
            if p.contains(day):
                return p
        return None

    def previous(self, kind: str, before: date, years_back: int = 5) -> HolidayPeriod | None:
        """The latest period of ``kind`` that ends before ``before``."""
        for year in range(before.year, before.year - years_back - 1, -1):
            found = [p for p in self.periods(year) if kind in p.kinds and p.end < before]
            if found:
                return found[-1]
        return None

    def is_workday(self, day: date) -> bool:
        """Workday in China: manual periods first, then the package, then the derived
        periods, else Mon–Fri."""
        for p in self.manual:
            if p.contains(day):
                return False
            if day in p.makeup:
                return True
        det = _detail(day)
        if det is not None:
            return chinese_calendar.is_workday(day)
        if any(p.contains(day) for p in self.periods(day.year) + self.periods(day.year + 1)):
            return False
        return day.weekday() < 5


def _overlap(a: HolidayPeriod, b: HolidayPeriod) -> bool:
    return a.start <= b.end and b.start <= a.end


def period_value(p: HolidayPeriod) -> str:
    """A picker value for a period: ``national-day|2026-10-01|2026-10-07``."""
    return f"{p.kind}|{p.start.isoformat()}|{p.end.isoformat()}"


def period_from_value(cal: HolidayCalendar, value: str) -> HolidayPeriod:
    """The period a picker value names; HolidayError when it is not a known period."""
    try:
        kind, start_s, end_s = (value or "").split("|")
        start, end = date.fromisoformat(start_s), date.fromisoformat(end_s)
    except ValueError:
        raise HolidayError(f"not a holiday period: {value!r}") from None
    p = cal.period_at(start)
    if p is None or (p.start, p.end) != (start, end) or kind not in p.kinds:
        raise HolidayError(f"not a holiday period: {value!r}")
    return p


def period_choices(cal: HolidayCalendar, today: date, years_back: int = 2,
                   ahead_days: int = 60) -> tuple[list[HolidayPeriod], HolidayPeriod | None]:
    """Periods for a picker (newest first, none starting more than ``ahead_days`` ahead)
    and the default: the period containing ``today``, else the latest one that ended."""
    horizon = today + timedelta(days=ahead_days)
    found: list[HolidayPeriod] = []
    for year in range(today.year - years_back, horizon.year + 1):
        found += [p for p in cal.periods(year) if p.start <= horizon]
    found.sort(key=lambda p: p.start, reverse=True)
    current = next((p for p in found if p.contains(today)), None)
    if current is None:
        current = next((p for p in found if p.end < today), None)
    return found, current


def upcoming_periods(cal: HolidayCalendar, today: date, ahead_days: int = 120,
                     at_least: int = 2) -> list[HolidayPeriod]:
    """Periods not yet over on ``today``, soonest first: those starting within
    ``ahead_days``, and never fewer than ``at_least`` (the next ones, however far)."""
    found: list[HolidayPeriod] = []
    for year in range(today.year, today.year + 3):
        found += [p for p in cal.periods(year) if p.end >= today]
    found.sort(key=lambda p: p.start)
    horizon = today + timedelta(days=ahead_days)
    near = [p for p in found if p.start <= horizon]
    return near if len(near) >= at_least else found[:at_least]


def picker_label(p: HolidayPeriod) -> str:
    """A period's label for a picker, "(暂定)" after a provisional one."""
    return p.label + (" (暂定)" if p.provisional else "")
