"""Reading a message (issue 12): pasted headers, .eml files and DMARC failure reports become a
``Message`` with what the message says about itself; anything else is refused with a reason.

The facts asserted about the samples were read off the raw files in ../shared/samples/forensic/.
"""

from __future__ import annotations

import base64
import random

import dkim
import pytest

from dmarc_core.message.model import MAX_HEADER_FIELDS, MAX_MESSAGE_BYTES, MAX_SIGNED_HEADERS, MessageError
from dmarc_core.message.reading import read_message

from .kit import arc_seal, generate_rsa_key, sign, txt_lookup

FORENSIC_SAMPLES = (
    "001.eml",
    "002.eml",
    "003.eml",
    "004.eml",
    "005.eml",
    "DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml",
    "[Netease DMARC Failure Report] Rent Reminder.eml",
    "arf-18.eml",
    "arf-19.eml",
    "arf-20.eml",
    "dmarc_ruf_report_linkedin.crlf.eml",
    "dmarc_ruf_report_linkedin.eml",
    "exim_plain_text_only_no_arf_part.eml",
)

PLAIN_MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: Quarterly numbers,\r\n"
    b"  folded   with  odd   spacing\r\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b"  a line with trailing spaces   \r\n"
    b"\r\n"
)


def read_sample(samples, name: str):
    return read_message((samples / "forensic" / name).read_bytes(), name)


@pytest.fixture(scope="module")
def rsa_key():
    return generate_rsa_key()


# --- The samples --------------------------------------------------------------------------------


def test_the_samples_folder_holds_the_files_named_here(samples):
    assert sorted(path.name for path in (samples / "forensic").iterdir()) == sorted(FORENSIC_SAMPLES)


@pytest.mark.parametrize("name", FORENSIC_SAMPLES)
def test_every_failure_report_sample_is_read_as_the_original_it_carries(samples, name):
    message = read_sample(samples, name)
    assert message.feedback_report is not None
    assert message.from_header.problem is None
    # What dkimpy is handed must be a message dkimpy can split into fields and body.
    headers, _ = dkim.rfc822_parse(message.data)
    assert [name.lower() for name, _ in headers].count(b"from") == 1


def test_an_abuse_report_is_read_and_says_it_is_one(samples):
    message = read_sample(samples, "001.eml")
    assert message.feedback_report.feedback_type == "abuse"
    assert message.feedback_report.reporter == "example.com"  # From: <abusedesk@example.com>
    assert message.from_header.address == "somespammer@example.net"
    # Received: from mailserver.example.net (mailserver.example.net [192.0.2.1]) by example.com
    assert (message.connecting_ip, message.helo) == ("192.0.2.1", "mailserver.example.net")
    assert message.has_body and message.data.endswith(b"Spam Spam Spam")
    assert message.signatures == ()


def test_the_arf_fields_of_an_abuse_report(samples):
    message = read_sample(samples, "002.eml")
    report = message.feedback_report
    assert (report.feedback_type, report.reported_domain, report.source_ip) == ("abuse", "example.net", "192.0.2.1")
    assert report.original_mail_from == "somespammer@example.net"  # written <somespammer@example.net>
    assert report.arrival_date == "Thu, 8 Mar 2005 14:00:00 EDT"
    assert [(results.authserv_id, results.spf) for results in report.authentication_results] == [("mail.example.com", "fail")]
    # The copy has an empty line after its Received: field, so To: and the rest are its body.
    assert b"\r\n\r\nTo: <Undisclosed Recipients>\r\n" in message.data


def test_a_bodyhash_failure_report_with_the_whole_message(samples):
    message = read_sample(samples, "003.eml")
    report = message.feedback_report
    assert (report.feedback_type, report.auth_failure, report.dkim_domain) == ("auth-failure", "bodyhash", "example.net")
    assert report.arrival_date == "Wed, 14 Apr 2010 12:15:31 -0700 (PDT)"  # the older Received-Date field
    [signature] = message.signatures
    assert (signature.domain, signature.selector, signature.algorithm) == ("example.net", "testkey", "rsa-sha256")
    assert signature.canonicalization == "relaxed/simple"
    assert signature.signed_headers == ("from", "to", "subject", "date")
    assert signature.problem is None
    assert message.has_body and message.data.endswith(b"Hi, just making sure DKIM is working!\r\n")
    # No Received: field of the copy names an IP address; the report's Source-IP does.
    assert message.connecting_ip == "192.0.2.1"


