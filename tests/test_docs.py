"""The README is the user's manual: every command and option is in it, and the Quick start runs."""

import os
import re
import shlex
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from caseloop.cli import main

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_blocks() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_and_option_is_documented(name):
    command = main.commands[name]
    # notify reads no log: its heading names its own argument.
    assert f"### `caseloop {name} {'--test URL' if name == 'notify' else 'LOG'}`" in README
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert f"`{opt}" in README, f"{name} {opt} is not in the README"


def test_quick_start_has_exactly_two_blocks_and_the_second_is_ci():
    blocks = quick_start_blocks()
    assert len(blocks) == 2
    assert "pip install -r requirements.txt" in blocks[0]
    assert "pip install -r requirements-dev.txt" in blocks[1] and "python -m pytest" in blocks[1]
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_quick_start_demo_runs_as_written(tmp_path, monkeypatch):
    """Run every caseloop command of the first block, in a folder laid out like the repo."""
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    monkeypatch.chdir(tmp_path)
    commands = [
        shlex.split(part.strip())
        for part in re.split(r"&&|;", quick_start_blocks()[0])
        if part.strip().startswith("caseloop ")
    ]
    assert [c[1] for c in commands] == ["validate", "sync", "report"]
    codes = [CliRunner().invoke(main, c[1:]).exit_code for c in commands]
    assert codes == [1, 0, 0]  # validate names the two broken sample rows on purpose
    book = openpyxl.load_workbook(tmp_path / "out" / "case_log.xlsx")
    assert {"Status", "Weekly Summary"} <= set(book.sheetnames)
    assert (
        (tmp_path / "out" / "weekly.md").read_text(encoding="utf-8").startswith("## Weekly Summary")
    )
    assert not os.path.exists(tmp_path / "sample_data" / ".caseloop-backup")


def test_readme_examples_match_what_the_commands_print(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["validate", "sample_data/case_log.xlsx", "--now", "2026-11-20T18:00"]
    )
    assert result.exit_code == 1 and len(result.output.splitlines()) == 5
    for line in result.output.splitlines():
        assert line in README, line
    result = CliRunner().invoke(
        main,
        [
            "sync",
            "sample_data/case_log.xlsx",
            "--now",
            "2026-11-20T18:00",
            "--output",
            "out/case_log.xlsx",
        ],
    )
    assert result.exit_code == 0 and len(result.output.splitlines()) == 3
    for line in result.output.splitlines():
        assert line in README, line


def test_readme_pictures_exist():
    for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / picture).stat().st_size > 10_000, picture
