"""Small reports take the plain path too: the header read by lxml alone, the records by
``plain.read_plain``. Whatever takes that path must read exactly as the reference (``chunk_bytes=None``:
lxml, the whole document in one piece) reads it: metadata, policy, every record, every repair and
refusal, in order; everything else must be left to the reference.

``PLAIN_CASES`` sets how many damaged cases run (the suite runs a few hundred).
"""

from __future__ import annotations

import os
import random
import re

import pytest

from dmarc_core import Limits, read_file
from dmarc_core.reports import reading
from dmarc_core.reports.reading import read_files

from reportkit import SNIPPETS, record, report

CASES = int(os.environ.get("PLAIN_CASES", "400"))


def _taken(monkeypatch, name: str) -> list[bool]:
    """Whether each call of ``reading.<name>``, a fast way that answers None where it does not
    serve, served."""
    seen: list[bool] = []
    fast_way = getattr(reading, name)

    def counting(*args):
        read = fast_way(*args)
        seen.append(read is not None)
        return read

    monkeypatch.setattr(reading, name, counting)
    return seen


@pytest.fixture
def taken(monkeypatch) -> list[bool]:
    """Whether each small report the fast way was tried on took it."""
    return _taken(monkeypatch, "_read_plain_report")


def _as_read(outcome):
    """An outcome as plain data: what two ways of reading must agree on."""
    return (
        outcome.name,
        [(r.file, r.schema, r.version, r.metadata, r.policy, r.repairs, r.records.to_pylist()) for r in outcome.reports],
        outcome.refusals,
    )


def _reference(data: bytes, name: str, limits: Limits | None = None):
    return _as_read(read_file(data, name, limits, workers=1, chunk_bytes=None))


def assert_same(data: bytes, name: str = "report.xml", limits: Limits | None = None) -> None:
    assert _as_read(read_file(data, name, limits, workers=1)) == _reference(data, name, limits)


@pytest.fixture(scope="module")
def real_files(samples) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir())]


def test_the_real_reports_read_alike_alone_and_in_a_batch_and_most_take_the_fast_path(real_files, taken):
    for name, data in real_files:
        try:
            assert_same(data, name)
        except AssertionError as failure:
            raise AssertionError(f"{name}: {failure}") from None
    # Receivers write plainly: the fast path must serve most small reports, or it is no path.
    assert len(taken) > 300 and sum(taken) / len(taken) > 0.8, f"{sum(taken)} of {len(taken)}"
    batched = read_files(real_files, workers=1)
    assert [_as_read(o) for o in batched] == [_reference(data, name) for name, data in real_files]


def _damaged(data: bytes, rng: random.Random) -> bytes:
    """The fuzzer's damage (cut, bits flipped, hostile text put in, a stretch repeated or deleted), or
    another value in one element, which most often leaves the report plain."""
    for _ in range(rng.randint(1, 3)):
        at, kind = rng.randrange(len(data) + 1), rng.randrange(6)
        if kind == 0:
            data = data[:at]
        elif kind == 1:
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                if flipped:
                    flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            data = bytes(flipped)
        elif kind == 2:
            data = data[:at] + rng.choice(SNIPPETS) + data[at:]
        elif kind == 3:
            end = min(len(data), at + rng.randint(1, 400))
            data = data[:end] + data[at:end] * rng.randint(1, 3) + data[end:]
        elif kind == 4:
            data = data[:at] + data[at + rng.randint(1, 200) :]
        else:
            values = list(re.finditer(rb">([^<>]*)</", data))
            if values:
                value = rng.choice(values)
                data = data[: value.start(1)] + rng.choice([*SNIPPETS, *VALUES]) + data[value.end(1) :]
    return data


#: Values that XML reads as written, or nearly so.
VALUES = [b"", b" x ", b"Pass", b"a,b", b"a; b", "\u202e".encode(), "é".encode(), b"12345678901234", b"-1", b"\t"]


@pytest.mark.parametrize("chunk", range(4))
def test_damaged_real_reports_read_alike(real_files, taken, chunk):
    small = [(name, data) for name, data in real_files if b"<record" in data and len(data) < 200_000]
    for case in range(chunk, CASES, 4):
        rng = random.Random(2_000_000 + case)
        name, data = rng.choice(small)
        try:
            assert_same(_damaged(data, rng), name)
        except AssertionError as failure:
            raise AssertionError(f"case {case} ({name}): {failure}") from None
    assert any(taken) and not all(taken)  # both paths were tried


