"""Stored XSS: a corpus of hostile strings goes in through every text field of every feed
(through the real adapters and ingest pipeline), through the dispatch note and the comms
draft, and every page is then opened in headless Chromium as every role that has pages.

Every payload, if the browser ever executed it, bumps ``window.__xss`` (or calls alert,
which the page's own first script replaces with a counter). After each page has rendered:
- ``window.__xss`` and the alert counter are 0 and the title is not "XSS";
- no element carries an ``on*`` attribute, a ``javascript:`` URL or an ``srcdoc`` that
  came from a payload (the DOM is queried, including Plotly's SVG);
- across the pages, every payload's token is visible as text, and the payloads that a
  feed keeps verbatim are visible verbatim (so they were rendered, not dropped).
The JSON API routes must answer ``application/json`` with ``nosniff`` (never HTML).
"""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import app as lukuang_app
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.auth import ROLES, User, add_user, has_permission
from dashboard.comms.bulletin_store import BulletinStore
from dashboard.comms.bulletins import parse_text
from dashboard.roads.geo import wgs84_to_gcj02
from dashboard.roads.network import load_network
from dashboard.settings import load_settings
from feeds.pipeline import ingest_payload, make_context
from feeds.registry import get_adapter

from .conftest import REPO, WALL_TOKEN, log_out

pytestmark = pytest.mark.browser
PASSWORD = "xss-corpus-pass-1"
BUMP = "window.__xss=(window.__xss||0)+1"
# token → payload. The token is plain text so it survives adapters that strip tags.
CORPUS: dict[str, str] = {
    "XSSA01": f"XSSA01<script>{BUMP};alert(1)</script>",
    "XSSA02": f'XSSA02<img src=x onerror="{BUMP};alert(2)">',
    "XSSA03": f"XSSA03<svg onload={BUMP}><circle r=9></circle></svg>",
    "XSSA04": f"XSSA04 javascript:{BUMP}",
    "XSSA05": f"XSSA05 [click](javascript:{BUMP})",
    "XSSA06": f'XSSA06 ![x](x" onerror="{BUMP})',
    "XSSA07": f"XSSA07 <details open ontoggle={BUMP}>**md** <a href=\"javascript:{BUMP}\">a</a>",
    "XSSA08": f"XSSA08<iframe srcdoc=\"<script>parent.__xss=(parent.__xss||0)+1</script>\">",
    "XSSA09": f"XSSA09\" onmouseover=\"{BUMP}\" autofocus onfocus=\"{BUMP}\" x='y' '",
    "XSSA10": f"XSSA10</textarea></title></style><img src=x onerror={BUMP}>",
    "XSSA11": "XSSA11 {{7*7}} ${7*7} {{constructor.constructor('" + BUMP + "')()}}",
    "XSSA12": "XSSA12 \u202egnp.exe\u202c \u200b\ufeff 路口",
    "XSSA13": "XSSA13" + "长" * 2400 + f"<img src=x onerror={BUMP}>" + "A" * 2580,
    "XSSA14": f"XSSA14</script><script>{BUMP}</script><!--",
}
# payloads whose raw form contains markup; some feeds keep it verbatim
VERBATIM_PROBES = {t: p[:40] for t, p in CORPUS.items() if "<" in p[:40]}
INIT_JS = """
window.__xss = 0; window.__alerts = 0;
window.alert = window.confirm = window.prompt = function () { window.__alerts += 1; };
"""
DOM_CHECK = """
var bad = [];
var urlAttrs = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc'];
document.querySelectorAll('*').forEach(function (el) {
  for (var i = 0; i < el.attributes.length; i++) {
    var a = el.attributes[i], n = a.name.toLowerCase(), v = a.value || '';
    var hostile = /__xss|alert\\(|XSSA/.test(v);
    if (n.indexOf('on') === 0 && hostile) bad.push(el.tagName + ' ' + n + '=' + v.slice(0, 60));
    if (urlAttrs.indexOf(n) >= 0 && (/^\\s*javascript:/i.test(v) || hostile))
      bad.push(el.tagName + ' ' + n + '=' + v.slice(0, 60));
  }
  var inner = el.textContent + (el.getAttribute('srcdoc') || '');
  if (/^(SCRIPT|IFRAME)$/.test(el.tagName) && /__xss|XSSA/.test(inner))
    bad.push(el.tagName + ' from a payload');
});
var values = [];
document.querySelectorAll('input, textarea').forEach(function (el) {
  values.push(el.value || '');
});
return {xss: window.__xss || 0, alerts: window.__alerts || 0, title: document.title,
        bad: bad, text: document.body ? document.body.innerText : '',
        content: document.body ? document.body.textContent : '', values: values.join('\\n')};
"""


