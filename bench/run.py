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


def measure(mode: str, path: Path, runs: int) -> dict | None:
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, str(HERE / "measure.py"), mode, str(path)], capture_output=True, text=True, cwd=ROOT
        )
        if done.returncode != 0:
            print(f"  {mode} failed on {path.name}: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return None
        results.append(json.loads(done.stdout))
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
    parser.add_argument("--parsedmarc-runs", type=int, default=1)
    parser.add_argument("--reference-limit", type=int, default=100_000, help="check against the reference up to this size")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    args = parser.parse_args()
    with_parsedmarc = importlib.util.find_spec("parsedmarc") is not None

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
    output = "\n".join(table)
    print(output)
    print("\n".join(notes))
    if not args.no_write:
        stamp = datetime.date.today().isoformat()
        (ROOT / "BENCHMARKS.md").write_text(
            f"# Benchmarks\n\n`make bench` on {stamp}: {machine()}.\n\n"
            f"Median of {args.runs} runs per cell (parsedmarc: {args.parsedmarc_runs}), each in its own process. "
            "Time is `triage(parse_reports(path))` on a synthetic RFC 7489 report from `bench/generate.py`, "
            "without interpreter start-up and imports; peak RSS is the process's maximum resident set (VmHWM), imports included. "
            'Reports over 8 MB are read by worker processes forked from it (none below that: "0 MB"); '
            '"each worker" is the largest of their peaks, pages shared with the parent counted in both. '
            "parsedmarc is `parse_aggregate_report_xml(..., offline=True)` on the same file. "
            'Floors are lxml iterparse with no extraction: the issue\'s "bare iterparse" (an end event for every '
            'element) and DESIGN.md\'s tighter one (`tag="record"`).\n\n'
            f"{output}\n\nCorrectness checked first:\n\n" + "\n".join(f"- {note}" for note in notes) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
