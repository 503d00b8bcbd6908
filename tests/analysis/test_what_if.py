"""The what-if: a proposed policy tried on triaged reports, by the rules of RFC 9989 (alignment 4.4,
the policy that applies 4.10.1, the tags 4.7) and RFC 7489's pct (6.6.4), checked on hand-written
reports, the real samples, and against a plain loop over every record of a varied report."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dmarc_core import parse_dmarc_record, parse_reports, read_file, triage
from dmarc_core.analysis.what_if import (
    NEXT_LOWER,
    OUTCOMES,
    Evidence,
    Proposal,
    proposal_from_params,
    published_proposal,
    what_if,
)
from dmarc_core.rules.alignment import safe_domain
from dmarc_core.rules.dmarc_record import POLICIES
from dmarc_core.rules.evaluation import judge_record

from reportkit import record, report
from variety import report_xml


def triaged(*records: str, **policy):
    return triage(parse_reports(report(*records, **policy)))


def totals(frame, **proposal):
    return what_if(frame, Proposal(**proposal)).totals


# A signature by the organizational domain on mail From: a subdomain, which the receiver (under the
# published adkim=r) counted as aligned: RFC 9989 4.4, Table 1, "relaxed; the two have the same
# Organizational Domain".
PARENT_SIGNED = record("news.example.com", dkim=[("example.com", "pass")], count=100, reported_dkim="pass")


def test_strict_alignment_fails_a_subdomain_signed_by_its_parent_and_relaxed_passes_it():
    frame = triaged(PARENT_SIGNED)
    relaxed = totals(frame, p="reject", adkim="r")
    assert (relaxed.passing, relaxed.rejected) == (100, 0)
    # Strict: "identical" only (4.4); the subdomain has no sp here, so p applies to it (4.7, "sp").
    strict = totals(frame, p="reject", adkim="s")
    assert (strict.passing, strict.rejected) == (0, 100)
    # Signed by exactly the From: domain, it aligns either way.
    exact = triaged(record("news.example.com", dkim=[("news.example.com", "pass")], count=100, reported_dkim="pass"))
    assert totals(exact, p="reject", adkim="s").passing == 100


def test_relaxing_a_published_strict_mode_passes_what_the_receiver_failed_under_it():
    # The receiver applied adkim=s and failed the parent's signature: under adkim=r it aligns (4.4).
    signed = record("news.example.com", dkim=[("example.com", "pass")], count=40, reported_dkim="fail")
    frame = triaged(signed, adkim="s")
    assert totals(frame, p="reject", adkim="s").rejected == 40
    assert totals(frame, p="reject", adkim="r").passing == 40


def test_tightening_a_mode_never_passes_mail_the_receiver_failed():
    # Whatever the auth results list, the receiver failed DKIM under adkim=r; strict alignment
    # implies relaxed (4.4: identical domains share their organizational domain), so adkim=s fails it too.
    listed_pass = record("news.example.com", dkim=[("news.example.com", "pass")], count=9, reported_dkim="fail")
    frame = triaged(listed_pass)
    assert frame["disagrees"].all()
    assert totals(frame, p="reject", adkim="s").rejected == 9


def test_strict_spf_alignment_fails_a_bounce_subdomain():
    # aspf=s: the MAIL FROM domain must be the From: domain itself (4.4.2 with 4.4's strict).
    bounced = record(spf=[("bounces.example.com", "pass")], count=30, reported_spf="pass")
    frame = triaged(bounced)
    assert totals(frame, p="quarantine", aspf="r").passing == 30
    assert totals(frame, p="quarantine", aspf="s").quarantined == 30


def test_a_helo_pass_never_makes_dmarc_pass():
    # RFC 9989 4.4.2: DMARC relies solely on the MAIL FROM identity.
    helo = "<spf><domain>example.com</domain><scope>helo</scope><result>pass</result></spf></auth_results>"
    frame = triage(
        parse_reports(report(record(count=5, reported_spf="fail", disposition="none")).replace(b"</auth_results>", helo.encode()))
    )
    # The receiver applied aspf=r: relaxing nothing, its fail stands; tightening keeps it failing.
    assert totals(frame, p="reject", aspf="s").rejected == 5
    assert totals(frame, p="reject", aspf="r", adkim="s").rejected == 5


def test_sp_applies_to_subdomains_and_p_to_the_policy_domain_itself():
    # RFC 9989 4.10.1: the policy domain's own mail gets p; a subdomain's, the record's sp (4.7: p
    # when sp is left out).
    frame = triaged(record("example.com", count=10), record("news.example.com", count=20))
    split = totals(frame, p="reject", sp="quarantine")
    assert (split.rejected, split.quarantined) == (10, 20)
    assert totals(frame, p="quarantine").quarantined == 30
    relaxed_subdomains = totals(frame, p="reject", sp="none")
    assert (relaxed_subdomains.rejected, relaxed_subdomains.delivered_failing) == (10, 20)


@pytest.mark.parametrize(
    ("policy", "applied", "rest"), [("reject", "rejected", "quarantined"), ("quarantine", "quarantined", "delivered_failing")]
)
def test_pct_applies_the_policy_to_its_share_and_the_next_lower_policy_to_the_rest(policy, applied, rest):
    # RFC 7489 6.6.4: mail pct leaves out gets the next-lower policy (reject → quarantine,
    # quarantine → none); what share is which is chance, so the counts are expectations.
    frame = triaged(record(count=1000))
    result = what_if(frame, Proposal(p=policy, pct=10))
    assert getattr(result.totals, applied) == 100 and getattr(result.totals, rest) == 900
    assert result.expected
    # pct=0 applies the next-lower policy to all of it, pct=100 the policy: no chance involved.
    none_sampled = what_if(frame, Proposal(p=policy, pct=0))
    assert getattr(none_sampled.totals, rest) == 1000 and not none_sampled.expected


def test_aligned_mail_passes_under_every_proposal():
    # RFC 9989 4.4.1, 4.4.2: one identifier that passes and aligns (here exactly) is enough.
    frame = triaged(
        record(dkim=[("example.com", "pass")], count=7, reported_dkim="pass"),
        record(spf=[("example.com", "pass")], count=5, reported_spf="pass"),
        record(
            "news.example.com", dkim=[("news.example.com", "pass"), ("esp.example.net", "pass")], count=3, reported_dkim="pass"
        ),
    )
    for p, sp, adkim, aspf, pct in itertools.product(POLICIES, (None, *POLICIES), "rs", "rs", (0, 10, 100)):
        outcome = totals(frame, p=p, sp=sp, adkim=adkim, aspf=aspf, pct=pct)
        assert (outcome.passing, outcome.messages - outcome.passing) == (15, 0)


def test_failing_mail_the_receiver_overrode_is_its_choice_and_sampled_out_mail_follows_the_record():
    # RFC 9989 5.3.6: failing mail is handled by the receiver's local policies; a report says when
    # they overrode the domain's (RFC 7489 appendix C). sampled_out is pct's doing, the record's.
    frame = triaged(
        record(count=4, reasons=["local_policy"]),
        record(count=6, reasons=["mailing_list"]),
        record(count=9, reasons=["sampled_out"]),
    )
    outcome = totals(frame, p="reject")
    assert (outcome.receivers_choice, outcome.rejected) == (10, 9)
    # Under p=none nothing is enforced, so there is nothing for the receiver to override.
    assert totals(frame, p="none").delivered_failing == 19


def test_today_is_what_the_receivers_reported():
    frame = triaged(
        record(dkim=[("example.com", "pass")], count=3, reported_dkim="pass"),
        record(count=5, disposition="quarantine"),
        record(count=2, disposition="reject"),
    )
    outcome = totals(frame, p="reject")
    assert (outcome.passing_today, outcome.quarantined_today, outcome.rejected_today) == (3, 5, 2)
    assert (outcome.passing, outcome.rejected, outcome.blocked - outcome.blocked_today) == (3, 7, 0)


def test_senders_are_the_sources_tables_and_add_up_to_the_totals():
    frame = triaged(
        record(dkim=[("mcsv.net", "pass")], count=8),
        record(dkim=[("mcsv.net", "pass")], count=2, source_ip="192.0.2.9"),
        record(count=5, source_ip="198.51.100.1"),
        record(count=4, source_ip="198.51.100.2"),
    )
    result = what_if(frame, Proposal(p="reject"))
    table = result.senders.set_index("source")
    assert table.loc["Mailchimp", "messages"] == 10 and table.loc["Unauthenticated addresses", "messages"] == 9
    for name in (*OUTCOMES, "passing_today", "quarantined_today", "rejected_today"):
        assert table[name].sum() == getattr(result.totals, name)
    assert (
        table["blocked_change"] == table["quarantined"] + table["rejected"] - table["quarantined_today"] - table["rejected_today"]
    ).all()


def test_the_sentence_says_the_outcome_beside_today():
    frame = triaged(record(dkim=[("example.com", "pass")], count=12_000, reported_dkim="pass"), record(count=2_000))
    assert what_if(frame, Proposal(p="reject", adkim="s")).sentence == (
        "Under p=reject; adkim=s: 12,000 messages pass (today 12,000); 0 quarantined and 2,000 rejected, 2,000 more than today."
    )


def test_the_record_to_publish_is_one_the_record_parser_reads_back():
    proposal = Proposal(p="reject", sp="quarantine", adkim="s", pct=10)
    text = proposal.record("example.com")
    assert text == "v=DMARC1; p=reject; sp=quarantine; adkim=s; pct=10; rua=mailto:dmarc-reports@example.com"
    parsed = parse_dmarc_record(text)
    assert (parsed.p, parsed.sp, parsed.adkim, parsed.aspf, parsed.pct) == ("reject", "quarantine", "s", "r", 10)
    # Only a domain name goes into a record: never report text.
    assert proposal.record("a; ruf=mailto:x@evil.example") is None


def test_a_link_round_trips_and_a_bad_value_is_said_and_left_at_the_default():
    proposal = Proposal(p="quarantine", sp="none", adkim="s", aspf="s", pct=25)
    assert proposal_from_params(proposal.to_params(), Proposal()) == (proposal, [])
    default = Proposal(p="none", adkim="s")
    read, problems = proposal_from_params(
        {"what_if_p": "REJECT", "what_if_aspf": "strict", "what_if_pct": "150", "what_if_adkim": "x"}, default
    )
    assert read == Proposal(p="reject", adkim="s", aspf="s")
    assert problems == [
        "adkim=x is not an alignment mode; use adkim=r (relaxed) or adkim=s (strict).",
        "pct=150 is not a percentage from 0 to 100.",
    ]


@pytest.mark.parametrize("values", [{"p": "block"}, {"sp": "all"}, {"adkim": "strict"}, {"pct": 101}, {"pct": True}])
def test_a_proposal_refuses_what_no_record_can_say(values):
    with pytest.raises(ValueError):
        Proposal(**values)


def test_the_published_policy_is_the_latest_reports():
    older = report(record(), p="quarantine", adkim="s", pct=50, report_id="a", begin=1759276800, end=1759363199)
    newer = report(record(), p="reject", report_id="b", begin=1759363200, end=1759449599)
    frame = triage([*parse_reports(newer), *parse_reports(older)])
    assert published_proposal(frame, "example.com") == Proposal(p="reject")


def _reproduces_today(frame) -> None:
    """For each policy a domain published, the same proposal gives the receivers' verdict, record by record."""
    for (domain, adkim, aspf), rows in frame.groupby(["policy_domain", "adkim", "aspf"], observed=True):
        passes = Evidence.of(rows).passes(Proposal(adkim=adkim, aspf=aspf))
        assert (passes == rows["dmarc_pass"].to_numpy()).all(), domain


