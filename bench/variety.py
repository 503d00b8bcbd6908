"""Write a synthetic RFC 7489 aggregate report whose records vary as real ones do.

``bench/generate.py`` draws 15 sender shapes, so its 100,000 records collapse to 14 triage keys.
Real reports do not repeat like that: sending platforms and spoofers bring a new return-path domain
with almost every record, ESP accounts and forwarders add their own signatures and selectors, and
the optional fields come and go. This generator draws its records to the distributions measured
on the public sample reports (``TARGETS``; ``measure_samples`` measures them again, and
``tests/test_bench_variety.py`` holds both to each other), seeded, so the same arguments write
the same bytes.

    python bench/variety.py 100000 out/variety-100k.xml.gz     # .xml, .xml.gz, .zip or .eml
    python bench/variety.py --measure-samples                   # the samples' numbers beside TARGETS
"""

from __future__ import annotations

import argparse
import base64
import email
import gzip
import hashlib
import io
import ipaddress
import itertools
import random
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from generate import BEGIN, END, report_header

# TARGETS were measured from the samples by ``measure_samples()`` (``--measure-samples``): lxml
# (recover mode) on the 384 files of shared/samples/aggregate/ (SOURCES.md there: parsedmarc,
# mail-auth, DmarcRua and 20 other public repositories), every container opened (.xml, .gz, .zip,
# .zlib, .eml attachments), each report counted once by its records' text: 343 reports, 5,015
# records. Shares are of records, except results (of <dkim> or <spf> entries) and IPv6 (of records
# with a source address that is not the loopback the anonymised samples put there). A report
# weighs as many records as it holds but at most REPORT_WEIGHT_CAP, so the 2,286-record anonymised
# parsedmarc sample (no DKIM, SPF domain blanked) does not stand for half the corpus.
#
# ``per_1k`` counts distinct values per 1,000 records in windows of 1,000 consecutive records (a
# smaller report is one window), pooled over the windows of at least VARIETY_MIN_RECORDS records
# that name any auth domain: 13 sample reports, 2,159 records. Those 13 disagree (from 14 to 979
# keys per 1,000): resampling them gives 90% intervals of 173-716 keys, 26-138 selectors, 113-678
# SPF domains and 17-83 DKIM domains, so the per_1k targets are looser than the shares.
REPORT_WEIGHT_CAP = 100
VARIETY_MIN_RECORDS = 40
#: How far (see ``misfits``) TARGETS may be from the samples (they are its rounded numbers), and a
#: generated report of a few thousand records from TARGETS.
SAMPLE_TOLERANCE = {"absolute": 0.001, "relative": 0.0, "per_1k": 0.01}
GENERATED_TOLERANCE = {"absolute": 0.01, "relative": 0.15, "per_1k": 0.25}
TARGETS: dict[str, dict[str, float]] = {
    # <dkim> entries per record ("3": 3 or more; the samples have up to 4).
    "signatures": {"0": 0.123, "1": 0.605, "2": 0.219, "3": 0.053},
    # <spf> entries per record.
    "spf_checks": {"0": 0.003, "1": 0.994, "2": 0.003},
    # Records with the element: a <reason>; the identifiers' optional <envelope_to> and
    # <envelope_from>; a <human_result> in any auth result; a <scope> in any <spf>.
    "optional": {"reason": 0.053, "envelope_to": 0.105, "envelope_from": 0.217, "human_result": 0.025, "scope": 0.224},
    # Reason types, as shares of records (0.002 more give an empty <type>).
    "reasons": {
        "local_policy": 0.037,
        "mailing_list": 0.004,
        "forwarded": 0.003,
        "trusted_forwarder": 0.003,
        "sampled_out": 0.002,
        "other": 0.002,
    },
    # Of records with a usable source address; Google's 185-record sample is 40% IPv6.
    "source_ip": {"ipv6": 0.209},
    # header_from against the policy domain: a subdomain of it, or another domain.
    "header_from": {"subdomain": 0.024, "other": 0.006},
    # RFC 7489 values (non-standard ones, "", "unknown", "invalid", "Pass", make up the rest; no
    # sample reports "policy").
    "dkim_results": {"pass": 0.92, "fail": 0.061, "permerror": 0.005, "none": 0.004, "temperror": 0.002, "neutral": 0.001},
    "spf_results": {
        "pass": 0.774,
        "none": 0.092,
        "softfail": 0.074,
        "fail": 0.035,
        "permerror": 0.015,
        "temperror": 0.004,
        "neutral": 0.003,
    },
    "dispositions": {"none": 0.978, "reject": 0.011, "quarantine": 0.009},
    # Messages per record (<count>).
    "counts": {"1": 0.764, "2": 0.073, "3-10": 0.099, "11-100": 0.033, ">100": 0.031},
    # Distinct per 1,000 records: triage keys (header_from, every DKIM domain/selector/result,
    # every SPF domain/scope/result, the receiver's dkim and spf verdicts and the reasons: the
    # columns dmarc_core.analysis.triage judges once per combination, the policy being one per
    # report), DKIM selectors, SPF domains, DKIM domains.
    "per_1k": {"keys": 317, "selectors": 74, "spf_domains": 245, "dkim_domains": 33},
}


