"""Fetching the report mailbox, against a real Dovecot on loopback (tests/imapserver.py), with
mail built from the real samples: every report once however often the fetch runs or the
connection drops, non-report mail skipped with its reason and remembered, the archive folder,
TLS, STARTTLS, XOAUTH2, and IDLE.

What a fetch adds is compared with what the ingest of the same messages as files adds: the
issue asks that a report e-mail be read as an upload is."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from imapserver import PASSWORD, ImapServer, plain_mail, report_mail, token

from dmarc_core._cli import main
from dmarc_core.history import mailbox as mailbox_module
from dmarc_core.history.ingest import ingest_files
from dmarc_core.history.mailbox import BATCH_SIZE, RECONNECTS, Mailbox, MailboxError, fetch
from dmarc_core.history.store import Store
from dmarc_core.reports.reading import read_file

WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def imap():
    server = ImapServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def report_files(samples) -> list[tuple[str, bytes]]:
    """The aggregate report samples (.xml, .gz, .zip) that hold a report, as a receiver attaches them."""
    found = []
    for path in sorted((samples / "aggregate").iterdir()):
        if path.suffix in (".eml", ".txt") or path.stat().st_size > 1 << 20:
            continue
        data = path.read_bytes()
        if read_file(data, path.name).reports:
            found.append((path.name, data))
    return found


def report_mails(report_files, samples, count: int) -> list[bytes]:
    """``count`` report mails: the samples attached, the real report e-mails as they came, then
    copies of plain-XML samples under a new report id, each a report the store has not seen."""
    mails = [report_mail(name, data) for name, data in report_files]
    mails += [path.read_bytes() for path in sorted((samples / "aggregate").glob("*.eml"))]
    plain = [(name, data) for name, data in report_files if name.endswith(".xml") and data.count(b"<report_id>") == 1]
    copy = 0
    while len(mails) < count:
        name, data = plain[copy % len(plain)]
        renamed = re.sub(rb"<report_id>\s*(.*?)\s*</report_id>", rb"<report_id>\1-copy-%d</report_id>" % copy, data)
        mails.append(report_mail(f"copy-{copy}-{name}", renamed))
        copy += 1
    return mails[:count]


def deliver_all(account, mails: list[bytes]) -> None:
    for mail in mails:
        account.deliver(mail)


def mailbox(imap: ImapServer, account, **settings) -> Mailbox:
    """The account on the plain loopback port, unless ``settings`` say otherwise."""
    chosen = {"port": imap.imap_port, "security": "plain", "password": PASSWORD, **settings}
    return Mailbox("127.0.0.1", account.name, **chosen)


def reference(tmp_path: Path, mails: list[bytes]) -> Store:
    """The same messages ingested as files: what the fetch must add."""
    store = Store(tmp_path / "reference.duckdb")
    ingest_files(store, [(f"message {n}.eml", mail) for n, mail in enumerate(mails)])
    return store


def contents(store: Store) -> list[tuple]:
    """Each report with its record count and summed message count, in a fixed order."""
    return store.connection.execute(
        """SELECT org_name, report_id, policy_domain, "begin", "end", record_count, message_count,
                  (SELECT coalesce(sum(count), 0) FROM records WHERE records.report_key = reports.report_key)
           FROM reports ORDER BY ALL"""
    ).fetchall()


def remembered(store: Store) -> list[tuple]:
    return store.connection.execute("SELECT uid, outcome FROM mailbox_messages ORDER BY uid").fetchall()


def test_500_report_mails_are_fetched_once_however_often_the_fetch_runs(imap, report_files, samples, tmp_path):
    account = imap.account("five-hundred")
    mails = report_mails(report_files, samples, 500)
    deliver_all(account, mails)
    copies = sum(b"-copy-" in mail for mail in mails)
    with Store(tmp_path / "history.duckdb") as store, reference(tmp_path, mails) as expected:
        started = time.perf_counter()
        summary = fetch(store, mailbox(imap, account))
        seconds = time.perf_counter() - started
        print(f"\nfetched {summary.messages} mails in {seconds:.1f} s: {summary.line}")
        assert summary.messages == 500
        assert contents(store) == contents(expected)
        assert summary.reports_added == len(contents(expected))
        # Every renamed copy is a report of its own: all of them are in.
        held = {row[1] for row in contents(store)}
        assert sum(report_id.endswith(f"-copy-{n}") for n in range(copies) for report_id in held) >= copies
        assert len(remembered(store)) == 500
        # Nothing was marked read: no message file carries the Seen flag (":2,S").
        assert not [path for path in account.files() if re.search(r":2,[A-Z]*S", path.name)]

        again = fetch(store, mailbox(imap, account))
        assert (again.messages, again.reports_added) == (0, 0)
        assert contents(store) == contents(expected)

        # Were the UIDs forgotten (a lost table, a new UIDVALIDITY), the store still knows every report.
        store.connection.execute("DELETE FROM mailbox_messages")
        forgot = fetch(store, mailbox(imap, account))
        assert (forgot.messages, forgot.reports_added) == (500, 0)
        assert forgot.already_held == summary.reports_added + summary.already_held
        assert contents(store) == contents(expected)


@pytest.mark.parametrize("archive", ["", "Archive"], ids=["uids-remembered", "archive-folder"])
def test_a_connection_killed_mid_fetch_is_resumed_and_each_report_is_added_once(imap, report_files, samples, tmp_path, archive):
    account = imap.account("killed")
    mails = report_mails(report_files, samples, 3 * BATCH_SIZE)
    deliver_all(account, mails)
    killed = []

    def kill_after_first_batch(done, total, outcome):
        # The first batch is fetched and being added: the server process dies under the client, so
        # the next command (the next FETCH, or the MOVE of this batch) finds the connection gone.
        if done == BATCH_SIZE and not killed:
            killed.append(imap.kill_sessions(account.name))

    with Store(tmp_path / "history.duckdb") as store, reference(tmp_path, mails) as expected:
        summary = fetch(store, mailbox(imap, account, archive=archive), kill_after_first_batch)
        assert killed == [1]
        assert summary.reconnects >= 1
        assert summary.messages == len(mails)
        assert contents(store) == contents(expected)
        assert [uid for uid, _ in remembered(store)] == list(range(1, len(mails) + 1))
        if archive:
            assert account.files() == []
            assert len(account.files(archive)) == len(mails)
        assert fetch(store, mailbox(imap, account, archive=archive)).messages == 0


def test_reconnecting_gives_up_when_the_server_stays_away(report_files, tmp_path, monkeypatch):
    monkeypatch.setattr(mailbox_module, "FIRST_PAUSE_SECONDS", 0.01)  # the pauses, not their count, are shortened
    server = ImapServer.start()  # its own server: this test stops it
    try:
        account = server.account("gone")
        deliver_all(account, [report_mail(name, data) for name, data in report_files[: BATCH_SIZE + 1]])
        read = []

        def stop_the_server(done, total, outcome):
            read.append(outcome)
            if done == BATCH_SIZE:
                server.stop()

        with Store(tmp_path / "history.duckdb") as store:
            with pytest.raises(MailboxError, match=f"could not be resumed in {RECONNECTS} tries .*Cannot reach") as lost:
                fetch(store, mailbox(server, account), stop_the_server)
            assert f"{BATCH_SIZE} new messages" in str(lost.value)
            # What was read before the server went is kept.
            assert len(remembered(store)) == len(read) == BATCH_SIZE
    finally:
        server.stop()


def test_mail_that_is_no_aggregate_report_is_skipped_with_its_reason_and_remembered(imap, report_files, samples, tmp_path):
    account = imap.account("mixed")
    others = [
        plain_mail("Lunch on Friday?", "Shall we meet at noon?\n"),
        plain_mail("Your invoice", "Attached is nothing at all.\n"),
        (samples / "forensic" / "arf-18.eml").read_bytes(),
        (samples / "smtp_tls" / "rpt01.eml").read_bytes(),
    ]
    deliver_all(account, [report_mail(*report_files[0]), *others])
    lines = []
    with Store(tmp_path / "history.duckdb") as store:
        summary = fetch(store, mailbox(imap, account), lambda done, total, outcome: lines.append(outcome.line))
        assert (summary.messages, summary.reports_added, summary.skipped) == (5, 1, 4)
        assert any("Lunch on Friday?" in line and "no DMARC report attached" in line for line in lines)
        assert any("failure (forensic) report" in line for line in lines)
        outcomes = [outcome for _, outcome in remembered(store)]
        assert len(outcomes) == 5
        assert sorted(outcomes) == sorted(lines)
        # Remembered: the next run asks for none of them again.
        assert fetch(store, mailbox(imap, account)).messages == 0


def test_the_archive_folder_is_made_and_read_mail_is_moved_there_marked_read(imap, report_files, tmp_path):
    account = imap.account("archived")
    deliver_all(account, [report_mail(*report_files[1]), report_mail(*report_files[2]), plain_mail("Hello", "Hi.\n")])
    with Store(tmp_path / "history.duckdb") as store:
        summary = fetch(store, mailbox(imap, account, archive="Reports.Done"))  # Dovecot's Maildir++ hierarchy: "."
        assert (summary.messages, summary.archived) == (3, 3)
        assert account.files() == []
        moved = account.files("Reports.Done")
        assert len(moved) == 3
        assert all(re.search(r":2,[A-Z]*S", path.name) for path in moved)
        account.deliver(report_mail(*report_files[3]))
        later = fetch(store, mailbox(imap, account, archive="Reports.Done"))
        assert (later.messages, later.reports_added, later.archived) == (1, 1, 1)
        with pytest.raises(MailboxError, match=r"Cannot create the archive folder Reports/Done: .*'/'"):
            fetch(store, mailbox(imap, account, archive="Reports/Done"))


def test_a_wrong_password_is_refused_with_the_servers_reason(imap, tmp_path):
    account = imap.account("wrong-password")
    with Store(tmp_path / "history.duckdb") as store, pytest.raises(MailboxError) as refused:
        fetch(store, mailbox(imap, account, password="not the password"))
    assert f"refused the login for user {account.name} with a password" in str(refused.value)
    assert "Authentication failed" in str(refused.value)


def test_an_unreachable_server_says_so(tmp_path):
    with Store(tmp_path / "history.duckdb") as store, pytest.raises(MailboxError, match=r"Cannot reach 127\.0\.0\.1:9: "):
        fetch(store, Mailbox("127.0.0.1", "anyone", password="x", port=9, security="plain"))


def test_plain_imap_is_refused_to_any_host_but_loopback():
    with pytest.raises(MailboxError, match=r"Refusing to send the login for me to imap\.example\.com unencrypted"):
        Mailbox("imap.example.com", "me", password="x", security="plain")
    assert Mailbox("::1", "me", password="x", security="plain").address == "::1:143"


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_with_the_servers_ca(imap, report_files, tmp_path, security):
    account = imap.account(security)
    account.deliver(report_mail(*report_files[0]))
    port = imap.imaps_port if security == "tls" else imap.imap_port
    with Store(tmp_path / "history.duckdb") as store:
        trusted = mailbox(imap, account, security=security, port=port, ca_file=str(imap.root / "ca.pem"))
        assert fetch(store, trusted).reports_added == 1
        untrusted = mailbox(imap, account, security=security, port=port)
        with pytest.raises(MailboxError, match=r"certificate is not trusted by the system's certificate authorities"):
            fetch(store, untrusted)


def test_a_ca_file_that_cannot_be_read_says_so(imap, tmp_path):
    account = imap.account("no-ca")
    with Store(tmp_path / "history.duckdb") as store, pytest.raises(MailboxError, match=r"The CA file .* cannot be read"):
        fetch(store, mailbox(imap, account, security="tls", port=imap.imaps_port, ca_file=str(tmp_path / "missing.pem")))


def test_implicit_tls_on_the_plain_port_says_which_port_to_use(imap, tmp_path):
    account = imap.account("wrong-port")
    with Store(tmp_path / "history.duckdb") as store, pytest.raises(MailboxError, match="For port 143, use STARTTLS"):
        fetch(store, mailbox(imap, account, security="tls", ca_file=str(imap.root / "ca.pem")))


def test_an_oauth2_bearer_token_signs_in_with_xoauth2(imap, report_files, tmp_path):
    account = imap.account("oauth")
    account.deliver(report_mail(*report_files[0]))
    with Store(tmp_path / "history.duckdb") as store:
        assert fetch(store, mailbox(imap, account, password="", oauth2_token=token(account.name))).reports_added == 1
        forged = token(account.name, key=b"someone else's key")
        with pytest.raises(MailboxError, match=f"refused the login for user {account.name} with an OAuth2 token"):
            fetch(store, mailbox(imap, account, password="", oauth2_token=forged))


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {WAIT_SECONDS} s")
        time.sleep(0.05)


def test_watch_reads_mail_delivered_while_it_idles_and_leaves_the_file_readable(imap, report_files, tmp_path):
    account = imap.account("watch")
    account.deliver(report_mail(*report_files[0]))
    path = tmp_path / "history.duckdb"
    seen, stop, ended = [], threading.Event(), []
    watcher = threading.Thread(
        target=lambda: ended.append(
            fetch(path, mailbox(imap, account), lambda d, t, outcome: seen.append(outcome), watch=True, stop=stop)
        )
    )
    watcher.start()
    try:
        for delivered, (name, data) in enumerate(report_files[1:3], 2):
            wait_until(lambda: imap.idling(account.name), "the watch's IDLE")
            # While the watch waits, the file is not held: the History page can open it to read.
            with Store(path, read_only=True) as reader:
                assert len(contents(reader)) == delivered - 1
            account.deliver(report_mail(name, data))
            wait_until(lambda n=delivered: len(seen) == n, f"reading message {delivered}")
    finally:
        stop.set()
        watcher.join(WAIT_SECONDS)
    assert not watcher.is_alive()
    assert [outcome.status for outcome in seen] == ["added"] * 3
    assert ended[0].messages == 3
    with Store(path, read_only=True) as store:
        assert len(contents(store)) == 3


def test_the_fetch_command(imap, report_files, tmp_path, capsys, monkeypatch):
    account = imap.account("cli")
    deliver_all(account, [report_mail(*report_files[0]), plain_mail("Hello", "Hi.\n")])
    monkeypatch.setenv("REPORTS_PASSWORD", PASSWORD)
    store = str(tmp_path / "history.duckdb")
    common = ["fetch", "--store", store, "--host", "127.0.0.1", "--port", str(imap.imap_port), "--user", account.name, "--plain"]
    assert main([*common, "--password-env", "REPORTS_PASSWORD"]) == 0
    out, err = capsys.readouterr()
    assert "2 new messages, 1 report added" in out
    assert len(err.splitlines()) == 2
    assert "[1/2] INBOX UID 1 (" in err

    monkeypatch.setenv("REPORTS_PASSWORD", "wrong")
    assert main([*common, "--password-env", "REPORTS_PASSWORD"]) == 2
    assert f"error: The server refused the login for user {account.name}" in capsys.readouterr().err
    monkeypatch.delenv("REPORTS_PASSWORD")
    assert main([*common, "--password-env", "REPORTS_PASSWORD"]) == 2
    assert "$REPORTS_PASSWORD is empty or not set" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a password on the command line is no option
        main([*common, "--password", PASSWORD])
