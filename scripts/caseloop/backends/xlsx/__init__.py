"""The Excel backend: read a tab, splice generated tabs into the zip, commit the file safely.

Reading: ``read`` (the package and the case tab through calamine), ``scan`` and ``stream_read``
(bounded-memory reads of odd sheets). Writing: ``splice`` over the part modules (``package``,
``relationships``, ``content_types``, ``workbook_part``, ``marks``, ``styles``, ``build``,
``verify``). Committing: ``commit`` and ``in_place`` with ``lock``, ``backups``,
``ownership``, ``outputs``. ``workbook.ExcelWorkbook`` is the backend the engine sees.
"""

from .commit import commit_workbook
from .files import fingerprint
from .lock import CaseloopLock
from .workbook import EXCEL_SUFFIXES, ExcelWorkbook
from .workbook_part import generated_tabs, tab_names

__all__ = [
    "EXCEL_SUFFIXES",
    "CaseloopLock",
    "ExcelWorkbook",
    "commit_workbook",
    "fingerprint",
    "generated_tabs",
    "tab_names",
]
