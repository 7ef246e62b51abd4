"""The PII corpus (``tests/pii_corpus.txt``, issue 15) ingested through the real feeds
(hotline CSV, Weibo statuses, and each line as a Waze driver's description, which Waze
keeps as written) into a real Redis, then rendered through the real app (Flask test client)
for every caller that may not see personal data: anonymous, the wall kiosk, auxiliary
police (aux) and comms staff.

Rendered: every GET route under /api/ (and ``/api/v1/events?kind=…``,
``/api/v1/incidents?state=all``), the public road query for every road (JSON and the
page), every Dash callback of the app as each of those callers (the wall's refresh and
ticker, the dispatch queue, map and the detail of every open incident for aux, the feeds
page with its quarantine table …), and what those screens would list without their
length limits (all ticker items, all quarantined records, every dispatch detail).
The personal values of the corpus lines are searched in every string of every answer,
separators removed and full-width digits folded: 0 hits. The corpus is ingested in a few
rounds so that no Weibo post is folded into another's cluster (a cluster shows only its
newest post) and every line is drawn.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from callbacks import feeds_page as FP
from dashboard.auth import User, add_user
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.dispatch.fusion import FusionRules
from dashboard.live import wall as W
from dashboard.masking import WITHHELD
from dashboard.timeutil import SHANGHAI
from dashboard.web.api import PUBLIC_ATTRS, PUBLIC_EVENT_FIELDS
from feeds.hotline import HotlineAdapter
from feeds.pipeline import ingest_payload
from feeds.waze import WazeAdapter
from feeds.weibo import WeiboAdapter
from layouts import ids
from tests.callbacks.test_roles import body_of, register_every_callback, variants
from tests.feeds import make_ctx
from tests.pii_corpus import (hits, hotline_payload, hotline_ref, load, strings_of,
                               text_of_body, waze_payload, weibo_payload)

CHECKED = ("anonymous", "wall", "aux", "comms")       # roles without see_pii
PASSWORD = "correct horse battery"
WALL_TOKEN = "kiosk-token-for-pii-tests"
HOSTILE_CALLSIGN = '<a href="https://evil.example/x">T-101</a>'


@pytest.fixture
def app(settings):
    s = replace(settings, wall_token=WALL_TOKEN, public_rate_limit=1_000_000)
    register_every_callback()
    dash_app = create_app(s)
    yield dash_app
    dash_app.server.config["LUKUANG"].close()


def clients(app) -> dict[str, Any]:
    svc = app.server.config["LUKUANG"]
    out = {"anonymous": app.server.test_client()}
    for role in CHECKED[1:]:
        add_user(svc.r, svc.keys, f"pii-{role}", role, PASSWORD)
        c = app.server.test_client()
        resp = c.post("/login", data={"username": f"pii-{role}", "password": PASSWORD,
                                      "next": "/"}, headers={"Origin": "http://localhost"})
        assert resp.status_code == 302 and "error" not in resp.headers["Location"], role
        out[role] = c
    return out


def rounds(lines, network) -> list[list]:
    """The corpus in rounds where no two Weibo posts share a place and category (they
    would be one cluster showing only the newest post)."""
    wb = [ln for ln in lines if ln.kind == "weibo"]
    parsed = WeiboAdapter().parse(weibo_payload(wb, datetime.now(timezone.utc)),
                                  make_ctx("weibo", now=datetime.now(timezone.utc),
                                           network=network))
    key = {e.id: (e.attrs["place_key"], e.category) for e in parsed.events}
    out: list[list] = [[]]
    used: list[set] = [set()]
    for ln in wb:
        k = key.get(f"weibo:9100{ln.n:03d}")
        i = next((i for i, u in enumerate(used) if k is None or k not in u), None)
        if i is None:
            out.append([])
            used.append(set())
            i = len(out) - 1
        out[i].append(ln)
        if k is not None:
            used[i].add(k)
    others = [ln for ln in lines if ln.kind != "weibo"]
    for n, ln in enumerate(others):
        out[n % len(out)].append(ln)
    return out


def clear(svc) -> None:
    """Everything but the accounts and sessions."""
    for key in svc.r.scan_iter(match=f"{svc.keys.prefix}:*", count=1000):
        if not any(p in key for p in (":user:", ":users", ":session:", ":loginfail:")):
            svc.r.delete(key)


def ingest(svc, batch, now: float) -> None:
    """One round through the real adapters and pipeline (fusion on, as the runner has it)."""
    when = datetime.fromtimestamp(now, timezone.utc)
    net = svc.network
    points = [tuple(net.segment(sid)["coords"][0]) for sid in list(net.segments.index)[::9]]

    def ctx(feed):
        c = make_ctx(feed, now=when, network=net)
        c.fusion = FusionRules.from_settings(svc.settings)
        return c
    local = datetime.fromtimestamp(now - 180, SHANGHAI).strftime("%Y-%m-%d %H:%M")
    hot = [ln for ln in batch if ln.kind.startswith("hotline")]
    wb = [ln for ln in batch if ln.kind == "weibo"]
    ingest_payload(HotlineAdapter(), hotline_payload(hot, local), ctx("hotline"), svc.store)
    ingest_payload(WeiboAdapter(), weibo_payload(wb, when - timedelta(minutes=4)),
                   ctx("weibo"), svc.store)
    # a Waze driver has no name column: the lines whose personal values all stand in the
    # text itself (not only in the hotline's name column or as the Weibo author's name)
    drivers = [ln for ln in batch if not hits(ln.text, [v for v in (ln.name, ln.phone) if v])]
    ingest_payload(WazeAdapter(), waze_payload(drivers, points, int((now - 120) * 1000)),
                   ctx("waze"), svc.store)
    lon, lat = points[0]
    U.apply_feed(svc.r, svc.keys, [
        U.UnitReport("T-101", "patrol_car", HOSTILE_CALLSIGN, lon, lat, "free", now),
        U.UnitReport("Q-301", "tow_truck", "清障301", lon + 0.01, lat, "free", now)])


def render(app, cl, svc, now: float) -> list[tuple[str, str]]:
    """(what, text) of every answer a caller without see_pii gets."""
    out: list[tuple[str, str]] = []
    incs = I.open_incidents(svc.r, svc.keys)
    assert incs, "the corpus made no incident: the dispatch views would show nothing"
    first, last = incs[0], incs[-1]
    reports = I.unlinked_reports(svc.r, svc.keys, User("x", "officer"))
    s = {"a": first.id, "b": last.id, "rev_b": last.rev, "free_unit": "Q-301",
         "b_unit": "T-101", "report": reports[0]["id"] if reports else ""}
    for var in variants(app):
        for role in CHECKED:
            body = body_of(var, s)
            if role == "anonymous":   # the kiosk: the token in the page URL
                for item in body["state"] + body["inputs"]:
                    if item["property"] == "search":
                        item["value"] = f"?token={WALL_TOKEN}"
            resp = cl[role].post("/_dash-update-component", json=body)
            out.append((f"callback {var['first']}#{var['trigger']} [{var['path']}] as {role}",
                        text_of_body(resp.data)))
    # the detail of every open incident, as aux opens it from the queue
    grid = next(v for v in variants(app) if v["first"] == ids.DISPATCH_GRID)
    for inc in incs:
        body = body_of(grid, {**s, "b": inc.id, "rev_b": inc.rev})
        for item in body["inputs"]:
            if item["property"] == "selectedRows":
                item["value"] = [{"id": inc.id}]
        resp = cl["aux"].post("/_dash-update-component", json=body)
        assert resp.status_code == 200, resp.data[:200]
        out.append((f"dispatch detail {inc.id} as aux", text_of_body(resp.data)))
    # every GET route under /api/, and the event and incident lists by kind and state
    urls = ["/api/v1/events?kind=report", "/api/v1/events?kind=incident",
            "/api/v1/events?kind=construction", "/api/v1/incidents?state=all"]
    for rule in app.server.url_map.iter_rules():
        if "GET" in rule.methods and rule.rule.startswith("/api/") and "<" not in rule.rule:
            urls.append(rule.rule)
    urls.append("/api/v1/timeseries/new:report")
    for url in urls:
        for role in CHECKED:
            out.append((f"GET {url} as {role}", text_of_body(cl[role].get(url).data)))
    # the public road query, every road, as the phone asks it
    for road in svc.network.road_names():
        for url in (f"/api/v1/public/roads?name={road}", f"/public?name={road}"):
            resp = cl["anonymous"].get(url)
            assert resp.status_code == 200, (url, resp.status_code)
            out.append((f"GET {url}", text_of_body(resp.data)))
    # what the screens hold beyond their length limits
    tz = ZoneInfo(svc.settings.timezone)
    out.append(("all ticker items", "\n§\n".join(
        strings_of(W.ticker_items(svc.store, now, tz, limit=10_000, max_chars=10_000)))))
    feeds = sorted(svc.store.feed_health())
    out.append(("all quarantined, restricted", "\n§\n".join(strings_of(
        FP.quarantine_groups(svc.store, feeds, tz, per_feed=10_000, restricted=True)))))
    aux = User("pii-aux", "aux")
    out.append(("queue for aux", "\n§\n".join(strings_of(I.queue_rows(svc.r, svc.keys, aux)))))
    out.append(("unlinked reports for aux", "\n§\n".join(strings_of(
        I.unlinked_reports(svc.r, svc.keys, aux, limit=10_000)))))
    for inc in incs:
        out.append((f"detail {inc.id} for aux", "\n§\n".join(strings_of(
            I.detail(svc.r, svc.keys, aux, inc.id)))))
    return out


def map_hover_text(app, client) -> list[str]:
    """Every hover label of the dispatch map as aux's page receives it."""
    var = next(v for v in variants(app) if v["first"] == ids.DISPATCH_TICK)
    resp = client.post("/_dash-update-component", json=body_of(var, {
        "a": "", "b": "", "rev_b": 0, "free_unit": "", "b_unit": "", "report": ""}))
    assert resp.status_code == 200, resp.data[:200]
    figure = resp.get_json()["response"][ids.DISPATCH_MAP]["figure"]
    return [h for trace in figure["data"] for h in trace.get("hovertext", [])]