REPORT = report(record(count=3), record(count=5, dkim=[("example.com", "pass")]), report_id="plain").decode()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("<record>", "<record/><record>", id="an-empty-record-in-the-header"),
        pytest.param("</feedback>", "<policy_published><p>reject</p></policy_published></feedback>", id="a-section-after"),
        pytest.param("<report_metadata>", "<!-- x --><report_metadata>", id="a-comment-in-the-header"),
        pytest.param("<record>", "</feedback><record>", id="the-root-closed-before-the-records"),
        pytest.param(
            # Cut before the records, libxml2 names only the innermost open element: the inner <feedback>.
            "<version>1.0</version>",
            "<version>1.0</version><report_metadata><feedback>",
            id="an-element-named-as-the-root-left-open",
        ),
        pytest.param("<report_metadata>", "<![CDATA[<record>]]><report_metadata>", id="cdata-in-the-header"),
        pytest.param("</feedback>", "</feedback><feedback/>", id="content-after-the-root"),
        pytest.param("</feedback>", "</feedback ><!-- x -->", id="a-comment-after-the-root"),
        pytest.param("</feedback>", "", id="the-root-not-closed"),
        pytest.param("</report_metadata>", "", id="the-metadata-not-closed"),
        pytest.param("<feedback>", '<x:feedback xmlns:x="urn:x">', id="a-prefixed-root-closed-unprefixed"),
        pytest.param("<feedback>", "<!DOCTYPE feedback><feedback>", id="a-doctype"),
        pytest.param("<count>3</count>", "<count>lots</count>", id="a-count-that-is-no-number"),
        pytest.param("<count>3</count>", "<count>&#51;</count>", id="a-character-reference-in-a-record"),
        pytest.param("<record>", "<version>2.0</version><record>", id="a-version-before-the-records"),
        pytest.param("</record>", "</record><record/>", id="an-empty-record-among-them"),
        pytest.param("<org_name>", "<org_name>\u202e", id="a-bidi-control-in-the-header"),
        # The header read without lxml where it is plain: every way a root, a section or a text may
        # differ reads as lxml reads it.
        pytest.param("<feedback>", '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">', id="rfc-9990-namespace"),
        pytest.param(
            "<feedback>",
            '<feedback xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="rua.xsd">',
            id="schema-attributes",
        ),
        pytest.param(
            "<feedback>", "<feedback\r\n  xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'>", id="single-quotes-crlf"
        ),
        pytest.param("<feedback>", '<feedback xsi:noNamespaceSchemaLocation="rua.xsd">', id="an-undeclared-prefix"),
        pytest.param("<feedback>", '<feedback a="1" a="2">', id="an-attribute-twice"),
        pytest.param("<feedback>", '<feedback xmlns="">', id="an-empty-default-namespace"),
        pytest.param("<feedback>", '<feedback xmlns:x="">', id="an-empty-prefixed-namespace"),
        pytest.param("<feedback>", '<feedback xml:lang="en">', id="the-xml-prefix"),
        pytest.param("<feedback>", '<feedback xmlns:a="http://www.w3.org/2000/xmlns/">', id="the-xmlns-namespace-declared"),
        pytest.param("<feedback>", '<feedback xmlns="http://www.w3.org/XML/1998/namespace">', id="the-xml-namespace-as-default"),
        pytest.param(
            "<feedback>", '<feedback xmlns:a="urn:x" xmlns:b="urn:x" a:z="1" b:z="2">', id="one-attribute-by-two-prefixes"
        ),
        pytest.param("<feedback>", '<feedback xmlns:a="urn:x" a:z="1" xmlns:b="urn:y" b:z="2">', id="two-namespaces-one-name"),
        pytest.param("<feedback>", '<feedback 1a="x">', id="an-attribute-name-starting-with-a-digit"),
        pytest.param("<feedback>", '<feedback a = "1">', id="spaces-around-an-attribute-equals"),
        pytest.param("<feedback>", '<feedback myxmlns="1">', id="an-attribute-whose-name-holds-xmlns"),
        pytest.param('<?xml version="1.0" encoding="UTF-8"?>', '<?xml versio" encoding="UTF-8" ?>', id="a-broken-declaration"),
        pytest.param('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.1"?>', id="xml-1-1"),
        pytest.param('encoding="UTF-8"?>', 'encoding="UTF-8" standalone="maybe"?>', id="a-bad-standalone"),
        pytest.param('encoding="UTF-8"?>', "encoding='UTF-8' standalone='yes' ?>", id="a-standalone-declaration"),
        pytest.param('<?xml version="1.0" encoding="UTF-8"?>', "", id="no-declaration"),
        pytest.param("<?xml", "\ufeff<?xml", id="a-byte-order-mark"),
        pytest.param("<report_metadata>", "\r\n<report_metadata>\r\n  ", id="crlf-between-elements"),
        pytest.param("receiver.example</org_name>", "receiver.example</email>", id="a-leaf-closed-by-another-name"),
        pytest.param("<org_name>", "<org_name>Q&amp;A ", id="an-entity-in-the-header"),
        pytest.param("<org_name>", "<org_name>]]>", id="cdata-end-in-header-text"),
        pytest.param("<org_name>", "<org_name>\r\n", id="a-carriage-return-in-header-text"),
        pytest.param("receiver.example</org_name>", "récepteur.example</org_name>", id="non-ascii-header-text"),
        pytest.param("<org_name>", "<1org>x</1org><org_name>", id="a-name-starting-with-a-digit"),
        pytest.param("<org_name>", "<extra-field>x</extra-field><org_name>", id="a-name-with-a-hyphen"),
        pytest.param("<email>dmarc@receiver.example</email>", "<email/>", id="an-empty-element-in-the-header"),
        pytest.param("</report_id>", "</report_id><error>one</error><error>two</error>", id="errors"),
        pytest.param("</report_id>", "</report_id><generator>x 1.0</generator>", id="a-generator"),
        pytest.param("</report_id>", "</report_id><org_name>second</org_name>", id="a-field-twice"),
        pytest.param("</report_id>", "</report_id><feedback>x</feedback>", id="a-leaf-named-as-the-root"),
        pytest.param("<date_range>", "<data_range>", id="data-range-unclosed"),
        pytest.param(
            "<date_range><begin>1759276800</begin><end>1759363199</end></date_range>",
            "<data_range><begin>1759276800</begin><end>1759363199</end></data_range>",
            id="data-range",
        ),
        pytest.param("<date_range><begin>", "<date_range>1</date_range><date_range><begin>", id="a-date-range-of-text"),
        pytest.param("<begin>1759276800</begin>", "<begin>100</begin>", id="a-placeholder-date"),
        pytest.param("<pct>100</pct>", "<pct>150</pct>", id="a-pct-over-100"),
        pytest.param("<p>none</p>", "<p> NONE </p>", id="a-policy-in-capitals"),
        pytest.param("<sp>none</sp>", "<sp>nil</sp><np>reject</np><testing>y</testing>", id="rfc-9990-policy-fields"),
        pytest.param("<version>1.0</version>", "", id="no-version"),
        pytest.param("<version>1.0</version>", "<version> 2.0 </version>", id="version-2"),
        pytest.param("<policy_published>", "<policy_published><date_range><begin>1</begin></date_range>", id="nested-in-policy"),
        pytest.param("</report_metadata>", "</report_metadata><version>1.0</version>", id="a-version-after-the-metadata"),
    ],
)
def test_edge_cases_read_alike(before, after):
    assert before in REPORT
    assert_same(REPORT.replace(before, after, 1).encode())


