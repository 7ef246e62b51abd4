"""Sticker ids (signed places) and the places of the demo network."""
from pathlib import Path

import pytest

from dashboard.citizen import places
from dashboard.citizen.stickers import (MAC_BYTES, Place, StickerError, decode, derive_key,
                                        encode, sticker_url)
from dashboard.roads.network import get_network

KEY = derive_key("secret-1", "taian")


@pytest.fixture(scope="module")
def net():
    return get_network(Path("/nonexistent-lukuang-state"))


def test_an_id_names_its_place_and_nothing_else():
    p = Place("intersection", 117.063812, 36.194477, ("东岳大街", "迎胜路"))
    sid = encode(p, KEY)
    assert decode(sid, KEY) == p and decode(sid, KEY).name == "东岳大街与迎胜路路口"
    assert all(c.isalnum() or c in "-_" for c in sid) and len(sid) < 120
    assert sticker_url("https://jj.example/", sid) == f"https://jj.example/r/{sid}"


@pytest.mark.parametrize("key", [derive_key("secret-2", "taian"), derive_key("secret-1", "jinan")])
def test_another_key_or_city_does_not_verify(key):
    sid = encode(Place("segment", 117.1, 36.2, ("东岳大街", "青年路", "迎胜路")), KEY)
    with pytest.raises(StickerError):
        decode(sid, key)


@pytest.mark.parametrize("lon", [117.06, 117.061, 117.0623, 117.06345])
def test_every_altered_character_is_refused(lon):
    sid = encode(Place("intersection", lon, 36.19, ("东岳大街", "迎胜路")), KEY)
    for i in range(len(sid)):
        for ch in "AQ_-":
            forged = sid[:i] + ch + sid[i + 1:]
            if forged != sid:
                with pytest.raises(StickerError):
                    decode(forged, KEY)
    for bad in ("", "abc", "x" * 500, sid[:-1], sid + "A", "!" * 40, sid[:5] + "!" + sid[5:],
                sid + "==", " " + sid):
        with pytest.raises(StickerError):
            decode(bad, KEY)
    assert MAC_BYTES * 8 >= 80


def test_intersections_and_blocks_of_the_demo_network(net):
    xs = places.intersections(net)
    names = {p.name for p in xs}
    assert "东岳大街与迎胜路路口" in names and len(xs) == len(names) > 50
    assert all(p.kind == "intersection" and len(p.roads) == 2 for p in xs)
    on = places.intersections(net, ["东岳大街"])
    assert on and all("东岳大街" in p.roads for p in on)
    blocks = places.segments(net, ["东岳大街"], on)
    assert "东岳大街（迎胜路—华新路）" in {b.name for b in blocks}
    assert all(b.roads[0] == "东岳大街" for b in blocks)


def test_roads_file(tmp_path, net):
    f = tmp_path / "roads.txt"
    f.write_text("# 主干道\n东岳大街\n\n东岳街\n", encoding="utf-8")
    assert places.read_roads_file(f, net) == ["东岳大街"]    # an alias is its road
    f.write_text("东岳大街\n没有这条路\n", encoding="utf-8")
    with pytest.raises(places.PlacesError, match="没有这条路"):
        places.read_roads_file(f, net)
