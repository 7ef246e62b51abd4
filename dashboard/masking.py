"""Masking of personal data (PII) in free text and in single fields.

Conventions (design.md §4): mobile ``138****1234``; landline keeps the area code and
the last 4 digits (``0538-***4567``); plate ``鲁J·1***5`` (province, city letter, first
and last character of the serial); names ``张*`` (first character, then at most two
stars: ``欧阳娜娜`` → ``欧**``, so the length of the name is not shown either); ID
numbers keep the first 6 and last 4 characters; bank cards keep the last 4 digits;
a private Weibo account ``@泰安小李`` → ``@泰**``; e-mail ``z***@163.com``.

Decisions worth knowing:
- Full-width digits/letters (``１３８``, ``Ｊ``), the ideographic space, full-width and
  typographic dashes and middle dots, and zero-width characters are all treated like
  their ASCII counterparts when *finding* PII. Masked output is written in ASCII.
- Digits may be written with separators: spaces and dashes anywhere (``139 8765 4321``),
  or one of ``. _ / · \\ | ~`` repeated between groups (``139.8765.4321``, ``138_1111_2222``,
  ``3709 0219 9001 0112 34``). A lone ``.`` between two groups is a decimal number.
- A surname followed by an honorific (张先生, 李女士, 王师傅) is kept: it names no one.
  Names are only looked for after a cue (我叫, 我是, 本人, 我姓…叫, 姓名：, 联系人, 车主,
  当事人 …); a bare name in a sentence cannot be told from ordinary words reliably. After
  the weaker cues (我是, 本人, 车主, 司机 …) common words (高速, 方向, 龙潭路 …) are not
  names. ``mask_known`` masks values known to be a person's (the hotline's name and phone
  columns, a Weibo screen name) wherever they appear.
- Accounts: ``@mentions`` and ``//@name:`` retweet chains of private accounts are masked;
  institutional accounts (…交警, …公安, …发布, …日报 …) are kept. E-mail addresses, QQ
  and WeChat ids after a cue are masked too.
- ``mask_text`` repeats its passes until nothing is found any more, so it is
  idempotent and ``contains_pii(mask_text(t))`` never reports a phone, plate or ID.
- Pattern masking alone always misses something, so audiences that may see no personal
  data at all (anonymous callers, the wall, auxiliary police) get ``text_for_restricted``:
  ``mask_text`` **and** a residual check (``residual_pii``) that withholds the whole text
  ("内容已隐藏") when anything still looks like a number of 7+ digits (separators
  removed), an ID, a name after a cue or a private account. ``mask_for_public`` (the
  wall, the public API, the public road query) is that, failing closed to "" if masking
  itself breaks.
- ``plotly_text``: a string drawn inside a plotly figure (hover labels, map text) is
  plain text: plotly's SVG text understands ``<a href>``, ``<b>``, ``<br>`` …
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

# -- normalisation: one character in, one character out, so match spans line up -------
_NORM_MAP: dict[int, str] = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_NORM_MAP.update({0x3000: " ", 0x00A0: " ", 0x200B: " ", 0x200C: " ", 0x200D: " ",
                  0x2060: " ", 0xFEFF: " "})
for _dash in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE63):
    _NORM_MAP[_dash] = "-"
for _dot in (0x00B7, 0x30FB, 0x2022, 0x2027, 0x2219, 0xFF65, 0x22C5):
    _NORM_MAP[_dot] = "·"
_NORM = str.maketrans(_NORM_MAP)

WITHHELD = "内容已隐藏"


def normalise(text: str) -> str:
    """Full-width and look-alike characters to ASCII, keeping every character's index."""
    return text.translate(_NORM)


# -- patterns (applied to the normalised text) ----------------------------------------
_SEP = r"[\s\-]{0,3}"
_GSEP = r"[._/·\\|~]"          # a group separator: the same one between every group
# a run of digit groups that may hold an ID (18 characters, the last a digit or X): groups
# joined by spaces/dashes, or by one kind of ``_GSEP`` ("3709 0219 9001 0112 34")
_ID_RUN_RE = re.compile(
    rf"(?<![0-9A-Za-z])(?:\d+(?:(?P<s>{_GSEP})\d+)+(?!(?P=s)\d)|\d+(?:[\s\-]{{1,2}}\d+)*)"
    r"(?:[\s\-._/·\\|~]?[Xx])?(?![0-9A-Za-z])")
