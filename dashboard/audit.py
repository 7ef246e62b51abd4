"""The audit trail of the desks' state, and the one atomic way to change it: dispatch
(incidents, units, report links) and the comms desk (bulletins, replies to reports).

Every action is a ``Change``: checks (a hash field must still hold the value the caller
read, e.g. an incident's or a bulletin's ``rev``), writes, index updates and one audit
entry. ``commit`` applies it in one Lua script: either everything happens (the writes,
``rev`` + 1 on each changed record, the audit entry, the data version + 1) or nothing
does and the caller is told which check failed. That is the optimistic concurrency of
the dispatch and comms pages: two people acting on one incident or bulletin at once,
one wins, the other is told what changed and nothing is lost.

The audit stream ``keys.audit()`` is append-only (never trimmed): one entry per applied
change with who, role, when, what, target, and the changed fields before and after.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Iterable, Sequence

import redis

from dashboard.storage.keys import Keys
from dashboard.timeutil import SHANGHAI

AUDIT_FIELDS = ("stream_id", "at", "who", "role", "action", "target", "rev", "before",
                "after", "note")
MAX_NOTE = 500

# Check every (key, field, expected) first; any mismatch → {0, key index, field, actual}.
# Otherwise apply the writes, bump ``rev`` on the listed keys, update the sorted sets and
# geo sets, append the audit entry and bump the data version → {1, version, revs...}.
# KEYS holds every key the change touches (all carry the city's hash tag: one slot).
_COMMIT_LUA = """
local spec = cjson.decode(ARGV[1])
for _, c in ipairs(spec.checks) do
  local v = redis.call('HGET', KEYS[c[1]], c[2])
  if not v then v = '' end
  if v ~= c[3] then return {0, c[1], c[2], v} end
end
for _, s in ipairs(spec.sets) do
  redis.call('HSET', KEYS[s[1]], unpack(s[2]))
end
for _, d in ipairs(spec.hdel) do
  redis.call('HDEL', KEYS[d[1]], d[2])
