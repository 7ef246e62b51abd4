"""Incidents: the dispatch lifecycle, from a citizen's report to cleared.

    reported → verified → dispatched → on_scene → cleared      (+ reopen, merge)

An incident is a Redis hash ``keys.incident(id)``; open incidents are in the sorted set
``keys.incidents_open()`` scored by urgency, every incident in ``keys.incidents_index()``
scored by its report time; ``keys.report_incident()`` maps a report (event id) to its
incident. Each incident has a ``rev``: the number of changes applied to it.

Every action reads the incident, works out the new state in Python, and commits it with
``audit.commit``, which applies it only if the incident (and every unit involved) still
has the ``rev`` that was read — in the same atomic step as the audit entry and the data
version bump. A caller that passes ``expected_rev`` (the rev its page showed) gets a
``ConflictError`` describing what changed when someone else was faster; a caller that
does not is retried on a fresh read. Invalid steps raise ``TransitionError``.

Permissions are checked here as well as in the callbacks: ``acknowledge`` may
acknowledge and move an incident on scene or clear it once dispatched; ``dispatch`` is
needed for everything else (verify, assign, release, hand over, merge, link, create,
reopen, dismiss).
"""
from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any, Callable, Iterable, Sequence

import redis

from dashboard.audit import Change, CommitResult, commit, diff
from dashboard.auth import User
from dashboard.storage.keys import Keys
from dashboard.masking import mask_or_empty, mask_text, text_for_restricted
from dashboard.model import RoadEvent, decode_hash, encode_hash
from dashboard.storage.store import Store
from dashboard.timeutil import SHANGHAI
from dashboard.dispatch.labels import CATEGORY_LABELS, INCIDENT_STATUS_LABELS
from dashboard.dispatch.trail import rows as trail_rows
from dashboard.dispatch.units import Candidate, Unit, get_units, nearest_free_units

STATUSES = ("reported", "verified", "dispatched", "on_scene", "cleared", "merged")
OPEN_STATUSES = ("reported", "verified", "dispatched", "on_scene")
# the lifecycle steps that ``transition`` may take from each status
ALLOWED: dict[str, tuple[str, ...]] = {
    "reported": ("verified", "dispatched", "cleared"),
    "verified": ("dispatched", "cleared"),
    "dispatched": ("on_scene", "cleared"),
    "on_scene": ("cleared",),
    "cleared": (),
    "merged": (),
}
DEFAULT_REOPEN_WINDOW_S = 3600
MAX_HISTORY = 500
MAX_REPORTS = 200
MAX_NOTE = 500
RETRIES = 5


class DispatchError(ValueError):
    """Base of the errors an officer is shown."""


class TransitionError(DispatchError):
    """The step is not possible from the incident's current state; the message says why."""


class NotFound(DispatchError):
    pass


class ConflictError(DispatchError):
    """Someone else changed the incident since the caller's page read it."""

    def __init__(self, incident_id: str, message: str, current_rev: int,
                 changes: list[dict[str, Any]]):
        super().__init__(message)
        self.incident_id = incident_id
        self.current_rev = current_rev
        self.changes = changes


@dataclass
class Incident:
    id: str
    status: str = "reported"
    rev: int = 0
    category: str = "other"
    severity: int = 1
    text: str = ""
    lon: float = 0.0
    lat: float = 0.0
    district: str = ""
    segment_id: str = ""
    road_names: list[str] = field(default_factory=list)
    place: str = ""
    source: str = ""
    created_at: float = 0.0
    created_by: str = ""
    reported_at: float = 0.0
    verified_at: float | None = None
    dispatched_at: float | None = None
    on_scene_at: float | None = None
    cleared_at: float | None = None
    ack: bool = False
    ack_by: str = ""
    ack_at: float | None = None
    updated_at: float = 0.0
    updated_by: str = ""
    reports: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    merged_into: str = ""
    reopened: int = 0
    # the fusion's bookkeeping: how precisely the position is known ("point",
    # "intersection", "stretch", "landmark", "road"), the newest linked report's time, and
    # the splits an officer made (a split-off report is never fused back)
    precision: str = ""
    last_report_at: float = 0.0
    split_from: str = ""
    split_off: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_hash(self) -> dict[str, str]:
        """Flat string fields (``rev`` is left out: only ``commit`` bumps it)."""
        return encode_hash(self, skip=("rev",))

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> "Incident":
        return cls(**decode_hash(cls, h))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def last_at(self) -> float:
        return max([float(e.get("at", 0)) for e in self.history] + [0.0])


@dataclass
class ActionResult:
    """What an action did: the incident's new rev, the data version, a message."""

    incident_id: str
    rev: int
    version: int
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def urgency_score(inc: Incident) -> float:
    """Lower is more urgent: unacknowledged first, then higher severity, then older."""
    return (1e11 if inc.ack else 0.0) + (4 - max(0, min(4, inc.severity))) * 1e10 + \
        max(0.0, min(inc.reported_at or inc.created_at, 9.9e9))


def hhmm(ts: float | None, tz: tzinfo | None = None) -> str:
    """'HH:MM' of an epoch in the city's zone ``tz`` (default: the default ``timezone``)."""
    return datetime.fromtimestamp(ts, tz or SHANGHAI).strftime("%H:%M") if ts else ""


# -- reading -------------------------------------------------------------------------------
def load(r: redis.Redis, keys: Keys, incident_id: str) -> Incident:
    h = r.hgetall(keys.incident(incident_id)) if incident_id else {}
    if not h:
        raise NotFound(f"no incident {incident_id!r}")
    return Incident.from_hash(h)


def load_many(r: redis.Redis, keys: Keys, ids: Sequence[str]) -> list[Incident]:
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hgetall(keys.incident(i))
    return [Incident.from_hash(h) for h in pipe.execute() if h]


# what matching a feed record against incidents reads (no history, text or notes)
MATCH_FIELDS = ("id", "status", "category", "severity", "lon", "lat", "district",
                "segment_id", "road_names", "place", "precision", "created_at", "reported_at",
                "last_report_at", "reports")


def load_for_matching(r: redis.Redis, keys: Keys, ids: Sequence[str]) -> list[Incident]:
    """Incidents holding only ``MATCH_FIELDS`` (the rest at their defaults): cheap to read
    by the dozen. Read-only views: never commit one back."""
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(keys.incident(i), MATCH_FIELDS)
    out = []
    for values in pipe.execute():
        if values[0] is not None:
            out.append(Incident.from_hash({k: v for k, v in zip(MATCH_FIELDS, values)
                                           if v is not None}))
    return out


