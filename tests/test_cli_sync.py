"""`caseloop sync` and `caseloop report` end to end on real workbooks, read back with openpyxl and calamine."""

import hashlib
import os
import pty
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from caseloop.cli import main
from caseloop.config import FLAG_ORDER, load_rules

from caselog import NOW, case, write_xlsx

SAMPLE = Path(__file__).parents[1] / "sample_data"
NOW_TEXT = NOW.isoformat(timespec="minutes")
RULES = load_rules()


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill(cell) -> str:
    return "#" + cell.fill.fgColor.rgb[-6:].upper()


@pytest.fixture
def demo(tmp_path):
    log = tmp_path / "case_log.xlsx"
    shutil.copy(SAMPLE / "case_log.xlsx", log)
    return log


def test_demo_sync_shows_every_flag_with_its_colour(demo, tmp_path):
    out = tmp_path / "out" / "case_log.xlsx"
    before = digest(demo)
    result = run("sync", demo, "--now", NOW_TEXT, "--output", out)
    assert result.exit_code == 0, result.output
    assert "INVALID 2" in result.output and "2 row(s) are INVALID" in result.output
    assert "; 2 with data problems)" in result.output  # D4's Follow-ups, RV3's Resolution
    assert digest(demo) == before  # --output leaves the log alone
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Cases", "Lists", "Templates", "Status", "History"]
    sheet = book["Status"]
    header = [c.value for c in sheet[2]]
    assert header[:5] == ["Case ID", "Marketplace", "Store", "Category", "Summary"]
    assert header[-4:] == [
        "Flag",
        "Next action",
        "Notes",
        "Draft message",
    ]
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref.startswith("A2:Q")
    flag_col = header.index("Flag") + 1
    seen = []
    for row in sheet.iter_rows(min_row=3):
        flag = row[flag_col - 1].value
        seen.append(flag)
        info = RULES.flags[flag]
        expected = {info.color, info.late_color} - {None}
        assert {fill(c) for c in row} <= expected, (flag, {fill(c) for c in row})
    assert set(seen) == set(FLAG_ORDER)
    # Worst first: the flags appear in FLAG_ORDER.
    ranks = [FLAG_ORDER.index(f) for f in seen]
    assert ranks == sorted(ranks)
    title = sheet["A1"].value
    assert "as of 2026-11-20 18:00 (Asia/Shanghai)" in title and "ESCALATE 3" in title
    # calamine reads the same rows.
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Status").to_python()
    assert len(rows) == 2 + len(seen)


def test_sync_in_place_keeps_team_parts_and_a_backup(demo):
    original = zipfile.ZipFile(demo)
    team_parts = {
        n: original.read(n)
        for n in original.namelist()
        if n.startswith("xl/worksheets/") or n == "xl/sharedStrings.xml"
    }
    assert run("sync", demo, "--now", NOW_TEXT).exit_code == 0
    assert run("sync", demo, "--now", NOW_TEXT).exit_code == 0
    after = zipfile.ZipFile(demo)
    for name, data in team_parts.items():
        assert after.read(name) == data, name
    # The folder also holds the History read cache (*.history-cache.*): backups only here.
    backups = sorted((demo.parent / ".caseloop-backup").glob("*.xlsx"))
    assert len(backups) == 2
    assert openpyxl.load_workbook(demo).sheetnames.count("Status") == 1


def test_chinese_tab_and_labels(demo):
    result = run("sync", demo, "--now", NOW_TEXT, "--lang", "zh")
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(demo)["状态"]
    assert [c.value for c in sheet[2]][:5] == ["案例编号", "站点", "店铺", "问题类型", "问题描述"]
    flag_col = [c.value for c in sheet[2]].index("预警")
    flags = {r[flag_col].value for r in sheet.iter_rows(min_row=3)}
    assert {
        "需升级",
        "亚马逊超时",
        "待我方回复",
        "缺资料",
        "即将超时",
        "正常等待",
        "已解决",
        "填写有误",
        "即将截止",
        "已过截止",
        "重复开案",
        "需重开",
    } == flags
    assert "美国" in {r[1].value for r in sheet.iter_rows(min_row=3)}


