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


def account(user_name: str, csrf: str) -> html.Form:
    """Who is logged in, and the logout button: a POST form with the session's CSRF token
    (the server refuses a GET /logout, so no link or image elsewhere can log anyone out)."""
    return html.Form(method="POST", action="/logout", className="lk-account", style={
        "marginLeft": "auto", "display": "flex", "alignItems": "center", "gap": "8px",
        "color": "#cfe0f7"}, children=[
        html.Span(["已登录 logged in as ", html.B(user_name, className="lk-account-name")]),
        html.Span("·"),
        dcc.Input(type="hidden", name="csrf", value=csrf),
        html.Button("退出 Log out", type="submit", className="lk-logout", style={
            "padding": "3px 10px", "background": "transparent", "color": "#cfe0f7",
            "border": "1px solid #cfe0f7", "borderRadius": "4px", "cursor": "pointer"}),
    ])


def with_account(page, user_name: str, csrf: str):
    """``page`` with ``account`` at the right end of its nav bar; a page without the nav bar
    (the wall) is returned as it is."""
    todo = [page]
    while todo:
        node = todo.pop(0)
        if getattr(node, "id", None) == ids.NAV:
            node.children = [*(node.children or []), account(user_name, csrf)]
            break
        kids = getattr(node, "children", None)
        todo += list(kids) if isinstance(kids, (list, tuple)) else [] if kids is None else [kids]
    return page


def placeholder(path: str, title: str, text: str) -> html.Div:
    """A page that another piece of work fills in; says so plainly."""
    return html.Div(className="lk-page", children=[
        nav(path), html.H1(title), html.P(text, className="lk-muted")])
