"""Browser suite: the real app served by `streamlit run` on a free loopback port, driven by
Playwright in Debian's Chromium (never a downloaded browser).

Without /usr/bin/chromium the suite skips with a message; under CI (CI=true) it fails instead,
because there the browser is required.

- One server for the session (``app_url``), started with DMARC_NAMESERVER pointing at the
  loopback DNS server of tests/zones, its log kept in a file and shown when a test fails.
  ``fresh_app_url`` starts a server of the test's own, for what only a fresh server shows.
- One browser for the session, a context per test (``page``, or ``new_context(**options)`` for
  themes and phone widths). Requests that would leave the machine are refused and recorded,
  dialogs dismissed and recorded; a test fails if any happened, or if the page threw.
- Waiting is on the app's own state, never on the clock: ``open_app(page, url)`` and
  ``with rerun(page):`` wait for the script run the navigation or interaction started to
  finish (the ``script_finished`` message on the app's websocket), then for the page to show it
  (``data-test-script-state=notRunning``, no skeleton, no stale element).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dmarc_core import NAMESERVER_ENV

from conftest import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "screenshots"
TIMEOUT_MS = 30_000
# Flags for a root, sandbox-less, offline machine: no background calls home, no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every request not for the app's loopback server: refused, and recorded as a finding.
OUTSIDE = re.compile(r"^(?!(?:https?|wss?)://127\.0\.0\.1[:/]).*://")
# Streamlit's frontend, opened on a deep link (/triage), first looks for its server under that path
# (/triage/_stcore/health, /triage/_stcore/host-config) and falls back to the root: two 404s by design.
STREAM = "/_stcore/stream"
BASE_PATH_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    message = f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` to run the browser tests"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# --- the server ---------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen

    def log_text(self, start: int = 0) -> str:
        with self.log.open("rb") as handle:
            handle.seek(start)
            return handle.read().decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log.stat().st_size


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(log: Path, nameserver: str, extra_env: dict[str, str] | None = None) -> Server:
    """`streamlit run app.py` on a free loopback port, its output in ``log`` (a file, not a pipe
    nobody reads, which would stall the server once full), healthy before it is returned.
    ``extra_env``: more environment for the server (``DMARC_STORE`` for the History page)."""
    port = _free_port()
    env = {**os.environ, NAMESERVER_ENV: nameserver, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(f"http://127.0.0.1:{port}", log, process)
    try:
        _wait_healthy(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def _wait_healthy(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling a health endpoint, not waiting on the page
    raise RuntimeError(f"streamlit did not become healthy at {server.url} within {timeout}s:\n{server.log_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, dns_server) -> Iterator[Server]:
    """The app for the whole session; its DNS is the zone server of tests/zones."""
    _require_chromium()
    server = start_server(tmp_path_factory.mktemp("streamlit") / "server.log", dns_server.address)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server.url


@pytest.fixture
def fresh_app_url(tmp_path, dns_server, diagnostics) -> Iterator[str]:
    """A server of this test's own, for what only a server's first request shows."""
    _require_chromium()
    server = start_server(tmp_path / "fresh-server.log", dns_server.address)
    diagnostics.servers.append((server, 0))
    yield server.url
    stop_server(server)


# --- what happened during a test, shown when it fails ---------------------------------------------


@dataclass
class Diagnostics:
    servers: list[tuple[Server, int]] = field(default_factory=list)  # with the log offset at the start
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def console_errors(self) -> list[str]:
        return [line for line in self.console if line.startswith("error")]


_DIAGNOSTICS = pytest.StashKey[Diagnostics]()


@pytest.fixture(autouse=True)
def diagnostics(request, app_server) -> Diagnostics:
    found = Diagnostics(servers=[(app_server, app_server.log_size())])
    request.node.stash[_DIAGNOSTICS] = found
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    found = item.stash.get(_DIAGNOSTICS, None)
    if not report.failed or found is None:
        return
    for server, start in found.servers:
        report.sections.append((f"streamlit server log ({server.url})", server.log_text(start)[-20000:] or "(empty)"))
    report.sections.append(("browser console", "\n".join(found.console[-200:]) or "(empty)"))
    if found.page_errors:
        report.sections.append(("uncaught errors in the page", "\n".join(found.page_errors)))


# --- the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser, diagnostics):
    """Contexts for this test (``new_context(color_scheme="dark")``), each watched, all closed after it.
    The test fails if a page threw, a dialog opened or a request tried to leave the machine."""
    contexts = []

    def make(**options):
        options = {"viewport": {"width": 1400, "height": 1000}, "accept_downloads": True, **options}
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        _watch(context, diagnostics)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    problems = [
        *(f"uncaught error in the page: {error}" for error in diagnostics.page_errors),
        *(f"a dialog opened: {dialog}" for dialog in diagnostics.dialogs),
        *(f"a request tried to leave the machine: {url}" for url in diagnostics.outside_requests),
    ]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def page(new_context):
    return new_context().new_page()


def _watch(context, found: Diagnostics) -> None:
    def refuse(route):
        found.outside_requests.append(route.request.url)
        route.abort("blockedbyclient")

    def console(message):
        where = message.location.get("url", "") if message.location else ""
        if message.type == "error" and message.text.startswith("Failed to load resource") and BASE_PATH_PROBE.search(where):
            return
        found.console.append(f"{message.type}: {message.text} ({where})")

    def dialog(opened):
        found.dialogs.append(f"{opened.type}: {opened.message}")
        opened.dismiss()

    context.route(OUTSIDE, refuse)
    context.on("console", console)
    context.on("weberror", lambda error: found.page_errors.append(str(error.error)))
    context.on("dialog", dialog)
    context.on("page", _track)


# --- waiting for the app's script runs -------------------------------------------------------------


class Runs:
    """Counts the app's finished script runs on the page's current connection, read from its
    websocket (Streamlit's ForwardMsg). A fragment's run, or a run cut short by a newer one, does
    not count."""

    def __init__(self) -> None:
        self.socket = None
        self.finished = 0

    def attach(self, socket) -> None:
        if STREAM not in socket.url:
            return
        self.socket, self.finished = socket, 0  # a new connection (a navigation) counts from zero
        socket.on("framereceived", lambda payload: self._received(socket, payload))

    def _received(self, socket, payload) -> None:
        from google.protobuf.message import DecodeError
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if socket is not self.socket or not isinstance(payload, bytes):
            return
        try:
            message = ForwardMsg.FromString(payload)
        except DecodeError:  # not a ForwardMsg: nothing this counts
            return
        if message.WhichOneof("type") == "script_finished" and message.script_finished in (
            ForwardMsg.FINISHED_SUCCESSFULLY,
            ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
        ):
            self.finished += 1

    def wait_beyond(self, count: int) -> None:
        """Until the current connection has seen more than ``count`` finished runs."""
        socket = self.socket
        if self.finished <= count:
            socket.wait_for_event(
                "framereceived", predicate=lambda _: self.finished > count or self.socket is not socket, timeout=TIMEOUT_MS
            )
        assert self.socket is socket, "the app's connection was replaced while waiting for a run"


_RUNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _track(page) -> Runs:
    if page not in _RUNS:
        _RUNS[page] = Runs()
        page.on("websocket", _RUNS[page].attach)
    return _RUNS[page]


def _is_stream(socket) -> bool:
    return STREAM in socket.url


def settled(page) -> None:
    """The page shows the finished run: connected, not running, no skeleton, nothing stale, its
    fonts loaded (text measured before that is measured in a fallback font)."""
    from playwright.sync_api import expect

    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(app).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.locator("[data-stale='true']")).to_have_count(0)
    page.evaluate("document.fonts.ready.then(() => null)")


@contextlib.contextmanager
def rerun(page) -> Iterator[None]:
    """Around an interaction that reruns the script on the same page (a widget, a button, a page
    link): waits for that run to finish and show."""
    runs = _track(page)
    assert runs.socket is not None, "open the app first (open_app)"
    before = runs.finished
    yield
    runs.wait_beyond(before)
    settled(page)


def open_app(page, url: str) -> None:
    """Navigate, and wait for the app's first run on the new connection to finish and show."""
    runs = _track(page)
    with page.expect_websocket(_is_stream):
        page.goto(url)
    runs.wait_beyond(0)
    settled(page)


def wait_for_app(page) -> None:
    """For a page the app opened (a link's new tab): its first run, finished and shown."""
    runs = _track(page)
    if runs.socket is None:
        page.wait_for_event("websocket", _is_stream)
    runs.wait_beyond(0)
    settled(page)


def assert_no_exception(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)


# --- screenshots ------------------------------------------------------------------------------------


def screenshot(page, name: str) -> Path:
    """Screenshots land in a git-ignored folder on every run, for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # No tooltip from the last click or hover over the picture.
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    # Streamlit scrolls inside its main container, so grow the viewport to the content first.
    viewport = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], min(height, 12000))})
    page.screenshot(path=str(path), animations="disabled")
    page.set_viewport_size(viewport)
    return path
