"""Measure caseloop's commands against the calamine floor and the openpyxl round trip; write RESULTS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TESTS = REPO / "tests"
NOTES = HERE / "notes.md"
sys.path.insert(0, str(HERE))

from make_log import AS_OF, SEED, write_log  # noqa: E402

NOW = AS_OF.strftime("%Y-%m-%dT%H:%M")
DEFAULT_SIZES = (1_000, 10_000, 20_000, 100_000)
PACKAGES = (
    "caseloop",
    "pandas",
    "numpy",
    "python-calamine",
    "openpyxl",
    "xlsxwriter",
    "lxml",
    "click",
    "gspread",
    "google-auth",
    "requests",
    "pyinstrument",
)
GOOGLE_KEY = "1BenchmarkCaseLog_caseloop"

# The floor: read the Cases tab into Python values with calamine, nothing else.
FLOOR = """
import sys
from python_calamine import CalamineWorkbook
rows = CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_name("Cases").to_python()
"""

# What the spec warns against: load the team's workbook in openpyxl, add a coloured tab, save.
NAIVE = """
import sys
import openpyxl
from openpyxl.styles import PatternFill
source, target, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
book = openpyxl.load_workbook(source)
sheet = book.create_sheet("Status")
colours = ("C00000", "FF0000", "4472C4", "F4B183", "FFD966", "A9D08E", "D9D9D9", "BFBFBF")
fills = [PatternFill("solid", fgColor=c) for c in colours]
for r in range(1, rows + 1):
    fill = fills[r % len(fills)]
    for c in range(1, 15):
        sheet.cell(row=r, column=c, value=f"R{r}C{c}").fill = fill