def test_opendmarc_report_with_headers_only(samples):
    message = read_sample(samples, "004.eml")
    assert not message.has_body  # text/rfc822-headers
    assert message.from_header.domain == "interpublication.org"
    [signature] = message.signatures
    assert (signature.domain, signature.selector, signature.signed_at) == ("interpublication.org", "default", 1633408612)
    assert signature.signed_headers == ("from", "subject", "to", "reply-to", "date", "from")
    assert signature.canonicalization == "relaxed/relaxed"
    [results] = message.authentication_results
    assert results.authserv_id == "box.mydomain.name"
    [verdict] = results.dkim
    assert (verdict.result, verdict.domain, verdict.signature_prefix) == ("fail", "interpublication.org", "PrsTNnuH")
    assert verdict.reason == "signature verification failed"
    report = message.feedback_report
    assert (report.auth_failure, report.reporter) == ("dmarc", "box.mydomain.name")
    [reporter_results] = report.authentication_results
    assert (reporter_results.dmarc, reporter_results.dmarc_from) == ("fail", "interpublication.org")


def test_the_source_ip_of_a_report_wins_over_an_earlier_hop_in_the_copy(samples):
    """004's copy was received by sainay.interpublication.org from 188.99.80.29 and then sent on
    from 148.163.85.135 (Source-IP: 148.163.85.135 (sainay.interpublication.org)) to the reporter:
    SPF and DMARC at the reporter judged 148.163.85.135."""
    message = read_sample(samples, "004.eml")
    assert message.connecting_ip == "148.163.85.135"
    assert any("188.99.80.29" in note for note in message.notes)
    netease = read_sample(samples, "[Netease DMARC Failure Report] Rent Reminder.eml")
    # The copy's only IP is SendGrid's HTTP client (198.190.14.10); 163.com saw 167.89.69.24.
    assert netease.connecting_ip == "167.89.69.24"


def test_a_report_with_dkim_identity_and_selector(samples):
    message = read_sample(samples, "005.eml")
    report = message.feedback_report
    assert (report.dkim_domain, report.dkim_selector, report.reported_domain) == ("sender.example", "testkey", "a.sender.example")
    assert report.reporter == "mail.receiver.example"
    assert message.from_header.address == "anexample@a.sender.example"
    assert [signature.domain for signature in message.signatures] == ["sender.example"]
    [results] = message.authentication_results
    assert (results.spf, results.spf_domain) == ("pass", "a.sender.example")
    assert message.mail_from == "anexample.reply@a.sender.example"
    assert not message.has_body


def test_a_report_whose_results_name_no_receiver(samples):
    """RFC 8601 2.2 requires an authserv-id; ecelerity's report part leaves it out
    ("Authentication-Results: dmarc=fail (p=none, dis=none) header.from=domain.de")."""
    message = read_sample(samples, "DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml")
    [results] = message.feedback_report.authentication_results
    assert (results.authserv_id, results.dmarc, results.dmarc_from, results.problem) == ("", "fail", "domain.de", None)
    assert message.feedback_report.delivery_result == "smg-policy-action"
    # from: "=?utf-8?B?...?=" <sharepoint@domain.de>, with the field name in lower case.
    assert message.from_header.address == "sharepoint@domain.de"
    assert (message.connecting_ip, message.helo) == ("10.10.10.10", "Servernameone.domain.local")


def test_netease_sends_the_arf_part_base64_inside_multipart_mixed(samples):
    message = read_sample(samples, "[Netease DMARC Failure Report] Rent Reminder.eml")
    report = message.feedback_report
    assert (report.feedback_type, report.reported_domain, report.source_ip) == ("auth-failure", "cardinal.com", "167.89.69.24")
    assert report.original_mail_from == "bounces+1137616-c1ad-xsj399=163.com@email.entrata.com"
    assert (report.dkim_domain, report.delivery_result, report.reporter) == ("entrata.com", "delivered", "163.com")
    [results] = report.authentication_results
    assert results.authserv_id == "163.com"
    assert [(verdict.result, verdict.domain) for verdict in results.dkim] == [("pass", "entrata.com")]
    assert message.from_header.address == "info@cardinal.com"
    assert message.mail_from == report.original_mail_from


