"""/dispatch in headless Chromium against gunicorn: an officer logs in, picks the demo
incident (a Weibo report at 长城路泰玻大街路口), dispatches the nearest unit, marks it on
scene and clears it; an auxiliary officer sees the same incident masked. No request may
leave 127.0.0.1 and the console must stay free of errors. Screenshot:
tests/browser/screenshots/dispatch.png."""
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


def test_officer_dispatches_the_nearest_unit_and_clears(dispatch_server, demo_incident,
                                                        browser_factory, browser_store,
                                                        screenshot_dir):
    from selenium.webdriver.common.by import By

    r, keys = browser_store.r, browser_store.keys
    b = browser_factory(1500, 1300)
    _login(b, dispatch_server, "officer1")
    _pick_row(b, demo_incident)
    d = b.driver
    # the officer sees the reporter's own words and contact
    assert "13905381234" in d.find_element(By.ID, "dispatch-detail").text
    _press(b, "dispatch-btn-assign-nearest", "已派警")
    assert "泰安交警101" in d.find_element(By.ID, "dispatch-message").text
    assert U.get_unit(r, keys, "T-101").status == "assigned"
    _press(b, "dispatch-btn-on-scene", "已到场")
    _press(b, "dispatch-btn-clear", "已清除")
    time.sleep(1.5)   # let the map and queue settle for the picture
    d.save_screenshot(str(screenshot_dir / "dispatch.png"))
    inc = I.load(r, keys, demo_incident)
    assert inc.status == "cleared" and inc.dispatched_at and inc.on_scene_at and inc.cleared_at
    assert U.get_unit(r, keys, "T-101").status == "free"
    trail = [(e["who"], e["action"]) for e in audit.read(r, keys, newest_first=False)]
    assert trail[-3:] == [("officer1", "assign"), ("officer1", "status:on_scene"),
                          ("officer1", "status:cleared")]
    b.collect()
    assert b.foreign_requests() == []
    assert b.severe() == [], [m["message"][-400:] for m in b.severe()]


def test_aux_sees_the_incident_masked(dispatch_server, demo_incident, browser_factory,
                                      browser_store):
    from selenium.webdriver.common.by import By

    r, keys = browser_store.r, browser_store.keys
    if I.load(r, keys, demo_incident).status == "cleared":
        I.reopen(r, keys, User("duty", "officer"), demo_incident)
    b = browser_factory(1500, 1300)
    _login(b, dispatch_server, "aux1")
    _pick_row(b, demo_incident)
    d = b.driver
    page = d.find_element(By.TAG_NAME, "body").text
    assert "13905381234" not in page and "鲁J12345" not in page and "张伟" not in page
    assert "13912345678" not in page and "王小明" not in page
    assert "139****1234" in page
    assert not d.find_element(By.ID, "dispatch-btn-assign-nearest").is_enabled()
    b.collect()
    assert b.foreign_requests() == []
    assert b.severe() == [], [m["message"][-400:] for m in b.severe()]