end
local revs = {}
for _, k in ipairs(spec.bump) do
  revs[#revs + 1] = redis.call('HINCRBY', KEYS[k], 'rev', 1)
end
for _, z in ipairs(spec.zadd) do
  redis.call('ZADD', KEYS[z[1]], z[2], z[3])
end
for _, z in ipairs(spec.zrem) do
  redis.call('ZREM', KEYS[z[1]], z[2])
end
for _, g in ipairs(spec.geoadd) do
  redis.call('GEOADD', KEYS[g[1]], g[2], g[3], g[4])
end
for _, m in ipairs(spec.sadd) do
  redis.call('SADD', KEYS[m[1]], m[2])
end
if spec.audit then
  redis.call('XADD', KEYS[spec.audit_key], '*', unpack(spec.audit))
end
local version = redis.call('INCR', KEYS[spec.version_key])
local out = {1, version}
for _, v in ipairs(revs) do out[#out + 1] = v end
return out
"""


@dataclass
class Change:
    """One atomic change of desk state, built by dispatch (incidents.py, units.py) or the
    comms desk (bulletin_store.py) and applied by ``commit``."""

    action: str
    target: str
    who: str
    role: str
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    sets: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    hdel: list[tuple[str, str]] = field(default_factory=list)
    bump: list[str] = field(default_factory=list)
    zadd: list[tuple[str, float, str]] = field(default_factory=list)
    zrem: list[tuple[str, str]] = field(default_factory=list)
    geoadd: list[tuple[str, float, float, str]] = field(default_factory=list)
    sadd: list[tuple[str, str]] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    at: float | None = None
    rev: int | None = None  # the primary target's rev after the change (for the audit row)

    def check(self, key: str, field_name: str, expected: str | int) -> "Change":
        self.checks.append((key, field_name, str(expected)))
        return self


@dataclass
class CommitResult:
    ok: bool
    version: int = 0
    revs: list[int] = field(default_factory=list)
    # when not ok: the key, field, expected and actual value of the first failed check
    conflict_key: str = ""
    conflict_field: str = ""
    expected: str = ""
    actual: str = ""


def commit(r: redis.Redis, keys: Keys, change: Change) -> CommitResult:
    """Apply ``change`` atomically (see the module docstring)."""
    key_list: list[str] = []
    index: dict[str, int] = {}

    def k(key: str) -> int:
        if key not in index:
            key_list.append(key)
            index[key] = len(key_list)
        return index[key]

    at = time.time() if change.at is None else change.at
    audit = entry_fields(change, at)
    spec = {
        "checks": [[k(key), f, v] for key, f, v in change.checks],
        "sets": [[k(key), [x for kv in m.items() for x in (kv[0], str(kv[1]))]]
                 for key, m in change.sets if m],
        "hdel": [[k(key), f] for key, f in change.hdel],
        "bump": [k(key) for key in change.bump],
        "zadd": [[k(key), repr(float(score)), member] for key, score, member in change.zadd],
        "zrem": [[k(key), member] for key, member in change.zrem],
        "geoadd": [[k(key), repr(float(lon)), repr(float(lat)), member]
                   for key, lon, lat, member in change.geoadd],
        "sadd": [[k(key), member] for key, member in change.sadd],
        "audit": [x for kv in audit.items() for x in kv],
        "audit_key": k(keys.audit()),
        "version_key": k(keys.version()),
    }
    out = r.register_script(_COMMIT_LUA)(keys=key_list, args=[json.dumps(spec, ensure_ascii=False)])
    if int(out[0]) == 1:
        return CommitResult(True, int(out[1]), [int(x) for x in out[2:]])
    ki, f, actual = int(out[1]), out[2], out[3]
    key = key_list[ki - 1]
    expected = next(v for kk, ff, v in change.checks if kk == key and ff == f)
    return CommitResult(False, conflict_key=key, conflict_field=f, expected=expected,
                        actual=actual if isinstance(actual, str) else actual.decode())


def entry_fields(change: Change, at: float) -> dict[str, str]:
    """The audit stream fields of one change (all strings)."""
    return {
        "at": f"{at:.3f}", "who": change.who, "role": change.role, "action": change.action,
        "target": change.target,
        "rev": "" if change.rev is None else str(change.rev),
        "before": json.dumps(change.before, ensure_ascii=False, sort_keys=True),
        "after": json.dumps(change.after, ensure_ascii=False, sort_keys=True),
        "note": (change.note or "")[:MAX_NOTE],
    }


def diff(before: dict[str, Any], after: dict[str, Any],
         skip: Iterable[str] = ("history",)) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields that differ between two flat records, as (before, after) dicts."""
    skipped = set(skip)
    names = [n for n in sorted(set(before) | set(after)) if n not in skipped]
    changed = [n for n in names if before.get(n) != after.get(n)]
    return ({n: before.get(n) for n in changed}, {n: after.get(n) for n in changed})


# -- reading ---------------------------------------------------------------------------
def read(r: redis.Redis, keys: Keys, *, since: float | None = None, until: float | None = None,
         who: str | None = None, action: str | None = None, target: str | None = None,
         count: int = 1000, newest_first: bool = True) -> list[dict[str, str]]:
    """Audit entries, filtered by time (epoch s), user, action and target (prefix match,
    e.g. "incident:INC-000001"); at most ``count`` of them."""
    lo = f"{int(since * 1000)}-0" if since is not None else "-"
    hi = f"{int(until * 1000)}-99999999" if until is not None else "+"
    out: list[dict[str, str]] = []
    batch = max(100, min(count * 2, 5000))
    cursor_hi, cursor_lo = hi, lo
    while len(out) < count:
        if newest_first:
            rows = r.xrevrange(keys.audit(), max=cursor_hi, min=lo, count=batch)
        else:
            rows = r.xrange(keys.audit(), min=cursor_lo, max=hi, count=batch)
        if not rows:
            break
        for sid, fields in rows:
            if who and fields.get("who") != who:
                continue
            if action and fields.get("action") != action:
                continue
            if target and not fields.get("target", "").startswith(target):
                continue
            out.append({"stream_id": sid, **{f: fields.get(f, "") for f in AUDIT_FIELDS[1:]}})
            if len(out) >= count:
                break
        last = rows[-1][0]
        if newest_first:
            cursor_hi = f"({last}"
        else:
            cursor_lo = f"({last}"
        if len(rows) < batch:
            break
    return out


def length(r: redis.Redis, keys: Keys) -> int:
    return int(r.xlen(keys.audit()))


def append(r: redis.Redis, keys: Keys, who: str, role: str, action: str, target: str,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           note: str = "") -> str:
    """Append one entry for an action that changes no desk state (e.g. an audit export);
    returns the stream id. Changes of state are audited by ``commit``."""
    ch = Change(action=action, target=target, who=who, role=role, before=before or {},
                after=after or {}, note=note)
    return r.xadd(keys.audit(), entry_fields(ch, time.time()))


# -- CSV ------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(entries: Sequence[dict[str, str]], tz: tzinfo | None = None) -> str:
    """CSV text (UTF-8 with BOM so Excel opens Chinese text) with a local time column (in
    ``tz``, the city's zone)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["time_local", *AUDIT_FIELDS])
    for e in entries:
        try:
            local = datetime.fromtimestamp(float(e.get("at") or 0),
                                           tz or SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        except (TypeError, ValueError):
            local = ""
        w.writerow([local, *[_cell(str(e.get(f, ""))) for f in AUDIT_FIELDS]])
    return buf.getvalue()
