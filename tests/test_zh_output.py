"""caseloop answers a Chinese log in Chinese: problems, summaries, errors, refusals and Notes.

Real workbooks written with tests/caselog.py, run through the CLI with Click's CliRunner; the
Chinese is checked for the columns the log's header names and for its punctuation and spacing.
"""

import datetime as dt
import os
import re
import string
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from caseloop.cli import main
from caseloop.datafiles import DEFAULT_LABELS, DEFAULT_RULES
from caseloop.errors import CaseloopError, RefusedError
from caseloop.problems import CATALOGUE
from caseloop.schema import load_schema

from caselog import HEADERS, NOW, case, write_xlsx

SAMPLE = Path(__file__).parents[1] / "sample_data"
NOW_TEXT = NOW.isoformat(timespec="minutes")
SCHEMA = load_schema()
ZH_HEADERS = [SCHEMA.field(h).zh for h in HEADERS]
LABELS = yaml.safe_load(DEFAULT_LABELS.read_text(encoding="utf-8"))
RULES_DATA = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))

CJK = "\u4e00-\u9fff"
FULL_WIDTH = "，。；：！？、（）「」"
# What a native reader of Chinese UI text does not expect to see.
STYLE_RULES = {
    "a space between two Chinese characters": re.compile(f"[{CJK}] +[{CJK}]"),
    "a space beside full-width punctuation": re.compile(f" [{FULL_WIDTH}]|[{FULL_WIDTH}] "),
    "half-width punctuation beside Chinese": re.compile(f"[{CJK}][,;:!?()]|[,;:!?(][{CJK}]"),
    "a whole number written as 1.0": re.compile(r"(?<![\d.])\d+\.0(?![\d])"),
}


def style_problems(text: str) -> list[str]:
    # " · " is the separator between the notes of one cell (cells.SEPARATOR), not prose.
    text = text.replace(" · ", "\n")
    return [
        f"{why}: {m.group(0)!r} in {text!r}"
        for why, rule in STYLE_RULES.items()
        for m in rule.finditer(text)
    ]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def zh_log(path: Path, cases: list[dict], tab: str = "案例", **kw) -> Path:
    """A real .xlsx whose header is the Chinese column names (提交时间...)."""
    rows = [{SCHEMA.field(h).zh: v for h, v in c.items() if h in HEADERS} for c in cases]
    return write_xlsx(path, rows, headers=ZH_HEADERS, tab=tab, **kw)


def bad_cases() -> list[dict]:
    return [
        case(),
        case(Opened_At="2026/13/02"),  # not a date: INVALID
        case(Category="卖家论坛"),  # unknown value: a warning, judged with defaults
        case(Status="Resolved", Resolved_At=None),  # resolved without Resolved At: INVALID
    ]


# --- the catalogue ---------------------------------------------------------------------------


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_problem_has_a_chinese_sentence_with_the_fields_it_is_given(code):
    for key in CATALOGUE[code].templates:
        entry = LABELS["problems"][key]
        assert entry.get("zh"), f"problems.{key} has no Chinese"
        # The Chinese sentence names only what the English one is given (or its _zh form).
        given = _fields(entry["en"]) | {"allowed_zh"}
        assert {f.removesuffix("_zh") for f in _fields(entry["zh"])} <= given | {"allowed"}, key