def test_the_published_policy_reproduces_todays_verdicts_on_the_demo_reports():
    from dmarc_core.reports.reading import demo_files

    frame = triage([report for name, data in demo_files() for report in parse_reports(data, name)])
    _reproduces_today(frame)
    # Each domain's published policy: its verdicts and, with no pct and no override, its dispositions.
    for domain in ("example.com", "news.example.com"):
        rows = frame[frame["policy_domain"] == domain]
        outcome = what_if(rows, published_proposal(frame, domain)).totals
        assert outcome.passing == outcome.passing_today == rows.loc[rows["dmarc_pass"], "count"].sum()
        assert (outcome.quarantined, outcome.rejected) == (outcome.quarantined_today, outcome.rejected_today)
    assert published_proposal(frame, "news.example.com") == Proposal(p="quarantine", adkim="s")


def test_the_real_samples_run_and_reproduce_todays_verdicts(samples):
    reports = [report for path in sorted((samples / "aggregate").iterdir()) for report in read_file(path).reports]
    frame = triage(reports)
    _reproduces_today(frame)
    evidence = Evidence.of(frame)
    for proposal in (Proposal(), Proposal(p="reject", adkim="s", aspf="s"), Proposal(p="quarantine", sp="reject", pct=10)):
        result = what_if(frame, proposal, evidence)
        outcome = result.totals
        # Every message ends up somewhere, give or take the rounding of pct's expectations.
        assert abs(sum(getattr(outcome, name) for name in OUTCOMES) - outcome.messages) <= 2
        assert outcome.messages == frame["count"].sum() and len(result.senders) > 100


