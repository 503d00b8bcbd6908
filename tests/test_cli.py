"""The command line: each command's output and exit status through ``main(argv)`` in this process,
and ``python -m dmarc_core`` run as a user runs it, to prove the entry point end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from dmarc_core import NAMESERVER_ENV
from dmarc_core._cli import main, terminal_safe

from conftest import ROOT
from reportkit import record, report


@dataclass
class Run:
    """What a run of the command line left: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """``cli("align", ...)`` runs ``main`` with those arguments, as ``python -m dmarc_core`` does."""

    def run(*args: str) -> Run:
        capsys.readouterr()  # what earlier runs printed is theirs
        try:
            status = main(list(args))
        except SystemExit as exit:  # argparse's own errors and --help end this way
            status = exit.code
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return run


def python_m(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dmarc_core", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_python_m_dmarc_core_prints_the_answer_and_exits_with_its_status():
    strict = python_m("align", "user@example.com", "mail.example.com", "--mode", "s")
    assert strict.returncode == 1
    assert "Aligned:  no" in strict.stdout and "but adkim=s requires them to be identical" in strict.stdout
    bad = python_m("align", "exa mple.com", "example.com")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:") and "Traceback" not in bad.stderr and bad.stdout == ""


def test_align_relaxed_and_strict(cli):
    relaxed = cli("align", "user@example.com", "mail.example.com", "--mode", "r")
    assert relaxed.returncode == 0 and "Aligned:  yes" in relaxed.stdout
    strict = cli("align", "user@example.com", "mail.example.com", "--mode", "s")
    assert strict.returncode == 1
    assert "but adkim=s requires them to be identical" in strict.stdout


def test_align_json(cli):
    result = json.loads(cli("align", "user@example.com", "mailchimp.com", "--json").stdout)
    assert result["aligned"] is False
    assert result["from_organizational_domain"] == "example.com"


def test_bad_input_is_a_message_and_status_2(cli):
    result = cli("align", "exa mple.com", "example.com")
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_evaluate_the_faq_case(cli):
    result = cli("evaluate", "user@example.com", "--dkim", "mailchimp.com:pass", "--spf", "mcsv.net:pass", "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 1
    assert (data["verdict"], data["cause"], data["table_row"]) == ("DMARC fail", "wrong_domain", 1)
    assert data["link"] == "/?from=user@example.com&dkim=mailchimp.com:pass&spf=mcsv.net:pass"


def test_evaluate_reproduces_a_receivers_reported_dkim(cli):
    result = cli(
        "evaluate",
        "user@example.com",
        "--dkim",
        "mcsv.net:pass",
        "--dkim",
        "example.com:pass",
        "--reported-dkim",
        "fail",
        "--json",
    )
    data = json.loads(result.stdout)
    assert result.returncode == 1 and (data["cause"], data["table_row"]) == ("multiple_signatures", 5)
    assert data["link"].endswith("&reported_dkim=fail")


def test_triage_table_csv_and_json(cli, samples):
    nice = str(samples / "aggregate" / "nice-input.xml.gz")
    table = cli("triage", nice)
    assert table.returncode == 0
    assert "3,047 messages in 20 records of 1 report;" in table.stdout
    assert "nice-input.xml.gz: read, 20 records, 3,047 messages" in table.stderr
    assert "<NA>" not in table.stdout and "nan" not in table.stdout.split()  # a missing table row prints as a blank
    csv_out = cli("triage", nice, "--format", "csv")
    assert csv_out.stdout.startswith("file,org_name,report_id") and len(csv_out.stdout.strip().splitlines()) == 21
    data = json.loads(cli("triage", nice, "--format", "json").stdout)
    assert data["headline"]["messages"] == 3047 and len(data["records"]) == 20
    assert {"cause", "table_row", "dmarc_pass", "enforced_before_fix"} <= set(data["records"][0])
    assert data["headline"]["begin"].startswith("2") and data["headline"]["end"].startswith("2")
    # Placeholder dates (1979) are ignored: no date is null in JSON, not the text "NaT".
    undated = json.loads(cli("triage", str(samples / "aggregate" / "rfc9990-sample.xml"), "--format", "json").stdout)
    assert undated["headline"]["begin"] is None and undated["headline"]["end"] is None


def test_triage_reports_refused_files_and_keeps_the_good_ones(cli, samples):
    result = cli("triage", str(samples / "aggregate" / "plain.txt"), str(samples / "aggregate" / "test.xml"))
    assert result.returncode == 1
    assert "plain.txt: refused" in result.stderr and "is not XML" in result.stderr
    assert "7 messages in 2 records" in result.stdout
    nothing = cli("triage", str(samples / "aggregate" / "plain.txt"))
    assert nothing.returncode == 2 and "none of the files holds a readable" in nothing.stderr
    missing = cli("triage", "/nonexistent/report.xml")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_check_json_against_a_local_dns_server(cli, dns_server):
    result = cli("check", "news.example.com", "--selector", "k1", "--nameserver", dns_server.address, "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 0
    assert (data["dmarc"]["status"], data["dmarc"]["found_at"]) == ("found", "_dmarc.example.com")
    assert data["organizational_domain"]["psl"] == data["organizational_domain"]["tree_walk"] == "example.com"
    assert data["dkim"][0]["selector"] == "k1"


def test_check_text_is_a_readable_table(cli, dns_server):
    result = cli("check", "example.com", "--selector", "k1,old", "--selector", "nokey", "--nameserver", dns_server.address)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "DMARC:                    found at _dmarc.example.com" in lines
    assert any(line.startswith("DKIM k1:") and "A usable rsa key" in line for line in lines)
    assert any(line.startswith("DKIM nokey:") and "NXDOMAIN" in line for line in lines)
    assert "[root cause 4] DKIM key old is revoked" in lines


def test_check_without_a_usable_record_exits_1(cli, dns_server, silent_dns):
    assert cli("check", "nothing.example", "--nameserver", dns_server.address).returncode == 1
    unreachable = cli("check", "example.com", "--nameserver", silent_dns.address, "--json")
    assert unreachable.returncode == 1 and json.loads(unreachable.stdout)["dmarc"]["status"] == "timeout"


def test_check_asks_the_server_named_in_the_environment(cli, dns_server, monkeypatch):
    monkeypatch.setenv(NAMESERVER_ENV, dns_server.address)
    dns_server.queries.clear()
    result = cli("check", "news.example.com", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["dmarc"]["found_at"] == "_dmarc.example.com"
    assert "_dmarc.news.example.com" in dns_server.names()


def test_check_bad_input_exits_2(cli):
    for args in (["exa mple.com"], ["example.com", "--nameserver", "localhost"], ["example.com", "--selector", "s_1"]):
        result = cli("check", *args)
        assert result.returncode == 2 and result.stderr.startswith("error:")


def test_a_bad_result_is_an_error_that_says_what_is_wrong(cli):
    result = cli("evaluate", "example.com", "--dkim", "example.com:bogus")
    assert result.returncode == 2
    assert result.stderr.startswith("error: dkim=example.com:bogus: 'bogus' is not a DKIM result")
    assert "ignored" not in result.stderr


def test_control_characters_from_a_report_never_reach_the_terminal(cli, tmp_path):
    # An escape sequence in a report (here: retitle the terminal window) is shown, not acted on.
    path = tmp_path / "evil.xml"
    path.write_bytes(report(record(count=1, source_ip="192.0.2.1&#x1b;]0;pwned&#x7;")).replace(b"&amp;#x", b"&#x"))
    result = cli("triage", str(path))
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout + result.stderr
    assert terminal_safe("a\x1b]0;t\x07b\tc\n") == "a\\x1b]0;t\\x07b\tc\n"
    assert terminal_safe("moc.elpmaxe\u202e is") == "moc.elpmaxe\\u202e is"  # a bidi override turns no text around


def test_triage_points_failure_reports_to_the_message_check_and_does_not_count_them_refused(cli, samples):
    # Issue 12: a failure report is one message for the message check, not a refused file.
    failure = str(samples / "forensic" / "[Netease DMARC Failure Report] Rent Reminder.eml")
    aggregate = str(samples / "aggregate" / "test.xml")
    result = cli("triage", failure, aggregate)
    assert result.returncode == 0
    assert (
        "[Netease DMARC Failure Report] Rent Reminder.eml: a failure report (one message); check it with: "
        f"python -m dmarc_core message '{failure}'" in result.stderr.splitlines()
    )
    assert "7 messages in 2 records" in result.stdout
    files = json.loads(cli("triage", failure, aggregate, "--format", "json").stdout)["files"]
    assert [file["status"] for file in files] == ["failure_report", "read"]
    # An abuse report (ARF, Feedback-Type: abuse) is still refused: exit status 1.
    abuse = cli("triage", str(samples / "forensic" / "001.eml"), aggregate)
    assert abuse.returncode == 1 and "001.eml: refused" in abuse.stderr
    # Failure reports alone leave no aggregate report to triage.
    alone = cli("triage", failure)
    assert alone.returncode == 2 and "none of the files holds a readable DMARC aggregate report" in alone.stderr
    assert "check it with: python -m dmarc_core message" in alone.stderr
