"""Rendering the simulated world in the providers' own formats.

- Waze for Cities partner feed (alerts, jams, irregularities; WGS-84 ``{x, y}``);
- WZDx 4.2 WorkZoneFeed (GeoJSON, RFC 3339 UTC dates);
- Amap traffic status (every number a string, GCJ-02 polylines);
- Sina Weibo API v2 statuses (``created_at`` "Tue Oct 01 08:30:12 +0800 2026", geo
  ``[lat, lon]`` in GCJ-02) and the account owner's CSV export of reads;
- 122 hotline CSV drops (UTF-8 or GBK, Chinese headers);
- unit positions (a plain AVL feed).

Each function takes the world and a simulated time and returns plain data or bytes;
none of them keeps state.
"""
from __future__ import annotations

import csv
import io
import math
import uuid
import zlib
from datetime import datetime, timezone
from typing import Any

from dashboard.roads.geo import wgs84_to_gcj02

from . import texts
from .world import (EXPRESSWAY, FREE_SPEED, TZ_OFFSET, Call, Incident, Jam, Post, Report,
                    Seg, World, _mix, metres)

UTC = timezone.utc
NAMESPACE = uuid.UUID("6f1c2a52-0d7e-4c1e-9a55-7a1c3d2b9e10")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Waze roadType: 1 streets, 2 primary street, 3 freeway; Amap level: 1 高速 … 5 一般道路
WAZE_ROAD_TYPE = {"expressway": 3, "arterial": 2, "secondary": 2, "local": 1}
AMAP_ROAD_LEVEL = {"expressway": 1, "arterial": 4, "secondary": 4, "local": 5}
AMAP_DESCRIPTION = {0: "未知", 1: "畅通", 2: "轻度拥堵", 3: "中度拥堵", 4: "严重拥堵"}
AMAP_WORDS = {2: "行驶缓慢", 3: "拥堵", 4: "严重拥堵"}
WEIBO_SOURCE = '<a href="http://app.weibo.com/t/feed/6vtZb0" rel="nofollow">微博 weibo.com</a>'
HOTLINE_HEADER = ("工单号", "来电时间", "来电号码", "来电人", "事件类型", "事发地点", "诉求内容",
                  "经度", "纬度")
READS_HEADER = ("微博ID", "发布时间", "微博内容", "阅读数", "转发数", "评论数", "点赞数")


def rfc3339(t: float) -> str:
    """2026-10-01T00:30:12Z"""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_uuid(world: World, key: str, version: int = 3) -> str:
    name = f"{world.seed}/{key}"
    return str(uuid.uuid3(NAMESPACE, name) if version == 3 else uuid.uuid5(NAMESPACE, name))


def stable_int(world: World, key: str, lo: int = 100_000_000) -> int:
    return lo + zlib.crc32(f"{world.seed}/{key}".encode()) % (9 * lo)


def _xy(p: tuple[float, float]) -> dict[str, float]:
    return {"x": round(p[0], 6), "y": round(p[1], 6)}


def _local(t: float) -> datetime:
    return datetime.fromtimestamp(int(t) + TZ_OFFSET, UTC)


# -- Waze -----------------------------------------------------------------------------------
def _incident_type(world: World, inc: Incident, t: float) -> tuple[str, str]:
    u = _mix(zlib.crc32(inc.key.encode()) ^ world.seed)
    if inc.kind == "accident":
        if inc.major(t):
            return "ACCIDENT", "ACCIDENT_MAJOR"
        return "ACCIDENT", "" if u < 0.15 else "ACCIDENT_MINOR"
    return {
        "breakdown": ("WEATHERHAZARD", "HAZARD_ON_SHOULDER_CAR_STOPPED" if u < 0.4
                      else "HAZARD_ON_ROAD_CAR_STOPPED"),
        "hazard": ("WEATHERHAZARD", "HAZARD_ON_ROAD_OBJECT"),
        "pothole": ("WEATHERHAZARD", "HAZARD_ON_ROAD_POT_HOLE"),
        "signal": ("WEATHERHAZARD", "HAZARD_ON_ROAD_TRAFFIC_LIGHT_FAULT"),
        "flooding": ("WEATHERHAZARD", "HAZARD_WEATHER_FLOOD"),
        "closure": ("ROAD_CLOSED", "ROAD_CLOSED_EVENT"),
    }[inc.kind]


