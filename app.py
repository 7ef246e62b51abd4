"""The Dash app: one page per user, ``server`` for gunicorn, ``GET /healthz``.

gunicorn imports ``app:server``; settings come from the environment (LUKUANG_*, REDIS_URL).
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import dash
import redis
from flask import Response, jsonify, request

import callbacks  # noqa: F401  (registers every dash.callback)
from callbacks import guard
from dashboard.auth import PERMISSIONS, User
from dashboard.comms.holidays import HolidayCalendar
from dashboard.timeutil import city_zone
from dashboard.web import audit_export as dispatch_api
from dashboard.web import network_geojson, session
from dashboard.web.api import make_api
from dashboard.web.public_api import make_public
from dashboard.web.sms_api import make_sms
from dashboard.web.citizen_api import make_citizen
from feeds import citizen as citizen_feed
from dashboard.services import Services
from dashboard.storage.connection import SERVE, open_redis
from dashboard.settings import Settings, load_settings
from layouts import pages

if TYPE_CHECKING:
    from dashboard.cli.supervisor import Supervisor

log = logging.getLogger("lukuang.app")


services = session.services
# gunicorn request limits (web_argv); Flask's body limit is session.MAX_REQUEST_BYTES
LIMIT_REQUEST_LINE = 8190
LIMIT_REQUEST_FIELDS = 100
LIMIT_REQUEST_FIELD_SIZE = 16384


# page name (a function in layouts.pages), path, the permission it needs, title
PAGES = (
    ("wall", "/wall", "view_wall", "路况 · 大屏"),
    ("dispatch", "/dispatch", "view_dispatch", "路况 · 调度"),
    ("comms", "/comms", "view_comms", "路况 · 宣传"),
    ("feeds", "/feeds", "view_feeds", "路况 · 数据源"),
)


def page_inputs(name: str, user: User, svc: Services) -> dict[str, Any]:
    """What the page ``name``'s layout (a pure function in layouts.pages) is given, read
    at request time: settings values, the user's permissions, the holiday calendar."""
    s = svc.settings
    if name == "wall":
        return {"refresh_s": s.refresh_s, "city_name": s.city_name, "tick_s": s.version_tick_s,
                "wall_map": s.wall_map}
    if name == "dispatch":
        return {"permissions": {p for p in PERMISSIONS if user.can(p)},
                "tick_s": s.version_tick_s}
    if name == "comms":
        return {"calendar": HolidayCalendar.load(s.state_dir),
                "today": datetime.now(city_zone(s)).date(), "hashtags": s.hashtags,
                "city_name": s.city_name}
    return {}


def guarded(permission: str, name: str):
    """Wrap the page layout ``name``: the page is built only for a caller holding
    ``permission``."""
    layout = getattr(pages, name)

    def page(**_query):
        user = session.current_user()
        if user is None or (user.name == session.KIOSK_USER and permission != "view_wall"):
            return pages.login_needed()
        if not user.can(permission):
            return pages.forbidden(user.role)
        return signed_in(layout(**page_inputs(name, user, services())))
    return page


def signed_in(page):
    """``page`` with who is logged in and a logout button, for a caller with a session."""
    acct = session.account()
    return pages.signed_in(page, *acct) if acct else page


def home_page(**_query):
    return signed_in(pages.home())


def login_page(error: str = "", next: str = "/", **_query):
    """The login form with a checked ``next`` and this browser's CSRF token."""
    return pages.login(error=error, next=session.safe_next(next), csrf=session.csrf_token())


# component libraries the wall never uses: left out of /wall (a kiosk page with no links,
# so no in-app navigation can reach a page that needs them without a full page load)
NOT_ON_THE_WALL = ("/_dash-component-suites/dash_ag_grid/",)


