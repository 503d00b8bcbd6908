"""The page's summaries: figures, sources, causes, days, and the article's rollout plan."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from dmarc_core import IpInfo, knowledge, parse_reports, read_file, triage
from dmarc_core._cli import main
from dmarc_core.analysis.summary import (
    UNAUTHENTICATED,
    Disagreement,
    _harmed,
    busiest_addresses,
    by_cause,
    by_day,
    by_source,
    csv_bytes,
    disagreement,
    failing_by_source_and_day,
    for_domains_of,
    headline,
    matching,
    pass_rate_by_day,
    published_policies,
    readiness_table,
    reason_text,
    receiver_reasons,
    reports,
    rollout_readiness,
)
from dmarc_core.analysis.triage import EXPORTED_COLUMNS, explorer_links

from reportkit import record, report

DAY = 86400
START = 1759276800  # 2025-10-01


#: Two receivers, as the rollout plan's evidence asks for (knowledge.toml [rollout] evidence).
RECEIVERS = ("google.com", "yahoo.com")


def frame_of(*records, days=1, receivers=("google.com",), **policy):
    """One report per receiver, each with these records over ``days`` days."""
    documents = [
        report(*records, begin=START, end=START + round(days * DAY) - 1, org_name=receiver, report_id=receiver, **policy)
        for receiver in receivers
    ]
    return triage([parsed for document in documents for parsed in parse_reports(document)])


def aligned(count):
    return record(dkim=[("example.com", "pass")], reported_dkim="pass", count=count)


def mailchimp(count):
    return record(dkim=[("mcsv.net", "pass")], spf=[("mcsv.net", "pass")], count=count, source_ip="198.2.140.17")


def test_headline_figures():
    figures = headline(frame_of(aligned(90), mailchimp(10)))
    assert (figures.messages, figures.passing_messages, figures.failing_messages) == (100, 90, 10)
    assert figures.pass_rate == pytest.approx(0.9)
    assert figures.policy_domains == ("example.com",) and figures.reports == 1


def test_sources_group_by_sender_and_cause_the_most_failing_first_with_a_link():
    # The issue: what to act on first is the sender failing with the most messages, not the busiest.
    table = by_source(frame_of(aligned(90), mailchimp(7), mailchimp(3)))
    assert table[["source", "cause", "failing", "messages"]].values.tolist() == [
        ["Mailchimp", "wrong_domain", 10, 10],
        ["example.com", "aligned", 0, 90],
    ]
    assert table.loc[0, "pass_rate"] == 0 and table.loc[0, "table_row"] == 1
    assert table.loc[0, "explorer_link"].startswith("from=example.com&dkim=mcsv.net:pass")


def test_sources_carry_the_receivers_reasons_in_words_and_the_messages_its_verdict_differs_on():
    frame = frame_of(
        aligned(20),
        record(dkim=[("example.com", "fail")], count=6, reasons=["forwarded"], source_ip="192.0.2.9"),
        record(dkim=[("example.com", "fail")], count=2, reasons=["mailing_list", "local_policy"], source_ip="192.0.2.9"),
        # The receiver says DKIM passed, though the one signature it lists failed: its verdict differs.
        record(dkim=[("example.com", "fail")], reported_dkim="pass", count=4, source_ip="192.0.2.9"),
    )
    rows = by_source(frame)
    (forwarded,) = rows.loc[rows["cause"] == "forwarded", "reasons"]
    assert forwarded == "Forwarded, Mailing list + Local policy"  # the most messages first
    assert rows.loc[rows["source"] == "example.com", ["reasons", "disagreeing"]].values.tolist() == [["", 0]]
    assert rows["disagreeing"].sum() == 4
    assert reason_text("sampled_out,policy_test_mode") == "Sampled out (pct) + Test mode (t=y)"
    assert receiver_reasons(frame) == ["forwarded", "mailing_list", "local_policy"]  # as RFC 7489 lists them
    assert disagreement(frame) == Disagreement(records=1, messages=4, total_records=4)
    assert matching(frame, disagreeing_only=True)["count"].tolist() == [4]
    assert matching(frame, reasons=["local_policy"])["count"].tolist() == [2]
    assert matching(frame, reasons=["forwarded", "mailing_list"])["count"].tolist() == [6, 2]


def test_causes_and_days():
    frame = frame_of(aligned(5), mailchimp(2), record(count=1))
    assert by_cause(frame)[["cause", "messages", "failing"]].values.tolist() == [
        ["aligned", 5, 0],
        ["wrong_domain", 2, 2],
        ["unsigned", 1, 1],
    ]
    days = by_day(frame)
    assert days["day"].tolist() == [pd.Timestamp("2025-10-01")] and days["messages"].tolist() == [8]


@pytest.mark.parametrize(
    ("records", "policy", "days", "step", "ready", "next_record"),
    [
        # p=none, too few days of reports: keep collecting (step 1).
        ([aligned(100)], {"p": "none"}, 3, 1, False, None),
        # p=none, two weeks, but Mailchimp unaligned: fix senders with high counts (step 2).
        ([aligned(90), mailchimp(10)], {"p": "none"}, 15, 2, False, None),
        # p=none, two weeks, everything aligned: quarantine 10% (step 3).
        ([aligned(100)], {"p": "none"}, 15, 2, True, "v=DMARC1; p=quarantine; pct=10; rua=mailto:dmarc-reports@example.com"),
        # quarantine at 10%, above 95%: raise pct.
        (
            [aligned(100)],
            {"p": "quarantine", "pct": 10},
            15,
            3,
            True,
            "v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc-reports@example.com",
        ),
        # quarantine at 100%, stable above 95%: p=reject (step 5 of the plan).
        (
            [aligned(99), record(count=1)],
            {"p": "quarantine", "pct": 100},
            15,
            4,
            True,
            "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com",
        ),
        # quarantine below 95%: fix first.
        ([aligned(90), mailchimp(10)], {"p": "quarantine", "pct": 100}, 15, 4, False, None),
    ],
)
def test_rollout_readiness_follows_the_articles_plan(records, policy, days, step, ready, next_record):
    (assessment,) = rollout_readiness(frame_of(*records, days=days, receivers=RECEIVERS, **policy))
    assert (assessment.step, assessment.ready, assessment.next_record) == (step, ready, next_record)


def test_enforcing_before_alignment_is_fixed_means_roll_back():
    frame = frame_of(
        aligned(50),
        record("news.example.com", dkim=[("example.com", "pass")], disposition="reject", count=20),
        p="reject",
        adkim="s",
        days=15,
    )
    (assessment,) = rollout_readiness(frame)
    assert not assessment.ready and "root cause 5" in assessment.advice
    assert assessment.next_record == "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"


def test_forwarding_and_spoofing_do_not_hold_the_rollout_back():
    frame = frame_of(
        aligned(960),
        record(dkim=[("example.com", "fail")], spf=[("example.com", "fail")], count=30, reasons=["forwarded"]),
        record(count=10),  # unsigned: likely spoofing, which enforcement is meant to stop
        days=15,
        receivers=RECEIVERS,
    )
    (assessment,) = rollout_readiness(frame)
    assert assessment.blockers == () and assessment.pass_rate == 1.0  # both left out of the rate
    assert assessment.ready


def test_csv_matches_the_rows_and_defuses_formulas():
    frame = triage(parse_reports(report(record(count=3), org_name='=HYPERLINK("http://evil")')))
    table = pd.read_csv(io.BytesIO(csv_bytes(frame)))
    assert len(table) == 1 and table.loc[0, "count"] == 3
    assert table.loc[0, "org_name"] == '\'=HYPERLINK("http://evil")'
    assert list(table.columns) == list(EXPORTED_COLUMNS)  # auth_results there as text; report only numbers the reports


def days_of_reports(*spans):
    """One report per (first day, days) span, all for example.com, everything aligned."""
    documents = (
        report(
            aligned(100),
            begin=START + first * DAY,
            end=START + (first + days) * DAY - 1,
            report_id=f"r{first}-{days}-{org}",
            org_name=org,
        )
        for first, days in spans
        for org in RECEIVERS
    )
    return triage([parsed for document in documents for parsed in parse_reports(document)])


@pytest.mark.parametrize(
    ("spans", "covered"),
    [
        ([(0, 1), (200, 1), (400, 1)], 3),  # three one-day reports months apart: 3 days, not 400
        ([(0, 7), (0, 7), (3, 7)], 10),  # two receivers for the same week, a third overlapping: 10 days
        ([(0, 14)], 14),
        ([(0, 10), (2, 3)], 10),  # a report inside another adds nothing
    ],
)
def test_two_weeks_of_reports_are_days_covered_not_the_span(spans, covered):
    (assessment,) = rollout_readiness(days_of_reports(*spans))
    assert assessment.days == pytest.approx(covered, abs=0.01)
    assert assessment.ready == (covered >= 14)


def test_the_pct_step_says_rfc_9989_receivers_ignore_pct():
    (assessment,) = rollout_readiness(frame_of(aligned(100), p="none", days=15, receivers=RECEIVERS))
    assert "pct=10" in assessment.next_record and "RFC 9989" in assessment.advice


def triage_of(*documents):
    return triage([parsed for document in documents for parsed in parse_reports(document)])


def test_each_published_policy_once_with_the_receivers_that_reported_it():
    frame = triage_of(
        report(aligned(5), org_name="yahoo.com", report_id="y"),
        report(aligned(3), mailchimp(1), org_name="google.com", report_id="g"),
        report(aligned(2), domain="example.org", p="reject", adkim="s", pct=None, org_name="google.com", report_id="o"),
    )
    policies = published_policies(frame)
    assert policies[["policy_domain", "p", "adkim", "aspf", "reported_by"]].values.tolist() == [
        ["example.com", "none", "r", "r", "google.com, yahoo.com"],
        ["example.org", "reject", "s", "r", "google.com"],
    ]
    assert policies["pct"].tolist()[0] == 100 and pd.isna(policies["pct"].tolist()[1])  # pct as the report quotes it


def test_a_policy_change_names_the_receivers_that_saw_each_policy():
    # The domain moved from p=none to p=quarantine; each row names only the reports quoting it.
    frame = triage_of(
        report(aligned(5), org_name="yahoo.com", report_id="before"),
        report(aligned(3), p="quarantine", org_name="google.com", report_id="after"),
    )
    assert published_policies(frame)[["p", "reported_by"]].values.tolist() == [
        ["none", "yahoo.com"],
        ["quarantine", "google.com"],
    ]


def test_report_level_facts_once_per_report_however_many_records():
    frame = triage_of(report(aligned(1), aligned(2), aligned(3), report_id="a"), report(aligned(4), report_id="a"))
    # Two reports (the same id twice counts twice until duplicates are recognised), four records.
    assert len(frame) == 4 and reports(frame)["report_id"].tolist() == ["a", "a"]
    assert headline(frame).reports == 2


def unsigned(count, source_ip):
    return record(count=count, source_ip=source_ip)


def test_pass_rate_per_day_and_the_rate_the_rollout_plan_judges():
    # Day one: 90 aligned, 10 Mailchimp, 100 unsigned from nobody (spoofing, left out of the plan's rate).
    first = report(aligned(90), mailchimp(10), record(count=100), begin=START, end=START + DAY - 1, report_id="1")
    third = report(aligned(40), begin=START + 2 * DAY, end=START + 3 * DAY - 1, report_id="3")
    days = pass_rate_by_day(triage_of(first, third))
    # The day between has no report: no rate, so a line breaks rather than slopes across it.
    assert days["day"].tolist() == [pd.Timestamp("2025-10-01"), pd.Timestamp("2025-10-02"), pd.Timestamp("2025-10-03")]
    assert days["messages"].tolist() == [200, 0, 40]
    assert days["pass_rate"].tolist()[::2] == [pytest.approx(0.45), 1.0] and pd.isna(days["pass_rate"][1])
    assert days["rollout_pass_rate"].tolist()[::2] == [pytest.approx(0.9), 1.0]


def test_failing_messages_per_sender_and_day_keep_the_busiest_senders():
    first = report(aligned(50), mailchimp(10), *(spoofed(2, f"203.0.113.{n}") for n in (1, 2)), report_id="1")
    second = report(
        mailchimp(5),
        record(spf=[("relay.example.net", "pass")], count=1),
        begin=START + DAY,
        end=START + 2 * DAY - 1,
        report_id="2",
    )
    days = failing_by_source_and_day(triage_of(first, second), limit=2)
    assert days.values.tolist() == [
        [pd.Timestamp("2025-10-01"), "Mailchimp", 10],
        [pd.Timestamp("2025-10-02"), "Mailchimp", 5],
        # The addresses nothing authenticated: one sender per cause.
        [pd.Timestamp("2025-10-01"), f"{UNAUTHENTICATED}: {knowledge().findings['unsigned'].title}", 4],
        [pd.Timestamp("2025-10-02"), "Other senders", 1],
    ]


def test_failing_unauthenticated_addresses_are_a_sender_per_cause():
    # A forwarder's relay (the receiver said forwarded) and a spoofer: opposite fixes, two senders.
    relayed = record(
        dkim=[("example.com", "fail")],
        spf=[("lists.example.net", "none")],
        count=2,
        source_ip="192.0.2.70",
        reasons=["forwarded"],
    )
    frame = triage_of(report(relayed, spoofed_with_foreign_signatures(1)))
    senders = set(failing_by_source_and_day(frame)["source"])
    assert senders == {f"{UNAUTHENTICATED}: {knowledge().findings[cause].title}" for cause in set(frame["cause"])}
    assert len(senders) == 2


def test_readiness_as_a_table_a_row_per_domain_blocked_mail_first_then_the_most_messages():
    blocked = record("example.net", dkim=[("mcsv.net", "pass")], disposition="reject", count=20)
    documents = [
        report(aligned_for("example.org", 5), domain="example.org", p="quarantine", pct=10, report_id="o"),
        report(aligned(100), mailchimp(40), domain="example.com", report_id="c"),
        report(blocked, domain="example.net", p="reject", report_id="n"),
    ]
    frame = triage_of(*documents)
    table = readiness_table(rollout_readiness(frame))
    # Root cause 5 first: legitimate mail is being rejected, and the advice is to roll back now.
    assert table[["domain", "policy", "step", "messages", "next_record"]].values.tolist() == [
        ["example.net", "p=reject", 5, 20, "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.net"],
        ["example.com", "p=none", 1, 140, ""],
        ["example.org", "p=quarantine; pct=10", 3, 5, ""],
    ]
    assert table.loc[1, "pass_rate"] == pytest.approx(100 / 140) and not table.loc[1, "ready"]
    # Filtered records keep the rows of their domains.
    assert for_domains_of(matching(frame, search="mailchimp"), table)["domain"].tolist() == ["example.net", "example.com"]
    assert for_domains_of(matching(frame, failing_only=True, policy_domain="example.com"), table)["domain"].tolist() == [
        "example.com"
    ]


def test_a_domain_with_no_mail_judged_has_no_pass_rate_in_the_table():
    # Forwarded mail is left out of the rollout's measure (the article): a domain with nothing else
    # has no rate to show, where 0% would read as all of its mail failing.
    forwarded = record(dkim=[("example.com", "fail")], count=14, reasons=["forwarded"])
    table = readiness_table(rollout_readiness(triage_of(report(forwarded), report(aligned(3), domain="example.org"))))
    rates = dict(zip(table["domain"], table["pass_rate"], strict=True))
    assert table.set_index("domain").loc["example.com", "messages"] == 0
    assert pd.isna(rates["example.com"]) and rates["example.org"] == pytest.approx(1.0)


def test_the_busiest_addresses_sum_their_records():
    frame = frame_of(unsigned(5, "192.0.2.1"), unsigned(4, "192.0.2.2"), unsigned(3, "192.0.2.1"), unsigned(6, "192.0.2.3"))
    assert busiest_addresses(frame, limit=2) == ["192.0.2.1", "192.0.2.3"]


def aligned_for(header_from, count):
    return record(header_from, dkim=[(header_from, "pass")], reported_dkim="pass", count=count)


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ({}, [5, 2, 1, 3]),
        ({"policy_domain": "example.org"}, [3]),
        ({"causes": ["wrong_domain", "selector_missing"]}, [2, 1]),
        ({"failing_only": True}, [2, 1]),
        ({"search": "  MailChimp "}, [2]),  # a sender's name, whatever its case
        ({"search": "198.2.140"}, [2]),  # part of the address
        ({"search": "mcsv"}, [2]),  # a DKIM domain
        ({"search": "example.org"}, [3]),  # the From: domain
        ({"policy_domain": "example.com", "failing_only": True, "causes": ["wrong_domain"]}, [2]),
    ],
)
def test_the_triage_filters(filters, kept):
    frame = triage_of(
        report(aligned(5), mailchimp(2), record(dkim=[("example.com", "permerror")], count=1), report_id="c"),
        report(aligned_for("example.org", 3), domain="example.org", report_id="o"),
    )
    assert matching(frame, **filters)["count"].tolist() == kept


def test_no_step_is_advised_without_the_evidence_the_plan_asks_for():
    # The article: "collect reports for 2 weeks"; one receiver's three days are not that.
    (assessment,) = rollout_readiness(frame_of(aligned(60), p="none", days=3))
    assert not assessment.ready and assessment.next_record is None
    assert assessment.missing_evidence == (
        "the reports cover 3 days (the days between reports do not count), and the plan asks for two weeks",
        "1 receiver reported, and at least 2 give a fair picture",
        "60 messages are too few for a pass rate to mean much (at least 100)",
    )
    assert assessment.advice.startswith("Not enough evidence for the next step yet: the reports cover 3 days")


@pytest.mark.parametrize(
    ("days", "said"),
    [(1 / 86400, "less than a day"), (0.5, "less than a day"), (1, "1 day"), (1.5, "1.5 days"), (13, "13 days")],
)
def test_the_days_the_reports_cover_are_said_as_a_person_counts_them(days, said):
    # A report whose range begins and ends in the same second covers no time: "0 days" would read
    # as a mistake; under a day is "less than a day", and one day is not "1 days".
    (assessment,) = rollout_readiness(frame_of(aligned(200), p="none", days=days, receivers=("google.com", "yahoo.com")))
    assert assessment.missing_evidence == (
        f"the reports cover {said} (the days between reports do not count), and the plan asks for two weeks",
    )


def test_p_reject_is_the_last_step_so_too_little_evidence_is_too_little_to_judge_it():
    (assessment,) = rollout_readiness(frame_of(aligned(60), p="reject", days=3))
    assert "Not enough evidence to judge it yet: the reports cover 3 days" in assessment.advice
    assert "next step" not in assessment.advice


def test_forwarded_mail_quarantined_under_p_reject_is_no_reason_to_roll_back():
    # A real case: p=reject, 141 messages, 2 quarantined by Google with the reason forwarded.
    forwarded = record(dkim=[("example.com", "pass")], disposition="quarantine", count=2, reasons=["forwarded"])
    (assessment,) = rollout_readiness(frame_of(aligned(139), forwarded, p="reject", days=15, receivers=RECEIVERS))
    assert assessment.next_record is None
    assert "roll back" not in assessment.advice.lower() and "rejected" not in assessment.advice


def test_a_handful_of_blocked_messages_is_named_but_no_reason_to_roll_back():
    blocked = record(dkim=[("mcsv.net", "pass")], disposition="reject", count=3, source_ip="198.2.140.17")
    (assessment,) = rollout_readiness(frame_of(aligned(500), blocked, p="reject", days=15, receivers=RECEIVERS))
    assert assessment.next_record is None and "roll back to p=none" not in assessment.advice
    assert "6 messages from Mailchimp (signed with someone else's domain) were rejected" in assessment.advice  # 3 per receiver


def test_legitimate_senders_blocked_with_a_real_share_roll_the_policy_back_and_are_named():
    blocked = record(dkim=[("mcsv.net", "pass")], disposition="quarantine", count=40, source_ip="198.2.140.17")
    (assessment,) = rollout_readiness(frame_of(aligned(100), blocked, p="quarantine", pct=100, days=15, receivers=RECEIVERS))
    assert not assessment.ready and assessment.next_record == "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"
    assert assessment.advice.startswith("80 messages from Mailchimp (signed with someone else's domain) were quarantined.")
    assert "roll back to p=none" in assessment.advice


def test_no_message_to_judge_asks_nobody_to_fix_senders():
    # Every message forwarded as the receiver said: nothing the plan weighs.
    forwarded = record(dkim=[("example.com", "pass")], disposition="none", count=5, reasons=["forwarded"])
    (assessment,) = rollout_readiness(frame_of(forwarded, p="reject", days=15, receivers=RECEIVERS))
    assert assessment.messages == 0 and "no message to judge" in assessment.advice
    assert "Fix the failing senders" not in assessment.advice and "0.0%" not in assessment.advice


def test_mail_blocked_under_p_none_is_named_with_no_word_of_rolling_back():
    # Under p=none the receiver blocked it of its own accord: there is no policy to roll back.
    blocked = record(dkim=[("mcsv.net", "pass")], disposition="reject", count=3, source_ip="198.2.140.17")
    (assessment,) = rollout_readiness(frame_of(aligned(500), blocked, p="none", days=3, receivers=RECEIVERS))
    assert "6 messages from Mailchimp (signed with someone else's domain) were rejected. Fix that sender." in assessment.advice
    assert "roll back" not in assessment.advice


def test_many_blocked_senders_name_the_largest_three_and_count_the_rest():
    blocked = [
        record(dkim=[(f"sender{number}.example", "pass")], disposition="reject", count=count, source_ip=f"192.0.2.{number}")
        for number, count in enumerate((50, 40, 30, 3, 2, 1), start=1)
    ]
    (assessment,) = rollout_readiness(frame_of(aligned(100), *blocked, p="reject", days=15, receivers=RECEIVERS))
    named = [f"{count} messages from sender{number}.example" for number, count in ((1, 100), (2, 80), (3, 60))]
    assert all(part in assessment.advice for part in named)
    assert "sender4.example" not in assessment.advice
    # 6 + 4 + 2 over two receivers
    assert "were rejected; and 12 more messages from 3 other senders were rejected." in assessment.advice


def test_the_tail_of_blocked_mail_names_a_sender_already_named_and_counts_only_new_ones():
    # Blocked mail by sender and finding (as the rollout groups it): Mailchimp's second, smaller
    # finding falls in the tail with Mailgun's; Mailchimp is named there, and only Mailgun counted.
    rows = pd.DataFrame(
        [
            ("Mailchimp", "wrong_domain", 50, "reject"),
            ("SendGrid", "wrong_domain", 40, "reject"),
            ("Amazon SES", "wrong_domain", 30, "reject"),
            ("Mailchimp", "strict_on_subdomain", 5, "quarantine"),
            ("Mailgun", "wrong_domain", 2, "reject"),
        ],
        columns=["source", "finding", "count", "disposition"],
    )
    harm = _harmed(rows, 200)
    assert harm.sentence.endswith("; and 7 more messages from Mailchimp and 1 other sender were quarantined or rejected.")
    assert harm.senders == ("Mailchimp", "SendGrid", "Amazon SES", "Mailgun")


def test_a_report_with_placeholder_dates_never_decides_the_published_policy(samples):
    # 005.xml's dates are placeholders (begin=100), so they are dropped; its p=reject is older news
    # than any dated report's policy, not the latest.
    dated = report(aligned(10), p="none", org_name="google.com", report_id="dated")
    frame = triage([*parse_reports(dated), *parse_reports((samples / "aggregate" / "005.xml").read_bytes())])
    assert frame["begin"].isna().any()
    (assessment,) = [a for a in rollout_readiness(frame) if a.domain == "example.com"]
    assert assessment.policy == "none"


def test_much_mail_only_inferred_as_forwarded_holds_the_rollout_back():
    # Your signature fails and SPF passes for nobody of yours, 200 messages a day from one address, and
    # the receiver gave no forwarding reason: more likely your own broken server than forwarding.
    broken = record(dkim=[("example.com", "fail")], spf=[("example.com", "softfail")], count=200, source_ip="203.0.113.7")
    (assessment,) = rollout_readiness(frame_of(aligned(60), broken, p="quarantine", pct=100, days=15, receivers=RECEIVERS))
    assert not assessment.ready and assessment.pass_rate < 0.5
    assert assessment.blockers == (("203.0.113.7", "forwarded", 400),)


def spoofed(count, source_ip):
    """Mail no DKIM or SPF vouches for, from one address."""
    return record(spf=[("example.com", "fail")], count=count, source_ip=source_ip)


def test_addresses_nothing_authenticated_are_one_source_with_the_busiest_named():
    frame = frame_of(aligned(50), mailchimp(7), *(spoofed(count, f"203.0.113.{count}") for count in (1, 2, 3, 4, 5)))
    table = by_source(frame)
    assert table[["source", "cause", "messages", "ips"]].values.tolist() == [
        [UNAUTHENTICATED, "unsigned", 15, 5],
        ["Mailchimp", "wrong_domain", 7, 1],
        ["example.com", "aligned", 50, 1],
    ]
    assert table.loc[0, "addresses"] == "203.0.113.5, 203.0.113.4, 203.0.113.3 (+2)"  # the most messages first
    assert table.loc[1, "addresses"] == "198.2.140.17"
    # Every address stays reachable: the records keep it, and the search finds the group by its name.
    assert matching(frame, search="unauthenticated")["source_ip"].tolist() == [f"203.0.113.{count}" for count in (1, 2, 3, 4, 5)]


def test_a_source_rows_fix_and_link_are_its_busiest_records():
    frame = frame_of(mailchimp(3), record(dkim=[("mcsv.net", "pass")], count=9, source_ip="198.2.140.18"))
    asked = []

    def links(records):
        asked.append(records["count"].tolist())
        return explorer_links(records)

    (row,) = by_source(frame, links=links).itertuples()
    assert asked == [[9]] and row.messages == 12 and row.ips == 2  # one link, for the record with 9 messages
    assert row.explorer_link == explorer_links(frame).iloc[1] and "&spf=" not in row.explorer_link


def test_enriched_sources_name_networks_by_how_many_addresses_have_them():
    frame = frame_of(*(spoofed(1, f"203.0.113.{number}") for number in range(1, 6)))
    enrichment = {
        "203.0.113.1": IpInfo("203.0.113.1", "a.example.net", "found", as_name="NET-A"),
        "203.0.113.2": IpInfo("203.0.113.2", None, "nxdomain", as_name="NET-B"),
        "203.0.113.3": IpInfo("203.0.113.3", None, "nxdomain", as_name="NET-B"),
        "203.0.113.4": None,  # its lookup failed
    }
    (row,) = by_source(frame, enrichment).itertuples()
    assert (row.as_names, row.host_names) == ("NET-B, NET-A", "a.example.net")


def test_readiness_of_many_domains_is_each_domains_own():
    # Assessed together (the way a month of reports is), each domain gets what it gets alone.
    documents = [
        report(aligned(100), mailchimp(40), domain="example.com", p="quarantine", pct=100, report_id="a", org_name="google.com"),
        report(aligned_for("example.org", 20), domain="example.org", p="reject", report_id="b", org_name="yahoo.com"),
        report(aligned_for("example.org", 5), domain="example.org", p="none", report_id="c", org_name="google.com", end=START),
        report(spoofed(3, "203.0.113.9"), domain="example.net", report_id="d", begin=START + 20 * DAY, end=START + 21 * DAY),
    ]
    frame = triage_of(*documents)
    together = rollout_readiness(frame)
    alone = [
        rollout_readiness(frame[frame["policy_domain"] == domain])[0] for domain in ("example.com", "example.net", "example.org")
    ]
    assert [assessment.domain for assessment in together] == ["example.com", "example.net", "example.org"]
    assert together == alone
    assert together[2].policy == "reject"  # the latest report's policy, whichever order the reports came in


def test_the_cli_lists_the_sources_as_the_page_does(tmp_path, capsys):
    path = tmp_path / "report.xml"
    path.write_bytes(report(aligned(50), *(spoofed(count, f"203.0.113.{count}") for count in (1, 2, 3))))
    assert main(["triage", str(path)]) == 0
    printed = capsys.readouterr().out
    assert UNAUTHENTICATED in printed and "203.0.113.3, 203.0.113.2, 203.0.113.1" in printed
    assert main(["triage", str(path), "--format", "json"]) == 0
    sources = json.loads(capsys.readouterr().out)["sources"]
    expected = json.loads(by_source(triage(parse_reports(path.read_bytes()))).to_json(orient="records"))
    assert sources == expected and sources[0]["source"] == UNAUTHENTICATED


def spoofed_with_foreign_signatures(count):
    """Mail signed only by others, every signature failing, SPF passing for nobody (as in
    freitagsrunde_mailru.eml): nobody vouches for it."""
    return record(dkim=[("sponaeop.example.net", "fail")], spf=[("yahoo.com", "neutral")], count=count, source_ip="203.0.113.120")


def test_a_cause_is_on_a_table_row_only_where_its_records_are():
    # Row 1 of the diagnosis table asks for a DKIM pass with another domain; with every foreign
    # signature failing no row applies, so the cause's bar must not claim row 1.
    only_failing = by_cause(frame_of(aligned(10), spoofed_with_foreign_signatures(1))).set_index("cause")
    assert pd.isna(only_failing.loc["wrong_domain", "table_row"])
    both = by_cause(frame_of(mailchimp(3), spoofed_with_foreign_signatures(1))).set_index("cause")
    assert pd.isna(both.loc["wrong_domain", "table_row"])  # one record of the cause on no row
    passing = by_cause(frame_of(mailchimp(3))).set_index("cause")
    assert passing.loc["wrong_domain", "table_row"] == 1


def test_mail_only_others_signed_and_nobody_vouches_for_stays_out_of_the_rollouts_rate():
    (assessment,) = rollout_readiness(frame_of(aligned(99), spoofed_with_foreign_signatures(1), days=15, receivers=RECEIVERS))
    assert (assessment.messages, assessment.pass_rate) == (2 * 99, 1.0)
    # SPF passing for the foreign signer's domain: that sender vouches for it, so it is weighed.
    vouched = record(dkim=[("esp.example.net", "fail")], spf=[("esp.example.net", "pass")], count=1, source_ip="192.0.2.77")
    (assessment,) = rollout_readiness(frame_of(aligned(99), vouched, days=15, receivers=RECEIVERS))
    assert assessment.messages == 2 * 100


def test_the_rollouts_rate_on_the_freitagsrunde_reports(samples):
    # Four receivers' reports for freitagsrunde.org; the Mail.ru one holds a message signed only by
    # sponaeop.ongoogle.co.id and onedrive.com, both failing, SPF neutral for yahoo.com: left out.
    names = ["freitagsrunde_google.eml", "freitagsrunde_mailru.eml", "freitagsrunde_outlook.eml", "freitagsrunde_yahoo.eml"]
    frame = triage([report for name in names for report in read_file(samples / "aggregate" / name).reports])
    (assessment,) = rollout_readiness(frame)
    spoof = frame[frame["source_ip"] == "83.220.239.120"]
    assert len(spoof) == 1 and not spoof["dmarc_pass"].iloc[0]
    assert assessment.messages == frame["count"].sum() - spoof["count"].sum()


def test_the_search_finds_a_record_by_its_spf_domain_too():
    # The relay of a list host (SPF for lists.tu-berlin.de in freitagsrunde_google.eml) is found by
    # the domain its mail came through, not only by its address.
    relayed = record(dkim=[("example.com", "fail")], spf=[("lists.example.net", "none")], count=2, source_ip="192.0.2.70")
    frame = frame_of(aligned(5), relayed)
    assert matching(frame, search="lists.example")["source_ip"].tolist() == ["192.0.2.70"]
