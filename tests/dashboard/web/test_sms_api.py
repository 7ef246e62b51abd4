"""POST /api/v1/sms/inbound through the real app and the real Redis: the shared secret, the
gateways' form and JSON bodies, aliases, the same answer as /api/v1/public/roads, refusals of
bad input, rate limits per sender and per client address, and the sender's number kept out
of Redis and the log."""
import logging
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app import create_app
from dashboard.comms.channels import sms_parts
from dashboard.live.sms import MAX_CONTENT_CHARS, SMS_MAX_UNITS, sms_units
from dashboard.roads.network import get_network
from dashboard.services import Services
from dashboard.timeutil import zone
from dashboard.web.sms_api import MAX_BODY_BYTES, ROUTE, SECRET_HEADER

SECRET = "gw-s3cret-为短信网关"
PHONE = "13812345678"
MASKED = "138****5678"
ROAD = "东岳大街"
AUTH = {SECRET_HEADER: SECRET}


@pytest.fixture(scope="module")
def net():
    return get_network(Path("/nonexistent-lukuang-state"))


@pytest.fixture
def make_client(settings):
    apps = []

    def make(**changes):
        app = create_app(replace(settings, **{"sms_secret": SECRET, **changes}))
        apps.append(app)
        return app.server.test_client()
    yield make
    for app in apps:
        app.server.config["LUKUANG"].close()


@pytest.fixture
def client(make_client):
    return make_client(sms_rate_limit=100)


def seed(store, net):
    """东岳大街: a 严重拥堵 stretch (segments 20-25), a 缓行 one (3-4), the rest 畅通."""
    now = time.time()
    ids = net.segments_of(ROAD)
    rows = [(sid, 1, 40.0, "amap", now) for sid in ids]
    rows[20:26] = [(sid, 4, 3.0, "amap", now) for sid in ids[20:26]]
    rows[3:5] = [(sid, 2, 20.0, "amap", now) for sid in ids[3:5]]
    store.set_congestion(rows, now=now)


def sms(client, content=ROAD, sender=PHONE, headers=AUTH, **kw):
    return client.post(ROUTE, data={"phone_number": sender, "content": content},
                       headers=headers, **kw)


def in_one_message(text: str) -> bool:
    whole = "【泰安交警】" + text
    return sms_units(whole) <= SMS_MAX_UNITS and len(sms_parts(whole)) == 1


def same_minute(seconds: float = 6.0) -> None:
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


# -- the secret -----------------------------------------------------------------------------------
def test_without_a_configured_secret_the_route_answers_503(make_client):
    c = make_client(sms_secret="")
    resp = sms(c)
    assert resp.status_code == 503
    assert resp.get_json()["error"].startswith("SMS gateway not configured")


@pytest.mark.parametrize("headers, extra", [
    ({}, {}), ({SECRET_HEADER: "wrong"}, {}), ({SECRET_HEADER: SECRET[:-1]}, {}),
    ({"Authorization": "Bearer wrong"}, {}), ({}, {"secret": "wrong"}),
    ({}, {"token": ""})])
def test_a_missing_or_wrong_secret_is_refused(client, headers, extra):
    resp = client.post(ROUTE, data={"phone_number": PHONE, "content": ROAD, **extra},
                       headers=headers)
    assert resp.status_code == 401 and "secret" in resp.get_json()["error"]
    assert "reply" not in resp.get_json()


def test_the_secret_in_the_query_string_is_not_accepted(client):
    resp = client.post(f"{ROUTE}?secret={SECRET}&token={SECRET}",
                       data={"phone_number": PHONE, "content": ROAD})
    assert resp.status_code == 401


@pytest.mark.parametrize("how", ["header", "bearer", "form secret", "json token"])
def test_the_secret_as_a_header_a_bearer_token_or_a_body_field(client, store, net, how):
    seed(store, net)
    body = {"phone_number": PHONE, "content": ROAD}
    if how == "header":
        resp = client.post(ROUTE, data=body, headers=AUTH)
    elif how == "bearer":
        resp = client.post(ROUTE, data=body, headers={"Authorization": f"Bearer {SECRET}"})
    elif how == "form secret":
        resp = client.post(ROUTE, data={**body, "secret": SECRET})
    else:
        resp = client.post(ROUTE, json={**body, "token": SECRET})
    assert resp.status_code == 200 and resp.get_json()["road"] == ROAD


