"""/comms callbacks as plain functions and through Flask's test client, with roles:
a comms user drafts, a second comms user approves, the author cannot approve their own,
aux / officer / wall / anonymous are refused."""
from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from dash import no_update
from werkzeug.exceptions import Forbidden, Unauthorized

import callbacks.comms as CB  # registers the callbacks before the app is built
from app import create_app
from dashboard.auth import User, add_user
from dashboard.comms.bulletin_store import BulletinStore
from dashboard.model import RoadEvent
from dashboard.comms.reach import ReachStore
from dashboard.timeutil import SHANGHAI
from layouts import ids

pytestmark = pytest.mark.topologies("single", "cluster")

PASSWORD = "password-123"
USERS = {"li": "comms", "wang": "comms", "fu": "aux", "zhao": "officer", "screen": "wall",
         "boss": "admin"}


def ensure_registered() -> None:
    """``dash.callback`` keeps callbacks in a global list that the FIRST app of the process
    takes; register the comms callbacks again when another test's app took them."""
    import importlib

    from dash import _callback

    if not any(ids.COMMS_LIST in k for k in _callback.GLOBAL_CALLBACK_MAP):
        importlib.reload(CB)


@pytest.fixture
def app_svc(settings):
    """An app with the comms callbacks. The other modules' global callbacks, which this
    app takes on its first request, are put back afterwards for the next test's app."""
    from dash import _callback

    s = settings.__class__(**{**settings.__dict__, "wall_token": "kiosk-secret"})
    ensure_registered()
    saved_map = {k: v for k, v in _callback.GLOBAL_CALLBACK_MAP.items() if "comms-" not in k}
    saved_list = [c for c in _callback.GLOBAL_CALLBACK_LIST if "comms-" not in c["output"]]
    app = create_app(s)
    svc = app.server.config["LUKUANG"]
    for name, role in USERS.items():
        add_user(svc.r, svc.keys, name, role, PASSWORD)
    try:
        yield app, svc
    finally:
        svc.close()
        for k, v in saved_map.items():
            _callback.GLOBAL_CALLBACK_MAP.setdefault(k, v)
        for c in saved_list:
            if c not in _callback.GLOBAL_CALLBACK_LIST:
                _callback.GLOBAL_CALLBACK_LIST.append(c)


@pytest.fixture
def svc(app_svc):
    return app_svc[1]


def login(app, name: str | None):
    client = app.server.test_client()
    if name:
        resp = client.post("/login", data={"username": name, "password": PASSWORD, "next": "/"},
                           headers={"Origin": "http://localhost"})
        assert resp.status_code == 302 and "error" not in resp.headers["Location"]
    return client


def segments_between(net, road: str, a: str, b: str) -> list[str]:
    """Segments of an east–west ``road`` lying between its crossings with ``a`` and ``b``."""
    xa, xb = net.intersection(road, a)[0], net.intersection(road, b)[0]
    lo, hi = min(xa, xb), max(xa, xb)
    out = []
    for sid in net.segments_of(road):
        xs = [c[0] for c in net.segments.at[sid, "geometry"].coords]
        if lo - 1e-6 <= min(xs) and max(xs) <= hi + 1e-6:
            out.append(sid)
    return out


# -- plain functions ----------------------------------------------------------------------------
def test_draft_from_live_data_in_one_call(svc):
    net = svc.network
    segs = segments_between(net, "东岳大街", "青年路", "通天街")
    assert segs
    now = time.time()
    svc.store.set_congestion([(s, 3, 10.0, "amap", now) for s in segs])
    li = User("li", "comms")
    out = CB.compose(ids.COMMS_BTN_DRAFT, "traffic", None, "泰安路况", "泰安发布", {}, "",
                     None, None, None, svc, li, now)
    text, data, editing, msg = out["text"], out["data"], out["editing"], out["message"]
    assert text.startswith("#泰安路况#【路况播报】截至")
    assert "，东岳大街(青年路—通天街)拥堵。" in text and text.endswith(" @泰安发布")
    assert data["kind"] == "traffic" and editing is None and "已生成路况播报" in msg
    out = CB.previews_view(text, data, li)
    weibo_text, sms_text = out["previews"]["weibo"], out["previews"]["sms"]
    assert weibo_text == text and sms_text.startswith("【泰安交警】路况播报：截至")
    assert list(out["previews"]) == list(out["counts"]) == list(ids.COMMS_CHANNELS)
    assert len(ids.COMMS_CHANNELS) == 5


