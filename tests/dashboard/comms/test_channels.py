"""Channel length rules with Chinese, ASCII and emoji (see dashboard/comms/channels.py)."""
import pytest

from dashboard.comms.bulletins import Bulletin
from dashboard.comms.channels import (CHANNELS, cut, grapheme_len, graphemes, render, render_all,
                                sms_encoding, sms_parts, sms_units, weibo_length, weibo_preview)

FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"   # 👨‍👩‍👧: 5 code points, 8 UTF-16 units
CAR = "\U0001F697"                                       # 🚗: one surrogate pair
FLAG = "\U0001F1E8\U0001F1F3"                            # 🇨🇳
THUMB = "\U0001F44D\U0001F3FD"                           # 👍🏽
KEYCAP = "1\ufe0f\u20e3"                                 # 1️⃣
ZH = "东岳大街泰山大街灵山大街岱宗大街财源大街"              # 20 Chinese characters


def b(body: str, title: str = "路况播报", **kw) -> Bulletin:
    return Bulletin("traffic", title, body, **kw)


@pytest.mark.parametrize("text, n", [
    ("东岳大街", 4), ("abc", 3), (FAMILY, 1), (CAR + CAR, 2), (FLAG, 1), (THUMB, 1),
    (KEYCAP, 1), ("e\u0301", 1), ("x\r\ny", 3), ("", 0),
])
def test_grapheme_clusters(text, n):
    assert grapheme_len(text) == n
    assert "".join(graphemes(text)) == text


@pytest.mark.parametrize("text, n", [
    ("东岳大街", 4),
    ("ab", 1), ("abc", 2),                      # ASCII counts ½, rounded up
    ("泰安 G3", 4),                              # 2 + 1.5
    ("详情 https://example.com/a/b/c?x=1", 13),  # 2 + ½ + a link counts 10
    (FAMILY + CAR + FLAG, 3),                   # each emoji cluster counts 1
])
def test_weibo_counts_like_weibo(text, n):
    assert weibo_length(text) == n


def test_weibo_preview_is_cut_at_140_without_splitting_links_or_emoji():
    long_zh = ZH * 10                                      # 200 字
    p = weibo_preview(long_zh)
    assert p == long_zh[:139] + "…" and weibo_length(p) == 140
    ascii_text = "a" * 300                                 # 150 字
    assert weibo_preview(ascii_text) == "a" * 278 + "…"
    with_link = "路" * 135 + " http://t.cn/A6abcdef"      # 135 + ½ + 10
    assert weibo_length(with_link) == 146
    assert weibo_preview(with_link) == "路" * 135 + " …"
    emoji_text = CAR * 150
    assert weibo_preview(emoji_text) == CAR * 139 + "…"
    short = "路况良好"
    assert weibo_preview(short) == short


def test_weibo_channel_limit_and_preview():
    ct = render(b(ZH * 3, hashtags=("泰安路况",), mentions=("泰安发布",)), "weibo")
    assert ct.text == "#泰安路况#【路况播报】" + ZH * 3 + " @泰安发布"
    # #泰安路况# ½+4+½, 【路况播报】 6, body 60, " @泰安发布" ½+½+4
    assert (ct.length, ct.limit, ct.segments, ct.over) == (76, 2000, 1, False)
    assert ct.preview == ct.text and ct.note == ""
    big = render(b(ZH * 101), "weibo")                     # 2020 + 6 > 2000
    assert big.over and big.length == 2026
    assert big.note == "信息流显示前140字" and weibo_length(big.preview) == 140


@pytest.mark.parametrize("body_len, units, segments, limit", [
    (59, 70, 1, 70),     # 【泰安交警】(6) 路况播报(4) ：(1) + 59 = 70: one message
    (60, 71, 2, 67),     # one more: two parts of at most 67
    (123, 134, 2, 67),
    (124, 135, 3, 67),
])
def test_sms_segments_with_the_signature(body_len, units, segments, limit):
    ct = render(b("路" * body_len), "sms")
    assert ct.text.startswith("【泰安交警】路况播报：")
    assert (ct.length, ct.segments, ct.limit) == (units, segments, limit)
    assert all(n <= limit for _, _, n, _ in ct.parts)
    assert "".join(p[1] for p in ct.parts) == ct.text


