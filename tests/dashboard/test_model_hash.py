"""``encode_hash`` / ``decode_hash``: a dataclass as a flat Redis hash and back, by field type."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dashboard.comms.bulletin_store import Record
from dashboard.dispatch.incidents import Incident
from dashboard.dispatch.units import Unit
from dashboard.model import RoadEvent, decode_hash, encode_hash

UTC = timezone.utc


@dataclass
class Sample:
    name: str
    count: int
    ratio: float
    seen_at: datetime
    flag: bool = False
    label: str = "none"
    score: float | None = None
    ends_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    line: tuple[tuple[float, float], ...] = ()


FULL = Sample(name="长城路", count=3, ratio=0.1, seen_at=datetime(2026, 10, 1, 8, 30, tzinfo=UTC),
              flag=True, label="", score=2.5, ends_at=datetime(2026, 10, 2, tzinfo=UTC),
              tags=["a", "b"], history=[{"z": 1, "a": 2}], attrs={"b": 1, "a": [1, 2]},
              names=("东岳大街", "x"), line=((117.1, 36.2), (117.25, 36.0)))


def test_round_trip():
    assert Sample(**decode_hash(Sample, encode_hash(FULL))) == FULL
    bare = Sample(name="", count=0, ratio=0.0, seen_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert Sample(**decode_hash(Sample, encode_hash(bare))) == bare


def test_encoding_is_the_one_the_old_serialisers_wrote():
    assert encode_hash(FULL) == {
        "name": "长城路", "count": "3", "ratio": "0.1", "seen_at": "2026-10-01T08:30:00+00:00",
        "flag": "1", "label": "", "score": "2.5", "ends_at": "2026-10-02T00:00:00+00:00",
        "tags": '["a","b"]', "history": '[{"z":1,"a":2}]', "attrs": '{"b":1,"a":[1,2]}',
        "names": '["东岳大街","x"]', "line": "[[117.1,36.2],[117.25,36.0]]"}
    h = encode_hash(FULL, sort_keys=True, skip=("count", "ratio"))
    assert "count" not in h and "ratio" not in h
    assert (h["history"], h["attrs"]) == ('[{"a":2,"z":1}]', '{"a":[1,2],"b":1}')
    beijing = timezone(timedelta(hours=8))
    off = Sample(name="x", count=1, ratio=1e-7,
                 seen_at=datetime(2026, 10, 1, 16, 30, tzinfo=beijing))
    h = encode_hash(off)
    assert (h["flag"], h["score"], h["ends_at"], h["ratio"]) == ("0", "", "", "1e-07")
    assert h["seen_at"] == "2026-10-01T08:30:00+00:00"          # times are stored as UTC


def test_optional_missing_and_empty_fields():
    h = {"name": "x", "count": "2", "ratio": "0.5", "seen_at": "2026-10-01T08:30:00+00:00",
         "score": "", "ends_at": ""}
    kw = decode_hash(Sample, h)
    assert "label" not in kw and "tags" not in kw and "score" not in kw   # defaults apply
    s = Sample(**kw)
    assert (s.label, s.tags, s.flag, s.names, s.line) == ("none", [], False, (), ())
    assert s.score is None and s.ends_at is None                          # "" is None
    # a missing field without a default takes its type's empty value; a str keeps ""
    assert decode_hash(Sample, {"label": "", "flag": ""}) == {
        "name": "", "count": 0, "ratio": 0.0, "seen_at": None, "label": ""}
    assert decode_hash(Sample, {"count": "", "tags": ""}, skip=("name",)) == {
        "count": 0, "ratio": 0.0, "seen_at": None}


def test_decoded_values_have_the_field_types():
    s = Sample(**decode_hash(Sample, encode_hash(FULL)))
    assert isinstance(s.names, tuple) and isinstance(s.line, tuple)
    assert all(isinstance(p, tuple) for p in s.line)
    assert s.seen_at.tzinfo is not None and s.flag is True


def test_a_type_without_a_hash_form_must_be_skipped():
    @dataclass
    class Odd:
        id: str
        thing: Sample

    with pytest.raises(TypeError, match="Odd.thing"):
        decode_hash(Odd, {"id": "1"})
    assert decode_hash(Odd, {"id": "1"}, skip=("thing",)) == {"id": "1"}


def test_stored_road_event_reads_as_before():
    """A hash exactly as the hand-written RoadEvent.to_hash wrote it."""
    stored = {"id": "waze:1", "kind": "incident", "category": "accident", "severity": "3",
              "source": "waze", "observed_at": "2026-10-01T00:30:00+00:00", "lon": "117.1",
              "lat": "36.2", "line": "[[117.1,36.2],[117.2,36.3]]", "status": "active",
              "segment_id": "", "district": "", "road_names": '["东岳大街","x"]',
              "starts_at": "", "ends_at": "2026-10-02T00:00:00+00:00", "confidence": "0.5",
              "text": "长城路", "raw_ref": "", "attrs": '{"a":[1,2],"b":1,"c":null}'}
    ev = RoadEvent.from_hash(stored)
    assert ev == RoadEvent("waze:1", "incident", "accident", 3, "waze",
                           datetime(2026, 10, 1, 0, 30, tzinfo=UTC), 117.1, 36.2,
                           line=((117.1, 36.2), (117.2, 36.3)), road_names=("东岳大街", "x"),
                           ends_at=datetime(2026, 10, 2, tzinfo=UTC), confidence=0.5,
                           text="长城路", attrs={"b": 1, "a": [1, 2], "c": None})
    assert ev.to_hash() == stored
    assert list(ev.to_hash()) == list(stored)


def test_stored_incident_reads_and_writes_as_before():
    stored = {"id": "INC-1", "status": "verified", "category": "other", "severity": "2",
              "text": "事故", "lon": "117.123456", "lat": "36.1", "district": "",
              "segment_id": "", "road_names": '["东岳大街"]', "place": "", "source": "",
              "created_at": "1759278600.123", "created_by": "", "reported_at": "0.0",
              "verified_at": "1759278700.5", "dispatched_at": "", "on_scene_at": "",
              "cleared_at": "", "ack": "1", "ack_by": "", "ack_at": "", "updated_at": "0.0",
              "updated_by": "", "reports": '["waze:1"]', "units": "[]", "merged": "[]",
              "merged_into": "", "reopened": "1", "history": '[{"z":1,"at":1.5}]'}
    inc = Incident.from_hash({**stored, "rev": "3"})
    assert (inc.rev, inc.severity, inc.ack, inc.verified_at, inc.dispatched_at) == (
        3, 2, True, 1759278700.5, None)
    assert inc.history == [{"z": 1, "at": 1.5}] and list(inc.history[0]) == ["z", "at"]
    # rev is left out; a hash stored before the fusion (issue 14) gains its fields, empty
    fusion = {"precision": "", "last_report_at": "0.0", "split_from": "", "split_off": "[]"}
    assert inc.to_hash() == {**stored, **fusion}


def test_unit_and_record_special_cases():
    u = Unit.from_hash({"id": "T-1", "lon": "117.100000", "lat": "bad", "rev": "2"})
    assert (u.status, u.lon, u.lat, u.rev, u.updated_at, u.type) == (
        "free", 117.1, None, 2, 0.0, "")
    rec = Record.from_hash({"id": "B1", "state": "drafted", "rev": "4", "created_at": "1.500",
                            "editors": '["wang"]',
                            "data": '{"kind": "control", "title": "t", "body": "b"}'})
    assert (rec.rev, rec.created_at, rec.editors, rec.approved_at, rec.bulletin.title) == (
        4, 1.5, ["wang"], 0.0, "t")