# Realistic values for the fields of the Chinese templates, as caseloop fills them.
SAMPLE_FIELDS = {
    "choices_zh": "FBA货件或订单与退货",
    "row_number": 143,
    "column": "「提交时间」",
    "status_column": "「状态」",
    "resolved_column": "「解决时间」",
    "opened_column": "「提交时间」",
    "first_column": "「首次回复时间」",
    "sent_column": "「最近跟进时间」",
    "reply_column": "「最近回复时间」",
    "id_column": "「案例编号」",
    "fill": "「最近回复时间」",
    "value": "「abc」",
    "opened": "2026-11-02 10:00",
    "status": "已解决",
    "status_lower": "已解决",
    "allowed": "工单、电话",
    "ids": "12345678901",
    "case_id": "12345678901",
    "first_row": 5,
    "first_cell": "'案例'!A5",
    "minimum": 0,
    "example": "B0ABCD1234",
    "as_of": "2026-11-20 18:00",
    "tab": "案例",
    "rows": 10,
    "min": 3,
    "examples": "「案例编号」、「站点」",
    "required": "案例编号、站点",
    "first": "'案例'!A1",
    "second": "'案例'!B1",
    "name": "提交时间",
    "missing": "「提交时间」",
    "hint": "（「开case时间」像是「提交时间」）",
    "location": "log.xlsx",
    "asked": "「案例」",
    "found": "「Sheet1」",
    "path": "log.xlsx",
    "lock": "~$log.xlsx",
    "holder": "进程 12，电脑 pc",
    "title": "状态",
    "option": "--status-tab",
    "cases": 30,
    "row": 4,
    "errors": 2,
    "invalid": 2,
    "warnings": 1,
    "counts": "填写有误 2、亚马逊超时 3",
    "where": "log.xlsx",
    "problems": "；其中 2 行数据有问题",
    "n": 2,
    "backup": "b.xlsx",
    "log": "log.xlsx",
    "week": "2026 年第 46 周",
    "kind": "A-to-z索赔",
    "hours": 72,
    "marketplace": "美国",
    "deadline": "2026-11-21 09:00",
    "passed": "3 天",
    "open": 80,
    "limit": 72,
    "priority": "高",
    "nth": "3rd",
    "key": "ASIN B0KRRWT0N6",
    "days": 30,
    "closed": "2026-11-10 09:00",
    "promised_by": "2026-11-22 09:00",
    "columns": "订单号、ASIN",
    "follow_ups": 2,
    "waiting": 28,
    "target": 24,
    "due": "2026-11-21 09:00",
    "generated": "2026-11-20 18:00",
    "tz": "北京时间",
    "start_md": "11/09",
    "end_md": "11/15",
    "start": "2026-11-09",
    "end": "2026-11-15",
    "at": "2026-11-20 18:00",
    "window": 30,
    "label": "2026-W46",
    "year": 2026,
    "number": 46,
    "account": "caseloop@proj.iam.gserviceaccount.com",
    "other": "status",
    "outcome": "没有写入任何内容",
    "tries_word": "tries",
    "cols": 14,
    "tries": 10,
    "seconds": 95,
    # caseloop init
    "folder": "logs",
    "cases_tab": "案例",
    "lists_tab": "列表",
    "howto_tab": "说明",
    "column_count": 24,
    # alerts (notify.py, alerts.py)
    "scheme": "wecombot",
    "service": "WeCom Bot",
    "shown": "wecombot://…",
    "services": "WeCom Bot (wecombot://…)",
    "part": 1,
    "parts": 2,
    "store": "星辰家居",
    "link": "out/case_log.xlsx",
    "before": 6,
    "since": "2026-11-20 18:00",
    # sync --notify (issue 13, sending): when quiet hours end ("reason" is given below).
    "until": "08:00",
    # Drafts and the answer base (issue 14).
    "channel": "电话",
    "span": "3 天",
    "fields": "[订单号]、[ASIN]",
    "solved": 28,
    "resolved": 54,
    "state": "已解决",
    "category": "账户健康",
    "what_worked": "已恢复上架",
    "field": "order_number",
    "setting": "chinese_support",
    "line": 3,
    "detail": "unexpected end of template",
    "known": "asin、case_id",
    "piece": "_ids.en.j2",
    "kinds": "follow-up、escalate",
    "near": "17300000001、17300000002",
    "unanswered": 1,
    # caseloop.toml and --to (issue 15)
    "how": "--config",
    "line_number": 4,
    "problem": "Invalid value",
    "expected": "auto、en、zh 之一",
    "which": "[[logs]] #2",
    "names": "store-a、store-b",
    "command": "sync",
    "to": "status.xlsx",
    "reason": "log.xlsx 在 caseloop 读取后被改动过（期间有人保存了它）；请重新运行。",
}


def _zh_strings():
    for group, entries in LABELS.items():
        for key, entry in entries.items():
            if isinstance(entry, dict) and entry.get("zh"):
                yield f"labels.{group}.{key}", str(entry["zh"])
    for name, flag in RULES_DATA["flags"].items():
        for field in ("zh", "action_zh", "action_passed_zh"):
            if flag.get(field):
                yield f"rules.flags.{name}.{field}", str(flag[field])


