"""The holiday reach panel's data: the reach report of a holiday period (``period_report``)
and its two charts as plain plotly figure dicts (``reach_figures``): reads per day, and
cumulative reads against the previous year's holiday and the reference campaign; one post's
reads over time from its snapshots (``post_figure``). Counts are written with 万/亿
(``comms.numbers``) on the axes and in the hover text, never plotly's "k"/"M".
"""
from __future__ import annotations

from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

import redis

from dashboard.comms.holidays import HolidayCalendar, period_from_value
from dashboard.comms.numbers import axis_ticks, hover_texts, wan
from dashboard.comms.reach import ReachStore, cumulative, report
from dashboard.masking import plotly_text
from dashboard.storage.keys import Keys

FONT = {"family": "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif",
        "size": 13}
COLOUR, PREVIOUS_COLOUR, REFERENCE_COLOUR = "#1f5fbf", "#9fb6d9", "#b07d00"


def empty_figure() -> dict[str, Any]:
    """The chart shown when there is no report."""
    return {"data": [], "layout": {"title": {"text": "无数据"}}}


def period_report(r: redis.Redis, keys: Keys, state_dir: Path | str | None,
                  period_value: str | None, tz: tzinfo | None = None) -> dict[str, Any]:
    """The reach report of the holiday period a picker value names (``reach.report``),
    with the previous year's and the reference, in local days of ``tz`` (the city's
    zone). HolidayError for an unknown period."""
    cal = HolidayCalendar.load(state_dir)
    period = period_from_value(cal, period_value or "")
    return report(ReachStore(r, keys, tz), period.start, period.end, period=period,
                  calendar=cal)


def period_posts(r: redis.Redis, keys: Keys, rep: dict[str, Any],
                 tz: tzinfo | None = None) -> list[dict[str, Any]]:
    """The per-post table rows (``reach.post_rows``) of a report's period."""
    return ReachStore(r, keys, tz).period_posts(date.fromisoformat(rep["from"]),
                                                date.fromisoformat(rep["to"]))


