"""Write a large, realistic, deterministic case log (.xlsx) for the benchmark: make_log.py N OUT."""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import xlsxwriter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "sample_data"))

# The vocabulary of the sample log (stores, owners, categories, Amazon's answers), so both read
# alike; this script only makes it long.
from make_samples import (  # noqa: E402
    ALNUM,
    CAT_WEIGHTS,
    CH_WEIGHTS,
    MKT_WEIGHTS,
    ORDER_PREFIX,
    OWNERS,
    REPLY_TARGET,
    SCENARIOS,
    SELLER_CENTRAL_OPEN,
    STORES,
)

SEED = 20261120
AS_OF = datetime(2026, 11, 20, 18, 0)  # team-local (Asia/Shanghai), naive, like --now
HISTORY_DAYS = 730  # two years of cases, ending at AS_OF
OPEN_SHARE = 0.05
CREATED = datetime(2024, 11, 20, 9, 0)  # fixed workbook properties: same bytes on every run
SCHEMA = REPO / "sheets_schema" / "case_log.schema.json"
TEAM_COLUMN = "Team Notes"  # a column of the team's own, which caseloop must leave alone
TEAM_NOTES = ["call back after 21:00", "screenshots in shared drive", "boss wants daily update"]
# The evidence column each category needs (spec §5), which the team fills in nearly always.
EVIDENCE = {
    "Listing": "ASIN",
    "IP complaint": "ASIN",
    "FBA inventory": "ASIN",
    "FBA shipment": "Shipment ID",
    "Orders & returns": "Order ID",
}


def headers() -> list[str]:
    """Every column of spec §4, spelled as the schema's English names, then the team's own."""
    fields = json.loads(SCHEMA.read_text(encoding="utf-8"))["fields"]
    return [f["name"] for f in fields] + [TEAM_COLUMN]


def date_columns() -> set[str]:
    fields = json.loads(SCHEMA.read_text(encoding="utf-8"))["fields"]
    return {f["name"] for f in fields if f["type"] == "datetime"}


@dataclass
class LogStats:
    """What was written, for the runner to report."""

    cases: int
    open_cases: int
    numeric_ids: int
    path: Path


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(length))


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _opened_times(rng: random.Random, n: int) -> list[datetime]:
    """Sorted opening times over two years, in office hours more often than at night."""
    start = AS_OF - timedelta(days=HISTORY_DAYS)
    span_days = HISTORY_DAYS - 1
    times = []
    for _ in range(n):
        day = start + timedelta(days=rng.randrange(span_days))
        hour = rng.choice([9, 10, 10, 11, 14, 15, 15, 16, 17, 20, 21, 23])
        times.append(_minute(day + timedelta(hours=hour, minutes=rng.randrange(60))))
    times.sort()
    return times


