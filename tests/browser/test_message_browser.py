"""The Message Check in a real browser: a person pastes the headers and body of a message that a
mailing list changed and re-sealed, reads the verdict offline, then asks for the DNS lookups and
sees which signature failed, why, and what to change. The app asks the loopback server that
publishes the test signers' keys (tests/mailzone.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot, start_server, stop_server
from browser.helpers import grid, main, rows

from mailzone import ORIGINAL, delivered
from message.kit import arc_seal, sign


@pytest.fixture
def mail_app_url(tmp_path, mail_dns, diagnostics):
    server = start_server(tmp_path / "mail-server.log", mail_dns.server.address)
    diagnostics.servers.append((server, 0))
    yield server.url
    stop_server(server)


def _through_a_list(mail_dns) -> str:
    signed = sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"])
    at_list = (
        b"Authentication-Results: list.example.org; dkim=pass header.d=example.com header.s=s1; "
        b"spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com\r\n" + signed
    )
    changed = at_list.replace(b"Subject: Invoice 42", b"Subject: [team] Invoice 42") + b"--\r\nteam mailing list\r\n"
    sealed = arc_seal(
        sign(changed, "list.example.org", "s1", mail_dns.keys["list"]),
        "list.example.org",
        "arc",
        mail_dns.keys["list"],
        "list.example.org",
    )
    return delivered(sealed, "203.0.113.5", "team-bounces@bounces.list.example.org").decode().replace("\r\n", "\n")


def test_a_pasted_message_is_verified_and_explained(mail_app_url, page, mail_dns):
    open_app(page, f"{mail_app_url}/message")
    expect(main(page)).to_contain_text("Paste a message's headers above")
    with rerun(page):
        page.get_by_role("textbox", name="Headers or the whole message").fill(_through_a_list(mail_dns))
        page.keyboard.press("Control+Enter")
    assert_no_exception(page)
    expect(main(page).get_by_test_id("stAlert").filter(has_text="Not known yet")).to_have_count(1)

    with rerun(page):
        page.get_by_text("Look up keys, SPF and the DMARC record in DNS").click()
    assert_no_exception(page)
    expect(main(page).get_by_test_id("stAlert").filter(has_text="DMARC fail")).to_have_count(1)
    expect(main(page).get_by_role("heading", name="Root cause 2: Email forwarding breaks alignment")).to_be_visible()
    signatures = {row["d="]: row for row in rows(grid(page, "Status"))}
    assert signatures["example.com"]["Status"] == "body changed after signing"
    assert signatures["list.example.org"]["Status"] == "passes"
    assert signatures["list.example.org"]["Aligned with From:"] == "no"
    expect(main(page)).to_contain_text("The ARC chain verifies; the last set was sealed by list.example.org.")
    expect(main(page).get_by_role("link", name="Open this case in the Alignment Explorer")).to_have_attribute(
        "href", "./?from=example.com&dkim=list.example.org:pass,example.com:fail&spf=bounces.list.example.org:pass"
    )
    screenshot(page, "message-check-list-forwarded")
