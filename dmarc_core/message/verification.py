"""Checking a message's DKIM signatures and ARC chain: offline what needs no DNS (the signature's
own tags, expiry, the body hash against the body that came), and on request the keys in DNS
through the lookups' resolver and the cryptography, which dkimpy does (RFC 6376, RFC 8301,
RFC 8463, RFC 8617). SPF is evaluated by ``lookups.spf.evaluate_spf``."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import dkim
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.crypto import HASH_ALGORITHMS
from dkim.util import InvalidTagValueList, parse_tag_value

from ..lookups.dkim_keys import DkimKeyLookup, dkim_key_async
from ..lookups.resolver import FAILED, Lookups, run_lookups
from ..rules.domains import normalize_domain
from ..rules.wording import counted
from .model import ArcSet, DkimSignature, DkimVerdict, Message

if TYPE_CHECKING:  # the resolver is the lookups' to use; here it is only passed on
    import dns.asyncresolver

SignatureStatus = Literal[
    "pass",
    "body_changed",
    "signature_mismatch",
    "key_missing",
    "key_revoked",
    "key_unusable",
    "expired",
    "malformed",
    "headers_verified",
    "not_checked",
]
#: The RFC 8601 result a receiver records for each status we can establish (RFC 6376 6.1: a key
#: that cannot be used is a permanent error; a changed body or header, a failed signature).
_RESULTS: dict[str, str] = {
    "pass": "pass",
    "body_changed": "fail",
    "signature_mismatch": "fail",
    "expired": "fail",
    "key_missing": "permerror",
    "key_revoked": "permerror",
    "key_unusable": "permerror",
    "malformed": "permerror",
}
#: RFC 8301 3.2: verifiers must not accept RSA signatures made with keys under 1024 bits.
MIN_RSA_BITS = 1024


@dataclass(frozen=True)
class SignatureCheck:
    """One DKIM signature: what we established (``status`` and why), the key we found, whether
    the body that came still hashes to bh=, and what the final receiver recorded for it."""

    signature: DkimSignature
    status: SignatureStatus
    detail: str
    key: DkimKeyLookup | None = None
    body_intact: bool | None = None
    receiver: DkimVerdict | None = None

    @property
    def result(self) -> str | None:
        """The result DMARC counts: ours where we established one, else the receiver's, else None."""
        if self.status in _RESULTS:
            return _RESULTS[self.status]
        return self.receiver.result if self.receiver else None

    @property
    def result_source(self) -> Literal["verified here", "as the receiver recorded"] | None:
        if self.status in _RESULTS:
            return "verified here"
        return "as the receiver recorded" if self.receiver else None


@dataclass(frozen=True)
class ArcCheck:
    """The ARC chain (RFC 8617): ``status`` pass, fail or none when verified, not_checked
    offline; who sealed it last; and what the first hop recorded before any forwarding."""

    status: Literal["pass", "fail", "none", "not_checked"]
    sealed_by: str
    detail: str
    first_hop: ArcSet | None = None


def check_signatures(
    message: Message, *, lookup: bool, resolver: dns.asyncresolver.Resolver | None = None, now: float | None = None
) -> tuple[SignatureCheck, ...]:
    """Every DKIM signature checked, top to bottom; with ``lookup`` its key is fetched and the
    signature verified, else only what needs no DNS is established."""
    receiver = message.receiver_results
    verdicts = receiver.dkim if receiver else ()
    keys = _fetch_keys(message.signatures, resolver) if lookup else {}
    verifier = dkim.DKIM(message.data, minkey=MIN_RSA_BITS)
    checks = []
    for signature in message.signatures:
        verdict = _receiver_verdict(verifier, signature, verdicts, message)
        key = keys.get((signature.domain, signature.selector))
        checks.append(_check(verifier, message, signature, key, verdict, now))
    return tuple(checks)