_GROUP_RE = re.compile(r"\d+[Xx]?|[Xx]")
# bank cards: 16-19 digits, whole or in groups of four with one kind of separator
_CARD_RE = re.compile(
    rf"(?<![0-9A-Za-z])(?<!\d[\s\-])(?<!\d{_GSEP})(?:[3-6]\d{{15,18}}|[3-6]\d{{3}}"
    rf"(?P<s>[\s\-]|{_GSEP})\d{{4}}(?:(?P=s)\d{{4}}){{2}}(?:(?P=s)\d{{1,3}})?)"
    r"(?![0-9A-Za-z])(?![\s\-._/·\\|~]\d)")
_MOBILE_RE = re.compile(
    r"(?<!\d)(?P<cc>\(?(?:(?:\+|00)\s?)?86\)?[\s\-]{0,3})?"
    rf"(?P<num>1{_SEP}[3-9](?:{_SEP}\d){{9}})(?!\d)")
_MOBILE_GROUPED_RE = re.compile(
    rf"(?<!\d)(?<!\d{_GSEP})(?P<num>1[3-9]\d{{0,3}}(?P<s>{_GSEP})\d{{2,5}}"
    r"(?:(?P=s)\d{2,5}){0,2})(?!\d)(?!(?P=s)\d)")
_LANDLINE_RE = re.compile(
    r"(?<!\d)\(?(?P<area>0(?:10|2\d|[3-9]\d\d))\)?(?:[\s\-]{0,3}|[._/·])"
    r"(?P<num>[1-9](?:[\s\-]?\d){6,7})(?!\d)")
# a number right after a contact cue, even without an area code ("电话8261234")
_CUE_PHONE_RE = re.compile(
    r"(?:电话|手机号?码?|联系方式|联系号码|号码|tel|TEL|Tel|call|CALL)[:\s]{0,3}"
    r"(?P<num>\d(?:[\s\-._/·]?\d){6,11})(?!\d)")
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PSEP = r"[\s·.\-/_\\|]"
_PLATE_RE = re.compile(
    rf"(?P<prov>[{_PROVINCES}]){_PSEP}{{0,2}}(?P<city>[A-Za-z]){_PSEP}{{0,2}}"
    rf"(?P<tail>[A-Za-z0-9](?:{_PSEP}?[A-Za-z0-9]){{3,4}}{_PSEP}?[A-Za-z0-9挂学警港澳领])"
    r"(?![A-Za-z0-9])")
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])(?P<user>[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})"
    r"@(?P<domain>[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
# an @mention runs, as on Weibo, until a character a screen name cannot hold
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9._%+\-*])@(?P<name>[\w\-·]{1,30})")
_IM_RE = re.compile(r"(?<![A-Za-z])(?:QQ|qq|Qq|扣扣|微信|wx|WX|vx|VX|V信|v信|威信)群?号?[:\s]{0,3}"
                    r"(?P<acc>[A-Za-z0-9_\-]{5,30})(?![A-Za-z0-9_\-])")
# accounts of institutions: a mention whose name ends like this is kept
PUBLIC_ACCOUNT_SUFFIXES = (
    "交警", "交警支队", "交警大队", "公安", "警方", "警察", "发布", "政务", "交通", "交通运输",
    "高速", "气象", "应急", "应急管理", "消防", "融媒", "日报", "晚报", "新闻", "电视台", "广播",
    "头条", "官方", "官微", "政府", "城管", "文旅", "12345", "12122", "122", "110", "120")
# national accounts whose names do not end like an institution's; a city's own accounts
# (泰安交警, 济南发布…) are recognised by their ending, so no city's names are listed here
KNOWN_PUBLIC_ACCOUNTS = (
    "人民日报", "央视新闻", "新华社", "中国交通广播", "中国警方在线", "公安部交通管理局",
    "交通运输部", "中国气象局", "应急管理部")
# text glued to a mention (``@泰山交警东岳大街堵了``): a leading place name of this many
# characters before an institution's ending still makes it an institution's account
_GLUED_PLACE_CHARS = (2, 6)

_SURNAMES_2 = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐",
               "夏侯", "长孙", "宇文", "司徒", "端木", "独孤", "南宫", "西门", "申屠", "轩辕")
