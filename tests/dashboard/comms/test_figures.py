"""comms.figures: the reach report of a holiday period and its figures as plotly dicts."""
from __future__ import annotations

import json
import time

import pytest

from dashboard.comms import figures
from dashboard.comms.holidays import HolidayError
from dashboard.comms.reach import ReachStore

pytestmark = pytest.mark.topologies("single", "cluster")

PERIOD = "national-day|2026-10-01|2026-10-07"


def day(date: str, reads: int, posts: int = 1) -> dict:
    return {"date": date, "reads": reads, "posts": posts}


def test_figures_of_a_report_with_previous_and_reference():
    rep = {"from": "2026-10-01", "holiday": {"name": "国庆"},
           "reads_per_day": [day("2026-10-01", 1000), day("2026-10-02", 0, 0),
                             day("2026-10-03", 25000, 2)],
           "previous": {"from": "2025-10-01", "holiday": {"name": "国庆"},
                        "reads_per_day": [day("2025-10-01", 0, 0), day("2025-10-02", 500)]},
           "reference": {"label": "2014年黄金周", "reads": 90000, "days": 7}}
    daily, cumul = figures.reach_figures(rep)
    json.dumps([daily, cumul], allow_nan=False)                 # plain JSON, no plotly objects
    bars, prev_bars = daily["data"]
    assert bars["name"] == "2026国庆" and bars["y"] == [1000, 0, 25000]
    assert bars["x"] == ["第1天 10-01", "第2天 10-02", "第3天 10-03"]
    assert bars["customdata"] == [1, 0, 2]
    assert prev_bars["name"] == "2025国庆" and prev_bars["y"] == [0, 500]
    assert prev_bars["x"] == bars["x"][:2]
    assert daily["layout"]["barmode"] == "group"
    this, prev, ref = cumul["data"]
    assert this["y"] == [1000, 1000, 26000] and this["x"] == [1, 2, 3]
    assert prev["y"] == [0, 500] and prev["line"]["dash"] == "dash"
    assert ref["x"] == [1, 7] and ref["y"] == [90000, 90000]
    assert "2014年黄金周总阅读 90,000" in ref["hovertemplate"]
    assert cumul["layout"]["xaxis"]["tickprefix"] == "第"


def test_figures_of_a_report_alone():
    rep = {"from": "2026-05-01", "reads_per_day": [day("2026-05-01", 7)]}
    daily, cumul = figures.reach_figures(rep)
    assert [t["name"] for t in daily["data"]] == ["2026本期"]
    assert len(cumul["data"]) == 1 and cumul["data"][0]["y"] == [7]
    assert figures.empty_figure() == {"data": [], "layout": {"title": {"text": "无数据"}}}


def test_period_report_reads_the_imported_figures(r, keys, settings):
    ReachStore(r, keys).import_file(
        ("微博ID,发布时间,微博内容,阅读数,转发数,评论数,点赞数\n"
         "1,2026-10-01 08:00,a,1000,1,1,1\n2,2026-10-03 08:00,b,2.5万,2,2,2\n"
         "3,2025-10-02 08:00,c,500,0,0,0\n").encode(), at=time.time())
    rep = figures.period_report(r, keys, settings.state_dir, PERIOD)
    assert (rep["from"], rep["to"], rep["reads"]) == ("2026-10-01", "2026-10-07", 26000)
    assert [d["reads"] for d in rep["previous"]["reads_per_day"]][:2] == [0, 500]
    with pytest.raises(HolidayError):
        figures.period_report(r, keys, settings.state_dir, "national-day|2026-10-02|2026-10-07")
    with pytest.raises(HolidayError):
        figures.period_report(r, keys, settings.state_dir, None)
