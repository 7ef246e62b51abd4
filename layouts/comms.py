"""/comms: the bulletin composer, channel previews, review, citizen reports to answer, and
the holiday reach panel. Pure layout functions: every text from users or feeds is passed
as a string child (Dash renders it as text, never as HTML)."""
from __future__ import annotations

from typing import Any, Sequence

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


def _field(label: str, component) -> html.Label:
    return html.Label([html.Span(label, className="lk-muted", style={"display": "block",
                                                                       "fontSize": "13px"}),
                       component], style={"minWidth": "160px"})


def composer(hashtags: str = "", city_name: str = "") -> html.Div:
    """Template picker, source picker, control form, tags (``hashtags``: the city
    profile's, comma-separated), the editable text."""
    hint = f"{city_name}发布, {city_name}交通广播" if city_name else "发布, 交通广播"
    return html.Div(style=_BOX, children=[
        html.H2("撰写 Compose", style={"marginTop": 0}),
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
        dcc.Store(id=ids.COMMS_DATA, data=None),
        dcc.Store(id=ids.COMMS_EDITING, data=None),
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
            html.Pre(id=ids.COMMS_PREVIEW[ch], style=_PRE),
        ]))
    return html.Div([html.H2("各渠道预览 Channel previews"),
                     html.Div(cards, style={"display": "flex", "gap": "12px",
                                            "flexWrap": "wrap"})])


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
        html.H2("审核与发布 Review and publish", style={"marginTop": 0}),
        html.Div(id=ids.COMMS_LIST),
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
        html.Div(id=ids.COMMS_REVIEW_MSG, role="status", style={"marginTop": "6px"}),
        html.Div(id=ids.COMMS_SELECTED),
        dcc.Store(id=ids.COMMS_SELECTED_REV, data=None),
        dcc.Store(id=ids.COMMS_CHANGED, data=0),
    ])


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
        html.H2("待回复的网友报料 Citizen reports to answer", style={"marginTop": 0}),
        html.Div(id=ids.COMMS_RESPONSE, className="lk-muted"),
        html.Div(id=ids.COMMS_REPORTS),
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
        dcc.Store(id=ids.COMMS_REPLIED, data=0),
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


def reach_panel(period_options: Sequence[dict[str, str]], period_value: str | None) -> html.Div:
    return html.Div(id=ids.COMMS_REACH_PANEL, style=_BOX, children=[
        html.H2("假期宣传效果 Holiday reach", style={"marginTop": 0}),
        html.Div(style=_ROW, children=[
            _field("假期 Holiday", dcc.Dropdown(id=ids.COMMS_REACH_PERIOD, options=list(
                period_options), value=period_value, clearable=False,
                style={"width": "320px"})),
            html.Button("导出CSV Export CSV", id=ids.COMMS_BTN_CSV, n_clicks=0),
            dcc.Upload(id=ids.COMMS_UPLOAD, accept=".csv,.json,text/csv,application/json",
                       max_size=1_500_000,   # the server refuses requests over 2 MB
                       children=html.Button("导入阅读数 Import export (CSV/JSON)"),
                       style={"display": "inline-block"}),
            html.Span("图表右上角相机按钮可下载PNG图片 (camera icon: PNG for the weekly report)",
                      className="lk-muted", style={"fontSize": "13px"}),
        ]),
        html.Div(id=ids.COMMS_REACH_MSG, role="status"),
        html.Div(id=ids.COMMS_REACH_HEADLINE, style={"margin": "10px 0"}),
        html.Div(style={"display": "flex", "gap": "12px", "flexWrap": "wrap"}, children=[
            dcc.Graph(id=ids.COMMS_REACH_DAILY, config=GRAPH_CONFIG,
                      style={"flex": "1 1 520px", "height": "340px"}),
            dcc.Graph(id=ids.COMMS_REACH_CUMUL, config=GRAPH_CONFIG,
                      style={"flex": "1 1 520px", "height": "340px"}),
        ]),
        dcc.Download(id=ids.COMMS_DOWNLOAD),
        dcc.Store(id=ids.COMMS_REACH_IMPORTED, data=0),
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
           refresh_ms: int = 30_000, hashtags: str = "", city_name: str = "") -> html.Div:
    """The whole page (the composer's default topics ``hashtags``, its hints naming
    ``city_name``)."""
    return html.Div(className="lk-page", children=[
        nav("/comms"),
        html.H1("宣传 Comms"),
        dcc.Interval(id=ids.COMMS_TICK, interval=refresh_ms, n_intervals=0),
        composer(hashtags, city_name),
        previews(),
        review(),
        reports(),
        reach_panel(period_options, period_value),
    ])
