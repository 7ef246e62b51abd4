"""Drafting on the comms page: the bulletin each template makes from the live picture
(``build``) and the hashtags and @-mentions put around a text being edited (``with_tags``).

``build`` reads what its template needs: the event store, the road network (for the
templates that describe stretches of road, loaded from ``settings.state_dir`` only then),
the incident a report is linked to, the holiday calendar, the earlier bulletin. It raises
``BulletinError`` with a message for the comms officer when the choice does not fit.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from dashboard.comms import bulletins as B
from dashboard.comms.bulletin_store import BulletinError, BulletinStore, incident_status
from dashboard.comms.holidays import HolidayCalendar, HolidayError, period_from_value
from dashboard.comms.reach import BadValue, parse_time
from dashboard.roads.stretches import StretchFinder
from dashboard.settings import Settings
from dashboard.storage.keys import Keys
from dashboard.storage.store import Store
from dashboard.timeutil import SHANGHAI

# the control template's "fill in the form below" choice (not an event id)
FORM_SOURCE = "__form__"


def _network(settings: Settings) -> Any:
    """The active road network (loaded once per process)."""
    from dashboard.roads.network import get_network

    return get_network(settings.state_dir)


def _local_time(text: str | None) -> datetime | None:
    """A form's local time (``2026-10-01 08:00``); None when blank."""
    if not text or not text.strip():
        return None
    try:
        return parse_time(text)
    except BadValue:
        raise BulletinError(f"时间格式应为 2026-10-01 08:00 (bad time {text[:20]!r})") from None


def _control(store: Store, source: str | None, form: dict[str, str]) -> B.Control:
    """The control measure: a closure event's, with what the form fills in on top, or the
    form's alone."""
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
                     starts_at=_local_time(form.get("start")) or ctl.starts_at,
                     ends_at=_local_time(form.get("end")) or ctl.ends_at,
                     detour=(form.get("detour") or "").strip() or ctl.detour,
                     ids=ctl.ids)


def build(r: redis.Redis, keys: Keys, store: Store, settings: Settings, template: str,
          source: str | None, hashtags: str, mentions: str, control: dict[str, str],
          now: float) -> B.Bulletin:
    """The bulletin ``template`` makes from the live picture at ``now`` (epoch seconds).

    ``source`` is the picker's choice (an event, a holiday period, an earlier bulletin,
    or ``FORM_SOURCE``), ``control`` the control form's fields (place, reason, start, end,
    detour), ``hashtags`` and ``mentions`` comma- or space-separated names.
    BulletinError when the template cannot be filled."""
    dt = datetime.fromtimestamp(now, SHANGHAI)
    kw = {"hashtags": B.split_tags(hashtags), "mentions": B.split_tags(mentions)}
    if template == "traffic":
        return B.live_traffic_report(store, _network(settings), dt,
                                     stale_s=settings.congestion_stale_s, **kw)
    if template == "accident":
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
        return B.control_notice(_control(store, source, control), dt, **kw)
    if template == "holiday":
        cal = HolidayCalendar.load(settings.state_dir)
        try:
            period = period_from_value(cal, source or "")
        except HolidayError:
            raise BulletinError("请选择假期 (choose a holiday)") from None
        return B.live_holiday_advisory(store, _network(settings), period, dt,
                                       stale_s=settings.congestion_stale_s, **kw)
    if template == "cleared":
        rec = BulletinStore(r, keys).get(source or "")
        if rec is None:
            raise BulletinError("请选择要续报的稿件 (choose the earlier bulletin)")
        return B.cleared_notice(rec.bulletin, dt, **kw)
    raise BulletinError(f"未知模板 {template!r}")


def with_tags(text: str, kind: str, hashtags: str, mentions: str) -> str:
    """``text`` (a bulletin of ``kind`` as edited) with its hashtags and @-mentions
    replaced by ``hashtags`` and ``mentions``."""
    base = B.parse_text(text, kind)
    return B.decorate(f"【{base.title}】{base.body}" if base.title else base.body,
                      B.split_tags(hashtags), B.split_tags(mentions))
