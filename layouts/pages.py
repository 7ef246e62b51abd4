"""Page layouts: pure functions of plain values (settings values, the user's permissions,
the holiday calendar, today's date) that the caller reads (app.py's ``page_inputs``); no
I/O here."""
from __future__ import annotations

from datetime import date
from typing import Iterable

from dash import dcc, html

from dashboard.comms.holidays import HolidayCalendar, period_choices, period_value
from dashboard.live.wall import legend_items

from . import comms as comms_layout
from . import dispatch as dispatch_layout
from . import feeds_page
from . import wall as wall_layout
from .shell import nav, with_account


def home() -> html.Div:
    return html.Div(className="lk-page", children=[
        nav("/"), html.H1("路况 Lukuang"),
        html.P("Real-time road conditions for the command centre. Choose a page above.")])


def login(error: str = "", next: str = "/", csrf: str = "", **_: str) -> html.Div:
    """A plain form posting to the server's /login route (no script needed); ``csrf`` is the
    browser's token, checked when the browser sends neither Origin nor Referer."""
    return html.Div(className="lk-page lk-login", children=[
        html.H1("路况 Lukuang · 登录"),
        html.P(error, className="lk-error") if error else None,
        html.Form(method="POST", action="/login", children=[
            html.Label(["用户名 User", dcc.Input(name="username", type="text",
                                               autoComplete="username")]),
            html.Label(["密码 Password", dcc.Input(name="password", type="password",
                                                 autoComplete="current-password")]),
            dcc.Input(name="next", type="hidden", value=next if next.startswith("/") else "/"),
            dcc.Input(name="csrf", type="hidden", value=csrf),
            html.Button("登录 Log in", type="submit"),
        ]),
    ])


def signed_in(page: html.Div, user_name: str, csrf: str) -> html.Div:
    """A desk page with "logged in as NAME · 退出" (a logout form) in its nav bar."""
    return with_account(page, user_name, csrf)


def login_needed() -> html.Div:
    return html.Div(className="lk-page", children=[
        nav(""), html.H1("请先登录 Please log in"),
        dcc.Location(id="lk-login-redirect", href="/login", refresh=True)])


def forbidden(role: str) -> html.Div:
    return html.Div(className="lk-page", children=[
        nav(""), html.H1("无权限 Not allowed"),
        html.P(f"Your role ({role}) cannot open this page.", className="lk-muted")])


def wall(refresh_s: float, city_name: str, tick_s: float | None = None,
         wall_map: str = "maplibre") -> html.Div:
    """The wall, asking for a new data version every ``tick_s`` seconds (else every
    ``refresh_s``); an unchanged answer costs one Redis GET. ``wall_map``: the map kind
    (settings.wall_map)."""
    tick = min(tick_s, refresh_s) if tick_s else refresh_s
    return wall_layout.layout(refresh_ms=max(250, int(tick * 1000)), city_name=city_name,
                              legend_items=legend_items(), wall_map=wall_map)


def dispatch(permissions: Iterable[str], tick_s: float = 5.0) -> html.Div:
    """The dispatch page for a user holding ``permissions``, asking for a new data version
    every ``tick_s`` seconds."""
    return dispatch_layout.layout(permissions, tick_ms=max(250, int(tick_s * 1000)))


def comms(calendar: HolidayCalendar, today: date, hashtags: str = "",
          city_name: str = "") -> html.Div:
    """The comms page; the reach panel offers ``calendar``'s periods around ``today`` (the
    city's day), the composer the city profile's ``hashtags``."""
    periods, current = period_choices(calendar, today)
    options = [{"value": period_value(p), "label": p.label + (" (暂定)" if p.provisional else "")}
               for p in periods]
    return comms_layout.layout(options, period_value(current) if current else None,
                               refresh_ms=30_000, hashtags=hashtags, city_name=city_name)


def feeds() -> html.Div:
    return feeds_page.layout()
