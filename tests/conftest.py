"""Shared fixtures: where the real sample reports live, and DNS servers on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmarc_core import NAMESERVER_ENV, make_resolver

from localdns import SilentServer, ZoneServer
from mailzone import start_mail_dns

ROOT = Path(__file__).resolve().parents[1]


def _samples_dir() -> Path | None:
    # DMARC_SAMPLES wins; otherwise the workspace layout (../shared/samples), wherever the clone is.
    candidates = [os.environ.get("DMARC_SAMPLES"), ROOT.parent / "shared" / "samples", "/work/shared/samples"]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "aggregate").is_dir():
            return Path(candidate)
    return None


SAMPLES = _samples_dir()


@pytest.fixture(scope="session")
def samples() -> Path:
    if SAMPLES is None:
        message = "the shared samples folder was not found; set DMARC_SAMPLES to ../shared/samples"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SAMPLES


@pytest.fixture(scope="session")
def silent_dns():
    server = SilentServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def no_real_dns(silent_dns):
    """No test reaches a real DNS server: unless a test points it elsewhere, DNS (in this process
    and in the ones it starts) asks a loopback socket that never answers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NAMESERVER_ENV, silent_dns.address)
        yield


@pytest.fixture(scope="session")
def dns_server():
    """tests/zones/*.zone served on 127.0.0.1, UDP and TCP (see tests/localdns.py)."""
    server = ZoneServer().start()
    yield server
    server.stop()


@pytest.fixture
def resolver(dns_server):
    """A resolver asking the zone server, whose query log starts empty for each test."""
    dns_server.queries.clear()
    return make_resolver(dns_server.address)


@pytest.fixture(scope="session")
def mail_dns(tmp_path_factory):
    """Signers' keys, SPF and DMARC records on a loopback DNS server of their own (tests/mailzone.py)."""
    started = start_mail_dns(tmp_path_factory.mktemp("mail-zones"))
    yield started
    started.server.stop()