def _check(
    verifier: dkim.DKIM,
    message: Message,
    signature: DkimSignature,
    key: DkimKeyLookup | None,
    verdict: DkimVerdict | None,
    now: float | None,
) -> SignatureCheck:
    def checked(status: SignatureStatus, detail: str, body_intact: bool | None = None) -> SignatureCheck:
        return SignatureCheck(signature, status, detail, key, body_intact, verdict)

    if signature.problem:
        return checked("malformed", _sentence(signature.problem))
    try:
        normalize_domain(signature.domain)
    except ValueError as problem:
        return checked("malformed", f"d= is not a domain name: {_sentence(str(problem))}")
    arrival = message.arrived_at if now is None else None
    at = now if now is not None else arrival or time.time()
    if signature.expires_at is not None and signature.expires_at < at:
        when = f"before the message arrived ({_when(int(at))})" if arrival else "before now"
        return checked("expired", f"x= says the signature expired at {_when(signature.expires_at)}, {when}: it no longer counts.")
    body_intact = _body_hash_matches(verifier, signature) if message.has_body else None
    if body_intact is False:
        return checked(
            "body_changed",
            "The body no longer hashes to the signature's bh=: it was changed after signing "
            "(a footer, a rewritten link, a re-encoding), as forwarders and lists do.",
            False,
        )
    if key is None:
        where = "The body hash matches. " if body_intact else ""
        return checked("not_checked", f"{where}The key was not looked up, so the signature itself was not verified.", body_intact)
    if key.missing:
        return checked(
            "key_missing",
            f"{key.name} has no key in DNS ({key.status}): the selector was removed or never published"
            f"{' (looked up today: it may have been removed since the message was sent)' if _old(message, now) else ''}.",
            body_intact,
        )
    if key.status == "revoked":
        return checked("key_revoked", f"{key.name} publishes an empty p=: the key was revoked.", body_intact)
    if key.status in FAILED:
        return checked("not_checked", f"DNS did not answer for {key.name}: {key.detail or key.status}.", body_intact)
    if key.status != "found":
        return checked("key_unusable", f"{key.name} holds no usable key: {key.detail}", body_intact)
    if key.key_type == "rsa" and key.bits is not None and key.bits < MIN_RSA_BITS:
        return checked(
            "key_unusable",
            f"{key.name} is a {key.bits}-bit RSA key; RFC 8301 forbids accepting keys under 1024 bits.",
            body_intact,
        )
    verified, failure = _verify(verifier, signature, key, with_body=message.has_body)
    if failure:
        return checked("malformed", f"dkimpy could not verify it: {failure}", body_intact)
    if verified and message.has_body:
        return checked("pass", "The signature verifies with the published key, and the body is as signed.", True)
    if verified:
        if verdict is not None and verdict.result == "fail":
            return checked(
                "body_changed",
                "The signed headers verify here, so what the receiver found failing is the body: it "
                "changed after signing. Paste the whole message to see the body hash itself.",
            )
        if verdict is not None and verdict.result == "pass":
            return checked("pass", "The signed headers verify here, and the receiver found the body as signed.")
        return checked(
            "headers_verified",
            "The signed headers verify with the published key, but the body was not given: whether it changed "
            "after signing (root cause 2) is not known. Paste the whole message to check the body hash.",
        )
    if message.from_header.problem == "several":
        why = "the message has a second From: (or several addresses), which the signature does not cover (RFC 6376 5.4)"
    else:
        why = (
            "a signed header was changed after signing (often Subject: or From: rewritten by a list), or the key "
            "in DNS is not the one that signed"
        )
    return checked("signature_mismatch", f"The signature does not verify: {why}.", body_intact)


def _body_hash_matches(verifier: dkim.DKIM, signature: DkimSignature) -> bool | None:
    """Whether the body that came hashes to bh= (RFC 6376 3.7), by dkimpy's canonicalization."""
    fields = _tags(_signature_field(verifier, signature.position))
    try:
        policy = CanonicalizationPolicy.from_c_value(fields.get(b"c", b"simple/simple"))
        hasher = HASH_ALGORITHMS[fields[b"a"]]()
        expected = base64.b64decode(re.sub(rb"\s+", b"", fields[b"bh"]))
    except (InvalidCanonicalizationPolicyError, KeyError, ValueError):
        return None
    body = policy.canonicalize_body(verifier.body)
    if signature.body_length is not None:
        body = body[: signature.body_length]
    hasher.update(body)
    return hasher.digest() == expected


def _verify(verifier: dkim.DKIM, signature: DkimSignature, key: DkimKeyLookup, *, with_body: bool) -> tuple[bool, str]:
    """(verified, why dkimpy refused) with the key we fetched. Expiry was judged already, against
    the arrival time (dkimpy's own check would use today's). Without a body, bh= is left out of
    what dkimpy checks: the header hash still covers the bh= value as written."""
    field = _signature_field(verifier, signature.position)
    fields = _tags(field)
    if field is None or not fields:
        return False, "the signature field cannot be read"
    include_headers = [name.lower() for name in re.split(rb"\s*:\s*", fields.get(b"h", b""))]
    if not with_body:
        fields = {tag: value for tag, value in fields.items() if tag != b"bh"}
    record = (key.record or "").encode()
    try:
        return bool(verifier.verify_sig(fields, include_headers, field, lambda _name, timeout=5: record)), ""
    except dkim.ValidationError as failure:
        if "body hash mismatch" in str(failure):
            return False, ""
        return False, str(failure)
    except (dkim.DKIMException, KeyError) as failure:  # KeyError: a tag dkimpy needs is missing
        return False, str(failure)


