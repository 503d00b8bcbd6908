"""The plain-records fast path (``plain.read_plain``) against the reference, lxml and the record
reader: wherever the fast path takes a stretch of records it must read exactly what the reference
reads, with no repair to say; everything else it must leave alone. On every case, the compiled
scanner (``_plainscan.c``) must also read exactly what the regular expression reads, or refuse
what it refuses.

``PLAIN_CASES`` sets how many mutated cases run (the suite runs a few hundred).
"""

from __future__ import annotations

import io
import os
import random
import re

import pytest
from lxml import etree

from dmarc_core.reports import plain
from dmarc_core.reports.containers import Budget, open_source, payloads
from dmarc_core.reports.model import Limits, Refusal
from dmarc_core.reports.plain import read_plain, read_plain_expression
from dmarc_core.reports.records import RecordReader

from reportkit import SNIPPETS
from variety import report_xml

CASES = int(os.environ.get("PLAIN_CASES", "400"))


def _records_of(document: bytes) -> bytes:
    """The stretch of a report from its first <record> to the end of its last."""
    first, last = document.find(b"<record"), document.rfind(b"</record>")
    return document[first : last + len(b"</record>")] if 0 <= first < last else b""


def by_lxml(piece: bytes) -> tuple[RecordReader, list[dict], list[str]]:
    """The reference's reader, the records it read, and the damage libxml2 saw."""
    reader = RecordReader()
    events = reader.events(io.BytesIO(b"<chunk>" + piece + b"</chunk>"), "chunk")
    reader.read(events)
    records = reader.records.to_pylist()
    return reader, records, [entry.message for entry in events.error_log if entry.level >= etree.ErrorLevels.ERROR]


def by_plain(piece: bytes, read=read_plain) -> tuple[list[dict], list[str]] | None:
    reader = RecordReader()
    if not read(piece, reader.columns):
        assert reader.columns.rows == 0, "a refused stretch left records behind"
        return None
    reader.stop = reader.columns.rows
    return reader.records.to_pylist(), reader.repairs


def assert_same(piece: bytes) -> bool:
    """The fast path equals the reference where it reads (records, and repairs such as counts that
    are no numbers); whether it read. The compiled scanner and the regular expression alike."""
    fast = by_plain(piece)
    assert fast == by_plain(piece, read_plain_expression), "the compiled scanner and the regular expression differ"
    if fast is None:
        return False
    reader, records, damage = by_lxml(piece)
    assert not damage, f"the fast path read records that libxml2 finds damaged: {damage[:2]}"
    assert reader.seen <= {"record"} and not reader.stopped, "the fast path read what the reference reads as no record"
    assert fast == (records, reader.repairs)
    return True


def _xml_payloads(samples) -> list[tuple[str, bytes]]:
    found = []
    for path in sorted((samples / "aggregate").iterdir()):
        with open_source(path) as stream:
            for payload in payloads(stream, path.name, Budget(Limits())):
                if not isinstance(payload, Refusal):
                    found.append((payload.name, payload.stream.read()))
    return found


def test_the_real_reports_read_alike_and_most_take_the_fast_path(samples):
    taken = total = 0
    for name, document in _xml_payloads(samples):
        piece = _records_of(document)
        if not piece:
            continue
        total += 1
        try:
            taken += assert_same(piece)
        except AssertionError as failure:
            raise AssertionError(f"{name}: {failure}") from None
    # Receivers write their records plainly: the fast path must serve most of them, or it is no path.
    assert total > 300 and taken / total > 0.8, f"{taken} of {total}"


PIECE = _records_of(report_xml(60, seed=11))

#: Changes of the kinds XML allows and reports show: each must read alike or be left alone.
TEXT_VALUES = [
    "a&amp;b", "&#65;", "&#x1;", "x\r\ny", "x\ry", "é", "\u0085", "\u202e", "a]]>b", "  spaced  ", "", "\t",
    "1e3", "Pass", "a,b", "a; b", "\ufeff", "𝔡",
]  # fmt: skip
INSERTIONS = [
    "<!-- x -->", "<![CDATA[x]]>", "<?pi x?>", "<extra>1</extra>", "<extra/>", " ", "\r\n", "<reason><type>x</type></reason>",
]  # fmt: skip


