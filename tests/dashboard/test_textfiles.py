"""Reading exported text files: the CSV/TSV delimiter the hotline drop and the Weibo
export are read with."""
from __future__ import annotations

import pytest

from dashboard.textfiles import csv_delimiter


@pytest.mark.parametrize("text, expected", [
    ("工单号,来电时间,内容\n1,2,3", ","),
    ("工单号\t来电时间\t内容\n1\t2\t3", "\t"),
    ("微博ID\t阅读数\r\n1\t2", "\t"),
    ("a\tb\tc, d\n", "\t"),          # a comma inside one tab-separated header cell
    ("a,b\tc,d\n", ","),             # more commas than tabs
    ("a\tb,c\n1\t2", ","),           # as many of each: a comma
    ("id", ","),                     # one column, no newline
    ("", ","),
    ("a,b\nx\ty\tz\tw", ","),        # only the header line counts
])
def test_csv_delimiter_is_decided_by_the_header_line(text, expected):
    assert csv_delimiter(text) == expected