# --- Generating --------------------------------------------------------------------------------

SEED = 7489
DOMAIN = "example.com"
SUBDOMAINS = ("news", "mail", "shop", "info", "em", "support", "billing")
OTHER_FROM = ("example.net", "example.org")
#: The domain's own DKIM selectors, and how much each signs.
OWN_SELECTORS = ("google", "selector1", "selector2", "s1", "20230601")
_OWN_WEIGHTS = list(itertools.accumulate((60, 18, 12, 7, 3)))
#: Words for the domain names drawn: a space-separated text, split once.
_WORD_TEXT = (
    "alpha apex atlas beacon blue bold bright cedar cloud core crest delta echo ember flux forge "
    "giga grow harbor hub iron jet kite lead lumen metro mint nest north nova orbit peak pixel "
    "prime pulse quant rapid ridge river sage send smart solar spark stack swift terra tide ultra "
    "vertex vivid wave yield zen zest data mail market reach boost scale shift"
)
_WORDS = _WORD_TEXT.split()
_PREFIXES = ("", "", "", "get", "try", "go", "my", "the", "use", "meet")
_TLDS = ("com",) * 8 + ("net", "org", "io", "co", "biz", "info", "services", "digital", "solutions", "online", "tech", "de", "nl")
#: ESPs: (weight, DKIM domain, its selector, the selectors they sign the customer's domain with,
#: return-path patterns). {n} is the account's number, {D} the From: domain, {key} a random
#: 32-character key name (Amazon SES's per-identity selectors).
_ESPS = (
    (9, "mcsv.net", "k2", ("k1", "k2", "k3"), ("mail{n}.atl{m}.rsgsv.net", "mail{n}.sea{m}.mcsv.net")),
    (8, "sendgrid.info", "smtpapi", ("s1", "s2", "em{n}"), ("em{n}.{D}", "bounces.em{n}.sendgrid.net")),
    (7, "amazonses.com", "{key}", ("{key}",), ("{region}.amazonses.com", "bounce-{n}.{D}")),
    (4, "hubspotemail.net", "hs1", ("hs1-{n}", "hs2-{n}"), ("{n}.hubspotemail.net",)),
    (3, "mktomail.com", "m1", ("m1", "mkto{n}"), ("{n}-mkto.mktomail.com",)),
    (3, "mailgun.org", "mx", ("mg", "krs", "pic", "mta{n}"), ("mg.{D}", "mg{n}.mailgun.org")),
    (3, "salesforce.com", "sf1", ("200608", "sf{n}"), ("bnc{n}.salesforce.com", "bounce.{D}")),
    (2, "zendesk.com", "zendesk1", ("zendesk1", "zendesk2"), ("zendesk.com",)),
    (2, "mandrillapp.com", "mandrill", ("mte1", "mandrill"), ("mail{n}.mandrillapp.com",)),
    (2, "sparkpostmail.com", "scph0423", ("scph0423", "scph1122", "sp{n}"), ("spmail{n}.sparkpostmail.com",)),
)
_SES_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1")

# How the records are drawn. The numbers below are not measured: they were tuned until the
# generated report matched TARGETS (the test checks it), each sender kind as it shows in the samples.

