"""Hostile input is refused, or kept as inert text, in bounded time and memory."""

from __future__ import annotations

import email.message
import gzip
import io
import subprocess
import sys
import time
import tracemalloc
import zipfile

import pytest

from dmarc_core import Limits, ReportError, parse_reports, read_file, scenario_from_query, triage
from dmarc_core.analysis import summary
from dmarc_core.analysis.triage import explorer_links

from conftest import ROOT
from reportkit import record, report

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feedback><report_metadata><org_name>&secret;</org_name></report_metadata></feedback>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_documents_with_a_dtd_are_refused(document):
    with pytest.raises(ReportError, match="declares a DTD"):
        parse_reports(document, "evil.xml")
    with pytest.raises(ReportError, match="declares a DTD"):
        parse_reports(gzip.compress(document), "evil.xml.gz")


def test_a_dtd_after_a_long_prolog_is_refused_too():
    # The first 64 KB are checked before parsing; a DTD after a longer comment is caught while reading.
    document = BILLION_LAUGHS.replace(b"<!DOCTYPE", b"<!--" + b" " * (100 << 10) + b"--><!DOCTYPE", 1)
    with pytest.raises(ReportError, match="declares a DTD"):
        parse_reports(document, "evil.xml")


def test_entities_are_never_expanded_even_without_a_dtd():
    document = report(record()).replace(b"receiver.example</org_name>", b"&xxe;</org_name>")
    (result,) = parse_reports(document)
    assert "root" not in result.metadata.org_name and result.record_count == 1


