"""The ``_dmarc`` TXT record: tags, defaults, errors and warnings (RFC 7489 6.3, RFC 9989).

Tag names and keyword values are case-insensitive (ABNF quoted strings); ``v=DMARC1`` is
case-sensitive and must come first. Only a broken version or policy makes the record
unusable; any other bad value is ignored with a warning, as receivers do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .knowledge import knowledge

POLICIES = ("none", "quarantine", "reject")
#: How strongly each policy acts on failing mail, weakest first.
POLICY_RANK = {policy: rank for rank, policy in enumerate(POLICIES)}
#: Tags RFC 9989 removed; receivers may still honour them, so they are read and flagged.
REMOVED_TAGS = ("pct", "rf", "ri")
KNOWN_TAGS = ("v", "p", "sp", "np", "adkim", "aspf", "fo", "rua", "ruf", "t", "psd", *REMOVED_TAGS)
_URI = re.compile(r"^[a-z][a-z0-9+.-]*:\S+$", re.IGNORECASE)
_MAILTO = re.compile(r"^mailto:[^@\s]+@[^@\s!]+(![0-9]+[kmgt]?)?$", re.IGNORECASE)


#: RFC 9989 4.8: dmarc-version = "v" equals %s"DMARC1", at the very start (4.10 step 2 discards
#: any other TXT record); equals and dmarc-sep allow spaces and tabs (WSP) only.
_DMARC_VERSION = re.compile(r"^[vV][ \t]*=[ \t]*DMARC1[ \t]*(;|$)")


def is_dmarc_record(txt: str) -> bool:
    """Whether a TXT value, as DNS gave it, is a DMARC record: it starts with v=DMARC1, with no
    leading space (a value that does is discarded by receivers, however right the rest is)."""
    return bool(_DMARC_VERSION.match(txt))


def declared_psd(txt: str) -> str:
    """The psd= of a DMARC record (y, n or the default u), read even when the rest of the record is
    unusable: the tree walk stops at a record with psd=y or psd=n whatever else it lacks
    (RFC 9989 4.10 steps 2 and 6)."""
    for part in txt.split(";"):
        name, equals, value = part.partition("=")
        if equals and name.strip().lower() == "psd" and value.strip().lower() in ("y", "n"):
            return value.strip().lower()
    return "u"


class DmarcRecordError(ValueError):
    """A TXT value that is not a usable DMARC record."""


@dataclass(frozen=True)
class DmarcRecord:
    """A parsed DMARC record. ``tags`` holds every tag's effective value, defaults filled in."""

    raw: str
    tags: dict[str, str]
    explicit: frozenset[str]
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def p(self) -> str:
        return self.tags["p"]

    @property
    def sp(self) -> str:
        return self.tags["sp"]

    @property
    def np(self) -> str:
        return self.tags["np"]

    @property
    def adkim(self) -> str:
        return self.tags["adkim"]

    @property
    def aspf(self) -> str:
        return self.tags["aspf"]

    @property
    def psd(self) -> str:
        return self.tags["psd"]

    @property
    def pct(self) -> int:
        return int(self.tags.get("pct", "100"))

    def is_default(self, tag: str) -> bool:
        return tag not in self.explicit


