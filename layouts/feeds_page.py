"""/feeds: each upstream feed's health and its latest quarantined records (pure layouts)."""
from __future__ import annotations

from typing import Any

from dash import dcc, html

from . import ids
from .shell import nav

RAW_MAX_CHARS = 400


def _cell(value: Any, cls: str = "") -> html.Td:
    return html.Td("—" if value in (None, "") else str(value), className=cls or None)


def health_table(rows: list[dict[str, Any]]) -> html.Table | html.P:
    """One row per feed. ``rows`` come from callbacks.feeds_page.feed_rows (plain strings)."""
    if not rows:
        return html.P("暂无数据源上报 No feed has reported yet.", className="lk-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "数据源 feed", "状态 state", "最近成功 last success", "延迟 lag", "最近错误 last error",
        "接收 accepted", "重复 duplicates", "隔离 quarantined", "熔断 breaker")]))
    body = []
    for r in rows:
        body.append(html.Tr(className=f"lk-feed-row lk-feed-row-{r['state']}", children=[
            html.Td(r["name"], className="lk-feed-cell-name"),
            html.Td(html.Span(r["state_text"], className=f"lk-pill lk-pill-{r['state']}")),
            html.Td([html.Span(r["age"], className="lk-strong"), html.Br(),
                     html.Small(r["last_ok_hhmm"], className="lk-muted")]),
            _cell(r["lag"]),
            html.Td([html.Span(r["last_error"] or "—",
                               className="lk-error-text" if r["last_error"] else "lk-muted"),
                     html.Br() if r["last_error_at"] else None,
                     html.Small(r["last_error_at"], className="lk-muted")
                     if r["last_error_at"] else None]),
            _cell(r["accepted"], "lk-num"), _cell(r["duplicates"], "lk-num"),
            _cell(r["quarantined"], "lk-num"),
            html.Td(html.Span(r["breaker"] or "—",
                              className=f"lk-pill lk-pill-breaker-{r['breaker'] or 'none'}")),
        ]))
    return html.Table([head, html.Tbody(body)], className="lk-table")


def quarantine_list(groups: list[dict[str, Any]]) -> list:
    """Per feed, the newest quarantined records: when, reason, ref and raw text (plain)."""
    if not any(g["records"] for g in groups):
        return [html.P("没有被隔离的记录 Nothing quarantined.", className="lk-muted")]
    out = []
    clean = [g["feed"] for g in groups if not g["records"]]
    for g in groups:
        if not g["records"]:
            continue
        out.append(html.H3([g["feed"], html.Small(f" · newest {g['total']}",
                                                  className="lk-muted")]))
        out.append(html.Table(className="lk-table lk-quarantine", children=[
            html.Thead(html.Tr([html.Th("时间 at"), html.Th("原因 reason"),
                                html.Th("引用 ref"), html.Th("原始内容 raw (truncated)")])),
            html.Tbody([html.Tr([
                html.Td(rec["at"]), html.Td(rec["reason"], className="lk-error-text"),
                html.Td(rec["ref"] or "—"),
                html.Td(html.Pre(rec["raw"], className="lk-raw"))]) for rec in g["records"]]),
        ]))
    if clean:
        out.append(html.P(f"无隔离记录 nothing quarantined: {', '.join(clean)}",
                          className="lk-muted"))
    return out


def layout(refresh_ms: int = 10_000) -> html.Div:
    return html.Div(className="lk-page lk-feeds-page", children=[
        nav("/feeds"),
        html.H1("数据源 Feeds"),
        dcc.Interval(id=ids.FEEDS_TICK, interval=refresh_ms, n_intervals=0),
        html.P("", id=ids.FEEDS_STATUS, className="lk-muted"),
        html.Div(html.P("加载中 loading…", className="lk-muted"), id=ids.FEEDS_TABLE),
        html.H2("隔离记录 Quarantined records"),
        html.Div(id=ids.FEEDS_QUARANTINE),
    ])
