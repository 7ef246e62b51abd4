"""/comms: the bulletin composer, channel previews, review, citizen reports to answer, and
the holiday reach panel, on four tabs (撰写与预览, 审核与发布, 回复, 传播效果) that each fit a
1920×1080 screen without scrolling the page (long lists scroll inside their box). Pure
layout functions: every text from users or feeds is passed as a string child (Dash renders
it as text, never as HTML); the per-post table is AG Grid with its default text renderer.

Only the selected tab's content is in the page (dcc.Tabs), so the page's stores, the
download and the action status line (``COMMS_REVIEW_MSG``) sit outside the tabs."""
from __future__ import annotations

from typing import Any, Sequence

import dash_ag_grid as dag
from dash import dcc, html

from . import ids
from .shell import nav

TEMPLATE_OPTIONS = [
    {"label": "路况播报 (实时拥堵)", "value": "traffic"},
    {"label": "事故快报 (选择事件)", "value": "accident"},
    {"label": "施工公告 (选择施工)", "value": "roadworks"},
    {"label": "交通管制 (封闭事件或表单)", "value": "control"},
    {"label": "假期出行提示 (两公布一提示)", "value": "holiday"},
    {"label": "恢复通行 (续报已发稿件)", "value": "cleared"},
]
CHANNEL_LABELS = {"weibo": "微博 Weibo", "wechat": "微信公众号 WeChat", "sms": "短信 SMS",
                  "push": "客户端推送 App push", "web": "网站 Website"}
GRAPH_CONFIG = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    # the camera button downloads a PNG for the weekly report (drawn in the browser)
    "toImageButtonOptions": {"format": "png", "filename": "lukuang-reach", "scale": 2,
                             "width": 1200, "height": 500},
}
_BOX = {"background": "#fff", "border": "1px solid #d9e0ea", "borderRadius": "6px",
        "padding": "12px 14px", "marginBottom": "12px"}
_ROW = {"display": "flex", "gap": "10px", "flexWrap": "wrap", "alignItems": "center"}
_PRE = {"whiteSpace": "pre-wrap", "wordBreak": "break-all", "margin": "6px 0",
        "fontFamily": "inherit", "fontSize": "14px", "background": "#f7f9fc", "padding": "8px",
        "borderRadius": "4px", "minHeight": "2em"}
_H2 = {"marginTop": 0, "marginBottom": "8px", "fontSize": "18px"}
# boxes whose content grows with the data scroll inside themselves, never the page
PREVIEW_MAX_PX = 360
LIST_MAX_PX = 380
SELECTED_MAX_PX = 250
REPORTS_MAX_PX = 560
CHART_PX = 300
POSTS_PX = 330
TAB_LABELS = {"compose": "撰写与预览 Compose", "review": "审核与发布 Review & publish",
              "replies": "回复 Replies", "reach": "传播效果 Reach"}
_TAB = {"padding": "8px 18px", "fontSize": "15px"}
_TAB_SELECTED = {**_TAB, "fontWeight": 700, "borderTop": "3px solid #1f5fbf"}


def _field(label: str, component) -> html.Label:
    return html.Label([html.Span(label, className="lk-muted", style={"display": "block",
                                                                       "fontSize": "13px"}),
                       component], style={"minWidth": "160px"})


