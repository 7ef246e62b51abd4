"""/comms callbacks: compose from live data, channel previews, review, replies, reach.

Each ``*_view`` / action function is plain: it takes the inputs, the services, the user
and the time, checks the user's permission itself (raising Unauthorized/Forbidden) and
returns the outputs; tests call them directly. The decorated callbacks below call
``require(permission)`` first — the server-side check — and then the plain function.
"""
from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any

import redis
from dash import Input, Output, State, callback, ctx, no_update
from werkzeug.exceptions import Forbidden, Unauthorized

from dashboard.comms import bulletins as B
from dashboard.comms import channels as C
from dashboard.comms.bulletin_store import (STATE_LABELS, BulletinError, BulletinStore, awaiting_reply,
                                      incident_status, mark_replied, response_times)
from dashboard.comms.holidays import (HolidayCalendar, HolidayError, period_choices, period_from_value,
                                period_value)
from dashboard.comms.reach import (ReachFileError, ReachStore, BadValue, cumulative, parse_time,
                             report, report_csv)
from dashboard.timeutil import SHANGHAI
from dashboard.web import session
from dashboard.web.session import require
from layouts import comms as L
from layouts import ids

FORM = "__form__"
CATEGORY_LABELS = {"accident": "事故", "breakdown": "故障车", "hazard": "障碍", "closure": "封闭",
                   "jam": "拥堵", "roadworks": "施工", "flooding": "积水", "weather": "天气",
                   "illegal_parking": "违停", "overload": "超员", "detour": "绕行"}


def _svc():
    return session.services()


def _check(user, permission: str) -> None:
    if user is None:
        raise Unauthorized("log in first")
    if not user.can(permission):
        raise Forbidden(f"role {user.role!r} lacks {permission}")


def _dt(now: float) -> datetime:
    return datetime.fromtimestamp(now, SHANGHAI)


def _hhmm(epoch: float, with_date: bool = False) -> str:
    return datetime.fromtimestamp(epoch, SHANGHAI).strftime(
        "%m-%d %H:%M" if with_date else "%H:%M")


