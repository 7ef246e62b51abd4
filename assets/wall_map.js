/* The wall's MapLibre map (callbacks/wall.py, setting wall_map = "maplibre").

   The server sends messages through the store wall-map-data:
     cfg  the setup, once: style (the road geometry by a versioned URL, fetched and cached
          by the browser), view, labels, where MapLibre is (loaded only on the wall)
     lv   levels: {k, t, full: "0123-…"} (one character per segment, "-": no reading) or
          {k, t, base, d: [index, level, …]} (only the segments that changed since `base`)
     mk   the markers as one GeoJSON FeatureCollection (replaced whole)
     view a rotation step {center, zoom, i}
   A level is a feature state (`l`) of the segment's feature (id = index + 1): no geometry is
   sent or re-tessellated for a change. The callback returns what the map holds ({k, t}):
   the next refresh sends a delta from there, or everything when the page is out of step.

   window.lukuangWall exposes the map and timings for the browser tests and the bench
   (marks: when the setup arrived (cfg), MapLibre was ready (lib), the style was there and the
   first levels set (style), the map loaded its geometry (load); firstIdle: the first time the map was idle with levels applied; shown[tag]: when the
   map went idle after applying the levels of that tag; Date.now() milliseconds). */
(function () {
    "use strict";
    var W = window.lukuangWall = window.lukuangWall || {
        map: null, key: null, tag: null, lv: null, loaded: false, queue: [],
        firstIdle: null, shown: {}, applied: 0, view: 0, labels: [], lib: null, marks: {}
    };

    function loadLib(cfg) {
        if (window.maplibregl) { return Promise.resolve(); }
        if (!W.lib) {
            W.lib = new Promise(function (resolve, reject) {
                var css = document.createElement("link");
                css.rel = "stylesheet";
                css.href = cfg.css;
                document.head.appendChild(css);
                var s = document.createElement("script");
                s.src = cfg.lib;
                s.onload = resolve;
                s.onerror = function () {
                    W.lib = null;
                    window.dispatchEvent(new Event("lukuang:map-idle"));   // charts: go on
                    reject(new Error("maplibre"));
                };
                document.head.appendChild(s);
            });
        }
        return W.lib;
    }

    function absolute(path) {
        // the worker fetches the geometry: an absolute URL, with the kiosk token if any
        var u = new URL(path, window.location.href);
        var token = new URLSearchParams(window.location.search).get("token");
        if (token) { u.searchParams.set("token", token); }
        return u.href;
    }

    function addLabels(map, labels) {
        W.labels.forEach(function (m) { m.remove(); });
        W.labels = labels.map(function (lb) {
            var el = document.createElement("span");
            el.className = "lk-map-label lk-map-label-" + lb.c;
            el.style.fontSize = lb.px + "px";
            el.textContent = lb.n;          // text, never HTML
            return new maplibregl.Marker({element: el, anchor: "center"})
                .setLngLat([lb.lon, lb.lat]).addTo(map);
        });
    }

    function create(msg) {
        var cfg = msg.cfg;
        var host = document.getElementById("wall-map");
        if (!host) { return; }
        if (W.map) { W.map.remove(); W.map = null; }
        host.textContent = "";
        var div = document.createElement("div");
        div.className = "lk-gl";
        host.appendChild(div);
        var style = JSON.parse(JSON.stringify(cfg.style));
        if (style.sources.net) { style.sources.net.data = absolute(style.sources.net.data); }
        W.lv = new Int8Array(cfg.n).fill(-1);
        W.loaded = false;
        W.firstIdle = null;
        W.shown = {};
        W.view = 0;
        var map = new maplibregl.Map({
            container: div, style: style, attributionControl: false,
            center: [cfg.view.center.lon, cfg.view.center.lat], zoom: cfg.view.zoom,
            dragRotate: false, pitchWithRotate: false, touchPitch: false, fadeDuration: 0,
            renderWorldCopies: false
        });
        W.map = map;
        // the levels are set as soon as the style (with its sources) is there, before the
        // geometry's tiles are built: the first frame drawn has them, instead of a grey
        // network drawn first and then again in colour
        map.once("style.load", function () {
            W.marks.style = W.marks.style || Date.now();
            W.loaded = true;
            addLabels(map, cfg.labels || []);
            flush();
        });
        map.once("load", function () { W.marks.load = W.marks.load || Date.now(); });
    }

    function applyLevels(lv) {
        var map = W.map, n = W.lv.length, i, l, c;
        var set = function (idx, level) {
            if (idx < 0 || idx >= n || W.lv[idx] === level) { return; }
            W.lv[idx] = level;
            map.setFeatureState({source: "net", id: idx + 1}, {l: level});
        };
        if (typeof lv.full === "string") {
            for (i = 0; i < lv.full.length && i < n; i++) {
                c = lv.full.charCodeAt(i);
                set(i, c === 45 ? -1 : c - 48);
            }
        } else {
            for (i = 0; i + 1 < lv.d.length; i += 2) {
                l = lv.d[i + 1];
                set(lv.d[i], l);
            }
        }
        W.applied += 1;
        var tag = lv.t;
        map.once("idle", function () {
            var now = Date.now();
            W.shown[tag] = now;
            if (W.firstIdle === null) {
                W.firstIdle = now;
                window.dispatchEvent(new Event("lukuang:map-idle"));   // wall_charts.js
            }
            document.getElementById("wall-map").setAttribute("data-shown", tag);
        });
        map.triggerRepaint();
    }

    function apply(msg) {
        var map = W.map;
        if (msg.lv) { applyLevels(msg.lv); }
        if (msg.mk) { map.getSource("markers").setData(msg.mk); }
        if (msg.view && msg.view.i !== W.view) {
            W.view = msg.view.i;
            map.jumpTo({center: [msg.view.center.lon, msg.view.center.lat],
                        zoom: msg.view.zoom});
        }
    }

    function flush() {
        if (!W.map || !W.loaded) { return; }
        var q = W.queue;
        W.queue = [];
        q.forEach(apply);
    }

    function wallMap(msg) {
        if (!msg || typeof msg !== "object") { return window.dash_clientside.no_update; }
        if (msg.cfg) {
            W.queue = [msg];
            W.tag = msg.lv ? msg.lv.t : null;
            W.key = msg.k;
            W.marks.cfg = W.marks.cfg || Date.now();
            loadLib(msg.cfg).then(function () {
                W.marks.lib = W.marks.lib || Date.now();
                create(msg);
            });
            return {k: msg.k, t: W.tag};
        }
        if (msg.k !== W.key) { return {k: W.key, t: null}; }
        if (msg.lv) {
            // a delta applies only on top of the tag this map holds (or is about to hold)
            if (typeof msg.lv.full !== "string" && msg.lv.base !== W.tag) {
                msg = Object.assign({}, msg);
                delete msg.lv;
            } else {
                W.tag = msg.lv.t;
            }
        }
        W.queue.push(msg);
        flush();
        return {k: W.key, t: W.tag};
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside);
    window.dash_clientside.lukuang = Object.assign({}, window.dash_clientside.lukuang,
                                                   {wallMap: wallMap});
})();
