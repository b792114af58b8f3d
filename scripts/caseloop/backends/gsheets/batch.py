"""The batchUpdate requests, built without I/O from the sheet model and the sheet's metadata."""

from __future__ import annotations

import json
import random
import time
from typing import Any

from ...errors import RefusedError
from ...model import Cell, SheetModel
from .cells import cell_format, cell_value, format_key, grid_range
from .charts import chart_spec
from .marks import MARK_KEY, RUN_KEY, STAGING, plan_tabs

DEFAULT_COLUMN_PX = 100  # Google's width for a column nobody resized
# Google's usage-limits page recommends at most 2 MB per request. One batch up to this size;
# past it the tab is filled in a hidden staging tab in requests of at most CHUNK_BYTES each.
SINGLE_BATCH_BYTES = 1_800_000
CHUNK_BYTES = 1_000_000
STAGING_MAX_AGE = 3600  # seconds after which a staging tab left by a killed run is removed


def body_size(requests: list[dict[str, Any]]) -> int:
    """Bytes of a batchUpdate body as the client sends it (compact JSON, UTF-8)."""
    return len(compact_json({"requests": requests}))


def compact_json(body: Any) -> bytes:
    """JSON without the spaces after separators that ``json.dumps`` adds by default."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_protections(
    sheets: list[dict[str, Any]], titles: list[str], account_email: str | None
) -> None:
    """Refuse, before anything is sent, to write a tab a protection keeps this account from
    editing (``requestingUserCanEdit`` false); warning-only protections never block the API."""
    by_title = {s["properties"]["title"]: s for s in sheets}
    for title in titles:
        sheet = by_title.get(title)
        if sheet is None:
            continue
        for protection in sheet.get("protectedRanges", []):
            if protection.get("warningOnly") or protection.get("requestingUserCanEdit", True):
                continue
            account = account_email or "the Google account of these credentials"
            raise RefusedError.said("gsheets_protected", tab=title, account=account)


def write_batches(
    tabs: list[SheetModel],
    sheets: list[dict[str, Any]],
    tz: str | None,
    run: str,
    *,
    account_email: str | None = None,
    single_limit: int = SINGLE_BATCH_BYTES,
    chunk_limit: int = CHUNK_BYTES,
    now: float | None = None,
) -> list[list[dict[str, Any]]]:
    """The batchUpdate bodies (lists of requests) that write ``tabs``, in order.

    One atomic batch when it fits in ``single_limit`` bytes; else a staged write: the first
    batches fill hidden staging tabs (caseloop's, marked as such), and the last one, small,
    empties each generated tab, pastes its staging tab into it with ``copyPaste`` and deletes the
    staging tab, so the team only ever sees the old tab or the new one, and the tab keeps its
    sheetId (links and team formulas to it survive). The last batch of either kind tags each
    written tab with ``run`` (developer metadata ``RUN_KEY``), so an answer lost after Google
    applied it can be checked by reading the metadata back.
    """
    plans = plan_tabs(tabs, sheets)  # every tab checked before anything is built or sent
    touched = [p.existing for p in plans if p.existing] + [n for p in plans for n in p.remove]
    check_protections(sheets, touched, account_email)
    single = write_requests(tabs, sheets, tz, run=run, plans=plans)
    if body_size(single) <= single_limit:
        return [single]
    return _staged(tabs, sheets, tz, run, plans, chunk_limit, time.time() if now is None else now)


def _run_tag_requests(sheet_id: int, run: str, existing: bool) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = []
    if existing:
        requests.append(
            {
                "deleteDeveloperMetadata": {
                    "dataFilter": {
                        "developerMetadataLookup": {
                            "metadataKey": RUN_KEY,
                            "locationType": "SHEET",
                            "metadataLocation": {"sheetId": sheet_id},
                        }
                    }
                }
            }
        )
    requests.append(_metadata(RUN_KEY, run, sheet_id))
    return requests


def _metadata(key: str, value: str, sheet_id: int) -> dict[str, Any]:
    return {
        "createDeveloperMetadata": {
            "developerMetadata": {
                "metadataKey": key,
                "metadataValue": value,
                "location": {"sheetId": sheet_id},
                "visibility": "DOCUMENT",
            }
        }
    }


def _staged(
    tabs: list[SheetModel],
    sheets: list[dict[str, Any]],
    tz: str | None,
    run: str,
    plans: list[Any],
    chunk_limit: int,
    now: float,
) -> list[list[dict[str, Any]]]:
    by_title = {s["properties"]["title"]: s for s in sheets}
    used_ids = {s["properties"].get("sheetId", 0) for s in sheets}
    titles = {s["properties"]["title"].casefold() for s in sheets}
    fill: list[dict[str, Any]] = []
    final: list[dict[str, Any]] = []
    removed: list[str] = []
    # Staging tabs left by a run that was killed long enough ago.
    first: list[dict[str, Any]] = [
        {"deleteSheet": {"sheetId": s["properties"].get("sheetId", 0)}}
        for s in sheets
        if _stale_staging(s, now)
    ]
    for number, (model, plan) in enumerate(zip(tabs, plans, strict=True)):
        existing = by_title.get(plan.existing) if plan.existing is not None else None
        model.title = plan.title
        stage_id = _new_sheet_id(used_ids)
        used_ids.add(stage_id)
        stage_title = f"caseloop staging {run}-{number}"
        while stage_title.casefold() in titles:  # Google compares tab names without case
            stage_title += "_"
        titles.add(stage_title.casefold())
        rows, cols = grid_size(model)
        first += [
            {
                "addSheet": {
                    "properties": {
                        "sheetId": stage_id,
                        "title": stage_title,
                        "sheetType": "GRID",
                        "hidden": True,
                        "gridProperties": {"rowCount": rows, "columnCount": cols},
                    }
                }
            },
            _metadata(MARK_KEY, f"{STAGING}:{int(now)}", stage_id),
        ]
        fill += _format_requests(model, stage_id)
        fill += _row_chunks(model, stage_id, tz, chunk_limit // 2)
        if existing is None:
            sheet_id = _new_sheet_id(used_ids)
            used_ids.add(sheet_id)
            final += create_requests(model, sheet_id)
        else:
            sheet_id = existing["properties"].get("sheetId", 0)
            final += reset_requests(model, existing)
        final.append(
            {
                "copyPaste": {
                    "source": {
                        "sheetId": stage_id,
                        "startRowIndex": 0,
                        "endRowIndex": rows,
                        "startColumnIndex": 0,
                        "endColumnIndex": cols,
                    },
                    "destination": {"sheetId": sheet_id, "startRowIndex": 0, "startColumnIndex": 0},
                    "pasteType": "PASTE_NORMAL",
                }
            }
        )
        final += _finish_requests(model, sheet_id)
        final += _run_tag_requests(sheet_id, run, existing is not None)
        final.append({"deleteSheet": {"sheetId": stage_id}})
        removed += [name for name in plan.remove if name not in removed]
    final += [
        {"deleteSheet": {"sheetId": by_title[name]["properties"].get("sheetId", 0)}}
        for name in removed
    ]
    # The first batch creates the staging tabs and tags them, so its own lost answer can be
    # checked too; the fill requests are packed after it into bodies under the limit.
    first += [_metadata(RUN_KEY, f"{run}:stage", stage) for stage in _ids_of(first)]
    return [first, *_pack(fill, chunk_limit), final]


def _ids_of(requests: list[dict[str, Any]]) -> list[int]:
    return [r["addSheet"]["properties"]["sheetId"] for r in requests if "addSheet" in r]


def _stale_staging(sheet: dict[str, Any], now: float) -> bool:
    for mark in sheet.get("developerMetadata", []):
        value = str(mark.get("metadataValue", ""))
        if mark.get("metadataKey") == MARK_KEY and value.startswith(STAGING + ":"):
            try:
                return now - float(value.split(":", 1)[1]) > STAGING_MAX_AGE
            except ValueError:
                return True
    return False


def _row_chunks(
    model: SheetModel, sheet_id: int, tz: str | None, limit: int
) -> list[dict[str, Any]]:
    """updateCells requests of consecutive rows, each under ``limit`` bytes."""
    requests: list[dict[str, Any]] = []
    start, rows, size = 0, [], 0
    for index, row in enumerate(model.rows):
        data = _row_data(row, tz)
        row_size = len(compact_json(data)) + 1
        if rows and size + row_size > limit:
            requests.append(_update_rows(sheet_id, start, rows))
            start, rows, size = index, [], 0
        rows.append(data)
        size += row_size
    if rows:
        requests.append(_update_rows(sheet_id, start, rows))
    return requests


def _update_rows(sheet_id: int, start: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": start, "columnIndex": 0},
            "rows": rows,
            "fields": "userEnteredValue",
        }
    }


def _pack(requests: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """Consecutive requests grouped into bodies of at most ``limit`` bytes each."""
    bodies: list[list[dict[str, Any]]] = []
    size = limit + 1
    for request in requests:
        one = len(compact_json(request)) + 1
        if size + one > limit:
            bodies.append([])
            size = len(compact_json({"requests": []}))
        bodies[-1].append(request)
        size += one
    return bodies


def write_requests(
    tabs: list[SheetModel],
    sheets: list[dict[str, Any]],
    tz: str | None,
    *,
    run: str | None = None,
    plans: list[Any] | None = None,
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
    if plans is None:
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
        if run is not None:
            requests += _run_tag_requests(sheet_id, run, existing is not None)
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
    requests.append(_update_rows(sheet_id, 0, [_row_data(row, tz) for row in model.rows]))
    return requests + _finish_requests(model, sheet_id)


def _finish_requests(model: SheetModel, sheet_id: int) -> list[dict[str, Any]]:
    """Widths, filter and charts: what the tab gets once its cells are in."""
    requests = _width_requests(model, sheet_id)
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
