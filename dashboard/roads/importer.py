"""Import a real road network: GeoJSON, GeoPackage, Shapefile (.shp or .zip) or an
OpenStreetMap extract (.osm.pbf / .osm, through GDAL's OSM driver).

The result is written to ``<state_dir>/network/roads.gpkg`` atomically: the new files are
written into a staging folder, loaded back as a ``RoadNetwork`` to validate them, and only
then moved into place with ``os.replace``, so a bad input never replaces a working network.
Every problem with the input raises ``NetworkImportError`` with a one-line message.

What the attributes mean comes from ``roads.classes`` (road class and name fields, class
values), the Shapefile text encoding from ``roads.dbf_encoding`` and the coordinates from
``roads.crs``; the returned summary says what each of them decided (``import``).
"""
from __future__ import annotations

import codecs
import math
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from shapely.ops import substring

from dashboard.roads.classes import (DEFAULT_CLASS_MAP, OSM_FIELDS, ROAD_CLASSES, SKIP, ClassMap,
                                     ClassMapError, load_class_map, value_key)
from dashboard.roads.crs import CrsError, Declared, parse_crs, to_wgs84
from dashboard.roads.dbf_encoding import Encoding, codec_of, shapefile_encoding
from dashboard.roads.network import (DEFAULT_LANES, DISTRICT_FILES, IMPORTED_ROADS, NETWORK_SUBDIR,
                                     NetworkError, axis_direction, clean_road_name,
                                     clear_network_cache, load_network, prepare_districts)

MAX_SEGMENT_M = 500.0
REPORT_VALUES = 40          # class values listed in the import summary, most frequent first

ONEWAY_COLUMNS = ("oneway", "one_way", "单行", "单行道", "单向")
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")
SHAPEFILE_SUFFIXES = (".shp", ".dbf")
_HSTORE_RE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_MOJIBAKE_RE = re.compile(r"[\u00c0-\u00ff]{2}")


class NetworkImportError(Exception):
    """The input cannot become a road network; the message is one line for a human."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class ImportOptions:
    """How to read the input: text encoding of a Shapefile, coordinate system, which
    attributes hold the road class and name, and the class map (see ``roads.classes``).
    None: find out (the encoding, the fields) or use the file's own (the CRS)."""

    encoding: str | None = None
    crs: str | None = None
    class_field: str | None = None
    name_field: str | None = None
    class_map: str | Path | ClassMap | None = None

    @classmethod
    def from_settings(cls, settings: Any, **given: Any) -> "ImportOptions":
        """The options given (command-line arguments; None or "" = not given), else the
        settings' ``roads_*`` entries (environment > file > default)."""
        def pick(name: str) -> Any:
            value = given.get(name)
            return value if value not in (None, "") else \
                (getattr(settings, f"roads_{name}", "") or None)
        return cls(**{f: pick(f) for f in ("encoding", "crs", "class_field", "name_field",
                                           "class_map")})


@dataclass
class ImportReport:
    """What the import decided, for the summary."""

    source: str
    encoding: str | None = None
    encoding_how: str = ""
    crs: str = ""
    name_field: str | None = None
    class_field: str | None = None
    class_map: str = "built-in"
    features: int = 0
    class_values: Counter = field(default_factory=Counter)   # (raw value, class) -> features
    skipped: Counter = field(default_factory=Counter)        # raw value -> features dropped
    unmapped: Counter = field(default_factory=Counter)       # raw value -> features (local)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        values = [{"value": v, "class": c, "features": n}
                  for (v, c), n in self.class_values.most_common(REPORT_VALUES)]
        return {"source": self.source,
                "encoding": self.encoding, "encoding_from": self.encoding_how,
                "crs": self.crs, "name_field": self.name_field,
                "class_field": self.class_field, "class_map": self.class_map,
                "features": self.features, "class_values": values,
                "unmapped_values": dict(self.unmapped.most_common(REPORT_VALUES)),
                "skipped_values": dict(self.skipped.most_common(REPORT_VALUES)),
                "warnings": list(self.warnings)}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else exc.__class__.__name__


def parse_other_tags(value) -> dict[str, str]:
    """GDAL's OSM ``other_tags`` hstore text ('"k"=>"v","k2"=>"v2"') as a dict."""
    if not isinstance(value, str) or not value:
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE_RE.findall(value)}


def _is_osm(src: Path) -> bool:
    return src.name.lower().endswith(OSM_SUFFIXES)