def test_chinese_sample_log_syncs_the_same_cases(tmp_path):
    en, zh = tmp_path / "en.xlsx", tmp_path / "zh.xlsx"
    assert run("sync", SAMPLE / "case_log.xlsx", "--now", NOW_TEXT, "--output", en).exit_code == 0
    # --lang en: the same tab name and flag words, to compare the judgements one for one.
    result = run(
        "sync", SAMPLE / "case_log_zh.xlsx", "--now", NOW_TEXT, "--output", zh, "--lang", "en"
    )
    assert result.exit_code == 0

    def cases(path):
        sheet = openpyxl.load_workbook(path)["Status"]
        return [(r[0].value, r[11].value) for r in sheet.iter_rows(min_row=3)]

    assert cases(en) == cases(zh)


def test_dry_run_writes_nothing(demo):
    before = digest(demo)
    result = run("sync", demo, "--now", NOW_TEXT, "--dry-run")
    assert result.exit_code == 0
    assert result.output.startswith("Would write the tab 'Status'")
    assert re.search(r"^17359433149\tUS\t[^\t]*\tListing\t", result.output, re.M)
    assert digest(demo) == before and not (demo.parent / ".caseloop-backup").exists()


def test_team_tab_named_status_is_refused_and_can_be_renamed(tmp_path):
    log = write_xlsx(tmp_path / "log.xlsx", [case()], extra_tabs={"Status": [["our own notes"]]})
    before = digest(log)
    result = run("sync", log, "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert 'already has its own tab "Status"' in result.output and "--status-tab" in result.output
    assert digest(log) == before
    assert run("sync", log, "--now", NOW_TEXT, "--status-tab", "Case Status").exit_code == 0
    book = openpyxl.load_workbook(log)
    assert book["Status"]["A1"].value == "our own notes"
    assert book["Case Status"]["A3"].value.isdigit()


def test_excel_lock_file_refuses(demo):
    (demo.parent / f"~${demo.name}").write_bytes(b"owner")
    before = digest(demo)
    result = run("sync", demo, "--now", NOW_TEXT)
    assert result.exit_code == 2 and "open in Excel" in result.output
    assert digest(demo) == before


def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path):
    log = write_xlsx(
        tmp_path / "log.xlsx",
        [case(Case_ID="=1+1", Owner="@SUM(A1)"), case(Owner="-2+3", Case_ID="+12345678901")],
    )
    out = tmp_path / "out.xlsx"
    assert run("sync", log, "--now", NOW_TEXT, "--output", out).exit_code == 0
    sheet = openpyxl.load_workbook(out)["Status"]
    cells = [c for row in sheet.iter_rows(min_row=3) for c in row[:7]]
    values = {c.value for c in cells}
    assert {"=1+1", "@SUM(A1)", "-2+3", "+12345678901"} <= values
    assert all(c.data_type == "s" for c in cells if isinstance(c.value, str))


def test_report_writes_the_weekly_tab_with_a_chart_and_markdown(demo, tmp_path):
    md = tmp_path / "weekly.md"
    result = run("report", demo, "--now", NOW_TEXT, "--markdown", md)
    assert result.exit_code == 0, result.output
    assert "for 2026-W46" in result.output
    book = openpyxl.load_workbook(demo)
    sheet = book["Weekly Summary"]
    assert sheet["A1"].value.startswith("Weekly Summary — 2026-W46 (2026-11-09 to 2026-11-15)")
    names = zipfile.ZipFile(demo).namelist()
    assert any(n.startswith("xl/charts/chart") for n in names)
    assert "| 2026-W46 | 17 | 4 | 4 | 12 |" in md.read_text(encoding="utf-8")
    # Writing the report leaves a Status tab from an earlier sync alone, and the other way round.
    assert run("sync", demo, "--now", NOW_TEXT).exit_code == 0
    assert run("report", demo, "--now", NOW_TEXT, "--week", "2026-W45").exit_code == 0
    book = openpyxl.load_workbook(demo)
    assert book.sheetnames[-4:] == ["Weekly Summary", "Answers", "Status", "History"]
    assert "2026-W45" in book["Weekly Summary"]["A1"].value


