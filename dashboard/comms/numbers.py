"""Large counts as Chinese readers write them: 万 (10⁴) and 亿 (10⁸), never plotly's SI
"k"/"M"/"G". One home for every Chinese page's figures: the comms tiles and charts and the
wall's charts (``dashboard.live.wall`` imports it: live sits above comms).

- ``wan(n)``: "8,312", "2.6万", "206.6万", "3.1亿" (``threshold``: from which count on the
  万 form is used; the reach tiles keep whole numbers up to 10万).
- ``axis_ticks(top)``: ``tickvals``/``ticktext`` for a count axis from 0 to ``top``, every
  label in the same unit ("0, 50万, 100万, 150万"), for a plotly layout's axis.
- ``hover_texts(values)``: ``wan`` of each value, for a trace's ``hovertext``.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

WAN, YI = 10_000, 100_000_000


def _trim(number: float, digits: int) -> str:
    text = f"{number:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def wan(n: float | int | None, threshold: int = WAN, digits: int = 1,
        trim: bool = False) -> str:
    """``n`` with 万/亿 from ``threshold`` on ("—" for None); below it the whole number with
    thousands separators. ``trim`` drops a trailing ".0" ("50万", not "50.0万")."""
    if n is None:
        return "—"
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= max(YI, threshold):
        num, unit = value / YI, "亿"
    elif value >= threshold:
        num, unit = value / WAN, "万"
    else:
        return f"{sign}{round(value):,}"
    text = _trim(num, digits) if trim else f"{num:.{digits}f}"
    return f"{sign}{text}{unit}"


def nice_step(top: float, count: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 × 10ⁿ, at least 1) that cuts 0..``top`` into about
    ``count`` parts."""
    if top <= 0 or not math.isfinite(top):
        return 1.0
    raw = top / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return max(1.0, m * mag)
    return max(1.0, 10 * mag)


def axis_ticks(top: float, count: int = 5, step: float | None = None) -> dict[str, Any]:
    """``{"tickvals", "ticktext", "tickmode": "array"}`` for a count axis from 0 past
    ``top``: round steps, labels in one unit chosen by the largest tick (万 from 1万, 亿
    from 1亿), never plotly's "k"/"M"."""
    step = step or nice_step(top, count)
    n = max(1, math.ceil(max(top, 0) / step))
    vals = [round(i * step, 6) for i in range(n + 1)]
    vals = [int(v) if float(v).is_integer() else v for v in vals]
    biggest = vals[-1]
    if biggest >= YI:
        text = [_trim(v / YI, 2) + "亿" if v else "0" for v in vals]
    elif biggest >= WAN:
        text = [_trim(v / WAN, 2) + "万" if v else "0" for v in vals]
    else:
        text = [f"{v:,}" if isinstance(v, int) else _trim(v, 2) for v in vals]
    return {"tickmode": "array", "tickvals": vals, "ticktext": text}


def hover_texts(values: Iterable[float | int | None], threshold: int = WAN) -> list[str]:
    """``wan`` of each value (2 decimals below 1亿 would be noise: 1 decimal)."""
    return [wan(v, threshold) for v in values]