_SURNAMES_1 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝游辛靳管柴鲍华喻祁蒲房滕屈饶解"
    "牟艾尤阳时穆农司卓古吉缪简项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
    "姬和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    # rarer ones that are no everyday word
    "亓甯扈逄笪冼禤亢逯蔺郜蒯眭訾阚嵇钭厍隗竺茹桓綦谌郄昝宓蓟邸鄢邰缑丌芮鞠寿禹")
_SURNAME_ALT = "(?:" + "|".join(_SURNAMES_2) + "|[" + _SURNAMES_1 + "])"
_HONORIFICS = ("先生", "女士", "小姐", "师傅", "同志", "警官", "老师", "阿姨", "大爷", "大姐",
               "大哥", "大叔", "大妈", "老板", "经理", "总", "某")
# characters that end a name: grammar words, punctuation, and what usually follows one
_NAME_STOP = set("在的是了和与及从到往向去来被把给跟对说讲称电手联车号码现已也都就还要我你他她它"
                 "们这那个辆路街道口桥站附近处里上下边等先女师同警老阿大某开驾骑停堵撞")
# a "name" followed by one of these is a place (龙潭路, 王母池附近 …)
_PLACE_SUFFIX = set("路街道桥站口村庄镇区县市山河湖池园门厦楼院场巷弄里庙寺店馆")
# words after a cue that start with a surname character but name no one
_NOT_NAMES = frozenset("""
施工 高速 高架 高峰 高铁 高新 高中 高兴 方向 方便 方面 向东 向西 向南 向北 向前 于是 时候 时间 明天
明显 明白 安全 安排 关于 关注 单位 单行 全程 全部 全家 连续 应该 成功 文明 常走 常年 周边
周末 周围 马路 马上 黄灯 黄色 白天 白色 万一 严重 解决 管理 司机 司乘 党员 任何 游客 和平 和朋
和家 和同 和孩 和老 金牛 石头 包车 包括 宁可 齐鲁 江北 江南 温度 龙潭 华新 明堂 温泉 王母 万达
车主 路人 市民 网友 乘客 本地 外地 当事 伤者 报警 第一 一名 一个 什么 谁啊 不详 未知 保密 宋城
沙发 曲阜 章丘 季节 雷雨 雷电 冷静 米左 程序 苏醒 毛病 钱包 孔雀 尚未 费用 景区 卫生 简单 谷歌
""".split())
_AMBIGUOUS_SURNAMES = set("高方向于时和明安关单全连应成文金石常周马黄白万严宁齐解管司党游任包"
                          "岳温龙华江章曲宋沙雷冷米程苏毛钱孔尚费景卫简谷")
_NAME_PATTERN = (rf"(?P<name>{_SURNAME_ALT}(?!" + "|".join(_HONORIFICS) + r")"
                 r"[\u4e00-\u9fff]{1,2})")
_STRONG_CUES = (r"我叫|我的名字是|名字叫|名叫|姓名[:：\s]*|名字[:：\s]*|联系人[:：\s]*"
                r"|报警人[:：\s]*|报料人[:：\s]*|举报人[:：\s]*|来电人[:：\s]*|求助人[:：\s]*"
                r"|反映人[:：\s]*|投诉人[:：\s]*")
_WEAK_CUES = (r"我是|本人|联系(?!方式|电话|号码|人)|车主[:：\s]*|当事人[:：\s]*"
              r"|驾驶员[:：\s]*|司机[:：\s]*|伤者[:：\s]*|失主[:：\s]*|事主[:：\s]*"
              r"|目击者[:：\s]*|受害人[:：\s]*|肇事者[:：\s]*|家属[:：\s]*|居民|市民")
_NAME_RE = re.compile(
    rf"(?:(?P<strong>{_STRONG_CUES})|(?P<weak>{_WEAK_CUES}))(?:[是为叫](?=\s*[\u4e00-\u9fff]))?"
    rf"\s*{_NAME_PATTERN}")
# after the strongest cues any two or three Han characters are a name (甯浩 has a surname
# the list lacks); after 我是 only when the phrase ends there ("我是甯伟，")
_ANY_NAME_RE = re.compile(
    r"(?:我叫|我的名字是|名字叫|名叫|姓名[:：\s]*)\s*(?P<name>[\u4e00-\u9fff]{2,3})"
    r"|我是(?P<said>[\u4e00-\u9fff]{2,3})(?=$|[\s，,。.!！?？、;；:：~…)）\d])")
