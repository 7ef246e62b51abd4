"""Police units (patrol cars, motorcycles, tow trucks): positions, status, nearest free.

A unit is a Redis hash ``keys.unit(id)`` (id, type, callsign, lon, lat, status,
incident, updated_at, hold, rev) plus its position in the geo set ``keys.units_geo()``.

Who sets what:
- the units feed (``apply_feed``) moves units and sets the status the upstream reports,
  but never touches the status of a unit that dispatch has assigned to an incident, nor
  of one whose status an officer set by hand (``hold``);
- officers set a unit's status or position by hand (``set_unit``, audited);
- incidents.py assigns and releases units (status assigned / on_scene / free).

Nearest free units: GEOSEARCH by straight-line distance, then, when a road network is
given, re-ranked by an along-road estimate (``dashboard.roads.graph``: shortest path over
the network's segments, noded at every crossing; one-way rules and turn bans are ignored,
so it is an estimate).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import redis

from dashboard.audit import Change, commit, diff
from dashboard.auth import User
from dashboard.dispatch.labels import UNIT_TYPE_LABELS
from dashboard.model import decode_hash
from dashboard.roads.graph import road_graph
from dashboard.storage.keys import Keys

UNIT_TYPES = ("patrol_car", "motorcycle", "tow_truck")
UNIT_STATUSES = ("free", "assigned", "on_scene", "off_duty")
HAND_STATUSES = ("free", "off_duty")      # what an officer may set; the rest come from incidents
DETOUR_FACTOR = 1.3      # straight-line metres × this ≈ road metres, when no path is known

# Feed positions: move every unit; take the upstream status only for units that dispatch
# does not own (no incident) and no officer has put on hold. Bumps the unit's rev when its
# status changes, and the data version once when anything moved or changed.
# KEYS[1] = version key, KEYS[2] = units geo set, KEYS[3] = units index;
# ARGV[1] = unit key prefix (Keys.unit_prefix), ARGV[2] = JSON list of units.
_FEED_LUA = """
local unit_prefix = ARGV[1]
local items = cjson.decode(ARGV[2])
local changed = 0
for _, u in ipairs(items) do
  local key = unit_prefix .. u.id
  local cur = redis.call('HMGET', key, 'lon', 'lat', 'status', 'incident', 'hold', 'rev',
                         'updated_at', 'type', 'callsign')
  local newer = (not cur[7]) or (tonumber(cur[7]) or 0) <= tonumber(u.at)
  if newer then
    local f = {'id', u.id, 'lon', u.lon, 'lat', u.lat, 'updated_at', u.at, 'source', 'feed'}
    if u.type ~= '' then f[#f + 1] = 'type'; f[#f + 1] = u.type end
    if u.callsign ~= '' then f[#f + 1] = 'callsign'; f[#f + 1] = u.callsign end
    local is_new = not cur[6]
    local free_of_dispatch = (not cur[4] or cur[4] == '') and (not cur[5] or cur[5] == '')
    local status_change = is_new or (free_of_dispatch and cur[3] ~= u.status)
    if status_change then
      f[#f + 1] = 'status'; f[#f + 1] = u.status
      f[#f + 1] = 'status_at'; f[#f + 1] = u.at
      f[#f + 1] = 'status_by'; f[#f + 1] = 'feed'
    end
    redis.call('HSET', key, unpack(f))
    if status_change then redis.call('HINCRBY', key, 'rev', 1) end
    redis.call('GEOADD', KEYS[2], u.lon, u.lat, u.id)
    redis.call('SADD', KEYS[3], u.id)
    if status_change or cur[1] ~= u.lon or cur[2] ~= u.lat
       or cur[8] ~= u.type or cur[9] ~= u.callsign then
      changed = changed + 1
    end
  end
end
local version
if changed > 0 then
  version = redis.call('INCR', KEYS[1])
else
  version = tonumber(redis.call('GET', KEYS[1]) or '0')
end
return {changed, version}
"""


class UnitError(ValueError):
    """A unit operation is not possible; the message says why."""


@dataclass(frozen=True)
class UnitReport:
    """One unit as a feed reports it."""

    id: str
    type: str
    callsign: str
    lon: float
    lat: float
    status: str
    at: float  # epoch of the report


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


@dataclass
class Unit:
    id: str
    type: str
    callsign: str
    lon: float | None
    lat: float | None
    status: str
    incident: str = ""
    updated_at: float = 0.0
    hold: str = ""
    rev: int = 0
    source: str = ""
    status_at: float = 0.0
    status_by: str = ""

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> "Unit":
        # a position or time that is not a number counts as missing (no position, time 0)
        kw = decode_hash(cls, {k: v for k, v in h.items()
                               if k not in ("lon", "lat", "updated_at", "status_at")
                               or _is_number(v)})
        kw["status"] = h.get("status", "free")   # a unit without a status is free
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def label(self) -> str:
        return f"{self.callsign or self.id} ({UNIT_TYPE_LABELS.get(self.type, self.type)})"


@dataclass
class Candidate:
    """A free unit near a point: straight-line metres and, when known, road metres."""

    unit: Unit
    straight_m: float
    road_m: float | None = None

    @property
    def rank_m(self) -> float:
        return self.road_m if self.road_m is not None else self.straight_m * DETOUR_FACTOR

    @property
    def by(self) -> str:
        return "road" if self.road_m is not None else "straight"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.unit.id, "callsign": self.unit.callsign, "type": self.unit.type,
                "lon": self.unit.lon, "lat": self.unit.lat,
                "straight_m": round(self.straight_m), "by": self.by,
                "road_m": None if self.road_m is None else round(self.road_m)}


# -- reading -----------------------------------------------------------------------------
def get_unit(r: redis.Redis, keys: Keys, unit_id: str) -> Unit | None:
    h = r.hgetall(keys.unit(unit_id))
    return Unit.from_hash(h) if h else None


def get_units(r: redis.Redis, keys: Keys, unit_ids: Iterable[str]) -> list[Unit]:
    ids = list(unit_ids)
    pipe = r.pipeline(transaction=False)
    for uid in ids:
        pipe.hgetall(keys.unit(uid))
    return [Unit.from_hash(h) for h in pipe.execute() if h]


def all_units(r: redis.Redis, keys: Keys) -> list[Unit]:
    """Every unit, sorted by id."""
    return sorted(get_units(r, keys, r.smembers(keys.units_index())), key=lambda u: u.id)


# -- feed ----------------------------------------------------------------------------------
def apply_feed(r: redis.Redis, keys: Keys, reports: Sequence[UnitReport]) -> tuple[int, int]:
    """Write unit positions (and status, where the feed owns it) in one atomic step.

    Returns (units that moved or changed, data version). Older reports than the stored
    one are ignored, so a retried or late poll cannot move a unit backwards.
    """
    if not reports:
        return 0, int(r.get(keys.version()) or 0)
    items = []
    for u in reports:
        if u.status not in UNIT_STATUSES:
            raise UnitError(f"unit {u.id}: unknown status {u.status!r}")
        items.append({"id": u.id, "type": u.type if u.type in UNIT_TYPES else "",
                      "callsign": u.callsign, "lon": f"{u.lon:.6f}", "lat": f"{u.lat:.6f}",
                      "status": u.status, "at": f"{u.at:.3f}"})
    out = r.register_script(_FEED_LUA)(
        keys=[keys.version(), keys.units_geo(), keys.units_index()],
        args=[keys.unit_prefix, json.dumps(items, ensure_ascii=False)])
    return int(out[0]), int(out[1])


# -- by hand ---------------------------------------------------------------------------------
def _require(user: User, permission: str) -> None:
    if not user.can(permission):
        raise PermissionError(f"role {user.role} may not {permission}")


def set_unit(r: redis.Redis, keys: Keys, user: User, unit_id: str, *, status: str | None = None,
             lon: float | None = None, lat: float | None = None, unit_type: str | None = None,
             callsign: str | None = None, expected_rev: int | None = None,
             now: float | None = None) -> Unit:
    """Create a unit or change it by hand (manage_units). ``status`` is "free" or
    "off_duty" (held against the feed until set to "feed", which hands it back)."""
    _require(user, "manage_units")
    unit_id = (unit_id or "").strip()
    if not unit_id or len(unit_id) > 40 or not all(c.isalnum() or c in "-_." for c in unit_id):
        raise UnitError("unit id: 1-40 letters, digits, '-', '_' or '.'")
    for _ in range(5):
        now_f = time.time() if now is None else now
        old_h = r.hgetall(keys.unit(unit_id))
        old = Unit.from_hash(old_h) if old_h else None
        if expected_rev is not None and old is not None and old.rev != expected_rev:
            raise UnitError(f"unit {unit_id} was changed meanwhile (rev {old.rev}, "
                            f"you saw {expected_rev}); look again")
        new: dict[str, str] = {}
        if old is None:
            if unit_type not in UNIT_TYPES:
                raise UnitError(f"new unit {unit_id}: type must be one of {', '.join(UNIT_TYPES)}")
            if lon is None or lat is None:
                raise UnitError(f"new unit {unit_id}: give its position")
            new.update(id=unit_id, type=unit_type, callsign=(callsign or unit_id)[:40],
                       status="free", incident="", hold="", source="hand",
                       status_at=f"{now_f:.3f}", status_by=user.name)
        elif unit_type is not None:
            if unit_type not in UNIT_TYPES:
                raise UnitError(f"type must be one of {', '.join(UNIT_TYPES)}")
            new["type"] = unit_type
        if callsign is not None and old is not None:
            new["callsign"] = callsign.strip()[:40]
        if status is not None:
            if status == "feed":
                new["hold"] = ""
            elif status not in HAND_STATUSES:
                raise UnitError(f"status by hand: one of {', '.join(HAND_STATUSES)} or 'feed'")
            elif old is not None and old.incident:
                raise UnitError(f"unit {unit_id} is assigned to {old.incident}; release it "
                                "there first")
            else:
                new.update(status=status, hold="hand", status_at=f"{now_f:.3f}",
                           status_by=user.name)
        geo = []
        if lon is not None and lat is not None:
            if not (-180 <= lon <= 180 and -85 <= lat <= 85) or not all(
                    math.isfinite(v) for v in (lon, lat)):
                raise UnitError(f"position out of range ({lon}, {lat})")
            new.update(lon=f"{lon:.6f}", lat=f"{lat:.6f}", updated_at=f"{now_f:.3f}")
            geo.append((keys.units_geo(), lon, lat, unit_id))
        if not new:
            raise UnitError("nothing to change")
        before_d, after_d = diff(old_h, {**old_h, **new})
        ch = Change(action="unit_create" if old is None else "unit_update",
                    target=f"unit:{unit_id}", who=user.name, role=user.role,
                    before=before_d, after=after_d, at=now_f,
                    rev=(old.rev if old else 0) + 1)
        ch.check(keys.unit(unit_id), "rev", "" if old is None else str(old_h.get("rev", "")))
        ch.sets.append((keys.unit(unit_id), new))
        ch.bump.append(keys.unit(unit_id))
        ch.geoadd.extend(geo)
        ch.sadd.append((keys.units_index(), unit_id))
        res = commit(r, keys, ch)
        if res.ok:
            unit = get_unit(r, keys, unit_id)
            assert unit is not None
            return unit
    raise UnitError(f"unit {unit_id} keeps changing; try again")


# -- nearest -----------------------------------------------------------------------------------
def nearest_free_units(r: redis.Redis, keys: Keys, lon: float, lat: float, *, count: int = 5,
                       radius_m: float = 30_000, types: Sequence[str] | None = None,
                       network: Any = None, max_age_s: float | None = 3600,
                       now: float | None = None, exclude: Iterable[str] = ()) -> list[Candidate]:
    """The free units nearest a point: GEOSEARCH (straight line), then re-ranked by an
    along-road estimate when ``network`` has segments. Units whose position is older
    than ``max_age_s`` are left out (their position is not known)."""
    now = time.time() if now is None else now
    excluded = set(exclude)
    found = r.geosearch(keys.units_geo(), longitude=lon, latitude=lat, radius=radius_m,
                        unit="m", sort="ASC", count=max(50, count * 8), withdist=True)
    names = [name for name, _ in found if name not in excluded]
    dist = {name: float(d) for name, d in found}
    units = {u.id: u for u in get_units(r, keys, names)}
    cands = []
    for name in names:
        u = units.get(name)
        if u is None or u.status != "free" or u.incident:
            continue
        if types and u.type not in types:
            continue
        if max_age_s is not None and u.updated_at and now - u.updated_at > max_age_s:
            continue
        cands.append(Candidate(u, dist[name]))
    graph = road_graph(network) if network is not None else None
    if graph is not None and cands:
        road_m = graph.road_distances(lon, lat, [(c.unit.lon, c.unit.lat, c.straight_m)
                                                 for c in cands])
        for cand, metres in zip(cands, road_m):
            cand.road_m = metres
    cands.sort(key=lambda c: (c.rank_m, c.unit.id))
    return cands[:count]
