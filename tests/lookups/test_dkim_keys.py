"""DKIM keys looked up in DNS (RFC 6376 3.6.2.2), against the loopback zones in tests/zones."""

from __future__ import annotations

from dmarc_core import lookup_dkim_keys, make_resolver


def test_keys_in_dns(resolver, dns_server):
    selectors = ["k1", "big", "ed", "old", "broken", "badkey", "dsa", "web", "nokey", "empty"]
    keys = {key.selector: key for key in lookup_dkim_keys("example.com", selectors, resolver)}
    assert {selector: key.status for selector, key in keys.items()} == {
        "k1": "found",
        "big": "found",
        "ed": "found",
        "old": "revoked",
        "broken": "malformed",
        "badkey": "malformed",
        "dsa": "malformed",
        "web": "malformed",
        "nokey": "nxdomain",
        "empty": "no_record",
    }
    assert keys["k1"].name == "k1._domainkey.example.com"
    assert keys["k1"].record.startswith("v=DKIM1; k=rsa; p=MIIBIjAN") and " " not in keys["k1"].record[20:]  # strings joined
    assert ("big._domainkey.example.com", "TXT", "tcp") in dns_server.queries  # a 4096-bit key needs TCP
    assert keys["ed"].key_type == "ed25519"
    assert (keys["k1"].bits, keys["big"].bits, keys["ed"].bits) == (2048, 4096, None)
    assert keys["nokey"].missing and keys["empty"].missing and not keys["old"].missing


def test_key_sizes_in_dns(resolver, dns_server):
    keys = {key.selector: key for key in lookup_dkim_keys("example.com", "tiny, short, k1, big, huge, bare", resolver)}
    assert {selector: (key.status, key.bits, key.key_size_concern) for selector, key in keys.items()} == {
        "tiny": ("malformed", 512, None),
        "short": ("found", 1024, "short"),
        "k1": ("found", 2048, None),
        "big": ("found", 4096, None),
        "huge": ("found", 4608, "long"),
        "bare": ("found", 2048, None),
    }
    assert "verifiers need only handle up to 4096" in keys["huge"].detail


def test_key_lookups_that_fail(resolver, silent_dns):
    assert lookup_dkim_keys("mail.servfail.test", "k1", resolver)[0].status == "servfail"
    assert [key.status for key in lookup_dkim_keys("example.com", "k1, s1", make_resolver(silent_dns.address, lifetime=0.5))] == [
        "timeout",
        "timeout",
    ]