def test_arf_samples_18_to_20(samples):
    arf18 = read_sample(samples, "arf-18.eml")
    assert arf18.from_header.domain == "example.org"
    assert arf18.feedback_report.reported_domain == "example.net"
    # Received: from [192.0.2.222] ([192.0.2.222:222] helo=mta-2.example.org)
    assert (arf18.connecting_ip, arf18.helo) == ("192.0.2.222", "mta-2.example.org")
    arf19 = read_sample(samples, "arf-19.eml")
    assert arf19.feedback_report.dkim_domain == "ietf.org; example.net"
    [results] = arf19.feedback_report.authentication_results
    assert [(verdict.result, verdict.domain) for verdict in results.dkim] == [("fail", "ietf.org"), ("permerror", "example.net")]
    # text/rfc822-headers: the "Nyaan" after the header block is not a body.
    assert not arf19.has_body and arf19.data.endswith(b"Content-Transfer-Encoding: base64\r\n")
    arf20 = read_sample(samples, "arf-20.eml")
    [results] = arf20.authentication_results
    verdicts = [(verdict.result, verdict.domain, verdict.signature_prefix) for verdict in results.dkim]
    assert verdicts == [("pass", "ietf.example.org", "Nekochan"), ("fail", "example.net", "NekoNyaan")]
    # Received-SPF: ... client-ip=203.0.113.2; helo=mail.ietf.example.org, the same IP as Source-IP.
    assert (arf20.connecting_ip, arf20.helo) == ("203.0.113.2", "mail.ietf.example.org")
    assert arf20.mail_from == "dmarc-bounces@ietf.example.org"


def test_linkedin_report_with_lf_and_with_crlf_reads_the_same(samples):
    lf = read_sample(samples, "dmarc_ruf_report_linkedin.eml")
    crlf = read_sample(samples, "dmarc_ruf_report_linkedin.crlf.eml")
    assert lf == crlf
    assert lf.data == crlf.data
    assert lf.feedback_report.reporter == "linkedin.com"
    assert lf.mail_from == ""  # Return-Path: <>, the null sender
    assert (lf.connecting_ip, lf.helo) == ("10.10.10.10", "mail02.someserver.com")
    assert lf.from_header.address == "sender@example.com"
    assert lf.has_body


def test_an_empty_quoted_mail_from_does_not_spoil_the_results(samples):
    """ecelerity writes smtp.mailfrom="" for the null sender, which authres 1.2 rejects; the rest
    of the field still says what the receiver found."""
    [results] = read_sample(samples, "dmarc_ruf_report_linkedin.eml").authentication_results
    assert results.problem is None
    assert results.authserv_id == "mail516.prod.linkedin.com"
    assert (results.spf, results.spf_domain) == ("neutral", "mail02.someserver.com")  # smtp.helo
    assert (results.dmarc, results.dmarc_from) == ("fail", "example.com")
    assert [verdict.result for verdict in results.dkim] == ["none"]


def test_exims_plain_text_report_is_read_from_the_headers_in_its_text(samples):
    """Exim's DMARC forensic report has no message/feedback-report part, but after "------ This
    is a copy of the headers that were received before the error was detected." it carries the
    original header block: that is enough to check (From:, Received:, Authentication-Results), so
    it is read rather than refused; the text's "Sender Domain" and "Sender IP Address" stand in
    for the ARF fields."""
    message = read_sample(samples, "exim_plain_text_only_no_arf_part.eml")
    assert message.from_header.address == "user@example.com"
    assert not message.has_body
    assert (message.connecting_ip, message.helo) == ("203.0.113.68", "smtpclient.apple")
    assert [results.authserv_id for results in message.authentication_results] == [
        "node04.mailgate.example.net",
        "mailgate.example.net",
    ]
    report = message.feedback_report
    assert (report.reported_domain, report.source_ip, report.reporter) == (
        "example.com",
        "203.0.113.68",
        "node01.mailgate.example.net",
    )
    assert message.data.startswith(b"Received: from [203.0.113.68] (helo=smtpclient.apple)\r\n")


