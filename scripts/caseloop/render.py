"""Render views into SheetModels: labels in the chosen language, colours by flag, widths."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import pandas as pd

from .answers import PROBLEM_COLUMNS
from .cells import CELL_LIMIT, fit_text, summarise_list
from .config import FLAG_ORDER, Labels, Rules
from .model import Cell, CellValue, Chart, Range, Series, SheetModel, Style
from .views import STATUS_COLUMNS, StatusView
from .weekly import AGE_BUCKETS, METRICS, OPEN_FLAGS, Week, WeeklyReport

if TYPE_CHECKING:
    from .answers import AnswerBase

DATE_FORMAT = "yyyy-mm-dd hh:mm"
HOURS_FORMAT = "0.0"
TITLE = Style(bold=True, size=12)
HEADER = Style(bg="#404040", font_color="#FFFFFF", bold=True, border=True, wrap=True)
MAX_WIDTH = 60

# Columns whose values are labels the rules file translates.
TRANSLATED = {"marketplace": "Marketplace", "category": "Category", "channel": "Channel"}

# The Status tab's columns: the view's, with the case's Store (which Seller Central account to
# open) after Marketplace and its Summary (what it is about) after Category.
STATUS_TAB_COLUMNS = tuple(
    column
    for view_column in STATUS_COLUMNS
    for column in (
        (view_column, "store")
        if view_column == "marketplace"
        else (view_column, "summary")
        if view_column == "category"
        else (view_column,)
    )
)
# Case-log columns the view passes through unchanged, by Status tab column.
PASSED_THROUGH = {"store": "Store", "summary": "Summary"}
# Long text wraps inside a column this wide (characters) instead of running off the screen;
# the related case IDs at the end of a Next action stay readable.
WRAPPED_WIDTHS = {"summary": 40, "next_action": 60, "notes": 60}
# A Summary longer than three wrapped lines is cut with "…": the full text is in the Case Log.
SUMMARY_MAX_WIDTH = 3 * WRAPPED_WIDTHS["summary"]
# The Draft column shows the start of each message; the cell holds all of it, to copy.
DRAFT_WIDTH = 50
LINE_POINTS = 15.0  # one line of 11-point text
MAX_ROW_POINTS = 409.0  # Excel's tallest row


# East Asian wide and full-width characters (CJK, Hangul, full-width forms) take two columns.
_WIDE = re.compile(
    "[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)


def text_width(value: object) -> int:
    """Display width in Excel character units: CJK characters are two wide."""
    if isinstance(value, dt.datetime):
        return 16  # "yyyy-mm-dd hh:mm"
    text = str(value)
    if text.isascii():
        return len(text)
    return len(text) + len(_WIDE.findall(text))


def shorten(text: str, max_width: int) -> str:
    """``text`` cut to ``max_width`` display columns (CJK counts two), ending with "…"."""
    text = " ".join(text.split())
    if text_width(text) <= max_width:
        return text
    used, kept = 1, []  # the ellipsis takes one column
    for char in text:
        used += text_width(char)
        if used > max_width:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


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


def flag_style(
    rules: Rules, flag: str, late: bool = False, num_format: str | None = None, wrap: bool = False
) -> Style:
    info = rules.flags[flag]
    bg = info.late_color if late and info.late_color else info.color
    return Style(bg=bg, font_color=info.font_color, num_format=num_format, border=True, wrap=wrap)


def flag_label(
    rules: Rules, flag: str, lang: str, labels: Labels | None = None, passed: bool = False
) -> str:
    """The flag as the tab shows it; in Chinese a DEADLINE already passed reads 已过截止."""
    if flag == "DEADLINE" and passed and labels is not None:
        return labels.get("flag_states", "deadline_passed", lang)
    return rules.flags[flag].zh if lang == "zh" else flag


def flag_counts(view: StatusView, rules: Rules, labels: Labels, lang: str) -> list[tuple[str, int]]:
    """(label, rows) for every flag shown, worst first; passed deadlines on their own in Chinese."""
    counts: list[tuple[str, int]] = []
    for flag in FLAG_ORDER:
        n = view.counts[flag]
        if not n:
            continue
        if flag == "DEADLINE" and lang != "en" and "deadline_passed" in view.rows:
            rows = view.rows[view.rows["flag"].eq(flag)]
            passed = int(rows["deadline_passed"].sum())
            for label, k in (
                (flag_label(rules, flag, lang), n - passed),
                (flag_label(rules, flag, lang, labels, passed=True), passed),
            ):
                if k:
                    counts.append((label, k))
            continue
        counts.append((flag_label(rules, flag, lang), n))
    return counts


def timezone_label(rules: Rules, labels: Labels, lang: str) -> str:
    """The team's time zone as the reader names it (北京时间), else its IANA name."""
    key = rules.timezone.key
    if key in labels.raw.get("timezones", {}):
        return labels.get("timezones", key, lang)
    return key


