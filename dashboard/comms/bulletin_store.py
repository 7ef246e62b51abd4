"""The comms desk's state in Redis: bulletin drafts and their review, and the replies to
citizen reports.

A bulletin goes drafted → approved → published:
- anyone holding ``draft_bulletin`` drafts and edits; an edit of an approved bulletin
  sends it back to drafted (the approval was for the old text);
- ``approve_bulletin`` approves, and the approver must be a SECOND person: nobody who
  wrote any of the text (the author or a later editor) may approve it;
- publishing records the channel, the channel's post id and the time; a bulletin may be
  published on several channels, one record each. An SMS has no post id: its record gets
  one of its own (``sms-B000001-1``: the bulletin and the how-manieth SMS sending).

Every change is one ``audit.commit``: it applies only if the bulletin still has the
``rev`` the caller read (optimistic concurrency: two people acting at once, one wins, the
other is told to reload), and it appends the audit entry (who, role, when, before,
after) in the same atomic step.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from dashboard.audit import Change, commit
from dashboard.auth import User
from dashboard.comms.bulletins import Bulletin
from dashboard.comms.channels import CHANNELS
from dashboard.dispatch import incidents
from dashboard.dispatch.labels import INCIDENT_STATUS_LABELS
from dashboard.storage.keys import Keys
from dashboard.masking import mask_text
from dashboard.model import decode_hash

STATES = ("drafted", "approved", "published")
STATE_LABELS = {"drafted": "草稿", "approved": "已审核", "published": "已发布"}
MAX_TEXT = 5000
POST_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
# channels whose publication has no id of the channel's: the record's id is generated
NO_POST_ID_CHANNELS = ("sms",)
NO_INCIDENT = "未立案"


class BulletinError(ValueError):
    """A bulletin action is not allowed; the message is safe to show to the user."""


class Conflict(BulletinError):
    """Someone changed the bulletin since the caller read it."""


class NotFound(BulletinError):
    pass


@dataclass
class Record:
    """One stored bulletin."""

    id: str
    state: str
    rev: int
    bulletin: Bulletin
    text: str
    author: str
    editors: list[str] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    approver: str = ""
    approved_at: float = 0.0
    publications: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> "Record":
        # the bulletin is stored as JSON under "data"
        return cls(bulletin=Bulletin.from_dict(json.loads(h.get("data") or "{}")),
                   **decode_hash(cls, h, skip=("bulletin",)))

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "rev": self.rev, "kind": self.bulletin.kind,
                "title": self.bulletin.title, "author": self.author, "approver": self.approver,
                "created_at": self.created_at, "publications": self.publications}


class BulletinStore:
    """Drafts, approval and publication records for one city."""

    def __init__(self, r: redis.Redis, keys: Keys):
        self.r, self.keys = r, keys

    # -- reads -------------------------------------------------------------------------
    def get(self, bulletin_id: str) -> Record | None:
        if not bulletin_id or len(bulletin_id) > 40:
            return None
        h = self.r.hgetall(self.keys.bulletin(bulletin_id))
        return Record.from_hash(h) if h else None

    def recent(self, count: int = 20) -> list[Record]:
        """The newest bulletins first."""
        ids = self.r.zrevrange(self.keys.bulletins_index(), 0, max(0, count - 1))
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self.keys.bulletin(i))
        return [Record.from_hash(h) for h in pipe.execute() if h]

    def _load(self, bulletin_id: str) -> Record:
        rec = self.get(bulletin_id)
        if rec is None:
            raise NotFound(f"没有稿件 {bulletin_id!r} (no such bulletin)")
        return rec

    # -- writes ------------------------------------------------------------------------
    def _commit(self, ch: Change, rec_id: str, expected_rev: int) -> int:
        ch.rev = expected_rev + 1
        res = commit(self.r, self.keys, ch)
        if not res.ok:
            raise Conflict(f"稿件 {rec_id} 已被他人修改，请刷新后重试 (the bulletin changed: "
                           f"rev {res.expected} → {res.actual or 'gone'}; reload)")
        return res.revs[0] if res.revs else expected_rev + 1

    @staticmethod
    def _need(user: User, permission: str) -> None:
        if user is None or not user.can(permission):
            raise BulletinError(f"无权限 (role {getattr(user, 'role', None)!r} lacks "
                                f"{permission})")

    def create(self, bulletin: Bulletin, user: User, text: str | None = None,
               now: float | None = None) -> Record:
        """A new draft by ``user``; ``text`` is the (edited) text, else the bulletin's."""
        self._need(user, "draft_bulletin")
        text = (bulletin.text if text is None else text).strip()
        if not text:
            raise BulletinError("稿件内容为空 (the text is empty)")
        if len(text) > MAX_TEXT:
            raise BulletinError(f"稿件过长 (more than {MAX_TEXT} characters)")
        now = time.time() if now is None else now
        seq = int(self.r.incr(self.keys.bulletin_seq()))
        bid = f"B{seq:06d}"
        key = self.keys.bulletin(bid)
        b = bulletin.with_text(text) if text != bulletin.text else bulletin
        fields = {"id": bid, "state": "drafted", "kind": b.kind, "text": text,
                  "data": json.dumps(b.to_dict(), ensure_ascii=False),
                  "author": user.name, "editors": "[]", "created_at": f"{now:.3f}",
                  "updated_at": f"{now:.3f}", "publications": "[]"}
        ch = Change(action="bulletin.draft", target=f"bulletin:{bid}", who=user.name,
                    role=user.role, at=now, before={},
                    after={"state": "drafted", "kind": b.kind, "text": text})
        ch.check(key, "rev", "")
        ch.sets.append((key, fields))
        ch.bump.append(key)
        ch.zadd.append((self.keys.bulletins_index(), now, bid))
        self._commit(ch, bid, 0)
        return self._load(bid)

    def edit(self, bulletin_id: str, text: str, user: User, expected_rev: int,
             now: float | None = None) -> Record:
        """Replace the text; an approved bulletin goes back to drafted."""
        self._need(user, "draft_bulletin")
        rec = self._load(bulletin_id)
        text = (text or "").strip()
        if rec.state == "published":
            raise BulletinError("已发布的稿件不能修改，请另起草续报 (published bulletins are not "
                                "edited; draft a follow-up)")
        if not text or len(text) > MAX_TEXT:
            raise BulletinError(f"稿件内容须为1–{MAX_TEXT}字 (text must be 1–{MAX_TEXT} chars)")
        if text == rec.text:
            return rec
        now = time.time() if now is None else now
        key = self.keys.bulletin(bulletin_id)
        editors = rec.editors + ([user.name] if user.name not in rec.editors
                                 and user.name != rec.author else [])
        b = rec.bulletin.with_text(text)
        ch = Change(action="bulletin.edit", target=f"bulletin:{bulletin_id}", who=user.name,
                    role=user.role, at=now,
                    before={"state": rec.state, "text": rec.text, "approver": rec.approver},
                    after={"state": "drafted", "text": text, "approver": ""})
        ch.check(key, "rev", expected_rev)
        ch.sets.append((key, {"text": text, "state": "drafted", "updated_at": f"{now:.3f}",
                              "editors": json.dumps(editors, ensure_ascii=False),
                              "data": json.dumps(b.to_dict(), ensure_ascii=False)}))
        ch.hdel += [(key, "approver"), (key, "approved_at")]
        ch.bump.append(key)
        self._commit(ch, bulletin_id, expected_rev)
        return self._load(bulletin_id)

    def approve(self, bulletin_id: str, user: User, expected_rev: int,
                now: float | None = None) -> Record:
        """Approve a draft. The approver must not have written any of its text."""
        self._need(user, "approve_bulletin")
        rec = self._load(bulletin_id)
        if rec.state != "drafted":
            raise BulletinError(f"稿件状态为{STATE_LABELS.get(rec.state, rec.state)}，不能审核 "
                                f"(only drafts are approved; this one is {rec.state})")
        if user.name == rec.author or user.name in rec.editors:
            raise BulletinError("不能审核自己撰写的稿件，须由另一名宣传民警审核 (the author "
                                "cannot approve their own bulletin: a second comms account "
                                "must approve it)")
        now = time.time() if now is None else now
        key = self.keys.bulletin(bulletin_id)
        ch = Change(action="bulletin.approve", target=f"bulletin:{bulletin_id}", who=user.name,
                    role=user.role, at=now, before={"state": rec.state, "approver": ""},
                    after={"state": "approved", "approver": user.name})
        ch.check(key, "rev", expected_rev)
        ch.sets.append((key, {"state": "approved", "approver": user.name,
                              "approved_at": f"{now:.3f}", "updated_at": f"{now:.3f}"}))
        ch.bump.append(key)
        self._commit(ch, bulletin_id, expected_rev)
        return self._load(bulletin_id)

    def publish(self, bulletin_id: str, user: User, expected_rev: int, channel: str,
                post_id: str, at: float | None = None, now: float | None = None) -> Record:
        """Record that an approved bulletin went out on ``channel`` as ``post_id``."""
        self._need(user, "draft_bulletin")
        rec = self._load(bulletin_id)
        if rec.state not in ("approved", "published"):
            raise BulletinError("稿件须先经审核才能发布 (approve the bulletin before publishing)")
        if channel not in CHANNELS:
            raise BulletinError(f"未知渠道 {channel!r} (unknown channel; one of "
                                f"{', '.join(CHANNELS)})")
        post_id = (post_id or "").strip()
        if channel in NO_POST_ID_CHANNELS:      # whatever was typed: the channel has none
            sent = sum(1 for p in rec.publications if p["channel"] == channel)
            post_id = generated_post_id(channel, bulletin_id, sent + 1)
        if not POST_ID_RE.match(post_id):
            raise BulletinError("发布编号须为1–64位字母、数字或 _.:- (post id: 1–64 letters, "
                                "digits or _.:-)")
        if any(p["channel"] == channel and p["post_id"] == post_id for p in rec.publications):
            raise BulletinError(f"已登记过 {channel} {post_id} (already recorded)")
        now = time.time() if now is None else now
        at = now if at is None else at
        pub = {"channel": channel, "post_id": post_id, "at": round(at, 3), "by": user.name}
        pubs = rec.publications + [pub]
        key = self.keys.bulletin(bulletin_id)
        ch = Change(action="bulletin.publish", target=f"bulletin:{bulletin_id}", who=user.name,
                    role=user.role, at=now,
                    before={"state": rec.state, "publications": len(rec.publications)},
                    after={"state": "published", "publication": pub})
        ch.check(key, "rev", expected_rev)
        ch.sets.append((key, {"state": "published", "updated_at": f"{now:.3f}",
                              "publications": json.dumps(pubs, ensure_ascii=False)}))
        ch.bump.append(key)
        self._commit(ch, bulletin_id, expected_rev)
        return self._load(bulletin_id)


