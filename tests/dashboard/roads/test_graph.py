"""The road network as a graph: along-road distances for dispatch's nearest-unit ranking."""
from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.roads.geo import haversine_m
from dashboard.roads.graph import MAX_SNAP_M, RoadGraph, road_graph
from dashboard.roads.network import load_network

REPO = Path(__file__).resolve().parents[3]


def test_road_graph_of_the_demo_network_is_connected_enough():
    net = load_network(REPO / "data" / "taian" / "roads.geojson")
    g = road_graph(net)
    assert g is not None and len(g.lons) > 500
    a, _ = g.nearest_node(*net.intersection("长城路", "泰玻大街"))
    reach = g.distances_from(a, 100_000)
    assert len(reach) > 0.8 * len(g.lons)


def test_road_distances_go_round_and_leave_out_what_is_not_connected():
    """A U-shaped road: the far arm's end is 1.1 km away in a straight line but about
    10 km by road; a point far from every road, or without a position, gets None."""
    g = RoadGraph.from_lines([[(117.00, 36.00), (117.05, 36.00)],
                              [(117.05, 36.00), (117.05, 36.01)],
                              [(117.05, 36.01), (117.00, 36.01)]])
    across = haversine_m(117.00, 36.00, 117.00, 36.01)
    along = haversine_m(117.00, 36.00, 117.03, 36.00)
    far = (117.00, 36.20)
    got = g.road_distances(117.00, 36.00, [
        (117.00, 36.01, across), (117.03, 36.00, along),
        (*far, haversine_m(117.00, 36.00, *far)), (None, None, 100.0)])
    assert 9_000 < got[0] < 11_000
    assert got[1] == pytest.approx(along, rel=0.01)
    assert haversine_m(*far, 117.00, 36.01) > MAX_SNAP_M and got[2] is None
    assert got[3] is None
    assert RoadGraph([], [], []).road_distances(117.0, 36.0, [(117.0, 36.0, 1.0)]) == [None]