def parse_dmarc_record(txt: str) -> DmarcRecord:
    """Parse a ``_dmarc`` TXT value (the strings of a multi-string record already joined)."""
    if txt is None or not str(txt).strip():
        raise DmarcRecordError("The record is empty; a DMARC record starts with v=DMARC1.")
    raw = str(txt).strip()
    pairs, warnings = _split(raw)
    if not pairs or pairs[0][0] != "v":
        raise DmarcRecordError(f"v=DMARC1 must be the first tag; this record starts with '{raw[:30]}'.")
    if pairs[0][1] != "DMARC1":
        raise DmarcRecordError(f"v={pairs[0][1]} is not a DMARC version; the first tag must be exactly v=DMARC1.")

    seen = {"v"}
    given: dict[str, str] = {}
    for name, value in pairs[1:]:
        if name in seen:
            # RFC 9989 4.7 takes DKIM's tag-list syntax, and RFC 6376 3.2 makes a duplicated tag void the list.
            raise DmarcRecordError(f"{name}= appears twice, which makes the whole record invalid: receivers ignore it.")
        seen.add(name)
        if name in KNOWN_TAGS:
            given[name] = value
        else:
            warnings.append(f"Unknown tag {name}={value} is ignored.")

    rua = _uris(given.get("rua"), "rua", warnings)
    ruf = _uris(given.get("ruf"), "ruf", warnings)
    tags = {"v": "DMARC1", **_policies(given, rua, warnings)}
    tags["adkim"] = _keyword(given, "adkim", ("r", "s"), "r", warnings)
    tags["aspf"] = _keyword(given, "aspf", ("r", "s"), "r", warnings)
    tags["fo"] = _failure_options(given.get("fo"), warnings)
    tags["t"] = _keyword(given, "t", ("y", "n"), "n", warnings)
    tags["psd"] = _keyword(given, "psd", ("y", "n", "u"), "u", warnings)
    if "pct" in given:
        tags["pct"] = _percent(given["pct"], warnings)
    if "rua" in given:
        tags["rua"] = given["rua"]
    if "ruf" in given:
        tags["ruf"] = given["ruf"]
    for removed in ("rf", "ri"):
        if removed in given:
            tags[removed] = given[removed]
    if "p" not in given:
        warnings.append(
            "There is no p= tag: receivers on RFC 9989 treat the record as p=none (4.7); receivers still on "
            "RFC 7489 do so only while rua= holds a valid address, and otherwise ignore the record (RFC 7489 6.6.3)."
        )

    explicit = frozenset(["v", *given])
    warnings.extend(_odd_choices(tags, explicit, rua))
    return DmarcRecord(raw, tags, explicit, rua, ruf, tuple(warnings))


def _split(raw: str) -> tuple[list[tuple[str, str]], list[str]]:
    pairs, warnings = [], []
    for part in raw.split(";"):
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals:
            if not pairs:
                return [], warnings
            warnings.append(f"'{part}' is not a tag=value pair and is ignored.")
            continue
        pairs.append((name.strip().lower(), value.strip()))
    return pairs, warnings


def _policies(given: dict[str, str], rua: tuple[str, ...], warnings: list[str]) -> dict[str, str]:
    """p, sp and np as receivers apply them (RFC 9989 4.7, 4.10.1): no p= means p=none; sp defaults
    to p and np to sp. One invalid policy makes the whole record act as p=none while rua= holds a
    valid address, and makes receivers skip DMARC altogether without one: never stricter."""
    invalid = [f"{tag}={given[tag]}" for tag in ("p", "sp", "np") if tag in given and given[tag].lower() not in POLICIES]
    if invalid and not rua:
        raise DmarcRecordError(
            f"{' and '.join(invalid)} is not a policy (use none, quarantine or reject), and with no valid rua= "
            "address receivers apply no DMARC processing at all (RFC 9989 4.10.1)."
        )
    if invalid:
        warnings.append(
            f"{' and '.join(invalid)} is not a policy (use none, quarantine or reject): since rua= holds a valid "
            "address, receivers act as if the record said p=none, for the domain and its subdomains (RFC 9989 4.10.1)."
        )
        return dict.fromkeys(("p", "sp", "np"), "none")
    p = given.get("p", "none").lower()
    sp = given.get("sp", p).lower()
    return {"p": p, "sp": sp, "np": given.get("np", sp).lower()}


def _keyword(given: dict[str, str], tag: str, allowed: tuple[str, ...], default: str, warnings: list[str]) -> str:
    value = given.get(tag)
    if value is None:
        return default
    if value.lower() not in allowed:
        warnings.append(f"{tag}={value} is not valid (use {' or '.join(allowed)}); receivers use {tag}={default}.")
        return default
    return value.lower()


def _failure_options(value: str | None, warnings: list[str]) -> str:
    if value is None:
        return "0"
    options = [option.strip().lower() for option in value.split(":")]
    # RFC 9989 4.8 (dmarc-fo): 0, 1, d and s, each at most once, and 0 and 1 exclude each other.
    if (
        any(option not in ("0", "1", "d", "s") for option in options)
        or len(set(options)) < len(options)
        or {"0", "1"} <= set(options)
    ):
        warnings.append(f"fo={value} is not valid (0 or 1, d, s, each at most once, colon-separated); receivers use fo=0.")
        return "0"
    return ":".join(options)


