"""Fusion against the simulator's truth: a simulated day replayed through the real adapters
and the real pipeline, then every true incident looked up in dispatch.

    .venv/bin/python bench/bench_fusion.py [--day 2026-11-24] [--hours 24]
                                           [--redis redis://127.0.0.1:6379/13]

The demo upstream (``feeds.sim``) renders the day in the providers' formats; each feed is
polled at the demo's interval (``feeds.config.demo_feeds``: Waze 10 s, Weibo 15 s, hotline
and WZDx 60 s) on the simulated clock, and every payload goes through
``feeds.pipeline.ingest_payload`` into a real Redis under a throw-away key prefix (deleted
afterwards), exactly as the runner does, fusion included. ``feeds.sim.truth`` says which
true incident each record is about; after each poll the bench notes which records were
ingested (a Weibo status through the cluster that lists it) and which are linked to a
dispatch incident (``incidents.incident_of_report``).

Figures (true incidents = those with at least one record ingested):
- incidents shown: dispatch incidents linked to any record of the day;
- shown exactly once: one incident for the true incident, and that incident is about
  nothing else (goal ≥ 95 %);
- duplicates: extra incidents for a true incident already shown, over incidents shown
  (goal ≤ 3 %);
- wrong merges: incidents holding records of two or more true incidents, over incidents
  shown (goal ≤ 1 %);
- first report → incident: from the first record's publication (simulated time) to the
  poll after which the true incident had an incident (includes the wait for the poll).

Writes the "## Fusion against the simulator's truth" section of bench/RESULTS.md and prints
JSON; asserts nothing. Time-to-live of stored events runs on the real clock while the day is
replayed faster, so nothing expires during the replay; snapshot ends (Waze) and time windows
use the simulated clock.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import common  # noqa: E402
from dashboard.dispatch import incidents  # noqa: E402
from dashboard.roads.network import load_network  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402
from feeds.base import PayloadError  # noqa: E402
from feeds.config import demo_feeds  # noqa: E402
from feeds.pipeline import ingest_payload, make_context  # noqa: E402
from feeds.registry import get_adapter  # noqa: E402
from feeds.sim import demo_network_path  # noqa: E402
from feeds.sim.server import Upstream  # noqa: E402
from feeds.sim.truth import truth  # noqa: E402
from feeds.sim.world import World  # noqa: E402

SECTION = "## Fusion against the simulator's truth"
FEEDS = ("waze", "wzdx", "weibo", "hotline")     # amap and units carry no incident records
CLUSTER = "weibo:cluster:"
GOALS = {"once": 0.95, "duplicates": 0.03, "wrong_merges": 0.01}


def demo_polls(settings) -> dict[str, tuple[str, dict[str, str], float]]:
    """feed → (path, query, interval) of the demo's feeds on the simulator."""
    out = {}
    for feed in demo_feeds(settings):
        if feed.name not in FEEDS:
            continue
        rest = feed.url.split("://", 1)[1].split("/", 1)[1]
        path, _, q = ("/" + rest).partition("?")
        query = dict(kv.split("=", 1) for kv in q.split("&")) if q else {}
        out[feed.name] = (path, query, float(feed.interval_s))
    return out


