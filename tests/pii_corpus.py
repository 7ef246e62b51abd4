"""The PII corpus (``tests/pii_corpus.txt``, issue 15) and the search for its values.

Each line of the corpus is a realistic 122-hotline call or Weibo post holding personal
data written in the ways people write it (phones with dots, underscores, full-width
digits; IDs in groups of four; plates with a slash; ``//@name:`` retweet chains …), with
the personal values it holds. ``hits`` looks for those values in an output after
normalising both the same way, independently of the code under test: NFKC (full-width to
ASCII), lower case, and every separator removed, so ``139.8765.4321`` in an output is a
hit for ``13987654321`` and a masked ``139****4321`` is not.
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

CORPUS = Path(__file__).resolve().with_name("pii_corpus.txt")
# what may stand between the characters of a number or a plate
SEPARATORS = re.compile(r"[\s.\-_/·・•‧∙⋅\\|~、()（）+—–−‐‑]")


@dataclass(frozen=True)
class Line:
    """One corpus line: ``kind`` (hotline, hotline-badtime, weibo), the hotline's name
    column or the Weibo author, the hotline's phone column, the text, and the personal
    values it holds (the columns' values included)."""

    n: int
    kind: str
    name: str
    phone: str
    text: str
    values: tuple[str, ...]


def load() -> list[Line]:
    """Every line of the corpus."""
    out = []
    for raw in CORPUS.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        kind, name, phone, text, values = raw.split("\t")
        out.append(Line(len(out), kind, name, phone, text,
                        tuple(v for v in values.split(";") if v)))
    return out


def flat(text: str) -> str:
    """``text`` as the search sees it: NFKC, lower case, separators removed."""
    return SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "").lower())


def hits(output: str, values: Iterable[str]) -> list[str]:
    """The values found in ``output`` (both flattened)."""
    hay = flat(output)
    return [v for v in values if flat(v) and flat(v) in hay]


def strings_of(value: Any) -> list[str]:
    """Every string in a JSON-like value (keys too), so numbers (coordinates, epoch
    times) are not glued into digit runs that were never shown as text."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k)] + strings_of(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings_of(v)]
    return []


def text_of_body(body: bytes | str) -> str:
    """A response body as searchable text: the strings of a JSON body one per line (a
    separator-free joiner, so two strings never run together), else the body itself."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    return "\n§\n".join(strings_of(doc))


# -- payloads of the real feeds, one record per line ---------------------------------------
HOTLINE_HEADER = ["工单号", "来电时间", "来电号码", "姓名", "诉求内容"]


def hotline_ref(line: Line) -> str:
    return f"hotline:P{line.n:03d}"


def weibo_ref(line: Line) -> str:
    return f"weibo:9100{line.n:03d}"


def hotline_payload(lines: Sequence[Line], when: str = "2026-10-01 16:05") -> bytes:
    """A 122 CSV drop: a row per hotline line (ticket P<n>, called at ``when``, local
    time); a "hotline-badtime" line has its phone in the time column, as a drop with
    shifted columns has."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HOTLINE_HEADER)
    for ln in lines:
        w.writerow([f"P{ln.n:03d}", ln.phone if ln.kind == "hotline-badtime" else when,
                    ln.phone, ln.name, ln.text])
    return out.getvalue().encode("utf-8")


def weibo_payload(lines: Sequence[Line], when: datetime) -> bytes:
    """A mentions answer: a status per Weibo line (idstr 9100<n>) posted at ``when`` (an
    aware datetime), its author as the user."""
    created = when.strftime("%a %b %d %H:%M:%S %z %Y")
    statuses = [{"created_at": created, "idstr": f"9100{ln.n:03d}", "text": ln.text,
                 "user": {"screen_name": ln.name, "followers_count": 12},
                 "reposts_count": 1, "comments_count": 0, "attitudes_count": 2}
                for ln in lines]
    return json.dumps({"statuses": statuses}, ensure_ascii=False).encode("utf-8")


def waze_payload(lines: Sequence[Line], points: Sequence[tuple[float, float]],
                 when_ms: int) -> bytes:
    """A Waze-for-Cities answer: a hazard alert per line, the line as the driver's
    description (Waze keeps it as written), at the given points in turn."""
    alerts = [{"uuid": f"pii-{ln.n:03d}", "type": "HAZARD",
               "subtype": "HAZARD_ON_ROAD_POT_HOLE", "reportDescription": ln.text,
               "location": {"x": points[i % len(points)][0], "y": points[i % len(points)][1]},
               "pubMillis": when_ms, "reliability": 6, "confidence": 1}
              for i, ln in enumerate(lines)]
    return json.dumps({"alerts": alerts, "jams": [], "irregularities": []},
                      ensure_ascii=False).encode("utf-8")
