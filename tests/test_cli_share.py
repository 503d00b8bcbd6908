"""``python -m dmarc_core triage FILES --format html|link``: the shared triage of issue 16 from the
command line, the same the page makes."""

from __future__ import annotations

import pytest

from dmarc_core import read_file, triage
from dmarc_core._cli import main
from dmarc_core.analysis import summary
from dmarc_core.analysis.share import decode

SAMPLES = ["nice-input.xml.gz", "ikea.com!example.de!1538690400!1538776800.xml"]


@pytest.fixture
def cli(capsys):
    """``cli(...)`` runs ``main`` with those arguments: its exit status, stdout and stderr."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def files(samples) -> list[str]:
    return [str(samples / "aggregate" / name) for name in SAMPLES]


def test_html_prints_one_self_contained_document(cli, files):
    status, html, messages = cli("triage", *files, "--format", "html")
    assert status == 0
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<strong>3,048</strong>" in html  # the messages of both reports
    assert "<script" not in html.lower() and "Content-Security-Policy" in html
    assert "nice-input.xml.gz: read" in messages  # the files' statuses stay on stderr


def test_link_prints_the_apps_link_to_the_same_figures(cli, files):
    status, out, _ = cli("triage", *files, "--format", "link", "--app-url", "https://dmarc.example.org/")
    assert status == 0
    link = out.strip()
    assert link.startswith("https://dmarc.example.org/triage?share=1.")
    shared = decode(link.split("?share=", 1)[1])
    frame = triage([report for path in files for report in read_file(path).reports])
    assert shared.headline == summary.headline(frame)
    assert [row.source for row in shared.sources] == summary.by_source(frame)["source"].tolist()


def test_addresses_can_be_left_out(cli, files):
    kept = cli("triage", *files, "--format", "html")[1]
    left_out = cli("triage", *files, "--format", "html", "--leave-out-addresses")[1]
    assert "209.85.220.69" in kept and "209.85.220.69" not in left_out
    assert "Source IPs and host names were left out." in left_out
    link = cli("triage", *files, "--format", "link", "--leave-out-addresses")[1].strip()
    assert link.startswith("/triage?share=1.") and decode(link.split("?share=", 1)[1]).addresses_left_out
