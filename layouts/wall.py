"""The wall display (大屏): pure layout functions. No controls; everything is read from 5 m.

Sizes come from CSS (assets/wall.css: vw/vh/clamp) so one layout serves 1920x1080 and
3840x2160; plotly figures get a scale factor from the browser (``WALL_SCALE``).
"""
from __future__ import annotations

from typing import Any

from dash import dcc, html

from . import ids

# before the first refresh: a dark, empty panel (never a white flash or an empty axis)
PLACEHOLDER_FIGURE = {
    "data": [],
    "layout": {"paper_bgcolor": "#0a1220", "plot_bgcolor": "#0a1220",
               "xaxis": {"visible": False}, "yaxis": {"visible": False},
               "margin": {"l": 0, "r": 0, "t": 0, "b": 0}},
}
MAP_CONFIG = {"displayModeBar": False, "scrollZoom": True, "doubleClick": False,
              "displaylogo": False, "responsive": True}
CHART_CONFIG = {"displayModeBar": False, "staticPlot": True, "responsive": True}


def legend(items: list[dict[str, str]]) -> html.Div:
    """The map legend: colour swatches with Chinese and English labels."""
    return html.Div(className="lk-legend", children=[
        html.Div(className="lk-legend-item", children=[
            html.Span(className=f"lk-swatch lk-swatch-{it['shape']}",
                      style={"background": it["colour"]}),
            html.Span(it["label"], className="lk-legend-zh"),
            html.Span(it["label_en"], className="lk-legend-en")])
        for it in items])


def _tile(label: str, label_en: str, value: str, sub: Any = None, unit: str = "",
          muted: bool = False, title: str = "", kind: str = "") -> html.Div:
    return html.Div(className="lk-kpi" + (" lk-kpi-muted" if muted else "")
                    + (f" lk-kpi-{kind}" if kind else ""), title=title or None, children=[
        html.Div([html.Span(label, className="lk-kpi-label"),
                  html.Span(label_en, className="lk-kpi-label-en")], className="lk-kpi-head"),
        html.Div([html.Span(value, className="lk-kpi-value"),
                  html.Span(unit, className="lk-kpi-unit") if unit else None],
                 className="lk-kpi-main"),
        html.Div(sub, className="lk-kpi-sub") if sub is not None else None,
    ])


def kpi_tiles(k: dict[str, Any] | None) -> list[html.Div]:
    """Six tiles. ``None`` values are shown as "—" (never a made-up number)."""
    k = k or {}

    def num(key: str, fmt: str = "{:d}") -> str:
        v = k.get(key)
        return "—" if v is None else fmt.format(v)
    reach_n, reach_unit = wan(k.get("reach_today"))
    unack_note = ("未在调度中确认的事故。 Open incidents nobody has acknowledged in dispatch yet "
                  "(the same count as the dispatch page).")
    return [
        _tile("活动事故", "incidents", num("incidents"), kind="incident",
              sub=[html.Span(num("unacknowledged"), className="lk-kpi-sub-value"),
                   " 未确认 unacked ", html.Span("ⓘ", className="lk-info")],
              title=unack_note),
        _tile("拥堵里程", "congested", num("congested_km", "{:.1f}"), unit="km",
              kind="congestion", sub="拥堵 + 严重拥堵 levels 3–4"),
        _tile("施工", "roadworks", num("roadworks"), kind="roadworks", sub="进行中 active"),
        _tile("近1小时报告", "reports/h", num("reports_hour"), kind="reports",
              sub="群众报告 citizen reports"),
        _tile("今日播报", "bulletins today", num("bulletins_today"),
              muted=k.get("bulletins_today") is None,
              sub="今日暂无 none yet today" if k.get("bulletins_today") is None else None),
        _tile("今日触达", "reach today", reach_n, unit=reach_unit,
              muted=k.get("reach_today") is None,
              sub="今日暂无 none yet today" if k.get("reach_today") is None else None),
    ]


def wan(value: int | None) -> tuple[str, str]:
    """A count as Chinese readers write large figures, as (number, unit): ("8,312", ""),
    ("43.1", "万"), ("3.1", "亿"); ("—", "") for None. The unit is set small, like "km"."""
    if value is None:
        return "—", ""
    if value >= 100_000_000:
        return f"{value / 100_000_000:.1f}", "亿"
    if value >= 10_000:
        return f"{value / 10_000:.1f}", "万"
    return f"{value:,}", ""


