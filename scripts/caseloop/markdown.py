"""The weekly report as GitHub-flavoured Markdown, for pasting into WeCom, Feishu, Slack or e-mail."""

from __future__ import annotations

import datetime as dt

from .config import Labels, Rules
from .render import COLUMN_FORMATS, weekly_sections, weekly_title
from .weekly import WeeklyReport

# Characters that would turn a cell into Markdown structure or a spreadsheet formula on paste.
_ESCAPES = str.maketrans({"|": "\\|", "\n": " ", "\r": " ", "\t": " "})


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.0f}" if COLUMN_FORMATS.get(column) == "0" else f"{value:.1f}"
    text = str(value).translate(_ESCAPES)
    # Text a spreadsheet would read as a formula when the table is pasted into one. Markdown
    # trims a cell, so a tab or return before the "=" (now a space) does not protect it.
    if text.lstrip()[:1] in ("=", "+", "-", "@"):
        text = "'" + text.lstrip()
    return text


def weekly_markdown(
    report: WeeklyReport, rules: Rules, labels: Labels, lang: str, generated_at: dt.datetime
) -> str:
    lines = [f"## {weekly_title(report, rules, labels, lang, generated_at)}", ""]
    if report.not_counted:
        lines += [labels.get("weekly_text", "not_counted", lang).format(n=report.not_counted), ""]
    for section in weekly_sections(report, rules, labels, lang):
        lines += [f"### {section.title}", ""]
        if section.note:
            lines += [f"_{section.note}_", ""]
        if not section.rows:
            lines += [labels.get("weekly_text", "none", lang), ""]
            continue
        numeric = [
            all(isinstance(r[i], int | float) or r[i] is None for r in section.rows)
            for i in range(len(section.columns))
        ]
        lines.append("| " + " | ".join(h.translate(_ESCAPES) for h in section.headers) + " |")
        lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
        for row in section.rows:
            cells = [_cell(c, v) for c, v in zip(section.columns, row, strict=True)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
