"""Regenerate tests/corpus/files/: one team workbook per real producer, and manifest.json.

Every workbook holds the same team content, as far as its producer can write it: a Cases tab
(a merged title row, then a header and eleven cases whose flags at NOW are known, see EXPECTED),
a Lists tab with the dropdown sources and the defined name ChannelList, a Summary tab with
COUNTIF formulas (with cached results where the producer stores them), fills, merged cells, a
comment, data validation, an Excel Table, and a chart or an image where the producer has one.
tests/test_corpus.py adds nothing to the files: it runs caseloop on a copy of each one.

The generated files are committed, so the tests need none of the producers. To regenerate
(each producer is skipped with a note when its tool is missing, keeping its committed file):

    # throwaway tools, outside the repo
    cd /tmp/corpus-node && npm init -y && npm install xlsx@0.18.5 exceljs@4.4.0
    python3.8 -m venv /tmp/opx226 && /tmp/opx226/bin/pip install openpyxl==2.2.6
    python3.8 -m venv /tmp/opx235 && /tmp/opx235/bin/pip install openpyxl==2.3.5
    python3 -m venv /tmp/opx2514 && /tmp/opx2514/bin/pip install openpyxl==2.5.14
    # LibreOffice (soffice) and Gnumeric (ssconvert) from apt
    python tests/corpus/make_corpus.py --node-modules /tmp/corpus-node/node_modules \\
        --old-openpyxl /tmp/opx226/bin/python /tmp/opx235/bin/python /tmp/opx2514/bin/python

Producers and how each file is made:
- xlsxwriter (this venv): in process, ``xlsxwriter_book`` below; also the source that
  LibreOffice and Gnumeric open and save (so their files are written by their own filters).
  A second file uses the Mac 1904 date system with Opened At as plain serial numbers.
- openpyxl 3.1 (this venv) and old openpyxl (2.2 writes ``ns0:`` prefixed relationships,
  2.2 and 2.3 an ``s:`` prefixed workbook.xml): ``PYTHON producers/openpyxl_book.py OUT <
  book.json``. A second 3.1 file is structure-locked (``lockStructure``): caseloop must refuse
  it, since Excel forbids adding a tab there (manifest ``expect``).
- pandas (this venv, openpyxl engine): ``DataFrame.to_excel`` per tab, the case tab as a
  Chinese team names it (案例, Chinese headers), then the dropdown, comment and defined name
  through ``writer.book`` as a pandas user would.
- SheetJS and exceljs: ``node producers/{sheetjs,exceljs}_book.js OUT < book.json``; exceljs's
  Table has a totals row.
- LibreOffice: ``soffice --headless --convert-to xlsx`` (and ``xlsm:"Calc MS Excel 2007 VBA
  XML"``) of the xlsxwriter workbook.
- Gnumeric: ``ssconvert --export-type=Gnumeric_Excel:xlsx2`` of the xlsxwriter workbook.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
MANIFEST = HERE / "manifest.json"
PRODUCERS = HERE / "producers"
sys.path.insert(0, str(HERE.parent))  # tests/, for rich_workbook.tiny_png and caselog

from caselog import HEADERS as CASE_HEADERS  # noqa: E402 (needs the path above as a script)

NOW = dt.datetime(2026, 11, 20, 18, 0)
NOW_TEXT = "2026-11-20T18:00"

# The schema's columns as the tests' logs have them, plus one caseloop must leave alone.
HEADERS = [*CASE_HEADERS, "Team note"]
DATE_COLUMNS = [
    "Opened At",
    "Last Sent At",
    "First Reply At",
    "Last Reply At",
    "Resolved At",
    "Deadline",
]


ERROR = "#N/A"  # in a row: the producer writes a spreadsheet error cell, not text


def ago(hours: float) -> str:
    """The team's wall-clock time ``hours`` before NOW (negative: after), as ISO text."""
    return (NOW - dt.timedelta(hours=hours)).isoformat(timespec="seconds")


def _case(case_id: str, flag: str, **values: Any) -> tuple[str, list[Any]]:
    row = {"Case ID": case_id, "Owner": "Li Wei", "Follow-ups": 0, **values}
    return flag, [row.get(h) for h in HEADERS]