def composer(hashtags: str = "", city_name: str = "") -> html.Div:
    """Template picker, source picker, control form, tags (``hashtags``: the city
    profile's, comma-separated), the editable text."""
    hint = f"{city_name}发布, {city_name}交通广播" if city_name else "发布, 交通广播"
    return html.Div(style=_BOX, children=[
        html.H2("撰写 Compose", style=_H2),
        html.Div(style=_ROW, children=[
            _field("模板 Template", dcc.Dropdown(id=ids.COMMS_TEMPLATE, options=TEMPLATE_OPTIONS,
                                               value="traffic", clearable=False,
                                               style={"width": "260px"})),
            _field("依据 Source", dcc.Dropdown(id=ids.COMMS_SOURCE, options=[], value=None,
                                             placeholder="（路况播报无需选择）",
                                             style={"width": "420px"})),
            _field("话题 Hashtags", dcc.Input(id=ids.COMMS_HASHTAGS, type="text",
                                            value=hashtags, maxLength=200)),
            _field("@提及 Mentions", dcc.Input(id=ids.COMMS_MENTIONS, type="text", value="",
                                             placeholder=hint,
                                             maxLength=200)),
        ]),
        html.Div(id=ids.COMMS_CONTROL_FORM, style={**_ROW, "display": "none",
                                                   "marginTop": "8px"}, children=[
            _field("管制路段 Place", dcc.Input(id=ids.COMMS_CTL_PLACE, type="text", maxLength=80,
                                           placeholder="东岳大街(青年路—迎胜路)")),
            _field("原因 Reason", dcc.Input(id=ids.COMMS_CTL_REASON, type="text", maxLength=60,
                                          placeholder="举办大型活动")),
            _field("开始 From", dcc.Input(id=ids.COMMS_CTL_START, type="text", maxLength=20,
                                        placeholder="2026-10-01 08:00")),
            _field("结束 To", dcc.Input(id=ids.COMMS_CTL_END, type="text", maxLength=20,
                                      placeholder="2026-10-01 18:00")),
            _field("绕行 Detour", dcc.Input(id=ids.COMMS_CTL_DETOUR, type="text", maxLength=80,
                                          placeholder="泰山大街")),
        ]),
        html.Div(style={**_ROW, "margin": "10px 0"}, children=[
            html.Button("从实时数据生成 Draft from live data", id=ids.COMMS_BTN_DRAFT,
                        n_clicks=0),
            html.Button("插入话题和@ Insert tags", id=ids.COMMS_BTN_TAGS, n_clicks=0),
            html.Button("保存草稿 Save draft", id=ids.COMMS_BTN_SAVE, n_clicks=0),
            html.Button("新稿 New", id=ids.COMMS_BTN_NEW, n_clicks=0),
        ]),
        dcc.Textarea(id=ids.COMMS_TEXT, value="", maxLength=5000,
                     placeholder="点击“从实时数据生成”，或直接撰写 (edit freely)",
                     style={"width": "100%", "height": "130px", "fontSize": "15px",
                            "fontFamily": "inherit", "boxSizing": "border-box"}),
        html.Div(id=ids.COMMS_COMPOSE_MSG, className="lk-muted", role="status"),
    ])


def previews() -> html.Div:
    """One card per channel: live counter, the text as the channel carries it, copy button."""
    cards = []
    for ch in ids.COMMS_CHANNELS:
        cards.append(html.Div(style={**_BOX, "flex": "1 1 280px", "marginBottom": 0}, children=[
            html.Div(style={**_ROW, "justifyContent": "space-between"}, children=[
                html.Strong(CHANNEL_LABELS[ch]),
                dcc.Clipboard(id=ids.COMMS_COPY[ch], target_id=ids.COMMS_PREVIEW[ch],
                              title="复制 Copy", style={"fontSize": "18px", "cursor": "pointer"}),
            ]),
            html.Div(id=ids.COMMS_COUNT[ch], className="lk-muted", style={"fontSize": "13px"}),
            html.Pre(id=ids.COMMS_PREVIEW[ch], style={**_PRE, "maxHeight": f"{PREVIEW_MAX_PX}px",
                                                      "overflowY": "auto"}),
        ]))
    return html.Div([html.H2("各渠道预览 Channel previews", style=_H2),
                     html.Div(cards, style={"display": "flex", "gap": "12px",
                                            "flexWrap": "nowrap"})])


def counter_children(length: int, limit: int, unit: str, segments: int, over: bool,
                     note: str = "", parts: Sequence[tuple[str, int, int]] = ()) -> list:
    """"123 / 2000 字 · 1 条" with over-limit shown in red."""
    main = f"{length} / {limit} {unit}" if limit else f"{length} {unit}（不限）"
    bits: list[Any] = [html.Span(main, className="lk-error-text lk-strong" if over else "")]
    if segments > 1:
        bits.append(html.Span(f" · {segments} 条"))
    for name, n, lim in parts:
        bad = n > lim
        bits.append(html.Span(f" · {name} {n}/{lim}",
                              className="lk-error-text lk-strong" if bad else ""))
    if note:
        bits.append(html.Span(f" · {note}"))
    if over:
        bits.append(html.Span(" · 超出限制 over the limit", className="lk-error-text"))
    return bits


