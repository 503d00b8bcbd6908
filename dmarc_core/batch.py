"""Reading many uploaded files: every file ends read, read with repairs, or refused, and one
bad file never hides the good ones. Large batches spread over every core."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from .reports import Report, parse_reports
from .unpack import Limits, Refusal, ReportError

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


def read_file(data: bytes, name: str, limits: Limits | None = None) -> FileOutcome:
    try:
        batch = parse_reports(data, name, limits)
    except ReportError as exc:
        return FileOutcome(name, error=str(exc))
    return FileOutcome(name, tuple(batch), batch.refusals)


def read_files(
    files: Sequence[tuple[str, bytes]],
    limits: Limits | None = None,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
    workers: int | None = None,
) -> list[FileOutcome]:
    """Read every file, in the given order. ``progress(done, total, outcome)`` follows each file."""
    total = len(files)
    workers = workers or min(os.cpu_count() or 1, total)
    outcomes: list[FileOutcome | None] = [None] * total
    if workers > 1 and sum(len(data) for _, data in files) >= PARALLEL_THRESHOLD_BYTES:
        # spawn, not fork: the caller may be a threaded server (Streamlit).
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending = {pool.submit(read_file, data, name, limits): index for index, (name, data) in enumerate(files)}
            for done, future in enumerate(concurrent.futures.as_completed(pending), 1):
                outcomes[pending[future]] = outcome = future.result()
                if progress:
                    progress(done, total, outcome)
    else:
        for index, (name, data) in enumerate(files):
            outcomes[index] = outcome = read_file(data, name, limits)
            if progress:
                progress(index + 1, total, outcome)
    return outcomes  # type: ignore[return-value]


def demo_files() -> list[tuple[str, bytes]]:
    """The demo reports shipped with the package."""
    folder = resources.files("dmarc_core").joinpath("data", "demo")
    return [(entry.name, entry.read_bytes()) for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".xml")]
