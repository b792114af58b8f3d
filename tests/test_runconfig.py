"""caseloop.toml: several logs run by one command, options over the file, `caseloop config`
masking secrets, and every slip in the file answered in one sentence with nothing written.

Real workbooks in tmp_path; the Google log is the project's fake Sheets server over real HTTP.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from caseloop.cli import GOOGLE_GAP_S, main
from caseloop.engine import Settings
from caseloop.runconfig import mask_url, read_config

from caselog import HEADERS, NOW, case, write_xlsx
from fakesheets import FakeSheetsServer, fake_client_class
from hostile import authorized_user_file as hostile_credentials

pytest_plugins = ["fakesheets.fixtures"]

NOW_TEXT = NOW.isoformat(timespec="minutes")
KEY = "1StoreBSheetKey_caseloop"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def small_log(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_xlsx(path, [case(), case(Priority="High"), case(Status="Resolved")])


def credentials_file(folder: Path) -> Path:
    # A token google-auth treats as valid until 2999: no refresh, nothing sent to Google.
    return hostile_credentials(folder / "sa.json")


def google_log(server: FakeSheetsServer, key: str = KEY) -> None:
    book = server.add_spreadsheet(key, timezone="Asia/Shanghai")
    rows = [[c.get(h) for h in HEADERS] for c in (case(), case(Channel="Phone"))]
    book.add_sheet("Cases", [HEADERS, *rows])


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "caseloop.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Recorder:
    """Stands in for time.sleep and the clock: the gaps asked for, no real waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def invoke(args: list[Any], obj: dict[str, Any] | None = None, **kw: Any):
    return CliRunner().invoke(main, [str(a) for a in args], obj=obj, **kw)


