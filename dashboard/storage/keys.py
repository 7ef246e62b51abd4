"""Every Redis key name, built in one place.

All keys of one city share the hash tag ``{city}`` so that every script, MULTI or
transaction touches a single Redis Cluster slot; one cluster can hold a province
with each city in its own slot.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

KINDS = ("incident", "congestion", "construction", "report")


@dataclass(frozen=True)
class Keys:
    """Key builder for one city under one prefix, e.g. ``lk:{taian}:version``."""

    prefix: str = "lk"
    city: str = "taian"

    @property
    def base(self) -> str:
        """The common start of every key of this city: ``lk:{taian}:``."""
        return f"{self.prefix}:{{{self.city}}}:"

    @property
    def hash_tag(self) -> str:
        return f"{{{self.city}}}"

    # Prefixes of keys that end in an id. Lua scripts that build such keys from ids get the
    # prefix as an argument instead of spelling it: ``event_prefix + id == event(id)``.
    @property
    def event_prefix(self) -> str:
        return f"{self.base}event:"

    @property
    def active_prefix(self) -> str:
        return f"{self.base}active:"

    @property
    def geo_prefix(self) -> str:
        return f"{self.base}geo:"

    @property
    def unit_prefix(self) -> str:
        return f"{self.base}unit:"

    def event(self, event_id: str) -> str:
        return f"{self.event_prefix}{event_id}"

    def active(self, kind: str) -> str:
        return f"{self.active_prefix}{kind}"

    def geo(self, kind: str) -> str:
        return f"{self.geo_prefix}{kind}"

    def congestion(self) -> str:
        return f"{self.base}congestion"

    def congestion_pending(self) -> str:
        """Hash of readings that disagree with a segment's fused level, awaiting confirmation."""
        return f"{self.base}congestion:pending"

    def ts(self, metric: str, day: date | str) -> str:
        day_s = day if isinstance(day, str) else day.strftime("%Y%m%d")
        return f"{self.base}ts:{metric}:{day_s}"

    def changes(self) -> str:
        return f"{self.base}changes"

    def quarantine(self, feed: str) -> str:
        return f"{self.base}quarantine:{feed}"

    def quarantine_seen(self, feed: str, digest: str) -> str:
        """Marker (with a TTL) that a record of this content was quarantined already."""
        return f"{self.base}quarantine-seen:{feed}:{digest}"

    def feed(self, feed: str) -> str:
        return f"{self.base}feed:{feed}"

    def feeds_index(self) -> str:
        return f"{self.base}feeds"

    def audit(self) -> str:
        return f"{self.base}audit"

    def version(self) -> str:
        return f"{self.base}version"

    def feed_seen(self, feed: str) -> str:
        """Set of upstream ids seen in the feed's last poll (ends alerts that disappear)."""
        return f"{self.base}seen:{feed}"

    def private(self, event_id: str) -> str:
        """Hash of personal data behind an event (raw report text, phone, plate, name);
        read only for roles allowed to see it."""
        return f"{self.base}private:{event_id}"

    def user(self, name: str) -> str:
        return f"{self.base}user:{name}"

    def users_index(self) -> str:
        return f"{self.base}users"

    def session(self, sid: str) -> str:
        return f"{self.base}session:{sid}"

    def user_sessions(self, name: str) -> str:
        """Set: the session ids of one user (listed and ended by ``dashboard.auth``)."""
        return f"{self.base}user-sessions:{name}"

    # logins of one account (dashboard.auth.authenticate): every key of account NAME starts
    # with ``login:NAME:`` so that ``login_pattern`` finds them all (``users unlock``)
    def login_failures(self, name: str, client: str) -> str:
        """Counter: recent login tries on account ``name`` from ``client``."""
        return f"{self.base}login:{name}:fails:{client}"

    def login_failures_all(self, name: str) -> str:
        """Counter: recent failed login tries on account ``name`` from every client."""
        return f"{self.base}login:{name}:all"

    def login_gate(self, name: str, client: str) -> str:
        """Marker (with a TTL): ``client`` must wait before its next try on ``name``."""
        return f"{self.base}login:{name}:gate:{client}"

    def login_pattern(self, name: str) -> str:
        """A SCAN pattern matching every login key of account ``name``."""
        return f"{self.base}login:{name}:*"

    def lease(self, name: str) -> str:
        return f"{self.base}lease:{name}"

    def cache(self, name: str) -> str:
        return f"{self.base}cache:{name}"

    def rate(self, scope: str, client: str) -> str:
        """Counter of one client's requests in the current window (``dashboard.ratelimit``)."""
        return f"{self.base}rate:{scope}:{client}"

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this city (tests, cleanup)."""
        return f"{self.prefix}:{{{self.city}}}:*"

    # -- dispatch: incidents, units, report links (appended by the dispatch work) --------
    def incident(self, incident_id: str) -> str:
        """Hash: one incident's current state (status, rev, history as JSON, …)."""
        return f"{self.base}incident:{incident_id}"

    def incidents_open(self) -> str:
        """Sorted set: open incident ids scored by urgency (lowest score first)."""
        return f"{self.base}incidents:open"

    def incidents_index(self) -> str:
        """Sorted set: every incident id scored by its report time (statistics, lists)."""
        return f"{self.base}incidents:all"

    def incidents_cleared(self) -> str:
        """Sorted set: cleared incident ids scored by when they were cleared (the wall shows
        recently cleared ones for a few minutes)."""
        return f"{self.base}incidents:cleared"

    def incident_seq(self) -> str:
        """Counter for new incident numbers."""
        return f"{self.base}incidents:seq"

    def incidents_geo(self) -> str:
        """Geo set: every open incident's position (the fusion's candidate lookup)."""
        return f"{self.base}incidents:geo"

    def unit(self, unit_id: str) -> str:
        """Hash: one unit (type, callsign, position, status, current incident, rev)."""
        return f"{self.unit_prefix}{unit_id}"

    def units_geo(self) -> str:
        """Geo set: every unit's last position (GEOSEARCH for the nearest free units)."""
        return f"{self.base}units:geo"

    def units_index(self) -> str:
        """Set: every unit id."""
        return f"{self.base}units"

    def report_incident(self) -> str:
        """Hash: report (event) id → the incident it is linked to."""
        return f"{self.base}report-incident"

    # comms ---------------------------------------------------------------------------
    def bulletin(self, bulletin_id: str) -> str:
        """Hash: one bulletin draft (text, state, rev, author, approver, publications)."""
        return f"{self.base}bulletin:{bulletin_id}"

    def bulletins_index(self) -> str:
        """Sorted set: bulletin ids scored by creation time."""
        return f"{self.base}bulletins"

    def bulletin_seq(self) -> str:
        """Counter: the last bulletin number handed out."""
        return f"{self.base}bulletinseq"

    def reach_post(self, post_id: str) -> str:
        """Hash: one of the account's own posts and its latest metrics."""
        return f"{self.base}reach:post:{post_id}"

    def reach_snapshots(self, post_id: str) -> str:
        """Sorted set: metric snapshots of one post, scored by snapshot time."""
        return f"{self.base}reach:snap:{post_id}"

    def reach_index(self) -> str:
        """Sorted set: post ids scored by publication time."""
        return f"{self.base}reach:posts"

    def report_replies(self) -> str:
        """Hash: citizen report event id -> JSON {by, at, text} of the account's reply."""
        return f"{self.base}replies"

    # the demo's simulated history (appended by the demo backfill, feeds/backfill.py) --------
    def history_simulated(self) -> str:
        """Hash: the time-series history that is simulated, not observed: ``from`` and ``to``
        (epoch seconds, the range written), ``metrics`` (comma-separated, e.g.
        ``cidx:city,ckm:city,…``), ``step_s``, ``source`` and ``written_at``. Set by the demo's
        first start only; a chart may mark values inside [from, to) as simulated."""
        return f"{self.base}history:simulated"

    # the SMS road query (appended by the SMS work, dashboard/web/sms_api.py) ----------------
    def sms_counts(self) -> str:
        """Hash: SMS webhook outcome -> count (answered_road, refused_auth, refused_rate_sender,
        …); no numbers, no texts."""
        return f"{self.base}sms:counts"

    # citizens in: move-car (挪车) tasks (appended by the QR-sticker work, dashboard/citizen/) --
    def movecar(self, task_id: str) -> str:
        """Hash: one move-car task (report id, place, district, status, times, rev); the
        plate is not here but in the report's ``private`` hash."""
        return f"{self.base}movecar:{task_id}"

    def movecar_active(self) -> str:
        """Sorted set: move-car tasks not yet closed (moved or towed), by deadline."""
        return f"{self.base}movecar:active"

    def movecar_index(self) -> str:
        """Sorted set: every move-car task id by the time it was opened (statistics)."""
        return f"{self.base}movecar:all"

    def movecar_seq(self) -> str:
        """Counter: the last move-car task number handed out."""
        return f"{self.base}movecar:seq"

    def movecar_by_report(self) -> str:
        """Hash: report (event) id → its move-car task id (a report opens one task)."""
        return f"{self.base}movecar:by-report"
