"""The pages the other browser tests do not open, as their users see them: the public road
query on a phone, the login page and the feed health page at 1920x1080; screenshots for the
README (tests/browser/screenshots/)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from dashboard.auth import add_user
from dashboard.roads.network import load_network

pytestmark = pytest.mark.browser

PASSWORD = "pages-pass-123"
ROAD = "东岳大街"
NO_SIDEWAYS = "return [document.scrollingElement.scrollWidth, window.innerWidth];"


def wait_until(fn, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return None


def assert_clean(b) -> None:
    b.collect()
    assert b.urls and b.foreign_requests() == []
    assert b.severe() == []


def test_the_public_road_query_on_a_phone(live_server, browser_store, browser_factory,
                                          screenshot_dir):
    from selenium.webdriver.common.by import By

    net = load_network(Path(__file__).resolve().parents[2] / "data" / "taian" / "roads.geojson")
    segs = net.segments_of(ROAD)
    now = time.time()
    browser_store.set_congestion([(s, 1 + i % 4, 20.0 + i, "amap", now)
                                  for i, s in enumerate(segs)])
    b = browser_factory(390, 844)
    b.driver.get(f"{live_server}/public?name={ROAD}")
    rows = wait_until(lambda: b.driver.find_elements(By.CSS_SELECTOR, "main li .row"))
    assert rows, "no stretch listed"
    labels = [r.text.split("\n")[0] for r in rows if r.text.startswith(ROAD)]
    assert labels and len(labels) == len(set(labels)), labels   # each stretch named once
    width, inner = b.driver.execute_script(NO_SIDEWAYS)
    assert width <= inner, (width, inner)          # no sideways scroll on a phone
    assert b.driver.find_elements(By.TAG_NAME, "script") == []   # a page without JavaScript
    b.driver.save_screenshot(str(screenshot_dir / "public-phone.png"))
    assert_clean(b)


def test_the_login_and_feed_health_pages(live_server, browser_store, browser_factory,
                                         screenshot_dir):
    from selenium.webdriver.common.by import By

    add_user(browser_store.r, browser_store.keys, "pages-admin", "admin", PASSWORD)
    now = time.time()
    browser_store.update_feed_health("amap", {"accepted": 120}, last_ok=now - 20, lag_s=3)
    browser_store.update_feed_health("weibo", {"accepted": 48, "duplicates": 5,
                                               "quarantined": 2}, last_ok=now - 40, lag_s=9)
    b = browser_factory(1920, 1080)
    d = b.driver
    d.get(f"{live_server}/login?next=/feeds")
    box = wait_until(lambda: d.find_elements(By.NAME, "username"))
    assert box
    d.save_screenshot(str(screenshot_dir / "login.png"))
    box[0].send_keys("pages-admin")
    d.find_element(By.NAME, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    table = wait_until(lambda: d.find_elements(By.CSS_SELECTOR, "#feeds-table table"))
    assert table, "the feed table did not load"
    width, inner = d.execute_script(NO_SIDEWAYS)
    assert width <= inner, (width, inner)
    d.save_screenshot(str(screenshot_dir / "feeds.png"))
    assert_clean(b)