def _mutated(rng: random.Random) -> bytes:
    text = PIECE.decode()
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(8)
        if kind == 0:  # another text in one element
            spots = list(re.finditer(r">([^<>]+)</", text))
            spot = rng.choice(spots)
            text = text[: spot.start(1)] + rng.choice(TEXT_VALUES) + text[spot.end(1) :]
        elif kind == 1:  # something between two tags
            spots = [m.end() for m in re.finditer(r">", text)]
            at = rng.choice(spots)
            text = text[:at] + rng.choice(INSERTIONS) + text[at:]
        elif kind == 2:  # an element twice
            spot = rng.choice(list(re.finditer(r"<(\w+)>[^<]*</\1>", text)))
            text = text[: spot.end()] + spot.group() + text[spot.end() :]
        elif kind == 3:  # two neighbours swapped
            spots = list(re.finditer(r"(<(\w+)>[^<]*</\2>)(\s*)(<(\w+)>[^<]*</\5>)", text))
            if spots:
                spot = rng.choice(spots)
                text = text[: spot.start()] + spot.group(4) + spot.group(3) + spot.group(1) + text[spot.end() :]
        elif kind == 4:  # an element gone
            spot = rng.choice(list(re.finditer(r"<(\w+)>.*?</\1>", text, re.S)))
            text = text[: spot.start()] + text[spot.end() :]
        elif kind == 5:  # a tag written another way
            spot = rng.choice(list(re.finditer(r"<(/?)(\w+)>", text)))
            other = rng.choice([f"<{spot[1]}{spot[2]} >", f"<{spot[1]}x:{spot[2]}>", f"<{spot[1]}{spot[2].upper()}>"])
            if not spot[1]:
                other = rng.choice([other, f'<{spot[2]} a="1">', f"<{spot[2]}/>"])
            text = text[: spot.start()] + other + text[spot.end() :]
        elif kind == 6:  # many results of one kind
            spot = rng.choice(list(re.finditer(r"<(dkim|spf)>\s*<domain>.*?</\1>", text, re.S)))
            text = text[: spot.end()] + spot.group() * rng.choice([2, 63, 64, 65]) + text[spot.end() :]
        else:  # bytes that are no UTF-8, or a character XML forbids
            data = text.encode()
            at = rng.randrange(len(data))
            return data[:at] + rng.choice([b"\xff", b"\xef\xbf\xbe", b"\x01", b"\xc3"]) + data[at:]
    return text.encode()


@pytest.mark.parametrize("chunk", range(4))
def test_mutated_records_read_alike_or_are_left_alone(chunk):
    taken = left = 0
    for case in range(chunk, CASES, 4):
        piece = _mutated(random.Random(case))
        try:
            if assert_same(piece):
                taken += 1
            else:
                left += 1
        except AssertionError as failure:
            raise AssertionError(f"case {case}: {failure}") from None
    assert taken and left  # both paths were tried


@pytest.fixture(scope="module")
def real_pieces(samples) -> list[bytes]:
    return [piece for _, document in _xml_payloads(samples) if (piece := _records_of(document))]


def _damaged(piece: bytes, rng: random.Random) -> bytes:
    """The fuzzer's damage, on records alone: cut, bits flipped, hostile text put in, a stretch repeated."""
    for _ in range(rng.randint(1, 3)):
        at, kind = rng.randrange(len(piece) + 1), rng.randrange(4)
        if kind == 0:
            piece = piece[:at]
        elif kind == 1:
            flipped = bytearray(piece)
            for _ in range(rng.randint(1, 8)):
                if flipped:
                    flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            piece = bytes(flipped)
        elif kind == 2:
            piece = piece[:at] + rng.choice(SNIPPETS) + piece[at:]
        else:
            end = min(len(piece), at + rng.randint(1, 400))
            piece = piece[:end] + piece[at:end] * rng.randint(1, 5) + piece[end:]
    return piece