def test_roles_are_checked_in_every_plain_function(svc):
    li = User("li", "comms")
    for user, exc in ((None, Unauthorized), (User("fu", "aux"), Forbidden),
                      (User("zhao", "officer"), Forbidden), (User("screen", "wall"), Forbidden)):
        with pytest.raises(exc):
            CB.compose(ids.COMMS_BTN_DRAFT, "traffic", None, "", "", {}, "", None, None, None,
                       svc, user)
        with pytest.raises(exc):
            CB.act(ids.COMMS_BTN_APPROVE, "", None, None, "B000001", 1, "weibo", "", 0, svc,
                   user)
        with pytest.raises(exc):
            CB.previews_view("x", None, user)
        with pytest.raises(exc):
            CB.reports_view(svc, user)
        with pytest.raises(exc):
            CB.reach_view(None, svc, user)
        with pytest.raises(exc):
            CB.reach_upload("data:text/csv;base64,", "x.csv", 0, svc, user)
        with pytest.raises(exc):
            CB.reach_csv(None, svc, user, "posts")
        with pytest.raises(exc):
            CB.post_view(None, [{"id": "1"}], svc, user)
        with pytest.raises(exc):
            CB.publish_form("sms", user)
    assert CB.previews_view("", None, li)["previews"]["weibo"] == ""


def test_save_approve_publish_as_plain_functions(svc):
    li, wang = User("li", "comms"), User("wang", "comms")
    text = "#泰安路况#【路况播报】截至10月1日9时30分，全市主要道路通行顺畅。"
    out = CB.act(ids.COMMS_BTN_SAVE, text, None, None, None, None, "weibo", "", 0, svc, li)
    msg, changed, editing = out["message"], out["changed"], out["editing"]
    assert editing == {"id": "B000001", "rev": 1} and changed == 1 and "等待另一名民警审核" in msg
    msg = CB.act(ids.COMMS_BTN_APPROVE, text, None, None, "B000001", 1, "weibo", "", 1,
                 svc, li)["message"]
    assert "不能审核自己撰写的稿件" in msg
    msg = CB.act(ids.COMMS_BTN_APPROVE, "", None, None, "B000001", 1, "weibo", "",
                 1, svc, wang)["message"]
    assert "已审核通过" in msg
    msg = CB.act(ids.COMMS_BTN_PUBLISH, "", None, None, "B000001", 1, "weibo", "42", 2,
                 svc, li)["message"]                            # stale rev
    assert "已被他人修改" in msg
    msg = CB.act(ids.COMMS_BTN_PUBLISH, "", None, None, "B000001", 2, "weibo", "42", 2,
                 svc, li)["message"]
    assert "已登记发布" in msg
    rec = BulletinStore(svc.r, svc.keys).get("B000001")
    assert rec.state == "published" and rec.publications[0]["post_id"] == "42"
    assert CB.selected_view("B000001", svc, li)["rev"] == 3
    out = CB.bulletins_view(svc, li, selected="B000009", prefer=None)
    assert out["options"][0]["value"] == "B000001" and out["value"] is None
    assert CB.bulletins_view(svc, li, selected="B000001")["value"] == "B000001"


def test_user_text_is_shown_as_text(svc):
    li = User("li", "comms")
    hostile = "【路况播报】<img src=x onerror=alert(1)> javascript:alert(2)"
    out = CB.previews_view(hostile, None, li)
    assert out["previews"]["weibo"] == hostile      # a string child: React renders it as text
    CB.act(ids.COMMS_BTN_SAVE, hostile, None, None, None, None, "weibo", "", 0, svc, li)
    view = CB.selected_view("B000001", svc, li)["view"]
    pre = view.children[1]
    assert pre.children == hostile and isinstance(pre.children, str)


