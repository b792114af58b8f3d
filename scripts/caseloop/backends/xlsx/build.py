"""The generated tabs (cells, formats, auto-filter, charts) built as a workbook of their own with xlsxwriter."""

from __future__ import annotations

import datetime as dt
import io
import math
import tempfile
from dataclasses import dataclass, replace
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import XlsxWriterException

from ...errors import CaseloopError
from ...model import Cell, Chart, SheetModel, Style

DEFAULT_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DEFAULT_DATE_FORMAT = "yyyy-mm-dd"
BORDER_GREY = "#BFBFBF"


@dataclass(frozen=True)
class FontDefaults:
    """The team's default font (its first font in styles.xml), which the generated cells use."""

    name: str = "Calibri"
    size: float = 11
    family: int | None = 2


class _FormatCache:
    """One xlsxwriter format per distinct Style, so the workbook holds each look once."""

    def __init__(self, workbook: xlsxwriter.Workbook, fonts: FontDefaults) -> None:
        self.workbook = workbook
        self.fonts = fonts
        self.formats: dict[Style, object] = {}
        # Hashing a Style hashes all its fields; most cells share a few Style objects, so look
        # them up by identity first (the Style is kept alive here so its id cannot be reused).
        self.by_identity: dict[int, tuple[Style, object]] = {}

    def get(self, style: Style) -> object:
        known = self.by_identity.get(id(style))
        if known is not None:
            return known[1]
        found = self._by_value(style)
        self.by_identity[id(style)] = (style, found)
        return found

    def _by_value(self, style: Style) -> object:
        found = self.formats.get(style)
        if found is None:
            properties: dict[str, object] = {
                "font_name": self.fonts.name,
                "font_size": style.size or self.fonts.size,
            }
            if self.fonts.family is not None:
                properties["font_family"] = self.fonts.family
            if style.bg:
                properties.update(bg_color=style.bg, pattern=1)
            if style.font_color:
                properties["font_color"] = style.font_color
            if style.bold:
                properties["bold"] = True
            if style.italic:
                properties["italic"] = True
            if style.num_format:
                properties["num_format"] = style.num_format
            if style.wrap:
                properties.update(text_wrap=True, valign="top")
            if style.border:
                properties.update(border=1, border_color=BORDER_GREY)
            found = self.formats[style] = self.workbook.add_format(properties)
        return found


def _write_cells(sheet: Any, rows: list[list[Cell]], formats: _FormatCache) -> bool:
    """Write every cell; True if some text contains ' s="' (see ``styles.restyle_sheet``)."""
    text_may_mimic = False
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            # Any: the type is told by ``kind is ...`` below (faster than isinstance in this loop).
            value: Any = cell.value
            style = cell.style
            kind = type(value)
            if kind is str:
                # write_string, never write(): text that starts with = + - @ stays text.
                sheet.write_string(r, c, value, formats.get(style) if style else None)
                text_may_mimic = text_may_mimic or ' s="' in value
            elif value is None:
                if style:
                    sheet.write_blank(r, c, None, formats.get(style))
            elif (kind is float or kind is int) and math.isfinite(value):
                sheet.write_number(r, c, value, formats.get(style) if style else None)
            else:
                _write_other(sheet, r, c, value, style, formats)
    return text_may_mimic


