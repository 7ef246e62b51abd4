"""Reading the text files people export from spreadsheets and other systems (the 122
hotline's CSV drop, the Weibo account's post export)."""
from __future__ import annotations


def csv_delimiter(text: str) -> str:
    """The delimiter of a CSV or TSV export, from its header line: a tab when the header
    has more tabs than commas (Excel's "Unicode text" export), else a comma."""
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    return "\t" if header.count("\t") > header.count(",") else ","