@pytest.fixture
def plain_header(monkeypatch) -> list[bool]:
    """Whether each header tried the lxml-free way (``plain.read_plain_header``) took it."""
    return _taken(monkeypatch, "read_plain_header")


def test_most_real_headers_and_the_usual_roots_are_read_without_lxml(real_files, plain_header):
    read_files(real_files, workers=1)
    assert len(plain_header) > 300 and sum(plain_header) / len(plain_header) > 0.8, f"{sum(plain_header)} of {len(plain_header)}"
    plain_header.clear()
    roots = [
        "<feedback>",
        '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">',
        '<feedback xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="rua.xsd">',
    ]
    for root in roots:
        assert_same(REPORT.replace("<feedback>", root, 1).encode())
    assert plain_header == [True] * len(roots)


def test_a_prefixed_root_takes_the_fast_path(taken):
    data = REPORT.replace("<feedback>", '<x:feedback xmlns:x="urn:x">').replace("</feedback>", "</x:feedback>").encode()
    assert_same(data)
    assert taken[-1]


def test_a_header_record_leaves_no_rows_behind_in_a_batch():
    # A <record/> in the header is read into the batch's columns before the report is read again
    # whole: those rows must belong to no report.
    odd = REPORT.replace("<record>", "<record/><record>", 1).encode()
    files = [("a.xml", REPORT.encode()), ("odd.xml", odd), ("b.xml", REPORT.encode())]
    assert [_as_read(o) for o in read_files(files, workers=1)] == [_reference(data, name) for name, data in files]


def test_the_records_budget_holds_on_the_fast_path(taken):
    files = [(f"r{n}.xml", report(*(record(count=1) for _ in range(30)), report_id=str(n))) for n in range(3)]
    limits = Limits(max_records=20)
    batched = read_files(files, limits, workers=1)
    assert all(taken)
    assert [_as_read(o) for o in batched] == [_reference(data, name, limits) for name, data in files]
    assert [o.record_count for o in batched] == [20, 20, 20]
