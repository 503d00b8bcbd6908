"""The message check end to end: messages really signed (tests/message/kit.py), keys and SPF
records served by a DNS server on loopback (conftest.py), each case of the issue mapped to the
article's quick diagnosis table (its rows 1-5) by the same rules as the triage."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dmarc_core._cli import NO_VERDICT
from dmarc_core.message.check import check_message
from dmarc_core.message.model import MessageError

from .kit import arc_seal, sign
from conftest import ROOT
from mailzone import ORIGINAL, delivered


@pytest.fixture
def checked(mail_dns):
    def check(message: bytes, **options):
        return check_message(message, lookup=True, resolver=mail_dns.resolver(), **options)

    return check


def test_an_aligned_signature_passes(mail_dns, checked):
    # RFC 9989 4.4.1: a DKIM signature that verifies for the From: domain's organization carries DMARC.
    message = delivered(sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]), "192.0.2.10", "alice@example.com")
    result = checked(message)
    assert [check.status for check in result.signatures] == ["pass"]
    assert result.signatures[0].body_intact is True
    assert result.spf.result == "pass" and result.spf.domain == "example.com"
    assert result.dmarc_pass is True and result.evaluation.diagnosis.cause == "aligned"
    assert result.policy.p == "reject" and result.policy.adkim == "r"


def test_offline_nothing_is_verified_and_the_verdict_waits_for_dns(mail_dns, silent_dns):
    message = delivered(sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]), "192.0.2.10", "alice@example.com")
    result = check_message(message)
    assert result.signatures[0].status == "not_checked"
    assert result.signatures[0].body_intact is True  # the body hash needs no DNS
    assert result.dmarc_pass is None and result.unknown == ("DKIM d=example.com s=s1", "SPF for example.com")
    assert result.to_json()["table_row"] is None


def test_offline_the_receivers_results_stand_in_and_say_so(mail_dns):
    results = "dkim=pass header.d=example.com header.s=s1; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com"
    message = delivered(sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]), "192.0.2.10", "alice@example.com", results)
    result = check_message(message)
    assert result.signatures[0].result == "pass"
    assert result.signatures[0].result_source == "as the receiver recorded"
    assert result.spf.source == "as mx.example.net recorded"
    assert result.dmarc_pass is True


def test_an_esps_own_signature_is_row_1(mail_dns, checked):
    # The article's root cause 1: the ESP signs with its own domain; DKIM passes, nothing aligns.
    message = delivered(sign(ORIGINAL, "sendgrid.net", "s1", mail_dns.keys["esp"]), "198.51.100.7", "bounces@sendgrid.net")
    result = checked(message)
    assert result.signatures[0].status == "pass"
    assert result.spf.result == "pass" and result.spf.domain == "sendgrid.net"
    assert result.dmarc_pass is False
    assert result.evaluation.diagnosis.table_row == 1 and result.evaluation.diagnosis.cause == "wrong_domain"


def test_a_body_changed_after_signing_is_root_cause_2(mail_dns, checked):
    signed = sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"])
    forwarded = signed + b"--\r\nSent through the Example forwarding service\r\n"
    result = checked(delivered(forwarded, "203.0.113.99", "alice@example.com"))
    assert result.signatures[0].status == "body_changed" and result.signatures[0].result == "fail"
    assert result.spf.result == "fail"  # the forwarder's IP is not in example.com's SPF
    assert result.evaluation.diagnosis.table_row == 2


@pytest.mark.parametrize(("selector", "status"), [("gone", "key_missing"), ("old", "key_revoked")])
def test_a_key_removed_or_revoked_is_row_4(mail_dns, checked, selector, status):
    # The article's root cause 4: the selector's key is not (or no longer) in DNS: permerror.
    message = delivered(sign(ORIGINAL, "example.com", selector, mail_dns.keys["example"]), "203.0.113.99", "alice@example.com")
    result = checked(message)
    assert result.signatures[0].status == status and result.signatures[0].result == "permerror"
    assert result.evaluation.diagnosis.table_row == 4 and result.evaluation.diagnosis.cause == "selector_missing"


def test_a_key_under_1024_bits_is_unusable(mail_dns, checked):
    # RFC 8301 3.2: verifiers must not consider signatures made with RSA keys under 1024 bits valid.
    message = delivered(sign(ORIGINAL, "example.com", "small", mail_dns.keys["small"]), "203.0.113.99", "alice@example.com")
    result = checked(message)
    assert result.signatures[0].status == "key_unusable" and "RFC 8301" in result.signatures[0].detail


def test_strict_alignment_on_a_subdomain_is_row_3(mail_dns, checked):
    # RFC 9989 4.4.1: under adkim=s the d= domain must equal the From: domain exactly.
    original = ORIGINAL.replace(b"alice@example.com", b"alice@news.strict.example")
    message = delivered(
        sign(original, "strict.example", "s1", mail_dns.keys["strict"]), "203.0.113.99", "alice@news.strict.example"
    )
    result = checked(message)
    assert result.policy.adkim == "s" and result.policy.source == "the DMARC record at _dmarc.strict.example"
    assert result.signatures[0].status == "pass"
    assert result.dmarc_pass is False and result.evaluation.diagnosis.table_row == 3


def test_two_signatures_one_aligned_is_enough(mail_dns, checked):
    # RFC 9989 4.4.1: any one DKIM-authenticated identifier that aligns makes DKIM pass for DMARC.
    twice = sign(sign(ORIGINAL, "sendgrid.net", "s1", mail_dns.keys["esp"]), "example.com", "s1", mail_dns.keys["example"])
    result = checked(delivered(twice, "198.51.100.7", "bounces@sendgrid.net"))
    assert [(check.signature.domain, check.status) for check in result.signatures] == [
        ("example.com", "pass"),
        ("sendgrid.net", "pass"),
    ]
    assert result.dmarc_pass is True and result.evaluation.diagnosis.cause == "aligned"


def _through_a_list(mail_dns) -> bytes:
    """Alice's message through a mailing list that checks it, tags the subject, adds a footer,
    signs with its own domain and seals the chain (RFC 8617), then delivered to Bob's receiver."""
    signed = sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"])
    at_list = (
        b"Authentication-Results: list.example.org; dkim=pass header.d=example.com header.s=s1; "
        b"spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com\r\n" + signed
    )
    changed = at_list.replace(b"Subject: Invoice 42", b"Subject: [team] Invoice 42") + b"--\r\nteam mailing list\r\n"
    resigned = sign(changed, "list.example.org", "s1", mail_dns.keys["list"])
    sealed = arc_seal(resigned, "list.example.org", "arc", mail_dns.keys["list"], "list.example.org")
    return delivered(sealed, "203.0.113.5", "team-bounces@bounces.list.example.org")