def reported_times(r: redis.Redis, keys: Keys, start: float, end: float) -> list[float]:
    """Report times (epoch) of the incidents reported in [start, end), merged ones left out
    (they are counted in the incident they were folded into)."""
    pairs = r.zrangebyscore(keys.incidents_index(), start, f"({end}", withscores=True)
    if not pairs:
        return []
    pipe = r.pipeline(transaction=False)
    for inc_id, _ in pairs:
        pipe.hget(keys.incident(inc_id), "status")
    return [at for (_, at), status in zip(pairs, pipe.execute()) if status not in (None, "merged")]


def open_incidents(r: redis.Redis, keys: Keys, limit: int = 500) -> list[Incident]:
    """Open incidents, most urgent first."""
    return load_many(r, keys, r.zrange(keys.incidents_open(), 0, limit - 1))


def unacknowledged_count(r: redis.Redis, keys: Keys) -> int:
    return int(r.zcount(keys.incidents_open(), "-inf", "(1e11"))


def open_count(r: redis.Redis, keys: Keys) -> int:
    """How many incidents are open (the same set ``open_incidents`` reads)."""
    return int(r.zcard(keys.incidents_open()))


# cleared incidents older than this leave the "cleared" set (it only serves recent ones)
CLEARED_KEEP_S = 7 * 86400


def recently_cleared(r: redis.Redis, keys: Keys, within_s: float,
                     now: float | None = None) -> list[Incident]:
    """Incidents cleared in the last ``within_s`` seconds before ``now``, most recently
    cleared first (from the set the commit keeps, scored by the time of clearing)."""
    now = time.time() if now is None else now
    if within_s <= 0:
        return []
    pipe = r.pipeline(transaction=False)
    pipe.zremrangebyscore(keys.incidents_cleared(), "-inf", f"({now - CLEARED_KEEP_S}")
    pipe.zrangebyscore(keys.incidents_cleared(), now - within_s, "+inf")
    found = [inc for inc in load_many(r, keys, pipe.execute()[1]) if inc.status == "cleared"]
    return sorted(found, key=lambda inc: (-(inc.cleared_at or 0), inc.id))


def sources_of(inc: Incident) -> list[dict[str, Any]]:
    """The feeds an incident's reports came from: ``[{"feed": name, "count": n}]`` by feed
    name. A report's feed is its event id's prefix (``waze:…`` → waze)."""
    counts: dict[str, int] = {}
    for rid in inc.reports:
        feed = rid.split(":", 1)[0] if ":" in rid else (inc.source or "dispatch")
        counts[feed] = counts.get(feed, 0) + 1
    if not counts and inc.source:
        counts[inc.source] = 1
    return [{"feed": f, "count": n} for f, n in sorted(counts.items())]


def incident_of_report(r: redis.Redis, keys: Keys, report_id: str) -> str:
    """The id of the incident a report (event id) is linked to; "" when none."""
    return r.hget(keys.report_incident(), report_id) or ""


def linked_reports(r: redis.Redis, keys: Keys, report_ids: Sequence[str]) -> set[str]:
    """The reports (event ids) among ``report_ids`` that are linked to an incident."""
    if not report_ids:
        return set()
    linked = r.hmget(keys.report_incident(), list(report_ids))
    return {rid for rid, inc_id in zip(report_ids, linked) if inc_id}


def status_of(r: redis.Redis, keys: Keys, incident_id: str) -> str:
    """An incident's status; "" when there is no such incident."""
    if not incident_id:
        return ""
    return r.hget(keys.incident(incident_id), "status") or ""


def acknowledged_reports(r: redis.Redis, keys: Keys, report_ids: Sequence[str]) -> set[str]:
    """The reports (event ids) among ``report_ids`` linked to an incident that someone has
    acknowledged or moved past "reported"."""
    if not report_ids:
        return set()
    linked = r.hmget(keys.report_incident(), list(report_ids))
    pairs = [(ev_id, inc_id) for ev_id, inc_id in zip(report_ids, linked) if inc_id]
    if not pairs:
        return set()
    pipe = r.pipeline(transaction=False)
    for _, inc_id in pairs:
        pipe.hmget(keys.incident(inc_id), ["ack", "status"])
    return {ev_id for (ev_id, _), (ack, status) in zip(pairs, pipe.execute())
            if ack == "1" or (status or "reported") != "reported"}


def describe_changes(inc: Incident, since_rev: int, tz: tzinfo | None = None
                     ) -> tuple[str, list[dict[str, Any]]]:
    """The history entries after ``since_rev`` and one line saying what they did, e.g.
    "changed by li at 14:05: status dispatched → on_scene" (times in ``tz``, the city's
    zone: ``timeutil.city_zone``)."""
    entries = [e for e in inc.history if int(e.get("rev", 0)) > since_rev]
    if not entries:
        return (f"{inc.id} changed (now rev {inc.rev}, you saw {since_rev})", entries)
    parts = []
    for e in entries[-3:]:
        action = e.get("action", "")
        obj = e.get("unit") or e.get("report") or e.get("into") or e.get("duplicate") or ""
        moved = f"status {e.get('from')} → {e.get('to')}" if e.get("from") != e.get("to") else ""
        if action == "status":
            what = moved
        else:
            what = " ".join(x for x in (action, str(obj)) if x) + (f", {moved}" if moved else "")
        if e.get("note"):
            what += f" ({e['note']})"
        parts.append(f"changed by {e.get('by')} at {hhmm(float(e.get('at', 0)), tz)}: {what}")
    more = f" (+{len(entries) - 3} earlier)" if len(entries) > 3 else ""
    return f"{inc.id} " + "; ".join(parts) + more, entries


# -- the commit machinery ------------------------------------------------------------------
def _require(user: User, permission: str) -> None:
    if not user.can(permission):
        raise PermissionError(f"role {user.role} may not {permission}")


# The fusion acts as this user. "system" is no login role (``auth.ROLES`` has no such
# role, so no account or session can carry it); only the auto_* functions accept it.
SYSTEM_ROLE = "system"
FUSION_USER = User("fusion", SYSTEM_ROLE)


def _require_system(user: User) -> None:
    if user.role != SYSTEM_ROLE:
        raise PermissionError(f"role {user.role} may not act as the fusion")


