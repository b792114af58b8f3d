"""Render the README pictures from real caseloop output: each generated tab to a PNG.

Run from the repo root after the demo (needs LibreOffice, poppler-utils, Pillow and a CJK font
such as Debian's fonts-wqy-microhei):
    python docs/render_pictures.py out/case_log.xlsx
It copies one tab at a time into a scratch workbook (the demo output is never changed), prints
it to PDF with LibreOffice headless and turns the first page into docs/<tab>.png.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl
from PIL import Image, ImageChops

TABS = {"Status": "status.png", "Weekly Summary": "weekly_summary.png"}


def render(workbook: Path, tab: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "tab.xlsx"
        shutil.copy(workbook, copy)
        book = openpyxl.load_workbook(copy)
        for name in book.sheetnames:
            if name != tab:
                del book[name]
        sheet = book[tab]
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A3
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        book.save(copy)
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "pdf", "--outdir", scratch, str(copy)],
            check=True,
            capture_output=True,
            timeout=180,
        )
        pdf = Path(scratch) / "tab.pdf"
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "150",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(pdf),
                str(target.with_suffix("")),
            ],
            check=True,
            timeout=120,
        )
    trim(target)


def trim(png: Path, margin: int = 12) -> None:
    """Cut the empty page around the printed tab."""
    image = Image.open(png).convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    box = ImageChops.difference(image, background).getbbox()
    if box:
        left, top, right, bottom = box
        image = image.crop(
            (
                max(0, left - margin),
                max(0, top - margin),
                min(image.width, right + margin),
                min(image.height, bottom + margin),
            )
        )
    image.save(png, optimize=True)


def main() -> None:
    workbook = Path(sys.argv[1] if len(sys.argv) > 1 else "out/case_log.xlsx")
    for tab, name in TABS.items():
        render(workbook, tab, Path(__file__).parent / name)
        print(f"docs/{name}")


if __name__ == "__main__":
    main()