def ticker(items: list[dict[str, str]]) -> list[html.Li]:
    """Newest reports first. Every string is a text child: Dash never renders it as HTML."""
    if not items:
        return [html.Li("暂无群众报告 no recent reports", className="lk-ticker-empty")]
    out = []
    for it in items:
        count = int(it.get("count") or 1)
        out.append(html.Li(className="lk-ticker-item", children=[
            html.Span(it["time"], className="lk-ticker-time"),
            html.Span(it["place"], className="lk-ticker-place") if it.get("place") else None,
            html.Span(it["text"] or "（内容已隐藏 text withheld）", className="lk-ticker-text"),
            html.Span(f"×{count}", className="lk-ticker-count") if count > 1 else None,
        ]))
    return out


def freshness_strip(fresh: list[dict[str, Any]], age_text) -> list[html.Span]:
    """Each feed's age; late feeds marked. ``age_text`` formats seconds."""
    if not fresh:
        return [html.Span("暂无数据源 no feeds reporting yet", className="lk-feed lk-feed-stale")]
    out = [html.Span("数据源 feeds", className="lk-feeds-label")]
    for f in fresh:
        state = "stale" if f["stale"] else ("warn" if f.get("error") else "ok")
        out.append(html.Span(className=f"lk-feed lk-feed-{state}", children=[
            html.Span(className="lk-feed-dot"),
            html.Span(f["name"], className="lk-feed-name"),
            html.Span(age_text(f["age_s"]), className="lk-feed-age")]))
    return out


def map_panel(wall_map: str = "maplibre") -> Any:
    """The map: an empty container that the browser fills with a MapLibre map
    (assets/wall_map.js, fed through the ``WALL_MAP_DATA`` store), or the plotly figure."""
    if wall_map == "plotly":
        return dcc.Graph(id=ids.WALL_MAP, figure=PLACEHOLDER_FIGURE, config=MAP_CONFIG,
                         className="lk-map-graph", style={"height": "100%", "width": "100%"})
    return html.Div(id=ids.WALL_MAP, className="lk-map-gl")


def layout(refresh_ms: int = 5000, slow_ms: int = 10_000, city_name: str = "",
           legend_items: list[dict[str, str]] | None = None,
           wall_map: str = "maplibre") -> html.Div:
    """The whole wall. Data arrives through the refresh callbacks."""
    return html.Div(id=ids.WALL_ROOT, className="lk-wall", children=[
        dcc.Location(id=ids.WALL_URL, refresh=False),
        dcc.Interval(id=ids.WALL_TICK, interval=refresh_ms, n_intervals=0),
        dcc.Interval(id=ids.WALL_SLOW_TICK, interval=slow_ms, n_intervals=0),
        dcc.Store(id=ids.WALL_VERSION, data=None),
        dcc.Store(id=ids.WALL_SCALE, data=None),
        dcc.Store(id=ids.WALL_MAP_DATA, data=None),
        dcc.Store(id=ids.WALL_MAP_APPLIED, data=None),
        html.Header(className="lk-wall-header", children=[
            html.Div(className="lk-wall-title", children=[
                html.Span("路况", className="lk-wall-brand"),
                html.Span(f"{city_name}实时路况" if city_name else "实时路况",
                          className="lk-wall-city"),
                html.Span("", id=ids.WALL_VIEW_NAME, className="lk-wall-view")]),
            html.Div(className="lk-banners", children=[
                html.Div("", id=ids.WALL_CONN_BANNER, className="lk-banner lk-hidden"),
                html.Div("", id=ids.WALL_STALE_BANNER, className="lk-banner lk-hidden")]),
            html.Div("", id=ids.WALL_CLOCK, className="lk-wall-clock"),
        ]),
        html.Main(className="lk-wall-main", children=[
            html.Section(className="lk-wall-map", children=[
                html.Div(className="lk-map-frame", children=[map_panel(wall_map)]),
                legend(legend_items or []),
            ]),
            html.Aside(className="lk-wall-side", children=[
                html.Div(kpi_tiles(None), id=ids.WALL_KPIS, className="lk-kpis"),
                html.Div(className="lk-chart", children=[
                    dcc.Graph(id=ids.WALL_CIDX, figure=PLACEHOLDER_FIGURE, config=CHART_CONFIG,
                              style={"height": "100%", "width": "100%"})]),
                html.Div(className="lk-chart", children=[
                    dcc.Graph(id=ids.WALL_HOURLY, figure=PLACEHOLDER_FIGURE,
                              config=CHART_CONFIG, style={"height": "100%", "width": "100%"})]),
            ]),
        ]),
        html.Footer(className="lk-wall-footer", children=[
            html.Div(className="lk-ticker", children=[
                html.Span(["最新报告", html.Br(), html.Small("latest reports")],
                          className="lk-ticker-label"),
                html.Ul(ticker([]), id=ids.WALL_TICKER, className="lk-ticker-list")]),
            html.Div(freshness_strip([], str), id=ids.WALL_FEEDS, className="lk-freshness"),
        ]),
    ])