def _pools(rng: random.Random, n: int) -> dict[str, list[str]]:
    """Small pools of IDs, so the same ASIN or order comes back and recurring problems occur."""
    size = max(30, n // 25)
    prefixes = sorted({p for options in ORDER_PREFIX.values() for p in options})
    return {
        "ASIN": ["B0" + _code(rng, 8) for _ in range(size)],
        "Order ID": [
            f"{rng.choice(prefixes)}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
            for _ in range(size * 3)
        ],
        "Shipment ID": ["FBA" + _code(rng, 9) for _ in range(size)],
    }


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def case_rows(n: int, seed: int = SEED) -> tuple[list[dict[str, Any]], int]:
    """The cases as dicts (column → value; datetimes for date cells); and how many are open."""
    rng = random.Random(seed)
    opened = _opened_times(rng, n)
    work_hours = [min(24 * 120, rng.lognormvariate(math.log(60), 1.1)) for _ in range(n)]
    open_set = _choose_open(rng, opened, work_hours)
    pools = _pools(rng, n)
    rows: list[dict[str, Any]] = []
    base_id = 15_000_000_000
    for i in range(n):
        start = opened[i]
        marketplace = _pick(rng, MKT_WEIGHTS)
        channel = _pick(rng, CH_WEIGHTS)
        category = _pick(rng, CAT_WEIGHTS)
        summary, responses, resolution = rng.choice(SCENARIOS[category])
        is_open = i in open_set
        if is_open:
            end = AS_OF - timedelta(minutes=1)
        else:
            end = min(start + _h(work_hours[i]), AS_OF - timedelta(minutes=1))
        age_hours = (end - start).total_seconds() / 3600
        case_id: str | int
        if channel in ("Phone", "Chat") and rng.random() < 0.08:
            case_id = f"{channel[:2].upper()}-{start:%Y%m%d}-{i:06d}"  # the team's own ID
        elif rng.random() < 0.5:
            case_id = base_id + i * 37 + rng.randrange(37)  # stored as a number, as pasted
        else:
            case_id = str(base_id + i * 37 + rng.randrange(37))
        row: dict[str, Any] = {
            "Case ID": case_id,
            "Marketplace": marketplace,
            "Store": rng.choice(STORES[marketplace]),
            "Category": category,
            "Channel": channel,
            "Priority": rng.choice(["High", "Low", "Normal"]) if rng.random() < 0.3 else None,
            "Opened At": start,
            "Owner": rng.choice(OWNERS),
            TEAM_COLUMN: rng.choice(TEAM_NOTES) if rng.random() < 0.1 else None,
        }
        for column in ("ASIN", "Order ID", "Shipment ID"):
            needed = EVIDENCE.get(category) == column
            share = 0.95 if needed else (0.15 if column == "ASIN" else 0.05)
            if rng.random() < share:
                row[column] = rng.choice(pools[column])
        row["Summary"] = summary.format(
            asin=row.get("ASIN", "our ASIN"),
            order=row.get("Order ID", "the order"),
            shp=row.get("Shipment ID", "our shipment"),
            mkt=marketplace,
        )
        target = REPLY_TARGET[channel]
        reply_after = target * rng.uniform(0.1, 1.6)
        follow_ups = rng.choices([0, 1, 2, 3, 4], weights=[55, 25, 12, 5, 3])[0]
        replied = reply_after < age_hours and rng.random() < 0.92
        last_sent = start
        if replied:
            first_reply = start + _h(reply_after)
            row["First Reply At"] = _minute(first_reply)
            last_reply = first_reply
            if follow_ups:
                span = (end - first_reply).total_seconds() / 3600
                last_sent = first_reply + _h(span * rng.uniform(0.1, 0.6))
                if rng.random() < 0.6:
                    last_reply = last_sent + _h(span * rng.uniform(0.0, 0.35))
            row["Last Reply At"] = _minute(min(last_reply, end))
            row["Amazon Response"] = rng.choice(responses)
        elif follow_ups:
            last_sent = start + _h(age_hours * rng.uniform(0.3, 0.9))
        if follow_ups or rng.random() < 0.5:
            row["Last Sent At"] = _minute(max(start, min(last_sent, end)))
        row["Follow-ups"] = follow_ups
        if rng.random() < 0.08:  # an A-to-z answer window or a chargeback deadline
            row["Deadline"] = start + _h(rng.choice([72, 168]))
        if i > 50 and rng.random() < 0.03:
            earlier = rows[i - rng.randrange(1, 50)]
            row["Related Cases"] = str(earlier["Case ID"])
        if is_open:
            # Seller Central's own labels count as Open (spec §4).
            row["Status"] = "Open" if rng.random() < 0.7 else rng.choice(SELLER_CENTRAL_OPEN)
        else:
            closed = rng.random() < 0.15
            row["Status"] = "Closed" if closed else "Resolved"
            row["Resolved At"] = _minute(end)
            if not closed and rng.random() < 0.98:
                row["Resolution"] = resolution
        rows.append(row)
    return rows, len(open_set)


def _choose_open(rng: random.Random, opened: list[datetime], hours: list[float]) -> set[int]:
    """Cases still open at AS_OF: those whose work outlasts AS_OF, topped up with forgotten ones.

    Forgotten cases are mostly recent: a weighted sample without replacement (Efraimidis and
    Spirakis keys), weight falling with age.
    """
    natural = {i for i, (o, h) in enumerate(zip(opened, hours, strict=True)) if o + _h(h) > AS_OF}
    target = round(OPEN_SHARE * len(opened))
    keyed: list[tuple[float, int]] = []
    for i, moment in enumerate(opened):
        if i in natural:
            continue
        weight = 1.0 / (1.0 + (AS_OF - moment).days / 30.0)
        keyed.append((rng.random() ** (1.0 / weight), i))
    keyed.sort(reverse=True)
    extra = max(0, target - len(natural))
    return natural | {i for _, i in keyed[:extra]}


def write_log(n: int, path: Path, seed: int = SEED) -> LogStats:
    """Write N cases to ``path`` as a real workbook: Cases tab plus a team tab of templates."""
    rows, open_cases = case_rows(n, seed)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    book.set_properties({"title": "Case log", "author": "Seller ops", "created": CREATED})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("Cases")
    sheet.freeze_panes(1, 0)
    columns, dates = headers(), date_columns()
    for c, header in enumerate(columns):
        sheet.write_string(0, c, header, bold)
    numeric_ids = 0
    for r, row in enumerate(rows, start=1):
        for c, header in enumerate(columns):
            value = row.get(header)
            if value is None:
                continue
            if header in dates:
                sheet.write_datetime(r, c, value, stamp)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
                numeric_ids += header == "Case ID"
    team = book.add_worksheet("Templates")
    team.write_row(0, 0, ["Situation", "Message"], bold)
    team.write_row(1, 0, ["Escalate", "Please transfer this case to a supervisor (urgent)."])
    team.write_row(2, 0, ["Follow up", "Any update on this case? It is past the reply time."])
    team.write_row(3, 0, ["Callback", "Please call us back about the case below."])
    book.close()
    return LogStats(cases=n, open_cases=open_cases, numeric_ids=numeric_ids, path=path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cases", type=int, help="number of cases (rows) to write")
    parser.add_argument("out", type=Path, help="the .xlsx file to write")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("N must be at least 1")
    stats = write_log(args.cases, args.out, args.seed)
    print(
        f"wrote {stats.cases} cases ({stats.open_cases} open, {stats.numeric_ids} numeric IDs) "
        f"to {stats.path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