def test_reports_list_and_reply(svc):
    now = time.time()
    ev = RoadEvent(id="weibo:cluster:x1:jam:1", kind="report", category="jam", severity=2,
                   source="weibo", observed_at=datetime.fromtimestamp(now - 600, SHANGHAI),
                   lon=117.1, lat=36.2, road_names=("长城路",), text="长城路堵了 13812345678",
                   attrs={"first_seen": now - 900, "last_seen": now - 600, "mentions": 1,
                          "count": 2, "place": "长城路与泰玻大街路口"})
    svc.store.upsert_events([ev], now=now)
    li = User("li", "comms")
    out = CB.reports_view(svc, li, now)
    line, table, opts = out["response"], out["table"], out["options"]
    assert line.startswith("待回复 1 条 · 最久已等待 15分钟")
    assert opts == [{"value": ev.id, "label": opts[0]["label"]}]
    assert "13812345678" not in json.dumps(table.to_plotly_json(), default=str,
                                           ensure_ascii=False)
    out = CB.reply(ev.id, "已通知交警", 0, svc, li, now=now + 60)
    msg, replied = out["message"], out["replied"]
    assert replied == 1 and "响应时间 16分钟" in msg
    out = CB.reports_view(svc, li, now + 60)
    line, opts = out["response"], out["options"]
    assert opts == [] and "响应时间中位数 16.0 分钟" in line
    with pytest.raises(Forbidden):
        CB.reply(ev.id, "", 0, svc, User("fu", "aux"))


def test_reach_panel_figures_and_csv(svc):
    rs = ReachStore(svc.r, svc.keys)
    rs.import_file(("微博ID,发布时间,微博内容,阅读数,转发数,评论数,点赞数\n"
                    "1,2026-10-01 08:00,a,1000,1,1,1\n2,2026-10-03 08:00,b,2.5万,2,2,2\n"
                    "3,2025-10-02 08:00,c,500,0,0,0\n").encode(), at=time.time())
    li = User("li", "comms")
    value = "national-day|2026-10-01|2026-10-07"
    out = CB.reach_view(value, svc, li)
    headline, daily, cumul = out["headline"], out["daily"], out["cumulative"]
    assert daily["data"][0]["y"] == [1000, 0, 25000, 0, 0, 0, 0]
    assert daily["data"][1]["y"] == [0, 500, 0, 0, 0, 0, 0]           # 2025 by day number
    assert cumul["data"][0]["y"][-1] == 26000
    assert cumul["data"][-1]["y"] == [2_065_899, 2_065_899]            # the 2014 reference
    text = json.dumps(headline.to_plotly_json(), default=str, ensure_ascii=False)
    assert "26,000" in text and "2014年国庆黄金周路况微直播" in text
    out = CB.reach_csv(value, svc, li)
    assert out["filename"] == "reach-2026-10-01-2026-10-07.csv"
    assert "合计,2,26000,3,3,3" in out["content"]
    out = CB.reach_view("national-day|2026-10-02|2026-10-07", svc, li)
    empty, msg = out["daily"], out["message"]
    assert empty["data"] == [] and "not a holiday period" in msg


def test_reach_upload_reports_rejected_rows(svc):
    import base64

    body = "id,created_at,reads\n1,2026-10-01 08:00,5\n2,oops,7\n".encode()
    url = "data:text/csv;base64," + base64.b64encode(body).decode()
    out = CB.reach_upload(url, "x.csv", 0, svc, User("li", "comms"))
    msg, n = out["message"], out["imported"]
    assert n == 1 and "1 条微博" in msg and "第3行 发布时间" in msg
    out = CB.reach_upload("data:text/csv;base64," + base64.b64encode(b"a,b\n1,2").decode(),
                          "y.csv", 1, svc, User("li", "comms"))
    msg = out["message"]
    assert "无法导入" in msg and "no post id column" in msg


def import_two_campaigns(svc, now: float) -> None:
    rs = ReachStore(svc.r, svc.keys)
    rs.import_file(("微博ID,发布时间,微博内容,阅读数,转发数,评论数,点赞数\n"
                    "11,2026-10-01 08:00,=cmd|' /C calc'!A0,1000,1,2,3\n"
                    "12,2026-10-03 08:00,b,2.5万,4,5,6\n"
                    "13,2025-10-02 08:00,c,500,0,0,0\n").encode(), at=now - 3600)
    rs.import_file(("微博ID,发布时间,微博内容,阅读数,转发数,评论数,点赞数\n"
                    "12,2026-10-03 08:00,b,3.1万,4,5,6\n").encode(), at=now)