def test_the_corpus_rendered_for_every_caller_without_see_pii(app, capsys):
    svc = app.server.config["LUKUANG"]
    cl = clients(app)
    lines = load()
    values = sorted({v for ln in lines for v in ln.values})
    findings: list[str] = []
    answers = drawn = withheld = shown_texts = 0
    started = time.monotonic()
    batches = rounds(lines, svc.network)
    for batch in batches:
        clear(svc)
        now = time.time()
        ingest(svc, batch, now)
        rendered = render(app, cl, svc, now)
        answers += len(rendered)
        for what, text in rendered:
            findings += [f"{what}: {v}" for v in hits(text, values)]
        # the lines were drawn: every accepted record is in the anonymous event list
        events = next(t for w, t in rendered if w == "GET /api/v1/events as anonymous")
        refs = [hotline_ref(ln) for ln in batch if ln.kind == "hotline"]
        refs += [f"waze:pii-{ln.n:03d}" for ln in batch
                 if not hits(ln.text, [v for v in (ln.name, ln.phone) if v])]
        drawn += sum(r in events for r in refs)
        stored = svc.store.active_events()
        shown_texts += sum(1 for e in stored if e.text)
        withheld += events.count(WITHHELD)
        # a masked event is its structured summary and masked text, nothing else
        for ev in cl["anonymous"].get("/api/v1/events").get_json()["events"]:
            assert set(ev) <= set(PUBLIC_EVENT_FIELDS) | {"text", "attrs"}, sorted(ev)
            assert set(ev["attrs"]) <= set(PUBLIC_ATTRS), ev["attrs"]
        # a unit call sign from the feed is plain text in the dispatch map's hover label
        hover = map_hover_text(app, cl["aux"])
        assert any("T-101" in h for h in hover) and not any("<" in h for h in hover)
    with capsys.disabled():
        print(f"\n[pii restricted] corpus {len(lines)} lines, {len(values)} personal values, "
              f"{len(batches)} rounds, {answers} answers to anonymous/wall/aux/comms "
              f"({time.monotonic() - started:.0f} s); records drawn {drawn}; event texts "
              f"{shown_texts}, withheld (内容已隐藏) {withheld}; hits {len(findings)}")
    assert findings == [], "\n".join(findings[:40])
    total = sum(1 for ln in lines if ln.kind == "hotline") + sum(
        1 for ln in lines if not hits(ln.text, [v for v in (ln.name, ln.phone) if v]))
    assert drawn >= total * 0.9, (drawn, total)
    assert withheld <= shown_texts * 0.1   # masking, not hiding, is the rule
