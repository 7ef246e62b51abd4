"""/dispatch in headless Chromium against gunicorn at 1920x1080: an officer logs in, picks
the demo incident (a Weibo report at 长城路泰玻大街路口), acknowledges it with the A key,
dispatches the nearest unit with D, adds a note and sees it in the incident's audit view,
and clears it with C, on one screen without page scroll; an auxiliary officer sees the
same incident masked and cannot act. No request may leave 127.0.0.1 and the console must
stay free of errors. Screenshots: tests/browser/screenshots/dispatch*.png."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from dashboard import audit
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.auth import User, add_user
from dashboard.model import RoadEvent
from dashboard.roads.network import load_network

from .conftest import REPO

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass-123"
RAW = "长城路泰玻大街路口发生交通拥堵 @泰山交警 我电话13905381234 车牌鲁J12345"


@pytest.fixture(scope="module")
def dispatch_server(live_server):
    """The app under gunicorn (tests/browser/conftest.py); every callback is registered by
    ``callbacks/__init__``."""
    return live_server


@pytest.fixture(scope="module")
def demo_incident(browser_store):
    """The Weibo report, three units, the incident created from the report, two users."""
    r, keys = browser_store.r, browser_store.keys
    net = load_network(REPO / "data" / "taian" / "roads.geojson")
    lon, lat = net.intersection("长城路", "泰玻大街")
    now = time.time()
    browser_store.upsert_events([RoadEvent(
        id="weibo:4990001", kind="report", category="jam", severity=2, source="weibo",
        observed_at=datetime.fromtimestamp(now - 180, timezone.utc), lon=lon, lat=lat,
        district="泰山区", road_names=("长城路", "泰玻大街"),
        text="长城路泰玻大街路口发生交通拥堵 @泰山交警 我电话139****1234 车牌鲁J·1***5",
        attrs={"place": "长城路泰玻大街路口"})])
    browser_store.put_private({"weibo:4990001": {"raw_text": RAW,
                                                 "screen_name": "泰安市民张伟"}})
    U.apply_feed(r, keys, [
        U.UnitReport("T-101", "patrol_car", "泰安交警101", lon + 0.004, lat + 0.001, "free", now),
        U.UnitReport("T-102", "patrol_car", "泰安交警102", lon + 0.03, lat + 0.01, "free", now),
        U.UnitReport("M-201", "motorcycle", "铁骑201", lon - 0.02, lat, "free", now)])
    # a second, older report from the 122 hotline stays open beside the demo incident
    browser_store.upsert_events([RoadEvent(
        id="hotline:20260929-0007", kind="report", category="accident", severity=3,
        source="hotline", observed_at=datetime.fromtimestamp(now - 900, timezone.utc),
        lon=lon + 0.035, lat=lat + 0.012, district="泰山区", road_names=("泰玻大街",),
        text="泰玻大街两车剐蹭 联系人王** 电话139****5678", attrs={"place": "泰玻大街"})])
    browser_store.put_private({"hotline:20260929-0007": {"phone": "13912345678",
                                                         "name": "王小明"}})
    duty = User("duty", "officer")
    inc = I.create_from_event(r, keys, duty, "weibo:4990001").incident_id
    I.create_from_event(r, keys, duty, "hotline:20260929-0007")
    add_user(r, keys, "officer1", "officer", PASSWORD)
    add_user(r, keys, "aux1", "aux", PASSWORD)
    return inc


def _login(b, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    d = b.driver
    d.get(f"{base}/login?next=/dispatch")
    wait = WebDriverWait(d, 30)
    wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys(name)
    d.find_element(By.NAME, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.ID, "dispatch-grid")))


def _pick_row(b, inc: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(b.driver, 30)
    cell = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, f".ag-row[row-id='{inc}'] .ag-cell[col-id='place']")))
    cell.click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "dispatch-detail-id"), inc))


def _press(b, button_id: str, status_text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(b.driver, 30)
    wait.until(EC.element_to_be_clickable((By.ID, button_id))).click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "dispatch-detail-status"), status_text))


NOTE = "现场两车追尾 已通知清障 <b>不是HTML</b>"
NO_PAGE_SCROLL = "return [document.scrollingElement.scrollHeight, window.innerHeight];"
# how far an element's box reaches beyond its own width (sideways overflow), in px
OVERFLOW_X = "var e = arguments[0]; return e.scrollWidth - e.clientWidth;"


def _key(b, key: str) -> None:
    """Press ``key`` as the officer does, on whatever holds the focus (not a text field)."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(b.driver).send_keys(key).perform()


