"""Issue 16, the second option for the wall's city-size road map: dash-leaflet (a GeoJSON
layer with a style function driven by its ``hideout``), measured as bench/bench_browser.py
measures the product's MapLibre map, on the same generated grid networks.

    .venv/bin/python bench/bench_leaflet.py [--redis redis://127.0.0.1:6379/14]
                                            [--sizes 1000,25000,100000] [--timeout 120]

Each network is served by a bench-only Dash app (bench/leaflet_app.py: the same Dash, gunicorn
with 1 worker and 4 threads, compressed answers as the product) against the real Store under
a private key prefix (deleted afterwards), and opened in headless Chromium with software WebGL
(tests/browser's Browser). No tile layer: the page's only requests are to 127.0.0.1, checked
as bench_browser does. Measured in the page:
- first render: navigation start → the road layer drawn with its first levels
  (``lkLeaflet.first``: two animation frames after the style function first ran with a
  hideout; Leaflet's canvas renderer redraws in the next frame);
- change to screen: congestion levels written for 1 % of the segments (Store.set_congestion,
  as a feed does) → the layer drawn with a hideout of that data version or later
  (``lkLeaflet.shown``); a wait longer than ``--timeout`` is reported as a timeout;
- long tasks: PerformanceObserver "longtask" entries from the write until 2 s after it is on
  screen (the longest, and their sum);
- bytes: CDP Network.loadingFinished encodedDataLength (bytes on the wire) for the first load
  (until the first render; dash-leaflet fetches the geometry on the page's main thread, so the
  CDP log sees it) and from the write until it is on screen; the body of one change's callback
  answer (CDP Network.getResponseBody) shows what Dash really sent (a Patch or the whole
  hideout) and how many features the style function re-styled for it.
Writes the "## Wall map alternative: dash-leaflet" section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import common  # noqa: E402
from bench.bench_browser import (LONGTASKS, Net, grid_city, one_change,  # noqa: E402
                                  shown_at_js, wait)
from bench.bench_browser import SECTION as MAPLIBRE_SECTION  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402
from tests.browser.conftest import Browser  # noqa: E402

SECTION = "## Wall map alternative: dash-leaflet"
SHOWN_AT = shown_at_js("lkLeaflet")
CALLS_AT = "var L = window.lkLeaflet; return L ? L.calls[arguments[0]] || 0 : 0;"


def loadavg() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


class BodyNet(Net):
    """Net, plus the request ids of the callback POSTs (to read one answer's body)."""

    def __init__(self) -> None:
        super().__init__()
        self.callbacks: list[tuple[float, str]] = []   # (wall ms sent, request id)

    def drain(self, driver) -> None:
        entries = driver.get_log("performance")
        for entry in entries:
            msg = json.loads(entry["message"])["message"]
            p = msg.get("params", {})
            if msg.get("method") == "Network.requestWillBeSent":
                self.url[p["requestId"]] = p["request"]["url"]
                self.sent[p["requestId"]] = float(p.get("wallTime", 0)) * 1000
                if "_dash-update-component" in p["request"]["url"]:
                    self.callbacks.append((self.sent[p["requestId"]], p["requestId"]))
            elif msg.get("method") == "Network.loadingFinished":
                self.done.append((self.sent.get(p["requestId"], 0.0),
                                  self.url.get(p["requestId"], "?"),
                                  int(p.get("encodedDataLength", 0))))


def answer(driver, net: BodyNet, since: float, until: float) -> dict:
    """The callback answer that carried the hideout between ``since`` and ``until``: its raw
    size, whether it is a Patch, its operations and how many levels it set."""
    for sent, rid in net.callbacks:
        if not since <= sent <= until:
            continue
        try:
            body = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": rid})["body"]
        except Exception:  # noqa: BLE001 - a 204 (nothing new) has no body
            continue
        if "hideout" not in body:
            continue
        hideout = json.loads(body)["response"]["lkl-net"]["hideout"]
        if isinstance(hideout, dict) and hideout.get("__dash_patch_update"):
            ops = hideout["operations"]
            merged = sum(len(o["params"]["value"]) for o in ops if o["operation"] == "Merge")
            return {"raw_bytes": len(body.encode()), "patch": True,
                    "ops": [o["operation"] for o in ops], "levels_sent": merged}
        return {"raw_bytes": len(body.encode()), "patch": False, "ops": [],
                "levels_sent": len(hideout.get("v", "")) if isinstance(hideout, dict) else 0}
    return {}


def measure(base: str, store: Store, ids: list[str], rnd: random.Random,
            timeout: float, shots: Path | None = None) -> dict:
    b = Browser(1920, 1080)
    d = b.driver
    d.set_script_timeout(timeout)
    try:
        d.execute_cdp_cmd("Network.enable", {"maxTotalBufferSize": 200_000_000,
                                             "maxResourceBufferSize": 100_000_000})
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LONGTASKS})
        net = BodyNet()
        t0 = time.time() * 1000
        d.get(f"{base}/")
        first = wait(lambda: d.execute_script(
            "var L = window.lkLeaflet; return L && L.first;"), timeout)
        out: dict = {}
        if not first:
            out["first_render_s"] = None
            out["timeout_s"] = timeout
            net.drain(d)
            b.urls = list(net.url.values())
            out["foreign_requests"] = len(b.foreign_requests())
            return out
        origin = d.execute_script("return performance.timeOrigin;")
        net.drain(d)
        geo = [(u, bb) for _, u, bb in net.done if "network.geojson" in u]
        out.update({
            "first_render_s": round((first - origin) / 1000, 2),
            "first_load_kb": round(net.total(t0, first) / 1024, 1),
            "first_geometry_kb": round(sum(bb for _, bb in geo) / 1024, 1),
            "first_layout_kb": round(sum(bb for _, u, bb in net.done
                                         if u.endswith("/_dash-layout")) / 1024, 1),
            "first_scripts_kb": round(sum(bb for sent, u, bb in net.done
                                          if ".js" in u and t0 <= sent <= first) / 1024, 1),
            "features": d.execute_script(
                "var L = window.lkLeaflet; return L.calls[Object.keys(L.calls)[0]];")})
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            d.save_screenshot(str(shots / f"leaflet_{len(ids)}.png"))
        first_lt = d.execute_script("return window.__lt;")
        out["first_longest_task_ms"] = round(max((x[1] for x in first_lt), default=0))
        changes = []
        for _ in range(3):
            change = one_change(d, net, store, ids, rnd, origin,
                                lambda v: wait(lambda: d.execute_script(SHOWN_AT, v), timeout))
            if change is None:
                changes.append({"to_screen_s": None, "timeout_s": timeout,
                                "segments": max(1, len(ids) // 100)})
                break
            ingest_ms, shown = change.pop("ingest_ms"), change.pop("shown")
            version = change.pop("version")
            tag = d.execute_script(
                "var L = window.lkLeaflet, v = arguments[0], best = null;"
                "Object.keys(L.shown).forEach(function (t) {"
                " if (parseInt(t, 10) >= v && (best === null || L.shown[t] < L.shown[best]))"
                " best = t; }); return best;", version)
            changes.append({**change, "restyled": d.execute_script(CALLS_AT, tag),
                            "answer": answer(d, net, ingest_ms - 1500, shown)})
        out["changes"] = changes
        net.drain(d)
        b.urls = list(net.url.values())
        out["foreign_requests"] = len(b.foreign_requests())
        return out
    finally:
        b.quit()


def run_one(redis_url: str, size: int, tmp: Path, rnd: random.Random, timeout: float,
            shots: Path | None = None) -> dict:
    with grid_city(redis_url, size, tmp, rnd) as city:
        port = common.free_port()
        env = {**os.environ, "LKL_REDIS": redis_url, "LKL_PREFIX": city.prefix,
               "LKL_ROADS": str(city.roads)}
        log = city.state / "leaflet.log"
        web = city.procs.start("leaflet", [sys.executable, "-m", "gunicorn",
                                           "bench.leaflet_app:create_server()",
                                           "--bind", f"127.0.0.1:{port}", "--workers", "1",
                                           "--threads", "4", "--timeout", "300"], env, log)
        base = f"http://127.0.0.1:{port}"
        common.wait_http(f"{base}/bench/ready", web, 300, log)
        entry = {"segments": len(city.ids), "map": "dash-leaflet",
                 **measure(base, city.store, city.ids, rnd, timeout, shots)}
        print(json.dumps(entry), file=sys.stderr, flush=True)
        return entry


def maplibre_rows(path: Path = common.RESULTS) -> dict[int, list[str]]:
    """The MapLibre rows of the "Wall map at city size" section, by segment count."""
    rows: dict[int, list[str]] = {}
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line.strip() == MAPLIBRE_SECTION
        elif inside and line.startswith("|") and "| maplibre |" in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[int(cells[0].replace(",", ""))] = cells
    return rows


def comparison(results: list[dict], rows: dict[int, list[str]]) -> str:
    out = []
    for e in results:
        m = rows.get(e["segments"])
        if m is None:
            continue
        ch = [c for c in e.get("changes", []) if c.get("to_screen_s") is not None]
        if e.get("first_render_s") is None:
            out.append(f"At {e['segments']:,} segments dash-leaflet did not render within "
                       f"{e['timeout_s']:.0f} s; MapLibre's first render was {m[2]}.")
            continue
        first_load = m[3].split(" (")[0]
        change = (f"{med([c['to_screen_s'] for c in ch]):.2f} s" if ch else
                  f"not within {e['changes'][0]['timeout_s']:.0f} s")
        top = max((c["longest_task_ms"] for c in ch), default=0)
        longest = ("—" if not ch else f"{top} ms" if top else "none over 50 ms")
        kb = f"{med([c['kb'] for c in ch]):.1f} KB" if ch else "—"
        out.append(
            f"At {e['segments']:,} segments, dash-leaflet against MapLibre (same grid, section "
            f"above): first render {e['first_render_s']:.1f} s vs {m[2]}; a 1 % change on "
            f"screen {change} vs {m[4].split(' (')[0]}; longest task after a change "
            f"{longest} vs {m[5]}; per change {kb} vs {m[6].split(' (')[0]}; first load "
            f"{e['first_load_kb']:,.0f} KB vs {first_load}.")
    if out:
        out.append("(MapLibre figures as that section stood when this ran; its run was on "
                   "the same shared machine at another time.) The MapLibre figures are of the "
                   "whole /wall page (KPIs, charts with plotly.js, ticker, markers, "
                   "labels), this page holds the map alone: first render and first load favour "
                   "dash-leaflet for that reason; the change figures (on screen, longest "
                   "task, bytes) compare the two maps more closely.")
    return " ".join(out)


def med(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def markdown(machine: str, results: list[dict], load_start: str, load_end: str,
             started: str) -> str:
    rows = []
    for e in results:
        if e.get("first_render_s") is None:
            rows.append(f"| {e['segments']:,} | did not render within {e['timeout_s']:.0f} s "
                        f"(timeout) | — | — | — | — | — | {e['foreign_requests']} |")
            continue
        ch = e["changes"]
        done = [c for c in ch if c.get("to_screen_s") is not None]
        each = ", ".join(f"{c['to_screen_s']:.2f}" if c.get("to_screen_s") is not None
                         else f"timeout {c['timeout_s']:.0f} s" for c in ch)
        screen = (f"{med([c['to_screen_s'] for c in done]):.2f} s ({each})" if done
                  else f"timeout ({each})")
        top = max((c["longest_task_ms"] for c in done), default=0)
        longest = ("—" if not done else f"{top} ms" if top else "none (all < 50 ms)")
        kb = (f"{med([c['kb'] for c in done]):.1f} KB ({ch[0]['segments']:,} segments)"
              if done else "—")
        a = done[0]["answer"] if done else {}
        sent = (f"{'Patch (' + ', '.join(a['ops']) + ')' if a.get('patch') else 'whole hideout'}"
                f", {a['levels_sent']:,} levels, {a['raw_bytes'] / 1024:,.1f} KB raw; "
                f"{done[0]['restyled']:,} features re-styled" if a else "—")
        rows.append(
            f"| {e['segments']:,} | {e['first_render_s']:.1f} s | "
            f"{e['first_load_kb']:,.0f} KB (geometry {e['first_geometry_kb']:,.0f} KB, layout "
            f"with levels {e['first_layout_kb']:,.1f} KB, scripts {e['first_scripts_kb']:,.0f} "
            f"KB) | {screen} | {longest} | {kb} | {sent} | {e['foreign_requests']} |")
    return (f"{SECTION}\n\n{machine}\n\n"
            f"Measured {started} UTC on a shared machine (other helpers' work ran on the same "
            f"2 cores): load average {load_start} at the start, {load_end} at the end "
            "(/proc/loadavg, 1/5/15 min).\n\n"
            "`bench/bench_leaflet.py`: a bench-only Dash app (`bench/leaflet_app.py`, the same "
            "Dash 4.4, dash-leaflet 1.1.3, gunicorn with 1 worker and 4 threads, as the history "
            "of level vectors it computes deltas from is per process; compressed answers as "
            "the product) drawing the same grid network's geometry "
            "(`live/wall_map.network_geojson`, gzipped) as one `dl.GeoJSON` layer on a Canvas "
            "renderer, no tile layer, in a 1219x760 map (the wall's map panel) in headless "
            "Chromium at 1920x1080 (software rendering, as bench_browser). Its style function "
            "(`bench/leaflet_assets/leaflet_style.js`) reads the levels from the layer's "
            "`hideout` (`{t, v: level vector, d: {index: level}}`); the levels come from Redis "
            "through the real Store, and a 1 s `dcc.Interval` sends only the changed ones as a "
            "`dash.Patch` merged into `hideout.d` (the product's delta rule: the whole hideout "
            "when the page is out of step or over 12.5 % changed). The first levels are in the "
            "page layout. Measured as the MapLibre map (section \"Wall map at city size\"): "
            "first render to the layer drawn with its levels, 1 % of the segments written with "
            "Store.set_congestion to the layer drawn with them (three changes: median, then "
            "each), the longest main-thread task from the write until 2 s after, encoded bytes "
            "on the wire (CDP; dash-leaflet fetches the geometry on the main thread, so it is "
            "in the first load as seen by the page), requests to hosts other than "
            "127.0.0.1.\n\n"
            "What dash-leaflet really does with it: Dash sends only the changed levels (a "
            "Patch, one Merge operation), but dash-leaflet 1.1.3's GeoJSON treats any new "
            "`hideout` as new options and rebuilds the layer (`clearLayers()` then "
            "`addData()` of every feature): the style function runs for every segment and "
            "every polyline is re-created and re-drawn on each change (\"features re-styled\" "
            "below), so the cost of a change grows with the network, not with the change.\n\n"
            "| segments | first render | first load on the wire | 1 % change on screen after "
            "ingest | longest task after a change | bytes per change | what one change sent "
            "| requests off host |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
            + "\n".join(rows) + "\n\n" + comparison(results, maplibre_rows()) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS",
                                                      "redis://127.0.0.1:6379/14"))
    ap.add_argument("--sizes", default="1000,25000,100000")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds to wait for a render or a change (longer: a timeout)")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="save a PNG of each first render in this folder")
    args = ap.parse_args(argv)
    common.exit_on_sigterm()
    load_start = loadavg()
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    info = r.info("server")
    r.close()
    rnd = random.Random(20261001)
    tmp = Path(tempfile.mkdtemp(prefix="lkbenchleaflet"))
    results = []
    try:
        for size in (int(x) for x in args.sizes.split(",") if x):
            results.append(run_one(args.redis, size, tmp, rnd, args.timeout, args.screenshots))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = markdown(common.machine_line(info), results, load_start, loadavg(), started)
    common.write_section(SECTION, text)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
