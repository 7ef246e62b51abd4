"""Malformed requests to every Dash callback and every Flask route of the real app.

The callbacks are enumerated from ``app.callback_map`` of an app built by
``app.create_app`` (test settings, real Redis); the routes from ``server.url_map``. Each
gets bodies that are not JSON, JSON of the wrong shape, missing inputs, and inputs of the
wrong type (strings for numbers, dicts for lists, huge numbers, NaN, 1,000-deep nesting,
2 MB strings, lone surrogates), as anonymous and as a logged-in admin. No answer may be
a 500 and the server log may hold no traceback: a 4xx, a 204 (PreventUpdate) or a 200
with a harmless update are all fine.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Iterator

import pytest

from dashboard.auth import User, add_user, create_session

from .test_roles import PASSWORD, WALL_TOKEN, register_every_callback, seed, value_for

DEEP = 1000
BIG = "界" * (700 * 1024)          # about 2 MB of UTF-8
LONG = "A" * 20_000
WRONG_VALUES: list[tuple[str, str]] = [   # (label, raw JSON text of one value)
    ("string", json.dumps("not-a-number")),
    ("dict", json.dumps({"a": 1, "b": [1, 2]})),
    ("list", json.dumps([1, "2", None])),
    ("huge int", "1" + "0" * 400),
    ("huge float", "1e400"),
    ("negative", "-99999999999999999999"),
    ("NaN", "NaN"),
    ("Infinity", "-Infinity"),
    ("true", "true"),
    ("deep", "[" * DEEP + "]" * DEEP),
    ("deep dict", '{"a":' * DEEP + "1" + "}" * DEEP),
    ("surrogate", '"\\ud800\\udfff\\udc00 x \\ud83d"'),
    ("long", json.dumps(LONG)),
    ("2MB", json.dumps(BIG)),
]


@pytest.fixture
def app(settings):
    from dataclasses import replace

    from app import create_app

    # the rate limits off and the SMS gateway configured: every garbage request must reach
    # its route's checks (an unconfigured SMS route answers 503 by design)
    s = replace(settings, wall_token=WALL_TOKEN, api_rate_limit=0, sms_secret="garbage-test",
                sms_rate_limit=0, sms_ip_rate_limit=0, qr_rate_limit=0,
                qr_sticker_rate_limit=0, qr_form_rate_limit=0)
    register_every_callback()
    dash_app = create_app(s)
    yield dash_app
    dash_app.server.config["LUKUANG"].close()


def _admin(app):
    """A test client holding a logged-in admin's session (made as /login makes it; the
    login form itself is tested elsewhere)."""
    svc = app.server.config["LUKUANG"]
    add_user(svc.r, svc.keys, "admin1", "admin", PASSWORD)
    sid = create_session(svc.r, svc.keys, User("admin1", "admin"), 1)
    c = app.server.test_client()
    with c.session_transaction() as sess:
        sess["sid"] = sid
    assert c.get("/api/v1/events").headers["Cache-Control"] == "private, no-store"  # unmasked
    return c


def _spec(app) -> list[dict[str, Any]]:
    """Each server-side callback: its output key, outputs, inputs and state."""
    out = []
    for key, v in app.callback_map.items():
        if v.get("callback") is None:
            continue
        outputs = v["output"]
        multi = isinstance(outputs, (list, tuple))
        outs = [{"id": o.component_id, "property": o.component_property}
                for o in (outputs if multi else [outputs])]
        out.append({"key": key, "outputs": outs if multi else outs[0],
                    "inputs": v["inputs"], "state": v["state"]})
    return out


def _body(cb: dict, value: str | None, skip_inputs: bool = False) -> str:
    """A request body (raw JSON text) for ``cb`` where every input and state value is
    ``value`` (raw JSON text)."""
    def items(lst):
        return "[" + ",".join(
            '{"id":%s,"property":%s,"value":%s}' % (json.dumps(i["id"]),
                                                   json.dumps(i["property"]), value or "null")
            for i in lst) + "]"
    first = cb["inputs"][0] if cb["inputs"] else {"id": "x", "property": "y"}
    changed = json.dumps([f"{first['id']}.{first['property']}"])
    inputs = "[]" if skip_inputs else items(cb["inputs"])
    return ('{"output":%s,"outputs":%s,"inputs":%s,"state":%s,"changedPropIds":%s}'
            % (json.dumps(cb["key"]), json.dumps(cb["outputs"]), inputs, items(cb["state"]),
               changed))


def bodies(cb: dict) -> Iterator[tuple[str, str, str]]:
    """(label, content type, body) for one callback."""
    good = _body(cb, None)
    yield "not json", "application/json", "{this is not json"
    yield "form body", "application/x-www-form-urlencoded", "output=x&inputs=y"
    yield "empty", "application/json", ""
    yield "json list", "application/json", "[1, 2, 3]"
    yield "json string", "application/json", '"output"'
    yield "json null", "application/json", "null"
    yield "empty object", "application/json", "{}"
    yield "output only", "application/json", json.dumps({"output": cb["key"]})
    yield "unknown output", "application/json", good.replace(
        json.dumps(cb["key"]), json.dumps("nope.children"), 1)
    yield "output number", "application/json", json.dumps(
        {"output": 5, "outputs": 5, "inputs": 5, "state": 5, "changedPropIds": 5})
    yield "inputs dict", "application/json", json.dumps(
        {"output": cb["key"], "outputs": cb["outputs"], "inputs": {"a": 1},
         "state": {"b": 2}, "changedPropIds": {"c": 3}})
    yield "inputs strings", "application/json", json.dumps(
        {"output": cb["key"], "outputs": cb["outputs"], "inputs": ["x", "y"],
         "state": ["z"], "changedPropIds": ["nope"]})
    yield "missing inputs", "application/json", _body(cb, None, skip_inputs=True)
    yield "nulls", "application/json", good
    for label, raw in WRONG_VALUES:
        yield f"values {label}", "application/json", _body(cb, raw)


def one_wrong(cb: dict, s: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, body): plausible values everywhere (the first input as the trigger) except
    one input or state, which gets each wrong value in turn."""
    slots = [("inputs", n) for n in range(len(cb["inputs"]))] + \
            [("state", n) for n in range(len(cb["state"]))]
    for part, pos in slots:
        for label, raw in WRONG_VALUES:
            items = {}
            for p in ("inputs", "state"):
                vals = []
                for n, i in enumerate(cb[p]):
                    if (p, n) == (part, pos):
                        text = raw
                    elif p == "inputs" and i["property"] in ("n_clicks", "n_intervals"):
                        text = "1" if n == 0 else "0"
                    else:
                        text = json.dumps(value_for(i["id"], i["property"], s, "/dispatch"),
                                          ensure_ascii=False)
                    vals.append('{"id":%s,"property":%s,"value":%s}' % (
                        json.dumps(i["id"]), json.dumps(i["property"]), text))
                items[p] = "[" + ",".join(vals) + "]"
            first = cb["inputs"][0]
            body = ('{"output":%s,"outputs":%s,"inputs":%s,"state":%s,"changedPropIds":%s}'
                    % (json.dumps(cb["key"]), json.dumps(cb["outputs"]), items["inputs"],
                       items["state"], json.dumps([f"{first['id']}.{first['property']}"])))
            name = cb[part][pos]["id"]
            yield f"{part}[{pos}] {name}.{cb[part][pos]['property']} = {label}", body


