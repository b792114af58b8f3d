"""Measure sync with a year of History against sync without it; add the result to RESULTS.md.

    python benchmarks/history.py [--cases 20000] [--runs 3]

The log is make_log.py's (the same seed and --now as run.py). The year of History is written
through caseloop's own library: for every case opened in the 365 days before --now, the rows a
sync every few minutes would have recorded (new, Amazon answered, followed up, flag changes,
resolved or closed), the newest row of each case holding the state judged now, so the measured
sync finds what a scheduled sync finds: a long History and little news.

Measured twice with History: reading the tab (the first sync after the file was saved by
something other than caseloop), and with the read cache a sync leaves in .caseloop-backup/ (a
scheduled sync after caseloop's own previous one: the source is a copy written by one sync).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

from make_log import AS_OF, SEED, write_log  # noqa: E402
from run import RSS_METHOD, caseloop_command, log, measure  # noqa: E402

from caseloop.engine import Settings, judge, load  # noqa: E402
from caseloop.history import COLUMNS, History, render_history, seen_text, snapshot  # noqa: E402
from caseloop.history_cache import cache_files  # noqa: E402

NOW = AS_OF.strftime("%Y-%m-%dT%H:%M")
RESULTS = HERE / "RESULTS.md"
MARKER = "## History (issue 13)"
FLAGS = ("ON TRACK", "DUE SOON", "OVERDUE", "OUR TURN", "ESCALATE", "NEEDS INFO")


def year_of_history(log_path: Path) -> History:
    """The History a year of syncs would have written for the log (see the module's note)."""
    settings = Settings(log=str(log_path), now=NOW)
    loaded = load(settings)
    try:
        judged = judge(loaded, settings)
    finally:
        loaded.workbook.close()
    now = snapshot(judged)
    as_of = pd.Timestamp(AS_OF)
    since = as_of - pd.Timedelta(days=365)
    rng = random.Random(SEED)
    rows = []
    for case_id, state in now.iterrows():
        opened_at = judged["Opened At"].iloc[state["order"]]
        if pd.isna(opened_at) or opened_at < since:
            continue
        end = judged["Resolved At"].iloc[state["order"]]
        end = as_of if pd.isna(end) or end > as_of else end
        span = max((end - opened_at).total_seconds(), 60.0)
        steps = ["new", "replied", "flag", "followed_up", "flag", "replied", "flag"]
        if state["status"] in ("Resolved", "Closed"):
            steps.append(state["status"].lower())
        times = sorted(opened_at + pd.Timedelta(seconds=rng.uniform(0, span)) for _ in steps)
        times[0] = opened_at
        flag = "ON TRACK"
        for step, moment in zip(steps, times, strict=True):
            before = flag
            if step == "flag":
                flag = rng.choice(FLAGS)
            rows.append(
                {
                    "as_of": moment.floor("min"),
                    "case_id": case_id,
                    "change": step,
                    "from": before if step == "flag" else None,
                    "to": flag if step in ("flag", "new") else None,
                    "flag": flag,
                    "owner": state["owner"],
                    "notified": "",
                    "services": "",
                    "state": {**state.to_dict(), "flag": flag, "status": "Open"},
                }
            )
        # The newest row holds what is judged now: the measured sync finds little news.
        rows[-1]["state"] = state.to_dict()
        rows[-1]["flag"] = state["flag"] or None
    frame = pd.DataFrame(rows)
    states = pd.DataFrame(list(frame.pop("state")))
    frame["seen"] = seen_text(states).to_numpy()
    frame = frame.sort_values("as_of", ascending=False, kind="stable").reset_index(drop=True)
    return History(frame[[*COLUMNS, "services"]], started=since)


def with_history(log_path: Path, out: Path) -> int:
    """A copy of the log with a year of History in it (written by caseloop's Excel backend)."""
    history = year_of_history(log_path)
    settings = Settings(log=str(log_path), now=NOW, output=str(out))
    loaded = load(settings, for_writing=True)
    model = render_history(
        history,
        settings.rules,
        settings.labels,
        "en",
        AS_OF,
        settings.rules.history_keep_days,
    )
    loaded.workbook.write_tabs([model])
    return len(history.rows)


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        plain = work / "plain.xlsx"
        log(f"generating {args.cases:,} cases")
        write_log(args.cases, plain)
        kept = work / "history.xlsx"
        started = time.perf_counter()
        rows = with_history(plain, kept)
        log(f"a year of History: {rows:,} rows ({time.perf_counter() - started:.1f} s)")
        caseloop = caseloop_command()
        # One sync writes a copy, and the read cache of its History tab beside it.
        cached = work / "cached.xlsx"
        measure([caseloop, "sync", str(kept), "--now", NOW, "--output", str(cached)], work)
        if not all(f.exists() for f in cache_files(cached)):
            raise SystemExit("the sync wrote no History read cache; nothing to measure")
        sources = (("without", plain), ("with", kept), ("cached", cached))
        walls: dict[str, list[float]] = {name: [] for name, _ in sources}
        cpus: dict[str, list[float]] = {name: [] for name, _ in sources}
        for run in range(args.runs + 1):  # the first pass warms caches and is not counted
            for name, source in sources:
                out = work / f"out-{name}.xlsx"
                out.unlink(missing_ok=True)
                argv = [caseloop, "sync", str(source), "--now", NOW, "--output", str(out)]
                before = children_cpu()
                sample = measure(argv, work)
                cpu = children_cpu() - before
                if run:
                    walls[name].append(sample.wall)
                    cpus[name].append(cpu)
                log(
                    f"run {run}/{args.runs} sync {name} History: {sample.wall:.2f} s, cpu {cpu:.2f} s"
                )
    without, with_, cached_ = (statistics.median(walls[k]) for k in ("without", "with", "cached"))
    # The fastest run's CPU time is the measure: on a shared machine both wall and CPU time
    # grow with the load of others (caches, clock), and that noise only ever adds.
    cpu_without, cpu_with, cpu_cached = (min(cpus[k]) for k in ("without", "with", "cached"))
    ratio, ratio_cached = cpu_with / cpu_without, cpu_cached / cpu_without
    section = [
        MARKER,
        "",
        f"Generated by `benchmarks/history.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" RSS method {RSS_METHOD}). `caseloop sync LOG --now {NOW} --output OUT` on the"
        f" {args.cases:,}-case log of make_log.py, with no History tab (the first run: it writes"
        f" the baseline) and with a year of History ({rows:,} rows: every case opened in the"
        " 365 days before --now with the changes a scheduled sync would have recorded). Median"
        f" of {args.runs} runs after one warm-up, each a fresh process. CPU is the process's"
        " user + system time (getrusage of the finished children); the ratio is that of the"
        " fastest runs' CPU time, as on a shared machine both wall and CPU time grow with the"
        " load of others and that noise only adds.",
        "",
        "| sync | CPU, fastest (s) | wall, median (s) | CPU runs (s) | wall runs (s) |",
        "|---|---:|---:|---|---|",
        *(
            f"| {label} | {min(cpus[key]):.2f} | {statistics.median(walls[key]):.2f}"
            f" | {', '.join(f'{c:.2f}' for c in cpus[key])}"
            f" | {', '.join(f'{w:.2f}' for w in walls[key])} |"
            for key, label in (
                ("without", "without History"),
                ("with", "with a year of History, tab read"),
                ("cached", "with a year of History, read cache"),
            )
        ),
        "",
        f"With the read cache (a sync after caseloop's own previous sync): ratio"
        f" {ratio_cached:.2f}× in CPU time ({cached_ / without:.2f}× in median wall time);"
        f" target ≤ 1.25×: {'met' if ratio_cached <= 1.25 else 'NOT met'}. Reading the tab"
        f" (the first sync after the file was saved by anything else): {ratio:.2f}× in CPU time"
        f" ({with_ / without:.2f}× in median wall time): {'met' if ratio <= 1.25 else 'NOT met'}.",
        "",
    ]
    text = RESULTS.read_text(encoding="utf-8")
    if MARKER in text:
        head, _, rest = text.partition(MARKER)
        tail = rest.split("\n## ", 1)
        text = head + "\n".join(section) + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(section)
    RESULTS.write_text(text, encoding="utf-8")
    print(
        f"sync without History {cpu_without:.2f} s CPU, with {cpu_with:.2f} s: {ratio:.2f}×;"
        f" with the read cache {cpu_cached:.2f} s: {ratio_cached:.2f}×"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
