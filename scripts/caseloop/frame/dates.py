"""Date cells, serial numbers and date text, as naive team-local times."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
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

# Words for the part of the day typed before (or, AM/PM, after) a clock time, and what each typed
# hour becomes on the 24-hour clock; an hour a word does not list is no time (上午13点).
_MORNING = {h: h for h in range(12)}
_AFTERNOON = {12: 12, **{h: h + 12 for h in range(1, 12)}, **{h: h for h in range(13, 24)}}
_EVENING = {**{h: h + 12 for h in range(5, 12)}, **{h: h for h in range(17, 24)}}
DAY_PARTS: dict[str, dict[int, int]] = {
    "上午": _MORNING,
    "早上": _MORNING,
    "早晨": _MORNING,
    "凌晨": {12: 0, **{h: h for h in range(7)}},
    "中午": {11: 11, 12: 12, 1: 13, 2: 14, 13: 13, 14: 14},
    "下午": _AFTERNOON,
    "傍晚": _EVENING,
    "晚上": _EVENING,
    "夜里": _EVENING,
    "AM": {12: 0, **{h: h for h in range(12)}},
    "PM": _AFTERNOON,
}
# The time-zone names sellers meet on marketplace pages and in Amazon's e-mails, as minutes from
# UTC. Fixed offsets: "PST" is UTC-8 whatever the season. CST is not here on purpose: China,
# the US Central zone and Cuba all use it.
ZONES: dict[str, int] = {
    "UTC": 0,
    "GMT": 0,
    "BST": 60,
    "CET": 60,
    "CEST": 120,
    "EST": -300,
    "EDT": -240,
    "PST": -480,
    "PDT": -420,
    "JST": 540,
    "AEST": 600,
    "AEDT": 660,
    "北京时间": 480,
}


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_PARTS = _alternatives(DAY_PARTS)
# The text is folded (NFKC: full-width to ASCII, upper case) before it is matched.
# Dates: 2026-11-20, 2026/11/20, 2026年11月20日; 20/11/2026 or 11/20/2026 when one of the two
# numbers cannot be a month; 11月20日 or 11/20 without a year. Times: 09:30, 9:30:15, 9时30分,
# 9点, 3点半, after 上午/下午/... or before AM/PM. Then an offset (+08:00, Z) or a zone (PST).
_DATE_TEXT = re.compile(
    r"^(?:(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})"
    r"|(?P<p>\d{1,2})\s*(?P<sep>[-/.])\s*(?P<q>\d{1,2})\s*(?P=sep)\s*(?P<y2>\d{4})"
    r"|(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})"
    r"|(?P<p2>\d{1,2})\s*/\s*(?P<q2>\d{1,2}))(?:\s*[日号])?"
    rf"(?:(?:\s*T\s*|\s+|(?<=[日号])|(?=(?:{_PARTS})))(?P<part>{_PARTS})?\s*"
    r"(?P<H>\d{1,2})\s*(?:[:：]\s*(?P<M>\d{1,2})|[时点]\s*(?:(?P<M2>\d{1,2})|(?P<half>半))?)"
    r"(?:\s*分)?(?:(?:\s*[:：]|(?<=分))\s*(?P<S>\d{1,2})(?:\.\d+)?(?:\s*秒)?)?"
    rf"(?:\s*(?P<part2>AM|PM))?)?"
    rf"\s*(?:(?P<tz>Z|[+-]\d{{2}}:?\d{{2}})|\(?(?P<zone>{_alternatives(ZONES)})\)?)?\s*$"
)
_DAY_MONTH_TEXT = re.compile(r"^\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{2,4}\b")
# A date without a year is the most recent such date up to this long after --now (an event),
# or the nearest one (a deadline, which lies ahead as often as not).
NO_YEAR_SLACK = pd.Timedelta(days=1)
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
    as_of: pd.Timestamp | None = None,
    ahead: bool = False,
) -> DateCells:
    """Date cells, serial numbers and the accepted text forms, as naive times in ``tz``.

    ``errors`` marks spreadsheet error cells (reported elsewhere, not again here); ``date1904``
    counts serials from 1904; ``serial_zone`` is the zone serials are wall-clock times in when it
    is not ``tz`` (Google Sheets). A date typed without a year takes its year from ``as_of``
    (without it, it is not a date): the most recent such date up to a day after ``as_of``, or
    with ``ahead`` (deadlines, promises) the nearest one.
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
        _from_text(series[is_str], tz, cells, as_of, ahead)
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


