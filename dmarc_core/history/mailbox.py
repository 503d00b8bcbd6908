"""Report mail into the history file: the reports receivers mail to the ``rua`` address, fetched
over IMAP and read by the same reader as uploads.

A batch of messages is added, and their UIDs remembered in ``mailbox_messages``, in one store
transaction: a crash between the two cannot add a report twice (and were a message read again, the store
knows its reports by their identity). Messages are fetched with ``BODY.PEEK[]``, so nothing is
marked read; with an archive folder, what was read is marked read and moved there. A dropped
connection is opened again, a bounded number of times in a row with a growing pause, and the
fetch goes on where it was. ``watch`` then waits in IDLE (RFC 2177) for new mail.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import imaplib
import ipaddress
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import imapclient
from imapclient.exceptions import LoginError

from ..reports.reading import read_files
from ..rules.wording import counted
from .ingest import IngestOutcome, ingest_outcomes
from .store import Store, opened

Security = Literal["tls", "starttls", "plain"]
DEFAULT_PORTS: dict[str, int] = {"tls": 993, "starttls": 143, "plain": 143}
#: Messages asked for in one FETCH: 500 small report mails in ten round trips.
BATCH_SIZE = 50
#: Dropped connections in a row, with no message fetched in between, before the fetch gives up.
RECONNECTS = 5
FIRST_PAUSE_SECONDS = 0.5
#: RFC 2177: a client re-issues IDLE at least every 29 minutes, before servers log it out.
IDLE_RENEW_SECONDS = 25 * 60
#: How often a waiting IDLE looks at ``stop``.
IDLE_POLL_SECONDS = 1.0
SUBJECT_CHARACTERS = 80

#: The connection went away: worth opening it again (timeouts and resets are OSErrors too).
_DROPPED = (OSError, imaplib.IMAP4.abort)


class MailboxError(ValueError):
    """The mailbox cannot be read, with the reason for a person."""


@dataclass(frozen=True)
class Mailbox:
    """Where the reports arrive and how to sign in: a password or an OAuth2 bearer token (XOAUTH2,
    what Microsoft 365 and Gmail require). ``security``: ``tls`` (implicit TLS, port 993),
    ``starttls`` (port 143), or ``plain``, allowed only to a loopback address. ``ca_file`` trusts
    a certificate authority of one's own instead of the system's. With an ``archive`` folder,
    fetched messages are moved there (it is created if missing)."""

    host: str
    user: str
    password: str = field(default="", repr=False)
    oauth2_token: str = field(default="", repr=False)
    port: int | None = None
    folder: str = "INBOX"
    archive: str = ""
    security: Security = "tls"
    ca_file: str | None = None
    timeout_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.security not in DEFAULT_PORTS:
            raise MailboxError(f"Unknown connection security {self.security!r}: use tls, starttls or plain.")
        if self.security == "plain" and not _loopback(self.host):
            raise MailboxError(
                f"Refusing to send the login for {self.user} to {self.host} unencrypted: plain IMAP is allowed only to a "
                "loopback address (127.0.0.1, ::1, localhost). Use TLS (port 993) or STARTTLS."
            )
        if bool(self.password) == bool(self.oauth2_token):
            which = "not both" if self.password else "none was given"
            raise MailboxError(f"Sign in to {self.host} as {self.user} with a password or an OAuth2 token: {which}.")
        if self.archive and self.archive == self.folder:
            raise MailboxError(f"The archive folder must differ from the folder read ({self.folder}).")

    @property
    def identity(self) -> str:
        """How the store names this mailbox: ``user@host``."""
        return f"{self.user}@{self.host}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port or DEFAULT_PORTS[self.security]}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FetchSummary:
    """What a fetch did: messages read, the reports and records they added, those the store held
    already, messages that held no aggregate report (skipped, with the reader's reason in each
    message's outcome), messages archived, and connections opened again."""

    mailbox: str
    folder: str
    messages: int = 0
    reports_added: int = 0
    records_added: int = 0
    already_held: int = 0
    skipped: int = 0
    archived: int = 0
    reconnects: int = 0

    @property
    def line(self) -> str:
        """One line for a person."""
        parts = [
            f"{self.mailbox} {self.folder}: {counted(self.messages, 'new message')}",
            f"{counted(self.reports_added, 'report')} added ({counted(self.records_added, 'record')})",
            f"{self.already_held} already held",
            f"{self.skipped} skipped (no aggregate report)",
        ]
        if self.archived:
            parts.append(f"{self.archived} moved to the archive")
        if self.reconnects:
            parts.append(counted(self.reconnects, "reconnect"))
        return ", ".join(parts)


@dataclass
class _Tally:
    """The summary so far, as the fetch goes on."""

    summary: FetchSummary

    def add(self, **counts: int) -> None:
        self.summary = replace(self.summary, **{name: getattr(self.summary, name) + n for name, n in counts.items()})

    def count(self, outcome: IngestOutcome) -> None:
        skipped = outcome.status in ("refused", "failure_report")
        self.add(
            messages=1, reports_added=outcome.added, records_added=outcome.records, already_held=outcome.already_held,
            skipped=int(skipped),
        )  # fmt: skip


def fetch(
    store: Store | str | os.PathLike,
    mailbox: Mailbox,
    progress: Callable[[int, int, IngestOutcome], None] | None = None,
    *,
    watch: bool = False,
    stop: threading.Event | None = None,
) -> FetchSummary:
    """Read every message of ``mailbox``'s folder not read before into ``store`` (an open store,
    or the path of one, then opened only while a batch is added: what a long ``watch`` wants).
    ``progress(done, total, outcome)`` follows each message. With ``watch``, then wait for new
    mail and read it as it comes, until ``stop`` is set. ``MailboxError`` when the server cannot
    be reached, refuses the login, or the connection drops again and again."""
    stop = stop or threading.Event()
    tally = _Tally(FetchSummary(mailbox.identity, mailbox.folder))
    client = _connect(mailbox)  # a failure here is a setting to fix: said at once, never retried
    failures = 0
    while client is not None:
        read_before = tally.summary.messages
        try:
            with _Session(client, store, mailbox, tally, progress) as session:
                session.catch_up(stop)
                while watch and session.wait_for_mail(stop):
                    session.catch_up(stop)
            break
        except _DROPPED as dropped:
            failures = 1 if tally.summary.messages > read_before else failures + 1
            client = _reconnect(mailbox, tally, failures, dropped, stop)
        except imaplib.IMAP4.error as refused:
            raise MailboxError(f"{mailbox.address} refused a command in {mailbox.folder}: {_reason(refused)}") from None
    return tally.summary


def _reconnect(
    mailbox: Mailbox, tally: _Tally, failures: int, dropped: BaseException, stop: threading.Event
) -> imapclient.IMAPClient | None:
    """A new connection after a pause that doubles with each failure in a row (the server may be
    restarting); None when ``stop`` is set meanwhile."""
    reason = _reason(dropped)
    while failures <= RECONNECTS:
        if stop.wait(FIRST_PAUSE_SECONDS * 2 ** (failures - 1)):
            return None
        tally.add(reconnects=1)
        try:
            return _connect(mailbox)
        except MailboxError as failed:
            failures, reason = failures + 1, str(failed)
    raise MailboxError(
        f"The connection to {mailbox.address} was lost and could not be resumed in {RECONNECTS} tries ({reason}). "
        f"What was fetched before is kept: {tally.summary.line}."
    )


def _connect(mailbox: Mailbox) -> imapclient.IMAPClient:
    """A signed-in client; ``MailboxError`` with the reason when the server cannot be reached,
    its certificate is not trusted, or it refuses the login."""
    port = mailbox.port or DEFAULT_PORTS[mailbox.security]
    try:
        context = ssl.create_default_context(cafile=mailbox.ca_file) if mailbox.security != "plain" else None
    except (OSError, ssl.SSLError) as unreadable:  # SSLError: a file that holds no PEM certificate
        raise MailboxError(f"The CA file {mailbox.ca_file} cannot be read: {unreadable.strerror or unreadable}.") from None
    try:
        client = imapclient.IMAPClient(
            mailbox.host, port, ssl=mailbox.security == "tls", ssl_context=context, timeout=mailbox.timeout_seconds
        )
    except ssl.SSLCertVerificationError as untrusted:
        raise MailboxError(_untrusted(mailbox, untrusted)) from None
    except ssl.SSLError as failed:
        raise MailboxError(
            f"TLS with {mailbox.address} failed ({failed.reason or failed}): is {port} the server's IMAPS port (993)? "
            "For port 143, use STARTTLS."
        ) from None
    except socket.gaierror as unknown:
        raise MailboxError(f"Cannot reach {mailbox.address}: the host name is not known ({unknown.strerror}).") from None
    except _DROPPED as unreachable:
        raise MailboxError(f"Cannot reach {mailbox.address}: {_reason(unreachable)}.") from None
    try:
        if mailbox.security == "starttls":
            try:
                client.starttls(context)
            except ssl.SSLCertVerificationError as untrusted:
                raise MailboxError(_untrusted(mailbox, untrusted)) from None
            except imaplib.IMAP4.error as refused:
                raise MailboxError(f"{mailbox.address} does not offer STARTTLS: {_reason(refused)}") from None
        if mailbox.oauth2_token:
            client.oauth2_login(mailbox.user, mailbox.oauth2_token)
        else:
            client.login(mailbox.user, mailbox.password)
    except LoginError as refused:
        _hang_up(client)
        how = "an OAuth2 token (XOAUTH2)" if mailbox.oauth2_token else "a password"
        raise MailboxError(f"The server refused the login for user {mailbox.user} with {how}: {_reason(refused)}") from None
    except BaseException:
        _hang_up(client)
        raise
    return client


def _hang_up(client: imapclient.IMAPClient) -> None:
    """Log out politely, or just close the socket when the connection is gone already."""
    try:
        client.logout()
    except (*_DROPPED, imaplib.IMAP4.error):
        with contextlib.suppress(OSError):
            client.shutdown()


def _untrusted(mailbox: Mailbox, failure: ssl.SSLCertVerificationError) -> str:
    trusted = f"the CA in {mailbox.ca_file}" if mailbox.ca_file else "the system's certificate authorities"
    return (
        f"{mailbox.address}'s certificate is not trusted by {trusted}: {failure.verify_message}. If the server's "
        "certificate comes from a CA of your own, pass its certificate (--tls-ca FILE)."
    )


def _reason(failure: BaseException) -> str:
    """The server's words: imaplib gives them as bytes, which imapclient passes on as their repr."""
    text = failure.args[0] if failure.args else failure
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text)
    if quoted := re.fullmatch(r"b(['\"])(.*)\1", text, re.DOTALL):
        text = quoted.group(2)
    return text or type(failure).__name__


