"""The text encoding of a Shapefile's attributes (.dbf) when no .cpg file says it.

GDAL reads a .dbf without a .cpg (and without a code-page byte) as ISO-8859-1, so GBK
attribute names and values come out as "Â·Ãû…" and the import cannot find the road names.
Chinese GIS offices mostly write GBK; newer tools write UTF-8. ``detect`` reads the field
names and the text fields of the first records and picks the first encoding that decodes
them all and, for a non-UTF-8 one, yields Chinese characters: UTF-8, then GB18030 (a
superset of GBK and GB2312).
"""
from __future__ import annotations

import codecs
import re
import struct
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 4 * 1024 * 1024      # the header and the first records are enough
CANDIDATES = ("UTF-8", "GB18030")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Encoding:
    """The encoding to read a Shapefile with (None: let GDAL decide) and how it was found."""

    name: str | None
    how: str          # argument | SHAPE_ENCODING | .cpg | detected | ascii | unknown
    note: str = ""    # why a .cpg was overruled


def text_fields(data: bytes) -> list[bytes]:
    """Field names and the values of character fields from the start of a .dbf file."""
    if len(data) < 32:
        return []
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    fields: list[tuple[int, int, str]] = []      # (offset in record, length, type)
    names: list[bytes] = []
    offset = 1                                   # the deletion flag comes first
    pos = 32
    while pos + 32 <= min(len(data), header_len) and data[pos] != 0x0D:
        desc = data[pos:pos + 32]
        names.append(desc[:11].split(b"\0", 1)[0])
        ftype = chr(desc[11])
        flen = desc[16]
        if ftype == "C":
            flen += desc[17] << 8                # long character fields use the next byte
        fields.append((offset, flen, ftype))
        offset += flen
        pos += 32
    out = [n for n in names if n]
    if record_len <= 0 or header_len <= 0:
        return out
    for k in range(n_records):
        start = header_len + k * record_len
        end = start + record_len
        if end > len(data):
            break
        rec = data[start:end]
        for off, flen, ftype in fields:
            if ftype == "C":
                value = rec[off:off + flen].rstrip(b" \0")
                if value:
                    out.append(value)
    return out


def _decodes(value: bytes, encoding: str) -> bool:
    """Strict decoding; a multi-byte character cut at the end of a field is allowed."""
    try:
        value.decode(encoding)
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(value) - 3 and _decodes(value[:exc.start], encoding)


def detect(values: list[bytes]) -> Encoding:
    """The encoding of the given field names and values (see the module text)."""
    wide = [v for v in values if any(b >= 0x80 for b in v)]
    if not wide:
        return Encoding(None, "ascii")
    for enc in CANDIDATES:
        if all(_decodes(v, enc) for v in wide):
            if enc == "UTF-8" or any(_CJK.search(v.decode(enc, "ignore")) for v in wide):
                return Encoding(enc, "detected")
    return Encoding(None, "unknown")


def _sibling(path: Path, suffix: str) -> Path | None:
    for cand in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if cand.exists():
            return cand
    return None


def codec_of(word: str) -> str | None:
    """Python's codec for an encoding word (a .cpg's "936" is cp936, "65001" UTF-8)."""
    word = word.strip()
    if word.isdigit():
        word = "utf-8" if word == "65001" else f"cp{word}"
    try:
        return codecs.lookup(word).name
    except LookupError:
        return None


def shapefile_encoding(src: Path) -> Encoding | None:
    """How to read a .shp: the .cpg's word, else detected from the .dbf; None when there is
    no .dbf next to it. A .cpg whose encoding does not decode the .dbf's text while another
    does (a "UTF-8" .cpg on GBK text) is overruled, with a note."""
    cpg = _sibling(src, ".cpg")
    dbf = _sibling(src, ".dbf")
    word = cpg.read_bytes().decode("ascii", "replace").strip() if cpg is not None else ""
    if dbf is None:
        return Encoding(word, ".cpg") if word else None
    with open(dbf, "rb") as fh:
        values = text_fields(fh.read(SAMPLE_BYTES))
    if not word:
        return detect(values)
    codec = codec_of(word)
    wide = [v for v in values if any(b >= 0x80 for b in v)]
    if codec is None or all(_decodes(v, codec) for v in wide):
        return Encoding(word, ".cpg")
    found = detect(values)
    if found.name is None:
        return Encoding(word, ".cpg")
    return Encoding(found.name, "detected",
                    f"the .cpg says {word}, but the attributes are not {word} text")