def test_damaged_real_records_read_alike_or_are_left_alone(real_pieces):
    for case in range(CASES):
        rng = random.Random(1_000_000 + case)
        try:
            assert_same(_damaged(rng.choice(real_pieces), rng))
        except AssertionError as failure:
            raise AssertionError(f"case {case}: {failure}") from None


def test_the_generated_records_take_the_fast_path():
    assert assert_same(PIECE)
    assert assert_same(_records_of(report_xml(2000, seed=3)))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("<header_from>", "<envelope_to>t.example</envelope_to><header_from>", id="identifiers-in-another-order"),
        pytest.param("<auth_results>", "<auth_results>\r\n", id="crlf-between-tags"),
        pytest.param(
            "<auth_results>",
            "<auth_results><dkim><result>fail</result><domain>r.example</domain><selector>s</selector></dkim>",
            id="dkim-fields-in-another-order",
        ),
        pytest.param("<source_ip>", "<source_ip> ", id="space-in-a-value"),
        pytest.param(
            "</policy_evaluated>",
            "<reason><type>local_policy</type><comment>a; b</comment></reason></policy_evaluated>",
            id="reason",
        ),
        pytest.param("</result>\n      </dkim>", "</result><human_result>ok</human_result></dkim>", id="human-result"),
    ],
)
def test_usual_variations_take_the_fast_path(before, after):
    assert assert_same(PIECE.decode().replace(before, after, 1).encode())


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("<header_from>", "<header_from>a</header_from><header_from>", id="a-field-twice"),
        pytest.param("<count>", "<!-- c --><count>", id="comment"),
        pytest.param("<count>", "<count>&#49;", id="character-reference"),
        pytest.param("<row>", "<row><extra/>", id="unknown-element"),
        pytest.param("<source_ip>", "<count>1</count><source_ip>", id="row-fields-in-another-order"),
        pytest.param("<identifiers>", "<identities>", id="identities"),
    ],
)
def test_other_records_are_left_to_the_reference(before, after):
    piece = PIECE.decode().replace(before, after, 1).encode()
    assert by_plain(piece) is None


def test_the_compiled_scanner_is_built():
    # The install builds it wherever a C compiler is at hand, as on every machine the project tests on:
    # without it, the cases above would compare the regular expression with itself.
    assert plain.scan is not None, (
        "dmarc_core/reports/_plainscan.c was not built: with gcc and the Python headers installed, run "
        "`python3 -m uv sync --reinstall-package dmarc-alignment-explainer`"
    )


#: Bytes at the edges of what the grammar takes in text: every ASCII byte, UTF-8 as Python's strict
#: decoder draws its lines (overlong forms, surrogates, past U+10FFFF, cut sequences, stray
#: continuation bytes), the non-characters U+FFFE and U+FFFF, and "]]>".
EDGE_BYTES = [
    *(bytes([byte]) for byte in range(0x80)),
    *(bytes.fromhex(sequence) for sequence in (
        "80", "bf", "c0af", "c1bf", "c280", "dfbf", "c2", "e09fbf", "e0a080", "ed9fbf", "eda080", "edbfbf", "efbfbd",
        "efbfbe", "efbfbf", "efbf", "e282", "f08fbfbf", "f0908080", "f48fbfbf", "f4908080", "f5808080", "f09f98",
        "ff", "fe",
    )),
    b"]]>", b"]]", b"]>", b"] ]>", b"]]]>", b"]]&gt;",
]  # fmt: skip


