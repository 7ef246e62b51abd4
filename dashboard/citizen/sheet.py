"""The sticker sheet: a PDF of QR stickers, six per A4 page (fpdf2, the QR code drawn as
vector squares from ``qrcode``'s matrix, a CJK font embedded as a subset).

Each sticker: a header band (``<city>交警 · 扫码报路况``), the QR code of
``<public base url>/r/<sticker id>``, the place name in large type (shrunk to fit, two lines
at most), "紧急情况请拨打 122" with 122 large, and a short check code (the id's last 6
characters) for whoever puts it up.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import qrcode
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M

from dashboard.citizen.stickers import Place

KNOWN_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
               "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
               "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
PROBE = "路口交警挪车"
COLS, ROWS = 2, 3
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 6.0
GAP = 4.0
BAND = (13, 59, 102)
TWO_LINE_MAX_PT = 19       # a place name in two lines is set no larger than this


class FontError(RuntimeError):
    """No font that can draw Chinese was found."""


@dataclass(frozen=True)
class Sticker:
    place: Place
    url: str
    check: str


def _covers(path: str, index: int) -> bool:
    from fontTools.ttLib import TTCollection, TTFont

    try:
        font = TTCollection(path).fonts[index] if path.lower().endswith(".ttc") \
            else TTFont(path, lazy=True)
        cmap = font.getBestCmap() or {}
    except Exception:   # noqa: BLE001 - not a font we can read: not a candidate
        return False
    return all(ord(ch) in cmap for ch in PROBE)


def find_cjk_font(explicit: str | None = None) -> tuple[str, int]:
    """(path, index in a collection) of a font with Chinese glyphs: ``explicit`` if given,
    else a known path (fonts-wqy-microhei, fonts-noto-cjk), else fontconfig's choice for
    ``:lang=zh-cn``. FontError with what to install when there is none."""
    candidates: list[tuple[str, int]] = []
    if explicit:
        candidates.append((explicit, 0))
    else:
        candidates += [(p, 0) for p in KNOWN_FONTS if Path(p).is_file()]
        if shutil.which("fc-match"):
            try:
                out = subprocess.run(["fc-match", "-f", "%{file}|%{index}", ":lang=zh-cn"],
                                     capture_output=True, text=True, timeout=10).stdout
                path, _, idx = out.partition("|")
                if path:
                    candidates.append((path, int(idx or 0)))
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
    for path, index in candidates:
        if Path(path).is_file() and _covers(path, index):
            return path, index
    if explicit:
        raise FontError(f"font {explicit} cannot draw Chinese (or is not a TrueType/OpenType "
                        "font)")
    raise FontError("no font with Chinese glyphs found: install one (Debian: apt-get install "
                    "fonts-wqy-microhei, or fonts-noto-cjk) or give --font FILE")


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code of ``url`` (error correction M, no quiet zone: the sticker leaves it)."""
    q = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    q.add_data(url)
    q.make(fit=True)
    return q.get_matrix()


def _draw_qr(pdf: FPDF, matrix: list[list[bool]], x: float, y: float, size: float) -> None:
    cell = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for row, line in enumerate(matrix):
        col = 0
        while col < len(line):
            if not line[col]:
                col += 1
                continue
            start = col
            while col < len(line) and line[col]:
                col += 1
            # a hair wider than the run so that neighbouring squares leave no white seam
            pdf.rect(x + start * cell, y + row * cell, (col - start) * cell + 0.02,
                     cell + 0.02, style="F")


def _fit_lines(pdf: FPDF, text: str, width: float, sizes: Sequence[float]) -> tuple[float,
                                                                                    list[str]]:
    """The largest size of ``sizes`` at which ``text`` fits ``width`` in at most two lines."""
    for size in sizes:
        pdf.set_font_size(size)
        if pdf.get_string_width(text) <= width:
            return size, [text]
        if size > TWO_LINE_MAX_PT:
            continue
        # a block "road（A—B）" breaks before its bracket; anything else where it must
        cut = text.find("（")
        if cut <= 0 or pdf.get_string_width(text[:cut]) > width:
            cut = len(text)
            while cut > 1 and pdf.get_string_width(text[:cut]) > width:
                cut -= 1
        if pdf.get_string_width(text[cut:]) <= width:
            return size, [text[:cut], text[cut:]]
    return sizes[-1], [text]


def make_pdf(stickers: Sequence[Sticker], out: Path, city_name: str,
             font: tuple[str, int]) -> int:
    """Write the sheet to ``out``; returns the number of pages."""
    logging.getLogger("fontTools").setLevel(logging.WARNING)   # its subsetter talks at INFO
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", fname=font[0], collection_font_number=font[1])
    pdf.set_title(f"{city_name}交警 二维码贴纸")
    pdf.set_creator("lukuang stickers make")
    w = (PAGE_W - 2 * MARGIN - (COLS - 1) * GAP) / COLS
    h = (PAGE_H - 2 * MARGIN - (ROWS - 1) * GAP) / ROWS
    for n, st in enumerate(stickers):
        if n % (COLS * ROWS) == 0:
            pdf.add_page()
        slot = n % (COLS * ROWS)
        x = MARGIN + (slot % COLS) * (w + GAP)
        y = MARGIN + (slot // COLS) * (h + GAP)
        pdf.set_draw_color(150, 150, 150)
        pdf.set_line_width(0.2)
        pdf.set_dash_pattern(dash=1.5, gap=1.5)
        pdf.rect(x, y, w, h)                       # cut line
        pdf.set_dash_pattern()
        pdf.set_fill_color(*BAND)
        pdf.rect(x, y, w, 11, style="F")
        pdf.set_text_color(255, 255, 255)
        pdf.set_font("cjk", size=15)
        pdf.set_xy(x, y + 1.5)
        pdf.cell(w, 8, f"{city_name}交警 · 扫码报路况", align="C")
        qr = 42.0    # the white around it (4 mm and more) is the QR code's quiet zone
        _draw_qr(pdf, qr_matrix(st.url), x + (w - qr) / 2, y + 15.5, qr)
        pdf.set_text_color(0, 0, 0)
        size, lines = _fit_lines(pdf, st.place.name, w - 8, (22, 20, 19, 17, 15, 13, 11))
        line_h = size * 0.42
        top = y + 15.5 + qr + 2
        for i, line in enumerate(lines):
            pdf.set_xy(x + 4, top + i * line_h)
            pdf.cell(w - 8, line_h, line, align="C")
        pdf.set_text_color(70, 70, 70)
        pdf.set_font("cjk", size=9)
        pdf.set_xy(x + 2, y + h - 15)
        pdf.cell(w - 4, 4, "可报：事故 · 拥堵 · 积水 · 信号灯故障 · 违停挪车", align="C")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("cjk", size=12)
        pdf.set_xy(x + 4, y + h - 10.5)
        pdf.cell(w - 8 - 20, 8, "紧急情况请拨打", align="R")
        pdf.set_text_color(200, 30, 30)
        pdf.set_font("cjk", size=20)
        pdf.set_xy(x + w - 4 - 20, y + h - 11.5)
        pdf.cell(20, 10, "122", align="L")
        pdf.set_text_color(120, 120, 120)
        pdf.set_font("cjk", size=7)
        pdf.set_xy(x + 2, y + h - 4.5)
        pdf.cell(30, 3, st.check)
    pdf.output(str(out))
    return pdf.pages_count