#: The mix of senders: (share of records in percent, the _Draw method that draws one).
SOURCES = ((32, "own"), (22, "esp"), (14, "sending_domains"), (14, "forwarded"), (14, "spoofed"), (4, "broken"))
#: How often a sending platform or a spoofer uses a return-path domain never seen before (else one
#: of a pool, the first ones most): what makes a big report's SPF domains, and its triage keys, many.
FRESH_SENDING_DOMAINS = 0.9
FRESH_SPOOFING_DOMAINS = 0.9
#: How often such a sending platform's mail is signed with a selector of its own (else the usual
#: one), and how often a spoofer signs with its own domain.
SENDING_OWN_SELECTOR = 0.32
SPOOFERS_SIGNING = 0.1
#: The receiver's reasons for forwarded mail, by forwarder in turn ("": none given).
FORWARDING_REASONS = (
    ("",) * 4
    + ("local_policy", "", "", "mailing_list")
    + ("",) * 4
    + ("trusted_forwarder", "", "", "local_policy", "", "forwarded", "", "")
)
#: Pool sizes: ESP accounts, forwarders (Microsoft 365 tenants, universities, mailing lists),
#: recipient domains for <envelope_to>, sending platforms' and spoofers' return-path domains seen
#: more than once. Drawn Zipf-like, the first ones most.
POOLS = {"accounts": 15, "tenants": 20, "receivers": 300, "sending": 10, "spoofing": 10}


