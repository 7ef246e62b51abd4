"""/comms in headless Chromium at 1920×1080, tab by tab: a comms account drafts a 路况播报
from live data in one click and saves it, cannot approve it itself; a second comms account
approves it and marks it published on Weibo (with its post id) and by SMS (no post id
asked); the citizen reports; the holiday reach panel with every post of the period in a
table and the chosen post's reads over time. Each tab fits the screen without scrolling
the page and is saved to screenshots/comms-tab-<tab>.png; the reach panel also to
screenshots/comms-reach.png. The page must make no request off 127.0.0.1 and log no
console error."""
from __future__ import annotations

import time
from datetime import datetime

import pytest
import redis

from dashboard.auth import add_user
from dashboard.model import RoadEvent
from dashboard.comms.reach import ReachStore
from dashboard.roads.network import load_network
from dashboard.timeutil import SHANGHAI
from layouts import ids

from .conftest import REPO, log_out, wait_for

PASSWORD = "password-123"
ROADS = REPO / "data" / "taian" / "roads.geojson"
CSV_HEAD = "微博ID,发布时间,微博内容,阅读数,转发数,评论数,点赞数"


@pytest.fixture(scope="module")
def comms_server(live_server):
    """The app under gunicorn (tests/browser/conftest.py); every callback is registered by
    ``callbacks/__init__``."""
    return live_server


def segments_between(net, road: str, a: str, b: str) -> list[str]:
    xa, xb = net.intersection(road, a)[0], net.intersection(road, b)[0]
    lo, hi = min(xa, xb), max(xa, xb)
    return [sid for sid in net.segments_of(road)
            if lo - 1e-6 <= min(c[0] for c in net.segments.at[sid, "geometry"].coords)
            and max(c[0] for c in net.segments.at[sid, "geometry"].coords) <= hi + 1e-6]


@pytest.fixture(scope="module")
def seeded(redis_url, browser_keys, browser_store):
    """Two comms accounts, live congestion, a citizen report and two campaigns of reach."""
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    for name in ("li", "wang"):
        add_user(r, browser_keys, name, "comms", PASSWORD, replace=True)
    now = time.time()
    net = load_network(ROADS)
    segs = segments_between(net, "东岳大街", "青年路", "通天街")
    browser_store.set_congestion([(s, 3, 11.0, "amap", now) for s in segs])
    browser_store.upsert_events([RoadEvent(
        id="weibo:cluster:xb:jam:1", kind="report", category="jam", severity=2, source="weibo",
        observed_at=datetime.fromtimestamp(now - 600, SHANGHAI), lon=117.1, lat=36.2,
        road_names=("长城路", "泰玻大街"), text="@泰山交警 长城路泰玻大街路口堵了",
        attrs={"first_seen": now - 1500, "last_seen": now - 600, "mentions": 2, "count": 3,
               "place": "长城路与泰玻大街路口"})], now=now)
    rows = [CSV_HEAD]
    for year, scale in ((2026, 1.0), (2025, 0.8)):
        last = 7 if year == 2026 else 8
        for day in range(1, last + 1):
            for k in range(12):
                reads = int((2000 + 900 * k + 1500 * (day % 3)) * scale)
                rows.append(f"{year}10{day:02d}{k:03d},{year}-10-{day:02d} {8 + k}:00,"
                            f"第{day}天第{k}条路况,{reads},{k},{k},{3 * k}")
    summary = ReachStore(r, browser_keys).import_file("\n".join(rows).encode(), at=now)
    assert summary["rejected"] == []
    yield {"segments": segs}
    r.close()


