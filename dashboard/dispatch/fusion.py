"""Fusion: every located feed record about an incident ends up on exactly one open incident.

A record is *eligible* when it is live (not ended) and either of kind "incident" (any
category) or of kind "report" with an incident category (accident, breakdown, hazard,
flooding, closure, police, overload) and a severity of at least ``min_severity`` (a
Waze police sighting or chit-chat has severity 0). Jams stay on the congestion layer,
roadworks are construction, illegal parking stays a report: an officer may still promote
any of them with "create from event".

An eligible record joins the best-matching open incident (reported, verified,
dispatched, on scene), else a new incident in state ``reported`` is created for it.
A match needs all three of:

- a compatible category: the same, "other" with anything, or a pair of ``COMPATIBLE``
  (an accident is often first called in as a breakdown or a hazard);
- time: the record within ``window_s`` of the incident's reports (before its first or
  after its last); an incident with units dispatched or on scene matches while it is open;
- the same place: the same intersection (the same two roads), or the same road segment
  within twice the distance below, or within the distance allowed by the *coarser* of
  the two precisions (GPS point, intersection, stretch/landmark); for a landmark the two
  must also share a road name. A road-only place (the road's middle) has no meaningful
  segment or distance, so it matches by its road alone (below). Failing that, by
  the road they share: within ``same_road_m`` when one of the two is not a GPS point (a
  Waze alert mid-block vs a call placed at the nearest intersection; two different named
  intersections are two places, however close), ``expressway_m`` on
  an expressway (a name with 高速: a caller names the nearest interchange, and those are
  5-10 km apart, so the crash may be 2-3 km from the interchange's middle); a road-only record
  (Weibo "泰山大道 积水", placed at the road's middle) joins the open incident of its own
  category on its road within ``coarse_m`` rather than create a second one (weak place
  evidence needs the same category, not merely a compatible one); with two or more open incidents on
  its road and none at its place it is *ambiguous*: it joins none, creates none, and waits
  in the desk's unlinked reports for an officer. Within one poll, well-located records
  are fused before road-only ones, so a road-only record sees every place they make.

A moving target (``moving``: the overloaded coach) is one incident: a report of the same
category on the same road within ``moving_m`` and the window joins it, and the newest
report moves it there ("moving overload on G3京台高速, moved 4.1 km"). Reports of a
join-only category (``join_only``: a call or post filed as "jam" or "other", often about a
closure or flooding) join a compatible incident at the same place but never create one
(they are tried again while they are re-sent). A record of a ``distinct_feeds`` feed never
joins an incident holding another record of that feed: Waze folds its users' reports into
one alert per incident, so two alerts are two incidents, however close.

The best match: one of the record's own category (an accident report joins the accident
200 m up the road, not the pothole 100 m away); then a place match (intersection,
segment, distance) before a road match; then the incident nearest in time; then the
closest. Every
decision is written into the incident's history in words ("merged: same intersection
长城路·泰玻大街, 7 min apart"). A record already linked to an incident
(``keys.report_incident()``) is never fused again: re-sent and updated records (a moving
Waze alert) change nothing, and a report an officer split out stays split.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import redis

from dashboard.auth import User
from dashboard.dispatch import incidents as I
from dashboard.dispatch.incidents import sources_of  # noqa: F401 - the sources, one place
from dashboard.model import RoadEvent
from dashboard.roads.geo import haversine_m
from dashboard.storage.keys import Keys

log = logging.getLogger(__name__)

REPORT_CATEGORIES = ("accident", "breakdown", "hazard", "flooding", "closure", "police",
                     "overload")
NEVER = ("jam", "roadworks", "illegal_parking")
MOVING = ("overload",)          # a coach reported again and again as it drives on
JOIN_ONLY = ("jam", "other")    # a call or post about a closure often says "jam"
DISTINCT_FEEDS = ("waze",)      # Waze folds its users' reports into one alert per incident
COMPATIBLE = (
    ("accident", "breakdown"), ("accident", "hazard"), ("accident", "closure"),
    ("accident", "police"), ("breakdown", "hazard"), ("hazard", "flooding"),
    ("hazard", "weather"), ("hazard", "closure"), ("flooding", "weather"),
    ("flooding", "closure"), ("police", "overload"),
)
PRECISION_WORDS = {"point": "GPS point", "intersection": "intersection",
                   "stretch": "stretch", "landmark": "landmark", "road": "road only"}
MAX_CANDIDATES = 200
LOCK_TIMEOUT_S = 30
LOCK_WAIT_S = 5


@dataclass(frozen=True)
class FusionRules:
    """The fusion's parameters (see the module docstring); built from Settings."""

    window_s: float = 3600.0
    point_m: float = 150.0
    intersection_m: float = 200.0
    landmark_m: float = 300.0       # stretch and landmark
    road_m: float = 800.0
    min_severity: int = 1
    same_road_m: float = 600.0      # one road, one of the two not a GPS point
    expressway_m: float = 3000.0    # the same, on an expressway (interchanges 5-10 km apart)
    expressway_words: tuple[str, ...] = ("高速",)
    coarse_m: float = 10_000.0      # a road-only record: the nearest incident on its road
    moving_m: float = 20_000.0      # a moving target followed along its road
    moving: tuple[str, ...] = MOVING
    join_only: tuple[str, ...] = JOIN_ONLY
    distinct_feeds: tuple[str, ...] = DISTINCT_FEEDS
    report_categories: tuple[str, ...] = REPORT_CATEGORIES
    compatible: tuple[tuple[str, str], ...] = COMPATIBLE
    _pairs: frozenset = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        pairs = {frozenset(p) for p in self.compatible}
        object.__setattr__(self, "_pairs", frozenset(pairs))

    @classmethod
    def from_settings(cls, settings: Any) -> "FusionRules":
        return cls(window_s=float(settings.fusion_window_s), point_m=settings.fusion_point_m,
                   intersection_m=settings.fusion_intersection_m,
                   landmark_m=settings.fusion_landmark_m, road_m=settings.fusion_road_m,
                   min_severity=settings.fusion_min_severity,
                   same_road_m=settings.fusion_same_road_m,
                   expressway_m=settings.fusion_expressway_m,
                   expressway_words=_names(settings.fusion_expressway_words),
                   coarse_m=settings.fusion_coarse_m,
                   moving_m=settings.fusion_moving_m,
                   moving=_names(settings.fusion_moving_categories),
                   join_only=_names(settings.fusion_join_only),
                   distinct_feeds=_names(settings.fusion_distinct_feeds))

    def radius_m(self, precision: str) -> float:
        return {"point": self.point_m, "intersection": self.intersection_m,
                "stretch": self.landmark_m, "landmark": self.landmark_m}.get(precision,
                                                                            self.road_m)

    def compatible_categories(self, a: str, b: str) -> bool:
        return a == b or "other" in (a, b) or frozenset((a, b)) in self._pairs \
            or a in self.join_only

    @property
    def search_m(self) -> float:
        """The farthest any rule can reach (the candidate lookup's radius)."""
        return max(2 * max(self.point_m, self.intersection_m, self.landmark_m, self.road_m),
                   self.same_road_m, self.expressway_m, self.coarse_m, self.moving_m)

    def same_road_limit_m(self, road: str) -> float:
        """How far apart two reports on one road may be (one not a GPS point): wider on
        an expressway, whose interchange a caller names is a kilometre across."""
        if any(w and w in road for w in self.expressway_words):
            return max(self.same_road_m, self.expressway_m)
        return self.same_road_m


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated setting as a tuple of names."""
    return tuple(n.strip() for n in str(text).split(",") if n.strip())


def _feed_of(event_id: str) -> str:
    return event_id.split(":", 1)[0]


def joins_only(ev: RoadEvent, rules: FusionRules) -> bool:
    """True for a live report (a call, a post) of a join-only category ("jam", "other"):
    it may join an open incident at the same place but never creates one."""
    return ev.status != "ended" and ev.kind == "report" and ev.category in rules.join_only


def eligible(ev: RoadEvent, rules: FusionRules) -> bool:
    """True when the record is about an incident and should be on one (module docstring)."""
    if ev.status == "ended" or ev.category in NEVER:
        return False
    if ev.kind == "incident":
        return True
    return ev.kind == "report" and ev.category in rules.report_categories and \
        int(ev.severity) >= rules.min_severity


@dataclass
class Match:
    incident: I.Incident
    distance_m: float
    why: str          # the words after "merged: "
    rank: int         # 0 same intersection, 1 same segment, 2 distance, 3 same road,
                      # 4 road-only record or incident, 5 moving target
    move: bool = False   # the incident takes the record's place (a moving target)


def _event_time(ev: RoadEvent) -> float:
    return ev.observed_at.timestamp()


def _intersection(roads: Sequence[str], precision: str) -> frozenset[str] | None:
    return frozenset(roads[:2]) if precision == "intersection" and len(roads) >= 2 else None


def _minutes(seconds: float) -> str:
    return f"{abs(seconds) / 60:.0f} min apart"


def match(ev: RoadEvent, inc: I.Incident, rules: FusionRules, distance_m: float | None = None
          ) -> Match | None:
    """How ``ev`` matches the open incident ``inc``, or None when it does not (the rules
    in the module docstring, tried in order)."""
    if not inc.is_open or not rules.compatible_categories(ev.category, inc.category):
        return None
    t = _event_time(ev)
    first, last = _span(inc)
    handled = inc.status in ("dispatched", "on_scene")
    if t < first - rules.window_s or (t > last + rules.window_s and not handled):
        return None
    gap = _gap_s(ev, inc)
    dist = distance_m if distance_m is not None else haversine_m(ev.lon, ev.lat, inc.lon,
                                                                 inc.lat)
    when = _minutes(gap)
    shared = [n for n in ev.road_names if n in inc.road_names]
    if ev.category in rules.moving and ev.category == inc.category:
        return _moving(ev, inc, rules, dist, shared, when, t > last)
    p_ev, p_inc = I.precision_of(ev), inc.precision or "point"
    coarser = max(p_ev, p_inc, key=I.PRECISIONS.index)
    limit = max(rules.radius_m(p_ev), rules.radius_m(p_inc))
    x_ev, x_inc = _intersection(ev.road_names, p_ev), _intersection(inc.road_names, p_inc)
    # a road-only place is the road's middle: its segment and distance say nothing
    road_only = coarser == "road"
    if x_ev and x_ev == x_inc and dist <= rules.road_m:
        return Match(inc, dist, f"same intersection {'·'.join(inc.road_names[:2])}, {when}", 0)
    if not road_only and ev.segment_id and ev.segment_id == inc.segment_id \
            and dist <= 2 * limit:
        road = (inc.road_names or list(ev.road_names) or [ev.segment_id])[0]
        return Match(inc, dist, f"same segment of {road}, {dist:.0f} m, {when}", 1)
    words = f"{PRECISION_WORDS[p_ev]} vs {PRECISION_WORDS[p_inc]}"
    if ev.road_names and inc.road_names and not shared:
        if coarser in ("landmark", "road") or dist > limit:
            return None
    if not road_only and dist <= limit:
        return Match(inc, dist, f"{dist:.0f} m apart ({words}, limit {limit:.0f} m), {when}", 2)
    if not shared:
        return None
    if coarser == "road":
        # weak place evidence needs strong category evidence: the same category only
        if dist > rules.coarse_m or ev.category in rules.join_only \
                or ev.category != inc.category:
            return None
        return Match(inc, dist, f"road only: the nearest open incident on {shared[0]} "
                                f"({dist / 1000:.1f} km, {words}), {when}", 4)
    if x_ev and x_inc:      # two different named intersections are two places
        return None
    road_limit = max(rules.same_road_limit_m(n) for n in shared)
    if coarser != "point" and dist <= road_limit:
        road = max(shared, key=rules.same_road_limit_m)
        return Match(inc, dist, f"same road {road}, {dist:.0f} m apart ({words}, "
                                f"limit {road_limit:.0f} m), {when}", 3)
    return None


def _moving(ev: RoadEvent, inc: I.Incident, rules: FusionRules, dist: float,
            shared: list[str], when: str, newer: bool) -> Match | None:
    """A moving target (the overloaded coach): a report of the same category on the same
    road follows it; the newest report moves the incident to where it was seen."""
    if not shared and dist > rules.radius_m("point"):
        return None
    if dist > rules.moving_m:
        return None
    road = (shared or list(inc.road_names) or ["the road"])[0]
    moved = f", moved {dist / 1000:.1f} km" if newer and dist >= 1 else ""
    return Match(inc, dist, f"moving {ev.category} on {road}{moved}, {when}", 5,
                 move=newer)


def distinct(ev: RoadEvent, inc: I.Incident, rules: FusionRules) -> bool:
    """True when the incident holds another record of the record's feed and that feed
    reports each incident once (``distinct_feeds``: Waze folds its users' reports into
    one alert): two such alerts are two incidents, however close."""
    feed = _feed_of(ev.id)
    return feed in rules.distinct_feeds and any(_feed_of(x) == feed and x != ev.id
                                                for x in inc.reports)


def best_match(ev: RoadEvent, candidates: Iterable[tuple[I.Incident, float]],
               rules: FusionRules) -> Match | None:
    """The best matching incident: one of the record's own category (an accident report
    joins the accident, not the pothole at the same corner); then one at the same place
    (same intersection, segment or within the precision's distance) before one found by
    its road only; then the nearest in time (reports of it closest to the record's); then
    the closest."""
    return pick(ev, matches(ev, candidates, rules))


def pick(ev: RoadEvent, found: Sequence[Match]) -> Match | None:
    """The best of the matches ``found`` (the order ``best_match`` describes)."""
    return min(found, key=lambda m: (m.incident.category != ev.category, m.rank >= 3,
                                     _gap_s(ev, m.incident), m.distance_m, m.rank,
                                     m.incident.id), default=None)


def matches(ev: RoadEvent, candidates: Iterable[tuple[I.Incident, float]],
            rules: FusionRules) -> list[Match]:
    """Every candidate the record matches (``match``)."""
    return [m for inc, d in candidates if (m := match(ev, inc, rules, d)) is not None]


def ambiguous(ev: RoadEvent, found: Sequence[Match]) -> list[str]:
    """The incidents a road-only record could equally be about: two or more open incidents
    on its road and none at its place. It joins none and creates none; it waits in the
    desk's unlinked reports for an officer (empty list: not ambiguous)."""
    if I.precision_of(ev) != "road" or any(m.rank < 3 for m in found):
        return []
    on_road = sorted({m.incident.id for m in found if m.rank == 4})
    return on_road if len(on_road) >= 2 else []


def _span(inc: I.Incident) -> tuple[float, float]:
    """(first, last) report time of an incident."""
    first = inc.reported_at or inc.created_at
    return first, max(inc.last_report_at, first)


def _gap_s(ev: RoadEvent, inc: I.Incident) -> float:
    """Seconds between the record and the nearest end of the incident's reports."""
    t, (first, last) = _event_time(ev), _span(inc)
    return 0.0 if first <= t <= last else min(abs(t - first), abs(t - last))


def candidates(r: redis.Redis, keys: Keys, ev: RoadEvent, rules: FusionRules,
               cache: dict[str, I.Incident] | None = None) -> list[tuple[I.Incident, float]]:
    """Open incidents near the record, with their distance in metres (one GEOSEARCH).

    ``cache`` keeps the incidents read during one fusion pass (which holds the fusion
    lock, so only the pass itself changes them: ``_fuse_one`` drops what it changed);
    a poll of 50 records then reads each nearby incident once, not 50 times."""
    found = r.geosearch(keys.incidents_geo(), longitude=ev.lon, latitude=ev.lat,
                        radius=rules.search_m, unit="m", sort="ASC", count=MAX_CANDIDATES,
                        withdist=True)
    dist = {m: float(d) for m, d in found}
    cache = {} if cache is None else cache
    missing = [i for i in dist if i not in cache]
    if missing:
        cache.update((inc.id, inc) for inc in I.load_for_matching(r, keys, missing))
    return [(cache[i], d) for i, d in dist.items() if i in cache and cache[i].is_open]


@dataclass
class FusionSummary:
    """What one fusion pass did."""

    created: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    skipped: int = 0          # not eligible or linked already
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"created": len(self.created), "linked": len(self.linked),
                "skipped": self.skipped, "errors": self.errors}


def fuse(r: redis.Redis, keys: Keys, events: Sequence[RoadEvent], rules: FusionRules,
         user: User = I.FUSION_USER, now: float | None = None) -> FusionSummary:
    """Attach every eligible, not yet linked record of ``events`` to one open incident,
    oldest first, creating incidents where none matches. One record failing does not
    stop the others (it is counted in ``errors`` and tried again when re-sent)."""
    out = FusionSummary()
    todo = [ev for ev in events if eligible(ev, rules) or joins_only(ev, rules)]
    out.skipped = len(events) - len(todo)
    if not todo:
        return out
    linked = I.linked_reports(r, keys, [ev.id for ev in todo])
    out.skipped += len(linked)
    todo = [ev for ev in todo if ev.id not in linked]
    if not todo:
        return out
    lock = r.lock(keys.lease("fusion"), timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S)
    held = lock.acquire()
    if not held:    # another pass is slow: go on; at worst one duplicate an officer merges
        log.warning("fusion: lock busy for %s s; fusing without it", LOCK_WAIT_S)
    try:
        ensure_geo_index(r, keys)
        cache: dict[str, I.Incident] = {}
        # well-located records first, so that a road-only one sees every place they make
        for ev in sorted(todo, key=lambda e: (I.precision_of(e) == "road",
                                              (e.starts_at or e.observed_at), e.id)):
            try:
                _fuse_one(r, keys, ev, rules, user, now, out, cache)
            except I.TransitionError as exc:   # linked meanwhile, or its incident closed
                log.info("fusion: %s: %s", ev.id, exc)
                out.skipped += 1
                cache.clear()     # an officer changed an incident meanwhile: read afresh
            except (redis.ConnectionError, redis.TimeoutError):
                raise   # Redis is away: the caller's outage handling, not a record's fault
            except Exception:  # noqa: BLE001 - one record never stops the rest
                log.exception("fusion: %s failed", ev.id)
                out.errors += 1
    finally:
        if held:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass
    return out


def _fuse_one(r: redis.Redis, keys: Keys, ev: RoadEvent, rules: FusionRules, user: User,
              now: float | None, out: FusionSummary,
              cache: dict[str, I.Incident] | None = None) -> None:
    near = [(inc, d) for inc, d in candidates(r, keys, ev, rules, cache)
            if not distinct(ev, inc, rules)]
    found = matches(ev, near, rules)
    if ambiguous(ev, found):
        out.skipped += 1      # "泰山大道 车祸" with two accidents on 泰山大道: an officer's call
        return
    best = pick(ev, found)
    if best is None and not eligible(ev, rules):
        out.skipped += 1      # a jam/other report with no incident to join stays a report
        return
    if best is None:
        p = I.precision_of(ev)
        why = (f"new: no open incident of a compatible category within "
               f"{rules.radius_m(p):.0f} m ({PRECISION_WORDS[p]}) and "
               f"{rules.window_s / 60:.0f} min")
        out.created.append(I.auto_create(r, keys, user, ev, why, now=now).incident_id)
        return
    inc = best.incident
    p_inc = inc.precision or "point"
    refine = I.PRECISIONS.index(I.precision_of(ev)) < I.PRECISIONS.index(p_inc)
    if best.move:
        why = f"merged: {best.why} (moved to the newest report)"
    else:
        why = f"merged: {best.why}" + (" (place refined)" if refine else "")
    if cache is not None:
        cache.pop(inc.id, None)
    I.auto_link(r, keys, user, inc.id, ev, why, refine=refine or best.move, now=now)
    out.linked.append(inc.id)


def ensure_geo_index(r: redis.Redis, keys: Keys) -> None:
    """Make the geo set of open incidents hold exactly the open incidents (incidents
    from before it existed, or closed meanwhile). Cheap when it is right: two ZCARDs."""
    if r.zcard(keys.incidents_open()) == r.zcard(keys.incidents_geo()):
        return
    open_ids = set(r.zrange(keys.incidents_open(), 0, -1))
    in_geo = set(r.zrange(keys.incidents_geo(), 0, -1))
    for inc in I.load_many(r, keys, sorted(open_ids - in_geo)):
        r.geoadd(keys.incidents_geo(), (inc.lon, inc.lat, inc.id))
    stale = in_geo - open_ids
    if stale:
        r.zrem(keys.incidents_geo(), *stale)