def test_get_is_not_served(client):
    assert client.get(ROUTE).status_code == 405


# -- the gateways' bodies ------------------------------------------------------------------------
@pytest.mark.parametrize("body, as_json", [
    ({"phone_number": PHONE, "content": ROAD, "send_time": "2026-10-01 08:00:00",
      "sign_name": "泰安交警", "dest_code": "1234", "sequence_id": 7}, True),   # Aliyun SmsUp
    ({"mobile": PHONE, "nationcode": "86", "text": ROAD, "sign": "泰安交警",
      "time": 1790000000, "extend": ""}, True),                                 # Tencent Cloud
    ({"From": f"+86{PHONE}", "Text": ROAD}, False),                             # any case
    ({"mobile": PHONE, "sms_content": ROAD}, False),
    ({"sender": f"86-{PHONE[:3]}-{PHONE[3:]}", "msg": ROAD}, False)])
def test_the_common_gateway_fields_as_form_or_json(client, store, net, body, as_json):
    seed(store, net)
    resp = (client.post(ROUTE, json=body, headers=AUTH) if as_json
            else client.post(ROUTE, data=body, headers=AUTH))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    got = resp.get_json()
    assert got["to"] == MASKED and got["kind"] == "road" and got["road"] == ROAD
    assert got["reply"].startswith(f"{ROAD}：") and in_one_message(got["reply"])
    assert got["units"] == sms_units(got["reply"]) and got["sign_name"] == "泰安交警"
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("body, status, reason", [
    ({"content": ROAD}, 400, "sender is missing"),
    ({"phone_number": "", "content": ROAD}, 400, "sender is missing"),
    ({"phone_number": PHONE}, 400, "content is missing"),
    ({"phone_number": "<script>", "content": ROAD}, 400, "not a phone number"),
    ({"phone_number": PHONE, "content": "路" * (MAX_CONTENT_CHARS + 1)}, 400, "longer than"),
    ({"phone_number": PHONE, "content": "东岳\x07大街"}, 400, "control characters")])
def test_bad_input_gets_a_clear_400(client, body, status, reason):
    resp = client.post(ROUTE, data=body, headers=AUTH)
    assert resp.status_code == status and reason in resp.get_json()["error"]
    assert "reply" not in resp.get_json()


def test_bad_bodies_are_refused(client):
    assert "more than once" in client.post(
        ROUTE, data={"content": ROAD, "phone_number": [PHONE, "13900000000"]},
        headers=AUTH).get_json()["error"]
    arr = client.post(ROUTE, json=[PHONE, ROAD], headers=AUTH)
    assert arr.status_code == 400 and "JSON object" in arr.get_json()["error"]
    nested = client.post(ROUTE, json={"phone_number": PHONE, "content": {"a": 1}}, headers=AUTH)
    assert nested.status_code == 400 and "not text" in nested.get_json()["error"]
    broken = client.post(ROUTE, data=b"{not json", headers={**AUTH,
                                                             "Content-Type": "application/json"})
    assert broken.status_code == 400
    big = client.post(ROUTE, data={"phone_number": PHONE, "content": ROAD,
                                   "pad": "x" * MAX_BODY_BYTES}, headers=AUTH)
    assert big.status_code == 413 and "larger than" in big.get_json()["error"]


def test_an_empty_text_gets_the_help(client):
    got = sms(client, content="").get_json()
    assert got["kind"] == "help" and "发送道路名称" in got["reply"]


# -- the answer: the public query's truth ---------------------------------------------------------
def test_the_reply_is_the_public_answers_worst_stretch_level_and_time(client, store, net):
    seed(store, net)
    same_minute()
    public = client.get(f"/api/v1/public/roads?name={ROAD}").get_json()
    level = public["worst_level"]
    worst = max((s for s in public["stretches"] if s["level"] == level),
                key=lambda s: s["length_m"])
    hhmm = datetime.fromisoformat(public["data_time"]).astimezone(
        zone("Asia/Shanghai")).strftime("%H:%M")
    for asked in (ROAD, "东岳街", "查询东岳大街路况"):          # the name, its alias, wrapped
        got = sms(client, content=asked).get_json()
        assert got["reply"] == (f"{ROAD}：{worst['from']}至{worst['to']}段"
                                f"{public['worst_level_name']}。数据时间{hhmm}")
    assert level == 4 and public["worst_level_name"] == "严重拥堵"