def test_a_list_that_reseals_gives_a_valid_arc_chain_with_the_original_result(mail_dns, checked):
    result = checked(_through_a_list(mail_dns))
    statuses = {check.signature.domain: check.status for check in result.signatures}
    assert statuses == {"list.example.org": "pass", "example.com": "body_changed"}
    assert result.spf.result == "pass" and result.spf.domain == "bounces.list.example.org"
    assert result.dmarc_pass is False and result.evaluation.diagnosis.table_row == 2
    assert result.arc.status == "pass" and result.arc.sealed_by == "list.example.org"
    first_hop = result.arc.first_hop.results
    assert first_hop.dmarc == "pass" and [verdict.domain for verdict in first_hop.dkim] == ["example.com"]


def test_an_arc_chain_broken_after_sealing_fails(mail_dns, checked):
    broken = _through_a_list(mail_dns).replace(b"[team] Invoice 42", b"[team] Invoice 43")
    assert checked(broken).arc.status == "fail"


def test_spf_over_ten_lookups_is_a_permerror(mail_dns, checked):
    # RFC 7208 4.6.4: more than 10 terms that cause DNS lookups make the evaluation a permerror.
    original = ORIGINAL.replace(b"alice@example.com", b"alice@toomany.example.com")
    result = checked(delivered(original, "192.0.2.10", "alice@toomany.example.com"))
    assert result.spf.domain == "toomany.example.com" and result.spf.result == "permerror"


def test_headers_alone_verify_and_a_receivers_fail_then_means_the_body_changed(mail_dns, checked):
    signed = sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"])
    results = "dkim=fail (body hash did not verify) header.d=example.com header.s=s1; spf=fail smtp.mailfrom=example.com"
    headers = delivered(signed, "203.0.113.99", "alice@example.com", results).split(b"\r\n\r\n")[0]
    result = checked(headers)
    assert not result.message.has_body
    assert result.signatures[0].status == "body_changed" and result.evaluation.diagnosis.table_row == 2


