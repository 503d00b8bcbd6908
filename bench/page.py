"""The Triage page's benchmark: upload to rendered senders table, and filter reruns, in Chromium.

    python bench/page.py                  # 3 runs, a fresh server each; prints a markdown table
    python bench/page.py --runs 5 --script-runs 9

Each run starts the app with `streamlit run app.py` on a free port (the browser tests' server),
warms it with the demo reports (imports, first page run), then, each upload in a browser session
of its own: (a) a 100k-record .xml.gz of realistic variety (bench/variety.py) uploaded until the
senders table is drawn; (b) 300 small real reports (shared/samples/aggregate/) likewise, dropped as
300 files (which the browser packs into one .zip before they go up: ui/pack_uploads.js) and as
one .zip of them made beforehand; (c) filter
changes on the 100k upload ("Failing only" on and off, a cause chosen and cleared, a search typed
and cleared), each until the page settled, with the bytes the browser received for it. The clock
runs inside the page (``INSTRUMENT``), from the interaction's first input event until the page
shows the finished run; waiting is on that, never on the clock.

``--script-runs`` also times the page script alone for the same filter changes, in-process through
``streamlit.testing.v1.AppTest`` (no browser, no network): the script's share of a rerun.
Never run as a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE), str(ROOT / "tests")]

from browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, settled, start_server, stop_server  # noqa: E402
from browser.helpers import grid  # noqa: E402

from conftest import SAMPLES  # noqa: E402
from variety import replicated_samples, write_variety  # noqa: E402

BIG_RECORDS = 100_000
SMALL_FILES = 300
SOURCES_COLUMN = "Sender / source"
SENDERS_HEADING = "Senders, the most failing messages first"  # the page's; the JS looks for "Senders, "
CAUSE = "Signed with someone else's domain"  # wrong_domain's title: the commonest failing cause
SEARCH = "mcsv"
UNUSED_NAMESERVER = "127.0.0.1:9"  # the benchmark asks no DNS


def big_report() -> Path:
    path = HERE / "out" / f"variety-{BIG_RECORDS}.xml.gz"
    if not path.exists() or path.stat().st_mtime < (HERE / "variety.py").stat().st_mtime:
        write_variety(BIG_RECORDS, path, "xml.gz")
    return path


def small_reports() -> list[Path]:
    return replicated_samples(SMALL_FILES, HERE / "out" / f"many-{SMALL_FILES}", SAMPLES / "aggregate")


def small_reports_zipped() -> Path:
    """The same small reports as one .zip: one upload request instead of one per file."""
    import zipfile

    path = HERE / "out" / f"many-{SMALL_FILES}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for report in small_reports():
            archive.write(report, report.name)
    return path


# --- the browser ---------------------------------------------------------------------------------

#: Timing inside the page, so that neither Playwright's actionability checks nor its transport of
#: websocket frames to Python (the tests' ``Runs``) is on the clock. ``arm()`` before an
#: interaction; the clock starts at its first input event. The run's end is the app's
#: ``script_finished`` message (ForwardMsg field 6, read off the websocket as the tests' ``Runs``
#: reads it), and ``done()``, polled every frame, stops the clock once the page shows it: the
#: tests' ``settled`` condition, after the page drew the run's "running" state (or 50 ms passed,
#: for a run so short the page drew its start and end at once). ``senders`` is the first frame
#: that shows the senders table of this run (its grid drawn under the "Senders, …"
#: heading): the charts below it may still be drawing. Bytes are the app's websocket messages
#: since ``arm()``.
INSTRUMENT = """(() => {
    const bench = window.__bench = {received: 0, finished: 0, finishedAt: 0, running: false};
    const scriptFinished = data => {  // a ForwardMsg's script_finished status, or -1
        const bytes = new Uint8Array(data);
        let at = 0;
        const varint = () => {
            let value = 0, shift = 0, byte;
            do { byte = bytes[at++]; value += (byte & 127) * 2 ** shift; shift += 7; } while (byte & 128);
            return value;
        };
        while (at < bytes.length) {
            const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
            if (wire === 0) { const value = varint(); if (field === 6) return value; }
            else if (wire === 2) { const length = varint(); at += length; }  // not at += varint(): it moves at
            else if (wire === 1) at += 8;
            else if (wire === 5) at += 4;
            else return -1;
        }
        return -1;
    };
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', event => {
                if (!(event.data instanceof ArrayBuffer)) return;
                bench.received += event.data.byteLength;
                if ([0, 1].includes(scriptFinished(event.data))) {  // finished successfully, or with a compile error
                    bench.finished += 1;
                    bench.finishedAt = performance.now();
                }
            });
        }
    };
    const app = () => document.querySelector('[data-testid=stApp]');
    const sendersDrawn = () => {
        const heading = [...document.querySelectorAll('h3')].find(element => element.textContent.startsWith('Senders, '));
        const grid = heading && [...document.querySelectorAll('[data-testid=stDataFrame]')]
            .find(frame => heading.compareDocumentPosition(frame) & Node.DOCUMENT_POSITION_FOLLOWING);
        return Boolean(grid && grid.querySelector('canvas') && !grid.closest("[data-stale='true']"));
    };
    const begin = () => { if (bench.start === null) bench.start = performance.now(); };
    for (const type of ['pointerdown', 'keydown', 'input', 'change']) document.addEventListener(type, begin, true);
    new MutationObserver(() => {
        if (bench.start !== null && app()?.dataset.testScriptState === 'running') bench.running = true;
    }).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-test-script-state']});
    bench.arm = () => Object.assign(bench, {start: null, running: false, senders: null, end: null, since: bench.received, before: bench.finished});
    bench.sendersShown = () => {
        if (bench.senders === null && bench.start !== null && sendersDrawn()) bench.senders = performance.now();
        return bench.senders !== null;
    };
    bench.done = () => {
        bench.sendersShown();
        const drawn = bench.running || performance.now() - bench.finishedAt > 50;
        const shown = bench.finished > bench.before && drawn && app()?.dataset.testConnectionState === 'CONNECTED'
            && app().dataset.testScriptState === 'notRunning'
            && !document.querySelector('[data-testid=stSkeleton]') && !document.querySelector("[data-stale='true']");
        if (shown && bench.end === null) bench.end = performance.now();
        return shown;
    };
    bench.arm();
    bench.start = performance.now();  // the page's first run: from the start of its loading
})()"""
RUN_TIMEOUT_MS = 300_000  # an upload of 300 files took 19 s on a busy machine


class Watch:
    """A page of its own browser context, instrumented (``INSTRUMENT``) to time the app's reruns."""

    def __init__(self, browser, **options) -> None:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(INSTRUMENT)
        self.page = context.new_page()

    def open(self, url: str) -> None:
        self.page.goto(url)
        self._shown()

    def rerun(self, trigger: Callable[[], None]) -> tuple[float, int]:
        """Seconds and bytes from ``trigger``'s first input event until the page shows its run."""
        self.page.evaluate("window.__bench.arm()")
        trigger()
        return self._shown()

    def _shown(self) -> tuple[float, int]:
        self.page.wait_for_function("window.__bench.done()", polling="raf", timeout=RUN_TIMEOUT_MS)
        seconds, received = self.page.evaluate("[(__bench.end - __bench.start) / 1000, __bench.received - __bench.since]")
        settled(self.page)  # the tests' full check (fonts too), off the clock
        return seconds, received

    def close(self) -> None:
        self.page.context.close()


