"""Reach: importing the owner's CSV export (UTF-8, BOM, GBK) and statuses JSON, snapshots
over time, period figures with comparisons, and the ``lukuang reach`` command."""
import argparse
import json
from datetime import date, datetime

import pytest

from dashboard.cli import reach as reach_cli
from dashboard.comms.holidays import HolidayCalendar
from dashboard.comms.reach import (REFERENCE_FILE, BadValue, ReachFileError, ReachStore, cumulative,
                             load_references, parse_count, parse_file, parse_post_id,
                             post_rows, posts_csv, reads_series, report, report_csv)
from dashboard.timeutil import SHANGHAI

pytestmark = pytest.mark.topologies("single", "cluster")

HEADER_ZH = "微博ID,发布时间,微博内容,阅读数,转发数,评论数,点赞数"
CSV_ZH = (HEADER_ZH + "\r\n"
          "4179082571460369,2026-10-01 08:00,#泰安路况#【路况播报】东岳大街拥堵,\"12,345\",10,5,20\r\n"
          "4179082571460370,2026-10-01 11:35,【事故快报】泰玻大街发生事故,1.2万,30,12,88\r\n"
          "4179082571460371,2026-10-02 09:00,【路况播报】全市通行顺畅,65605,3,1,9\r\n")


def at(day: int, h: int = 12, month: int = 10, year: int = 2026) -> float:
    return datetime(year, month, day, h, tzinfo=SHANGHAI).timestamp()


@pytest.fixture
def rs(r, keys) -> ReachStore:
    return ReachStore(r, keys)


@pytest.mark.parametrize("text, n", [
    ("12345", 12345), ("12,345", 12345), ("1.2万", 12000), ("3.4亿", 340_000_000),
    ("10万+", 100_000), ("１２３", 123), (" 7 ", 7), ("0", 0), ("", None), ("-", None),
    (42, 42), ("1.5w", 15000),
])
def test_counts_as_people_write_them(text, n):
    assert parse_count(text) == n


@pytest.mark.parametrize("text", ["12.5", "1,23", "abc", "-3", "1.2x", "万", -1, True])
def test_bad_counts_say_why(text):
    with pytest.raises(BadValue):
        parse_count(text)


def test_post_ids_lost_to_a_spreadsheet_are_refused():
    assert parse_post_id(" 4179082571460369 ") == "4179082571460369"
    with pytest.raises(BadValue, match="spreadsheet number"):
        parse_post_id("4.17908E+15")
    with pytest.raises(BadValue, match="floating-point"):
        parse_post_id(4.179082571460369e15)


@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"),
                                           ("gbk", b"")])
def test_csv_in_utf8_bom_and_gbk(encoding, bom):
    batch = parse_file(bom + CSV_ZH.encode(encoding))
    assert batch.source == "csv" and batch.rejected == []
    assert batch.encoding == ("gbk" if encoding == "gbk" else "utf-8")
    assert [(p.post_id, p.reads, p.reposts, p.comments, p.likes) for p in batch.rows] == [
        ("4179082571460369", 12345, 10, 5, 20), ("4179082571460370", 12000, 30, 12, 88),
        ("4179082571460371", 65605, 3, 1, 9)]
    assert batch.rows[0].text == "#泰安路况#【路况播报】东岳大街拥堵"
    assert batch.rows[1].created_at == datetime(2026, 10, 1, 11, 35, tzinfo=SHANGHAI)


def test_english_headers_tabs_and_any_column_order():
    text = ("likes\tid\treads\tcreated_at\n"
            "5\t100\t1.1万\t2026-10-03T10:00:00+08:00\n")
    batch = parse_file(text.encode())
    assert [(p.post_id, p.reads, p.likes, p.reposts) for p in batch.rows] == [
        ("100", 11000, 5, None)]