def test_every_post_of_the_period_in_a_table_with_its_reads_over_time(svc):
    now = time.time()
    import_two_campaigns(svc, now)
    li = User("li", "comms")
    rows = CB.reach_view(PERIOD, svc, li)["posts"]
    assert [(r["id"], r["reads"], r["likes"]) for r in rows] == [("12", 31_000, 6),
                                                                  ("11", 1000, 3)]
    assert rows[0]["time"] == "2026-10-03 08:00"
    # no row chosen: the period's most read post, with both of its snapshots
    fig = CB.post_view(PERIOD, None, svc, li)["figure"]
    assert fig["data"][0]["y"] == [25_000, 31_000]
    assert fig["data"][0]["hovertext"] == ["2.5万", "3.1万"] and "12" in json.dumps(fig)
    fig = CB.post_view(PERIOD, [{"id": "11"}], svc, li)["figure"]
    assert fig["data"][0]["y"] == [1000]
    # a row from the page that is no post id, or no post: nothing is looked up
    for rows_in in ([{"id": "11; DROP"}], [{"id": None}], "x", [{"id": "999"}]):
        fig = CB.post_view("nope", rows_in, svc, li)["figure"]
        assert fig["data"] == []


def test_posts_csv_is_built_on_the_server(svc):
    import csv
    import io

    import_two_campaigns(svc, time.time())
    out = CB.reach_csv(PERIOD, svc, User("li", "comms"), "posts")
    assert out["filename"] == "reach-posts-2026-10-01-2026-10-07.csv"
    assert out["type"] == "text/csv" and out["content"].startswith("\ufeff")
    table = list(csv.reader(io.StringIO(out["content"].lstrip("\ufeff"))))
    assert table[0][:3] == ["微博ID", "发布时间", "阅读数"]
    assert [row[0] for row in table[1:]] == ["12", "11"] and table[1][2] == "31000"
    assert table[2][6].startswith("'=")                       # never a formula in Excel
    assert CB.reach_csv("national-day|2026-10-02|2026-10-07", svc, User("li", "comms"),
                        "posts") is None


def test_sms_is_marked_published_without_a_post_id(svc):
    li, wang = User("li", "comms"), User("wang", "comms")
    assert CB.publish_form("sms", li) == {"disabled": True, "value": "",
                                          "placeholder": "短信无需编号（自动生成）"}
    assert CB.publish_form("weibo", li)["disabled"] is False
    assert CB.publish_form(["x"], li)["disabled"] is False          # not a channel: default
    CB.act(ids.COMMS_BTN_SAVE, "【路况播报】全市通行顺畅。", None, None, None, None, "weibo",
           "", 0, svc, li)
    CB.act(ids.COMMS_BTN_APPROVE, "", None, None, "B000001", 1, "weibo", "", 1, svc, wang)
    msg = CB.act(ids.COMMS_BTN_PUBLISH, "", None, None, "B000001", 2, "sms", None, 2,
                 svc, li)["message"]
    assert "已登记发布 短信 sms-B000001-1" in msg
    rec = BulletinStore(svc.r, svc.keys).get("B000001")
    assert rec.publications == [{"channel": "sms", "post_id": "sms-B000001-1",
                                 "at": rec.publications[0]["at"], "by": "li"}]


def test_wechat_counter_shows_the_body_against_its_limit(svc):
    li = User("li", "comms")
    text = "【路况播报】" + "东岳大街通行顺畅。" * 30
    counts = CB.previews_view(text, None, li)["counts"]["wechat"]
    shown = json.dumps([c.to_plotly_json() for c in counts], default=str, ensure_ascii=False)
    assert "270 / 20000 字" in shown and "title 4/64" in shown


def test_holiday_template_offers_the_coming_holidays_in_december_2026(svc):
    now = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI).timestamp()
    opts = CB.source_options("holiday", svc, User("li", "comms"), now=now)["options"]
    labels = [o["label"] for o in opts]
    assert labels and labels[0].startswith("元旦 2027-01-01") and labels[0].endswith("(暂定)")
    assert any(label.startswith("春节 2027-02-05") for label in labels)
    # a derived period drafts like an official one
    out = CB.compose(ids.COMMS_BTN_DRAFT, "holiday", opts[1]["value"], "", "", {}, "", None,
                     None, None, svc, User("li", "comms"), now)
    assert "春节假期出行提示" in out["text"] and "已生成" in out["message"]