def _alert(world: World, key: str, typ: str, subtype: str, p: tuple[float, float],
           street: str, cls: str, magvar: int, pub: float, t: float,
           description: str = "") -> dict[str, Any]:
    age_min = max(0.0, (t - pub) / 60.0)
    u = _mix(zlib.crc32(key.encode()) ^ world.seed)
    rec: dict[str, Any] = {
        "country": "CH", "nThumbsUp": int(min(age_min / 6, 12) * u),
        "city": "泰安市", "reportRating": int(u * 5),
        "confidence": min(10, int(age_min / 5 * (0.5 + u))),
        "reliability": min(10, 5 + int(age_min / 4 * (0.5 + u))),
        "type": typ, "uuid": stable_uuid(world, key), "roadType": WAZE_ROAD_TYPE.get(cls, 1),
        "magvar": magvar % 360, "subtype": subtype, "street": street,
        "location": _xy(p), "pubMillis": int(pub) * 1000,
    }
    if description:
        rec["reportDescription"] = description
    return rec


def _jam_level(jam: Jam, add: float, t: float, incidents: dict[str, Incident]) -> int:
    """Waze level 2-5 of a queue; 5 (blocked) behind a closure or a grown major accident."""
    inc = incidents.get(jam.cause) if jam.cause else None
    if inc is not None and (inc.kind == "closure" or (inc.major(t) and add > 0.55)):
        return 5
    return 2 if add < 0.38 else 3 if add < 0.5 else 4


