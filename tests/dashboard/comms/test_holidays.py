"""Holiday periods: chinese_calendar for 2004–2026, hand-configured periods beyond."""
import json
from datetime import date

import pytest

from dashboard.comms.holidays import (DERIVED_SOURCE, SHIPPED_FILE, HolidayCalendar, HolidayError,
                                HolidayPeriod, derived_periods, load_manual_file,
                                package_periods, parse_manual, period_choices,
                                period_from_value, period_value, picker_label,
                                statutory_days, upcoming_periods)


@pytest.fixture
def cal(tmp_path) -> HolidayCalendar:
    """The package only (no shipped or operator file)."""
    return HolidayCalendar.load(tmp_path, shipped=None)


def test_2026_national_day_and_mid_autumn_are_separate_periods(cal):
    # chinese_calendar 1.11: 中秋 25–27 Sept, 国庆 1–7 Oct 2026, make-up days 20 Sept, 10 Oct
    nd = cal.period_for("national-day", 2026)
    assert (nd.start, nd.end, nd.days) == (date(2026, 10, 1), date(2026, 10, 7), 7)
    assert nd.kinds == ("national-day",)
    assert nd.makeup == (date(2026, 9, 20), date(2026, 10, 10))
    ma = cal.period_for("mid-autumn", 2026)
    assert (ma.start, ma.end) == (date(2026, 9, 25), date(2026, 9, 27))
    assert ma.makeup == ()
    assert not cal.is_workday(date(2026, 10, 7))
    assert cal.is_workday(date(2026, 10, 8))
    assert cal.is_workday(date(2026, 10, 10))          # a Saturday worked in exchange
    assert cal.is_workday(date(2026, 9, 20))           # a Sunday worked in exchange
    assert cal.period_at(date(2026, 9, 28)) is None    # a workday between the two


def test_combined_national_day_and_mid_autumn_2025(cal):
    p = cal.period_for("national-day", 2025)
    assert (p.start, p.end, p.days) == (date(2025, 10, 1), date(2025, 10, 8), 8)
    assert p.kinds == ("national-day", "mid-autumn")
    assert cal.period_for("mid-autumn", 2025) == p
    assert p.makeup == (date(2025, 9, 28), date(2025, 10, 11))
    assert p.day_number(date(2025, 10, 6)) == 6 and p.day_number(date(2025, 10, 9)) is None
    assert p.label == "国庆节·中秋节 2025-10-01—10-08"


def test_combined_2023_starts_with_mid_autumn(cal):
    p = cal.period_for("mid-autumn", 2023)
    assert (p.start, p.end) == (date(2023, 9, 29), date(2023, 10, 6))
    assert set(p.kinds) == {"national-day", "mid-autumn"}


def test_previous_holiday_of_the_same_kind(cal):
    nd26 = cal.period_for("national-day", 2026)
    prev = cal.previous("national-day", nd26.start)
    assert (prev.start, prev.end) == (date(2025, 10, 1), date(2025, 10, 8))
    # the 2026 mid-autumn period is not a National Day period
    assert cal.previous("mid-autumn", nd26.end) == cal.period_for("mid-autumn", 2026)
    assert cal.previous("mid-autumn", date(2026, 9, 25)).start == date(2025, 10, 1)


def test_other_2026_periods(cal):
    got = {(p.kind, p.start.isoformat(), p.end.isoformat()) for p in package_periods(2026)}
    assert ("spring-festival", "2026-02-15", "2026-02-23") in got
    assert ("labour-day", "2026-05-01", "2026-05-05") in got
    assert ("new-year", "2026-01-01", "2026-01-03") in got


def test_years_after_the_package_get_provisional_periods_from_the_rules(cal):
    # 2027 is beyond chinese_calendar: derived from the statutory rules, marked provisional
    assert package_periods(2027) == ()
    nd = cal.period_for("national-day", 2027)
    assert nd.provisional and nd.source == DERIVED_SOURCE and nd.makeup == ()
    assert nd.start == date(2027, 10, 1) and "暂定" in nd.note
    sf = cal.period_for("spring-festival", 2027)
    assert sf.start == date(2027, 2, 5)                   # 除夕 of 丁未 (初一 is 6 Feb 2027)
    assert picker_label(sf).endswith("(暂定)")
    with pytest.raises(HolidayError, match="no holiday data for 2150"):
        cal.period_for("national-day", 2150)


