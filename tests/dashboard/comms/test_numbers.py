"""comms.numbers: counts with 万/亿 for Chinese pages (tiles, axes, hover), never "k"/"M"."""
from __future__ import annotations

import pytest

from dashboard.comms.numbers import axis_ticks, hover_texts, nice_step, wan


@pytest.mark.parametrize("n, expected", [
    (None, "—"), (0, "0"), (8312, "8,312"), (9999, "9,999"), (10_000, "1.0万"),
    (26_000, "2.6万"), (2_065_899, "206.6万"), (99_990_000, "9999.0万"),
    (100_000_000, "1.0亿"), (310_000_000, "3.1亿"), (-26_000, "-2.6万"),
])
def test_wan(n, expected):
    assert wan(n) == expected


def test_wan_threshold_and_trim():
    assert wan(26_000, threshold=100_000) == "26,000"      # the reach tiles: whole to 10万
    assert wan(260_000, threshold=100_000) == "26.0万"
    assert wan(500_000, trim=True) == "50万" and wan(150_000_000, trim=True) == "1.5亿"


@pytest.mark.parametrize("top", [0, 1, 7, 99, 4_321, 26_000, 2_065_899, 3.2e8, 12_345_678_901])
def test_axis_ticks_cover_the_range_in_one_unit(top):
    t = axis_ticks(top)
    vals, text = t["tickvals"], t["ticktext"]
    assert t["tickmode"] == "array" and len(vals) == len(text) >= 2
    assert vals[0] == 0 and text[0] == "0" and vals[-1] >= top
    assert vals == sorted(vals) and len(set(vals)) == len(vals)
    units = {s[-1] for s in text[1:] if not s[-1].isdigit()}
    assert len(units) <= 1                                 # one unit per axis
    assert units == ({"亿"} if vals[-1] >= 1e8 else {"万"} if vals[-1] >= 1e4 else set())
    assert not any(c in "".join(text) for c in "kMG")


def test_axis_tick_labels_read_as_their_values():
    t = axis_ticks(2_065_899)
    assert t["ticktext"] == ["0", "50万", "100万", "150万", "200万", "250万"]
    assert t["tickvals"] == [0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000]
    assert axis_ticks(12, step=4)["ticktext"] == ["0", "4", "8", "12"]
    assert axis_ticks(25_000, step=2500)["ticktext"][1] == "0.25万"


def test_nice_step_and_hover():
    assert nice_step(100) == 20 and nice_step(0) == 1 and nice_step(3) == 1
    assert hover_texts([1, 12_000, None]) == ["1", "1.2万", "—"]
