"""A real IMAP server for tests: Debian's Dovecot (``dovecot-imapd``) on loopback ports, with a
throwaway configuration, certificate authority and mail directory.

- IMAP (STARTTLS offered, plain login allowed on loopback) and IMAPS on free ports.
- Any account name logs in with ``PASSWORD`` (a static passdb), each with a Maildir of its own,
  so every test reads a mailbox nobody else writes to; or with an OAuth2 bearer token
  (XOAUTH2): a JWT signed with the test key, which Dovecot validates itself (``introspection_mode
  = local``), with no token server.
- Mail is delivered as an MDA delivers it: a file written into the Maildir's ``new/``.

Run as root, Dovecot refuses to serve mail as root: the mail processes then run as ``nobody``
and the login and internal processes as Debian's ``dovenull`` and ``dovecot`` accounts; run as
another user, everything runs as that user.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import grp
import hashlib
import hmac
import itertools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "correct-horse-battery-staple"  # a static passdb's args are split at spaces
#: The key Dovecot checks bearer tokens with (HS256); tokens are signed with it by ``token``.
TOKEN_KEY = b"test-only-oauth2-signing-key-0123456789"
START_SECONDS = 30


def require_dovecot() -> None:
    """Skip without Dovecot; under CI (CI=true) fail instead, because there it is required."""
    if os.access(DOVECOT, os.X_OK):
        return
    message = f"Dovecot not found at {DOVECOT}: install it with `apt-get install dovecot-imapd` to run the IMAP tests"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _account_ids() -> tuple[str, str, str, int, int]:
    """The internal, login and mail users' names and the mail uid and gid."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    nobody = pwd.getpwnam("nobody")
    return "dovecot", "dovenull", "nobody", nobody.pw_uid, nobody.pw_gid


def _make_certificates(folder: Path) -> None:
    """A CA, and the server's certificate for 127.0.0.1 and localhost signed by it."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test mail CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")  # fmt: skip


def token(account: str, *, key: bytes = TOKEN_KEY, lifetime: int = 3600) -> str:
    """An OAuth2 bearer token for ``account`` as an identity provider issues one: a signed JWT."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = part(json.dumps({"sub": account, "iat": now - 5, "nbf": now - 5, "exp": now + lifetime}).encode())
    signature = part(hmac.new(key, f"{header}.{claims}".encode(), hashlib.sha256).digest())
    return f"{header}.{claims}.{signature}"


