"""The Explorer's URL format: short, readable, stable, and forgiving of bad links."""

from __future__ import annotations

from dmarc_core import Scenario, knowledge, scenario_from_params, scenario_from_query
from dmarc_core.rules.scenario import scenarios_by_table_row


def test_the_readme_example():
    scenario, problems = scenario_from_query(["/", "from=example.com&dkim=mail.example.com:pass&adkim=s"][1])
    assert problems == []
    assert scenario == Scenario("example.com", (("mail.example.com", "pass"),), None, "s", "r")
    assert scenario.evaluate().verdict == "DMARC fail"


def test_several_signatures_and_spf():
    scenario, _ = scenario_from_query("from=user@example.com&dkim=mcsv.net:pass,example.com:fail&spf=mcsv.net:pass")
    assert scenario.dkim == (("mcsv.net", "pass"), ("example.com", "fail"))
    assert scenario.spf == ("mcsv.net", "pass")


def test_round_trip_keeps_every_input_and_stays_readable():
    scenario = Scenario(
        "user@example.com",
        (("mcsv.net", "pass"), ("example.com", "permerror")),
        ("bounce.example.com", "softfail"),
        "s",
        "s",
        "fail",
        "pass",
        ("forwarded", "local_policy"),
    )
    query = scenario.query_string()
    assert query == (
        "from=user@example.com&dkim=mcsv.net:pass,example.com:permerror&spf=bounce.example.com:softfail"
        "&adkim=s&aspf=s&reported_dkim=fail&reported_spf=pass&reason=forwarded,local_policy"
    )
    assert scenario_from_query(query) == (scenario, [])


def test_defaults_are_left_out_of_links():
    assert Scenario("example.com", (("example.com", "pass"),)).to_params() == {"from": "example.com", "dkim": "example.com:pass"}


def test_a_signature_without_result_means_pass():
    assert scenario_from_query("from=example.com&dkim=example.com")[0].dkim == (("example.com", "pass"),)


def test_bad_values_become_messages_and_the_rest_still_loads():
    scenario, problems = scenario_from_params(
        {
            "from": "example.com",
            "dkim": "mcsv.net:pass,example.com:maybe",
            "adkim": "x",
            "reported_dkim": "perhaps",
            "reported_spf": "softly",
            "reason": "forwarded,gremlins",
            "utm_source": "mail",
        }
    )
    assert scenario.from_domain == "example.com" and scenario.dkim == (("mcsv.net", "pass"),)
    assert scenario.adkim == "r" and scenario.reported_dkim is None and scenario.reported_spf is None
    assert scenario.reasons == ("forwarded",)
    assert len(problems) == 6 and any("reason=gremlins" in p for p in problems)
    assert any("example.com:maybe" in p for p in problems) and any("adkim=x" in p for p in problems)
    assert any("utm_source" in p for p in problems)


def test_streamlit_style_list_values_are_accepted():
    scenario, _ = scenario_from_params({"from": ["a.example", "example.com"], "dkim": ["example.com:pass"]})
    assert scenario.from_domain == "example.com"


def test_every_row_of_the_diagnosis_table_has_a_scenario_that_lands_on_it():
    rows = scenarios_by_table_row()
    assert sorted(rows) == [entry.row for entry in knowledge().diagnosis_table]
    for row, key in rows.items():
        scenario, _ = scenario_from_query(knowledge().scenario(key).query)
        assert scenario.evaluate().diagnosis.table_row == row


def test_a_link_with_thousands_of_signatures_keeps_a_few_and_says_so():
    # Issue 14: a link with 2,000 dkim= entries took 39 s to draw.
    scenario, problems = scenario_from_query("from=example.com&dkim=" + ",".join(f"d{n}.example:pass" for n in range(2000)))
    assert len(scenario.dkim) == 10 and problems == ["dkim= lists 2000 signatures; the first 10 were kept."]
