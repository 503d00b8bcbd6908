"""The benchmark: parse_reports + triage against parsedmarc and the bare iterparse floor.

    make bench                      # 1k, 10k, 100k, 1M records; 3 runs each; writes BENCHMARKS.md
    python bench/run.py --sizes 1000 10000 --runs 2 --no-write

Every measurement runs in its own process (bench/measure.py), so peak RSS is that run's own.
Times are medians. parsedmarc runs when it is installed (`uv run --extra compare ...`), once per
size by default because it takes minutes at 1M records. Before timing, the fast triage is
checked against a simple reference path (bench/reference.py) on every file up to 100k records.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from generate import write  # noqa: E402
from reference import differences, reference_triage  # noqa: E402
from variety import CONTAINERS, replicated_samples, write_variety  # noqa: E402

SAMPLES = Path(os.environ.get("DMARC_SAMPLES", ROOT.parent / "shared" / "samples"))


#: bench/measure.py's options for every measurement: ``--cpu`` (run.py's ``--cpu``) times CPU seconds.
MEASURE_OPTIONS: list[str] = []
#: Its environment: Python keeps bytecode, as on a user's machine; where the shell says not to, a
#: module imported on first use (idna's tables, for one) would be compiled inside the timed work.
MEASURE_ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def measure(mode: str, path: Path, runs: int) -> dict | None:
    results = [_measured_once(mode, path) for _ in range(runs)]
    return None if None in results else _median(results)


def measure_in_turn(modes: tuple[str, ...], path: Path, runs: int) -> dict[str, dict | None]:
    """Each mode measured ``runs`` times, the modes taking turns (as the issue measured): a
    machine whose speed drifts, another load starting, weighs on all of them alike, and so far
    less on their ratios."""
    results: dict[str, list] = {mode: [] for mode in modes}
    for _ in range(runs):
        for mode in modes:
            results[mode].append(_measured_once(mode, path))
    return {mode: None if None in found else _median(found) for mode, found in results.items()}


def _measured_once(mode: str, path: Path) -> dict | None:
    done = subprocess.run(
        [sys.executable, str(HERE / "measure.py"), mode, str(path), *MEASURE_OPTIONS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=MEASURE_ENVIRONMENT,
    )
    if done.returncode != 0:
        print(f"  {mode} failed on {path.name}: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout)


def _median(results: list[dict]) -> dict:
    runs = len(results)
    return {
        "seconds": statistics.median(r["seconds"] for r in results),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results),
        "worker_peak_rss_mb": statistics.median(r.get("worker_peak_rss_mb", 0.0) for r in results),
        "records": results[0]["records"],
        "runs": runs,
    }


def check_against_reference(path: Path) -> list[str]:
    from dmarc_core import parse_reports, triage

    return differences(triage(parse_reports(path)), reference_triage(path))


def machine() -> str:
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    memory = (
        next(
            (
                int(line.split()[1]) // (1 << 20)
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            0,
        )
        if Path("/proc/meminfo").exists()
        else 0
    )
    import lxml.etree
    import pandas

    return (
        f"{model}, {os.cpu_count()} cores, {memory} GiB; Python {platform.python_version()}, "
        f"lxml {'.'.join(map(str, lxml.etree.LXML_VERSION[:3]))}, pandas {pandas.__version__}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark parse_reports + triage.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--parsedmarc-runs", type=int, default=1, help="0: leave parsedmarc out")
    parser.add_argument("--reference-limit", type=int, default=100_000, help="check against the reference up to this size")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    parser.add_argument("--variety", type=int, default=100_000, help="records of the realistic-variety report (0: skip)")
    parser.add_argument("--many", type=int, nargs="+", default=[300, 3_000], help="files of the month-of-reports cases (0: skip)")
    parser.add_argument("--cpu", action="store_true", help="time CPU seconds of each process, not wall time (a busy machine)")
    args = parser.parse_args()
    MEASURE_OPTIONS[:] = ["--cpu"] if args.cpu else []
    with_parsedmarc = importlib.util.find_spec("parsedmarc") is not None and args.parsedmarc_runs > 0

    rows, notes = [], []
    for size in args.sizes:
        path = HERE / "out" / f"report-{size}.xml"
        # A file from before the last change to the generator would check and time the old mix.
        if not path.exists() or path.stat().st_mtime < (HERE / "generate.py").stat().st_mtime:
            write(size, path)
        if size <= args.reference_limit:
            problems = check_against_reference(path)
            notes.append(
                f"{size:,} records: fast path and reference {'identical' if not problems else 'DIFFER: ' + '; '.join(problems)}"
            )
            if problems:
                print("\n".join(notes), file=sys.stderr)
                return 1
        print(f"{size:,} records ({path.stat().st_size / 1e6:.1f} MB)...", file=sys.stderr)
        ours = measure("ours", path, args.runs)
        floor = measure("floor", path, args.runs)
        naive = measure("floor-every-element", path, args.runs)
        theirs = measure("parsedmarc", path, args.parsedmarc_runs) if with_parsedmarc else None
        rows.append((size, path.stat().st_size, ours, floor, naive, theirs))

    table = [
        "| records | size | time | records/s | peak RSS | each worker | parsedmarc | × faster than parsedmarc | ÷ floor (every element) | ÷ floor (tag=record) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, nbytes, ours, floor, naive, theirs in rows:
        vs_parsedmarc = f"{theirs['seconds'] / ours['seconds']:.1f}×" if theirs else "not installed"
        their_cell = f"{theirs['seconds']:.2f} s, {theirs['peak_rss_mb']:.0f} MB" if theirs else "-"
        table.append(
            f"| {size:,} | {nbytes / 1e6:.1f} MB | {ours['seconds']:.2f} s | {size / ours['seconds']:,.0f} | {ours['peak_rss_mb']:.0f} MB "
            f"| {ours['worker_peak_rss_mb']:.0f} MB | {their_cell} | {vs_parsedmarc} | {ours['seconds'] / naive['seconds']:.2f} ({naive['seconds']:.2f} s) "
            f"| {ours['seconds'] / floor['seconds']:.2f} ({floor['seconds']:.2f} s) |"
        )
    sections = ["\n".join(table)]
    if args.variety:
        sections.append(variety_section(args.variety, args.runs, notes))
    args.many = [count for count in args.many if count]
    if args.many:
        sections.append(many_section(args.many, args.runs, with_parsedmarc))
    sections.append(cli_section(args.runs))
    sections.append(profile_section(args.variety, max(args.many, default=0)))
    output = "\n\n".join(sections)
    print(output)
    print("\n".join(notes))
    if not args.no_write:
        stamp = datetime.date.today().isoformat()
        generated = (
            f"`make bench` on {stamp}: {machine()}.\n\n"
            f"Median of {args.runs} runs per cell (parsedmarc: {args.parsedmarc_runs}), each in its own process"
            f"{', in CPU seconds of the process (the CLI: wall time)' if args.cpu else ''}. "
            "Time is `triage(parse_reports(path))` on a synthetic RFC 7489 report from `bench/generate.py`, "
            "without interpreter start-up and imports; peak RSS is the process's maximum resident set (VmHWM), imports included. "
            "Reports over 8 MB are cut into chunks of whole records, read in the same process (plain records by one "
            'scanner in C, the rest by lxml): "each worker" stays 0 MB unless workers are asked for. '
            "parsedmarc is `parse_aggregate_report_xml(..., offline=True)` on the same file. "
            'Floors are lxml iterparse with no extraction: the issue\'s "bare iterparse" (an end event for every '
            'element) and DESIGN.md\'s tighter one (`tag="record"`), on the same decompressed bytes.\n\n'
            f"{output}\n\nCorrectness checked first:\n\n" + "\n".join(f"- {note}" for note in notes)
        )
        write_generated(ROOT / "BENCHMARKS.md", generated)
    return 0


def variety_section(records: int, runs: int, notes: list[str]) -> str:
    """Realistic variety (bench/variety.py) in every container, against the floor on its XML."""
    out = HERE / "out"
    paths = {container: out / f"variety-{records}.{container}" for container in CONTAINERS}
    for container, path in paths.items():
        if not path.exists() or path.stat().st_mtime < (HERE / "variety.py").stat().st_mtime:
            write_variety(records, path, container)
    problems = check_against_reference(paths["xml"])
    notes.append(
        f"{records:,} varied records: fast path and reference {'identical' if not problems else 'DIFFER: ' + '; '.join(problems)}"
    )
    floor = measure("floor", paths["xml"], runs)
    lines = [
        f"Realistic variety: {records:,} records from `bench/variety.py` (distributions of the real samples); "
        f"the floor is iterparse(tag=record) on its XML, {floor['seconds']:.2f} s.",
        "",
        "| container | size | parse + triage | ÷ floor | peak RSS | each worker |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for container, path in paths.items():
        ours = measure("ours", path, runs)
        lines.append(
            f"| .{container} | {path.stat().st_size / 1e6:.1f} MB | {ours['seconds']:.2f} s | {ours['seconds'] / floor['seconds']:.2f} "
            f"| {ours['peak_rss_mb']:.0f} MB | {ours['worker_peak_rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)


#: Runs of each month case at least: a second each, and their ratios are the target.
MONTH_RUNS = 7


def many_section(counts: list[int], runs: int, with_parsedmarc: bool) -> str:
    """A month of small files: the real aggregate samples, replicated to each count of files."""
    lines = [
        "A month of reports: the real samples of `aggregate/` replicated (refused ones included); "
        "ours is `read_files` and one `triage` of every report, the floor iterparse(tag=record) on each file's XML "
        'unpacked beforehand, parsedmarc `parse_report_file(..., offline=True)` per file. "ours, warm" is ours in a '
        "process prepared as the app's server is: the knowledge and the Public Suffix List loaded and every object alive then "
        "frozen out of the garbage collector's sight (`gc.freeze()`, as app.py does at its first run), then the demo reports "
        "read, so the process's one-time costs are paid; nothing of these files is cached. Ours, the floor and "
        f"ours warm take turns, {MONTH_RUNS} runs each (medians).",
        "",
        "| files | | time | files/s | ÷ floor | peak RSS |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for count in counts:
        folder = HERE / "out" / f"many-{count}"
        replicated_samples(count, folder, SAMPLES / "aggregate")
        measured = measure_in_turn(("ours-many", "floor-many", "ours-many-warm"), folder, max(runs, MONTH_RUNS))
        ours, floor, warm = measured["ours-many"], measured["floor-many"], measured["ours-many-warm"]
        theirs = measure("parsedmarc-many", folder, 1) if with_parsedmarc else None
        for name, result in (("ours", ours), ("ours, warm", warm), ("floor", floor), ("parsedmarc", theirs)):
            if result:
                lines.append(
                    f"| {count:,} | {name} | {result['seconds']:.2f} s | {count / result['seconds']:,.0f} "
                    f"| {result['seconds'] / floor['seconds']:.1f} | {result['peak_rss_mb']:.0f} MB |"
                )
    return "\n".join(lines)


def cli_section(runs: int) -> str:
    result = measure("cli-align", Path("-"), max(runs, 5))
    return (
        "The CLI: `python -m dmarc_core align user@example.com mail.example.com`, start-up and imports included: "
        f"{result['seconds']:.2f} s, {result['peak_rss_mb']:.0f} MB (median of {result['runs']})."
    )


def profile_section(records: int, files: int) -> str:
    """Where the time goes: the top entries of one profiled run of each path (time of their own)."""
    paths = {}
    if records:
        paths[f"parse + triage of {records:,} varied records (.xml.gz)"] = ("ours", HERE / "out" / f"variety-{records}.xml.gz")
    if files:
        paths[f"a month of reports ({files:,} files)"] = ("ours-many", HERE / "out" / f"many-{files}")
    lines = ["Where the time goes (one run under cProfile, the functions with the most time of their own):"]
    for title, (mode, path) in paths.items():
        done = subprocess.run(
            [sys.executable, str(HERE / "measure.py"), mode, str(path), "--profile"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=MEASURE_ENVIRONMENT,
        )
        top = json.loads(done.stdout)["top"] if done.returncode == 0 else [f"failed: {done.stderr.strip()[-200:]}"]
        lines += ["", f"- {title}:", *(f"  - `{entry}`" for entry in top)]
    return "\n".join(lines)


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def write_generated(path: Path, generated: str) -> None:
    """Put the generated part between its markers; what is written by hand around it stays."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text:
        text = text.replace("# Benchmarks\n", f"# Benchmarks\n\n{START}\n{END}\n", 1)
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    path.write_text(f"{before}{START}\n{generated}\n{END}{after}")


if __name__ == "__main__":
    raise SystemExit(main())