def test_bad_rows_are_reported_with_row_and_reason():
    text = (HEADER_ZH + "\n"
            "1,2026-10-01 08:00,\"多行\n内容\",100,1,1,1\n"    # a quoted cell over two lines
            "4.17908E+15,2026-10-01 08:00,x,100,1,1,1\n"
            "3,十月一日,x,100,1,1,1\n"
            "4,2026-10-01 09:00,x,1.2x,1,1,1\n"
            "\n"
            "5,2026-10-01 09:00,x,,,,\n"
            "6,2026-10-01 09:00,x,-5,1,1,1\n"
            "7,2026-10-01 10:00,好的,200,2,2,2\n")
    batch = parse_file(text.encode("utf-8"))
    assert [p.post_id for p in batch.rows] == ["1", "7"]
    assert batch.rows[0].text == "多行\n内容"
    reasons = {x["row"]: x["reason"] for x in batch.rejected}
    assert sorted(reasons) == [3, 4, 5, 7, 8]
    assert "spreadsheet number" in reasons[3] and reasons[3].startswith("微博ID")
    assert reasons[4].startswith("发布时间")
    assert reasons[5].startswith("阅读数") and "1.2x" in reasons[5]
    assert reasons[7] == "no metric value in the row"
    assert reasons[8].startswith("阅读数")


@pytest.mark.parametrize("payload, message", [
    (b"", "empty"),
    (b"\x81\x20\xfe\xff" * 10, "neither UTF-8 nor GBK"),
    ("标题,作者\n1,2\n".encode(), "no post id column"),
    ("微博ID,发布时间,微博内容\n1,2026-10-01,x\n".encode(), "no metric column"),
    ("微博ID,阅读数\n1,5\n".encode(), "发布时间"),
    (b"{not json", "not JSON"),
    (b'{"error": "expired_token", "error_code": 21327}', "API error 21327"),
])
def test_unusable_files(payload, message):
    with pytest.raises(ReachFileError, match=message):
        parse_file(payload)


STATUSES = {"statuses": [
    {"created_at": "Thu Oct 01 08:00:00 +0800 2026", "idstr": "4179082571460369",
     "id": 4179082571460369, "text": "#泰安路况#【路况播报】东岳大街<a href='x'>拥堵</a>",
     "reposts_count": 12, "comments_count": 6, "attitudes_count": 25},
    {"created_at": "Thu Oct 01 20:00:00 +0800 2026", "idstr": "4179082571460400",
     "text": "晚间路况", "reposts_count": 1, "comments_count": 0, "attitudes_count": 3},
    {"created_at": "yesterday", "idstr": "4179082571460401", "text": "x",
     "reposts_count": 1},
    "not a status",
], "total_number": 4}


def test_statuses_json_and_csv_reads_combine(rs):
    batch = parse_file(json.dumps(STATUSES, ensure_ascii=False).encode())
    assert batch.source == "api"
    assert [x["row"] for x in batch.rejected] == [3, 4]
    assert batch.rejected[0]["reason"].startswith("created_at")
    assert batch.rows[0].text == "#泰安路况#【路况播报】东岳大街拥堵" and batch.rows[0].reads is None
    res = rs.record(batch.rows, "api", at=at(1, 21))
    assert (res.posts, res.new_posts, res.snapshots) == (2, 2, 2)
    csv_res = rs.import_file(CSV_ZH.encode(), at=at(2, 21))
    assert (csv_res["posts"], csv_res["new_posts"], csv_res["snapshots"]) == (3, 2, 3)
    post = rs.post("4179082571460369")
    # each metric takes the newest snapshot that has it: reads from the export, and the
    # reposts the export gave (10) win over the API's older 12; each keeps its own time
    assert (post["reads"], post["reposts"], post["likes"]) == ("12345", "10", "20")
    assert float(post["reads_at"]) == at(2, 21)
    snaps = rs.snapshots("4179082571460369")
    assert [(s["src"], s["reads"], s["reposts"]) for s in snaps] == [("api", None, 12),
                                                                     ("csv", 12345, 10)]


