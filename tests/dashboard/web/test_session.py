"""The wall's kiosk token: one check (dashboard.web.session.wall_token_ok) behind /wall, the
kiosk user of callback POSTs (the Referer fallback) and the wall callbacks."""
from dataclasses import replace

import pytest
from flask import Flask
from werkzeug.exceptions import Forbidden

from app import create_app
from callbacks import wall as CW
from dashboard.web.session import wall_token_ok

pytestmark = pytest.mark.topologies("single")

TOKEN = "kiosk-123"


def ok(url="/", referrer=None, configured=TOKEN, supplied=None):
    headers = {"Referer": referrer} if referrer else {}
    with Flask(__name__).test_request_context(url, headers=headers):
        return wall_token_ok(configured, supplied)


def test_no_configured_token_means_open():
    assert ok(configured="") and ok(configured="", supplied="anything")


def test_the_token_comes_from_the_query_else_from_the_referer():
    assert ok(f"/wall?token={TOKEN}")
    assert not ok("/wall") and not ok("/wall?token=wrong") and not ok(f"/wall?token={TOKEN}x")
    assert ok("/_dash-update-component", referrer=f"http://host/wall?token={TOKEN}")
    assert not ok("/_dash-update-component", referrer="http://host/wall?token=wrong")
    # a ?token= of the request itself wins over the Referer's
    assert not ok("/wall?token=wrong", referrer=f"http://host/wall?token={TOKEN}")


def test_a_supplied_token_is_compared_instead_of_the_request():
    assert ok("/wall?token=wrong", supplied=TOKEN)
    assert not ok(f"/wall?token={TOKEN}", supplied="")
    assert not ok(supplied="令牌") and ok(configured="令牌", supplied="令牌")   # not only ASCII


@pytest.fixture
def kiosk(settings):
    app = create_app(replace(settings, wall_token=TOKEN))
    yield app.server.test_client()
    app.server.config["LUKUANG"].close()


def test_wall_page_referer_and_non_ascii_tokens(kiosk):
    assert kiosk.get("/wall", headers={"Referer": f"http://h/wall?token={TOKEN}"}).status_code \
        == 200
    refused = kiosk.get("/wall?token=%E4%BB%A4%E7%89%8C")                # 令牌: 403, not a 500
    assert refused.status_code == 403 and refused.mimetype == "text/plain"
    assert refused.get_data(as_text=True) == "403 Forbidden: wall token missing or wrong\n"


def test_wall_callbacks_use_the_same_check(settings, monkeypatch):
    s = replace(settings, wall_token=TOKEN)
    seen = []

    def spy(configured, supplied=None):
        seen.append((configured, supplied))
        return supplied == TOKEN
    monkeypatch.setattr(CW.session, "wall_token_ok", spy)
    CW.authorise(f"?token={TOKEN}", s)
    with pytest.raises(Forbidden):
        CW.authorise("?token=令牌", s)
    assert seen == [(TOKEN, TOKEN), (TOKEN, "令牌")]
