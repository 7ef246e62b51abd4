"""Page layouts (pure functions; no I/O at import time)."""
from __future__ import annotations

from dash import dcc, html

from .shell import nav, placeholder


def home() -> html.Div:
    return html.Div(className="lk-page", children=[
        nav("/"), html.H1("路况 Lukuang"),
        html.P("Real-time road conditions for the command centre. Choose a page above.")])


def login(error: str = "", next: str = "/", **_: str) -> html.Div:
    """A plain form posting to the server's /login route (no script needed)."""
    return html.Div(className="lk-page lk-login", children=[
        html.H1("路况 Lukuang · 登录"),
        html.P(error, className="lk-error") if error else None,
        html.Form(method="POST", action="/login", children=[
            html.Label(["用户名 User", dcc.Input(name="username", type="text",
                                               autoComplete="username")]),
            html.Label(["密码 Password", dcc.Input(name="password", type="password",
                                                 autoComplete="current-password")]),
            dcc.Input(name="next", type="hidden", value=next if next.startswith("/") else "/"),
            html.Button("登录 Log in", type="submit"),
        ]),
    ])


def login_needed() -> html.Div:
    return html.Div(className="lk-page", children=[
        nav(""), html.H1("请先登录 Please log in"),
        dcc.Location(id="lk-login-redirect", href="/login", refresh=True)])


def forbidden(role: str) -> html.Div:
    return html.Div(className="lk-page", children=[
        nav(""), html.H1("无权限 Not allowed"),
        html.P(f"Your role ({role}) cannot open this page.", className="lk-muted")])


def _settings():
    """The running app's settings (read at request time, never at import)."""
    from flask import current_app

    return current_app.config["LUKUANG"].settings


def wall(**_: str) -> html.Div:
    from dashboard.live.wall import legend_items

    from . import wall as wall_layout

    s = _settings()
    return wall_layout.layout(refresh_ms=int(s.refresh_s * 1000), city_name=s.city_name,
                              legend_items=legend_items())


def dispatch(**_: str) -> html.Div:
    from dashboard.auth import PERMISSIONS
    from dashboard.web.session import current_user

    from .dispatch import layout

    user = current_user()
    return layout({p for p in PERMISSIONS if user is not None and user.can(p)})


def comms(**_: str) -> html.Div:
    from datetime import datetime

    from dashboard.comms.holidays import HolidayCalendar, period_choices, period_value
    from dashboard.timeutil import SHANGHAI

    from . import comms as comms_layout

    s = _settings()
    periods, current = period_choices(HolidayCalendar.load(s.state_dir),
                                      datetime.now(SHANGHAI).date())
    options = [{"value": period_value(p), "label": p.label + (" (暂定)" if p.provisional else "")}
               for p in periods]
    return comms_layout.layout(options, period_value(current) if current else None,
                               refresh_ms=30_000)


def feeds(**_: str) -> html.Div:
    from . import feeds_page

    return feeds_page.layout()