book.save(target)
"""


@dataclass
class Sample:
    wall: float  # seconds
    peak_mb: float  # the child's own maximum resident set size


@dataclass
class Measured:
    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak_mb(self) -> float:
        return statistics.median(s.peak_mb for s in self.samples)

    @property
    def spread(self) -> str:
        walls = [s.wall for s in self.samples]
        return f"{min(walls):.2f}–{max(walls):.2f}"


@dataclass
class SizeResult:
    cases: int
    open_cases: int
    log_mb: float
    generate_s: float
    commands: dict[str, Measured]
    google: dict[str, Any] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Peak RSS must be the measured command's own. A child's ru_maxrss also counts the memory of
# the process that forked it (Linux keeps the pre-exec high-water mark), so this runner, which
# holds generated logs, must not be the direct parent: GNU time (a small C program) is, or failing
# that a bare Python wrapper started with -S, whose few MB then show in every figure.
GNU_TIME = Path("/usr/bin/time")
WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def rss_method() -> str:
    if GNU_TIME.exists():
        probe = subprocess.run(
            [str(GNU_TIME), "-f", "%M", "-o", os.devnull, "true"], capture_output=True
        )
        if probe.returncode == 0:
            return "gnu-time"
    return "python-wrapper"


def measure(argv: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> Sample:
    """Run ``argv`` in a fresh process; its wall time and its own peak RSS."""
    with tempfile.TemporaryDirectory() as scratch:
        rss_file = Path(scratch) / "maxrss"
        if RSS_METHOD == "gnu-time":
            wrapped = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *argv]
        else:
            wrapped = [sys.executable, "-S", "-c", WRAPPER, str(rss_file), *argv]
        errors = Path(scratch) / "stderr"
        with errors.open("wb") as err:
            started = time.perf_counter()
            code = subprocess.call(
                wrapped, cwd=cwd, env=CHILD_ENV, stdout=subprocess.DEVNULL, stderr=err
            )
            wall = time.perf_counter() - started
        if code not in ok_codes:
            text = errors.read_text("utf-8", "replace")[-2000:]
            raise SystemExit(f"{' '.join(argv)} exited {code}:\n{text}")
        # GNU time and Linux report KiB; macOS reports bytes in ru_maxrss.
        kib = int(rss_file.read_text().split()[-1])
        if sys.platform == "darwin" and RSS_METHOD == "python-wrapper":
            kib //= 1024
    return Sample(wall=wall, peak_mb=kib / 1024)


RSS_METHOD = rss_method()
# A scheduled sync runs with its bytecode cached; let the warm-up pass write it even where the
# shell says not to (the caches are git-ignored).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def caseloop_command() -> str:
    """The installed console script next to this interpreter (what a scheduler would run)."""
    beside = Path(sys.executable).parent / "caseloop"
    found = str(beside) if beside.exists() else shutil.which("caseloop")
    if not found:
        raise SystemExit("caseloop is not installed: pip install -r requirements-dev.txt")
    return found


def generator_tag() -> str:
    """Logs are cached per generator version, so an edited generator never reuses stale files."""
    return hashlib.sha256((HERE / "make_log.py").read_bytes()).hexdigest()[:8]


def commands(log_path: Path, out: Path, cases: int) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    """Every measured command: argv and the exit codes that mean it worked."""
    caseloop, python, now = caseloop_command(), sys.executable, ["--now", NOW]
    log_arg, out_arg = str(log_path), str(out)
    return {
        "validate": ([caseloop, "validate", log_arg, *now], (0, 1)),
        "sync": ([caseloop, "sync", log_arg, *now, "--output", out_arg], (0,)),
        "report": ([caseloop, "report", log_arg, *now, "--output", out_arg], (0,)),
        "--help": ([caseloop, "--help"], (0,)),
        "calamine floor": ([python, "-c", FLOOR, log_arg], (0,)),
        "openpyxl round trip": ([python, "-c", NAIVE, log_arg, out_arg, str(cases // 20)], (0,)),
    }


def bench_size(cases: int, runs: int, workdir: Path) -> SizeResult:
    log_path = workdir / f"cases-{cases}-{SEED}-{generator_tag()}.xlsx"
    started = time.perf_counter()
    stats_path = log_path.with_suffix(".json")
    if log_path.exists() and stats_path.exists():
        open_cases = json.loads(stats_path.read_text())["open_cases"]
    else:
        log(f"generating {cases:,} cases → {log_path.name}")
        open_cases = write_log(cases, log_path).open_cases
        stats_path.write_text(json.dumps({"open_cases": open_cases}))
    generate_s = time.perf_counter() - started
    out = workdir / f"out-{cases}.xlsx"
    todo = commands(log_path, out, cases)
    results = {name: Measured(name) for name in todo}
    for argv, ok in todo.values():  # one untimed pass: bytecode and page cache warm
        out.unlink(missing_ok=True)
        measure(argv, workdir, ok)
    for run in range(runs):
        for name, (argv, ok) in todo.items():
            out.unlink(missing_ok=True)
            sample = measure(argv, workdir, ok)
            results[name].samples.append(sample)
            log(
                f"{cases:>7,} run {run + 1}/{runs} {name:<20} {sample.wall:7.2f} s {sample.peak_mb:6.0f} MB"
            )
    out.unlink(missing_ok=True)
    return SizeResult(
        cases=cases,
        open_cases=open_cases,
        log_mb=log_path.stat().st_size / 1e6,
        generate_s=generate_s,
        commands=results,
    )


# --- Google Sheets: count requests against the project's fake ---------------------------------


@contextmanager
def fake_google(cases_rows: list[list[Any]]) -> Iterator[Any]:
    """The project's fake Sheets API on loopback, seeded with the cases as a person typed them."""
    from fakesheets import FakeSheetsServer

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    with FakeSheetsServer() as fake:
        book = fake.add_spreadsheet(GOOGLE_KEY, timezone="Asia/Shanghai")
        book.add_sheet("Cases", cases_rows)  # date cells become serials with a date format
        book.add_sheet("Templates", [["Situation", "Message"], ["Escalate", "Supervisor, please"]])
        yield fake


