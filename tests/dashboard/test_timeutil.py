"""dashboard.timeutil.parse_time: the one reader of written times (API parameters, the audit
export's since/until, the reach import, the comms page's times)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.timeutil import SHANGHAI, parse_time

UTC8 = timezone(timedelta(hours=8))
EIGHT_AM = datetime(2026, 10, 1, 8, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize("text", [
    "2026-10-01T08:00:00+08:00", "2026-10-01T00:00:00Z", "2026-10-01 08:00", "2026-10-01T08:00",
    "2026-10-01 08:00:00", "2026/10/01 08:00", "2026/10/1 8:00", "2026年10月01日 08:00",
    "2026年10月1日08:00", "Thu Oct 01 08:00:00 +0800 2026", "２０２６-１０-０１ ０８:００",
    "  2026-10-01 08:00\t",
])
def test_every_written_form_is_read(text):
    assert parse_time(text) == EIGHT_AM


def test_a_time_without_offset_is_read_in_the_given_zone_and_an_offset_is_kept():
    assert parse_time("2026-10-01 08:00", ZoneInfo("UTC")) == \
        datetime(2026, 10, 1, 8, tzinfo=timezone.utc)
    weibo = parse_time("Thu Oct 01 08:00:00 +0800 2026", ZoneInfo("UTC"))
    assert weibo.utcoffset() == timedelta(hours=8)
    assert parse_time("2026-10-01T08:00-05:00").utcoffset() == timedelta(hours=-5)
    assert parse_time("2026-10-01 08:00").tzinfo is SHANGHAI


@pytest.mark.parametrize("text", ["2026-10-01", "2026/10/01", "20261001", "2026-10-1"])
def test_a_date_alone_is_its_start_or_with_end_of_day_the_next_start(text):
    assert parse_time(text) == datetime(2026, 10, 1, tzinfo=UTC8)
    assert parse_time(text, end_of_day=True) == datetime(2026, 10, 2, tzinfo=UTC8)


def test_end_of_day_leaves_a_time_of_day_as_written():
    assert parse_time("2026-10-01 08:00", end_of_day=True) == EIGHT_AM
    assert parse_time("2026-10-01T00:00:00", end_of_day=True) == datetime(2026, 10, 1,
                                                                          tzinfo=UTC8)


@pytest.mark.parametrize("text", [
    "", "yesterday", "1700000000", "2026-02-30", "2026-13-01 08:00", "Thu Feb 30 08:00:00 +0800 2026",
    "Thu Oct 01 08:00:00 +9900 2026", "20260131_z", "2026-10-01T08:00:00 08:00",
])
def test_anything_else_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_time(text)


def test_no_day_after_the_last_one_is_a_value_error_not_an_overflow():
    with pytest.raises(ValueError):
        parse_time("9999-12-31", end_of_day=True)
