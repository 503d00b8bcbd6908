"""Small hand-written aggregate reports for tests: one call per report, one dict per record."""

from __future__ import annotations

from xml.sax.saxutils import escape


def record(
    header_from: str = "example.com",
    dkim: list[tuple[str, str]] | None = None,
    spf: list[tuple[str, str]] | None = None,
    *,
    count: int = 1,
    source_ip: str = "192.0.2.1",
    disposition: str = "none",
    reported_dkim: str = "fail",
    reported_spf: str = "fail",
    reasons: list[str] | None = None,
    comments: list[str] | None = None,
) -> str:
    """``comments`` pair with ``reasons`` in order (a reason without a comment has none)."""
    notes = list(comments or [])
    reason_xml = "".join(
        f"<reason><type>{escape(r)}</type>{f'<comment>{escape(notes[i])}</comment>' if i < len(notes) else ''}</reason>"
        for i, r in enumerate(reasons or [])
    )
    dkim_xml = "".join(
        f"<dkim><domain>{escape(d)}</domain><selector>s1</selector><result>{escape(r)}</result></dkim>" for d, r in dkim or []
    )
    spf_xml = "".join(
        f"<spf><domain>{escape(d)}</domain><scope>mfrom</scope><result>{escape(r)}</result></spf>" for d, r in spf or []
    )
    return (
        f"<record><row><source_ip>{escape(source_ip)}</source_ip><count>{count}</count>"
        f"<policy_evaluated><disposition>{escape(disposition)}</disposition><dkim>{escape(reported_dkim)}</dkim><spf>{escape(reported_spf)}</spf>{reason_xml}"
        f"</policy_evaluated></row><identifiers><header_from>{escape(header_from)}</header_from></identifiers>"
        f"<auth_results>{dkim_xml}{spf_xml}</auth_results></record>"
    )


def report(
    *records: str,
    domain: str = "example.com",
    p: str = "none",
    adkim: str = "r",
    aspf: str = "r",
    pct: int | None = 100,
    begin: int = 1759276800,
    end: int = 1759363199,
    org_name: str = "receiver.example",
    report_id: str = "r1",
) -> bytes:
    pct_xml = f"<pct>{pct}</pct>" if pct is not None else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feedback><version>1.0</version>'
        f"<report_metadata><org_name>{escape(org_name)}</org_name><email>dmarc@receiver.example</email>"
        f"<report_id>{escape(report_id)}</report_id><date_range><begin>{begin}</begin><end>{end}</end></date_range></report_metadata>"
        f"<policy_published><domain>{escape(domain)}</domain><adkim>{escape(adkim)}</adkim><aspf>{escape(aspf)}</aspf><p>{escape(p)}</p><sp>{escape(p)}</sp>{pct_xml}"
        f"</policy_published>{''.join(records)}</feedback>\n"
    ).encode()


#: Text a report can carry that has broken the reader before, and hostile text besides.
SNIPPETS = [
    b"<!-- </record> -->", b"</record>", b"<record>", b"<![CDATA[</record>]]>", b"&#1;", b"&#2;", b"&#xD800;",
    b"&#0;", b"<x:feedback>", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"&a;", b"\x00", b"\xff\xfe", b"999999999999999999999",
    b"<count>-1</count>", b"<pct>\xc2\xb2</pct>", b"<begin>253402300799</begin>", b"<disposition/>", b"]]>", b"<?pi?>",
    b"<dkim><domain></domain><result></result></dkim>", b"<script>alert(1)</script>", b":material/home:",
]  # fmt: skip