def test_load_shows_the_composer_and_cleared_draft_names_its_left_outs(svc):
    net = svc.network
    a = segments_between(net, "东岳大街", "青年路", "通天街")
    now = time.time()
    li = User("li", "comms")
    b = [s for s in net.segments_of("泰山大街")][:3]
    svc.store.set_congestion([(s, 3, 10.0, "amap", now) for s in a + b])
    out = CB.compose(ids.COMMS_BTN_DRAFT, "traffic", None, "", "", {}, "", None, None, None,
                     svc, li, now)
    assert out["tab"] is no_update
    CB.act(ids.COMMS_BTN_SAVE, out["text"], out["data"], None, None, None, "weibo", "", 0,
           svc, li)
    loaded = CB.compose(ids.COMMS_BTN_LOAD, "traffic", None, "", "", {}, "", None, None,
                        "B000001", svc, li, now)
    assert loaded["tab"] == "compose" and loaded["editing"]["id"] == "B000001"
    svc.store.set_congestion([(s, 1, 45.0, "amap", now + 60) for s in a])
    out = CB.compose(ids.COMMS_BTN_DRAFT, "cleared", "B000001", "", "", {}, "", None, None,
                     None, svc, li, now + 60)
    assert "东岳大街(青年路—通天街)" in out["text"] and "泰山大街" not in out["text"]
    assert "未列入" in out["message"] and "泰山大街" in out["message"] and "仍拥堵" in out["message"]


# -- through the Flask test client -------------------------------------------------------------
def dash_call(client, first_output: str, values: dict[str, object], trigger: str):
    """POST one callback the way the Dash renderer does. ``values`` maps "id.prop" to the
    value of each input/state (missing ones are None)."""
    deps = client.get("/_dash-dependencies")
    assert deps.status_code == 200
    deps_list = deps.get_json()
    dep = next(d for d in deps_list if d["output"].startswith(f"..{first_output}.")
               or d["output"].startswith(f"{first_output}."))
    outs = []
    for part in dep["output"].strip(".").split("..."):
        cid, prop = part.rsplit(".", 1)
        outs.append({"id": cid, "property": prop})
    body = {"output": dep["output"], "outputs": outs if len(outs) > 1 else outs[0],
            "inputs": [{**i, "value": values.get(f"{i['id']}.{i['property']}")}
                       for i in dep["inputs"]],
            "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")}
                      for s in dep["state"]],
            "changedPropIds": [trigger]}
    return client.post("/_dash-update-component", json=body)


PERIOD = "national-day|2026-10-01|2026-10-07"
DRAFT = {f"{ids.COMMS_BTN_DRAFT}.n_clicks": 1, f"{ids.COMMS_TEMPLATE}.value": "traffic",
         f"{ids.COMMS_HASHTAGS}.value": "泰安路况"}


def test_draft_approve_publish_through_http_with_roles(app_svc):
    app, svc = app_svc
    admin_client = login(app, "boss")
    assert dash_call(admin_client, ids.COMMS_LIST, {}, f"{ids.COMMS_TICK}.n_intervals") \
        .status_code == 200
    li = login(app, "li")
    resp = dash_call(li, ids.COMMS_TEXT, DRAFT, f"{ids.COMMS_BTN_DRAFT}.n_clicks")
    assert resp.status_code == 200, resp.data[:300]
    text = resp.get_json()["response"][ids.COMMS_TEXT]["value"]
    assert text.startswith("#泰安路况#【路况播报】截至")
    save = {f"{ids.COMMS_BTN_SAVE}.n_clicks": 1, f"{ids.COMMS_TEXT}.value": text,
            f"{ids.COMMS_CHANGED}.data": 0}
    resp = dash_call(li, ids.COMMS_REVIEW_MSG, save, f"{ids.COMMS_BTN_SAVE}.n_clicks")
    out = resp.get_json()["response"]
    assert out[ids.COMMS_EDITING]["data"] == {"id": "B000001", "rev": 1}
    approve = {f"{ids.COMMS_BTN_APPROVE}.n_clicks": 1, f"{ids.COMMS_SELECT}.value": "B000001",
               f"{ids.COMMS_SELECTED_REV}.data": 1, f"{ids.COMMS_CHANGED}.data": 1}
    own = dash_call(li, ids.COMMS_REVIEW_MSG, approve, f"{ids.COMMS_BTN_APPROVE}.n_clicks")
    assert "不能审核自己撰写的稿件" in own.get_json()["response"][ids.COMMS_REVIEW_MSG]["children"]
    wang = login(app, "wang")
    ok = dash_call(wang, ids.COMMS_REVIEW_MSG, approve, f"{ids.COMMS_BTN_APPROVE}.n_clicks")
    assert "已审核通过" in ok.get_json()["response"][ids.COMMS_REVIEW_MSG]["children"]
    publish = {f"{ids.COMMS_BTN_PUBLISH}.n_clicks": 1, f"{ids.COMMS_SELECT}.value": "B000001",
               f"{ids.COMMS_SELECTED_REV}.data": 2, f"{ids.COMMS_PUB_CHANNEL}.value": "weibo",
               f"{ids.COMMS_PUB_POSTID}.value": "4179082571460369",
               f"{ids.COMMS_CHANGED}.data": 2}
    pub = dash_call(wang, ids.COMMS_REVIEW_MSG, publish, f"{ids.COMMS_BTN_PUBLISH}.n_clicks")
    assert "已登记发布" in pub.get_json()["response"][ids.COMMS_REVIEW_MSG]["children"]
    rec = BulletinStore(svc.r, svc.keys).get("B000001")
    assert (rec.author, rec.approver, rec.state) == ("li", "wang", "published")


