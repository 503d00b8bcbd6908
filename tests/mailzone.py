"""Signed mail for the tests: a loopback DNS server publishing the keys of the tests' signers
(fresh keys each session, so nothing generated is kept) and the SPF and DMARC records of their
domains, and a plain message to sign and deliver."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dmarc_core import make_resolver

from localdns import ZoneServer
from message.kit import generate_rsa_key

#: Who signs in the tests: (domain, selector) → name of its key.
SIGNERS = {
    ("example.com", "s1"): "example",
    ("news.strict.example", "s1"): "strict",
    ("strict.example", "s1"): "strict",
    ("sendgrid.net", "s1"): "esp",
    ("list.example.org", "s1"): "list",
    ("list.example.org", "arc"): "list",
}
#: Everything else the messages' domains publish.
RECORDS = {
    "_dmarc.example.com": "v=DMARC1; p=reject",
    "_dmarc.strict.example": "v=DMARC1; p=reject; adkim=s; aspf=s",
    "_dmarc.example.org": "v=DMARC1; p=none",
    "example.com": "v=spf1 ip4:192.0.2.10 -all",
    "sendgrid.net": "v=spf1 ip4:198.51.100.0/24 -all",
    "bounces.list.example.org": "v=spf1 ip4:203.0.113.5 -all",
    "old._domainkey.example.com": "v=DKIM1; k=rsa; p=",
    # A chain of includes one lookup past the RFC 7208 4.6.4 limit of 10.
    "toomany.example.com": "v=spf1 include:i1.example.com -all",
    **{f"i{n}.example.com": f"v=spf1 include:i{n + 1}.example.com -all" for n in range(1, 11)},
    "i11.example.com": "v=spf1 ip4:192.0.2.10 -all",
}


@dataclass(frozen=True)
class MailDns:
    server: ZoneServer
    keys: dict[str, bytes]

    def resolver(self):
        return make_resolver(self.server.address)


def _txt(name: str, text: str) -> str:
    # A TXT character-string holds at most 255 octets (RFC 1035 3.3.14): a key is split in several.
    strings = " ".join(f'"{text[start : start + 255]}"' for start in range(0, len(text), 255)) or '""'
    return f"{name}. 300 IN TXT {strings}"


def start_mail_dns(folder: Path) -> MailDns:
    """Fresh keys, their zone written into ``folder``, served on loopback (stop ``.server`` after)."""
    made = {name: generate_rsa_key() for name in sorted(set(SIGNERS.values()))}
    made["small"] = generate_rsa_key(bits=768)
    lines = [_txt(f"{selector}._domainkey.{domain}", made[key][1]) for (domain, selector), key in SIGNERS.items()]
    lines.append(_txt("small._domainkey.example.com", made["small"][1]))
    lines += [_txt(name, text) for name, text in RECORDS.items()]
    (folder / "mail.zone").write_text("\n".join(lines) + "\n", "utf-8")
    return MailDns(ZoneServer(folder).start(), {name: private for name, (private, _txt_value) in made.items()})


ORIGINAL = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: bob@example.net\r\n"
    b"Subject: Invoice 42\r\n"
    b"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <42@example.com>\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b"the invoice is attached.\r\n"
)


def delivered(message: bytes, ip: str, mail_from: str, results: str = "", by: str = "mx.example.net") -> bytes:
    """``message`` as the receiver ``by`` stores it: Return-Path, its Received line with the
    client's IP, and its Authentication-Results when given."""
    helo = mail_from.rpartition("@")[2] or "relay.example.net"
    added = f"Return-Path: <{mail_from}>\r\n"
    if results:
        added += f"Authentication-Results: {by}; {results}\r\n"
    added += f"Received: from {helo} ({helo} [{ip}])\r\n\tby {by} with ESMTPS id 1; Mon, 30 Nov 2026 10:00:01 +0000\r\n"
    return added.encode() + message
