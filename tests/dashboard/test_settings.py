from pathlib import Path

import pytest

from dashboard.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lukuang.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_when_nothing_is_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert s.redis_url == "" and s.city == "taian" and s.port == 8050
    assert s.state_dir == Path.home() / ".local" / "state" / "lukuang"


def test_argument_beats_environment_beats_file(tmp_path):
    cfg = write(tmp_path, 'port = 9000\ncity = "jinan"\nrefresh_s = 7.5\n')
    env = {"LUKUANG_PORT": "9100", "REDIS_URL": "redis://127.0.0.1:6380/2"}
    s = load_settings(cfg, env=env)
    assert (s.port, s.city, s.refresh_s) == (9100, "jinan", 7.5)
    assert s.redis_url == "redis://127.0.0.1:6380/2"
    s = load_settings(cfg, env=env, port=9200)
    assert s.port == 9200


def test_state_dir_from_environment(tmp_path):
    s = load_settings(env={"LUKUANG_STATE_DIR": str(tmp_path / "a")})
    assert s.state_dir == (tmp_path / "a").resolve()


def test_feeds_table(tmp_path):
    cfg = write(tmp_path, '[feeds.waze]\nurl = "http://127.0.0.1:9/w.json"\ninterval_s = 20\n'
                          '[feeds.gaode]\nadapter = "amap"\nurl = "file:///tmp/a.json"\n')
    s = load_settings(cfg, env={})
    assert [(f.name, f.adapter, f.interval_s) for f in s.feeds] == [
        ("waze", "waze", 20), ("gaode", "amap", 30.0)]


@pytest.mark.parametrize("text,fragment", [
    ("port = 'eighty'", "setting port"),
    ("colour = 'red'", "unknown setting 'colour'"),
    ("port = ", "config file"),
    ("city_bbox = [117.5, 36.0, 117.0, 36.5]", "city_bbox"),
    ('city = "tai{an}"', "city"),
])
def test_bad_values_are_named(tmp_path, text, fragment):
    with pytest.raises(SettingsError, match=fragment.replace("{", r"\{").replace("(", r"\(")):
        load_settings(write(tmp_path, text), env={})


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_bool_from_environment():
    assert load_settings(env={"LUKUANG_DEMO": "off"}).demo is False
    with pytest.raises(SettingsError):
        load_settings(env={"LUKUANG_DEMO": "perhaps"})
