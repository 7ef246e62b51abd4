"""Server-side shape and type checks of Dash callback requests (``POST
/_dash-update-component``), run before Dash's dispatcher by ``app.create_app``.

A body that is not the shape Dash sends is refused with 400 at once. A well-formed body whose
values cannot be what the page sent (a string for a click count, NaN, a 1,000-deep list, a
lone surrogate, a counter store holding a dict...) is flagged, and ``web.require`` refuses it
with 400 after the permission check. No callback registered here.
"""
from __future__ import annotations

import json

from dash import ALL, ALLSMALLER, MATCH, Output

from layouts import ids

# a wildcard in a registered id, as the callback map spells it (JSON ``["ALL"]``)
_WILDCARDS = {str([w.value]): w for w in (ALL, ALLSMALLER, MATCH)}

def _is_prop_list(value) -> bool:
    """A list of ``{"id": str|dict, "property": str, ...}`` (a list of those for
    pattern-matching ALL/ALLSMALLER inputs)."""
    if not isinstance(value, list):
        return False
    for item in value:
        if isinstance(item, list):
            if not _is_prop_list(item):
                return False
        elif not (isinstance(item, dict) and isinstance(item.get("id"), (str, dict))
                  and isinstance(item.get("property"), str)):
            return False
    return True


_SCALAR = (str, int, float)
MAX_DEPTH = 32
# what a browser sends for these component properties; anything else is refused
_PROP_TYPES = {
    "n_clicks": "count", "n_intervals": "count", "n_submit": "count", "n_blur": "count",
    "pathname": "path", "search": "text", "href": "text", "hash": "text",
    "contents": "text", "filename": "text",
    "clickData": "object", "hoverData": "object", "relayoutData": "object",
    "selectedRows": "rows", "value": "value",
}


# the page's own dcc.Store values (layouts/): counters and objects
_STORE_TYPES = {
    ids.DISPATCH_BUMP: "count", ids.COMMS_CHANGED: "count", ids.COMMS_REPLIED: "count",
    ids.COMMS_REACH_IMPORTED: "count", ids.COMMS_SELECTED_REV: "count",
    ids.DISPATCH_SEEN: "object", ids.DISPATCH_SELECTED: "object", ids.COMMS_DATA: "object",
    ids.COMMS_EDITING: "object",
}


def _depth(value, limit: int) -> int:
    """Nesting depth of a JSON value, stopping at ``limit``."""
    if limit <= 0 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


def _finite(value) -> bool:
    """No NaN/Infinity, no integer beyond 2**53 and no lone surrogate (not UTF-8) anywhere
    inside ``value``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) <= 2 ** 53
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return False


def prop_value_problem(prop: str, value, component_id=None) -> str:
    """Why ``value`` cannot be what the browser sent for ``prop`` of ``component_id``
    ("" when it can)."""
    if _depth(value, MAX_DEPTH + 1) > MAX_DEPTH:
        return f"{prop}: nested too deep"
    if not _finite(value):
        return f"{prop}: not a finite number or not UTF-8"
    kind = _STORE_TYPES.get(component_id) if prop == "data" and isinstance(
        component_id, str) else _PROP_TYPES.get(prop)
    if value is None or kind is None:
        return ""
    ok = {"count": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
          "text": lambda v: isinstance(v, str),
          "path": lambda v: isinstance(v, str) and v.startswith("/") and len(v) <= 4096,
          "object": lambda v: isinstance(v, dict),
          "rows": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
          "value": lambda v: (isinstance(v, _SCALAR) and not isinstance(v, bool)) or (
              isinstance(v, list) and all(isinstance(x, _SCALAR) for x in v))}[kind](value)
    return "" if ok else f"{prop}: wrong type"


def _same_dependency(item: dict, registered_id, registered_prop: str) -> bool:
    """Whether a body's ``{"id", "property"}`` names the registered dependency (a
    pattern-matching id matches its wildcard, as Dash's own check does; ``prop@hash`` of an
    allow_duplicate output is the plain property)."""
    if isinstance(registered_id, str) and registered_id.startswith("{"):
        try:
            registered_id = {k: _WILDCARDS.get(str(v), v) for k, v in
                             json.loads(registered_id).items()}
        except (ValueError, AttributeError):
            return False
    try:
        return Output(item["id"], item["property"].split("@")[0]) == \
            Output(registered_id, registered_prop.split("@")[0])
    except Exception:  # noqa: BLE001 - an id Dash cannot even compare is not the callback's
        return False


def _outputs_problem(outputs, entry: dict) -> str:
    """Why the body's ``outputs`` are not the callback's: the shape the renderer sends (an
    object for one output, a list of that many for several; a list where a pattern-matching
    output names several components) naming the registered outputs. Dash checks the same
    only inside the callback, where a mismatch is a 500."""
    if entry.get("no_output"):
        return ""
    registered = entry.get("output")
    multi = isinstance(registered, (list, tuple))
    regs = list(registered) if multi else [registered]
    if multi and not isinstance(outputs, list):
        return "outputs: not a list"
    specs = outputs if multi else [outputs]
    if len(specs) != len(regs):
        return "outputs: not the callback's"
    for spec, reg in zip(specs, regs):
        wild = isinstance(reg.component_id, dict)
        items = spec if isinstance(spec, list) and wild else [spec]
        for item in items:
            if not (isinstance(item, dict) and isinstance(item.get("id"), (str, dict))
                    and isinstance(item.get("property"), str)):
                return "outputs: not a list of id/property"
            if not _same_dependency(item, reg.component_id, reg.component_property):
                return "outputs: not the callback's"
    return ""


def _inputs_problem(body: dict, entry: dict) -> str:
    """Why the body's inputs and state are not the callback's (count, ids, properties)."""
    for part in ("inputs", "state"):
        sent, registered = body.get(part, []), entry.get(part, [])
        if len(sent) != len(registered):
            return "inputs/state: not the callback's"
        for item, reg in zip(sent, registered):
            for one in (item if isinstance(item, list) else [item]):
                if not _same_dependency(one, reg.get("id"), str(reg.get("property"))):
                    return f"{part}: not the callback's"
    return ""


def body_problem(req, callback_map: dict) -> str:
    """Why a POST to /_dash-update-component is malformed or cannot be routed to a server
    callback ("" when it can): not a JSON object, an unknown output, an output the browser
    computes itself (a clientside callback has no server function), outputs, inputs or
    state that are not the callback's."""
    try:
        body = req.get_json(silent=True)
    except RecursionError:
        return "JSON nested too deep"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "unknown output"
    entry = callback_map[output]
    if entry.get("callback") is None:
        return "a clientside output: the browser computes it"
    if not isinstance(body.get("outputs"), (dict, list)):
        return "outputs: not an object or a list"
    for part in ("inputs", "state"):
        if not _is_prop_list(body.get(part, [])):
            return f"{part}: not a list of id/property"
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        return "changedPropIds: not a list of strings"
    return _outputs_problem(body["outputs"], entry) or _inputs_problem(body, entry)


def values_problem(body: dict) -> str:
    """Why one of the input or state values of a well-formed callback body cannot be what
    the page sent ("" when none)."""
    for part in ("inputs", "state"):
        for item in body.get(part, []):
            for one in (item if isinstance(item, list) else [item]):
                problem = prop_value_problem(one["property"], one.get("value"), one["id"])
                if problem:
                    return problem
    return ""


def is_page_router(body: dict) -> bool:
    """Dash's page router (open to everyone, it calls no ``require``)."""
    return any(isinstance(i, dict) and i.get("id") == "_pages_location"
               for i in body.get("inputs", []))
