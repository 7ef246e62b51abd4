"""The demo upstream (``lukuang sim``): formats, reproducibility, the world's behaviour,
and the real adapters reading what it serves.

The server runs on 127.0.0.1 with port 0 in a thread; its clock is a value the test sets,
so "the same simulated time" is exact.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import jsonschema
import pytest
from referencing import Registry, Resource

from dashboard.roads.geo import gcj02_to_wgs84, haversine_m
from dashboard.roads.network import load_network
from dashboard.settings import load_settings
from feeds.sim import formats, texts
from feeds.sim.server import SimServer, Upstream
from feeds.sim.world import World

from ..conftest import REPO, SAMPLES

NETWORK_PATH = REPO / "data" / "taian" / "roads.geojson"
SEED = 20261001
BBOX = load_settings(env={}).city_bbox
WEIBO_TIME = "%a %b %d %H:%M:%S %z %Y"


def at(text: str) -> float:
    """Epoch of an ISO time with offset."""
    return datetime.fromisoformat(text).timestamp()


T_PEAK = at("2026-09-29T08:10:00+08:00")     # a Tuesday, a working day
T_NOON = at("2026-09-29T11:40:00+08:00")

WAZE_TYPES = {"ACCIDENT", "JAM", "WEATHERHAZARD", "HAZARD", "MISC", "CONSTRUCTION",
              "ROAD_CLOSED", "POLICE"}
# the subtypes in the real NYC excerpt plus the Waze CCP spec list
WAZE_SUBTYPES = {
    "", "ACCIDENT_MINOR", "ACCIDENT_MAJOR", "JAM_MODERATE_TRAFFIC", "JAM_HEAVY_TRAFFIC",
    "JAM_STAND_STILL_TRAFFIC", "JAM_LIGHT_TRAFFIC", "HAZARD_ON_ROAD", "HAZARD_ON_SHOULDER",
    "HAZARD_WEATHER", "HAZARD_ON_ROAD_OBJECT", "HAZARD_ON_ROAD_POT_HOLE",
    "HAZARD_ON_ROAD_ROAD_KILL", "HAZARD_ON_SHOULDER_CAR_STOPPED",
    "HAZARD_ON_SHOULDER_ANIMALS", "HAZARD_ON_SHOULDER_MISSING_SIGN", "HAZARD_WEATHER_FOG",
    "HAZARD_WEATHER_HAIL", "HAZARD_WEATHER_HEAVY_RAIN", "HAZARD_WEATHER_HEAVY_SNOW",
    "HAZARD_WEATHER_FLOOD", "HAZARD_WEATHER_MONSOON", "HAZARD_WEATHER_TORNADO",
    "HAZARD_WEATHER_HEAT_WAVE", "HAZARD_WEATHER_HURRICANE", "HAZARD_WEATHER_FREEZING_RAIN",
    "HAZARD_ON_ROAD_LANE_CLOSED", "HAZARD_ON_ROAD_OIL", "HAZARD_ON_ROAD_ICE",
    "HAZARD_ON_ROAD_CONSTRUCTION", "HAZARD_ON_ROAD_CAR_STOPPED",
    "HAZARD_ON_ROAD_TRAFFIC_LIGHT_FAULT", "ROAD_CLOSED_HAZARD", "ROAD_CLOSED_CONSTRUCTION",
    "ROAD_CLOSED_EVENT"}


@pytest.fixture(scope="module")
def network():
    return load_network(NETWORK_PATH)


@pytest.fixture(scope="module")
def world(network) -> World:
    return World(network, SEED, "normal")


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def sim(network):
    """(server, clock) with a fresh world: the test moves clock.t."""
    clock = Clock(T_PEAK)
    server = SimServer(World(network, SEED, "normal"), clock, port=0).start()
    yield server, clock
    server.close()


def get(server: SimServer, path: str, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(server.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(server: SimServer, path: str) -> dict:
    status, _, body = get(server, path)
    assert status == 200, body[:300]
    return json.loads(body)


def road_distance(network, lon: float, lat: float) -> float:
    m = network.nearest(lon, lat, 500)
    return math.inf if m is None else m.distance_m


def distance_to_road(network, road: str, lon: float, lat: float) -> float:
    """Metres from a point to the nearest segment of one named road."""
    from feeds.sim.world import project
    best = math.inf
    for geom in network.segments[network.segments["road_name"] == road].geometry:
        coords = [(float(x), float(y)) for x, y in geom.coords]
        cum = [0.0]
        for a, b in zip(coords, coords[1:]):
            cum.append(cum[-1] + haversine_m(*a, *b))
        best = min(best, project(coords, cum, (lon, lat))[1])
    return best


def in_bbox(lon: float, lat: float) -> bool:
    return BBOX[0] <= lon <= BBOX[2] and BBOX[1] <= lat <= BBOX[3]


# -- the server ----------------------------------------------------------------------------
def test_binds_only_to_loopback(sim):
    server, _ = sim
    host, port = server.address
    assert host == "127.0.0.1"
    assert server.httpd.socket.getsockname()[0] == "127.0.0.1"
    # another address of this machine (127.0.0.2 is loopback too, but not bound) is refused
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(2)
        s.connect(("127.0.0.2", port))
    assert get(server, "/healthz")[0] == 200


def test_unknown_path_is_404_and_healthz_reports_the_clock(sim):
    server, clock = sim
    assert get(server, "/nope")[0] == 404
    h = get_json(server, "/healthz")
    assert h["sim_epoch"] == int(clock.t) and h["seed"] == SEED and h["scenario"] == "normal"


# -- Waze ------------------------------------------------------------------------------------
def test_waze_feed_format(sim, network):
    server, _ = sim
    feed = get_json(server, "/waze/feed.json")
    assert set(feed) >= {"alerts", "jams", "irregularities", "startTimeMillis", "endTimeMillis",
                         "startTime", "endTime"}
    assert feed["endTimeMillis"] - feed["startTimeMillis"] == 60_000
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}", feed["startTime"])
    assert feed["alerts"] and feed["jams"]
    roads = set(network.road_names())
    for a in feed["alerts"]:
        assert a["type"] in WAZE_TYPES and a["subtype"] in WAZE_SUBTYPES
        assert isinstance(a["uuid"], str) and re.fullmatch(r"[0-9a-f-]{36}", a["uuid"])
        assert isinstance(a["pubMillis"], int) and a["pubMillis"] <= feed["endTimeMillis"]
        x, y = a["location"]["x"], a["location"]["y"]
        assert in_bbox(x, y), "location is {x: lon, y: lat} in the city"
        assert road_distance(network, x, y) < 30
        assert a["street"] in roads
        assert 0 <= a["reliability"] <= 10 and 0 <= a["confidence"] <= 10
    for j in feed["jams"]:
        assert j["level"] in range(0, 6)
        assert isinstance(j["uuid"], int) and j["id"] == j["uuid"]
        assert len(j["line"]) >= 2
        for p in j["line"]:
            assert road_distance(network, p["x"], p["y"]) < 30
        assert j["speed"] == pytest.approx(j["speedKMH"] / 3.6, abs=1e-3)
        assert isinstance(j["length"], int) and j["length"] > 0
        assert j["delay"] == -1 if j["level"] == 5 else j["delay"] >= 0
        assert j["street"] in roads


def test_waze_uuids_are_stable_across_polls(sim):
    server, clock = sim
    first = get_json(server, "/waze/feed.json")
    again = get(server, "/waze/feed.json")[2]
    assert json.loads(again) == first, "the same time gives the same payload"
    clock.t += 60
    second = get_json(server, "/waze/feed.json")
    a1 = {a["uuid"]: a for a in first["alerts"]}
    a2 = {a["uuid"]: a for a in second["alerts"]}
    common = set(a1) & set(a2)
    assert len(common) >= max(1, len(a1) // 2), "live alerts are resent with the same uuid"
    for u in common:
        assert a1[u]["location"] == a2[u]["location"]
        assert a1[u]["pubMillis"] == a2[u]["pubMillis"]
    j1 = {j["uuid"] for j in first["jams"]}
    j2 = {j["uuid"] for j in second["jams"]}
    assert j1 & j2


# -- WZDx ------------------------------------------------------------------------------------
def wzdx_validator() -> jsonschema.Draft7Validator:
    folder = SAMPLES / "wzdx" / "schema-4.2"
    if not folder.is_dir():
        folder = REPO / "feeds" / "schemas"
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    # the geojson.org schemas that RoadEventFeature refers to: the project's local stand-ins
    docs += [json.loads(p.read_text(encoding="utf-8"))
             for p in sorted((REPO / "feeds" / "schemas").glob("GeoJSON-*.json"))]
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)
    feed = next(d for d in docs if d["$id"].endswith("WorkZoneFeed.json"))
    return jsonschema.Draft7Validator(feed, registry=registry,
                                      format_checker=jsonschema.FormatChecker())


RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_wzdx_feed_validates_against_the_42_schema(sim, network):
    server, clock = sim
    validator = wzdx_validator()
    states = set()
    for day in range(0, 20, 2):
        clock.t = T_PEAK + day * 86400
        feed = get_json(server, "/wzdx/feed.geojson")
        errors = sorted(validator.iter_errors(feed), key=str)
        assert not errors, errors[0]
        assert feed["feed_info"]["version"] == "4.2"
        for f in feed["features"]:
            p = f["properties"]
            core = p["core_details"]
            assert core["event_type"] == "work-zone"
            assert core["road_names"][0] in network.road_names()
            for key in ("start_date", "end_date"):
                assert RFC3339_Z.fullmatch(p[key])
            start, end = at(p["start_date"].replace("Z", "+00:00")), \
                at(p["end_date"].replace("Z", "+00:00"))
            assert end > clock.t, "ended roadworks leave the feed"
            states.add("planned" if start > clock.t else
                       "ending" if end - clock.t < 2 * 86400 else "active")
            coords = f["geometry"]["coordinates"]
            assert f["geometry"]["type"] == "LineString" and len(coords) >= 2
            for lon, lat in coords:
                assert distance_to_road(network, core["road_names"][0], lon, lat) < 30
    assert states == {"planned", "active", "ending"}, states


def test_wzdx_etag_and_304(sim):
    server, clock = sim
    status, headers, body = get(server, "/wzdx/feed.geojson")
    assert status == 200 and headers["ETag"]
    status, _, body304 = get(server, "/wzdx/feed.geojson", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body304 == b""
    clock.t += 60
    assert get(server, "/wzdx/feed.geojson", {"If-None-Match": headers["ETag"]})[0] == 304
    assert get(server, "/wzdx/feed.geojson",
               {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    clock.t += 6 * 86400  # roadworks have been announced, started or finished since
    status, later, body2 = get(server, "/wzdx/feed.geojson", {"If-None-Match": headers["ETag"]})
    assert status == 200 and later["ETag"] != headers["ETag"] and body2 != body


# -- Amap ------------------------------------------------------------------------------------
RECT = "117.062,36.172;117.138,36.228"   # the runner's demo rectangle (GCJ-02)


def all_leaves(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from all_leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_leaves(v)
    else:
        yield obj


def test_amap_rectangle_strings_and_gcj02(sim, network):
    server, _ = sim
    doc = get_json(server, f"/amap/v3/traffic/status/rectangle?rectangle={RECT}"
                           "&extensions=all&key=demo")
    assert doc["status"] == "1" and doc["infocode"] == "10000"
    assert all(isinstance(v, str) for v in all_leaves(doc)), "Amap sends every number as text"
    ev = doc["trafficinfo"]["evaluation"]
    shares = [float(ev[k].rstrip("%")) for k in ("expedite", "congested", "blocked", "unknown")]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    roads = doc["trafficinfo"]["roads"]
    assert roads
    names = set(network.road_names())
    shifts = []
    for road in roads:
        assert road["name"] in names and road["status"] in {"0", "1", "2", "3", "4"}
        assert road["direction"] and road["angle"].isdigit() and road["lcodes"]
        if road["status"] != "0":
            assert road["speed"].isdigit()
        for pair in road["polyline"].split(";"):
            gx, gy = (float(v) for v in pair.split(","))
            wx, wy = gcj02_to_wgs84(gx, gy)
            assert distance_to_road(network, road["name"], wx, wy) < 30, \
                "converted back to WGS-84, the polyline lies on the demo road"
            shifts.append(haversine_m(gx, gy, wx, wy))
    assert min(shifts) > 100, "the polyline really is GCJ-02 (offset 100-700 m)"


def test_amap_road_circle_and_key(sim, network):
    server, _ = sim
    road = network.road_names()[-1]
    query = urllib.parse.urlencode({"name": road, "city": "泰安", "extensions": "all",
                                    "key": "demo"})
    doc = get_json(server, "/amap/v3/traffic/status/road?" + query)
    assert doc["status"] == "1" and doc["trafficinfo"]["roads"]
    assert {r["name"] for r in doc["trafficinfo"]["roads"]} == {road}
    circle = get_json(server, "/amap/v3/traffic/status/circle?location=117.1075,36.1990"
                              "&radius=1500&extensions=all&key=demo")
    assert circle["status"] == "1"
    centre = gcj02_to_wgs84(117.1075, 36.1990)
    for r in circle["trafficinfo"]["roads"]:
        pts = [gcj02_to_wgs84(*map(float, p.split(","))) for p in r["polyline"].split(";")]
        assert min(haversine_m(*centre, *p) for p in pts) <= 1500 + 50
    base = get_json(server, f"/amap/v3/traffic/status/rectangle?rectangle={RECT}&key=demo")
    assert "roads" not in base["trafficinfo"] and base["trafficinfo"]["evaluation"]
    for query in ("", "&key=", "&key=bad%20key!"):
        doc = get_json(server, f"/amap/v3/traffic/status/rectangle?rectangle={RECT}{query}")
        assert doc == {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
    too_big = get_json(server, "/amap/v3/traffic/status/rectangle?rectangle="
                               "116.9,36.0;117.3,36.4&key=demo")
    assert too_big["status"] == "0"


# -- Weibo -----------------------------------------------------------------------------------
def test_weibo_mentions_format(sim, network):
    server, clock = sim
    doc = get_json(server, "/weibo/2/statuses/mentions.json?count=200")
    statuses = doc["statuses"]
    assert statuses and doc["total_number"] >= len(statuses)
    ids = [s["id"] for s in statuses]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    geo = 0
    for s in statuses:
        assert s["idstr"] == str(s["id"]) and len(s["idstr"]) == 16
        created = datetime.strptime(s["created_at"], WEIBO_TIME)
        assert created.utcoffset().total_seconds() == 8 * 3600
        assert created.timestamp() <= clock.t
        assert "@" + texts.ACCOUNT in s["text"]
        assert {"screen_name", "followers_count", "id"} <= set(s["user"])
        for k in ("reposts_count", "comments_count", "attitudes_count"):
            assert isinstance(s[k], int) and s[k] >= 0
        if s["geo"] is not None:
            geo += 1
            lat, lon = s["geo"]["coordinates"]
            assert 35 < lat < 37 and 116 < lon < 118, "Weibo puts latitude first"
            assert road_distance(network, *gcj02_to_wgs84(lon, lat)) < 80
    assert geo < len(statuses) / 2, "most reports carry no coordinates"
    # since_id: only what is newer
    newest = ids[0]
    clock.t += 1800
    later = get_json(server, f"/weibo/2/statuses/mentions.json?count=200&since_id={newest}")
    assert later["statuses"] and all(s["id"] > newest for s in later["statuses"])
    assert len(get_json(server, "/weibo/2/statuses/mentions.json")["statuses"]) <= 20, \
        "Weibo's default page is 20"


def test_weibo_reports_read_like_citizens(world, network):
    day = [r for h in range(0, 24, 6) for r in world.reports(T_PEAK + h * 3600, 6 * 3600)]
    by_key = {r.key: r for r in day}
    reports = list(by_key.values())
    assert len(reports) > 60
    roads = network.road_names()
    textset = [r.text for r in reports]
    phone = re.compile(r"1[\s\-]?3[\s\-]?8|１３８")
    assert sum(bool(phone.search(t)) for t in textset) >= 3, "some carry phone numbers"
    assert sum("鲁" in t for t in textset) >= 5, "some carry plates"
    vague = [t for t in textset if not any(n in t for n in roads)]
    assert 3 <= len(vague) < len(textset) / 3, "some are vague, most name a place"
    texts_by_user: dict[str, set[str]] = {}
    for r in reports:
        texts_by_user.setdefault(r.text, set()).add(r.user.screen_name)
    assert any(len(u) > 1 for u in texts_by_user.values()), "some are copied by other users"
    assert any("路口" in t or "交叉口" in t for t in textset)
    assert any(re.search(r"\(.+路口段\)|（.+口段）", t) for t in textset), "stretches"
    assert len(set(textset)) > len(textset) * 0.7, "varied wording"


def test_incidents_show_up_in_waze_and_weibo(world):
    named = total = 0
    for step in range(0, 24):
        t = T_PEAK + step * 3600
        feed = formats.waze_feed(world, t)
        alerts = {a["uuid"]: a for a in feed["alerts"]}
        blocking = {j.get("blockingAlertUuid") for j in feed["jams"]}
        for inc in world.active_incidents(t):
            alert = alerts[formats.stable_uuid(world, inc.key)]
            assert alert["street"] == inc.road
            if inc.kind != "accident" or t - inc.start < 2400:
                continue
            assert alert["type"] == "ACCIDENT"
            reports = [r for r in world.reports(t) if r.about == inc.key]
            assert reports and all(r.created >= inc.start for r in reports)
            total += 1
            named += any(inc.road in r.text for r in reports)
            if world.incident_jam(inc) is not None and t > world.incident_jam(inc).start:
                assert alert["uuid"] in blocking, "a queue builds up behind the accident"
    assert total >= 5
    assert named >= 0.6 * total


def test_overloaded_coach_moves_along_g3(world, network):
    assert world.g3 is not None, "the demo network has G3京台高速"
    coaches = [c for c in world.coaches(T_PEAK + 86400, 86400) if world.coach_reports(c)]
    coach = max(coaches, key=lambda c: len(world.coach_reports(c)))
    reports = sorted(world.coach_reports(coach), key=lambda r: r.created)
    assert len(reports) >= 3
    plate_tail = coach.plate.replace("·", "").replace(" ", "")[-1]
    assert all("超员" in r.text or "超载" in r.text for r in reports)
    with_plate = [r for r in reports if "鲁A" in r.text]
    assert len(with_plate) * 2 >= len(reports), "most follow-ups repeat the plate"
    assert all(plate_tail in r.text for r in with_plate), "masked or not, the same coach"
    ch = world.city.chains[coach.chain]
    alongs = [coach.along(r.created) for r in reports]
    steps = [b - a for a, b in zip(alongs, alongs[1:])]
    assert all(s * coach.direction > 0 for s in steps), "each report is further along"
    for r in reports:
        if r.geo:
            assert distance_to_road(network, ch.road, *r.geo) < 80


def test_user_timeline_metrics_grow(sim):
    server, clock = sim
    first = get_json(server, "/weibo/2/statuses/user_timeline.json?count=100")
    assert first["statuses"]
    assert all(s["user"]["screen_name"] == texts.ACCOUNT for s in first["statuses"])
    assert all("#泰安路况#" in s["text"] for s in first["statuses"])
    clock.t += 2 * 3600
    second = get_json(server, "/weibo/2/statuses/user_timeline.json?count=100")
    later = {s["idstr"]: s for s in second["statuses"]}
    grew = 0
    for s in first["statuses"]:
        s2 = later.get(s["idstr"])
        if s2 is None:
            continue
        for k in ("reposts_count", "comments_count", "attitudes_count"):
            assert s2[k] >= s[k]
        grew += s2["attitudes_count"] > s["attitudes_count"]
    assert grew >= 1
    bad = get(server, "/weibo/2/statuses/user_timeline.json?screen_name=someone_else")
    assert bad[0] == 400 and json.loads(bad[2])["error_code"] == 20003


def read_count(text: str) -> int:
    text = text.replace(",", "")
    return int(float(text[:-1]) * 10_000) if text.endswith("万") else int(text)


def test_reads_export_csv(network):
    clock = Clock(at("2026-10-07T21:00:00+08:00"))
    server = SimServer(World(network, SEED, "auto"), clock, port=0).start()
    try:
        status, headers, body = get(server, "/weibo/export/reads.csv?from=2026-10-01&to=2026-10-07")
        clock.t += 6 * 3600
        body2 = get(server, "/weibo/export/reads.csv?from=2026-10-01&to=2026-10-07")[2]
    finally:
        server.close()
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert tuple(rows[0]) == ("微博ID", "发布时间", "微博内容", "阅读数", "转发数", "评论数", "点赞数")
    data = rows[1:]
    assert len(data) > 50, "a golden week of posts"
    reads = [r[3] for r in data]
    assert any(r.endswith("万") for r in reads) and any("," in r for r in reads)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", r[1]) for r in data)
    assert all("2026-10-01" <= r[1][:10] <= "2026-10-07" for r in data)
    before = {r[0]: read_count(r[3]) for r in data}
    after = {r[0]: read_count(r[3]) for r in list(csv.reader(io.StringIO(body2.decode())))[1:]}
    assert set(before) == set(after)
    assert all(after[k] >= before[k] * 0.99 for k in before), "reads only grow (万 rounds)"
    assert sum(after.values()) > sum(before.values())


# -- hotline, units ------------------------------------------------------------------------------
def test_hotline_csv_utf8_and_gbk(sim):
    server, clock = sim
    seen = {}
    for minute in range(6):
        clock.t = T_PEAK + 1800 + minute * 60 + (12 * 3600 if minute > 3 else 0)
        status, headers, body = get(server, "/hotline/latest.csv")
        assert status == 200 and "charset" not in headers["Content-Type"]
        try:
            text = body.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError:
            text = body.decode("gbk")
            enc = "gbk"
        seen[enc] = text
        rows = list(csv.reader(io.StringIO(text)))
        assert tuple(rows[0]) == ("工单号", "来电时间", "来电号码", "来电人", "事件类型",
                                  "事发地点", "诉求内容", "经度", "纬度")
        assert 1 < len(rows) <= 31, "the latest tickets, never an empty drop"
        for r in rows[1:]:
            assert re.fullmatch(r"138[ -]?0000[ -]?\d{4}", r[2])
            assert r[3] and r[5] and r[6]
            if r[7]:
                assert in_bbox(float(r[7]), float(r[8]))
    assert set(seen) == {"utf-8", "gbk"}


def test_units_positions(sim, network):
    server, clock = sim
    first = get_json(server, "/units/positions.json")["units"]
    assert {u["type"] for u in first} == {"patrol_car", "motorcycle", "tow_truck"}
    assert {u["status"] for u in first} <= {"free", "assigned", "on_scene", "off_duty"}
    for u in first:
        assert re.fullmatch(r"[A-Z]-\d{3}", u["id"]) and u["callsign"]
        assert in_bbox(u["lon"], u["lat"]) and RFC3339_Z.fullmatch(u["updated_at"])
    clock.t += 60
    second = {u["id"]: u for u in get_json(server, "/units/positions.json")["units"]}
    moved = [u for u in first if (u["lon"], u["lat"]) !=
             (second[u["id"]]["lon"], second[u["id"]]["lat"])]
    assert moved
    for u in moved:
        if u["status"] == "free":
            assert road_distance(network, u["lon"], u["lat"]) < 30, "patrols drive on roads"


# -- reproducibility ------------------------------------------------------------------------------
PATHS = ("/waze/feed.json", "/wzdx/feed.geojson",
         f"/amap/v3/traffic/status/rectangle?rectangle={RECT}&extensions=all&key=demo",
         "/weibo/2/statuses/mentions.json?count=200",
         "/weibo/2/statuses/user_timeline.json?count=100", "/weibo/export/reads.csv",
         "/hotline/latest.csv", "/units/positions.json")


def payloads(world: World, t: float) -> dict[str, bytes]:
    up = Upstream(world, lambda: t)
    out = {}
    for path in PATHS:
        p, _, q = path.partition("?")
        query = dict(kv.split("=", 1) for kv in q.split("&")) if q else {}
        out[path] = up.handle(p, query, {}).body
    return out


def test_every_endpoint_answers_all_day(network):
    """A whole National Day holiday, every 20 minutes: no error, hotline always encodable."""
    w = World(network, SEED, "auto")
    start = at("2026-10-03T00:00:00+08:00")
    for step in range(72):
        t = start + step * 1200 + 7
        up = Upstream(w, lambda: t)
        for path in PATHS:
            p, _, q = path.partition("?")
            query = dict(kv.split("=", 1) for kv in q.split("&")) if q else {}
            answer = up.handle(p, query, {})
            assert answer.status == 200, (path, answer.body[:200])
            if answer.content_type.startswith("application/json"):
                json.loads(answer.body)


def test_same_seed_same_time_same_payloads(network):
    t = T_PEAK + 5 * 86400 + 1234
    a = World(network, SEED, "normal")
    payloads(a, t - 7200)            # a world that has been running for a while …
    b = World(network, SEED, "normal")   # … and one just (re)started
    pa, pb = payloads(a, t), payloads(b, t)
    for path in PATHS:
        assert pa[path] == pb[path], path
    c = World(network, SEED + 1, "normal")
    pc = payloads(c, t)
    differ = [p for p in PATHS if pc[p] != pa[p]]
    assert len(differ) >= 6, differ


def test_restart_keeps_past_payloads(network):
    """What a poll saw at t is what a restarted simulator serves for t."""
    t = T_NOON
    early = payloads(World(network, SEED, "normal"), t)
    w = World(network, SEED, "normal")
    payloads(w, t + 3 * 3600)
    assert payloads(w, t) == early


# -- behaviour ---------------------------------------------------------------------------------
def congested_share(world: World, t: float) -> float:
    levels = world.levels(t)
    segs = world.city.segs
    arterial = [s for s in segs if s.cls in ("trunk", "primary", "secondary")]
    total = sum(s.length for s in arterial)
    return sum(s.length for s in arterial if levels[s.idx] >= 2) / total


def test_peaks_raise_congestion(world):
    days = range(0, 10)
    base = at("2026-09-14T00:00:00+08:00")
    morning = [congested_share(world, base + d * 86400 + 8 * 3600) for d in days]
    evening = [congested_share(world, base + d * 86400 + 18 * 3600) for d in days]
    noon = [congested_share(world, base + d * 86400 + 11.5 * 3600) for d in days]
    night = [congested_share(world, base + d * 86400 + 3 * 3600) for d in days]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert mean(morning) > 2 * mean(noon) and mean(evening) > 2 * mean(noon)
    assert mean(noon) > mean(night)
    jams_peak = sum(len(world.active_jams(base + d * 86400 + 8 * 3600)) for d in days)
    jams_noon = sum(len(world.active_jams(base + d * 86400 + 11.5 * 3600)) for d in days)
    assert jams_peak > jams_noon


def test_holiday_raises_report_volume_and_scenic_congestion(network):
    normal, holiday = World(network, SEED, "normal"), World(network, SEED, "holiday")
    t = at("2026-09-29T23:59:00+08:00")
    n, h = len(normal.reports(t, 86400)), len(holiday.reports(t, 86400))
    assert h > 1.8 * n, (n, h)
    scenic = [s for s in holiday.city.segs if s.scenic]
    assert scenic
    t10 = at("2026-09-29T10:00:00+08:00")
    ln, lh = normal.levels(t10), holiday.levels(t10)
    assert sum(lh[s.idx] for s in scenic) > sum(ln[s.idx] for s in scenic)
    # the holiday layer adds to the normal world, it does not replace it
    normal_keys = {r.key for r in normal.reports(t, 86400)}
    assert normal_keys <= {r.key for r in holiday.reports(t, 86400)}


def test_auto_scenario_follows_the_calendar(network):
    w = World(network, SEED, "auto")
    assert w.holiday(at("2026-10-02T10:00:00+08:00"))
    assert not w.holiday(at("2026-09-29T10:00:00+08:00"))
    assert not w.holiday(at("2026-10-10T10:00:00+08:00")), "a make-up working day"


def test_scenario_switch_endpoint(sim):
    server, _ = sim
    n = get_json(server, "/weibo/2/statuses/mentions.json?count=200")["total_number"]
    assert get_json(server, "/scenario?name=holiday") == {"scenario": "holiday", "holiday": True}
    assert get_json(server, "/healthz")["holiday"] is True
    h = get_json(server, "/weibo/2/statuses/mentions.json?count=200")["total_number"]
    assert h > n
    assert get(server, "/scenario?name=carnival")[0] == 400


# -- command line -------------------------------------------------------------------------------
def test_lukuang_sim_command_serves_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, app; sys.exit(app.main(sys.argv[1:]))",
         "sim", "--port", "0", "--seed", "7", "--speed", "60",
         "--start", "2026-10-01T08:00+08:00", "--scenario", "holiday"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "LUKUANG_STATE_DIR": str(tmp_path),
             "HOME": str(tmp_path)})
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        url = f"http://127.0.0.1:{match.group(1)}/healthz"
        with urllib.request.urlopen(url, timeout=10) as resp:
            h1 = json.loads(resp.read())
        time.sleep(0.2)
        with urllib.request.urlopen(url, timeout=10) as resp:
            h2 = json.loads(resp.read())
        assert h1["seed"] == 7 and h1["scenario"] == "holiday" and h1["speed"] == 60
        assert h1["sim_time"].startswith("2026-10-01T00:0")
        assert h2["sim_epoch"] > h1["sim_epoch"], "the simulated clock runs at --speed"
    finally:
        proc.terminate()
        rc = proc.wait(timeout=10)
    assert rc == 0


def test_register_uses_settings_defaults():
    import argparse

    from feeds.sim import register
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["sim"])
    assert args.port is None and args.seed is None and args.speed == 1.0
    assert args.handler.__name__ == "cmd_sim"


# -- the real adapters read it --------------------------------------------------------------------
def adapter_context(network, feed: str, t: float):
    from feeds.base import ParseContext
    return ParseContext(network=network, bbox=BBOX, now=datetime.fromtimestamp(t, timezone.utc),
                        feed=feed, match_max_m=150.0)


@pytest.mark.skipif(not (REPO / "feeds" / "registry.py").is_file(),
                    reason="feeds/registry.py not written yet")
def test_real_adapters_parse_the_simulator(network, capsys):
    from feeds.registry import get_adapter

    results = {}
    for hour in (8.2, 11.5, 18.1):
        t = at("2026-10-02T00:00:00+08:00") + hour * 3600
        w = World(network, SEED, "auto")
        pay = payloads(w, t)
        for feed, path in (("waze", PATHS[0]), ("wzdx", PATHS[1]), ("amap", PATHS[2]),
                           ("weibo", PATHS[3]), ("hotline", PATHS[6])):
            res = get_adapter(feed).parse(pay[path], adapter_context(network, feed, t))
            acc, rej = results.get(feed, (0, []))
            results[feed] = (acc + len(res.events), rej + res.rejected)
    for feed in ("waze", "wzdx", "amap", "hotline"):
        accepted, rejected = results[feed]
        assert accepted > 0 and not rejected, (feed, [r.reason for r in rejected[:5]])
    accepted, rejected = results["weibo"]
    share = accepted / (accepted + len(rejected))
    with capsys.disabled():
        print(f"\nweibo: {accepted} of {accepted + len(rejected)} simulated reports located "
              f"({share:.0%}); unlocated: {sorted({r.reason for r in rejected})}")
    assert share >= 0.75
