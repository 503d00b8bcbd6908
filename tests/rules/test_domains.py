"""Organizational domains by the Public Suffix List, checked against the PSL's own test vectors."""

from __future__ import annotations

import re

import pytest

from dmarc_core import normalize_domain, organizational_domain, public_suffix_match
from dmarc_core.rules.domains import normalize_domain as normalize


def _psl_vectors(text: str) -> list[tuple[str | None, str | None]]:
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        given, expected = line.split()
        pairs.append((None if given == "null" else given, None if expected == "null" else expected))
    return pairs


def _js_vectors(text: str, commented: bool) -> list[tuple[str | None, str | None]]:
    pattern = re.compile(r"^(//\s*)?checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);", re.MULTILINE)
    value = lambda token: None if token == "null" else token.strip("'")  # noqa: E731
    return [(value(g), value(e)) for c, g, e in pattern.findall(text) if bool(c) == commented]


def _a_labels(name: str) -> str:
    return normalize(name)


def _check(given: str | None, expected: str | None) -> None:
    """PSL semantics: ``expected`` is the registrable domain, None where there is none."""
    if given is None or given.startswith("."):
        # Not a domain name at all: the library refuses it with a reason instead of answering null.
        with pytest.raises(ValueError):
            organizational_domain(given)
        return
    match = public_suffix_match(given)
    if expected is None:
        # A public suffix has no registrable domain; DMARC treats it as its own organizational domain.
        assert match.is_public_suffix, f"{given}: expected a public suffix, got {match}"
        assert organizational_domain(given) == _a_labels(given)
    else:
        assert not match.is_public_suffix
        assert organizational_domain(given) == _a_labels(expected)


def test_every_check_of_tests_txt(samples):
    vectors = _psl_vectors((samples / "psl" / "tests.txt").read_text("utf-8"))
    assert len(vectors) == 78
    for given, expected in vectors:
        _check(given, expected)


def test_every_active_check_of_test_psl_txt(samples):
    vectors = _js_vectors((samples / "psl" / "test_psl.txt").read_text("utf-8"), commented=False)
    assert len(vectors) == 78
    for given, expected in vectors:
        _check(given, expected)


def test_commented_out_checks_differ_by_design(samples):
    # The PSL itself comments these out: .local is a special-use name (RFC 6762) that the list does
    # not contain, so the list's default rule "*" applies and example.local is registrable here.
    vectors = _js_vectors((samples / "psl" / "test_psl.txt").read_text("utf-8"), commented=True)
    assert [given for given, _ in vectors] == ["local", "example.local", "b.example.local", "a.b.example.local"]
    assert public_suffix_match("local").rule == "*"
    assert organizational_domain("a.b.example.local") == "example.local"


@pytest.mark.parametrize(
    ("domain", "organizational", "rule", "kind", "section"),
    [
        ("user1.github.io", "user1.github.io", "github.io", "normal", "private"),
        ("www.user1.github.io", "user1.github.io", "github.io", "normal", "private"),
        ("a.b.test.ck", "b.test.ck", "*.ck", "wildcard", "icann"),
        ("www.www.ck", "www.ck", "!www.ck", "exception", "icann"),
        ("www.city.kobe.jp", "city.kobe.jp", "!city.kobe.jp", "exception", "icann"),
        ("mail.example.co.uk", "example.co.uk", "co.uk", "normal", "icann"),
        ("a.example.example", "example.example", "*", "default", "none"),
        ("www.食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn", "公司.cn", "normal", "icann"),
    ],
)
def test_the_deciding_rule_is_named(domain, organizational, rule, kind, section):
    match = public_suffix_match(domain)
    assert (match.organizational_domain, match.rule, match.rule_kind, match.section) == (organizational, rule, kind, section)
    assert organizational in match.explanation and rule in match.explanation


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("user@Mail.Example.com", "mail.example.com"),
        ("Jane Doe <jane@example.org>", "example.org"),
        ("  example.net  ", "example.net"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("ÄÖÜ.de", "xn--4ca0bs.de"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"),
    ],
)
def test_normalization(given, normalized):
    assert normalize_domain(given) == normalized


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("user@", "empty"),
        ("exa mple.com", "space"),
        ("example..com", "empty label"),
        (".example.com", "empty label"),
        ("a" * 64 + ".com", "at most 63"),
        ("-example.com", "hyphen"),
        ("example-.com", "hyphen"),
        ("exa_mple.com", "'_'"),
        ("<script>alert(1)</script> example.com", "space"),
        ("Jane <jane@example.com> trailing", "space"),
        ("a<b>.example.com", "'<'"),
        ("example.com/path", "'/'"),
        (("a" * 60 + ".") * 5 + "com", "at most 253"),
    ],
)
def test_bad_input_is_refused_with_a_reason(bad, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        normalize_domain(bad)


def test_the_snapshot_is_used_without_network_or_cache(tmp_path, monkeypatch):
    """No fetch, no cache file: the extractor is built from the snapshot shipped with tldextract."""
    import socket

    from dmarc_core.rules import domains

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("the Public Suffix List lookup tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    domains._extractor.cache_clear()
    domains._rules.cache_clear()
    domains.public_suffix_match.cache_clear()
    domains.organizational_domain.cache_clear()
    assert organizational_domain("a.b.example.co.uk") == "example.co.uk"
    assert list(tmp_path.rglob("*")) == []


def test_the_organizational_domain_alone_is_the_full_matchs(samples):
    # organizational_domain skips finding the deciding rule: its answer must stay the full match's,
    # on every domain of the real reports and the list's own test names.
    from dmarc_core import read_files, triage

    files = [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir()) if path.is_file()]
    frame = triage([report for outcome in read_files(files) for report in outcome.reports])
    names = {*frame["header_from"].dropna().astype(str), *frame["policy_domain"].dropna().astype(str)}
    names |= {given for given, _ in _psl_vectors((samples / "psl" / "tests.txt").read_text("utf-8")) if given}
    checked = 0
    for name in sorted(names):
        try:
            expected = public_suffix_match(name).organizational_domain
        except ValueError:
            with pytest.raises(ValueError):
                organizational_domain(name)
            continue
        assert organizational_domain(name) == expected, name
        checked += 1
    assert checked > 250
