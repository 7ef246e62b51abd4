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


def wall() -> html.Div:
    return placeholder("/wall", "大屏 Wall display", "The live city map is being built.")


def dispatch() -> html.Div:
    return placeholder("/dispatch", "指挥调度 Dispatch", "Incident queue: not built yet.")


def comms() -> html.Div:
    return placeholder("/comms", "宣传 Comms", "Bulletin composer: not built yet.")


def feeds() -> html.Div:
    return placeholder("/feeds", "数据源 Feeds", "Feed health: not built yet.")