def test_snapshots_over_time_and_idempotent_imports(rs):
    first = rs.import_file(CSV_ZH.encode(), at=at(1, 12))
    assert first["snapshots"] == 3
    assert rs.import_file(CSV_ZH.encode(), at=at(1, 13))["snapshots"] == 0   # nothing changed
    grown = CSV_ZH.replace('"12,345"', "15000").replace("1.2万", "1.3万")
    again = rs.import_file(grown.encode("gbk"), at=at(1, 18))
    assert again["snapshots"] == 2
    assert [s["reads"] for s in rs.snapshots("4179082571460369")] == [12345, 15000]
    # an older export imported late does not replace the latest figures
    rs.import_file(CSV_ZH.replace('"12,345"', "9000").encode(), at=at(1, 9))
    assert rs.post("4179082571460369")["reads"] == "15000"
    assert [s["reads"] for s in rs.snapshots("4179082571460369")] == [9000, 12345, 15000]


def _campaign(rs, year: int, days: list[tuple[int, int, int]], month: int = 10) -> None:
    """(day, posts, reads per post) → CSV rows imported once."""
    lines = [HEADER_ZH]
    n = 0
    for day, posts, reads in days:
        for i in range(posts):
            n += 1
            lines.append(f"{year}{month:02d}{day:02d}{i:04d},{year}-{month:02d}-{day:02d} "
                         f"{8 + i:02d}:00,第{n}条,{reads + i},{i},{i},{2 * i}")
    assert rs.import_file("\n".join(lines).encode(), at=at(20, 12, month, year))["rejected"] \
        == []


def test_period_figures_and_comparisons(rs, tmp_path):
    _campaign(rs, 2026, [(1, 3, 1000), (2, 2, 5000), (7, 1, 70000), (8, 4, 9)])
    _campaign(rs, 2025, [(1, 2, 3000), (8, 1, 100)])
    _campaign(rs, 2026, [(30, 5, 1)], month=9)                 # before the period
    cal = HolidayCalendar.load(tmp_path, shipped=None)
    period = cal.period_for("national-day", 2026)
    rep = report(rs, period.start, period.end, period=period, calendar=cal)
    assert (rep["from"], rep["to"], rep["days"]) == ("2026-10-01", "2026-10-07", 7)
    assert rep["posts"] == 6
    assert rep["reads"] == (1000 + 1001 + 1002) + (5000 + 5001) + 70000
    assert rep["best_post"]["id"] == "202610070000" and rep["best_post"]["reads"] == 70000
    assert rep["best_post"]["text"] == "第6条"
    assert (rep["reposts"], rep["comments"], rep["likes"]) == (4, 4, 8)
    assert [d["reads"] for d in rep["reads_per_day"]] == [3003, 10001, 0, 0, 0, 0, 70000]
    assert [d["posts"] for d in rep["reads_per_day"]] == [3, 2, 0, 0, 0, 0, 1]
    assert cumulative(rep["reads_per_day"])[-1] == rep["reads"]
    prev = rep["previous"]
    assert prev["holiday"]["from"] == "2025-10-01" and prev["holiday"]["to"] == "2025-10-08"
    assert (prev["posts"], prev["reads"]) == (3, 3000 + 3001 + 100)
    ref = rep["reference"]
    assert (ref["posts"], ref["reads"], ref["best_post_reads"]) == (467, 2_065_899, 65_605)
    assert rep["vs_reference"] == round(rep["reads"] / 2_065_899, 4)
    assert rep["vs_previous"] == round(rep["reads"] / 6101, 4)
    csv_text = report_csv(rep)
    assert csv_text.startswith("\ufeff日期,发布数,阅读数,转发数,评论数,点赞数\r\n2026-10-01,3,3003,")
    assert f"合计,6,{rep['reads']},4,4,8" in csv_text


def test_reference_file_states_its_origin():
    refs = load_references(REFERENCE_FILE)
    assert refs[0]["kind"] == "national-day" and refs[0]["reads"] == 2_065_899
    assert "2014" in refs[0]["source"]


def test_a_period_without_posts_is_all_zero(rs):
    rep = report(rs, date(2026, 5, 1), date(2026, 5, 5))
    assert rep["posts"] == 0 and rep["reads"] == 0 and rep["best_post"] is None
    assert rep["previous"] is None and rep["reference"] is None
    assert len(rep["reads_per_day"]) == 5


