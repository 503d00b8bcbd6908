"""The DNS module against a real DNS server on loopback: what each answer becomes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pytest

from dmarc_core.lookups.resolver import Lookups, lookup, make_resolver, parse_nameserver, run_lookups

from localdns import ZoneServer

# The correctness limit for "nothing waits longer than a few seconds on DNS", not a benchmark.
GIVES_UP_WITHIN = 5.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        (" 9.9.9.9:53 ", ("9.9.9.9", 53)),
        ("::1", ("::1", 53)),
        ("[::1]:53", ("::1", 53)),
        ("[2001:DB8::1]:5353", ("2001:db8::1", 5353)),
    ],
)
def test_nameservers_are_written_as_people_write_them(text, expected):
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("localhost", "give an IP address"),
        ("dns.google:53", "give an IP address"),
        ("127.0.0.1:0", "is not a port"),
        ("127.0.0.1:65536", "is not a port"),
        ("127.0.0.1:dns", "is not a port"),
        ("[::1", "write an IPv6 address with a port as [::1]:53"),
        ("[::1]53", "write an IPv6 address with a port as [::1]:53"),
    ],
)
def test_a_bad_nameserver_says_why(text, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_nameserver(text)


def test_the_environment_chooses_the_server_unless_one_is_given(monkeypatch, dns_server):
    monkeypatch.setenv("DMARC_NAMESERVER", dns_server.address)
    assert lookup("_dmarc.example.com").status == "found"
    assert make_resolver("192.0.2.53:5300").nameservers[0].port == 5300


def test_a_record_of_several_strings_is_joined_without_adding_anything(resolver):
    answer = lookup("_dmarc.example.com", resolver=resolver)
    assert (answer.status, answer.answers) == ("found", ("v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com",))
    spf = lookup("example.com", resolver=resolver)
    assert "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all" in spf.answers
    assert len(spf.answers) == 2  # and the unrelated TXT record next to it, kept apart


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("_dmarc.news.example.com", "nxdomain"),  # the name does not exist
        ("news.example.com", "no_record"),  # it exists, with an A record only
        ("_domainkey.example.com", "no_record"),  # it exists because names below it do
        ("_dmarc.example.net", "found"),
        ("anything.servfail.test", "servfail"),
    ],
)
def test_each_answer_has_its_status(resolver, name, status):
    answer = lookup(name, resolver=resolver)
    assert answer.status == status
    if status == "servfail":
        assert "SERVFAIL" in answer.detail


def test_an_answer_too_long_for_udp_is_fetched_over_tcp(resolver, dns_server):
    answer = lookup("big._domainkey.example.com", resolver=resolver)
    assert answer.status == "found" and len(answer.answers[0]) > 700
    assert ("big._domainkey.example.com", "TXT", "tcp") in dns_server.queries


def test_ptr_answers_are_host_names(resolver):
    assert lookup("8.8.8.8.in-addr.arpa", "PTR", resolver).answers == ("dns.google",)


def test_a_server_that_never_answers_gives_timeout_in_time(silent_dns):
    started = time.monotonic()
    answer = lookup("_dmarc.example.com", resolver=make_resolver(silent_dns.address))
    assert time.monotonic() - started < GIVES_UP_WITHIN
    assert answer.status == "timeout" and silent_dns.address in answer.detail


def test_an_ipv6_nameserver_with_a_port():
    try:
        server = ZoneServer(host="::1").start()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    try:
        assert server.address.startswith("[::1]:")
        assert lookup("_dmarc.example.com", resolver=make_resolver(server.address)).status == "found"
    finally:
        server.stop()


def test_a_batch_asks_each_name_once(resolver, dns_server):
    async def twice(lookups: Lookups):
        return await asyncio.gather(lookups.get("_dmarc.example.com"), lookups.get("_DMARC.example.com."))

    first, second = run_lookups(twice, resolver)
    assert first == second
    assert dns_server.names() == ["_dmarc.example.com"]


def test_a_batch_past_its_deadline_asks_nothing(resolver, dns_server):
    answer = run_lookups(lambda lookups: lookups.get("_dmarc.example.com"), resolver, deadline=0)
    assert answer.status == "timeout" and "had run out" in answer.detail
    assert dns_server.queries == []


def test_once_a_server_has_answered_nothing_the_rest_give_up_at_once(silent_dns):
    async def many(lookups: Lookups):
        return await asyncio.gather(*(lookups.get(f"n{number}.example.com") for number in range(12)))

    lifetime = 0.5
    started = time.monotonic()
    answers = run_lookups(many, make_resolver(silent_dns.address, lifetime=lifetime), deadline=None, max_in_flight=2)
    # Two at a time, each allowed 0.5 s: without giving up, this would take 6 × 0.5 = 3 s.
    elapsed = time.monotonic() - started
    assert elapsed < GIVES_UP_WITHIN and elapsed < 4 * lifetime
    assert {answer.status for answer in answers} == {"timeout"}
    assert sum("answered none" in answer.detail for answer in answers) == 10


def test_a_batch_runs_from_code_that_already_runs_an_event_loop(resolver):
    async def inside_a_loop():
        return lookup("_dmarc.example.com", resolver=resolver)

    # A thread of its own: this process may already run a loop in the main thread (Playwright's).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as other:
        assert other.submit(asyncio.run, inside_a_loop()).result().status == "found"