def test_a_plain_text_report_without_the_headers_is_refused():
    report = (
        b"From: no-reply@mx.example.net\r\nSubject: DMARC Forensic Report for example.com\r\n"
        b'Content-Type: multipart/report; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nA message claiming to be from you has failed DMARC.\r\n--b--\r\n"
    )
    with pytest.raises(MessageError, match="no message to check"):
        read_message(report, "forensic.eml")


def test_a_failure_report_without_a_copy_of_the_message_is_refused():
    report = (
        b"From: reports@receiver.example\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\nAuth-Failure: dmarc\r\n"
        b"--b--\r\n"
    )
    with pytest.raises(MessageError, match="without a copy of the message"):
        read_message(report)


# --- Pasted headers ------------------------------------------------------------------------------

HEADERS = """Delivered-To: bob@example.org
Received: by 2002:a05:6a10:1234 with SMTP id abc;
        Mon, 1 Jan 2024 02:00:01 -0800 (PST)
Received: from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])
        by mx.google.com with SMTPS id x1sor;
        Mon, 01 Jan 2024 02:00:00 -0800 (PST)
Return-Path: <bounce@mail.example.com>
Authentication-Results: mx.google.com;
       dkim=pass header.i=@example.com header.s=s1 header.b=AbCdEf12;
       spf=pass (google.com: domain of bounce@mail.example.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=bounce@mail.example.com;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1;
        t=1704103200; h=from:to:subject:date:message-id;
        bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
        b=dGVzdA==
From: Alice <alice@Example.COM>
To: bob@example.org
Subject: Hello
Date: Mon, 1 Jan 2024 10:00:00 +0000"""


def test_pasted_headers_with_lf_and_crlf_read_the_same():
    lf = read_message(HEADERS)
    crlf = read_message(HEADERS.replace("\n", "\r\n"))
    assert lf == crlf
    assert not lf.has_body
    assert lf.data == HEADERS.replace("\n", "\r\n").encode() + b"\r\n"


def test_what_pasted_headers_say():
    message = read_message("\n\n   " + HEADERS + "\n\n")
    assert message.from_header.address == "alice@example.com"
    assert message.mail_from == "bounce@mail.example.com"
    # The topmost Received: names no IP; the one from Gmail's edge does, and a note says so.
    assert (message.connecting_ip, message.helo) == ("209.85.220.41", "mail-sor-f41.google.com")
    assert any("Received: field 2 from the top (by mx.google.com)" in note for note in message.notes)
    [results] = message.authentication_results
    assert results.authserv_id == "mx.google.com"
    [verdict] = results.dkim
    assert (verdict.result, verdict.domain, verdict.selector, verdict.signature_prefix) == (
        "pass",
        "example.com",
        "s1",
        "AbCdEf12",
    )
    assert (results.spf, results.spf_domain, results.dmarc, results.dmarc_from) == (
        "pass",
        "mail.example.com",
        "pass",
        "example.com",
    )
    assert not message.has_body
    assert message.data.startswith(b"Delivered-To: bob@example.org\r\n")


def test_gmails_summary_above_the_message_is_left_out():
    paste = (
        "Original message\n"
        "Message ID\t<1@example.com>\n"
        "Created at:\tMon, Jan 1, 2024 at 11:00 AM (Delivered after 1 second)\n"
        "From:\tAlice <alice@example.com>\n"
        "To:\tbob@example.org\n"
        "Subject:\tHello\n"
        "SPF:\tPASS with IP 209.85.220.41 Learn more\n"
        "DKIM:\t'PASS' with domain example.com Learn more\n"
        "DMARC:\t'PASS' Learn more\n"
        "Download original\tCopy to clipboard\t\n" + HEADERS
    )
    message = read_message(paste)
    assert message.from_header.problem is None  # the summary's From: is not a second From: field
    assert message.data.startswith(b"Delivered-To: ")
    assert any("Gmail" in note for note in message.notes)


def test_lines_that_are_not_fields_are_left_out_with_a_note():
    message = read_message("Here are the headers you asked for\nFrom: alice@example.com\nthis line lost its indent\nSubject: x\n")
    assert message.from_header.domain == "example.com"
    assert message.data == b"From: alice@example.com\r\nSubject: x\r\n"
    assert len(message.notes) == 2