class Replay:
    """Polls the simulator on its own clock and tracks what became of each true record."""

    def __init__(self, world: World, network, settings, store: Store, doc: dict) -> None:
        self.world, self.network, self.settings, self.store = world, network, settings, store
        self.r, self.keys = store.r, store.keys
        self.t = float(doc["from"])
        self.upstream = Upstream(world, lambda: self.t)
        self.adapters = {f: get_adapter(f) for f in FEEDS}
        self.items = {i["id"]: i for i in doc["incidents"]}
        self.records = {rec["id"]: (item["id"], rec) for item in doc["incidents"]
                        for rec in item["records"]}
        self.records_of = {i["id"]: [rec["id"] for rec in i["records"]]
                           for i in doc["incidents"]}
        self.pending = {f: sorted(((rec["at"], rid) for rid, (_, rec) in self.records.items()
                                   if rec["feed"] == f)) for f in FEEDS}
        self.event_of: dict[str, str] = {}           # true record id → stored event id
        self.cluster_of: dict[str, str] = {}         # Weibo status event id → its cluster
        self.ingested_at: dict[str, float] = {}      # true incident → first record ingested
        self.linked_at: dict[str, float] = {}        # true incident → first linked
        self.polls: Counter = Counter()
        self.summary: Counter = Counter()
        self.errors: Counter = Counter()
        self.ingest_s = 0.0

    def poll(self, feed: str, path: str, query: dict[str, str]) -> None:
        answer = self.upstream.handle(path, query, {})
        ctx = make_context(self.network, self.settings, feed,
                           now=datetime.fromtimestamp(self.t, timezone.utc))
        started = time.perf_counter()
        try:
            s = ingest_payload(self.adapters[feed], answer.body, ctx, self.store, feed)
        except PayloadError as exc:
            self.errors[f"{feed}: {str(exc)[:80]}"] += 1
            return
        finally:
            self.ingest_s += time.perf_counter() - started
        self.polls[feed] += 1
        for k in ("new", "updated", "duplicates", "ended", "quarantined"):
            self.summary[f"{feed}.{k}"] += getattr(s, k)
        self.note_ingested(feed)
        self.note_linked()

    def note_ingested(self, feed: str) -> None:
        """Which of the feed's true records published by now are stored (as which event)."""
        due = [rid for at, rid in self.pending[feed] if at <= self.t and rid not in self.event_of]
        if not due:
            return
        if feed == "weibo":
            for ev in self.store.active_events("report"):
                if ev.id.startswith(CLUSTER):
                    for sid in ev.attrs.get("report_ids", []):
                        self.cluster_of.setdefault(str(sid), ev.id)
            found = {rid: self.cluster_of[rid] for rid in due if rid in self.cluster_of}
        else:
            found = {ev.id: ev.id for ev in self.store.get_events(due)}
        for rid, ev_id in found.items():
            self.event_of[rid] = ev_id
            item = self.records[rid][0]
            self.ingested_at.setdefault(item, self.t)
        # a record still missing long after it was published was quarantined: stop asking
        self.pending[feed] = [(at, rid) for at, rid in self.pending[feed]
                              if rid not in self.event_of and at > self.t - 6 * 3600]

    def note_linked(self) -> None:
        for item in self.ingested_at:
            if item in self.linked_at:
                continue
            for rid in self.records_of[item]:
                if rid in self.event_of and incidents.incident_of_report(
                        self.r, self.keys, self.event_of[rid]):
                    self.linked_at[item] = self.t
                    break

    def run(self, t1: float, polls: dict[str, tuple[str, dict[str, str], float]],
            progress: bool = True) -> None:
        due = {f: self.t for f in polls}
        step = min(p[2] for p in polls.values())
        last_report = time.monotonic()
        while self.t <= t1:
            for feed, (path, query, interval) in polls.items():
                if due[feed] <= self.t:
                    self.poll(feed, path, query)
                    due[feed] += interval
            if progress and time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                print(f"  simulated {datetime.fromtimestamp(self.t, timezone.utc):%H:%M} UTC, "
                      f"{sum(self.polls.values())} polls", file=sys.stderr, flush=True)
            self.t += step


def resolve(r, keys, inc_id: str) -> str:
    """Follow ``merged_into`` to the incident that stands for a merged one."""
    seen = set()
    while inc_id and inc_id not in seen:
        seen.add(inc_id)
        try:
            inc = incidents.load(r, keys, inc_id)
        except incidents.NotFound:
            return inc_id
        if not inc.merged_into:
            return inc_id
        inc_id = inc.merged_into
    return inc_id