class Tracebacks(logging.Handler):
    """Collects every log record that carries an exception (an unhandled traceback)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.records.append(record)


def _where(record: logging.LogRecord) -> str:
    """The innermost frame of the project's code and the exception, for the report."""
    import traceback

    if not record.exc_info:
        return record.getMessage()[:200]
    frames = traceback.extract_tb(record.exc_info[2])
    ours = [f for f in frames if "site-packages" not in f.filename] or frames
    f = ours[-1]
    return f"{f.filename.rsplit('/', 2)[-2:]}:{f.lineno} {f.name}: " \
           f"{record.exc_info[0].__name__}: {str(record.exc_info[1])[:120]}"


@pytest.fixture
def tracebacks():
    h = Tracebacks()
    root = logging.getLogger()
    root.addHandler(h)
    yield h
    root.removeHandler(h)


def test_malformed_callback_bodies_never_500(app, tracebacks, capsys):
    svc = app.server.config["LUKUANG"]
    ids_ = seed(svc)
    callers = {"anonymous": app.server.test_client(), "admin": _admin(app)}
    specs = _spec(app)
    calls = 0
    statuses: dict[int, int] = {}
    errors: list[str] = []
    for cb in specs:
        for label, ctype, body in bodies(cb):
            for role, client in callers.items():
                resp = client.post("/_dash-update-component", data=body.encode(
                    "utf-8", "surrogatepass"), content_type=ctype)
                calls += 1
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                if resp.status_code >= 500:
                    errors.append(f"{cb['key'][:70]} [{label}] as {role}: "
                                  f"{resp.status_code} {resp.data[:160]!r}")
    # one wrong value at a time, the rest plausible, as admin (who passes every check)
    single = 0
    for cb in specs:
        for label, body in one_wrong(cb, ids_):
            resp = callers["admin"].post("/_dash-update-component", data=body.encode(
                "utf-8", "surrogatepass"), content_type="application/json")
            calls += 1
            single += 1
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            if resp.status_code >= 500:
                errors.append(f"{cb['key'][:70]} [{label}] as admin: "
                              f"{resp.status_code} {resp.data[:160]!r}")
    with capsys.disabled():
        print(f"\n[malformed] one-wrong-value calls {single}")
        print(f"[malformed] callbacks {len(specs)}, bodies/callback "
              f"{len(list(bodies(specs[0])))}, roles 2, calls {calls}; statuses "
              f"{dict(sorted(statuses.items()))}; 5xx {len(errors)}; tracebacks "
              f"{len(tracebacks.records)}")
        for line in errors[:15]:
            print("   ", line[:200])
        for line in sorted(set(_where(r) for r in tracebacks.records))[:40]:
            print("    traceback:", line)
    assert len(specs) >= 20
    assert errors == [], "\n".join(errors[:40])
    assert tracebacks.records == [], sorted(set(_where(r) for r in tracebacks.records))[:20]


