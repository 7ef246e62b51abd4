"""Masking of personal data (PII) in free text and in single fields.

Conventions (design.md §4): mobile ``138****1234``; landline keeps the area code and
the last 4 digits (``0538-***4567``); plate ``鲁J·1***5`` (province, city letter, first
and last character of the serial); names ``张*`` (first character, then at most two
stars: ``欧阳娜娜`` → ``欧**``, so the length of the name is not shown either); ID
numbers keep the first 6 and last 4 characters.

Decisions worth knowing:
- Full-width digits/letters (``１３８``, ``Ｊ``), the ideographic space, full-width and
  typographic dashes and middle dots, and zero-width characters are all treated like
  their ASCII counterparts when *finding* PII. Masked output is written in ASCII.
- A surname followed by an honorific (张先生, 李女士, 王师傅) is kept: it names no one.
  Names are only looked for after a cue (我叫, 姓名：, 联系人, 车主, 当事人 …); a bare
  name in a sentence cannot be told from ordinary words reliably.
- ``mask_text`` repeats its passes until nothing is found any more, so it is
  idempotent and ``contains_pii(mask_text(t))`` never reports a phone, plate or ID.
- ``mask_for_public`` is what the wall, the public API and the public road query show:
  ``mask_text``, failing closed to "" if masking itself breaks.
"""
from __future__ import annotations

import re
from typing import Callable, Iterator

# -- normalisation: one character in, one character out, so match spans line up -------
_NORM_MAP: dict[int, str] = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_NORM_MAP.update({0x3000: " ", 0x00A0: " ", 0x200B: " ", 0x200C: " ", 0x200D: " ",
                  0x2060: " ", 0xFEFF: " "})
for _dash in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE63):
    _NORM_MAP[_dash] = "-"
for _dot in (0x00B7, 0x30FB, 0x2022, 0x2027, 0x2219, 0xFF65, 0x22C5):
    _NORM_MAP[_dot] = "·"
_NORM = str.maketrans(_NORM_MAP)


def normalise(text: str) -> str:
    """Full-width and look-alike characters to ASCII, keeping every character's index."""
    return text.translate(_NORM)


# -- patterns (applied to the normalised text) ----------------------------------------
_SEP = r"[\s\-]{0,3}"
_ID_RE = re.compile(
    r"(?<![0-9A-Za-z])([1-9]\d{5})[\s\-]?(\d{8})[\s\-]?(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(
    r"(?<!\d)(?P<cc>\(?(?:(?:\+|00)\s?)?86\)?[\s\-]{0,3})?"
    rf"(?P<num>1{_SEP}[3-9](?:{_SEP}\d){{9}})(?!\d)")
_LANDLINE_RE = re.compile(
    r"(?<!\d)\(?(?P<area>0(?:10|2\d|[3-9]\d\d))\)?[\s\-]{0,3}"
    r"(?P<num>[1-9](?:[\s\-]?\d){6,7})(?!\d)")
# a number right after a contact cue, even without an area code ("电话8261234")
_CUE_PHONE_RE = re.compile(
    r"(?:电话|手机号?码?|联系方式|联系号码|号码|tel|TEL|Tel|call|CALL)[:\s]{0,3}"
    r"(?P<num>\d(?:[\s\-]?\d){6,11})(?!\d)")
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PSEP = r"[\s·.\-]"
_PLATE_RE = re.compile(
    rf"(?P<prov>[{_PROVINCES}]){_PSEP}{{0,2}}(?P<city>[A-Za-z]){_PSEP}{{0,2}}"
    rf"(?P<tail>[A-Za-z0-9](?:{_PSEP}?[A-Za-z0-9]){{3,4}}{_PSEP}?[A-Za-z0-9挂学警港澳领])"
    r"(?![A-Za-z0-9])")

_SURNAMES_2 = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐",
               "夏侯", "长孙", "宇文", "司徒", "端木", "独孤", "南宫", "西门", "申屠", "轩辕")
