"""DKIM public keys in DNS: ``<selector>._domainkey.<domain>`` TXT (RFC 6376 3.6.1, 3.6.2.2).

A key is found, revoked (an empty ``p=``), malformed (anything a verifier cannot use), or
missing (``nxdomain``/``no_record``). A missing or unusable key makes the signature fail with
permerror, which is the article's root cause 4.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import dns.asyncresolver

from ..rules.dkim_key import parse_key_record, parse_selectors, rsa_size_concern
from ..rules.domains import normalize_domain
from .resolver import Lookups, LookupStatus, run_lookups


@dataclass(frozen=True)
class DkimKeyLookup:
    selector: str
    domain: str
    status: LookupStatus
    record: str | None = None
    key_type: str | None = None
    detail: str = ""
    bits: int | None = None

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def missing(self) -> bool:
        return self.status in ("nxdomain", "no_record")

    @property
    def key_size_concern(self) -> str | None:
        """What RFC 8301 says against a usable RSA key's size (see ``rsa_size_concern``)."""
        return rsa_size_concern(self.bits) if self.status == "found" else None


async def dkim_key_async(domain: str, selector: str, lookups: Lookups) -> DkimKeyLookup:
    answer = await lookups.get(f"{selector}._domainkey.{domain}")
    if answer.status != "found":
        return DkimKeyLookup(selector, domain, answer.status, detail=answer.detail)
    # RFC 6376 3.6.2.2: with several key records the verifier may use any; report a usable one if any is.
    judged = [(text, parse_key_record(text)) for text in answer.answers]
    text, key = next(((text, key) for text, key in judged if key.status == "found"), judged[0])
    return DkimKeyLookup(selector, domain, key.status, text, key.key_type, key.detail, key.bits)


async def dkim_keys_async(domain: str, selectors: Iterable[str], lookups: Lookups) -> tuple[DkimKeyLookup, ...]:
    return tuple(await asyncio.gather(*(dkim_key_async(domain, selector, lookups) for selector in selectors)))


def lookup_dkim_keys(
    domain: str, selectors: str | Iterable[str], resolver: dns.asyncresolver.Resolver | None = None
) -> tuple[DkimKeyLookup, ...]:
    """Look up the key of each selector under ``domain``, all at once. Selectors can come from a
    person (``"k1, s2"``) or from a report's auth_results (a list)."""
    domain, chosen = normalize_domain(domain), parse_selectors(selectors)
    return run_lookups(lambda lookups: dkim_keys_async(domain, chosen, lookups), resolver)
