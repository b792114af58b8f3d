"""Write the corpus team workbook with whichever openpyxl this interpreter has (2.2 to 3.1).

Run by make_corpus.py as ``PYTHON openpyxl_book.py OUT.xlsx < book.json``. It must run on
Python 3.8 with openpyxl 2.2, so no newer syntax, and each feature is written only where that
openpyxl version has it (the version checks below say which).
"""

import datetime as dt
import json
import sys

import openpyxl
from openpyxl.styles import Font, PatternFill

VERSION = tuple(int(p) for p in openpyxl.__version__.split(".")[:2])


def fill(hex6):
    return PatternFill(fill_type="solid", start_color="FF" + hex6, end_color="FF" + hex6)


def data_validation(**kwargs):
    # The class moved between openpyxl 2.2 and 2.3.
    try:
        from openpyxl.worksheet.datavalidation import DataValidation
    except ImportError:
        from openpyxl.datavalidation import DataValidation
    return DataValidation(**kwargs)


def add_name(book, name, sheet, ref):
    if VERSION >= (3, 1):
        from openpyxl.workbook.defined_name import DefinedName

        book.defined_names[name] = DefinedName(name, attr_text=f"{sheet.title}!{ref}")
    elif VERSION >= (2, 4):
        from openpyxl.workbook.defined_name import DefinedName

        book.defined_names.append(DefinedName(name, attr_text=f"{sheet.title}!{ref}"))
    else:
        book.create_named_range(name, sheet, ref)


def main():
    spec = json.load(sys.stdin)
    out = sys.argv[1]
    headers = spec["headers"]
    date_columns = set(spec["date_columns"])
    book = openpyxl.Workbook()
    cases = book.active
    cases.title = "Cases"
    lists = book.create_sheet(title="Lists")
    summary = book.create_sheet(title="Summary")

    cases.cell(row=1, column=1).value = spec["title"]
    cases.cell(row=1, column=1).font = Font(bold=True, size=14)
    cases.cell(row=1, column=1).fill = fill("FFF2CC")
    cases.merge_cells("A1:F1")
    for c, name in enumerate(headers, start=1):
        cell = cases.cell(row=2, column=c)
        cell.value = name
        cell.font = Font(bold=True)
        cell.fill = fill("BDD7EE")
    for r, row in enumerate(spec["rows"], start=3):
        for c, (name, value) in enumerate(zip(headers, row), start=1):  # noqa: B905 (Python 3.8)
            if value is None:
                continue
            cell = cases.cell(row=r, column=c)
            if value == "#N/A":
                cell.value = value  # openpyxl writes an error code as an error cell
            elif name in date_columns:
                cell.value = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
                cell.number_format = "yyyy-mm-dd hh:mm"
            else:
                cell.value = value
    cases.column_dimensions["A"].width = 16
    cases.freeze_panes = "A3"

    from openpyxl.comments import Comment

    cases.cell(row=2, column=1).comment = Comment(spec["comment"], "Team lead")

    status_list = data_validation(type="list", formula1='"Open,Resolved,Closed"', allow_blank=True)
    channel_list = data_validation(type="list", formula1="=ChannelList", allow_blank=True)
    if VERSION >= (2, 4):
        status_list.add("F3:F50")
        channel_list.add("D3:D50")
    else:
        status_list.ranges.append("F3:F50")
        channel_list.ranges.append("D3:D50")
    cases.add_data_validation(status_list)
    cases.add_data_validation(channel_list)

    if VERSION >= (2, 4):
        from openpyxl.worksheet.table import Table, TableStyleInfo

        last = openpyxl.utils.get_column_letter(len(headers))
        table = Table(displayName="CaseTable", ref="A2:{}{}".format(last, 2 + len(spec["rows"])))
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        cases.add_table(table)

    for r, line in enumerate(spec["lists"], start=1):
        for c, value in enumerate(line, start=1):
            if value is not None:
                lists.cell(row=r, column=c).value = value
    add_name(book, "ChannelList", lists, "$A$2:$A$5")

    summary.cell(row=1, column=1).value = "Case counts"
    summary.cell(row=1, column=1).fill = fill("C6EFCE")
    summary.merge_cells("A1:B1")
    for r, (label, formula, _cached) in enumerate(spec["summary"], start=2):
        summary.cell(row=r, column=1).value = label
        # openpyxl never stores a formula's result: these cells have no cached value.
        summary.cell(row=r, column=2).value = formula
    if VERSION >= (2, 5):
        from openpyxl.chart import BarChart, Reference

        chart = BarChart()
        chart.title = "Cases by status"
        chart.add_data(Reference(summary, min_col=2, min_row=2, max_row=4))
        chart.set_categories(Reference(summary, min_col=1, min_row=2, max_row=4))
        summary.add_chart(chart, "D2")
    if "--lock-structure" in sys.argv[2:]:
        from openpyxl.workbook.protection import WorkbookProtection

        book.security = WorkbookProtection(lockStructure=True)
    book.save(out)


if __name__ == "__main__":
    main()