def generated_post_id(channel: str, bulletin_id: str, n: int) -> str:
    """The id a publication on a channel without post ids is recorded under."""
    return f"{channel}-{bulletin_id}-{n}"


# -- citizen reports that await the account's reply -----------------------------------------
def _mentions_account(ev: Any) -> bool:
    a = ev.attrs or {}
    return bool(a.get("mention")) or int(a.get("mentions") or 0) > 0


def incident_status(r: redis.Redis, keys: Keys, ev: Any) -> tuple[str, str, str]:
    """(incident id, status, label) of the incident a report is linked to, or
    ("", "", 未立案). The link is the event's ``attrs.incident_id`` or dispatch's
    report → incident map."""
    iid = str((ev.attrs or {}).get("incident_id") or "")
    if not iid:
        iid = incidents.incident_of_report(r, keys, ev.id)
    if not iid:
        return "", "", NO_INCIDENT
    status = incidents.status_of(r, keys, iid)
    if not status:
        return iid, "", NO_INCIDENT
    return iid, status, INCIDENT_STATUS_LABELS.get(status, status)


def awaiting_reply(r: redis.Redis, keys: Keys, store: Any, now: float | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
    """Weibo reports that mention the account and have no reply since their last report,
    oldest first, with the linked incident's status. Text is masked."""
    now = time.time() if now is None else now
    replies = {k: json.loads(v) for k, v in r.hgetall(keys.report_replies()).items()}
    out = []
    for ev in store.active_events("report", now=now):
        if ev.source != "weibo" or not _mentions_account(ev):
            continue
        a = ev.attrs or {}
        first = float(a.get("first_seen") or ev.observed_at.timestamp())
        last = float(a.get("last_seen") or ev.observed_at.timestamp())
        reply = replies.get(ev.id)
        if reply and float(reply.get("at", 0)) >= last:
            continue
        since = max(first, float(reply["at"])) if reply else first
        iid, _status, label = incident_status(r, keys, ev)
        out.append({"id": ev.id, "place": mask_text(str(a.get("place") or "、".join(
                        ev.road_names[:2]))), "text": mask_text(ev.text),
                    "category": ev.category, "count": int(a.get("count") or 1),
                    "since": since, "waited_s": max(0.0, now - since),
                    "incident_id": iid, "incident_status": label})
    out.sort(key=lambda x: (x["since"], x["id"]))
    return out[:limit]


def mark_replied(r: redis.Redis, keys: Keys, user: User, event_id: str, text: str = "",
                 now: float | None = None, store: Any = None) -> dict[str, Any]:
    """Record the account's reply to a report (and audit it). The reply's waiting time is
    measured from the report's first (or first unanswered) post."""
    if user is None or not user.can("draft_bulletin"):
        raise BulletinError("无权限 (not allowed)")
    if not event_id or len(event_id) > 200:
        raise BulletinError("没有这条报料 (no such report)")
    now = time.time() if now is None else now
    since = now
    if store is not None:
        ev = store.get_event(event_id)
        if ev is None:
            raise BulletinError("没有这条报料 (no such report)")
        a = ev.attrs or {}
        since = float(a.get("first_seen") or ev.observed_at.timestamp())
        prev = r.hget(keys.report_replies(), event_id)
        if prev:
            since = max(since, float(json.loads(prev).get("at", since)))
    entry = {"by": user.name, "at": round(now, 3), "since": round(since, 3),
             "text": mask_text((text or "").strip())[:500]}
    ch = Change(action="report.reply", target=f"report:{event_id}", who=user.name,
                role=user.role, at=now, before={}, after=entry)
    ch.sets.append((keys.report_replies(), {event_id: json.dumps(entry, ensure_ascii=False)}))
    commit(r, keys, ch)
    return entry


def response_times(r: redis.Redis, keys: Keys, since: float) -> dict[str, Any]:
    """Replies recorded since ``since``: how many, median and longest wait in minutes."""
    waits = []
    for v in r.hvals(keys.report_replies()):
        e = json.loads(v)
        if float(e.get("at", 0)) >= since:
            waits.append(max(0.0, float(e["at"]) - float(e.get("since", e["at"]))))
    waits.sort()
    if not waits:
        return {"replies": 0, "median_min": None, "max_min": None}
    mid = len(waits) // 2
    median = waits[mid] if len(waits) % 2 else (waits[mid - 1] + waits[mid]) / 2
    return {"replies": len(waits), "median_min": round(median / 60, 1),
            "max_min": round(waits[-1] / 60, 1)}
