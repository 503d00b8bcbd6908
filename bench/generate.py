"""Write a realistic synthetic RFC 7489 aggregate report with N records.

The mix follows what big receivers send: most mail from the domain's own servers and Google
Workspace (aligned), ESPs signing with their own domain (Mailchimp, SendGrid, Amazon SES), a
few broken keys, forwarded mail with reasons and a mailing list that gives none, subdomains under
strict alignment, multiple DKIM signatures, unsigned spoofing, IPv4 and IPv6 sources. Seeded, so
every run writes the same bytes.

    python bench/generate.py 100000 out/report-100k.xml [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import random
from pathlib import Path

DOMAIN = "example.com"
# (weight, header_from, [(dkim domain, result)], (spf domain, result), policy_evaluated dkim, spf, reason)
SENDERS = [
    (39, "example.com", [("example.com", "pass")], ("example.com", "pass"), "pass", "pass", None),
    (
        12,
        "example.com",
        [("example.com", "pass"), ("example-com.20230101.gappssmtp.com", "pass")],
        ("example.com", "pass"),
        "pass",
        "pass",
        None,
    ),
    (9, "example.com", [("mcsv.net", "pass")], ("mail200.atl11.rsgsv.net", "pass"), "fail", "fail", None),
    (6, "example.com", [("sendgrid.net", "pass")], ("em1234.example.com", "pass"), "fail", "pass", None),
    (5, "example.com", [("amazonses.com", "pass")], ("eu-west-1.amazonses.com", "pass"), "fail", "fail", None),
    (5, "news.example.com", [("example.com", "pass")], ("bounce.hubspotemail.net", "pass"), "fail", "fail", None),
    (4, "example.com", [("example.com", "permerror")], ("bounce.salesforce.com", "pass"), "fail", "fail", None),
    (4, "example.com", [("example.com", "fail")], ("example.com", "pass"), "fail", "pass", None),
    (3, "example.com", [("example.com", "fail")], ("example.com", "fail"), "fail", "fail", "forwarded"),
    # A list that changed the body and passes SPF for its own domain, with no <reason>: only the
    # SPF rule (a pass for someone else's domain is not your server) makes this forwarded.
    (2, "example.com", [("example.com", "fail")], ("lists.example.edu", "pass"), "fail", "fail", None),
    (
        3,
        "example.com",
        [("example.com", "fail"), ("lists.example.org", "pass")],
        ("lists.example.org", "pass"),
        "fail",
        "fail",
        "mailing_list",
    ),
    (
        3,
        "example.com",
        [("mcsv.net", "pass"), ("example.com", "pass"), ("sendgrid.info", "pass")],
        ("example.com", "pass"),
        "fail",
        "pass",
        None,
    ),
    (3, "example.com", [], ("example.com", "fail"), "fail", "fail", None),
    (2, "shop.example.com", [("shop.example.com", "pass")], ("shop.example.com", "pass"), "pass", "pass", None),
    (2, "example.com", [("spoofer.example.net", "fail")], ("spoofer.example.net", "softfail"), "fail", "fail", None),
]
WEIGHTS = [sender[0] for sender in SENDERS]


def source_ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"2001:db8:{rng.randrange(0x10000):x}:{rng.randrange(0x10000):x}::{rng.randrange(1, 0xFFFF):x}"
    return f"{rng.choice((198, 203, 192, 209, 40))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def record(rng: random.Random) -> str:
    _, header_from, dkim, spf, reported_dkim, reported_spf, reason = rng.choices(SENDERS, WEIGHTS)[0]
    count = max(1, int(rng.paretovariate(1.3)))
    reason_xml = f"\n        <reason>\n          <type>{reason}</type>\n        </reason>" if reason else ""
    dkim_xml = "".join(
        f"""
      <dkim>
        <domain>{domain}</domain>
        <selector>s{rng.randrange(1, 4)}</selector>
        <result>{result}</result>
      </dkim>"""
        for domain, result in dkim
    )
    return f"""  <record>
    <row>
      <source_ip>{source_ip(rng)}</source_ip>
      <count>{count}</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>{reported_dkim}</dkim>
        <spf>{reported_spf}</spf>{reason_xml}
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_from>{spf[0]}</envelope_from>
      <header_from>{header_from}</header_from>
    </identifiers>
    <auth_results>{dkim_xml}
      <spf>
        <domain>{spf[0]}</domain>
        <scope>mfrom</scope>
        <result>{spf[1]}</result>
      </spf>
    </auth_results>
  </record>
"""


BEGIN, END = 1759276800, 1759363199


def report_header(report_id: str) -> str:
    """A report's XML up to its first record: Google's metadata, and p=none for DOMAIN."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <report_id>{report_id}</report_id>
    <date_range>
      <begin>{BEGIN}</begin>
      <end>{END}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>{DOMAIN}</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>none</p>
    <sp>none</sp>
    <pct>100</pct>
  </policy_published>
"""


def write(records: int, path: Path, compress: bool = False, seed: int = 7489) -> Path:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8") as out:
        out.write(report_header(f"synthetic-{records}"))
        for _ in range(records):
            out.write(record(rng))
        out.write("</feedback>\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--gzip", action="store_true", help="write .xml.gz")
    args = parser.parse_args()
    print(write(args.records, args.path, args.gzip))


if __name__ == "__main__":
    main()
