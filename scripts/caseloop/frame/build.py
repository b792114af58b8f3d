"""Turn a tab's raw grid into a typed cases DataFrame plus a list of Problems with cell addresses.

Vectorised over columns: values are classified by Python type once, then parsed per kind with
pandas; only the cells that turn out bad are visited one by one, to word their problem.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import Rules, Schema, normalize_label
from ..errors import CaseloopError, Problem
from ..ports import CellError, Grid

HEADER_SCAN_ROWS = 10
MIN_KNOWN_HEADERS = 3
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
DAYS_1900_TO_1904 = 1462  # a 1904-system serial (old Mac Excel) counts from 1904-01-01
# Serials outside this range are not plausible case dates (1990..2100).
SERIAL_MIN, SERIAL_MAX = 32874, 73051
# Years a case date can have: a date cell of 9999-12-31 (a "no deadline" some teams type) or
# 0001-01-01 is refused with its cell, not a crash. Within 1900..2100 any two case dates are
# less than the 292 years a difference of datetime64[ns] holds apart.
YEAR_MIN, YEAR_MAX = 1900, 2100
# Real UTC offsets lie within -12:00..+14:00; "+25:00" is a typo, not a time zone.
MAX_OFFSET_MINUTES = 14 * 60

# 2026-11-20 09:30, 2026/11/20T9:30:15+08:00, 2026年11月20日9时30分, 2026年11月20日 9点30分15秒:
# after 日 the time may follow directly; seconds follow a colon or 分.
_DATE_TEXT = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?:\s*日)?"
    r"(?:(?:\s*T\s*|\s+|(?<=日))(?P<H>\d{1,2})\s*[:：时点]\s*(?P<M>\d{1,2})(?:\s*分)?"
    r"(?:(?:\s*[:：]|(?<=分))\s*(?P<S>\d{1,2})(?:\.\d+)?(?:\s*秒)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?\s*$"
)
_DAY_MONTH_TEXT = re.compile(r"^\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{2,4}\b")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_RELATED_SPLIT = re.compile(r"[\s,;，；、/]+")
# The first filled cell of a totals line under the cases (normalized as headers are).
TOTALS_WORDS = frozenset(
    {"total", "totals", "grand total", "subtotal", "合计", "总计", "小计", "合計", "總計", "小計"}
)
_STARTS_WITH_DIGIT = re.compile(r"\s*\d")


@dataclass
class CaseFrame:
    """The Cases tab, typed: one DataFrame row per data row of the sheet."""

    cases: pd.DataFrame
    problems: list[Problem]
    tab: str
    header_row: int  # 1-based sheet row of the header
    columns: dict[str, int]  # canonical field → 0-based sheet column
    ignored_headers: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def problems_by_row(self) -> dict[int, list[Problem]]:
        by_row: dict[int, list[Problem]] = {}
        for p in self.problems:
            if p.row is not None:
                by_row.setdefault(p.row, []).append(p)
        return by_row


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def sheet_ref(tab: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", tab):
        return tab
    return "'" + tab.replace("'", "''") + "'"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f'"{text}"'


class _Builder:
    """Collects problems while the columns are parsed."""

    def __init__(self, grid: Grid, schema: Schema, rules: Rules, as_of: pd.Timestamp) -> None:
        self.grid = grid
        self.schema = schema
        self.rules = rules
        self.as_of = as_of
        self.problems: list[Problem] = []
        self._blank: dict[str, pd.Series] = {}  # column → cells empty in the sheet
        self.ref = sheet_ref(grid.title)

    def cell(self, column: str, row: int) -> str:
        return f"{self.ref}!{column_letter(self.columns[column])}{row}"

    def add(
        self, severity: str, code: str, column: str | None, row: int | None, message: str
    ) -> None:
        cell = self.cell(column, row) if column and row else (self.ref if row is None else "")
        if column and row is None:
            cell = f"{self.ref}!{column_letter(self.columns[column])}{self.header_row}"
        self.problems.append(Problem(severity, code, cell, message, row, column))  # type: ignore[arg-type]

    # -- header ---------------------------------------------------------------------------

    def find_header(self) -> None:
        rows = self.grid.rows
        lookup = self.schema.header_lookup
        numbers = self.grid.row_numbers
        for r, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            sheet_row = numbers[r] if numbers is not None else r + 1
            if sheet_row > HEADER_SCAN_ROWS:
                break
            known = [c for c in row if c is not None and normalize_label(c) in lookup]
            if len(known) >= MIN_KNOWN_HEADERS:
                self.header_index, self.header_row = r, sheet_row
                self._map_columns(row)
                return
        if not any(any(c not in (None, "") for c in row) for row in rows):
            raise CaseloopError(
                f'The tab "{self.grid.title}" is empty; add a header row '
                f"({', '.join(self.schema.required)}) and one row per case."
            )
        raise CaseloopError(
            f'No header row found in the first {HEADER_SCAN_ROWS} rows of the tab "{self.grid.title}": '
            f"a header row needs at least {MIN_KNOWN_HEADERS} known column names such as "
            f"{', '.join(self.schema.required[:4])}."
        )

    def _map_columns(self, header: list[Any]) -> None:
        self.columns: dict[str, int] = {}
        self.ignored: list[str] = []
        lookup = self.schema.header_lookup
        for c, value in enumerate(header):
            if value is None or str(value).strip() == "":
                continue
            name = lookup.get(normalize_label(value))
            if name is None:
                self.ignored.append(str(value))
                continue
            if name in self.columns:
                first = f"{self.ref}!{column_letter(self.columns[name])}{self.header_row}"
                second = f"{self.ref}!{column_letter(c)}{self.header_row}"
                raise CaseloopError(
                    f'{first} and {second} are both the column "{name}"; '
                    "rename or delete one of them so caseloop knows which to read."
                )
            self.columns[name] = c
        missing = [n for n in self.schema.required if n not in self.columns]
        if missing:
            hints = []
            for name in missing:
                close = difflib.get_close_matches(name, self.ignored, n=1, cutoff=0.6)
                if close:
                    hints.append(f'"{close[0]}" looks like "{name}"')
            hint = f" ({'; '.join(hints)})" if hints else ""
            raise CaseloopError(
                f'The tab "{self.grid.title}" has no column {", ".join(missing)} '
                f"in its header row {self.header_row}{hint}; add or rename the column."
            )

    # -- values -----------------------------------------------------------------------------

    def build(self) -> CaseFrame:
        self.find_header()
        width = max(self.columns.values()) + 1
        table = _as_table(self.grid.rows[self.header_index + 1 :], width)
        if self.grid.row_numbers is not None:
            numbers = np.asarray(self.grid.row_numbers[self.header_index + 1 :], dtype=np.int64)
        else:
            numbers = np.arange(self.header_row + 1, self.header_row + 1 + len(table))
        # A row with nothing in any known column is not a case (blank rows, notes below).
        known = table[:, list(self.columns.values())]
        filled = ~((known == None) | (known == ""))  # noqa: E711 (elementwise on objects)
        count = filled.sum(axis=1)
        keep = count > 0
        # Rows with only a few filled cells may hold nothing but spaces: look at those alone.
        for i in np.flatnonzero(keep & (count <= 3)):
            keep[i] = any(
                not (isinstance(v, str) and not v.strip())
                for v in known[i]
                if v is not None and v != ""
            )
        keep &= ~self._not_cases(table, numbers, keep)
        kept_at = np.flatnonzero(keep)
        sheet_rows = numbers[kept_at]
        kept = table[kept_at]
        raw = {name: pd.Series(kept[:, c], dtype=object) for name, c in self.columns.items()}
        self.rows = pd.Series(sheet_rows, dtype=np.int64)
        unsaved = self._unsaved_formulas(sheet_rows)
        frame = pd.DataFrame({"_row": self.rows})
        for f in self.schema.fields:
            if f.name not in raw:
                frame[f.name] = (
                    pd.Series([pd.NaT] * len(frame), dtype="datetime64[ns]")
                    if f.type == "datetime"
                    else None
                )
                continue
            series = raw[f.name]
            if f.type == "datetime":
                frame[f.name] = self.parse_datetime(f.name, series)
            elif f.type == "integer":
                frame[f.name] = self.parse_integer(f.name, series, f.minimum)
            elif f.name == "Case ID":
                frame[f.name] = self.parse_case_id(series)
            elif f.name in self.rules.vocab:
                frame[f.name] = self.parse_enum(f.name, series)
            else:
                frame[f.name] = self.parse_text(f.name, series)
            if f.name in unsaved:
                mask = unsaved[f.name]
                self._blank[f.name] &= ~mask
                # An empty required cell cannot be judged either way; elsewhere the row is
                # judged on what can be read, with the cell named.
                self._bad(
                    f.name,
                    mask,
                    series,
                    "formula-no-result",
                    "{column} is a formula with no saved result; open and save the workbook in Excel.",
                    severity="error" if f.required else "warning",
                )
            if f.required:
                self.require(f.name, frame[f.name], series)
            if f.pattern is not None:
                self.check_pattern(f.name, frame[f.name], f.pattern)
        frame["related_ids"] = self.parse_related(frame)
        self.check_rows(frame)
        self.report_far_cells()
        bad_rows = {p.row for p in self.problems if p.severity == "error" and p.row is not None}
        frame["_invalid"] = frame["_row"].isin(bad_rows)
        order = {"error": 0, "warning": 1}
        self.problems.sort(
            key=lambda p: (order[p.severity], p.row or 0, self.columns.get(p.column or "", -1))
        )
        return CaseFrame(
            frame, self.problems, self.grid.title, self.header_row, self.columns, self.ignored
        )

    def _not_cases(self, table: np.ndarray, numbers: np.ndarray, filled: np.ndarray) -> np.ndarray:
        """Rows under the header that are not cases: Excel Table totals rows, the header
        repeated (>= 3 header names), and totals lines ("Total", "合计" first, no Case ID)."""
        skip = np.isin(numbers, list(self.grid.skip_rows)) if self.grid.skip_rows else None
        if skip is None:
            skip = np.zeros(len(table), dtype=bool)
        # Cases have a date or a number in Opened At (or date text, which starts with a digit):
        # only the other rows are looked at cell by cell.
        opened = pd.Series(table[:, self.columns["Opened At"]], dtype=object)
        kinds = opened.map(type)
        is_str = kinds.eq(str)
        dated = kinds.isin([dt.datetime, dt.date, pd.Timestamp, int, float])
        text_dates = opened[is_str].str.match(_STARTS_WITH_DIGIT.pattern).astype(bool)
        dated[text_dates.index[text_dates]] = True
        lookup = self.schema.header_lookup
        known = list(self.columns.values())
        case_id = self.columns["Case ID"]
        for i in np.flatnonzero(filled & ~dated.to_numpy() & ~skip):
            row = table[i]
            labels = [normalize_label(row[c]) if isinstance(row[c], str) else None for c in known]
            if sum(label in lookup for label in labels if label) >= MIN_KNOWN_HEADERS:
                skip[i] = True
                continue
            first = next((v for v in row if _text_of(v) is not None), None)
            if isinstance(first, str) and normalize_label(first) in TOTALS_WORDS:
                identifier = _text_of(row[case_id])
                skip[i] = identifier is None or normalize_label(identifier) in TOTALS_WORDS
        return skip

    def _unsaved_formulas(self, sheet_rows: np.ndarray) -> dict[str, pd.Series]:
        """Per column, the case rows whose cell is a formula the file holds no result for."""
        if not self.grid.unsaved_formulas:
            return {}
        index_of = {int(row): i for i, row in enumerate(sheet_rows)}
        name_of = {c: name for name, c in self.columns.items()}
        masks: dict[str, pd.Series] = {}
        for r, c in self.grid.unsaved_formulas:
            i = index_of.get(r + 1)
            if i is None or c not in name_of:
                continue
            mask = masks.setdefault(name_of[c], pd.Series(False, index=range(len(sheet_rows))))
            mask.iat[i] = True
        return masks

    def report_far_cells(self) -> None:
        for r, c, value in self.grid.far_cells:
            self.problems.append(
                Problem(
                    "warning",
                    "far-cell",
                    f"{self.ref}!{column_letter(c)}{r + 1}",
                    f"This cell holds {_show(value)} far from the case log; clear it "
                    "(it makes the tab huge to read).",
                )
            )

    def _bad(
        self,
        column: str,
        mask: pd.Series,
        raw: pd.Series,
        code: str,
        template: str,
        severity: str = "error",
    ) -> None:
        for i in np.flatnonzero(mask.to_numpy()):
            self.add(
                severity,
                code,
                column,
                int(self.rows.iat[i]),
                template.format(value=_show(raw.iat[i]), column=column),
            )

    def _errors_mask(self, series: pd.Series) -> pd.Series:
        if not self.grid.has_error_cells:
            return pd.Series(False, index=series.index)
        return series.map(type).eq(CellError)

    def _report_cell_errors(self, column: str, series: pd.Series) -> pd.Series:
        mask = self._errors_mask(series)
        if mask.any():
            self._bad(
                column,
                mask,
                series,
                "cell-error",
                "{column} holds the spreadsheet error {value}; fix the formula or type the value.",
            )
        return mask

    def to_text(self, series: pd.Series) -> pd.Series:
        """Any cell as trimmed text; None for empty. Whole floats lose their ".0".

        Each distinct value is converted once: a log repeats its owners, stores and labels.
        """
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        # Code -1 (None or NaN in the sheet) picks the trailing None.
        texts = np.array([_text_of(u) for u in uniques] + [None], dtype=object)
        return pd.Series(texts[codes], index=series.index, dtype=object)

    def parse_text(self, column: str, series: pd.Series) -> pd.Series:
        errors = self._report_cell_errors(column, series)
        text = self.to_text(series)
        self._blank[column] = text.isna() & ~errors
        return text

    def parse_case_id(self, series: pd.Series) -> pd.Series:
        column = "Case ID"
        errors = self._report_cell_errors(column, series)
        text = self.to_text(series)
        self._blank[column] = text.isna() & ~errors
        has_text = text.notna()
        # Full-width digits and stray spaces from pasting: fold them away.
        plain = (
            has_text & text.str.isascii().eq(True) & ~text.str.contains(" ", regex=False).eq(True)
        )
        text = text.str.upper()
        odd_form = has_text & ~plain
        if odd_form.any():
            text[odd_form] = text[odd_form].map(
                lambda v: normalize_label(v).replace(" ", "").upper()
            )
        sci = has_text & text.str.match(_SCIENTIFIC.pattern).fillna(False).astype(bool)
        if sci.any():
            self._bad(
                column,
                sci,
                series,
                "case-id-shortened",
                "Case ID {value} is a number Excel shortened to scientific notation; retype the full ID as text.",
            )
        digits = text.str.fullmatch(r"\d{8,12}").fillna(False).astype(bool)
        odd = has_text & ~digits & ~sci
        if odd.any():
            self._bad(
                column,
                odd,
                series,
                "case-id-format",
                "Case ID {value} is not an Amazon case ID (8 to 12 digits); fine for a phone or chat contact logged under the team's own ID.",
                severity="warning",
            )
        text = text.where(~sci, None)
        repeated = text.duplicated(keep="first")
        dup = text.notna() & repeated
        if dup.any():
            first_seen = text.notna() & ~repeated
            first_row = dict(zip(text[first_seen], self.rows[first_seen], strict=True))
            for i in np.flatnonzero(dup.to_numpy()):
                case_id = text.iat[i]
                row = int(self.rows.iat[i])
                first = int(first_row[case_id])
                self.add(
                    "error",
                    "duplicate-case-id",
                    column,
                    row,
                    f"Case ID {case_id} is also in row {first} ({self.cell(column, first)}); keep one row per case and log follow-ups in that row.",
                )
        return text

    def parse_enum(self, column: str, series: pd.Series) -> pd.Series:
        errors = self._report_cell_errors(column, series)
        text = self.to_text(series)
        self._blank[column] = text.isna() & ~errors
        vocab = self.rules.vocab[column]
        uniques = text.dropna().unique()
        mapping = {u: vocab.get(normalize_label(u)) for u in uniques}
        canonical = text.map(mapping)
        unknown = text.notna() & canonical.isna() & ~errors
        if unknown.any():
            allowed = self.rules.allowed(column)
            listed = ", ".join(
                f"{v} ({self.rules.zh_labels[column][v]})" if column != "Marketplace" else v
                for v in allowed
            )
            self._bad(
                column,
                unknown,
                series,
                "unknown-value",
                f"{{column}} {{value}} is not one of: {listed}.",
            )
        return canonical.where(canonical.notna(), None)

    def parse_integer(self, column: str, series: pd.Series, minimum: int | None) -> pd.Series:
        errors = self._report_cell_errors(column, series)
        kinds = series.map(type)
        numbers = pd.Series(np.nan, index=series.index, dtype=float)
        is_num = kinds.isin([int, float])
        numbers[is_num] = series[is_num].astype(float)
        is_str = kinds.eq(str)
        folded = _fold(series[is_str])
        typed = folded[folded != ""]
        numbers[typed.index] = pd.to_numeric(typed, errors="coerce")
        blank = series.isna() | ~errors & is_str & ~series.index.isin(typed.index)
        self._blank[column] = blank
        text = series.where(~blank & ~errors, None)
        bad = text.notna() & (numbers.isna() | (numbers % 1 != 0)) & ~errors
        if bad.any():
            self._bad(
                column,
                bad,
                series,
                "not-a-number",
                "{column} {value} is not a whole number; type a count such as 0, 1 or 2.",
            )
        below = numbers.notna() & (numbers < (minimum if minimum is not None else -np.inf))
        if below.any():
            self._bad(
                column,
                below,
                series,
                "below-minimum",
                f"{{column}} {{value}} cannot be below {minimum}.",
            )
        return numbers.where(~bad & ~below).astype("Float64").round().astype("Int64")

    def parse_datetime(self, column: str, series: pd.Series) -> pd.Series:
        """Date cells, serial numbers and the accepted text forms, as naive team-local times."""
        errors = self._report_cell_errors(column, series)
        self._blank[column] = series.isna()
        result = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
        kinds = series.map(type)
        is_dt = kinds.isin([dt.datetime, pd.Timestamp])
        is_date = kinds == dt.date
        is_num = kinds.isin([int, float])
        is_str = kinds.eq(str)
        tz = self.rules.timezone
        far = pd.Series(False, index=series.index)
        unreadable = pd.Series(False, index=series.index)
        cells = is_dt | is_date
        if cells.any():
            values = pd.to_datetime(series[cells], errors="coerce")
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert(tz).dt.tz_localize(None)
            in_range = values.dt.year.between(YEAR_MIN, YEAR_MAX)
            far[values.index[values.notna() & ~in_range]] = True
            unreadable[values.index[values.isna()]] = True
            result[values.index[in_range]] = values[in_range].astype("datetime64[ns]")
        bad_serial = pd.Series(False, index=series.index)
        if is_num.any():
            nums = series[is_num].astype(float)
            if self.grid.date1904:
                nums = nums + DAYS_1900_TO_1904  # now days since 1899-12-30 like the rest
            plausible = nums.between(SERIAL_MIN, SERIAL_MAX)
            stamps = EXCEL_EPOCH + pd.to_timedelta((nums[plausible] * 86400).round(), unit="s")
            if self.grid.dates_as_serials and self.grid.timezone and self.grid.timezone != tz.key:
                # Google serials are wall-clock times in the spreadsheet's own time zone.
                stamps = (
                    stamps.dt.tz_localize(
                        self.grid.timezone,
                        # The hour that happens twice when clocks go back: take the later one.
                        ambiguous=np.zeros(len(stamps), dtype=bool),
                        nonexistent="shift_forward",
                    )
                    .dt.tz_convert(tz)
                    .dt.tz_localize(None)
                )
            result[stamps.index] = stamps.astype("datetime64[ns]")
            bad_serial[nums.index[~plausible]] = True
        bad_text = pd.Series(False, index=series.index)
        day_month = pd.Series(False, index=series.index)
        if is_str.any():
            text = _fold(series[is_str]).str.upper()
            self._blank[column] = series.isna() | series.index.isin(text.index[text == ""])
            text = text[text != ""]
            parts = text.str.extract(_DATE_TEXT)
            matched = parts["y"].notna()
            nums = (
                parts[["y", "m", "d", "H", "M", "S"]].astype(float).fillna({"H": 0, "M": 0, "S": 0})
            )
            stamps = pd.to_datetime(
                {
                    "year": nums["y"],
                    "month": nums["m"],
                    "day": nums["d"],
                    "hour": nums["H"],
                    "minute": nums["M"],
                    "second": nums["S"],
                },
                errors="coerce",
            )
            valid_clock = (nums["H"] < 24) & (nums["M"] < 60) & (nums["S"] < 60)
            far_text = matched & ~nums["y"].between(YEAR_MIN, YEAR_MAX)
            far[text.index[far_text]] = True
            stamps = stamps.where(valid_clock & ~far_text)
            offsets = parts["tz"].dropna()
            if len(offsets):
                minutes = offsets.map(_offset_minutes)
                real = minutes.abs() <= MAX_OFFSET_MINUTES
                stamps[offsets.index[~real]] = pd.NaT
                offsets, minutes = offsets[real], minutes[real]
                utc = stamps[offsets.index] - pd.to_timedelta(minutes, unit="m")
                stamps[offsets.index] = (
                    utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
                )
            good = matched & stamps.notna()
            result[stamps.index[good]] = stamps[good].astype("datetime64[ns]")
            bad_text[text.index[~good & ~far_text]] = True
            day_month[text.index[~matched & text.str.match(_DAY_MONTH_TEXT.pattern)]] = True
        other = series.notna() & ~(is_dt | is_date | is_num | is_str | errors | far)
        other |= unreadable
        if far.any():
            self._bad(
                column,
                far,
                series,
                "date-out-of-range",
                "{column} {value} is too far in the past or future to be a case date; check the year.",
            )
        if day_month.any():
            self._bad(
                column,
                day_month,
                series,
                "ambiguous-date",
                "{column} {value} could be day/month or month/day; write it as YYYY-MM-DD HH:MM so nobody has to guess.",
            )
        plain_bad = (bad_text & ~day_month) | bad_serial | other
        if plain_bad.any():
            self._bad(
                column,
                plain_bad,
                series,
                "not-a-date",
                "{column} {value} is not a date; use a date cell or text like 2026-11-20 09:30.",
            )
        return result

    def require(self, column: str, parsed: pd.Series, raw: pd.Series) -> None:
        # Only cells that are empty in the sheet: unreadable ones already have their problem.
        empty = self._blank[column]
        if empty.any():
            self._bad(column, empty, raw, "required", f"{column} is empty; every case needs it.")

    def check_pattern(self, column: str, parsed: pd.Series, pattern: re.Pattern[str]) -> None:
        values = parsed.dropna()
        if values.empty:
            return
        ok = values.str.fullmatch(pattern.pattern).fillna(False).astype(bool)
        bad = pd.Series(False, index=parsed.index)
        bad[values.index[~ok]] = True
        if bad.any():
            examples = {
                "Order ID": "123-1234567-1234567",
                "ASIN": "B0ABCD1234",
                "Shipment ID": "FBA15ABCD123",
            }
            hint = f" (like {examples[column]})" if column in examples else ""
            self._bad(
                column,
                bad,
                parsed,
                "pattern",
                f"{{column}} {{value}} does not look like an Amazon {column}{hint}; check it.",
                severity="warning",
            )

    def parse_related(self, frame: pd.DataFrame) -> pd.Series:
        text = frame["Related Cases"]
        ids = text.map(
            lambda v: (
                tuple(t for t in _RELATED_SPLIT.split(normalize_label(v).upper()) if t) if v else ()
            )
        )
        known = set(frame["Case ID"].dropna())
        unknown_mask = ids.map(lambda t: any(i not in known for i in t)).astype(bool)
        for i in np.flatnonzero(unknown_mask.to_numpy()):
            missing = [x for x in ids.iat[i] if x not in known]
            self.add(
                "warning",
                "unknown-related",
                "Related Cases",
                int(self.rows.iat[i]),
                f"Related Cases names {', '.join(missing)}, which is not a Case ID in this log.",
            )
        return ids

    def check_rows(self, frame: pd.DataFrame) -> None:
        opened = frame["Opened At"]
        closed = frame["Status"].isin(["Resolved", "Closed"])
        # A Resolved At that is there but unreadable already has its own problem.
        raw_resolved_empty = (
            closed & frame["Resolved At"].isna() & ~self._has_problem(frame, "Resolved At")
        )
        has_column = "Resolved At" in self.columns
        for i in np.flatnonzero(raw_resolved_empty.to_numpy()):
            status = frame["Status"].iat[i]
            # Without the column there is no cell to name: the Status cell stands in.
            self.add(
                "error",
                "resolved-at-missing",
                "Resolved At" if has_column else "Status",
                int(self.rows.iat[i]),
                f"Resolved At is empty but Status is {status}; add when it was {status.lower()}."
                if has_column
                else f"Status is {status} but the tab has no Resolved At column; add one with "
                f"when it was {status.lower()}.",
            )
        for column, code in (
            ("Last Sent At", "before-opened"),
            ("First Reply At", "before-opened"),
            ("Last Reply At", "before-opened"),
            ("Resolved At", "before-opened"),
        ):
            before = frame[column].notna() & opened.notna() & (frame[column] < opened)
            for i in np.flatnonzero(before.to_numpy()):
                self.add(
                    "error",
                    code,
                    column,
                    int(self.rows.iat[i]),
                    f"{column} {_show(frame[column].iat[i].to_pydatetime())} is before Opened At {_show(opened.iat[i].to_pydatetime())}; check both dates.",
                )
        future_limit = self.as_of
        for column in (
            "Opened At",
            "Last Sent At",
            "First Reply At",
            "Last Reply At",
            "Resolved At",
        ):
            future = frame[column].notna() & (frame[column] > future_limit)
            for i in np.flatnonzero(future.to_numpy()):
                self.add(
                    "error",
                    "in-future",
                    column,
                    int(self.rows.iat[i]),
                    f"{column} {_show(frame[column].iat[i].to_pydatetime())} is in the future (after {self.as_of:%Y-%m-%d %H:%M}); check the date.",
                )
        replies_crossed = frame["Last Reply At"] < frame["First Reply At"]
        for i in np.flatnonzero(replies_crossed.fillna(False).to_numpy(dtype=bool)):
            self.add(
                "warning",
                "last-before-first-reply",
                "Last Reply At",
                int(self.rows.iat[i]),
                "Last Reply At is before First Reply At; check which answer came last.",
            )
        reopened = frame["Status"].eq("Open") & frame["Resolved At"].notna()
        for i in np.flatnonzero(reopened.to_numpy(dtype=bool)):
            self.add(
                "warning",
                "open-with-resolved-at",
                "Resolved At",
                int(self.rows.iat[i]),
                "Resolved At is filled but the case is open; if it was reopened, clear Resolved At.",
            )
        resolution_missing = frame["Status"].eq("Resolved") & frame["Resolution"].isna()
        if "Resolution" in self.columns:
            for i in np.flatnonzero(resolution_missing.to_numpy()):
                self.add(
                    "warning",
                    "no-resolution",
                    "Resolution",
                    int(self.rows.iat[i]),
                    "Resolution is empty for a resolved case; note how it ended so the team can reuse the answer.",
                )

    def _has_problem(self, frame: pd.DataFrame, column: str) -> pd.Series:
        rows = {p.row for p in self.problems if p.column == column}
        return frame["_row"].isin(rows)


def _text_of(value: Any) -> str | None:
    """One cell as trimmed text, or None when it holds nothing readable as text."""
    if value is None or isinstance(value, CellError):
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value).strip() or None


def _fold(text: pd.Series) -> pd.Series:
    """``normalize_label`` over a Series of strings, cheap for the plain ASCII ones."""
    if text.empty:
        return text
    folded = text.str.strip().str.casefold()
    special = ~text.str.isascii().astype(bool)
    if special.any():
        folded[special] = text[special].map(normalize_label)
    return folded


def _as_table(rows: list[list[Any]], width: int) -> np.ndarray:
    """The rows as a 2-D object array of ``width`` columns, short rows padded with None."""
    if not rows:
        return np.empty((0, width), dtype=object)
    if all(len(r) >= width for r in rows):
        # Backends hand over rectangular rows: numpy copies them in one call.
        try:
            table = np.array(rows, dtype=object)
        except ValueError:
            table = None
        if table is not None and table.ndim == 2:
            return table[:, :width]
        table = np.empty((len(rows), width), dtype=object)
        for c in range(width):
            table[:, c] = [r[c] for r in rows]
        return table
    return _as_table([list(r[:width]) + [None] * (width - len(r)) for r in rows], width)


def _offset_minutes(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4]))


def build_frame(grid: Grid, schema: Schema, rules: Rules, as_of: pd.Timestamp) -> CaseFrame:
    """Find the header, type every cell, and list every problem with its cell address."""
    return _Builder(grid, schema, rules, as_of).build()
