"""A synthetic 济南-like city for import tests and the README's figures: 30 × 20 km in
CGCS2000 / 3-degree Gauss-Krüger CM 117°E (EPSG:4548), attributes 路名 / 道路等级 / ONEWAY.

828 ways: G2/G3 (高速公路, 2 × 50 km as dual carriageways 35 m apart) and 经十路, 二环南路,
北园高架 (快速路, 3 × 30 km as dual carriageways 30 m apart), each carriageway cut into ways at
its own places; 20 主干路 of 20 km, 26 次干路 of 30 km, 600 支路 of 1.5 km (228 unnamed),
12 景区道路 of 0.9 km (a grade no table knows) and 30 人行道 of 80 m (no roads).
"""
from __future__ import annotations

import random

import geopandas as gpd
from shapely import LineString

X0, Y0 = 485_000.0, 4_050_000.0
W, H = 30_000.0, 20_000.0
UNNAMED = 228
# km per class after import: expressway = 高速公路 + 快速路 (one carriageway each counted)
EXPECTED_KM = {"expressway": 280.0, "arterial": 400.0, "secondary": 780.0, "local": 910.8}
EXPECTED_UNNAMED_KM = UNNAMED * 1.5


def jinan_city() -> gpd.GeoDataFrame:
    rng = random.Random(7)
    rows: list[tuple[str | None, str, str | None, LineString]] = []

    def add(name, grade, coords, oneway=None):
        rows.append((name, grade, oneway, LineString(coords)))

    for name, (ax, ay), (bx, by) in (("G2京沪高速", (X0, Y0 - 1000), (X0 + W, Y0 - 1000)),
                                     ("G3京台高速", (X0 - 1000, Y0), (X0 - 1000, Y0 + H))):
        horiz = ay == by
        length = (bx - ax) if horiz else (by - ay)
        for side, off in ((1, 0.0), (-1, 35.0)):
            cuts = list(range(0, int(length), 3000 + 700 * (side < 0))) + [int(length)]
            for a, b in zip(cuts, cuts[1:]):
                c = ([(ax + a, ay + off), (ax + b, ay + off)] if horiz
                     else [(ax + off, ay + a), (ax + off, ay + b)])
                add(name, "高速公路", c if side > 0 else c[::-1], "yes")
    for k, name in enumerate(["经十路", "二环南路", "北园高架"]):
        y = Y0 + 3000 + k * 7000
        for side, off in ((1, 0.0), (-1, 30.0)):
            cuts = list(range(0, int(W), 1500 + 400 * (side < 0))) + [int(W)]
            for a, b in zip(cuts, cuts[1:]):
                c = [(X0 + a, y + off), (X0 + b, y + off)]
                add(name, "快速路", c if side > 0 else c[::-1], "yes")
    main = [f"{n}路" for n in ("历山 舜耕 山大 解放 和平 文化 泺源 经一 经二 经三 经四 经五 "
                               "经六 纬一 纬二 纬三 纬四 纬五 纬六 英雄山").split()]
    for k in range(20):
        x = X0 + 750 + k * 1500
        add(main[k], "主干路", [(x, Y0), (x, Y0 + H)])
    for k in range(26):
        y = Y0 + 375 + k * 750
        add(f"次{k + 1}街", "次干路", [(X0, y), (X0 + W, y)])
    unnamed = 0
    for i in range(60):
        for j in range(10):
            x, y0 = X0 + 200 + i * 500, Y0 + j * 2000 + 100
            name = None if rng.random() < 0.35 else f"支{i}-{j}巷"
            unnamed += name is None
            add(name, "支路", [(x, y0), (x, y0 + 1500)])
    assert unnamed == UNNAMED
    for k in range(30):
        add(f"步行{k}", "人行道", [(X0 + 100 * k, Y0 + 50), (X0 + 100 * k + 80, Y0 + 50)])
    for k in range(12):
        add(f"景区{k}路", "景区道路",
            [(X0 + 2000 * k, Y0 + H - 200), (X0 + 2000 * k + 900, Y0 + H - 200)])
    return gpd.GeoDataFrame({"路名": [r[0] for r in rows], "道路等级": [r[1] for r in rows],
                             "ONEWAY": [r[2] for r in rows]},
                            geometry=[r[3] for r in rows], crs="EPSG:4548")
