"""The cost of the answer base: `report` at 20k cases with 5,000 resolved, with and without the
Answers tab (and `sync` with and without drafts); prints a Markdown table for RESULTS.md."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

import make_log  # noqa: E402
from make_log import AS_OF, write_log  # noqa: E402

NOW = AS_OF.strftime("%Y-%m-%dT%H:%M")


def with_resolved(n: int, resolved: int) -> Callable[..., tuple[list[dict], int]]:
    """make_log's cases with only the first ``resolved`` resolved ones kept Resolved (the rest
    Closed, as a team closes a case Amazon did not fix)."""
    original = make_log.case_rows

    def rows(count: int, seed: int = make_log.SEED) -> tuple[list[dict], int]:
        cases, open_cases = original(count, seed)
        kept = 0
        for case in cases:
            if case.get("Status") == "Resolved":
                kept += 1
                if kept > resolved:
                    case["Status"] = "Closed"
                    case.pop("Resolution", None)
        if kept < resolved:
            raise SystemExit(f"only {kept} resolved cases in {count}; ask for fewer")
        return cases, open_cases

    return rows


def run_report(log: Path, out: Path, answers: bool) -> float:
    from caseloop.engine import Settings, answers_model, load, weekly, weekly_model, write

    start = time.process_time()
    settings = Settings(log=str(log), now=NOW, output=str(out))
    loaded = load(settings, for_writing=True)
    models = [weekly_model(weekly(loaded, settings, None), settings)]
    if answers:
        models.append(answers_model(loaded, settings))
    write(loaded, models)
    return time.process_time() - start


def run_sync(log: Path, out: Path, drafts: bool) -> float:
    from caseloop.engine import Settings, load, status_model, write

    start = time.process_time()
    settings = Settings(log=str(log), now=NOW, output=str(out))
    loaded = load(settings, for_writing=True)
    model, _ = status_model(loaded, settings, drafts=drafts)
    write(loaded, [model])
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--resolved", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    make_log.case_rows = with_resolved(args.cases, args.resolved)
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "log.xlsx"
        write_log(args.cases, log)
        from caseloop.engine import Settings, answer_base, load

        settings = Settings(log=str(log), now=NOW)
        base = answer_base(load(settings), settings)
        runs: dict[str, list[float]] = {
            k: [] for k in ("report", "report+answers", "sync --no-drafts", "sync")
        }
        for i in range(args.repeat):  # alternate, so a slow moment of the machine hits both
            out = Path(scratch) / f"out{i}.xlsx"
            runs["report"].append(run_report(log, out, answers=False))
            runs["report+answers"].append(run_report(log, out, answers=True))
            runs["sync --no-drafts"].append(run_sync(log, out, drafts=False))
            runs["sync"].append(run_sync(log, out, drafts=True))
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(
        f"{args.cases} cases, {base.resolved} resolved → {len(base.problems)} problems, "
        f"{len(base.missing)} without an answer, {len(base.last_time)} open cases with a "
        f"Last time note; median CPU seconds of {args.repeat} runs in one process "
        "(CPU time, not wall time: the machine is shared, and CPU time is what the answer base adds).\n"
    )
    print("| run | median CPU s | runs (CPU s) |\n|---|---:|---|")
    for name, values in runs.items():
        print(f"| {name} | {median[name]:.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    print(
        f"\nreport+answers / report = {median['report+answers'] / median['report']:.2f}×; "
        f"sync / sync --no-drafts = {median['sync'] / median['sync --no-drafts']:.2f}×"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