# Each case with the flag the rules in sheets_schema/rules.yaml give it at NOW (None: a Closed
# case, which never shows on the Status tab). The README's flag table says why:
_CASES = [
    # Amazon's turn for 2 h of a 24 h target.
    _case(
        "12345678901",
        "ON TRACK",
        Marketplace="US",
        Category="Advertising",
        Channel="Case",
        Status="Open",
        **{"Opened At": ago(2), "Summary": "Campaign stuck in review"},
    ),
    # Amazon's turn for 30 h, target 24 h, opened under the 168 h Normal limit.
    _case(
        "12345678902",
        "OVERDUE",
        Marketplace="UK",
        Category="Advertising",
        Channel="Case",
        Status="Open",
        **{
            "Opened At": ago(30),
            "Order ID": "111-1234567-1234567",
            "Summary": "Coupon not applied",
        },
    ),
    # Amazon answered 5 h ago and we have not replied.
    _case(
        "12345678903",
        "OUR TURN",
        Marketplace="DE",
        Category="Payments",
        Channel="Email",
        Status="Open",
        **{
            "Opened At": ago(10),
            "First Reply At": ago(5),
            "Last Reply At": ago(5),
            "Summary": "Disbursement on hold",
        },
    ),
    # A Listing case needs its ASIN.
    _case(
        "12345678904",
        "NEEDS INFO",
        Marketplace="JP",
        Category="Listing",
        Channel="Case",
        Status="Open",
        **{"Opened At": ago(1), "Summary": "Listing suppressed"},
    ),
    # 20 h of 24: at least 75 % of the target.
    _case(
        "12345678905",
        "DUE SOON",
        Marketplace="US",
        Category="Tax & VAT",
        Channel="Case",
        Status="Open",
        **{"Opened At": ago(20), "Summary": "VAT invoice upload fails"},
    ),
    # A deadline 24 h away (under deadline_warn_hours 48).
    _case(
        "12345678906",
        "DEADLINE",
        Marketplace="FR",
        Category="Advertising",
        Channel="Case",
        Status="Open",
        **{
            "Opened At": ago(3),
            "Deadline": ago(-24),
            "Summary": "Ad account review before the sale",
        },
    ),
    # High priority open 100 h, over the 72 h limit; our callback request 30 minutes ago:
    # Amazon is within its 1 h target, so no escalation yet (issue 10: only past target).
    _case(
        "12345678907",
        "ON TRACK",
        Marketplace="US",
        Category="Account health",
        Channel="Phone",
        Status="Open",
        **{
            "Opened At": ago(100),
            "Last Sent At": ago(0.5),
            "Follow-ups": 3,
            "Summary": "Account at risk",
        },
    ),
    # Resolved 3 h ago: shown for 7 days.
    _case(
        "12345678908",
        "RESOLVED",
        Marketplace="CA",
        Category="Advertising",
        Channel="Chat",
        Status="Resolved",
        **{
            "Opened At": ago(50),
            "First Reply At": ago(49),
            "Resolved At": ago(3),
            "Resolution": "Campaign approved",
            "Summary": "Budget not spending",
        },
    ),
    # Closed long ago: never shown.
    _case(
        "12345678909",
        None,
        Marketplace="US",
        Category="Advertising",
        Channel="Case",
        Status="Closed",
        **{
            "Opened At": ago(400),
            "Resolved At": ago(300),
            "Resolution": "Duplicate",
            "Summary": "Old question",
        },
    ),
    # A spreadsheet error (#N/A from a lookup) in a date column: the row cannot be judged.
    _case(
        "12345678911",
        "INVALID",
        Marketplace="US",
        Category="Advertising",
        Channel="Case",
        Status="Open",
        **{"Opened At": ago(6), "Last Reply At": ERROR, "Summary": "Reply time looked up"},
    ),
    # A channel caseloop does not know: the row cannot be judged.
    _case(
        "12345678910",
        "INVALID",
        Marketplace="US",
        Category="Advertising",
        Channel="Seller Forums",
        Status="Open",
        **{"Opened At": ago(2), "Summary": "Asked on the forums"},
    ),
]
ROWS = [row for _, row in _CASES]
EXPECTED = {row[0]: flag for flag, row in _CASES}
for _row in ROWS:
    _row[-1] = f"team note for {_row[0]}"