@pytest.mark.parametrize("where, text", list(_zh_strings()))
def test_every_chinese_string_reads_as_written_chinese(where, text):
    filled = text.format_map({**SAMPLE_FIELDS, "passed_for": "3 天", "duplicate_of": "1234567890"})
    assert style_problems(filled) == [], where


def test_the_style_check_catches_what_it_is_for():
    assert style_problems("超过 高 优先级") and style_problems("时限 1.0 小时")
    assert style_problems("目标(小时)") and style_problems("缺少 ，货件")
    assert style_problems("超过「高」优先级上限 72 小时，时限 1 小时（北京时间）") == []


def test_english_errors_stay_as_they_were_and_chinese_ones_differ():
    error = RefusedError.said("changed", path="log.xlsx")
    assert (
        error.message
        == "log.xlsx changed since caseloop read it (someone saved it meanwhile); run again."
    )
    assert error.text("en") == error.message
    assert (
        error.text("zh") == "log.xlsx 在 caseloop 读取后被改动过（期间有人保存了它）；请重新运行。"
    )
    lock = RefusedError.said(
        "lock_held", target="a.xlsx", holder="process 1", holder_zh="进程 1", lock="x"
    )
    assert "（进程 1，锁文件 x）" in lock.text("zh") and "(process 1, lock file x)" in lock.message
    assert CaseloopError("plain").text("zh") == "plain"  # no catalogue entry: English stays


# --- validate ----------------------------------------------------------------------------------