def test_a_gzip_bomb_stops_at_the_cap_in_bounded_time_and_memory():
    # 200 MB of one record repeated compresses to well under a megabyte.
    one = record().encode()
    bomb = gzip.compress(
        report(record()).replace(b"</feedback>", one * ((200 << 20) // len(one)) + b"</feedback>"), compresslevel=9
    )
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(ReportError, match="compression bomb"):
        parse_reports(bomb, "bomb.xml.gz", Limits(max_decompressed_bytes=16 << 20))
    elapsed, peak = time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 << 20, f"peak {peak >> 20} MB"
    assert elapsed < 30  # a bound on the refusal, not a benchmark: the cap stops decompression early


def test_zip_members_are_capped_by_size_count_and_depth():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for number in range(5):
            zipped.writestr(f"r{number}.xml", report(record()))
    with pytest.raises(ReportError, match="holds 5 files"):
        parse_reports(archive.getvalue(), "many.zip", Limits(max_members=3))
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("big.xml", report(record()) + b" " * (2 << 20))
    with pytest.raises(ReportError, match="compression bomb"):
        parse_reports(big.getvalue(), "big.zip", Limits(max_decompressed_bytes=1 << 20))
    nested = report(record())
    for _ in range(6):
        nested = gzip.compress(nested)
    with pytest.raises(ReportError, match="nests containers"):
        parse_reports(nested, "deep.gz")


def test_markup_in_fields_stays_text():
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)> **bold** [link](http://evil.example) =HYPERLINK("x")'
    document = report(record(header_from="example.com"), org_name=hostile, report_id="<b>id</b>")
    (result,) = parse_reports(document)
    assert result.metadata.org_name == hostile
    frame = triage(result)
    assert frame.loc[0, "org_name"] == hostile and frame.loc[0, "report_id"] == "<b>id</b>"


def test_hostile_domains_cannot_break_the_dkim_list_format():
    document = report(record(dkim=[("evil.example,mcsv.net:pass", "pass"), ("example.com", "fail")], spf=[("x y", "pass")]))
    (result,) = parse_reports(document)
    # Structured from the reader on: two signatures stay two, whatever their text holds.
    assert [entry["domain"] for entry in result.records["dkim"].to_pylist()[0]] == ["evil.example,mcsv.net:pass", "example.com"]
    frame = triage(result)
    assert frame.loc[0, "cause"] == "forwarded"  # your DKIM failed; SPF passed only for a name that is not yours
    # In the text columns and the Explorer link, the separators a report wrote show as '?'.
    assert frame.loc[0, "dkim"] == "evil.example?mcsv.net?pass:pass,example.com:fail"
    linked = scenario_from_query(explorer_links(frame)[0])[0]
    assert linked.dkim == (("evil.example?mcsv.net?pass", "pass"), ("example.com", "fail"))


def test_control_characters_cannot_forge_auth_results():
    # XML forbids &#1; and &#2;, but libxml2's recover mode keeps them: they must not pass for separators.
    forged = b"a.example&#1;b.example&#2;pass"
    document = report(record(dkim=[("PLACEHOLDER", "fail")])).replace(b"PLACEHOLDER", forged)
    (result,) = parse_reports(document)
    (signatures,) = result.records["dkim"].to_pylist()
    assert len(signatures) == 1 and "\x01" not in signatures[0]["domain"] and "\x02" not in signatures[0]["domain"]
    assert triage(result).loc[0, "finding"] == "wrong_domain_unverified"  # one failing signature, not a forged pass


def test_control_and_bidirectional_characters_never_leave_the_reader():
    # U+202E would turn the page's own sentence after a domain backwards; ESC in an address or a
    # comment would reach the CSV and a terminal. Every text of a report shows them as U+FFFD.
    document = report(
        record(
            header_from="example.com&#x202E;",
            source_ip="192.0.2.1&#x1b;]0;t",
            reasons=["forwarded"],
            comments=["moved&#x202D;&#x7;"],
        ),
        domain="example.com&#x2066;",
        org_name="Receiver&#x1b;[2J&#x9b;x&#x2028;y",
    ).replace(b"&amp;#x", b"&#x")
    (result,) = parse_reports(document)
    texts = [result.metadata.org_name, result.policy.domain, *map(str, result.records.to_pylist()[0].values())]
    assert not any(ch in text for text in texts for ch in "\x1b\x07\x9b\u2028\u202e\u202d\u2066")
    assert result.metadata.org_name == "Receiver\ufffd[2J\ufffdx\ufffdy" and result.policy.domain == "example.com\ufffd"


@pytest.mark.parametrize(
    ("change", "repair"),
    [
        # A report that claims to end in 9999 would count as millions of days of evidence.
        ((b"<end>1759363199</end>", b"<end>253402300799</end>"), "the end date 9999-12-31 is in the future"),
        ((b"<begin>1759276800</begin>", b"<begin>100</begin>"), "predates DMARC"),
        # One report claiming 2013 to now would count as years of evidence; one ending before it begins as none.
        ((b"<begin>1759276800</begin>", b"<begin>1370000000</begin>"), "spans 4506 days"),
        ((b"<begin>1759276800</begin>", b"<begin>1759449600</begin>"), "ends before it begins"),
        ((b"<begin>1759276800</begin>", "<begin>１７５９２７６８００</begin>".encode()), "is not a Unix time"),
    ],
)
def test_implausible_dates_are_repaired_and_never_evidence(change, repair):
    (result,) = parse_reports(report(record(count=1)).replace(*change))
    assert any(repair in note for note in result.repairs), result.repairs
    assert (result.metadata.begin is None) or (result.metadata.end is None)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ((b"<org_name>", b"<org_name>&#xD800;"), "no character"),  # a surrogate: lxml cannot decode it
        ((b"<feedback>", b"<x:feedback>"), None),  # an undeclared prefix on the root
        ((b"<pct>100</pct>", "<pct>²</pct>".encode()), "not a percentage"),
        ((b"<pct>100</pct>", b"<pct>" + b"9" * 5000 + b"</pct>"), "not a percentage"),
        ((b"<pct>100</pct>", b"<pct>9223372036854775808</pct>"), "not a percentage"),
        ((b"<disposition>none</disposition>", b"<disposition/>"), None),  # test_empty.xml has one
    ],
)
def test_odd_values_are_read_as_far_as_they_go(change, words):
    document = report(record(count=3)).replace(*change)
    if change[0] == b"<feedback>":
        document = document.replace(b"</feedback>", b"</x:feedback>")
    (result,) = parse_reports(document)
    frame = triage(result)
    summary.by_day(frame), summary.headline(frame), summary.rollout_readiness(frame), summary.by_source(frame)
    assert frame["count"].sum() == 3
    if words:
        assert any(words in note for note in result.repairs), result.repairs


def test_counts_too_big_to_be_counts_never_overflow_the_totals():
    # 15-digit counts summed in int64 wrapped to a negative total on the page.
    huge = report(*(record(count=999_999_999_999_999) for _ in range(10_000)), record(count=5))
    (result,) = parse_reports(huge)
    assert result.message_count == 5 and any("were not numbers of messages" in note for note in result.repairs)


def test_json_nested_deeper_than_the_stack_is_refused_not_a_crash():
    outcome = read_file(b"[" * 100_000, "deep.json")
    assert outcome.status == "refused" and "JSON" in outcome.refusals[0].reason


def test_a_reason_cannot_forge_another_reason():
    # A receiver's reasons are keywords; one <type> holding a comma must not become "forwarded".
    document = report(record(dkim=[("example.com", "fail")], spf=[("example.com", "pass")], reasons=["local_policy,forwarded"]))
    frame = triage(parse_reports(document))
    assert frame.loc[0, "reason"] == "local_policy?forwarded" and frame.loc[0, "cause"] == "signature_failed"