class _Draw:
    """The populations of one seed, and one record's senders' results drawn from them at a time:
    each method returns (header_from, [(DKIM domain, selector, result)], [(SPF domain, result)], reasons)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        esp_weights = list(itertools.accumulate(esp[0] for esp in _ESPS))
        self.accounts = [
            self.esp_account(number, rng.choices(_ESPS, cum_weights=esp_weights)[0]) for number in range(POOLS["accounts"])
        ]
        self.tenants = [self.forwarder(number) for number in range(POOLS["tenants"])]
        self.receivers = [self.fresh_domain() for _ in range(POOLS["receivers"])]
        self.sending = [
            (self.fresh_domain(), ("pass", "pass", "pass", "none", "pass", "softfail")[n % 6]) for n in range(POOLS["sending"])
        ]
        self.spoofing = [self.fresh_domain() for _ in range(POOLS["spoofing"])]

    def fresh_domain(self) -> str:
        """A domain name, most likely never drawn before."""
        rng = self.rng
        name = rng.choice(_PREFIXES) + rng.choice(_WORDS) + rng.choice(("", "", "-")) + rng.choice(_WORDS)
        if rng.random() < 0.3:
            name += str(rng.randrange(1, 1000))
        return f"{name}.{rng.choice(_TLDS)}"

    def fresh_selector(self) -> str:
        """A DKIM selector, most likely never drawn before."""
        rng = self.rng
        style = rng.randrange(4)
        if style == 0:
            return f"{rng.choice(_WORDS)}{rng.randrange(1000)}"
        if style == 1:
            return f"s{rng.randrange(2015, 2026)}{rng.randrange(1, 13):02}{rng.randrange(1, 29):02}-{rng.randrange(100)}"
        if style == 2:
            return f"k{rng.randrange(10**6)}"
        return f"sel-{rng.getrandbits(32):08x}"

    def rank(self, size: int) -> int:
        """A position in a pool of ``size``: log-uniform, so position k comes about 1/k as often
        as the first (Zipf's law)."""
        return min(int((size + 1) ** self.rng.random()) - 1, size - 1)

    def pick(self, pool) -> str:
        return pool[self.rank(len(pool))]

    def own_selector(self) -> str:
        return self.rng.choices(OWN_SELECTORS, cum_weights=_OWN_WEIGHTS)[0]

    def header_from(self) -> str:
        roll = self.rng.random()
        if roll < TARGETS["header_from"]["subdomain"]:
            return f"{self.rng.choice(SUBDOMAINS)}.{DOMAIN}"
        if roll < TARGETS["header_from"]["subdomain"] + TARGETS["header_from"]["other"]:
            return self.rng.choice(OTHER_FROM)
        return DOMAIN

    def own(self):
        """The domain's own servers and Google Workspace."""
        rng, header_from = self.rng, self.header_from()
        roll = rng.random()
        workspace = (f"{DOMAIN.replace('.', '-')}.20230601.gappssmtp.com", "20230601", "pass")
        if roll < 0.12:  # Google Workspace relaying what another platform signed
            dkim = [(header_from, "google", "pass"), workspace, (header_from, "s1", "pass")]
        elif roll < 0.31:  # Google Workspace, which also signs with its own domain
            dkim = [(header_from, "google", "pass"), workspace]
        elif roll < 0.36:  # Microsoft 365 in a key rotation: signed with the old and the new selector
            dkim = [(header_from, "selector1", "pass"), (header_from, "selector2", "pass")]
        else:
            dkim = [(header_from, self.own_selector(), "pass")]
        return header_from, dkim, [(header_from, "pass")], ()

    def esp_account(self, number: int, esp) -> tuple:
        """One account at an ESP, as it stays: its signatures (the ESP's, the From: domain's, or
        both: None stands for the From: domain) and its return-path domain ({D}: the From: domain)."""
        rng = self.rng
        _, domain, selector, own_selectors, patterns = esp
        key = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(32))
        selector = selector.format(key=key)
        own_selector = rng.choice(own_selectors).format(n=number, key=key)
        # Signed by the customer's domain and the ESP's, by the ESP's only, or the customer's only;
        # a cycle, so that the busiest accounts are not all alike.
        shape = "BEBEB3EBOE"[number % 10]
        dkim = {
            "B": ((None, own_selector), (domain, selector)),
            "E": ((domain, selector),),
            "O": ((None, own_selector),),
            "3": ((None, own_selector), (domain, selector), (None, "cf2024-1")),
        }[shape]
        region = rng.choice(_SES_REGIONS)
        return dkim, rng.choice(patterns).format(n=number, m=number % 17, D="{D}", region=region)

    def esp(self):
        """E-mail service providers' accounts (the first ones sending most)."""
        header_from = self.header_from()
        signatures, mail_from = self.pick(self.accounts)
        dkim = [(domain or header_from, selector, "pass") for domain, selector in signatures]
        return header_from, dkim, [(mail_from.format(D=header_from), "pass")], ()

    def sending_result(self) -> str:
        return self.rng.choices(("pass", "softfail", "none", "neutral"), (80, 6, 13, 1))[0]

    def sending_domains(self):
        """Mail signed by the domain but sent with a return-path domain of its own each time (cold
        e-mail platforms, per-campaign bounce domains): one sample's 87 records held 82 SPF domains."""
        rng, header_from = self.rng, self.header_from()
        selector = "dkimkey"
        if rng.random() < FRESH_SENDING_DOMAINS:
            mail_from, result = self.fresh_domain(), self.sending_result()
            if rng.random() < SENDING_OWN_SELECTOR:
                selector = self.fresh_selector()
        else:
            mail_from, result = self.pick(self.sending)
        return header_from, [(header_from, selector, "pass")], [(mail_from, result)], ()

    def forwarder(self, number: int) -> tuple:
        """One forwarder (a Microsoft 365 tenant, a university, a mailing list), as it stays: its
        own signatures, whether it breaks the original one, the selector of the mail it mostly
        forwards, its return-path domain and the SPF result that domain gets."""
        rng = self.rng
        name = f"{self.fresh_domain().split('.')[0]}{number}"
        signatures = []
        if number % 6 == 1:
            signatures.append((f"{name}.onmicrosoft.com", f"selector{rng.randrange(1, 3)}-{name}-onmicrosoft-com"))
        if number % 10 == 3:
            signatures.append((f"lists.{name}.org", "list"))
        breaks_signature = number % 5 == 2
        spf_result = ("pass", "pass", "softfail", "pass", "pass", "none", "pass", "pass", "fail", "pass")[number % 10]
        mail_from = f"{name}.{rng.choice(('edu', 'org', 'com', 'de'))}"
        # Whether the receiver says why it let the forwarded mail through: a list of forwarders it
        # trusts, or ARC, decides, so it goes with the forwarder. A cycle, so the busiest forwarders
        # are not all alike.
        reason = FORWARDING_REASONS[number % len(FORWARDING_REASONS)]
        return tuple(signatures), breaks_signature, self.own_selector(), mail_from, spf_result, reason

    def forwarded(self):
        """Forwarders and lists: the original signature, survived or not, maybe the forwarder's own,
        SPF for the forwarder's domain; receivers sometimes say why they overrode the policy."""
        rng, header_from = self.rng, self.header_from()
        signatures, breaks_signature, selector, mail_from, spf_result, reason = self.pick(self.tenants)
        survived = (rng.random() < 0.95) != breaks_signature
        dkim = [(header_from, selector, "pass" if survived else "fail")]
        dkim += [(domain, own, "pass") for domain, own in signatures]
        return header_from, dkim, [(mail_from, spf_result)], (reason,) if reason else ()

    def spoofed(self):
        """Mail that is not the domain's: SPF for another domain (new each time, mostly), some of
        it signed by that domain, or SPF failing for this one and unsigned."""
        rng, header_from = self.rng, self.header_from()
        if rng.random() < 0.35:  # this domain's SPF failing, unsigned or with a copied signature that fails
            dkim = [(header_from, "google", "fail")] if rng.random() < 0.3 else []
            return header_from, dkim, [(header_from, rng.choices(("none", "softfail", "fail"), (50, 35, 15))[0])], ()
        fresh = rng.random() < FRESH_SPOOFING_DOMAINS
        mail_from = self.fresh_domain() if fresh else self.pick(self.spoofing)
        dkim = []
        if rng.random() < SPOOFERS_SIGNING:
            selector = self.fresh_selector() if fresh else "default"
            dkim.append((mail_from, selector, rng.choice(("pass", "fail"))))
        result = rng.choices(("pass", "none", "softfail", "fail", "neutral", "permerror"), (20, 42, 23, 10, 2, 3))[0]
        return header_from, dkim, [(mail_from, result)], ()

    def broken(self):
        """The domain's own mail with a broken key or record."""
        rng, header_from = self.rng, self.header_from()
        # An old key that no longer verifies, or a key record that broke; SPF mostly fine.
        selector, result = rng.choices(
            (("k1", "fail"), ("dkim", "permerror"), ("k1", "none"), ("dkim", "temperror"), ("k1", "neutral")), (70, 12, 9, 6, 3)
        )[0]
        spf_result = rng.choices(("pass", "permerror", "temperror"), (75, 15, 10))[0]
        return header_from, [(header_from, selector, result)], [(header_from, spf_result)], ()


