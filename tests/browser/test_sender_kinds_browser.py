"""Issue 16 in a real browser: the senders table says the kind of each sender, and once the
sources are enriched (against the loopback DNS server), addresses nothing authenticated are named
by their host names, and the addresses DNS failed for are said in words."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot, settled
from browser.helpers import grid, main, rows
from dmarc_core import knowledge
from dmarc_core.analysis.summary import UNAUTHENTICATED

from reportkit import record, report

WIDE = {"width": 3200, "height": 1200}  # every column of the enriched sources table in view


def test_kinds_and_host_names_after_enriching_sources(app_url, new_context, tmp_path):
    unauthenticated = [
        # 198.51.100.40 and .42: Microsoft 365 and Amazon SES host names (tests/zones/senders.zone);
        # .41 has none; 203.0.113.9's reverse zone answers SERVFAIL.
        record(spf=[("example.com", "fail")], source_ip=ip, count=count)
        for ip, count in (("198.51.100.40", 30), ("198.51.100.41", 20), ("198.51.100.42", 10), ("203.0.113.9", 5))
    ]
    reports = tmp_path / "senders.xml"
    reports.write_bytes(
        report(
            record(dkim=[("example.com", "pass")], spf=[("example.com", "pass")], reported_dkim="pass", count=400),
            record(dkim=[("mcsv.net", "pass")], spf=[("mcsv.net", "pass")], source_ip="198.2.140.17", count=120),
            record(dkim=[("example.com", "fail")], reasons=["forwarded"], source_ip="192.0.2.77", count=7),
            *unauthenticated,
        )
    )
    page = new_context(viewport=WIDE).new_page()
    open_app(page, f"{app_url}/triage")
    with rerun(page):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(reports)
    titles = {key: kind.title for key, kind in knowledge().sender_kinds.items()}
    before = {(row["Sender / source"], row["Kind"]) for row in rows(grid(page, "Kind"))}
    assert {(UNAUTHENTICATED, titles["unknown"]), ("Mailchimp", titles["known_service"])} <= before

    main(page).get_by_role("button", name="Enrich sources").click()
    # The lookups run in the background; the table is redrawn with them, then DNS's failure is said.
    warning = main(page).get_by_test_id("stAlertContentWarning").filter(has_text="DNS did not answer")
    expect(warning).to_contain_text(
        re.compile(r"DNS did not answer for 1 of 7 addresses: .*\(SERVFAIL\) for 1\."), timeout=30_000
    )
    settled(page)
    assert_no_exception(page)
    header = main(page).locator("table[role=grid] thead th").filter(has_text="Host names (PTR)")
    expect(header).to_have_count(1)  # the grid redrawn with the new columns
    table = rows(grid(page, "Host names (PTR)"))
    kinds = {(row["Sender / source"], row["Kind"]) for row in table}
    assert {
        ("example.com", titles["own"]),
        ("Mailchimp", titles["known_service"]),
        ("Microsoft 365 / Outlook.com", titles["known_service"]),
        ("Amazon SES", titles["known_service"]),
        (UNAUTHENTICATED, titles["forwarder"]),  # the forwarded mail, by an address with no host name
        (UNAUTHENTICATED, titles["unknown"]),
    } <= kinds, kinds
    microsoft = next(row for row in table if row["Sender / source"] == "Microsoft 365 / Outlook.com")
    assert microsoft["Host names (PTR)"] == "mail-am6eur05on2040.outbound.protection.outlook.com"
    headers = grid(page, "Kind").locator("table[role=grid] thead th").all_text_contents()
    assert headers[:4] == ["Sender / source", "Failing", "Cause", "Kind"]
    screenshot(page, "triage-sender-kinds-enriched")