def test_a_header_block_cut_inside_a_field_is_read_as_far_as_it_goes():
    message = read_message("From: alice@example.com\nSubject: x\nDKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=fr")
    assert message.from_header.domain == "example.com"
    [signature] = message.signatures
    assert signature.domain == "example.com"
    assert "missing" in signature.problem
    assert any("cut" in note for note in message.notes)


def test_rfc_6532_utf8_header_fields_are_read():
    message = read_message("From: Jörg Müller <jörg@Bücher.example>\nSubject: Grüße aus Köln – 東京\n".encode())
    assert message.from_header.address == "jörg@bücher.example"
    assert message.from_header.domain == "bücher.example"  # as written, lower-cased
    assert "Subject: Grüße aus Köln – 東京\r\n".encode() in message.data


def test_a_domain_that_is_not_utf8_is_unreadable():
    message = read_message(b"From: x@b\xe9cher.example\nSubject: latin-1\n")
    assert message.from_header.problem == "unreadable"


def test_an_mbox_from_line_is_not_a_field():
    message = read_message(b"From alice@example.com Mon Jan  1 10:00:00 2024\nFrom: alice@example.com\n\nbody\n")
    assert message.from_header.address == "alice@example.com"
    assert message.data == b"From: alice@example.com\r\n\r\nbody\r\n"
    assert message.notes == ()


# --- From: (RFC 5322 3.6.2; RFC 9989 4.2, 5.3.1 and 11.5) -----------------------------------------
# RFC 9989 5.3.1: "If zero or more than one domain is extracted from the RFC5322.From header field,
# then DMARC validation is not possible"; 4.2: a message without a single, properly formed From:
# field is outside DMARC; 11.5: multi-valued From: is a known way to dodge DMARC.


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("Subject: no author\nDKIM-Signature: v=1; d=example.com\n", "none"),
        ("From:\n", "none"),
        ("From: alice@example.com\nFrom: mallory@example.net\n", "several"),
        ("From: alice@example.com, mallory@example.net\n", "several"),
        ("From: Undisclosed recipients:;\n", "group"),
        ("From: Team: alice@example.com;\n", "group"),
        ("From: <Undisclosed Recipients>\n", "no_domain"),
        ("From: alice\n", "no_domain"),
        ("From: alice@[192.0.2.1]\n", "no_domain"),
        ("From: " + "(" * 3000 + "alice@example.com" + ")" * 3000 + "\n", "unreadable"),
    ],
)
def test_from_problems(fields, problem):
    message = read_message(fields + "Subject: x\n")
    assert message.from_header.problem == problem
    assert message.from_header.domain == ""


def test_one_from_address_with_display_name_and_comment():
    header = read_message('From: "Alice (Sales)" <alice@Mail.Example.COM> (work)\n').from_header
    assert (header.address, header.domain, header.problem) == ("alice@mail.example.com", "mail.example.com", None)


# --- DKIM-Signature tags (RFC 6376 3.5) -----------------------------------------------------------

SIGNATURE = (
    "v=1; a=rsa-sha256; d=Example.COM; s=s1; h=From : To:\n\tSubject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA=="
)


def signatures_of(*values: str):
    return read_message("From: alice@example.com\n" + "".join(f"DKIM-Signature: {value}\n" for value in values)).signatures


def test_signature_tags_and_defaults():
    [signature] = signatures_of(SIGNATURE)
    assert (signature.position, signature.domain, signature.selector, signature.algorithm) == (
        0,
        "example.com",
        "s1",
        "rsa-sha256",
    )
    assert signature.canonicalization == "simple/simple"  # no c= (RFC 6376 3.5)
    assert signature.signed_headers == ("from", "to", "subject")
    assert signature.signs_from
    assert (signature.body_length, signature.signed_at, signature.expires_at, signature.problem) == (None, None, None, None)