def _waited(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m}分钟" if m < 120 else f"{m // 60}小时{m % 60}分"


# -- source picker ----------------------------------------------------------------------------
def source_options(template: str, svc, user, now: float | None = None
                   ) -> tuple[list[dict[str, str]], Any, dict[str, str]]:
    """(options, value, control-form style) for the chosen template."""
    _check(user, "view_comms")
    now = time.time() if now is None else now
    dt = _dt(now)
    hidden, shown = {"display": "none"}, {"display": "flex", "gap": "10px", "flexWrap": "wrap",
                                           "marginTop": "8px"}
    opts: list[dict[str, str]] = []
    if template == "accident":
        evs = B.incident_candidates(svc.store, dt) + [
            e for e in svc.store.active_events("report", now=now) if e.category == "accident"]
        for e in evs[:100]:
            opts.append({"value": e.id, "label": f"{_hhmm(e.observed_at.timestamp())} "
                         f"{CATEGORY_LABELS.get(e.category, e.category)} {B.event_place(e)}"})
    elif template == "roadworks":
        for e in B.works_candidates(svc.store, dt)[:100]:
            opts.append({"value": e.id, "label": f"{B.Works.from_event(e).place} "
                         f"{B.cn_span(e.starts_at, e.ends_at)}"})
    elif template == "control":
        opts.append({"value": FORM, "label": "按下方表单填写 (use the form below)"})
        for e in B.closure_candidates(svc.store, dt)[:100]:
            opts.append({"value": e.id, "label": f"封闭 {B.event_place(e)}"})
    elif template == "holiday":
        cal = HolidayCalendar.load(svc.settings.state_dir)
        periods, _ = period_choices(cal, dt.date(), years_back=0, ahead_days=120)
        upcoming = [p for p in periods if p.end >= dt.date()]
        for p in sorted(upcoming, key=lambda p: p.start):
            opts.append({"value": period_value(p), "label": p.label})
    elif template == "cleared":
        for rec in BulletinStore(svc.r, svc.keys).recent(50):
            if rec.bulletin.kind in ("accident", "roadworks", "control", "traffic") \
                    and rec.state in ("approved", "published"):
                opts.append({"value": rec.id, "label": f"{rec.id} {rec.bulletin.title} "
                             f"{rec.bulletin.place}"[:80]})
    value = opts[0]["value"] if opts else None
    return opts, value, shown if template == "control" else hidden


# -- compose ------------------------------------------------------------------------------------
def _local_time(text: str | None) -> datetime | None:
    if not text or not text.strip():
        return None
    try:
        return parse_time(text)
    except BadValue:
        raise BulletinError(f"时间格式应为 2026-10-01 08:00 (bad time {text[:20]!r})") from None


def build_bulletin(template: str, source: str | None, hashtags: str, mentions: str,
                   control: dict[str, str], svc, now: float) -> B.Bulletin:
    """The bulletin a template makes from the live picture (BulletinError if it cannot)."""
    dt = _dt(now)
    kw = {"hashtags": B.split_tags(hashtags), "mentions": B.split_tags(mentions)}
    if template == "traffic":
        return B.live_traffic_report(svc.store, svc.network, dt,
                                     stale_s=svc.settings.congestion_stale_s, **kw)
    if template == "accident":
        ev = svc.store.get_event(source) if source else None
        if ev is None:
            raise BulletinError("请选择一个事件 (choose an incident)")
        _iid, status, _label = incident_status(svc.r, svc.keys, ev)
        return B.incident_notice(ev, dt, status=status or None, **kw)
    if template == "roadworks":
        ev = svc.store.get_event(source) if source else None
        if ev is None:
            raise BulletinError("请选择一处施工 (choose a roadworks event)")
        return B.roadworks_notice(B.works_of(ev, B.StretchFinder(svc.network)), dt, **kw)
    if template == "control":
        ctl: B.Control | None = None
        if source and source != FORM:
            ev = svc.store.get_event(source)
            if ev is not None:
                ctl = B.Control.from_event(ev)
        place = (control.get("place") or "").strip()
        if ctl is None:
            if not place:
                raise BulletinError("请填写管制路段 (fill in the place)")
            ctl = B.Control(place=place)
        ctl = B.Control(place=place or ctl.place,
                        reason=(control.get("reason") or "").strip() or ctl.reason,
                        starts_at=_local_time(control.get("start")) or ctl.starts_at,
                        ends_at=_local_time(control.get("end")) or ctl.ends_at,
                        detour=(control.get("detour") or "").strip() or ctl.detour,
                        ids=ctl.ids)
        return B.control_notice(ctl, dt, **kw)
    if template == "holiday":
        cal = HolidayCalendar.load(svc.settings.state_dir)
        try:
            period = period_from_value(cal, source or "")
        except HolidayError:
            raise BulletinError("请选择假期 (choose a holiday)") from None
        return B.live_holiday_advisory(svc.store, svc.network, period, dt,
                                       stale_s=svc.settings.congestion_stale_s, **kw)
    if template == "cleared":
        rec = BulletinStore(svc.r, svc.keys).get(source or "")
        if rec is None:
            raise BulletinError("请选择要续报的稿件 (choose the earlier bulletin)")
        return B.cleared_notice(rec.bulletin, dt, **kw)
    raise BulletinError(f"未知模板 {template!r}")


def compose(trigger: str | None, template: str, source: str | None, hashtags: str,
            mentions: str, control: dict[str, str], text: str, data: dict | None,
            editing: dict | None, selected: str | None, svc, user,
            now: float | None = None) -> tuple[Any, Any, Any, str]:
    """(text, bulletin data, editing, message) after a compose button."""
    _check(user, "draft_bulletin")
    now = time.time() if now is None else now
    try:
        if trigger == ids.COMMS_BTN_DRAFT:
            b = build_bulletin(template, source, hashtags or "", mentions or "", control or {},
                               svc, now)
            return b.text, b.to_dict(), None, f"已生成{b.title}，可直接修改 (drafted; edit freely)"
        if trigger == ids.COMMS_BTN_TAGS:
            base = B.parse_text(text or "", (data or {}).get("kind", "free"))
            new = B.decorate(f"【{base.title}】{base.body}" if base.title else base.body,
                             B.split_tags(hashtags or ""), B.split_tags(mentions or ""))
            return new, no_update, no_update, "已插入话题和@ (tags inserted)"
        if trigger == ids.COMMS_BTN_LOAD:
            rec = BulletinStore(svc.r, svc.keys).get(selected or "")
            if rec is None:
                raise BulletinError("请先选择稿件 (choose a bulletin)")
            return (rec.text, rec.bulletin.to_dict(), {"id": rec.id, "rev": rec.rev},
                    f"正在编辑 {rec.id} (editing; saving sends it back to review)")
        if trigger == ids.COMMS_BTN_NEW:
            return "", None, None, "新稿 (new draft)"
    except BulletinError as exc:
        return no_update, no_update, no_update, str(exc)
    except redis.RedisError as exc:
        return no_update, no_update, no_update, f"数据连接中断 ({exc.__class__.__name__})"
    return no_update, no_update, no_update, ""


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


def previews_view(text: str, data: dict | None, user) -> list:
    """For each channel: the text as carried, and the counter children."""
    _check(user, "view_comms")
    b = _bulletin_of(text, data)
    out_text, out_count = [], []
    for ch in ids.COMMS_CHANNELS:
        if not (text or "").strip():
            out_text.append("")
            out_count.append("")
            continue
        ct = C.render(b, ch)
        shown = ct.text if ch != "sms" else "\n— — —\n".join(p[1] for p in ct.parts) or ct.text
        if ch == "weibo" and ct.preview != ct.text:
            shown = f"{ct.text}\n\n【信息流预览 feed preview】\n{ct.preview}"
        if ch == "wechat":
            shown = f"{ct.text}\n\n【摘要 digest】{ct.preview}"
        if ch == "push":
            shown = f"{ct.preview}"
        parts = [(n, length, lim) for n, _t, length, lim in ct.parts] \
            if ch in ("wechat", "push") else []
        out_text.append(shown)
        out_count.append(L.counter_children(ct.length, ct.limit, ct.unit, ct.segments, ct.over,
                                            ct.note, parts))
    return out_text + out_count


# -- review --------------------------------------------------------------------------------------
def act(trigger: str | None, text: str, data: dict | None, editing: dict | None,
        selected: str | None, selected_rev: int | None, channel: str, post_id: str,
        changed: int, svc, user, now: float | None = None) -> tuple[str, Any, Any]:
    """(message, changed counter, editing) after save / approve / publish; a saved
    bulletin becomes the selected one (the list callback reads ``editing``)."""
    permission = "approve_bulletin" if trigger == ids.COMMS_BTN_APPROVE else "draft_bulletin"
    _check(user, permission)
    now = time.time() if now is None else now
    bs = BulletinStore(svc.r, svc.keys)
    try:
        if trigger == ids.COMMS_BTN_SAVE:
            if editing and editing.get("id"):
                rec = bs.edit(editing["id"], text or "", user, int(editing.get("rev") or 0),
                              now=now)
                msg = f"已保存 {rec.id}，等待另一名民警审核 (saved; awaiting a second approver)"
            else:
                rec = bs.create(_bulletin_of(text, data), user, text=text or "", now=now)
                msg = f"已保存草稿 {rec.id}，等待另一名民警审核 (saved; awaiting a second approver)"
            return msg, (changed or 0) + 1, {"id": rec.id, "rev": rec.rev}
        if not selected:
            return "请先选择稿件 (choose a bulletin)", no_update, no_update
        if trigger == ids.COMMS_BTN_APPROVE:
            rec = bs.approve(selected, user, int(selected_rev or 0), now=now)
            return (f"{rec.id} 已审核通过 (approved by {user.name})", (changed or 0) + 1,
                    no_update)
        if trigger == ids.COMMS_BTN_PUBLISH:
            rec = bs.publish(selected, user, int(selected_rev or 0), channel, post_id or "",
                             now=now)
            return (f"{rec.id} 已登记发布 {channel} {post_id} (marked published)",
                    (changed or 0) + 1, no_update)
    except BulletinError as exc:
        return str(exc), (changed or 0) + 1, no_update
    except redis.RedisError as exc:
        return f"数据连接中断 ({exc.__class__.__name__})", no_update, no_update
    return "", no_update, no_update


def _row(rec) -> dict[str, Any]:
    pubs = "、".join(f"{C.CHANNEL_NAMES.get(p['channel'], p['channel'])} {p['post_id']}"
                    for p in rec.publications)
    return {"id": rec.id, "kind": B.KIND_TITLES.get(rec.bulletin.kind, rec.bulletin.kind),
            "title": rec.bulletin.title, "state": rec.state,
            "state_label": STATE_LABELS.get(rec.state, rec.state), "author": rec.author,
            "approver": rec.approver, "published": pubs,
            "time": _hhmm(rec.updated_at or rec.created_at, with_date=True)}


def bulletins_view(svc, user, selected: str | None = None, prefer: str | None = None
                   ) -> tuple[Any, list[dict[str, str]], str | None]:
    """(table, select options, selected id) of recent bulletins. ``prefer`` (the bulletin
    just saved) wins over the current selection when it is in the list."""
    _check(user, "view_comms")
    recs = BulletinStore(svc.r, svc.keys).recent(20)
    opts = [{"value": r.id, "label": f"{r.id} {STATE_LABELS.get(r.state, r.state)} "
                                     f"{r.bulletin.title}"} for r in recs]
    known = {r.id for r in recs}
    value = prefer if prefer in known else selected if selected in known else None
    return L.bulletin_table([_row(r) for r in recs]), opts, value


def selected_view(bulletin_id: str | None, svc, user) -> tuple[Any, Any]:
    """(the selected bulletin's text and state, its rev for the optimistic check)."""
    _check(user, "view_comms")
    rec = BulletinStore(svc.r, svc.keys).get(bulletin_id or "")
    if rec is None:
        return None, None
    return L.selected_view({**_row(rec), "rev": rec.rev, "text": rec.text}), rec.rev


# -- citizen reports --------------------------------------------------------------------------
def reports_view(svc, user, now: float | None = None) -> tuple[str, Any, list[dict[str, str]]]:
    """(response-time line, table, options) of reports awaiting a reply."""
    _check(user, "view_comms")
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
    rows = [{"waited": _waited(w["waited_s"]), "since": _hhmm(w["since"], with_date=True),
             "place": w["place"], "text": w["text"][:200], "count": w["count"],
             "incident": w["incident_status"] + (f" ({w['incident_id']})"
                                                 if w["incident_id"] else "")}
            for w in waiting]
    opts = [{"value": w["id"], "label": f"{_hhmm(w['since'])} {w['place']} "
                                        f"{w['text'][:30]}"} for w in waiting]
    return line, L.reports_table(rows), opts


def reply(event_id: str | None, text: str, replied: int, svc, user,
          now: float | None = None) -> tuple[str, Any]:
    _check(user, "draft_bulletin")
    if not event_id:
        return "请先选择报料 (choose a report)", no_update
    try:
        entry = mark_replied(svc.r, svc.keys, user, event_id, text or "", now=now,
                             store=svc.store)
    except BulletinError as exc:
        return str(exc), no_update
    wait = max(0.0, entry["at"] - entry["since"])
    return f"已记录回复，响应时间 {_waited(wait)} (reply recorded)", (replied or 0) + 1


# -- reach ---------------------------------------------------------------------------------------
def _fmt(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 10000:.1f}万" if n >= 100_000 else f"{n:,}"


def _pct(r: float | None) -> str:
    return "—" if r is None else f"{r * 100:.0f}%"


def reach_report(period_val: str | None, svc) -> dict[str, Any]:
    cal = HolidayCalendar.load(svc.settings.state_dir)
    period = period_from_value(cal, period_val or "")
    return report(ReachStore(svc.r, svc.keys), period.start, period.end, period=period,
                  calendar=cal)


def figures(rep: dict[str, Any]) -> tuple[dict, dict]:
    """(reads per day bars, cumulative reads vs previous holiday and reference) as plain
    plotly dicts."""
    days = rep["reads_per_day"]
    name = (rep.get("holiday") or {}).get("name", "本期")
    year = rep["from"][:4]
    x = [f"第{i + 1}天 {d['date'][5:]}" for i, d in enumerate(days)]
    font = {"family": "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif",
            "size": 13}
    base_layout = {"margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "font": font,
                   "legend": {"orientation": "h", "y": -0.2}, "paper_bgcolor": "#fff",
                   "plot_bgcolor": "#fff", "yaxis": {"title": {"text": "阅读数"},
                                                     "gridcolor": "#e6ebf2",
                                                     "rangemode": "tozero"}}
    bars = [{"type": "bar", "name": f"{year}{name}", "x": x, "y": [d["reads"] for d in days],
             "marker": {"color": "#1f5fbf"},
             "customdata": [d["posts"] for d in days],
             "hovertemplate": "%{x}<br>阅读 %{y:,}<br>发布 %{customdata} 条<extra></extra>"}]
    prev = rep.get("previous")
    cum = [{"type": "scatter", "mode": "lines+markers", "name": f"{year}{name}", "x": list(
        range(1, len(days) + 1)), "y": cumulative(days), "line": {"color": "#1f5fbf",
                                                                 "width": 3}}]
    if prev:
        pname = f"{prev['from'][:4]}{(prev.get('holiday') or {}).get('name', '')}"
        pdays = prev["reads_per_day"]
        bars.append({"type": "bar", "name": pname, "x": x[:len(pdays)],
                     "y": [d["reads"] for d in pdays[:len(x)]], "marker": {"color": "#9fb6d9"}})
        cum.append({"type": "scatter", "mode": "lines+markers", "name": pname,
                    "x": list(range(1, len(pdays) + 1)), "y": cumulative(pdays),
                    "line": {"color": "#9fb6d9", "width": 2, "dash": "dash"}})
    ref = rep.get("reference")
    n = max(len(days), len((prev or {}).get("reads_per_day", [])), int((ref or {}).get(
        "days", 0)))
    if ref:
        cum.append({"type": "scatter", "mode": "lines", "name": f"{ref['label']}（总量）",
                    "x": [1, max(n, 2)], "y": [ref["reads"], ref["reads"]],
                    "line": {"color": "#b07d00", "width": 2, "dash": "dot"},
                    "hovertemplate": f"{ref['label']}总阅读 {ref['reads']:,}<extra></extra>"})
    daily = {"data": bars, "layout": {**base_layout, "barmode": "group",
                                      "title": {"text": "每日阅读数（按发布日）", "x": 0.02}}}
    cumul = {"data": cum, "layout": {**base_layout,
                                     "title": {"text": "累计阅读数对比", "x": 0.02},
                                     "xaxis": {"dtick": 1, "tickprefix": "第",
                                               "ticksuffix": "天"}}}
    return daily, cumul


def reach_view(period_val: str | None, svc, user) -> tuple[Any, dict, dict, str]:
    """(headline, daily figure, cumulative figure, message)."""
    _check(user, "view_comms")
    empty = {"data": [], "layout": {"title": {"text": "无数据"}}}
    try:
        rep = reach_report(period_val, svc)
    except HolidayError as exc:
        return None, empty, empty, str(exc)
    prev, ref = rep.get("previous"), rep.get("reference")
    best = rep.get("best_post")
    items = [
        ("发布条数 posts", f"{rep['posts']:,}",
         f"上期 {prev['posts']:,}" if prev else "上期无数据"),
        ("总阅读数 reads", _fmt(rep["reads"]),
         f"为上期 {_pct(rep.get('vs_previous'))}" if prev else ""),
        ("单条最高 best post", _fmt(best["reads"]) if best else "—",
         f"微博ID {best['id']}" if best else ""),
        ("转发/评论/点赞", f"{rep['reposts']:,}/{rep['comments']:,}/{rep['likes']:,}", ""),
    ]
    if ref:
        items.append((f"参考 {ref['label']}", _fmt(ref["reads"]),
                      f"{ref['posts']}条，单条最高{ref['best_post_reads']:,}；本期为其"
                      f"{_pct(rep.get('vs_reference'))}"))
    daily, cumul = figures(rep)
    note = f"数据截至 {rep['as_of'][:16].replace('T', ' ')}" if rep.get("as_of") else \
        "本期暂无阅读数据 (no figures imported for this period)"
    return L.headline(items), daily, cumul, note


def reach_csv(period_val: str | None, svc, user) -> dict[str, Any] | None:
    _check(user, "view_comms")
    try:
        rep = reach_report(period_val, svc)
    except HolidayError:
        return None
    return {"content": report_csv(rep), "filename": f"reach-{rep['from']}-{rep['to']}.csv",
            "type": "text/csv"}


def reach_upload(contents: str | None, filename: str | None, imported: int, svc, user,
                 now: float | None = None) -> tuple[str, Any]:
    """Import an uploaded export (data URL) like ``lukuang reach import``."""
    _check(user, "import_reach")
    if not contents or "," not in contents:
        return "", no_update
    try:
        payload = base64.b64decode(contents.split(",", 1)[1], validate=False)
        summary = ReachStore(svc.r, svc.keys).import_file(payload, at=now)
    except ReachFileError as exc:
        return f"无法导入 {filename or ''}: {exc}", no_update
    except (ValueError, redis.RedisError) as exc:
        return f"无法导入 {filename or ''}: {exc.__class__.__name__}", no_update
    rej = summary["rejected"]
    msg = (f"已导入 {filename or ''}: {summary['posts']} 条微博，新快照 {summary['snapshots']} 个"
           + (f"；{len(rej)} 行被拒绝：" + "；".join(f"第{x['row']}行 {x['reason']}"
                                                  for x in rej[:5]) if rej else ""))
    return msg, (imported or 0) + 1


# -- the registered callbacks ----------------------------------------------------------------
@callback(Output(ids.COMMS_SOURCE, "options"), Output(ids.COMMS_SOURCE, "value"),
          Output(ids.COMMS_CONTROL_FORM, "style"), Input(ids.COMMS_TEMPLATE, "value"),
          Input(ids.COMMS_CHANGED, "data"))
def _source_cb(template, _changed):
    user = require("view_comms")
    return source_options(template, _svc(), user)


@callback(Output(ids.COMMS_TEXT, "value"), Output(ids.COMMS_DATA, "data"),
          Output(ids.COMMS_EDITING, "data"), Output(ids.COMMS_COMPOSE_MSG, "children"),
          Input(ids.COMMS_BTN_DRAFT, "n_clicks"), Input(ids.COMMS_BTN_TAGS, "n_clicks"),
          Input(ids.COMMS_BTN_LOAD, "n_clicks"), Input(ids.COMMS_BTN_NEW, "n_clicks"),
          State(ids.COMMS_TEMPLATE, "value"), State(ids.COMMS_SOURCE, "value"),
          State(ids.COMMS_HASHTAGS, "value"), State(ids.COMMS_MENTIONS, "value"),
          State(ids.COMMS_CTL_PLACE, "value"), State(ids.COMMS_CTL_REASON, "value"),
          State(ids.COMMS_CTL_START, "value"), State(ids.COMMS_CTL_END, "value"),
          State(ids.COMMS_CTL_DETOUR, "value"), State(ids.COMMS_TEXT, "value"),
          State(ids.COMMS_DATA, "data"), State(ids.COMMS_EDITING, "data"),
          State(ids.COMMS_SELECT, "value"), prevent_initial_call=True)
def _compose_cb(_d, _t, _l, _n, template, source, hashtags, mentions, place, reason, start,
                end, detour, text, data, editing, selected):
    user = require("draft_bulletin")
    control = {"place": place, "reason": reason, "start": start, "end": end, "detour": detour}
    return compose(ctx.triggered_id, template, source, hashtags, mentions, control, text, data,
                   editing, selected, _svc(), user)


@callback(*[Output(ids.COMMS_PREVIEW[c], "children") for c in ids.COMMS_CHANNELS],
          *[Output(ids.COMMS_COUNT[c], "children") for c in ids.COMMS_CHANNELS],
          Input(ids.COMMS_TEXT, "value"), Input(ids.COMMS_DATA, "data"))
def _previews_cb(text, data):
    user = require("view_comms")
    return previews_view(text, data, user)


@callback(Output(ids.COMMS_REVIEW_MSG, "children"), Output(ids.COMMS_CHANGED, "data"),
          Output(ids.COMMS_EDITING, "data", allow_duplicate=True),
          Input(ids.COMMS_BTN_SAVE, "n_clicks"), Input(ids.COMMS_BTN_APPROVE, "n_clicks"),
          Input(ids.COMMS_BTN_PUBLISH, "n_clicks"),
          State(ids.COMMS_TEXT, "value"), State(ids.COMMS_DATA, "data"),
          State(ids.COMMS_EDITING, "data"), State(ids.COMMS_SELECT, "value"),
          State(ids.COMMS_SELECTED_REV, "data"), State(ids.COMMS_PUB_CHANNEL, "value"),
          State(ids.COMMS_PUB_POSTID, "value"), State(ids.COMMS_CHANGED, "data"),
          prevent_initial_call=True)
def _act_cb(_s, _a, _p, text, data, editing, selected, rev, channel, post_id, changed):
    trigger = ctx.triggered_id
    user = require("approve_bulletin" if trigger == ids.COMMS_BTN_APPROVE else "draft_bulletin")
    return act(trigger, text, data, editing, selected, rev, channel, post_id, changed, _svc(),
               user)


@callback(Output(ids.COMMS_LIST, "children"), Output(ids.COMMS_SELECT, "options"),
          Output(ids.COMMS_SELECT, "value"), Input(ids.COMMS_CHANGED, "data"),
          Input(ids.COMMS_TICK, "n_intervals"), State(ids.COMMS_SELECT, "value"),
          State(ids.COMMS_EDITING, "data"))
def _list_cb(_changed, _n, selected, editing):
    user = require("view_comms")
    prefer = (editing or {}).get("id") if ctx.triggered_id == ids.COMMS_CHANGED else None
    return bulletins_view(_svc(), user, selected, prefer)


@callback(Output(ids.COMMS_SELECTED, "children"), Output(ids.COMMS_SELECTED_REV, "data"),
          Input(ids.COMMS_SELECT, "value"), Input(ids.COMMS_CHANGED, "data"))
def _selected_cb(bulletin_id, _changed):
    user = require("view_comms")
    return selected_view(bulletin_id, _svc(), user)


@callback(Output(ids.COMMS_RESPONSE, "children"), Output(ids.COMMS_REPORTS, "children"),
          Output(ids.COMMS_REPLY_SELECT, "options"), Input(ids.COMMS_TICK, "n_intervals"),
          Input(ids.COMMS_REPLIED, "data"))
def _reports_cb(_n, _replied):
    user = require("view_comms")
    return reports_view(_svc(), user)


@callback(Output(ids.COMMS_REPLY_MSG, "children"), Output(ids.COMMS_REPLIED, "data"),
          Input(ids.COMMS_BTN_REPLY, "n_clicks"), State(ids.COMMS_REPLY_SELECT, "value"),
          State(ids.COMMS_REPLY_TEXT, "value"), State(ids.COMMS_REPLIED, "data"),
          prevent_initial_call=True)
def _reply_cb(_n, event_id, text, replied):
    user = require("draft_bulletin")
    return reply(event_id, text, replied, _svc(), user)


@callback(Output(ids.COMMS_REACH_HEADLINE, "children"), Output(ids.COMMS_REACH_DAILY, "figure"),
          Output(ids.COMMS_REACH_CUMUL, "figure"), Output(ids.COMMS_REACH_MSG, "children"),
          Input(ids.COMMS_REACH_PERIOD, "value"), Input(ids.COMMS_TICK, "n_intervals"),
          Input(ids.COMMS_REACH_IMPORTED, "data"))
def _reach_cb(period_val, _n, _imported):
    user = require("view_comms")
    return reach_view(period_val, _svc(), user)


@callback(Output(ids.COMMS_DOWNLOAD, "data"), Input(ids.COMMS_BTN_CSV, "n_clicks"),
          State(ids.COMMS_REACH_PERIOD, "value"), prevent_initial_call=True)
def _csv_cb(_n, period_val):
    user = require("view_comms")
    return reach_csv(period_val, _svc(), user)


@callback(Output(ids.COMMS_REACH_MSG, "children", allow_duplicate=True),
          Output(ids.COMMS_REACH_IMPORTED, "data"), Input(ids.COMMS_UPLOAD, "contents"),
          State(ids.COMMS_UPLOAD, "filename"), State(ids.COMMS_REACH_IMPORTED, "data"),
          prevent_initial_call=True)
def _upload_cb(contents, filename, imported):
    user = require("import_reach")
    return reach_upload(contents, filename, imported, _svc(), user)
