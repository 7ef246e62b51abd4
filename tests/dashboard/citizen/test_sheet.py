"""`lukuang stickers make`: the PDF, rendered to PNG and checked (and saved for a person to
look at: tests/browser/screenshots/stickers.png), the QR code's URL, and the refusals."""
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest

import app
from dashboard.citizen import sheet
from dashboard.citizen.stickers import decode, derive_key

SCREENSHOT = Path(__file__).resolve().parents[2] / "browser" / "screenshots" / "stickers.png"


def run(capsys, monkeypatch, tmp_path, *argv, env=None):
    for k, v in {"LUKUANG_STATE_DIR": str(tmp_path / "state"), "LUKUANG_SECRET_KEY": "s3cret",
                 "LUKUANG_PUBLIC_BASE_URL": "https://jj.taian.example", **(env or {})}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("LUKUANG_CONFIG", raising=False)
    code = app.main(["stickers", "make", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_sheet_of_intersections(tmp_path, capsys, monkeypatch):
    roads = tmp_path / "roads.txt"
    roads.write_text("东岳大街\n", encoding="utf-8")
    pdf_path = tmp_path / "stickers.pdf"
    code, out, err = run(capsys, monkeypatch, tmp_path, "--out", str(pdf_path), "--roads",
                         str(roads), "--limit", "8")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["stickers"] == 8 and summary["pages"] == 2
    first = summary["first"][0]
    sid = first["url"].rsplit("/r/", 1)[1]
    assert first["url"].startswith("https://jj.taian.example/r/")
    assert decode(sid, derive_key("s3cret", "taian")).name == first["place"]
    doc = pdfium.PdfDocument(str(pdf_path))
    assert len(doc) == 2
    text = doc[0].get_textpage().get_text_range()
    assert first["place"] in text and "122" in text and "泰安交警" in text
    image = doc[0].render(scale=2).to_pil().convert("L")
    dark = sum(image.histogram()[:100]) / (image.width * image.height)
    assert 0.05 < dark < 0.5          # QR codes and text drawn, not a blank or black page
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    image.save(SCREENSHOT)


def test_segments_and_refusals(tmp_path, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, tmp_path, "--out", str(tmp_path / "s.pdf"),
                       "--kind", "segment", "--limit", "3")
    assert code == 0 and json.loads(out)["kind"] == "segment"
    code, _, err = run(capsys, monkeypatch, tmp_path, "--out", str(tmp_path / "s.pdf"),
                       env={"LUKUANG_SECRET_KEY": ""})
    assert code == 2 and "no secret key" in err
    roads = tmp_path / "r.txt"
    roads.write_text("月球大道\n", encoding="utf-8")
    code, _, err = run(capsys, monkeypatch, tmp_path, "--out", str(tmp_path / "s.pdf"),
                       "--roads", str(roads))
    assert code == 2 and "月球大道" in err
    code, _, err = run(capsys, monkeypatch, tmp_path, "--out", str(tmp_path / "s.pdf"),
                       "--font", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    assert code == 2 and "cannot draw Chinese" in err
    code, _, err = run(capsys, monkeypatch, tmp_path, "--out", str(tmp_path / "s.pdf"),
                       "--limit", "1", env={"LUKUANG_PUBLIC_BASE_URL": ""})
    assert code == 0 and "phones cannot reach" in err


def test_the_qr_matrix_holds_the_url():
    m = sheet.qr_matrix("https://jj.taian.example/r/" + "A" * 60)
    assert len(m) == len(m[0]) >= 21 and any(any(row) for row in m)
    with pytest.raises(sheet.FontError):
        sheet.find_cjk_font("/nonexistent/font.ttf")
