// Write the corpus team workbook with SheetJS (the npm "xlsx" package, community edition).
// Run by make_corpus.py as `node sheetjs_book.js OUT.xlsx < book.json` with NODE_PATH set to a
// folder where `npm install xlsx@VERSION` was run. The community edition writes no cell styles
// and no data validation; it does write merges, comments, defined names and formulas with
// their cached values.
const fs = require("fs");
const XLSX = require("xlsx");

const spec = JSON.parse(fs.readFileSync(0, "utf8"));
const out = process.argv[2];
const dateColumns = new Set(spec.date_columns);

// Excel's serial day number of a wall-clock time (the team's own time, no zone).
function serial(iso) {
  const [d, t] = iso.split("T");
  const [y, m, day] = d.split("-").map(Number);
  const [hh, mm, ss] = t.split(":").map(Number);
  return (Date.UTC(y, m - 1, day, hh, mm, ss) - Date.UTC(1899, 11, 30)) / 86400000;
}

const cases = XLSX.utils.aoa_to_sheet([[spec.title], spec.headers]);
spec.rows.forEach((row, i) => {
  row.forEach((value, c) => {
    if (value === null) return;
    const ref = XLSX.utils.encode_cell({ r: i + 2, c });
    if (value === "#N/A") {
      cases[ref] = { t: "e", v: 0x2a }; // SheetJS's code for #N/A
    } else if (dateColumns.has(spec.headers[c])) {
      cases[ref] = { t: "n", v: serial(value), z: "yyyy-mm-dd hh:mm" };
    } else if (typeof value === "number") {
      cases[ref] = { t: "n", v: value };
    } else {
      cases[ref] = { t: "s", v: value };
    }
  });
});
cases["!ref"] = XLSX.utils.encode_range({
  s: { r: 0, c: 0 },
  e: { r: spec.rows.length + 1, c: spec.headers.length - 1 },
});
cases["!merges"] = [{ s: { r: 0, c: 0 }, e: { r: 0, c: 5 } }];
cases["A2"].c = [{ a: "Team lead", t: spec.comment }];
cases["!cols"] = [{ wch: 14 }];

const lists = XLSX.utils.aoa_to_sheet(spec.lists);

const summary = XLSX.utils.aoa_to_sheet([["Case counts"]]);
spec.summary.forEach(([label, formula, cached], i) => {
  summary[XLSX.utils.encode_cell({ r: i + 1, c: 0 })] = { t: "s", v: label };
  summary[XLSX.utils.encode_cell({ r: i + 1, c: 1 })] = { t: "n", v: cached, f: formula.slice(1) };
});
summary["!ref"] = `A1:B${spec.summary.length + 1}`;
summary["!merges"] = [{ s: { r: 0, c: 0 }, e: { r: 0, c: 1 } }];

const archive = XLSX.utils.aoa_to_sheet([["Old cases moved here by hand"], ["12345600001", "Closed"]]);

const book = XLSX.utils.book_new();
XLSX.utils.book_append_sheet(book, cases, "Cases");
XLSX.utils.book_append_sheet(book, lists, "Lists");
XLSX.utils.book_append_sheet(book, summary, "Summary");
XLSX.utils.book_append_sheet(book, archive, "Archive");
book.Workbook = {
  Names: [{ Name: "ChannelList", Ref: "Lists!$A$2:$A$5" }],
  Sheets: [{ Hidden: 0 }, { Hidden: 0 }, { Hidden: 0 }, { Hidden: 1 }],
};
XLSX.writeFile(book, out, { bookType: "xlsx", compression: true });