@dataclass
class ImapServer:
    """A running Dovecot. ``start`` it, ``stop`` it; ``account`` gives a fresh mailbox."""

    root: Path
    imap_port: int = 0
    imaps_port: int = 0
    process: subprocess.Popen | None = None

    @classmethod
    def start(cls) -> ImapServer:
        require_dovecot()
        # Not pytest's tmp_path: the mail processes run as another user when root, and must reach it.
        root = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
        root.chmod(0o755)
        server = cls(root, _free_port(), _free_port())
        server._configure()
        server.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(root / "stderr.log").open("wb"),
            start_new_session=True,
        )
        server._wait_ready()
        return server

    def _configure(self) -> None:
        internal, login, mail_user, uid, gid = _account_ids()
        root = self.root
        _make_certificates(root)
        for name in ("run", "state", "mail"):
            (root / name).mkdir()
        os.chown(root / "mail", uid, gid)
        keys = root / "keys" / "default" / "HS256"
        keys.mkdir(parents=True)
        (keys / "default").write_text(base64.b64encode(TOKEN_KEY).decode())
        (root / "oauth2.conf").write_text(
            f"introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix={root}/keys/\nusername_attribute = sub\n"
        )
        for readable in (root / "keys", root / "oauth2.conf", root / "server.key"):
            subprocess.run(["chmod", "-R", "a+rX", str(readable)], check=True)
        (root / "dovecot.conf").write_text(
            f"""protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
verbose_proctitle = yes
ssl = yes
ssl_cert = <{root}/server.pem
ssl_key = <{root}/server.key
# Plain login is allowed without TLS: only loopback tests connect.
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
first_valid_uid = {uid}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf
}}
passdb {{
  driver = static
  mechanisms = plain login
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
        )
        self.mail_user = mail_user

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot stopped at start:\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.imap_port), timeout=2) as probe:
                if probe.recv(200).startswith(b"* OK"):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"Dovecot did not greet within {START_SECONDS} s:\n{self.log()}")

    def log(self) -> str:
        texts = [
            path.read_text(errors="replace") for path in (self.root / "dovecot.log", self.root / "stderr.log") if path.exists()
        ]
        return "\n".join(texts)[-6000:]

    def stop(self) -> None:
        """Stop Dovecot and remove its files; again is harmless."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    _names = itertools.count(1)

    def account(self, label: str) -> Account:
        """A new, empty mailbox: ``label`` and a number, so no two tests share one."""
        return Account(self, f"{label}-{next(self._names)}")

    def sessions(self, account: str) -> list[int]:
        """The process ids of the imap processes serving ``account`` (verbose_proctitle names it)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("dovecot/imap ") and f"[{account} " in title:
                found.append(int(entry.name))
        return found

    def idling(self, account: str) -> bool:
        """Whether a session of ``account`` is waiting in IDLE (its process title says so)."""
        for pid in self.sessions(account):
            with contextlib.suppress(OSError):
                if b" IDLE]" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
        return False

    def kill_sessions(self, account: str) -> int:
        """Kill -9 the imap processes serving ``account``: its connections drop as in a crash."""
        pids = self.sessions(account)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)


@dataclass
class Account:
    server: ImapServer
    name: str

    def maildir(self, folder: str = "INBOX") -> Path:
        base = self.server.root / "mail" / self.name
        return base if folder == "INBOX" else base / f".{folder}"

    def deliver(self, message: bytes, folder: str = "INBOX") -> None:
        """Deliver as an MDA does: write into ``tmp/``, then rename into ``new/``."""
        maildir = self.maildir(folder)
        _, _, _, uid, gid = _account_ids()
        for part in (self.maildir(), maildir, maildir / "tmp", maildir / "new", maildir / "cur"):
            if not part.exists():
                part.mkdir()
                os.chown(part, uid, gid)
        unique = f"{time.time_ns()}.P{os.getpid()}Q{next(_deliveries)}.test"
        staged = maildir / "tmp" / unique
        staged.write_bytes(message)
        os.chown(staged, uid, gid)
        staged.rename(maildir / "new" / unique)

    def files(self, folder: str = "INBOX") -> list[Path]:
        """The messages in a folder, as files (``new/`` and ``cur/``)."""
        maildir = self.maildir(folder)
        return sorted(p for sub in ("new", "cur") if (maildir / sub).is_dir() for p in (maildir / sub).iterdir())


_deliveries = itertools.count()


def report_mail(filename: str, data: bytes, *, receiver: str = "receiver.example") -> bytes:
    """An aggregate report as a receiver mails it: a short text and the report attached."""
    message = EmailMessage()
    message["From"] = f"DMARC reports <noreply-dmarc@{receiver}>"
    message["To"] = "dmarc-reports@example.com"
    message["Subject"] = f"Report Domain: example.com Submitter: {receiver} Report-ID: {filename}"
    message["Date"] = email.utils.formatdate()
    message["Message-ID"] = email.utils.make_msgid(domain=receiver)
    message.set_content("This is an aggregate report from a DMARC receiver.\n")
    subtype = {".gz": "gzip", ".zip": "zip"}.get(Path(filename).suffix, "xml")
    message.add_attachment(data, maintype="application", subtype=subtype, filename=filename)
    return message.as_bytes()


def plain_mail(subject: str, text: str) -> bytes:
    """Ordinary mail that lands in a report mailbox too."""
    message = EmailMessage()
    message["From"] = "A colleague <colleague@example.com>"
    message["To"] = "dmarc-reports@example.com"
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate()
    message["Message-ID"] = email.utils.make_msgid(domain="example.com")
    message.set_content(text)
    return message.as_bytes()