def page_index(app: dash.Dash, settings: Settings):
    """The app's ``interpolate_index`` for this request's page: Dash puts every component
    library's bundle on every page; the wall (a kiosk, loaded once over a slow intranet
    link) gets only what it uses: no ag-grid (358 KB on the wire), MapLibre preloaded while
    Dash starts, and with the MapLibre map the basic plotly bundle for its charts, loaded
    after the map (assets/wall_charts.js) instead of the full one."""
    plain = dash.Dash.interpolate_index

    def interpolate_index(**parts: str) -> str:
        path = request.path.rstrip("/") or "/"
        lines = parts["scripts"].split("\n")
        if path == "/wall":
            lines = [ln for ln in lines if not any(m in ln for m in NOT_ON_THE_WALL)]
            # Dash's polyfill (core-js for old browsers: 150-200 ms of the kiosk's main
            # thread at every load) is replaced by the one part Dash's bundles still call
            # in a current Chromium, regeneratorRuntime
            runtime = app.get_asset_url("vendor/regenerator-runtime/runtime.js")
            lines = [f'<script src="{runtime}"></script>' if "/deps/polyfill@" in ln else ln
                     for ln in lines]
        parts["scripts"] = "\n".join(lines)
        if path == "/wall" and settings.wall_map != "plotly":
            parts["metas"] += (
                f'<meta name="lukuang-charts" content="'
                f'{app.get_asset_url("vendor/plotly/plotly-basic.min.js")}">'
                f'<link rel="preload" as="script" href="'
                f'{app.get_asset_url("vendor/maplibre-gl/maplibre-gl.js")}">')
        return plain(app, **parts)
    return interpolate_index


def create_app(settings: Settings | None = None, svc: Services | None = None) -> dash.Dash:
    """Build the app. The Redis connection is opened here and passed to callbacks via Flask."""
    settings = settings or load_settings()
    # every Redis call made while serving a request is bounded (redis_serve_timeout_s, no
    # retry of a timeout), and once Redis did not answer, calls fail at once for a while
    # (connection.FailFastRedis): a frozen Redis costs a request a second at most, not a
    # minute, and mostly milliseconds
    svc = svc or Services(settings, open_redis(settings, start_embedded=False, purpose=SERVE))
    app = dash.Dash(__name__, use_pages=True, pages_folder="", title="路况 Lukuang",
                    serve_locally=True, suppress_callback_exceptions=True,
                    update_title=None,
                    # gzip/brotli every compressible answer (flask-compress): the first
                    # load of the wall is mostly Dash's, plotly's and MapLibre's scripts
                    compress=True,
                    # vendored libraries (assets/vendor/): served, but loaded only by the
                    # page that needs them (the wall's map loads MapLibre itself)
                    assets_path_ignore=["vendor"])
    app.server.config["LUKUANG"] = svc
    app.interpolate_index = page_index(app, settings)
    app.server.debug = False   # FLASK_DEBUG in the environment must not turn it on
    with app.server.app_context():  # install() reads the services through current_app
        session.install(app.server, services)
    app.server.register_blueprint(make_api(services))
    app.server.register_blueprint(make_public(services))   # /public, /api/v1/public/*: anonymous
    app.server.register_blueprint(make_sms(services))   # /api/v1/sms/inbound: gateway secret
    app.server.register_blueprint(make_citizen(services, citizen_feed.submit))   # /r/<id>: QR
    if settings.trusted_proxies > 0:   # the client address from the proxies' X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_for=settings.trusted_proxies,
                                       x_proto=settings.trusted_proxies,
                                       x_host=settings.trusted_proxies)
    app.server.register_blueprint(dispatch_api.blueprint(services))
    app.server.register_blueprint(network_geojson.blueprint(services))   # the wall's roads

    @app.server.before_request
    def _wall_token():
        """/wall needs the kiosk token when one is configured (or a logged-in user): a
        caller without a session is the kiosk user only if ``session.wall_token_ok`` passes
        (via ``session.current_user``). Its callbacks check the token again, with the same
        function, from the page URL (callbacks/wall.py)."""
        if request.path.rstrip("/") == "/wall" and session.current_user() is None:
            return Response("403 Forbidden: wall token missing or wrong\n", 403,
                            mimetype="text/plain")

    @app.server.before_request
    def _callback_body():
        """Refuse a callback request whose body is not the shape Dash sends (400), before
        Dash's own dispatcher trips over it with a 500."""
        if request.path == "/_dash-update-component" and request.method == "POST":
            problem = guard.body_problem(request, app.callback_map)
            if not problem:
                problem = guard.values_problem(request.get_json())
                if problem and not guard.is_page_router(request.get_json()):
                    # refused by session.require() once the permission check has passed, so
                    # that a caller without the permission still gets 401/403
                    session.flag_bad_input(problem)
                    problem = ""
            if problem:
                return Response(f"400 Bad Request: {problem}\n", 400, mimetype="text/plain")

    @app.server.before_request
    def _no_dev_routes():
        """Dash always adds /_reload-hash (hot reload, a development tool): not served."""
        if request.path.rstrip("/") == "/_reload-hash":
            return Response("404 Not Found\n", 404, mimetype="text/plain")

    @app.server.errorhandler(dash.exceptions.DependencyException)
    def _unknown_script(_exc):
        """/_dash-component-suites/<not a registered library>/…: 404, not a 500."""
        return Response("404 Not Found\n", 404, mimetype="text/plain")

    dash.register_page("home", path="/", layout=home_page, title="路况 Lukuang")
    dash.register_page("login", path="/login", layout=login_page, title="路况 · 登录")
    for name, path, permission, title in PAGES:
        dash.register_page(name, path=path, title=title,
                           layout=guarded(permission, name))
    app.layout = dash.html.Div([dash.page_container])
    # Dash registers its script paths in a lazy first-request setup; under gunicorn threads a
    # fresh worker serving several script requests at once races it (500 "dash is not a
    # registered library"). Do it now, before the worker serves anything.
    with app.server.test_request_context("/"):
        app._setup_server()
    if settings.wall_map != "plotly":
        # the road geometry of the wall's map, built in the background as the worker starts
        import threading

        from dashboard.live.wall_map import warm
        threading.Thread(target=warm, args=(lambda: svc.network,), name="lukuang-warm",
                         daemon=True).start()

    @app.server.get("/healthz")
    def healthz():
        """200 with the data version, or 503 when Redis does not answer: one round trip,
        bounded by the serving connection's timeout (1 s: within 2 s even if Redis hangs)."""
        s: Services = services()
        try:
            body = {"status": "ok", "redis": "ok", "mode": s.handle.mode,
                    "data_version": s.store.version()}
            code = 200
        except redis.RedisError as exc:
            body = {"status": "degraded", "redis": f"unreachable: {exc.__class__.__name__}",
                    "data_version": None}
            code = 503
        return jsonify(body), code

    return app