@pytest.mark.parametrize("who, status", [(None, 401), ("fu", 403), ("zhao", 403),
                                         ("screen", 403)])
def test_other_roles_are_refused_over_http(app_svc, who, status):
    app, svc = app_svc
    client = login(app, who)
    calls = [
        (ids.COMMS_TEXT, DRAFT, f"{ids.COMMS_BTN_DRAFT}.n_clicks"),
        (ids.COMMS_REVIEW_MSG, {f"{ids.COMMS_BTN_APPROVE}.n_clicks": 1,
                                f"{ids.COMMS_SELECT}.value": "B000001"},
         f"{ids.COMMS_BTN_APPROVE}.n_clicks"),
        (ids.COMMS_LIST, {}, f"{ids.COMMS_TICK}.n_intervals"),
        (ids.COMMS_REACH_HEADLINE, {}, f"{ids.COMMS_TICK}.n_intervals"),
        (ids.COMMS_RESPONSE, {}, f"{ids.COMMS_TICK}.n_intervals"),
        (ids.COMMS_PREVIEW["weibo"], {f"{ids.COMMS_TEXT}.value": "x"},
         f"{ids.COMMS_TEXT}.value"),
        (ids.COMMS_REACH_POST_FIG, {f"{ids.COMMS_REACH_PERIOD}.value": PERIOD},
         f"{ids.COMMS_REACH_PERIOD}.value"),
        (ids.COMMS_DOWNLOAD, {f"{ids.COMMS_BTN_POSTS_CSV}.n_clicks": 1,
                              f"{ids.COMMS_REACH_PERIOD}.value": PERIOD},
         f"{ids.COMMS_BTN_POSTS_CSV}.n_clicks"),
        (ids.COMMS_PUB_POSTID, {f"{ids.COMMS_PUB_CHANNEL}.value": "sms"},
         f"{ids.COMMS_PUB_CHANNEL}.value"),
    ]
    for first, values, trigger in calls:
        assert dash_call(client, first, values, trigger).status_code == status, first
    assert BulletinStore(svc.r, svc.keys).recent() == []


def test_posts_csv_and_post_chart_through_http(app_svc):
    app, svc = app_svc
    import_two_campaigns(svc, time.time())
    li = login(app, "li")
    resp = dash_call(li, ids.COMMS_DOWNLOAD, {f"{ids.COMMS_BTN_POSTS_CSV}.n_clicks": 1,
                                              f"{ids.COMMS_REACH_PERIOD}.value": PERIOD},
                     f"{ids.COMMS_BTN_POSTS_CSV}.n_clicks")
    assert resp.status_code == 200, resp.data[:300]
    data = resp.get_json()["response"][ids.COMMS_DOWNLOAD]["data"]
    assert data["filename"] == "reach-posts-2026-10-01-2026-10-07.csv"
    assert data["content"].splitlines()[1].startswith("12,2026-10-03 08:00,31000")
    resp = dash_call(li, ids.COMMS_DOWNLOAD, {f"{ids.COMMS_BTN_CSV}.n_clicks": 1,
                                              f"{ids.COMMS_REACH_PERIOD}.value": PERIOD},
                     f"{ids.COMMS_BTN_CSV}.n_clicks")
    assert resp.get_json()["response"][ids.COMMS_DOWNLOAD]["data"]["filename"] == \
        "reach-2026-10-01-2026-10-07.csv"
    resp = dash_call(li, ids.COMMS_REACH_POST_FIG,
                     {f"{ids.COMMS_REACH_PERIOD}.value": PERIOD,
                      f"{ids.COMMS_REACH_POSTS}.selectedRows": [{"id": "11"}]},
                     f"{ids.COMMS_REACH_POSTS}.selectedRows")
    fig = resp.get_json()["response"][ids.COMMS_REACH_POST_FIG]["figure"]
    assert fig["data"][0]["y"] == [1000]
    bad = dash_call(li, ids.COMMS_REACH_POST_FIG,
                    {f"{ids.COMMS_REACH_PERIOD}.value": PERIOD,
                     f"{ids.COMMS_REACH_POSTS}.selectedRows": "not rows"},
                    f"{ids.COMMS_REACH_POSTS}.selectedRows")
    assert bad.status_code == 400                          # the guard: rows are a list