def test_report_markdown_to_stdout_and_from_csv(tmp_path):
    csv = tmp_path / "cases.csv"
    csv.write_text(
        "Case ID,Marketplace,Category,Channel,Status,Opened At,Summary\n"
        "12345678901,US,Listing,Case,Open,2026-11-10 09:00,x\n",
        encoding="utf-8",
    )
    result = run("report", csv, "--now", NOW_TEXT, "--markdown", "-")
    assert result.exit_code == 0, result.output
    assert "## Weekly Summary — 2026-W46" in result.output
    assert "| 2026-W46 | 1 | 0 | 0 | 1 |" in result.output
    assert run("sync", csv, "--now", NOW_TEXT).exit_code == 2


def test_report_bad_week(demo):
    result = run("report", demo, "--week", "2026-47")
    assert result.exit_code == 2 and "is not an ISO week; write it like 2026-W47" in result.output


def test_progress_shows_on_a_terminal_and_not_under_cron(demo, tmp_path):
    """Run the real command with stderr on a pseudo-terminal, then with --quiet."""

    def stderr_of(*extra):
        leader, follower = pty.openpty()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "caseloop.cli",
                "sync",
                str(demo),
                "--now",
                NOW_TEXT,
                "--output",
                str(tmp_path / "o.xlsx"),
                *extra,
            ],
            stderr=follower,
            stdout=subprocess.PIPE,
            timeout=120,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(leader)
        return proc, b"".join(chunks).decode()

    proc, err = stderr_of()
    assert proc.returncode == 0
    assert (
        "caseloop: reading" in err
        and "judging 137 cases" in err
        and "writing the 'Status' and 'History' tabs" in err
    )
    proc, err = stderr_of("--quiet")
    assert proc.returncode == 0 and err == "" and proc.stdout == b""


def test_report_refused_writes_no_markdown_either(demo, tmp_path):
    (demo.parent / f"~${demo.name}").write_bytes(b"owner")
    md = tmp_path / "weekly.md"
    result = run("report", demo, "--now", NOW_TEXT, "--markdown", md)
    assert result.exit_code == 2 and "open in Excel" in result.output
    assert not md.exists()


def test_report_markdown_on_stdout_tells_about_the_tab_on_stderr(demo):
    result = CliRunner().invoke(main, ["report", str(demo), "--now", NOW_TEXT, "--markdown", "-"])
    assert result.exit_code == 0
    assert result.stdout.startswith("## Weekly Summary — 2026-W46")
    assert "Wrote 'Weekly Summary' for 2026-W46" in result.stderr
    assert "Wrote" not in result.stdout


def test_one_generated_tab_is_never_written_over_another(demo):
    assert run("report", demo, "--now", NOW_TEXT).exit_code == 0
    before = digest(demo)
    result = run("sync", demo, "--now", NOW_TEXT, "--status-tab", "Weekly Summary")
    assert result.exit_code == 2
    assert 'The tab "Weekly Summary" holds another of caseloop\'s reports' in result.output
    assert digest(demo) == before


@pytest.mark.parametrize("name", ["a/b:c", "x" * 32, "'quoted'", "  "])
def test_tab_names_excel_would_refuse_are_refused_first(demo, name):
    result = run("sync", demo, "--now", NOW_TEXT, "--status-tab", name)
    assert result.exit_code == 2 and "cannot name a tab" in result.output
    assert "Traceback" not in result.output


def test_chinese_notes_name_priorities_and_columns_in_chinese(tmp_path):
    out = tmp_path / "zh.xlsx"
    result = run(
        "sync", SAMPLE / "case_log_zh.xlsx", "--now", NOW_TEXT, "--lang", "zh", "--output", out
    )
    assert result.exit_code == 0
    sheet = openpyxl.load_workbook(out)["状态"]
    column = [c.value for c in sheet[2]].index("备注")
    notes = " ".join(str(r[column].value) for r in sheet.iter_rows(min_row=3))
    assert "超过「高」优先级上限 72 小时" in notes and "缺少：货件编号" in notes
    assert "Normal" not in notes and "Shipment ID" not in notes


def test_dry_run_into_a_closed_pipe_stops_quietly(tmp_path):
    log = write_xlsx(tmp_path / "big.xlsx", [case() for _ in range(3000)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "caseloop.cli", "sync", str(log), "--now", NOW_TEXT, "--dry-run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""
