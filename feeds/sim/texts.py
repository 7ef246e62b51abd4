"""Wording for the demo upstream: citizens' Weibo posts, the police account's own posts,
122 hotline tickets, and the fake (but realistic-looking) people who write them.

Everything here is a pure function of a ``random.Random`` and its arguments, so the
simulator stays reproducible. Phone numbers are all in the reserved-looking
``138 0000 xxxx`` block; plates are Tai'an's ``鲁J``; names are common surname +
given-name pairs. None of them belongs to anyone on purpose.
"""
from __future__ import annotations

import random

ACCOUNT = "泰山交警"          # the police account that citizens @ and that posts road reports
AT = "@" + ACCOUNT
HASHTAG = "#泰安路况#"
HOLIDAY_TAG = "#国庆出行#"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "强", "洋", "艳", "勇", "军", "杰", "涛", "明", "超",
         "建国", "建华", "志强", "秀英", "桂兰", "海燕", "丽娟", "晓东", "春生", "玉兰", "文博",
         "子涵", "浩然", "雨桐", "宏伟")
HONORIFICS = ("先生", "女士", "师傅")
EMOJI = ("😡", "😭", "🙏", "😤", "🚗", "🚧", "😂", "😓", "[怒]", "[泪]", "[抓狂]", "[衰]",
         "[允悲]", "[吃惊]", "")

# nickname parts: place, thing, suffix
_NICK_A = ("泰安", "岱岳", "泰山", "东平", "肥城", "宁阳", "新泰", "岱庙", "奥莱", "山城",
           "红门", "天外村", "大汶河", "徂徕山", "泮河")
_NICK_B = ("小王", "老李", "阿杰", "的猫", "打工人", "司机老张", "跑滴滴的", "宝妈", "吃货",
           "摄影", "骑行者", "小透明", "大叔", "上班族", "遛狗的", "星星", "fly", "阿飞")
_NICK_C = ("", "", "", "2019", "_", "88", "666", "的日常", "呀", "-", "01", "1990", "鱼")


def nickname(rng: random.Random) -> str:
    """A Weibo-style screen name."""
    return f"{rng.choice(_NICK_A)}{rng.choice(_NICK_B)}{rng.choice(_NICK_C)}"


def person_name(rng: random.Random) -> str:
    """A common full name (surname + given name)."""
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def caller_label(rng: random.Random) -> str:
    """How a hotline operator records the caller: a full name or 王先生 style."""
    if rng.random() < 0.55:
        return person_name(rng)
    return rng.choice(SURNAMES) + rng.choice(HONORIFICS)


def phone(rng: random.Random) -> str:
    """A mobile number in the 138 0000 xxxx block, written one of the usual ways."""
    tail = f"{rng.randrange(10000):04d}"
    style = rng.randrange(4)
    if style == 0:
        return f"138 0000 {tail}"
    if style == 1:
        return f"138-0000-{tail}"
    if style == 2:  # full-width digits, as some phone keyboards produce
        return "".join(chr(ord(c) + 0xFEE0) for c in f"1380000{tail}")
    return f"1380000{tail}"


_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def plate(rng: random.Random, province: str = "鲁", city: str = "J") -> str:
    """A licence plate such as 鲁J·8Q2M5 (five characters after the city letter)."""
    serial = "".join(rng.choice("0123456789" + _PLATE_CHARS) if i in (1, 2) else
                     rng.choice("0123456789") for i in range(5))
    sep = rng.choice(("·", "", "", " "))
    return f"{province}{city}{sep}{serial}"


def masked_plate(full: str) -> str:
    """How some citizens type a plate they only half saw: 鲁J·8***5."""
    core = full.replace("·", "").replace(" ", "")
    return f"{core[:2]}·{core[2]}***{core[-1]}"


def emoji(rng: random.Random) -> str:
    return rng.choice(EMOJI)