def evaluate(replay: Replay, doc: dict) -> dict:
    """The figures, from the links as they stand at the end of the replay.

    A Weibo cluster event the adapter folded from statuses about two true incidents (same
    place, same category, minutes apart) is the adapter's merge, not the fusion's: it is
    counted apart ("adapter merges") and does not make its incident a wrong merge; it
    shows a true incident only when none of that incident's own records is on one."""
    r, keys = replay.r, replay.keys
    owners: dict[str, set[str]] = defaultdict(set)         # stored event → true incidents
    for rid, ev_id in replay.event_of.items():
        owners[ev_id].add(replay.records[rid][0])
    inc_of = {ev_id: resolve(r, keys, incidents.incident_of_report(r, keys, ev_id))
              for ev_id in owners}
    shown_for: dict[str, set[str]] = defaultdict(set)      # true incident → incidents
    about: dict[str, set[str]] = defaultdict(set)          # incident → true incidents
    holds: dict[str, list[set[str]]] = defaultdict(list)   # incident → its events' owners
    for multi in (False, True):
        for ev_id, who in owners.items():
            inc_id = inc_of[ev_id]
            if not inc_id or (len(who) > 1) != multi:
                continue
            holds[inc_id].append(who)
            about[inc_id] |= who
            for owner in who:
                if not multi or not shown_for[owner]:
                    shown_for[owner].add(inc_id)
    adapter_merges = sorted(ev_id for ev_id, who in owners.items() if len(who) > 1)
    # incidents from records that are about no true incident: a citizen's hazard (a broken
    # signal, debris: a real hazard to an officer) or noise (jams, vague posts, parking)
    hazards: set[str] = set()
    unexplained: set[str] = set()
    for rec in doc["other"] + [rec for w in doc["roadworks"] for rec in w["records"]]:
        ev_id = replay.cluster_of.get(rec["id"], "") if rec["feed"] == "weibo" else rec["id"]
        inc_id = resolve(r, keys, incidents.incident_of_report(r, keys, ev_id)) if ev_id \
            else ""
        if inc_id and inc_id not in about:
            (hazards if rec.get("kind") in ("signal", "hazard") else unexplained).add(inc_id)
    for inc in incidents.open_incidents(r, keys, limit=10_000):
        if inc.id not in about and inc.id not in hazards:
            unexplained.add(inc.id)
    unexplained -= hazards
    true_ids = sorted(replay.ingested_at)
    n = len(true_ids)
    # a wrong merge: no one true incident is behind every record of the incident
    wrong = sorted(inc for inc, sets in holds.items() if not set.intersection(*sets))
    once = [i for i in true_ids if len(shown_for[i]) == 1
            and next(iter(shown_for[i])) not in wrong]
    misses = [i for i in true_ids if i not in set(once)]
    unshown = [i for i in true_ids if not shown_for[i]]
    shown = set(about)
    duplicates = sum(max(0, len(shown_for[i]) - 1) for i in true_ids)
    lags = [replay.linked_at[i] - replay.items[i]["first_record_at"] for i in replay.linked_at
            if replay.items[i]["first_record_at"] >= doc["from"]]
    pipeline_lags = [replay.linked_at[i] - replay.ingested_at[i] for i in replay.linked_at]
    by_category = Counter(replay.items[i]["category"] for i in true_ids)
    once_by_category = Counter(replay.items[i]["category"] for i in once)
    return {
        "true_incidents_in_truth": len(doc["incidents"]),
        "true_incidents": n,
        "incidents_shown": len(shown) + len(hazards) + len(unexplained),
        "incidents_for_true": len(shown),
        "incidents_citizen_hazards": len(hazards),
        "incidents_unexplained": len(unexplained),
        "adapter_merges": len(adapter_merges),
        "adapter_merged_incidents": len({inc_of[e] for e in adapter_merges if inc_of[e]}),
        "once": len(once), "once_share": len(once) / n if n else 0.0,
        "unshown": len(unshown),
        "duplicates": duplicates,
        "duplicates_share": duplicates / len(shown) if shown else 0.0,
        "wrong_merges": len(wrong), "wrong_merge_ids": wrong, "miss_ids": misses,
        "wrong_merges_share": len(wrong) / len(shown) if shown else 0.0,
        "first_report_to_incident_median_s": statistics.median(lags) if lags else None,
        "first_report_to_incident_p95_s": common.percentiles(lags, (95,)).get("p95"),
        "ingest_to_incident_median_s": statistics.median(pipeline_lags)
        if pipeline_lags else None,
        "by_category": {c: [once_by_category[c], k] for c, k in by_category.most_common()},
        "records": dict(Counter(rec["feed"] for rid, (_, rec) in replay.records.items())),
        "records_ingested": dict(Counter(replay.records[rid][1]["feed"]
                                         for rid in replay.event_of)),
    }


