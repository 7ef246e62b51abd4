"""The frame around every desk page: a title bar and the page links."""
from __future__ import annotations

from dash import dcc, html

from . import ids

PAGES = (("/wall", "大屏 Wall"), ("/dispatch", "指挥调度 Dispatch"), ("/comms", "宣传 Comms"),
         ("/feeds", "数据源 Feeds"))


def nav(active: str = "") -> html.Nav:
    """Links to every page; the current one is marked."""
    return html.Nav(id=ids.NAV, className="lk-nav", children=[
        html.Span("路况 Lukuang", className="lk-brand"),
        *[dcc.Link(label, href=path, className="lk-link active" if path == active else "lk-link")
          for path, label in PAGES],
    ])


def placeholder(path: str, title: str, text: str) -> html.Div:
    """A page that another piece of work fills in; says so plainly."""
    return html.Div(className="lk-page", children=[
        nav(path), html.H1(title), html.P(text, className="lk-muted")])