# -- the corpus into every feed ---------------------------------------------------------------
def _points(net, n: int) -> list[tuple[float, float]]:
    """``n`` distinct crossings of the demo network (for reports that need a place)."""
    names = net.road_names()
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p = net.intersection(a, b)
            if p and all(abs(p[0] - q[0]) + abs(p[1] - q[1]) > 0.01 for q in out):
                out.append(p)
            if len(out) == n:
                return out
    raise AssertionError("the demo network has too few crossings")


def waze_payload(pts, now: float) -> bytes:
    alerts, jams = [], []
    for n, ((token, text), (lon, lat)) in enumerate(zip(CORPUS.items(), pts)):
        alerts.append({"country": "CH", "city": text, "reportRating": 3, "confidence": 2,
                       "reliability": 8, "type": "ACCIDENT", "subtype": "ACCIDENT_MAJOR",
                       "uuid": f"6a1f0c2e-0000-4b7a-9d1e-{n:012d}", "roadType": 2,
                       "magvar": 90, "street": text, "reportDescription": text,
                       "location": {"x": lon + 0.0004, "y": lat},
                       "pubMillis": int((now - 120) * 1000)})
        jams.append({"country": "CH", "city": text, "level": 4, "speedKMH": 8.5,
                     "line": [{"x": lon - 0.003, "y": lat}, {"x": lon, "y": lat}],
                     "length": 300, "turnType": "NONE", "type": "NONE", "uuid": 990000 + n,
                     "speed": 2.36, "roadType": 2, "delay": 240, "street": text,
                     "endNode": text, "startNode": text, "id": 990000 + n,
                     "pubMillis": int((now - 120) * 1000)})
    end = int(now // 60) * 60
    return json.dumps({"startTimeMillis": (end - 60) * 1000, "endTimeMillis": end * 1000,
                       "alerts": alerts, "jams": jams, "irregularities": []},
                      ensure_ascii=False).encode()


def wzdx_payload(pts, now: float) -> bytes:
    iso = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa
    feats = []
    for n, ((token, text), (lon, lat)) in enumerate(zip(CORPUS.items(), pts)):
        feats.append({"id": f"xss-wz-{n:04d}", "type": "Feature", "properties": {
            "core_details": {"data_source_id": "xss-1", "event_type": "work-zone",
                             "road_names": [text, text], "direction": "eastbound",
                             "description": text, "name": text},
            "start_date": iso(now - 3600), "end_date": iso(now + 86400),
            "vehicle_impact": "some-lanes-closed", "reduced_speed_limit_kph": 30,
            "lanes": [{"order": 1, "status": "closed", "type": "general"},
                      {"order": 2, "status": "open", "type": "general"}],
            "types_of_work": [{"type_name": "below-road-work", "is_architectural_change": False}],
            "is_start_date_verified": False, "is_end_date_verified": False,
            "is_start_position_verified": False, "is_end_position_verified": False,
            "location_method": "channel-device-method"},
            "geometry": {"type": "LineString",
                         "coordinates": [[lon, lat - 0.002], [lon, lat + 0.002]]}})
    text = CORPUS["XSSA02"]
    return json.dumps({"feed_info": {"update_date": iso(now - 60), "publisher": text,
                                     "version": "4.2", "data_sources": [
                                         {"data_source_id": "xss-1", "organization_name": text,
                                          "update_date": iso(now - 60)}]},
                       "type": "FeatureCollection", "features": feats},
                      ensure_ascii=False).encode()


def amap_payload(net, now: float) -> bytes:
    roads = []
    for n, (token, text) in enumerate(CORPUS.items()):
        seg = net.segment(net.segments_of(net.road_names()[n % len(net.road_names())])[0])
        roads.append({"name": text, "status": "3", "direction": text, "angle": "88",
                      "lcodes": f"-{12000 + n}", "speed": "12",
                      "polyline": ";".join(f"{x:.6f},{y:.6f}" for x, y in (
                          wgs84_to_gcj02(*c) for c in seg["coords"]))})
    text = CORPUS["XSSA07"]
    return json.dumps({"status": "1", "info": "OK", "infocode": "10000", "trafficinfo": {
        "description": text, "evaluation": {"expedite": "50.00%", "congested": "25.00%",
                                            "blocked": "16.67%", "unknown": "8.33%",
                                            "status": "3", "description": text},
        "roads": roads}}, ensure_ascii=False).encode()


def weibo_payload(pts, now: float) -> bytes:
    statuses = []
    for n, ((token, text), (lon, lat)) in enumerate(zip(CORPUS.items(), pts)):
        gx, gy = wgs84_to_gcj02(lon, lat)
        when = datetime.fromtimestamp(now - 300 + n, timezone(timedelta(hours=8)))
        sid = 5990000000000000 + n
        statuses.append({
            "created_at": when.strftime("%a %b %d %H:%M:%S %z %Y"), "id": sid,
            "idstr": str(sid), "mid": str(sid), "text": f"路口堵车 @泰山交警 {text}",
            "source": text, "reposts_count": 3, "comments_count": 5, "attitudes_count": 12,
            "geo": {"type": "Point", "coordinates": [round(gy, 6), round(gx, 6)]},
            "user": {"id": 6990000000 + n, "idstr": str(6990000000 + n),
                     "screen_name": text, "name": text, "followers_count": 321,
                     "location": text, "description": text}})
    return json.dumps({"statuses": statuses, "total_number": len(statuses)},
                      ensure_ascii=False).encode()


def hotline_payload(pts, now: float) -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(("工单号", "来电时间", "来电号码", "来电人", "事件类型", "事发地点", "诉求内容",
                  "经度", "纬度"))
    local = timezone(timedelta(hours=8))
    for n, ((token, text), (lon, lat)) in enumerate(zip(CORPUS.items(), pts)):
        when = datetime.fromtimestamp(now - 240 - n, local).strftime("%Y-%m-%d %H:%M:%S")
        out.writerow((f"TX{n:08d}", when, "13800138000", text, "交通事故", text,
                      f"两车追尾 {text}", f"{lon - 0.0004:.6f}", f"{lat:.6f}"))
    # a row whose every text column (the event type too) is hostile
    out.writerow(("TX99999999", datetime.fromtimestamp(now - 200, local).strftime(
        "%Y-%m-%d %H:%M:%S"), CORPUS["XSSA02"], CORPUS["XSSA02"], CORPUS["XSSA10"],
        CORPUS["XSSA03"], CORPUS["XSSA01"], "", ""))
    return buf.getvalue().encode("utf-8")


def units_payload(pts, now: float) -> bytes:
    iso = datetime.fromtimestamp(now - 30, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    units = [{"id": f"X-{n:03d}", "type": "patrol_car", "callsign": text, "lon": lon + 0.002,
              "lat": lat + 0.001, "status": "free", "updated_at": iso}
             for n, ((token, text), (lon, lat)) in enumerate(zip(CORPUS.items(), pts))]
    return json.dumps({"units": units, "updated_at": iso}, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def corpus_seeded(live_server, browser_store, redis_url, browser_keys, tmp_path_factory):
    """Every feed's payload through the real adapter and pipeline; incidents with hostile
    dispatch notes; hostile comms drafts; one user per role. Returns ingest summaries."""
    r, keys = browser_store.r, browser_store.keys
    net = load_network(REPO / "data" / "taian" / "roads.geojson")
    settings = load_settings(env={}, redis_url=redis_url, key_prefix=browser_keys.prefix,
                             state_dir=str(tmp_path_factory.mktemp("xss-state")))
    now = time.time()
    pts = _points(net, len(CORPUS))
    payloads = {"waze": waze_payload(pts, now), "wzdx": wzdx_payload(pts, now),
                "amap": amap_payload(net, now), "weibo": weibo_payload(pts, now),
                "hotline": hotline_payload(pts, now), "units": units_payload(pts, now)}
    summaries = {}
    for feed, body in payloads.items():
        ctx = make_context(net, settings, feed)
        summaries[feed] = ingest_payload(get_adapter(feed), body, ctx, browser_store, feed=feed)
    officer = User("xss-officer", "officer")
    incidents = []
    for n, text in enumerate(CORPUS.values()):
        report = f"hotline:TX{n:08d}"
        # the fusion has made an incident of most hotline records already; a hostile note
        # goes on that incident (or on a new one an officer creates for the record)
        inc = I.incident_of_report(r, keys, report) or \
            I.create_from_event(r, keys, officer, report, note=text).incident_id
        I.assign_unit(r, keys, officer, inc, f"X-{n:03d}", note=text)
        incidents.append(inc)
    bs = BulletinStore(r, keys)
    comms = User("xss-comms", "comms")
    for text in CORPUS.values():
        bs.create(parse_text(text[:1900]), comms, text=text[:1900])
    for role in ROLES:
        add_user(r, keys, f"xss{role}", role, PASSWORD)
    units = sum(1 for u in U.all_units(r, keys) if u.id.startswith("X-"))
    return {"summaries": summaries, "incidents": incidents, "units": units,
            "roads": net.road_names()[:3]}


# -- the browser ------------------------------------------------------------------------------
def _pages_of(role: str) -> list[str]:
    """Every page of app.PAGES this role may open (the wall by its kiosk token)."""
    return [path for _name, path, perm, _title in lukuang_app.PAGES
            if has_permission(role, perm)]


def _public_path(rules) -> str | None:
    """/public when the app serves it (a Flask rule or a Dash page of app.PAGES)."""
    if any(r.rule.rstrip("/") == "/public" for r in rules) or \
            any(path == "/public" for _n, path, _p, _t in lukuang_app.PAGES):
        return "/public"
    return None


def _login(b, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    d = b.driver
    log_out(d)
    d.get(f"{base}/login?next=/")
    wait = WebDriverWait(d, 30)
    wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys(name)
    d.find_element(By.NAME, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda drv: "/login" not in drv.current_url)


def _settle(b, marker_ids: tuple[str, ...], timeout: float = 20.0) -> dict:
    """Wait until the page shows feed text (a token) or ``timeout``; then check it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = b.driver.execute_script(DOM_CHECK)
        if any(t in state["text"] for t in marker_ids):
            break
        time.sleep(0.4)
    time.sleep(1.0)   # the next interval refresh re-renders once more
    return b.driver.execute_script(DOM_CHECK)


ROW_IDS = """return Array.from(document.querySelectorAll('.ag-center-cols-container .ag-row'))
    .map(function (r) { return r.getAttribute('row-id'); });"""
CLICK_ROW = """var c = document.querySelector(".ag-center-cols-container .ag-row[row-id='" +
    arguments[0] + "'] .ag-cell"); if (c) { c.click(); } return !!c;"""


def _click_rows(b, limit: int) -> list[dict]:
    """Open the detail of up to ``limit`` incidents in the dispatch grid (by JavaScript, as
    the grid re-renders on every refresh)."""
    from selenium.webdriver.common.by import By

    out = []
    for rid in (b.driver.execute_script(ROW_IDS) or [])[:limit]:
        if not b.driver.execute_script(CLICK_ROW, rid):
            continue
        deadline = time.time() + 8
        while time.time() < deadline:
            det = b.driver.find_elements(By.ID, "dispatch-detail")
            if det and rid in (det[0].text or ""):
                break
            time.sleep(0.2)
        out.append(b.driver.execute_script(DOM_CHECK))
    return out


def _select_bulletins(b, limit: int) -> list[dict]:
    """Open up to ``limit`` drafts in the comms review box (its dropdown, by keyboard)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys as K

    out = []
    b.driver.find_element(By.ID, "comms-tab-review").click()   # the review box's tab
    for n in range(limit):
        try:
            box = b.driver.find_element(By.CSS_SELECTOR, "#comms-select input")
            box.send_keys(K.DOWN * (n + 1) + K.ENTER)
        except WebDriverException:
            continue
        time.sleep(0.8)
        out.append(b.driver.execute_script(DOM_CHECK))
    return out


@pytest.mark.timeout(1200)   # a large corpus on every page; a busy CI machine needs > 300 s
def test_xss_corpus_executes_nothing_on_any_page(live_server, corpus_seeded, browser_factory,
                                                 url_rules, capsys):
    base = live_server
    summaries = corpus_seeded["summaries"]
    for feed, s in summaries.items():
        if feed != "units":   # the units adapter writes in merge(); counted below
            assert s.accepted + s.congestion_segments + s.quarantined > 0, (feed, s.to_dict())
    assert corpus_seeded["units"] == len(CORPUS)
    b = browser_factory(1600, 1200)
    b.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INIT_JS})
    tokens = tuple(CORPUS)
    failures: list[str] = []
    seen_text: list[str] = []
    visits = details_with_payload = 0

    def check(label: str, state: dict) -> None:
        nonlocal visits
        visits += 1
        seen_text.append(state["text"] + "\n" + state["content"] + "\n" + state["values"])
        if state["xss"] or state["alerts"] or state["title"] == "XSS":
            failures.append(f"{label}: executed (xss={state['xss']} alerts={state['alerts']} "
                            f"title={state['title']!r})")
        if state["bad"]:
            failures.append(f"{label}: hostile attributes {state['bad'][:5]}")

    # the kiosk wall (role wall by token)
    b.driver.get(f"{base}/wall?token={WALL_TOKEN}")
    check("kiosk /wall", _settle(b, tokens))
    public = _public_path(url_rules)
    public_urls = []
    if public:   # the anonymous public page first: roads near the payloads, and a hostile query
        from urllib.parse import quote

        public_urls = [public] + [f"{public}?name={quote(n)}" for n in corpus_seeded["roads"]] \
            + [f"{public}?name={quote(CORPUS['XSSA02'][:90])}"]
        for url in public_urls:
            b.driver.get(f"{base}{url}")
            check(f"anonymous {url[:60]}", _settle(b, tokens, timeout=0.1))   # server-rendered
    roles_with_pages = [r for r in ROLES if r != "wall" and _pages_of(r)]
    for role in roles_with_pages:
        _login(b, base, f"xss{role}")
        for path in _pages_of(role) + public_urls[:1]:
            b.driver.get(f"{base}{path}")
            check(f"{role} {path}", _settle(b, tokens))
            if path == "/dispatch" and role in ("officer", "admin", "aux"):
                for n, st in enumerate(_click_rows(b, 6 if role == "admin" else 3)):
                    check(f"{role} /dispatch detail #{n}", st)
                    details_with_payload += any(t in st["text"] for t in tokens)
            if path == "/comms":
                for n, st in enumerate(_select_bulletins(b, 4 if role == "admin" else 2)):
                    check(f"{role} /comms bulletin #{n}", st)
                    details_with_payload += any(t in st["text"] for t in tokens)
    b.collect()
    # every JSON API route, as admin: JSON with nosniff, never HTML
    api_checked = 0
    with httpx.Client(base_url=base, timeout=20) as c:
        c.post("/login", data={"username": "xssadmin", "password": PASSWORD, "next": "/"},
               headers={"Origin": base})
        api = sorted(r.rule for r in url_rules if r.rule.startswith("/api/")
                     and "GET" in r.methods and not r.arguments)
        for rule in api:
            resp = c.get(rule)
            api_checked += 1
            if resp.status_code == 200:
                ctype = resp.headers.get("content-type", "")
                if "text/html" in ctype:
                    failures.append(f"GET {rule}: served as {ctype}")
                if resp.headers.get("x-content-type-options") != "nosniff":
                    failures.append(f"GET {rule}: no nosniff")
    everything = "\n".join(seen_text)
    missing = [t for t in tokens if t not in everything]
    verbatim = [t for t, probe in VERBATIM_PROBES.items() if probe in everything]
    per_feed = ", ".join(f"{f}: {s.accepted}+{s.congestion_segments} seg, {s.quarantined} "
                         f"quarantined" for f, s in summaries.items())
    with capsys.disabled():
        print(f"\n[xss] payloads {len(CORPUS)}; feeds {len(summaries)} ({per_feed}); "
              f"public page {public or 'absent'}; page/detail visits {visits} "
              f"({details_with_payload} detail views showing a payload); "
              f"API routes {api_checked}; executed "
              f"{sum(1 for f in failures if 'executed' in f)}; tokens seen "
              f"{len(tokens) - len(missing)}/{len(tokens)}; verbatim markup seen "
              f"{len(verbatim)}/{len(VERBATIM_PROBES)}")
    assert failures == [], "\n".join(failures[:30])
    assert missing == [], f"payload tokens never rendered: {missing}"
    assert len(verbatim) == len(VERBATIM_PROBES), \
        f"markup never shown as literal text: {set(VERBATIM_PROBES) - set(verbatim)}"
    assert details_with_payload > 0, "no detail view ever showed a payload"
    assert b.foreign_requests() == [], b.foreign_requests()[:5]
    assert visits >= 1 + sum(len(_pages_of(r)) for r in roles_with_pages)
    assert api_checked >= 3


def test_the_detectors_catch_an_executed_payload(live_server, browser_factory):
    """The same checks on a page where a payload IS inserted as HTML: they must fire."""
    b = browser_factory(800, 600)
    b.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INIT_JS})
    b.driver.get(f"{live_server}/login")
    b.driver.execute_script("var d = document.createElement('div'); d.innerHTML = "
                            "arguments[0] + arguments[1]; document.body.appendChild(d);",
                            CORPUS["XSSA02"], CORPUS["XSSA07"])
    time.sleep(1.0)
    state = b.driver.execute_script(DOM_CHECK)
    assert state["xss"] >= 1 and state["alerts"] >= 1, state
    assert any("onerror" in x for x in state["bad"]) and \
        any("javascript:" in x for x in state["bad"]), state["bad"]


@pytest.fixture(scope="module")
def url_rules(redis_url, browser_keys, tmp_path_factory) -> list:
    """The Flask rules of the real app (``app.create_app`` with the module's settings)."""
    from dash import _callback

    settings = load_settings(env={}, redis_url=redis_url, key_prefix=browser_keys.prefix,
                             state_dir=str(tmp_path_factory.mktemp("xss-rules")))
    # building an app takes dash's global callback list; leave it for other modules
    saved = (dict(_callback.GLOBAL_CALLBACK_MAP), list(_callback.GLOBAL_CALLBACK_LIST))
    try:
        dash_app = lukuang_app.create_app(settings)
        rules = list(dash_app.server.url_map.iter_rules())
        dash_app.server.config["LUKUANG"].close()
        return rules
    finally:
        _callback.GLOBAL_CALLBACK_MAP.update(saved[0])
        _callback.GLOBAL_CALLBACK_LIST[:] = saved[1]
