"""Render views into SheetModels: labels in the chosen language, colours by flag, widths."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pandas as pd

from .config import FLAG_ORDER, Labels, Rules
from .model import Cell, Range, SheetModel, Style
from .views import STATUS_COLUMNS, StatusView

DATE_FORMAT = "yyyy-mm-dd hh:mm"
HOURS_FORMAT = "0.0"
TITLE = Style(bold=True, size=12)
HEADER = Style(bg="#404040", font_color="#FFFFFF", bold=True, border=True, wrap=True)
MAX_WIDTH = 60

# Columns whose values are labels the rules file translates.
TRANSLATED = {"marketplace": "Marketplace", "category": "Category", "channel": "Channel"}


def text_width(value: object) -> int:
    """Display width in Excel character units: CJK characters are two wide."""
    text = value.strftime("%Y-%m-%d %H:%M") if isinstance(value, dt.datetime) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fit_widths(rows: list[list[Cell]], start: int, minimum: float = 6) -> list[float]:
    """Column widths that fit the content from row ``start`` on, capped for long text."""
    widths: list[float] = []
    for row in rows[start:]:
        for c, cell in enumerate(row):
            if cell.value is None:
                continue
            w = min(MAX_WIDTH, text_width(cell.value) + 2)
            if c >= len(widths):
                widths.extend([minimum] * (c + 1 - len(widths)))
            widths[c] = max(widths[c], w)
    return widths


def flag_style(rules: Rules, flag: str, late: bool = False, num_format: str | None = None) -> Style:
    info = rules.flags[flag]
    bg = info.late_color if late and info.late_color else info.color
    return Style(bg=bg, font_color=info.font_color, num_format=num_format, border=True)


def flag_label(rules: Rules, flag: str, lang: str) -> str:
    return rules.flags[flag].zh if lang == "zh" else flag


def _value(value: object) -> object:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def render_status(
    view: StatusView,
    rules: Rules,
    labels: Labels,
    lang: str,
    generated_at: dt.datetime,
    title: str | None = None,
) -> SheetModel:
    """The Status tab: a title line with counts, a header, one coloured row per case."""
    counts = "  ".join(
        f"{flag_label(rules, f, lang)} {view.counts[f]}" for f in FLAG_ORDER if view.counts[f]
    )
    heading = labels.get("text", "generated", lang).format(
        generated=generated_at.strftime("%Y-%m-%d %H:%M"),
        as_of=view.as_of.strftime("%Y-%m-%d %H:%M"),
        tz=rules.timezone.key,
    )
    title_row = [Cell(heading + ("  ·  " + counts if counts else ""), TITLE)]
    header = [Cell(labels.get("status_columns", c, lang), HEADER) for c in STATUS_COLUMNS]
    rows: list[list[Cell]] = [title_row, header]
    formats = {
        "waiting_hours": HOURS_FORMAT,
        "target_hours": "0",
        "open_hours": HOURS_FORMAT,
        "due_at": DATE_FORMAT,
    }
    styles: dict[tuple[str, bool, str | None], Style] = {}
    for record in view.rows.to_dict("records"):
        flag, late = record["flag"], bool(record["late"])
        out: list[Cell] = []
        for column in STATUS_COLUMNS:
            value = _value(record[column])
            if column == "flag":
                value = flag_label(rules, flag, lang)
            elif column == "whose_turn" and value:
                value = labels.get("turns", value, lang)
            elif lang == "zh" and column in TRANSLATED and value:
                value = rules.zh_labels[TRANSLATED[column]].get(value, value)
            key = (flag, late, formats.get(column))
            if key not in styles:
                styles[key] = flag_style(rules, flag, late, formats.get(column))
            out.append(Cell(value, styles[key]))
        rows.append(out)
    if len(rows) == 2:
        rows.append([Cell(labels.get("text", "no_cases", lang))])
    widths = fit_widths(rows, start=1)
    return SheetModel(
        title=title or labels.get("tabs", "status", lang),
        rows=rows,
        col_widths=widths,
        freeze_rows=2,
        auto_filter=Range(1, 0, max(1, len(rows) - 1), len(STATUS_COLUMNS) - 1),
        kind="status",
    )
