"""spreadsheets.batchUpdate: every request applied to a copy, kept only if all of them succeed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .state import FakeCell, FakeSheet, FakeSpreadsheet


class InvalidRequest(Exception):
    """A 400 INVALID_ARGUMENT, with Google's message."""


class Transaction:
    """A copy of a spreadsheet that clones each tab the first time a request changes it."""

    def __init__(self, book: FakeSpreadsheet, caller: str | None = None) -> None:
        self.book = book.clone()
        self._cloned: set[int] = set()
        self.prefix = ""
        self.caller = caller  # the e-mail of the account whose token sent the request

    def fail(self, message: str) -> InvalidRequest:
        return InvalidRequest(f"{self.prefix}{message}")

    def sheet(self, sheet_id: Any) -> FakeSheet:
        """The tab ``sheet_id`` (absent means 0, as in proto3), ready to be changed."""
        sheet_id = int(sheet_id or 0)
        current = self.book.sheet_by_id(sheet_id)
        if current is None:
            raise self.fail(f"No grid with id: {sheet_id}")
        if not current.can_edit(self.caller, self.book.owner):
            # Google's answer to an edit of a protected range by someone not among its editors
            # (400, quoted in theoephraim/node-google-spreadsheet PR #20 and many gspread issues).
            raise self.fail(
                "You are trying to edit a protected cell or object. Please contact the "
                "spreadsheet owner to remove protection if you need to edit."
            )
        if sheet_id not in self._cloned:
            twin = current.clone()
            self.book.sheets[self.book.sheets.index(current)] = twin
            self._cloned.add(sheet_id)
            return twin
        return current


# --- field masks ------------------------------------------------------------------------------


def _mask(fields: str | None) -> list[list[str]]:
    """A FieldMask as paths. Google accepts "a.b", "a/b" and "a(b,c)" (gspread sends the last
    two), so all three are understood."""
    if not fields:
        return []
    paths: list[list[str]] = []

    def parse(text: str, prefix: list[str]) -> None:
        depth, start = 0, 0
        for i, ch in enumerate(text + ","):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 0:
                part = text[start:i].strip()
                start = i + 1
                if not part:
                    continue
                if "(" in part:
                    head, inner = part.split("(", 1)
                    parse(inner[:-1], prefix + head.replace("/", ".").split("."))
                else:
                    paths.append(prefix + part.replace("/", ".").split("."))

    parse(fields, [])
    return paths


def _get(tree: dict[str, Any], path: list[str]) -> tuple[bool, Any]:
    node: Any = tree
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return False, None
        node = node[name]
    return True, node


def _set(tree: dict[str, Any], path: list[str], present: bool, value: Any) -> dict[str, Any]:
    """A copy of ``tree`` with ``path`` set to ``value`` (or removed when not present)."""
    out = dict(tree)
    if len(path) == 1:
        if present:
            out[path[0]] = copy.deepcopy(value)
        else:
            out.pop(path[0], None)
        return out
    child = out.get(path[0])
    child = dict(child) if isinstance(child, dict) else {}
    out[path[0]] = _set(child, path[1:], present, value)
    if not out[path[0]]:
        out.pop(path[0])
    return out


# --- cells ------------------------------------------------------------------------------------


def _cell_data(cell: FakeCell) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if cell.formula is not None:
        data["userEnteredValue"] = {"formulaValue": cell.formula}
    elif isinstance(cell.value, bool):
        data["userEnteredValue"] = {"boolValue": cell.value}
    elif isinstance(cell.value, int | float):
        data["userEnteredValue"] = {"numberValue": cell.value}
    elif cell.value is not None:
        data["userEnteredValue"] = {"stringValue": cell.value}
    if cell.format:
        data["userEnteredFormat"] = cell.format
    if cell.note is not None:
        data["note"] = cell.note
    return data