HEADERS_ZH = dict(
    zip(
        HEADERS,
        "案例编号 站点 问题类型 联系渠道 优先级 状态 提交时间 最近跟进时间 首次回复时间 最近回复时间 "
        "跟进次数 解决时间 截止时间 订单号 ASIN 货件编号 关联案例 负责人 问题描述 处理结果 团队备注".split(),
        strict=True,
    )
)
_statuses = [row[HEADERS.index("Status")] for row in ROWS]
SUMMARY = [
    (label, f'=COUNTIF(Cases!$F$3:$F${2 + len(ROWS)},"{label}")', _statuses.count(label))
    for label in ("Open", "Resolved", "Closed")
] + [("Total", "=SUM(B2:B4)", len(ROWS))]
LISTS = [
    ["Channels", "Statuses", "Categories"],
    ["Case", "Open", "Advertising"],
    ["Phone", "Resolved", "Listing"],
    ["Chat", "Closed", "Payments"],
    ["Email", None, "Account health"],
]


def spec() -> dict[str, Any]:
    """The team content every producer writes, as JSON-able data for the other processes."""
    from rich_workbook import tiny_png

    return {
        "title": "Seller support case log — Team A (edit freely)",
        "comment": "Amazon case ID from Seller Central (11 digits).",
        "headers": HEADERS,
        "date_columns": DATE_COLUMNS,
        "rows": ROWS,
        "lists": LISTS,
        "summary": SUMMARY,
        "png_base64": base64.b64encode(tiny_png(8, 6)).decode(),
    }


