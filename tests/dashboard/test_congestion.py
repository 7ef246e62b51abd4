from dashboard.congestion import LEVEL_COLOURS, congestion_index


def test_index_weights_length_and_level():
    snap = {"a": {"level": 1}, "b": {"level": 2}, "c": {"level": 3}, "d": {"level": 0}}
    lengths = {"a": 1000.0, "b": 1000.0, "c": 2000.0, "d": 5000.0}
    districts = {"a": "泰山区", "b": "泰山区", "c": "岱岳区", "d": "岱岳区"}
    out = congestion_index(snap, lengths, districts)
    assert out["city"]["observed_km"] == 4.0  # unknown is not observed
    assert out["city"]["index"] == (0 + 500 + 2000) / 4000
    assert out["city"]["congested_km"] == 2.0
    assert out["泰山区"]["index"] == 0.25 and out["岱岳区"]["index"] == 1.0


def test_unknown_segments_and_empty_snapshot():
    assert congestion_index({}, {}, {}) == {}
    assert congestion_index({"x": {"level": 3}}, {}, {}) == {}


def test_provider_colours_follow_convention():
    assert LEVEL_COLOURS[1].startswith("#2") and LEVEL_COLOURS[0] == "#8c8c8c"
