"""The Chinese labels of dispatch's words: incident categories and statuses, unit types
and statuses. One table each; the dispatch and comms desks and the page layouts all look
labels up here (a page may add the English word next to it)."""
from __future__ import annotations

# RoadEvent categories (dashboard.model.CATEGORIES), as incidents and reports show them
CATEGORY_LABELS = {
    "accident": "事故", "breakdown": "故障车", "hazard": "危险", "closure": "封闭", "jam": "拥堵",
    "roadworks": "施工", "flooding": "积水", "weather": "天气", "illegal_parking": "违停",
    "overload": "超员", "police": "警情", "event": "活动", "detour": "绕行", "other": "其他"}
INCIDENT_STATUS_LABELS = {"reported": "已报告", "verified": "已核实", "dispatched": "已派警",
                          "on_scene": "已到场", "cleared": "已清除", "merged": "已合并"}
UNIT_TYPE_LABELS = {"patrol_car": "警车", "motorcycle": "铁骑", "tow_truck": "清障车"}
UNIT_STATUS_LABELS = {"free": "空闲", "assigned": "已派出", "on_scene": "在现场",
                      "off_duty": "下班"}
# what an incident's history entry (and an audit entry) did, as the audit view names it
ACTION_LABELS = {"create": "创建 created", "acknowledge": "确认 acknowledged",
                 "status": "状态 status", "assign": "派警 dispatched", "release": "收回 released",
                 "handover": "移交 handed over", "move": "移动 moved", "link": "关联 linked",
                 "split": "拆分 split", "merge": "合并 merged", "reopen": "重开 reopened",
                 "note": "备注 note", "unit_update": "警力 unit"}
