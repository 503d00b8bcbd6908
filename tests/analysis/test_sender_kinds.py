"""The triage's ``sender_kind`` on the article's cases, the sources table naming addresses by their
host names once enriched, and the real sample reports sorted without error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dmarc_core import IpInfo, distinct_reports, parse_reports, read_files, triage
from dmarc_core.analysis.summary import UNAUTHENTICATED, by_source, named_by_host

from reportkit import record, report


def triaged(*records: str, **policy):
    return triage(parse_reports(report(*records, **policy)))


def kind_of(*records: str, **policy) -> tuple[str, str]:
    (row,) = triaged(*records, **policy)[["source", "sender_kind"]].astype(str).itertuples(index=False, name=None)
    return row


# The article's cases, each as a report record: (source, kind).
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # Relaxed alignment: d=mail.example.com for From: example.com, your own signature.
        (record(dkim=[("mail.example.com", "pass")], reported_dkim="pass"), ("example.com", "own")),
        # Your server, its signature broken: SPF passed for your own organization.
        (record(dkim=[("example.com", "fail")], spf=[("example.com", "pass")], reported_spf="pass"), ("example.com", "own")),
        # Root cause 1: the ESP signs with its own domain (the article's mailchimp.com example).
        (record(dkim=[("mailchimp.com", "pass")]), ("Mailchimp", "known_service")),
        # The FAQ: DKIM passes for mailchimp.com and SPF for mcsv.net, neither aligned.
        (record(dkim=[("mailchimp.com", "pass")], spf=[("mcsv.net", "pass")]), ("Mailchimp", "known_service")),
        # The fix done: the ESP signs with your domain too; still the ESP, now aligned.
        (
            record(
                dkim=[("example.com", "pass"), ("sendgrid.info", "pass")], spf=[("sendgrid.net", "pass")], reported_dkim="pass"
            ),
            ("SendGrid", "known_service"),
        ),
        # Microsoft 365 sending your users' mail with its onmicrosoft.com signature: a known service.
        (record(dkim=[("example.onmicrosoft.com", "pass")]), ("Microsoft 365 / Outlook.com", "known_service")),
        # Root cause 2: the forwarding server's address, both checks broken.
        (
            record(dkim=[("example.com", "fail")], spf=[("example.com", "fail")], source_ip="203.0.113.50"),
            ("203.0.113.50", "forwarder"),
        ),
        # The receiver says it came through a mailing list.
        (
            record(dkim=[("example.com", "fail"), ("lists.example.org", "pass")], reasons=["mailing_list"]),
            ("example.org", "forwarder"),
        ),
        # A forwarding service passing SPF for its own domain, your signature intact.
        (
            record(dkim=[("example.com", "pass")], spf=[("forwardemail.net", "pass")], reported_dkim="pass"),
            ("Forward Email", "forwarder"),
        ),
        # Nothing authenticated: maybe someone sending as you.
        (record(spf=[("example.com", "fail")], source_ip="198.51.100.99"), ("198.51.100.99", "unknown")),
        # A domain of another organization that no catalogue knows: not yours, not known.
        (record(dkim=[("spoofer.example.net", "pass")]), ("example.net", "unknown")),
    ],
)
def test_the_articles_cases_sort_into_kinds(case, expected):
    assert kind_of(case) == expected


def test_a_service_that_is_the_policy_domains_own_organization_is_own():
    """google.com's own mail, which the catalogue names Google Workspace / Gmail, is google.com's own."""
    own = record("google.com", dkim=[("google.com", "pass")], spf=[("google.com", "pass")], reported_dkim="pass")
    assert kind_of(own, domain="google.com") == ("Google Workspace / Gmail", "own")
    # The same service on another domain's mail is a known service.
    assert kind_of(record(dkim=[("google.com", "pass")])) == ("Google Workspace / Gmail", "known_service")


def test_under_strict_alignment_your_organizations_pass_is_still_yours():
    """Root cause 3: d=example.com on mail From: news.example.com fails adkim=s, yet it is your server."""
    case = record("news.example.com", dkim=[("example.com", "pass")])
    assert kind_of(case, adkim="s", aspf="s") == ("example.com", "own")


def test_the_kind_is_a_column_of_the_export_and_of_the_sources_table():
    frame = triaged(record(dkim=[("mcsv.net", "pass")], count=3), record(spf=[("example.com", "fail")], count=2))
    table = by_source(frame)
    assert table.columns.tolist()[:2] == ["source", "sender_kind"]
    assert dict(zip(table["source"], table["sender_kind"], strict=True)) == {
        "Mailchimp": "known_service",
        UNAUTHENTICATED: "unknown",
    }


def info(ip: str, ptr: str | None, as_name: str | None = None) -> IpInfo:
    return IpInfo(ip, ptr, "found" if ptr else "nxdomain", as_name=as_name, asn_status="found" if as_name else "nxdomain")


# Host names of the catalogue's services as their servers are named (the patterns and the
# parsedmarc reverse-DNS map the catalogue cites), on addresses whose mail nothing authenticated.
HOSTS = {
    "192.0.2.10": ("mail-am6eur05on2040.outbound.protection.outlook.com", "Microsoft 365 / Outlook.com", "known_service"),
    "192.0.2.11": ("mail-wr1-f41.google.com", "Google Workspace / Gmail", "known_service"),
    "192.0.2.12": ("a8-45.smtp-out.amazonses.com", "Amazon SES", "known_service"),
    "192.0.2.13": ("mx0a-00123401.pphosted.com", "Proofpoint", "known_service"),
    "192.0.2.14": ("us-smtp-delivery-1.mimecast.com", "Mimecast", "known_service"),
    "192.0.2.15": ("mail200.atl11.rsgsv.net", "Mailchimp", "known_service"),
    "192.0.2.16": ("mx1.forwardemail.net", "Forward Email", "forwarder"),
}


def unauthenticated_frame():
    spoofed = [record(spf=[("example.com", "fail")], source_ip=ip, count=10 + n) for n, ip in enumerate(HOSTS)]
    unnamed = [record(spf=[("example.com", "fail")], source_ip=ip, count=1) for ip in ("192.0.2.20", "192.0.2.21")]
    return triaged(
        record(dkim=[("example.com", "pass")], reported_dkim="pass", source_ip="192.0.2.1", count=50), *spoofed, *unnamed
    )


def test_enriched_addresses_are_named_by_the_service_their_host_name_names():
    enrichment = {ip: info(ip, host) for ip, (host, _, _) in HOSTS.items()}
    enrichment |= {"192.0.2.20": info("192.0.2.20", "host-20.isp.example"), "192.0.2.21": info("192.0.2.21", None)}
    enrichment["192.0.2.1"] = info("192.0.2.1", "mail-wr1-f1.google.com")  # authenticated as yours: stays yours
    table = by_source(unauthenticated_frame(), enrichment).set_index("source")
    for ip, (host, name, kind) in HOSTS.items():
        assert table.loc[name, "sender_kind"] == kind, name
        assert (table.loc[name, "host_names"], table.loc[name, "addresses"]) == (host, ip)
    # The addresses no host name names stay one source: unknown.
    assert table.loc[UNAUTHENTICATED, ["sender_kind", "ips", "messages"]].tolist() == ["unknown", 2, 2]
    assert table.loc["example.com", "sender_kind"] == "own"


def test_without_enrichment_the_unauthenticated_addresses_stay_one_source():
    table = by_source(unauthenticated_frame())
    assert table.loc[table["source"] == UNAUTHENTICATED, "ips"].item() == len(HOSTS) + 2


def test_a_forwarded_record_named_by_a_host_name_is_a_forwarders():
    """Relayed through Microsoft 365 (the receiver says forwarded): the service is named, the kind is forwarder."""
    frame = triaged(record(dkim=[("example.com", "fail")], reasons=["forwarded"], source_ip="192.0.2.10"))
    named = named_by_host(frame, {"192.0.2.10": info("192.0.2.10", HOSTS["192.0.2.10"][0])}, *pd.factorize(frame["source_ip"]))
    assert (named.source.tolist(), named.sender_kind.tolist(), named.unauthenticated.tolist()) == (
        ["Microsoft 365 / Outlook.com"],
        ["forwarder"],
        [False],
    )


def test_every_record_of_the_real_samples_gets_a_kind(samples):
    files = [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").rglob("*")) if path.is_file()]
    frame = triage(distinct_reports(report for outcome in read_files(files) for report in outcome.reports).reports)
    assert set(frame["sender_kind"].unique()) == {"own", "known_service", "forwarder", "unknown"}
    # A source that is only its address had nothing authenticate it: never your own, never a known service.
    by_address = frame["source"].astype(str) == frame["source_ip"].astype(str)
    assert set(frame.loc[by_address, "sender_kind"].unique()) <= {"forwarder", "unknown"}
    # A catalogued ESP named by its own passing domain is a known service wherever it sends.
    assert set(frame.loc[frame["source"].astype(str) == "Amazon SES", "sender_kind"].unique()) == {"known_service"}


def test_a_real_domains_own_mail_is_own_and_its_help_desk_a_known_service(samples):
    """GoogleGenerated.xml: Google's report for ynet.com, whose own servers sign with ynet.com and
    whose Zendesk help desk signs with zendesk.com."""
    frame = triage(parse_reports(Path(samples / "aggregate" / "GoogleGenerated.xml").read_bytes()))
    kinds = frame["sender_kind"].astype(str)
    signed_by_ynet = frame["dkim"].astype(str) == "ynet.com:pass"
    assert set(kinds[signed_by_ynet]) == {"own"}
    assert set(kinds[frame["source"].astype(str) == "Zendesk"]) == {"known_service"}
    own_share = frame.loc[kinds == "own", "count"].sum() / frame["count"].sum()
    assert own_share > 0.9  # a domain's report is mostly its own mail
