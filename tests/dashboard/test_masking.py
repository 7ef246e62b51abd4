"""PII masking: single fields, free text, full-width forms, properties; the forms issue 15
found unmasked, the residual check for restricted audiences, and the PII corpus
(``tests/pii_corpus.txt``) through the maskers."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings as hsettings, strategies as st

from dashboard.masking import (
    WITHHELD, contains_pii, is_public_account, mask_for_public, mask_id_number, mask_known,
    mask_name, mask_phone, mask_plate, mask_text, normalise, plotly_text, residual_pii,
    text_for_restricted,
)
from tests.pii_corpus import hits, load

PII_KINDS = {"phone", "plate", "id_number"}


def fullwidth(text: str) -> str:
    """ASCII digits/letters/dashes to their full-width forms."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# -- single fields ----------------------------------------------------------------------
@pytest.mark.parametrize("raw, masked", [
    ("13812341234", "138****1234"),
    ("138-1234-5678", "138****5678"),
    ("+86 138 1234 5678", "+86 138****5678"),
    ("８６１３８１２３４５６７８", "+86 138****5678"),
    ("0538-1234567", "0538-***4567"),
    ("010-87654321", "010-****4321"),
    ("8261234", "***1234"),
])
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw, masked", [
    ("鲁J12345", "鲁J·1***5"),
    ("鲁J·12345", "鲁J·1***5"),
    ("鲁 J 1234 5", "鲁J·1***5"),
    ("鲁JD12345", "鲁J·D****5"),
    ("鲁Ｊ１２３４５", "鲁J·1***5"),
    ("鲁j8a2b3", "鲁J·8***3"),
])
def test_mask_plate(raw, masked):
    assert mask_plate(raw) == masked


@pytest.mark.parametrize("raw, masked", [
    ("张三", "张*"), ("李小龙", "李**"), ("欧阳娜娜", "欧**"), ("王", "*"), ("", ""),
])
def test_mask_name(raw, masked):
    assert mask_name(raw) == masked


def test_mask_id_number():
    assert mask_id_number("370902199001011234") == "370902********1234"
    assert mask_id_number("37090219900101123x") == "370902********123X"
    assert mask_id_number("３７０９０２１９９００１０１１２３４") == "370902********1234"


# -- free text --------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("长城路泰玻大街路口追尾，我电话13812345678", "长城路泰玻大街路口追尾，我电话138****5678"),
    ("联系电话：１３９－０５３８－６６７７", "联系电话：139****6677"),
    ("电话 +86 135 3800 1122 谢谢", "电话 +86 135****1122 谢谢"),
    ("手机（＋８６）１５８　１２３４　５６７８", "手机+86 158****5678"),
    ("座机0538-8261234转分机", "座机0538-***1234转分机"),
    ("打8613812345678找我", "打+86 138****5678找我"),
    ("座机（0538）8261234", "座机0538-***1234"),
    ("鲁J12345和鲁JF1234剐蹭了", "鲁J·1***5和鲁J·F***4剐蹭了"),
    ("车牌鲁Ｊ·８８８６６追尾", "车牌鲁J·8***6追尾"),
    ("鲁 J 1234 5 违停在岱庙门口", "鲁J·1***5 违停在岱庙门口"),
    ("身份证号370902199001011234，", "身份证号370902********1234，"),
    ("我叫张三，在龙潭路被追尾", "我叫张*，在龙潭路被追尾"),
    ("姓名：欧阳娜娜 电话13800001111", "姓名：欧** 电话138****1111"),
    ("联系人李小龙13800001111", "联系人李**138****1111"),
    ("车主王刚在现场", "车主王*在现场"),
    ("电话8261234找刘师傅", "电话***1234找刘师傅"),
])
def test_mask_text_examples(text, expected):
    assert mask_text(text) == expected
    assert contains_pii(text)
    assert not contains_pii(expected)


@pytest.mark.parametrize("text", [
    "东岳大街迎胜路口17:30起车多缓行",
    "G3京台高速K512+300处施工，预计2026-10-01完工",
    "泰山大街东向西3.5公里排队，拨打12345或122",
    "12122高速服务热线，110报警",
    "S31泰新高速泰安东收费站 10-15分钟",
    "2026年10月1日至10月7日 早7:00-9:00 晚17:00-19:30",
    "车速20km/h，排队约800米，用时35分钟",
    "张先生反映灵山大街积水约0.3米",
    "张先生和李女士都没事",
    "京台高速 京沪高速 沪蓉高速",
    "第1,234,567位网友 阅读2065899次",
])
def test_non_pii_unchanged(text):
    assert mask_text(text) == text
    assert contains_pii(text) == []