_ROLE_ENDINGS = set("人的者员主机生师警民友客工长家属儿子女哥姐妹弟爸妈")
# a name signed next to a phone number: "请处理。冯刚 152-9755-0706", "，王小明：138…"
_NAME_BY_PHONE_RE = re.compile(
    rf"(?<![\u4e00-\u9fff])(?P<name>{_SURNAME_ALT}[\u4e00-\u9fff]{{1,2}})"
    r"(?=[\s:：]{0,2}(?:电话|手机号?|tel|TEL)?[:：\s]{0,2}(?:\(?\+?86\)?[\s\-]?)?"
    r"(?:1[3-9]|0[1-9]\d))")
# a name signed after a phone number ("189****6695（胡军）") or before what it did
# ("（罗斌来电）", "张伟报警称")
_NAME_SIGNED_RE = re.compile(
    rf"(?<=[\d*])\s*[(（](?P<paren>{_SURNAME_ALT}[\u4e00-\u9fff]{{1,2}})(?=[)）])"
    rf"|(?<![\u4e00-\u9fff])(?P<name>{_SURNAME_ALT}[\u4e00-\u9fff]{{1,2}}?)"
    r"(?=来电|报警|反映|投诉|求助)")
# "我姓王叫王小明", "姓李，名叫李娜", "我姓张名小勇": the name after the second cue
_SURNAME_THEN_NAME_RE = re.compile(
    rf"姓(?P<sur>{_SURNAME_ALT})[，,、\s]*"
    r"(?:全名叫|名字叫|名叫|叫做|叫|名)[:：\s]*(?P<name>[\u4e00-\u9fff]{1,4})")

KINDS = ("id_number", "bank_card", "phone", "plate", "name", "account")


# -- single-field maskers -------------------------------------------------------------
def _digits(text: str) -> str:
    return "".join(ch for ch in normalise(text) if ch.isascii() and ch.isdigit())


def mask_phone(phone: str) -> str:
    """Mask one phone number: mobiles ``138****1234``, landlines ``0538-***4567``.

    Anything else with digits keeps only its last 4 digits.
    """
    digits = _digits(phone)
    cc = ""
    if len(digits) == 13 and digits.startswith("86") and digits[2] == "1":
        cc, digits = "+86 ", digits[2:]
    elif len(digits) == 15 and digits.startswith("0086") and digits[4] == "1":
        cc, digits = "+86 ", digits[4:]
    if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789":
        return f"{cc}{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 10 and digits[0] == "0":
        area_len = 3 if digits[1] in "12" else 4
        area, local = digits[:area_len], digits[area_len:]
        return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
    if len(digits) > 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * len(digits)


def mask_plate(plate: str) -> str:
    """Mask one licence plate: ``鲁J12345`` → ``鲁J·1***5`` (new-energy: ``鲁J·D****5``)."""
    norm = normalise(plate).strip()
    m = _PLATE_RE.search(norm)
    if m:
        tail = re.sub(_PSEP, "", m.group("tail")).upper()
        return f"{m.group('prov')}{m.group('city').upper()}·{tail[0]}{'*' * (len(tail) - 2)}{tail[-1]}"
    chars = [c for c in norm if not re.match(_PSEP, c)]
    if len(chars) <= 2:
        return "*" * len(chars)
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def mask_name(name: str) -> str:
    """Mask a person's name: first character and at most two stars (张三 → 张*)."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * min(len(name) - 1, 2)


def mask_id_number(number: str) -> str:
    """Mask an ID number, keeping the first 6 and last 4 characters."""
    chars = [c.upper() for c in normalise(number) if c.isascii() and c.isalnum()]
    if len(chars) <= 10:
        return "*" * len(chars)
    return "".join(chars[:6]) + "*" * (len(chars) - 10) + "".join(chars[-4:])


def mask_screen_name(name: str) -> str:
    """Mask a private account's screen name: its first character and two stars."""
    name = (name or "").strip()
    return name[:1] + "**" if name else ""