@dataclass
class _Plan:
    """What an action wants: the new state of one or more incidents and units."""

    action: str
    incidents: list[tuple[Incident | None, Incident]]    # (before or None when new, after)
    units: list[tuple[Unit, dict[str, str]]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # report id → incident id
    link_checks: dict[str, str] = field(default_factory=dict)  # report id → expected link
    note: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _history(inc: Incident, at: float, user: User, action: str, before: str, note: str = "",
             **more: Any) -> None:
    entry = {"rev": inc.rev + 1, "at": round(at, 3), "by": user.name, "role": user.role,
             "action": action, "from": before, "to": inc.status}
    if note:
        entry["note"] = note[:MAX_NOTE]
    entry.update({k: v for k, v in more.items() if v not in (None, "", [], {})})
    inc.history = (inc.history + [entry])[-MAX_HISTORY:]


def _change_of(plan: _Plan, keys: Keys, user: User, at: float) -> Change:
    primary_before, primary_after = plan.incidents[0]
    ch = Change(action=plan.action, target=f"incident:{primary_after.id}", who=user.name,
                role=user.role, note=plan.note, at=at, rev=primary_after.rev + 1)
    before_all: dict[str, Any] = {}
    after_all: dict[str, Any] = {}
    for old, new in plan.incidents:
        key = keys.incident(new.id)
        old_h = old.to_hash() if old else {}
        new_h = new.to_hash()
        ch.check(key, "rev", str(old.rev) if old else "")
        changed = {k: v for k, v in new_h.items() if old_h.get(k) != v}
        ch.sets.append((key, changed))
        ch.bump.append(key)
        if new.is_open:
            ch.zadd.append((keys.incidents_open(), urgency_score(new), new.id))
            ch.geoadd.append((keys.incidents_geo(), new.lon, new.lat, new.id))
        else:
            ch.zrem.append((keys.incidents_open(), new.id))
            ch.zrem.append((keys.incidents_geo(), new.id))
        ch.zadd.append((keys.incidents_index(), new.reported_at or new.created_at, new.id))
        if new.status == "cleared":
            ch.zadd.append((keys.incidents_cleared(), new.cleared_at or at, new.id))
        elif old is not None and old.status == "cleared":   # reopened
            ch.zrem.append((keys.incidents_cleared(), new.id))
        b, a = diff(old_h, new_h)
        a["rev"] = new.rev + 1
        if old:
            b["rev"] = old.rev
        before_all[f"incident:{new.id}"] = b
        after_all[f"incident:{new.id}"] = a
    for unit, changes in plan.units:
        key = keys.unit(unit.id)
        ch.check(key, "rev", str(unit.rev))
        ch.sets.append((key, changes))
        ch.bump.append(key)
        old_u = {k: str(v) for k, v in unit.to_dict().items() if k in changes}
        b, a = diff(old_u, changes)
        before_all[f"unit:{unit.id}"] = b
        after_all[f"unit:{unit.id}"] = a
    for report_id, expected in plan.link_checks.items():
        ch.check(keys.report_incident(), report_id, expected)
    if plan.links:
        ch.sets.append((keys.report_incident(), dict(plan.links)))
    ch.before, ch.after = before_all, after_all
    return ch


def _run(r: redis.Redis, keys: Keys, user: User, incident_id: str, expected_rev: int | None,
         build: Callable[[Incident, float], _Plan], now: float | None = None,
         tz: tzinfo | None = None) -> ActionResult:
    """Read → build → commit with rev checks; conflicts are reported (times in ``tz``, the
    city's zone) or retried."""
    for _ in range(RETRIES):
        inc = load(r, keys, incident_id)
        if expected_rev is not None and inc.rev != expected_rev:
            msg, changes = describe_changes(inc, expected_rev, tz)
            raise ConflictError(inc.id, msg, inc.rev, changes)
        at = max(time.time() if now is None else now, inc.last_at())
        plan = build(inc, at)
        res: CommitResult = commit(r, keys, _change_of(plan, keys, user, at))
        if res.ok:
            return ActionResult(inc.id, inc.rev + 1, res.version, plan.message, plan.extra)
        if expected_rev is not None and res.conflict_key == keys.incident(incident_id):
            fresh = load(r, keys, incident_id)
            msg, changes = describe_changes(fresh, expected_rev, tz)
            raise ConflictError(fresh.id, msg, fresh.rev, changes)
    raise ConflictError(incident_id, f"{incident_id} is being changed by others; try again",
                        -1, [])


def _unit_assign(unit: Unit, incident_id: str, status: str, at: float, user: User) -> dict:
    return {"status": status, "incident": incident_id, "hold": "", "status_at": f"{at:.3f}",
            "status_by": user.name}


def _unit_free(unit: Unit, at: float, user: User) -> dict:
    return {"status": "free", "incident": "", "hold": "", "status_at": f"{at:.3f}",
            "status_by": user.name}


def _units_of(r: redis.Redis, keys: Keys, inc: Incident) -> list[Unit]:
    """The incident's units that still point back at it."""
    return [u for u in get_units(r, keys, inc.units) if u.incident == inc.id]


# -- creating ------------------------------------------------------------------------------
def create_from_event(r: redis.Redis, keys: Keys, user: User, event_id: str,
                      now: float | None = None, note: str = "") -> ActionResult:
    """A new incident (status reported) from a report or feed event, linked to it."""
    _require(user, "dispatch")
    store = Store(r, keys)
    ev = store.get_event(event_id)
    if ev is None:
        raise NotFound(f"no event {event_id!r}")
    linked = incident_of_report(r, keys, event_id)
    if linked:
        raise TransitionError(f"{event_id} is already linked to {linked}")
    at = time.time() if now is None else now
    inc = _incident_from_event(r, keys, ev, at, user)
    _history(inc, at, user, "create", "", note=note, report=event_id)
    return _commit_create(r, keys, user, inc, event_id, at, note)


def auto_create(r: redis.Redis, keys: Keys, user: User, ev: RoadEvent, explanation: str,
                now: float | None = None) -> ActionResult:
    """The fusion's "create": a new incident (status reported) from a feed event that
    matched no open incident; ``explanation`` says why, in the history. System only."""
    _require_system(user)
    at = time.time() if now is None else now
    inc = _incident_from_event(r, keys, ev, at, user)
    _history(inc, at, user, "create", "", note=explanation, report=ev.id)
    return _commit_create(r, keys, user, inc, ev.id, at, explanation)


def _incident_from_event(r: redis.Redis, keys: Keys, ev: RoadEvent, at: float,
                         user: User) -> Incident:
    """A new incident (with a fresh number) standing for one event; no history yet."""
    seq = int(r.incr(keys.incident_seq()))
    reported = (ev.starts_at or ev.observed_at).timestamp()
    return Incident(
        id=f"INC-{seq:06d}", status="reported", category=ev.category,
        severity=int(ev.severity), text=mask_text(ev.text)[:1000], lon=ev.lon, lat=ev.lat,
        district=ev.district, segment_id=ev.segment_id, road_names=list(ev.road_names)[:20],
        place=place_of(ev), source=ev.source, created_at=at, created_by=user.name,
        reported_at=min(reported, at), updated_at=at, updated_by=user.name,
        reports=[ev.id], precision=precision_of(ev),
        last_report_at=min(ev.observed_at.timestamp(), at))


def _commit_create(r: redis.Redis, keys: Keys, user: User, inc: Incident, event_id: str,
                   at: float, note: str) -> ActionResult:
    plan = _Plan("create", [(None, inc)], links={event_id: inc.id},
                 link_checks={event_id: ""}, note=note,
                 message=f"{inc.id} created from {event_id}")
    res = commit(r, keys, _change_of(plan, keys, user, at))
    if not res.ok:
        if res.conflict_key == keys.report_incident():
            raise TransitionError(f"{event_id} is already linked to {res.actual}")
        raise ConflictError(inc.id, f"{inc.id} exists already; try again", -1, [])
    return ActionResult(inc.id, 1, res.version, plan.message)


def place_of(ev: RoadEvent) -> str:
    """An event's place in words: the adapter's label, else its first two road names."""
    return str(ev.attrs.get("place") or "、".join(ev.road_names[:2]))[:200]


# how precisely each adapter's way of locating a record pins the place, best first
PRECISIONS = ("point", "intersection", "stretch", "landmark", "road")
_PRECISION_ALIASES = {"geo": "point", "coordinates": "point", "gps": "point"}


def precision_of(ev: RoadEvent) -> str:
    """How precisely an event's position is known: "point" (GPS: Waze, a hotline row with
    coordinates, a geotagged Weibo status), "intersection", "stretch", "landmark" or
    "road" (the middle of a named road). Adapters say it in ``attrs`` ("precision" from
    Weibo, "located_by" from the hotline); an event without either carries its own
    coordinates, which count as a point."""
    how = str(ev.attrs.get("precision") or ev.attrs.get("located_by") or "point")
    how = _PRECISION_ALIASES.get(how, how)
    return how if how in PRECISIONS else "road"


# -- lifecycle -------------------------------------------------------------------------------
def _transition_error(inc: Incident, to: str) -> TransitionError:
    if to == inc.status:
        return TransitionError(f"{inc.id} is already {to}")
    if inc.status == "cleared":
        return TransitionError(f"cannot go from cleared to {to}; reopen first")
    if inc.status == "merged":
        return TransitionError(f"cannot go from merged to {to}; {inc.id} was merged into "
                               f"{inc.merged_into}")
    if to == "on_scene":
        return TransitionError(f"cannot go from {inc.status} to on_scene; dispatch a unit first")
    if to in ("reported",):
        return TransitionError(f"cannot go back from {inc.status} to {to}")
    return TransitionError(f"cannot go from {inc.status} to {to}")


def transition(r: redis.Redis, keys: Keys, user: User, incident_id: str, to: str,
               expected_rev: int | None = None, note: str = "",
               now: float | None = None,
        tz: tzinfo | None = None) -> ActionResult:
    """Move an incident one lifecycle step (verified, dispatched, on_scene, cleared).

    Going to ``dispatched`` needs an assigned unit (use ``assign_unit``); ``cleared``
    frees every assigned unit; ``on_scene`` marks the assigned units on scene.
    """
    if to not in STATUSES:
        raise TransitionError(f"unknown status {to!r} (one of {', '.join(STATUSES)})")
    if to == "merged":
        raise TransitionError("use merge to merge a duplicate")
    if to == "reported":
        raise TransitionError("an incident cannot go back to reported")
    _require(user, "acknowledge")   # the least any step needs; dispatch is checked below

    def build(inc: Incident, at: float) -> _Plan:
        if to not in ALLOWED[inc.status]:
            raise _transition_error(inc, to)
        needs = "acknowledge" if to in ("on_scene", "cleared") and inc.status in (
            "dispatched", "on_scene") else "dispatch"
        _require(user, needs)
        units = _units_of(r, keys, inc)
        if to == "dispatched" and not units:
            raise TransitionError(f"cannot go from {inc.status} to dispatched: no unit is "
                                  "assigned; assign a unit")
        new = replace(inc, status=to, ack=True, ack_by=inc.ack_by or user.name,
                      ack_at=inc.ack_at or at, updated_at=at, updated_by=user.name)
        unit_changes: list[tuple[Unit, dict[str, str]]] = []
        if to == "verified":
            new.verified_at = inc.verified_at or at
        elif to == "dispatched":
            new.dispatched_at = inc.dispatched_at or at
        elif to == "on_scene":
            new.on_scene_at = inc.on_scene_at or at
            unit_changes = [(u, _unit_assign(u, inc.id, "on_scene", at, user)) for u in units]
        elif to == "cleared":
            new.cleared_at = at
            new.units = []
            unit_changes = [(u, _unit_free(u, at, user)) for u in units]
        _history(new, at, user, "status", inc.status, note=note,
                 released=[u.id for u in units] if to == "cleared" else None)
        return _Plan(f"status:{to}", [(inc, new)], units=unit_changes, note=note,
                     message=f"{inc.id}: {inc.status} → {to}")

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


def acknowledge(r: redis.Redis, keys: Keys, user: User, incident_id: str,
                expected_rev: int | None = None, now: float | None = None,
        tz: tzinfo | None = None) -> ActionResult:
    """Mark an incident as seen by someone (it drops below unacknowledged ones)."""
    _require(user, "acknowledge")

    def build(inc: Incident, at: float) -> _Plan:
        if not inc.is_open:
            raise TransitionError(f"{inc.id} is {inc.status}; nothing to acknowledge")
        if inc.ack:
            raise TransitionError(f"{inc.id} was already acknowledged by {inc.ack_by} at "
                                  f"{hhmm(inc.ack_at, tz)}")
        new = replace(inc, ack=True, ack_by=user.name, ack_at=at, updated_at=at,
                      updated_by=user.name)
        _history(new, at, user, "acknowledge", inc.status)
        return _Plan("acknowledge", [(inc, new)], message=f"{inc.id} acknowledged")

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


def reopen(r: redis.Redis, keys: Keys, user: User, incident_id: str,
           expected_rev: int | None = None, window_s: float = DEFAULT_REOPEN_WINDOW_S,
           note: str = "", now: float | None = None,
        tz: tzinfo | None = None) -> ActionResult:
    """Bring a cleared incident back (status verified) within ``window_s`` of clearing."""
    _require(user, "dispatch")

    def build(inc: Incident, at: float) -> _Plan:
        if inc.status != "cleared":
            raise TransitionError(f"only a cleared incident can be reopened ({inc.id} is "
                                  f"{inc.status})")
        age = at - (inc.cleared_at or 0)
        if age > window_s:
            raise TransitionError(f"{inc.id} was cleared {age / 60:.0f} min ago; incidents can "
                                  f"be reopened within {window_s / 60:.0f} min — create a new one")
        new = replace(inc, status="verified", cleared_at=None, reopened=inc.reopened + 1,
                      verified_at=inc.verified_at or at, updated_at=at, updated_by=user.name)
        _history(new, at, user, "reopen", inc.status, note=note)
        return _Plan("reopen", [(inc, new)], note=note, message=f"{inc.id} reopened")

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


class NoteError(DispatchError):
    """A note that cannot be kept: empty, too long or holding control characters."""


# a standalone note, as the page's field allows it (the history keeps up to MAX_NOTE)
NOTE_LIMIT = 300
# right-to-left and isolate overrides: they turn the rest of a table row around
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_note(text: Any, limit: int = NOTE_LIMIT) -> str:
    """``text`` stripped of surrounding spaces, or NoteError when it is not a string, is
    empty or longer than ``limit`` characters, or holds a control character (line breaks
    and tabs included: a note is one line) or a bidirectional override."""
    if not isinstance(text, str):
        raise NoteError("备注无效 the note is not text")
    text = text.strip()
    if not text:
        raise NoteError("备注为空 the note is empty")
    if len(text) > limit:
        raise NoteError(f"备注过长 the note is {len(text)} characters; at most {limit}")
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS:
            raise NoteError(f"备注含控制字符 the note holds a control character "
                            f"(U+{ord(ch):04X})")
    return text


def add_note(r: redis.Redis, keys: Keys, user: User, incident_id: str, text: str,
             expected_rev: int | None = None, now: float | None = None,
             tz: tzinfo | None = None) -> ActionResult:
    """A standalone note on an incident (dispatch): checked by ``clean_note``, kept in the
    incident's history and the audit trail like every other action; the status stays."""
    _require(user, "dispatch")
    note = clean_note(text)

    def build(inc: Incident, at: float) -> _Plan:
        if inc.status == "merged":
            raise _transition_error(inc, inc.status)
        new = replace(inc, updated_at=at, updated_by=user.name)
        _history(new, at, user, "note", inc.status, note=note)
        return _Plan("note", [(inc, new)], note=note, message=f"{inc.id}: 备注已添加 note added")

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


# -- units -----------------------------------------------------------------------------------
def assign_unit(r: redis.Redis, keys: Keys, user: User, incident_id: str, unit_id: str,
                expected_rev: int | None = None, now: float | None = None,
                note: str = "",
        tz: tzinfo | None = None) -> ActionResult:
    """Send a free unit: the unit becomes assigned and the incident dispatched."""
    _require(user, "dispatch")

    def build(inc: Incident, at: float) -> _Plan:
        if not inc.is_open:
            raise _transition_error(inc, "dispatched")
        found = get_units(r, keys, [unit_id])
        if not found:
            raise NotFound(f"no unit {unit_id!r}")
        unit = found[0]
        if unit.incident == inc.id:
            raise TransitionError(f"{unit.label} is already assigned to {inc.id}")
        if unit.status != "free" or unit.incident:
            where = f" to {unit.incident}" if unit.incident else ""
            raise TransitionError(f"{unit.label} is not free ({unit.status}{where})")
        status = "dispatched" if inc.status in ("reported", "verified") else inc.status
        new = replace(inc, status=status, units=inc.units + [unit.id], ack=True,
                      ack_by=inc.ack_by or user.name, ack_at=inc.ack_at or at,
                      dispatched_at=inc.dispatched_at or at, updated_at=at,
                      updated_by=user.name)
        _history(new, at, user, "assign", inc.status, note=note, unit=unit.id)
        return _Plan("assign", [(inc, new)],
                     units=[(unit, _unit_assign(unit, inc.id, "assigned", at, user))],
                     note=note, message=f"{unit.label} sent to {inc.id}",
                     extra={"unit": unit.id})

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


def nearest_for(r: redis.Redis, keys: Keys, inc: Incident, count: int = 5,
                network: Any = None, **kw: Any) -> list[Candidate]:
    return nearest_free_units(r, keys, inc.lon, inc.lat, count=count, network=network, **kw)


def assign_nearest(r: redis.Redis, keys: Keys, user: User, incident_id: str,
                   expected_rev: int | None = None, network: Any = None,
                   types: Sequence[str] | None = None, now: float | None = None,
        tz: tzinfo | None = None) -> ActionResult:
    """Send the nearest free unit (by road where the network allows, else straight line)."""
    _require(user, "dispatch")
    last_error: DispatchError | None = None
    tried: set[str] = set()
    for _ in range(RETRIES):
        inc = load(r, keys, incident_id)
        if expected_rev is not None and inc.rev != expected_rev:
            msg, changes = describe_changes(inc, expected_rev, tz)
            raise ConflictError(inc.id, msg, inc.rev, changes)
        if not inc.is_open:
            raise _transition_error(inc, "dispatched")
        cands = [c for c in nearest_for(r, keys, inc, count=3, network=network, types=types,
                                        now=now) if c.unit.id not in tried]
        if not cands:
            raise TransitionError(f"no free unit near {inc.id}")
        c = cands[0]
        try:
            res = assign_unit(r, keys, user, incident_id, c.unit.id, expected_rev, now=now, tz=tz)
        except TransitionError as exc:   # taken by someone else meanwhile: next one
            tried.add(c.unit.id)
            last_error = exc
            continue
        shown_m = c.road_m if c.road_m is not None else c.straight_m
        how = "by road" if c.by == "road" else "straight line"
        res.message += f" ({shown_m / 1000:.1f} km {how})"
        res.extra.update(candidate=c.to_dict())
        return res
    raise last_error or TransitionError(f"no free unit near {incident_id}")


def release_unit(r: redis.Redis, keys: Keys, user: User, incident_id: str, unit_id: str,
                 expected_rev: int | None = None, now: float | None = None,
                 note: str = "",
        tz: tzinfo | None = None) -> ActionResult:
    """Recall a unit from an incident; with no unit left a dispatched or on-scene incident
    goes back to verified."""
    _require(user, "dispatch")

    def build(inc: Incident, at: float) -> _Plan:
        if unit_id not in inc.units:
            raise TransitionError(f"unit {unit_id} is not assigned to {inc.id}")
        found = [u for u in get_units(r, keys, [unit_id])]
        left = [u for u in inc.units if u != unit_id]
        status = inc.status
        if not left and inc.status in ("dispatched", "on_scene"):
            status = "verified"
        new = replace(inc, status=status, units=left, verified_at=inc.verified_at or (
            at if status == "verified" else None), updated_at=at, updated_by=user.name)
        _history(new, at, user, "release", inc.status, note=note, unit=unit_id)
        unit_changes = [(u, _unit_free(u, at, user)) for u in found if u.incident == inc.id]
        return _Plan("release", [(inc, new)], units=unit_changes, note=note,
                     message=f"{unit_id} released from {inc.id}")

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


# a unit ahead of a moving target is preferred to the nearest one only when it is not much
# farther: at most this factor, or this many metres, beyond the nearest free unit
AHEAD_MAX_FACTOR = 1.5
AHEAD_MAX_EXTRA_M = 1000.0


def _place_at(inc: Incident, lon: float, lat: float, network: Any,
              ev: RoadEvent | None) -> dict[str, Any]:
    """Place, road names, segment and district of a new position: from the report that
    gave it, else from the road network's nearest segment; the old ones never stay."""
    out = {"place": "", "road_names": [], "segment_id": "", "district": ""}
    if ev is not None:
        out.update(place=place_of(ev), road_names=list(ev.road_names)[:20],
                   segment_id=ev.segment_id or "", district=ev.district or "")
    match = None
    if network is not None and (not out["segment_id"] or not out["road_names"]
                                or not out["district"]):
        try:
            match = network.nearest(lon, lat, max_m=300.0)
        except Exception:  # noqa: BLE001 - a network without segments: words from the report
            match = None
    if match is not None:
        out["segment_id"] = out["segment_id"] or match.segment_id
        out["road_names"] = out["road_names"] or [match.road_name]
        out["district"] = out["district"] or match.district or ""
    if not out["district"] and network is not None and hasattr(network, "district_at"):
        out["district"] = network.district_at(lon, lat) or ""
    out["place"] = out["place"] or "、".join(out["road_names"][:2]) or f"{lon:.5f},{lat:.5f}"
    return out


def _moved_words(inc: Incident, new: Incident, verb: str) -> str:
    """e.g. "移交：长城路 → 泰山大街 (泰山区)"."""
    district = f" ({new.district})" if new.district else ""
    return f"{verb}：{inc.place or '·'} → {new.place or '·'}{district}"


def handover(r: redis.Redis, keys: Keys, user: User, incident_id: str, lon: float, lat: float,
             expected_rev: int | None = None, network: Any = None,
             now: float | None = None, note: str = "",
             event: RoadEvent | None = None,
        tz: tzinfo | None = None) -> ActionResult:
    """A moving target (the overloaded coach): move the incident to (lon, lat), send the
    nearest free unit *ahead* of it (in its direction of travel, unless that one is much
    farther than the nearest; else the nearest one), and release the units that had it.
    Place, roads, segment and district move with it (from ``event``, the report giving the
    new position, else the road network). Recorded in the history, in words."""
    _require(user, "dispatch")

    def build(inc: Incident, at: float) -> _Plan:
        if not inc.is_open:
            raise _transition_error(inc, "dispatched")
        current = _units_of(r, keys, inc)
        cands = nearest_free_units(r, keys, lon, lat, count=10, network=network,
                                   exclude=[u.id for u in current], now=now)
        dx, dy = lon - inc.lon, lat - inc.lat
        limit = (max(cands[0].rank_m * AHEAD_MAX_FACTOR, cands[0].rank_m + AHEAD_MAX_EXTRA_M)
                 if cands else 0.0)
        ahead = [c for c in cands if c.unit.lon is not None and c.rank_m <= limit and
                 (c.unit.lon - lon) * dx + (c.unit.lat - lat) * dy > 0]
        pick = (ahead or cands or [None])[0]
        new = replace(inc, lon=lon, lat=lat, updated_at=at, updated_by=user.name, ack=True,
                      ack_by=inc.ack_by or user.name, ack_at=inc.ack_at or at,
                      **_place_at(inc, lon, lat, network, event))
        # the coordinates under their own names: "from"/"to" of an entry are statuses
        moved = {"moved": _moved_words(inc, new, "移交" if pick else "移动"),
                 "from_point": [round(inc.lon, 6), round(inc.lat, 6)],
                 "to_point": [round(lon, 6), round(lat, 6)]}
        unit_changes: list[tuple[Unit, dict[str, str]]] = []
        if pick is None:
            _history(new, at, user, "move", inc.status, note=note or "no free unit ahead",
                     **moved)
            return _Plan("move", [(inc, new)], note=note,
                          message=f"{inc.id} moved; no free unit to hand over to")
        new.units = [pick.unit.id]
        new.status = "dispatched"
        new.dispatched_at = inc.dispatched_at or at
        unit_changes.append((pick.unit, _unit_assign(pick.unit, inc.id, "assigned", at, user)))
        unit_changes += [(u, _unit_free(u, at, user)) for u in current]
        _history(new, at, user, "handover", inc.status, note=note, unit=pick.unit.id,
                 released=[u.id for u in current], **moved)
        names = ", ".join(u.label for u in current) or "nobody"
        return _Plan("handover", [(inc, new)], units=unit_changes, note=note,
                     message=f"{inc.id} handed from {names} to {pick.unit.label} "
                             f"({'ahead' if ahead else 'nearest'}, "
                             f"{(pick.road_m or pick.straight_m) / 1000:.1f} km)",
                     extra={"unit": pick.unit.id, "released": [u.id for u in current]})

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


# -- reports ---------------------------------------------------------------------------------
def link_report(r: redis.Redis, keys: Keys, user: User, incident_id: str, report_id: str,
                expected_rev: int | None = None, move: bool = False,
                now: float | None = None,
        tz: tzinfo | None = None) -> ActionResult:
    """Attach another report to an incident (``move``: take the report's position, for a
    moving target such as the overloaded coach). The incident's reported time stays: it
    says when the incident was first reported, which a later link does not change."""
    _require(user, "dispatch")
    ev = Store(r, keys).get_event(report_id)
    if ev is None:
        raise NotFound(f"no event {report_id!r}")
    return _link(r, keys, user, incident_id, ev, expected_rev, move, now, tz=tz)


def auto_link(r: redis.Redis, keys: Keys, user: User, incident_id: str, ev: RoadEvent,
              explanation: str, refine: bool = False, now: float | None = None) -> ActionResult:
    """The fusion's "link": attach a feed event to an open incident, ``explanation`` in
    the history. ``refine``: the event pins the place more precisely than the incident
    did, so the incident takes its position, road and place. System only."""
    _require_system(user)
    return _link(r, keys, user, incident_id, ev, None, refine, now, note=explanation,
                 open_only=True)


def _link(r: redis.Redis, keys: Keys, user: User, incident_id: str, ev: RoadEvent,
          expected_rev: int | None, move: bool, now: float | None, note: str = "",
          open_only: bool = False, tz: tzinfo | None = None) -> ActionResult:
    report_id = ev.id

    def build(inc: Incident, at: float) -> _Plan:
        if inc.status == "merged" or (open_only and not inc.is_open):
            raise _transition_error(inc, inc.status)
        linked = incident_of_report(r, keys, report_id)
        if linked == inc.id:
            raise TransitionError(f"{report_id} is already linked to {inc.id}")
        if linked:
            raise TransitionError(f"{report_id} is already linked to {linked}")
        if len(inc.reports) >= MAX_REPORTS:
            raise TransitionError(f"{inc.id} has {MAX_REPORTS} reports already")
        new = replace(inc, reports=inc.reports + [report_id],
                      severity=max(inc.severity, int(ev.severity)),
                      last_report_at=max(inc.last_report_at, min(ev.observed_at.timestamp(), at)),
                      updated_at=at, updated_by=user.name)
        extra = {}
        if move:
            new.lon, new.lat = ev.lon, ev.lat
            extra = {"from": [round(inc.lon, 6), round(inc.lat, 6)],
                     "to": [round(ev.lon, 6), round(ev.lat, 6)]}
            if open_only:   # the fusion refines the place along with the position
                new.segment_id, new.district = ev.segment_id or inc.segment_id, \
                    ev.district or inc.district
                new.road_names = list(ev.road_names)[:20] or inc.road_names
                new.place, new.precision = place_of(ev) or inc.place, precision_of(ev)
        _history(new, at, user, "link", inc.status, note=note, report=report_id, **extra)
        return _Plan("link", [(inc, new)], links={report_id: inc.id},
                     link_checks={report_id: ""}, note=note,
                     message=f"{report_id} linked to {inc.id}")

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


def split_report(r: redis.Redis, keys: Keys, user: User, incident_id: str, report_id: str,
                 expected_rev: int | None = None, now: float | None = None,
        tz: tzinfo | None = None) -> ActionResult:
    """Undo a wrong merge: move one report out of an incident into a new incident
    (status reported), with history on both. The report stays linked to the new one, so
    the fusion never attaches it back. ``extra["new_incident"]`` is the new id."""
    _require(user, "dispatch")

    def build(inc: Incident, at: float) -> _Plan:
        if inc.status == "merged":
            raise _transition_error(inc, inc.status)
        if report_id not in inc.reports:
            raise TransitionError(f"{report_id} is not a report of {inc.id}")
        if len(inc.reports) < 2:
            raise TransitionError(f"{report_id} is the only report of {inc.id}; nothing to "
                                  "split from")
        ev = Store(r, keys).get_event(report_id)
        if ev is not None:
            new = _incident_from_event(r, keys, ev, at, user)
        else:   # the report has expired: the new incident starts from the old one's place
            seq = int(r.incr(keys.incident_seq()))
            new = replace(inc, id=f"INC-{seq:06d}", rev=0, status="reported", ack=False,
                          ack_by="", ack_at=None, verified_at=None, dispatched_at=None,
                          on_scene_at=None, cleared_at=None, units=[], merged=[],
                          merged_into="", reopened=0, split_off=[], history=[],
                          reports=[report_id], created_at=at, created_by=user.name,
                          reported_at=at, updated_at=at, updated_by=user.name)
        new.split_from = inc.id
        old = replace(inc, reports=[x for x in inc.reports if x != report_id],
                      split_off=(inc.split_off + [report_id])[-MAX_REPORTS:],
                      updated_at=at, updated_by=user.name)
        _history(old, at, user, "split", inc.status, report=report_id, into=new.id)
        _history(new, at, user, "split", "", report=report_id, split_from=inc.id)
        return _Plan("split", [(inc, old), (None, new)], links={report_id: new.id},
                     link_checks={report_id: inc.id},
                     message=f"{report_id} split from {inc.id} into {new.id}",
                     extra={"new_incident": new.id})

    return _run(r, keys, user, incident_id, expected_rev, build, now, tz)


def merge(r: redis.Redis, keys: Keys, user: User, duplicate_id: str, target_id: str,
          expected_rev: int | None = None, now: float | None = None,
          note: str = "",
        tz: tzinfo | None = None) -> ActionResult:
    """Fold a duplicate into another open incident: its reports, units and history
    pointer move over; the duplicate is closed as ``merged``."""
    _require(user, "dispatch")
    if duplicate_id == target_id:
        raise TransitionError("an incident cannot be merged into itself")
    order = list(STATUSES)

    def build(dup: Incident, at: float) -> _Plan:
        target = load(r, keys, target_id)
        for inc in (dup, target):
            if not inc.is_open:
                raise TransitionError(f"cannot merge: {inc.id} is {inc.status}")
        units = _units_of(r, keys, dup)
        status = max(dup.status, target.status, key=order.index)
        if status in ("dispatched", "on_scene") and not (target.units or units):
            status = "verified"
        reports = target.reports + [x for x in dup.reports if x not in target.reports]
        t_new = replace(
            target, status=status, reports=reports[:MAX_REPORTS],
            units=target.units + [u.id for u in units if u.id not in target.units],
            merged=target.merged + [dup.id], severity=max(target.severity, dup.severity),
            reported_at=min(target.reported_at or at, dup.reported_at or at),
            last_report_at=max(target.last_report_at, dup.last_report_at),
            ack=target.ack or dup.ack, ack_by=target.ack_by or dup.ack_by,
            ack_at=target.ack_at or dup.ack_at,
            verified_at=_first(target.verified_at, dup.verified_at),
            dispatched_at=_first(target.dispatched_at, dup.dispatched_at),
            on_scene_at=_first(target.on_scene_at, dup.on_scene_at),
            updated_at=at, updated_by=user.name)
        d_new = replace(dup, status="merged", merged_into=target.id, units=[], updated_at=at,
                        updated_by=user.name)
        _history(d_new, at, user, "merge", dup.status, note=note, into=target.id)
        _history(t_new, at, user, "merge", target.status, note=note, duplicate=dup.id)
        unit_status = "on_scene" if status == "on_scene" else "assigned"
        return _Plan("merge", [(dup, d_new), (target, t_new)],
                     units=[(u, _unit_assign(u, target.id, unit_status, at, user))
                            for u in units],
                     links={rid: target.id for rid in dup.reports}, note=note,
                     message=f"{dup.id} merged into {target.id}",
                     extra={"target": target.id})

    return _run(r, keys, user, duplicate_id, expected_rev, build, now, tz)


def _first(*stamps: float | None) -> float | None:
    present = [s for s in stamps if s]
    return min(present) if present else None


# -- what the page shows -----------------------------------------------------------------
def _shown(text: str, user: User) -> str:
    """Text for this user: masked unless the role may see personal data."""
    return text if user.can("see_pii") else text_for_restricted(text or "")


def _masked_for(user: User):
    """The masker for feed text shown to ``user``: ``mask_text`` for a role that may see
    personal data (it sees the private details anyway), else ``text_for_restricted``
    (masked, and withheld when a residue of personal data remains)."""
    return mask_or_empty if user.can("see_pii") else text_for_restricted


def queue_rows(r: redis.Redis, keys: Keys, user: User, now: float | None = None,
               limit: int = 500, tz: tzinfo | None = None) -> list[dict[str, Any]]:
    """Rows of the incident queue, most urgent first (view_dispatch); times in ``tz``,
    the city's zone."""
    _require(user, "view_dispatch")
    now = time.time() if now is None else now
    incs = open_incidents(r, keys, limit)
    masked = _masked_for(user)
    unit_ids = {u for inc in incs for u in inc.units}
    units = {u.id: u for u in get_units(r, keys, sorted(unit_ids))}
    rows = []
    for rank, inc in enumerate(incs, 1):
        rows.append({
            "rank": rank, "id": inc.id, "rev": inc.rev, "status": inc.status,
            "status_label": INCIDENT_STATUS_LABELS.get(inc.status, inc.status),
            "category": CATEGORY_LABELS.get(inc.category, inc.category),
            "severity": inc.severity, "district": inc.district,
            "place": masked(inc.place), "text": masked(inc.text)[:200],
            "age_min": round(max(0.0, now - (inc.reported_at or inc.created_at)) / 60),
            "reported": hhmm(inc.reported_at or inc.created_at, tz),
            "ack": "是" if inc.ack else "否", "reports": len(inc.reports),
            "units": "、".join(units[u].callsign or u if u in units else u for u in inc.units),
            "lon": inc.lon, "lat": inc.lat,
        })
    return rows


def detail(r: redis.Redis, keys: Keys, user: User, incident_id: str,
           network: Any = None, now: float | None = None,
           tz: tzinfo | None = None) -> dict[str, Any]:
    """Everything the detail panel shows for one incident (view_dispatch), times in
    ``tz`` (the city's zone). Reporters' raw text, names and phone numbers are included
    only for roles with ``see_pii``."""
    _require(user, "view_dispatch")
    tz = tz or SHANGHAI
    inc = load(r, keys, incident_id)
    store = Store(r, keys)
    pii = user.can("see_pii")
    masked = _masked_for(user)
    reports = []
    for rid, ev in zip(inc.reports, _events(store, inc.reports)):
        item: dict[str, Any] = {"id": rid}
        if ev is not None:
            item.update(source=ev.source, category=CATEGORY_LABELS.get(ev.category, ev.category),
                        at=ev.observed_at.astimezone(tz).strftime("%m-%d %H:%M"),
                        text=masked(ev.text), lon=ev.lon, lat=ev.lat,
                        count=ev.attrs.get("count", 1) if isinstance(ev.attrs, dict) else 1)
        else:
            item.update(source=rid.split(":")[0], category="", at="", text="(expired)")
        if pii:
            private = store.get_private(rid)
            item["private"] = {k: private[k] for k in ("raw_text", "screen_name", "name", "phone",
                                                     "plate") if private.get(k)}
        reports.append(item)
    units = get_units(r, keys, inc.units)
    history = []
    for e in inc.history:
        history.append({**e, "at_local": datetime.fromtimestamp(
            float(e.get("at", 0)), tz).strftime("%m-%d %H:%M:%S"),
            "note": _shown(str(e.get("note", "")), user)})
    out = {
        "id": inc.id, "rev": inc.rev, "status": inc.status,
        "status_label": INCIDENT_STATUS_LABELS.get(inc.status, inc.status),
        "category": CATEGORY_LABELS.get(inc.category, inc.category), "severity": inc.severity,
        "text": masked(inc.text), "place": masked(inc.place), "district": inc.district,
        "road_names": inc.road_names, "lon": inc.lon, "lat": inc.lat,
        "ack": inc.ack, "ack_by": inc.ack_by, "ack_at": hhmm(inc.ack_at, tz),
        "times": {k: hhmm(getattr(inc, k), tz) for k in (
            "reported_at", "verified_at", "dispatched_at", "on_scene_at", "cleared_at")},
        "reports": reports, "history": history, "trail": trail_rows(history),
        "merged_into": inc.merged_into,
        "merged": inc.merged,
        "units": [{"id": u.id, "callsign": u.callsign, "type": u.type, "status": u.status,
                   "lon": u.lon, "lat": u.lat} for u in units],
        "nearest": [c.to_dict() for c in nearest_for(r, keys, inc, count=5, network=network,
                                                     now=now)] if inc.is_open else [],
        "pii": pii,
    }
    return out


def _events(store: Store, ids: Iterable[str]):
    ids = list(ids)
    got = {e.id: e for e in store.get_events(ids)}
    return [got.get(i) for i in ids]


def unlinked_reports(r: redis.Redis, keys: Keys, user: User, limit: int = 100,
                     kinds: Sequence[str] = ("report", "incident"),
                     tz: tzinfo | None = None) -> list[dict[str, Any]]:
    """Live report and incident events not yet linked to an incident, newest first
    (choices for "create from report" and "link report"); text masked for every role."""
    _require(user, "view_dispatch")
    store = Store(r, keys)
    masked = _masked_for(user)
    links = r.hgetall(keys.report_incident())
    out = []
    for kind in kinds:
        for ev in store.active_events(kind):
            if ev.id in links:
                continue
            out.append({"id": ev.id, "kind": ev.kind, "source": ev.source,
                        "category": CATEGORY_LABELS.get(ev.category, ev.category),
                        "severity": ev.severity, "text": masked(ev.text)[:120],
                        "place": masked(str(ev.attrs.get("place") or
                                               "、".join(ev.road_names[:2]))),
                        "at": ev.observed_at.astimezone(tz or SHANGHAI).strftime("%H:%M"),
                        "observed": ev.observed_at.timestamp(), "lon": ev.lon, "lat": ev.lat})
    out.sort(key=lambda x: x["observed"], reverse=True)
    return out[:limit]


ACTIONS = ("acknowledge", "verify", "assign_nearest", "assign", "on_scene", "clear", "reopen",
           "release", "merge", "link", "follow", "split", "note")


def actions_for(user: User, status: str | None, ack: bool = False,
                has_units: bool = False, reports: int = 0) -> set[str]:
    """The actions this user can take on an incident in ``status`` with ``reports`` linked
    reports (what the page enables; every action checks again on the server)."""
    if status is None:
        return set()
    out: set[str] = set()
    dispatch = user.can("dispatch")
    is_open = status in OPEN_STATUSES
    if is_open and not ack and user.can("acknowledge"):
        out.add("acknowledge")
    if dispatch and status == "reported":
        out.add("verify")
    if dispatch and is_open:
        out.update({"assign_nearest", "assign", "merge", "follow"})
    if dispatch and status != "merged":
        out.update({"link", "note"})
        if reports >= 2:
            out.add("split")
    if dispatch and has_units and is_open:
        out.add("release")
    if user.can("acknowledge") and status == "dispatched":
        out.add("on_scene")
    if (user.can("acknowledge") and status in ("dispatched", "on_scene")) or (
            dispatch and status in ("reported", "verified")):
        out.add("clear")
    if dispatch and status == "cleared":
        out.add("reopen")
    return out