def test_hand_configured_2027_period_from_the_state_dir(tmp_path):
    (tmp_path / "holidays.toml").write_text(
        '[[period]]\nkind = ["national-day", "mid-autumn"]\nstart = "2027-10-01"\n'
        'end = "2027-10-07"\nmakeup = ["2027-09-26", "2027-10-09"]\nname = "国庆节"\n',
        encoding="utf-8")
    cal = HolidayCalendar.load(tmp_path, shipped=None)
    p = cal.period_for("national-day", 2027)
    assert (p.start, p.end, p.days) == (date(2027, 10, 1), date(2027, 10, 7), 7)
    assert p.source == "holidays.toml" and p.kinds == ("national-day", "mid-autumn")
    assert not cal.is_workday(date(2027, 10, 4))        # a Monday off
    assert cal.is_workday(date(2027, 9, 26))            # a Sunday worked
    assert cal.is_workday(date(2027, 10, 8))            # an ordinary Friday
    assert not cal.is_workday(date(2027, 10, 16))       # an ordinary Saturday
    # arithmetic across the package/manual boundary
    assert cal.previous("national-day", p.start).start == date(2026, 10, 1)
    assert cal.previous("mid-autumn", p.start).start == date(2026, 9, 25)
    assert cal.period_at(date(2027, 10, 7)) == p


