"""One measurement in a fresh process: time the work (not the imports) and read the peak RSS.

    python bench/measure.py ours|floor|floor-every-element|parsedmarc FILE
    python bench/measure.py ours-many|ours-many-warm|floor-many|parsedmarc-many FOLDER
    python bench/measure.py cli-align -
    python bench/measure.py MODE FILE --profile     # the top entries of a profile instead
    python bench/measure.py MODE FILE --cpu         # CPU seconds of the process instead of wall time

Prints one JSON line: {"seconds": ..., "peak_rss_mb": ..., "records": ...}.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

#: The work's clock: wall time, or with ``--cpu`` the process's CPU time, which another load on
#: the machine barely moves (cli-align keeps wall time: its work is a child process).
clock = time.perf_counter


def ours(path: Path) -> tuple[int, float]:
    from dmarc_core import parse_reports, triage

    started = clock()
    frame = triage(parse_reports(path))
    return len(frame), clock() - started


def floor(path: Path) -> tuple[int, float]:
    """DESIGN.md's floor: iterparse yielding only <record> ends, each cleared; no extraction."""
    from lxml import etree

    started = clock()
    records = 0
    for _, element in etree.iterparse(str(path), events=("end",), tag="{*}record"):
        records += 1
        element.clear(keep_tail=True)
        while element.getprevious() is not None:
            del element.getparent()[0]
    return records, clock() - started


def floor_every_element(path: Path) -> tuple[int, float]:
    """The issue's "bare lxml iterparse": every element's end event, records cleared; no extraction."""
    from lxml import etree

    started = clock()
    records = 0
    for _, element in etree.iterparse(str(path), events=("end",)):
        if element.tag == "record":
            records += 1
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    return records, clock() - started


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident set. VmHWM belongs to one address space; ru_maxrss would also
    count the parent's memory at fork time, which Linux carries across exec."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else 0.0


def worker_peak_rss_mb() -> float:
    """The largest peak among this process's live children (the report-parsing workers)."""
    me, peaks = str(os.getpid()), [0.0]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            peaks.append(peak_rss_mb(stat.parent.name))
    return max(peaks)


def parsedmarc(path: Path) -> tuple[int, float]:
    from parsedmarc import parse_aggregate_report_xml

    started = clock()
    report = parse_aggregate_report_xml(path.read_text("utf-8"), offline=True)
    return len(report["records"]), clock() - started


def _files(folder: Path) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(folder.iterdir()) if path.is_file()]


def ours_many(folder: Path) -> tuple[int, float]:
    """The app's path for a month of files: every file read, then one triage of all the reports."""
    from dmarc_core import read_files, triage

    files = _files(folder)
    started = clock()
    outcomes = read_files(files)
    triage([report for outcome in outcomes for report in outcome.reports])
    return len(files), clock() - started


def ours_many_warm(folder: Path) -> tuple[int, float]:
    """``ours_many`` in a process prepared as the app's server is: the knowledge and the Public
    Suffix List loaded and the objects alive then frozen out of the garbage collector's sight (as
    app.py does at its first run), and other reports read before (the shipped demo), so the rest
    of a process's one-time costs (Arrow's kernels set up) are paid before the clock starts;
    nothing of these files is cached."""
    import gc

    from dmarc_core import knowledge, read_files, triage
    from dmarc_core.reports.reading import demo_files
    from dmarc_core.rules.domains import organizational_domain

    knowledge()  # what app.py loads before its freeze
    organizational_domain("example.com")
    gc.collect()
    gc.freeze()
    triage([report for outcome in read_files(demo_files()) for report in outcome.reports])
    return ours_many(folder)


def floor_many(folder: Path) -> tuple[int, float]:
    """The floor for many files: iterparse(tag=record) over each file's XML, unpacked beforehand."""
    import io

    from lxml import etree

    from variety import payloads

    documents = [document for _, data in _files(folder) for document in payloads(data)]
    started = clock()
    for document in documents:
        for _, element in etree.iterparse(io.BytesIO(document), events=("end",), tag="{*}record", recover=True):
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    return len(documents), clock() - started


def parsedmarc_many(folder: Path) -> tuple[int, float]:
    from parsedmarc import parse_report_file

    files = _files(folder)
    started = clock()
    for _, data in files:
        try:
            parse_report_file(data, offline=True)
        except Exception:
            continue
    return len(files), clock() - started


def cli_align(_: Path) -> tuple[int, float]:
    """The CLI's one-line answer as a user runs it: interpreter start-up and imports included."""
    import subprocess

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dmarc_core", "align", "user@example.com", "mail.example.com"], check=True, capture_output=True
    )
    return 1, time.perf_counter() - started


MODES = {
    "ours": ours,
    "floor": floor,
    "floor-every-element": floor_every_element,
    "parsedmarc": parsedmarc,
    "ours-many": ours_many,
    "ours-many-warm": ours_many_warm,
    "floor-many": floor_many,
    "parsedmarc-many": parsedmarc_many,
    "cli-align": cli_align,
}


def profile(mode: str, file: Path, entries: int = 8) -> list[str]:
    """Where the time of one run goes: the functions with the most time of their own."""
    import cProfile
    import pstats

    import pyarrow.compute  # noqa: F401

    import dmarc_core.analysis.triage  # noqa: F401 - imports are no part of the work

    profiler = cProfile.Profile()
    profiler.runcall(MODES[mode], file)
    stats = pstats.Stats(profiler)
    own = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:entries]  # type: ignore[attr-defined]
    return [f"{_where(*key)}: {seconds:.2f} s ({seconds / stats.total_tt:.0%})" for key, (_, _, seconds, _, _) in own]  # type: ignore[attr-defined]


def _where(filename: str, line: int, function: str) -> str:
    if filename == "~":  # a built-in
        return function
    parts = Path(filename).parts
    for anchor in ("site-packages", "dmarc_core"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + (anchor == "site-packages") :]
            break
    return f"{'/'.join(parts[-2:])}:{line} {function}"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    mode, file = sys.argv[1], Path(sys.argv[2])
    if "--cpu" in sys.argv[3:]:
        clock = time.process_time
    if sys.argv[3:] == ["--profile"]:
        print(json.dumps({"top": profile(mode, file)}))
        sys.exit(0)
    records, seconds = MODES[mode](file)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if mode == "cli-align" else 0.0
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": children or peak_rss_mb(),
                "worker_peak_rss_mb": worker_peak_rss_mb(),
                "records": records,
            }
        )
    )