def _pick_layer(src: Path, name: str) -> str | None:
    """The first layer with line geometry (None: the only/default layer)."""
    try:
        layers = pyogrio.list_layers(src)
    except Exception as exc:  # GDAL raises several types; all mean "unreadable"
        raise NetworkImportError(f"cannot read {name}: {_one_line(exc)}") from exc
    if len(layers) == 0:
        raise NetworkImportError(f"{name} contains no layers")
    for layer, gtype in layers:
        if gtype and "LineString" in str(gtype):
            return str(layer)
    return str(layers[0][0]) if len(layers) > 1 else None


def _check_encoding(name: str, how: str) -> Encoding:
    try:
        codecs.lookup(name)
    except LookupError:
        raise NetworkImportError(f"unknown text encoding {name!r} ({how}): try UTF-8, GBK, "
                                 "GB18030 or Big5") from None
    return Encoding(name, how)


def source_encoding(src: Path, explicit: str | None, name: str) -> Encoding | None:
    """The encoding to read a Shapefile with: ``explicit`` (--encoding), else GDAL's
    ``SHAPE_ENCODING`` from the environment, else the .cpg, else detected from the .dbf.
    None for other formats (GeoJSON and GeoPackage are UTF-8)."""
    if src.suffix.lower() not in SHAPEFILE_SUFFIXES:
        return None
    if explicit:
        return _check_encoding(explicit, "argument")
    env = os.environ.get("SHAPE_ENCODING", "").strip()
    if env:
        return _check_encoding(env, "SHAPE_ENCODING")
    found = shapefile_encoding(src)
    if found is not None and found.how == "unknown":
        raise NetworkImportError(f"cannot tell the text encoding of {name}'s attributes "
                                 "(no .cpg file, and they are neither UTF-8 nor GBK): give "
                                 "--encoding")
    return found


def _zipped_shapefiles(src: Path) -> list[str]:
    """The .shp members of a zip file, in any folder ([] for other zips, read by GDAL)."""
    try:
        with zipfile.ZipFile(src) as z:
            return sorted(m for m in z.namelist() if m.lower().endswith(".shp"))
    except (zipfile.BadZipFile, OSError):
        return []


def _unzip_shapefile(src: Path, members: list[str], into: Path) -> Path:
    """Extract the Shapefiles of ``src`` under plain names; the first with lines (else the
    first). Folders inside the zip and file names in any encoding are no obstacle."""
    found: list[Path] = []
    with zipfile.ZipFile(src) as z:
        names = z.namelist()
        for k, shp in enumerate(members):
            stem = shp[:-4].lower()
            for m in names:
                dot = m.rfind(".")
                if dot > 0 and m[:dot].lower() == stem:
                    target = into / f"layer{k}{m[dot:].lower()}"
                    with z.open(m) as fh_in, open(target, "wb") as fh_out:
                        shutil.copyfileobj(fh_in, fh_out)
            found.append(into / f"layer{k}.shp")
    for shp in found:
        try:
            if "LineString" in str(pyogrio.read_info(shp).get("geometry_type")):
                return shp
        except Exception:  # noqa: BLE001 - an unreadable member: try the next
            continue
    return found[0]


def read_source(src: Path, options: ImportOptions | None = None,
                report: ImportReport | None = None) -> gpd.GeoDataFrame:
    """Read the input file into a GeoDataFrame (OSM: the "lines" layer; a zip holding
    Shapefiles: its first Shapefile with lines)."""
    options = options or ImportOptions()
    if not src.exists():
        raise NetworkImportError(f"file not found: {src}")
    if src.is_dir():
        raise NetworkImportError(f"{src} is a folder; give the .shp, .gpkg, .geojson or .zip file")
    members = _zipped_shapefiles(src) if src.suffix.lower() == ".zip" else []
    if members:
        with tempfile.TemporaryDirectory(prefix="lukuang-import-") as tmp:
            try:
                shp = _unzip_shapefile(src, members, Path(tmp))
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise NetworkImportError(f"cannot unpack {src.name}: {_one_line(exc)}") \
                    from exc
            return _read(shp, src.name, options, report)
    return _read(src, src.name, options, report)


