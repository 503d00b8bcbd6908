"""Who is behind a source IP: its reverse DNS name (PTR) and origin AS, over DNS.

The AS comes from Team Cymru's IP-to-ASN service: ``<reversed IPv4>.origin.asn.cymru.com``
(``<reversed IPv6 nibbles>.origin6.asn.cymru.com``) TXT ``"15169 | 8.8.8.0/24 | US | arin |
2014-03-14"``, then ``AS15169.asn.cymru.com`` TXT ``"15169 | US | arin | 2000-03-30 | GOOGLE -
Google LLC, US"``. All lookups run concurrently with at most ``max_in_flight`` out at once;
each IP and each AS is asked once, and a cache (any dict) keeps complete answers between calls.
Reports carry empty and junk source_ip values: those are skipped, never an error.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass

import dns.asyncresolver
import dns.reversename

from .resolver import FAILED, Lookups, LookupStatus, run_lookups

ORIGIN_ZONE = "origin.asn.cymru.com"
ORIGIN6_ZONE = "origin6.asn.cymru.com"
AS_ZONE = "asn.cymru.com"
MAX_IN_FLIGHT = 32

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IpInfo:
    """What DNS says about one source IP. ``asn_status`` is the status of the origin lookup."""

    ip: str
    ptr: str | None
    ptr_status: LookupStatus
    asn: int | None = None
    prefix: str | None = None
    country: str | None = None
    registry: str | None = None
    as_name: str | None = None
    asn_status: LookupStatus = "no_record"

    @property
    def complete(self) -> bool:
        """Every lookup got an answer (possibly "nothing here"): worth keeping in a cache."""
        return self.ptr_status not in FAILED and self.asn_status not in FAILED


def normalize_ip(value: object) -> str | None:
    """The IP as one canonical text (IPv4-mapped IPv6 as IPv4), or ``None`` for anything else."""
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def origin_name(ip: str) -> str:
    """``8.8.8.8`` to ``8.8.8.8.origin.asn.cymru.com``; IPv6 as 32 reversed nibbles in origin6."""
    reverse = dns.reversename.from_address(ip).to_text(omit_final_dot=True)
    if reverse.endswith(".in-addr.arpa"):
        return reverse.removesuffix(".in-addr.arpa") + "." + ORIGIN_ZONE
    return reverse.removesuffix(".ip6.arpa") + "." + ORIGIN6_ZONE


def _fields(text: str) -> list[str]:
    return [field.strip() for field in text.split("|")]


def _announcement(answers: tuple[str, ...]) -> tuple[int, str, str | None, str | None] | None:
    """(ASN, prefix, country, registry) of the most specific announcement among the origin TXT
    records; a prefix announced by several ASes lists them all, and the first is taken."""
    best = None
    for text in answers:
        fields = [*_fields(text), "", ""]
        try:
            asn = int(fields[0].split()[0])
            network = ipaddress.ip_network(fields[1], strict=False)
        except (IndexError, ValueError):
            continue
        if best is None or network.prefixlen > best[0]:
            best = (network.prefixlen, asn, fields[1], fields[2] or None, fields[3] or None)
    return best[1:] if best else None


async def ip_info_async(ip: str, lookups: Lookups) -> IpInfo:
    ptr, origin = await asyncio.gather(
        lookups.get(dns.reversename.from_address(ip).to_text(), "PTR"), lookups.get(origin_name(ip), "TXT")
    )
    host = ptr.answers[0] if ptr.status == "found" else None
    if origin.status != "found":
        return IpInfo(ip, host, ptr.status, asn_status=origin.status)
    announced = _announcement(origin.answers)
    if announced is None:
        return IpInfo(ip, host, ptr.status, asn_status="malformed")
    asn, prefix, country, registry = announced
    described = await lookups.get(f"AS{asn}.{AS_ZONE}", "TXT")
    as_name = "|".join(_fields(described.answers[0])[4:]) if described.status == "found" else ""
    return IpInfo(ip, host, ptr.status, asn, prefix, country, registry, as_name or None, "found")


async def enrich_async(ips: Iterable[str], lookups: Lookups, progress: Progress | None = None) -> dict[str, IpInfo]:
    """Enrich canonical IPs (see ``normalize_ip``), each once, calling ``progress(done, total)``."""
    unique = list(dict.fromkeys(ips))
    done = 0

    async def one(ip: str) -> IpInfo:
        nonlocal done
        info = await ip_info_async(ip, lookups)
        done += 1
        if progress:
            progress(done, len(unique))
        return info

    return dict(zip(unique, await asyncio.gather(*(one(ip) for ip in unique)), strict=True))


def enrich_ips(
    ips: Iterable[object],
    resolver: dns.asyncresolver.Resolver | None = None,
    *,
    offline: bool = False,
    max_in_flight: int = MAX_IN_FLIGHT,
    progress: Progress | None = None,
    cache: MutableMapping[str, IpInfo] | None = None,
) -> dict[str, IpInfo]:
    """PTR and origin AS of each IP in ``ips``, keyed by the value as given.

    Values that are not IPs are left out. ``offline=True`` looks nothing up and returns ``{}``.
    Answers come from ``cache`` when it has them, and complete ones are stored in it.
    """
    if offline:
        return {}
    canonical = {value: ip for value in ips if (ip := normalize_ip(value))}
    cache = cache if cache is not None else {}
    wanted = [ip for ip in dict.fromkeys(canonical.values()) if ip not in cache]
    # No deadline for the whole list, which takes its time (with progress); each lookup has its own.
    found = run_lookups(lambda lookups: enrich_async(wanted, lookups, progress), resolver, None, max_in_flight) if wanted else {}
    cache.update({ip: info for ip, info in found.items() if info.complete})
    return {value: found.get(ip) or cache[ip] for value, ip in canonical.items()}