def week_label(week: Week, labels: Labels, lang: str) -> str:
    """2026-W46 in English, 2026 年第 46 周 in Chinese."""
    return labels.get("weekly_text", "week", lang).format(
        label=week.label, year=week.year, number=week.number
    )


def _fit(value: CellValue, labels: Labels, lang: str) -> CellValue:
    """Text within Excel's cell limit (a Case ID list of a huge recurring problem, a note)."""
    # Half the limit in characters cannot reach it in UTF-16 units: most cells skip the count.
    if isinstance(value, str) and len(value) > CELL_LIMIT // 2:
        return fit_text([value], labels, lang)
    return value


def _value(value: object) -> CellValue:
    """A frame's value as a cell's: NaN and NaT blank, Timestamps and numpy scalars plain."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return cast(dt.datetime, value.to_pydatetime())
    if hasattr(value, "item"):  # numpy scalars
        return cast(CellValue, value.item())
    # What else a view's frame holds is already a cell value: text, numbers, booleans.
    return cast(CellValue, value)


def render_status(
    view: StatusView,
    rules: Rules,
    labels: Labels,
    lang: str,
    generated_at: dt.datetime,
    title: str | None = None,
) -> SheetModel:
    """The Status tab: a title line with counts, a header, one coloured row per case."""
    shown = [f"{label} {n}" for label, n in flag_counts(view, rules, labels, lang)]
    counts = ("、" if lang == "zh" else "  ").join(shown)
    heading = labels.get("text", "generated", lang).format(
        generated=generated_at.strftime("%Y-%m-%d %H:%M"),
        as_of=view.as_of.strftime("%Y-%m-%d %H:%M"),
        tz=timezone_label(rules, labels, lang),
    )
    joint = "；" if lang == "zh" else "  ·  "
    title_row = [Cell(heading + (joint + counts if counts else ""), TITLE)]
    # The Draft column (last: the longest text) only when drafts were made (not --no-drafts).
    columns = STATUS_TAB_COLUMNS + (("draft",) if "draft" in view.rows else ())
    header = [Cell(labels.get("status_columns", c, lang), HEADER) for c in columns]
    rows: list[list[Cell]] = [title_row, header]
    formats = {
        "waiting_hours": HOURS_FORMAT,
        "target_hours": "0",
        "open_hours": HOURS_FORMAT,
        "due_at": DATE_FORMAT,
    }
    styles: dict[tuple[str, bool, str | None, bool], Style] = {}
    for record in view.rows.to_dict("records"):
        flag, late = record["flag"], bool(record["late"])
        out: list[Cell] = []
        for column in columns:
            source = PASSED_THROUGH.get(column)
            raw = record.get(source, record.get(column)) if source else record[column]
            value = _value(raw)
            if column == "flag":
                passed = bool(record.get("deadline_passed")) and lang != "en"
                value = flag_label(rules, flag, lang, labels, passed)
            elif column == "whose_turn" and isinstance(value, str) and value:
                value = labels.get("turns", value, lang)
            elif lang == "zh" and column in TRANSLATED and isinstance(value, str) and value:
                value = rules.zh_labels[TRANSLATED[column]].get(value, value)
            elif column == "summary" and value is not None:
                value = shorten(str(value), SUMMARY_MAX_WIDTH)
            # A draft keeps its line breaks for pasting but does not wrap: the rows stay short.
            key = (flag, late, formats.get(column), column in WRAPPED_WIDTHS)
            if key not in styles:
                styles[key] = flag_style(rules, *key)
            out.append(Cell(_fit(value, labels, lang), styles[key]))
        rows.append(out)
    if len(rows) == 2:
        rows.append([Cell(labels.get("text", "no_cases", lang))])
    widths = fit_widths(rows, start=1)
    for column, width in {**WRAPPED_WIDTHS, "draft": DRAFT_WIDTH}.items():
        c = columns.index(column) if column in columns else len(widths)
        if c < len(widths):
            # Wrapped text sets its own height: a fixed width keeps the tab from running wide.
            widths[c] = min(max(widths[c], 12), width)
    return SheetModel(
        title=title or labels.get("tabs", "status", lang),
        rows=rows,
        col_widths=widths,
        row_heights=wrapped_row_heights(rows, widths, start=2),
        freeze_rows=2,
        auto_filter=Range(1, 0, max(1, len(rows) - 1), len(columns) - 1),
        kind="status",
    )


def wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` takes wrapped in a column ``width`` characters wide (an estimate
    by display width, words not split: enough that nothing is hidden)."""
    lines = 0
    columns = max(int(width), 1)
    for paragraph in text.split("\n"):
        used, count = 0, 1
        for word in paragraph.split(" "):
            size = text_width(word)
            if used and used + 1 + size > columns:
                count, used = count + 1, 0
            if size > columns:  # a word wider than the column is broken across lines
                count += (used + size - 1) // columns
                used = (used + size) % columns
            else:
                used += size + (1 if used else 0)
        lines += count
    return lines


