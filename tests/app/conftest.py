"""AppTest helpers: run the real app script headless, in-process."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT


@pytest.fixture
def app():
    def start(page: str | None = None, **query: str) -> AppTest:
        test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        for name, value in query.items():
            test.query_params[name] = value
        test.run()
        if page:
            test.switch_page(page).run()
        assert not test.exception, [e.value for e in test.exception]
        return test

    return start


def readable(markdown: str) -> str:
    """Markdown source as a reader sees it: escapes and invisible word joiners removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def texts(elements) -> list[str]:
    return [readable(element.value) for element in elements]


def headline(test: AppTest) -> str:
    """The verdict box: the first success or error element's first line."""
    boxes = [*test.success, *test.error]
    return boxes[0].value.splitlines()[0].lstrip("# ") if boxes else ""


def marked_row(test: AppTest) -> int | None:
    """Which row of the quick diagnosis table the page marks."""
    frame = next(frame.value for frame in test.dataframe if "Root cause" in frame.value.columns)
    marked = frame.index[frame[""] != ""].tolist()
    return marked[0] if marked else None
