"""``lukuang stickers make``: the QR-sticker sheet (PDF) for the places of the road network.

One sticker per intersection of named roads (``--kind intersection``, the default) or per
block of a road between cross streets (``--kind segment``), of every road or of those listed
in ``--roads FILE`` (UTF-8, one road name or alias a line). The QR code holds
``<public_base_url>/r/<sticker id>``, the id signed with the app's secret key
(``dashboard.citizen.stickers``): the web must run with the same ``secret_key``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard.cli.commands import EXIT_FAIL, EXIT_OK, emit, fail
from dashboard.settings import Settings

SECRET_FILE = "secret_key"   # where the web keeps a generated key (dashboard/web/session.py)


def sticker_secret(settings: Settings) -> str:
    """The app's secret key: the ``secret_key`` setting, else the one the web generated in
    the state directory; "" when there is neither (the web has never run here)."""
    if settings.secret_key:
        return settings.secret_key
    try:
        return (Path(settings.state_dir) / SECRET_FILE).read_text().strip()
    except OSError:
        return ""


def base_url(settings: Settings, given: str | None) -> tuple[str, str]:
    """(the address printed in the QR codes, a warning or "")."""
    url = (given or settings.public_base_url or "").strip().rstrip("/")
    if url:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"public base URL {url!r} must start with https:// or http://")
        return url, "" if url.startswith("https://") else \
            "the stickers' address is not https: phones will warn"
    url = f"http://{settings.host}:{settings.port}"
    return url, (f"public_base_url is not set: the QR codes hold {url}, which phones cannot "
                 "reach; set public_base_url (LUKUANG_PUBLIC_BASE_URL) or --base-url")


def cmd_stickers_make(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.citizen import places, sheet
    from dashboard.citizen.stickers import derive_key, encode, sticker_url
    from dashboard.roads.network import get_network

    secret = sticker_secret(settings)
    if not secret:
        return fail("stickers make: no secret key: set secret_key (LUKUANG_SECRET_KEY), the "
                    "same as the web app's, or start the web once (it keeps one in "
                    f"{settings.state_dir}/{SECRET_FILE})")
    try:
        url, warning = base_url(settings, args.base_url)
        font = sheet.find_cjk_font(args.font)
    except (ValueError, sheet.FontError) as exc:
        return fail(f"stickers make: {exc}")
    net = get_network(settings.state_dir)
    try:
        roads = places.read_roads_file(Path(args.roads), net) if args.roads else None
    except places.PlacesError as exc:
        return fail(f"stickers make: {exc}")
    found = places.intersections(net, roads)
    if args.kind == "segment":
        found = places.segments(net, roads, found)
    if args.limit:
        found = found[:args.limit]
    if not found:
        return fail("stickers make: no places found (no named roads crossing in the network "
                    "or in --roads)", EXIT_FAIL)
    key = derive_key(secret, settings.city)
    stickers = []
    for place in found:
        sid = encode(place, key)
        stickers.append(sheet.Sticker(place, sticker_url(url, sid), sid[-6:]))
    out = Path(args.out)
    pages = sheet.make_pdf(stickers, out, settings.city_name or settings.city, font)
    if warning:
        sys.stderr.write(f"lukuang: stickers make: warning: {warning}\n")
    emit({"out": str(out), "stickers": len(stickers), "pages": pages, "kind": args.kind,
          "base_url": url, "font": font[0],
          "first": [{"place": s.place.name, "url": s.url} for s in stickers[:3]]})
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    stickers = sub.add_parser("stickers", help="QR stickers for citizen reports").add_subparsers(
        dest="stickers_cmd", required=True)
    p = stickers.add_parser("make", help="a PDF of QR stickers, one per place of the network")
    p.add_argument("--out", required=True, help="the PDF file to write")
    p.add_argument("--roads", help="UTF-8 text file, one road name (or alias) a line: only "
                                   "places on these roads")
    p.add_argument("--kind", choices=("intersection", "segment"), default="intersection",
                   help="one sticker per intersection (default) or per block of a road")
    p.add_argument("--limit", type=int, default=0, help="at most N stickers")
    p.add_argument("--base-url", help="the address phones open (default: public_base_url)")
    p.add_argument("--font", help="a TrueType/OpenType font with Chinese glyphs (default: "
                                  "WenQuanYi Micro Hei, Noto CJK, or fontconfig's choice)")
    p.set_defaults(handler=cmd_stickers_make)
