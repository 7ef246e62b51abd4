"""The holiday reach panel's data: the reach report of a holiday period (``period_report``)
and its two charts as plain plotly figure dicts (``reach_figures``): reads per day, and
cumulative reads against the previous year's holiday and the reference campaign.
"""
from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Any

import redis

from dashboard.comms.holidays import HolidayCalendar, period_from_value
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
    bars = [{"type": "bar", "name": f"{year}{name}", "x": x, "y": [d["reads"] for d in days],
             "marker": {"color": COLOUR},
             "customdata": [d["posts"] for d in days],
             "hovertemplate": "%{x}<br>阅读 %{y:,}<br>发布 %{customdata} 条<extra></extra>"}]
    prev = rep.get("previous")
    cum = [{"type": "scatter", "mode": "lines+markers", "name": f"{year}{name}",
            "x": list(range(1, len(days) + 1)), "y": cumulative(days),
            "line": {"color": COLOUR, "width": 3}}]
    if prev:
        pname = plotly_text(f"{prev['from'][:4]}{(prev.get('holiday') or {}).get('name', '')}")
        pdays = prev["reads_per_day"]
        bars.append({"type": "bar", "name": pname, "x": x[:len(pdays)],
                     "y": [d["reads"] for d in pdays[:len(x)]],
                     "marker": {"color": PREVIOUS_COLOUR}})
        cum.append({"type": "scatter", "mode": "lines+markers", "name": pname,
                    "x": list(range(1, len(pdays) + 1)), "y": cumulative(pdays),
                    "line": {"color": PREVIOUS_COLOUR, "width": 2, "dash": "dash"}})
    ref = rep.get("reference")
    n = max(len(days), len((prev or {}).get("reads_per_day", [])),
            int((ref or {}).get("days", 0)))
    if ref:
        label = plotly_text(ref["label"]).replace("%", "％")   # a "%{…}" would be a template
        cum.append({"type": "scatter", "mode": "lines", "name": f"{label}（总量）",
                    "x": [1, max(n, 2)], "y": [ref["reads"], ref["reads"]],
                    "line": {"color": REFERENCE_COLOUR, "width": 2, "dash": "dot"},
                    "hovertemplate": f"{label}总阅读 {ref['reads']:,}<extra></extra>"})
    daily = {"data": bars, "layout": {**base_layout, "barmode": "group",
                                      "title": {"text": "每日阅读数（按发布日）", "x": 0.02}}}
    cumul = {"data": cum, "layout": {**base_layout,
                                     "title": {"text": "累计阅读数对比", "x": 0.02},
                                     "xaxis": {"dtick": 1, "tickprefix": "第",
                                               "ticksuffix": "天"}}}
    return daily, cumul
