"""The domain knowledge matches the article and DESIGN.md, and every scenario lands where the
article says it does."""

from __future__ import annotations

import re

import pytest

from dmarc_core import knowledge, known_sender, scenario_from_query

from conftest import ROOT


def causes_in_table(markdown: str, heading: str) -> dict[str, str]:
    """Cause name to table row ("-" or a number) from a markdown table under ``heading``."""
    section = markdown.split(heading, 1)[1].split("\n#", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| ([-0-9]+) \|", section, re.MULTILINE))


@pytest.fixture(scope="module")
def design_causes(samples) -> dict[str, str]:
    """The cause table of the shared DESIGN.md, which the code and the README must agree with."""
    return causes_in_table((samples.parent / "DESIGN.md").read_text("utf-8"), "### Causes")


def test_five_root_causes_and_five_table_rows():
    facts = knowledge()
    assert [cause.number for cause in facts.root_causes] == [1, 2, 3, 4, 5]
    assert [row.row for row in facts.diagnosis_table] == [1, 2, 3, 4, 5]
    assert {row.reported_dkim for row in facts.diagnosis_table} == {"fail"}
    assert [(row.auth_result, row.auth_domain) for row in facts.diagnosis_table] == [
        ("pass", "esp-domain.com (not yours)"),
        ("fail", "your domain"),
        ("pass", "subdomain of your domain"),
        ("permerror", "your domain"),
        ("pass", "your domain"),
    ]
    # The article names a root cause for rows 1-4; row 5 (several signatures) is none of the five,
    # and root cause 5 (enforcing before alignment is fixed) is no row of the table.
    assert [row.root_cause for row in facts.diagnosis_table] == [1, 2, 3, 4, None]


def test_findings_cover_the_design_causes_and_point_at_consistent_rows(design_causes):
    facts = knowledge()
    assert set(facts.causes) == set(design_causes)
    # A cause's findings sit on the table row DESIGN.md gives it, or on none.
    for finding in facts.findings.values():
        assert finding.table_row in (None, int(design_causes[finding.cause]) if design_causes[finding.cause] != "-" else None)
    for finding in facts.findings.values():
        if finding.table_row:
            assert facts.table_row(finding.table_row).root_cause == finding.root_cause


@pytest.mark.parametrize(
    ("sender", "setting"),
    [
        ("Mailchimp", "Settings → Domains → Authenticate Domain"),
        ("SendGrid", "Settings → Sender Authentication → Domain Authentication"),
        ("HubSpot", "Settings → Marketing Email → Email Sending Domain"),
        ("Amazon SES", "Configuration → Verified Identities → DKIM"),
        ("Salesforce / Pardot", "Admin → Email → DKIM Keys"),
    ],
)
def test_the_articles_esp_fixes(sender, setting):
    assert next(s for s in knowledge().senders if s.name == sender).setting == setting


@pytest.mark.parametrize(
    ("domain", "name"),
    [
        ("mcsv.net", "Mailchimp"),
        ("rsgsv.net", "Mailchimp"),
        ("bounce.mcsv.net", "Mailchimp"),
        ("sendgrid.net", "SendGrid"),
        ("amazonses.com", "Amazon SES"),
        ("example-org.20210112.gappssmtp.com", "Google Workspace / Gmail"),
        ("contoso.onmicrosoft.com", "Microsoft 365 / Outlook.com"),
        ("gmailmarkup.zendesk.com", "Zendesk"),
        ("MCSV.NET.", "Mailchimp"),
    ],
)
def test_known_senders_are_recognised_by_domain_or_parent(domain, name):
    assert known_sender(domain).name == name


@pytest.mark.parametrize("domain", ["example.com", "notmcsv.net", "net", "", None])
def test_unknown_domains_are_not_attributed(domain):
    assert known_sender(domain) is None


def test_no_domain_belongs_to_two_senders():
    domains = [domain for sender in knowledge().senders for domain in sender.domains]
    assert len(domains) == len(set(domains))


@pytest.mark.parametrize(
    ("key", "verdict", "row"),
    [
        ("esp_own_domain", "DMARC fail", 1),
        ("forwarded", "DMARC fail", 2),
        ("strict_subdomain", "DMARC fail", 3),
        ("selector_missing", "DMARC fail", 4),
        ("several_signatures", "DMARC fail", 5),
        ("relaxed_subdomain", "DMARC pass", None),
    ],
)
def test_each_article_scenario_lands_on_its_row(key, verdict, row):
    scenario, problems = scenario_from_query(knowledge().scenario(key).query)
    assert problems == []
    evaluation = scenario.evaluate()
    assert (evaluation.verdict, evaluation.diagnosis.table_row) == (verdict, row)
    if row:
        assert knowledge().table_row(row).root_cause == knowledge().scenario(key).root_cause


def test_every_faq_scenario_exists():
    keys = {preset.key for preset in knowledge().scenarios}
    assert {entry.scenario for entry in knowledge().faq} <= keys


def test_every_dmarc_tag_is_explained():
    from dmarc_core.rules.dmarc_record import KNOWN_TAGS, REMOVED_TAGS

    tags = knowledge().record_tags
    assert set(tags) == set(KNOWN_TAGS)
    assert all(tags[tag].rfc9989.startswith("removed by RFC 9989") for tag in REMOVED_TAGS)
    assert {tag for tag, entry in tags.items() if entry.rfc9989.startswith("added by RFC 9989")} == {"np", "t", "psd"}
    assert set(tags["p"].values) == set(tags["sp"].values) == set(tags["np"].values) == {"none", "quarantine", "reject"}
    assert set(tags["psd"].values) == {"y", "n", "u"}


def test_domain_findings_tie_to_the_articles_root_causes():
    findings = knowledge().domain_findings
    assert {finding.severity for finding in findings.values()} <= {"error", "warning", "info"}
    # adkim=s and a stricter subdomain record: 3; a missing or revoked key: 4; enforcing early: 5.
    assert {
        key: findings[key].root_cause
        for key in ("strict_dkim", "stricter_subdomain", "selector_missing", "selector_revoked", "enforcing")
    } == {"strict_dkim": 3, "stricter_subdomain": 3, "selector_missing": 4, "selector_revoked": 4, "enforcing": 5}
    assert all(finding.root_cause in (None, 1, 2, 3, 4, 5) for finding in findings.values())


def test_every_lookup_status_has_words():
    from typing import get_args

    from dmarc_core.lookups.resolver import LookupStatus

    assert set(knowledge().lookup_statuses) == set(get_args(LookupStatus))


def test_the_common_dkim_selectors_are_valid_and_include_the_usual_ones():
    from dmarc_core import parse_selectors

    common = knowledge().common_selectors
    assert parse_selectors(common) == common
    assert {"google", "selector1", "selector2", "k1", "k2", "s1", "s2", "default", "dkim", "mail", "mandrill", "smtp"} <= set(
        common
    )


def test_every_cause_has_one_colour_of_its_own():
    facts = knowledge()
    colors = facts.cause_colors
    assert set(colors) == set(facts.causes)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", color) for color in colors.values())
    assert len(set(colors.values())) == len(colors), "two causes would look alike in a chart"
    for finding in facts.findings.values():
        assert finding.color == colors[finding.cause], f"{finding.key} is coloured unlike the rest of {finding.cause}"


def test_rollout_steps_by_their_number_as_the_article_lists_them():
    facts = knowledge()
    assert [facts.rollout_step(number).step for number in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 5]
    assert (facts.rollout_step(1).policy, facts.rollout_step(3).policy, facts.rollout_step(5).policy) == (
        "none",
        "quarantine",
        "reject",
    )
    assert facts.rollout_step(3).pct == 10  # "Set p=quarantine; pct=10"


def test_the_pass_rate_threshold_is_the_articles_95_percent_wherever_it_is_said():
    facts = knowledge()
    assert facts.pass_rate_threshold == 0.95
    assert "above 95%" in facts.threshold_note and "above 95%" in facts.rollout_step(5).action


def test_the_esp_settings_start_with_the_articles_five():
    names = [sender.name for sender in knowledge().esp_settings]
    assert names[:5] == ["Mailchimp", "SendGrid", "HubSpot", "Amazon SES", "Salesforce / Pardot"]
    assert all(sender.kind == "esp" and sender.setting for sender in knowledge().esp_settings)


def test_the_readme_names_every_cause_of_the_design(design_causes):
    readme = (ROOT / "README.md").read_text("utf-8")
    named = set(re.findall(r"`([a-z_]+)`", readme.split("Each record is diagnosed by the cause rules", 1)[1].split("\n\n", 1)[0]))
    assert set(design_causes) <= named
