"""A small kit for tests that need really signed mail: RSA keys made by openssl, DKIM signatures
and ARC sets made by dkimpy, and a stand-in for DNS that serves the public keys.

    private_pem, dns_txt = generate_rsa_key()
    signed = sign(MESSAGE, "example.com", "s1", private_pem)
    dkim.verify(signed, dnsfunc=txt_lookup({"s1._domainkey.example.com": dns_txt}))
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable, Mapping, Sequence

import dkim

#: The header fields ``sign`` covers unless told otherwise (RFC 6376 5.4.1 recommends these).
SIGNED_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


def generate_rsa_key(bits: int = 2048) -> tuple[bytes, str]:
    """A fresh RSA key: the private key as PKCS#1 PEM (what dkimpy signs with) and the DKIM TXT
    record that publishes its public half (RFC 6376 3.6.1)."""
    private_pem = _openssl(["genrsa", "-traditional", str(bits)])
    public_der = _openssl(["rsa", "-pubout", "-outform", "DER"], private_pem)
    return private_pem, f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode('ascii')}"


def sign(
    message: bytes,
    domain: str,
    selector: str,
    private_pem: bytes,
    headers: Sequence[str] = SIGNED_HEADERS,
    canonicalization: tuple[str, str] = ("relaxed", "relaxed"),
) -> bytes:
    """``message`` with a DKIM-Signature for ``d=domain; s=selector`` added on top."""
    field = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        private_pem,
        include_headers=[name.encode() for name in headers],
        canonicalize=tuple(name.encode() for name in canonicalization),
    )
    return field + message


def arc_seal(message: bytes, domain: str, selector: str, private_pem: bytes, authserv_id: str) -> bytes:
    """``message`` with the next ARC set (RFC 8617) added on top, as an intermediary ``domain``
    adds it. dkimpy seals what the message's Authentication-Results of ``authserv_id`` say, so the
    message must carry one."""
    fields = dkim.arc_sign(message, selector.encode(), domain.encode(), private_pem, authserv_id.encode())
    if not fields:
        raise ValueError(f"the message has no Authentication-Results of {authserv_id} for dkimpy to seal")
    return b"".join(fields) + message


def txt_lookup(records: Mapping[str, str]) -> Callable[..., bytes | None]:
    """A ``dnsfunc`` for ``dkim.verify``/``dkim.arc_verify`` that answers from ``records``
    (``"s1._domainkey.example.com"`` → TXT value) and finds nothing else."""
    by_name = {name.lower().rstrip("."): value.encode() for name, value in records.items()}

    def lookup(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        return by_name.get(text.lower().rstrip("."))

    return lookup


def _openssl(arguments: list[str], given: bytes = b"") -> bytes:
    return subprocess.run(["openssl", *arguments], input=given, capture_output=True, check=True).stdout