def _write_other(
    sheet: Any, r: int, c: int, value: object, style: Style | None, formats: _FormatCache
) -> None:
    """The less common values: booleans, dates, NaN/NaT, numpy scalars, anything else as text."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()  # numpy scalars that pandas hands over
    if value is None or value != value or (isinstance(value, float) and math.isinf(value)):
        if style:
            sheet.write_blank(r, c, None, formats.get(style))
    elif isinstance(value, bool):
        sheet.write_boolean(r, c, value, formats.get(style) if style else None)
    elif isinstance(value, int | float):
        sheet.write_number(r, c, value, formats.get(style) if style else None)
    elif isinstance(value, dt.date):  # datetimes too
        style = style or Style()
        if not style.num_format:
            is_datetime = isinstance(value, dt.datetime)
            style = replace(
                style, num_format=DEFAULT_DATETIME_FORMAT if is_datetime else DEFAULT_DATE_FORMAT
            )
        sheet.write_datetime(r, c, value, formats.get(style))
    else:
        sheet.write_string(r, c, str(value), formats.get(style) if style else None)


def _never_smooth(chart: Any) -> None:
    """Write ``<c:smooth val="0"/>`` on every line series.

    xlsxwriter leaves the element out unless smoothing is asked for, and LibreOffice reads a
    missing element as smoothed: the open-cases line then curved below zero between weeks.
    """

    def write_smooth(smooth: object) -> None:
        chart._xml_empty_tag("c:smooth", [("val", "1" if smooth else "0")])

    chart._write_c_smooth = write_smooth


def _add_chart(workbook: xlsxwriter.Workbook, sheet: Any, title: str, chart: Chart) -> None:
    if not chart.series:
        return
    charts: dict[str, Any] = {}
    for series in chart.series:
        target = charts.get(series.kind)
        if target is None:
            target = charts[series.kind] = workbook.add_chart({"type": series.kind})
            if series.kind == "line":
                _never_smooth(target)
        options: dict[str, object] = {
            "name": series.name,
            "categories": [
                title,
                chart.categories.first_row,
                chart.categories.first_col,
                chart.categories.last_row,
                chart.categories.last_col,
            ],
            "values": [
                title,
                series.values.first_row,
                series.values.first_col,
                series.values.last_row,
                series.values.last_col,
            ],
        }
        if series.color and series.kind == "column":
            options.update(fill={"color": series.color}, border={"color": series.color})
        elif series.color:
            options.update(line={"color": series.color, "width": 2.25}, marker={"type": "none"})
        target.add_series(options)
    first_kind = chart.series[0].kind
    primary = charts.pop(first_kind)
    for other in charts.values():
        primary.combine(other)
    primary.set_title({"name": chart.title})
    primary.set_legend({"position": "bottom"})
    if chart.y_title:
        primary.set_y_axis({"name": chart.y_title})
    primary.set_size({"width": chart.width_px, "height": chart.height_px})
    sheet.insert_chart(chart.anchor_row, chart.anchor_col, primary)


def build(
    tabs: list[tuple[str, SheetModel]], fonts: FontDefaults, date_1904: bool
) -> tuple[bytes, bool]:
    """An xlsxwriter workbook holding only the generated tabs, under their final titles.

    Also says whether some text contains ' s="' (see ``styles.restyle_sheet``).
    """
    buffer = io.BytesIO()
    # constant_memory makes xlsxwriter write strings inline (t="inlineStr"), which is what the
    # team's file needs anyway (its sharedStrings.xml must not change), and streams rows to disk.
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": True,
            "tmpdir": tempfile.gettempdir(),
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "date_1904": date_1904,
            "remove_timezone": True,
        },
    )
    formats = _FormatCache(workbook, fonts)
    text_may_mimic = False
    try:
        for title, model in tabs:
            sheet = workbook.add_worksheet(title)
            for col, width in enumerate(model.col_widths):
                sheet.set_column(col, col, width)
            for row, height in model.row_heights.items():
                sheet.set_row(row, height)
            if model.freeze_rows:
                sheet.freeze_panes(model.freeze_rows, 0)
            if model.auto_filter is not None:
                f = model.auto_filter
                sheet.autofilter(f.first_row, f.first_col, f.last_row, f.last_col)
            text_may_mimic = _write_cells(sheet, model.rows, formats) or text_may_mimic
            for chart in model.charts:
                _add_chart(workbook, sheet, title, chart)
        workbook.close()
    except XlsxWriterException as exc:
        raise CaseloopError(f"caseloop could not build the generated tabs: {exc}.") from None
    return buffer.getvalue(), text_may_mimic
