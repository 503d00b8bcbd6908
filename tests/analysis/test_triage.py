"""Triage of hand-written reports: one case per cause rule, the columns other code relies on,
our own alignment next to the receiver's, and links that reproduce each row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmarc_core import parse_reports, read_file, read_files, scenario_from_query, triage
from dmarc_core.analysis.triage import _ARROW_TEXT, _categorical, _codes_of, _record_columns, _values_at, explorer_links
from dmarc_core.reports.reading import records_of
from dmarc_core.rules.alignment import reported_result, safe_domain
from dmarc_core.rules.evaluation import judge_record

from conftest import SAMPLES
from reportkit import record, report

DESIGN_COLUMNS = {"source_ip", "count", "header_from", "disposition", "dmarc_pass", "cause", "table_row", "enforced_before_fix"}


def triaged(*records, **policy):
    return triage(parse_reports(report(*records, **policy)))


@pytest.mark.parametrize(
    ("row", "policy", "cause", "table_row"),
    [
        (
            record(dkim=[("example.com", "pass")], spf=[("example.com", "pass")], reported_dkim="pass", reported_spf="pass"),
            {},
            "aligned",
            None,
        ),
        (record(dkim=[("mcsv.net", "pass")], spf=[("mcsv.net", "pass")]), {}, "wrong_domain", 1),
        (record(dkim=[("spoof.example.net", "fail")], spf=[("spoof.example.net", "fail")]), {}, "wrong_domain", None),
        (record(dkim=[("example.com", "fail")], spf=[("example.com", "pass")], reported_spf="pass"), {}, "signature_failed", 2),
        (record(dkim=[("example.com", "fail")], spf=[("example.com", "fail")]), {}, "forwarded", 2),
        (record(dkim=[("example.com", "fail")], spf=[("example.com", "pass")], reasons=["forwarded"]), {}, "forwarded", 2),
        (
            record(dkim=[("example.com", "fail")], spf=[("list.example.org", "pass")], reasons=["mailing_list"]),
            {},
            "forwarded",
            2,
        ),
        # A list or SRS forwarder passes SPF for its own domain, with no reason given: still relayed.
        (record(dkim=[("example.com", "fail")], spf=[("lists.example.org", "pass")]), {}, "forwarded", 2),
        (record(dkim=[("example.com", "fail")], spf=[("bounces.example.com", "pass")]), {}, "signature_failed", 2),
        (record("news.example.com", dkim=[("example.com", "pass")]), {"adkim": "s"}, "strict_mismatch", 3),
        (
            record(dkim=[("example.com", "permerror")], spf=[("example.com", "pass")], reported_spf="pass"),
            {},
            "selector_missing",
            4,
        ),
        # temperror: the receiver could not reach your DNS at that moment, not a missing key.
        (record(dkim=[("example.com", "temperror")]), {}, "dns_temporary", None),
        (record(dkim=[("mcsv.net", "pass"), ("example.com", "pass")]), {}, "multiple_signatures", 5),
        (record(spf=[("example.com", "pass")], reported_spf="pass"), {}, "unsigned", None),
    ],
)
def test_each_cause_from_a_report_record(row, policy, cause, table_row):
    frame = triaged(row, **policy)
    assert (frame.loc[0, "cause"], frame.loc[0, "table_row"] if table_row else None) == (cause, table_row)
    if table_row is None:
        assert frame["table_row"].isna().all()


def test_design_columns_one_row_per_record_in_document_order():
    frame = triaged(*(record(source_ip=f"192.0.2.{n}", count=n) for n in range(1, 6)))
    assert set(frame.columns) >= DESIGN_COLUMNS
    assert frame["source_ip"].tolist() == [f"192.0.2.{n}" for n in range(1, 6)]
    assert frame["count"].tolist() == [1, 2, 3, 4, 5] and str(frame["count"].dtype) == "int64"


def test_dmarc_pass_is_the_receivers_verdict_and_ours_is_beside_it():
    frame = triaged(
        record(dkim=[("example.com", "pass")], reported_dkim="pass"),
        record(spf=[("example.com", "pass")], reported_spf="fail"),  # the receiver disagrees with its own auth_results
        record(dkim=[("mcsv.net", "pass")], reported_dkim="fail"),
    )
    assert frame["dmarc_pass"].tolist() == [True, False, False]
    assert frame["dkim_aligned"].tolist() == [True, False, False]
    assert frame["spf_aligned"].tolist() == [False, True, False]
    assert frame["disagrees"].tolist() == [False, True, False]


def test_empty_policy_evaluated_falls_back_to_our_verdict():
    frame = triaged(record(dkim=[("example.com", "pass")], reported_dkim="", reported_spf=""))
    assert frame.loc[0, "dmarc_pass"] and frame.loc[0, "cause"] == "aligned" and not frame.loc[0, "disagrees"]


def test_enforced_before_fix_is_root_cause_5():
    frame = triaged(
        record("news.example.com", dkim=[("example.com", "pass")], disposition="quarantine"),
        record("news.example.com", dkim=[("example.com", "pass")], disposition="none"),
        record(dkim=[("example.com", "fail")], disposition="reject"),
        adkim="s",
        p="quarantine",
    )
    assert frame["enforced_before_fix"].tolist() == [True, False, False]


def test_senders_are_named_from_domains_that_authenticated():
    frame = triaged(
        record(dkim=[("mcsv.net", "pass")], spf=[("mail200.atl11.rsgsv.net", "pass")]),
        record(dkim=[("example-org.20210112.gappssmtp.com", "pass")]),
        record(dkim=[("mcsv.net", "fail")], spf=[("example.com", "fail")], source_ip="203.0.113.9"),
    )
    assert frame["sender"].tolist() == ["Mailchimp", "Google Workspace / Gmail", ""]
    assert frame["source"].tolist() == ["Mailchimp", "Google Workspace / Gmail", "203.0.113.9"]
    assert "signs with example.com" in frame.loc[0, "fix"]
    assert frame.loc[0, "fix"].endswith("At Mailchimp: Settings → Domains → Authenticate Domain.")


def test_each_rows_explorer_link_reproduces_its_cause():
    frame = triaged(
        record(dkim=[("mcsv.net", "pass")], spf=[("mcsv.net", "pass")]),
        record("news.example.com", dkim=[("example.com", "pass")]),
        record(dkim=[("example.com", "permerror")]),
        record(dkim=[("mcsv.net", "pass"), ("example.com", "pass")]),
        record(dkim=[("example.com", "fail")], spf=[("example.com", "hardfail")]),
        adkim="s",
    )
    for link, cause in zip(explorer_links(frame), frame["cause"], strict=True):
        scenario, problems = scenario_from_query(link)
        assert problems == [], link
        assert scenario.evaluate().diagnosis.cause == cause, link


def test_reports_concatenate_and_carry_their_policy():
    first = parse_reports(report(record(count=2), domain="example.com", report_id="a"))
    second = parse_reports(report(record("example.org", count=3), domain="example.org", p="reject", report_id="b"))
    frame = triage([*first, *second])
    assert frame["policy_domain"].tolist() == ["example.com", "example.org"]
    assert frame["p"].tolist() == ["none", "reject"]
    assert frame["report_id"].tolist() == ["a", "b"]


def test_no_records_gives_an_empty_frame_with_the_columns():
    frame = triage(parse_reports(report()))
    assert frame.empty and set(frame.columns) >= DESIGN_COLUMNS


def test_the_demo_has_every_table_row_and_root_cause_5():
    from dmarc_core.reports.reading import demo_files

    frame = triage([r for name, data in demo_files() for r in parse_reports(data, name)])
    assert set(frame["table_row"].dropna()) == {1, 2, 3, 4, 5}
    assert frame["enforced_before_fix"].any()
    assert {"Mailchimp", "Salesforce / Pardot", "Amazon SES", "HubSpot"} <= set(frame["sender"])


def test_a_mailing_list_message_in_a_real_report_is_forwarded_not_your_failed_signature(samples):
    # ietf.org's list re-sends a stalw.art message: its own DKIM and SPF pass, the author's DKIM fails.
    (report,) = parse_reports((samples / "aggregate" / "103.eml").read_bytes())
    frame = triage(report)
    listed = frame[frame["header_from"] == "stalw.art"]
    assert not listed.empty and set(listed["cause"]) == {"forwarded"}


def test_a_real_zoho_report_that_fails_aligned_dkim_and_spf_says_so(samples):
    # Zoho lists DKIM and SPF pass for example.com (aspf=r) and evaluates both as fail: row 5 of the
    # article's table, but not the several signatures it guesses (each record carries one).
    (report,) = read_file(samples / "aggregate" / "zoho.com!example.com!1581753600!1581840000.xml").reports
    frame = triage(report)
    both = frame[frame["spf"] == "example.com:pass"]
    assert len(both) == 6 and set(both["finding"]) == {"verdict_contradicts_results"}
    assert set(both["table_row"]) == {5} and both["disagrees"].all()
    # The records without an SPF domain (SPF none) keep the article's own reading of row 5.
    assert set(frame.loc[frame["spf"] != "example.com:pass", "finding"]) == {"dkim_pass_not_counted"}


def test_spf_counts_only_for_the_mail_from_identity():
    # RFC 9989 4.4.2: a pass for the HELO name is neither aligned SPF nor a reason to flag the receiver.
    helo = record(spf=[("example.com", "pass")], reported_spf="fail").replace("<scope>mfrom</scope>", "<scope>helo</scope>")
    frame = triaged(helo)
    assert not frame.loc[0, "spf_aligned"] and not frame.loc[0, "disagrees"] and not frame.loc[0, "dmarc_pass"]
    assert frame.loc[0, "auth_results"].spf[0].scope == "helo"
    assert scenario_from_query(explorer_links(frame)[0])[0].spf is None


def test_enforced_before_fix_only_where_dmarc_failed():
    # Root cause 5 is mail that failed DMARC, yet carried a passing DKIM result, and was quarantined or
    # rejected; a local_policy rejection of mail that passed DMARC is not it.
    failed = record(dkim=[("mcsv.net", "pass")], disposition="reject")
    passed_yet_rejected = record(
        dkim=[("example.com", "pass")], reported_dkim="pass", disposition="reject", reasons=["local_policy"]
    )
    quarantined = record(dkim=[("mcsv.net", "pass")], disposition="quarantine", reported_spf="pass")
    frame = triage(parse_reports(report(failed, passed_yet_rejected, quarantined)))
    assert frame["enforced_before_fix"].tolist() == [True, False, False]


def test_a_forwarded_record_is_forwarded_with_the_reason_beside_it():
    frame = triaged(record(dkim=[("mcsv.net", "pass")], reasons=["forwarded"]))
    assert (frame.loc[0, "cause"], frame.loc[0, "reason"]) == ("forwarded", "forwarded")
    assert "forwarded" in frame.loc[0, "explanation"]


def test_every_explorer_link_of_the_real_samples_reproduces_the_receivers_verdict_and_cause(samples):
    # A row's link carries the receiver's verdicts (reported_dkim, reported_spf) and reasons, so the
    # Explorer never shows "DMARC pass" for a row the receiver failed, nor another cause.
    reports = [report for path in sorted((samples / "aggregate").iterdir()) for report in read_file(path).reports]
    frame = triage(reports)
    rows = frame.assign(explorer_link=explorer_links(frame)).drop_duplicates("explorer_link")
    assert len(rows) > 900
    for link, dmarc_pass, finding in rows[["explorer_link", "dmarc_pass", "finding"]].itertuples(index=False):
        scenario, problems = scenario_from_query(link)
        evaluation = scenario.evaluate()
        assert (evaluation.dmarc_pass, evaluation.diagnosis.finding.key, problems) == (dmarc_pass, finding, []), link


def test_the_link_carries_the_spf_result_that_decides():
    # Of two MAIL FROM results, the pass for your organization is the one the Explorer must see.
    row = record(dkim=[("example.com", "fail")], spf=[("other.net", "fail"), ("example.com", "pass")])
    frame = triaged(row)
    linked = scenario_from_query(explorer_links(frame)[0])[0]
    assert linked.spf == ("example.com", "pass")
    assert linked.evaluate().diagnosis.finding.key == frame.loc[0, "finding"] == "signature_failed"


def test_reasons_are_read_without_their_white_space():
    row = record(dkim=[("example.com", "fail")], spf=[("example.com", "pass")], reasons=["local_policy"])
    document = report(row).replace(
        b"<type>local_policy</type>", b"<type>local_policy\n</type></reason><reason><type>\n forwarded\n</type>"
    )
    assert triage(parse_reports(document)).loc[0, "cause"] == "forwarded"


def test_a_dkim_pass_without_a_domain_is_no_reason_for_root_cause_5():
    document = report(record(dkim=[("", "pass")], disposition="quarantine")).replace(b"<domain></domain>", b"<domain> </domain>")
    assert not triage(parse_reports(document)).loc[0, "enforced_before_fix"]


def test_text_columns_write_separators_and_spaces_in_values_as_question_marks():
    # The link format separates entries with "," and fields with ":": a value never passes for two.
    row = record(dkim=[("a,b:c example.com", "pass"), ("example.com", "pass")], spf=[("x\u00a0y.example", "pass")])
    frame = triaged(row.replace("<selector>s1</selector>", "<selector>k:1, b</selector>", 1))
    assert frame.loc[0, "dkim"] == "a?b?c?example.com:pass,example.com:pass"
    assert frame.loc[0, "dkim_selectors"] == "k?1??b,s1"
    assert frame.loc[0, "spf"] == "x?y.example:pass"


def test_spf_domains_are_judged_as_reported_however_they_are_written():
    # The triage judges an SPF domain by whether it aligns with the From: domain; with a root dot, as
    # an address, in Unicode or as another organization's look-alike, each gets the rules' verdict.
    frame = triaged(
        record(spf=[("bounces.example.com.", "pass")]),
        record(spf=[("bounce@mail.example.com", "pass")]),
        record("xn--bcher-kva.example", spf=[("mail.bücher.example", "pass")]),
        record(spf=[("example.com.evil.net", "pass")]),
        record(dkim=[("example.com", "fail")], spf=[("notexample.com", "pass"), ("EXAMPLE.com", "temperror")]),
        record(dkim=[("example.com", "fail")], spf=[("other.example.net", "pass"), ("mail.example.com", "permerror")]),
    )
    assert frame["spf_aligned"].tolist() == [True, True, True, False, False, False]
    for row in frame.itertuples():
        verdict = judge_record(
            safe_domain(row.header_from),
            tuple((entry.domain, reported_result(entry.result, "dkim")) for entry in row.auth_results.dkim),
            tuple((entry.domain, entry.scope, reported_result(entry.result, "spf")) for entry in row.auth_results.spf),
            adkim="r",
            aspf="r",
            reported_dkim=row.reported_dkim,
            reported_spf=row.reported_spf,
        )
        assert (row.spf_aligned, row.dmarc_pass, row.disagrees, row.finding) == (
            verdict.spf_aligned,
            verdict.dmarc_pass,
            verdict.disagrees,
            verdict.diagnosis.finding.key,
        )


def test_a_real_signer_no_catalogue_knows_is_not_advised_set_up_unchecked():
    # A real report (SOURCES.md: addisonfoods.com): mail From: example.com, DKIM d=toptierhighticket.club
    # pass, no SPF. The root-cause-1 fix must not tell a newcomer to authorise a signer nobody vouched for.
    path = SAMPLES / "aggregate" / "addisonfoods.com!example.com!1536105600!1536191999.xml"
    frame = triage(parse_reports(path))
    row = frame[frame["dkim"].astype(str) == "toptierhighticket.club:pass"].iloc[0]
    assert (row["cause"], row["sender_kind"]) == ("wrong_domain", "unknown")
    assert row["fix"].startswith("Find out who signs as toptierhighticket.club: if it is a service you use")


def _sample_reports():
    files = [(path.name, path.read_bytes()) for path in sorted((SAMPLES / "aggregate").iterdir()) if path.is_file()]
    return [report for outcome in read_files(files) for report in outcome.reports]


def test_the_record_columns_are_arrows_own_conversion_to_pandas():
    # The triage converts the records' columns itself (the dictionaries as categoricals, unchecked):
    # equal, to the dtype and the categories' order, to Arrow's to_pandas, on every real report
    # alone and on all of them at once (a table of many chunks, whose dictionaries differ).
    reports = _sample_reports()
    for chosen in [*([one] for one in reports), reports]:
        table = records_of(chosen).drop_columns(["dkim", "spf"])
        expected = table.to_pandas(types_mapper=_ARROW_TEXT.get)
        found = pd.DataFrame(_record_columns(table))
        pd.testing.assert_frame_equal(found, expected, check_exact=True)
        for name in found.columns:
            if isinstance(found[name].dtype, pd.CategoricalDtype):
                assert found[name].cat.categories.equals(expected[name].cat.categories)
                assert found[name].cat.categories.dtype == expected[name].cat.categories.dtype


def test_the_unchecked_categoricals_equal_pandas_checked_ones():
    rng = np.random.default_rng(7)
    for size in (0, 1, 5, 300):
        categories = pd.Index([f"value {number}" for number in rng.permutation(size)], dtype="str")
        codes = rng.integers(-1, size, 1000) if size else np.full(10, -1)
        checked = pd.Categorical.from_codes(codes, categories=categories)
        assert _categorical(codes, categories).equals(checked)
        assert list(_categorical(codes, categories).categories) == list(checked.categories)


def test_the_source_column_is_the_categorical_pandas_would_make_of_its_text():
    # Categories sorted and of text, as astype("category") makes them: made here without its checks.
    source = triage(_sample_reports())["source"]
    expected = pd.Series(np.asarray(source, dtype=object), dtype=object).astype("category")
    pd.testing.assert_series_equal(source, expected, check_names=False)
    assert source.cat.categories.equals(expected.cat.categories) and source.cat.categories.dtype == expected.cat.categories.dtype


def test_a_categoricals_values_and_numbers_read_off_its_codes_are_pandas_own():
    rng = np.random.default_rng(11)
    values = pd.Categorical(rng.choice(np.array(["r", "s", None, "pass", "fail"], dtype=object), 500))
    rows = rng.integers(0, 500, 200)
    read, expected = _values_at(values, rows), values[rows].tolist()
    assert [value if isinstance(value, str) else "missing" for value in read] == [
        value if isinstance(value, str) else "missing" for value in expected
    ]
    assert all(isinstance(value, str) or np.isnan(value) for value in read)  # missing as NaN, as pandas gives it
    # Numbered alike: equal values equal numbers, and the missing ones one number of their own.
    numbers, reference = _codes_of(values), pd.factorize(values, use_na_sentinel=False)[0]
    assert (numbers >= 0).all()
    assert len(set(zip(numbers.tolist(), reference.tolist(), strict=True))) == len(set(reference.tolist()))
    assert np.array_equal(_codes_of(pd.Series(values)), numbers)
