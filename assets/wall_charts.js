/* The wall's charts wait for its map (app.py adds <meta name="lukuang-charts"> to /wall).

   dcc.Graph loads plotly.js when the first graph renders, unless window.Plotly is already
   there (it resolves window.Plotly as a promise). On the wall that would load the full
   plotly bundle (4.8 MB, with maps the wall's charts never use) while the map is starting,
   on the same main thread. So on the wall window.Plotly starts as a promise that loads the
   basic bundle (scatter, bar: what the wall's charts are) once the map was idle with its
   first levels ("lukuang:map-idle" from wall_map.js), or after FALLBACK_MS if the map never
   gets there: the charts are never held back for good. The bundle's own code then replaces
   window.Plotly with the real library, before the promise resolves. */
(function () {
    "use strict";
    var FALLBACK_MS = 12000;
    var meta = document.querySelector('meta[name="lukuang-charts"]');
    if (!meta || window.Plotly) { return; }
    var src = meta.getAttribute("content");
    var started = false;
    var waiting = new Promise(function (resolve, reject) {
        function load() {
            if (started) { return; }
            started = true;
            var s = document.createElement("script");
            s.src = src;
            s.onload = function () { resolve(); };
            s.onerror = function () { reject(new Error("plotly.js did not load")); };
            document.head.appendChild(s);
        }
        window.addEventListener("lukuang:map-idle", load, {once: true});
        setTimeout(load, FALLBACK_MS);
    });
    window.Plotly = {then: function (ok, fail) { return waiting.then(ok, fail); }};
})();
