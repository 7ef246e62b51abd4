"""Drafting on the comms page: the bulletin each template makes from the live picture
(``build``) and the hashtags and @-mentions put around a text being edited (``with_tags``).

``build`` reads what its template needs: the event store, the road network (for the
templates that describe stretches of road, loaded from ``settings.state_dir`` only then),
the incident a report is linked to, the holiday calendar, the earlier bulletin. It raises
``BulletinError`` with a message for the comms officer when the choice does not fit.
``build_with_notes`` also returns what the officer should know about the draft (a
"恢复通行" follow-up names only what the fused congestion says flows now: every stretch it
left out is listed with the reason).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone, tzinfo
from typing import Any

import redis

from dashboard.comms import bulletins as B
from dashboard.comms.bulletin_store import BulletinError, BulletinStore, incident_status
from dashboard.comms.holidays import HolidayCalendar, HolidayError, period_from_value
from dashboard.comms.reach import BadValue, parse_time
from dashboard.congestion import LEVEL_NAMES, LEVEL_NAMES_EN
from dashboard.dispatch import incidents
from dashboard.dispatch.labels import CATEGORY_LABELS, INCIDENT_STATUS_LABELS
from dashboard.masking import mask_text
from dashboard.model import RoadEvent
from dashboard.roads.stretches import StretchFinder
from dashboard.settings import Settings
from dashboard.storage.keys import Keys
from dashboard.storage.store import Store
from dashboard.city import issuer_of
from dashboard.timeutil import SHANGHAI, city_zone

# the control template's "fill in the form below" choice (not an event id)
FORM_SOURCE = "__form__"
# cleared incidents offered in the accident picker (for a last notice) this long
PICKER_CLEARED_S = 3600
MAX_CHOICES = 100


def _network(settings: Settings) -> Any:
    """The active road network (loaded once per process)."""
    from dashboard.roads.network import get_network

    return get_network(settings.state_dir)


def _local_time(text: str | None, tz: tzinfo | None = None) -> datetime | None:
    """A form's local time (``2026-10-01 08:00``, in ``tz``: the city's zone); None when
    blank."""
    if not text or not text.strip():
        return None
    try:
        return parse_time(text, tz)
    except BadValue:
        raise BulletinError(f"时间格式应为 2026-10-01 08:00 (bad time {text[:20]!r})") from None


def _control(store: Store, source: str | None, form: dict[str, str],
             tz: tzinfo | None = None) -> B.Control:
    """The control measure: a closure event's, with what the form fills in on top, or the
    form's alone (its times local to ``tz``)."""
    ctl: B.Control | None = None
    if source and source != FORM_SOURCE:
        ev = store.get_event(source)
        if ev is not None:
            ctl = B.Control.from_event(ev)
    place = (form.get("place") or "").strip()
    if ctl is None:
        if not place:
            raise BulletinError("请填写管制路段 (fill in the place)")
        ctl = B.Control(place=place)
    return B.Control(place=place or ctl.place,
                     reason=(form.get("reason") or "").strip() or ctl.reason,
                     starts_at=_local_time(form.get("start"), tz) or ctl.starts_at,
                     ends_at=_local_time(form.get("end"), tz) or ctl.ends_at,
                     detour=(form.get("detour") or "").strip() or ctl.detour,
                     ids=ctl.ids)


def build(r: redis.Redis, keys: Keys, store: Store, settings: Settings, template: str,
          source: str | None, hashtags: str, mentions: str, control: dict[str, str],
          now: float) -> B.Bulletin:
    """The bulletin of ``build_with_notes``, without its notes."""
    return build_with_notes(r, keys, store, settings, template, source, hashtags, mentions,
                            control, now)[0]


def build_with_notes(r: redis.Redis, keys: Keys, store: Store, settings: Settings,
                     template: str, source: str | None, hashtags: str, mentions: str,
                     control: dict[str, str], now: float) -> tuple[B.Bulletin, list[str]]:
    """The bulletin ``template`` makes from the live picture at ``now`` (epoch seconds).

    ``source`` is the picker's choice (an event, a holiday period, an earlier bulletin,
    or ``FORM_SOURCE``), ``control`` the control form's fields (place, reason, start, end,
    detour), ``hashtags`` and ``mentions`` comma- or space-separated names. Times are the
    city's (``timeutil.city_zone(settings)``), the holiday advisory is said by the city
    profile's issuer. BulletinError when the template cannot be filled."""
    dt = datetime.fromtimestamp(now, city_zone(settings))
    kw = {"hashtags": B.split_tags(hashtags), "mentions": B.split_tags(mentions)}
    if template == "cleared":
        rec = BulletinStore(r, keys).get(source or "")
        if rec is None:
            raise BulletinError("请选择要续报的稿件 (choose the earlier bulletin)")
        if rec.bulletin.kind == "traffic":
            return _traffic_cleared(store, settings, rec.bulletin, dt, now, **kw)
        _require_cleared(r, keys, store, rec.bulletin)
        notes = _require_flowing(r, keys, store, settings, rec.bulletin, now)
        return B.cleared_notice(rec.bulletin, dt, **kw), notes
    return _build(r, keys, store, settings, template, source, control, dt, kw), []