def test_signature_numbers_identity_and_order():
    first, second = signatures_of(
        SIGNATURE + "; c=relaxed; l=120; t=1704103200; x=1704189600; i=alice@mail.example.com",
        SIGNATURE.replace("d=Example.COM", "d=esp.example").replace("h=From : To:", "h=To:"),
    )
    assert (first.position, second.position) == (0, 1)  # top to bottom
    assert first.canonicalization == "relaxed/simple"  # the body algorithm defaults to simple
    assert (first.body_length, first.signed_at, first.expires_at) == (120, 1704103200, 1704189600)
    assert first.identity == "alice@mail.example.com"
    assert second.domain == "esp.example"
    assert not second.signs_from


def test_an_expired_signature_has_no_problem_here():
    """Expiry is judged by the verification at the time it checks; reading only records x=."""
    [signature] = signatures_of(SIGNATURE + "; t=1000000000; x=1000086400")
    assert signature.expires_at == 1000086400
    assert signature.problem is None


def test_signature_problems():
    missing, not_tags, backwards, bad_algorithm = signatures_of(
        "v=1; a=rsa-sha256; d=example.com; s=s1",
        "this is not a tag list",
        SIGNATURE + "; t=1704103200; x=1704000000",
        SIGNATURE.replace("rsa-sha256", "rsa-md5"),
    )
    assert "b=, bh=, h=" in missing.problem
    assert missing.domain == "example.com"
    assert "tag=value" in not_tags.problem
    assert "before it was signed" in backwards.problem
    assert "rsa-md5" in bad_algorithm.problem


def test_a_hostile_signed_header_list_is_capped():
    [signature] = signatures_of(SIGNATURE.replace("h=From : To:\n\tSubject", "h=" + ":".join(["from"] * 50_000)))
    assert len(signature.signed_headers) == MAX_SIGNED_HEADERS
    assert "50,000 signed header fields" in signature.problem


# --- Authentication-Results (RFC 8601) and ARC (RFC 8617) ------------------------------------------


def test_results_authres_cannot_read_are_kept_with_a_problem():
    message = read_message(
        "From: alice@example.com\nAuthentication-Results: mx.example; dkim=\nAuthentication-Results: mx.example; spf=pass smtp.mailfrom=example.com\n"
    )
    broken, good = message.authentication_results
    assert broken.problem and broken.raw == "mx.example; dkim="
    assert (good.spf, good.spf_domain, good.problem) == ("pass", "example.com", None)


def test_microsoft_results_without_authserv_id_are_read():
    message = read_message(
        "From: alice@example.com\nAuthentication-Results: spf=pass (sender IP is 40.107.22.1)\n"
        " smtp.mailfrom=example.com; dkim=pass (signature was verified)\n header.d=example.com;dmarc=pass action=none\n"
        " header.from=example.com;compauth=pass reason=100\n"
    )
    [results] = message.authentication_results
    assert (results.authserv_id, results.spf, results.dmarc, results.dmarc_from) == ("", "pass", "pass", "example.com")
    assert [verdict.domain for verdict in results.dkim] == ["example.com"]


def test_arc_sets_are_grouped_by_instance_and_sorted():
    message = read_message(
        "ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=Lists.Example; s=arc; b=YQ==\n"
        "ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed; d=lists.example; s=arc; h=from; bh=YQ==; b=YQ==\n"
        "ARC-Authentication-Results: i=2; mx.lists.example; dkim=fail header.d=example.com; arc=pass\n"
        "ARC-Authentication-Results: i=1; mx.example.com; dkim=pass header.d=example.com\n"
        "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.com; s=arc; b=YQ==\n"
        "ARC-Message-Signature: i=1; a=rsa-sha256; d=example.com; s=arc; h=from; bh=YQ==; b=YQ==\n"
        "From: alice@example.com\n"
    )
    first, second = message.arc_sets
    assert (first.instance, first.sealed_by, first.chain_validation, first.signed_by) == (1, "example.com", "none", "example.com")
    assert first.results.authserv_id == "mx.example.com"
    assert [verdict.result for verdict in first.results.dkim] == ["pass"]
    assert (second.instance, second.sealed_by, second.chain_validation) == (2, "lists.example", "pass")
    assert (second.results.arc, second.results.dkim[0].result) == ("pass", "fail")