_SOURCE_WEIGHTS = list(itertools.accumulate(weight for weight, _ in SOURCES))


def _organization(domain: str) -> str:
    """Every generated domain sits under a one-label public suffix, so its last two labels."""
    return ".".join(domain.rsplit(".", 2)[-2:])


def _source_ip(rng: random.Random, source: str) -> str:
    if rng.random() < TARGETS["source_ip"]["ipv6"]:
        prefix = {"own": "2001:db8:10", "forwarded": "2a01:111:f403", "esp": "2600:1f14"}.get(source, "2607:f8b0:4864")
        return f"{prefix}:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"
    first = {"own": (198,), "forwarded": (40, 52), "esp": (54, 167, 198, 149)}.get(source, (5, 31, 45, 91, 103, 185, 193))
    return f"{rng.choice(first)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _count(rng: random.Random) -> int:
    shares = TARGETS["counts"]
    roll = rng.random()
    if roll < shares["1"]:
        return 1
    if roll < shares["1"] + shares["2"]:
        return 2
    if roll < shares["1"] + shares["2"] + shares["3-10"]:
        return rng.randrange(3, 11)
    if roll < 1 - shares[">100"]:
        return rng.randrange(11, 101)
    return min(100 + int(rng.paretovariate(1.1) * 10), 10**6)


def _record(draw: _Draw) -> str:
    """One <record>: a sender drawn, the receiver's verdicts by relaxed alignment, the optional fields."""
    rng = draw.rng
    source = rng.choices(SOURCES, cum_weights=_SOURCE_WEIGHTS)[0][1]
    header_from, dkim, spf, reasons = getattr(draw, source)()
    if rng.random() < TARGETS["spf_checks"]["0"]:
        spf = []
    elif rng.random() < TARGETS["spf_checks"]["2"]:  # a HELO check beside the MAIL FROM one
        spf = [*spf, (f"mx{rng.randrange(1, 9)}.{draw.fresh_domain()}", "pass")]
    organization = _organization(header_from)
    dkim_verdict = "pass" if any(r == "pass" and _organization(d) == organization for d, _, r in dkim) else "fail"
    spf_verdict = "pass" if any(r == "pass" and _organization(d) == organization for d, r in spf) else "fail"
    disposition = "none"
    if dkim_verdict == spf_verdict == "fail" and source == "spoofed" and rng.random() < 0.15:
        disposition, reasons = rng.choice(("reject", "quarantine")), ("local_policy",)
    elif not reasons:
        roll = rng.random()
        if roll < 0.002:
            reasons = ("sampled_out",)
        elif roll < 0.004:
            reasons = ("other",)
    # The optional fields come together, as each receiver writes them or not: Microsoft gives
    # envelope_to, envelope_from and scope; others envelope_from and scope, or scope alone. One
    # receiver's report has them in every record or in none; mixed per record as here, they make
    # about 50 triage keys per 1,000 records more (a <scope> or not tells two keys apart).
    optional = TARGETS["optional"]
    style = rng.random()
    envelope_to = style < optional["envelope_to"]
    envelope_from = style < optional["envelope_from"]
    scope = style < optional["scope"]
    human = bool(dkim) and rng.random() < optional["human_result"] / (1 - TARGETS["signatures"]["0"])

    reason_xml = "".join(f"\n        <reason>\n          <type>{escape(reason)}</type>\n        </reason>" for reason in reasons)
    identifiers = ""
    if envelope_to:
        identifiers += f"\n      <envelope_to>{draw.pick(draw.receivers)}</envelope_to>"
    if envelope_from:
        identifiers += f"\n      <envelope_from>{spf[0][0] if spf else ''}</envelope_from>"
    auth = ""
    for index, (domain, selector, result) in enumerate(dkim):
        note = (
            f"\n        <human_result>{'' if result == 'pass' else 'body hash did not verify'}</human_result>"
            if human and index == 0
            else ""
        )
        auth += f"""
      <dkim>
        <domain>{domain}</domain>
        <selector>{selector}</selector>
        <result>{result}</result>{note}
      </dkim>"""
    for index, (domain, result) in enumerate(spf):
        scope_xml = f"\n        <scope>{'helo' if index else 'mfrom'}</scope>" if scope else ""
        auth += f"""
      <spf>
        <domain>{domain}</domain>{scope_xml}
        <result>{result}</result>
      </spf>"""
    return f"""  <record>
    <row>
      <source_ip>{_source_ip(rng, source)}</source_ip>
      <count>{_count(rng)}</count>
      <policy_evaluated>
        <disposition>{disposition}</disposition>
        <dkim>{dkim_verdict}</dkim>
        <spf>{spf_verdict}</spf>{reason_xml}
      </policy_evaluated>
    </row>
    <identifiers>{identifiers}
      <header_from>{header_from}</header_from>
    </identifiers>
    <auth_results>{auth}
    </auth_results>
  </record>
"""


