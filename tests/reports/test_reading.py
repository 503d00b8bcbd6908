"""Reading aggregate reports: every real sample, every container, every kind of damage."""

from __future__ import annotations

import csv
import email.message
import email.policy
import gzip
import io
import re
import zipfile
import zlib
from collections import defaultdict

import pytest

from dmarc_core import Limits, ReportError, distinct_reports, parse_reports, read_file, read_files

from conftest import SAMPLES
from reportkit import record, report

REFUSED = {
    "empty.xml": "is empty",
    "bad.xml": "is empty",
    "bad.zip": "member 1 (bad.xml) of bad.zip is empty",
    "notempty.txt.gz": "is not XML",
    "notempty.zip": "member 1 (notempty.txt) of notempty.zip is not XML",
    "plain.txt": "is not XML: it begins with 'A text file'",
    "non-dmarc.xml": "not a DMARC aggregate report",
}
# The MANIFEST's script could not count these; the numbers were read off the files by hand.
HAND_COUNTED = {"ikea.com!example.de!1538690400!1538776800.xml": (1, 1)}


def _manifest_counts() -> dict[str, tuple[int, int]]:
    """Records and messages per sample file, from the independent inventory in MANIFEST.tsv."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with open(SAMPLES / "MANIFEST.tsv", encoding="utf-8") as manifest:
        for row in csv.DictReader(manifest, delimiter="\t"):
            if row["file"].startswith("aggregate/") and row["records"] not in ("None", ""):
                totals = counts[row["file"].split("/", 1)[1]]
                totals[0] += int(row["records"])
                totals[1] += int(row["messages"])
    return {name: tuple(totals) for name, totals in counts.items()}


SAMPLE_FILES = sorted(path.name for path in (SAMPLES / "aggregate").iterdir()) if SAMPLES else []


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_is_read_with_the_independent_counts_or_refused_with_a_reason(samples, name):
    path = samples / "aggregate" / name
    if name in REFUSED:
        with pytest.raises(ReportError, match=REFUSED[name].replace("(", r"\(").replace(")", r"\)")):
            parse_reports(path.read_bytes(), name)
        return
    batch = parse_reports(path.read_bytes(), name)
    expected = HAND_COUNTED.get(name) or _manifest_counts()[name]
    assert (sum(r.record_count for r in batch), sum(r.message_count for r in batch)) == expected


def test_all_samples_are_accounted_for(samples):
    counted = set(_manifest_counts()) | set(HAND_COUNTED) | set(REFUSED)
    assert set(SAMPLE_FILES) <= counted


@pytest.mark.parametrize(
    ("name", "repair"),
    [
        ("ikea.com!example.de!1538690400!1538776800.xml", "ends before <schema> is closed"),
        ("invalid_utf_8.xml", "replaced with �"),
        ("invalid_xml.xml", "looks like a tag"),
        ("dmarc-1-space.xml", "whitespace before the XML declaration"),
        ("InvalidReport.xml", "no <report_metadata>"),
        ("malformed.xml", "<report_metadata> was closed by </feedback>"),
        ("2bcd8fcbd79c40f9b5b39d7ecbb5a3d8.xml", "<identities> was read as <identifiers>"),
        ("001.xml", "predates DMARC"),
    ],
)
def test_damage_is_repaired_and_said(samples, name, repair):
    batch = parse_reports((samples / "aggregate" / name).read_bytes(), name)
    assert any(repair in note for r in batch for note in r.repairs), [r.repairs for r in batch]


def test_the_invalid_byte_becomes_a_replacement_character(samples):
    (result,) = parse_reports((samples / "aggregate" / "invalid_utf_8.xml").read_bytes(), "invalid_utf_8.xml")
    assert result.records["header_from"].to_pylist() == ["bad_byte�"]


def test_rfc_9990_reports_keep_their_extras(samples):
    (result,) = parse_reports((samples / "aggregate" / "rfc9990-sample.xml").read_bytes())
    assert result.schema == "RFC 9990"
    assert (result.policy.np, result.policy.testing, result.policy.discovery_method) == ("none", "n", "treewalk")
    assert result.metadata.generator == "Example DMARC Aggregate Reporter v1.2"
    assert result.records["disposition"].to_pylist() == ["pass"]
    (gmx,) = parse_reports((samples / "aggregate" / "gmxnet.xml").read_bytes())
    assert gmx.schema == "RFC 9990"
    (legacy,) = parse_reports((samples / "aggregate" / "nice-input.xml").read_bytes())
    assert legacy.schema == "RFC 7489" or legacy.policy.np  # Google adds <np> to RFC 7489 reports


def test_reasons_and_mixed_case_values_are_normalized(samples):
    (result,) = parse_reports((samples / "aggregate" / "report_with_upper_cased_pass.xml").read_bytes())
    assert (result.records["reported_dkim"].to_pylist(), result.records["disposition"].to_pylist()) == (["pass"], ["none"])
    assert result.metadata.org_name == "example.com"  # the trailing space is gone
    (fastmail,) = parse_reports((samples / "aggregate" / "003.xml").read_bytes())
    assert "trusted_forwarder" in fastmail.records["reason"].to_pylist()


def test_declared_encodings_and_byte_order_marks(samples):
    (aol,) = parse_reports((samples / "aggregate" / "bbustin_dmarc.xml").read_bytes())  # windows-1252
    assert aol.metadata.org_name == "AOL" and aol.record_count == 1
    utf16 = report(record()).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert parse_reports(utf16)[0].record_count == 1
    bom = b"\xef\xbb\xbf" + report(record(), record())
    assert parse_reports(bom)[0].record_count == 2
    no_declaration = report(record()).split(b"\n", 1)[1]
    assert parse_reports(no_declaration)[0].record_count == 1


def test_containers_are_detected_by_content_not_name():
    xml = report(record(count=3), record(count=4))
    gzipped = gzip.compress(xml)
    assert _messages(parse_reports(gzipped, "report.txt")) == 7
    assert _messages(parse_reports(gzip.compress(gzipped), "twice.xml")) == 7
    assert _messages(parse_reports(zlib.compress(xml), "raw.zlib")) == 7
    with_trailer = gzipped + b"\r\n"
    assert _messages(parse_reports(with_trailer, "mimecast.gz")) == 7


def test_every_zip_member_is_read_also_in_folders():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("a.xml", report(record(count=1), report_id="a"))
        zipped.writestr("folder.xml/", b"")
        zipped.writestr("folder.xml/b.xml.gz", gzip.compress(report(record(count=2), report_id="b")))
        zipped.writestr("c/notes.txt", b"hello")
    outcome = read_file(archive.getvalue(), "reports.zip")
    assert [r.metadata.report_id for r in outcome.reports] == ["a", "b"]
    assert [refusal.reason for refusal in outcome.refusals] == [
        "member 3 (c/notes.txt) of reports.zip is not XML: it begins with 'hello'."
    ]
    assert outcome.status == "repaired"


def test_a_damaged_member_is_refused_and_the_others_are_read():
    # A corrupt .gz beside a good .xml: the archive gives one report and one refusal, not nothing.
    good, damaged = report(record(count=4), report_id="good"), bytearray(gzip.compress(report(record(count=9))))
    damaged[20:40] = b"\xff" * 20
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("broken.xml.gz", bytes(damaged))
        zipped.writestr("good.xml", good)
    outcome = read_file(archive.getvalue(), "reports.zip")
    assert [r.metadata.report_id for r in outcome.reports] == ["good"] and outcome.messages == 4
    assert [refusal.name for refusal in outcome.refusals] == ["reports.zip › broken.xml.gz"]
    assert "damaged" in outcome.refusals[0].reason


def test_an_oversized_email_in_an_archive_is_refused_alone():
    message = email.message.EmailMessage()
    message["From"] = "reports@example.net"
    message.add_attachment(report(record(count=1)), maintype="application", subtype="xml", filename="r.xml")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("big.eml", message.as_bytes() + b"x" * 2048)
        zipped.writestr("good.xml", report(record(count=2), report_id="good"))
    outcome = read_file(archive.getvalue(), "reports.zip", Limits(max_email_bytes=1024))
    assert [r.metadata.report_id for r in outcome.reports] == ["good"]
    assert len(outcome.refusals) == 1 and "big.eml" in outcome.refusals[0].reason


def test_report_emails_whatever_the_attachment_type():
    message = email.message.EmailMessage()
    message["From"] = "noreply-dmarc-support@google.com"
    message["Subject"] = "Report domain: example.com"
    message.set_content("This is an aggregate report. <b>See attachment</b>")
    message.add_alternative("<html><body><p>This is an aggregate report.</p></body></html>", subtype="html")
    message.add_attachment(
        gzip.compress(report(record(count=5))), maintype="application", subtype="octet-stream", filename="r.xml.gz"
    )
    outcome = read_file(message.as_bytes(), "report.eml")
    assert outcome.messages == 5 and outcome.refusals == ()


def test_real_report_emails(samples):
    for name, messages in [("mimecast-weird-gzip.eml", 1), ("104.eml", 1), ("twilight.eml", 1), ("freitagsrunde_yahoo.eml", 96)]:
        outcome = read_file((samples / "aggregate" / name).read_bytes(), name)
        assert outcome.messages == messages and outcome.refusals == (), name


@pytest.mark.parametrize(
    ("folder", "name", "words"),
    [
        ("smtp_tls", "rfc8460.json", "SMTP TLS report"),
        ("smtp_tls", "google.com_smtp_tls_report.eml", "SMTP TLS report"),
        ("smtp_tls", "rpt02.eml", "SMTP TLS report"),
        ("forensic", "arf-18.eml", r"failure \(forensic\) report"),
        ("forensic", "dmarc_ruf_report_linkedin.eml", r"failure \(forensic\) report"),
    ],
)
def test_other_kinds_of_report_are_named(samples, folder, name, words):
    with pytest.raises(ReportError, match=words):
        parse_reports((samples / folder / name).read_bytes(), name)


def test_sources_can_be_bytes_paths_or_streams(samples, tmp_path):
    path = samples / "aggregate" / "nice-input.xml.gz"
    assert _messages(parse_reports(path)) == _messages(parse_reports(path.read_bytes())) == 3047
    with open(path, "rb") as stream:
        assert _messages(parse_reports(stream, "nice-input.xml.gz")) == 3047


def test_zero_record_reports_are_read(samples):
    (empty,) = parse_reports((samples / "aggregate" / "2cc32d95b4f142578eb7c70d3cea6219.xml").read_bytes())
    assert empty.record_count == 0 and empty.repairs == ()


def _messages(batch) -> int:
    return sum(r.message_count for r in batch)


def test_a_report_uploaded_twice_counts_once_and_says_so():
    # RFC 9990: a receiver's report_id identifies the report, in whatever file or archive it comes.
    document = report(record(count=5), org_name="google.com", report_id="17")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("again.xml", document)
    reports = [
        *read_file(document, "a.xml").reports,
        *read_file(archive.getvalue(), "b.zip").reports,
        *read_file(report(record(count=1), report_id=""), "no-id.xml").reports,
        *read_file(report(record(count=1), report_id=""), "no-id-2.xml").reports,
    ]
    distinct = distinct_reports(reports)
    assert [r.file for r in distinct.reports] == ["a.xml", "no-id.xml", "no-id-2.xml"]  # no id: cannot be told apart
    assert distinct.note == "1 report came twice and was counted once: google.com's report 17 in b.zip › again.xml."


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (b"<feedback></feedback>", "is an empty DMARC aggregate report: its <feedback> holds no"),
        (b"<catalog><book/></catalog>", "its root element is <catalog>, not <feedback>"),
    ],
)
def test_xml_that_is_no_report_is_refused_for_what_it_is(document, words):
    with pytest.raises(ReportError, match=words):
        parse_reports(document, "x.xml")


def test_a_refusal_says_what_went_wrong_before_it():
    cut = gzip.compress(report(record(count=3)) * 50)[:60]  # the gzip ends after a few bytes of XML
    with pytest.raises(ReportError, match=r"Before that, .*ends before its compressed data does"):
        parse_reports(cut, "cut.xml.gz")


def test_a_gzip_cut_short_says_so_in_the_report_read_from_it():
    # The gzip finds it was cut only at its end, after the records were read: the note must still arrive.
    whole = gzip.compress(report(*(record(count=1, source_ip=f"192.0.2.{n}") for n in range(200))))
    (cut,) = parse_reports(whole[: len(whole) * 2 // 3], "cut.xml.gz")
    assert 0 < cut.record_count < 200
    assert "cut.xml.gz ends before its compressed data does; read what was there" in cut.repairs


_LEFT_OUT = "the file ends inside a record, which was left out: its DKIM and SPF results are unknown"


def _cut_in_last_record(at: bytes) -> tuple[bytes, bytes]:
    """Three records, the last one signed; the document, and it cut just after ``at`` in that record."""
    signed = record(dkim=[("example.com", "pass")], count=7, source_ip="192.0.2.3")
    document = report(record(count=1, source_ip="192.0.2.1"), record(count=2, source_ip="192.0.2.2"), signed)
    last = document.rindex(b"<record>")
    return document, document[: document.index(at, last) + len(at)]


@pytest.mark.parametrize("at", [b"<source_ip>192.0", b"<auth_results>", b"<dkim><domain>exam", b"<result>pass</result>"])
@pytest.mark.parametrize("read", ["alone", "among many", "gzip"])
def test_a_record_the_file_ends_inside_is_left_out_and_said(at, read):
    # A download or an attachment cut short ends inside a record: libxml2's recovery closes it,
    # and the fields after the cut read as absent. Kept, the record would be judged unsigned
    # (7 messages of a signed sender shown failing); left out, the repair says why.
    document, cut = _cut_in_last_record(at)
    if read == "gzip":
        (found,) = parse_reports(gzip.compress(cut)[:-8], "cut.xml.gz")  # its trailer gone too: a gzip cut short
        assert "cut.xml.gz ends before its compressed data does; read what was there" in found.repairs
    elif read == "among many":
        outcomes = read_files([("whole.xml", document), ("cut.xml", cut), ("after.xml", document)])
        found = outcomes[1].reports[0]
        assert [outcome.reports[0].record_count for outcome in outcomes] == [3, 2, 3]  # its neighbours keep theirs
    else:
        (found,) = parse_reports(cut, "cut.xml")
    assert found.records.column("source_ip").to_pylist() == ["192.0.2.1", "192.0.2.2"]
    assert _LEFT_OUT in found.repairs


def test_a_file_cut_between_records_keeps_every_record_it_holds():
    document, _ = _cut_in_last_record(b"<record>")
    cut = document[: document.rindex(b"</record>") + len(b"</record>")]  # the root's end tag gone, no record open
    (found,) = parse_reports(cut, "cut.xml")
    assert found.record_count == 3 and _LEFT_OUT not in found.repairs
    # A file cut inside its header holds no record to leave out.
    (header_only,) = parse_reports(document[: document.index(b"<domain>") + 10], "header.xml")
    assert header_only.record_count == 0 and _LEFT_OUT not in header_only.repairs


def test_a_gzip_member_that_starts_at_a_read_boundary_is_read():
    # A second member starting exactly where a 64 KiB read of the compressed stream ended was taken
    # for trailing junk, and its records were lost.
    document = report(record(count=2))
    head, rest = document[:60], document[60:]
    filler = 65_536 - len(gzip.compress(head, compresslevel=0))
    first = gzip.compress(head + b"<!--" + b"x" * (filler - 7) + b"-->", compresslevel=0)
    assert len(first) == 65_536  # the member ends where the reader's first read ends
    (result,) = parse_reports(first + gzip.compress(rest), "joined.xml.gz")
    assert result.message_count == 2 and result.repairs == ()


def test_a_report_email_attached_to_an_email_is_looked_into():
    inner = email.message.EmailMessage()
    inner["From"] = "noreply-dmarc-support@google.com"
    inner.add_attachment(gzip.compress(report(record(count=4))), maintype="application", subtype="gzip", filename="r.xml.gz")
    outer = email.message.EmailMessage()
    outer["From"] = "postmaster@example.com"
    outer.set_content("Forwarding the report below.")
    outer.add_attachment(inner.as_bytes(), maintype="application", subtype="octet-stream", filename="report.eml")
    outcome = read_file(outer.as_bytes(), "forwarded.eml")
    assert outcome.messages == 4


def test_two_reports_with_one_id_but_other_dates_are_both_kept():
    first = read_file(report(record(count=1), org_name="r.example", report_id="7", begin=1759276800, end=1759363199), "a.xml")
    later = read_file(report(record(count=5), org_name="r.example", report_id="7", begin=1759363200, end=1759449599), "b.xml")
    assert len(distinct_reports([*first.reports, *later.reports]).reports) == 2


def test_an_email_read_in_blocks_is_the_email_read_whole(samples):
    # containers._parsed_email feeds the stdlib's parser in blocks to keep memory low; it must find the
    # same parts, payloads and headers as email.message_from_bytes on every e-mail of the samples, and
    # where a CR LF or a header falls across the edge of a block.
    from dmarc_core.reports.containers import _EMAIL_BLOCK, _parsed_email

    def parts(message):
        return [(part.get_content_type(), part.items(), part.get_payload(decode=True)) for part in message.walk()]

    emails = sorted(path for folder in ("aggregate", "forensic", "smtp_tls") for path in (samples / folder).glob("*.eml"))
    assert len(emails) > 20
    message = email.message.EmailMessage()
    message["Subject"] = "Report domain: example.com"
    message.add_attachment(b"x" * (_EMAIL_BLOCK * 2), maintype="application", subtype="gzip", filename="r.xml.gz")
    crafted = message.as_bytes().replace(b"\n", b"\r\n")
    # The inserted line's CR LF lands 11 to 8 bytes after where it goes: across the first block's edge.
    edges = [crafted[:at] + b"X-Edge: 1\r\n" + crafted[at:] for at in range(_EMAIL_BLOCK - 11, _EMAIL_BLOCK - 7)]
    for data in [path.read_bytes() for path in emails] + edges:
        whole = email.message_from_bytes(data, policy=email.policy.compat32)
        assert parts(_parsed_email(data)) == parts(whole)


@pytest.mark.parametrize(
    ("before", "after", "note", "kept"),
    [
        pytest.param(
            "<header_from>example.com</header_from>",
            "<header_from>example.com</header_from><header_from>other.example</header_from>",
            "a record held <header_from> twice: the first was read",
            ("header_from", "example.com"),
            id="header-from",
        ),
        pytest.param(
            "<dkim>fail</dkim>",
            "<dkim>fail</dkim><dkim>pass</dkim>",
            "a record's <policy_evaluated> held <dkim> twice: the first was read",
            ("reported_dkim", "fail"),
            id="policy-evaluated-dkim",
        ),
        pytest.param(
            "<auth_results></auth_results>",
            "<auth_results><spf><domain>a.example</domain><domain>b.example</domain><result>pass</result></spf></auth_results>",
            "a <spf> result held <domain> twice: the first was read",
            ("spf", [{"domain": "a.example", "scope": "", "result": "pass"}]),
            id="spf-domain",
        ),
    ],
)
def test_a_value_written_twice_is_read_once_and_said(before, after, note, kept):
    # Nothing may be lost silently: the reader keeps the first of a value written twice, and says so.
    document = report(record(count=3)).replace(before.encode(), after.encode(), 1)
    assert document.count(after.encode()) == 1
    [found] = parse_reports(document, "twice.xml")
    assert note in found.repairs
    column, value = kept
    assert found.records.column(column).to_pylist() == [value]


def test_a_record_without_auth_results_is_read_without_results_and_said():
    # Every record holds an <auth_results> (RFC 7489's schema and RFC 9990's); RFC 9990's may be
    # empty. Read without one, a record's mail looks unauthenticated: the reader says why.
    note = "a record held no <auth_results>: it was read as one without DKIM or SPF results"
    document = report(record(count=3, dkim=[("example.com", "pass")]), record(count=1))
    without = re.sub(rb"<auth_results>.*?</auth_results>", b"", document, count=1)
    [found] = parse_reports(without, "no-auth-results.xml")
    assert note in found.repairs
    assert found.records.column("dkim").to_pylist() == [[], []] and found.records.column("count").to_pylist() == [3, 1]
    [empty] = parse_reports(report(record(count=3), record(count=1)), "empty-auth-results.xml")
    assert note not in empty.repairs


@pytest.mark.parametrize(
    ("written", "read", "note"),
    [
        # XML 1.0 4.1: "&" starts a reference; libxml2's recover mode drops what it cannot make out.
        (
            "AT&T Corp",
            "AT Corp",
            "a bare & in a value (as in AT&T) was read as the start of an entity: the word after it was dropped",
        ),
        ("A & B", "A  B", "a bare & in a value was dropped"),
        ("a &copy; b", "a", "&copy; is no entity XML knows (an HTML one?): it and the rest of its value were dropped"),
        ("x&#0;y", "xy", "a character reference to code point 0 (&#0; or &#;) was dropped"),
        ("x&#;y", "xy", "a character reference to code point 0 (&#0; or &#;) was dropped"),
        ("x&#1;y", "x\ufffdy", "a character reference to code point 1, which is no character, was shown as \ufffd"),
        # XML 1.0 2.2: characters XML forbids, written as they are.
        ("a\x00b", "ab", "a NUL byte in a value was dropped"),
        ("a\x1fb", "ab", "a character XML forbids in text (code point 31) was dropped"),
        ("a\ufffeb", "ab", "a character XML forbids in text (code point 65534) was dropped"),
    ],
)
def test_what_the_recovery_dropped_from_a_value_is_said_in_words(written, read, note):
    # Receivers write organization names as they are (AT&T): what the recovery dropped is said, in
    # words, once.
    [found] = parse_reports(report(record(count=3), org_name="ORG").replace(b"ORG", written.encode()), "ampersand.xml")
    assert found.metadata.org_name == read
    assert found.repairs == (f"line 2: {note}",)


def test_a_cdata_end_inside_a_value_is_said_in_words():
    # XML 1.0 2.4: "]]>" may not appear in content; libxml2 recovers by dropping text before it.
    comment = b"<reason><type>other</type><comment>a ]]> b</comment></reason></policy_evaluated>"
    [found] = parse_reports(report(record(count=3)).replace(b"</policy_evaluated>", comment, 1), "cdata.xml")
    assert found.records.column("reason_comment").to_pylist() == ["]> b"]
    assert any("a value held ']]>', which XML forbids in text" in repair for repair in found.repairs), found.repairs