@dataclass
class Timings:
    """Seconds (and bytes received) of every measurement, by what was measured."""

    #: Per upload, seconds until the senders table is drawn, and until the page settled.
    uploads: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    filters: dict[str, list[float]] = field(default_factory=dict)
    filter_bytes: dict[str, list[int]] = field(default_factory=dict)
    script: dict[str, list[float]] = field(default_factory=dict)


def upload(watch: Watch, files: list[Path], name: str, timings: Timings) -> None:
    """Seconds from dropping the files to the senders table drawn, and to the page settled."""
    settled_after, _ = watch.rerun(lambda: watch.page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files))
    watch.page.wait_for_function("window.__bench.sendersShown()", polling="raf")  # a grid may draw after the page settled
    grid(watch.page, SOURCES_COLUMN)  # it is there, as the tests read it (off the clock)
    drawn, settled_times = timings.uploads.setdefault(name, ([], []))
    drawn.append(watch.page.evaluate("(__bench.senders - __bench.start) / 1000"))
    settled_times.append(settled_after)


def filter_changes(page) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """Each filter change as (name, preparation, trigger): only the trigger reruns the app."""
    toggle = page.get_by_test_id("stMain").get_by_text("Failing only", exact=True)
    causes = page.get_by_test_id("stMultiSelect").filter(has_text="Causes")
    search = page.get_by_label("Search sender, IP or domain")

    def choose_cause() -> None:
        page.get_by_role("option", name=CAUSE).click()
        page.keyboard.press("Escape")  # the list stays open for more choices

    def nothing() -> None:
        pass

    yield "failing only on", nothing, toggle.click
    yield "failing only off", nothing, toggle.click
    yield "cause chosen", causes.locator("input").click, choose_cause
    yield "cause cleared", nothing, causes.get_by_role("button", name=f"Remove {CAUSE}").click
    yield "search typed", lambda: search.fill(SEARCH), lambda: search.press("Enter")
    yield "search cleared", lambda: search.fill(""), lambda: search.press("Enter")