def _fill(rule) -> list[str]:
    """URLs for a rule: its converters filled with garbage (and an over-long value)."""
    out = []
    for filler in ("x", "../../etc/passwd", "%00%ff", "界" * 3, "9" * 400, "A" * 5000):
        out.append(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", filler, rule.rule))
    return out if rule.arguments else [rule.rule]


GARBAGE_QUERIES = ["", "?since=yesterday&until=%ff&limit=-1&who=%00&token=%c0%80",
                   "?limit=1e400&since=NaN&window=99999999999999999999&bbox=a,b,c,d",
                   "?page=[]&page=1&n={}&minutes=-5&view=" + "z" * 9000,
                   "?" + "&".join(f"k{i}=v" for i in range(500))]
GARBAGE_BODIES = [(b"{bad json", "application/json"), (b"\xff\xfe\x00garbage", "text/plain"),
                  (("[" * DEEP + "]" * DEEP).encode(), "application/json"),
                  (b"username=%ff%00&password=" + b"p" * 100_000,
                   "application/x-www-form-urlencoded"),
                  (json.dumps({"a": BIG}).encode(), "application/json")]


def test_every_flask_route_with_garbage_never_500(app, tracebacks, capsys):
    svc = app.server.config["LUKUANG"]
    seed(svc)
    callers = {"anonymous": app.server.test_client(), "admin": _admin(app)}
    rules = [r for r in app.server.url_map.iter_rules() if r.endpoint != "static"]
    calls = 0
    statuses: dict[int, int] = {}
    errors: list[str] = []
    for rule in rules:
        for url in _fill(rule):
            for role, client in callers.items():
                tries = [("GET", url + q, None, None) for q in GARBAGE_QUERIES]
                tries += [("POST", url + GARBAGE_QUERIES[1], b, t) for b, t in GARBAGE_BODIES]
                for method, full, body, ctype in tries:
                    if method == "GET":
                        resp = client.get(full)
                    else:
                        resp = client.post(full, data=body, content_type=ctype)
                    calls += 1
                    statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                    if resp.status_code >= 500:
                        errors.append(f"{method} {full[:100]} as {role}: {resp.status_code} "
                                      f"{resp.data[:160]!r}")
    with capsys.disabled():
        print(f"\n[malformed] Flask routes {len(rules)}, calls {calls}; statuses "
              f"{dict(sorted(statuses.items()))}; 5xx {len(errors)}; tracebacks "
              f"{len(tracebacks.records)}")
        for line in errors[:15]:
            print("   ", line[:200])
        for line in sorted(set(_where(r) for r in tracebacks.records))[:40]:
            print("    traceback:", line)
    assert any(r.rule == "/_dash-update-component" for r in rules)
    assert any(r.rule.startswith("/api/") for r in rules)
    assert errors == [], "\n".join(errors[:40])
    assert tracebacks.records == [], sorted(set(_where(r) for r in tracebacks.records))[:20]


def test_the_checks_see_a_500():
    """A route that raises is counted as a 500 with a traceback (the checks can fail)."""
    from flask import Flask

    f = Flask("boom")

    @f.get("/boom")
    def boom():
        raise RuntimeError("boom")

    h = Tracebacks()
    logging.getLogger().addHandler(h)
    try:
        resp = f.test_client().get("/boom")
    finally:
        logging.getLogger().removeHandler(h)
    assert resp.status_code == 500 and h.records


# -- every output the browser knows, clientside ones included (issue 15) ------------------
def _dependencies(client) -> list[dict[str, Any]]:
    """``GET /_dash-dependencies``: what the page's renderer is told about every callback
    (the output key, inputs, state, and ``clientside_function`` for the browser-only ones)."""
    resp = client.get("/_dash-dependencies")
    assert resp.status_code == 200
    deps = resp.get_json()
    assert isinstance(deps, list) and deps
    return deps


def _outputs_of(key: str) -> list[dict[str, str]]:
    """The output list the renderer sends for an output key (``id.prop`` or
    ``..id.prop...id.prop..``); ids that are JSON (pattern-matching) are parsed."""
    multi = key.startswith("..") and key.endswith("..")
    parts = key[2:-2].split("...") if multi else [key]
    out = []
    for part in parts:
        cid, _, prop = part.rpartition(".")
        try:
            cid = json.loads(cid) if cid.startswith("{") else cid
        except ValueError:
            pass
        out.append({"id": cid, "property": prop})
    return out


def dependency_bodies(dep: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(label, content type, body) for one entry of /_dash-dependencies: what a browser
    might send for it (nulls everywhere), and every way of getting its shape wrong."""
    key = dep["output"]
    outs = _outputs_of(key)
    multi = len(outs) > 1 or (key.startswith("..") and key.endswith(".."))
    outputs: Any = outs if multi else outs[0]
    inputs = [{**i, "value": None} for i in dep["inputs"]]
    state = [{**s, "value": None} for s in dep["state"]]
    changed = [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"] \
        if dep["inputs"] and isinstance(dep["inputs"][0].get("id"), str) else []

    def body(**over: Any) -> str:
        b = {"output": key, "outputs": outputs, "inputs": inputs, "state": state,
             "changedPropIds": changed}
        b.update(over)
        return json.dumps({k: v for k, v in b.items() if v is not _MISSING})
    yield "as sent", "application/json", body()
    yield "not json", "application/json", "{this is not json"
    yield "empty", "application/json", ""
    yield "form body", "application/x-www-form-urlencoded", "output=" + key
    yield "outputs missing", "application/json", body(outputs=_MISSING)
    yield "outputs null", "application/json", body(outputs=None)
    yield "outputs empty list", "application/json", body(outputs=[])
    yield "outputs empty object", "application/json", body(outputs={})
    yield "outputs list for one", "application/json", body(outputs=[outputs] if not multi
                                                          else [outs[0]])
    if multi:
        yield "outputs object for many", "application/json", body(outputs=outs[0])
    yield "outputs one too many", "application/json", body(outputs=outs + [outs[0]])
    yield "outputs one too few", "application/json", body(outputs=outs[:-1])
    yield "outputs strings", "application/json", body(outputs=[key] * len(outs))
    yield "outputs without property", "application/json", body(
        outputs=[{"id": o["id"]} for o in outs] if multi else {"id": outs[0]["id"]})
    yield "outputs of another callback", "application/json", body(
        outputs=[{"id": "nope", "property": "children"}] * len(outs) if multi
        else {"id": "nope", "property": "children"})
    yield "outputs nested lists", "application/json", body(outputs=[[outs]] * len(outs))
    yield "outputs id a number", "application/json", body(
        outputs=[{"id": 5, "property": o["property"]} for o in outs] if multi
        else {"id": 5, "property": outs[0]["property"]})
    yield "inputs missing", "application/json", body(inputs=_MISSING)
    yield "inputs one too few", "application/json", body(inputs=inputs[:-1])
    yield "inputs one too many", "application/json", body(inputs=inputs + inputs[:1])
    yield "inputs of another component", "application/json", body(
        inputs=[{"id": "nope", "property": "n_clicks", "value": 1} for _ in inputs])
    yield "state missing", "application/json", body(state=_MISSING) if state else body(
        state=[{"id": "nope", "property": "data", "value": None}])
    yield "changedPropIds unknown", "application/json", body(changedPropIds=["nope.x"])
    yield "changedPropIds a string", "application/json", body(changedPropIds="x")
    yield "output unknown", "application/json", body(output="nope.children")
    yield "output a list", "application/json", body(output=[key])


_MISSING = object()


def test_every_output_in_dash_dependencies_answers_no_5xx(app, tracebacks, capsys):
    """Issue 15: for every output the renderer is told about (``/_dash-dependencies``,
    clientside ones included), bodies of the right and of every wrong shape, as anonymous
    and as a logged-in admin: never a 5xx, and a body the app cannot route is a 400."""
    svc = app.server.config["LUKUANG"]
    seed(svc)
    callers = {"anonymous": app.server.test_client(), "admin": _admin(app)}
    deps = _dependencies(callers["anonymous"])
    clientside = [d["output"] for d in deps if d.get("clientside_function")]
    calls = 0
    statuses: dict[int, int] = {}
    errors: list[str] = []
    routed_badly: list[str] = []
    for dep in deps:
        for label, ctype, body in dependency_bodies(dep):
            for role, client in callers.items():
                resp = client.post("/_dash-update-component", data=body.encode(),
                                   content_type=ctype)
                calls += 1
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                if resp.status_code >= 500:
                    errors.append(f"{dep['output'][:70]} [{label}] as {role}: "
                                  f"{resp.status_code} {resp.data[:160]!r}")
                # a body for a browser-only callback, or of a shape no browser sends, can
                # never be routed: 400 whoever asks
                if (label != "as sent" or dep["output"] in clientside) \
                        and label not in ("changedPropIds unknown",) \
                        and resp.status_code != 400:
                    routed_badly.append(f"{dep['output'][:60]} [{label}] as {role}: "
                                        f"{resp.status_code}")
    with capsys.disabled():
        print(f"\n[malformed] /_dash-dependencies: {len(deps)} outputs ({len(clientside)} "
              f"clientside), {len(list(dependency_bodies(deps[0])))} bodies each, 2 roles: "
              f"{calls} calls; statuses {dict(sorted(statuses.items()))}; 5xx {len(errors)}; "
              f"not 400 where unroutable {len(routed_badly)}; tracebacks "
              f"{len(tracebacks.records)}")
        for line in (errors + routed_badly)[:20]:
            print("   ", line[:200])
    assert clientside, "no clientside callback listed: the test would miss them"
    assert errors == [], "\n".join(errors[:40])
    assert routed_badly == [], "\n".join(routed_badly[:40])
    assert tracebacks.records == [], sorted(set(_where(r) for r in tracebacks.records))[:20]