def google_requests(cases: int, workdir: Path) -> dict[str, Any]:
    """Requests per sync and per report (first run, then a run that replaces the tab), through
    the CLI in-process, with the fake's HTTP client handed over in Click's context object."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))  # the fake lives with the tests, as a top-level package
    from click.testing import CliRunner
    from python_calamine import CalamineWorkbook
    from test_gsheets_sync import authorized_user_file

    from caseloop.cli import main

    from fakesheets import fake_client_class

    log_path = next(workdir.glob(f"cases-{cases}-{SEED}-*.xlsx"))
    rows = CalamineWorkbook.from_path(str(log_path)).get_sheet_by_name("Cases").to_python()
    counts: dict[str, Any] = {}
    with fake_google(rows) as fake:
        url = f"https://docs.google.com/spreadsheets/d/{GOOGLE_KEY}/edit"
        common = ["--credentials", str(authorized_user_file(workdir)), "--now", NOW, "--quiet"]
        obj = {"http_client": fake_client_class(fake.url, request_timeout=120.0)}
        runner = CliRunner()
        for name, command in (
            ("sync", "sync"),
            ("sync again", "sync"),
            ("report", "report"),
            ("report again", "report"),
        ):
            fake.clear_log()
            started = time.perf_counter()
            result = runner.invoke(main, [command, url, *common], obj=obj)
            if result.exit_code != 0:
                raise SystemExit(
                    f"caseloop {command} on the fake exited {result.exit_code}: {result.output}"
                )
            counts[name] = {
                "requests": len(fake.log),
                "kinds": [r.kind for r in fake.log],
                "seconds": time.perf_counter() - started,
            }
            log(f"{cases:>7,} google {name:<13} {len(fake.log)} requests")
    return counts


# --- profile ----------------------------------------------------------------------------------

STAGES = (
    ("open the file (read bytes, open zip + calamine)", "excel.py", "__init__"),
    ("read the Cases tab (calamine to_python)", "excel.py", "read_tab"),
    ("type the cells, find problems (frame.py)", "frame.py", "build_frame"),
    ("judge the cases (rules.py)", "rules.py", "evaluate"),
    ("Status rows, notes, next actions (views.py)", "views.py", "status_view"),
    ("cells and styles (render.py)", "render.py", "render_status"),
    ("build the tab and splice the zip (xlsx/splice.py)", "xlsx/splice.py", "splice_tabs"),
    ("write temp file, rename (xlsx_file.py)", "xlsx_file.py", "commit_workbook"),
)


def profile_sync(cases: int, workdir: Path) -> dict[str, Any] | None:
    """pyinstrument's samples of one sync, as stage times and the heaviest functions."""
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        log("pyinstrument is not installed: no profile (pip install pyinstrument)")
        return None
    log_path = next(workdir.glob(f"cases-{cases}-{SEED}-*.xlsx"))
    report = workdir / f"profile-sync-{cases}.json"
    out = workdir / f"out-profile-{cases}.xlsx"
    out.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "pyinstrument",
        "-r",
        "json",
        "-p",
        "processor_options.filter_threshold=0",
        "-o",
        str(report),
        caseloop_command(),
        "sync",
        str(log_path),
        "--now",
        NOW,
        "--output",
        str(out),
    ]
    log(f"{cases:>7,} profiling sync with pyinstrument")
    subprocess.run(argv, cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    out.unlink(missing_ok=True)
    session = json.loads(report.read_text())
    return summarize_profile(session["root_frame"], session["duration"])


SPY_RATE = 250  # samples per second


def spy_lines(cases: int, workdir: Path) -> list[tuple[str, float, str]] | None:
    """py-spy's samples of one sync, by the innermost line of caseloop code on the stack (that
    line's own work plus the library calls it makes): (file:line function, seconds, source)."""
    search = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    spy = shutil.which("py-spy", path=search)
    if spy is None:
        log("py-spy is not installed: no line profile (pip install py-spy)")
        return None
    log_path = next(workdir.glob(f"cases-{cases}-{SEED}-*.xlsx"))
    raw = workdir / f"py-spy-sync-{cases}.txt"
    out = workdir / f"out-spy-{cases}.xlsx"
    out.unlink(missing_ok=True)
    argv = [spy, "record", "--format", "raw", "--rate", str(SPY_RATE), "-o", str(raw), "--"]
    argv += [caseloop_command(), "sync", str(log_path), "--now", NOW, "--output", str(out)]
    log(f"{cases:>7,} sampling sync with py-spy")
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True)
    out.unlink(missing_ok=True)
    if done.returncode != 0 or not raw.exists():
        log(f"py-spy could not sample (it needs ptrace permission): {done.stderr.strip()[-300:]}")
        return None
    by_line: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        ours = [f for f in stack.split(";") if "(caseloop/" in f]
        key = ours[-1] if ours else "(outside caseloop code: start-up, imports)"
        by_line[key] = by_line.get(key, 0) + int(count)
    rows = []
    for key, samples in sorted(by_line.items(), key=lambda kv: -kv[1])[:20]:
        function, _, where = key.rpartition(" (")
        where = where.rstrip(")")
        source = ""
        if ":" in where and where.startswith("caseloop/"):
            file_name, _, number = where.rpartition(":")
            path = REPO / "scripts" / file_name
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            if number.isdigit() and 0 < int(number) <= len(lines):
                source = lines[int(number) - 1].strip()
            rows.append(
                (f"{where.removeprefix('caseloop/')} {function}", samples / SPY_RATE, source)
            )
        else:
            rows.append((key, samples / SPY_RATE, ""))
    return rows