_SURNAMES_1 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝游辛靳管柴鲍华喻祁蒲房滕屈饶解"
    "牟艾尤阳时穆农司卓古吉缪简项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
    "姬和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")
_HONORIFICS = ("先生", "女士", "小姐", "师傅", "同志", "警官", "老师", "阿姨", "大爷", "大姐",
               "大哥", "大叔", "大妈", "老板", "经理", "总", "某")
# characters that end a name: grammar words, punctuation, and what usually follows one
_NAME_STOP = set("在的是了和与及从到往向去来被把给跟对说讲电手联车号码现已也都就还要我你他她它"
                 "们这那个辆路街道口桥站附近处里上下边等先女师同警老阿大某开驾骑停堵撞")
_NAME_CUE = (r"(?:我叫|我的名字是|名字叫|名叫|本人|姓名[:：\s]*|名字[:：\s]*|联系人[:：\s]*"
             r"|联系(?!方式|电话|号码|人)|报警人[:：\s]*|报料人[:：\s]*|举报人[:：\s]*"
             r"|车主[:：\s]*|当事人[:：\s]*|驾驶员[:：\s]*|司机[:：\s]*|伤者[:：\s]*)")
_NAME_RE = re.compile(
    _NAME_CUE + r"\s*(?P<name>(?:" + "|".join(_SURNAMES_2) + r"|[" + _SURNAMES_1 + r"])"
    r"(?!" + "|".join(_HONORIFICS) + r")[\u4e00-\u9fff]{1,2})")

KINDS = ("id_number", "phone", "plate", "name")


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


# -- finding PII in free text ---------------------------------------------------------
Span = tuple[int, int, str]  # start, end, replacement


def _find_ids(norm: str) -> Iterator[Span]:
    for m in _ID_RE.finditer(norm):
        yield m.start(), m.end(), mask_id_number(m.group(0))


def _find_phones(norm: str) -> Iterator[Span]:
    taken: list[tuple[int, int]] = []
    for m in _MOBILE_RE.finditer(norm):
        cc = "+86 " if m.group("cc") else ""
        digits = _digits(m.group("num"))
        taken.append((m.start(), m.end()))
        yield m.start(), m.end(), f"{cc}{digits[:3]}****{digits[-4:]}"
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


def _find_names(norm: str) -> Iterator[Span]:
    for m in _NAME_RE.finditer(norm):
        name = m.group("name")
        compound = name[:2] in _SURNAMES_2
        given = name[2:] if compound else name[1:]
        keep = ""
        for ch in given:
            if ch in _NAME_STOP:
                break
            keep += ch
        if not keep:
            continue
        full = (name[:2] if compound else name[:1]) + keep
        start = m.start("name")
        yield start, start + len(full), mask_name(full)


_FINDERS: tuple[tuple[str, Callable[[str], Iterator[Span]]], ...] = (
    ("id_number", _find_ids), ("phone", _find_phones), ("plate", _find_plates),
    ("name", _find_names))


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
            text = _apply(text, spans)
            changed = True
    return text, changed


def mask_text(text: str) -> str:
    """Mask every phone number, plate, ID number and cued name found in ``text``."""
    if not isinstance(text, str) or not text:
        return text
    # every pass replaces at least one letter or digit by '*', so this ends
    for _ in range(len(text) + 1):
        text, changed = _one_pass(text)
        if not changed:
            break
    return text


def mask_for_public(text: str) -> str:
    """Text fit to show outside the desk: personal data masked, and "" when masking fails
    (fail closed: never show unmasked text)."""
    if not text:
        return ""
    try:
        out = mask_text(text)
        return out if isinstance(out, str) else ""
    except Exception:  # noqa: BLE001 - never show unmasked text
        return ""


def contains_pii(text: str) -> list[str]:
    """Kinds of personal data still present in ``text`` ("id_number", "phone", "plate",
    "name"), full-width forms included; empty when there is none."""
    if not isinstance(text, str) or not text:
        return []
    norm = normalise(text)
    return [kind for kind, finder in _FINDERS if next(iter(finder(norm)), None) is not None]
