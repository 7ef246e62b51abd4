"""Drafting on the comms page: the bulletin each template makes from the live picture
(``build``) and the hashtags and @-mentions put around a text being edited (``with_tags``).

``build`` reads what its template needs: the event store, the road network (for the
templates that describe stretches of road, loaded from ``settings.state_dir`` only then),
the incident a report is linked to, the holiday calendar, the earlier bulletin. It raises
``BulletinError`` with a message for the comms officer when the choice does not fit.
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
    """The bulletin ``template`` makes from the live picture at ``now`` (epoch seconds).

    ``source`` is the picker's choice (an event, a holiday period, an earlier bulletin,
    or ``FORM_SOURCE``), ``control`` the control form's fields (place, reason, start, end,
    detour), ``hashtags`` and ``mentions`` comma- or space-separated names. Times are the
    city's (``timeutil.city_zone(settings)``), the holiday advisory is said by the city
    profile's issuer. BulletinError when the template cannot be filled."""
    dt = datetime.fromtimestamp(now, city_zone(settings))
    kw = {"hashtags": B.split_tags(hashtags), "mentions": B.split_tags(mentions)}
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
    if template == "cleared":
        rec = BulletinStore(r, keys).get(source or "")
        if rec is None:
            raise BulletinError("请选择要续报的稿件 (choose the earlier bulletin)")
        if rec.bulletin.kind == "traffic":
            return _traffic_cleared(store, settings, rec.bulletin, dt, now, **kw)
        _require_cleared(r, keys, store, rec.bulletin)
        return B.cleared_notice(rec.bulletin, dt, **kw)
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


def _traffic_cleared(store: Store, settings: Settings, earlier: B.Bulletin, dt: datetime,
                     now: float, **kw: Any) -> B.Bulletin:
    """恢复通行 after a 路况播报: names only the stretches of the earlier report that the
    congestion snapshot now says are flowing (level 1); BulletinError when none is."""
    snap = store.congestion_snapshot(stale_s=settings.congestion_stale_s, now=now)
    sub = {sid: snap.get(sid) or {"level": 0} for sid in earlier.refs}
    stretches = StretchFinder(_network(settings)).stretches(sub, min_level=1)
    flowing = [s.label for s in stretches if s.level == 1]
    if not flowing:
        still = "、".join(s.label for s in stretches if s.level >= 2)
        raise BulletinError("所报路段尚未恢复畅通" + (f"：{still}" if still else "") +
                            " (no stretch of that report is flowing yet)")
    place = "、".join(flowing[:3]) + ("等路段" if len(flowing) > 3 else "")
    return B.cleared_notice(replace(earlier, place=place), dt, **kw)


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
