"""Page layouts (pure functions; no I/O at import time)."""
from __future__ import annotations

from dash import html

from .shell import nav, placeholder


def home() -> html.Div:
    return html.Div(className="lk-page", children=[
        nav("/"), html.H1("路况 Lukuang"),
        html.P("Real-time road conditions for the command centre. Choose a page above.")])


def wall() -> html.Div:
    return placeholder("/wall", "大屏 Wall display", "The live city map is being built.")


def dispatch() -> html.Div:
    return placeholder("/dispatch", "指挥调度 Dispatch", "Incident queue: not built yet.")


def comms() -> html.Div:
    return placeholder("/comms", "宣传 Comms", "Bulletin composer: not built yet.")


def feeds() -> html.Div:
    return placeholder("/feeds", "数据源 Feeds", "Feed health: not built yet.")
