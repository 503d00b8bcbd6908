"""Domain names as DMARC sees them: normalization and the organizational domain.

The organizational domain follows RFC 7489 section 3.2 with the Public Suffix List
(private section included, so ``user1.github.io`` is its own organization). The list
is the snapshot shipped inside tldextract: no download, no cache file, ever.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

import idna
import tldextract

MAX_LABEL_OCTETS = 63
MAX_NAME_OCTETS = 253
_LDH_LABEL = re.compile(r"^[a-z0-9-]+$")
#: A name in normal form: lower-case LDH labels of at most 63 octets, none starting or ending with a hyphen.
_NORMAL_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
#: A From: header value ends with the address in angle brackets: ``Jane Doe <jane@example.com>``.
_FROM_HEADER = re.compile(r"^[^<>]*<([^<>]*)>$")

RuleKind = Literal["normal", "wildcard", "exception", "default"]


@dataclass(frozen=True)
class PublicSuffixMatch:
    """What the Public Suffix List says about one domain."""

    domain: str
    public_suffix: str
    organizational_domain: str
    rule: str
    rule_kind: RuleKind
    section: Literal["icann", "private", "none"]

    @property
    def is_public_suffix(self) -> bool:
        """True when the domain is itself a public suffix: nobody registers below it here."""
        return self.domain == self.public_suffix

    @property
    def explanation(self) -> str:
        """One sentence on which rule decided, for the page."""
        if self.rule_kind == "default":
            decided = f"No rule lists .{self.public_suffix}, so the default rule * makes {self.public_suffix} the public suffix"
        elif self.rule_kind == "exception":
            decided = f"The exception rule {self.rule} makes {self.public_suffix} the public suffix"
        else:
            kind = {"wildcard": "wildcard", "normal": "private" if self.section == "private" else "ICANN"}[self.rule_kind]
            decided = f"The {kind} rule {self.rule} makes {self.public_suffix} the public suffix"
        if self.is_public_suffix:
            return f"{decided}; {self.domain} is itself that suffix, so it is its own organizational domain."
        return f"{decided}; one label more gives the organizational domain {self.organizational_domain}."


def normalize_domain(value: str) -> str:
    """Return ``value`` as a lower-case A-label domain, or raise ``ValueError`` saying why not.

    Accepts what people paste: an address (``user@example.com``), a From: header
    value (``Jane <jane@example.com>``), U-labels, any case, a trailing root dot.
    """
    if value is None:
        raise ValueError("A domain is required.")
    if type(value) is str and len(value) <= MAX_NAME_OCTETS and _NORMAL_NAME.fullmatch(value):
        return value  # already as the steps below would write it: most names in reports
    text = str(value).strip()
    header = _FROM_HEADER.match(text)
    if header:
        text = header.group(1).strip()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    if not text:
        raise ValueError("A domain is required; this one is empty.")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"'{text}' contains a space; a domain name has none.")
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    if not text.isascii():
        try:
            text = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except idna.IDNAError as exc:
            raise ValueError(f"'{value}' is not a valid internationalized domain name: {exc}.") from None
    labels = text.lower().split(".")
    if any(label == "" for label in labels):
        raise ValueError(f"'{text}' has an empty label (two dots in a row, or a dot at the start).")
    ascii_labels = [_to_a_label(label, text) for label in labels]
    name = ".".join(ascii_labels)
    if len(name) > MAX_NAME_OCTETS:
        raise ValueError(f"'{name[:40]}...' is {len(name)} octets long; a domain name has at most {MAX_NAME_OCTETS}.")
    return name


def _to_a_label(label: str, whole: str) -> str:
    if not label.isascii():
        try:
            label = idna.alabel(label).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"'{label}' in '{whole}' is not a valid internationalized label: {exc}.") from None
    if len(label) > MAX_LABEL_OCTETS:
        raise ValueError(
            f"The label '{label[:20]}...' in '{whole}' is {len(label)} octets long; a label has at most {MAX_LABEL_OCTETS}."
        )
    if not _LDH_LABEL.match(label):
        bad = next(ch for ch in label if not (ch.isalnum() or ch == "-"))
        raise ValueError(f"'{whole}' contains '{bad}'; domain names use only letters, digits, hyphens and dots.")
    if label.startswith("-") or label.endswith("-"):
        raise ValueError(f"The label '{label}' in '{whole}' starts or ends with a hyphen, which domain names do not allow.")
    return label


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # cache_dir=None: never read or write ~/.cache; suffix_list_urls=(): never fetch.
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), include_psl_private_domains=True)


@functools.cache
def _rules() -> frozenset[str]:
    return frozenset(_extractor().tlds)


@functools.lru_cache(maxsize=65536)
def public_suffix_match(domain: str) -> PublicSuffixMatch:
    """Look ``domain`` up in the Public Suffix List and say which rule decided."""
    name = normalize_domain(domain)
    found, suffix, organizational = _looked_up(name)
    if not found.suffix:
        rule, kind, section = "*", "default", "none"
    else:
        section = "private" if found.is_private else "icann"
        rule, kind = _deciding_rule(suffix, found.domain)
    return PublicSuffixMatch(name, suffix, organizational, rule, kind, section)


def _looked_up(name: str) -> tuple[tldextract.tldextract.ExtractResult, str, str]:
    """The list's answer for a normalized ``name``, its public suffix (the default rule "*": its
    last label, where no rule matches) and its organizational domain: the suffix and one label
    more, or the name itself where it is a public suffix."""
    found = _extractor()(name)
    labels = name.split(".")
    suffix = found.suffix or labels[-1]
    suffix_labels = suffix.count(".") + 1
    return found, suffix, ".".join(labels[-(suffix_labels + 1) :]) if len(labels) > suffix_labels else name


def _deciding_rule(suffix: str, next_label: str) -> tuple[str, RuleKind]:
    rules = _rules()
    suffix = _as_listed(suffix)
    if next_label and f"!{_as_listed(next_label)}.{suffix}" in rules:
        return f"!{_as_listed(next_label)}.{suffix}", "exception"
    if suffix in rules:
        return suffix, "normal"
    return f"*.{suffix.split('.', 1)[1]}", "wildcard"


def _as_listed(name: str) -> str:
    """The list writes internationalized rules in U-labels; our names are A-labels."""
    try:
        return idna.decode(name) if "xn--" in name else name
    except idna.IDNAError:
        return name


@functools.lru_cache(maxsize=65536)
def organizational_domain(domain: str) -> str:
    """The organizational domain of ``domain`` (RFC 7489 3.2, PSL with private rules), as A-labels:
    ``public_suffix_match``'s, without finding which rule decided (the triage asks this of every
    new domain of a report, and the rule only the Explorer shows).

    A domain that is itself a public suffix is its own organizational domain.
    """
    return _looked_up(normalize_domain(domain))[2]


def unicode_form(domain: str) -> str:
    """``domain`` with its A-labels (``xn--``) as Unicode, as people read it. Label by label, so
    that ``_dmarc.`` and other labels that are no host name stay as they are, and so does an
    A-label that does not decode (not valid IDNA)."""
    return ".".join(_u_label(label) for label in domain.split("."))


def _u_label(label: str) -> str:
    if label[:4].lower() != "xn--":
        return label
    try:
        return idna.ulabel(label.lower())
    except (idna.IDNAError, UnicodeError):
        return label


def display_domain(domain: str) -> str:
    """An internationalized name in both forms, A-label first as DNS and reports write it:
    ``xn--bcher-kva.example (bücher.example)``; any other name as it is."""
    readable = unicode_form(domain)
    return domain if readable == domain else f"{domain} ({readable})"