def _read(path: Path, name: str, options: ImportOptions,
          report: ImportReport | None) -> gpd.GeoDataFrame:
    layer = "lines" if _is_osm(path) else _pick_layer(path, name)
    enc = source_encoding(path, options.encoding, name)
    kwargs: dict[str, Any] = {"layer": layer} if layer else {}
    if enc is not None and enc.name and enc.how != ".cpg":
        kwargs["encoding"] = enc.name
    if report is not None:
        if enc is None:
            report.encoding, report.encoding_how = "UTF-8", "format"
            if options.encoding:
                report.warnings.append("--encoding applies to Shapefiles only; ignored")
        else:
            report.encoding = enc.name or "ASCII"
            report.encoding_how = enc.how
            if enc.note:
                report.warnings.append(enc.note)
    try:
        return pyogrio.read_dataframe(path, **kwargs)
    except UnicodeDecodeError as exc:
        codec = codec_of(enc.name) if enc is not None and enc.name else None
        if codec is None:
            used = kwargs.get("encoding") or "the encoding GDAL chose"
            raise NetworkImportError(f"cannot read {name}: its text is not {used} "
                                     f"({_one_line(exc)}); give the right --encoding "
                                     "(GBK, UTF-8 …)") from exc
        # a character cut by the .dbf's field width (a UTF-8 field name holds 3 Chinese
        # characters and a byte of the fourth): read the bytes as they are, decode here
        try:
            raw = pyogrio.read_dataframe(path, **{**kwargs, "encoding": "ISO-8859-1"})
        except Exception as again:
            raise NetworkImportError(f"cannot read {name}: {_one_line(again)}") from again
        return _recode(raw, codec)
    except Exception as exc:
        raise NetworkImportError(f"cannot read {name}: {_one_line(exc)}") from exc