def wrapped_row_heights(
    rows: list[list[Cell]], widths: list[float], start: int
) -> dict[int, float]:
    """Row heights (points) that show every line of the wrapped cells from row ``start`` on."""
    heights: dict[int, float] = {}
    for r in range(start, len(rows)):
        lines = max(
            (
                wrapped_lines(str(cell.value), widths[c])
                for c, cell in enumerate(rows[r])
                if cell.style is not None and cell.style.wrap and cell.value and c < len(widths)
            ),
            default=1,
        )
        if lines > 1:
            heights[r] = min(LINE_POINTS * lines, MAX_ROW_POINTS)
    return heights


# -- Weekly Summary ------------------------------------------------------------------------

COLUMN_FORMATS = {
    "first_reply_median": "0.0",
    "first_reply_p90": "0.0",
    "first_reply_within_target": "0",
    "resolution_median": "0.0",
    "open_hours": "0.0",
}
SECTION = Style(bold=True, size=11, font_color="#1F4E79")
BODY = Style(border=True)


@dataclass
class Section:
    """One titled table of the weekly report, shared by the tab and the Markdown."""

    title: str
    columns: list[str]  # column keys
    headers: list[str]  # their labels
    rows: list[list[CellValue]]
    note: str | None = None


def weekly_sections(report: WeeklyReport, rules: Rules, labels: Labels, lang: str) -> list[Section]:
    def label(key: str) -> str:
        return labels.get("weekly_columns", key, lang)

    def text(key: str, **values: object) -> str:
        return labels.get("weekly_text", key, lang).format(**values)

    def translate(column: str, value: CellValue) -> CellValue:
        source = TRANSLATED.get(column)
        # The labels are text: a value of another type has no translation and stays as it is.
        if lang == "zh" and source and isinstance(value, str):
            return rules.zh_labels[source].get(value, value)
        if column == "flag" and isinstance(value, str):
            if value in rules.flags:
                return flag_label(rules, value, lang)
            # Not flagged now: the case was closed or resolved since; show its status.
            return rules.zh_labels["Status"].get(value, value) if lang == "zh" else value
        return value

    def table(
        title: str, frame: pd.DataFrame, columns: list[str], note: str | None = None
    ) -> Section:
        rows = [
            [translate(c, _value(v)) for c, v in zip(columns, record, strict=True)]
            for record in frame[columns].itertuples(index=False, name=None)
        ]
        return Section(title, columns, [label(c) for c in columns], rows, note)

    week = week_label(report.week, labels, lang)
    metrics = list(METRICS)
    at = report.backlog_at.strftime("%Y-%m-%d %H:%M")
    if report.history_started is not None:
        since = report.history_started.strftime("%Y-%m-%d %H:%M")
        blank = text("blank_note_history", since=since)
    else:
        blank = text("blank_note")
    sections = [table(text("weeks"), report.weeks, ["week", *metrics], blank)]
    if report.open_by_flag is not None:
        # Open cases by flag at each week's end, from the History tab (issue 13).
        flag_columns = list(OPEN_FLAGS)
        sections.append(
            Section(
                text("open_by_flag"),
                ["week", *flag_columns],
                [label("week"), *(flag_label(rules, f, lang) for f in flag_columns)],
                [
                    [_value(v) for v in record]
                    for record in report.open_by_flag[["week", *flag_columns]].itertuples(
                        index=False, name=None
                    )
                ],
            )
        )
    for name in ("category", "marketplace", "channel"):
        sections.append(table(text(f"by_{name}", week=week), report.by[name], [name, *metrics]))
    if report.owners is not None:
        owners = report.owners.copy()
        owners["owner"] = owners["owner"].where(
            owners["owner"].ne(""), labels.get("weekly_columns", "no_owner", lang)
        )
        owner_columns = ["owner", "count", "alerts", "first_reply_median"]
        sections.append(table(text("by_owner", week=week), owners, owner_columns))
    backlog_rows: list[list[CellValue]] = [
        [labels.get("backlog_buckets", key, lang), report.backlog[key]]
        for key in [b[0] for b in AGE_BUCKETS] + ["stale", "total"]
    ]
    sections.append(
        Section(
            text("backlog", at=at),
            ["bucket", "count"],
            [label("bucket"), label("count")],
            backlog_rows,
        )
    )
    oldest_columns = ["case_id", "marketplace", "category", "owner", "open_hours", "flag"]
    sections.append(table(text("oldest", at=at), report.oldest, oldest_columns))
    recurring_columns = ["category", "key", "cases", "case_ids"]
    sections.append(
        table(
            text(
                "recurring",
                window=f"{rules.recurring_window_days:g}",
                at=report.week.end.strftime("%Y-%m-%d"),
            ),
            report.recurring,
            recurring_columns,
        )
    )
    return sections


