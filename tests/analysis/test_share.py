"""Sharing a triage (issue 16): a link that carries the summary itself, compressed, and a
self-contained HTML file. A colleague must see the same figures; the sender may leave out source
IPs and host names; a link too long for browsers keeps the senders with the most failing messages;
a damaged or newer link is refused with a message a person understands."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import zlib
from dataclasses import fields
from html.parser import HTMLParser

import pandas as pd
import pytest

from dmarc_core import IpInfo, parse_reports, read_files, triage
from dmarc_core.analysis import summary
from dmarc_core.analysis.share import (
    MAX_INFLATED,
    MAX_LINK_STATE,
    SHARE_VERSION,
    Filters,
    SharedTriage,
    ShareError,
    about,
    decode,
    encode,
    shared_triage,
)
from dmarc_core.analysis.share_html import share_html
from dmarc_core.reports.model import distinct_reports
from dmarc_core.reports.reading import demo_files

from reportkit import record, report

MADE = pd.Timestamp("2025-10-20 09:30", tz="UTC")


def frame_of(files: list[tuple[str, bytes]]) -> pd.DataFrame:
    outcomes = read_files(files)
    return triage(distinct_reports(report for outcome in outcomes for report in outcome.reports).reports)


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return frame_of(demo_files())


@pytest.fixture(scope="module")
def sample_frame(samples) -> pd.DataFrame:
    """Every real aggregate report of the samples, triaged together: hundreds of senders and domains."""
    return frame_of([(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir()) if path.is_file()])


def inflated(text: str) -> str:
    """The JSON a link's state carries, read without the module under test."""
    version, packed = text.split(".", 1)
    assert version == str(SHARE_VERSION)
    return zlib.decompress(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))).decode("utf-8")