def _from_data(data: dict[str, Any], tx: Transaction) -> FakeCell:
    entered = data.get("userEnteredValue") or {}
    if len(entered) > 1:
        raise tx.fail("Oneof field 'value' is already set. Cannot set 'userEnteredValue'")
    value: Any = None
    formula = None
    if "stringValue" in entered:
        value = str(entered["stringValue"])
    elif "numberValue" in entered:
        value = entered["numberValue"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise tx.fail("Invalid value at 'numberValue'")
    elif "boolValue" in entered:
        value = bool(entered["boolValue"])
    elif "formulaValue" in entered:
        formula = str(entered["formulaValue"])
    elif entered:
        raise tx.fail(f"Unknown value kind {sorted(entered)}")
    return FakeCell(
        value=value,
        formula=formula,
        format=copy.deepcopy(data.get("userEnteredFormat") or {}),
        note=data.get("note"),
    )


def _write_cell(
    sheet: FakeSheet,
    row: int,
    col: int,
    data: dict[str, Any],
    mask: list[list[str]],
    tx: Transaction,
) -> None:
    old = sheet.cells.get((row, col), FakeCell())
    if mask == [["*"]]:
        new = _from_data(data, tx)
    else:
        merged = _cell_data(old)
        for path in mask:
            if path[0] not in ("userEnteredValue", "userEnteredFormat", "note"):
                raise tx.fail(f"Invalid field mask for CellData: {'.'.join(path)}")
            present, value = _get(data, path)
            merged = _set(merged, path, present, value)
        new = _from_data(merged, tx)
    if new.is_empty and not new.format and new.note is None:
        sheet.cells.pop((row, col), None)
    else:
        sheet.cells[(row, col)] = new


def _bounds(
    grid_range: dict[str, Any], sheet: FakeSheet, tx: Transaction
) -> tuple[int, int, int, int]:
    r0 = grid_range.get("startRowIndex", 0)
    r1 = grid_range.get("endRowIndex", sheet.row_count)
    c0 = grid_range.get("startColumnIndex", 0)
    c1 = grid_range.get("endColumnIndex", sheet.column_count)
    if r1 > sheet.row_count or c1 > sheet.column_count or r0 < 0 or c0 < 0 or r0 > r1 or c0 > c1:
        raise tx.fail(
            f"Range ('{sheet.title}'!R{r0 + 1}C{c0 + 1}:R{r1}C{c1}) exceeds grid limits. "
            f"Max rows: {sheet.row_count}, max columns: {sheet.column_count}"
        )
    return r0, r1, c0, c1


# --- the request kinds ------------------------------------------------------------------------


def add_sheet(tx: Transaction, body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties", {})
    title = props.get("title") or f"Sheet{len(tx.book.sheets) + 1}"
    if any(s.title.lower() == title.lower() for s in tx.book.sheets):
        raise tx.fail(f'A sheet with the name "{title}" already exists. Please enter another name.')
    sheet_id = props.get("sheetId")
    if sheet_id is None:
        sheet_id = tx.book.new_object_id()
    elif tx.book.sheet_by_id(sheet_id) is not None:
        raise tx.fail(f"Sheet with id {sheet_id} already exists.")
    grid = props.get("gridProperties", {})
    sheet = FakeSheet(
        sheet_id=sheet_id,
        title=title,
        index=props.get("index", len(tx.book.sheets)),
        row_count=grid.get("rowCount", 1000),
        column_count=grid.get("columnCount", 26),
        frozen_rows=grid.get("frozenRowCount", 0),
        frozen_cols=grid.get("frozenColumnCount", 0),
        hidden=bool(props.get("hidden", False)),
    )
    _check_frozen(sheet, tx)
    for other in tx.book.sheets:
        if other.index >= sheet.index:
            tx.sheet(other.sheet_id).index += 1
    tx.book.sheets.append(sheet)
    tx.book.reindex()
    return {"addSheet": {"properties": sheet.properties()}}


def delete_sheet(tx: Transaction, body: dict[str, Any]) -> None:
    sheet = tx.sheet(body.get("sheetId"))
    if len(tx.book.sheets) == 1:
        raise tx.fail("You can't remove all the sheets in a document.")
    tx.book.sheets.remove(sheet)
    tx.book.reindex()


def _check_frozen(sheet: FakeSheet, tx: Transaction) -> None:
    if sheet.frozen_rows >= sheet.row_count and sheet.frozen_rows:
        raise tx.fail("You can't freeze all visible rows on the sheet.")
    if sheet.frozen_cols >= sheet.column_count and sheet.frozen_cols:
        raise tx.fail("You can't freeze all visible columns on the sheet.")


def update_sheet_properties(tx: Transaction, body: dict[str, Any]) -> None:
    props = body.get("properties", {})
    sheet = tx.sheet(props.get("sheetId"))
    mask = _mask(body.get("fields"))
    if not mask:
        raise tx.fail("At least one field must be updated. Specify 'fields'.")
    names = {
        ("title",): "title",
        ("index",): "index",
        ("hidden",): "hidden",
        ("gridProperties", "rowCount"): "row_count",
        ("gridProperties", "columnCount"): "column_count",
        ("gridProperties", "frozenRowCount"): "frozen_rows",
        ("gridProperties", "frozenColumnCount"): "frozen_cols",
    }
    defaults = {"row_count": 1000, "column_count": 26, "frozen_rows": 0, "frozen_cols": 0}
    for path in mask:
        chosen = [key for key in names if key[: len(path)] == tuple(path)]
        if not chosen:
            raise tx.fail(f"Invalid field mask: {'.'.join(path)}")
        for key in chosen:
            present, value = _get(props, list(key))
            attr = names[key]
            if attr == "title" and present:
                clash = [s for s in tx.book.sheets if s.title.lower() == str(value).lower()]
                if clash and clash[0].sheet_id != sheet.sheet_id:
                    raise tx.fail(f'A sheet with the name "{value}" already exists.')
            setattr(sheet, attr, value if present else defaults.get(attr, False))
    if sheet.row_count < 1 or sheet.column_count < 1:
        raise tx.fail("Sheets must have at least one row and one column.")
    _check_frozen(sheet, tx)
    # Shrinking drops what lies outside the grid, cells and the rest.
    sheet.cells = {
        (r, c): cell
        for (r, c), cell in sheet.cells.items()
        if r < sheet.row_count and c < sheet.column_count
    }
    sheet.column_px = {c: px for c, px in sheet.column_px.items() if c < sheet.column_count}
    sheet.row_px = {r: px for r, px in sheet.row_px.items() if r < sheet.row_count}
    if sheet.basic_filter is not None:
        rng = sheet.basic_filter["range"]
        for end, limit in (
            ("endRowIndex", sheet.row_count),
            ("endColumnIndex", sheet.column_count),
        ):
            if rng.get(end, 0) > limit:
                rng[end] = limit


def update_cells(tx: Transaction, body: dict[str, Any]) -> None:
    mask = _mask(body.get("fields"))
    if not mask:
        raise tx.fail("At least one field must be updated. Specify 'fields'.")
    rows = body.get("rows", [])
    if "range" in body and "start" in body:
        raise tx.fail("Oneof field 'area' is already set. Cannot set 'start'")
    if "range" in body:
        sheet = tx.sheet(body["range"].get("sheetId"))
        r0, r1, c0, c1 = _bounds(body["range"], sheet, tx)
    elif "start" in body:
        sheet = tx.sheet(body["start"].get("sheetId"))
        r0, c0 = body["start"].get("rowIndex", 0), body["start"].get("columnIndex", 0)
        r1 = r0 + len(rows)
        c1 = c0 + max((len(r.get("values", [])) for r in rows), default=0)
        _bounds(
            {"startRowIndex": r0, "endRowIndex": r1, "startColumnIndex": c0, "endColumnIndex": c1},
            sheet,
            tx,
        )
    else:
        raise tx.fail("Must specify either 'start' or 'range'.")
    if len(rows) > r1 - r0:
        raise tx.fail("Rows overflow the range.")
    written: set[tuple[int, int]] = set()
    for i, row in enumerate(rows):
        values = row.get("values", [])
        if len(values) > c1 - c0:
            raise tx.fail("Columns overflow the range.")
        for j, data in enumerate(values):
            _write_cell(sheet, r0 + i, c0 + j, data, mask, tx)
            written.add((r0 + i, c0 + j))
    if "range" in body:
        # Cells of the range the rows do not cover lose the masked fields.
        for key in [k for k in sheet.cells if r0 <= k[0] < r1 and c0 <= k[1] < c1]:
            if key not in written:
                _write_cell(sheet, key[0], key[1], {}, mask, tx)


def repeat_cell(tx: Transaction, body: dict[str, Any]) -> None:
    sheet = tx.sheet(body.get("range", {}).get("sheetId"))
    r0, r1, c0, c1 = _bounds(body.get("range", {}), sheet, tx)
    mask = _mask(body.get("fields"))
    if not mask:
        raise tx.fail("At least one field must be updated. Specify 'fields'.")
    data = body.get("cell", {})
    for r in range(r0, r1):
        for c in range(c0, c1):
            _write_cell(sheet, r, c, data, mask, tx)


def set_basic_filter(tx: Transaction, body: dict[str, Any]) -> None:
    rng = dict(body.get("filter", {}).get("range", {}))
    sheet = tx.sheet(rng.get("sheetId"))
    r0, r1, c0, c1 = _bounds(rng, sheet, tx)
    stored = {
        **body["filter"],
        "range": {
            **rng,
            "startRowIndex": r0,
            "endRowIndex": r1,
            "startColumnIndex": c0,
            "endColumnIndex": c1,
        },
    }
    sheet.basic_filter = copy.deepcopy(stored)


def clear_basic_filter(tx: Transaction, body: dict[str, Any]) -> None:
    tx.sheet(body.get("sheetId")).basic_filter = None


def update_dimension_properties(tx: Transaction, body: dict[str, Any]) -> None:
    rng = body.get("range", {})
    sheet = tx.sheet(rng.get("sheetId"))
    dimension = rng.get("dimension")
    if dimension not in ("ROWS", "COLUMNS"):
        raise tx.fail("Invalid dimension.")
    limit = sheet.row_count if dimension == "ROWS" else sheet.column_count
    start, end = rng.get("startIndex", 0), rng.get("endIndex", limit)
    if end > limit or start < 0 or start >= end:
        raise tx.fail(f"Invalid {dimension.lower()} range {start}..{end} (limit {limit}).")
    if _mask(body.get("fields")) != [["pixelSize"]]:
        raise tx.fail("Only pixelSize is supported by this fake.")
    store = sheet.row_px if dimension == "ROWS" else sheet.column_px
    for index in range(start, end):
        store[index] = int(body.get("properties", {}).get("pixelSize", 100))


def _check_sources(tx: Transaction, spec: Any) -> None:
    """Every sourceRange in a chart spec must lie inside an existing grid."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "sources":
                for rng in value:
                    sheet = tx.book.sheet_by_id(int(rng.get("sheetId", 0)))
                    if sheet is None:
                        raise tx.fail(f"No grid with id: {rng.get('sheetId')}")
                    _bounds(rng, sheet, tx)
            else:
                _check_sources(tx, value)
    elif isinstance(spec, list):
        for item in spec:
            _check_sources(tx, item)


def add_chart(tx: Transaction, body: dict[str, Any]) -> dict[str, Any]:
    chart = copy.deepcopy(body.get("chart", {}))
    if "basicChart" in chart.get("spec", {}):
        basic = chart["spec"]["basicChart"]
        if not basic.get("series"):
            raise tx.fail("Chart must have at least one series.")
    _check_sources(tx, chart.get("spec", {}))
    anchor = chart.get("position", {}).get("overlayPosition", {}).get("anchorCell")
    if anchor is None:
        raise tx.fail("Only overlay charts are supported by this fake.")
    sheet = tx.sheet(anchor.get("sheetId"))
    if (
        anchor.get("rowIndex", 0) >= sheet.row_count
        or anchor.get("columnIndex", 0) >= sheet.column_count
    ):
        raise tx.fail("The anchor cell is outside the grid.")
    chart_id = chart.get("chartId")
    every_chart = [c["chartId"] for s in tx.book.sheets for c in s.charts]
    if chart_id is None:
        chart_id = tx.book.new_object_id()
    elif chart_id in every_chart:
        raise tx.fail(f"An object with id {chart_id} already exists.")
    chart["chartId"] = chart_id
    sheet.charts.append(chart)
    return {"addChart": {"chart": copy.deepcopy(chart)}}


def delete_embedded_object(tx: Transaction, body: dict[str, Any]) -> None:
    object_id = body.get("objectId")
    for sheet in list(tx.book.sheets):
        if any(c["chartId"] == object_id for c in sheet.charts):
            writable = tx.sheet(sheet.sheet_id)
            writable.charts = [c for c in writable.charts if c["chartId"] != object_id]
            return
    # Google's wording (issue 12, seen when two runs deleted the same chart).
    raise tx.fail(f"No embedded object with id: {object_id}")


def create_developer_metadata(tx: Transaction, body: dict[str, Any]) -> dict[str, Any]:
    meta = copy.deepcopy(body.get("developerMetadata", {}))
    if not meta.get("metadataKey"):
        raise tx.fail("metadataKey is required.")
    if meta.get("visibility") not in ("DOCUMENT", "PROJECT"):
        raise tx.fail("visibility must be DOCUMENT or PROJECT.")
    location = meta.get("location", {})
    if "sheetId" not in location:
        raise tx.fail("This fake supports sheet locations only.")
    sheet = tx.sheet(location["sheetId"])
    meta["metadataId"] = meta.get("metadataId") or tx.book.new_object_id()
    meta["location"] = {"locationType": "SHEET", "sheetId": sheet.sheet_id}
    sheet.developer_metadata.append(meta)
    return {"createDeveloperMetadata": {"developerMetadata": copy.deepcopy(meta)}}


def delete_developer_metadata(tx: Transaction, body: dict[str, Any]) -> dict[str, Any]:
    lookup = body.get("dataFilter", {}).get("developerMetadataLookup", {})
    if not lookup:
        raise tx.fail("Only developerMetadataLookup filters are supported by this fake.")
    # DeveloperMetadataLookup (Sheets API v4 reference): every field given must match; a
    # ``metadataLocation`` names the tab. Matching nothing deletes nothing and is no error.
    where = lookup.get("metadataLocation", {})
    deleted = []
    for sheet in list(tx.book.sheets):
        if "sheetId" in where and int(where["sheetId"]) != sheet.sheet_id:
            continue
        keep = []
        for meta in sheet.developer_metadata:
            hit = all(
                meta.get(k) == v
                for k, v in lookup.items()
                if k in ("metadataId", "metadataKey", "metadataValue")
            )
            (deleted if hit else keep).append(meta)
        if len(keep) != len(sheet.developer_metadata):
            tx.sheet(sheet.sheet_id).developer_metadata = keep
    return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": deleted}}


def merge_cells(tx: Transaction, body: dict[str, Any]) -> None:
    rng = dict(body.get("range", {}))
    sheet = tx.sheet(rng.get("sheetId"))
    _bounds(rng, sheet, tx)
    sheet.merges.append(rng)


def unmerge_cells(tx: Transaction, body: dict[str, Any]) -> None:
    rng = body.get("range", {})
    sheet = tx.sheet(rng.get("sheetId"))
    r0, r1, c0, c1 = _bounds(rng, sheet, tx)
    sheet.merges = [
        m
        for m in sheet.merges
        if not (
            r0 <= m.get("startRowIndex", 0)
            and m.get("endRowIndex", 0) <= r1
            and c0 <= m.get("startColumnIndex", 0)
            and m.get("endColumnIndex", 0) <= c1
        )
    ]


def append_dimension(tx: Transaction, body: dict[str, Any]) -> None:
    sheet = tx.sheet(body.get("sheetId"))
    length = int(body.get("length", 0))
    if length < 1:
        raise tx.fail("length must be positive.")
    if body.get("dimension") == "ROWS":
        sheet.row_count += length
    elif body.get("dimension") == "COLUMNS":
        sheet.column_count += length
    else:
        raise tx.fail("Invalid dimension.")


def copy_paste(tx: Transaction, body: dict[str, Any]) -> None:
    """CopyPasteRequest with PASTE_NORMAL ("values, formulas, formats, and merges", Sheets API v4
    reference, PasteType): the destination's top-left cell receives the source's; cells of the
    pasted area the source leaves empty become empty."""
    if body.get("pasteType", "PASTE_NORMAL") != "PASTE_NORMAL":
        raise tx.fail("Only PASTE_NORMAL is supported by this fake.")
    src = body.get("source", {})
    source = tx.book.sheet_by_id(int(src.get("sheetId", 0)))
    if source is None:
        raise tx.fail(f"No grid with id: {src.get('sheetId', 0)}")
    r0, r1, c0, c1 = _bounds(src, source, tx)
    dst = body.get("destination", {})
    target = tx.sheet(dst.get("sheetId"))
    d0, e0 = dst.get("startRowIndex", 0), dst.get("startColumnIndex", 0)
    _bounds(
        {
            "startRowIndex": d0,
            "endRowIndex": d0 + r1 - r0,
            "startColumnIndex": e0,
            "endColumnIndex": e0 + c1 - c0,
        },
        target,
        tx,
    )
    for key in [k for k in target.cells if d0 <= k[0] < d0 + r1 - r0 and e0 <= k[1] < e0 + c1 - c0]:
        del target.cells[key]
    for (r, c), cell in source.cells.items():
        if r0 <= r < r1 and c0 <= c < c1:
            target.cells[(d0 + r - r0, e0 + c - c0)] = cell
    for merge in source.merges:
        if r0 <= merge.get("startRowIndex", 0) and merge.get("endRowIndex", 0) <= r1:
            moved = dict(merge, sheetId=target.sheet_id)
            for name, shift in (("RowIndex", d0 - r0), ("ColumnIndex", e0 - c0)):
                moved["start" + name] = merge.get("start" + name, 0) + shift
                moved["end" + name] = merge.get("end" + name, 0) + shift
            target.merges.append(moved)


HANDLERS: dict[str, Callable[[Transaction, dict[str, Any]], dict[str, Any] | None]] = {
    "addSheet": add_sheet,
    "deleteSheet": delete_sheet,
    "updateSheetProperties": update_sheet_properties,
    "updateCells": update_cells,
    "repeatCell": repeat_cell,
    "setBasicFilter": set_basic_filter,
    "clearBasicFilter": clear_basic_filter,
    "updateDimensionProperties": update_dimension_properties,
    "addChart": add_chart,
    "deleteEmbeddedObject": delete_embedded_object,
    "createDeveloperMetadata": create_developer_metadata,
    "deleteDeveloperMetadata": delete_developer_metadata,
    "mergeCells": merge_cells,
    "unmergeCells": unmerge_cells,
    "appendDimension": append_dimension,
    "copyPaste": copy_paste,
}


def apply_batch(
    book: FakeSpreadsheet, body: dict[str, Any], caller: str | None = None
) -> tuple[FakeSpreadsheet, dict[str, Any]]:
    """Apply a batchUpdate body sent by ``caller``; returns the new spreadsheet and the response.
    All or nothing: on InvalidRequest ``book`` is untouched."""
    requests = body.get("requests")
    if not requests:
        raise InvalidRequest("Must specify at least one request.")
    tx = Transaction(book, caller)
    replies: list[dict[str, Any]] = []
    for index, request in enumerate(requests):
        if not isinstance(request, dict) or len(request) != 1:
            raise InvalidRequest(
                f"Invalid requests[{index}]: exactly one kind of request is required."
            )
        ((kind, payload),) = request.items()
        handler = HANDLERS.get(kind)
        if handler is None:
            raise InvalidRequest(
                f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{index}]': "
                "Cannot find field."
            )
        tx.prefix = f"Invalid requests[{index}].{kind}: "
        cells_before = tx.book.grid_cells()
        replies.append(handler(tx, payload) or {})
        cells_after = tx.book.grid_cells()
        if cells_after > cells_before and cells_after > tx.book.cell_limit:
            # Google's wording, as quoted in nithinmurali/pygsheets issue 589.
            raise tx.fail(
                "This action would increase the number of cells in the workbook above the "
                f"limit of {tx.book.cell_limit} cells."
            )
    answer: dict[str, Any] = {"spreadsheetId": book.key, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        answer["updatedSpreadsheet"] = tx.book.resource(caller)
    return tx.book, answer
