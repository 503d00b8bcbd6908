"""Identifier alignment (RFC 7489 3.1, RFC 9989 4.4): relaxed is the same organizational domain,
strict the same domain. ``check_alignment`` explains one pair for a person; ``aligns`` is the
same rule for report data, where junk is normal and answers "not aligned" instead of an error."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from .domains import normalize_domain, organizational_domain

Identifier = Literal["dkim", "spf"]
Mode = Literal["r", "s"]

DKIM_RESULTS = ("pass", "fail", "neutral", "none", "policy", "temperror", "permerror")
SPF_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
_MODE_WORDS = {"r": "r", "relaxed": "r", "s": "s", "strict": "s"}
#: The DMARC record tag that sets each identifier's alignment mode.
_TAGS = {"dkim": "adkim", "spf": "aspf"}
#: Words real reports use for results RFC 7489 names otherwise: "hardfail" and "invalid" for fail,
#: and RFC 4408's "unknown" and "error" for SPF's permerror and temperror.
_RESULT_SYNONYMS = {
    "dkim": {"hardfail": "fail", "invalid": "fail"},
    "spf": {"hardfail": "fail", "unknown": "permerror", "error": "temperror"},
}


def parse_mode(value: str | None, tag: str = "adkim") -> Mode:
    """``r``/``s`` (or the words) to the mode; ``ValueError`` for anything else."""
    mode = _MODE_WORDS.get(str(value if value is not None else "r").strip().lower())
    if mode is None:
        raise ValueError(f"{tag}={value} is not an alignment mode; use {tag}=r (relaxed) or {tag}=s (strict).")
    return mode


@functools.lru_cache(maxsize=1024)
def reported_result(value: str | None, identifier: Identifier) -> str:
    """A result as a report writes it, as the RFC word it stands for: synonyms mapped, and any
    other word (or none) neutral, RFC 8601's result for what could not be processed. Cached: a
    report repeats a few words on every entry."""
    result = str(value or "").strip().lower()
    result = _RESULT_SYNONYMS[identifier].get(result, result)
    return result if result in (DKIM_RESULTS if identifier == "dkim" else SPF_RESULTS) else "neutral"


def parse_result(value: str | None, identifier: Identifier) -> str:
    """A DKIM or SPF result word, lower-cased; ``ValueError`` if RFC 7489 has no such result."""
    allowed = DKIM_RESULTS if identifier == "dkim" else SPF_RESULTS
    result = str(value or "").strip().lower()
    if result not in allowed:
        raise ValueError(f"'{value}' is not a {identifier.upper()} result; use one of {', '.join(allowed)}.")
    return result


@dataclass(frozen=True)
class Alignment:
    """Whether an authenticated domain aligns with the From: domain, and why."""

    identifier: Identifier
    mode: Mode
    from_domain: str
    auth_domain: str
    from_organizational_domain: str
    auth_organizational_domain: str
    aligned: bool
    reason: str

    @property
    def tag(self) -> str:
        return _TAGS[self.identifier]

    @property
    def same_organizational_domain(self) -> bool:
        return self.from_organizational_domain == self.auth_organizational_domain


def check_alignment(from_domain: str, auth_domain: str, mode: str = "r", identifier: Identifier = "dkim") -> Alignment:
    """Relaxed: same organizational domain. Strict: identical domains."""
    tag = _TAGS[identifier]
    mode = parse_mode(mode, tag)
    header = normalize_domain(from_domain)
    auth = normalize_domain(auth_domain)
    header_org, auth_org = organizational_domain(header), organizational_domain(auth)
    aligned = aligns(header, auth, mode)
    if auth == header:
        reason = f"{auth} is exactly the From: domain, so it aligns in either mode."
    elif auth_org != header_org:
        reason = (
            f"{auth} and {header} belong to different organizational domains ({auth_org} and {header_org}), so they do not align."
        )
    elif aligned:
        reason = f"{auth} and {header} share the organizational domain {header_org}, so they align under {tag}=r."
    else:
        reason = f"{auth} and {header} share the organizational domain {header_org}, but {tag}=s requires them to be identical."
    return Alignment(identifier, mode, header, auth, header_org, auth_org, aligned, reason)


@functools.lru_cache(maxsize=65536)
def safe_domain(value: str | None) -> str | None:
    """``normalize_domain`` for report data, where junk is normal: None instead of an error.
    Cached: a report repeats its domains on thousands of rows."""
    try:
        return normalize_domain(value) if value else None
    except ValueError:
        return None


def exact_domain(value: str | None) -> str | None:
    """A report's value as a domain name only when it is one: no address or From: header to take
    the domain out of (``a; ruf=mailto:x@evil.example`` is not ``evil.example``)."""
    return None if value is None or set("@<>") & set(value) else safe_domain(value)


@functools.lru_cache(maxsize=65536)
def safe_organizational_domain(value: str | None) -> str | None:
    domain = safe_domain(value)
    return organizational_domain(domain) if domain else None


def aligns(from_domain: str | None, domain: str | None, mode: str = "r") -> bool:
    """Identifier alignment on report data (``from_domain`` already normalized): strict is the
    same domain, relaxed the same organizational domain; junk on either side is not aligned."""
    if not from_domain:
        return False
    if mode == "s":
        return safe_domain(domain) == from_domain
    org = safe_organizational_domain(from_domain)
    auth = safe_domain(domain)
    # A domain's organizational domain ends its name, so a name that does not end with ``org`` is
    # of another organization without a look-up in the Public Suffix List (most domains in reports).
    if org is None or auth is None or not (auth == org or auth.endswith("." + org)):
        return False
    return safe_organizational_domain(auth) == org