def explain(replay: Replay, doc: dict, res: dict) -> None:
    """Print the misses: each true incident not shown exactly once, with its records and
    the incident each landed on, and each wrong merge with its history (to stderr)."""
    r, keys = replay.r, replay.keys
    out = sys.stderr

    def when(t: float) -> str:
        return f"{datetime.fromtimestamp(t, timezone.utc):%H:%M:%S}Z"

    def history(inc_id: str) -> None:
        try:
            inc = incidents.load(r, keys, inc_id)
        except incidents.NotFound:
            print(f"    {inc_id}: gone", file=out)
            return
        print(f"    {inc.id} {inc.status} {inc.category} {inc.place} "
              f"({inc.lon:.5f},{inc.lat:.5f}) {inc.precision}", file=out)
        for h in inc.history[:12]:
            print(f"      {when(h.get('at', 0))} {h.get('action')}: {h.get('note', '')}",
                  file=out)

    for item_id in res["miss_ids"]:
        item = replay.items[item_id]
        print(f"\nMISS {item_id} {item['category']} {item['road']}×{item['cross']} "
              f"({item['lon']},{item['lat']}) {when(item['start'])}", file=out)
        seen = set()
        for rid in replay.records_of[item_id]:
            rec = replay.records[rid][1]
            ev_id = replay.event_of.get(rid, "")
            inc_id = resolve(r, keys, incidents.incident_of_report(r, keys, ev_id)) \
                if ev_id else ""
            ev = replay.store.get_events([ev_id])[0] if ev_id else None
            place = (f"{ev.category} {'/'.join(ev.road_names)} ({ev.lon:.5f},{ev.lat:.5f}) "
                     f"{ev.attrs.get('precision', '')}") if ev else "not stored"
            print(f"  {rec['feed']:8} {when(rec['at'])} {ev_id[:40]:40} {place} → "
                  f"{inc_id or '-'}", file=out)
            if inc_id:
                seen.add(inc_id)
        for inc_id in sorted(seen):
            history(inc_id)
    for inc_id in res["wrong_merge_ids"]:
        print(f"\nWRONG MERGE {inc_id}", file=out)
        history(inc_id)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS_FUSION",
                                                      "redis://127.0.0.1:6379/13"))
    ap.add_argument("--day", default="2026-11-24", help="the simulated local day (a Tuesday)")
    ap.add_argument("--start-hour", type=float, default=0.0)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--scenario", choices=("normal", "holiday"), default="normal")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    ap.add_argument("--explain", action="store_true",
                    help="print, for every true incident not shown exactly once and every "
                         "wrong merge, its records and the incidents' histories (stderr)")
    args = ap.parse_args(argv)
    common.exit_on_sigterm()
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    prefix = f"lkbenchfus{uuid.uuid4().hex[:6]}"
    settings = load_settings(env={}, redis_url=args.redis, key_prefix=prefix)
    seed = settings.sim_seed if args.seed is None else args.seed
    store = Store.from_settings(r, settings)
    network = load_network(demo_network_path())
    world = World(network, seed, args.scenario)
    t0 = datetime.fromisoformat(f"{args.day}T00:00:00+08:00").timestamp() \
        + args.start_hour * 3600
    t1 = t0 + args.hours * 3600
    doc = truth(world, t0, t1)
    polls = demo_polls(settings)
    replay = Replay(world, network, settings, store, doc)
    started = time.monotonic()
    try:
        replay.run(t1, polls)
        result = evaluate(replay, doc)
        if args.explain:
            explain(replay, doc, result)
    finally:
        common.drop_keys(r, prefix)
    result.update({"day": args.day, "start_hour": args.start_hour, "hours": args.hours,
                   "scenario": args.scenario, "seed": seed,
                   "intervals_s": {f: p[2] for f, p in polls.items()},
                   "polls": dict(replay.polls), "ingest": dict(replay.summary),
                   "payload_errors": dict(replay.errors),
                   "ingest_s": round(replay.ingest_s, 1),
                   "replay_s": round(time.monotonic() - started, 1)})
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if not args.no_write:
        common.write_section(SECTION, markdown(result, common.machine_line(r.info("server"))))
    return 0


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _minutes(s: float | None) -> str:
    return "—" if s is None else f"{s / 60:.1f} min"