def test_report_text_never_reaches_a_record_to_publish():
    # The next record is built from the policy domain; a report that writes a tag into it gets none.
    hostile = "example.com; ruf=mailto:evil@attacker.example"
    documents = [
        report(
            record(dkim=[("example.com", "pass")], reported_dkim="pass", count=200),
            domain=hostile,
            org_name=org,
            report_id=org,
            begin=1759276800,
            end=1759276800 + 15 * 86400,
        )
        for org in ("a.example", "b.example")
    ]
    frame = triage([parsed for document in documents for parsed in parse_reports(document)])
    (assessment,) = summary.rollout_readiness(frame)
    assert assessment.next_record is None and "ruf=" not in assessment.advice


def test_a_record_with_thousands_of_results_is_read_to_a_cap():
    # Issue 14: every result widened the compiled record plan; a cap keeps time and memory bounded.
    many = record(dkim=[(f"d{n}.example", "fail") for n in range(5000)], count=2)
    (result,) = parse_reports(report(many, record(count=1)))
    assert [len(signatures) for signatures in result.records["dkim"].to_pylist()] == [64, 0]
    assert "a record with 5000 <dkim> results: the first 64 were read" in result.repairs
    assert result.message_count == 3


def test_a_record_with_thousands_of_reasons_is_read_to_a_cap():
    # 200,000 reasons in one record cost 27 s and 2.7 GB before: each widened the compiled plan.
    many = record(reasons=["forwarded"] * 5000, comments=["note"] * 5000)
    (result,) = parse_reports(report(many, record(count=1)))
    assert result.records["reason"].to_pylist()[0] == ",".join(["forwarded"] * 64)
    assert "a record with 5000 <reason>s: the first 64 were read" in result.repairs
    assert "a record with 5000 <comment>s: the first 64 were read" in result.repairs


def test_every_record_a_shape_of_its_own_stays_bounded():
    # Each record with a different number of results is a new shape; all are still read.
    records = [record(dkim=[(f"s{n}.example", "pass")] * (n % 60), count=1) for n in range(3000)]
    (result,) = parse_reports(report(*records))
    assert result.record_count == 3000 and result.message_count == 3000


def test_one_budget_for_the_whole_upload_stops_a_bomb_of_many_small_bombs():
    # 42.zip-style: every leaf is under the per-report cap, yet together they would decompress without
    # end. The upload's budget, drawn on by every level, stops it and says what was not read.
    leaf = gzip.compress(b"<feedback>" + b" " * (2 << 20))  # 2 MB of nothing, a few KB compressed
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("good.xml", report(record(count=3)))
        for number in range(20):
            zipped.writestr(f"leaf{number}.xml.gz", leaf)
    started = time.monotonic()
    outcome = read_file(archive.getvalue(), "bomb.zip", Limits(max_upload_bytes=8 << 20))
    assert time.monotonic() - started < 10
    assert outcome.messages == 3
    assert any(
        "and the rest of bomb.zip were not read: the upload decompresses to more than 8 MB" in r.reason for r in outcome.refusals
    )
    assert len(outcome.refusals) < 10  # the rest is one refusal, not one per leaf


def test_one_budget_for_the_parts_of_an_upload():
    message = email.message.EmailMessage()
    message["From"] = "reports@example.net"
    message.set_content("many parts")
    for number in range(30):
        message.add_attachment(
            gzip.compress(report(record(count=1), report_id=str(number))),
            maintype="application",
            subtype="gzip",
            filename=f"r{number}.xml.gz",
        )
    outcome = read_file(message.as_bytes(), "parts.eml", Limits(max_parts=10))
    assert outcome.messages == 10
    assert outcome.refusals[-1].reason.startswith("the rest of parts.eml was not read: the upload holds more than 10 files")