def text_of(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def log_in(b, base: str, name: str) -> None:
    d = b.driver
    log_out(d)
    d.get(f"{base}/login?next=/comms")
    wait_for(d, lambda d: d.find_element("name", "username"), what="login form")
    d.find_element("name", "username").send_keys(name)
    d.find_element("name", "password").send_keys(PASSWORD)
    d.find_element("css selector", "form button[type=submit]").click()
    wait_for(d, lambda d: d.find_element("id", ids.COMMS_BTN_DRAFT), what="the comms page")


def click(d, element_id: str) -> None:
    el = d.find_element("id", element_id)
    d.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()


def choose(d, dropdown_id: str, label_start: str) -> None:
    """Open a dcc.Dropdown and click the option whose text starts with ``label_start``."""
    box = d.find_element("id", dropdown_id)
    d.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.find_element("css selector", ".dash-dropdown-trigger, button, [role=combobox]").click()

    def option(d):
        for el in d.find_elements("css selector", ".dash-dropdown-option, [role=option]"):
            if el.text.strip().startswith(label_start) and el.is_displayed():
                return el
        return None
    wait_for(d, option, what=f"option {label_start} in {dropdown_id}").click()


def show_tab(d, tab: str) -> None:
    """Click a tab of the page and wait until it is the selected one."""
    d.find_element("id", ids.COMMS_TAB[tab]).click()
    wait_for(d, lambda d: "tab--selected" in d.find_element(
        "id", ids.COMMS_TAB[tab]).get_attribute("class"), what=f"tab {tab} selected")


def no_page_scroll(d) -> tuple[int, int]:
    """(page height, window height): the tab fits when the first is not the larger."""
    return d.execute_script("return [document.documentElement.scrollHeight, "
                            "window.innerHeight];")


def shoot(d, screenshot_dir, tab: str) -> None:
    d.execute_script("window.scrollTo(0, 0);")
    height, window = no_page_scroll(d)
    assert window == 1080 and height <= window, f"tab {tab}: page {height} px > {window} px"
    path = screenshot_dir / f"comms-tab-{tab}.png"
    d.save_screenshot(str(path))
    assert path.stat().st_size > 20_000


def test_draft_approve_publish_and_reach(comms_server, seeded, browser_factory,
                                         screenshot_dir):
    b = browser_factory(1920, 1080)
    d = b.driver
    log_in(b, comms_server, "li")
    # 撰写与预览: one click, a 路况播报 from the live congestion
    click(d, ids.COMMS_BTN_DRAFT)
    text = wait_for(d, lambda d: d.find_element("id", ids.COMMS_TEXT).get_attribute("value"),
                    what="the drafted text")
    assert text.startswith("#泰安路况#【路况播报】截至")
    assert "东岳大街(青年路—通天街)拥堵" in text
    wait_for(d, lambda d: "/ 2000 字" in text_of(d, ids.COMMS_COUNT["weibo"]), what="counter")
    assert "/ 70 字" in text_of(d, ids.COMMS_COUNT["sms"]) or \
        "/ 67 字" in text_of(d, ids.COMMS_COUNT["sms"])
    # WeChat: the body against its 20,000 limit (the title has its own count)
    assert "/ 20000 字" in text_of(d, ids.COMMS_COUNT["wechat"])
    assert "title " in text_of(d, ids.COMMS_COUNT["wechat"])
    assert text_of(d, ids.COMMS_PREVIEW["sms"]).startswith("【泰安交警】路况播报：")
    # staff edit freely; HTML typed in stays text
    box = d.find_element("id", ids.COMMS_TEXT)
    box.send_keys(" <b>请注意</b>")
    wait_for(d, lambda d: "<b>请注意</b>" in text_of(d, ids.COMMS_PREVIEW["web"]),
             what="the edit in the previews")
    assert not d.find_elements("css selector", f"#{ids.COMMS_PREVIEW['web']} b")
    click(d, ids.COMMS_BTN_SAVE)
    wait_for(d, lambda d: "已保存草稿 B000001" in text_of(d, ids.COMMS_REVIEW_MSG),
             what="saved (the status line above the tabs)")
    shoot(d, screenshot_dir, "compose")
    # the tallest composer (the control form shown) still fits the screen
    choose(d, ids.COMMS_TEMPLATE, "交通管制")
    wait_for(d, lambda d: d.find_element("id", ids.COMMS_CTL_PLACE).is_displayed(),
             what="the control form")
    height, window = no_page_scroll(d)
    assert height <= window, f"compose with the control form: {height} px > {window} px"
    # 审核与发布: the saved draft is selected; its author cannot approve it
    show_tab(d, "review")
    wait_for(d, lambda d: "B000001" in text_of(d, ids.COMMS_SELECTED), what="selected")
    click(d, ids.COMMS_BTN_APPROVE)
    wait_for(d, lambda d: "不能审核自己撰写的稿件" in text_of(d, ids.COMMS_REVIEW_MSG),
             what="the author refused")
    b.collect()

    # the second comms account approves it and marks it published
    log_in(b, comms_server, "wang")
    show_tab(d, "review")
    wait_for(d, lambda d: "B000001" in text_of(d, ids.COMMS_LIST), what="the list")
    choose(d, ids.COMMS_SELECT, "B000001")
    wait_for(d, lambda d: "rev 1" in text_of(d, ids.COMMS_SELECTED), what="rev shown")
    click(d, ids.COMMS_BTN_APPROVE)
    wait_for(d, lambda d: "已审核通过" in text_of(d, ids.COMMS_REVIEW_MSG), what="approved")
    wait_for(d, lambda d: "rev 2" in text_of(d, ids.COMMS_SELECTED), what="rev 2")
    d.find_element("id", ids.COMMS_PUB_POSTID).send_keys("4179082571460369")
    click(d, ids.COMMS_BTN_PUBLISH)
    wait_for(d, lambda d: "已登记发布" in text_of(d, ids.COMMS_REVIEW_MSG), what="published")
    wait_for(d, lambda d: "已发布" in text_of(d, ids.COMMS_LIST), what="state in the list")
    assert "wang" in text_of(d, ids.COMMS_LIST) and "li" in text_of(d, ids.COMMS_LIST)
    # SMS: no post id is asked for; the record gets its own
    wait_for(d, lambda d: "rev 3" in text_of(d, ids.COMMS_SELECTED), what="rev 3")
    choose(d, ids.COMMS_PUB_CHANNEL, "短信")
    wait_for(d, lambda d: not d.find_element("id", ids.COMMS_PUB_POSTID).is_enabled(),
             what="the post id field disabled for SMS")
    click(d, ids.COMMS_BTN_PUBLISH)
    wait_for(d, lambda d: "sms-B000001-1" in text_of(d, ids.COMMS_REVIEW_MSG),
             what="SMS published with a generated id")
    wait_for(d, lambda d: "sms-B000001-1" in text_of(d, ids.COMMS_LIST), what="SMS listed")
    shoot(d, screenshot_dir, "review")
    d.save_screenshot(str(screenshot_dir / "comms-page.png"))

    # 回复: citizen reports to answer
    show_tab(d, "replies")
    wait_for(d, lambda d: "长城路与泰玻大街路口" in text_of(d, ids.COMMS_REPORTS), what="reports")
    assert "未立案" in text_of(d, ids.COMMS_REPORTS)
    shoot(d, screenshot_dir, "replies")

    # 传播效果: both campaigns and the 2014 reference, every post, one post over time
    show_tab(d, "reach")
    panel = d.find_element("id", ids.COMMS_REACH_PANEL)
    wait_for(d, lambda d: len(d.find_elements(
        "css selector", f"#{ids.COMMS_REACH_DAILY} .bars .point")) >= 14, what="bars")
    wait_for(d, lambda d: len(d.find_elements(
        "css selector", f"#{ids.COMMS_REACH_CUMUL} .scatterlayer .trace")) == 3, what="lines")
    headline = text_of(d, ids.COMMS_REACH_HEADLINE)
    assert "发布条数" in headline and "84" in headline and "2014年国庆黄金周路况微直播" in headline
    # counts on the axes in 万, never plotly's k/M
    for graph in (ids.COMMS_REACH_DAILY, ids.COMMS_REACH_CUMUL):
        ticks = [t.text for t in d.find_elements("css selector", f"#{graph} .ytick text")]
        assert ticks and all(t == "0" or t.endswith("万") for t in ticks), (graph, ticks)
    # the period's 84 posts in the table, most read first; a click shows that post
    rows = wait_for(d, lambda d: d.find_elements(
        "css selector", f"#{ids.COMMS_REACH_POSTS} .ag-center-cols-container .ag-row"),
        what="post rows")
    first_id = wait_for(d, lambda d: d.find_element(
        "css selector", f"#{ids.COMMS_REACH_POSTS} .ag-row[row-index='0'] [col-id='id']").text,
        what="first row id")
    wait_for(d, lambda d: first_id in d.find_element(
        "css selector", f"#{ids.COMMS_REACH_POST_FIG} .gtitle").text, what="best post chart")
    second = d.find_element("css selector",
                            f"#{ids.COMMS_REACH_POSTS} .ag-row[row-index='1'] [col-id='id']")
    second_id = second.text
    second.click()
    wait_for(d, lambda d: second_id in d.find_element(
        "css selector", f"#{ids.COMMS_REACH_POST_FIG} .gtitle").text, what="chosen post")
    wait_for(d, lambda d: d.find_elements(
        "css selector", f"#{ids.COMMS_REACH_POST_FIG} .scatterlayer .point"), what="reads")
    assert len(rows) >= 10
    # the table sorts in the browser: by reads, most first; a click on the header flips it
    def first_reads(d) -> int:
        cell = d.find_element("css selector", f"#{ids.COMMS_REACH_POSTS} "
                              ".ag-row[row-index='0'] [col-id='reads']")
        return int(cell.text.replace(",", ""))
    most = first_reads(d)
    header = d.find_element("css selector",
                            f"#{ids.COMMS_REACH_POSTS} .ag-header-cell[col-id='reads'] "
                            ".ag-header-cell-label")
    ascending = False
    for _ in range(3):          # AG Grid's cycle from the initial sort: none, then ascending
        header.click()
        try:
            ascending = bool(wait_for(d, lambda d: first_reads(d) < most, timeout=3,
                                      what="the reads column ascending"))
            break
        except AssertionError:
            continue
    assert ascending, "the reads column did not sort"
    while first_reads(d) != most:   # back to the most read first for the screenshot
        header.click()
        time.sleep(0.2)
    shoot(d, screenshot_dir, "reach")
    path = screenshot_dir / "comms-reach.png"
    panel.screenshot(str(path))
    assert path.stat().st_size > 20_000
    b.collect()
    assert b.foreign_requests() == []
    assert b.severe() == [], b.severe()