def test_an_arc_set_made_by_dkimpy_is_read(rsa_key):
    private_pem, _ = rsa_key
    received = (
        b"Authentication-Results: lists.example.net; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com\r\n"
    )
    sealed = arc_seal(
        received + sign(PLAIN_MESSAGE, "example.com", "s1", private_pem), "example.net", "arc", private_pem, "lists.example.net"
    )
    [arc_set] = read_message(sealed).arc_sets
    assert (arc_set.instance, arc_set.sealed_by, arc_set.chain_validation, arc_set.signed_by) == (
        1,
        "example.net",
        "none",
        "example.net",
    )
    assert (arc_set.results.authserv_id, arc_set.results.spf) == ("lists.example.net", "pass")


# --- The envelope ------------------------------------------------------------------------------------


def test_mail_from_without_return_path_comes_from_the_results_then_received_spf():
    from_results = read_message(
        "From: a@example.com\nAuthentication-Results: mx.example; spf=pass smtp.mailfrom=b@bounce.example\n"
    )
    assert from_results.mail_from == "b@bounce.example"
    assert from_results.mail_from_domain == "bounce.example"
    from_spf = read_message(
        'From: a@example.com\nReceived-SPF: pass (mx.example) client-ip=192.0.2.7; envelope-from="c@spf.example"; helo=out.example;\n'
    )
    assert from_spf.mail_from == "c@spf.example"
    assert (from_spf.connecting_ip, from_spf.helo) == ("192.0.2.7", "out.example")
    assert any("Received-SPF" in note for note in from_spf.notes)


def test_the_connecting_ip_skips_loopback_hops_and_falls_back_to_iprev():
    filtered = read_message(
        "Received: from localhost (localhost [127.0.0.1]) by mx.example (amavisd)\n"
        "Received: from out.sender.example (out.sender.example [2001:db8::25]) by mx.example (Postfix)\n"
        "From: a@example.com\n"
    )
    assert (filtered.connecting_ip, filtered.helo) == ("2001:db8::25", "out.sender.example")
    from_results = read_message("From: a@example.com\nAuthentication-Results: mx.example; iprev=pass smtp.remote-ip=192.0.2.9\n")
    assert from_results.connecting_ip == "192.0.2.9"
    assert any("Authentication-Results of mx.example" in note for note in from_results.notes)


def test_exim_and_ipv4_mapped_received_fields():
    message = read_message(
        "Received: from [IPv6:::ffff:203.0.113.68] (unknown [203.0.113.68]) by example.com (Postfix)\nFrom: a@example.com\n"
    )
    assert (message.connecting_ip, message.helo) == ("203.0.113.68", "")


# --- Refusals and bounds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "empty"),
        (" \n\r\n\t", "empty"),
        ("Please check why my mail to the bank bounced, thanks.", "not a message"),
        ('<?xml version="1.0"?>\n<feedback><report_metadata/></feedback>', "aggregate report"),
        (b"\x1f\x8b\x08\x00binary", "aggregate report"),
        (b"PK\x03\x04binary", "aggregate report"),
        ("Subject: hello\nTo: bob@example.org\n", "nothing DMARC looks at"),
    ],
)
def test_refusals_name_the_input_and_say_why(data, reason):
    with pytest.raises(MessageError, match=reason) as refusal:
        read_message(data, "paste.txt")
    assert "“paste.txt”" in str(refusal.value)


def test_an_aggregate_report_email_is_sent_to_the_triage():
    zipped = base64.b64encode(b"PK\x03\x04not really").decode()
    email = (
        "From: noreply-dmarc-support@google.com\nSubject: Report domain: example.com Submitter: google.com Report-ID: 1\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nreport\n'
        '--b\nContent-Type: application/zip; name="google.com!example.com!1704067200!1704153599.zip"\n'
        f"Content-Transfer-Encoding: base64\n\n{zipped}\n--b--\n"
    )
    with pytest.raises(MessageError, match="not one message: triage it instead") as refusal:
        read_message(email)
    assert "`triage` on the command line" in str(refusal.value)  # the CLI's user is told too, not only the page's


def test_ten_thousand_header_fields_are_refused():
    with pytest.raises(MessageError, match=f"more than {MAX_HEADER_FIELDS:,} header fields"):
        read_message("From: alice@example.com\n" + "X-Filler: x\n" * 10_000)


