"""Shared fixtures: where the real sample reports live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _samples_dir() -> Path | None:
    # DMARC_SAMPLES wins; otherwise the workspace layout (../shared/samples), wherever the clone is.
    candidates = [os.environ.get("DMARC_SAMPLES"), ROOT.parent / "shared" / "samples", "/work/shared/samples"]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "aggregate").is_dir():
            return Path(candidate)
    return None


SAMPLES = _samples_dir()


@pytest.fixture(scope="session")
def samples() -> Path:
    if SAMPLES is None:
        message = "the shared samples folder was not found; set DMARC_SAMPLES to ../shared/samples"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SAMPLES
