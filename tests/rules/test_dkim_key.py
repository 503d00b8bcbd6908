"""DKIM key records as a verifier reads them (RFC 6376 3.2, 3.6.1; RFC 8463; RFC 8301), and selectors."""

from __future__ import annotations

import base64
import functools
import subprocess

import pytest

from dmarc_core import parse_selectors
from dmarc_core.rules.dkim_key import parse_key_record


@functools.cache
def openssl_public_key(algorithm: str, option: str, form: str = "-pubout") -> str:
    """A fresh public key from openssl, base64 as p= holds it: a SubjectPublicKeyInfo, or with
    ``form="-RSAPublicKey_out"`` the bare PKCS#1 RSAPublicKey."""
    private = subprocess.run(
        ["openssl", "genpkey", "-algorithm", algorithm, "-pkeyopt", option], capture_output=True, check=True
    ).stdout
    public = subprocess.run(
        ["openssl", "pkey" if form == "-pubout" else "rsa", form, "-outform", "DER"],
        input=private,
        capture_output=True,
        check=True,
    ).stdout
    return base64.b64encode(public).decode()


def openssl_rsa_key(bits: int, bare: bool = False) -> str:
    return openssl_public_key("RSA", f"rsa_keygen_bits:{bits}", "-RSAPublicKey_out" if bare else "-pubout")


RSA_KEY = openssl_rsa_key(2048)
ED25519_KEY = "fhO4q20sH2rM9Y+ds6E0pmWQY/oUYkzLcNcb29DiAtY="


@pytest.mark.parametrize(
    ("record", "key_type"),
    [
        (f"v=DKIM1; k=rsa; p={RSA_KEY}", "rsa"),
        (f"p={RSA_KEY}", "rsa"),  # v= is optional, k= defaults to rsa
        (f"v=DKIM1; p={RSA_KEY[:20]} {RSA_KEY[20:40]}\t{RSA_KEY[40:]};", "rsa"),  # whitespace inside base64, trailing ;
        (f"v=DKIM1; k=ed25519; p={ED25519_KEY}", "ed25519"),
        (f"v=DKIM1; s=email:*; h=sha1:sha256; n=notes; x=unknown tags are ignored; p={RSA_KEY}", "rsa"),
        # RFC 6376 3.6.1 writes k=, s=, h= and t= values as ABNF quoted strings, which match in any case.
        (f"v=DKIM1; k=RSA; h=SHA256; s=Email; t=Y; p={RSA_KEY}", "rsa"),
        (f"v=DKIM1; k=Ed25519; s=*; p={ED25519_KEY}", "ed25519"),
    ],
)
def test_usable_keys(record, key_type):
    key = parse_key_record(record)
    assert (key.status, key.key_type) == ("found", key_type)


@pytest.mark.parametrize(("bits", "concern"), [(1024, "short"), (1536, "short"), (2048, None), (3072, None)])
def test_rsa_keys_from_1024_bits_are_usable_and_under_2048_advised_against(bits, concern):
    key = parse_key_record(f"v=DKIM1; k=rsa; p={openssl_rsa_key(bits)}")
    assert (key.status, key.bits) == ("found", bits)
    assert ("below the 2048 signers should use" in key.detail) == (concern == "short")


@pytest.mark.parametrize("bits", [512, 768, 1023])
def test_rsa_keys_under_1024_bits_are_refused(bits):
    key = parse_key_record(f"v=DKIM1; p={openssl_rsa_key(bits)}")
    assert (key.status, key.bits) == ("malformed", bits) and "must not accept keys under 1024 bits" in key.detail


def test_a_bare_rsa_public_key_is_read_and_noted():
    key = parse_key_record(f"v=DKIM1; p={openssl_rsa_key(2048, bare=True)}")
    assert (key.status, key.bits) == ("found", 2048) and "bare RSAPublicKey" in key.detail


@pytest.mark.parametrize(
    "der",
    [
        base64.b64decode(RSA_KEY)[:-1],  # cut short
        base64.b64decode(RSA_KEY) + b"\x00",  # trailing bytes
        bytes.fromhex("3003020101"),  # a SEQUENCE with one INTEGER: no exponent
        base64.b64decode(openssl_public_key("EC", "ec_paramgen_curve:P-256")),  # an EC key, not rsaEncryption
    ],
)
def test_der_that_is_not_an_rsa_key_is_malformed(der):
    key = parse_key_record(f"v=DKIM1; p={base64.b64encode(der).decode()}")
    assert key.status == "malformed" and "does not hold an RSA public key" in key.detail


@pytest.mark.parametrize("flags", ["y", "Y", "s:y"])
def test_a_testing_flag_is_noted(flags):
    assert "testing" in parse_key_record(f"v=DKIM1; t={flags}; p={RSA_KEY}").detail


def test_a_key_for_sha512_alone_is_unusable_without_talk_of_sha1():
    # RFC 8301: verifiers use sha256; a key that allows only another hash has nothing to do with sha1.
    key = parse_key_record(f"v=DKIM1; h=sha512; p={RSA_KEY}")
    assert key.status == "malformed" and "allows no sha256" in key.detail and "sha1" not in key.detail


@pytest.mark.parametrize("record", ["v=DKIM1; k=rsa; p=", "v=DKIM1; p= ;", "p="])
def test_an_empty_p_is_a_revoked_key(record):
    assert parse_key_record(record).status == "revoked"


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ("this is not a tag list", "not a tag=value pair"),
        ("", "empty"),
        (f"k=rsa; v=DKIM1; p={RSA_KEY}", "come first"),
        (f"v=DKIM2; p={RSA_KEY}", "exactly v=DKIM1"),
        (f"v=dkim1; p={RSA_KEY}", "exactly v=DKIM1"),  # v= is the one case-sensitive literal
        (f"v=DKIM1; p={RSA_KEY}; p={RSA_KEY}", "appears twice"),
        ("v=DKIM1; k=rsa", "no p= tag"),
        (f"v=DKIM1; P={RSA_KEY}", "no p= tag"),  # tag names are case-sensitive
        (f"v=DKIM1; k=dsa; p={RSA_KEY}", "k=dsa is not a key type"),
        ("v=DKIM1; p=MIIB!!not*base64", "not valid base64"),
        ("v=DKIM1; k=ed25519; p=AAAA", "ed25519 key is 32"),
        ("v=DKIM1; k=rsa; p=AAAA", "does not hold an RSA public key"),
        (f"v=DKIM1; s=web; p={RSA_KEY}", "not for email"),
        (f"v=DKIM1; h=sha1; p={RSA_KEY}", "sha1 is no longer accepted"),
    ],
)
def test_keys_a_verifier_cannot_use_are_malformed(record, words):
    key = parse_key_record(record)
    assert key.status == "malformed" and words in key.detail


def test_selectors_from_a_person_or_a_report():
    assert parse_selectors("k1, s2,,K1 , selector1.2024") == ("k1", "s2", "selector1.2024")
    assert parse_selectors(["google", "google", "s1"]) == ("google", "s1")
    for bad in ("s_1", "k 1", "user@k1", "-k1"):
        with pytest.raises(ValueError, match="not a DKIM selector"):
            parse_selectors(bad)
