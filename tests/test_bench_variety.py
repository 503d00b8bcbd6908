"""bench/variety.py: the realistic-variety generator writes reports that vary as the real samples do,
in every container, byte for byte the same for the same seed, and its TARGETS are the samples' numbers."""

from __future__ import annotations

import email
import gzip
import sys
from collections import Counter

import pytest
from lxml import etree

import dmarc_core

import variety
from variety import CONTAINERS, GENERATED_TOLERANCE, SAMPLE_TOLERANCE, TARGETS, measure_file, misfits, write_variety

RECORDS = 3000


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return write_variety(RECORDS, tmp_path_factory.mktemp("variety") / "variety.xml")


def test_the_generated_report_varies_as_the_samples_do(report):
    measured = measure_file(report)
    assert misfits(measured, **GENERATED_TOLERANCE) == []
    # Not the 14 triage keys of bench/generate.py: hundreds per 1,000 records.
    assert measured["per_1k"]["keys"] > 250


def test_the_measure_agrees_with_plain_xpath(report):
    """``measure_file`` (which also measures the samples) checked on a few numbers by a second,
    plainer reading of the same file: unweighted, as one report of RECORDS records is."""
    root = etree.parse(str(report)).getroot()
    records = root.findall("record")
    assert len(records) == RECORDS
    measured = measure_file(report)

    def share(path: str) -> float:
        return round(sum(bool(record.xpath(path)) for record in records) / RECORDS, 3)

    signatures = Counter(str(min(len(record.findall("auth_results/dkim")), 3)) for record in records)
    assert measured["signatures"] == {key: round(n / RECORDS, 3) for key, n in signatures.items()}
    assert measured["optional"]["reason"] == share("row/policy_evaluated/reason")
    assert measured["optional"]["scope"] == share("auth_results/spf/scope")
    assert measured["optional"]["envelope_from"] == share("identifiers/envelope_from")
    assert measured["header_from"]["subdomain"] == share("identifiers/header_from[contains(., '.example.com')]")
    ipv6 = sum(":" in record.findtext("row/source_ip") for record in records)
    assert measured["source_ip"]["ipv6"] == round(ipv6 / RECORDS, 3)

    def key(record) -> tuple:
        dkim = tuple(
            (e.findtext("domain"), e.findtext("selector"), e.findtext("result")) for e in record.iterfind("auth_results/dkim")
        )
        spf = tuple(
            (e.findtext("domain"), e.findtext("scope") or "", e.findtext("result")) for e in record.iterfind("auth_results/spf")
        )
        evaluated = record.find("row/policy_evaluated")
        reasons = tuple(evaluated.xpath("reason/type/text()"))
        return (
            record.findtext("identifiers/header_from"),
            dkim,
            spf,
            evaluated.findtext("dkim"),
            evaluated.findtext("spf"),
            reasons,
        )

    windows = [records[start : start + 1000] for start in range(0, RECORDS, 1000)]
    keys = sum(len({key(record) for record in window}) for window in windows)
    assert measured["per_1k"]["keys"] == round(1000 * keys / RECORDS)


def test_every_container_reads_back_to_the_same_records(tmp_path):
    records = {}
    for container in CONTAINERS:
        path = write_variety(400, tmp_path / f"variety.{container}", container)
        outcome = dmarc_core.read_file(path)
        assert outcome.status == "read", outcome.details
        assert len(outcome.reports) == 1
        records[container] = outcome.reports[0].records.to_pylist()
    assert len(records["xml"]) == 400
    for container in CONTAINERS[1:]:
        assert records[container] == records["xml"], container


def test_the_email_is_a_report_email(tmp_path):
    path = write_variety(50, tmp_path / "variety.eml", "eml")
    message = email.message_from_bytes(path.read_bytes())
    assert message.get_content_type() == "multipart/mixed"
    parts = [part for part in message.walk() if not part.is_multipart()]
    assert [part.get_content_type() for part in parts] == ["text/plain", "application/gzip"]
    attachment = parts[1]
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_filename().endswith(".xml.gz")
    assert gzip.decompress(attachment.get_payload(decode=True)) == variety.report_xml(50)


@pytest.mark.parametrize("container", CONTAINERS)
def test_the_same_seed_writes_the_same_bytes(tmp_path, container):
    first = write_variety(300, tmp_path / "a" / f"v.{container}", container).read_bytes()
    again = write_variety(300, tmp_path / "b" / f"v.{container}", container).read_bytes()
    other = write_variety(300, tmp_path / "c" / f"v.{container}", container, seed=1).read_bytes()
    assert first == again
    assert first != other


def test_the_command_line_takes_the_container_from_the_name(tmp_path, monkeypatch, capsys):
    path = tmp_path / "out.xml.gz"
    monkeypatch.setattr(sys, "argv", ["variety.py", "200", str(path)])
    variety.main()
    assert capsys.readouterr().out.strip() == str(path)
    assert gzip.decompress(path.read_bytes()) == variety.report_xml(200)


def test_the_targets_are_the_samples_numbers(samples):
    measured = variety.measure_samples(samples / "aggregate")
    assert misfits(measured, **SAMPLE_TOLERANCE) == []
    assert set(TARGETS) <= set(measured)
