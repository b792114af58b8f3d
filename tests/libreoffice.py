"""Drive a real LibreOffice (headless) from tests: edit tabs by a Basic macro, convert to csv or xlsx.

Basic needs no extra package (python3-uno is not required): the macro is written into a fresh
user profile's "My Macros", which LibreOffice trusts, and run through a macro:/// URL.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

MODULE = """
Sub Edit(src As String, dst As String, steps As String)
  Dim load(0) As New com.sun.star.beans.PropertyValue
  load(0).Name = "Hidden" : load(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(src), "_blank", 0, load())
  sheets = doc.Sheets
  For Each stepText In Split(steps, ";")
    p = Split(stepText, "|")
    Select Case p(0)
      Case "rename"
        sheets.getByName(p(1)).Name = p(2)
      Case "move"
        sheets.moveByName(p(1), CInt(p(2)))
      Case "delete"
        sheets.removeByName(p(1))
      Case "insert"
        sheets.insertNewByName(p(1), CInt(p(2)))
        sheets.getByName(p(1)).getCellByPosition(0, 0).setString(p(3))
      Case "type"
        ' As a person types it: setFormula reads numbers and dates (en-US) as values.
        sheets.getByName(p(1)).getCellRangeByName(p(2)).setFormula(p(3))
    End Select
  Next
  Dim store(0) As New com.sun.star.beans.PropertyValue
  store(0).Name = "FilterName" : store(0).Value = "Calc MS Excel 2007 XML"
  doc.storeToURL(ConvertToURL(dst), store())
  doc.close(True)
End Sub
"""

# Comma-separated, UTF-8, formatted as shown, every sheet into its own file (name-Sheet.csv).
CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"


def available() -> bool:
    return shutil.which("soffice") is not None


class LibreOffice:
    """One private LibreOffice profile holding the editing macro."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.profile = f"-env:UserInstallation=file://{folder}/lo-profile"
        self._run(["--terminate_after_init"])
        module = folder / "lo-profile/user/basic/Standard/Module1.xba"
        module.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<script:module xmlns:script="http://openoffice.org/2000/script" '
            'script:name="Module1" script:language="StarBasic">'
            + escape(MODULE)
            + "</script:module>",
            encoding="utf-8",
        )

    def _run(self, args: list[str]) -> None:
        subprocess.run(
            ["soffice", self.profile, "--headless", *args],
            check=True,
            capture_output=True,
            timeout=240,
        )

    def edit(self, source: Path, target: Path, *steps: str) -> bytes:
        """Open ``source``, apply steps ("rename|Old|New", "move|Tab|0", "delete|Tab",
        "insert|Tab|position|A1 text", "type|Tab|B2|text"), save as .xlsx at ``target``; its
        bytes."""
        for value in (str(source), str(target), *steps):
            assert '"' not in value and ";" not in value
        self._run([f'macro:///Standard.Module1.Edit("{source}","{target}","{";".join(steps)}")'])
        return target.read_bytes()

    def convert(self, source: Path, to: str) -> Path:
        """Convert ``source`` with a --convert-to filter into a fresh folder; that folder."""
        out = self.folder / f"out-{to.split(':')[0]}-{source.stem}"
        self._run(["--convert-to", to, "--outdir", str(out), str(source)])
        return out

    def sheet_csv(self, source: Path, sheet: str) -> str:
        """The text LibreOffice shows on one tab of ``source``, as csv."""
        out = self.convert(source, CSV_ALL_SHEETS)
        return (out / f"{source.stem}-{sheet}.csv").read_text(encoding="utf-8")
