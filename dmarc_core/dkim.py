"""DKIM public keys in DNS: ``<selector>._domainkey.<domain>`` TXT (RFC 6376 3.6.1, 3.6.2.2).

A key is found, revoked (an empty ``p=``), malformed (anything a verifier cannot use), or
missing (``nxdomain``/``no_record``). A missing or unusable key makes the signature fail with
permerror, which is the article's root cause 4.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

import dns.asyncresolver

from .dns import Lookups, Status, run_batch
from .domains import normalize_domain

#: k= values a verifier can use: RFC 6376 (rsa) and RFC 8463 (ed25519).
KEY_TYPES = ("rsa", "ed25519")
_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FWS = re.compile(r"\s+")
_ED25519_KEY_OCTETS = 32
_DER_SEQUENCE = 0x30


@dataclass(frozen=True)
class KeyRecord:
    """What one key record says: ``found``, ``revoked`` or ``malformed``, and why."""

    status: Status
    key_type: str | None
    detail: str


@dataclass(frozen=True)
class DkimKeyLookup:
    selector: str
    domain: str
    status: Status
    record: str | None = None
    key_type: str | None = None
    detail: str = ""

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def missing(self) -> bool:
        return self.status in ("nxdomain", "no_record")


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
        return KeyRecord("malformed", None, f"v={tags['v']} must be exactly v=DKIM1 and come first; verifiers discard this record.")
    key_type = tags.get("k", "rsa")
    if key_type not in KEY_TYPES:
        return KeyRecord("malformed", None, f"k={key_type} is not a key type verifiers know (rsa, ed25519).")
    if "p" not in tags:
        return KeyRecord("malformed", key_type, "There is no p= tag, which holds the public key.")
    if not tags["p"]:
        return KeyRecord("revoked", key_type, "p= is empty: the key was revoked, and signatures made with it fail.")
    problem = _key_problem(key_type, tags["p"])
    if problem:
        return KeyRecord("malformed", key_type, problem)
    services = tags.get("s", "*").split(":")
    if "*" not in services and "email" not in services:
        return KeyRecord("malformed", key_type, f"s={tags['s']}: the key is not for email, so verifiers ignore it.")
    hashes = tags.get("h", "sha256").split(":")
    if "sha256" not in hashes:
        return KeyRecord("malformed", key_type, f"h={tags['h']} allows no sha256; sha1 is no longer accepted (RFC 8301).")
    testing = " t=y: the domain says it is testing DKIM." if "y" in tags.get("t", "").split(":") else ""
    return KeyRecord("found", key_type, f"A usable {key_type} key.{testing}")


def _key_problem(key_type: str, data: str) -> str | None:
    try:
        key = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "p= is not valid base64, so no key can be read from it."
    if key_type == "ed25519" and len(key) != _ED25519_KEY_OCTETS:
        return f"p= holds {len(key)} octets; an ed25519 key is {_ED25519_KEY_OCTETS} (RFC 8463)."
    if key_type == "rsa" and key[:1] != bytes([_DER_SEQUENCE]):
        return "p= does not hold an RSA public key (a DER SubjectPublicKeyInfo)."
    return None


async def dkim_key_async(domain: str, selector: str, lookups: Lookups) -> DkimKeyLookup:
    answer = await lookups.get(f"{selector}._domainkey.{domain}")
    if answer.status != "found":
        return DkimKeyLookup(selector, domain, answer.status, detail=answer.detail)
    # RFC 6376 3.6.2.2: with several key records the verifier may use any; report a usable one if any is.
    judged = [(text, parse_key_record(text)) for text in answer.answers]
    text, key = next(((text, key) for text, key in judged if key.status == "found"), judged[0])
    return DkimKeyLookup(selector, domain, key.status, text, key.key_type, key.detail)


async def dkim_keys_async(domain: str, selectors: Iterable[str], lookups: Lookups) -> tuple[DkimKeyLookup, ...]:
    return tuple(await asyncio.gather(*(dkim_key_async(domain, selector, lookups) for selector in selectors)))


def lookup_dkim_keys(
    domain: str, selectors: str | Iterable[str], resolver: dns.asyncresolver.Resolver | None = None
) -> tuple[DkimKeyLookup, ...]:
    """Look up the key of each selector under ``domain``, all at once. Selectors can come from a
    person (``"k1, s2"``) or from a report's auth_results (a list)."""
    domain, chosen = normalize_domain(domain), parse_selectors(selectors)
    return run_batch(lambda lookups: dkim_keys_async(domain, chosen, lookups), resolver)
