// Write the corpus team workbook with exceljs.
// Run by make_corpus.py as `node exceljs_book.js OUT.xlsx < book.json` with NODE_PATH set to a
// folder where `npm install exceljs@VERSION` was run. exceljs writes styles, merges, notes,
// data validation, defined names, an Excel Table, an image and formulas with their results.
const fs = require("fs");
const ExcelJS = require("exceljs");

const spec = JSON.parse(fs.readFileSync(0, "utf8"));
const out = process.argv[2];
const dateColumns = new Set(spec.date_columns);
const png = Buffer.from(spec.png_base64, "base64");

// exceljs stores a Date as its UTC wall clock: give it the team's wall-clock time as UTC.
function wallClock(iso) {
  return new Date(iso + "Z");
}

function solid(argb) {
  return { type: "pattern", pattern: "solid", fgColor: { argb } };
}

async function main() {
  const book = new ExcelJS.Workbook();
  book.creator = "caseloop corpus";
  book.created = new Date(Date.UTC(2026, 10, 1));
  book.modified = book.created;
  const cases = book.addWorksheet("Cases", { views: [{ state: "frozen", ySplit: 2 }] });
  const lists = book.addWorksheet("Lists");
  const summary = book.addWorksheet("Summary");

  cases.getCell("A1").value = spec.title;
  cases.getCell("A1").font = { bold: true, size: 14 };
  cases.getCell("A1").fill = solid("FFFFF2CC");
  cases.mergeCells("A1:F1");
  cases.addTable({
    name: "CaseTable",
    ref: "A2",
    headerRow: true,
    style: { theme: "TableStyleLight9", showRowStripes: true },
    // A totals row, as a team adds one in Excel: a label and the sum of follow-ups.
    totalsRow: true,
    columns: spec.headers.map((name, c) =>
      c === 0
        ? { name, totalsRowLabel: "Total" }
        : name === "Follow-ups"
          ? { name, totalsRowFunction: "sum" }
          : { name },
    ),
    rows: spec.rows.map((row) =>
      row.map((value, c) => {
        if (value === "#N/A") return { formula: "NA()", result: { error: "#N/A" } };
        return value !== null && dateColumns.has(spec.headers[c]) ? wallClock(value) : value;
      }),
    ),
  });
  spec.headers.forEach((name, c) => {
    if (dateColumns.has(name)) cases.getColumn(c + 1).numFmt = "yyyy-mm-dd hh:mm";
  });
  cases.getColumn(1).width = 16;
  cases.getCell("A2").note = spec.comment;
  for (let r = 3; r < 3 + spec.rows.length; r++) {
    cases.getCell(`F${r}`).dataValidation = {
      type: "list",
      allowBlank: true,
      formulae: ['"Open,Resolved,Closed"'],
    };
    cases.getCell(`D${r}`).dataValidation = { type: "list", allowBlank: true, formulae: ["ChannelList"] };
  }

  spec.lists.forEach((line, r) =>
    line.forEach((value, c) => {
      if (value !== null) lists.getCell(r + 1, c + 1).value = value;
    }),
  );
  book.definedNames.add("Lists!$A$2:$A$5", "ChannelList");

  summary.getCell("A1").value = "Case counts";
  summary.getCell("A1").fill = solid("FFC6EFCE");
  summary.mergeCells("A1:B1");
  spec.summary.forEach(([label, formula, cached], i) => {
    summary.getCell(i + 2, 1).value = label;
    summary.getCell(i + 2, 2).value = { formula: formula.slice(1), result: cached };
  });
  const image = book.addImage({ buffer: png, extension: "png" });
  summary.addImage(image, "D2:E4");

  await book.xlsx.writeFile(out);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