def __getattr__(name: str):
    """``app.server`` for gunicorn, built on first access so importing app.py stays cheap."""
    if name == "server":
        global server
        try:
            server = create_app().server
        except redis.RedisError as exc:  # shown to the operator
            raise SystemExit(f"lukuang: cannot reach Redis: {exc}") from None
        return server
    raise AttributeError(name)


def web_argv(host: str, port: int, workers: int, access_log: bool = False,
             log_config: str | None = None) -> list[str]:
    """The gunicorn command line of ``lukuang run``: no reload, no debug, request size
    limits (a longer request line gets 414, more or larger header fields 431); its logging
    from ``log_config`` (a JSON file, ``dashboard.cli.logs.gunicorn_log_config``) when given."""
    import sys

    argv = [sys.executable, "-m", "gunicorn", "app:server", "--bind", f"{host}:{port}",
            "--workers", str(workers), "--threads", "4", "--timeout", "60",
            "--graceful-timeout", "10", "--limit-request-line", str(LIMIT_REQUEST_LINE),
            "--limit-request-fields", str(LIMIT_REQUEST_FIELDS),
            "--limit-request-field_size", str(LIMIT_REQUEST_FIELD_SIZE),
            "--access-logfile", "-" if access_log else "/dev/null"]
    return argv + (["--log-config-json", log_config] if log_config else [])


def cmd_run(args, settings: Settings) -> int:
    """The demo (or one host of a deployment): server, upstream simulator, feeds, web."""
    import sys
    from dataclasses import replace

    from dashboard.cli import logs
    from dashboard.cli.supervisor import Supervisor, child_env

    port = args.port or settings.port
    demo = settings.demo and not args.no_demo
    verbose = settings.verbose or args.verbose
    log_dir = logs.log_dir(settings.state_dir)
    logs.setup_logging(verbose, log_dir / logs.RUN_LOG)
    svc = Services.open(settings)
    for note in svc.handle.notes:
        log.warning(note)
    # the children run this same command line, whether or not the venv is on PATH
    exe_argv = [sys.executable, "-c", "import sys, app; sys.exit(app.main())"]
    sup = Supervisor(child_env(svc.handle.url, str(settings.state_dir), demo=demo,
                               config_file=settings.config_file, verbose=verbose),
                     log_dir=log_dir)
    if demo:
        sup.add("sim", [*exe_argv, "sim"])
    sup.add(*feeds_child(replace(settings, demo=demo), args.no_feeds, exe_argv))
    web_log = web_log_config(log_dir, verbose, args.access_log)
    sup.add("web", web_argv(settings.host, port, args.workers or settings.workers,
                            args.access_log, log_config=str(web_log)), critical=True)
    sup.ready, sup.on_ready = run_banner(settings, svc, port, demo, sup)
    print(f"lukuang: starting; the addresses follow once the web answers (logs: {log_dir}/)",
          flush=True)
    try:
        return sup.run()
    finally:
        svc.close()