def _wait_text(b, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(b.driver, 30).until(
        EC.text_to_be_present_in_element((By.ID, element_id), text))


def test_officer_works_an_incident_on_one_screen(dispatch_server, demo_incident,
                                                 browser_factory, browser_store,
                                                 screenshot_dir):
    """Issue 17 at 1920x1080: select, acknowledge with the A key, dispatch the nearest unit
    with D, add a note, see it in the incident's audit view, clear with C; the page never
    scrolls, feedback appears next to the buttons, and the detail moves with each action."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    r, keys = browser_store.r, browser_store.keys
    b = browser_factory(1920, 1080)
    d = b.driver
    _login(b, dispatch_server, "officer1")
    _pick_row(b, demo_incident)
    # the officer sees the reporter's own words and contact
    assert "13905381234" in d.find_element(By.ID, "dispatch-detail").text
    height, inner = d.execute_script(NO_PAGE_SCROLL)
    assert height <= inner, (height, inner)
    d.save_screenshot(str(screenshot_dir / "dispatch_selected.png"))

    # A: acknowledge (the focus is on the queue's row, not in a text field)
    _key(b, "a")
    _wait_text(b, "dispatch-message", "acknowledged")
    _wait_text(b, "dispatch-detail", "已确认 acknowledged")
    assert I.load(r, keys, demo_incident).ack_by == "officer1"
    # the answer is next to the buttons that caused it, not at the top of the page
    ack = d.find_element(By.ID, "dispatch-btn-ack").rect
    msg = d.find_element(By.ID, "dispatch-message").rect
    assert 0 <= msg["y"] - (ack["y"] + ack["height"]) < 120, (ack, msg)
    assert abs(msg["x"] - ack["x"]) < 400

    # D: the nearest unit
    _key(b, "d")
    _wait_text(b, "dispatch-detail-status", "已派警")
    assert "泰安交警101" in d.find_element(By.ID, "dispatch-message").text
    assert U.get_unit(r, keys, "T-101").status == "assigned"

    # a standalone note, shown in the audit view as text
    note = d.find_element(By.ID, "dispatch-note")
    note.send_keys(NOTE)
    _key(b, "c")           # typed into the field: no shortcut, nothing cleared
    assert note.get_attribute("value") == NOTE + "c"
    note.send_keys("\b")
    d.find_element(By.ID, "dispatch-btn-note").click()
    _wait_text(b, "dispatch-trail", "不是HTML")
    trail = d.find_element(By.ID, "dispatch-trail")
    assert NOTE in trail.text and trail.find_elements(By.TAG_NAME, "b") == []
    assert "officer1" in trail.text and "备注 note" in trail.text
    WebDriverWait(d, 10).until(lambda _d: note.get_attribute("value") == "")  # reset
    assert d.execute_script(OVERFLOW_X, trail) <= 0
    assert d.execute_script(OVERFLOW_X, d.find_element(By.ID, "dispatch-detail")) <= 0
    entry = I.load(r, keys, demo_incident).history[-1]
    assert (entry["action"], entry["by"], entry["note"]) == ("note", "officer1", NOTE)
    height, inner = d.execute_script(NO_PAGE_SCROLL)
    assert height <= inner, (height, inner)
    d.save_screenshot(str(screenshot_dir / "dispatch_note.png"))

    # C: clear (the focus is on the note button now)
    _key(b, "c")
    _wait_text(b, "dispatch-detail-status", "已清除")
    _wait_text(b, "dispatch-trail", "已清除")
    height, inner = d.execute_script(NO_PAGE_SCROLL)
    assert height <= inner, (height, inner)
    time.sleep(1.5)   # let the map and queue settle for the picture
    d.save_screenshot(str(screenshot_dir / "dispatch.png"))
    inc = I.load(r, keys, demo_incident)
    assert inc.status == "cleared" and inc.dispatched_at and inc.cleared_at
    assert U.get_unit(r, keys, "T-101").status == "free"
    trail = [(e["who"], e["action"]) for e in audit.read(r, keys, newest_first=False)]
    assert trail[-4:] == [("officer1", "acknowledge"), ("officer1", "assign"),
                          ("officer1", "note"), ("officer1", "status:cleared")]
    b.collect()
    assert b.foreign_requests() == []
    assert b.severe() == [], [m["message"][-400:] for m in b.severe()]


def test_aux_sees_the_incident_masked(dispatch_server, demo_incident, browser_factory,
                                      browser_store):
    from selenium.webdriver.common.by import By

    r, keys = browser_store.r, browser_store.keys
    if I.load(r, keys, demo_incident).status == "cleared":
        I.reopen(r, keys, User("duty", "officer"), demo_incident)
    b = browser_factory(1920, 1080)
    _login(b, dispatch_server, "aux1")
    _pick_row(b, demo_incident)
    d = b.driver
    page = d.find_element(By.TAG_NAME, "body").text
    assert "13905381234" not in page and "鲁J12345" not in page and "张伟" not in page
    assert "13912345678" not in page and "王小明" not in page
    assert "139****1234" in page
    assert not d.find_element(By.ID, "dispatch-btn-assign-nearest").is_enabled()
    assert not d.find_element(By.ID, "dispatch-btn-note").is_enabled()   # aux: no notes
    _key(b, "d")            # the shortcut clicks a disabled button: nothing happens
    assert I.load(r, keys, demo_incident).units == []
    height, inner = d.execute_script(NO_PAGE_SCROLL)
    assert height <= inner, (height, inner)
    b.collect()
    assert b.foreign_requests() == []
    assert b.severe() == [], [m["message"][-400:] for m in b.severe()]
