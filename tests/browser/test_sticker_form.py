"""The QR-sticker form on a phone (390x844) in headless Chromium against gunicorn: open the
sticker's URL, pick 积水, write a text with a phone number, send; the page says 已收到 with a
reference number; the report is in the wall's data (/api/v1/events?kind=report: source qr,
the phone masked for an anonymous caller); no request leaves 127.0.0.1."""
from __future__ import annotations

import json
import re

import pytest

from dashboard.citizen.stickers import Place, derive_key, encode

from .conftest import wait_for

pytestmark = pytest.mark.browser
PHONE = "13812345678"
PLACE = Place("intersection", 117.063812, 36.194477, ("东岳大街", "迎胜路"))


def test_a_citizen_reports_from_a_sticker_on_a_phone(live_server, browser_factory,
                                                     screenshot_dir):
    sid = encode(PLACE, derive_key("browser-test", "taian"))   # the server's LUKUANG_SECRET_KEY
    b = browser_factory(390, 844)
    d = b.driver
    d.get(f"{live_server}/r/{sid}")
    wait_for(d, lambda d: "东岳大街与迎胜路路口" in d.find_element("css selector", ".place").text,
             what="the place name")
    # the form fits the phone's width: nothing to scroll sideways
    assert d.execute_script("return document.documentElement.scrollWidth") <= 390
    d.find_element("css selector", "label.cat:nth-child(3) span").click()     # 积水
    assert d.find_element("id", "cat-flooding").is_selected()
    d.find_element("id", "text").send_keys(f"路口积水没过脚踝，回电{PHONE}")
    d.find_element("id", "phone").send_keys(PHONE)
    d.save_screenshot(str(screenshot_dir / "sticker-form-phone.png"))
    d.find_element("css selector", "button[type=submit]").click()
    ref = wait_for(d, lambda d: d.find_element("id", "ref").text, what="the reference number")
    assert "已收到" in d.find_element("tag name", "main").text
    assert re.fullmatch(r"\d{4}-[2-9A-Z]{8}", ref)
    d.save_screenshot(str(screenshot_dir / "sticker-received-phone.png"))

    def on_the_wall(d):
        d.get(f"{live_server}/api/v1/events?kind=report")
        data = json.loads(d.find_element("tag name", "body").text)
        return next((e for e in data["events"] if e["id"] == f"qr:{ref}"), None), data
    found = wait_for(d, lambda d: on_the_wall(d)[0], timeout=2.5, what="the report in the API")
    _, data = on_the_wall(d)
    assert found["source"] == "qr" and found["category"] == "flooding" and data["masked"]
    assert PHONE not in json.dumps(data, ensure_ascii=False)
    b.collect()
    assert b.foreign_requests() == [], b.foreign_requests()
    assert any("/r/" in u for u in b.urls)