def is_public_account(name: str) -> bool:
    """Whether a mentioned account is an institution's: its name ends like one (…交警,
    …发布, …日报), is a known national one, or starts with a place name and such an ending
    (text glued to ``@泰山交警`` counts as part of the mention, as on Weibo). Works for any
    city: no city's account names are listed."""
    norm = normalise(name or "")
    if norm.endswith(PUBLIC_ACCOUNT_SUFFIXES) or norm.startswith(KNOWN_PUBLIC_ACCOUNTS):
        return True
    low, high = _GLUED_PLACE_CHARS
    return any(low <= norm.find(sfx, low) <= high for sfx in PUBLIC_ACCOUNT_SUFFIXES
               if len(sfx) >= 2 and not sfx.isdigit())


# -- finding PII in free text ---------------------------------------------------------
Span = tuple[int, int, str]  # start, end, replacement


def _find_ids(norm: str) -> Iterator[Span]:
    for m in _ID_RUN_RE.finditer(norm):
        groups = list(_GROUP_RE.finditer(m.group(0)))
        i = 0
        while i < len(groups):
            found, total = None, 0
            # written as one number or in a few groups, the first of 4 digits or more
            if groups[i].group()[0] in "123456789" and len(groups[i].group()) >= 4:
                for j in range(i, min(len(groups), i + 5)):
                    g = groups[j].group()
                    total += len(g)
                    if total == 18:
                        found = j
                        break
                    # only the last group may be short ("… 0112 34") or end in the check X
                    if total > 18 or len(g) < 3 or not g[-1].isdigit():
                        break
            if found is None:
                i += 1
                continue
            start, end = m.start() + groups[i].start(), m.start() + groups[found].end()
            yield start, end, mask_id_number(norm[start:end])
            i = found + 1


def _find_cards(norm: str) -> Iterator[Span]:
    for m in _CARD_RE.finditer(norm):
        digits = _digits(m.group(0))
        yield m.start(), m.end(), "*" * (len(digits) - 4) + digits[-4:]


def _find_phones(norm: str) -> Iterator[Span]:
    taken: list[tuple[int, int]] = []
    for m in _MOBILE_RE.finditer(norm):
        cc = "+86 " if m.group("cc") else ""
        digits = _digits(m.group("num"))
        taken.append((m.start(), m.end()))
        yield m.start(), m.end(), f"{cc}{digits[:3]}****{digits[-4:]}"
    for m in _MOBILE_GROUPED_RE.finditer(norm):
        digits = _digits(m.group("num"))
        if len(digits) != 11 or any(s < m.end() and m.start() < e for s, e in taken):
            continue
        taken.append((m.start(), m.end()))
        yield m.start(), m.end(), f"{digits[:3]}****{digits[-4:]}"
    for m in _LANDLINE_RE.finditer(norm):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        local = _digits(m.group("num"))
        taken.append((m.start(), m.end()))
        yield m.start(), m.end(), f"{m.group('area')}-{'*' * (len(local) - 4)}{local[-4:]}"
    for m in _CUE_PHONE_RE.finditer(norm):
        s, e = m.span("num")
        if any(a < e and s < b for a, b in taken):
            continue
        digits = _digits(m.group("num"))
        yield s, e, "*" * (len(digits) - 4) + digits[-4:]


def _find_plates(norm: str) -> Iterator[Span]:
    for m in _PLATE_RE.finditer(norm):
        tail = re.sub(_PSEP, "", m.group("tail"))
        if sum(ch.isdigit() for ch in tail) < 2:
            continue  # "京AB" + letters: too unlike a plate to mask ordinary text
        yield m.start(), m.end(), mask_plate(m.group(0))


def plates_in(text: str) -> list[str]:
    """The vehicle plates written in ``text`` (separators dropped: "鲁J·12345" -> "鲁J12345"),
    for the roles that may see them (a 违停 call's plate opens a move-car task)."""
    out = []
    for m in _PLATE_RE.finditer(normalise(text or "")):
        plate = re.sub(_PSEP, "", m.group(0))
        if sum(ch.isdigit() for ch in plate) >= 2 and plate not in out:
            out.append(plate)
    return out


def _given_name(name: str) -> str:
    """The name as far as it goes: surname, then given-name characters up to a stop."""
    compound = name[:2] in _SURNAMES_2
    given = name[2:] if compound else name[1:]
    keep = ""
    for ch in given:
        if ch in _NAME_STOP:
            break
        keep += ch
    return (name[:2] if compound else name[:1]) + keep if keep else ""