def _frames(frame: dict[str, Any], inside: tuple[str, ...] = ()) -> Iterator[tuple[dict, tuple]]:
    yield frame, inside
    key = f"{frame['file_path_short']}:{frame['function']}"
    for child in frame["children"]:
        yield from _frames(child, inside + (key,))


def _is_caseloop(frame: dict[str, Any]) -> bool:
    return "/caseloop/" in frame["file_path"].replace("\\", "/")


def summarize_profile(root: dict[str, Any], duration: float) -> dict[str, Any]:
    """Stage times; time per caseloop function (own code and library calls, not nested
    caseloop functions); and the library functions that take the most time of their own."""
    stages = []
    for label, file_name, function in STAGES:
        total = 0.0
        for frame, inside in _frames(root):
            key = f"{frame['file_path_short']}:{frame['function']}"
            path = frame["file_path"].replace("\\", "/")
            in_file = path.endswith(("/caseloop/" + file_name, "/caseloop/backends/" + file_name))
            if frame["function"] == function and in_file and key not in inside:
                total += frame["time"]
        stages.append((label, total))

    owned: dict[str, float] = {}  # caseloop function → time not inside a deeper caseloop function
    own_time: dict[str, float] = {}  # any function → its own (self) time

    def walk(frame: dict[str, Any], owner: str, parent: str) -> None:
        if _is_caseloop(frame):
            path = frame["file_path"].replace("\\", "/")
            owner = f"{path.split('/caseloop/', 1)[1]}:{frame['line_no']} {frame['function']}"
        children_time = sum(c["time"] for c in frame["children"])
        own = max(0.0, frame["time"] - children_time)
        owned[owner] = owned.get(owner, 0.0) + own
        name = f"{frame['file_path_short']}:{frame['line_no']} {frame['function']}"
        if frame["function"] == "[self]":  # pyinstrument's node for its parent's own lines
            name = parent
        own_time[name] = own_time.get(name, 0.0) + own
        for child in frame["children"]:
            walk(child, owner, name)

    walk(root, "(start-up and imports, outside caseloop code)", "")
    return {
        "duration": duration,
        "stages": stages,
        "owned": sorted(owned.items(), key=lambda kv: -kv[1])[:15],
        "self": sorted(own_time.items(), key=lambda kv: -kv[1])[:12],
    }


# --- RESULTS.md -------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return [
        f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Code: {code_state()}",
        *(
            [f"- **The code changed during this run** (at the start: {STARTED_ON}); rerun."]
            if STARTED_ON != code_state()
            else []
        ),
        f"- CPUs: {os.cpu_count()} ({cpu}); load average at the end "
        f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1 / 5 / 15 min)",
        f"- Memory: {memory}",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()} ({sys.executable})",
        f"- Packages: {', '.join(versions)}",
    ]