def test_state_dir_file_overrides_the_shipped_file(tmp_path):
    shipped = tmp_path / "shipped.json"
    shipped.write_text(json.dumps({"periods": [
        {"kind": "national-day", "start": "2027-10-01", "end": "2027-10-07",
         "provisional": True}]}), encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    (state / "holidays.json").write_text(json.dumps({"periods": [
        {"kind": "national-day", "start": "2027-10-01", "end": "2027-10-08"}]}),
        encoding="utf-8")
    p = HolidayCalendar.load(state, shipped=shipped).period_for("national-day", 2027)
    assert p.end == date(2027, 10, 8) and not p.provisional
    only_shipped = HolidayCalendar.load(tmp_path / "nowhere", shipped=shipped)
    assert only_shipped.period_for("national-day", 2027).provisional


def test_manual_period_replaces_an_overlapping_package_period(tmp_path):
    (tmp_path / "holidays.json").write_text(json.dumps({"periods": [
        {"kind": "national-day", "start": "2026-10-01", "end": "2026-10-08", "name": "改"}]}),
        encoding="utf-8")
    cal = HolidayCalendar.load(tmp_path, shipped=None)
    ps = [p for p in cal.periods(2026) if "national-day" in p.kinds]
    assert len(ps) == 1 and ps[0].end == date(2026, 10, 8) and ps[0].name == "改"


@pytest.mark.parametrize("entry, message", [
    ({"kind": "golden-week", "start": "2027-10-01", "end": "2027-10-07"}, "kind must be"),
    ({"kind": "national-day", "start": "2027-10-07", "end": "2027-10-01"}, "end must be"),
    ({"kind": "national-day", "start": "1 Oct", "end": "2027-10-07"}, "not a YYYY-MM-DD"),
])
def test_bad_manual_entries_are_refused_with_a_reason(entry, message):
    with pytest.raises(HolidayError, match=message):
        parse_manual({"periods": [entry]}, "x.json")


def test_shipped_file_is_valid_and_marked_provisional():
    periods = load_manual_file(SHIPPED_FILE)
    assert periods and all(p.provisional for p in periods if p.start.year >= 2027)


def test_period_picker_values_round_trip(cal):
    periods, current = period_choices(cal, date(2026, 11, 23))
    assert current == cal.period_for("national-day", 2026)    # the latest that ended
    assert periods[0].start >= periods[-1].start               # newest first
    assert period_from_value(cal, period_value(current)) == current
    with pytest.raises(HolidayError):
        period_from_value(cal, "national-day|2026-10-02|2026-10-07")
    during, cur = period_choices(cal, date(2026, 10, 3))
    assert cur.start == date(2026, 10, 1)


def test_period_dict_for_reports():
    p = HolidayPeriod(date(2025, 10, 1), date(2025, 10, 8), ("national-day", "mid-autumn"))
    d = p.to_dict()
    assert d["name"] == "国庆节·中秋节" and d["days"] == 8 and d["from"] == "2025-10-01"


# -- derived periods (statutory rules + lunar calendar) ----------------------------------------
LUNAR_KINDS = {"spring-festival": "Spring Festival", "dragon-boat": "Dragon Boat Festival",
               "mid-autumn": "Mid-autumn Festival", "qingming": "Tomb-sweeping Day"}


@pytest.mark.parametrize("year", range(2010, 2027))
def test_derived_lunar_and_solar_term_days_are_the_official_holidays(year):
    """The festival day of each lunar (and solar-term) holiday, as derived, is that
    holiday's day off in chinese_calendar (the official notices) for every year it has."""
    import chinese_calendar

    anchors = {"spring-festival": statutory_days("spring-festival", year)[1],    # 初一
               "dragon-boat": statutory_days("dragon-boat", year)[0],
               "mid-autumn": statutory_days("mid-autumn", year)[0],
               "qingming": statutory_days("qingming", year)[0]}
    official = package_periods(year)
    for kind, day in anchors.items():
        on, name = chinese_calendar.get_holiday_detail(day)
        period = next(p for p in official if p.contains(day))     # a day off …
        # … of that holiday (中秋 on 1 October 2020: the package names all 8 days 国庆)
        assert on and (kind in period.kinds or day == date(year, 10, 1)), (kind, day, period)
        # named so, unless it fell on a weekend (unnamed) or on another festival's day
        assert name in (LUNAR_KINDS[kind], None) or len(period.kinds) > 1 or \
            day == date(year, 10, 1), (kind, day, name)


@pytest.mark.parametrize("year", (2025, 2026))
def test_derived_periods_against_the_official_2025_and_2026(year):
    """Under the rules in force since 2025 every derived statutory day is an official
    holiday of its kind, and each derived period lies on the official one of its kind."""
    import chinese_calendar

    official = {k: p for p in package_periods(year) for k in p.kinds}
    for kind in ("new-year", "spring-festival", "qingming", "labour-day", "dragon-boat",
                 "mid-autumn", "national-day"):
        for day in statutory_days(kind, year):
            on, name = chinese_calendar.get_holiday_detail(day)
            assert on and name, (kind, day)
        derived = next(p for p in derived_periods(year) if kind in p.kinds)
        assert derived.provisional and derived.makeup == ()
        o = official[kind]
        assert all(o.contains(d) for d in statutory_days(kind, year)), (kind, o)
        assert derived.start <= o.end and o.start <= derived.end, (kind, derived, o)
    # where the official period is the statutory days and their weekend, they are the same
    d = {k: p for p in derived_periods(year) for k in p.kinds}
    same = {2025: ("spring-festival", "qingming", "dragon-boat", "national-day"),
            2026: ("qingming", "dragon-boat", "mid-autumn")}[year]
    for kind in same:
        assert d[kind].start == official[kind].start, kind
    for kind in ("dragon-boat", "mid-autumn"):
        if kind in same:     # 端午/中秋 start on the lunar day itself
            assert d[kind].start == statutory_days(kind, year)[0]
    assert d["spring-festival"].start <= statutory_days("spring-festival", year)[0]


def test_derived_rules_weekends_and_combined_periods():
    p27 = {k: p for p in derived_periods(2027) for k in p.kinds}
    assert (p27["new-year"].start, p27["new-year"].end) == (date(2027, 1, 1), date(2027, 1, 3))
    # 除夕 Fri 5 Feb to 初三 Mon 8 Feb 2027; Sat and Sun are owed as weekdays: to Wed 10 Feb
    assert (p27["spring-festival"].start, p27["spring-festival"].end) == (
        date(2027, 2, 5), date(2027, 2, 10))
    assert p27["qingming"].start == date(2027, 4, 3)      # 清明 Mon 5 Apr, with its weekend
    # 2028: 中秋 falls on 3 October, so the two are one combined period
    p28 = [p for p in derived_periods(2028) if "national-day" in p.kinds][0]
    assert p28.kinds == ("national-day", "mid-autumn") and p28.contains(date(2028, 10, 3))


def test_a_loaded_official_period_wins_over_the_derived_one(tmp_path):
    (tmp_path / "holidays.json").write_text(json.dumps({"periods": [
        {"kind": "spring-festival", "start": "2027-02-06", "end": "2027-02-14",
         "makeup": ["2027-02-20"], "name": "春节"}]}), encoding="utf-8")
    cal = HolidayCalendar.load(tmp_path, shipped=None)
    sf = [p for p in cal.periods(2027) if "spring-festival" in p.kinds]
    assert len(sf) == 1 and not sf[0].provisional and sf[0].makeup == (date(2027, 2, 20),)
    assert cal.is_workday(date(2027, 2, 20)) and not cal.is_workday(date(2027, 2, 12))
    assert not HolidayCalendar.load(None, shipped=None).is_workday(date(2027, 2, 9))


def test_the_holiday_picker_is_never_empty_in_december_2026(cal):
    up = upcoming_periods(cal, date(2026, 12, 4))
    kinds = [p.kind for p in up]
    assert kinds[:2] == ["new-year", "spring-festival"]
    assert all(p.provisional for p in up) and all(p.start.year == 2027 for p in up)
    # far from any holiday, the next ones are still offered
    assert len(upcoming_periods(cal, date(2026, 10, 8), ahead_days=10)) == 2
    assert upcoming_periods(cal, date(2026, 10, 3))[0].kind == "national-day"   # under way