def test_validate_answers_a_chinese_log_in_chinese_naming_its_columns(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", bad_cases())
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 1
    out = result.output
    assert "错误  '案例'!G3：「提交时间」填的「2026/13/02」不是日期；" in out
    assert "错误  '案例'!L5：「解决时间」为空，但「状态」是「已解决」；请补填结案时间。" in out
    assert (
        "警告  '案例'!C4：「问题类型」填的「卖家论坛」不是可选的值，可填：账户健康（Account health）、"
        in out
    )
    assert (
        out.splitlines()[-1] == "「案例」共 4 个案例（表头在第 1 行）：2 行共 2 个错误，2 个警告。"
    )
    assert "Opened At" not in out and "error" not in out
    for line in out.splitlines():
        assert style_problems(line) == [], line


def test_columns_are_named_as_the_log_spells_them(tmp_path):
    # 工单号 is an accepted header for Case ID: the message says 工单号, not 案例编号.
    headers = ["工单号" if h == "案例编号" else h for h in ZH_HEADERS]
    first, second = case(), case()
    second["Case ID"] = first["Case ID"]
    rows = [{SCHEMA.field(h).zh: v for h, v in c.items()} for c in (first, second)]
    rows = [{("工单号" if k == "案例编号" else k): v for k, v in r.items()} for r in rows]
    log = write_xlsx(tmp_path / "ids.xlsx", rows, headers=headers, tab="案例")
    result = run("validate", log, "--now", NOW_TEXT)
    assert f"「工单号」中的 {first['Case ID']} 与第 2 行（'案例'!A2）重复" in result.output
    assert "案例编号" not in result.output


def test_lang_auto_english_header_answers_in_english_and_lang_forces(tmp_path):
    en_log = write_xlsx(tmp_path / "en.xlsx", bad_cases())
    en = run("validate", en_log, "--now", NOW_TEXT)
    assert 'error   Cases!G3: Opened At "2026/13/02" is not a date;' in en.output
    assert (
        en.output.splitlines()[-1]
        == "4 cases in Cases (header row 1): 2 error(s) in 2 row(s), 2 warning(s)."
    )
    assert run("validate", en_log, "--now", NOW_TEXT, "--lang", "auto").output == en.output
    forced = run("validate", en_log, "--now", NOW_TEXT, "--lang", "zh")
    assert "错误  Cases!G3：「Opened At」填的「2026/13/02」不是日期；" in forced.output
    zh_log_path = zh_log(tmp_path / "zh.xlsx", bad_cases())
    english = run("validate", zh_log_path, "--now", NOW_TEXT, "--lang", "en")
    assert "error   '案例'!G3: 提交时间 \"2026/13/02\" is not a date;" in english.output


def test_json_messages_are_in_the_output_language(tmp_path):
    import json

    log = zh_log(tmp_path / "zh.xlsx", bad_cases())
    doc = json.loads(run("validate", log, "--now", NOW_TEXT, "--format", "json").output)
    assert doc["errors"][0]["message"].startswith("「提交时间」填的「2026/13/02」不是日期")
    assert doc["errors"][0]["column"] == "Opened At"  # the canonical name stays for programs


# --- header and tab errors ---------------------------------------------------------------------


def test_missing_column_in_a_chinese_header_is_named_in_chinese(tmp_path):
    headers = [h for h in ZH_HEADERS if h != "提交时间"] + ["开案日"]
    log = write_xlsx(tmp_path / "zh.xlsx", [], headers=headers, tab="案例")
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert "caseloop: 工作表「案例」第 1 行的表头中没有「提交时间」列" in result.output
    assert "Opened At" not in result.output


def test_no_header_row_in_a_chinese_tab(tmp_path):
    log = write_xlsx(tmp_path / "zh.xlsx", [], headers=["客户", "备注", "日期"], tab="案例")
    result = run("validate", log)
    assert result.exit_code == 2
    assert (
        "caseloop: 工作表「案例」的前 10 行中找不到表头：表头至少要有 3 个能识别的列名，如「案例编号」、"
        in result.output
    )


def test_no_case_tab_among_chinese_tabs(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", [case()], tab="工单记录")
    result = run("validate", log)
    assert result.exit_code == 2
    assert "中没有工作表「案例」（或「Cases」）；现有的工作表：「工单记录」。" in result.output
    assert "--sheet" in result.output
    assert style_problems(result.output.strip().removeprefix("caseloop: ")) == []


def test_english_header_errors_are_unchanged(tmp_path):
    headers = [h for h in HEADERS if h != "Opened At"]
    log = write_xlsx(tmp_path / "en.xlsx", [], headers=headers)
    result = run("validate", log)
    assert (
        'The tab "Cases" has no column Opened At in its header row 1; add or rename the column.'
        in result.output
    )


# --- sync and report ---------------------------------------------------------------------------


def test_sync_of_a_chinese_log_says_what_it_wrote_in_chinese(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", bad_cases())
    result = run("sync", log, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"已将「状态」写入 {log}（4 行：填写有误 2、")
    assert lines[0].endswith("；其中 1 行数据有问题）。")
    assert lines[-1] == f"有 2 行填写有误；运行 caseloop validate {log} 查看原因。"
    sheet = openpyxl.load_workbook(log)["状态"]
    header = [c.value for c in sheet[2]]
    notes = [r[header.index("备注")].value for r in sheet.iter_rows(min_row=3)]
    assert any("'案例'!G3：「提交时间」填的「2026/13/02」不是日期" in n for n in notes if n)
    assert any("以下列按默认值判断：「问题类型」" in n for n in notes if n)
    for line in lines:
        assert style_problems(line) == [], line


def test_dry_run_of_a_chinese_log(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", [case()])
    result = run("sync", log, "--now", NOW_TEXT, "--dry-run")
    assert result.output.startswith(f"将把工作表「状态」写入 {log}（1 行；正常等待 1）：")


def test_chinese_notes_say_1_hour_not_1_point_0(tmp_path):
    # A chat Amazon has not answered for 3 h: target 1 h.
    chat = case(
        Channel="Chat",
        Opened_At=NOW - dt.timedelta(hours=3),
        Last_Sent_At=NOW - dt.timedelta(hours=3),
    )
    log = zh_log(tmp_path / "zh.xlsx", [chat])
    assert run("sync", log, "--now", NOW_TEXT).exit_code == 0
    sheet = openpyxl.load_workbook(log)["状态"]
    header = [c.value for c in sheet[2]]
    row = [c.value for c in sheet[3]]
    assert row[header.index("预警")] == "亚马逊超时"
    assert row[header.index("待谁处理")] == "等亚马逊"
    assert "时限 1 小时" in row[header.index("备注")]
    assert "1.0" not in row[header.index("备注")]
    assert "（北京时间）" in sheet["A1"].value


def test_report_of_a_chinese_log(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", [case(Opened_At=NOW - dt.timedelta(days=6))])
    result = run("report", log, "--now", NOW_TEXT, "--markdown", "-")
    assert result.exit_code == 0, result.output
    assert f"已将 2026 年第 46 周的「周报」写入 {log}。" in result.output
    assert (
        "## 周报 — 2026 年第 46 周（11/09–11/15）· 截至 2026-11-20 18:00（北京时间）"
        in result.output
    )
    assert "近 30 天重复问题（可沉淀进内部答疑库）" in result.output


# --- refusals ----------------------------------------------------------------------------------


def test_open_in_excel_refusal_in_chinese(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", [case()])
    (tmp_path / "~$zh.xlsx").write_bytes(b"x")
    result = run("sync", log, "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert (
        f"caseloop: {log} 正在 Excel 或 LibreOffice 中打开（锁文件 ~$zh.xlsx）；请关闭后再运行，"
        "或加上 --to status.xlsx 把生成的工作表写进配套工作簿，案例表就可以一直开着。"
        in result.output
    )


def test_read_only_refusal_in_chinese(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", [case()])
    os.chmod(log, 0o444)
    try:
        result = run("sync", log, "--now", NOW_TEXT)
    finally:
        os.chmod(log, 0o644)
    assert result.exit_code == 2
    assert f"caseloop: 无法写入 {log}：文件是只读的；工作簿未做任何改动。" in result.output


def test_tab_taken_refusal_in_chinese_names_the_option(tmp_path):
    log = zh_log(tmp_path / "zh.xlsx", [case()], extra_tabs={"状态": [["我们自己的备注"]]})
    result = run("sync", log, "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert "表格里已有一个不是 caseloop 生成的工作表「状态」，caseloop 不会动它。" in result.output
    assert "用 --status-tab 参数给生成的工作表另起一个名字。" in result.output


def test_english_refusals_are_unchanged(tmp_path):
    log = write_xlsx(tmp_path / "en.xlsx", [case()])
    (tmp_path / "~$en.xlsx").write_bytes(b"x")
    result = run("sync", log, "--now", NOW_TEXT)
    assert (
        f"caseloop: {log} is open in Excel or LibreOffice (lock file ~$en.xlsx); close it and run "
        "again, or let the log stay open and write the generated tabs into a companion workbook "
        "with --to status.xlsx." in result.output
    )


# --- the Chinese sample, end to end ----------------------------------------------------------


def test_the_chinese_sample_reads_as_chinese_throughout(tmp_path):
    out = tmp_path / "zh.xlsx"
    validate = run("validate", SAMPLE / "case_log_zh.xlsx", "--now", NOW_TEXT)
    sync = run("sync", SAMPLE / "case_log_zh.xlsx", "--now", NOW_TEXT, "--output", out)
    assert sync.exit_code == 0, sync.output
    texts = validate.output.splitlines() + sync.output.splitlines()
    book = openpyxl.load_workbook(out)
    assert "状态" in book.sheetnames and "Status" not in book.sheetnames
    texts += [c.value for r in book["状态"].iter_rows() for c in r if isinstance(c.value, str)]
    found = [p for t in texts for p in style_problems(t)]
    assert found == [], "\n".join(found)


# --- the README's Chinese section ---------------------------------------------------------------


def test_the_chinese_readme_quick_start_prints_what_it_shows(tmp_path, monkeypatch):
    import shlex
    import shutil

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## 使用说明（中文）", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", section, flags=re.S)
    shutil.copytree(SAMPLE, tmp_path / "sample_data")
    monkeypatch.chdir(tmp_path)
    commands = [
        shlex.split(line) for line in blocks[0].splitlines() if line.startswith("caseloop ")
    ]
    assert [c[1] for c in commands] == ["validate", "sync", "report"]
    results = [CliRunner().invoke(main, c[1:]) for c in commands]
    assert [r.exit_code for r in results] == [1, 0, 0]
    shown = blocks[1] + blocks[2]
    for line in results[0].output.splitlines() + results[1].output.splitlines():
        assert line in shown, line
    # The prose (not the code blocks, whose spacing lines things up) reads as written Chinese.
    prose = re.sub(r"```.*?```", "", section, flags=re.S)
    for line in prose.splitlines():
        if not line.startswith(("|", "#")):
            assert style_problems(line) == [], line