@pytest.mark.parametrize("kind", [bytes, str])
def test_input_over_the_size_limit_is_refused_before_reading(kind):
    data = "From: alice@example.com\n\n" + "x" * (33 * 1024 * 1024)
    with pytest.raises(MessageError, match=r"33\.0 MB; the message check reads up to 32 MB"):
        read_message(data.encode() if kind is bytes else data, "big.eml")
    assert MAX_MESSAGE_BYTES == 32 * 1024 * 1024


def test_a_large_attachment_under_the_limit_is_read():
    attachment = base64.encodebytes(random.Random(1).randbytes(20 * 1024 * 1024)).decode()
    message = read_message(
        'From: alice@example.com\nContent-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhi\n'
        f"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n{attachment}--b--\n"
    )
    assert message.has_body and message.from_header.domain == "example.com"


def test_deeply_nested_mime_is_read_without_descending_forever():
    nested = b'From: alice@example.com\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    nested += b"".join(
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (depth, depth + 1) for depth in range(5000)
    )
    message = read_message(nested)
    assert message.from_header.domain == "example.com"


def test_random_and_mangled_input_raises_nothing_but_message_error(samples):
    rng = random.Random(12)
    originals = [(samples / "forensic" / name).read_bytes() for name in FORENSIC_SAMPLES] + [HEADERS.encode(), PLAIN_MESSAGE]
    alphabet = b"\r\n\t :;=<>@[]()\"'\\,.-/+abcxyzFROMfrom0129\xc3\xa9\xff\x00"
    cases: list[bytes] = [rng.randbytes(rng.randrange(1, 2000)) for _ in range(150)]
    cases += [bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 600))) for _ in range(100)]
    for _ in range(250):
        mangled = bytearray(rng.choice(originals))
        for _ in range(rng.randrange(1, 20)):
            position = rng.randrange(len(mangled))
            if rng.random() < 0.5:
                mangled[position] = rng.choice(alphabet)
            else:
                mangled[position:position] = rng.choice(alphabet).to_bytes(1, "big") * rng.randrange(1, 50)
        cut = rng.randrange(len(mangled) + 1) if rng.random() < 0.3 else len(mangled)
        cases.append(bytes(mangled[:cut]))
    read = 0
    for case in cases:
        try:
            message = read_message(case)
        except MessageError as refusal:
            assert str(refusal)
            continue
        read += 1
        dkim.rfc822_parse(message.data)  # whatever is read, dkimpy can take apart
        read_message(case.decode("utf-8", "replace"))
    assert read > 100


# --- data: the bytes dkimpy verifies ------------------------------------------------------------------


def test_a_signed_message_pasted_with_lf_still_verifies(rsa_key):
    private_pem, dns_txt = rsa_key
    lookup = txt_lookup({"s1._domainkey.example.com": dns_txt})
    for canonicalization in (("simple", "simple"), ("relaxed", "relaxed")):
        signed = sign(PLAIN_MESSAGE, "example.com", "s1", private_pem, canonicalization=canonicalization)
        assert dkim.verify(signed, dnsfunc=lookup)
        pasted = signed.decode().replace("\r\n", "\n")
        message = read_message(pasted)
        assert message.has_body
        assert dkim.verify(message.data, dnsfunc=lookup), canonicalization
        changed = read_message(pasted.replace("Hello Bob", "Hello Eve"))
        assert not dkim.verify(changed.data, dnsfunc=lookup)


def test_a_signed_message_inside_a_failure_report_still_verifies(rsa_key):
    private_pem, dns_txt = rsa_key
    signed = sign(PLAIN_MESSAGE, "example.com", "s1", private_pem, canonicalization=("simple", "simple"))
    report = (
        b"From: reports@receiver.example\r\nSubject: FW: failure\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nA failure report.\r\n"
        b"--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\nAuth-Failure: dkim\r\n"
        b"Source-IP: 192.0.2.1\r\nReported-Domain: example.com\r\n\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + signed + b"\r\n--b--\r\n"
    )
    message = read_message(report)
    assert message.feedback_report.auth_failure == "dkim"
    assert message.connecting_ip == "192.0.2.1"
    assert dkim.verify(message.data, dnsfunc=txt_lookup({"s1._domainkey.example.com": dns_txt}))
