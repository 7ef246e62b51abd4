/* Bench only (bench/leaflet_app.py, served by that app, never by the product): the style
   function of the dash-leaflet road layer, driven by the layer's hideout
     {t: data tag, v: "0123-…" (one character per segment, "-": no reading),
      d: {index: level} (changes merged in since v; -1: no reading),
      c / w: colour / width per level, rc / rw: grey road colour / width per rank}.
   A feature's id is its segment index + 1 (live/wall_map.network_geojson).

   window.lkLeaflet keeps timings for bench/bench_leaflet.py (Date.now() ms):
     first      the first time the layer was drawn with levels (two animation frames after
                the style function first ran: Leaflet's canvas redraws in the next frame)
     shown[t]   likewise for the first style call with data tag t
     calls[t]   how many times the style function ran for tag t (features re-styled) */
(function () {
    "use strict";
    var L = window.lkLeaflet = {first: null, shown: {}, calls: {}};

    function mark(t) {
        if (L.calls[t] !== undefined) { L.calls[t]++; return; }
        L.calls[t] = 1;
        requestAnimationFrame(function () {
            requestAnimationFrame(function () {
                var now = Date.now();
                if (L.first === null) { L.first = now; }
                L.shown[t] = now;
            });
        });
    }

    L.style = function (feature, ctx) {
        var h = (ctx && ctx.hideout) || {}, i = feature.id - 1, l = -1;
        if (h.t !== undefined) { mark(h.t); }
        if (h.d && Object.prototype.hasOwnProperty.call(h.d, i)) {
            l = h.d[i];
        } else if (h.v) {
            var c = h.v.charCodeAt(i) - 48;
            l = c >= 0 && c <= 4 ? c : -1;
        }
        if (l >= 0 && h.c) {
            return {color: h.c[l], weight: h.w[l], opacity: 1, lineCap: "round"};
        }
        var r = (feature.properties && feature.properties.r) || 0;
        return {color: h.rc ? h.rc[r] : "#2a333e", weight: h.rw ? h.rw[r] : 1, opacity: 1,
                lineCap: "round"};
    };
}());