def _name_ok(norm: str, start: int, full: str, weak: bool) -> bool:
    """Whether ``full`` at ``start`` is taken for a name (not a word or a place)."""
    after = norm[start + len(full):start + len(full) + 1]
    if full[:2] in _NOT_NAMES or (after and after in _PLACE_SUFFIX):
        return False
    if weak and full[0] in _AMBIGUOUS_SURNAMES and full[:2] not in _SURNAMES_2:
        # 我是高伟，… yes; 我是高速… no: only at the end of a phrase
        return not after or not ("\u4e00" <= after <= "\u9fff") or after in "在的电手联是了称说"
    return True


def _find_names(norm: str) -> Iterator[Span]:
    taken: list[int] = []
    for m in _NAME_RE.finditer(norm):
        full = _given_name(m.group("name"))
        start = m.start("name")
        if full and _name_ok(norm, start, full, m.group("weak") is not None):
            taken.append(start)
            yield start, start + len(full), mask_name(full)
    for m in _ANY_NAME_RE.finditer(norm):
        if m.start("name" if m.group("name") else "said") in taken:
            continue   # found above, with the surname list's better idea of its length
        said = m.group("said")
        name, start = (said, m.start("said")) if said else (m.group("name"), m.start("name"))
        full = ""
        for ch in name:
            if ch in _NAME_STOP:
                break
            full += ch
        if len(full) < 2 or full[:2] in _NOT_NAMES or full[-1] in _ROLE_ENDINGS \
                or (said and len(full) < len(said)) \
                or norm[start + len(full):start + len(full) + 1] in _PLACE_SUFFIX | {"*"}:
            continue
        yield start, start + len(full), mask_name(full)
    for m in _NAME_BY_PHONE_RE.finditer(norm):
        name, start = m.group("name"), m.start("name")
        if start not in taken and name[:2] not in _NOT_NAMES \
                and not any(ch in _NAME_STOP for ch in name[1:]) \
                and not norm[start + 1:].startswith(_HONORIFICS):
            yield start, start + len(name), mask_name(name)
    for m in _NAME_SIGNED_RE.finditer(norm):
        group = "paren" if m.group("paren") else "name"
        name, start = m.group(group), m.start(group)
        if start not in taken and name[:2] not in _NOT_NAMES and len(name) >= 2 \
                and not any(ch in _NAME_STOP for ch in name[1:]):
            taken.append(start)
            yield start, start + len(name), mask_name(name)
    for m in _SURNAME_THEN_NAME_RE.finditer(norm):
        name, start = m.group("name"), m.start("name")
        if name.startswith(m.group("sur")):
            full = _given_name(name) or ""
        else:   # the given name alone: 我姓王，叫小明
            full = ""
            for ch in name[:2]:
                if ch in _NAME_STOP:
                    break
                full += ch
        if len(full) >= 2 and full[:2] not in _NOT_NAMES \
                and norm[start + len(full):start + len(full) + 1] != "*":
            yield start, start + len(full), mask_name(full)


def _find_accounts(norm: str) -> Iterator[Span]:
    for m in _EMAIL_RE.finditer(norm):
        user = m.group("user")
        yield m.start("user"), m.end("user"), user[0] + "***"
    for m in _MENTION_RE.finditer(norm):
        name = m.group("name")
        if norm[m.end():m.end() + 1] == "*" or is_public_account(name):
            continue   # masked already, or an institution's account
        yield m.start("name"), m.end("name"), mask_screen_name(name)
    for m in _IM_RE.finditer(norm):
        yield m.start("acc"), m.end("acc"), "***"


_FINDERS: tuple[tuple[str, Callable[[str], Iterator[Span]]], ...] = (
    ("id_number", _find_ids), ("bank_card", _find_cards), ("phone", _find_phones),
    ("plate", _find_plates), ("name", _find_names), ("account", _find_accounts))