@pytest.fixture
def two_logs(tmp_path: Path, fake_sheets: FakeSheetsServer, monkeypatch: pytest.MonkeyPatch):
    """A folder with caseloop.toml naming an Excel log and a Google one (the fake)."""
    small_log(tmp_path / "logs" / "store_a.xlsx")
    google_log(fake_sheets)
    credentials_file(tmp_path)
    write_config(
        tmp_path,
        f"""
lang = "en"
[owners]
"Li Wei" = "liwei"

[[logs]]
name = "store-a"
log = "logs/store_a.xlsx"

[[logs]]
name = "store-b"
log = "gsheet:{KEY}"
credentials = "sa.json"
lang = "zh"
""",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CASELOOP_CONFIG", raising=False)
    recorder = Recorder()
    obj = {
        "http_client": fake_client_class(fake_sheets.url),
        "sleep": recorder.sleep,
        "clock": recorder.clock,
    }
    return tmp_path, obj, recorder


# --- several logs -----------------------------------------------------------------------------


def test_sync_all_writes_an_excel_and_a_google_log_in_one_command(two_logs, fake_sheets):
    folder, obj, _ = two_logs
    result = invoke(["sync", "--all", "--now", NOW_TEXT], obj)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("store-a: Wrote 'Status' (3 rows")
    assert lines[1].startswith("store-b：已将「状态」写入 https://docs.google.com/spreadsheets/d/")
    assert "Status" in openpyxl.load_workbook(folder / "logs" / "store_a.xlsx").sheetnames
    assert "状态" in fake_sheets.book(KEY).titles()
    # Each log ran with its own settings: the file's lang for store-a, its own for store-b.
    assert fake_sheets.book(KEY).sheet("状态").cell(2, 0).value is not None


def test_one_broken_log_never_stops_the_others_and_exit_4_says_some(two_logs, fake_sheets):
    folder, obj, _ = two_logs
    log = folder / "logs" / "store_a.xlsx"
    (folder / "logs" / "~$store_a.xlsx").write_bytes(b"")  # open in Excel
    before = sha(log)
    result = invoke(["sync", "--all", "--now", NOW_TEXT], obj)
    assert result.exit_code == 4, result.output
    assert result.stderr.splitlines() == [
        f"store-a: refused — {Path('logs/store_a.xlsx')} is open in Excel or LibreOffice "
        "(lock file ~$store_a.xlsx); close it and run again, or let the log stay open and write "
        "the generated tabs into a companion workbook with --to status.xlsx."
    ]
    assert result.stdout.startswith("store-b：已将「状态」写入")
    assert sha(log) == before
    assert "状态" in fake_sheets.book(KEY).titles()


def test_none_written_exits_2_and_quiet_prints_only_the_refusals(two_logs, fake_sheets):
    folder, obj, _ = two_logs
    (folder / "logs" / "~$store_a.xlsx").write_bytes(b"")
    (folder / "sa.json").unlink()  # store-b cannot sign in
    result = invoke(["sync", "--all", "--quiet", "--now", NOW_TEXT], obj)
    assert result.exit_code == 2
    assert result.stdout == ""
    refused = result.stderr.splitlines()
    assert [line.split(":")[0].split("：")[0] for line in refused] == ["store-a", "store-b"]
    assert all("refused" in line or "未写入" in line for line in refused)


def test_report_all_writes_the_weekly_tab_of_each_log(two_logs, fake_sheets):
    folder, obj, _ = two_logs
    result = invoke(["report", "--all", "--now", NOW_TEXT], obj)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("store-a: Wrote 'Weekly Summary' for 2026-W46")
    assert "Weekly Summary" in openpyxl.load_workbook(folder / "logs" / "store_a.xlsx").sheetnames
    assert "周报" in fake_sheets.book(KEY).titles()


def test_google_runs_are_spaced_and_excel_runs_are_not(tmp_path, fake_sheets, monkeypatch):
    """Three Google logs and an Excel one: a gap before the 2nd and 3rd Google run only."""
    small_log(tmp_path / "a.xlsx")
    credentials_file(tmp_path)
    entries = ['[[logs]]\nname = "excel"\nlog = "a.xlsx"\n']
    for n in range(3):
        google_log(fake_sheets, f"{KEY}{n}")
        entries.append(f'[[logs]]\nname = "g{n}"\nlog = "gsheet:{KEY}{n}"\n')
    write_config(tmp_path, 'credentials = "sa.json"\n' + "\n".join(entries))
    monkeypatch.chdir(tmp_path)
    recorder = Recorder()
    obj = {
        "http_client": fake_client_class(fake_sheets.url),
        "sleep": recorder.sleep,
        "clock": recorder.clock,
    }
    result = invoke(["sync", "--all", "--now", NOW_TEXT], obj)
    assert result.exit_code == 0, result.output
    # The fake clock stands still during a run: each gap is the whole minimum gap.
    assert recorder.sleeps == [GOOGLE_GAP_S, GOOGLE_GAP_S]
    # A dozen logs on one account: one Google run per gap, 3 requests each, under 60 a minute.
    assert 12 * 3 * GOOGLE_GAP_S / 60 <= 60 / GOOGLE_GAP_S * 3 <= 60


def test_one_log_runs_without_log_and_a_name_picks_an_entry(tmp_path, monkeypatch):
    small_log(tmp_path / "a.xlsx")
    small_log(tmp_path / "b.xlsx")
    write_config(tmp_path, '[[logs]]\nname = "only"\nlog = "a.xlsx"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke(["sync", "--now", NOW_TEXT])
    assert result.exit_code == 0, result.output
    assert "into a.xlsx" in result.output
    write_config(
        tmp_path,
        'lang = "zh"\n[[logs]]\nname = "one"\nlog = "a.xlsx"\n'
        '[[logs]]\nname = "two"\nlog = "b.xlsx"\nstatus_tab = "Board"\nlang = "en"\n',
    )
    result = invoke(["sync", "two", "--now", NOW_TEXT])
    assert result.exit_code == 0, result.output
    assert "Wrote 'Board'" in result.output and "into b.xlsx" in result.output
    # A path works as before, with the file's top-level defaults only (not entry two's).
    result = invoke(["sync", "b.xlsx", "--now", NOW_TEXT])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("已将「Board」写入 b.xlsx")
    result = invoke(["sync", "--now", NOW_TEXT])
    assert result.exit_code == 2
    assert result.stderr == (
        "caseloop: caseloop.toml lists 2 logs (one, two); name one (caseloop sync one) or run "
        "them all with --all.\n"
    )
    result = invoke(["sync", "three", "--now", NOW_TEXT])
    assert result.exit_code == 2 and 'no [[logs]] entry named "three"' in result.stderr


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    small_log(tmp_path / "team" / "logs" / "a.xlsx")
    config = write_config(
        tmp_path / "team",
        '[[logs]]\nname = "a"\nlog = "logs/a.xlsx"\nto = "out/a_status.xlsx"\n',
    )
    (tmp_path / "team" / "out").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke(["sync", "--config", config, "--now", NOW_TEXT])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "team" / "out" / "a_status.xlsx").is_file()


# --- precedence -------------------------------------------------------------------------------


def test_an_option_wins_over_the_file(tmp_path, monkeypatch):
    small_log(tmp_path / "a.xlsx")
    write_config(tmp_path, 'lang = "zh"\n[[logs]]\nname = "a"\nlog = "a.xlsx"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke(["sync", "--now", NOW_TEXT])
    assert result.exit_code == 0 and "已将「状态」写入" in result.output
    result = invoke(["sync", "--lang", "en", "--now", NOW_TEXT])
    assert result.exit_code == 0 and "Wrote 'Status'" in result.output
    assert openpyxl.load_workbook(tmp_path / "a.xlsx").sheetnames == ["Cases", "Status", "History"]


def test_config_option_wins_over_the_env_which_wins_over_the_current_folder(tmp_path, monkeypatch):
    for name in ("here", "env", "option"):
        write_config(tmp_path / name, f'lang = "zh"\n[[logs]]\nname = "{name}"\nlog = "x.xlsx"\n')
    monkeypatch.chdir(tmp_path / "here")
    monkeypatch.delenv("CASELOOP_CONFIG", raising=False)
    assert "caseloop.toml (found in the current folder)" in invoke(["config"]).output
    assert '[[logs]] "here"' in invoke(["config"]).output
    monkeypatch.setenv("CASELOOP_CONFIG", str(tmp_path / "env" / "caseloop.toml"))
    shown = invoke(["config"]).output
    assert "(named by CASELOOP_CONFIG)" in shown and '[[logs]] "env"' in shown
    shown = invoke(["config", "--config", tmp_path / "option" / "caseloop.toml"]).output
    assert "(named by --config)" in shown and '[[logs]] "option"' in shown


def test_caseloop_config_says_where_each_value_came_from_and_masks_secrets(tmp_path, monkeypatch):
    write_config(
        tmp_path,
        """
lang = "zh"
notify = ["wecombot://SECRETKEY", "https://user:pa55@hooks.slack.com/services/T0/B0/XYZ"]
timezone = "America/New_York"
[owners]
"李" = "lisi"
[[logs]]
name = "store-a"
log = "a.xlsx"
credentials = "keys/sa.json"
""",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/etc/other.json")
    result = invoke(["config", "--lang", "en"])
    assert result.exit_code == 0, result.output
    out = result.output
    for secret in ("SECRETKEY", "pa55", "user", "T0", "XYZ", "services"):
        assert secret not in out
    assert "wecombot://…, https://hooks.slack.com/…" in out
    lines = {line.split("=")[0].strip(): line for line in out.splitlines() if " = " in line}
    assert lines["lang"].rstrip().endswith("(option --lang)")
    assert "(file caseloop.toml (top))" in lines["timezone"]
    assert "keys/sa.json" in lines["credentials"]  # a path is not a secret
    assert '[[logs]] "store-a")' in lines["credentials"]
    assert "李 → lisi" in lines["owners"]
    assert lines["sheet"].rstrip().endswith("(default)")
    # Without a file value, the credentials the Google backend would read from the environment.
    result = invoke(["config", "some.xlsx"])
    creds = next(line for line in result.output.splitlines() if "credentials" in line)
    assert "/etc/other.json" in creds and "(env GOOGLE_APPLICATION_CREDENTIALS)" in creds


def test_mask_url_keeps_the_scheme_and_a_web_host_only():
    assert mask_url("wecombot://KEY") == "wecombot://…"
    assert mask_url("tgram://123:abc/456") == "tgram://…"
    assert mask_url("https://open.feishu.cn/open-apis/bot/v2/hook/abc") == (
        "https://open.feishu.cn/…"
    )
    assert mask_url("not a url") == "…"


def test_the_time_zone_of_the_file_replaces_the_rules_files():
    settings = Settings(log="x.xlsx", timezone="America/New_York")
    assert str(settings.rules.timezone) == "America/New_York"
    assert str(Settings(log="x.xlsx").rules.timezone) == "Asia/Shanghai"


def test_the_config_file_maps_onto_settings_notify_and_owners(tmp_path, monkeypatch):
    """What the alerts read: Settings.notify and Settings.owners, from the file."""
    from caseloop import cli

    small_log(tmp_path / "a.xlsx")
    write_config(
        tmp_path,
        'notify = "json://127.0.0.1:9/hook"\n[owners]\n"Li Wei" = "@li"\n'
        '[[logs]]\nname = "a"\nlog = "a.xlsx"\n[logs.owners]\n"Wang" = "@wang"\n',
    )
    monkeypatch.chdir(tmp_path)
    seen: list[Settings] = []
    real = cli.settings_from
    # Only the settings matter here; what sync sends is tested in test_sync_alerts.py.
    monkeypatch.setattr(cli, "_send_sync_alerts", lambda *args: None)
    monkeypatch.setattr(cli, "settings_from", lambda kw: seen.append(real(kw)) or seen[-1])
    assert invoke(["sync", "--now", NOW_TEXT]).exit_code == 0
    assert seen[0].notify == ("json://127.0.0.1:9/hook",)
    assert seen[0].owners == {"Li Wei": "@li", "Wang": "@wang"}


# --- bad input: one sentence, exit 2, nothing written -------------------------------------------

BAD = {
    "syntax": (
        'lang = "zh"\n[[logs]]\nname = "a"\nlog = logs/a.xlsx\n',
        "caseloop.toml is not valid TOML at line 4 (Invalid value); fix that line and run again; "
        "nothing was written.",
    ),
    "unknown key, top": (
        'lnag = "zh"\n[[logs]]\nname = "a"\nlog = "a.xlsx"\n',
        'caseloop.toml: "lnag" is not a caseloop setting (did you mean "lang"?); the settings are',
    ),
    "unknown key, entry": (
        '[[logs]]\nname = "a"\nlog = "a.xlsx"\nstatus_tabs = "S"\n',
        'caseloop.toml: [[logs]] #1 "status_tabs" is not a caseloop setting (did you mean '
        '"status_tab"?)',
    ),
    "no log": (
        '[[logs]]\nname = "a"\nto = "s.xlsx"\n',
        'caseloop.toml: the [[logs]] entry "a" has no log; give its case log as log = a path, '
        "a Google Sheets URL or gsheet:KEY. Nothing was written.",
    ),
    "no name": (
        '[[logs]]\nlog = "a.xlsx"\n',
        "caseloop.toml: the entry [[logs]] #1 has no name",
    ),
    "duplicate names": (
        '[[logs]]\nname = "a"\nlog = "a.xlsx"\n[[logs]]\nname = "a"\nlog = "b.xlsx"\n',
        'caseloop.toml: two [[logs]] entries are named "a"; give each log its own name.',
    ),
    "name like a path": (
        '[[logs]]\nname = "a.xlsx"\nlog = "a.xlsx"\n',
        'caseloop.toml: the log name "a.xlsx" looks like a file or an address',
    ),
    "bad lang": (
        'lang = "fr"\n[[logs]]\nname = "a"\nlog = "a.xlsx"\n',
        "caseloop.toml: lang must be one of auto, en, zh, not 'fr'; nothing was written.",
    ),
    "bad time zone": (
        'timezone = "Mars/Olympus"\n[[logs]]\nname = "a"\nlog = "a.xlsx"\n',
        "caseloop.toml: timezone must be a time zone such as \"Asia/Shanghai\", not 'Mars/Olympus'",
    ),
    "notify not a list of URLs": (
        'notify = [1, 2]\n[[logs]]\nname = "a"\nlog = "a.xlsx"\n',
        "caseloop.toml: notify must be a list of URLs",
    ),
    "bad tab name": (
        '[[logs]]\nname = "a"\nlog = "a.xlsx"\nstatus_tab = "a/b"\n',
        "status_tab must be a tab name (",
    ),
    "to at the log": (
        '[[logs]]\nname = "a"\nlog = "a.xlsx"\nto = "a.xlsx"\n',
        "--to a.xlsx is the case log itself; give the companion workbook a name of its own",
    ),
    "to at a team workbook": (
        '[[logs]]\nname = "a"\nlog = "a.xlsx"\nto = "team.xlsx"\n',
        '--to team.xlsx is a workbook caseloop did not make (it holds the tab "Cases")',
    ),
}


@pytest.mark.parametrize("slip", sorted(BAD))
def test_every_slip_in_the_file_is_one_sentence_exit_2_and_nothing_written(
    slip, tmp_path, monkeypatch
):
    text, said = BAD[slip]
    log = small_log(tmp_path / "a.xlsx")
    team = small_log(tmp_path / "team.xlsx")
    write_config(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    before = {p.name: sha(p) for p in tmp_path.iterdir() if p.is_file()}
    for args in (["sync", "--now", NOW_TEXT], ["sync", "--all", "--now", NOW_TEXT]):
        result = invoke(args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and said in lines[0], (args, lines)
        assert "Traceback" not in result.output
    assert {p.name: sha(p) for p in tmp_path.iterdir() if p.is_file()} == before
    assert log.exists() and team.exists()


def test_slips_are_worded_in_chinese_with_lang_zh(tmp_path, monkeypatch):
    write_config(tmp_path, 'lnag = "zh"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke(["sync", "--lang", "zh"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "caseloop: caseloop.toml：「lnag」不是 caseloop 的设置项（是不是「lang」？）；"
    )


def test_option_slips_with_all_are_refused_before_any_log_is_run(tmp_path, monkeypatch):
    log = small_log(tmp_path / "a.xlsx")
    before = sha(log)
    monkeypatch.chdir(tmp_path)
    result = invoke(["sync", "--all"])
    assert result.exit_code == 2 and "none was found" in result.stderr
    write_config(tmp_path, '[[logs]]\nname = "a"\nlog = "a.xlsx"\n')
    result = invoke(["sync", "a.xlsx", "--all"])
    assert result.exit_code == 2 and "Give LOG or --all, not both" in result.stderr
    result = invoke(["sync", "--all", "--output", "copy.xlsx"])
    assert result.exit_code == 2
    assert result.stderr == (
        "caseloop: --output names one file and --all runs 1 logs; leave --output out with --all "
        "(give each log its own to = in caseloop.toml).\n"
    )
    result = invoke(["sync", "--config", "missing.toml"])
    assert result.exit_code == 2 and "missing.toml (named by --config) does not exist" in (
        result.stderr
    )
    write_config(tmp_path, 'lang = "en"\n')
    result = invoke(["sync"])
    assert result.exit_code == 2 and result.stderr.startswith("caseloop: Give the case log")
    assert sha(log) == before


def test_read_config_resolves_paths_and_keeps_google_locations(tmp_path):
    config = read_config(
        write_config(
            tmp_path,
            'credentials = "sa.json"\n[[logs]]\nname = "g"\n'
            'log = "https://docs.google.com/spreadsheets/d/KEY/edit"\nto = "g.xlsx"\n',
        )
    )
    entry = config.logs[0]
    assert entry.log == "https://docs.google.com/spreadsheets/d/KEY/edit"
    assert entry.values["to"] == str(tmp_path / "g.xlsx")
    assert config.defaults["credentials"] == str(tmp_path / "sa.json")


def test_the_readme_examples_of_caseloop_toml_are_read_as_written(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 2  # English and Chinese
    for number, text in enumerate(blocks):
        config = read_config(write_config(tmp_path / str(number), text))
        assert config.names == ["store-a", "store-b"]
        assert config.defaults["owners"] == {"李": "lisi", "王": "wangwu"}
        assert config.logs[0].values["to"] == str(
            tmp_path / str(number) / "logs/store_a_status.xlsx"
        )
        assert config.logs[1].log.startswith("gsheet:")
    scheduling = readme.split("## Scheduling", 1)[1].split("\n## ", 1)[0]
    assert "caseloop sync --all --quiet >>" in scheduling
    assert "Arguments: sync --all --quiet" in scheduling