def _build(r: redis.Redis, keys: Keys, store: Store, settings: Settings, template: str,
           source: str | None, control: dict[str, str], dt: datetime,
           kw: dict[str, Any]) -> B.Bulletin:
    """Every template but the follow-up."""
    if template == "traffic":
        return B.live_traffic_report(store, _network(settings), dt,
                                     stale_s=settings.congestion_stale_s, **kw)
    if template == "accident":
        inc = _incident(r, keys, store, source)
        if inc is not None:
            return incident_notice(inc, dt, **kw)
        ev = store.get_event(source) if source else None
        if ev is None:
            raise BulletinError("请选择一个事件 (choose an incident)")
        _iid, status, _label = incident_status(r, keys, ev)
        return B.incident_notice(ev, dt, status=status or None, **kw)
    if template == "roadworks":
        ev = store.get_event(source) if source else None
        if ev is None:
            raise BulletinError("请选择一处施工 (choose a roadworks event)")
        return B.roadworks_notice(B.works_of(ev, StretchFinder(_network(settings))), dt,
                                  **kw)
    if template == "control":
        return B.control_notice(_control(store, source, control, dt.tzinfo), dt, **kw)
    if template == "holiday":
        cal = HolidayCalendar.load(settings.state_dir)
        try:
            period = period_from_value(cal, source or "")
        except HolidayError:
            raise BulletinError("请选择假期 (choose a holiday)") from None
        return B.live_holiday_advisory(store, _network(settings), period, dt,
                                       stale_s=settings.congestion_stale_s,
                                       issuer=issuer_of(settings), **kw)
    raise BulletinError(f"未知模板 {template!r}")


# -- incidents: the dispatch incident's state is what a notice says -------------------------------
def _incident(r: redis.Redis, keys: Keys, store: Store,
              source: str | None) -> incidents.Incident | None:
    """The dispatch incident the picker's choice names: an incident id, or an event that
    is one of an incident's reports; None when it is neither."""
    if not source:
        return None
    iid = source
    if store.get_event(source) is not None:
        iid = incidents.incident_of_report(r, keys, source)
    if not iid:
        return None
    try:
        inc = incidents.load(r, keys, iid)
    except incidents.NotFound:
        return None
    if inc.status == "merged" and inc.merged_into:
        try:
            inc = incidents.load(r, keys, inc.merged_into)
        except incidents.NotFound:
            return None
    return inc


def incident_notice(inc: incidents.Incident, dt: datetime, **kw: Any) -> B.Bulletin:
    """事故快报 (路况提示) of a dispatch incident: its category, place, report time and
    lifecycle state. Refers to the incident and its reports."""
    happened = datetime.fromtimestamp(inc.reported_at or inc.created_at, timezone.utc)
    ev = RoadEvent(id=inc.id, kind="incident", category=inc.category, severity=inc.severity,
                   source=inc.source or "dispatch", observed_at=happened, lon=inc.lon,
                   lat=inc.lat, district=inc.district, road_names=tuple(inc.road_names),
                   attrs={"place": inc.place} if inc.place else {})
    b = B.incident_notice(ev, dt, status=inc.status, **kw)
    return replace(b, refs=(inc.id, *inc.reports[:20]))


def _require_cleared(r: redis.Redis, keys: Keys, store: Store, earlier: B.Bulletin) -> None:
    """A "恢复通行" follow-up to an incident notice only once dispatch has cleared the
    incident (BulletinError naming its state otherwise). Notices not drawn from an
    incident are not checked."""
    if earlier.kind != "accident" or not earlier.refs:
        return
    inc = _incident(r, keys, store, earlier.refs[0])
    if inc is None or inc.status == "cleared":
        return
    state = INCIDENT_STATUS_LABELS.get(inc.status, inc.status)
    raise BulletinError(f"{inc.id} 尚未处置完毕（{state}），不能发恢复通行 "
                        f"(the incident is {inc.status}, not cleared)")


def _left_out(label: str, level: int) -> str:
    """Why a stretch is not named in a "恢复通行" follow-up."""
    if level >= 2:
        return f"{label}仍{LEVEL_NAMES.get(level, '拥堵')} ({LEVEL_NAMES_EN.get(level, '')})"
    return f"{label}暂无实时路况 (no live reading)"