# -- places -----------------------------------------------------------------------------
def intersection(rng: random.Random, a: str, b: str) -> str:
    """An intersection the way people write it."""
    forms = (f"{a}{b}路口", f"{a}与{b}交叉口", f"{a}与{b}路口", f"{a}和{b}交叉口",
             f"{a}{b}十字路口", f"{a}与{b}交汇处")
    return rng.choice(forms)


def stretch(rng: random.Random, road: str, cross: str, other: str | None = None) -> str:
    """A stretch of a road near a cross street: 东岳大街(迎胜路口段), 东岳大街(迎胜路—青年路)."""
    if other and rng.random() < 0.4:
        return rng.choice((f"{road}({cross}—{other})", f"{road}（{cross}至{other}段）"))
    return rng.choice((f"{road}({cross}路口段)", f"{road}（{cross}口段）",
                       f"{road}{cross}口附近"))


def landmark_place(rng: random.Random, name: str) -> str:
    return rng.choice((f"{name}附近", f"{name}门口", f"{name}这边", f"{name}前面", name))


def road_place(rng: random.Random, road: str, whole: bool = False) -> str:
    """Just the road; "整条X" only makes sense for congestion."""
    forms = (f"{road}上", road, f"{road}这一段") + ((f"整条{road}",) if whole else ())
    return rng.choice(forms)


# -- citizens' Weibo posts, by what happened ----------------------------------------------
CITIZEN: dict[str, tuple[str, ...]] = {
    "jam": (
        "{place}发生交通拥堵 {at}",
        "{place}堵死了，半天不动{emoji} {at}",
        "{place}车排了老长，一个绿灯过不去几辆{emoji}",
        "{hhmm}了{place}还堵着，有没有交警来疏导一下？{at}",
        "求助{at} {place}严重拥堵，大家绕行吧",
        "{place}堵成停车场了{emoji}",
        "刚从{place}过来，缓行，走走停停二十分钟{emoji}",
        "{at} {place}拥堵，红绿灯时间是不是该调一调了",
    ),
    "accident": (
        "{place}发生交通事故，两车相撞，占了两个车道 {at}",
        "{place}追尾了，后面堵了一长串{emoji} {at}",
        "{place}有车剐蹭，双方停在路中间等交警，后面全堵了 {at}",
        "刚路过{place}，一辆电动车和小轿车撞了，人坐在地上，赶紧来人吧{emoji}{at}",
        "{place}三车追尾，{plate}那辆车头都瘪了 {at}",
        "{at} {place}出事故了，快来处理一下，我电话{phone}",
        "{place}撞车了{emoji}，绕行绕行",
    ),
    "breakdown": (
        "{place}有辆大货车抛锚了，占着一个车道 {at}",
        "{place}一辆车坏在路中间，打着双闪，后面车都在变道{emoji}",
        "{at} {place}有故障车，{plate}，司机在路边打电话",
    ),
    "hazard": (
        "{place}路上掉了一大堆东西，车都在躲{emoji} {at}",
        "{place}有个大坑，刚才一辆电动车差点摔了 {at}",
        "{at} {place}路面有散落物，晚上看不清很危险",
    ),
    "flooding": (
        "{place}积水很深，小车过不去了{emoji} {at}",
        "{at} {place}下水道冒水，路面全是水",
    ),
    "illegal_parking": (
        "{place}有车违停，{plate}，堵着出不去，电话{phone} 麻烦处理一下 {at}",
        "{place}路边乱停车太严重了，一排车占道{emoji} {at}",
        "{at} 举报{place}违停，{plate}停在公交站台一上午了",
    ),
    "signal": (
        "{place}红绿灯坏了，一直闪黄灯，乱成一锅粥{emoji} {at}",
        "{at} {place}信号灯不亮了，路口谁也不让谁",
    ),
    "roadworks": (
        "{place}在施工，只剩一个车道，早高峰堵得不行{emoji} {at}",
        "{at} {place}修路修了好久了，什么时候能完工？",
        "{place}施工围挡占道，晚上没有警示灯，太危险了 {at}",
    ),
    "holiday": (
        "{place}全是去泰山的车，堵得走不动{emoji} {at}",
        "国庆来爬泰山，{place}排队排了一个小时{emoji} {at}",
        "{at} {place}附近停车场都满了，车都堵在路上，有没有人管管",
    ),
    "vague": (
        "又堵了，这什么时候是个头啊{emoji} {at}",
        "前面咋了？堵了半小时了 {at}",
        "路上全是车，出门就是看车的😂 {at}",
        "{at} 请问现在去泰山哪条路不堵？",
        "早高峰堵得心累{emoji}",
        "{at} 是不是哪里出事故了？一直不动",
    ),
}
# a follow-up by another user who saw the same thing
ECHO = ("同上，{place}确实堵 {at}", "+1，{place}我也在这堵着{emoji}", "转发微博 //@{nick}:{text}",
        "我也看到了 //@{nick}:{text}", "{place}现在还是不动 {at}")