def browser_run(browser, url: str, timings: Timings) -> None:
    """One run on a warm server, each upload in a session of its own, then the filter changes."""
    viewport = {"width": 1400, "height": 1000}
    watch = Watch(browser, viewport=viewport)
    watch.open(f"{url}/triage")
    upload(watch, small_reports(), f"{SMALL_FILES} small real reports, packed by the browser", timings)
    watch.close()

    watch = Watch(browser, viewport=viewport)
    watch.open(f"{url}/triage")
    upload(watch, [small_reports_zipped()], f"the same {SMALL_FILES} as one .zip", timings)
    watch.close()

    watch = Watch(browser, viewport=viewport)
    watch.open(f"{url}/triage")
    upload(watch, [big_report()], f"a {BIG_RECORDS:,}-record .xml.gz", timings)
    watch.page.get_by_role("heading", name=SENDERS_HEADING).scroll_into_view_if_needed()
    for name, prepare, trigger in filter_changes(watch.page):
        prepare()
        seconds, received = watch.rerun(trigger)
        timings.filters.setdefault(name, []).append(seconds)
        timings.filter_bytes.setdefault(name, []).append(received)
    watch.close()


@contextmanager
def warm_server() -> Iterator[str]:
    """A fresh server, its log in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder) / "server.log", UNUSED_NAMESERVER)
        try:
            yield server.url
        finally:
            stop_server(server)


def warm_up(browser, url: str) -> None:
    """The page's imports and a first triage (the demo reports) done before any clock starts."""
    watch = Watch(browser)
    watch.open(f"{url}/triage")
    watch.rerun(watch.page.get_by_role("button", name="Try the demo reports").click)
    watch.close()


def measure_browser(runs: int, timings: Timings) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    big_report(), small_reports_zipped()  # made before any clock starts
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for run in range(runs):
            print(f"browser run {run + 1} of {runs}...", file=sys.stderr)
            with warm_server() as url:
                warm_up(browser, url)
                browser_run(browser, url, timings)
        browser.close()


# --- the script alone ------------------------------------------------------------------------------


def measure_script(runs: int, timings: Timings) -> None:
    """The page script's time for filter reruns on the 100k upload, without browser or network."""
    from streamlit.testing.v1 import AppTest

    test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    test.run()
    test.switch_page("app_pages/triage.py").run()
    test.file_uploader(key="uploads").upload(big_report().name, big_report().read_bytes()).run()
    changes = {
        "failing only": lambda on: test.toggle(key="filter_failing").set_value(on),
        "cause": lambda on: test.multiselect(key="filter_causes").set_value(["wrong_domain"] if on else []),
        "search": lambda on: test.text_input(key="filter_search").set_value(SEARCH if on else ""),
    }
    for number in range(runs * 2):
        for name, change in changes.items():
            change(number % 2 == 0)
            start = time.perf_counter()
            test.run()
            timings.script.setdefault(name, []).append(time.perf_counter() - start)
    assert not test.exception, [error.value for error in test.exception]


# --- the table --------------------------------------------------------------------------------------


def cell(values: list[float], unit: str = "s") -> str:
    if not values:
        return "-"
    if unit == "MB":
        return f"{statistics.median(values) / 1e6:.2f} MB ({min(values) / 1e6:.2f}-{max(values) / 1e6:.2f})"
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def markdown(timings: Timings) -> str:
    """The results as a markdown table, medians with the range in brackets, for BENCHMARKS.md."""
    lines = [
        "| Triage page, Chromium | time | received |",
        "|---|---:|---:|",
    ]
    for name, (drawn, settled_times) in timings.uploads.items():
        lines.append(f"| upload {name}: senders table drawn | {cell(drawn)} | |")
        lines.append(f"| upload {name}: page settled (charts too) | {cell(settled_times)} | |")
    lines += [
        f"| filter on the {BIG_RECORDS:,}: {name} | {cell(times)} | {cell(timings.filter_bytes[name], 'MB')} |"
        for name, times in timings.filters.items()
    ]
    every_change = [seconds for times in timings.filters.values() for seconds in times]
    if every_change:
        lines.append(f"| **any filter change** | **{cell(every_change)}** | |")
    if timings.script:
        lines += ["", f"| page script alone (AppTest), filter rerun on the {BIG_RECORDS:,} | time |", "|---|---:|"]
        lines += [f"| {name} | {cell(times)} |" for name, times in timings.script.items()]
        every_rerun = [seconds for times in timings.script.values() for seconds in times]
        lines.append(f"| **any filter change** | **{cell(every_rerun)}** |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Time the Triage page in Chromium.")
    parser.add_argument("--runs", type=int, default=3, help="browser runs, each on a fresh server (0: none)")
    parser.add_argument("--script-runs", type=int, default=3, help="AppTest filter reruns of each kind, twice over (0: none)")
    args = parser.parse_args()
    timings = Timings()
    if args.runs:
        measure_browser(args.runs, timings)
    if args.script_runs:
        measure_script(args.script_runs, timings)
    print(markdown(timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