CONTAINERS = ("xml", "xml.gz", "zip", "eml")


def report_xml(records: int, seed: int = SEED) -> bytes:
    """The report: ``records`` records drawn with ``seed``."""
    draw = _Draw(random.Random(seed))
    head = report_header(f"variety-{seed}-{records}")
    return "".join([head, *(_record(draw) for _ in range(records)), "</feedback>\n"]).encode()


def _report_email(attachment: bytes, filename: str) -> bytes:
    """A report e-mail as receivers send it: multipart/mixed, a line of text, the report gzipped
    as a base64 application/gzip attachment. Fixed headers and boundary, so the bytes repeat."""
    boundary = "variety-report-boundary"
    encoded = base64.encodebytes(attachment).decode("ascii").replace("\n", "\r\n")
    lines = [
        "From: noreply-dmarc-support@google.com",
        f"To: dmarc-reports@{DOMAIN}",
        f"Subject: Report domain: {DOMAIN} Submitter: google.com Report-ID: <{filename}>",
        "Date: Wed, 01 Oct 2025 23:59:59 +0000",
        f"Message-ID: <{hashlib.sha256(attachment).hexdigest()[:24]}@google.com>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="UTF-8"',
        "Content-Transfer-Encoding: 7bit",
        "",
        f"This is an aggregate report from google.com for {DOMAIN}.",
        "",
        f"--{boundary}",
        f'Content-Type: application/gzip; name="{filename}"',
        f'Content-Disposition: attachment; filename="{filename}"',
        "Content-Transfer-Encoding: base64",
        "",
        encoded.rstrip("\r\n"),
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def write_variety(records: int, path: Path, container: str = "xml", seed: int = SEED) -> Path:
    """Write the report of ``records`` records to ``path`` as ``container``: "xml", "xml.gz",
    "zip" (one member) or "eml" (a report e-mail with the report gzipped)."""
    if container not in CONTAINERS:
        raise ValueError(f"container must be one of {', '.join(CONTAINERS)}, not {container!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml = report_xml(records, seed)
    name = f"google.com!{DOMAIN}!{BEGIN}!{END}.xml"
    if container == "xml":
        data = xml
    elif container == "xml.gz":
        data = gzip.compress(xml, compresslevel=6, mtime=0)
    elif container == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            member = zipfile.ZipInfo(name, date_time=(2025, 10, 1, 0, 0, 0))
            archive.writestr(member, xml, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
        data = buffer.getvalue()
    else:
        data = _report_email(gzip.compress(xml, compresslevel=6, mtime=0), name + ".gz")
    path.write_bytes(data)
    return path


# --- Measuring: the same numbers from the samples and from a generated report -----------------


def _local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(element, name: str):
    if element is not None:
        for child in element:
            if _local(child.tag) == name:
                return child
    return None


def _children(element, name: str) -> list:
    return [] if element is None else [child for child in element if _local(child.tag) == name]


def _text(element) -> str:
    return (element.text or "").strip() if element is not None else ""


def _inflate(data: bytes, wbits: int) -> bytes:
    """gzip (wbits 31, bytes after the stream ignored) or zlib (15); nothing if it is neither."""
    try:
        return zlib.decompressobj(wbits=wbits).decompress(data)
    except zlib.error:
        return b""


def payloads(data: bytes) -> Iterator[bytes]:
    """The XML documents in one file: plain, gzip (also twice, or with trailing bytes), zip (every
    member), zlib, or an e-mail (every attachment)."""
    if data[:2] == b"\x1f\x8b":
        yield from payloads(_inflate(data, 31))
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if not name.endswith("/"):
                    yield from payloads(archive.read(name))
    elif data[:1] == b"\x78" and data[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        yield from payloads(_inflate(data, 15))
    elif data.lstrip()[:1] == b"<" or data[:3] == b"\xef\xbb\xbf":
        yield data
    elif data:
        for part in email.message_from_bytes(data).walk():
            if part.is_multipart() or (part.get_content_maintype() == "text" and not part.get_filename()):
                continue
            body = part.get_payload(decode=True)
            if body:
                yield from payloads(body)


_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False)


def reports_in(paths: Iterable[Path]) -> list[tuple[str, list]]:
    """(policy domain, <record> elements) of every aggregate report in the files, each report once
    (the samples hold some reports in several containers, or twice under another org_name)."""
    found, seen = [], set()
    for path in paths:
        for document in payloads(Path(path).read_bytes()):
            root = etree.fromstring(document, _PARSER)
            if root is None or _local(root.tag) != "feedback":
                continue
            records = _children(root, "record")
            # By content, not bytes: the same report also comes with other line ends or indentation.
            text = "\x00".join(part.strip() for record in records for part in record.itertext())
            digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
            if records and digest not in seen:
                seen.add(digest)
                found.append((_text(_child(_child(root, "policy_published"), "domain")).lower(), records))
    return found


def _count_bin(text: str) -> str:
    count = int(text) if text.isdigit() else 1
    return "1" if count <= 1 else "2" if count == 2 else "3-10" if count <= 10 else "11-100" if count <= 100 else ">100"


def distributions(reports: list[tuple[str, list]]) -> dict[str, dict[str, float]]:
    """The TARGETS' numbers for these reports (see the comment above TARGETS)."""
    tally = {name: Counter() for name in TARGETS}
    records_weight = ip_weight = 0.0
    windows = Counter()
    for policy_domain, records in reports:
        weight = min(1.0, REPORT_WEIGHT_CAP / len(records))
        for start in range(0, len(records), 1000):
            window = records[start : start + 1000]
            distinct = {name: set() for name in TARGETS["per_1k"]}
            for record in window:
                row, auth = _child(record, "row"), _child(record, "auth_results")
                identifiers = _child(record, "identifiers")
                if identifiers is None:
                    identifiers = _child(record, "identities")
                evaluated = _child(row, "policy_evaluated")
                dkim, spf, reasons = _children(auth, "dkim"), _children(auth, "spf"), _children(evaluated, "reason")
                header_from = _text(_child(identifiers, "header_from"))

                records_weight += weight
                tally["signatures"][str(min(len(dkim), 3))] += weight
                tally["spf_checks"][str(min(len(spf), 2))] += weight
                optional = tally["optional"]
                optional["reason"] += weight * bool(reasons)
                optional["envelope_to"] += weight * (_child(identifiers, "envelope_to") is not None)
                optional["envelope_from"] += weight * (_child(identifiers, "envelope_from") is not None)
                optional["human_result"] += weight * any(_child(entry, "human_result") is not None for entry in dkim + spf)
                optional["scope"] += weight * any(_child(entry, "scope") is not None for entry in spf)
                for reason in reasons:
                    tally["reasons"][_text(_child(reason, "type"))] += weight
                try:
                    address = ipaddress.ip_address(_text(_child(row, "source_ip")))
                except ValueError:
                    address = None
                if address is not None and not address.is_loopback:
                    ip_weight += weight
                    tally["source_ip"]["ipv6"] += weight * (address.version == 6)
                lowered = header_from.lower()
                if lowered != policy_domain:
                    tally["header_from"]["subdomain" if lowered.endswith("." + policy_domain) else "other"] += weight
                for entry in dkim:
                    tally["dkim_results"][_text(_child(entry, "result"))] += weight
                for entry in spf:
                    tally["spf_results"][_text(_child(entry, "result"))] += weight
                tally["dispositions"][_text(_child(evaluated, "disposition"))] += weight
                tally["counts"][_count_bin(_text(_child(row, "count")))] += weight

                dkim_results = tuple(tuple(_text(_child(entry, f)) for f in ("domain", "selector", "result")) for entry in dkim)
                spf_results = tuple(tuple(_text(_child(entry, f)) for f in ("domain", "scope", "result")) for entry in spf)
                verdicts = (_text(_child(evaluated, "dkim")), _text(_child(evaluated, "spf")))
                reason_types = tuple(_text(_child(reason, "type")) for reason in reasons)
                distinct["keys"].add((header_from, dkim_results, spf_results, verdicts, reason_types))
                distinct["selectors"].update(selector for _, selector, _ in dkim_results if selector)
                distinct["spf_domains"].update(domain for domain, _, _ in spf_results if domain)
                distinct["dkim_domains"].update(domain for domain, _, _ in dkim_results if domain)
            blanked = not (distinct["spf_domains"] or distinct["dkim_domains"])
            if len(window) >= VARIETY_MIN_RECORDS and not blanked:
                windows["records"] += len(window)
                for name, values in distinct.items():
                    windows[name] += len(values)

    measured = {}
    for name, counter in tally.items():
        if name == "per_1k":
            measured[name] = {key: round(1000 * windows[key] / max(windows["records"], 1)) for key in TARGETS[name]}
            continue
        total = sum(counter.values()) if name.endswith("_results") else ip_weight if name == "source_ip" else records_weight
        measured[name] = {key: round(value / max(total, 1e-9), 3) for key, value in counter.most_common()}
    return measured


def measure_file(path: Path) -> dict[str, dict[str, float]]:
    return distributions(reports_in([path]))


#: The workspace's sample reports, beside the clone (tests/conftest.py finds them the same way).
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "aggregate"


def replicated_samples(count: int, folder: Path, samples: Path = SAMPLES) -> list[Path]:
    """``count`` real reports in ``folder`` (made once): the samples in name order, repeated when
    there are fewer (a file seen twice is a duplicate report, as in a mailbox that received it twice)."""
    if not folder.exists():
        originals = sorted(path for path in samples.iterdir() if path.is_file())
        folder.mkdir(parents=True)
        for number in range(count):
            source = originals[number % len(originals)]
            (folder / f"{number:05d}-{source.name}").write_bytes(source.read_bytes())
    return sorted(folder.iterdir())


def measure_samples(folder: Path = SAMPLES) -> dict[str, dict[str, float]]:
    """TARGETS measured again from the sample reports in ``folder`` (shared/samples/aggregate)."""
    return distributions(reports_in(sorted(path for path in Path(folder).iterdir() if path.is_file() and path.suffix != ".md")))


def misfits(measured: dict, absolute: float, relative: float, per_1k: float, targets: dict = TARGETS) -> list[str]:
    """Every number of ``measured`` off its target by more than ``absolute + relative * t`` for a
    share (t being the smaller of the target and 1 - target, so 0.9 is held as tightly as 0.1),
    or by more than ``per_1k`` of a per_1k target."""
    found = []
    for group, values in targets.items():
        for key, target in values.items():
            value = measured.get(group, {}).get(key, 0)
            allowed = per_1k * target if group == "per_1k" else absolute + relative * min(target, 1 - target)
            if abs(value - target) > allowed:
                found.append(f"{group}[{key}]: {value}, target {target} ± {allowed:.3g}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=int, nargs="?")
    parser.add_argument("path", type=Path, nargs="?")
    parser.add_argument("--container", choices=CONTAINERS, help="default: from the path's ending")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--measure-samples", type=Path, nargs="?", const=SAMPLES, metavar="FOLDER", help=f"default: {SAMPLES}")
    args = parser.parse_args()
    if args.measure_samples:
        measured = measure_samples(args.measure_samples)
        for group, values in TARGETS.items():
            print(group, {key: (measured[group].get(key, 0), target) for key, target in values.items()})
        print("\n".join(misfits(measured, **SAMPLE_TOLERANCE)) or "TARGETS agree with the samples")
        return
    if args.records is None or args.path is None:
        parser.error("give RECORDS and PATH, or --measure-samples")
    container = args.container or next((c for c in ("xml.gz", "zip", "eml") if args.path.name.endswith("." + c)), "xml")
    print(write_variety(args.records, args.path, container, args.seed))


if __name__ == "__main__":
    main()
