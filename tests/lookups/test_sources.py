"""Source IP enrichment: PTR and Team Cymru's origin AS, from the local zones."""

from __future__ import annotations

import time

from dmarc_core import enrich_ips, make_resolver
from dmarc_core.lookups.sources import IpInfo, normalize_ip, origin_name


def test_cymru_names_for_ipv4_and_ipv6():
    assert origin_name("8.8.8.8") == "8.8.8.8.origin.asn.cymru.com"
    assert origin_name("192.0.2.1") == "1.2.0.192.origin.asn.cymru.com"
    assert origin_name("2001:db8::25") == "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com"


def test_junk_from_reports_is_not_an_ip():
    assert [normalize_ip(value) for value in ("", None, "junk", "1.2.3", "256.1.1.1", "8.8.8.8/24")] == [None] * 6
    assert normalize_ip(" 2001:DB8::25 ") == "2001:db8::25"
    assert normalize_ip("::ffff:192.0.2.1") == "192.0.2.1"


def test_ptr_and_origin_as(resolver):
    found = enrich_ips(["8.8.8.8", "2001:DB8::25", "192.0.2.1", "198.51.100.7"], resolver)
    assert found["8.8.8.8"] == IpInfo(
        "8.8.8.8", "dns.google", "found", 15169, "8.8.8.0/24", "US", "arin", "GOOGLE - Google LLC, US", "found"
    )
    assert (found["2001:DB8::25"].ip, found["2001:DB8::25"].ptr, found["2001:DB8::25"].asn) == (
        "2001:db8::25",
        "mail6.example.com",
        64496,
    )
    # Two announcements cover 192.0.2.1: the most specific one is the origin.
    assert (found["192.0.2.1"].asn, found["192.0.2.1"].prefix) == (64496, "192.0.2.0/24")
    no_ptr = found["198.51.100.7"]
    assert (no_ptr.ptr, no_ptr.ptr_status, no_ptr.asn, no_ptr.as_name) == (None, "nxdomain", 64498, None)


def test_each_ip_and_each_as_is_asked_once(resolver, dns_server):
    found = enrich_ips(["192.0.2.1", " 192.0.2.1", "::ffff:192.0.2.1", "2001:db8::25", "", "junk"], resolver)
    assert set(found) == {"192.0.2.1", " 192.0.2.1", "::ffff:192.0.2.1", "2001:db8::25"}  # junk left out
    pointers = dns_server.names("PTR")
    assert len(pointers) == len(set(pointers)) == 2
    assert dns_server.names("TXT").count("as64496.asn.cymru.com") == 1  # both IPs are in AS64496


def test_progress_counts_the_ips_looked_up(resolver):
    calls = []
    enrich_ips(["8.8.8.8", "8.8.8.8", "192.0.2.1", "junk"], resolver, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]


def test_a_cache_saves_lookups_between_calls(resolver, dns_server):
    cache = {}
    first = enrich_ips(["8.8.8.8"], resolver, cache=cache)
    asked = len(dns_server.queries)
    assert enrich_ips(["8.8.8.8"], resolver, cache=cache) == first
    assert len(dns_server.queries) == asked


def test_offline_looks_nothing_up(resolver, dns_server):
    assert enrich_ips(["8.8.8.8"], resolver, offline=True) == {}
    assert dns_server.queries == []


def test_failures_are_results_and_are_not_cached(resolver, silent_dns):
    failing = enrich_ips(["203.0.113.9"], resolver)["203.0.113.9"]
    assert (failing.ptr_status, failing.asn_status) == ("servfail", "nxdomain")
    cache = {}
    started = time.monotonic()
    found = enrich_ips(
        [f"192.0.2.{host}" for host in range(200)],
        make_resolver(silent_dns.address, lifetime=0.5),
        max_in_flight=8,
        cache=cache,
    )
    assert time.monotonic() - started < 5.0  # the first timeouts tell the rest not to wait
    assert {(info.ptr_status, info.asn_status) for info in found.values()} == {("timeout", "timeout")}
    assert cache == {}