@pytest.mark.parametrize("edge", EDGE_BYTES, ids=lambda edge: edge.hex())
def test_the_edges_of_text_read_alike(edge):
    first = PIECE.index(b"</source_ip>")
    for piece in (
        PIECE[:first] + edge + PIECE[first:],  # at a value's end
        PIECE[: first - 2] + edge + PIECE[first - 2 :],  # inside a value
        PIECE.replace(b"<count>", b"<count>" + edge, 1),  # at a value's start
        PIECE + edge,  # after the last record, where a cut sequence ends the piece
        PIECE.replace(b"</row>", b"</row>" + edge, 1),  # between two tags
    ):
        assert_same(piece)


def _one_record(value: str, extra: str = "") -> bytes:
    return (
        f"<record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated>"
        f"<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>{extra}</policy_evaluated></row>"
        f"<identifiers><header_from>{value}</header_from></identifiers><auth_results/></record>"
    ).encode()


@pytest.mark.parametrize("character", ["a", "é", "€", "𝔡"])
def test_a_record_as_long_as_the_fast_path_takes_in_characters_not_bytes(character):
    # plain._LONGEST counts characters, as the regular expression does: "𝔡" is four bytes and one character.
    base = len(_one_record("").decode())
    at_limit = _one_record(character * (plain._LONGEST - base))
    assert len(at_limit.decode()) == plain._LONGEST
    assert assert_same(at_limit)
    assert not assert_same(_one_record(character * (plain._LONGEST - base + 1)))


@pytest.mark.parametrize("count", [63, 64, 65])
def test_reasons_up_to_the_readers_limit(count):
    reasons = "<reason>" + "<type>forwarded</type><comment>a; b,c</comment>" * count + "</reason>"
    assert assert_same(_one_record("example.com", reasons)) == (count <= 64)


@pytest.mark.parametrize(
    ("entries", "taken"),
    [
        pytest.param(
            "<dkim><domain>a</domain><human_result>x</human_result><human_result>y</human_result></dkim>",
            True,
            id="human-results-usual",
        ),
        pytest.param(
            "<dkim><domain>a</domain><human_result>x</human_result><human_result>y</human_result></dkim>"
            "<spf><result>pass</result><domain>b</domain></spf>",
            False,
            id="human-results-twice-beside-another-order",
        ),
        pytest.param("<spf><result>pass</result><domain>b</domain><scope>mfrom</scope></spf>", True, id="another-order"),
        pytest.param("<spf><domain>b</domain><domain>c</domain></spf>", False, id="a-domain-twice"),
        pytest.param("<dkim><domain/><selector></selector><result>none</result></dkim>", True, id="empty-fields"),
        pytest.param("<dkim></dkim><spf/>", False, id="empty-spf-element"),
    ],
)
def test_auth_results_as_the_regular_expression_reads_them(entries, taken):
    piece = _one_record("example.com").replace(b"<auth_results/>", f"<auth_results>{entries}</auth_results>".encode())
    assert assert_same(piece) == taken


@pytest.mark.parametrize("piece", [b"", b" \n\t\r ", PIECE + b"\n\n", b"\n" + PIECE])
def test_nothing_but_white_space_around_records(piece):
    assert assert_same(piece)


def test_any_bytes_like_piece_reads_as_bytes():
    expected = plain.scan(PIECE, plain._LONGEST, 64)
    assert plain.scan(bytearray(PIECE), plain._LONGEST, 64) == expected
    assert plain.scan(memoryview(PIECE), plain._LONGEST, 64) == expected


def test_random_bytes_in_records_read_alike():
    # Grammar-minded damage: the characters that make or break a tag, a reference, white space or UTF-8.
    alphabet = [b"<", b">", b"/", b"&", b"]", b" ", b"\r", b"\t", b"\x00", b"\xc3", b"\xa9", b"\xef\xbf", b"record", b"dkim"]
    for case in range(CASES * 4):
        rng = random.Random(2_000_000 + case)
        piece = bytearray(PIECE)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(piece) + 1)
            piece[at : at + rng.choice([0, 0, 1, 2])] = rng.choice(alphabet)
        try:
            assert_same(bytes(piece))
        except AssertionError as failure:
            raise AssertionError(f"case {case}: {failure}") from None
