"""The batchUpdate requests, built without I/O from the sheet model and the sheet's metadata."""

from __future__ import annotations

import random
from typing import Any

from ...model import Cell, SheetModel
from .cells import cell_format, cell_value, format_key, grid_range
from .charts import chart_spec
from .marks import MARK_KEY, plan_tabs

DEFAULT_COLUMN_PX = 100  # Google's width for a column nobody resized


def write_requests(
    tabs: list[SheetModel], sheets: list[dict[str, Any]], tz: str | None
) -> list[dict[str, Any]]:
    """Every request that replaces or creates each tab of ``tabs``, for one atomic batchUpdate.

    ``sheets`` is the spreadsheet's metadata ``sheets`` list and ``tz`` its time zone. A tab that
    is not caseloop's to write is refused (``RefusedError``) before any request is built.
    caseloop's tab of the same kind under another name is rewritten in place (renamed in the
    same request that resizes it when ``marks.plan_tabs`` says so), and its other tabs of that
    kind are deleted in the same batch: one tab per kind, at no extra request. Each model's
    ``title`` becomes the name its tab has.
    """
    by_title = {s["properties"]["title"]: s for s in sheets}
    used_ids = {s["properties"].get("sheetId", 0) for s in by_title.values()}
    plans = plan_tabs(tabs, sheets)  # every tab checked before anything is built or sent
    requests: list[dict[str, Any]] = []
    removed: list[str] = []
    for model, plan in zip(tabs, plans, strict=True):
        existing = by_title.get(plan.existing) if plan.existing is not None else None
        model.title = plan.title
        if existing is None:
            sheet_id = _new_sheet_id(used_ids)
            used_ids.add(sheet_id)
            requests += create_requests(model, sheet_id)
        else:
            sheet_id = existing["properties"].get("sheetId", 0)
            requests += reset_requests(model, existing)
        requests += content_requests(model, sheet_id, tz)
        removed += [name for name in plan.remove if name not in removed]
    # Last, so a failure anywhere above leaves them (the batch is atomic anyway).
    requests += [
        {"deleteSheet": {"sheetId": by_title[name]["properties"].get("sheetId", 0)}}
        for name in removed
    ]
    return requests


def _new_sheet_id(used: set[int]) -> int:
    # Chosen here rather than by Google so the same batch can format the tab it creates.
    while True:
        candidate = random.randrange(1, 2**31 - 1)
        if candidate not in used:
            return candidate


def grid_size(model: SheetModel) -> tuple[int, int]:
    """Rows and columns the tab needs: its cells, one row below the frozen ones, chart anchors."""
    rows = max(model.n_rows, model.freeze_rows + 1, 1)
    cols = max(model.n_cols, 1)
    for chart in model.charts:
        rows = max(rows, chart.anchor_row + 1)
        cols = max(cols, chart.anchor_col + 1)
    if model.auto_filter is not None:
        rows = max(rows, model.auto_filter.last_row + 1)
        cols = max(cols, model.auto_filter.last_col + 1)
    return rows, cols


def _grid_properties(model: SheetModel) -> dict[str, int]:
    rows, cols = grid_size(model)
    return {
        "rowCount": rows,
        "columnCount": cols,
        "frozenRowCount": model.freeze_rows,
        "frozenColumnCount": 0,
    }


def create_requests(model: SheetModel, sheet_id: int) -> list[dict[str, Any]]:
    """addSheet with our own sheetId, and the developer metadata that marks it as caseloop's."""
    return [
        {
            "addSheet": {
                "properties": {
                    "sheetId": sheet_id,
                    "title": model.title,
                    "sheetType": "GRID",
                    "gridProperties": _grid_properties(model),
                }
            }
        },
        {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": MARK_KEY,
                    "metadataValue": model.kind,
                    "location": {"sheetId": sheet_id},
                    "visibility": "DOCUMENT",
                }
            }
        },
    ]


def reset_requests(model: SheetModel, existing: dict[str, Any]) -> list[dict[str, Any]]:
    """Empty a tab caseloop made earlier: charts, filter, merges, then resize it to the model
    (and give it the model's title, in the same request, when that differs)."""
    sheet_id = existing["properties"].get("sheetId", 0)
    properties: dict[str, Any] = {"sheetId": sheet_id, "gridProperties": _grid_properties(model)}
    fields = (
        "gridProperties.rowCount,gridProperties.columnCount,"
        "gridProperties.frozenRowCount,gridProperties.frozenColumnCount"
    )
    if existing["properties"].get("title") != model.title:
        properties["title"] = model.title
        fields += ",title"
    requests: list[dict[str, Any]] = [
        {"deleteEmbeddedObject": {"objectId": chart["chartId"]}}
        for chart in existing.get("charts", [])
    ]
    if "basicFilter" in existing:
        requests.append({"clearBasicFilter": {"sheetId": sheet_id}})
    if existing.get("merges"):
        requests.append({"unmergeCells": {"range": {"sheetId": sheet_id}}})
    requests.append({"updateSheetProperties": {"properties": properties, "fields": fields}})
    # Values, formats, notes and validation left by the earlier run (or typed by someone).
    requests.append({"updateCells": {"range": {"sheetId": sheet_id}, "fields": "*"}})
    return requests