def _loop(frame, proposal: Proposal) -> np.ndarray:
    """Each record's messages under OUTCOMES, judged on its own, row by row, by judge_record."""
    rows = []
    for row in frame.itertuples(index=False):
        from_domain = safe_domain(row.header_from) or safe_domain(row.policy_domain)
        dkim = tuple((entry.domain, entry.result) for entry in row.auth_results.dkim)
        spf = tuple((entry.domain, entry.scope, entry.result) for entry in row.auth_results.spf)
        passes = []
        for identifier, mode, published in (("dkim", proposal.adkim, row.adkim), ("spf", proposal.aspf, row.aspf)):
            ours = judge_record(from_domain, dkim, spf, adkim=mode, aspf=mode, reported_dkim="", reported_spf="")
            ours = ours.dkim_aligned if identifier == "dkim" else ours.spf_aligned
            given = getattr(row, f"reported_{identifier}")
            receivers = given == "pass" if given else getattr(row, f"{identifier}_aligned")
            passes.append(receivers if mode == published else (receivers and ours if mode == "s" else receivers or ours))
        policy_domain = safe_domain(row.policy_domain)
        below = bool(from_domain and policy_domain and from_domain.endswith("." + policy_domain))
        policy = proposal.subdomain_policy if below else proposal.p
        outcome = dict.fromkeys(OUTCOMES, 0.0)
        if any(passes):
            outcome["passing"] = row.count
        else:
            share = {policy: row.count * proposal.pct / 100}
            share[NEXT_LOWER[policy]] = share.get(NEXT_LOWER[policy], 0) + row.count * (100 - proposal.pct) / 100
            overridden = bool(
                {reason.strip() for reason in (row.reason or "").split(",")}
                & {"forwarded", "trusted_forwarder", "mailing_list", "local_policy", "other"}
            )
            for applied, count in share.items():
                name = {"none": "delivered_failing", "quarantine": "quarantined", "reject": "rejected"}[applied]
                outcome["receivers_choice" if overridden and applied != "none" else name] += count
        rows.append([outcome[name] for name in OUTCOMES])
    return np.array(rows).T