def _apply(text: str, spans: list[Span]) -> str:
    spans = sorted(spans)
    out, pos = [], 0
    for start, end, repl in spans:
        if start < pos:
            continue  # overlapping finds: the first one wins, the next pass sees the rest
        out.append(text[pos:start])
        out.append(repl)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _one_pass(text: str) -> tuple[str, bool]:
    changed = False
    for _kind, finder in _FINDERS:
        spans = list(finder(normalise(text)))
        if spans:
            new = _apply(text, spans)
            changed = changed or new != text
            text = new
    return text, changed


def mask_text(text: str) -> str:
    """Mask every phone number, ID and bank card number, plate, cued name and private
    account found in ``text``."""
    if not isinstance(text, str) or not text:
        return text
    # every pass replaces at least one letter or digit by '*', so this ends
    for _ in range(len(text) + 1):
        text, changed = _one_pass(text)
        if not changed:
            break
    return text


def _fold(text: str) -> str:
    """Normalised, ASCII letters in lower case; one character per character."""
    return "".join(c.lower() if c.isascii() else c for c in normalise(text))


def mask_known(text: str, names: Iterable[str] = (), numbers: Iterable[str] = ()) -> str:
    """``text`` with values known to be personal masked wherever they appear: ``names``
    (a caller's name, a screen name; compared after normalisation) and ``numbers`` (a
    caller's phone; found whatever separators the text puts between its digits)."""
    if not isinstance(text, str) or not text:
        return text
    for value in sorted({n.strip() for n in names if isinstance(n, str) and n.strip()},
                        key=len, reverse=True):
        needle = _fold(value)
        if len(needle) < 2:
            continue
        repl = mask_name(value) if not needle.isascii() else needle[:1] + "**"
        spans, pos, hay = [], 0, _fold(text)
        while (pos := hay.find(needle, pos)) >= 0:
            spans.append((pos, pos + len(needle), repl))
            pos += len(needle)
        text = _apply(text, spans)
    for value in numbers:
        digits = _digits(value) if isinstance(value, str) else ""
        if len(digits) < 7:
            continue
        rx = re.compile(r"(?<!\d)" + r"[\s\-._/·\\|~]{0,2}".join(digits) + r"(?!\d)")
        text = _apply(text, [(m.start(), m.end(), mask_phone(digits))
                             for m in rx.finditer(normalise(text))])
    return text


# -- what restricted audiences see ------------------------------------------------------
_RUN_SEP = r"[\s.\-_/·\\|~、,]"
_DIGIT_RUN_RE = re.compile(rf"\d+(?:{_RUN_SEP}{{1,2}}\d+)*")
_CN_DIGITS_RE = re.compile(rf"[〇零一二三四五六七八九幺两](?:{_RUN_SEP}?[〇零一二三四五六七八九幺两]){{6,}}")
# safe number shapes, blanked before runs are counted
_TIME_RE = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?:\.\d{1,6})?"
                      r"(?:\s?(?:Z|[+-]\d{2}:?\d{2}))?(?!\d)")
_DATE_RE = re.compile(r"(?<!\d)(?:19|20)\d\d(?P<s>[-/.])(?:0?[1-9]|1[0-2])(?P=s)"
                      r"(?:0?[1-9]|[12]\d|3[01])(?![\d])")
_IPV4_RE = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}"
                      r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d]|\.\d)")
_DECIMAL_RE = re.compile(r"^\d+\.\d+$")
_STRONG_RESIDUE_RE = re.compile(
    r"(?:我叫|我的名字是|名字[是叫:：]|名叫|姓名|我姓[\u4e00-\u9fff]{1,2}[，,\s]*(?:名?叫|名(?!叫)))"
    r"[:：\s]*(?P<name>[\u4e00-\u9fff]{2})")
_WEAK_RESIDUE_RE = re.compile(r"我是(?P<name>[\u4e00-\u9fff]{2,3})(?=$|[\s，,。.!！?？、;；:：~…)）])")


def _blank(text: str, rx: re.Pattern) -> str:
    return rx.sub(lambda m: "#" * len(m.group(0)), text)


def _long_digit_runs(norm: str) -> list[str]:
    """Runs of digits (separators between them removed) of 7 or more digits, after
    dates, times, IPv4 addresses and plain decimals are set aside."""
    text = _blank(_blank(_blank(norm, _TIME_RE), _DATE_RE), _IPV4_RE)
    out = []
    for m in _DIGIT_RUN_RE.finditer(text):
        run = m.group(0)
        # a list of decimals ("117.089142,36.18413") is numbers, not one number
        pieces = re.split(r"[,\s]+", run) if "," in run and "." in run else [run]
        for piece in pieces:
            parts = piece.split(".") if _DECIMAL_RE.match(piece) else [re.sub(r"\D", "", piece)]
            out += [p for p in parts if len(p) >= 7]
    return out