def ip_addresses_in(text: str) -> list[str]:
    """Every IPv4 dotted quad and IPv6 address written in ``text``."""
    found = re.findall(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", text)
    for candidate in re.findall(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}", text):
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        found.append(candidate)
    return found


# --- a colleague sees the same figures -----------------------------------------------------------


def test_a_link_carries_the_figures_the_page_shows(demo):
    shared = shared_triage(demo, made=MADE)
    encoded = encode(shared)
    assert encoded.text.startswith(f"{SHARE_VERSION}.") and len(encoded.text) <= MAX_LINK_STATE
    assert re.fullmatch(r"[0-9]+\.[A-Za-z0-9_-]+", encoded.text)  # nothing a URL must escape
    opened = decode(encoded.text)
    assert opened == shared == encoded.shared
    assert opened.headline == summary.headline(demo)
    pd.testing.assert_frame_equal(opened.by_source(), summary.by_source(demo))
    pd.testing.assert_frame_equal(opened.by_cause(), summary.by_cause(demo))
    pd.testing.assert_frame_equal(opened.by_day(), summary.by_day(demo), check_dtype=False)
    # Rates to six decimals: the page shows them to 0.1%.
    pd.testing.assert_frame_equal(opened.pass_rate_by_day(), summary.pass_rate_by_day(demo), check_dtype=False, atol=1e-6)
    pd.testing.assert_frame_equal(opened.failing_by_source_and_day(), summary.failing_by_source_and_day(demo), check_dtype=False)
    assert {assessment.domain for assessment in opened.readiness} == {"example.com", "news.example.com"}
    assert list(opened.readiness) == sorted(summary.rollout_readiness(demo), key=lambda a: (not a.roll_back, -a.messages))
    assert "made on 2025-10-20 09:30 UTC from 6 files" in about(opened)
    assert "the raw reports are not included" in about(opened)


def test_the_link_shows_what_the_filters_kept(demo):
    filters = Filters(policy_domain="example.com", causes=("wrong_domain", "selector_missing"), failing_only=True)
    opened = decode(encode(shared_triage(demo, filters, made=MADE)).text)
    rows = summary.matching(demo, policy_domain="example.com", causes=["wrong_domain", "selector_missing"], failing_only=True)
    assert opened.filters == filters
    assert opened.headline.messages == int(rows["count"].sum())
    assert set(opened.by_source()["cause"]) == {"wrong_domain", "selector_missing"}
    assert [assessment.domain for assessment in opened.readiness] == ["example.com"]
    assert "policy domain example.com" in about(opened) and "failing mail only" in about(opened)


def test_real_samples_round_trip(sample_frame):
    shared = shared_triage(sample_frame, made=MADE)
    encoded = encode(shared)
    assert len(encoded.text) <= MAX_LINK_STATE
    opened = decode(encoded.text)
    assert opened == encoded.shared
    # The figures of the whole triage travel whole, whatever had to be left out of the tables.
    assert opened.headline.messages == int(sample_frame["count"].sum())
    assert sum(messages for _, messages, _ in opened.causes) == int(sample_frame["count"].sum())
    html = share_html(shared)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html.lower()


def test_reports_years_apart_fit_a_link(samples):
    # Reports of 2018 and 2024: the pass rate per day spans years of days without mail, which the
    # link leaves out and the colleague's side fills in again.
    names = ["nice-input.xml.gz", "ikea.com!example.de!1538690400!1538776800.xml", "mimecast-weird-gzip.eml"]
    frame = frame_of([(name, (samples / "aggregate" / name).read_bytes()) for name in names])
    encoded = encode(shared_triage(frame, made=MADE))
    assert len(encoded.text) < 3000 and not encoded.shared.sources_left_out and not encoded.shared.domains_left_out
    opened = decode(encoded.text)
    days = summary.pass_rate_by_day(frame)
    assert len(days) > 2000
    pd.testing.assert_frame_equal(opened.pass_rate_by_day(), days, check_dtype=False, atol=1e-6)
    pd.testing.assert_frame_equal(opened.by_source(), summary.by_source(frame))


# --- leaving out addresses and host names ------------------------------------------------------------


def spoofed_and_enriched() -> tuple[pd.DataFrame, dict[str, IpInfo]]:
    records = [
        record(dkim=[("example.com", "pass")], reported_dkim="pass", count=500, source_ip="192.0.2.10"),
        record(dkim=[("mcsv.net", "pass")], spf=[("mcsv.net", "pass")], count=40, source_ip="198.2.140.17"),
        record(spf=[("example.com", "fail")], count=30, source_ip="203.0.113.66"),
        record(spf=[("example.com", "fail")], count=20, source_ip="2001:db8::beef"),
    ]
    documents = [
        report(*records, org_name=receiver, report_id=receiver, begin=1759276800 + day * 86400, end=1759363199 + day * 86400)
        for day in range(15)
        for receiver in ("google.com", "yahoo.com")
    ]
    frame = triage([parsed for document in documents for parsed in parse_reports(document)])
    enrichment = {
        ip: IpInfo(ip, f"host-{index}.mail.example.net", "found", as_name="EXAMPLE-NET")
        for index, ip in enumerate(frame["source_ip"].unique())
    }
    return frame, enrichment


def test_leaving_out_addresses_removes_every_ip_and_host_name():
    frame, enrichment = spoofed_and_enriched()
    addresses = set(frame["source_ip"])
    with_them = shared_triage(frame, Filters(search="203.0.113"), enrichment=enrichment, made=MADE)
    assert ip_addresses_in(inflated(encode(with_them).text)) and ".mail.example.net" in share_html(with_them)

    shared = shared_triage(frame, Filters(search="203.0.113"), enrichment=enrichment, leave_out_addresses=True, made=MADE)
    opened = decode(encode(shared).text)
    for text in (inflated(encode(shared).text), repr(opened), share_html(opened), share_html(opened, "https://app.example")):
        assert ip_addresses_in(text) == []
        assert not [address for address in addresses if address in text]
        assert ".mail.example.net" not in text
    # Mail nothing authenticated is one named source, not its addresses; the figures stay whole.
    assert summary.UNAUTHENTICATED in set(opened.by_source()["source"])
    assert opened.headline.messages == with_them.headline.messages
    assert "Source IPs and host names were left out." in about(opened)
    assert set(opened.by_source()["as_names"]) == {"EXAMPLE-NET"}  # networks are not addresses


def test_leaving_out_addresses_on_real_samples(sample_frame):
    shared = shared_triage(sample_frame, leave_out_addresses=True, made=MADE)
    html = share_html(shared)
    link = inflated(encode(shared).text)
    addresses = {address for address in sample_frame["source_ip"].unique() if address}
    for text in (html, link):
        assert ip_addresses_in(text) == []
        assert not {address for address in addresses if re.search(rf"(?<![\w.:]){re.escape(address)}(?![\w.:])", text)}


# --- a link too long for browsers ----------------------------------------------------------------------


def many_senders(count: int) -> pd.DataFrame:
    """``count`` senders signing with their own domain (wrong_domain), sender i failing i messages,
    and one aligned sender with far more messages than any, none failing."""
    failing = [
        record(dkim=[(f"mail.sender{i}.example", "pass")], count=i, source_ip=f"198.51.100.{i % 250}")
        for i in range(1, count + 1)
    ]
    aligned = record(dkim=[("example.com", "pass")], reported_dkim="pass", count=1_000_000, source_ip="192.0.2.1")
    return triage(parse_reports(report(aligned, *failing)))


def test_a_long_link_keeps_the_senders_with_the_most_failing_messages():
    frame = many_senders(400)
    shared = shared_triage(frame, made=MADE)
    encoded = encode(shared, max_chars=3000)
    assert len(encoded.text) <= 3000
    kept = encoded.shared.sources
    assert 0 < len(kept) < 401
    # The most failing: sender 400, 399, ... in the table's order; the aligned sender, busiest of all, goes.
    assert [row.source for row in kept] == [f"sender{i}.example" for i in range(400, 400 - len(kept), -1)]
    assert encoded.shared.sources_left_out == 401 - len(kept)
    opened = decode(encoded.text)
    assert opened == encoded.shared
    assert f"{401 - len(kept):,} senders with the fewest failing messages left out to fit the link" in about(opened)
    # What the charts and the headline count is every message, not only the senders kept.
    assert opened.headline.messages == 1_000_000 + sum(range(1, 401))


def test_a_link_with_hundreds_of_domains_keeps_room_for_the_senders(sample_frame):
    encoded = encode(shared_triage(sample_frame, made=MADE))
    shared = encoded.shared
    assert shared.domains_left_out > 0 and shared.sources
    busiest = sorted(summary.rollout_readiness(sample_frame), key=lambda a: -a.messages)[: len(shared.readiness)]
    assert {a.domain for a in shared.readiness} == {a.domain for a in busiest}
    assert len(shared.headline.policy_domains) + shared.domains_left_out == len(summary.headline(sample_frame).policy_domains)


def test_a_link_says_when_nothing_fits():
    with pytest.raises(ShareError, match="HTML file"):
        encode(shared_triage(many_senders(20), made=MADE), max_chars=50)


def test_the_default_length_is_one_servers_accept():
    # nginx and Apache refuse a request line over 8 KB by default; the address and /triage?share= come on top.
    assert MAX_LINK_STATE + len("https://dmarc-explainer.streamlit.app/triage?share=") < 8000


# --- links that cannot be opened ----------------------------------------------------------------------


def packed(data: bytes, version: int = SHARE_VERSION) -> str:
    return f"{version}." + base64.urlsafe_b64encode(zlib.compress(data)).decode().rstrip("=")


@pytest.fixture(scope="module")
def good_link(demo) -> str:
    return encode(shared_triage(demo, made=MADE)).text


def damaged_links(good: str) -> dict[str, str]:
    plain = json.loads(inflated(good))
    wrong_types = json.loads(inflated(good))
    wrong_types[1] = "six"  # the number of files
    return {
        "no version": good.split(".", 1)[1],
        "not base64": good[:40] + "$%" + good[42:],
        "cut short": good[: len(good) // 2],
        "cut by one character": good[:-1],
        "base64 of no zlib": "1." + base64.urlsafe_b64encode(b"just some bytes").decode(),
        "impossible base64 length": "1.abcde",
        "not JSON": packed(b"{not json"),
        "JSON of another shape": packed(b"[1, 2, 3]"),
        "a field of the wrong type": packed(json.dumps(wrong_types).encode()),
        "NaN for a number": packed(json.dumps(plain).replace('"example.com"', "NaN", 1).encode()),
        "not UTF-8": packed(b"\xff\xfe["),
        "nested to exhaustion": packed(b"[" * 200_000),
        "empty": "",
        "an older or unknown format": "0." + good.split(".", 1)[1],
    }


def test_a_damaged_link_is_refused_with_a_readable_message(good_link):
    for name, text in damaged_links(good_link).items():
        with pytest.raises(ShareError) as refused:
            decode(text)
        message = str(refused.value)
        assert "damaged" in message and "Ask for the link again" in message, name
        assert "Error" not in message and "Expecting" not in message and "\n" not in message, name


def test_a_link_from_a_newer_version_says_so(good_link):
    with pytest.raises(ShareError, match=r"newer version of the app \(format 99; this one reads format 1\)"):
        decode("99." + good_link.split(".", 1)[1])


def test_a_link_naming_a_cause_this_version_does_not_know_says_so(good_link):
    plain = inflated(good_link).replace('"wrong_domain"', '"quantum_entanglement"')
    with pytest.raises(ShareError, match="newer version"):
        decode(packed(plain.encode()))


def test_a_decompression_bomb_is_refused_before_it_is_unpacked(good_link):
    bomb = packed(b" " * (MAX_INFLATED * 20))  # ~40 MB of spaces deflate to a few dozen KB
    assert len(bomb) < MAX_INFLATED // 10
    with pytest.raises(ShareError, match="more than a shared triage can be"):
        decode(bomb)


# --- the HTML file --------------------------------------------------------------------------------------


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> \u202egnp.exe'


class Elements(HTMLParser):
    """The tags, attribute names and style sheet text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.style = ""
        self._in_style = False

    @classmethod
    def of(cls, document: str) -> Elements:
        parser = cls()
        parser.feed(document)
        parser.close()
        return parser

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def test_the_html_file_escapes_report_text_and_runs_nothing():
    records = [
        record(dkim=[("mcsv.net", "pass")], count=5, reasons=["local_policy"], comments=[HOSTILE]),
        record(dkim=[("example.com", "fail")], spf=[("example.com", "pass")], count=3),
    ]
    frame = triage(parse_reports(report(*records, org_name=HOSTILE)))
    html = share_html(shared_triage(frame, made=MADE))
    elements = Elements.of(html)
    assert "script" not in elements.tags and "img" not in elements.tags
    assert not [name for name in elements.attributes if name.startswith("on")]  # no event handler
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html  # shown, as text
    assert "\u202e" not in html  # a right-to-left override would turn the page's own words around
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1)
    assert "default-src 'none'" in policy and "script-src" not in policy
    # Self-contained: nothing loaded from anywhere (links a person follows are not loads).
    assert not {"src", "srcset", "xlink:href", "data"} & elements.attributes
    assert not {"link", "iframe", "object", "embed", "base", "form"} & elements.tags
    assert "url(" not in elements.style and "@import" not in elements.style
    assert "href" not in elements.attributes  # no app address was given, so no link at all


def test_the_html_file_links_to_the_app_when_its_address_is_known(demo):
    shared = shared_triage(demo, made=MADE)
    html = share_html(shared, "https://dmarc.example.org")
    first = shared.sources[0]
    assert f'href="https://dmarc.example.org/?{first.explorer_link.replace("&", "&amp;")}"' in html
    assert 'href="https://dmarc.example.org/check?domain=example.com"' in html
    for figure in ("18,579", "76.6%", "4,344"):  # the demo's messages, pass rate and failing messages
        assert f"<strong>{figure}</strong>" in html
    for title in {row.cause for row in shared.sources}:
        assert summary.knowledge().findings[title].title.replace("'", "&#x27;") in html


def sources_in(plain: list) -> list:
    """The senders table's rows of a link's state, as JSON holds them."""
    return plain[[field.name for field in fields(SharedTriage)].index("sources")]


def test_a_link_carries_each_senders_kind(good_link, demo):
    opened = decode(good_link)
    assert {row.source: row.sender_kind for row in opened.sources}["Mailchimp"] == "known_service"
    assert opened.by_source()["sender_kind"].tolist() == summary.by_source(demo)["sender_kind"].tolist()
    page = share_html(opened)
    assert "<th>Kind</th>" in page and "<td>Known service</td>" in page and "<td>Own servers</td>" in page


def test_a_link_made_before_kinds_were_named_still_opens(good_link):
    plain = json.loads(inflated(good_link))
    for row in sources_in(plain):
        assert row.pop() in ("own", "known_service", "forwarder", "unknown")  # the kind is the last field
    opened = decode(packed(json.dumps(plain).encode()))
    assert {row.sender_kind for row in opened.sources} == {""}
    assert len(opened.sources) == len(decode(good_link).sources)


def test_a_link_naming_a_kind_this_version_does_not_know_says_so(good_link):
    plain = json.loads(inflated(good_link))
    sources_in(plain)[0][-1] = "time_traveller"
    with pytest.raises(ShareError, match="newer version"):
        decode(packed(json.dumps(plain).encode()))