def code_state() -> str:
    """The commit measured, and any uncommitted change to the package (it runs from the tree)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--short", "--", "scripts"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    changed = [line[3:] for line in dirty if line.strip()]
    note = f"; uncommitted changes in {', '.join(changed)}" if changed else ""
    return f"commit {head}{note}"


STARTED_ON = ""  # code_state() when the run began: the package runs from the working tree


def _get(results: dict[int, SizeResult], cases: int, name: str) -> Measured | None:
    size = results.get(cases)
    return size.commands.get(name) if size else None


def verdict(target: str, measured: str, met: bool) -> tuple[str, str, str]:
    return (target, measured, "met" if met else "not met")


def targets(results: dict[int, SizeResult]) -> list[tuple[str, str, str]]:
    """Each target of issue 6: (target, measured, verdict)."""
    rows: list[tuple[str, str, str]] = []
    not_run = "not measured (size not in --sizes)"

    sync, floor = _get(results, 100_000, "sync"), _get(results, 100_000, "calamine floor")
    if sync and floor:
        ratio = sync.wall / floor.wall
        rows.append(
            verdict(
                "sync at 100,000 cases ≤ 1.5× the calamine floor",
                f"{sync.wall:.2f} s vs {floor.wall:.2f} s = {ratio:.2f}×",
                ratio <= 1.5,
            )
        )
        rows.append(
            verdict(
                "sync at 100,000 cases ≤ 500 MB peak memory",
                f"{sync.peak_mb:.0f} MB",
                sync.peak_mb <= 500,
            )
        )
    else:
        rows.append(("sync at 100,000 cases ≤ 1.5× floor and ≤ 500 MB", "—", not_run))

    sync, naive = _get(results, 20_000, "sync"), _get(results, 20_000, "openpyxl round trip")
    if sync and naive:
        speedup = naive.wall / sync.wall
        rows.append(
            verdict(
                "sync at 20,000 cases ≥ 8× faster than the openpyxl round trip",
                f"{naive.wall:.2f} s / {sync.wall:.2f} s = {speedup:.1f}×",
                speedup >= 8,
            )
        )
    else:
        rows.append(("sync at 20,000 cases ≥ 8× faster than openpyxl", "—", not_run))

    for name in ("validate", "report"):
        worst, detail = 0.0, []
        for cases, size in sorted(results.items()):
            ratio = size.commands[name].wall / size.commands["sync"].wall
            worst = max(worst, ratio)
            detail.append(f"{cases:,}: {ratio:.2f}×")
        rows.append(
            verdict(f"{name} within 1.5× of sync at every size", ", ".join(detail), worst <= 1.5)
        )

    helps = [size.commands["--help"].wall for size in results.values()]
    slowest = max(helps)
    rows.append(
        verdict(
            "caseloop --help under 0.3 s",
            f"median {statistics.median(helps):.3f} s, slowest size {slowest:.3f} s",
            slowest < 0.3,
        )
    )

    worst_google = 0
    detail = []
    for cases, size in sorted(results.items()):
        if not size.google:
            continue
        most = max(v["requests"] for v in size.google.values())
        worst_google = max(worst_google, most)
        detail.append(f"{cases:,}: ≤ {most}")
    if detail:
        rows.append(
            verdict(
                "Google: ≤ 4 requests per sync and per report at every size",
                ", ".join(detail),
                worst_google <= 4,
            )
        )
    else:
        rows.append(("Google: ≤ 4 requests per sync and per report", "—", "not measured"))

    rows.append(linearity(results))
    return rows


def linearity(results: dict[int, SizeResult]) -> tuple[str, str, str]:
    """Cost per extra case between the two largest sizes vs between the two smallest."""
    sizes = sorted(results)
    if len(sizes) < 3:
        return ("cost grows linearly with the number of cases", "—", "not measured (< 3 sizes)")
    parts, worst = [], 0.0
    for name in ("validate", "sync", "report"):
        t = {n: results[n].commands[name].wall for n in sizes}
        low = (t[sizes[1]] - t[sizes[0]]) / (sizes[1] - sizes[0])
        high = (t[sizes[-1]] - t[sizes[-2]]) / (sizes[-1] - sizes[-2])
        if low <= 0 or high <= 0:  # steps this small drown in run-to-run noise
            return (
                "cost grows linearly with the number of cases",
                "—",
                "not judged (a step between sizes shows no growth: use sizes of 10,000 and up)",
            )
        ratio = high / low
        worst = max(worst, ratio)
        parts.append(f"{name} {low * 1e6:.0f} → {high * 1e6:.0f} µs/case ({ratio:.2f}×)")
    return (
        "cost grows linearly (µs per extra case, smallest step → largest step, ≤ 1.5×)",
        "; ".join(parts),
        "met" if worst <= 1.5 else "not met",
    )


def write_results(
    path: Path,
    results: dict[int, SizeResult],
    runs: int,
    command_line: str,
    profile: tuple[int, dict[str, Any]] | None,
    baseline: Sample,
) -> None:
    lines = [
        "# caseloop benchmark results",
        "",
        "Generated by `benchmarks/run.py`; do not edit by hand. Reproduce with:",
        "",
        "```sh",
        command_line,
        "```",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        f"Every figure is the median of {runs} runs, each command a fresh process (wall time, and "
        "the peak RSS of that process alone). Logs: `benchmarks/make_log.py` (seed "
        f"{SEED}, two years of cases to {NOW}, about 5% open), judged with `--now {NOW}`. "
        f"Peak RSS is read by {'GNU time (`/usr/bin/time -f %M`)' if RSS_METHOD == 'gnu-time' else 'a bare Python wrapper (`os.wait4`)'}, "
        f"the process that starts each command; measuring `true` the same way gives "
        f"{baseline.peak_mb:.1f} MB and {baseline.wall * 1000:.0f} ms, the method's own floor.",
        "",
        "Commands: `caseloop validate LOG --now …`, `caseloop sync LOG --now … --output OUT`, "
        "`caseloop report LOG --now … --output OUT`, `caseloop --help`; the calamine floor reads the "
        "Cases tab with `python_calamine` (`to_python`) and nothing else; the openpyxl round trip "
        "loads the workbook, adds a tab of N/20 rows × 14 cells, each with a solid fill, and saves "
        "it. “× floor” divides by the floor's time; “openpyxl ÷ this” is how many times faster than "
        "the round trip.",
        "",
        "## Results",
        "",
    ]
    for cases, size in sorted(results.items()):
        floor = size.commands["calamine floor"]
        naive = size.commands["openpyxl round trip"]
        lines += [
            f"### {cases:,} cases ({size.open_cases:,} open; log {size.log_mb:.1f} MB)",
            "",
            "| command | wall (s) | range (s) | peak RSS (MB) | × floor time | openpyxl ÷ this | × floor RSS |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, m in size.commands.items():
            lines.append(
                f"| `{name}` | {m.wall:.2f} | {m.spread} | {m.peak_mb:.0f} | "
                f"{m.wall / floor.wall:.2f} | {naive.wall / m.wall:.1f} | "
                f"{m.peak_mb / floor.peak_mb:.2f} |"
            )
        lines.append("")
    lines += ["## Google Sheets requests (project fake, tests/fakesheets)", ""]
    lines += [
        "Each row seeds the fake with the same cases (date cells as serial numbers, as Google keeps "
        "them) and runs `caseloop sync URL` and `caseloop report URL` in-process through the CLI "
        "(Click's test runner), the fake's HTTP client handed over in the context object. "
        "“again” is the next run, when the generated tab already exists and is replaced.",
        "",
        "| cases | sync | sync again | report | report again | requests of a sync |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for cases, size in sorted(results.items()):
        g = size.google
        if not g:
            continue
        lines.append(
            f"| {cases:,} | {g['sync']['requests']} | {g['sync again']['requests']} | "
            f"{g['report']['requests']} | {g['report again']['requests']} | "
            f"{', '.join(g['sync']['kinds'])} |"
        )
    lines += [
        "",
        "## Targets (issue 6)",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for target, measured, verdict in targets(results):
        mark = "**not met**" if verdict == "not met" else verdict
        lines.append(f"| {target} | {measured} | {mark} |")
    lines.append("")
    if NOTES.exists():  # the reasons behind the verdicts, written by whoever read the profile
        lines += [NOTES.read_text(encoding="utf-8").strip(), ""]
    lines += profile_section(profile)
    # The Google sync section (benchmarks/google_sync.py, issue 12) is measured separately; keep it.
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    start, end = "<!-- google-sync:start -->", "<!-- google-sync:end -->"
    if start in old and end in old:
        kept = start + old.split(start, 1)[1].split(end, 1)[0] + end
        lines += ["", kept]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def profile_section(profile: tuple[int, dict[str, Any]] | None) -> list[str]:
    lines = ["## Where the time goes", ""]
    if profile is None:
        return lines + ["No profile this run (pyinstrument not installed, or `--no-profile`).", ""]
    cases, summary = profile
    if summary.get("lines"):
        lines += [
            f"py-spy ({SPY_RATE} samples/s) of one `caseloop sync` at {cases:,} cases, by the "
            "innermost line of caseloop code on the stack: the line's own work plus the library "
            "calls it makes (line numbers as the code stood for this run).",
            "",
            "| caseloop line | s | source |",
            "|---|---:|---|",
        ]
        for where, seconds, source in summary["lines"]:
            shown = source if len(source) <= 90 else source[:87] + "..."
            code = f"`{shown}`" if shown else ""
            lines.append(f"| `{where}` | {seconds:.2f} | {code.replace('|', '&#124;')} |")
        lines.append("")
    if not summary.get("stages"):
        return lines
    total = summary["duration"]
    lines += [
        f"pyinstrument (1 ms sampling) of one `caseloop sync` at {cases:,} cases: "
        f"{total:.2f} s under the profiler.",
        "",
        "| stage | s | share |",
        "|---|---:|---:|",
    ]
    staged = 0.0
    for label, seconds in summary["stages"]:
        staged += seconds
        lines.append(f"| {label} | {seconds:.2f} | {seconds / total:.0%} |")
    rest = total - staged
    lines.append(
        f"| everything else (interpreter start, imports, CLI) | {rest:.2f} | {rest / total:.0%} |"
    )
    lines += [
        "",
        "Time per caseloop function: its own lines plus the library calls it makes, not counting "
        "the caseloop functions it calls (so the rows add up to the run):",
        "",
        "| caseloop function (file:def line) | s | share |",
        "|---|---:|---:|",
    ]
    for name, seconds in summary["owned"]:
        lines.append(f"| `{name}` | {seconds:.2f} | {seconds / total:.0%} |")
    lines += [
        "",
        "Functions with the most time of their own (leaves, any library):",
        "",
        "| function | s | share |",
        "|---|---:|---:|",
    ]
    for name, seconds in summary["self"]:
        lines.append(f"| `{name}` | {seconds:.2f} | {seconds / total:.0%} |")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="comma-separated case counts (default %(default)s; 20,000 is where issue 6 sets "
        "the openpyxl target)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="folder for the generated logs and outputs (kept; logs are reused). "
        "Default: a temporary folder, removed afterwards",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=HERE / "RESULTS.md",
        help="where to write the report (default benchmarks/RESULTS.md)",
    )
    parser.add_argument("--no-google", action="store_true", help="skip the request counts")
    parser.add_argument("--no-profile", action="store_true", help="skip the pyinstrument profile")
    args = parser.parse_args(argv)
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    if args.runs < 1 or not sizes or min(sizes) < 1:
        parser.error("--runs and every size must be at least 1")

    global STARTED_ON
    STARTED_ON = code_state()
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="caseloop-bench-")) if temporary else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        probes = sorted((measure(["true"], workdir) for _ in range(3)), key=lambda x: x.wall)
        baseline = probes[len(probes) // 2]
        results: dict[int, SizeResult] = {}
        for cases in sizes:
            results[cases] = bench_size(cases, args.runs, workdir)
        if not args.no_google:
            for cases in sizes:
                results[cases].google = google_requests(cases, workdir)
        profile = None
        if not args.no_profile:
            summary = profile_sync(max(sizes), workdir) or {}
            summary["lines"] = spy_lines(max(sizes), workdir)
            profile = (max(sizes), summary) if summary.get("stages") or summary["lines"] else None
        shown = ["python", "benchmarks/run.py"]
        if args.sizes != parser.get_default("sizes"):
            shown += ["--sizes", ",".join(str(n) for n in sizes)]
        if args.runs != 3:
            shown += ["--runs", str(args.runs)]
        shown += [
            flag
            for flag in ("--no-google", "--no-profile")
            if getattr(args, flag[2:].replace("-", "_"))
        ]
        write_results(args.results, results, args.runs, " ".join(shown), profile, baseline)
        log(f"wrote {args.results}")
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