def _percent(value: str, warnings: list[str]) -> str:
    if not value.isdigit() or not 0 <= int(value) <= 100:
        warnings.append(f"pct={value} is not a percentage from 0 to 100; receivers use pct=100.")
        return "100"
    return str(int(value))


def _uris(value: str | None, tag: str, warnings: list[str]) -> tuple[str, ...]:
    """The syntactically valid URIs of rua= or ruf= (what RFC 9989 4.10.1 counts), each non-mailto
    one and each that is no URI at all said in a warning."""
    if value is None:
        return ()
    valid = []
    for uri in (uri.strip() for uri in value.split(",") if uri.strip()):
        if _URI.match(uri):
            valid.append(uri)
            if not _MAILTO.match(uri):
                warnings.append(f"{tag}: {uri} is not a mailto: address; receivers only send reports by e-mail.")
        else:
            warnings.append(f"{tag}: '{uri}' is not a URI; write it as mailto:reports@example.com.")
    if not any(_MAILTO.match(uri) for uri in valid):
        warnings.append(f"{tag}= holds no usable mailto: address, so no reports can be sent.")
    return tuple(valid)


def _odd_choices(tags: dict[str, str], explicit: frozenset[str], rua: tuple[str, ...]) -> list[str]:
    notes = []
    if tags["adkim"] == "s":
        notes.append(
            "adkim=s (strict): DKIM must sign with exactly the From: domain; mail signed by a subdomain or "
            "the parent domain fails DMARC (root cause 3). Most domains use adkim=r."
        )
    if tags["aspf"] == "s":
        notes.append("aspf=s (strict): the MAIL FROM domain must be exactly the From: domain; bounce subdomains fail.")
    if not rua:
        if tags["p"] == "none":
            notes.append("p=none without rua=: the policy monitors, but nobody receives the reports that show what to fix.")
        else:
            notes.append(
                f"p={tags['p']} without rua=: mail that fails is {'quarantined' if tags['p'] == 'quarantine' else 'rejected'} "
                "and you get no aggregate reports to notice legitimate senders hit by it."
            )
    for removed in REMOVED_TAGS:
        if removed in explicit:
            notes.append(f"{removed}= was removed by RFC 9989 (DMARCbis); newer receivers ignore it.")
    if tags.get("pct", "100") != "100":
        notes.append(
            f"pct={tags['pct']}: the policy applies to {tags['pct']}% of failing mail at receivers that still honour "
            "pct; RFC 9989 replaces this gradual rollout with t=y."
        )
    if tags["t"] == "y":
        notes.append(
            "t=y (test mode): receivers are asked not to apply the policy yet; reports mark such mail with reason policy_test_mode."
        )
    if "sp" in explicit and POLICY_RANK[tags["sp"]] < POLICY_RANK[tags["p"]]:
        notes.append(
            f"sp={tags['sp']} is weaker than p={tags['p']}: subdomains of this domain are less protected than the domain itself."
        )
    return notes


@dataclass(frozen=True)
class TagExplanation:
    """One tag of a DMARC record: its value, whether it was written or is the default, and what
    it means."""

    tag: str
    value: str
    is_default: bool
    name: str
    meaning: str
    value_meaning: str
    default: str
    rfc9989: str


def explain_tags(record: DmarcRecord) -> tuple[TagExplanation, ...]:
    """Every tag of ``record``, defaults included, with the words of ``knowledge().record_tags``."""
    tags = knowledge().record_tags
    return tuple(
        TagExplanation(
            tag,
            value,
            record.is_default(tag),
            tags[tag].name,
            tags[tag].meaning,
            # fo= takes a colon-separated list of options; the other tags one value.
            "; ".join(filter(None, (tags[tag].values.get(option, "") for option in value.split(":")))),
            tags[tag].default,
            tags[tag].rfc9989,
        )
        for tag, value in record.tags.items()
    )


def stricter_than(own: DmarcRecord, parent: DmarcRecord) -> list[str]:
    """How the domain's own record asks more than its parent's would for it (root cause 3)."""
    notes = []
    if POLICY_RANK[own.p] > POLICY_RANK[parent.sp]:
        notes.append(f"p={own.p} where the parent asks sp={parent.sp} for its subdomains")
    for tag in ("adkim", "aspf"):
        if own.tags[tag] == "s" and parent.tags[tag] == "r":
            notes.append(f"{tag}=s where the parent has {tag}=r")
    return notes