def _from_text(
    raw: pd.Series, tz: ZoneInfo, cells: DateCells, as_of: pd.Timestamp | None, ahead: bool
) -> None:
    """Date text in the accepted forms; text of spaces only is empty."""
    text = fold(raw).str.upper()
    cells.blank |= cells.blank.index.isin(text.index[text == ""])
    text = text[text != ""]
    parts = text.str.extract(_DATE_TEXT)
    matched = parts[["d", "y2", "d2", "q2"]].notna().any(axis=1)
    num = parts[["y", "m", "d", "p", "q", "y2", "m2", "d2", "p2", "q2", "H", "M", "M2", "S"]]
    num = num.astype(float)
    # Day and month in either order: one above 12 tells which is which; both alike, no matter.
    first = num["p"].fillna(num["p2"])
    second = num["q"].fillna(num["q2"])
    day_first = (first > 12) & (second <= 12)
    unsure = (first <= 12) & (second <= 12) & (first != second)
    month = num["m"].fillna(num["m2"]).fillna(second.where(day_first, first))
    day = num["d"].fillna(num["d2"]).fillna(first.where(day_first, second))
    year = num["y"].fillna(num["y2"])
    minute = num["M"].fillna(num["M2"]).fillna(parts["half"].notna() * 30.0)
    hour = _24_hour(num["H"], parts["part"].fillna(parts["part2"]))
    nums = pd.DataFrame(
        {"y": year, "m": month, "d": day, "H": hour, "M": minute, "S": num["S"]}
    ).fillna({"M": 0, "S": 0})
    # A typed hour its 上午/下午 word does not allow stays NaN: not a time.
    nums["H"] = nums["H"].where(num["H"].notna() | parts["part"].notna(), 0)
    far = matched & year.notna() & ~year.between(YEAR_MIN, YEAR_MAX)
    cells.far[text.index[far]] = True
    stamps = _clock_times(nums).where(~far)
    no_year = matched & year.isna()
    if no_year.any():
        stamps[no_year] = _with_year(nums[no_year], as_of, ahead)
    stamps = _apply_offsets(stamps, _offsets(parts), tz)
    good = matched & ~unsure & stamps.notna()
    cells.values[stamps.index[good]] = stamps[good].astype(_NS)
    day_month = (matched & unsure) | (~matched & text.str.match(_DAY_MONTH_TEXT.pattern))
    cells.day_month[text.index[day_month]] = True
    # Day/month text has its own problem; anything else unreadable is not a date.
    cells.not_a_date[text.index[~good & ~far & ~day_month]] = True


def _24_hour(hours: pd.Series, words: pd.Series) -> pd.Series:
    """Hours on the 24-hour clock; NaN for an hour its 上午/下午/PM word does not allow."""
    said = words.notna() & hours.notna()
    if not said.any():
        return hours
    hours = hours.copy()
    hours[said] = [
        DAY_PARTS[w].get(int(h), np.nan) for w, h in zip(words[said], hours[said], strict=True)
    ]
    return hours


def _with_year(nums: pd.DataFrame, as_of: pd.Timestamp | None, ahead: bool) -> pd.Series:
    """Month-day times given the year ``as_of`` calls for (see parse_datetime)."""
    if as_of is None:
        return pd.Series(pd.NaT, index=nums.index, dtype=_NS)
    years = [as_of.year - 1, as_of.year, as_of.year + 1]
    options = pd.DataFrame({y: _clock_times(nums.assign(y=float(y))) for y in years})
    if ahead:
        # The nearest; a month-day no year has (30 February) stays NaT.
        distance = options.sub(as_of).abs()
        best = distance.idxmin(axis=1, skipna=True) if distance.notna().any().any() else None
        chosen = pd.Series(pd.NaT, index=nums.index, dtype=_NS)
        if best is not None:
            for i, y in best.dropna().items():
                chosen[i] = options.at[i, y]
        return chosen
    return options.where(options <= as_of + NO_YEAR_SLACK).max(axis=1).astype(_NS)


def _offsets(parts: pd.DataFrame) -> pd.Series:
    """Minutes from UTC of the times typed with an offset or a zone name."""
    minutes = parts["tz"].dropna().map(_offset_minutes)
    zones = parts["zone"].dropna().map(ZONES)
    return pd.concat([minutes, zones]).astype(float)


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


def _apply_offsets(stamps: pd.Series, minutes: pd.Series, tz: ZoneInfo) -> pd.Series:
    """Times written with a UTC offset (in minutes), moved to ``tz``; an impossible offset is
    not a date."""
    if not len(minutes):
        return stamps
    real = minutes.abs() <= MAX_OFFSET_MINUTES
    stamps[minutes.index[~real]] = pd.NaT
    minutes = minutes[real]
    utc = stamps[minutes.index] - pd.to_timedelta(minutes, unit="m")
    stamps[minutes.index] = utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    return stamps


def _offset_minutes(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4]))


def parse_dates(
    column: Column,
    tz: ZoneInfo,
    *,
    date1904: bool = False,
    serial_zone: str | None = None,
    as_of: pd.Timestamp | None = None,
    ahead: bool = False,
) -> Parsed:
    """A datetime column with a problem for every cell that is not a usable case date."""
    errors = column.error_cells()
    problems = column.cell_error_problems(errors)
    cells = parse_datetime(
        column.raw,
        tz,
        errors=errors,
        date1904=date1904,
        serial_zone=serial_zone,
        as_of=as_of,
        ahead=ahead,
    )
    if cells.far.any():
        problems += column.problems("date-out-of-range", cells.far)
    if cells.day_month.any():
        problems += column.problems("ambiguous-date", cells.day_month)
    if cells.not_a_date.any():
        problems += column.problems("not-a-date", cells.not_a_date)
    return Parsed(cells.values, cells.blank, problems)