def review() -> html.Div:
    """Recent bulletins, the selected one, approve and mark-published actions."""
    return html.Div(style=_BOX, children=[
        html.H2("审核与发布 Review and publish", style=_H2),
        html.Div(id=ids.COMMS_LIST, style={"maxHeight": f"{LIST_MAX_PX}px",
                                           "overflowY": "auto"}),
        html.Div(style={**_ROW, "marginTop": "10px"}, children=[
            _field("稿件 Bulletin", dcc.Dropdown(id=ids.COMMS_SELECT, options=[], value=None,
                                               placeholder="选择稿件 choose",
                                               style={"width": "360px"})),
            html.Button("载入编辑 Load into editor", id=ids.COMMS_BTN_LOAD, n_clicks=0),
            html.Button("审核通过 Approve", id=ids.COMMS_BTN_APPROVE, n_clicks=0),
            _field("渠道 Channel", dcc.Dropdown(
                id=ids.COMMS_PUB_CHANNEL, value="weibo", clearable=False,
                options=[{"label": CHANNEL_LABELS[c], "value": c} for c in ids.COMMS_CHANNELS],
                style={"width": "200px"})),
            _field("发布编号 Post id", dcc.Input(id=ids.COMMS_PUB_POSTID, type="text",
                                              maxLength=64, placeholder="微博ID")),
            html.Button("登记发布 Mark published", id=ids.COMMS_BTN_PUBLISH, n_clicks=0),
        ]),
        html.Div(id=ids.COMMS_SELECTED, style={"maxHeight": f"{SELECTED_MAX_PX}px",
                                               "overflowY": "auto"}),
    ])


def post_id_field(channel: str | None) -> dict[str, Any]:
    """The post id input for the chosen channel: an SMS has no post id (the record gets a
    generated one), so the field is disabled and says so."""
    if channel == "sms":
        return {"disabled": True, "value": "", "placeholder": "短信无需编号（自动生成）"}
    hints = {"weibo": "微博ID", "wechat": "文章编号 article id", "push": "推送编号 push id",
             "web": "网页编号 page id"}
    return {"disabled": False, "value": "", "placeholder": hints.get(channel or "", "编号 id")}


def bulletin_table(rows: Sequence[dict[str, Any]]) -> html.Table | html.P:
    """Rows: id, kind, title, state, author, approver, published (strings)."""
    if not rows:
        return html.P("还没有稿件 No bulletins yet.", className="lk-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "编号 id", "类型 kind", "标题 title", "状态 state", "撰写 author", "审核 approver",
        "发布 published", "时间 time")]))
    body = [html.Tr([html.Td(r["id"]), html.Td(r["kind"]), html.Td(r["title"]),
                     html.Td(html.Span(r["state_label"],
                                       className=f"lk-pill lk-pill-{r['state']}")),
                     html.Td(r["author"]), html.Td(r["approver"] or "—"),
                     html.Td(r["published"] or "—"), html.Td(r["time"])]) for r in rows]
    return html.Table([head, html.Tbody(body)], className="lk-table")


def selected_view(rec: dict[str, Any] | None) -> html.Div | None:
    """The selected bulletin: id, state, rev, who wrote and approved it, its text."""
    if not rec:
        return None
    return html.Div(style={"marginTop": "8px"}, children=[
        html.Div(f"{rec['id']} · {rec['state_label']} · rev {rec['rev']} · 撰写 {rec['author']}"
                 + (f" · 审核 {rec['approver']}" if rec["approver"] else ""),
                 className="lk-muted"),
        html.Pre(rec["text"], style=_PRE),
    ])