def _overlapping_zip(member: bytes, entries: int) -> bytes:
    """A zip whose ``entries`` directory entries all point at one member's bytes: each read gives the
    member again, the trick of the overlapping zip bombs (Fifield, 2019)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for _ in range(entries):
            zipped.writestr("r.xml", member)  # same name: the local header still matches every entry
    data = bytearray(archive.getvalue())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        data[at + 42 : at + 46] = (0).to_bytes(4, "little")  # the local header's offset: the first member's
        at = data.find(b"PK\x01\x02", at + 46)
    return bytes(data)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_zip_whose_members_overlap_is_refused_before_any_is_read():
    # Python 3.11's zipfile reads such archives (CPython refuses them from 3.12): we must refuse them ourselves.
    bomb = _overlapping_zip(report(record()) + b" " * (1 << 20), entries=50)
    outcome = read_file(bomb, "overlap.zip")
    assert not outcome.reports
    assert "its files overlap" in outcome.refusals[0].reason
    honest = read_file(_overlapping_zip(report(record()), entries=1), "one.zip")
    assert honest.messages == 1


def test_a_zip_inside_a_gzip_is_spooled_not_read_into_memory():
    # A zip's directory is at its end: inside a gzip it must be stored somewhere before it is read.
    # 64 MB of stored (uncompressed) zip compresses to well under a megabyte in the gzip around it.
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        zipped.writestr("padding.bin", bytes(64 << 20))
        zipped.writestr("report.xml", report(record(count=4)))
    wrapped = gzip.compress(archive.getvalue(), compresslevel=1)
    del archive
    tracemalloc.start()
    outcome = read_file(wrapped, "reports.zip.gz")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert outcome.messages == 4
    assert any("padding.bin" in refusal.name for refusal in outcome.refusals)
    assert peak < 40 << 20, f"peak {peak >> 20} MB"


def test_one_budget_for_the_records_of_an_upload():
    # Tiny records within the byte budget would cost gigabytes of columns: the records are counted too.
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("a.xml", report(*(record(count=1) for _ in range(20_000)), report_id="a"))
        zipped.writestr("b.xml", report(*(record(count=1) for _ in range(20_000)), report_id="b"))
        zipped.writestr("c.xml", report(record(count=1), report_id="c"))
    outcome = read_file(archive.getvalue(), "many.zip", Limits(max_records=25_000))
    first, second = outcome.reports
    assert (first.record_count, second.record_count) == (20_000, 5_000)
    assert any("reading stopped after 5,000 records" in repair for repair in second.repairs)
    (refused,) = outcome.refusals
    assert "c.xml" in refused.name and "more than 25,000 records in all" in refused.reason


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b"<feedback>" + b"<x/>" * 10_000_000 + b"</feedback>", id="under-the-root"),
        pytest.param(b"<x>" + b"<y/>" * 10_000_000 + b"</x>", id="another-root"),
        pytest.param(b"<feedback><a><b>" + b"<y/>" * 10_000_000 + b"</b></a></feedback>", id="deeper"),
    ],
)
def test_a_flood_of_unknown_elements_is_freed_as_it_is_read(tmp_path, document):
    # 40 KB of gzip hold 10 million elements no report has; kept, they would cost about 1.2 GB. The
    # peak is measured in a fresh process (libxml2's memory is not Python's, so tracemalloc misses it).
    path = tmp_path / "flood.xml.gz"
    path.write_bytes(gzip.compress(document))
    # VmHWM, not ru_maxrss: Linux carries the parent's peak at fork across exec into the latter.
    script = (
        "import re, sys; from dmarc_core import read_file; "
        "outcome = read_file(sys.argv[1], workers=1); "
        "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(int(peak) // 1024, outcome.refusals[0].reason)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True, cwd=ROOT)
    peak, reason = done.stdout.split(" ", 1)
    assert "DMARC aggregate report" in reason
    assert int(peak) < 400, f"peak {peak} MB"


@pytest.mark.parametrize("kind", ["multipart", "message"])
def test_an_email_nested_deeper_than_the_stack_is_refused_not_a_crash(kind):
    body = "Content-Type: text/plain\n\nx\n"
    for level in range(1200):
        if kind == "multipart":
            body = f'Content-Type: multipart/mixed; boundary="b{level}"\n\n--b{level}\n{body}--b{level}--\n'
        else:
            body = f"Content-Type: message/rfc822\n\nFrom: a@b.example\n{body}"
    outcome = read_file(f"From: a@b.example\nMIME-Version: 1.0\n{body}".encode(), "deep.eml")
    assert not outcome.reports and "nest deeper than any report e-mail" in outcome.refusals[0].reason


def test_a_zip_declaring_a_million_entries_is_refused_before_its_directory_is_read():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for number in range(3000):
            zipped.writestr(f"e{number}", b"")
    outcome = read_file(archive.getvalue(), "entries.zip", Limits(max_members=1000))
    assert "holds 3,000 entries; more than 1000 files are refused" in outcome.refusals[0].reason
    # zipfile walks the directory by its size, whatever count the end record declares.
    lying = bytearray(archive.getvalue())
    end = lying.rfind(b"PK\x05\x06")
    lying[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2
    outcome = read_file(bytes(lying), "lying.zip", Limits(max_members=10))
    assert "KB directory; more than 10 files are refused" in outcome.refusals[0].reason


def test_a_report_in_an_encoding_libxml2_cannot_read_says_so():
    document = report(record()).decode().replace('encoding="UTF-8"', 'encoding="UTF-32"').encode("utf-32")
    (refusal,) = read_file(document, "wide.xml").refusals
    assert "no element in it could be read" in refusal.reason and "UTF-32" in refusal.reason
