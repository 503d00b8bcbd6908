"""The SPF record of a domain: the one TXT record starting with ``v=spf1`` (RFC 7208 4.5).

Several such records are a permerror for every receiver, so SPF then fails everywhere and
DMARC has only DKIM left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dns.asyncresolver

from ..rules.domains import normalize_domain
from .resolver import Lookups, LookupStatus, run_lookups

# RFC 7208 4.5: the version section is exactly "v=spf1", ended by a space or the end of the record.
_SPF_VERSION = re.compile(r"^v=spf1( |$)", re.IGNORECASE)


@dataclass(frozen=True)
class SpfLookup:
    domain: str
    status: LookupStatus
    records: tuple[str, ...] = ()
    detail: str = ""

    @property
    def name(self) -> str:
        return self.domain

    @property
    def record(self) -> str | None:
        return self.records[0] if self.status == "found" else None


async def spf_async(domain: str, lookups: Lookups) -> SpfLookup:
    answer = await lookups.get(domain)
    if answer.status != "found":
        return SpfLookup(domain, answer.status, detail=answer.detail)
    records = tuple(text for text in answer.answers if _SPF_VERSION.match(text))
    if not records:
        return SpfLookup(domain, "no_record")
    return SpfLookup(domain, "found" if len(records) == 1 else "multiple", records)


def fetch_spf(domain: str, resolver: dns.asyncresolver.Resolver | None = None) -> SpfLookup:
    """The SPF record of ``domain`` (strings of a multi-string record joined)."""
    domain = normalize_domain(domain)
    return run_lookups(lambda lookups: spf_async(domain, lookups), resolver)