def reports() -> html.Div:
    return html.Div(style=_BOX, children=[
        html.H2("待回复的网友报料 Citizen reports to answer", style=_H2),
        html.Div(id=ids.COMMS_RESPONSE, className="lk-muted"),
        html.Div(id=ids.COMMS_REPORTS, style={"maxHeight": f"{REPORTS_MAX_PX}px",
                                              "overflowY": "auto", "marginTop": "6px"}),
        html.Div(style={**_ROW, "marginTop": "8px"}, children=[
            _field("报料 Report", dcc.Dropdown(id=ids.COMMS_REPLY_SELECT, options=[], value=None,
                                             placeholder="选择报料 choose",
                                             style={"width": "360px"})),
            _field("回复内容 Reply (optional)", dcc.Input(id=ids.COMMS_REPLY_TEXT, type="text",
                                                       maxLength=300,
                                                       style={"width": "360px"})),
            html.Button("标记已回复 Mark replied", id=ids.COMMS_BTN_REPLY, n_clicks=0),
        ]),
        html.Div(id=ids.COMMS_REPLY_MSG, role="status"),
    ])


def reports_table(rows: Sequence[dict[str, Any]]) -> html.Table | html.P:
    """Rows: waited, since, place, text (masked), count, incident status."""
    if not rows:
        return html.P("暂无待回复的报料 Nothing awaits a reply.", className="lk-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "等待 waited", "首报 first", "地点 place", "内容 text", "条数 reports",
        "警情 incident")]))
    body = [html.Tr([html.Td(r["waited"], className="lk-strong"), html.Td(r["since"]),
                     html.Td(r["place"]), html.Td(r["text"]), html.Td(str(r["count"])),
                     html.Td(r["incident"])]) for r in rows]
    return html.Table([head, html.Tbody(body)], className="lk-table")


def post_columns() -> list[dict[str, Any]]:
    """The per-post table's columns (plain text cells; numbers sort as numbers)."""
    num = {"type": "numericColumn", "width": 128, "valueFormatter": {
        "function": "params.value == null ? '—' : params.value.toLocaleString('en-US')"}}
    return [
        {"field": "time", "headerName": "发布时间 time", "width": 160},
        {"field": "reads", "headerName": "阅读 reads", **num, "sort": "desc"},
        {"field": "reposts", "headerName": "转发 reposts", **num},
        {"field": "comments", "headerName": "评论 comments", **num},
        {"field": "likes", "headerName": "点赞 likes", **num},
        {"field": "id", "headerName": "微博ID", "width": 150},
        {"field": "text", "headerName": "内容 text", "flex": 1, "minWidth": 160},
    ]


def reach_panel(period_options: Sequence[dict[str, str]], period_value: str | None) -> html.Div:
    """The holiday reach tab: period picker, exports and import, the headline, reads per
    day and cumulative, the table of the period's posts and the chosen post's reads over
    time."""
    chart = {"height": f"{CHART_PX}px", "flex": "1 1 0", "minWidth": 0}
    return html.Div(id=ids.COMMS_REACH_PANEL, style={**_BOX, "marginBottom": 0}, children=[
        html.Div(style=_ROW, children=[
            html.H2("假期宣传效果 Holiday reach", style={**_H2, "marginBottom": 0}),
            _field("假期 Holiday", dcc.Dropdown(id=ids.COMMS_REACH_PERIOD, options=list(
                period_options), value=period_value, clearable=False,
                style={"width": "320px"})),
            html.Button("导出每日CSV Export days", id=ids.COMMS_BTN_CSV, n_clicks=0),
            html.Button("导出各条CSV Export posts", id=ids.COMMS_BTN_POSTS_CSV, n_clicks=0),
            dcc.Upload(id=ids.COMMS_UPLOAD, accept=".csv,.json,text/csv,application/json",
                       max_size=1_500_000,   # the server refuses requests over 2 MB
                       children=html.Button("导入阅读数 Import export (CSV/JSON)"),
                       style={"display": "inline-block"}),
            html.Span("图表右上角相机按钮可下载PNG图片 (camera icon: PNG for the weekly report)",
                      className="lk-muted", style={"fontSize": "13px"}),
        ]),
        html.Div(id=ids.COMMS_REACH_MSG, role="status", style={"minHeight": "20px"}),
        html.Div(id=ids.COMMS_REACH_HEADLINE, style={"margin": "4px 0 8px"}),
        html.Div(style={"display": "flex", "gap": "12px"}, children=[
            dcc.Graph(id=ids.COMMS_REACH_DAILY, config=GRAPH_CONFIG, style=chart),
            dcc.Graph(id=ids.COMMS_REACH_CUMUL, config=GRAPH_CONFIG, style=chart),
        ]),
        html.Div(style={"display": "flex", "gap": "12px", "marginTop": "10px"}, children=[
            html.Div(style={"flex": "3 1 0", "minWidth": 0}, children=[
                dag.AgGrid(id=ids.COMMS_REACH_POSTS, columnDefs=post_columns(), rowData=[],
                           getRowId="params.data.id",
                           defaultColDef={"sortable": True, "resizable": True},
                           dashGridOptions={
                               "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                "enableClickSelection": True},
                               "animateRows": False},
                           style={"height": f"{POSTS_PX}px", "width": "100%"})]),
            html.Div(style={"flex": "2 1 0", "minWidth": 0}, children=[
                dcc.Graph(id=ids.COMMS_REACH_POST_FIG, config=GRAPH_CONFIG,
                          style={"height": f"{POSTS_PX}px"})]),
        ]),
    ])


