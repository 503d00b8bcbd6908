"""Many files dropped at once go up as one .zip packed in the browser (ui/pack_uploads.js), and the
page still lists every file under its own name with its own status, as if each had gone up alone:
picked in the file dialog and dropped on the uploader, with real reports, a name outside ASCII
and a file the reader refuses. A few files still go up one by one, each with its chip."""

from __future__ import annotations

import base64
import random
import re
import shutil
from collections import Counter

from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot, start_server, stop_server
from browser.helpers import grid, main, row_count, rows
from dmarc_core import read_files
from ui.pack_uploads import MANY_FILES
from ui.triage_view import STATUS_LABELS

WIDE = {"width": 1400, "height": 1000}


def dropped_files(samples, tmp_path) -> list:
    """More than MANY_FILES real reports of every kind, one renamed outside ASCII, one refused."""
    chosen = sorted(path for path in (samples / "aggregate").iterdir() if path.is_file())[: MANY_FILES + 10]
    renamed = tmp_path / "rapport-\u00e9t\u00e9-\u65e5\u672c.xml"
    shutil.copy(chosen[-1], renamed)
    refused = samples / "aggregate" / "plain.txt"
    return [*chosen[:-1], renamed, refused]


def files_summary(paths) -> str:
    """The Files line the page shows when each file is read alone, counted by the library."""
    counts = Counter(read_files([(path.name, path.read_bytes())])[0].status for path in paths)
    return f"Files: {counts['read']} read, {counts['repaired']} read with repairs, {counts['refused']} refused" + (
        f", {counts['failure_report']} failure report" if counts["failure_report"] else ""
    )


def upload_requests(page) -> list[str]:
    sent = []
    page.on(
        "request",
        lambda request: sent.append(request.url) if "/_stcore/upload_file/" in request.url and request.method == "PUT" else None,
    )
    return sent


def picked(new_context, app_url: str, paths) -> tuple:
    """The Triage page with the files picked in its uploader's dialog, and the upload requests sent."""
    page = new_context(viewport=WIDE).new_page()
    open_app(page, f"{app_url}/triage")
    sent = upload_requests(page)
    with rerun(page):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(paths)
    return page, sent


def expect_each_file_listed(page, paths) -> None:
    files = main(page).get_by_test_id("stExpander").filter(has_text="Files:")
    expect(files.locator("summary")).to_have_text(re.compile(re.escape(files_summary(paths))))
    assert_no_exception(page)
    files.locator("summary").click()
    table = grid(page, "Status")
    assert row_count(table) == len(paths)
    shown = rows(table)
    assert [row["File"] for row in shown] == [path.name for path in paths][: len(shown)]
    status = {path.name: STATUS_LABELS[read_files([(path.name, path.read_bytes())])[0].status] for path in paths}
    assert all(row["Status"] == status[row["File"]] for row in shown)


def test_many_files_picked_at_once_go_up_as_one_packed_zip_and_are_listed_one_by_one(app_url, new_context, samples, tmp_path):
    paths = dropped_files(samples, tmp_path)
    page, sent = picked(new_context, app_url, paths)
    assert len(sent) == 1
    expect(page.get_by_test_id("stFileChip")).to_have_count(1)
    expect(page.get_by_test_id("stFileChipName")).to_have_text(f"{len(paths)} files.zip")
    expect_each_file_listed(page, paths)
    screenshot(page, "pack-uploads-picked")


def test_many_files_dropped_on_the_uploader_go_up_as_one_packed_zip(app_url, new_context, samples, tmp_path):
    paths = dropped_files(samples, tmp_path)
    page = new_context(viewport=WIDE).new_page()
    open_app(page, f"{app_url}/triage")
    sent = upload_requests(page)
    files = [{"name": path.name, "data": base64.b64encode(path.read_bytes()).decode()} for path in paths]
    with rerun(page):
        # What a drop from the desktop delivers: a drop event whose DataTransfer holds the files.
        page.get_by_test_id("stFileUploaderDropzone").evaluate(
            """(zone, files) => {
                const transfer = new DataTransfer();
                for (const {name, data} of files) {
                    const bytes = Uint8Array.from(atob(data), char => char.charCodeAt(0));
                    transfer.items.add(new File([bytes], name));
                }
                for (const type of ['dragenter', 'dragover', 'drop'])
                    zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
            }""",
            files,
        )
    assert len(sent) == 1
    expect(page.get_by_test_id("stFileChipName")).to_have_text(f"{len(paths)} files.zip")
    expect_each_file_listed(page, paths)


def test_a_few_files_go_up_one_by_one_each_with_its_chip(app_url, new_context, samples):
    paths = [samples / "aggregate" / name for name in ("001.xml", "002.xml", "003.xml")]
    page, sent = picked(new_context, app_url, paths)
    assert len(sent) == len(paths)
    expect(page.get_by_test_id("stFileChipName")).to_have_text([path.name for path in paths])
    expect_each_file_listed(page, paths)


def test_many_files_beyond_the_upload_limit_together_go_up_one_by_one(new_context, tmp_path, dns_server, diagnostics):
    """Packed, they would make one file over the server's limit, which the uploader refuses whole.
    1 MB here: the uploader's megabyte is 10**6 bytes (2**20 only in browsers on Windows), and
    these files, 1,020,000 bytes together that no compression shrinks, are within 2**20."""
    server = start_server(tmp_path / "server.log", dns_server.address, {"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1"})
    diagnostics.servers.append((server, 0))
    try:
        noise = random.Random(0)
        paths = []
        for number in range(MANY_FILES + 10):
            path = tmp_path / f"noise-{number:02}.bin"
            path.write_bytes(noise.randbytes(17_000))
            paths.append(path)
        page, sent = picked(new_context, server.url, paths)
        assert len(sent) == len(paths)
        expect(main(page).get_by_text(f"These {len(paths)} files were uploaded in a request each")).to_be_visible()
        expect_each_file_listed(page, paths)
    finally:
        stop_server(server)