def test_sms_counts_emoji_as_utf16_units_and_never_splits_them():
    assert render(b("路" * 57 + CAR), "sms").segments == 1      # 11 + 57 + 2 = 70
    assert render(b("路" * 58 + CAR), "sms").segments == 2      # 71
    assert render(b("路" * 51 + FAMILY), "sms").length == 70    # a ZWJ family takes 8
    ct = render(b("路" * 55 + CAR + "路" * 20), "sms")           # 66 + 🚗 would make 68
    assert ct.parts[0][2] == 66 and ct.parts[1][1].startswith(CAR)


def test_sms_gsm_alphabet_when_there_is_no_chinese():
    assert sms_encoding("Road closed") == "gsm7" and sms_encoding("路") == "ucs2"
    assert len(sms_parts("a" * 160)) == 1
    assert [len(p) for p in sms_parts("a" * 161)] == [153, 8]
    assert sms_units("{" * 80) == 160 and len(sms_parts("{" * 80)) == 1
    assert len(sms_parts("{" * 81)) == 2                       # extension chars take 2
    ct = render(b("Road closed", title="Notice"), "sms", sms_signature="")
    assert (ct.length, ct.limit, ct.unit) == (len("Notice：Road closed"), 70, "字")  # "：" is UCS-2


def test_sms_over_after_three_parts():
    assert not render(b("路" * 190), "sms").over     # 201 units: 3 parts
    assert render(b("路" * 191), "sms").over         # 202 units: 4 parts


def test_wechat_title_and_digest():
    body = "第一句话说明情况。" * 20                       # 180 characters, sentences of 9
    ct = render(b(body, title="标" * 64), "wechat")
    title, digest, whole = ct.parts
    # the headline number is the body against its limit (not the title's length)
    assert (ct.length, ct.limit, ct.over) == (180, 20_000, False)
    assert (title[2], title[3]) == (64, 64)
    assert digest[1] == "第一句话说明情况。" * 13 and digest[2] == 117
    assert whole[2] == 180
    assert render(b(body, title="标" * 65), "wechat").over
    one_sentence = render(b("路" * 130), "wechat")            # no sentence end: cut
    assert one_sentence.preview == "路" * 119 + "…"
    assert "#" not in render(b("#泰安路况#东岳大街拥堵"), "wechat").text


def test_push_title_20_body_50_visible():
    ok = render(b("路" * 50, title="路况播报"), "push")
    assert (ok.length, ok.limit, ok.over) == (50, 50, False)
    long = render(b("路" * 51 + CAR, title="泰" * 21), "push")
    assert long.over and long.length == 52
    title_line, body_line = long.preview.split("\n")
    assert grapheme_len(title_line) == 20 and title_line.endswith("…")
    assert grapheme_len(body_line) == 50 and body_line.endswith("…")
    emoji_body = render(b(CAR * 50), "push")                  # 50 clusters, 100 units
    assert not emoji_body.over


def test_website_has_no_limit():
    ct = render(b(ZH * 500), "web")
    assert ct.limit == 0 and not ct.over and ct.length == 4 + 1 + 10_000


def test_every_channel_renders_and_unknown_is_refused():
    out = render_all(b("东岳大街拥堵"))
    assert set(out) == set(CHANNELS)
    with pytest.raises(ValueError, match="unknown channel"):
        render(b("x"), "fax")


def test_cut_keeps_whole_graphemes():
    assert cut(FAMILY * 5, 3) == FAMILY * 2 + "…"
    assert cut("abc", 3) == "abc"


def test_wechat_counter_counts_the_body_not_the_title():
    short_title = render(b("路" * 300, title="路况"), "wechat")
    assert (short_title.length, short_title.limit) == (300, 20_000)
    assert short_title.parts[0][2] == 2              # the title still has its own count
    long_body = render(b("路" * 20_001, title="路况"), "wechat")
    assert long_body.over and long_body.length == 20_001
