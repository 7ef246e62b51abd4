"""/comms callbacks: compose from live data, channel previews, review, replies, reach.

Each ``*_view`` / action function is plain: it takes the inputs, the services, the user
and the time, checks the user's permission itself (raising Unauthorized/Forbidden) and
returns the outputs by name; tests call them directly. The decorated callbacks below name
their inputs and outputs (Dash's dict signatures), call ``require(permission)`` first —
the server-side check — and then the plain function. What a template drafts is
``dashboard.comms.drafts``; the reach report and its figures are
``dashboard.comms.figures``.
"""
from __future__ import annotations

import base64
import time
from datetime import datetime, tzinfo
from typing import Any

import redis
from dash import Input, Output, State, callback, ctx, no_update

from dashboard.comms import bulletins as B
from dashboard.comms import channels as C
from dashboard.comms import drafts, figures
from dashboard.comms.bulletin_store import (STATE_LABELS, BulletinError, BulletinStore,
                                            awaiting_reply, mark_replied, response_times)
from dashboard.comms.holidays import (HolidayCalendar, HolidayError, period_value, picker_label,
                                      upcoming_periods)
from dashboard.comms.numbers import wan
from dashboard.comms.reach import (BadValue, ReachFileError, ReachStore, parse_post_id,
                                   posts_csv, reads_series, report_csv)
from dashboard.timeutil import city_zone
from dashboard.web import session
from dashboard.web.session import check, require
from layouts import comms as L
from layouts import ids


def _svc():
    return session.services()