def test_csv_export_cells_cannot_run_as_formulas(rs):
    rs.import_file((HEADER_ZH + "\n1,2026-10-01 08:00,=HYPERLINK(\"http://x\"),5,0,0,0\n")
                   .encode(), at=at(1))
    out = report_csv(report(rs, date(2026, 10, 1), date(2026, 10, 1)))
    assert "'=HYPERLINK" in out


# -- the command line ------------------------------------------------------------------------
def run_cli(argv, settings, capsys):
    parser = argparse.ArgumentParser()
    reach_cli.register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    code = args.handler(args, settings)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_import_and_report(settings, tmp_path, capsys):
    f = tmp_path / "export.csv"
    f.write_bytes((CSV_ZH + "x,2026-10-01 08:00,坏行,1,1,1,1\r\n").encode("gbk"))
    code, out, err = run_cli(["reach", "import", str(f), "--at", "2026-10-08T09:00+08:00"],
                             settings, capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["posts"], summary["snapshots"], summary["encoding"]) == (3, 3, "gbk")
    assert summary["rejected"] == [{"row": 5, "reason": "微博ID: not a post id: 'x'"}]
    code, out, _ = run_cli(["reach", "report", "--holiday", "national-day", "--year", "2026"],
                           settings, capsys)
    rep = json.loads(out)
    assert code == 0 and rep["posts"] == 3 and rep["reads"] == 12345 + 12000 + 65605
    assert rep["best_post"] == {"id": "4179082571460371", "reads": 65605,
                                "text": "【路况播报】全市通行顺畅",
                                "created_at": "2026-10-02T09:00:00+08:00"}
    assert rep["reference"]["reads"] == 2_065_899
    code, out, _ = run_cli(["reach", "report", "--from", "2026-10-01", "--to", "2026-10-01"],
                           settings, capsys)
    day = json.loads(out)
    assert (day["posts"], day["reads"], day["holiday"]) == (2, 24345, None)
    code, out, _ = run_cli(["reach", "report", "--from", "2026-10-01", "--to", "2026-10-07"],
                           settings, capsys)
    assert json.loads(out)["holiday"]["kinds"] == ["national-day"]   # the range is the holiday


