"""/r/<sticker id> through the real app and the real Redis: the form, forged ids, every
refusal with its reason and the typed input kept, the same-origin check, the limits per
client and per sticker, a resend, and the report on the wall's data (source qr, masked for
anonymous callers)."""
import re
from dataclasses import replace

import pytest

from app import create_app
from dashboard.auth import add_user
from dashboard.citizen import movecar
from dashboard.citizen.stickers import Place, derive_key, encode

SECRET = "test-secret-key"
PLACE = Place("intersection", 117.063812, 36.194477, ("东岳大街", "迎胜路"))
SID = encode(PLACE, derive_key(SECRET, "taian"))
ORIGIN = {"Origin": "http://localhost"}
PHONE, PLATE = "13812345678", "鲁J12345"


@pytest.fixture
def make_app(settings):
    apps = []

    def make(**changes):
        app = create_app(replace(settings, **{"secret_key": SECRET, **changes}))
        apps.append(app)
        return app
    yield make
    for app in apps:
        app.server.config["LUKUANG"].close()


@pytest.fixture
def client(make_app):
    return make_app().server.test_client()


def open_form(client, sid=SID):
    resp = client.get(f"/r/{sid}")
    assert resp.status_code == 200, resp.data[:300]
    html = resp.data.decode()
    return {"token": re.search(r'name="token" value="([^"]+)"', html).group(1),
            "csrf": re.search(r'name="csrf" value="([^"]*)"', html).group(1)}


def post(client, fields, sid=SID, headers=ORIGIN, **form):
    return client.post(f"/r/{sid}", data={**fields, **form}, headers=headers)


def text_of(resp) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<style>.*?</style>|<[^>]+>", " ", resp.data.decode(),
                                      flags=re.S))


def test_the_form_page(client):
    resp = client.get(f"/r/{SID}")
    body = resp.data.decode()
    assert resp.status_code == 200 and "东岳大街与迎胜路路口" in body
    for label in ("事故", "拥堵", "积水", "信号灯故障", "违停/挪车", "其他"):
        assert f"<span>{label}</span>" in body
    assert "<script" not in body and "script-src" not in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert 'name="place"' not in body and 'name="lon"' not in body    # never from the phone


def test_forged_and_altered_ids_are_404(client):
    other = encode(PLACE, derive_key("another-key", "taian"))
    for sid in (other, SID[:-3] + "abc", "x" * 40, "AAAA"):
        for resp in (client.get(f"/r/{sid}"), post(client, {"category": "jam"}, sid=sid)):
            assert resp.status_code == 404 and "二维码无效" in resp.data.decode()


def test_an_accepted_report_is_on_the_wall_data_masked(make_app):
    app = make_app()
    client = app.server.test_client()
    resp = post(client, open_form(client), category="parking", plate="鲁j 12345",
                phone=PHONE, text=f"白车挡住出口，车主电话{PHONE}")
    page = text_of(resp)
    assert resp.status_code == 200 and "已收到" in page and "挪车" in page
    ref = re.search(r'id="ref">([^<]+)<', resp.data.decode()).group(1)
    assert re.fullmatch(r"\d{4}-[2-9A-Z]{8}", ref)
    data = client.get("/api/v1/events?kind=report").get_json()
    ev = next(e for e in data["events"] if e["id"] == f"qr:{ref}")
    assert ev["source"] == "qr" and data["masked"] and PHONE not in str(data)
    assert PLATE not in str(data)
    svc = app.server.config["LUKUANG"]
    assert svc.store.get_private(f"qr:{ref}") ["plate"] == PLATE
    assert movecar.active_count(svc.r, svc.keys) == 1
    add_user(svc.r, svc.keys, "li.wei", "officer", "a-long-password")
    officer = app.server.test_client()
    officer.post("/login", data={"username": "li.wei", "password": "a-long-password",
                                 "next": "/"}, headers=ORIGIN)
    full = officer.get("/api/v1/events?kind=report").get_json()
    assert full["masked"] is False


def test_a_form_sent_twice_is_one_report(client):
    fields = open_form(client)
    first = post(client, fields, category="jam")
    second = post(client, fields, category="jam")
    assert first.status_code == second.status_code == 200
    assert "已收到过" in second.data.decode()
    assert client.get("/api/v1/events?kind=report").get_json()["count"] == 1


@pytest.mark.parametrize("form, status, words", [
    ({"category": "jam", "text": "堵" * 301}, 400, "太长"),
    ({"category": "jam", "phone": "12345"}, 400, "回电号码"),
    ({"category": "parking", "plate": "ABC"}, 400, "车牌号"),
    ({"category": "parking"}, 400, "车牌号"),
    ({"category": ""}, 400, "类别"),
    ({"category": "jam", "token": "forged-token-AAAAAAAAAAAA"}, 400, "过期"),
])
def test_refusals_say_why_and_keep_the_input(client, form, status, words):
    fields = {**open_form(client), "text": form.get("text", "前方两车"), **form}
    resp = post(client, fields)
    body = resp.data.decode()
    assert resp.status_code == status and words in body and "仍在下方" in body
    assert fields["text"][:50] in body                      # what was typed is kept
    assert 'name="token" value="' in body                   # and a fresh form to send again
    assert client.get("/api/v1/events?kind=report").get_json()["count"] == 0


def test_another_site_cannot_post(client):
    fields = open_form(client)
    resp = post(client, fields, headers={"Origin": "https://evil.example"}, category="jam")
    assert resp.status_code == 403 and "来源核验" in resp.data.decode()
    # no Origin nor Referer: the session's token (a page of this site) is required
    assert post(client, {**fields, "csrf": "wrong"}, headers={}, category="jam").status_code == 403
    assert post(client, fields, headers={}, category="jam").status_code == 200


def test_a_flood_from_one_client_is_refused_with_retry_after(make_app):
    client = make_app(qr_rate_limit=2).server.test_client()
    codes = [post(client, open_form(client), category="jam").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = post(client, open_form(client), category="jam", text="还在堵")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "还在堵" in resp.data.decode()


def test_a_flood_on_one_sticker_is_refused(make_app):
    client = make_app(qr_sticker_rate_limit=1).server.test_client()
    assert post(client, open_form(client), category="jam").status_code == 200
    other = client.post(f"/r/{SID}", data={**open_form(client), "category": "jam"},
                        headers=ORIGIN, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 429 and "此处报告过多" in other.data.decode()
