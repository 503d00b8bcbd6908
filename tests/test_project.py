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


def test_worker_processes_can_import_the_apps_main_script():
    # A worker started by a fork server imports the main module again as __mp_main__, and under
    # Streamlit (and AppTest) that module is app.py: it must run nothing there. (Issue 15: a worker
    # that ran the frame died, and every big report read after an app test with it.)
    code = f"import runpy; runpy.run_path({str(ROOT / 'app.py')!r}, run_name='__mp_main__')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "streamlit" not in done.stderr.lower(), done.stderr


def test_ruff_finds_nothing_to_lint_or_format():
    ruff = [sys.executable, "-m", "ruff"]
    lint = subprocess.run([*ruff, "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatted = subprocess.run([*ruff, "format", "--check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert formatted.returncode == 0, "run `uv run ruff format .`:\n" + formatted.stdout + formatted.stderr
