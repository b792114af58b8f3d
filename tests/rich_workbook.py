"""Build a realistic team workbook for tests: everything a load-and-save through openpyxl would damage."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib
from pathlib import Path

import xlsxwriter

CASES_HEADER = [
    "Case ID",
    "Marketplace",
    "Category",
    "Channel",
    "Status",
    "Opened At",
    "Summary",
    "Days open",
]

# An x14 data validation, as Excel writes a dropdown whose list lives on another tab.
X14_DATA_VALIDATION = (
    '<ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
    'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    '<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1">'
    "<x14:formula1><xm:f>Lists!$B$1:$B$4</xm:f></x14:formula1><xm:sqref>D2:D50</xm:sqref>"
    "</x14:dataValidation></x14:dataValidations></ext>"
)


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG image, made from scratch."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _cases_rows() -> list[list[object]]:
    base = dt.datetime(2026, 3, 2, 9, 30)
    rows = []
    for n in range(12):
        rows.append(
            [
                str(12345678900 + n),
                ["US", "UK", "DE", "JP"][n % 4],
                ["Listing", "Payments", "FBA shipment"][n % 3],
                ["Case", "Phone", "Chat", "Email"][n % 4],
                ["Open", "Resolved"][n % 2],
                base + dt.timedelta(hours=7 * n),
                f"Problem number {n}: listing suppressed",
            ]
        )
    return rows


def build_team_workbook(
    path: Path,
    *,
    own_status_tab: str | None = None,
    date_1904: bool = False,
    macros: bool = False,
    data_descriptors: bool = True,
) -> Path:
    """Write the team's workbook to ``path`` and return it.

    own_status_tab: also add a tab of that name that the team made (for refusal tests).
    macros: add an xl/vbaProject.bin (write to an .xlsm path).
    data_descriptors: store members the way streaming zip writers do (flag bit 3 set, sizes in
    a data descriptor after the data), which the splice must handle.
    """
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "date_1904": date_1904})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    date_format = workbook.add_format({"num_format": "yyyy/mm/dd hh:mm"})

    cases = workbook.add_worksheet("Cases")
    cases.write_row(0, 0, CASES_HEADER, bold)
    for r, row in enumerate(_cases_rows(), start=1):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                cases.write_datetime(r, c, value, date_format)
            else:
                cases.write_string(r, c, value)
        # A formula with a cached value: pandas reads NaN if the cache is ever emptied.
        cases.write_formula(r, 7, f"=ROUND(DATE(2026,3,20)-F{r + 1},0)", None, 18 - r)
    cases.write_comment("A2", "Logged by Li Wei after the phone callback")
    cases.write_comment("G3", "Amazon asked for the invoice")
    cases.data_validation("C2:C50", {"validate": "list", "source": "=Lists!$A$1:$A$3"})
    cases.add_sparkline("I2", {"range": "Cases!H2:H13"})
    cases.autofilter(0, 0, 12, 7)
    cases.freeze_panes(1, 0)
    cases.set_column(0, 0, 14)
    cases.set_column(6, 6, 40)

    dashboard = workbook.add_worksheet("Dashboard")
    dashboard.write_row(0, 0, ["Week", "Opened", "Resolved"])
    for r in range(1, 6):
        dashboard.write_row(r, 0, [f"2026-W{r:02d}", r * 3, r * 2])
    chart = workbook.add_chart({"type": "column"})
    chart.add_series(
        {"name": "Opened", "categories": "=Dashboard!$A$2:$A$6", "values": "=Dashboard!$B$2:$B$6"}
    )
    chart.add_series(
        {"name": "Resolved", "categories": "=Dashboard!$A$2:$A$6", "values": "=Dashboard!$C$2:$C$6"}
    )
    dashboard.insert_chart("E2", chart)
    dashboard.insert_image("E20", "logo.png", {"image_data": io.BytesIO(tiny_png())})
    dashboard.insert_textbox("L2", "Team notes: escalate after two follow-ups")

    lists = workbook.add_worksheet("Lists")
    lists.write_column(0, 0, ["Listing", "Payments", "FBA shipment"])
    lists.write_column(0, 1, ["Case", "Phone", "Chat", "Email"])

    if own_status_tab:
        own = workbook.add_worksheet(own_status_tab)
        own.write_string(0, 0, "Our own status notes; hands off")

    workbook.define_name("CaseIDs", "=Cases!$A$2:$A$13")
    workbook.define_name("Lists!Channels", "=Lists!$B$1:$B$4")
    if macros:
        workbook.add_vba_project(
            io.BytesIO(b"\xd0\xcf\x11\xe0fake-vba-project" * 40), is_stream=True
        )
    workbook.set_custom_property("Team", "EU sellers")
    workbook.close()

    data = _add_x14_validation(buffer.getvalue())
    data = _rezip(data, data_descriptors)
    path.write_bytes(data)
    return path


def _add_x14_validation(data: bytes) -> bytes:
    """Put a real x14 dataValidation into the Cases sheet, inside its existing extLst."""
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    assert "<extLst>" in sheet, "the sparkline should have made an extLst"
    members["xl/worksheets/sheet1.xml"] = sheet.replace(
        "<extLst>", "<extLst>" + X14_DATA_VALIDATION, 1
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in members.items():
            target.writestr(name, content)
    return out.getvalue()


class _Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek, so zipfile writes data descriptors."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.buffer += data
        return len(data)


def _rezip(data: bytes, data_descriptors: bool) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    stream: io.RawIOBase | io.BytesIO = _Unseekable() if data_descriptors else io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as target:  # type: ignore[arg-type]
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    return bytes(stream.buffer) if isinstance(stream, _Unseekable) else stream.getvalue()
