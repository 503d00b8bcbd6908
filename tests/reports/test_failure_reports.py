"""Issue 12: failure reports (RFC 6591, ARF of RFC 5965) in an upload are no longer refused; each
is kept whole for the message check, with the fields a list of them shows. Abuse reports (ARF of
another Feedback-Type) and e-mails that are no ARF stay refused with the reason."""

from __future__ import annotations

import email.message
import gzip
import io
import zipfile

import pytest

from dmarc_core import ReportError, parse_reports, read_file
from dmarc_core.reports.reading import read_files

from reportkit import record, report

#: Every sample in forensic/, with the fields read off the raw files by hand:
#: (reported domain, source IP, arrival date) for a failure report, the reason's words for a refusal.
FAILURE_REPORTS = {
    # RFC 6591's own example: the date is in Received-Date, the name early ARF used.
    "003.eml": ("example.net", "192.0.2.1", "Wed, 14 Apr 2010 12:15:31 -0700 (PDT)"),
    # OpenDMARC: Source-IP with the host as a comment, and no arrival date at all.
    "004.eml": ("interpublication.org", "148.163.85.135", ""),
    "005.eml": ("a.sender.example", "192.0.2.1", "8 Oct 2011 20:15:58 +0000 (GMT)"),
    "DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml": (
        "domain.de",
        "10.10.10.10",
        "Mon, 01 Oct 2018 11:20:27 +0200",
    ),
    # The feedback part arrived base64-encoded (re-encoded by Outlook on the way).
    "[Netease DMARC Failure Report] Rent Reminder.eml": ("cardinal.com", "167.89.69.24", "Fri, 28 Sep 2018 16:48:42 +0800"),
    "arf-18.eml": ("example.net", "192.0.2.222", "Thu, 29 Apr 2015 23:34:45 +0000"),
    "arf-19.eml": ("example.net", "203.0.113.2", "Thu, 29 Apr 2015 23:34:45 +0900"),
    "arf-20.eml": ("example.net", "203.0.113.2", ""),
    "dmarc_ruf_report_linkedin.eml": ("example.com", "10.10.10.10", "Tue, 30 Apr 2019 02:09:00 +0000"),
    "dmarc_ruf_report_linkedin.crlf.eml": ("example.com", "10.10.10.10", "Tue, 30 Apr 2019 02:09:00 +0000"),
    # Exim's report has no ARF part: its text names the domain and IP, then copies the headers received.
    "exim_plain_text_only_no_arf_part.eml": ("example.com", "203.0.113.68", "Mon, 07 Apr 2025 23:16:09 +0200"),
}
REFUSED = {
    "001.eml": "is an ARF feedback report (Feedback-Type: abuse), not a DMARC aggregate report",
    "002.eml": "is an ARF feedback report (Feedback-Type: abuse), not a DMARC aggregate report",
}


def test_every_forensic_sample_is_a_failure_report_or_refused_with_its_reason(samples):
    paths = sorted((samples / "forensic").iterdir())
    assert {path.name for path in paths} == set(FAILURE_REPORTS) | set(REFUSED)  # a new sample is not skipped
    outcomes = {outcome.name: outcome for outcome in read_files([(path.name, path.read_bytes()) for path in paths])}
    for name, (domain, source_ip, arrival_date) in FAILURE_REPORTS.items():
        outcome = outcomes[name]
        assert outcome.status == "failure_report" and outcome.reports == () and outcome.refusals == (), name
        (found,) = outcome.failure_reports
        assert found.name == name and found.data == (samples / "forensic" / name).read_bytes()
        assert (found.feedback_type, found.reported_domain, found.source_ip, found.arrival_date) == (
            "auth-failure",
            domain,
            source_ip,
            arrival_date,
        ), name
        assert "failure (forensic) report" in outcome.details
    for name, words in REFUSED.items():
        outcome = outcomes[name]
        assert outcome.status == "refused" and outcome.failure_reports == (), name
        assert [refusal.reason for refusal in outcome.refusals] == [f"{name} {words}."]


def test_a_failure_report_is_still_no_aggregate_report(samples):
    with pytest.raises(ReportError, match=r"arf-18\.eml is a failure \(forensic\) report"):
        parse_reports((samples / "forensic" / "arf-18.eml").read_bytes(), "arf-18.eml")


def test_in_a_zip_or_gzip_the_failure_report_keeps_the_emails_own_bytes(samples):
    message = (samples / "forensic" / "arf-19.eml").read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("arf-19.eml", message)
    zipped_outcome = read_file(archive.getvalue(), "ruf.zip")
    (in_zip,) = zipped_outcome.failure_reports
    assert (in_zip.name, in_zip.data, in_zip.source_ip) == ("ruf.zip › arf-19.eml", message, "203.0.113.2")
    assert zipped_outcome.status == "failure_report"
    gzipped_outcome = read_file(gzip.compress(message), "arf-19.eml.gz")
    (in_gzip,) = gzipped_outcome.failure_reports
    assert (in_gzip.name, in_gzip.data) == ("arf-19.eml", message)