def _dt(now: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(now, tz)


def _hhmm(epoch: float, tz: tzinfo, with_date: bool = False) -> str:
    """Local time in ``tz``, the city's zone (``timeutil.city_zone``)."""
    return datetime.fromtimestamp(epoch, tz).strftime(
        "%m-%d %H:%M" if with_date else "%H:%M")


def _waited(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m}分钟" if m < 120 else f"{m // 60}小时{m % 60}分"


# -- source picker ----------------------------------------------------------------------------
def source_options(template: str, svc, user, now: float | None = None) -> dict[str, Any]:
    """The source picker's options and value, and the control form's style, for the
    chosen template."""
    check(user, "view_comms")
    now = time.time() if now is None else now
    dt = _dt(now, city_zone(svc.settings))
    hidden, shown = {"display": "none"}, {"display": "flex", "gap": "10px", "flexWrap": "wrap",
                                           "marginTop": "8px"}
    opts: list[dict[str, str]] = []
    if template == "accident":
        opts = drafts.accident_choices(svc.r, svc.keys, svc.store, now, dt.tzinfo)
    elif template == "roadworks":
        for e in B.works_candidates(svc.store, dt)[:100]:
            opts.append({"value": e.id, "label": f"{B.Works.from_event(e).place} "
                         f"{B.cn_span(e.starts_at, e.ends_at, dt.tzinfo)}"})
    elif template == "control":
        opts.append({"value": drafts.FORM_SOURCE, "label": "按下方表单填写 (use the form below)"})
        for e in B.closure_candidates(svc.store, dt)[:100]:
            opts.append({"value": e.id, "label": f"封闭 {B.event_place(e)}"})
    elif template == "holiday":
        cal = HolidayCalendar.load(svc.settings.state_dir)
        # never empty: the next holidays however far (derived, provisional ones when the
        # official notice is not loaded yet)
        for p in upcoming_periods(cal, dt.date(), ahead_days=120, at_least=2):
            opts.append({"value": period_value(p), "label": picker_label(p)})
    elif template == "cleared":
        for rec in BulletinStore(svc.r, svc.keys).recent(50):
            if rec.bulletin.kind in ("accident", "roadworks", "control", "traffic") \
                    and rec.state in ("approved", "published"):
                opts.append({"value": rec.id, "label": f"{rec.id} {rec.bulletin.title} "
                             f"{rec.bulletin.place}"[:80]})
    return {"options": opts, "value": opts[0]["value"] if opts else None,
            "form_style": shown if template == "control" else hidden}


# -- compose ------------------------------------------------------------------------------------
def _composed(text: Any = no_update, data: Any = no_update, editing: Any = no_update,
              message: str = "", tab: Any = no_update) -> dict[str, Any]:
    return {"text": text, "data": data, "editing": editing, "message": message, "tab": tab}


def compose(trigger: str | None, template: str, source: str | None, hashtags: str,
            mentions: str, control: dict[str, str], text: str, data: dict | None,
            editing: dict | None, selected: str | None, svc, user,
            now: float | None = None) -> dict[str, Any]:
    """The text, bulletin data, editing (id, rev), message and tab after a compose button
    (loading a bulletin from the review tab shows the composer)."""
    check(user, "draft_bulletin")
    now = time.time() if now is None else now
    try:
        if trigger == ids.COMMS_BTN_DRAFT:
            b, notes = drafts.build_with_notes(svc.r, svc.keys, svc.store, svc.settings,
                                               template, source, hashtags or "",
                                               mentions or "", control or {}, now)
            msg = f"已生成{b.title}，可直接修改 (drafted; edit freely)"
            return _composed(b.text, b.to_dict(), None, "；".join([msg, *notes]))
        if trigger == ids.COMMS_BTN_TAGS:
            return _composed(drafts.with_tags(text or "", (data or {}).get("kind", "free"),
                                              hashtags or "", mentions or ""),
                             message="已插入话题和@ (tags inserted)")
        if trigger == ids.COMMS_BTN_LOAD:
            rec = BulletinStore(svc.r, svc.keys).get(selected or "")
            if rec is None:
                raise BulletinError("请先选择稿件 (choose a bulletin)")
            return _composed(rec.text, rec.bulletin.to_dict(), {"id": rec.id, "rev": rec.rev},
                             f"正在编辑 {rec.id} (editing; saving sends it back to review)",
                             tab="compose")
        if trigger == ids.COMMS_BTN_NEW:
            return _composed("", None, None, "新稿 (new draft)")
    except BulletinError as exc:
        return _composed(message=str(exc))
    except redis.RedisError as exc:
        return _composed(message=f"数据连接中断 ({exc.__class__.__name__})")
    return _composed()


def _bulletin_of(text: str, data: dict | None) -> B.Bulletin:
    """The bulletin being edited; ``data`` comes from the page (a dcc.Store), so anything
    that is not a bulletin's dict is ignored."""
    text = text if isinstance(text, str) else ""
    if data and isinstance(data, dict):
        try:
            return B.Bulletin.from_dict(data).with_text(text)
        except (TypeError, ValueError):
            pass
    return B.parse_text(text)


def previews_view(text: str, data: dict | None, user,
                  sms_signature: str | None = None) -> dict[str, dict[str, Any]]:
    """For each channel (by name): the text as carried ("previews") and the counter
    children ("counts"); the SMS with ``sms_signature`` (the city profile's; default the
    demo city's)."""
    check(user, "view_comms")
    b = _bulletin_of(text, data)
    previews: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    for ch in ids.COMMS_CHANNELS:
        if not (text or "").strip():
            previews[ch], counts[ch] = "", ""
            continue
        ct = C.render(b, ch, sms_signature=C.SMS_SIGNATURE if sms_signature is None
                      else sms_signature)
        shown = ct.text if ch != "sms" else "\n— — —\n".join(p[1] for p in ct.parts) or ct.text
        if ch == "weibo" and ct.preview != ct.text:
            shown = f"{ct.text}\n\n【信息流预览 feed preview】\n{ct.preview}"
        if ch == "wechat":
            shown = f"{ct.text}\n\n【摘要 digest】{ct.preview}"
        if ch == "push":
            shown = f"{ct.preview}"
        # WeChat's headline number is its body: the title and digest follow it
        parts = [(n, length, lim) for n, _t, length, lim in ct.parts
                 if not (ch == "wechat" and n == "body")] if ch in ("wechat", "push") else []
        previews[ch] = shown
        counts[ch] = L.counter_children(ct.length, ct.limit, ct.unit, ct.segments, ct.over,
                                        ct.note, parts)
    return {"previews": previews, "counts": counts}


# -- review --------------------------------------------------------------------------------------
def act(trigger: str | None, text: str, data: dict | None, editing: dict | None,
        selected: str | None, selected_rev: int | None, channel: str, post_id: str,
        changed: int, svc, user, now: float | None = None) -> dict[str, Any]:
    """The message, the changed counter and editing (id, rev) after save / approve /
    publish; a saved bulletin becomes the selected one (the list callback reads
    ``editing``)."""
    permission = "approve_bulletin" if trigger == ids.COMMS_BTN_APPROVE else "draft_bulletin"
    check(user, permission)
    now = time.time() if now is None else now
    bs = BulletinStore(svc.r, svc.keys)

    def out(message: str, changed_: Any = no_update, editing_: Any = no_update):
        return {"message": message, "changed": changed_, "editing": editing_}
    try:
        if trigger == ids.COMMS_BTN_SAVE:
            if editing and editing.get("id"):
                rec = bs.edit(editing["id"], text or "", user, int(editing.get("rev") or 0),
                              now=now)
                msg = f"已保存 {rec.id}，等待另一名民警审核 (saved; awaiting a second approver)"
            else:
                rec = bs.create(_bulletin_of(text, data), user, text=text or "", now=now)
                msg = f"已保存草稿 {rec.id}，等待另一名民警审核 (saved; awaiting a second approver)"
            return out(msg, (changed or 0) + 1, {"id": rec.id, "rev": rec.rev})
        if not selected:
            return out("请先选择稿件 (choose a bulletin)")
        if trigger == ids.COMMS_BTN_APPROVE:
            rec = bs.approve(selected, user, int(selected_rev or 0), now=now)
            return out(f"{rec.id} 已审核通过 (approved by {user.name})", (changed or 0) + 1)
        if trigger == ids.COMMS_BTN_PUBLISH:
            rec = bs.publish(selected, user, int(selected_rev or 0), channel, post_id or "",
                             now=now)
            recorded = rec.publications[-1]["post_id"]
            return out(f"{rec.id} 已登记发布 {C.CHANNEL_NAMES.get(channel, channel)} {recorded} "
                       "(marked published)", (changed or 0) + 1)
    except BulletinError as exc:
        return out(str(exc), (changed or 0) + 1)
    except redis.RedisError as exc:
        return out(f"数据连接中断 ({exc.__class__.__name__})")
    return out("")


def publish_form(channel: str | None, user) -> dict[str, Any]:
    """The post id field for the chosen channel (cleared after every change): an SMS has
    no post id to ask for."""
    check(user, "view_comms")
    return L.post_id_field(channel if channel in ids.COMMS_CHANNELS else None)


def _row(rec, tz: tzinfo) -> dict[str, Any]:
    pubs = "、".join(f"{C.CHANNEL_NAMES.get(p['channel'], p['channel'])} {p['post_id']}"
                    for p in rec.publications)
    return {"id": rec.id, "kind": B.KIND_TITLES.get(rec.bulletin.kind, rec.bulletin.kind),
            "title": rec.bulletin.title, "state": rec.state,
            "state_label": STATE_LABELS.get(rec.state, rec.state), "author": rec.author,
            "approver": rec.approver, "published": pubs,
            "time": _hhmm(rec.updated_at or rec.created_at, tz, with_date=True)}


def bulletins_view(svc, user, selected: str | None = None, prefer: str | None = None
                   ) -> dict[str, Any]:
    """The table, select options and selected id ("value") of recent bulletins.
    ``prefer`` (the bulletin just saved) wins over the current selection when it is in
    the list."""
    check(user, "view_comms")
    recs = BulletinStore(svc.r, svc.keys).recent(20)
    opts = [{"value": r.id, "label": f"{r.id} {STATE_LABELS.get(r.state, r.state)} "
                                     f"{r.bulletin.title}"} for r in recs]
    known = {r.id for r in recs}
    value = prefer if prefer in known else selected if selected in known else None
    tz = city_zone(svc.settings)
    return {"table": L.bulletin_table([_row(r, tz) for r in recs]), "options": opts,
            "value": value}


def selected_view(bulletin_id: str | None, svc, user) -> dict[str, Any]:
    """The selected bulletin's text and state ("view"), and its rev for the optimistic
    check."""
    check(user, "view_comms")
    rec = BulletinStore(svc.r, svc.keys).get(bulletin_id or "")
    if rec is None:
        return {"view": None, "rev": None}
    return {"view": L.selected_view({**_row(rec, city_zone(svc.settings)), "rev": rec.rev,
                                     "text": rec.text}),
            "rev": rec.rev}


# -- citizen reports --------------------------------------------------------------------------
def reports_view(svc, user, now: float | None = None) -> dict[str, Any]:
    """The response-time line, the table and the options of reports awaiting a reply."""
    check(user, "view_comms")
    now = time.time() if now is None else now
    waiting = awaiting_reply(svc.r, svc.keys, svc.store, now)
    rt = response_times(svc.r, svc.keys, now - 86400)
    line = f"待回复 {len(waiting)} 条"
    if waiting:
        line += f" · 最久已等待 {_waited(waiting[0]['waited_s'])}"
    if rt["replies"]:
        line += (f" · 近24小时回复 {rt['replies']} 条，响应时间中位数 {rt['median_min']} 分钟，"
                 f"最长 {rt['max_min']} 分钟")
    else:
        line += " · 近24小时暂无回复记录"
    tz = city_zone(svc.settings)
    rows = [{"waited": _waited(w["waited_s"]), "since": _hhmm(w["since"], tz, with_date=True),
             "place": w["place"], "text": w["text"][:200], "count": w["count"],
             "incident": w["incident_status"] + (f" ({w['incident_id']})"
                                                 if w["incident_id"] else "")}
            for w in waiting]
    opts = [{"value": w["id"], "label": f"{_hhmm(w['since'], tz)} {w['place']} "
                                        f"{w['text'][:30]}"} for w in waiting]
    return {"response": line, "table": L.reports_table(rows), "options": opts}


def reply(event_id: str | None, text: str, replied: int, svc, user,
          now: float | None = None) -> dict[str, Any]:
    """The message and the replied counter after recording a reply."""
    check(user, "draft_bulletin")
    if not event_id:
        return {"message": "请先选择报料 (choose a report)", "replied": no_update}
    try:
        entry = mark_replied(svc.r, svc.keys, user, event_id, text or "", now=now,
                             store=svc.store)
    except BulletinError as exc:
        return {"message": str(exc), "replied": no_update}
    wait = max(0.0, entry["at"] - entry["since"])
    return {"message": f"已记录回复，响应时间 {_waited(wait)} (reply recorded)",
            "replied": (replied or 0) + 1}


# -- reach ---------------------------------------------------------------------------------------
def _fmt(n: int | None) -> str:
    """A tile's count: whole up to 10万, then 万/亿 (``comms.numbers.wan``)."""
    return wan(n, threshold=100_000)


def _pct(r: float | None) -> str:
    return "—" if r is None else f"{r * 100:.0f}%"


def _report(period_val: str | None, svc) -> dict[str, Any]:
    return figures.period_report(svc.r, svc.keys, svc.settings.state_dir, period_val,
                                 city_zone(svc.settings))


def reach_view(period_val: str | None, svc, user) -> dict[str, Any]:
    """The headline, the daily and cumulative figures and the message of the reach
    panel."""
    check(user, "view_comms")
    try:
        rep = _report(period_val, svc)
    except HolidayError as exc:
        return {"headline": None, "daily": figures.empty_figure(),
                "cumulative": figures.empty_figure(), "message": str(exc), "posts": []}
    prev, ref = rep.get("previous"), rep.get("reference")
    best = rep.get("best_post")
    items = [
        ("发布条数 posts", f"{rep['posts']:,}",
         f"上期 {prev['posts']:,}" if prev else "上期无数据"),
        ("总阅读数 reads", _fmt(rep["reads"]),
         f"为上期 {_pct(rep.get('vs_previous'))}" if prev else ""),
        ("单条最高 best post", _fmt(best["reads"]) if best else "—",
         f"微博ID {best['id']}" if best else ""),
        ("转发/评论/点赞", f"{_fmt(rep['reposts'])}/{_fmt(rep['comments'])}/{_fmt(rep['likes'])}",
         ""),
    ]
    if ref:
        items.append((f"参考 {ref['label']}", _fmt(ref["reads"]),
                      f"{ref['posts']}条，单条最高{_fmt(ref['best_post_reads'])}；本期为其"
                      f"{_pct(rep.get('vs_reference'))}"))
    daily, cumul = figures.reach_figures(rep)
    note = f"数据截至 {rep['as_of'][:16].replace('T', ' ')}" if rep.get("as_of") else \
        "本期暂无阅读数据 (no figures imported for this period)"
    rows = figures.period_posts(svc.r, svc.keys, rep, city_zone(svc.settings))
    return {"headline": L.headline(items), "daily": daily, "cumulative": cumul,
            "message": note, "posts": rows}


def post_view(period_val: str | None, selected_rows: Any, svc, user) -> dict[str, Any]:
    """The chosen post's reads over time: the row selected in the table, else the period's
    most read post. The id comes from the page, so it is read as a post id first."""
    check(user, "view_comms")
    tz = city_zone(svc.settings)
    post_id = None
    if isinstance(selected_rows, list) and selected_rows and isinstance(selected_rows[0], dict):
        try:
            post_id = parse_post_id(selected_rows[0].get("id"))
        except BadValue:
            post_id = None
    if post_id is None:
        try:
            best = _report(period_val, svc).get("best_post")
        except HolidayError:
            best = None
        post_id = best["id"] if best else None
    if post_id is None:
        return {"figure": figures.post_figure(None, [], tz)}
    reach = ReachStore(svc.r, svc.keys, tz)
    h = reach.post(post_id)
    if not h:
        return {"figure": figures.post_figure(None, [], tz)}
    row = {"id": post_id, "time": datetime.fromtimestamp(
        float(h.get("created_at") or 0), tz).strftime("%Y-%m-%d %H:%M")}
    return {"figure": figures.post_figure(row, reads_series(reach.snapshots(post_id)), tz)}


def reach_csv(period_val: str | None, svc, user, what: str = "days") -> dict[str, Any] | None:
    """The period's CSV, built here on the server: per day and totals (``days``), or one
    row per post (``posts``)."""
    check(user, "view_comms")
    try:
        rep = _report(period_val, svc)
    except HolidayError:
        return None
    if what == "posts":
        rows = figures.period_posts(svc.r, svc.keys, rep, city_zone(svc.settings))
        return {"content": posts_csv(rows),
                "filename": f"reach-posts-{rep['from']}-{rep['to']}.csv", "type": "text/csv"}
    return {"content": report_csv(rep), "filename": f"reach-{rep['from']}-{rep['to']}.csv",
            "type": "text/csv"}


def reach_upload(contents: str | None, filename: str | None, imported: int, svc, user,
                 now: float | None = None) -> dict[str, Any]:
    """Import an uploaded export (data URL) like ``lukuang reach import``: the message and
    the imported counter."""
    check(user, "import_reach")
    if not contents or "," not in contents:
        return {"message": "", "imported": no_update}
    try:
        payload = base64.b64decode(contents.split(",", 1)[1], validate=False)
        summary = ReachStore(svc.r, svc.keys, city_zone(svc.settings)).import_file(
            payload, at=now)
    except ReachFileError as exc:
        return {"message": f"无法导入 {filename or ''}: {exc}", "imported": no_update}
    except (ValueError, redis.RedisError) as exc:
        return {"message": f"无法导入 {filename or ''}: {exc.__class__.__name__}",
                "imported": no_update}
    rej = summary["rejected"]
    msg = (f"已导入 {filename or ''}: {summary['posts']} 条微博，新快照 {summary['snapshots']} 个"
           + (f"；{len(rej)} 行被拒绝：" + "；".join(f"第{x['row']}行 {x['reason']}"
                                                  for x in rej[:5]) if rej else ""))
    return {"message": msg, "imported": (imported or 0) + 1}


# -- the registered callbacks ----------------------------------------------------------------
@callback(output=dict(options=Output(ids.COMMS_SOURCE, "options"),
                      value=Output(ids.COMMS_SOURCE, "value"),
                      form_style=Output(ids.COMMS_CONTROL_FORM, "style")),
          inputs=dict(template=Input(ids.COMMS_TEMPLATE, "value"),
                      changed=Input(ids.COMMS_CHANGED, "data")))
def _source_cb(template, changed):
    user = require("view_comms")
    return source_options(template, _svc(), user)


@callback(output=dict(text=Output(ids.COMMS_TEXT, "value"), data=Output(ids.COMMS_DATA, "data"),
                      editing=Output(ids.COMMS_EDITING, "data"),
                      message=Output(ids.COMMS_COMPOSE_MSG, "children"),
                      tab=Output(ids.COMMS_TABS, "value")),
          inputs=dict(draft=Input(ids.COMMS_BTN_DRAFT, "n_clicks"),
                      tags=Input(ids.COMMS_BTN_TAGS, "n_clicks"),
                      load=Input(ids.COMMS_BTN_LOAD, "n_clicks"),
                      new=Input(ids.COMMS_BTN_NEW, "n_clicks")),
          state=dict(template=State(ids.COMMS_TEMPLATE, "value"),
                     source=State(ids.COMMS_SOURCE, "value"),
                     hashtags=State(ids.COMMS_HASHTAGS, "value"),
                     mentions=State(ids.COMMS_MENTIONS, "value"),
                     control=dict(place=State(ids.COMMS_CTL_PLACE, "value"),
                                  reason=State(ids.COMMS_CTL_REASON, "value"),
                                  start=State(ids.COMMS_CTL_START, "value"),
                                  end=State(ids.COMMS_CTL_END, "value"),
                                  detour=State(ids.COMMS_CTL_DETOUR, "value")),
                     text=State(ids.COMMS_TEXT, "value"), data=State(ids.COMMS_DATA, "data"),
                     editing=State(ids.COMMS_EDITING, "data"),
                     selected=State(ids.COMMS_SELECT, "value")),
          prevent_initial_call=True)
def _compose_cb(draft, tags, load, new, template, source, hashtags, mentions, control, text,
                data, editing, selected):
    user = require("draft_bulletin")
    return compose(ctx.triggered_id, template, source, hashtags, mentions, control, text, data,
                   editing, selected, _svc(), user)


@callback(output=dict(previews={c: Output(ids.COMMS_PREVIEW[c], "children")
                                for c in ids.COMMS_CHANNELS},
                      counts={c: Output(ids.COMMS_COUNT[c], "children")
                              for c in ids.COMMS_CHANNELS}),
          inputs=dict(text=Input(ids.COMMS_TEXT, "value"), data=Input(ids.COMMS_DATA, "data")))
def _previews_cb(text, data):
    user = require("view_comms")
    return previews_view(text, data, user, _svc().settings.sms_signature)


@callback(output=dict(message=Output(ids.COMMS_REVIEW_MSG, "children"),
                      changed=Output(ids.COMMS_CHANGED, "data"),
                      editing=Output(ids.COMMS_EDITING, "data", allow_duplicate=True)),
          inputs=dict(save=Input(ids.COMMS_BTN_SAVE, "n_clicks"),
                      approve=Input(ids.COMMS_BTN_APPROVE, "n_clicks"),
                      publish=Input(ids.COMMS_BTN_PUBLISH, "n_clicks")),
          state=dict(text=State(ids.COMMS_TEXT, "value"), data=State(ids.COMMS_DATA, "data"),
                     editing=State(ids.COMMS_EDITING, "data"),
                     selected=State(ids.COMMS_SELECT, "value"),
                     rev=State(ids.COMMS_SELECTED_REV, "data"),
                     channel=State(ids.COMMS_PUB_CHANNEL, "value"),
                     post_id=State(ids.COMMS_PUB_POSTID, "value"),
                     changed=State(ids.COMMS_CHANGED, "data")),
          prevent_initial_call=True)
def _act_cb(save, approve, publish, text, data, editing, selected, rev, channel, post_id,
            changed):
    trigger = ctx.triggered_id
    user = require("approve_bulletin" if trigger == ids.COMMS_BTN_APPROVE else "draft_bulletin")
    return act(trigger, text, data, editing, selected, rev, channel, post_id, changed, _svc(),
               user)


@callback(output=dict(disabled=Output(ids.COMMS_PUB_POSTID, "disabled"),
                      value=Output(ids.COMMS_PUB_POSTID, "value"),
                      placeholder=Output(ids.COMMS_PUB_POSTID, "placeholder")),
          inputs=dict(changed=Input(ids.COMMS_CHANGED, "data"),
                      channel=Input(ids.COMMS_PUB_CHANNEL, "value")))
def _publish_form_cb(changed, channel):
    user = require("view_comms")
    return publish_form(channel, user)


@callback(output=dict(table=Output(ids.COMMS_LIST, "children"),
                      options=Output(ids.COMMS_SELECT, "options"),
                      value=Output(ids.COMMS_SELECT, "value")),
          inputs=dict(changed=Input(ids.COMMS_CHANGED, "data"),
                      tick=Input(ids.COMMS_TICK, "n_intervals")),
          state=dict(selected=State(ids.COMMS_SELECT, "value"),
                     editing=State(ids.COMMS_EDITING, "data")))
def _list_cb(changed, tick, selected, editing):
    user = require("view_comms")
    prefer = (editing or {}).get("id") if ctx.triggered_id == ids.COMMS_CHANGED else None
    return bulletins_view(_svc(), user, selected, prefer)


@callback(output=dict(view=Output(ids.COMMS_SELECTED, "children"),
                      rev=Output(ids.COMMS_SELECTED_REV, "data")),
          inputs=dict(bulletin_id=Input(ids.COMMS_SELECT, "value"),
                      changed=Input(ids.COMMS_CHANGED, "data")))
def _selected_cb(bulletin_id, changed):
    user = require("view_comms")
    return selected_view(bulletin_id, _svc(), user)


@callback(output=dict(response=Output(ids.COMMS_RESPONSE, "children"),
                      table=Output(ids.COMMS_REPORTS, "children"),
                      options=Output(ids.COMMS_REPLY_SELECT, "options")),
          inputs=dict(tick=Input(ids.COMMS_TICK, "n_intervals"),
                      replied=Input(ids.COMMS_REPLIED, "data")))
def _reports_cb(tick, replied):
    user = require("view_comms")
    return reports_view(_svc(), user)


@callback(output=dict(message=Output(ids.COMMS_REPLY_MSG, "children"),
                      replied=Output(ids.COMMS_REPLIED, "data")),
          inputs=dict(clicks=Input(ids.COMMS_BTN_REPLY, "n_clicks")),
          state=dict(event_id=State(ids.COMMS_REPLY_SELECT, "value"),
                     text=State(ids.COMMS_REPLY_TEXT, "value"),
                     replied=State(ids.COMMS_REPLIED, "data")),
          prevent_initial_call=True)
def _reply_cb(clicks, event_id, text, replied):
    user = require("draft_bulletin")
    return reply(event_id, text, replied, _svc(), user)


@callback(output=dict(headline=Output(ids.COMMS_REACH_HEADLINE, "children"),
                      daily=Output(ids.COMMS_REACH_DAILY, "figure"),
                      cumulative=Output(ids.COMMS_REACH_CUMUL, "figure"),
                      message=Output(ids.COMMS_REACH_MSG, "children"),
                      posts=Output(ids.COMMS_REACH_POSTS, "rowData")),
          inputs=dict(period=Input(ids.COMMS_REACH_PERIOD, "value"),
                      tick=Input(ids.COMMS_TICK, "n_intervals"),
                      imported=Input(ids.COMMS_REACH_IMPORTED, "data")))
def _reach_cb(period, tick, imported):
    user = require("view_comms")
    return reach_view(period, _svc(), user)


@callback(output=Output(ids.COMMS_REACH_POST_FIG, "figure"),
          inputs=dict(period=Input(ids.COMMS_REACH_PERIOD, "value"),
                      selected=Input(ids.COMMS_REACH_POSTS, "selectedRows"),
                      imported=Input(ids.COMMS_REACH_IMPORTED, "data")))
def _post_cb(period, selected, imported):
    user = require("view_comms")
    return post_view(period, selected, _svc(), user)["figure"]


@callback(output=Output(ids.COMMS_DOWNLOAD, "data"),
          inputs=dict(clicks=Input(ids.COMMS_BTN_CSV, "n_clicks"),
                      posts=Input(ids.COMMS_BTN_POSTS_CSV, "n_clicks")),
          state=dict(period=State(ids.COMMS_REACH_PERIOD, "value")),
          prevent_initial_call=True)
def _csv_cb(clicks, posts, period):
    user = require("view_comms")
    what = "posts" if ctx.triggered_id == ids.COMMS_BTN_POSTS_CSV else "days"
    return reach_csv(period, _svc(), user, what)


@callback(output=dict(message=Output(ids.COMMS_REACH_MSG, "children", allow_duplicate=True),
                      imported=Output(ids.COMMS_REACH_IMPORTED, "data")),
          inputs=dict(contents=Input(ids.COMMS_UPLOAD, "contents")),
          state=dict(filename=State(ids.COMMS_UPLOAD, "filename"),
                     imported=State(ids.COMMS_REACH_IMPORTED, "data")),
          prevent_initial_call=True)
def _upload_cb(contents, filename, imported):
    user = require("import_reach")
    return reach_upload(contents, filename, imported, _svc(), user)