def test_contains_pii_kinds():
    assert contains_pii("鲁J12345") == ["plate"]
    assert contains_pii("１３８１２３４５６７８") == ["phone"]
    assert contains_pii("370902199001011234") == ["id_number"]
    assert contains_pii("我叫张三") == ["name"]
    assert contains_pii("138****5678 鲁J·1***5 370902********1234 我叫张*") == []


def test_normalise_keeps_length():
    text = "１３８　１２３４－５６７８・鲁Ｊ"
    assert len(normalise(text)) == len(text)
    assert normalise(text) == "138 1234-5678·鲁J"


# -- properties -------------------------------------------------------------------------
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
SEPS = st.sampled_from(["", "", "", " ", "-", "　", "－", "—"])
FILLER = st.sampled_from([
    "", "东岳大街", "长城路泰玻大街路口", "追尾了", "@泰山交警", "😂", "，", "。", " ", "17:30",
    "2026-10-01", "3.5公里", "12345", "122", "堵死了", "鲁", "电话", "手机", "车牌", "号码是",
])


@st.composite
def mobiles(draw):
    digits = "1" + draw(st.sampled_from("3456789")) + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9)))
    groups = [digits[:3], digits[3:7], digits[7:]]
    sep = draw(SEPS)
    text = sep.join(groups)
    if draw(st.booleans()):
        text = draw(st.sampled_from(["+86", "+86 ", "0086", "（+86）"])) + text
    if draw(st.booleans()):
        text = fullwidth(text)
    return text


@st.composite
def landlines(draw):
    area = draw(st.sampled_from(["0538", "010", "0531", "021", "0635"]))
    local = draw(st.sampled_from("123456789")) + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=7)))
    text = area + draw(st.sampled_from(["-", "", " ", "－"])) + local
    return fullwidth(text) if draw(st.booleans()) else text


@st.composite
def plates(draw):
    prov = draw(st.sampled_from(PROVINCES))
    city = draw(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjk"))
    size = draw(st.sampled_from([5, 6]))
    body = draw(st.lists(st.sampled_from("0123456789"), min_size=size, max_size=size))
    if draw(st.booleans()):
        body[draw(st.integers(0, size - 1))] = draw(st.sampled_from("ABDFHJK"))
    sep = draw(st.sampled_from(["", "·", " ", "・", "-", "•"]))
    tail = "".join(body)
    if draw(st.booleans()):
        tail = tail[:4] + " " + tail[4:]
    text = prov + city + sep + tail
    return fullwidth(text) if draw(st.booleans()) else text


@st.composite
def id_numbers(draw):
    body = draw(st.sampled_from("123456789")) + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=16, max_size=16)))
    text = body + draw(st.sampled_from("0123456789X"))
    return fullwidth(text) if draw(st.booleans()) else text


PII = st.one_of(mobiles(), landlines(), plates(), id_numbers())


@st.composite
def reports(draw):
    parts = draw(st.lists(st.one_of(FILLER, PII), min_size=1, max_size=8))
    return "".join(parts)


@hsettings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(FILLER, PII), min_size=1, max_size=4), FILLER)
def test_masked_text_has_no_pii(pairs, end):
    # each piece of PII follows a filler that ends in a non-digit or nothing
    text = "".join(f + " " + p for f, p in pairs) + " " + end
    found = set(contains_pii(text))
    assert found & PII_KINDS, text
    masked = mask_text(text)
    assert not set(contains_pii(masked)) & PII_KINDS, (text, masked)
    assert mask_text(masked) == masked


@hsettings(max_examples=400, deadline=None)
@given(reports())
def test_masking_is_idempotent_and_complete(text):
    masked = mask_text(text)
    assert mask_text(masked) == masked
    assert not set(contains_pii(masked)) & PII_KINDS, (text, masked)


NOISE = st.lists(st.sampled_from(
    list("0123456789０１２３４５６７８９ -－—·・+（）()*Xx鲁京JjDdF") + ["　", "\u200b", "我叫", "张", "三"]),
    max_size=60).map("".join)


@hsettings(max_examples=600, deadline=None)
@given(NOISE)
def test_masking_arbitrary_noise(text):
    masked = mask_text(text)
    assert mask_text(masked) == masked
    assert not set(contains_pii(masked)) & PII_KINDS, (text, masked)


NON_PII = st.lists(st.sampled_from([
    "东岳大街", "泰山大街", "龙潭路", "迎胜路口", "G3京台高速", "S31泰新高速", "K512+300",
    "17:30", "7:05", "2026-10-01", "2026年10月1日", "10-15分钟", "3.5公里", "800米",
    "40km/h", "12345", "122", "110", "12122", "@泰山交警", "#国庆出行#", "东向西", "南行",
    "拥堵", "追尾", "施工", "积水", "，", "。", " ", "😡", "张先生", "李女士", "王师傅",
    "第3车道", "2车道", "100%", "阅读65605", "467条", "1号线",
]), max_size=12)