def _when(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")


def _serial_1904(value: str) -> float:
    return (_when(value) - dt.datetime(1904, 1, 1)) / dt.timedelta(days=1)


def xlsxwriter_book(out: Path, date_1904: bool = False) -> str:
    """The richest file: every feature, formulas with cached results, a chart and a picture.

    With ``date_1904`` the workbook uses the Mac 1904 date system, and Opened At holds plain
    unformatted serial numbers in it, as an Excel 2008 for Mac team's log does.
    """
    import io

    import xlsxwriter

    from rich_workbook import tiny_png

    book = xlsxwriter.Workbook(str(out), {"date_1904": date_1904})
    title = book.add_format({"bold": True, "font_size": 14, "bg_color": "#FFF2CC"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    cases = book.add_worksheet("Cases")
    lists = book.add_worksheet("Lists")
    summary = book.add_worksheet("Summary")
    archive = book.add_worksheet("Archive")
    archive.hide()
    cases.merge_range("A1:F1", spec()["title"], title)
    last_row = 2 + len(ROWS)
    cases.add_table(
        1,
        0,
        last_row - 1,
        len(HEADERS) - 1,
        {
            "name": "CaseTable",
            "style": "Table Style Light 9",
            "columns": [{"header": h} for h in HEADERS],
        },
    )
    for r, row in enumerate(ROWS, start=2):
        for c, (name, value) in enumerate(zip(HEADERS, row, strict=True)):
            if value is None:
                cases.write_blank(r, c, None)
            elif value == ERROR:
                cases.write_formula(r, c, "=NA()", None, ERROR)
            elif date_1904 and name == "Opened At":
                cases.write_number(r, c, _serial_1904(value))
            elif name in DATE_COLUMNS:
                cases.write_datetime(r, c, _when(value), stamp)
            elif isinstance(value, str):
                cases.write_string(r, c, value)
            else:
                cases.write_number(r, c, value)
    cases.set_column(0, 0, 16)
    cases.freeze_panes(2, 0)
    cases.write_comment("A2", spec()["comment"], {"author": "Team lead"})
    cases.data_validation("F3:F50", {"validate": "list", "source": ["Open", "Resolved", "Closed"]})
    cases.data_validation("D3:D50", {"validate": "list", "source": "=ChannelList"})
    for r, line in enumerate(LISTS):
        for c, value in enumerate(line):
            if value is not None:
                lists.write(r, c, value)
    book.define_name("ChannelList", "=Lists!$A$2:$A$5")
    cases.print_area(0, 0, last_row - 1, len(HEADERS) - 1)  # a sheet-scoped defined name
    summary.merge_range("A1:B1", "Case counts", book.add_format({"bg_color": "#C6EFCE"}))
    for r, (label, formula, cached) in enumerate(SUMMARY, start=1):
        summary.write_string(r, 0, label)
        summary.write_formula(r, 1, formula, None, cached)
    chart = book.add_chart({"type": "column"})
    chart.add_series(
        {
            "name": "Cases by status",
            "categories": "=Summary!$A$2:$A$4",
            "values": "=Summary!$B$2:$B$4",
        }
    )
    summary.insert_chart("D2", chart)
    summary.insert_image("D18", "badge.png", {"image_data": io.BytesIO(tiny_png(8, 6))})
    archive.write_row(0, 0, ["Old cases moved here by hand"])
    archive.write_row(1, 0, ["12345600001", "Closed"])
    book.close()
    return xlsxwriter.__version__


def pandas_book(out: Path) -> str:
    """How a pandas user writes the log: to_excel per tab, then touches via writer.book."""
    import pandas as pd
    from openpyxl.comments import Comment
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    frame = pd.DataFrame(ROWS, columns=HEADERS)
    for name in DATE_COLUMNS:
        # Timestamps, and the error text, which openpyxl writes as an error cell.
        frame[name] = frame[name].map(lambda v: pd.Timestamp(v) if v and v != ERROR else v)
    # A Chinese team's log: the tab 案例 with Chinese headers (README, "The case log").
    frame.columns = [HEADERS_ZH[h] for h in HEADERS]
    with pd.ExcelWriter(out, engine="openpyxl", datetime_format="yyyy-mm-dd hh:mm") as writer:
        frame.to_excel(writer, sheet_name="案例", index=False)
        pd.DataFrame(LISTS[1:], columns=LISTS[0]).to_excel(writer, sheet_name="Lists", index=False)
        counts = pd.DataFrame(
            [(label, cached) for label, _, cached in SUMMARY], columns=["Status", "Cases"]
        )
        counts.to_excel(writer, sheet_name="Summary", index=False)
        sheet = writer.sheets["案例"]
        sheet.freeze_panes = "A2"
        sheet["A1"].comment = Comment(spec()["comment"], "Team lead")
        rule = DataValidation(type="list", formula1='"Open,Resolved,Closed"', allow_blank=True)
        rule.add("F2:F50")
        sheet.add_data_validation(rule)
        writer.book.defined_names["ChannelList"] = DefinedName(
            "ChannelList", attr_text="Lists!$A$2:$A$5"
        )
    return f"{pd.__version__} (openpyxl engine)"


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, timeout=300, **kwargs)


def openpyxl_book(python: str, out: Path, *options: str) -> str:
    version = _run([python, "-c", "import openpyxl; print(openpyxl.__version__)"], text=True)
    _run(
        [python, str(PRODUCERS / "openpyxl_book.py"), str(out), *options],
        input=json.dumps(spec()).encode(),
    )
    return version.stdout.strip()


def node_book(script: str, package: str, node_modules: Path, out: Path) -> str:
    env = {**os.environ, "NODE_PATH": str(node_modules)}
    _run(["node", str(PRODUCERS / script), str(out)], input=json.dumps(spec()).encode(), env=env)
    return json.loads((node_modules / package / "package.json").read_text())["version"]


def soffice_version() -> str:
    text = _run(["soffice", "--version"], text=True).stdout
    return re.search(r"LibreOffice ([\d.]+)", text).group(1)


def soffice_convert(source: Path, target: str, outdir: Path) -> Path:
    with tempfile.TemporaryDirectory() as profile:
        _run(
            [
                "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                str(outdir),
                str(source),
            ]
        )
    suffix = "." + target.split(":")[0]
    return outdir / (source.stem + suffix)


def ssconvert_version() -> str:
    text = _run(["ssconvert", "--version"], text=True).stdout
    return re.search(r"version '([\d.]+)'", text).group(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, help="folder holding xlsx and exceljs")
    parser.add_argument(
        "--old-openpyxl", nargs="*", default=[], help="interpreters with old openpyxl"
    )
    args = parser.parse_args(argv)
    FILES.mkdir(exist_ok=True)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"files": {}}
    made: dict[str, dict[str, str]] = {}

    def record(path: Path, producer: str, version: str, how: str, **extra: str) -> None:
        made[path.name] = {"producer": producer, "version": version, "how": how, **extra}
        print(f"{path.name}: {path.stat().st_size} bytes")

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        source = scratch / "team_log.xlsx"
        version = xlsxwriter_book(source)
        target = FILES / f"xlsxwriter-{version}.xlsx"
        shutil.copy(source, target)
        record(target, "xlsxwriter", version, "xlsxwriter_book() in make_corpus.py")

        out = scratch / "mac1904.xlsx"
        xlsxwriter_book(out, date_1904=True)
        target = FILES / f"xlsxwriter-{version}-1904.xlsx"
        shutil.copy(out, target)
        record(
            target,
            "xlsxwriter",
            version,
            "xlsxwriter_book(date_1904=True): 1904 date system, Opened At as plain serials",
        )

        out = scratch / "pandas.xlsx"
        version = pandas_book(out)
        target = FILES / f"pandas-{version.split()[0]}.xlsx"
        shutil.copy(out, target)
        record(target, "pandas", version, "pandas_book() in make_corpus.py")

        for python in [sys.executable, *args.old_openpyxl]:
            out = scratch / "openpyxl.xlsx"
            version = openpyxl_book(python, out)
            target = FILES / f"openpyxl-{version}.xlsx"
            shutil.copy(out, target)
            record(target, "openpyxl", version, "producers/openpyxl_book.py")

        out = scratch / "locked.xlsx"
        version = openpyxl_book(sys.executable, out, "--lock-structure")
        target = FILES / f"openpyxl-{version}-locked.xlsx"
        shutil.copy(out, target)
        record(
            target,
            "openpyxl",
            version,
            "producers/openpyxl_book.py --lock-structure",
            expect="refused: Excel forbids adding a tab to a structure-locked workbook",
        )

        if args.node_modules and shutil.which("node"):
            for script, package in (("sheetjs_book.js", "xlsx"), ("exceljs_book.js", "exceljs")):
                out = scratch / f"{package}.xlsx"
                version = node_book(script, package, args.node_modules, out)
                name = "sheetjs" if package == "xlsx" else package
                target = FILES / f"{name}-{version}.xlsx"
                shutil.copy(out, target)
                record(target, f"{name} (npm {package})", version, f"producers/{script}")
        else:
            print("skipped SheetJS and exceljs: pass --node-modules (and install node)")

        if shutil.which("soffice"):
            version = soffice_version()
            for target_type, suffix in (
                ("xlsx", ".xlsx"),
                ("xlsm:Calc MS Excel 2007 VBA XML", ".xlsm"),
            ):
                out = soffice_convert(source, target_type, scratch / "lo")
                target = FILES / f"libreoffice-{version}{suffix}"
                shutil.copy(out, target)
                record(target, "LibreOffice", version, f"soffice --convert-to '{target_type}'")
        else:
            print("skipped LibreOffice: soffice not found")

        if shutil.which("ssconvert"):
            version = ssconvert_version()
            out = scratch / "gnumeric.xlsx"
            _run(["ssconvert", "--export-type=Gnumeric_Excel:xlsx2", str(source), str(out)])
            target = FILES / f"gnumeric-{version}.xlsx"
            shutil.copy(out, target)
            record(target, "Gnumeric", version, "ssconvert --export-type=Gnumeric_Excel:xlsx2")
        else:
            print("skipped Gnumeric: ssconvert not found")

    for name, entry in made.items():
        entry["sha256"] = hashlib.sha256((FILES / name).read_bytes()).hexdigest()
        manifest["files"][name] = entry
    manifest["now"] = NOW_TEXT
    manifest["headers"] = HEADERS
    manifest["rows"] = ROWS
    manifest["expected_flags"] = EXPECTED
    manifest["files"] = dict(sorted(manifest["files"].items()))
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    total = sum((FILES / n).stat().st_size for n in manifest["files"])
    print(f"{len(manifest['files'])} files, {total} bytes in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
