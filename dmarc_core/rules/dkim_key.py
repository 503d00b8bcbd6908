"""DKIM key records as a verifier reads them (RFC 6376 3.2 tag lists, 3.6.1 tags; RFC 8301 key
sizes; RFC 8463 ed25519), and DKIM selectors as people type them. Pure rules: no DNS here."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .domains import normalize_domain

KeyStatus = Literal["found", "revoked", "malformed"]

#: k= values a verifier can use: RFC 6376 (rsa) and RFC 8463 (ed25519).
KEY_TYPES = ("rsa", "ed25519")
_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FWS = re.compile(r"\s+")
_ED25519_KEY_OCTETS = 32
#: RFC 8301 3.2: verifiers must refuse RSA keys under 1024 bits and must handle up to 4096;
#: signers should use at least 2048.
RSA_MIN_BITS, RSA_ADVISED_BITS, RSA_VERIFIER_MAX_BITS = 1024, 2048, 4096
_DER_SEQUENCE, _DER_INTEGER, _DER_BIT_STRING, _DER_OID = 0x30, 0x02, 0x03, 0x06
_RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1


@dataclass(frozen=True)
class KeyRecord:
    """What one key record says: ``found``, ``revoked`` or ``malformed``, and why."""

    status: KeyStatus
    key_type: str | None
    detail: str
    bits: int | None = None  # an RSA key's modulus length


def rsa_size_concern(bits: int | None) -> str | None:
    """``"short"`` under the advised 2048 bits, ``"long"`` over the 4096 every verifier must
    handle, else None (also for a key that is not RSA)."""
    if bits is None:
        return None
    if bits < RSA_ADVISED_BITS:
        return "short"
    return "long" if bits > RSA_VERIFIER_MAX_BITS else None


def parse_selectors(selectors: str | Iterable[str]) -> tuple[str, ...]:
    """Selectors as typed (``"k1, s2"``) or listed, lower-cased, each once, in order;
    ``ValueError`` for one that is not a selector (RFC 6376 3.1: dot-separated labels)."""
    items = selectors.split(",") if isinstance(selectors, str) else selectors
    chosen: list[str] = []
    for item in (str(item).strip() for item in items):
        if not item:
            continue
        try:
            selector = normalize_domain(item)
        except ValueError as problem:
            raise ValueError(f"'{item}' is not a DKIM selector: {problem}") from None
        if "@" in item or selector != item.lower().rstrip("."):
            raise ValueError(f"'{item}' is not a DKIM selector; a selector is a name like k1 or s1.2024.")
        if selector not in chosen:
            chosen.append(selector)
    return tuple(chosen)


def parse_key_record(text: str) -> KeyRecord:
    """Judge one TXT value the way a verifier reads it (RFC 6376 3.2 tag lists, 3.6.1 tags)."""
    tags: dict[str, str] = {}
    for spec in text.split(";"):
        if not spec.strip():
            continue
        name, equals, value = spec.partition("=")
        name = name.strip()
        if not equals or not _TAG_NAME.match(name):
            return KeyRecord("malformed", None, f"'{spec.strip()[:40]}' is not a tag=value pair, so this is not a key record.")
        if name in tags:
            # RFC 6376 3.2: a duplicated tag makes the whole tag list invalid.
            return KeyRecord("malformed", None, f"{name}= appears twice, which makes the whole record invalid.")
        tags[name] = _FWS.sub("", value)
    if not tags:
        return KeyRecord("malformed", None, "The record is empty.")
    if "v" in tags and (next(iter(tags)) != "v" or tags["v"] != "DKIM1"):
        return KeyRecord(
            "malformed", None, f"v={tags['v']} must be exactly v=DKIM1 and come first; verifiers discard this record."
        )
    # The values of k=, s=, h= and t= are ABNF quoted strings, which match in any case (RFC 5234 2.3);
    # v= is the one case-sensitive literal (%x44.4B.49.4D.31).
    key_type = tags.get("k", "rsa").lower()
    if key_type not in KEY_TYPES:
        return KeyRecord("malformed", None, f"k={key_type} is not a key type verifiers know (rsa, ed25519).")
    if "p" not in tags:
        return KeyRecord("malformed", key_type, "There is no p= tag, which holds the public key.")
    if not tags["p"]:
        return KeyRecord("revoked", key_type, "p= is empty: the key was revoked, and signatures made with it fail.")
    services = tags.get("s", "*").lower().split(":")
    if "*" not in services and "email" not in services:
        return KeyRecord("malformed", key_type, f"s={tags['s']}: the key is not for email, so verifiers ignore it.")
    hashes = tags.get("h", "sha256").lower().split(":")
    if "sha256" not in hashes:
        # RFC 8301 3.1: verifiers must accept sha256 and must not accept sha1 any more.
        refused = " (sha1 is no longer accepted, RFC 8301)" if "sha1" in hashes else ""
        return KeyRecord("malformed", key_type, f"h={tags['h']} allows no sha256, the one hash every verifier uses{refused}.")
    bits, problem, form_note = None, None, ""
    if key_type == "rsa":
        bits, problem, form_note = _rsa_key(tags["p"])
    else:
        problem = _ed25519_problem(tags["p"])
    if problem:
        return KeyRecord("malformed", key_type, problem, bits)
    testing = " t=y: the domain says it is testing DKIM." if "y" in tags.get("t", "").lower().split(":") else ""
    return KeyRecord("found", key_type, f"{_usable(key_type, bits)}{form_note}{testing}", bits)


def _usable(key_type: str, bits: int | None) -> str:
    if bits is None:
        return f"A usable {key_type} key."
    concern = rsa_size_concern(bits)
    if concern == "short":
        return f"A usable rsa key of {bits} bits, below the {RSA_ADVISED_BITS} signers should use (RFC 8301)."
    if concern == "long":
        return (
            f"An rsa key of {bits} bits: verifiers need only handle up to {RSA_VERIFIER_MAX_BITS} (RFC 8301), "
            "so some fail its signatures."
        )
    return f"A usable rsa key of {bits} bits."


def _decoded(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


_NOT_BASE64 = "p= is not valid base64, so no key can be read from it."


def _ed25519_problem(data: str) -> str | None:
    key = _decoded(data)
    if key is None:
        return _NOT_BASE64
    if len(key) != _ED25519_KEY_OCTETS:
        return f"p= holds {len(key)} octets; an ed25519 key is {_ED25519_KEY_OCTETS} (RFC 8463)."
    return None


def _rsa_key(data: str) -> tuple[int | None, str | None, str]:
    """(bits, problem, note on the key's form) for an RSA ``p=``.

    RFC 6376 names both a SubjectPublicKeyInfo and a bare RSAPublicKey (erratum 3017); signers
    publish the first, so the second is read but noted."""
    key = _decoded(data)
    if key is None:
        return None, _NOT_BASE64, ""
    try:
        modulus, bare = _rsa_modulus(key)
    except ValueError:
        return None, "p= does not hold an RSA public key (a DER SubjectPublicKeyInfo).", ""
    bits = modulus.bit_length()
    if bits < RSA_MIN_BITS:
        return (
            bits,
            (
                f"p= holds a {bits}-bit RSA key; verifiers must not accept keys under {RSA_MIN_BITS} bits "
                "(RFC 8301), so its signatures fail."
            ),
            "",
        )
    form_note = (
        (
            " It is a bare RSAPublicKey, not the SubjectPublicKeyInfo that signers usually publish;"
            " verifiers that read only the usual form fail its signatures."
        )
        if bare
        else ""
    )
    return bits, None, form_note


def _rsa_modulus(key: bytes) -> tuple[int, bool]:
    """The modulus of a DER SubjectPublicKeyInfo or RSAPublicKey, and whether it was the bare
    RSAPublicKey; ``ValueError`` for anything else, trailing bytes included."""
    tag, body, end = _der(key, 0)
    if tag != _DER_SEQUENCE or end != len(key):
        raise ValueError("not a DER SEQUENCE")
    first_tag, first_body, after_first = _der(key, body)
    if first_tag == _DER_INTEGER:
        return _rsa_public_key(key[body:end]), True
    oid_tag, oid_body, oid_end = _der(key, first_body)
    if first_tag != _DER_SEQUENCE or oid_tag != _DER_OID or key[oid_body:oid_end] != _RSA_ENCRYPTION_OID:
        raise ValueError("not an rsaEncryption key")
    bits_tag, bits_body, bits_end = _der(key, after_first)
    if bits_tag != _DER_BIT_STRING or bits_end != end or key[bits_body : bits_body + 1] != b"\x00":
        raise ValueError("no whole-octet BIT STRING")
    inner = key[bits_body + 1 : bits_end]
    tag, body, end = _der(inner, 0)
    if tag != _DER_SEQUENCE or end != len(inner):
        raise ValueError("not an RSAPublicKey")
    return _rsa_public_key(inner[body:end]), False


def _rsa_public_key(fields: bytes) -> int:
    """RSAPublicKey's content (RFC 8017 A.1.1): INTEGER modulus, INTEGER publicExponent."""
    modulus_tag, modulus_body, modulus_end = _der(fields, 0)
    exponent_tag, _, exponent_end = _der(fields, modulus_end)
    if modulus_tag != _DER_INTEGER or exponent_tag != _DER_INTEGER or exponent_end != len(fields):
        raise ValueError("not two INTEGERs")
    return int.from_bytes(fields[modulus_body:modulus_end], "big")


def _der(data: bytes, at: int) -> tuple[int, int, int]:
    """One DER element at ``at``: (tag, where its content starts, where it ends)."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        octets = length & 0x7F
        if not 1 <= octets <= 4 or at + octets > len(data):
            raise ValueError("bad length")
        length, at = int.from_bytes(data[at : at + octets], "big"), at + octets
    if at + length > len(data):
        raise ValueError("truncated")
    return tag, at, at + length