@hsettings(max_examples=300, deadline=None)
@given(NON_PII, st.sampled_from(["，", " ", "。", "、", "\n"]))
def test_non_pii_text_left_unchanged(parts, sep):
    # numbers in real text are separated by words or punctuation; glued together,
    # "12122"+"12122"+... is an 18-digit number and is rightly masked as an ID, and bare
    # numbers with only spaces between them ("12345 12345 12345 122") are how phones, IDs
    # and bank cards are written in groups: masked too
    assume(not (sep in (" ", "\n") and any(a.isdigit() and b.isdigit()
                                           for a, b in zip(parts, parts[1:]))))
    text = sep.join(parts)
    assert mask_text(text) == text
    assert contains_pii(text) == []


# -- what public screens show ------------------------------------------------------------
def test_mask_for_public_masks_and_fails_closed(monkeypatch):
    import dashboard.masking

    assert mask_for_public("电话13812345678") == mask_text("电话13812345678")
    assert "13812345678" not in mask_for_public("电话13812345678")
    assert mask_for_public("") == "" and mask_for_public(None) == ""  # type: ignore[arg-type]
    monkeypatch.setattr(dashboard.masking, "mask_text", lambda text: None)
    assert mask_for_public("电话13812345678") == ""

    def broken(text):
        raise RuntimeError("masking broke")
    monkeypatch.setattr(dashboard.masking, "mask_text", broken)
    assert mask_for_public("电话13812345678") == ""


# -- issue 15: what the masking missed, and defence in depth --------------------------------
@pytest.mark.parametrize("text, expected", [
    # names after a self-introduction, and the surname-then-name form
    ("我是张伟，在东岳大街被追尾", "我是张*，在东岳大街被追尾"),
    ("我是孙强", "我是孙*"),
    ("我姓王叫王小明，车停在红门路", "我姓王叫王**，车停在红门路"),
    ("我姓李，名叫李娜", "我姓李，名叫李*"),
    ("我叫甯浩，在泰山大街", "我叫甯*，在泰山大街"),          # a surname the list lacks
    ("我是甯伟，", "我是甯*，"),
    ("请处理。冯刚 152-9755-0706", "请处理。冯* 152****0706"),  # signed next to a phone
    ("失主林峰", "失主林*"),
    # phones with other separators
    ("电话139.8765.4321", "电话139****4321"),
    ("手机138_1111_2222", "手机138****2222"),
    ("139/8765/4321", "139****4321"),
    ("139·8765·4321", "139****4321"),
    ("１３９．８７６５．４３２１", "139****4321"),
    ("座机0538.8261234", "座机0538-***1234"),
    # IDs in groups, bank cards
    ("身份证3709 0219 9001 0112 34", "身份证370902********1234"),
    ("3709.0219.9001.0112.3X", "370902********123X"),
    ("370902-19900101-1234", "370902********1234"),
    ("卡号6222 0212 3456 7890", "卡号************7890"),
    # plates with a separator
    ("鲁J/66666追尾", "鲁J·6***6追尾"),
    ("鲁J_A1B23", "鲁J·A***3"),
    # accounts
    ("//@泰安小李:东岳大街堵死了 //@泰山交警: 已处置", "//@泰**:东岳大街堵死了 //@泰山交警: 已处置"),
    ("回复@张三丰:收到", "回复@张**:收到"),
    ("@泰安发布 @taian_mike 看看", "@泰安发布 @t** 看看"),
    ("邮箱zhangwei88@163.com", "邮箱z***@163.com"),
    ("加我微信 zw_19900101", "加我微信 ***"),
    ("QQ群 3704874710 交流路况", "QQ群 *** 交流路况"),
])
def test_issue_15_forms(text, expected):
    assert mask_text(text) == expected
    assert mask_text(expected) == expected
    assert residual_pii(expected) == []


def test_issue_15_quarantine_reason():
    reason = "来电时间: '13612345678' is not a date-time"
    assert mask_text(reason) == "来电时间: '136****5678' is not a date-time"
    assert text_for_restricted(reason) == mask_text(reason)