def _traffic_cleared(store: Store, settings: Settings, earlier: B.Bulletin, dt: datetime,
                     now: float, **kw: Any) -> tuple[B.Bulletin, list[str]]:
    """恢复通行 after a 路况播报: names only the stretches of the earlier report that the
    fused congestion snapshot now says are flowing (level 1, 畅通); each one left out (still
    congested, or no live reading) is a note with its reason. BulletinError, naming them,
    when none flows."""
    snap = store.congestion_snapshot(stale_s=settings.congestion_stale_s, now=now)
    sub = {sid: snap.get(sid) or {"level": 0} for sid in earlier.refs}
    stretches = StretchFinder(_network(settings)).stretches(sub, min_level=0)
    flowing = [s.label for s in stretches if s.level == 1]
    left = [_left_out(s.label, s.level) for s in sorted(
        (s for s in stretches if s.level != 1), key=lambda s: (-s.level, s.label))]
    if not flowing:
        raise BulletinError("所报路段尚未恢复畅通" + (f"：{'；'.join(left)}" if left else "") +
                            " (no stretch of that report is flowing yet)")
    place = "、".join(flowing[:3]) + ("等路段" if len(flowing) > 3 else "")
    notes = [f"未列入 left out: {'；'.join(left)}"] if left else []
    return B.cleared_notice(replace(earlier, place=place), dt, **kw), notes


def _segments_of(r: redis.Redis, keys: Keys, store: Store, earlier: B.Bulletin) -> list[str]:
    """The road segments an accident, roadworks or control notice was drawn from: its
    incident's and its events' (none for a place typed into the form)."""
    out: list[str] = []
    for i, ref in enumerate(earlier.refs[:20]):
        ev = store.get_event(ref)
        if ev is not None and ev.segment_id:
            out.append(ev.segment_id)
        elif i == 0 and earlier.kind == "accident":
            inc = _incident(r, keys, store, ref)
            if inc is not None and inc.segment_id:
                out.append(inc.segment_id)
    return list(dict.fromkeys(out))


def _require_flowing(r: redis.Redis, keys: Keys, store: Store, settings: Settings,
                     earlier: B.Bulletin, now: float) -> list[str]:
    """A "恢复通行" of an accident, roadworks or control notice says its place flows again:
    BulletinError when the fused congestion says a segment of it is still congested; a note
    when there is no live reading there."""
    segs = _segments_of(r, keys, store, earlier)
    snap = store.congestion_snapshot(stale_s=settings.congestion_stale_s, now=now)
    levels = [int((snap.get(s) or {}).get("level") or 0) for s in segs]
    worst = max(levels, default=0)
    place = earlier.place or "相关路段"
    if worst >= 2:
        raise BulletinError(f"实时路况显示{place}仍{LEVEL_NAMES.get(worst, '拥堵')}，暂不能发恢复通行 "
                            f"(the fused congestion says the place is still "
                            f"{LEVEL_NAMES_EN.get(worst, 'congested')})")
    if worst == 0:
        return [f"{place}暂无实时路况，发布前请核实 (no live congestion reading there: "
                "check before publishing)"]
    return []


def accident_choices(r: redis.Redis, keys: Keys, store: Store,
                     now: float, tz: tzinfo | None = None) -> list[dict[str, str]]:
    """The accident notice's picker: dispatch's open incidents (most urgent first), then
    those cleared in the last hour, each with its state and local time (``tz``, the city's
    zone); then live accident events that are no incident's report."""
    tz = tz or SHANGHAI
    out: list[dict[str, str]] = []
    shown = incidents.open_incidents(r, keys, MAX_CHOICES) + \
        incidents.recently_cleared(r, keys, PICKER_CLEARED_S, now)
    for inc in shown:
        when = datetime.fromtimestamp(inc.reported_at or inc.created_at, tz)
        out.append({"value": inc.id, "label": (
            f"{inc.id} {when:%H:%M} {INCIDENT_STATUS_LABELS.get(inc.status, inc.status)} "
            f"{CATEGORY_LABELS.get(inc.category, inc.category)} {mask_text(inc.place)}")})
    dt = datetime.fromtimestamp(now, tz)
    evs = B.incident_candidates(store, dt) + [
        e for e in store.active_events("report", now=now) if e.category == "accident"]
    linked = incidents.linked_reports(r, keys, [e.id for e in evs])
    for e in evs:
        if e.id in linked:
            continue               # drawn as its incident above
        when = e.observed_at.astimezone(tz)
        out.append({"value": e.id, "label": f"{when:%H:%M} 未立案 "
                    f"{CATEGORY_LABELS.get(e.category, e.category)} {B.event_place(e)}"})
    return out[:MAX_CHOICES]


def with_tags(text: str, kind: str, hashtags: str, mentions: str) -> str:
    """``text`` (a bulletin of ``kind`` as edited) with its hashtags and @-mentions
    replaced by ``hashtags`` and ``mentions``."""
    base = B.parse_text(text, kind)
    return B.decorate(f"【{base.title}】{base.body}" if base.title else base.body,
                      B.split_tags(hashtags), B.split_tags(mentions))
