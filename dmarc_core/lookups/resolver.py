"""DNS lookups whose results say what happened.

Every lookup in dmarc_core goes through this module: one dnspython async resolver (the
system's, or a nameserver given as ``ip``, ``ip:port`` or ``[ipv6]:port``), a short timeout per
try, a lifetime per lookup and a deadline for a whole batch, so nothing waits more than a few
seconds. What DNS answered, or failed to answer, is a result (``nxdomain``, ``timeout``,
``servfail``, ...), never an exception.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from . import NAMESERVER_ENV

T = TypeVar("T")
LookupStatus = Literal["found", "nxdomain", "no_record", "multiple", "timeout", "servfail", "revoked", "malformed"]
#: DNS did not answer, as opposed to answering that there is nothing there.
FAILED = frozenset({"timeout", "servfail"})
#: Seconds to wait for one server's answer before asking again.
TRY_TIMEOUT = 1.0
#: Seconds one lookup may take, retries included.
LOOKUP_LIFETIME = 2.0
#: Seconds a whole batch (a domain check, an enrichment) may spend on DNS.
LOOKUPS_DEADLINE = 4.0


@dataclass(frozen=True)
class Lookup:
    """One question to DNS and its answer. For TXT each answer is one record with its
    character-strings joined (RFC 7208 3.3, RFC 7489 6.1); for PTR, the host names."""

    name: str
    rdtype: str
    status: LookupStatus
    answers: tuple[str, ...] = ()
    detail: str = ""


def parse_nameserver(value: str) -> tuple[str, int]:
    """``"127.0.0.1"``, ``"127.0.0.1:5353"``, ``"::1"`` or ``"[::1]:53"`` to (address, port)."""
    text = str(value).strip()
    port_text = ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"'{value}' is not a nameserver; write an IPv6 address with a port as [::1]:53.")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"'{value}' is not a nameserver: give an IP address, optionally with a port (127.0.0.1:5353).") from None
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ValueError(f"'{port_text}' in '{value}' is not a port; use a number from 1 to 65535.")
    return str(address), int(port_text or 53)


def make_resolver(
    nameserver: str | None = None, *, timeout: float = TRY_TIMEOUT, lifetime: float = LOOKUP_LIFETIME
) -> dns.asyncresolver.Resolver:
    """A resolver asking ``nameserver``, else ``$DMARC_NAMESERVER``, else the system's servers."""
    chosen = nameserver if nameserver is not None else os.environ.get(NAMESERVER_ENV, "")
    if chosen.strip():
        address, port = parse_nameserver(chosen)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port)]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise ValueError(f"This machine has no DNS server configured; set {NAMESERVER_ENV} to one (e.g. 9.9.9.9).") from None
    resolver.timeout, resolver.lifetime = timeout, lifetime
    return resolver


def describe_nameservers(resolver: dns.asyncresolver.Resolver) -> str:
    """The servers a resolver asks, as people write them: ``127.0.0.1:5353``, ``[::1]:53``."""
    written = []
    for server in resolver.nameservers:
        address, port = (server.address, server.port) if hasattr(server, "port") else (str(server), resolver.port)
        written.append(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    return ", ".join(written) or "no server"


class Lookups:
    """A batch of lookups sharing one resolver and one deadline.

    Each (name, type) is asked once however many callers want it, so the RFC 7489 lookup and
    the tree walk of the same domain do not query twice. ``max_in_flight`` bounds how many
    questions are out at once. Once a lookup has timed out before any was answered, the server
    is taken as unreachable and later lookups give up at once instead of waiting their turn to
    time out too. Use it inside one event loop.
    """

    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver | None = None,
        deadline: float | None = LOOKUPS_DEADLINE,
        max_in_flight: int | None = None,
    ) -> None:
        self.resolver = resolver if resolver is not None else make_resolver()
        self.deadline = time.monotonic() + deadline if deadline is not None else None
        self._gate = asyncio.Semaphore(max_in_flight) if max_in_flight else None
        self._asked: dict[tuple[str, str], asyncio.Task[Lookup]] = {}
        self._answered = self._timed_out = 0

    async def get(self, name: str, rdtype: str = "TXT") -> Lookup:
        key = (name.lower().rstrip("."), rdtype)
        if key not in self._asked:
            self._asked[key] = asyncio.ensure_future(self._gated(*key))
        return await self._asked[key]

    async def _gated(self, name: str, rdtype: str) -> Lookup:
        if self._gate is None:
            return await self._resolve(name, rdtype)
        async with self._gate:
            return await self._resolve(name, rdtype)

    async def _resolve(self, name: str, rdtype: str) -> Lookup:
        if self._timed_out and not self._answered:
            return Lookup(name, rdtype, "timeout", detail="not asked: the DNS server answered none of the lookups before")
        lifetime = (
            self.resolver.lifetime if self.deadline is None else min(self.resolver.lifetime, self.deadline - time.monotonic())
        )
        if lifetime <= 0:
            return Lookup(name, rdtype, "timeout", detail="not asked: the time allowed for DNS had run out")
        result = await self._ask(name, rdtype, lifetime)
        if result.status == "timeout":
            self._timed_out += 1
        else:
            self._answered += 1
        return result

    async def _ask(self, name: str, rdtype: str, lifetime: float) -> Lookup:
        servers = describe_nameservers(self.resolver)
        try:
            answer = await self.resolver.resolve(dns.name.from_text(name), rdtype, lifetime=lifetime)
        except dns.resolver.NXDOMAIN:
            return Lookup(name, rdtype, "nxdomain")
        except dns.resolver.NoAnswer:
            return Lookup(name, rdtype, "no_record")
        except dns.exception.Timeout:
            return Lookup(name, rdtype, "timeout", detail=f"{servers} did not answer within {lifetime:.1f} s")
        except dns.resolver.NoNameservers as failure:
            return Lookup(name, rdtype, "servfail", detail=f"{servers} could not answer: {_first_error(failure)}")
        except dns.exception.DNSException as failure:
            return Lookup(name, rdtype, "servfail", detail=f"the lookup failed: {failure}")
        return Lookup(name, rdtype, "found", tuple(_text(rdata) for rdata in answer))


def _first_error(failure: dns.resolver.NoNameservers) -> str:
    for _server, _tcp, _port, error, _response in failure.kwargs.get("errors", []):
        return str(error)
    return "no usable answer"


def _text(rdata) -> str:
    if hasattr(rdata, "strings"):
        # A TXT record of several character-strings is one value: join them, adding nothing.
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if hasattr(rdata, "target"):
        return rdata.target.to_text(omit_final_dot=True)
    return rdata.to_text()


def run_lookups(
    ask: Callable[[Lookups], Awaitable[T]],
    resolver: dns.asyncresolver.Resolver | None = None,
    deadline: float | None = LOOKUPS_DEADLINE,
    max_in_flight: int | None = None,
) -> T:
    """Run one batch of lookups to its end from synchronous code (a page, the CLI).

    ``ask`` receives the batch's ``Lookups``; the deadline starts when the batch does.
    """

    async def batch() -> T:
        return await ask(Lookups(resolver, deadline, max_in_flight))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(batch())
    # This thread already runs an event loop (Jupyter, Playwright's sync API): use a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(lambda: asyncio.run(batch())).result()


def lookup(name: str, rdtype: str = "TXT", resolver: dns.asyncresolver.Resolver | None = None) -> Lookup:
    """Ask one question: ``lookup("_dmarc.example.com").status``."""
    return run_lookups(lambda lookups: lookups.get(name, rdtype), resolver)