def test_headers_alone_that_verify_do_not_prove_the_body(mail_dns, checked):
    # RFC 6376 6.1.3: a signature passes only when the body hash matches too; without the body the
    # DKIM result is not known, so a body changed in transit cannot be a pass here.
    forwarded = sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]) + b"-- \r\nforwarded\r\n"
    headers = delivered(forwarded, "203.0.113.99", "alice@example.com").split(b"\r\n\r\n")[0]
    result = checked(headers)
    assert result.signatures[0].status == "headers_verified" and result.signatures[0].result is None
    assert result.dmarc_pass is None and result.unknown == ("DKIM d=example.com s=s1",)


def test_the_receiver_saw_a_pass_that_fails_here_is_said(mail_dns, checked):
    results = "dkim=pass header.d=example.com header.s=s1; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com"
    stored = delivered(sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]), "192.0.2.10", "alice@example.com", results)
    changed_after_delivery = stored + b"[External] This message came from outside your organization.\r\n"
    result = checked(changed_after_delivery)
    assert result.signatures[0].status == "body_changed"
    assert any("recorded pass for DKIM d=example.com s=s1" in sentence for sentence in result.disagreements)


def test_an_expired_signature_needs_no_dns(silent_dns):
    # RFC 6376 3.5 x=: a signature past its expiry does not verify.
    field = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA; t=100; x=200\r\n"
    result = check_message(field + ORIGINAL)
    assert result.signatures[0].status == "expired" and result.signatures[0].result == "fail"


def test_a_dns_server_that_never_answers_leaves_results_unknown(mail_dns, silent_dns):
    from dmarc_core import make_resolver

    message = delivered(sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]), "192.0.2.10", "alice@example.com")
    result = check_message(message, lookup=True, resolver=make_resolver(silent_dns.address))
    # Our own lookups failing is no verdict on the message: unknown, not the receiver's temperror.
    assert result.signatures[0].status == "not_checked" and result.signatures[0].result is None
    assert result.spf.result is None and result.spf.source == "DNS did not answer here"
    assert result.dmarc_pass is None and result.evaluation is None
    assert result.policy.source.startswith("not known: DNS did not answer")


def test_text_that_is_not_a_message_is_refused():
    with pytest.raises(MessageError):
        check_message("Hello, why does my mail fail DMARC?")


def _cli(*arguments: str, given: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dmarc_core", "message", *arguments], input=given, capture_output=True, cwd=ROOT, timeout=120
    )


def test_the_cli_prints_the_issues_json_fields(mail_dns, tmp_path):
    path = tmp_path / "forwarded.eml"
    path.write_bytes(_through_a_list(mail_dns))
    done = _cli(str(path), "--nameserver", mail_dns.server.address, "--json")
    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)
    assert found["from_domain"] == "example.com" and found["dmarc_pass"] is False
    assert found["cause"] == "forwarded" and found["table_row"] == 2
    assert {(item["domain"], item["selector"], item["status"]) for item in found["signatures"]} == {
        ("list.example.org", "s1", "pass"),
        ("example.com", "s1", "body_changed"),
    }
    assert found["spf"]["domain"] == "bounces.list.example.org" and found["spf"]["result"] == "pass"
    assert found["arc"] == found["arc"] | {"status": "pass", "sealed_by": "list.example.org"}
    assert found["arc"]["first_hop"] == {
        "authserv_id": "list.example.org",
        "dkim": [["example.com", "pass"]],
        "spf": "pass",
        "dmarc": "pass",
    }


def test_the_cli_reads_standard_input_offline_and_prints_a_table(mail_dns):
    message = delivered(sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]), "192.0.2.10", "alice@example.com")
    done = _cli("-", given=message)
    assert done.returncode == NO_VERDICT  # not known offline: no fail
    assert b"DKIM example.com s=s1:  not_checked" in done.stdout
    assert b"Verdict:" in done.stdout and b"not known" in done.stdout