# the overloaded coach on the expressway, reported again and again as it moves;
# {place} always names the expressway ("G3京台高速泮河大街出口附近")
COACH_FIRST = (
    "{at} 举报！一辆大巴严重超员，车牌{plate}，过道里都站满了人，现在在{place}，往{toward}方向开",
    "{at} {place}，一辆大客车{plate}明显超载，车里挤得满满的，太危险了，请拦一下{emoji}",
)
COACH_FOLLOW = (
    "那辆超员的大巴{plate}还在跑，刚过{place}，往{toward}方向 {at}",
    "{at} 刚才举报的超员客车现在到{place}了，车牌{plate}",
    "同举报，{plate}大客车超员，刚在{place}看到，{toward}方向{emoji} {at}",
    "{at} 超员大巴还没拦下来吗？已经开到{place}了",
)


def coach_place(rng: random.Random, road: str, cross: str | None, landmark: str | None,
                beyond: str = "") -> str:
    """Where the coach is, always naming the expressway; ``beyond`` ("以北3公里") when it
    is some way past the exit."""
    if landmark:
        return f"{road}{landmark}附近"
    if cross and beyond:
        return f"{road}{cross}出口{beyond}"
    if cross:
        return rng.choice((f"{road}{cross}出口附近", f"{road}与{cross}交汇处附近",
                           f"{road}{cross}出口"))
    return f"{road}泰安段"


def citizen_text(rng: random.Random, kind: str, **fields: str) -> str:
    """A citizen's post about ``kind`` with the given place, plate, phone …"""
    values = {"at": AT, "emoji": emoji(rng), "plate": "", "phone": "", "hhmm": "",
              "place": ""}
    values.update(fields)
    return _tidy(rng.choice(CITIZEN[kind]).format(**values))


def echo_text(rng: random.Random, first: str, place: str, nick: str) -> str:
    """Another user repeating or reposting an earlier post."""
    return _tidy(rng.choice(ECHO).format(place=place, text=first, at=AT, emoji=emoji(rng),
                                         nick=nick))


def coach_text(rng: random.Random, first: bool, **fields: str) -> str:
    values = {"at": AT, "emoji": emoji(rng)}
    values.update(fields)
    return _tidy(rng.choice(COACH_FIRST if first else COACH_FOLLOW).format(**values))


def _tidy(text: str) -> str:
    """One line, single spaces, and always the @ (these are the account's mentions)."""
    text = " ".join(text.split())
    return text if AT in text else f"{text} {AT}"


# -- the police account's own posts -------------------------------------------------------
WORK_TYPES = ("路面维修", "管道铺设", "雨污分流改造", "标线施划", "桥梁检修", "绿化提升")