def test_cli_exit_codes(settings, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes("标题,作者\n1,2\n".encode())
    code, out, err = run_cli(["reach", "import", str(bad)], settings, capsys)
    assert code == 2 and out == "" and "no post id column" in err
    code, _, err = run_cli(["reach", "import", str(tmp_path / "missing.csv")], settings, capsys)
    assert code == 2 and "cannot read" in err
    # 2031 is derived from the statutory rules (provisional); 2150 is beyond every source
    code, out, _ = run_cli(["reach", "report", "--holiday", "national-day", "--year", "2031"],
                           settings, capsys)
    assert code == 0 and json.loads(out)["holiday"]["provisional"] is True
    code, _, err = run_cli(["reach", "report", "--holiday", "national-day", "--year", "2150"],
                           settings, capsys)
    assert code == 2 and "no holiday data for 2150" in err
    code, _, err = run_cli(["reach", "report", "--from", "2026-10-07", "--to", "2026-10-01"],
                           settings, capsys)
    assert code == 2
    code, _, err = run_cli(["reach", "report"], settings, capsys)
    assert code == 2 and "--from and --to" in err


# -- the demo poller (feeds/reach_feed.py) against the simulator --------------------------------
def test_poller_reads_the_simulated_timeline_and_export(settings, store, rs):
    from dashboard.roads.network import load_network
    from dashboard.comms.reach import REPO
    from feeds import reach_feed
    from feeds.sim.server import SimServer
    from feeds.sim.world import World

    clock = {"t": datetime.fromisoformat("2026-10-03T15:00+08:00").timestamp()}
    world = World(load_network(REPO / "data" / "taian" / "roads.geojson"), 20261001, "auto")
    server = SimServer(world, lambda: clock["t"], port=0).start()
    reach_feed._backfilled.clear()
    try:
        first = reach_feed.poll_reach(settings, store, base_url=server.url)
        assert first["errors"] == [] and first["rejected"] == 0
        assert first["posts"] > 100 and first["snapshots"] > 100
        assert first["backfilled"] == [["2026-10-01", "2026-10-03"], ["2025-10-01", "2025-10-08"]]
        again = reach_feed.poll_reach(settings, store, base_url=server.url)
        assert again["snapshots"] == 0 and again["backfilled"] == []   # nothing moved
        clock["t"] += 3600
        later = reach_feed.poll_reach(settings, store, base_url=server.url)
        assert later["snapshots"] > 0                                   # metrics grew
    finally:
        server.close()
    cal = HolidayCalendar.load(settings.state_dir, shipped=None)
    period = cal.period_for("national-day", 2026)
    rep = report(rs, period.start, period.end, period=period, calendar=cal)
    assert rep["posts"] > 0 and rep["reads"] > 0 and rep["best_post"]["reads"] > 0
    assert [d["posts"] > 0 for d in rep["reads_per_day"]][:3] == [True, True, True]
    assert rep["previous"]["posts"] > 0 and rep["previous"]["reads"] > 0
    health = store.feed_health("reach")["reach"]
    assert health["polls"] == "3" and "last_ok" in health


def test_poller_survives_a_dead_upstream(settings, store):
    from feeds import reach_feed

    out = reach_feed.poll_reach(settings, store, base_url="http://127.0.0.1:9")
    assert out["posts"] == 0 and len(out["errors"]) == 2
    health = store.feed_health("reach")["reach"]
    assert health["errors"] == "1" and health["last_error"]


# -- per post: the table, each post's reads over time, the CSV ------------------------------
def test_period_posts_table_and_reads_over_time(rs):
    rs.import_file(CSV_ZH.encode(), at=at(2, 10))
    later = CSV_ZH.replace('"12,345"', "2.5万").replace("1.2万", "1.3万")
    rs.import_file(later.encode(), at=at(3, 10))
    rs.import_file(json.dumps({"statuses": [{"idstr": "4179082571460369",
                                             "created_at": "Thu Oct 01 08:00:00 +0800 2026",
                                             "reposts_count": 11, "comments_count": 6,
                                             "attitudes_count": 21}]}).encode(), at=at(3, 11))
    rows = rs.period_posts(date(2026, 10, 1), date(2026, 10, 1))
    assert [r["id"] for r in rows] == ["4179082571460369", "4179082571460370"]   # most read
    first = rows[0]
    assert (first["reads"], first["reposts"], first["comments"], first["likes"]) == (
        25_000, 11, 6, 21)                                 # the latest of each metric
    assert first["time"] == "2026-10-01 08:00" and first["text"].startswith("#泰安路况#")
    assert rs.period_posts(date(2026, 10, 2), date(2026, 10, 7))[0]["reads"] == 65605
    # reads over time: the CSV snapshots (the API's carry no reads)
    series = reads_series(rs.snapshots("4179082571460369"))
    assert series == [(at(2, 10), 12345), (at(3, 10), 25_000)]
    assert reads_series([{"at": 1, "reads": None}, {"at": 2, "reads": True}]) == []


def test_posts_csv_escapes_formulas_and_keeps_missing_values_empty():
    rows = post_rows([{"id": "1", "created_at": f"{at(1, 8):.0f}", "text": "=HYPERLINK(\"x\")",
                       "reads": "10"},
                      {"id": "2", "created_at": f"{at(1, 9):.0f}", "text": "ok",
                       "reposts": "3"}])
    assert [r["id"] for r in rows] == ["1", "2"] and rows[1]["reads"] is None
    text = posts_csv(rows)
    assert text.startswith("\ufeff")                     # Excel reads the Chinese header
    import csv
    import io
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == ["微博ID", "发布时间", "阅读数", "转发数", "评论数", "点赞数", "微博内容"]
    assert table[1] == ["1", "2026-10-01 08:00", "10", "", "", "", "'=HYPERLINK(\"x\")"]
    assert table[2] == ["2", "2026-10-01 09:00", "", "3", "", "", "ok"]