def content_requests(model: SheetModel, sheet_id: int, tz: str | None) -> list[dict[str, Any]]:
    """Formats, values, widths, filter and charts of a freshly emptied tab.

    Formats go as one ``repeatCell`` per block of equal styles rather than inside every cell:
    the rows arrive sorted by flag, so a few dozen blocks carry what would otherwise be repeated
    in thousands of cells and keep the request body small.
    """
    requests = _format_requests(model, sheet_id)
    requests.append(
        {
            "updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                "rows": [_row_data(row, tz) for row in model.rows],
                "fields": "userEnteredValue",
            }
        }
    )
    requests += _width_requests(model, sheet_id)
    if model.auto_filter is not None:
        requests.append(
            {"setBasicFilter": {"filter": {"range": grid_range(model.auto_filter, sheet_id)}}}
        )
    requests += [
        {"addChart": {"chart": chart_spec(chart, model, sheet_id)}} for chart in model.charts
    ]
    return requests


def _row_data(row: list[Cell], tz: str | None) -> dict[str, Any]:
    values = [cell_value(cell.value, tz) for cell in row]
    while values and values[-1] is None:
        values.pop()  # trailing empties: the tab was just cleared
    return {"values": [{"userEnteredValue": v} if v is not None else {} for v in values]}


def _row_runs(row: list[Cell]) -> tuple[tuple[int, int, Any], ...]:
    """Runs of equal formats in one row: (first column, end column exclusive, format key)."""
    runs: list[tuple[int, int, Any]] = []
    for col, cell in enumerate(row):
        key = format_key(cell)
        if runs and runs[-1][2] == key and runs[-1][1] == col:
            runs[-1] = (runs[-1][0], col + 1, key)
        elif key is not None:
            runs.append((col, col + 1, key))
    return tuple(runs)


def _format_requests(model: SheetModel, sheet_id: int) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = []
    bands: list[tuple[int, int, tuple[tuple[int, int, Any], ...]]] = []  # rows with equal runs
    for index, row in enumerate(model.rows):
        runs = _row_runs(row)
        if bands and bands[-1][2] == runs and bands[-1][1] == index:
            bands[-1] = (bands[-1][0], index + 1, runs)
        else:
            bands.append((index, index + 1, runs))
    formats: dict[Any, dict[str, Any]] = {}
    for first_row, end_row, runs in bands:
        for first_col, end_col, key in runs:
            if key not in formats:
                formats[key] = cell_format(*key)
            requests.append(
                {
                    "repeatCell": {
                        "range": {
                            "sheetId": sheet_id,
                            "startRowIndex": first_row,
                            "endRowIndex": end_row,
                            "startColumnIndex": first_col,
                            "endColumnIndex": end_col,
                        },
                        "cell": {"userEnteredFormat": formats[key]},
                        "fields": "userEnteredFormat",
                    }
                }
            )
    return requests


def column_pixels(chars: float) -> int:
    """An Excel-style width in characters as pixels (about 7 px a character plus padding)."""
    return max(1, round(chars * 7 + 10))


def _width_requests(model: SheetModel, sheet_id: int) -> list[dict[str, Any]]:
    _, cols = grid_size(model)
    # Every column gets a width, default ones included, so widths of an earlier run vanish.
    widths = [
        column_pixels(model.col_widths[c]) if c < len(model.col_widths) else DEFAULT_COLUMN_PX
        for c in range(cols)
    ]
    requests = []
    start = 0
    for col in range(1, cols + 1):
        if col == cols or widths[col] != widths[start]:
            requests.append(
                {
                    "updateDimensionProperties": {
                        "range": {
                            "sheetId": sheet_id,
                            "dimension": "COLUMNS",
                            "startIndex": start,
                            "endIndex": col,
                        },
                        "properties": {"pixelSize": widths[start]},
                        "fields": "pixelSize",
                    }
                }
            )
            start = col
    return requests