def weekly_title(
    report: WeeklyReport, rules: Rules, labels: Labels, lang: str, generated_at: dt.datetime
) -> str:
    last_day = report.week.end - pd.Timedelta(days=1)
    return labels.get("weekly_text", "title", lang).format(
        week=week_label(report.week, labels, lang),
        start=report.week.start.strftime("%Y-%m-%d"),
        end=last_day.strftime("%Y-%m-%d"),
        start_md=report.week.start.strftime("%m/%d"),
        end_md=last_day.strftime("%m/%d"),
        as_of=report.as_of.strftime("%Y-%m-%d %H:%M"),
        tz=timezone_label(rules, labels, lang),
        generated=generated_at.strftime("%Y-%m-%d %H:%M"),
    )


def render_weekly(
    report: WeeklyReport,
    rules: Rules,
    labels: Labels,
    lang: str,
    generated_at: dt.datetime,
    title: str | None = None,
) -> SheetModel:
    """The Weekly Summary tab: the sections one under another, and a chart beside the weeks."""
    rows: list[list[Cell]] = [
        [Cell(weekly_title(report, rules, labels, lang, generated_at), TITLE)]
    ]
    if report.not_counted:
        rows.append(
            [
                Cell(
                    labels.get("weekly_text", "not_counted", lang).format(n=report.not_counted),
                    Style(italic=True, font_color="#C00000"),
                )
            ]
        )
    weeks_header_row = weeks_first = weeks_last = 0
    for index, section in enumerate(weekly_sections(report, rules, labels, lang)):
        rows.append([])
        rows.append([Cell(section.title, SECTION)])
        if section.note:
            rows.append([Cell(section.note, Style(italic=True, font_color="#595959"))])
        if index == 0:
            weeks_header_row = len(rows)
        rows.append([Cell(h, HEADER) for h in section.headers])
        if not section.rows:
            rows.append([Cell(labels.get("weekly_text", "none", lang), BODY)])
        for values in section.rows:
            rows.append(
                [
                    Cell(
                        _fit(v, labels, lang), Style(border=True, num_format=COLUMN_FORMATS.get(c))
                    )
                    for c, v in zip(section.columns, values, strict=True)
                ]
            )
        if index == 0:
            weeks_first, weeks_last = weeks_header_row + 1, len(rows) - 1
    columns = ["week", *METRICS]

    def column_range(key: str) -> Range:
        c = columns.index(key)
        return Range(weeks_first, c, weeks_last, c)

    chart = Chart(
        title=labels.get("weekly_text", "chart", lang),
        categories=column_range("week"),
        series=(
            Series(
                labels.get("weekly_columns", "opened", lang),
                column_range("opened"),
                "column",
                "#5B9BD5",
            ),
            Series(
                labels.get("weekly_columns", "resolved", lang),
                column_range("resolved"),
                "column",
                "#70AD47",
            ),
            Series(
                labels.get("weekly_columns", "closed", lang),
                column_range("closed"),
                "column",
                "#7F7F7F",
            ),
            Series(
                labels.get("weekly_columns", "open_at_end", lang),
                column_range("open_at_end"),
                "line",
                "#C00000",
            ),
        ),
        anchor_row=weeks_header_row,
        anchor_col=len(columns) + 1,
    )
    widths = fit_widths(rows, start=2, minimum=8)
    return SheetModel(
        title=title or labels.get("tabs", "weekly", lang),
        rows=rows,
        col_widths=[min(w, 28) for w in widths],
        freeze_rows=1,
        charts=[chart],
        kind="weekly",
    )