def _lenient(raw: bytes, codec: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3:
            return raw[:exc.start].decode(codec, "replace")
        return raw.decode(codec, "replace")


def _recode(gdf: gpd.GeoDataFrame, codec: str) -> gpd.GeoDataFrame:
    """Text read as ISO-8859-1 (one character per byte) decoded with ``codec``."""
    def fix(v: Any) -> Any:
        return _lenient(v.encode("latin-1"), codec) if isinstance(v, str) else v
    geom = gdf.geometry.name
    out = gdf.rename(columns={c: fix(c) for c in gdf.columns if c != geom})
    for col in out.columns:
        if col != geom and (out[col].dtype == object
                            or pd.api.types.is_string_dtype(out[col].dtype)):
            out[col] = out[col].map(fix)
    return out


def _key(name: Any) -> str:
    return "".join(unicodedata.normalize("NFKC", str(name)).split()).casefold()


def _column(gdf: gpd.GeoDataFrame, candidates: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` present in ``gdf`` (case-insensitive, NFKC); failing
    that, a Chinese name cut short by the .dbf's 10-byte field names (UTF-8 "道路等" for
    道路等级)."""
    keys = {_key(c): c for c in gdf.columns if c != gdf.geometry.name}
    for cand in candidates:
        if _key(cand) in keys:
            return keys[_key(cand)]
    for cand in candidates:
        full = _key(cand)
        if full.isascii() or len(full.encode("utf-8")) <= 10:
            continue
        for key, col in keys.items():
            if len(key) >= 2 and not key.isascii() and full.startswith(key) \
                    and len(key.encode("utf-8")) >= 8:
                return col
    return None


def _columns_text(gdf: gpd.GeoDataFrame) -> str:
    cols = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    return ", ".join(cols[:12]) + (" …" if len(cols) > 12 else "")


def _named_column(gdf: gpd.GeoDataFrame, wanted: str, what: str) -> str:
    col = _column(gdf, (wanted,))
    if col is None:
        raise NetworkImportError(f"the {what} field {wanted!r} is not in the file "
                                 f"(have: {_columns_text(gdf)})")
    return col


def _oneway_value(value) -> int:
    """+1 one-way along the geometry, -1 one-way against it, 0 two-way."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    if isinstance(value, (bool,)) or (hasattr(value, "dtype") and str(value.dtype) == "bool"):
        return 1 if bool(value) else 0
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "f", "ft", "forward", "y", "是"):
        return 1
    if text in ("-1", "reverse", "t", "tf", "backward"):
        return -1
    return 0


def _display(value: Any) -> str:
    key = value_key(value)
    if not key:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def classify_column(values, class_map: ClassMap, report: ImportReport,
                    osm_values: bool) -> list[str]:
    """The class of each value (``SKIP`` to drop the feature). Empty → local; a value not in
    the map → local (reported as unmapped), or ``SKIP`` when the column holds OSM highway
    values (an unknown highway=* is not a road)."""
    out = []
    memo: dict[str, tuple[str, bool]] = {}
    for v in values:
        raw = _display(v)
        if raw not in memo:
            found = class_map.classify(v) if raw else None
            unmapped = found is None and bool(raw)
            if found is None:
                found = SKIP if unmapped and osm_values else "local"
            memo[raw] = (found, unmapped)
        cls, unmapped = memo[raw]
        if cls == SKIP:
            report.skipped[raw] += 1
        else:
            report.class_values[(raw, cls)] += 1
            if unmapped:
                report.unmapped[raw] += 1
        out.append(cls)
    return out


def _from_osm(gdf: gpd.GeoDataFrame, class_map: ClassMap, report: ImportReport) -> pd.DataFrame:
    """name, road_class, oneway (+1/-1/0), lanes, source id for OSM "lines" features."""
    if "highway" not in gdf:
        raise NetworkImportError("the OSM file has no highway lines")
    report.class_field, report.name_field = "highway", "name:zh, name"
    gdf = gdf[gdf["highway"].notna() & (gdf["highway"].astype(str).str.strip() != "")]
    classes = classify_column(gdf["highway"], class_map, report, osm_values=True)
    keep = pd.Series([c != SKIP for c in classes], index=gdf.index)
    gdf = gdf[keep]
    classes = [c for c in classes if c != SKIP]
    if gdf.empty:
        raise NetworkImportError("the OSM file contains no roads (no highway=motorway … "
                                 "residential ways)")
    tags = [parse_other_tags(v) for v in (gdf["other_tags"] if "other_tags" in gdf
                                          else [None] * len(gdf))]
    # a custom osmconf.ini may turn some of these tags into columns of their own
    for key in ("name:zh", "oneway", "lanes", "junction"):
        if key in gdf:
            for t, v in zip(tags, gdf[key]):
                if isinstance(v, str) and v:
                    t.setdefault(key, v)
    names = []
    for name, t in zip(gdf.get("name", pd.Series([None] * len(gdf), index=gdf.index)), tags):
        names.append(clean_road_name(t.get("name:zh")) or clean_road_name(t.get("name:zh-Hans"))
                     or clean_road_name(name))
    oneway = []
    for hw, t in zip(gdf["highway"], tags):
        ow = _oneway_value(t.get("oneway"))
        if ow == 0 and t.get("oneway") is None and (hw == "motorway" or
                                                    t.get("junction") == "roundabout"):
            ow = 1  # implied one-way in OSM
        oneway.append(ow)
    lanes = []
    for t in tags:
        try:
            lanes.append(int(str(t.get("lanes", "")).split(";")[0]))
        except ValueError:
            lanes.append(None)
    return pd.DataFrame({"road_name": names, "road_class": classes,
                         "oneway_sign": oneway, "lanes": lanes,
                         "source_id": [f"w{v}" if v is not None else None
                                       for v in gdf.get("osm_id", [None] * len(gdf))],
                         "geometry": gdf.geometry.values}, index=gdf.index)


def _garbled_hint(gdf: gpd.GeoDataFrame) -> str:
    cols = " ".join(str(c) for c in gdf.columns)
    if _MOJIBAKE_RE.search(cols) or "\ufffd" in cols:
        return ("; the attribute names look garbled: the .dbf is probably GBK — give "
                "--encoding GBK (or SHAPE_ENCODING=GBK)")
    return ""


def _from_table(gdf: gpd.GeoDataFrame, options: ImportOptions, class_map: ClassMap,
                report: ImportReport) -> pd.DataFrame:
    """The same columns as ``_from_osm`` for GeoJSON/GeoPackage/Shapefile attributes."""
    if options.name_field:
        name_col = _named_column(gdf, options.name_field, "name")
    else:
        name_col = _column(gdf, class_map.name_fields)
    if name_col is None:
        raise NetworkImportError("no road names found: expected a name attribute such as "
                                 "名称, 路名, 道路名称, NAME or road_name, or --name-field "
                                 f"(have: {_columns_text(gdf)}){_garbled_hint(gdf)}")
    if options.class_field:
        class_col = _named_column(gdf, options.class_field, "class")
    else:
        class_col = _column(gdf, class_map.class_fields)
    report.name_field, report.class_field = str(name_col), class_col and str(class_col)
    if class_col is None:
        classes = ["local"] * len(gdf)
        report.warnings.append("no road class attribute found (looked for 道路等级, 等级, "
                               "FCLASS, highway, CLASS …; or give --class-field): every "
                               "segment is 'local', so no road gets a label on the map")
    else:
        classes = classify_column(gdf[class_col], class_map, report,
                                  osm_values=_key(class_col) in OSM_FIELDS)
    keep = [c != SKIP for c in classes]
    gdf = gdf[keep]
    classes = [c for c, k in zip(classes, keep) if k]
    oneway_col = _column(gdf, ONEWAY_COLUMNS)
    lanes_col = _column(gdf, ("lanes", "车道数"))
    id_col = _column(gdf, ("segment_id", "osm_id", "id"))
    names = [clean_road_name(v) for v in gdf[name_col]]
    lanes = []
    for v in (gdf[lanes_col] if lanes_col else [None] * len(gdf)):
        try:
            lanes.append(int(v) if v is not None and not pd.isna(v) else None)
        except (TypeError, ValueError):
            lanes.append(None)
    ids = None
    if id_col is not None:
        raw = gdf[id_col]
        if raw.notna().all() and not raw.astype(str).duplicated().any():
            ids = raw.astype(str).tolist()
    return pd.DataFrame({"road_name": names, "road_class": classes,
                         "oneway_sign": [_oneway_value(v) for v in gdf[oneway_col]] if oneway_col
                         else [0] * len(gdf),
                         "lanes": lanes,
                         "source_id": ids if ids is not None else [None] * len(gdf),
                         "geometry": gdf.geometry.values}, index=gdf.index)


def _lines(gdf: gpd.GeoDataFrame, src: Path) -> gpd.GeoDataFrame:
    """The line features of the input; NetworkImportError when there are none."""
    if len(gdf) == 0:
        raise NetworkImportError(f"{src.name} contains no features")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    types = set(gdf.geometry.geom_type)
    lines = gdf[gdf.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    if lines.empty:
        found = ", ".join(sorted(types)) or "no geometry"
        raise NetworkImportError(f"{src.name} has no line features (found {found}); "
                                 "a road network needs LineString geometries")
    return lines


def _class_map(options: ImportOptions) -> ClassMap:
    cm = options.class_map
    if cm is None or cm == "":
        return DEFAULT_CLASS_MAP
    if isinstance(cm, ClassMap):
        return cm
    try:
        return load_class_map(cm)
    except ClassMapError as exc:
        raise NetworkImportError(str(exc)) from None


def _declared(options: ImportOptions) -> Declared | None:
    if not options.crs:
        return None
    try:
        return parse_crs(options.crs)
    except CrsError as exc:
        raise NetworkImportError(str(exc)) from None


def build_segments(src: Path, options: ImportOptions | None = None,
                   report: ImportReport | None = None) -> gpd.GeoDataFrame:
    """Read ``src`` and turn it into a segments frame ready for ``prepare_segments``."""
    options = options or ImportOptions()
    report = report if report is not None else ImportReport(src.name)
    class_map = _class_map(options)
    report.class_map = class_map.source
    declared = _declared(options)
    raw = _lines(read_source(src, options, report), src)
    report.features = int(len(raw))
    try:
        raw, report.crs, warnings = to_wgs84(raw, declared, src.name)
    except CrsError as exc:
        raise NetworkImportError(str(exc)) from None
    report.warnings.extend(warnings)
    table = (_from_osm(raw, class_map, report) if _is_osm(src)
             else _from_table(raw, options, class_map, report))
    gdf = gpd.GeoDataFrame(table, geometry="geometry", crs="EPSG:4326")
    gdf = gdf.explode(index_parts=False)
    gdf = gdf[gdf.geometry.geom_type == "LineString"]
    gdf["geometry"] = shapely.force_2d(gdf.geometry.values)
    if gdf.empty:
        raise NetworkImportError(f"{src.name} has no usable road lines")
    if not any(gdf["road_name"]):
        raise NetworkImportError(f"{src.name}: no road has a name; the locator needs road names"
                                 f"{_garbled_hint(raw)}")
    # -1 one-way: turn the line round so it runs in the travel direction
    rev = gdf["oneway_sign"] < 0
    if rev.any():
        gdf.loc[rev, "geometry"] = shapely.reverse(gdf.geometry[rev].values)
    metric_crs = gdf.estimate_utm_crs()
    metric = gdf.geometry.to_crs(metric_crs)
    rows = []
    used: set[str] = set()
    for k, (row, geom) in enumerate(zip(gdf.itertuples(index=False), metric.values), start=1):
        length = geom.length
        if not length > 0.5:
            continue
        n = max(1, int(math.ceil(length / MAX_SEGMENT_M)))
        has_id = isinstance(row.source_id, str) and row.source_id != ""
        base = row.source_id if has_id else f"s{k:06d}"
        oneway = row.oneway_sign != 0
        cls = row.road_class if row.road_class in ROAD_CLASSES else "local"
        for part_no in range(n):
            part = geom if n == 1 else substring(geom, part_no / n, (part_no + 1) / n,
                                                 normalized=True)
            sid = base if n == 1 else f"{base}-{part_no + 1}"
            while sid in used:
                sid = f"{sid}x"
            used.add(sid)
            (x0, y0), (x1, y1) = part.coords[0], part.coords[-1]
            lanes = (row.lanes if pd.notna(row.lanes) and row.lanes > 0
                     else DEFAULT_LANES[cls] // (2 if oneway else 1))
            rows.append({"segment_id": sid, "road_name": row.road_name, "road_class": cls,
                         "oneway": oneway, "direction": axis_direction(x1 - x0, y1 - y0, oneway),
                         "district": None, "length_m": round(part.length, 1),
                         "lanes": int(lanes), "geometry": part})
    if not rows:
        raise NetworkImportError(f"{src.name} has no road lines longer than half a metre")
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=metric_crs).to_crs("EPSG:4326")
    out["geometry"] = shapely.set_precision(out.geometry.values, 1e-7)
    out = out[~out.geometry.is_empty & (out.geometry.geom_type == "LineString")]
    return out


def _read_districts(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise NetworkImportError(f"districts file not found: {path}")
    try:
        return prepare_districts(pyogrio.read_dataframe(path))
    except NetworkError as exc:
        raise NetworkImportError(f"{path.name}: {exc}") from exc
    except Exception as exc:
        raise NetworkImportError(f"cannot read districts {path.name}: {_one_line(exc)}") from exc


def import_network(src: Path, state_dir: Path, districts: Path | None = None,
                   options: ImportOptions | None = None) -> dict:
    """Import ``src`` as the active road network of ``state_dir``; returns its summary
    (``RoadNetwork.summary``) with what the import decided under ``import``."""
    src = Path(src)
    report = ImportReport(src.name)
    segments = build_segments(src, options, report)
    district_gdf = _read_districts(Path(districts)) if districts is not None else None
    if district_gdf is not None:
        metric = segments.geometry.to_crs(segments.estimate_utm_crs())
        mids = gpd.GeoDataFrame(geometry=metric.interpolate(0.5, normalized=True).to_crs(4326))
        joined = gpd.sjoin(mids, district_gdf[["name", "geometry"]], how="left",
                           predicate="intersects")
        first = joined[~joined.index.duplicated(keep="first")]["name"].reindex(mids.index)
        segments["district"] = [v if isinstance(v, str) else None for v in first]

    net_dir = Path(state_dir) / NETWORK_SUBDIR
    net_dir.mkdir(parents=True, exist_ok=True)
    staging = net_dir / f".incoming-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        roads_tmp = staging / IMPORTED_ROADS
        try:
            segments.to_file(roads_tmp, driver="GPKG", layer="roads", engine="pyogrio")
            if district_gdf is not None:
                district_gdf.to_file(staging / DISTRICT_FILES[0], driver="GPKG",
                                     layer="districts", engine="pyogrio")
        except Exception as exc:
            raise NetworkImportError(f"cannot write the network: {_one_line(exc)}") from exc
        try:
            network = load_network(roads_tmp)
        except Exception as exc:
            raise NetworkImportError(f"the converted network does not load: {_one_line(exc)}") \
                from exc
        summary = network.summary()
        if district_gdf is not None:
            os.replace(staging / DISTRICT_FILES[0], net_dir / DISTRICT_FILES[0])
        os.replace(roads_tmp, net_dir / IMPORTED_ROADS)
        if district_gdf is None:
            for name in DISTRICT_FILES:
                (net_dir / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    clear_network_cache()
    return {**summary, "import": report.as_dict()}
