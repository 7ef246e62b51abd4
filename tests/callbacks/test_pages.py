"""The page layouts (layouts.pages) are pure functions of plain values; app.page_inputs
reads those values for a request (settings, the user's permissions, the calendar)."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from dash import html

import app
from dashboard.auth import User
from dashboard.comms.holidays import HolidayCalendar
from layouts import ids, pages


def find(component, cid: str):
    """The component with id ``cid`` inside ``component`` (None when absent)."""
    if isinstance(component, (list, tuple)):
        for c in component:
            hit = find(c, cid)
            if hit is not None:
                return hit
        return None
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    return find(children, cid) if children is not None else None


def test_wall_page_from_settings_values():
    page = pages.wall(refresh_s=2.5, city_name="泰安")
    assert isinstance(page, html.Div)
    assert find(page, ids.WALL_TICK).interval == 2500
    # issue 14: the version tick (1 s by default) is how soon a change reaches the screen
    assert find(pages.wall(5.0, "泰安", tick_s=1.0), ids.WALL_TICK).interval == 1000
    assert "泰安实时路况" in repr(page)


def test_dispatch_page_from_permissions():
    aux = pages.dispatch({"view_dispatch", "acknowledge"})
    officer = pages.dispatch({"view_dispatch", "acknowledge", "dispatch", "manage_units"})
    assert find(aux, ids.DISPATCH_BTN_CREATE).disabled is True
    assert find(officer, ids.DISPATCH_BTN_CREATE).disabled is False
    assert find(aux, ids.DISPATCH_BTN_AUDIT) is None            # admins only
    assert find(pages.dispatch({"view_dispatch"}, tick_s=1.0), ids.DISPATCH_TICK).interval == 1000


def test_comms_page_from_calendar_and_today():
    page = pages.comms(HolidayCalendar.load(None), date(2026, 10, 2))
    picker = find(page, ids.COMMS_REACH_PERIOD)
    assert picker.value == "national-day|2026-10-01|2026-10-07"
    assert picker.value in [o["value"] for o in picker.options]


def test_page_inputs_are_read_for_the_request(settings):
    svc = SimpleNamespace(settings=settings)
    officer = User("li", "officer")
    assert app.page_inputs("wall", officer, svc) == {"refresh_s": settings.refresh_s,
                                                     "city_name": settings.city_name,
                                                     "tick_s": settings.version_tick_s,
                                                     "wall_map": settings.wall_map}
    assert app.page_inputs("dispatch", officer, svc)["tick_s"] == settings.version_tick_s
    perms = app.page_inputs("dispatch", officer, svc)["permissions"]
    assert {"view_dispatch", "dispatch", "manage_units"} <= perms and "view_audit" not in perms
    comms = app.page_inputs("comms", User("wu", "comms"), svc)
    assert isinstance(comms["calendar"], HolidayCalendar) and isinstance(comms["today"], date)
    assert app.page_inputs("feeds", officer, svc) == {}
    for name, _path, _permission, _title in app.PAGES:     # every page builds from them
        assert isinstance(getattr(pages, name)(**app.page_inputs(name, officer, svc)),
                          html.Div)