def test_a_mixed_upload_one_report_one_failure_report_one_refusal(samples):
    files = [
        ("aggregate.xml", report(record(count=4))),
        ("arf-18.eml", (samples / "forensic" / "arf-18.eml").read_bytes()),
        ("broken.xml.gz", gzip.compress(report(record()))[:40]),
    ]
    outcomes = read_files(files)
    assert [outcome.status for outcome in outcomes] == ["read", "failure_report", "refused"]
    assert sum(len(outcome.reports) for outcome in outcomes) == 1 and outcomes[0].messages == 4
    assert sum(len(outcome.failure_reports) for outcome in outcomes) == 1
    assert sum(len(outcome.refusals) for outcome in outcomes) == 1 and outcomes[2].name == "broken.xml.gz"


def test_beside_aggregate_reports_a_failure_report_is_no_refusal_and_is_named(samples):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("r.xml", report(record(count=2)))
        zipped.writestr("arf-20.eml", (samples / "forensic" / "arf-20.eml").read_bytes())
    outcome = read_file(archive.getvalue(), "month.zip")
    assert outcome.status == "read" and outcome.messages == 2 and outcome.refusals == ()
    assert [found.name for found in outcome.failure_reports] == ["month.zip › arf-20.eml"]
    assert "month.zip › arf-20.eml is a failure (forensic) report" in outcome.details


def feedback_email(fields: str, attachment: bytes | None = None, report_type: str = "feedback-report") -> bytes:
    """An ARF e-mail (RFC 5965 §2): a text part, the feedback fields, the reported message (with
    ``attachment`` as a zip when given)."""
    reported = email.message.EmailMessage()
    reported["From"] = "someone@example.org"
    reported["Subject"] = "the reported message"
    reported.set_content("Hello")
    if attachment is not None:
        reported.add_attachment(attachment, maintype="application", subtype="zip", filename="report.zip")
    feedback = email.message.Message()
    feedback.set_type("message/feedback-report")
    feedback.set_payload(fields)
    outer = email.message.EmailMessage()
    outer["From"] = "reports@receiver.example"
    outer.set_content("This is an authentication failure report.")
    outer.make_mixed()
    outer.set_type("multipart/report")
    outer.set_param("report-type", report_type)
    outer.attach(feedback)
    outer.add_attachment(reported)
    return outer.as_bytes()


def test_the_reported_messages_attachments_are_not_read_as_reports():
    # RFC 6591 §3: the attached message is the one that failed, not a report of one's own, even
    # when that message carried an aggregate report (a reporter's mail can fail DMARC too).
    carried = io.BytesIO()
    with zipfile.ZipFile(carried, "w") as zipped:
        zipped.writestr("r.xml", report(record(count=9)))
    data = feedback_email("Feedback-Type: auth-failure\nVersion: 1\nReported-Domain: example.org\n", carried.getvalue())
    outcome = read_file(data, "ruf.eml")
    assert outcome.status == "failure_report" and outcome.reports == () and outcome.refusals == ()
    assert outcome.failure_reports[0].reported_domain == "example.org"


def test_a_report_that_does_not_say_its_type_is_a_failure_report_and_abuse_is_refused():
    untyped = read_file(feedback_email("Version: 1\nSource-IP: 2001:db8::1\n"), "untyped.eml")
    assert untyped.status == "failure_report"
    assert (untyped.failure_reports[0].feedback_type, untyped.failure_reports[0].source_ip) == ("", "2001:db8::1")
    abuse = read_file(feedback_email("Feedback-Type: abuse\nVersion: 1\n"), "abuse.eml")
    assert abuse.status == "refused" and "Feedback-Type: abuse" in abuse.details


def test_hostile_field_values_stay_short_single_lines_of_text():
    hostile = "<script>x</script> **bold**"
    fields = (
        f"Feedback-Type: auth-failure\nReported-Domain: {hostile}\n  folded on\nSource-IP: {'9' * 100_000}\nArrival-Date: DATE\n"
    )
    data = feedback_email(fields).replace(b"DATE", "café ".encode() + b"\xff")
    (found,) = read_file(data, "hostile.eml").failure_reports
    assert found.reported_domain == f"{hostile} folded on"  # kept as text; pages show it only as text
    assert len(found.source_ip) < 1000
    assert found.arrival_date == "café \ufffd"  # UTF-8 read as such, a byte that is none replaced
