"""The phone form's rules: the per-form token, categories, text, phone and plate."""
import pytest

from dashboard.citizen import report as R
from dashboard.citizen.stickers import derive_key

KEY = derive_key("secret-1", "taian")
SID = "sticker-id-AAAAAAAAAAAAAAAAAAAA"


def test_token_round_trip_and_refusals():
    tok = R.form_token(KEY, SID, 1_800_000_000)
    opened, nonce = R.check_token(KEY, tok, SID, 1_800_000_100)
    assert opened == 1_800_000_000 and len(nonce) == 8
    assert R.form_token(KEY, SID, 1_800_000_000) != tok        # a new nonce each form
    for bad in (lambda: R.check_token(KEY, tok, SID + "x", 1_800_000_100),
                lambda: R.check_token(KEY, tok, SID, 1_800_000_000 + R.TOKEN_MAX_AGE_S + 1),
                lambda: R.check_token(KEY, tok, SID, 1_799_999_000),
                lambda: R.check_token(derive_key("other", "taian"), tok, SID, 1_800_000_100),
                lambda: R.check_token(KEY, tok[:-2] + "AA", SID, 1_800_000_100),
                lambda: R.check_token(KEY, "", SID, 1_800_000_100)):
        with pytest.raises(R.ReportError) as exc:
            bad()
        assert exc.value.status == 400 and "过期" in exc.value.message


def form(**kw):
    return {"category": "jam", "text": "", "phone": "", "plate": "", **kw}


def test_a_good_form():
    rep = R.check_form(form(category="parking", text=" 白车堵门 ", phone="138 1234-5678",
                            plate="鲁j·12345"), SID, "1001-ABCDEFGH")
    assert (rep.phone, rep.plate, rep.text) == ("13812345678", "鲁J12345", "白车堵门")
    assert rep.event_category == "illegal_parking" and rep.label == "违停/挪车"
    assert R.check_form(form(phone="0538-8261234"), SID, "r").phone == "05388261234"
    assert R.check_form(form(phone="１３８１２３４５６７８"), SID, "r").phone == "13812345678"
    assert R.check_form(form(category="flooding", plate="not read"), SID, "r").plate == ""
    assert R.check_form(form(category="parking", plate="鲁JD12345"), SID, "r").plate == "鲁JD12345"


@pytest.mark.parametrize("fields, words", [
    (form(category=""), "类别"), (form(category="bomb"), "类别"),
    (form(text="堵" * (R.MAX_TEXT + 1)), "太长"),
    (form(text="a\x00b"), "控制字符"), (form(text="a\u202eb"), "控制字符"),
    (form(phone="12345"), "回电号码"), (form(phone="23812345678"), "回电号码"),
    (form(phone="138123456789"), "回电号码"),
    (form(category="parking"), "车牌号"), (form(category="parking", plate="12345"), "车牌号"),
    (form(category="parking", plate="鲁I12345"), "车牌号"),
    (form(category="parking", plate="<script>"), "车牌号"),
    (form(text="x" * (R.MAX_FIELD_BYTES + 1)), "太长"),
])
def test_bad_forms_say_why(fields, words):
    with pytest.raises(R.ReportError) as exc:
        R.check_form(fields, SID, "r")
    assert exc.value.status == 400 and words in exc.value.message