def markdown(res: dict, machine: str) -> str:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    span = (f"{res['hours']:g} h from {res['start_hour']:02.0f}:00 of {res['day']} "
            f"(scenario {res['scenario']}, seed {res['seed']})")
    intervals = ", ".join(f"{f} {s:g} s" for f, s in res["intervals_s"].items())
    cats = ", ".join(f"{c} {a}/{b}" for c, (a, b) in res["by_category"].items())
    shown = res["incidents_for_true"] > 0
    records = ", ".join(f"{f} {n}/{res['records_ingested'].get(f, 0)}"
                        for f, n in res["records"].items())
    return "\n".join([
        SECTION, "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/bench_fusion.py`.",
        machine, "",
        f"A simulated day — {span} — rendered by the demo upstream and polled at the demo's "
        f"intervals ({intervals}) on the simulated clock; every payload through the real "
        "adapters and `feeds.pipeline.ingest_payload` (fusion included) into Redis. The "
        "simulator's truth (`feeds.sim.truth`) names the true incident behind each record. "
        f"Replay: {res['replay_s']:.0f} s ({res['ingest_s']:.0f} s in ingest), "
        f"{sum(res['polls'].values()):,} polls.", "",
        "| figure | value | goal |", "| --- | ---: | ---: |",
        f"| true incidents with a record ingested (of {res['true_incidents_in_truth']} in the "
        f"truth) | {res['true_incidents']} | |",
        f"| incidents shown (for true incidents + citizens' hazards the simulator has no "
        f"incident for + other) | {res['incidents_shown']} ({res['incidents_for_true']} + "
        f"{res['incidents_citizen_hazards']} + {res['incidents_unexplained']}) | |",
        f"| true incidents shown exactly once | {res['once']} = {_pct(res['once_share'])} | "
        f"≥ 95 % ({verdict(res['once_share'] >= GOALS['once'])}) |",
        f"| true incidents not shown | {res['unshown']} | |",
        f"| duplicates (extra incidents for one true incident / incidents shown) | "
        f"{res['duplicates']} = {_pct(res['duplicates_share'])} | ≤ 3 % "
        f"({verdict(shown and res['duplicates_share'] <= GOALS['duplicates'])}) |",
        f"| wrong merges (incidents whose records no one true incident explains / incidents "
        f"shown) | {res['wrong_merges']} = {_pct(res['wrong_merges_share'])} | ≤ 1 % "
        f"({verdict(shown and res['wrong_merges_share'] <= GOALS['wrong_merges'])}) |",
        f"| adapter merges (Weibo clusters folding posts about two true incidents; on "
        f"incidents) | {res['adapter_merges']} ({res['adapter_merged_incidents']}) | |",
        f"| first report → incident, median (p95) | "
        f"{_minutes(res['first_report_to_incident_median_s'])} "
        f"({_minutes(res['first_report_to_incident_p95_s'])}) | |",
        f"| first record ingested → incident, median | "
        f"{_minutes(res['ingest_to_incident_median_s'])} | |",
        "",
        f"Shown exactly once, by category (once / true): {cats} (overload: the coach "
        "reported again and again as it moves along G3, one incident that follows it). "
        f"Records about true incidents, in the truth / ingested: {records} (a record not "
        "ingested was quarantined). Citizens' hazards are background posts and calls about a "
        "broken signal or debris: real hazards to an officer, which the simulator draws "
        "without an incident behind them; they count neither as duplicates nor as wrong "
        "merges. An adapter merge (a Weibo cluster of one place and category holding posts "
        "about two true incidents) is the adapter's, not the fusion's: it is not counted as "
        "a wrong merge. *First report → incident* runs from the first "
        "record's publication in the simulated world to the poll after which the incident "
        "existed, so it includes the wait for the feed's next poll (Waze lists an alert from "
        "the next full minute).", "",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
