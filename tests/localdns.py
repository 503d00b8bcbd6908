"""A real DNS server on loopback for the tests, answering from the zone files in tests/zones/.

UDP and TCP on the same free port. UDP answers longer than 512 octets are truncated, as a
server without EDNS does, so clients retry over TCP. Names under a zone listed in
``FAILING_ZONES`` answer SERVFAIL. ``SilentServer`` reads UDP queries and never answers.
Every question is logged in ``queries`` as (name, type, protocol), so tests can check what was asked.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, DNSLabel, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

ZONES = Path(__file__).parent / "zones"
#: Zones whose server is broken: every name in them answers SERVFAIL.
FAILING_ZONES = ("servfail.test", "113.0.203.in-addr.arpa")


class ZoneFiles(BaseResolver):
    """Authoritative answers from zone files: NXDOMAIN for names that do not exist, an empty
    answer (NODATA) for names that exist with other types or only have names below them."""

    def __init__(self, folder: Path = ZONES) -> None:
        self.records: dict[str, list[RR]] = {}
        for zone in sorted(folder.glob("*.zone")):
            for record in RR.fromZone(zone.read_text("utf-8")):
                self.records.setdefault(_key(record.rname), []).append(record)
        # Empty non-terminals (_domainkey.example.com when k1._domainkey.example.com exists) exist.
        self.existing = {".".join(name.split(".")[i:]) for name in self.records for i in range(name.count(".") + 1)}

    def resolve(self, request, handler):
        reply = request.reply()
        name = _key(request.q.qname)
        if any(name == zone or name.endswith("." + zone) for zone in FAILING_ZONES):
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        for record in self.records.get(name, []):
            if record.rtype == request.q.qtype:
                reply.add_answer(record)
        if not reply.rr and name not in self.existing:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _key(label: DNSLabel) -> str:
    return str(label).rstrip(".").lower()


class _QueryLog(DNSLogger):
    """Remembers each question instead of printing anything."""

    def __init__(self, queries: list[tuple[str, str, str]]) -> None:
        super().__init__(log="request", prefix=False, logf=lambda _: None)
        self.queries = queries

    def log_request(self, handler, request):
        self.queries.append((_key(request.q.qname), QTYPE[request.q.qtype], handler.protocol))


class _NoEdnsHandler(DNSHandler):
    """Over UDP, an answer longer than 512 octets goes out as header and question only, with the
    TC flag set (RFC 1035 4.2.1), so the client asks again over TCP. (dnslib's own truncation
    drops the question too, which clients rightly refuse as an answer to another query.)"""

    def get_reply(self, data):
        request = DNSRecord.parse(data)
        self.server.logger.log_request(self, request)
        reply = self.server.resolver.resolve(request, self)
        packed = reply.pack()
        if self.protocol == "udp" and len(packed) > 512:
            truncated = request.reply()
            truncated.header.tc = 1
            packed = truncated.pack()
        return packed


class ZoneServer:
    """The zone files served on loopback (``host``), UDP and TCP, on one free port."""

    def __init__(self, folder: Path = ZONES, host: str = "127.0.0.1") -> None:
        self.host = host
        self.queries: list[tuple[str, str, str]] = []
        resolver, logger = ZoneFiles(folder), _QueryLog(self.queries)
        for _ in range(20):
            udp = DNSServer(resolver, host, 0, logger=logger, handler=_NoEdnsHandler)
            self.port = udp.server.server_address[1]
            try:
                tcp = DNSServer(resolver, host, self.port, tcp=True, logger=logger, handler=_NoEdnsHandler)
            except OSError:  # the port is free for UDP but taken for TCP: try another
                udp.server.server_close()
                continue
            self.servers = (udp, tcp)
            break
        else:
            raise RuntimeError(f"no port free for both UDP and TCP on {host}")

    @property
    def address(self) -> str:
        """As DMARC_NAMESERVER and --nameserver take it: 127.0.0.1:5353 or [::1]:5353."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def names(self, rdtype: str = "TXT") -> list[str]:
        """The names asked for, in order, for one record type."""
        return [name for name, asked, _protocol in self.queries if asked == rdtype]

    def start(self) -> ZoneServer:
        for server in self.servers:
            # As dnslib's start_thread, but checking for stop() every 50 ms rather than every 0.5 s,
            # so stopping the two servers does not wait a second.
            server.thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            server.thread.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.server.server_close()


class SilentServer:
    """A UDP socket on loopback that reads every query and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.thread = threading.Thread(target=self._drop, daemon=True)

    def _drop(self) -> None:
        try:
            while True:
                self.socket.recvfrom(4096)
        except OSError:  # closed by stop()
            return

    def start(self) -> SilentServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        # shutdown wakes the blocked recvfrom on Linux; close frees the port.
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
