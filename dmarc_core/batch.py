"""Reading many uploaded files: every file ends read, read with repairs, or refused, and one
bad file never hides the good ones. Large batches spread over every core."""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from .reports import Report, parse_reports
from .unpack import Limits, Refusal, ReportError
from .workers import process_pool

Status = Literal["read", "repaired", "refused"]
#: Below this much data, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD_BYTES = 8 << 20


@dataclass(frozen=True)
class FileOutcome:
    """What became of one uploaded file."""

    name: str
    reports: tuple[Report, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    error: str = ""

    @property
    def status(self) -> Status:
        if not self.reports:
            return "refused"
        if self.refusals or any(report.repairs for report in self.reports):
            return "repaired"
        return "read"

    @property
    def records(self) -> int:
        return sum(report.record_count for report in self.reports)

    @property
    def messages(self) -> int:
        return sum(report.message_count for report in self.reports)

    @property
    def details(self) -> str:
        """The reason for a refusal, or what was repaired, as text for a person."""
        if self.error:
            return self.error
        notes = [f"{r.source}: {repair}" if len(self.reports) > 1 else repair for r in self.reports for repair in r.repairs]
        notes += [refusal.reason for refusal in self.refusals]
        return "; ".join(notes)


def read_file(data: bytes, name: str, limits: Limits | None = None, workers: int | None = None) -> FileOutcome:
    try:
        batch = parse_reports(data, name, limits, workers)
    except ReportError as exc:
        return FileOutcome(name, error=str(exc))
    return FileOutcome(name, tuple(batch), batch.refusals)


def read_files(
    files: Sequence[tuple[str, bytes]],
    limits: Limits | None = None,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
    workers: int | None = None,
) -> list[FileOutcome]:
    """Read every file, in the given order. ``progress(done, total, outcome)`` follows each file.
    Many files together (a month of reports) are shared out over every core."""
    total = len(files)
    workers = workers or min(os.cpu_count() or 1, total)
    outcomes: list[FileOutcome | None] = [None] * total
    if workers > 1 and total > 1 and sum(len(data) for _, data in files) >= PARALLEL_THRESHOLD_BYTES:
        pool = process_pool(workers)
        # One file per worker; a worker reads its file in one piece (it cannot start processes itself).
        pending = {pool.submit(read_file, data, name, limits, 1): index for index, (name, data) in enumerate(files)}
        try:
            for future in concurrent.futures.as_completed(pending):
                outcomes[pending[future]] = outcome = future.result()
                if progress:
                    progress(sum(o is not None for o in outcomes), total, outcome)
        except concurrent.futures.process.BrokenProcessPool:
            pass  # workers could not start here (an unguarded main module); read the rest in this process
    for index, (name, data) in enumerate(files):
        if outcomes[index] is None:
            outcomes[index] = outcome = read_file(data, name, limits)
            if progress:
                progress(sum(o is not None for o in outcomes), total, outcome)
    return outcomes  # type: ignore[return-value]


def demo_files() -> list[tuple[str, bytes]]:
    """The demo reports shipped with the package."""
    folder = resources.files("dmarc_core").joinpath("data", "demo")
    return [(entry.name, entry.read_bytes()) for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".xml")]