def traffic_report(hhmm: str, busy: list[str], holiday: bool) -> str:
    """路况播报: the stretches with heavy traffic at ``hhmm``."""
    tags = f"{HOLIDAY_TAG}{HASHTAG}" if holiday else HASHTAG
    if not busy:
        return (f"{tags}【路况播报】截至{hhmm}，城区主要道路通行顺畅，请广大驾驶人文明驾驶、"
                f"安全出行。")
    return (f"{tags}【路况播报】截至{hhmm}，{'、'.join(busy)}车流量较大，通行缓慢，"
            f"请过往车辆提前绕行；其他主要道路通行正常。")


def accident_notice(hhmm: str, place: str, what: str) -> str:
    return (f"{HASHTAG}【事故快报】{hhmm}，{place}发生一起{what}，交警已到场处置，现场通行缓慢，"
            f"请过往车辆减速慢行、注意避让。")


def control_notice(hhmm: str, place: str) -> str:
    return (f"{HASHTAG}【交通管制】{hhmm}起，{place}因突发情况实行临时交通管制，"
            f"请过往车辆提前绕行，服从现场民警指挥。")


def cleared_notice(hhmm: str, place: str) -> str:
    return f"{HASHTAG}【已处置】{hhmm}，{place}事故现场已清理完毕，道路恢复通行。感谢大家理解配合！"


def roadworks_notice(start: str, end: str, road: str, span: str, work: str, impact: str) -> str:
    return (f"{HASHTAG}【施工提示】{start}至{end}，{road}{span}进行{work}施工，{impact}，"
            f"请过往车辆提前绕行，给您带来不便敬请谅解。")


def holiday_advisory(hhmm: str, busy: list[str]) -> str:
    spots = "、".join(busy) if busy else "红门路、环山路"
    return (f"{HOLIDAY_TAG}{HASHTAG}【出行提示】截至{hhmm}，{spots}车流量大，天外村、红门停车场"
            f"车位紧张，建议游客乘坐公交或旅游专线前往景区。G3京台高速泰安、泰山收费站出口"
            f"车多缓行，请提前规划路线。")


# -- 122 hotline tickets -------------------------------------------------------------------
HOTLINE_TYPES = {
    "accident": "交通事故", "jam": "交通拥堵", "breakdown": "车辆故障", "hazard": "道路遗洒",
    "flooding": "道路积水", "illegal_parking": "违法停车", "signal": "信号灯故障",
    "roadworks": "道路施工", "overload": "客车超员",
}
HOTLINE_CONTENT = {
    "accident": ("来电反映该处两车相撞，{hurt}，请求处理。", "来电称发生追尾事故，车辆{plate}，"
                 "{hurt}，现场拥堵。", "来电反映电动车与轿车剐蹭，{hurt}，双方争执。"),
    "jam": ("来电反映该处拥堵严重，车辆长时间无法通行，请求疏导。", "来电称路口车辆排队较长，"
            "信号灯配时不合理。"),
    "breakdown": ("来电反映一辆货车故障停在车道内，车牌{plate}，请求拖移。",
                  "来电称车辆抛锚，已放置警示牌，请求救援。"),
    "hazard": ("来电反映路面有货物遗洒，影响通行。", "来电称路面有坑洼，已有车辆受损。"),
    "flooding": ("来电反映路面积水较深，车辆无法通过。",),
    "illegal_parking": ("来电反映车辆{plate}违停堵塞小区出口，请求处理。",
                        "来电称多辆车在路边违停占道。"),
    "signal": ("来电反映路口信号灯不亮，请求维修。", "来电称信号灯一直黄闪，路口混乱。"),
    "roadworks": ("来电反映施工占道未设警示标志，夜间危险。",),
    "overload": ("来电举报一辆大客车严重超员，车牌{plate}，正沿G3京台高速行驶。",),
}
HURT = ("无人员受伤", "有一人受轻伤", "人员情况不明", "无人受伤，车辆受损")


def hotline_content(rng: random.Random, kind: str, plate_text: str) -> str:
    return rng.choice(HOTLINE_CONTENT[kind]).format(plate=plate_text, hurt=rng.choice(HURT))
