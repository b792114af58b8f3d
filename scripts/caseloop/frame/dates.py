"""Date cells, serial numbers and date text, as naive team-local times."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .column import Column, Parsed
from .text import fold

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
_NS = "datetime64[ns]"


@dataclass
class DateCells:
    """A column read as dates: the times, and which cells are empty or wrong in which way."""

    values: pd.Series  # datetime64[ns], team-local; NaT where empty or unreadable
    blank: pd.Series  # empty in the sheet (nothing, or only spaces)
    far: pd.Series  # a date, but not within YEAR_MIN..YEAR_MAX
    day_month: pd.Series  # text like 03/04/2026: day and month cannot be told apart
    not_a_date: pd.Series  # anything else that is not a date


def parse_datetime(
    series: pd.Series,
    tz: ZoneInfo,
    *,
    errors: pd.Series | None = None,
    date1904: bool = False,
    serial_zone: str | None = None,
) -> DateCells:
    """Date cells, serial numbers and the accepted text forms, as naive times in ``tz``.

    ``errors`` marks spreadsheet error cells (reported elsewhere, not again here); ``date1904``
    counts serials from 1904; ``serial_zone`` is the zone serials are wall-clock times in when it
    is not ``tz`` (Google Sheets).
    """
    none = pd.Series(False, index=series.index)
    errors = none if errors is None else errors
    cells = DateCells(
        pd.Series(pd.NaT, index=series.index, dtype=_NS),
        series.isna(),
        none.copy(),
        none.copy(),
        none.copy(),
    )
    kinds = series.map(type)
    is_stamp = kinds.isin([dt.datetime, pd.Timestamp]) | (kinds == dt.date)
    is_num = kinds.isin([int, float])
    is_str = kinds.eq(str)
    unreadable = none.copy()
    if is_stamp.any():
        unreadable = _from_date_cells(series[is_stamp], tz, cells)
    if is_num.any():
        _from_serials(series[is_num].astype(float), tz, date1904, serial_zone, cells)
    if is_str.any():
        _from_text(series[is_str], tz, cells)
    other = series.notna() & ~(is_stamp | is_num | is_str | errors | cells.far)
    cells.not_a_date |= other | unreadable
    return cells


def _from_date_cells(stamps: pd.Series, tz: ZoneInfo, cells: DateCells) -> pd.Series:
    """Date and datetime cells; returns those pandas cannot read."""
    values = pd.to_datetime(stamps, errors="coerce")
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert(tz).dt.tz_localize(None)
    in_range = values.dt.year.between(YEAR_MIN, YEAR_MAX)
    cells.far[values.index[values.notna() & ~in_range]] = True
    cells.values[values.index[in_range]] = values[in_range].astype(_NS)
    unreadable = pd.Series(False, index=cells.values.index)
    unreadable[values.index[values.isna()]] = True
    return unreadable


def _from_serials(
    nums: pd.Series, tz: ZoneInfo, date1904: bool, serial_zone: str | None, cells: DateCells
) -> None:
    """Serial numbers (days since 1899-12-30); implausible ones are not dates."""
    if date1904:
        nums = nums + DAYS_1900_TO_1904  # now days since 1899-12-30 like the rest
    plausible = nums.between(SERIAL_MIN, SERIAL_MAX)
    stamps = EXCEL_EPOCH + pd.to_timedelta((nums[plausible] * 86400).round(), unit="s")
    if serial_zone is not None:
        # Google serials are wall-clock times in the spreadsheet's own time zone.
        stamps = (
            stamps.dt.tz_localize(
                serial_zone,
                # The hour that happens twice when clocks go back: take the later one.
                ambiguous=np.zeros(len(stamps), dtype=bool),
                nonexistent="shift_forward",
            )
            .dt.tz_convert(tz)
            .dt.tz_localize(None)
        )
    cells.values[stamps.index] = stamps.astype(_NS)
    cells.not_a_date[nums.index[~plausible]] = True


def _from_text(raw: pd.Series, tz: ZoneInfo, cells: DateCells) -> None:
    """Date text in the accepted forms; text of spaces only is empty."""
    text = fold(raw).str.upper()
    cells.blank |= cells.blank.index.isin(text.index[text == ""])
    text = text[text != ""]
    parts = text.str.extract(_DATE_TEXT)
    matched = parts["y"].notna()
    nums = parts[["y", "m", "d", "H", "M", "S"]].astype(float).fillna({"H": 0, "M": 0, "S": 0})
    far = matched & ~nums["y"].between(YEAR_MIN, YEAR_MAX)
    cells.far[text.index[far]] = True
    stamps = _clock_times(nums).where(~far)
    stamps = _apply_offsets(stamps, parts["tz"].dropna(), tz)
    good = matched & stamps.notna()
    cells.values[stamps.index[good]] = stamps[good].astype(_NS)
    day_month = ~matched & text.str.match(_DAY_MONTH_TEXT.pattern)
    cells.day_month[text.index[day_month]] = True
    # Day/month text has its own problem; anything else unreadable is not a date.
    cells.not_a_date[text.index[~good & ~far & ~day_month]] = True


def _clock_times(nums: pd.DataFrame) -> pd.Series:
    """Year..second columns as timestamps; NaT for impossible dates and clock times."""
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
    return stamps.where(valid_clock)


def _apply_offsets(stamps: pd.Series, offsets: pd.Series, tz: ZoneInfo) -> pd.Series:
    """Times written with a UTC offset, moved to ``tz``; an impossible offset is not a date."""
    if not len(offsets):
        return stamps
    minutes = offsets.map(_offset_minutes)
    real = minutes.abs() <= MAX_OFFSET_MINUTES
    stamps[offsets.index[~real]] = pd.NaT
    offsets, minutes = offsets[real], minutes[real]
    utc = stamps[offsets.index] - pd.to_timedelta(minutes, unit="m")
    stamps[offsets.index] = utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    return stamps


def _offset_minutes(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4]))


def parse_dates(
    column: Column, tz: ZoneInfo, *, date1904: bool = False, serial_zone: str | None = None
) -> Parsed:
    """A datetime column with a problem for every cell that is not a usable case date."""
    errors = column.error_cells()
    problems = column.cell_error_problems(errors)
    cells = parse_datetime(
        column.raw, tz, errors=errors, date1904=date1904, serial_zone=serial_zone
    )
    if cells.far.any():
        problems += column.problems("date-out-of-range", cells.far)
    if cells.day_month.any():
        problems += column.problems("ambiguous-date", cells.day_month)
    if cells.not_a_date.any():
        problems += column.problems("not-a-date", cells.not_a_date)
    return Parsed(cells.values, cells.blank, problems)