def reach_figures(rep: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(reads per day bars, cumulative reads vs previous holiday and reference) of a
    reach report, as plain plotly dicts."""
    days = rep["reads_per_day"]
    name = plotly_text((rep.get("holiday") or {}).get("name", "本期"))
    year = rep["from"][:4]
    x = [f"第{i + 1}天 {d['date'][5:]}" for i, d in enumerate(days)]
    base_layout = {"margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "font": dict(FONT),
                   "legend": {"orientation": "h", "y": -0.2}, "paper_bgcolor": "#fff",
                   "plot_bgcolor": "#fff", "yaxis": {"title": {"text": "阅读数"},
                                                     "gridcolor": "#e6ebf2",
                                                     "rangemode": "tozero"}}
    reads = [d["reads"] for d in days]
    bars = [{"type": "bar", "name": f"{year}{name}", "x": x, "y": reads,
             "marker": {"color": COLOUR},
             "customdata": [d["posts"] for d in days], "hovertext": hover_texts(reads),
             "hovertemplate": "%{x}<br>阅读 %{hovertext}<br>发布 %{customdata} 条"
                              "<extra></extra>"}]
    prev = rep.get("previous")
    cum = [_cumulative_trace(f"{year}{name}", cumulative(days),
                             {"color": COLOUR, "width": 3})]
    if prev:
        pname = plotly_text(f"{prev['from'][:4]}{(prev.get('holiday') or {}).get('name', '')}")
        pdays = prev["reads_per_day"]
        preads = [d["reads"] for d in pdays[:len(x)]]
        bars.append({"type": "bar", "name": pname, "x": x[:len(pdays)], "y": preads,
                     "marker": {"color": PREVIOUS_COLOUR}, "hovertext": hover_texts(preads),
                     "hovertemplate": "%{x}<br>阅读 %{hovertext}<extra>%{fullData.name}"
                                      "</extra>"})
        cum.append(_cumulative_trace(pname, cumulative(pdays),
                                     {"color": PREVIOUS_COLOUR, "width": 2, "dash": "dash"}))
    ref = rep.get("reference")
    n = max(len(days), len((prev or {}).get("reads_per_day", [])),
            int((ref or {}).get("days", 0)))
    if ref:
        label = plotly_text(ref["label"]).replace("%", "％")   # a "%{…}" would be a template
        cum.append({"type": "scatter", "mode": "lines", "name": f"{label}（总量）",
                    "x": [1, max(n, 2)], "y": [ref["reads"], ref["reads"]],
                    "line": {"color": REFERENCE_COLOUR, "width": 2, "dash": "dot"},
                    "hovertemplate": f"{label}总阅读 {wan(ref['reads'])}<extra></extra>"})
    daily = {"data": bars, "layout": {**base_layout, "barmode": "group",
                                      "yaxis": _count_axis(base_layout["yaxis"], bars),
                                      "title": {"text": "每日阅读数（按发布日）", "x": 0.02}}}
    cumul = {"data": cum, "layout": {**base_layout,
                                     "yaxis": _count_axis(base_layout["yaxis"], cum),
                                     "title": {"text": "累计阅读数对比", "x": 0.02},
                                     "xaxis": {"dtick": 1, "tickprefix": "第",
                                               "ticksuffix": "天"}}}
    return daily, cumul


def _cumulative_trace(name: str, values: list[int], line: dict[str, Any]) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines+markers", "name": name,
            "x": list(range(1, len(values) + 1)), "y": values, "line": line,
            "hovertext": hover_texts(values),
            "hovertemplate": "第%{x}天 累计阅读 %{hovertext}<extra>%{fullData.name}</extra>"}


def _count_axis(axis: dict[str, Any], traces: list[dict[str, Any]]) -> dict[str, Any]:
    """``axis`` with 万/亿 tick labels covering every trace's values."""
    top = max((v for t in traces for v in t.get("y", []) if isinstance(v, (int, float))),
              default=0)
    return {**axis, **axis_ticks(top)}


def post_figure(post: dict[str, Any] | None, series: list[tuple[float, int]],
                tz: tzinfo) -> dict[str, Any]:
    """One post's reads over time (its snapshots' reads, at their local times ``tz``) as
    a plain plotly dict; the title names the post by id and time, never by its text."""
    if not post:
        return {"data": [], "layout": {"title": {"text": "选择一条微博 choose a post",
                                                 "x": 0.02}, "font": dict(FONT),
                                       "xaxis": {"visible": False},
                                       "yaxis": {"visible": False}}}
    title = f"微博 {post['id']} · 发布于 {post.get('time', '')}"
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 44, "b": 40}, "font": dict(FONT),
        "paper_bgcolor": "#fff", "plot_bgcolor": "#fff", "showlegend": False,
        "title": {"text": plotly_text(title), "x": 0.02, "font": {"size": 14}},
        "xaxis": {"type": "date", "gridcolor": "#e6ebf2", "tickformat": "%m-%d %H:%M"},
        "yaxis": {"title": {"text": "阅读数"}, "gridcolor": "#e6ebf2", "rangemode": "tozero"}}
    if not series:
        layout["annotations"] = [{"text": "此条暂无阅读数快照 (no reads snapshot)",
                                  "showarrow": False, "xref": "paper", "yref": "paper",
                                  "x": 0.5, "y": 0.5}]
        layout["xaxis"]["visible"] = layout["yaxis"]["visible"] = False
        return {"data": [], "layout": layout}
    x = [datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M:%S") for at, _ in series]
    y = [reads for _, reads in series]
    layout["yaxis"].update(axis_ticks(max(y)))
    if len(series) == 1:      # one snapshot: an hour either side, not a one-second axis
        at = series[0][0]
        layout["xaxis"]["range"] = [datetime.fromtimestamp(at + d, tz).strftime(
            "%Y-%m-%d %H:%M:%S") for d in (-3600, 3600)]
    trace = {"type": "scatter", "mode": "lines+markers", "name": "阅读数", "x": x, "y": y,
             "line": {"color": COLOUR, "width": 2}, "hovertext": hover_texts(y),
             "hovertemplate": "%{x|%m-%d %H:%M}<br>阅读 %{hovertext}<extra></extra>"}
    return {"data": [trace], "layout": layout}
