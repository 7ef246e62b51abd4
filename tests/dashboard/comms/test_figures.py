"""comms.figures: the reach report of a holiday period and its figures as plotly dicts."""
from __future__ import annotations

import json
import re
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
    assert "2014年黄金周总阅读 9.0万" in ref["hovertemplate"]          # 万, never "90k"
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


def test_counts_are_written_with_wan_and_yi_on_axes_and_in_hover():
    """No plotly SI ("k", "M") anywhere: tick labels and hover text are ours (万/亿)."""
    rep = {"from": "2026-10-01", "holiday": {"name": "国庆"},
           "reads_per_day": [day("2026-10-01", 1_234_567), day("2026-10-02", 8_312)],
           "reference": {"label": "2014年黄金周", "reads": 2_065_899, "days": 7}}
    daily, cumul = figures.reach_figures(rep)
    bars = daily["data"][0]
    assert bars["hovertext"] == ["123.5万", "8,312"]
    assert "%{hovertext}" in bars["hovertemplate"] and "%{y" not in bars["hovertemplate"]
    ticks = daily["layout"]["yaxis"]
    assert ticks["tickmode"] == "array" and ticks["ticktext"][0] == "0"
    assert all(t.endswith("万") for t in ticks["ticktext"][1:])
    assert ticks["tickvals"][-1] >= 1_234_567 and len(ticks["tickvals"]) == len(
        ticks["ticktext"])
    cum_axis = cumul["layout"]["yaxis"]
    assert cum_axis["tickvals"][-1] >= 2_065_899          # the reference line is covered
    assert cumul["data"][0]["hovertext"] == ["123.5万", "124.3万"]
    text = json.dumps([daily, cumul], ensure_ascii=False)
    assert not re.search(r"\d(k|M|G)\b", text)


def test_one_posts_reads_over_time():
    from datetime import timezone

    post = {"id": "4179082571460369", "time": "2026-10-01 08:00"}
    fig = figures.post_figure(post, [(1_790_000_000.0, 1200), (1_790_003_600.0, 15_000)],
                              timezone.utc)
    (trace,) = fig["data"]
    assert trace["y"] == [1200, 15_000] and trace["hovertext"] == ["1,200", "1.5万"]
    assert trace["x"][0].startswith("2026-09-21")
    assert "4179082571460369" in fig["layout"]["title"]["text"]
    assert fig["layout"]["yaxis"]["ticktext"][-1].endswith("万")
    empty = figures.post_figure(post, [], timezone.utc)
    assert empty["data"] == [] and "no reads snapshot" in json.dumps(empty)
    assert figures.post_figure(None, [], timezone.utc)["data"] == []
