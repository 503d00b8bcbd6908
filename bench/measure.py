"""One measurement in a fresh process: time the work (not the imports) and read the peak RSS.

    python bench/measure.py ours|floor|floor-every-element|parsedmarc FILE

Prints one JSON line: {"seconds": ..., "peak_rss_mb": ..., "records": ...}.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def ours(path: Path) -> tuple[int, float]:
    from dmarc_core import parse_reports, triage

    started = time.perf_counter()
    frame = triage(parse_reports(path))
    return len(frame), time.perf_counter() - started


def floor(path: Path) -> tuple[int, float]:
    """DESIGN.md's floor: iterparse yielding only <record> ends, each cleared; no extraction."""
    from lxml import etree

    started = time.perf_counter()
    records = 0
    for _, element in etree.iterparse(str(path), events=("end",), tag="{*}record"):
        records += 1
        element.clear(keep_tail=True)
        while element.getprevious() is not None:
            del element.getparent()[0]
    return records, time.perf_counter() - started


def floor_every_element(path: Path) -> tuple[int, float]:
    """The issue's "bare lxml iterparse": every element's end event, records cleared; no extraction."""
    from lxml import etree

    started = time.perf_counter()
    records = 0
    for _, element in etree.iterparse(str(path), events=("end",)):
        if element.tag == "record":
            records += 1
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    return records, time.perf_counter() - started


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

    started = time.perf_counter()
    report = parse_aggregate_report_xml(path.read_text("utf-8"), offline=True)
    return len(report["records"]), time.perf_counter() - started


MODES = {"ours": ours, "floor": floor, "floor-every-element": floor_every_element, "parsedmarc": parsedmarc}

if __name__ == "__main__":
    mode, file = sys.argv[1], Path(sys.argv[2])
    records, seconds = MODES[mode](file)
    print(
        json.dumps(
            {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "worker_peak_rss_mb": worker_peak_rss_mb(), "records": records}
        )
    )
