"""The command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dmarc_core", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_align_relaxed_and_strict():
    relaxed = cli("align", "user@example.com", "mail.example.com", "--mode", "r")
    assert relaxed.returncode == 0 and "Aligned:  yes" in relaxed.stdout
    strict = cli("align", "user@example.com", "mail.example.com", "--mode", "s")
    assert strict.returncode == 1
    assert "but adkim=s requires them to be identical" in strict.stdout


def test_align_json():
    result = json.loads(cli("align", "user@example.com", "mailchimp.com", "--json").stdout)
    assert result["aligned"] is False
    assert result["from_organizational_domain"] == "example.com"


def test_bad_input_is_a_message_and_status_2():
    result = cli("align", "exa mple.com", "example.com")
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_evaluate_the_faq_case():
    result = cli("evaluate", "user@example.com", "--dkim", "mailchimp.com:pass", "--spf", "mcsv.net:pass", "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 1
    assert (data["verdict"], data["cause"], data["table_row"]) == ("DMARC fail", "wrong_domain", 1)
    assert data["link"] == "/?from=user@example.com&dkim=mailchimp.com:pass&spf=mcsv.net:pass"