def waze_feed(world: World, t: float) -> dict[str, Any]:
    """The partner feed at t: every live alert, jam and irregularity."""
    c = world.city
    alerts, jams, irregularities = [], [], []
    incidents = {i.key: i for i in world.active_incidents(t)}
    for inc in incidents.values():
        typ, sub = _incident_type(world, inc, t)
        ch = c.chains[inc.chain]
        alerts.append(_alert(world, inc.key, typ, sub, (inc.lon, inc.lat), inc.road, ch.cls,
                             inc.heading, inc.start, t))
    for w in world.works(t):
        if not w.active(t):
            continue
        ch = c.chains[w.chain]
        mid = ch.point_at((w.m0 + w.m1) / 2)
        typ, sub = ("ROAD_CLOSED", "ROAD_CLOSED_CONSTRUCTION") if w.closed >= w.lanes else \
            ("CONSTRUCTION", "")
        alerts.append(_alert(world, w.key, typ, sub, mid, ch.road, ch.cls,
                             int(90 - ch.bearing(w.m0, w.m1)), w.start, t,
                             f"{w.work_zh}施工"))
    for jam, (m0, m1, add) in world.active_jams(t):
        ch = c.chains[jam.chain]
        level = _jam_level(jam, add, t, incidents)
        tail = m1 if jam.upstream > 0 else m0
        line = ch.slice(tail, jam.head_m)              # in the direction of travel
        head_seg = ch.seg_at(jam.head_m, c.segs)
        free = FREE_SPEED.get(ch.cls, 40.0)
        kmh = 0.0 if level == 5 else round(free * {2: 0.45, 3: 0.28, 4: 0.14}[level]
                                           * (0.85 + 0.3 * _mix(head_seg.key ^ int(t // 60))), 2)
        length = int(m1 - m0)
        delay = -1 if level == 5 else int(length / (kmh / 3.6) - length / (free / 3.6))
        cross = ch.cross_near(jam.head_m, 300)
        rec: dict[str, Any] = {
            "country": "CH", "city": "泰安市", "level": level,
            "line": [_xy(p) for p in line], "speedKMH": kmh, "length": length,
            "turnType": "NONE", "type": "NONE", "uuid": stable_int(world, jam.key),
            "endNode": cross[1] if cross else "", "speed": round(kmh / 3.6, 6),
            "segments": [{} for _ in range(max(1, len(line) - 1))],
            "roadType": WAZE_ROAD_TYPE.get(ch.cls, 1), "delay": delay, "street": ch.road,
            "id": stable_int(world, jam.key), "pubMillis": int(jam.start) * 1000,
        }
        if jam.cause in incidents:
            rec["blockingAlertUuid"] = stable_uuid(world, jam.cause)
        jams.append(rec)
        if not jam.cause and level >= 4 and _mix(zlib.crc32(jam.key.encode())) < 0.5:
            sub = "JAM_STAND_STILL_TRAFFIC" if level == 5 else "JAM_HEAVY_TRAFFIC"
            alerts.append(_alert(world, jam.key + "-a", "JAM", sub, ch.point_at(jam.head_m),
                                 ch.road, ch.cls, int(90 - ch.bearing(tail, jam.head_m)),
                                 jam.start + 300, t))
        if length >= 1000 and level >= 4:
            irregularities.append(_irregularity(world, jam, rec, line, t, free))
    # the file covers the last completed minute: what was published since comes next time
    minute = int(t // 60) * 60
    start, end_ms = minute - 60, minute * 1000
    return {
        "alerts": [a for a in alerts if a["pubMillis"] <= end_ms],
        "endTimeMillis": end_ms,
        "irregularities": [i for i in irregularities if i["detectionDateMillis"] <= end_ms],
        "startTimeMillis": start * 1000,
        "startTime": _waze_time(start),
        "endTime": _waze_time(minute),
        "jams": [j for j in jams if j["pubMillis"] <= end_ms],
    }


def _waze_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S:000")


def _irregularity(world: World, jam: Jam, rec: dict[str, Any], line, t: float,
                  free: float) -> dict[str, Any]:
    kmh = rec["speedKMH"]
    seconds = int(rec["length"] / max(kmh, 1.0) * 3.6)
    regular = int(rec["length"] / free * 3.6)
    return {
        "country": "CH", "nThumbsUp": 0, "updateDate": weibo_time(t, "+0000"),
        "trend": 1 if t - jam.start < 0.35 * (jam.end - jam.start) else -1,
        "city": "泰安市", "line": rec["line"], "detectionDateMillis": int(jam.start + 240) * 1000,
        "type": "Large" if rec["length"] > 2000 else "Medium", "endNode": rec["endNode"],
        "speed": kmh, "seconds": seconds, "street": rec["street"],
        "jamLevel": rec["level"], "id": stable_int(world, jam.key + "-irr"), "nComments": 0,
        "highway": rec["roadType"] == 3, "delaySeconds": max(0, seconds - regular),
        "severity": min(5, rec["level"]), "driversCount": 10 + int(rec["length"] / 40),
        "alertsCount": 1 if "blockingAlertUuid" in rec else 0, "length": rec["length"],
        "updateDateMillis": int(t) * 1000, "nImages": 0,
        "alerts": [{"uuid": rec["blockingAlertUuid"]}] if "blockingAlertUuid" in rec else [],
        "detectionDate": weibo_time(jam.start + 240, "+0000"),
        "regularSpeed": round(free * 0.8, 2),
    }


# -- WZDx -----------------------------------------------------------------------------------
WZDX_DIRECTIONS = ("eastbound", "northbound", "westbound", "southbound")


def _wzdx_direction(angle: float) -> str:
    """Traffic direction from an angle measured from east, anticlockwise."""
    return WZDX_DIRECTIONS[int(((angle + 45) % 360) // 90)]


def wzdx_feed(world: World, t: float) -> dict[str, Any]:
    """The work-zone feed at t: announced, active and ending roadworks."""
    c = world.city
    changed = rfc3339(world.works_changed_at(t))
    features = []
    for w in sorted(world.works(t), key=lambda w: (w.start, w.key)):
        ch = c.chains[w.chain]
        forward = _mix(zlib.crc32(w.key.encode())) < 0.5
        a, b = (w.m0, w.m1) if forward else (w.m1, w.m0)
        line = ch.slice(a, b)
        closed = w.closed
        lanes = []
        for order in range(1, w.lanes + 1):
            # lanes are closed from the right (the kerb side in China)
            status = "closed" if order > w.lanes - closed else "open"
            if w.impact == "all-lanes-open-shift-right":
                status = "shift-right"
            if w.impact == "alternating-one-way":
                status = "alternating-flow" if order == 1 else "closed"
            lanes.append({"order": order, "status": status, "type": "general"})
        started = t >= w.start
        props: dict[str, Any] = {
            "core_details": {
                "data_source_id": w.source,
                "event_type": "work-zone",
                "road_names": [ch.road],
                "direction": _wzdx_direction(ch.bearing(a, b)),
                "name": f"{ch.road}{w.work_zh}",
                "description": f"{ch.road}({w.from_cross}—{w.to_cross}){w.work_zh}施工",
                "creation_date": rfc3339(w.announced),
                "update_date": rfc3339(w.start if started else w.announced),
            },
            "beginning_cross_street": w.from_cross if forward else w.to_cross,
            "ending_cross_street": w.to_cross if forward else w.from_cross,
            "is_start_position_verified": started,
            "is_end_position_verified": started,
            "start_date": rfc3339(w.start),
            "end_date": rfc3339(w.end),
            "is_start_date_verified": started,
            "is_end_date_verified": False,
            "location_method": "channel-device-method" if started else "junction-method",
            "work_zone_type": "static",
            "vehicle_impact": w.impact,
            "types_of_work": [{"type_name": w.work, "is_architectural_change": False}],
            "lanes": lanes if w.impact != "all-lanes-closed" else
            [{"order": i, "status": "closed", "type": "general"} for i in range(1, w.lanes + 1)],
        }
        if w.impact != "all-lanes-closed":
            props["reduced_speed_limit_kph"] = 30 if ch.cls != EXPRESSWAY else 60
        if started:
            props["worker_presence"] = {"are_workers_present": True,
                                        "method": "check-in-app",
                                        "worker_presence_last_confirmed_date": rfc3339(w.start),
                                        "confidence": "medium"}
        features.append({"id": stable_uuid(world, w.key, 5), "type": "Feature",
                         "properties": props,
                         "geometry": {"type": "LineString",
                                      "coordinates": [[round(x, 6), round(y, 6)]
                                                      for x, y in line]}})
    return {
        "feed_info": {
            "update_date": changed,
            "publisher": "泰安市公安局交通警察支队",
            "contact_name": "指挥中心",
            "contact_email": "zhihui@taian-jj.example.cn",
            "update_frequency": 60,
            "version": "4.2",
            "license": "https://creativecommons.org/publicdomain/zero/1.0/",
            "data_sources": [
                {"data_source_id": "1", "organization_name": "泰安市公安局交通警察支队",
                 "update_frequency": 60, "update_date": changed},
                {"data_source_id": "2", "organization_name": "泰安市住房和城乡建设局",
                 "update_frequency": 3600, "update_date": changed},
            ],
        },
        "type": "FeatureCollection",
        "features": features,
    }


def wzdx_changed_at(world: World, t: float) -> float:
    return world.works_changed_at(t)


# -- Amap ------------------------------------------------------------------------------------
def amap_error(info: str, code: str) -> dict[str, str]:
    return {"status": "0", "info": info, "infocode": code}


_GCJ: dict[tuple[float, float], str] = {}


def _gcj(lon: float, lat: float) -> str:
    """"lon,lat" in GCJ-02 (memoised: the network's vertices are converted once)."""
    key = (lon, lat)
    text = _GCJ.get(key)
    if text is None:
        x, y = wgs84_to_gcj02(lon, lat)
        text = f"{x:.6f},{y:.6f}"
        if len(_GCJ) < 500_000:
            _GCJ[key] = text
    return text


def _direction_words(angle: float) -> str:
    return ("自西向东", "自南向北", "自东向西", "自北向南")[int(((angle + 45) % 360) // 90)]


def amap_status(world: World, t: float, selected: frozenset[int], extensions: str,
                max_level: int = 5) -> dict[str, Any]:
    """A traffic-status answer for the selected segments (``Seg.idx``)."""
    c = world.city
    levels = world.levels(t)
    roads: list[dict[str, str]] = []
    lengths = {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
    worst: dict[str, tuple[int, str]] = {}
    for ch in c.chains:
        if AMAP_ROAD_LEVEL.get(ch.cls, 5) > max_level:
            continue
        run: list[Seg] = []
        for i in ch.segs + [-1]:
            seg = c.segs[i] if i >= 0 else None
            inside = seg is not None and seg.idx in selected
            if inside and (not run or levels[seg.idx] == levels[run[-1].idx]):
                run.append(seg)
                continue
            if run:
                roads.append(_amap_road(world, ch, run, levels[run[0].idx], t))
                lvl = levels[run[0].idx]
                lengths[lvl] += sum(s.length for s in run)
                if lvl >= 2 and lvl > worst.get(ch.road, (0, ""))[0]:
                    worst[ch.road] = (lvl, roads[-1]["direction"])
            run = [seg] if inside else []
    total = sum(lengths.values())
    info: dict[str, Any] = {"description": _amap_description(worst),
                            "evaluation": _evaluation(lengths, total)}
    if extensions == "all":
        info["roads"] = roads
    return {"status": "1", "info": "OK", "infocode": "10000", "trafficinfo": info}


def _amap_road(world: World, ch, run: list[Seg], level: int, t: float) -> dict[str, str]:
    m0, m1 = run[0].m0, run[-1].m1
    a, b = ch.cross_near(m0, 400), ch.cross_near(m1, 400)
    angle = ch.bearing(m0, m1)
    if a and b and a[1] != b[1]:
        direction = f"从{a[1]}到{b[1]}"
    else:
        direction = _direction_words(angle)
    points: list[tuple[float, float]] = []
    for s in run:
        points.extend(s.coords if not points else s.coords[1:])
    road = {"name": ch.road, "status": str(level), "direction": direction,
            "angle": str(int(round(angle)) % 360),
            "lcodes": ",".join(str(10000 + s.key % 90000) for s in run)}
    if level > 0:
        road["speed"] = str(int(sum(world.speed(s, level, t) for s in run) / len(run)))
    road["polyline"] = ";".join(_gcj(lon, lat) for lon, lat in points)
    return road


def _evaluation(lengths: dict[int, float], total: float) -> dict[str, str]:
    if total <= 0:
        return {"expedite": "0.00%", "congested": "0.00%", "blocked": "0.00%",
                "unknown": "100.00%", "status": "0", "description": "未知"}
    share = {k: 100.0 * v / total for k, v in lengths.items()}
    known = total - lengths[0]
    mean = sum(k * v for k, v in lengths.items() if k) / known if known else 0
    status = 0 if not known else max(1, min(4, int(mean + 0.5)))
    return {"expedite": f"{share[1]:.2f}%", "congested": f"{share[2]:.2f}%",
            "blocked": f"{share[3] + share[4]:.2f}%", "unknown": f"{share[0]:.2f}%",
            "status": str(status), "description": AMAP_DESCRIPTION[status]}


def _amap_description(worst: dict[str, tuple[int, str]]) -> str:
    if not worst:
        return "道路畅通。"
    parts = [f"{road}：{direction}{AMAP_WORDS[lvl]}" for road, (lvl, direction) in
             sorted(worst.items(), key=lambda kv: (-kv[1][0], kv[0]))[:6]]
    return "；".join(parts) + "。"


def in_rectangle(world: World, box: tuple[float, float, float, float]) -> frozenset[int]:
    """Segments with a vertex in a WGS-84 box (lon0, lat0, lon1, lat1)."""
    return frozenset(s.idx for s in world.city.segs if any(
        box[0] <= x <= box[2] and box[1] <= y <= box[3] for x, y in s.coords))


def in_circle(world: World, centre: tuple[float, float], radius: float) -> frozenset[int]:
    """Segments with a vertex within ``radius`` metres of a WGS-84 point."""
    return frozenset(s.idx for s in world.city.segs
                     if any(metres(p, centre) <= radius for p in s.coords))


def on_road(world: World, road: str) -> frozenset[int]:
    return frozenset(s.idx for s in world.city.segs if s.road == road)


# -- Weibo ------------------------------------------------------------------------------------
def weibo_time(t: float, zone: str = "+0800") -> str:
    """Tue Oct 01 08:30:12 +0800 2026 (English names whatever the locale)."""
    lt = _local(t) if zone == "+0800" else datetime.fromtimestamp(int(t), UTC)
    return (f"{WEEKDAYS[lt.weekday()]} {MONTHS[lt.month - 1]} {lt.day:02d} "
            f"{lt.hour:02d}:{lt.minute:02d}:{lt.second:02d} {zone} {lt.year}")


def status_id(created: int, key: str) -> int:
    """16-digit ids that grow with time, like Weibo's."""
    return 4_000_000_000_000_000 + int(created) * 100_000 + zlib.crc32(key.encode()) % 100_000


def _grown(final: int, age: float, tau: float) -> int:
    return int(final * (1 - math.exp(-max(0.0, age) / tau)))


def weibo_user(user, t: float) -> dict[str, Any]:
    return {"id": user.id, "idstr": str(user.id), "screen_name": user.screen_name,
            "name": user.screen_name, "province": "37", "city": "9", "location": "山东 泰安",
            "description": "", "profile_image_url": "", "gender": "m" if user.id % 2 else "f",
            "followers_count": user.followers, "friends_count": 100 + user.id % 700,
            "statuses_count": user.statuses, "favourites_count": 0,
            "created_at": weibo_time(user.created), "verified": False,
            "geo_enabled": True, "allow_all_act_msg": False}


def report_status(rep: Report, t: float) -> dict[str, Any]:
    sid = status_id(rep.created, rep.key)
    age = t - rep.created
    geo = None
    if rep.geo is not None:
        x, y = wgs84_to_gcj02(*rep.geo)
        geo = {"type": "Point", "coordinates": [round(y, 6), round(x, 6)]}
    return {
        "created_at": weibo_time(rep.created), "id": sid, "idstr": str(sid), "mid": str(sid),
        "text": rep.text, "source": WEIBO_SOURCE, "favorited": False, "truncated": False,
        "in_reply_to_status_id": "", "in_reply_to_user_id": "", "in_reply_to_screen_name": "",
        "pic_urls": [], "geo": geo, "user": weibo_user(rep.user, t),
        "reposts_count": _grown(rep.final[0], age, 1800),
        "comments_count": _grown(rep.final[1], age, 1800),
        "attitudes_count": _grown(rep.final[2], age, 1800),
        "isLongText": False, "mlevel": 0, "visible": {"type": 0, "list_id": 0},
    }


ACCOUNT_ID = 2_803_301_701


def account_user(t: float) -> dict[str, Any]:
    """The police account, its follower count creeping up."""
    followers = 586_000 + int(max(0.0, t - 1.75e9) / 900)
    return {"id": ACCOUNT_ID, "idstr": str(ACCOUNT_ID), "screen_name": texts.ACCOUNT,
            "name": texts.ACCOUNT, "province": "37", "city": "9", "location": "山东 泰安",
            "description": "泰安市公安局交通警察支队泰山大队官方微博", "gender": "m",
            "followers_count": followers, "friends_count": 312, "statuses_count": 28_000,
            "favourites_count": 12, "created_at": "Mon Mar 05 10:12:00 +0800 2012",
            "verified": True, "verified_type": 1, "verified_reason": "泰安市公安局交通警察支队泰山大队",
            "geo_enabled": True, "allow_all_act_msg": True}


def post_status(post: Post, t: float) -> dict[str, Any]:
    sid = status_id(post.created, post.key)
    reposts, comments, likes, _ = post.metrics(t)
    return {
        "created_at": weibo_time(post.created), "id": sid, "idstr": str(sid), "mid": str(sid),
        "text": post.text, "source": WEIBO_SOURCE, "favorited": False, "truncated": False,
        "in_reply_to_status_id": "", "in_reply_to_user_id": "", "in_reply_to_screen_name": "",
        "pic_urls": [], "geo": None, "user": account_user(t), "reposts_count": reposts,
        "comments_count": comments, "attitudes_count": likes, "isLongText": False,
        "mlevel": 0, "visible": {"type": 0, "list_id": 0},
    }


def statuses_page(items: list[dict[str, Any]], total: int, next_cursor: int
                  ) -> dict[str, Any]:
    return {"statuses": items, "advertises": [], "ad": [], "hasvisible": False,
            "previous_cursor": 0, "next_cursor": next_cursor, "total_number": total}


def weibo_error(message: str, code: int, request: str) -> dict[str, Any]:
    return {"error": message, "error_code": code, "request": request}


def _reads_text(post: Post, reads: int) -> str:
    u = _mix(zlib.crc32(post.key.encode()))
    if reads >= 10_000 and u < 0.5:
        return f"{reads / 10_000:.1f}万"
    if reads >= 1000 and u < 0.75:
        return f"{reads:,}"
    return str(reads)


def reads_csv(posts: list[Post], t: float) -> bytes:
    """The account owner's export: one row per post, reads as people write them."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(READS_HEADER)
    for p in posts:
        reposts, comments, likes, reads = p.metrics(t)
        out.writerow((str(status_id(p.created, p.key)), _local(p.created).strftime(
            "%Y-%m-%d %H:%M"), p.text, _reads_text(p, reads), reposts, comments, likes))
    return buf.getvalue().encode("utf-8")


# -- hotline ----------------------------------------------------------------------------------
HOTLINE_DROP_ROWS = 30
HOTLINE_WINDOW_S = 3 * 3600


def hotline_ticket(call: Call) -> str:
    """The ticket number (工单号) of a call: TA + local time to the second + two digits."""
    return f"TA{_local(call.created):%Y%m%d%H%M%S}{zlib.crc32(call.key.encode()) % 100:02d}"


def hotline_csv(world: World, t: float) -> tuple[bytes, str]:
    """The latest drop: the newest 30 tickets of the last 3 hours, oldest first, written in
    GBK on odd minutes and UTF-8 on even ones (two systems export to the same folder)."""
    encoding = "gbk" if int(t // 60) % 2 else "utf-8"
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(HOTLINE_HEADER)
    for call in world.calls(t, HOTLINE_WINDOW_S)[-HOTLINE_DROP_ROWS:]:
        lt = _local(call.created)
        out.writerow((hotline_ticket(call), lt.strftime("%Y-%m-%d %H:%M:%S"), call.phone,
                      call.caller, texts.HOTLINE_TYPES[call.kind], call.place, call.content,
                      "" if call.lon is None else f"{call.lon:.6f}",
                      "" if call.lat is None else f"{call.lat:.6f}"))
    return buf.getvalue().encode(encoding), encoding


# -- units --------------------------------------------------------------------------------------
def units_json(world: World, t: float) -> dict[str, Any]:
    out = []
    for st in world.unit_states(t):
        u = st["unit"]
        out.append({"id": u.id, "type": u.type, "callsign": u.callsign,
                    "lon": round(st["lon"], 6), "lat": round(st["lat"], 6),
                    "status": st["status"], "updated_at": rfc3339(t)})
    return {"units": out, "updated_at": rfc3339(t)}


__all__ = ["waze_feed", "wzdx_feed", "amap_status", "amap_error", "report_status",
           "post_status", "statuses_page", "reads_csv", "hotline_csv", "units_json",
           "weibo_time", "status_id", "rfc3339"]
