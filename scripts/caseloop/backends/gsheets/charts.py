"""Charts as Sheets specs: a COMBO basic chart of column and line series, anchored on the tab."""

from __future__ import annotations

from typing import Any

from ...model import CellValue, Chart, Range, SheetModel
from .cells import grid_range, rgb


def _cell_text(model: SheetModel, row: int, col: int) -> CellValue:
    if 0 <= row < len(model.rows) and col < len(model.rows[row]):
        return model.rows[row][col].value
    return None


def chart_spec(chart: Chart, model: SheetModel, sheet_id: int) -> dict[str, Any]:
    """A COMBO basic chart: column and line series over one category column."""
    # Sheets takes a series' name only from a header cell above its values, so use that row
    # when it holds the names the model gives.
    above = chart.categories.first_row - 1
    named = above >= 0 and all(
        series.values.first_row == chart.categories.first_row
        and _cell_text(model, above, series.values.first_col) == series.name
        for series in chart.series
    )
    shift = 1 if named else 0

    def source(block: Range) -> dict[str, Any]:
        grown = Range(block.first_row - shift, block.first_col, block.last_row, block.last_col)
        return {"sourceRange": {"sources": [grid_range(grown, sheet_id)]}}

    axes: list[dict[str, Any]] = [{"position": "BOTTOM_AXIS"}, {"position": "LEFT_AXIS"}]
    if chart.y_title:
        axes[1]["title"] = chart.y_title
    series_specs = []
    for series in chart.series:
        spec: dict[str, Any] = {
            "series": source(series.values),
            "targetAxis": "LEFT_AXIS",
            "type": "LINE" if series.kind == "line" else "COLUMN",
        }
        if series.color:
            spec["color"] = rgb(series.color)
        series_specs.append(spec)
    return {
        "spec": {
            "title": chart.title,
            "basicChart": {
                "chartType": "COMBO",
                # Said outright: a smoothed line of counts dips below zero between weeks.
                "lineSmoothing": False,
                "legendPosition": "BOTTOM_LEGEND",
                "axis": axes,
                "domains": [{"domain": source(chart.categories)}],
                "series": series_specs,
                "headerCount": shift,
            },
        },
        "position": {
            "overlayPosition": {
                "anchorCell": {
                    "sheetId": sheet_id,
                    "rowIndex": chart.anchor_row,
                    "columnIndex": chart.anchor_col,
                },
                "widthPixels": chart.width_px,
                "heightPixels": chart.height_px,
            }
        },
    }