# -- Answers (答疑库) ----------------------------------------------------------------------

# The problem table's columns, in the order the answer base builds them.
ANSWER_COLUMNS = PROBLEM_COLUMNS
# Laid out under the first table's columns of a like width (Summary under Problem, dates under
# dates), so neither table makes the other's columns too wide.
MISSING_ANSWER_COLUMNS = ("category", "summary", "owner", "resolved_at", "case_id")
ANSWER_FORMATS = {"last_seen": "yyyy-mm-dd", "median_days": "0.0", "resolved_at": "yyyy-mm-dd"}
# Long text wraps at these widths, so a problem reads whole without a wide tab.
ANSWER_WIDTHS = {"problem": 45, "what_worked": 45, "amazon_said": 45, "case_ids": 28, "summary": 45}


def render_answers(
    base: AnswerBase,
    rules: Rules,
    labels: Labels,
    lang: str,
    generated_at: dt.datetime,
    as_of: pd.Timestamp,
    title: str | None = None,
) -> SheetModel:
    """The Answers tab: one row per solved problem, most frequent first; then the resolved
    cases whose Resolution is empty, by owner, so the base fills up."""

    def text(key: str, **values: object) -> str:
        return labels.get("answers_text", key, lang).format(**values)

    def label(key: str) -> str:
        return labels.get("answers_columns", key, lang)

    def translate(column: str, value: CellValue) -> CellValue:
        source = TRANSLATED.get(column)
        if lang == "zh" and source and isinstance(value, str):
            return rules.zh_labels[source].get(value, value)
        return value

    def body(column: str) -> Style:
        return Style(
            border=True, num_format=ANSWER_FORMATS.get(column), wrap=column in ANSWER_WIDTHS
        )

    heading = text(
        "title",
        solved=len(base.problems),
        resolved=base.resolved,
        as_of=as_of.strftime("%Y-%m-%d %H:%M"),
        generated=generated_at.strftime("%Y-%m-%d %H:%M"),
        tz=timezone_label(rules, labels, lang),
    )
    rows: list[list[Cell]] = [
        [Cell(heading, TITLE)],
        [Cell(label(c), HEADER) for c in ANSWER_COLUMNS],
    ]
    styles = {c: body(c) for c in (*ANSWER_COLUMNS, *MISSING_ANSWER_COLUMNS)}
    for record in base.problems.to_dict("records"):
        out = []
        for column in ANSWER_COLUMNS:
            value = record[column]
            if column == "case_ids":
                value = summarise_list(list(value), labels, lang)
            out.append(Cell(_fit(translate(column, _value(value)), labels, lang), styles[column]))
        rows.append(out)
    if base.problems.empty:
        rows.append([Cell(text("none"), BODY)])
    last_main = len(rows) - 1
    rows.append([])
    rows.append([Cell(text("missing", n=len(base.missing)), SECTION)])
    if base.missing.empty:
        rows.append([Cell(text("missing_none"), BODY)])
    else:
        rows.append([Cell(label(c), HEADER) for c in MISSING_ANSWER_COLUMNS])
        for record in base.missing.to_dict("records"):
            rows.append(
                [
                    Cell(_fit(translate(c, _value(record[c])), labels, lang), styles[c])
                    for c in MISSING_ANSWER_COLUMNS
                ]
            )
    widths = fit_widths(rows, start=1, minimum=8)
    for c, column in enumerate(ANSWER_COLUMNS):
        if column in ANSWER_WIDTHS and c < len(widths):
            widths[c] = min(max(widths[c], 12), ANSWER_WIDTHS[column])
    return SheetModel(
        title=title or labels.get("tabs", "answers", lang),
        rows=rows,
        col_widths=widths,
        row_heights=wrapped_row_heights(rows, widths, start=2),
        freeze_rows=2,
        auto_filter=Range(1, 0, max(1, last_main), len(ANSWER_COLUMNS) - 1),
        kind="answers",
    )
