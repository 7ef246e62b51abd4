"""The MapLibre wall map's data (dashboard/live/wall_map.py): the geometry document, level
vectors and their deltas, the marker GeoJSON and the style (nothing that leaves the host)."""
import json

from dashboard.live import wall as W
from dashboard.live import wall_map as WM
from dashboard.roads import basemap
from dashboard.roads.network import default_network_dir, load_network


def network():
    return load_network(default_network_dir() / "roads.geojson")


def test_the_geometry_has_one_feature_per_segment_in_the_level_vector_order():
    net = network()
    geom = W.net_geom(net)
    doc = WM.network_geojson(net, geom)
    feats = doc["features"]
    assert len(feats) == len(geom.ids)
    first = feats[0]
    assert first["id"] == 1 and first["geometry"]["type"] in ("LineString", "MultiLineString")
    assert first["geometry"]["coordinates"][0] == [geom.lons[0][0], geom.lats[0][0]]
    ranks = {f["properties"]["r"] for f in feats}
    assert ranks <= {0, 1, 2, 3} and len(ranks) > 1
    plain, packed = WM.network_geojson_bytes(net, geom)
    assert json.loads(plain) == doc and len(packed) < len(plain) / 3


def test_level_vectors_and_deltas():
    net = network()
    geom = W.net_geom(net)
    a, b = geom.ids[0], geom.ids[5]
    v1 = WM.level_vector(geom, {a: 1, b: 3})
    assert len(v1) == len(geom.ids) and v1[0] == "1" and v1[5] == "3" and v1[1] == "-"
    v2 = WM.level_vector(geom, {a: 4})
    assert WM.level_delta(v1, v2) == [0, 4, 5, -1]
    assert WM.level_delta(v1, v1) == []
    assert WM.level_delta(v1, v1[:-1]) is None                     # another network
    everything = WM.level_vector(geom, {s: 2 for s in geom.ids})
    assert WM.level_delta(v1, everything) is None                   # cheaper whole
    msg = WM.levels_message("net", "7:1", v2, v1, "6:1")
    assert msg == {"k": "net", "t": "7:1", "base": "6:1", "d": [0, 4, 5, -1]}
    assert WM.levels_message("net", "7:1", v2, None, None) == {"k": "net", "t": "7:1",
                                                                 "full": v2}


def test_markers_are_one_feature_collection_by_kind():
    markers = {"incidents": {"lon": [117.1], "lat": [36.2], "size": [20.0]},
               "cleared": {"lon": [117.2], "lat": [36.2], "size": [16.0]},
               "roadworks": {"lon": [117.0], "lat": [36.1], "size": [14.0]},
               "roadworks_lines": {"lon": [117.0, 117.01, None], "lat": [36.1, 36.1, None]},
               "reports": {"lon": [], "lat": [], "size": []}, "digest": "x"}
    feats = WM.markers_geojson(markers)["features"]
    kinds = [f["properties"]["k"] for f in feats]
    assert kinds == ["rwl", "rw", "clr", "halo", "inc"]
    assert feats[-1]["properties"]["s"] == 10.0 and feats[-2]["properties"]["s"] == 19.0


def test_the_style_fetches_nothing_but_the_geometry():
    net = network()
    geom = W.net_geom(net)
    style = WM.map_style(net, geom, f"{WM.GEOJSON_PATH}?v={geom.key}", 2.0)
    assert basemap.style_urls(style) == [] and "glyphs" not in style
    assert style["sources"]["net"]["data"].startswith("/api/v1/network.geojson")
    ids_ = [lyr["id"] for lyr in style["layers"]]
    # one line layer for the network (tessellated once), under the markers
    assert [i for i in ids_ if i in ("roads", "levels")] == ["levels"]
    assert ids_.index("levels") < ids_.index("incidents")
    assert "feature-state" in json.dumps(style["layers"][ids_.index("levels")]["paint"])


def test_warm_builds_the_geometry_body_before_any_request():
    net = network()
    geom = W.net_geom(net)
    WM._bodies.clear()
    assert WM._bodies.peek(geom.key) is None
    WM.warm(lambda: net)
    plain, packed = WM._bodies.peek(geom.key)
    assert json.loads(plain)["features"] and packed[:2] == b"\x1f\x8b"


def test_warm_without_a_network_does_nothing():
    def missing():
        raise FileNotFoundError("no network imported")
    WM.warm(missing)   # no exception: a city without roads yet still starts