# ordinary traffic text: unchanged by the masking and shown in full to restricted audiences
TRAFFIC = [
    "东岳大街迎胜路口17:30起车多缓行", "2026-10-01 08:30 东岳大街 K512+300 施工",
    "INC-000123 长城路与泰玻大街路口 已派警", "segment dongyue-dajie-012 拥堵 3.5 km",
    "排队约800米，车速20km/h，用时35分钟", "预计2026/10/07 18:00恢复通行", "2026.10.01-2026.10.07 国庆假期",
    "我是路人，东岳大街堵了", "我是高速交警", "我是龙潭路上的", "我是王母池附近的商户",
    "本人开车经过，前方拥堵", "车主不在现场", "司机马上就到", "我是方向盘坏了的那辆车",
    "张先生反映灵山大街积水约0.3米", "@泰山交警 @泰安发布 东岳大街堵车", "G3京台高速K512+300至K518+100",
    "12122高速服务热线，110报警，122事故报警", "117.089142,36.18413 附近", "温度-3.5℃，路面结冰",
    "3、5、8路公交绕行", "第1车道、第2车道封闭", "周末全天限行尾号1和6", "时间 17:46:55 +0800 2026",
    "本次施工工期约45天", "上游 http://127.0.0.1:8061/waze timeout after 2.001 s",
]


@pytest.mark.parametrize("text", TRAFFIC)
def test_ordinary_traffic_text_is_left_alone(text):
    assert mask_text(text) == text
    assert contains_pii(text) == []
    assert residual_pii(text) == []
    assert text_for_restricted(text) == text


# -- the residual check ----------------------------------------------------------------------
@pytest.mark.parametrize("text, kind", [
    ("回电8261234", "digits"),                          # no area code, no cue the masker knows
    ("电话：138，1234，5678", "digits"),
    ("138、1234、5678", "digits"),
    ("X370902199001011234", "digits"),                  # glued to a letter: not taken for an ID
    ("一三九八七六五四三二一", "cn_digits"),
    ("姓名：亓鸿", None),                                # masked: a name after a strong cue
    ("我叫王师傅", None),
])
def test_residual_check(text, kind):
    masked = mask_text(text)
    if kind is None:
        assert residual_pii(masked) == []
    else:
        assert kind in residual_pii(masked), masked
        assert text_for_restricted(text) == WITHHELD


def test_residual_check_with_the_masker_gone(monkeypatch):
    """Defence in depth: with masking broken into a no-op the residual check alone still
    withholds every corpus line that holds a number, an ID or a name after a cue."""
    import dashboard.masking

    monkeypatch.setattr(dashboard.masking, "mask_text", lambda text: text)
    lines = load()
    shown = [ln for ln in lines if text_for_restricted(ln.text) != WITHHELD]
    assert len(shown) < len(lines) * 0.1, [ln.text for ln in shown][:5]


def test_text_for_restricted_fails_closed(monkeypatch):
    import dashboard.masking

    assert text_for_restricted("") == ""
    assert text_for_restricted(None) == ""  # type: ignore[arg-type]
    monkeypatch.setattr(dashboard.masking, "mask_text", lambda text: 5)
    assert text_for_restricted("电话13812345678") == ""


def test_mask_known_masks_a_column_value_wherever_it_is():
    text = "张伟报警：张伟的车在长城路被撞，回电139 8765 4321，车主张伟"
    out = mask_known(text, names=["张伟"], numbers=["13987654321"])
    assert "张伟" not in out and "张*" in out and "139****4321" in out
    assert mask_known("ＴａｉａｎＭｉｋｅ在红门路", names=["taianmike"]) == "t**在红门路"
    assert mask_known("东岳大街", names=["", " ", "王"], numbers=["12"]) == "东岳大街"


def test_public_accounts_are_kept_private_ones_masked():
    for name in ("泰山交警", "泰安发布", "人民日报", "泰山交警东岳大街堵了", "山东高速",
                 "济南交警", "济南发布提醒您", "新华社", "哈尔滨交警支队今晚"):
        assert is_public_account(name), name
    for name in ("泰安小李", "taian_mike", "爱跑步的阿杰", "交警小王"):
        assert not is_public_account(name), name


def test_plotly_text_is_plain():
    assert plotly_text('<a href="https://evil.example">T-101</a>') == \
        '＜a href="https://evil.example"＞T-101＜/a＞'
    assert plotly_text("A&B<br>") == "A＆B＜br＞" and plotly_text(None) == ""


# -- the corpus, through the maskers alone (the adapters and routes: tests/feeds,
# tests/callbacks) -----------------------------------------------------------------------
def test_the_corpus_masked_has_no_personal_value():
    lines = load()
    assert len(lines) >= 200
    found, withheld = [], 0
    for ln in lines:
        assert ln.values and hits(ln.text, ln.values), ln   # the search can fail
        known = mask_known(ln.text, names=[ln.name], numbers=[ln.phone])
        masked = mask_text(known)
        found += [(ln.n, h) for h in hits(masked, ln.values)]
        shown = text_for_restricted(known)
        found += [(ln.n, h) for h in hits(shown, ln.values)]
        withheld += shown == WITHHELD
    assert found == []
    assert withheld <= len(lines) * 0.05    # the residual check hides little ordinary text