def web_log_config(log_dir: Path, verbose: bool, access_log: bool) -> Path:
    """Write gunicorn's logging configuration (web.log, the terminal, access.log with
    ``--access-log``) next to the logs; returns its path."""
    import json

    from dashboard.cli import logs

    path = log_dir / "web-logging.json"
    conf = logs.gunicorn_log_config(log_dir / "web.log", verbose,
                                    log_dir / logs.ACCESS_LOG if access_log else None)
    path.write_text(json.dumps(conf, indent=1), encoding="utf-8")
    return path


def run_banner(settings: Settings, svc: Services, port: int, demo: bool,
               sup: Supervisor) -> tuple[Callable[[], bool], Callable[[], None]]:
    """(ready, on_ready) for the supervisor: /healthz answers 200, then print every page's
    address, the accounts still to create and where the logs are."""
    import os
    import urllib.request

    from dashboard.auth import list_users
    from dashboard.cli.banner import Banner, banner_lines, base_url, existing_accounts, \
        users_command

    base = base_url(settings.host, port)

    def ready() -> bool:
        with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
            return resp.status == 200

    def on_ready() -> None:
        try:
            existing = existing_accounts(list_users(svc.r, svc.keys))
        except redis.RedisError:
            existing = {}
        files = [p.name for p in (sup.log_file(c.name) for c in sup.children) if p]
        b = Banner(base_url=base, pages=[path for _, path, _, _ in PAGES],
                   wall_token=settings.wall_token,
                   command=users_command(settings, os.environ.get("REDIS_URL", "")),
                   existing=existing, log_dir=sup.log_dir,
                   log_files=["run.log", *files], redis=f"{svc.handle.mode} at "
                   f"{svc.handle.url}", demo=demo, backfill=settings.demo_backfill)
        print("\n".join(banner_lines(b)), flush=True)
    return ready, on_ready


def feeds_child(settings: Settings, no_feeds: bool, exe_argv: list[str]) -> tuple[str, list[str]]:
    """(name, argv) of the process ``lukuang run`` starts for the data: the feed runner
    when there is a feed to poll; otherwise (``--no-feeds``, or none configured: said once
    here) the housekeeping alone, which keeps the congestion index and expiry going."""
    from feeds.config import configured_feeds
    from feeds.runner import pollable

    if no_feeds:
        log.info("--no-feeds: no feed runner here; housekeeping records the congestion index")
        return "housekeeping", [*exe_argv, "housekeeping"]
    if any(pollable(f) for f in configured_feeds(settings)):
        return "feeds", [*exe_argv, "feeds"]
    where = settings.config_file or "the settings file (lukuang.toml)"
    log.warning("no feed to poll is configured ([feeds.NAME] with a url in %s): the feed "
                "runner is not started; add data with `lukuang ingest FEED FILE`", where)
    return "housekeeping", [*exe_argv, "housekeeping"]


def build_parser():
    import argparse

    from dashboard.cli import city as city_cli
    from dashboard.cli import commands as core_commands
    from dashboard.cli import reach as reach_cli
    from feeds import commands as feed_commands

    parser = argparse.ArgumentParser(prog="lukuang", description="路况 Lukuang command line")
    parser.add_argument("--config", help="TOML settings file (default: $LUKUANG_CONFIG or "
                                         "./lukuang.toml)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="start everything: Redis (embedded if REDIS_URL is unset), "
                                   "demo upstream, feeds, web")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--no-demo", action="store_true", help="no simulator (a real deployment)")
    p.add_argument("--no-feeds", action="store_true", help="web only (another host runs feeds)")
    p.add_argument("--access-log", action="store_true",
                   help="log every web request (to <state_dir>/logs/access.log)")
    p.add_argument("--verbose", action="store_true",
                   help="every log line in the terminal, one per feed poll included "
                        "(also LUKUANG_VERBOSE=1); otherwise warnings and errors only, the "
                        "rest in <state_dir>/logs/")
    p.set_defaults(handler=cmd_run)
    core_commands.register(sub)
    city_cli.register(sub)
    feed_commands.register(sub)
    reach_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``lukuang`` console script."""
    import sys

    from dashboard.cli.logs import setup_logging
    from dashboard.settings import SettingsError

    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        sys.stderr.write(f"lukuang: {exc}\n")
        return 2
    setup_logging(settings.verbose or getattr(args, "verbose", False), settings.log_file)
    return int(args.handler(args, settings) or 0)


if __name__ == "__main__":  # python app.py: development server
    create_app().run(debug=False, host="127.0.0.1", port=8050)