def residual_pii(text: str) -> list[str]:
    """What in an already masked ``text`` still looks like personal data: "digits" (a
    number of 7+ digits, separators removed: a phone, an ID, a card, a ticket of a
    citizen), "cn_digits" (seven Chinese numerals), "name" (a name after a cue),
    "account", or any kind ``contains_pii`` finds. Empty when the text may be shown to
    an audience that may see no personal data."""
    if not isinstance(text, str) or not text:
        return []
    norm = normalise(text)
    found = list(contains_pii(norm))
    if _long_digit_runs(norm):
        found.append("digits")
    if _CN_DIGITS_RE.search(norm):
        found.append("cn_digits")
    for m in _STRONG_RESIDUE_RE.finditer(norm):
        after = norm[m.end("name"):m.end("name") + 1]
        if m.group("name") not in _NOT_NAMES and not (after and after in _PLACE_SUFFIX) \
                and not norm[m.start("name") + 1:].startswith(_HONORIFICS):
            found.append("name")
            break
    for m in _WEAK_RESIDUE_RE.finditer(norm):
        name = m.group("name")
        if name[:2] not in _NOT_NAMES and name[-1] not in _ROLE_ENDINGS \
                and not any(c in _NAME_STOP for c in name):
            found.append("name")
            break
    return list(dict.fromkeys(found))


def text_for_restricted(text: str) -> str:
    """Text for an audience that may see no personal data (anonymous callers, the wall,
    auxiliary police): masked, and withheld ("内容已隐藏") when anything that still looks
    like personal data remains after masking. "" when there is no text or masking
    itself fails (fail closed: never the unmasked text)."""
    if not text or not isinstance(text, str):
        return ""
    try:
        out = mask_text(text)
        if not isinstance(out, str):
            return ""
        return WITHHELD if residual_pii(out) else out
    except Exception:  # noqa: BLE001 - never show unmasked text
        return ""


def mask_or_empty(text: str) -> str:
    """``mask_text`` for screens whose audience gets masked text without the residual
    check (an officer's quarantine view): "" when masking itself fails."""
    if not text or not isinstance(text, str):
        return ""
    try:
        out = mask_text(text)
        return out if isinstance(out, str) else ""
    except Exception:  # noqa: BLE001 - never show unmasked text
        return ""


def mask_for_public(text: str) -> str:
    """Text fit to show outside the desk (the wall, the public API, the public query):
    ``text_for_restricted``, so "" when masking fails and "内容已隐藏" when a residue
    of personal data remains."""
    return text_for_restricted(text)


def contains_pii(text: str) -> list[str]:
    """Kinds of personal data still present in ``text`` ("id_number", "bank_card",
    "phone", "plate", "name", "account"), full-width forms included; empty when there
    is none."""
    if not isinstance(text, str) or not text:
        return []
    norm = normalise(text)
    kinds: list[str] = []
    taken: list[tuple[int, int]] = []
    for kind, finder in _FINDERS:
        spans = [(s, e) for s, e, _ in finder(norm)]
        # a span an earlier kind found already (an ID is also 18 digits of a card) is that kind
        if any(not any(a < e and s < b for a, b in taken) for s, e in spans) \
                and kind not in kinds:
            kinds.append(kind)
        taken += spans
    return kinds


# -- text drawn inside plotly figures -----------------------------------------------------
_PLOTLY_PLAIN = str.maketrans({"<": "＜", ">": "＞", "&": "＆"})


def plotly_text(text: object) -> str:
    """A string safe to put into a plotly figure's text, hovertext, legend name or
    hovertemplate: plotly draws a subset of HTML there (``<a href>`` becomes a link,
    ``<br>``, ``<b>`` …), so angle brackets and ampersands become their full-width forms,
    which read the same. (HTML entities are no fit: MapLibre draws the text of map
    labels as it is, so "&lt;" would be shown as such.)"""
    return ("" if text is None else str(text)).translate(_PLOTLY_PLAIN)
