"""Turn a tab's raw grid into a typed cases DataFrame plus a list of Problems with cell addresses."""

from .build import CaseFrame, build_frame
from .column import column_letter, sheet_ref
from .dates import DateCells, parse_datetime
from .header import Header, find_header

__all__ = [
    "CaseFrame",
    "DateCells",
    "Header",
    "build_frame",
    "column_letter",
    "find_header",
    "parse_datetime",
    "sheet_ref",
]