class _Session:
    """One signed-in connection, the folder selected."""

    def __init__(
        self, client: imapclient.IMAPClient, store: Store | str | os.PathLike, mailbox: Mailbox, tally: _Tally, progress
    ) -> None:
        self.client, self.store, self.mailbox, self.tally, self.progress = client, store, mailbox, tally, progress

    def __enter__(self) -> _Session:
        try:
            self._open()
        except BaseException:
            _hang_up(self.client)
            raise
        return self

    def _open(self) -> None:
        if self.mailbox.archive:
            if not self.client.has_capability("MOVE"):
                raise MailboxError(f"{self.mailbox.address} cannot MOVE messages (RFC 6851): leave out the archive folder.")
            if not self.client.folder_exists(self.mailbox.archive):
                try:
                    self.client.create_folder(self.mailbox.archive)
                except imaplib.IMAP4.error as refused:
                    if isinstance(refused, imaplib.IMAP4.abort):
                        raise
                    raise MailboxError(f"Cannot create the archive folder {self.mailbox.archive}: {_reason(refused)}") from None
        try:
            selected = self.client.select_folder(self.mailbox.folder)
        except imaplib.IMAP4.error as refused:
            if isinstance(refused, imaplib.IMAP4.abort):
                raise
            raise MailboxError(
                f"Cannot open the folder {self.mailbox.folder} of {self.mailbox.user}: {_reason(refused)}"
            ) from None
        self.uidvalidity = int(selected[b"UIDVALIDITY"])

    def __exit__(self, *_exc) -> None:
        _hang_up(self.client)

    def remembered(self) -> set[int]:
        with opened(self.store) as store:
            rows = store.connection.execute(
                "SELECT uid FROM mailbox_messages WHERE mailbox = ? AND folder = ? AND uidvalidity = ?",
                [self.mailbox.identity, self.mailbox.folder, self.uidvalidity],
            ).fetchall()
        return {row[0] for row in rows}

    def catch_up(self, stop: threading.Event) -> None:
        """Read every message not read before, a batch per FETCH."""
        present = set(self.client.search("ALL"))
        remembered = self.remembered()
        self.archive(sorted(present & remembered))  # read before, but a crash came before they were moved
        waiting = sorted(present - remembered)
        total = self.tally.summary.messages + len(waiting)
        for start in range(0, len(waiting), BATCH_SIZE):
            if stop.is_set():
                break
            self.read(waiting[start : start + BATCH_SIZE], total)

    def read(self, uids: list[int], total: int) -> None:
        """Fetch, read and add a batch, and remember its UIDs in the same transaction."""
        fetched = self.client.fetch(uids, ["BODY.PEEK[]"])
        found = [uid for uid in uids if uid in fetched]  # one expunged meanwhile is gone
        files = [(self.name(uid, fetched[uid][b"BODY[]"]), fetched[uid][b"BODY[]"]) for uid in found]
        with opened(self.store) as store, store.transaction() as connection:
            ingested = ingest_outcomes(store, read_files(files))
            if found:  # one statement: DuckDB's executemany runs a statement per row, 50 times slower
                rows = ", ".join(["(?, ?, ?, ?, ?, current_timestamp)"] * len(found))
                values = [
                    value
                    for uid, outcome in zip(found, ingested, strict=True)
                    for value in (self.mailbox.identity, self.mailbox.folder, self.uidvalidity, uid, outcome.line)
                ]
                connection.execute(f"INSERT OR REPLACE INTO mailbox_messages VALUES {rows}", values)
        for outcome in ingested:
            self.tally.count(outcome)
            if self.progress:
                self.progress(self.tally.summary.messages, total, outcome)
        self.archive(found)

    def archive(self, uids: list[int]) -> None:
        if not self.mailbox.archive or not uids:
            return
        self.client.add_flags(uids, [imapclient.SEEN])
        self.client.move(uids, self.mailbox.archive)
        self.tally.add(archived=len(uids))

    def name(self, uid: int, message: bytes) -> str:
        """``INBOX UID 123 (Report Domain: example.com ...)``: where the message is, for a person."""
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(message)
        try:
            subject = " ".join(str(headers.get("subject", "")).split())
        except (ValueError, LookupError):  # an undecodable encoded word
            subject = ""
        if len(subject) > SUBJECT_CHARACTERS:
            subject = subject[: SUBJECT_CHARACTERS - 1] + "…"
        return f"{self.mailbox.folder} UID {uid} ({subject or 'no subject'})"

    def wait_for_mail(self, stop: threading.Event) -> bool:
        """Wait in IDLE until new mail arrives (True), or ``stop`` is set (False). IDLE is renewed
        before servers end it; a renewal also looks for mail, in case a notice was missed."""
        self.client.idle()
        renew_at = time.monotonic() + IDLE_RENEW_SECONDS
        try:
            while not stop.is_set() and time.monotonic() < renew_at:
                if any(response[1] == b"EXISTS" for response in self.client.idle_check(timeout=IDLE_POLL_SECONDS)):
                    break
        finally:
            self.client.idle_done()
        return not stop.is_set()
