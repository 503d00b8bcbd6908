"""Promises the repository makes about itself."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text("utf-8")
    command = re.search(r"# set up and run the whole test suite\n(.+)\n", readme).group(1).strip()
    assert command in (ROOT / ".ci" / "run").read_text("utf-8")


def test_the_library_never_imports_streamlit():
    for module in (ROOT / "dmarc_core").rglob("*.py"):
        source = module.read_text("utf-8")
        assert not re.search(r"^\s*(import|from)\s+streamlit", source, re.MULTILINE), module


def test_pages_stay_short():
    pages = list((ROOT / "app_pages").glob("*.py"))
    assert pages
    for page in pages:
        assert len(page.read_text("utf-8").splitlines()) <= 150, page


def test_no_legacy_pages_folder():
    # A pages/ folder beside app.py switches Streamlit to its legacy multipage mode on the first
    # deep link after a start, bypassing st.navigation (see app.py).
    assert not (ROOT / "pages").exists()


def test_ruff_finds_nothing_to_lint_or_format():
    ruff = [sys.executable, "-m", "ruff"]
    lint = subprocess.run([*ruff, "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatted = subprocess.run([*ruff, "format", "--check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert formatted.returncode == 0, "run `uv run ruff format .`:\n" + formatted.stdout + formatted.stderr