def test_the_answer_follows_a_new_data_version(client, store, net):
    seed(store, net)
    assert "严重拥堵" in sms(client).get_json()["reply"]
    now = time.time()
    store.set_congestion([(sid, 1, 50.0, "amap", now) for sid in net.segments_of(ROAD)],
                         now=now)
    assert "全线畅通" in sms(client).get_json()["reply"]


def test_close_matches_for_an_unknown_road(client):
    got = sms(client, content="东越街").get_json()
    assert got["kind"] == "matches" and got["reply"].startswith("未找到东越街，您是否要查：东岳大街")


def test_plain_text_when_the_gateway_asks_for_it(client, store, net):
    seed(store, net)
    js = sms(client).get_json()["reply"]
    text = sms(client, headers={**AUTH, "Accept": "text/plain"})
    assert text.mimetype == "text/plain" and text.get_data(as_text=True) == js
    query = client.post(f"{ROUTE}?format=text", data={"phone_number": PHONE, "content": ROAD},
                        headers=AUTH)
    assert query.get_data(as_text=True) == js
    refused = sms(client, headers={SECRET_HEADER: "wrong", "Accept": "text/plain"})
    assert refused.status_code == 401 and "secret" in refused.get_data(as_text=True)
    # a browser-ish Accept prefers JSON
    assert sms(client, headers={**AUTH, "Accept": "*/*"}).mimetype == "application/json"


# -- limits ---------------------------------------------------------------------------------------
def test_one_sender_is_limited_however_its_number_is_written(make_client):
    c = make_client(sms_rate_limit=3, sms_rate_window_s=120)
    for sender in (PHONE, f"+86{PHONE}", f"0086 {PHONE}"):
        assert sms(c, sender=sender).status_code == 200
    over = sms(c, content="泰山大街")
    assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 120
    body = over.get_json()
    assert "too many queries from this number" in body["error"] and body["to"] == MASKED
    assert "reply" not in body
    # junk from the same number is refused by the limit too
    assert sms(c, content="东岳\x07大街").status_code == 429
    assert sms(c, sender="13900001111").status_code == 200      # another number


def test_one_client_address_is_limited_whatever_the_senders(make_client):
    c = make_client(sms_ip_rate_limit=3, sms_ip_rate_window_s=60)
    for i in range(3):
        assert sms(c, sender=f"1390000000{i}").status_code == 200
    over = sms(c, sender="13900000009")
    assert over.status_code == 429 and "from this address" in over.get_json()["error"]
    # wrong secrets count against the address as well
    assert sms(c, headers={SECRET_HEADER: "wrong"}).status_code == 429
    other = sms(c, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_outcomes_are_counted_without_numbers(client, r, keys):
    sms(client)
    sms(client, content="东越街")
    sms(client, headers={SECRET_HEADER: "wrong"})
    sms(client, content="a\x00")
    counts = r.hgetall(keys.sms_counts())
    assert counts == {"answered_road": "1", "answered_matches": "1", "refused_auth": "1",
                      "refused_bad_input": "1"}


def test_the_number_is_neither_stored_nor_logged(client, store, net, r, keys, caplog):
    seed(store, net)
    caplog.set_level(logging.DEBUG)
    c = client
    for _ in range(3):
        sms(c)
    sms(c, content="a\x00")
    for key in r.scan_iter(match=f"{keys.prefix}:*"):
        assert PHONE not in key and PHONE[-8:] not in key
        kind = r.type(key)
        values = (r.hgetall(key).items() if kind == "hash" else
                  [r.get(key)] if kind == "string" else [])
        assert PHONE not in str(list(values))
    assert PHONE not in caplog.text and MASKED in caplog.text


def test_redis_down_answers_503(settings):
    svc = Services.open(replace(settings, sms_secret=SECRET), start_embedded=False)
    svc.handle.client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                     retry=Retry(NoBackoff(), 0))
    app = create_app(replace(settings, sms_secret=SECRET), svc=svc)
    resp = sms(app.server.test_client())
    assert resp.status_code == 503 and "unreachable" in resp.get_json()["error"]
    svc.close()
