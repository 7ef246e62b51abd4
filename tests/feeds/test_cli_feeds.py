"""`lukuang ingest`, `lukuang locate` and `lukuang feeds`, run as real commands."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.topologies("single", "cluster")

REPO = Path(__file__).resolve().parents[2]


def lukuang(settings, cwd: Path, *args: str, config: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUKUANG_")}
    env.update(REDIS_URL=settings.redis_url, LUKUANG_KEY_PREFIX=settings.key_prefix,
               LUKUANG_STATE_DIR=str(settings.state_dir), PYTHONPATH=str(REPO))
    if config is not None:
        env["LUKUANG_CONFIG"] = str(config)
    return subprocess.run([sys.executable, "-c", "import app, sys; sys.exit(app.main())",
                           *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def our_errors(stderr: str) -> list[str]:
    """The command's own error lines (log lines have a timestamp in front)."""
    return [line for line in stderr.splitlines() if line.startswith("lukuang:")]


def waze_file(path: Path, alerts: list[dict], jams: list[dict] | None = None) -> Path:
    path.write_text(json.dumps({"alerts": alerts, "jams": jams or []}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def alert(uuid: str, lon: float, lat: float, **extra) -> dict:
    return {"uuid": uuid, "type": "ACCIDENT", "subtype": "ACCIDENT_MAJOR",
            "location": {"x": lon, "y": lat}, "pubMillis": int(time.time() * 1000) - 30_000,
            "street": "东岳大街", "reliability": 7, "confidence": 2, **extra}


def test_ingest_prints_a_summary_and_is_idempotent(settings, store, tmp_path):
    path = waze_file(tmp_path / "waze.json", [alert("cli-a", 117.1237, 36.1961),
                                              alert("cli-b", 117.1170, 36.1668)])
    first = lukuang(settings, tmp_path, "ingest", "waze", str(path))
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert {"feed", "file", "accepted", "new", "updated", "duplicates", "ended", "quarantined",
            "reasons"} <= set(out)
    assert out["feed"] == "waze" and out["file"] == str(path)
    assert out["new"] == 2 and out["accepted"] == 2 and out["quarantined"] == 0
    assert out["reasons"] == {}
    assert store.get_event("waze:cli-a") is not None
    again = json.loads(lukuang(settings, tmp_path, "ingest", "waze", str(path)).stdout)
    assert again["new"] == 0 and again["duplicates"] == 2 and again["accepted"] == 0


def test_ingest_quarantines_bad_records_and_still_exits_0(settings, store, tmp_path):
    path = waze_file(tmp_path / "mixed.json", [
        alert("cli-good", 117.1237, 36.1961),
        alert("cli-far-away", -74.0, 40.7),  # New York: outside the city
        {"type": "ACCIDENT", "location": "nowhere"},  # no uuid, no coordinates
    ])
    done = lukuang(settings, tmp_path, "ingest", "waze", str(path))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["accepted"] == 1 and out["quarantined"] == 2
    assert sum(out["reasons"].values()) == 2
    assert len(store.quarantined("waze", 10)) == 2


def test_ingest_exits_2_when_the_file_is_missing(settings, tmp_path):
    done = lukuang(settings, tmp_path, "ingest", "waze", str(tmp_path / "nope.json"))
    assert done.returncode == 2 and done.stdout == ""
    errors = our_errors(done.stderr)
    assert len(errors) == 1 and "nope.json" in errors[0]


def test_ingest_exits_2_when_the_payload_is_unusable(settings, store, tmp_path):
    path = tmp_path / "error.html"
    path.write_text("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>")
    done = lukuang(settings, tmp_path, "ingest", "waze", str(path))
    assert done.returncode == 2 and done.stdout == ""
    errors = our_errors(done.stderr)
    assert len(errors) == 1 and "unusable waze payload" in errors[0]
    assert store.quarantined("waze", 1)[0]["reason"].startswith("payload")


def test_ingest_exits_2_for_an_unknown_feed_or_an_oversized_file(settings, tmp_path):
    path = waze_file(tmp_path / "waze.json", [alert("cli-x", 117.1237, 36.1961)])
    assert lukuang(settings, tmp_path, "ingest", "tencent", str(path)).returncode == 2
    done = lukuang(settings, tmp_path, "ingest", "waze", str(path), "--max-mb", "0.0001")
    assert done.returncode == 2 and "larger than" in our_errors(done.stderr)[0]


def test_locate_prints_roads_point_and_category(settings, tmp_path):
    done = lukuang(settings, tmp_path, "locate", "长城路与泰玻大街路口两车追尾，请注意绕行")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["found"] is True
    assert {"长城路", "泰玻大街"} <= set(out["roads"])
    lon, lat = out["intersection"]
    x0, y0, x1, y1 = settings.city_bbox
    assert x0 < lon < x1 and y0 < lat < y1
    assert out["segment_id"] and out["district"]
    assert out["category"] == "accident" and out["kind"] == "incident"


def test_locate_exits_1_when_the_text_names_no_place(settings, tmp_path):
    done = lukuang(settings, tmp_path, "locate", "今天心情不错")
    assert done.returncode == 1
    out = json.loads(done.stdout)
    assert out["found"] is False and out["roads"] == [] and out["intersection"] is None


def test_feeds_without_any_feed_configured_exits_2(settings, tmp_path):
    config = tmp_path / "lukuang.toml"
    config.write_text("demo = false\n")
    done = lukuang(settings, tmp_path, "feeds", config=config, timeout=60)
    assert done.returncode == 2 and "no feed is configured" in our_errors(done.stderr)[0]


def test_feeds_only_accepts_configured_feeds(settings, tmp_path):
    config = tmp_path / "lukuang.toml"
    config.write_text('demo = false\n[feeds.waze]\nurl = "http://127.0.0.1:9/x"\n')
    done = lukuang(settings, tmp_path, "feeds", "--only", "nope", config=config, timeout=60)
    assert done.returncode == 2 and "not configured: nope" in our_errors(done.stderr)[0]