@pytest.mark.parametrize("published_mode", ["r", "s"])
def test_the_vectorised_outcome_equals_a_loop_over_every_record(published_mode):
    data = report_xml(4000)
    if published_mode == "s":
        data = data.replace(b"<adkim>r</adkim>", b"<adkim>s</adkim>", 1).replace(b"<aspf>r</aspf>", b"<aspf>s</aspf>", 1)
    frame = triage(parse_reports(data))
    assert frame["header_from"].nunique() > 1 and frame["reason"].nunique() > 3
    evidence = Evidence.of(frame)
    for proposal in (
        Proposal(p="reject", adkim="s"),
        Proposal(p="quarantine", sp="reject", aspf="s", pct=30),
        Proposal(p="reject", sp="none", adkim="r", aspf="r", pct=10),
    ):
        assert np.allclose(np.array(evidence.outcomes(proposal)), _loop(frame, proposal)), proposal


@pytest.mark.parametrize("pct", [10, 25, 50])
def test_expected_counts_are_whole_messages_that_add_up_for_every_sender(pct, samples):
    # pct splits failing mail in expectations (RFC 7489 6.6.4); shown in whole messages, each
    # sender's outcomes must still add up to its messages, and the totals to the senders'.
    # Rounding each alone turned 4.5 and 0.5 quarantined into 4 and 0 (the freitagsrunde reports).
    names = ["freitagsrunde_google.eml", "freitagsrunde_mailru.eml", "freitagsrunde_outlook.eml", "freitagsrunde_yahoo.eml"]
    frame = triage([report for name in names for report in read_file(samples / "aggregate" / name).reports])
    result = what_if(frame, Proposal(p="reject", adkim="s", pct=pct))
    table = result.senders
    assert (table[list(OUTCOMES)].sum(axis=1) == table["messages"]).all()
    assert sum(getattr(result.totals, name) for name in OUTCOMES) == result.totals.messages == frame["count"].sum()
    for name in OUTCOMES:
        assert table[name].sum() == getattr(result.totals, name)