def test_the_cli_says_pass_and_no_record_apart_from_fail(mail_dns, tmp_path):
    passing = delivered(sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]), "192.0.2.10", "alice@example.com")
    # RFC 9989 5.3.2: no DMARC record found, so DMARC does not apply: neither pass nor fail.
    original = ORIGINAL.replace(b"alice@example.com", b"alice@sendgrid.net")
    unpublished = delivered(sign(original, "sendgrid.net", "s1", mail_dns.keys["esp"]), "198.51.100.7", "b@sendgrid.net")
    for message, status in ((passing, 0), (unpublished, NO_VERDICT)):
        path = tmp_path / "message.eml"
        path.write_bytes(message)
        done = _cli(str(path), "--nameserver", mail_dns.server.address, "--json")
        assert done.returncode == status, done.stderr
        assert json.loads(done.stdout)["dmarc_pass"] is (True if status == 0 else None)


def test_the_cli_refuses_what_is_not_a_message(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("just a note")
    done = _cli(str(path))
    assert done.returncode == 2 and done.stderr.startswith(b"error: ")


@pytest.mark.parametrize(("expires", "status"), [("1577923200", "not_checked"), ("1577750400", "expired")])
def test_expiry_is_judged_when_the_message_arrived_not_today(expires, status):
    # RFC 6376 3.5 x=: a verifier compares x= with the time it verifies, which for a stored message or
    # a failure report was its arrival (here 2020-01-01 12:00 UTC); x= is 2020-01-02, then 2019-12-31.
    field = f"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA; t=1577664000; x={expires}\r\n"
    received = (
        "Received: from mail.example.com (mail.example.com [192.0.2.10]) by mx.example.net; Wed, 1 Jan 2020 12:00:00 +0000\r\n"
    )
    headers_only = ORIGINAL.split(b"\r\n\r\n")[0]
    result = check_message(received.encode() + field.encode() + headers_only)
    assert result.message.arrived_at == 1577880000
    assert result.signatures[0].status == status


def test_every_signature_status_has_words_in_the_knowledge():
    from typing import get_args

    from dmarc_core import knowledge
    from dmarc_core.message.verification import SignatureStatus

    assert set(knowledge().signature_statuses) == set(get_args(SignatureStatus))


def test_no_dmarc_record_means_dmarc_does_not_apply(mail_dns, checked):
    # RFC 9989 5.3.2: with no policy record found, the DMARC mechanism does not apply.
    original = ORIGINAL.replace(b"alice@example.com", b"alice@sendgrid.net")
    result = checked(delivered(sign(original, "sendgrid.net", "s1", mail_dns.keys["esp"]), "198.51.100.7", "b@sendgrid.net"))
    assert result.policy.applies is False and not result.dmarc_applies
    assert result.dmarc_pass is None and result.to_json()["dmarc_applies"] is False


@pytest.mark.parametrize(("selector", "key", "advice"), [("small", "small", "at least 2048 bits"), ("old", "example", "revoked")])
def test_the_fix_names_the_key_that_is_the_trouble(mail_dns, checked, selector, key, advice):
    message = delivered(sign(ORIGINAL, "example.com", selector, mail_dns.keys[key]), "203.0.113.99", "alice@example.com")
    result = checked(message)
    assert result.evaluation.diagnosis.cause == "selector_missing"
    assert advice in result.fix and f"{selector}._domainkey.example.com" in result.fix


def test_a_signature_whose_d_is_no_domain_is_malformed_and_the_rest_goes_on(silent_dns):
    field = b"DKIM-Signature: v=1; a=rsa-sha256; d=**bold**.example; s=s1; h=from; bh=AAAA; b=AAAA\r\n"
    result = check_message(field + ORIGINAL.split(b"\r\n\r\n")[0])
    assert result.signatures[0].status == "malformed" and "d= is not a domain name" in result.signatures[0].detail


def test_the_receivers_field_above_its_own_received_line_is_the_receivers(samples):
    # forensic/004.eml: box.mydomain.name's Authentication-Results stand above every Received: line.
    result = check_message((samples / "forensic" / "004.eml").read_bytes())
    assert result.receiver is not None and result.receiver.authserv_id == "box.mydomain.name"
    assert [check.result for check in result.signatures] == ["fail"]


def test_an_unknown_mail_from_is_not_taken_for_a_null_one(samples):
    # forensic/001.eml has no Return-Path: the MAIL FROM is not known, and SPF is not the HELO's.
    result = check_message((samples / "forensic" / "001.eml").read_bytes())
    assert result.message.mail_from is None and result.spf.domain == ""