def headline(items: Sequence[tuple[str, str, str]]) -> html.Div:
    """Big numbers: (label, value, note)."""
    return html.Div(style={"display": "flex", "gap": "18px", "flexWrap": "wrap"}, children=[
        html.Div(style={"minWidth": "150px"}, children=[
            html.Div(label, className="lk-muted", style={"fontSize": "13px"}),
            html.Div(value, className="lk-strong", style={"fontSize": "24px"}),
            html.Div(note, className="lk-muted", style={"fontSize": "12px"}),
        ]) for label, value, note in items])


def layout(period_options: Sequence[dict[str, str]], period_value: str | None,
           refresh_ms: int = 30_000, hashtags: str = "", city_name: str = "",
           tab: str = "compose") -> html.Div:
    """The whole page (the composer's default topics ``hashtags``, its hints naming
    ``city_name``), on four tabs; ``tab`` is the one shown first."""
    def tab_of(value: str, children: list) -> dcc.Tab:
        return dcc.Tab(label=TAB_LABELS[value], value=value, id=ids.COMMS_TAB[value],
                       children=children, style=_TAB, selected_style=_TAB_SELECTED)

    return html.Div(className="lk-page lk-comms", style={"maxWidth": "1880px",
                                                          "paddingBottom": "8px"}, children=[
        nav("/comms"),
        html.Div(style={**_ROW, "flexWrap": "nowrap", "alignItems": "baseline"}, children=[
            html.H1("宣传 Comms", style={"margin": "10px 12px 6px 0", "whiteSpace": "nowrap"}),
            html.Div(id=ids.COMMS_REVIEW_MSG, role="status", **{"aria-live": "polite"},
                     style={"minHeight": "22px"}),
        ]),
        dcc.Interval(id=ids.COMMS_TICK, interval=refresh_ms, n_intervals=0),
        dcc.Store(id=ids.COMMS_DATA, data=None),
        dcc.Store(id=ids.COMMS_EDITING, data=None),
        dcc.Store(id=ids.COMMS_SELECTED_REV, data=None),
        dcc.Store(id=ids.COMMS_CHANGED, data=0),
        dcc.Store(id=ids.COMMS_REPLIED, data=0),
        dcc.Store(id=ids.COMMS_REACH_IMPORTED, data=0),
        dcc.Download(id=ids.COMMS_DOWNLOAD),
        dcc.Tabs(id=ids.COMMS_TABS, value=tab if tab in TAB_LABELS else "compose",
                 content_style={"paddingTop": "10px"}, children=[
            tab_of("compose", [composer(hashtags, city_name), previews()]),
            tab_of("review", [review()]),
            tab_of("replies", [reports()]),
            tab_of("reach", [reach_panel(period_options, period_value)]),
        ]),
    ])