def test_the_page_is_four_tabs_and_keeps_every_control():
    """Compose, review, replies and reach are tabs; every control of the one-page layout is
    still on one of them, and what every tab needs (stores, download, the action status
    line) is outside the tabs, so it exists whichever tab is shown."""
    from dash import dcc

    from layouts import comms as L

    page = L.layout([{"value": PERIOD, "label": "国庆节"}], PERIOD)

    def walk(node, inside=None):
        kids = getattr(node, "children", None)
        here = getattr(node, "value", None) if isinstance(node, dcc.Tab) else inside
        yield node, inside
        for k in kids if isinstance(kids, (list, tuple)) else [] if kids is None else [kids]:
            yield from walk(k, here)

    where = {getattr(n, "id", None): tab for n, tab in walk(page) if getattr(n, "id", None)}
    tabs = next(n for n, _ in walk(page) if isinstance(n, dcc.Tabs))
    assert tabs.id == ids.COMMS_TABS and tabs.value == "compose"
    assert [t.label for t in tabs.children] == ["撰写与预览 Compose", "审核与发布 Review & publish",
                                                "回复 Replies", "传播效果 Reach"]
    expected = {
        "compose": [ids.COMMS_TEMPLATE, ids.COMMS_SOURCE, ids.COMMS_CONTROL_FORM,
                    ids.COMMS_HASHTAGS, ids.COMMS_MENTIONS, ids.COMMS_BTN_DRAFT,
                    ids.COMMS_BTN_TAGS, ids.COMMS_BTN_SAVE, ids.COMMS_BTN_NEW, ids.COMMS_TEXT,
                    ids.COMMS_COMPOSE_MSG, *ids.COMMS_PREVIEW.values(),
                    *ids.COMMS_COUNT.values(), *ids.COMMS_COPY.values()],
        "review": [ids.COMMS_LIST, ids.COMMS_SELECT, ids.COMMS_BTN_LOAD, ids.COMMS_BTN_APPROVE,
                   ids.COMMS_PUB_CHANNEL, ids.COMMS_PUB_POSTID, ids.COMMS_BTN_PUBLISH,
                   ids.COMMS_SELECTED],
        "replies": [ids.COMMS_RESPONSE, ids.COMMS_REPORTS, ids.COMMS_REPLY_SELECT,
                    ids.COMMS_REPLY_TEXT, ids.COMMS_BTN_REPLY, ids.COMMS_REPLY_MSG],
        "reach": [ids.COMMS_REACH_PANEL, ids.COMMS_REACH_PERIOD, ids.COMMS_BTN_CSV,
                  ids.COMMS_BTN_POSTS_CSV, ids.COMMS_UPLOAD, ids.COMMS_REACH_MSG,
                  ids.COMMS_REACH_HEADLINE, ids.COMMS_REACH_DAILY, ids.COMMS_REACH_CUMUL,
                  ids.COMMS_REACH_POSTS, ids.COMMS_REACH_POST_FIG],
        None: [ids.COMMS_TICK, ids.COMMS_DATA, ids.COMMS_EDITING, ids.COMMS_SELECTED_REV,
               ids.COMMS_CHANGED, ids.COMMS_REPLIED, ids.COMMS_REACH_IMPORTED,
               ids.COMMS_DOWNLOAD, ids.COMMS_REVIEW_MSG, ids.COMMS_TABS],
    }
    for tab, wanted in expected.items():
        for cid in wanted:
            assert cid in where and where[cid] == tab, (cid, where.get(cid, "missing"), tab)
    assert L.layout([], None, tab="reach").children[-1].value == "reach"