def _signature_field(verifier: dkim.DKIM, position: int) -> tuple[bytes, bytes] | None:
    """The (name, value) of the DKIM-Signature at ``position``, counted from the top."""
    fields = [field for field in verifier.headers if field[0].lower() == b"dkim-signature"]
    return fields[position] if position < len(fields) else None


def _tags(field: tuple[bytes, bytes] | None) -> dict[bytes, bytes]:
    try:
        return parse_tag_value(field[1]) if field else {}
    except InvalidTagValueList:
        return {}


def _receiver_verdict(
    verifier: dkim.DKIM, signature: DkimSignature, verdicts: tuple[DkimVerdict, ...], message: Message
) -> DkimVerdict | None:
    """The receiver's result for this signature: matched by header.b when it gave one (RFC 6008),
    else by domain and selector, else by domain when that domain signed once."""
    written = re.sub(rb"\s+", b"", _tags(_signature_field(verifier, signature.position)).get(b"b", b""))
    for verdict in verdicts:
        if verdict.signature_prefix and written.decode("ascii", "replace").startswith(verdict.signature_prefix):
            return verdict
    same_domain = [verdict for verdict in verdicts if verdict.domain.lower() == signature.domain]
    by_selector = [verdict for verdict in same_domain if verdict.selector and verdict.selector.lower() == signature.selector]
    if by_selector:
        return by_selector[0]
    signed_by_domain = sum(1 for other in message.signatures if other.domain == signature.domain)
    return same_domain[0] if len(same_domain) == 1 and signed_by_domain == 1 and not same_domain[0].selector else None


def _fetch_keys(
    signatures: tuple[DkimSignature, ...], resolver: dns.asyncresolver.Resolver | None
) -> dict[tuple[str, str], DkimKeyLookup]:
    wanted = sorted({(signature.domain, signature.selector) for signature in signatures if not signature.problem})

    async def ask(lookups: Lookups) -> dict[tuple[str, str], DkimKeyLookup]:
        found = await asyncio.gather(*(dkim_key_async(domain, selector, lookups) for domain, selector in wanted))
        return dict(zip(wanted, found, strict=True))

    return run_lookups(ask, resolver) if wanted else {}


def check_arc(message: Message, *, lookup: bool, resolver: dns.asyncresolver.Resolver | None = None) -> ArcCheck | None:
    """The ARC chain, or None when the message carries no ARC set."""
    if not message.arc_sets:
        return None
    last, first = message.arc_sets[-1], message.arc_sets[0]
    if not lookup:
        claimed = f"the last sealer, {last.sealed_by}, says the chain before it was cv={last.chain_validation}"
        return ArcCheck("not_checked", last.sealed_by, f"Not verified without DNS; {claimed}.", first)
    validation, _sets, reason = dkim.ARC(message.data, minkey=MIN_RSA_BITS).verify(dnsfunc=_txt_lookup(resolver))
    status = {dkim.CV_Pass: "pass", dkim.CV_Fail: "fail", dkim.CV_None: "none"}.get(validation, "fail")
    if status == "pass":
        detail = f"The chain verifies: {counted(len(message.arc_sets), 'set')}, last sealed by {last.sealed_by}."
    else:
        detail = f"The chain does not verify: {reason}."
    return ArcCheck(status, last.sealed_by, detail, first)  # type: ignore[arg-type]


def _txt_lookup(resolver: dns.asyncresolver.Resolver | None) -> Callable[..., bytes | None]:
    """dkimpy's DNS hook, answered through the lookups' resolver (each name asked once)."""
    asked: dict[str, bytes | None] = {}

    def txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = (name.decode("ascii", "replace") if isinstance(name, bytes) else name).rstrip(".")
        if text not in asked:
            answer = run_lookups(lambda lookups: lookups.get(text), resolver)
            asked[text] = answer.answers[0].encode() if answer.status == "found" and answer.answers else None
        return asked[text]

    return txt


def _old(message: Message, now: float | None) -> bool:
    """Whether the message arrived more than a week before its keys were looked up."""
    return message.arrived_at is not None and (now if now is not None else time.time()) - message.arrived_at > 7 * 86400


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return f"{text[:1].upper()}{text[1:]}."


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
