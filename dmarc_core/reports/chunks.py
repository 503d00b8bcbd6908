"""Big reports on every core.

A report of more than twice ``chunk_bytes`` (CHUNK_BYTES, 4 MB, unless a caller says otherwise) is
cut after about every ``chunk_bytes`` at a </record> boundary.
Each chunk, wrapped in an element that carries the document's namespace declarations, is a
small document of whole records that a worker process parses; the main process reads the
header itself and keeps the chunks in order. Only UTF-8 documents are cut (any byte offset
after '>' is a character boundary there); others are read in one piece.

The chunks must read exactly as the whole report reads in one piece. That holds for a report of
plain records between a header and the root's end tag, which every big report is; anything else
(a chunk with damage, a section among or after the records, an end tag written another way, a
stretch without records) raises ``NotCuttable``, and the report is read again in one piece.
"""

from __future__ import annotations

import collections
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

import pyarrow as pa
from lxml import etree

from .plain import read_plain
from .pool import cores, process_pool
from .records import RecordReader, qualified_name

CHUNK_BYTES = 4 << 20
#: A stretch without a record end tag longer than this many chunks is not cut but read in one piece.
_STRETCH_CHUNKS = 8


class NotCuttable(Exception):
    """The report cannot be cut into chunks that read as it reads whole: read it in one piece."""


UTF8_DECLARATION = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*encoding=[\"']utf-8[\"']|<\?xml(?![^>]*encoding)|<(?![?!]))",
    re.IGNORECASE,
)
_RECORD_START = re.compile(rb"<((?:[\w.-]+:)?record)[\s>]")


class Rejoined(io.RawIOBase):
    """``head``, already read from ``rest``, followed by what is left of ``rest``: a report that
    could not be cut is still read whole, in one piece."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size], self._head = self._head[:size], self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass
class _Chunks:
    header: bytes
    pieces: Iterator[bytes]
    tail: list[bytes]


def record_chunks(start: bytes, stream: BinaryIO, chunk_bytes: int) -> _Chunks | None:
    """The report cut into pieces of whole records, or None where it cannot be cut safely: only
    outside comments, CDATA and processing instructions is a "</record>" an end tag, so the
    header must hold none of them, and every cut is checked."""
    first = _RECORD_START.search(start)
    if first is None or _markup_end(start, 0, first.start()) is not None or b"<!--" in start[: first.start()]:
        return None
    tail: list[bytes] = []
    pieces = _pieces(start, first.start(), stream, b"</" + first.group(1) + b">", tail, chunk_bytes)
    return _Chunks(start[: first.start()], pieces, tail)


def _pieces(data: bytes, offset: int, stream: BinaryIO, end_tag: bytes, tail: list[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """Whole records from ``data[offset:]`` and then ``stream``, cut at the last end tag within
    every ``chunk_bytes`` (or after a record longer than that), never inside markup; what
    follows the last record goes to ``tail``."""
    while True:
        cut = _cut(data, offset, offset + chunk_bytes, end_tag) if len(data) >= offset + chunk_bytes else -1
        if cut < 0:
            more = _read_to_end_tag(stream, end_tag, chunk_bytes)
            if more:
                data, offset = data[offset:] + more, 0
                continue
            cut = data.rfind(end_tag, offset)
            while cut >= 0 and _markup_end(data, offset, cut) is not None:
                cut = data.rfind(end_tag, offset, cut)
            if cut >= 0:
                yield data[offset : cut + len(end_tag)]
                offset = cut + len(end_tag)
            tail.append(data[offset:])
            return
        yield data[offset : cut + len(end_tag)]
        offset = cut + len(end_tag)


def _cut(data: bytes, offset: int, window: int, end_tag: bytes) -> int:
    """Where to cut: the last end tag before ``window``, else the first after it (a record longer
    than a chunk is taken whole), never one inside a comment, CDATA or a PI; -1 for none yet."""
    cut = data.rfind(end_tag, offset, window)
    if cut < 0:
        cut = data.find(end_tag, window)
    while cut >= 0 and (closes := _markup_end(data, offset, cut)) is not None:
        # That "</record>" is text of a comment, CDATA or a PI: cut at the next one after it closes.
        cut = data.find(end_tag, closes) if closes >= 0 else -1
    return cut


def _read_to_end_tag(stream: BinaryIO, end_tag: bytes, chunk_bytes: int) -> bytes:
    """The next blocks of ``stream`` up to one that holds an end tag (or the end), joined once: a
    long stretch without records costs one copy, not one per block."""
    blocks: list[bytes] = []
    while block := stream.read(chunk_bytes):
        if len(blocks) >= _STRETCH_CHUNKS:
            raise NotCuttable  # no record ends here: not a report of plain records, and memory would grow
        blocks.append(block)
        # An end tag may straddle two blocks: look at the seam too.
        if end_tag in block or (len(blocks) > 1 and end_tag in blocks[-2][-len(end_tag) :] + block[: len(end_tag)]):
            break
    return b"".join(blocks)


_MARKUP = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))


def _markup_end(data: bytes, start: int, end: int) -> int | None:
    """None when no comment, CDATA section or processing instruction is open at ``end`` (pieces
    start outside them); else where the open one closes, or -1 when it does not within ``data``.
    A closer inside another kind of markup can make this say "open" wrongly: that only costs a
    later cut, never a wrong one."""
    # Every opener holds a "!" or a "?", which records seldom do: one memchr each over a report's
    # records, where looking for the openers themselves costs several times that.
    if data.find(b"!", start, end) < 0 and data.find(b"?", start, end) < 0:
        return None
    for opener, closer in _MARKUP:
        last = data.rfind(opener, start, end)
        if last >= 0:
            closed = data.find(closer, last + len(opener))
            if closed < 0 or closed + len(closer) > end:
                return closed + len(closer) if closed >= 0 else -1
    return None


def read_chunks(chunks: _Chunks, root, workers: int, max_records: int) -> tuple[pa.Table, list[str]]:
    """The records of every chunk in order, at most ``max_records``, and what was repaired; or
    ``NotCuttable`` where the chunks would not read as the whole report does. With one worker the
    chunks are read here, one after another."""
    declarations = "".join(
        f" xmlns{':' + prefix if prefix else ''}={quoteattr(uri)}"
        for prefix, uri in (root.nsmap if root is not None else {}).items()
    )
    opening, closing = f"<chunk{declarations}>".encode(), b"</chunk>"
    workers = min(workers, cores())
    pending: collections.deque = collections.deque()
    tables, repairs = [], []
    read = 0

    def collect(result: tuple[pa.Table, list[str], bool]) -> None:
        nonlocal read
        table, notes, plain = result
        if not plain:
            raise NotCuttable
        tables.append(table)
        repairs.extend(notes)
        read += table.num_rows

    try:
        for piece in chunks.pieces:
            if workers <= 1:
                collect(_read_chunk(opening, piece, closing))
            else:
                pending.append(process_pool().submit(_read_chunk, opening, piece, closing))
                if len(pending) > workers:  # one chunk waiting per worker: busy workers, flat memory
                    collect(pending.popleft().result())
            if read >= max_records:
                break
        while pending:
            collect(pending.popleft().result())
    finally:
        for future in pending:
            future.cancel()
    if read < max_records and not ends_root(b"".join(chunks.tail), root):
        raise NotCuttable  # the records are not followed by the root's end tag alone
    return (pa.concat_tables(tables) if tables else RecordReader().records)[:max_records], repairs


def ends_root(tail: bytes, root) -> bool:
    """Whether ``tail``, what follows the records, is the root's end tag alone."""
    root_name = qualified_name(root) if root is not None else "feedback"
    return re.fullmatch(rb"\s*</" + re.escape(root_name.encode()) + rb"\s*>\s*", tail) is not None


def _read_chunk(opening: bytes, piece: bytes, closing: bytes) -> tuple[pa.Table, list[str], bool]:
    """The records of one chunk, the repairs that reading them alone would say too, and whether the
    chunk is plain records (no damage, no section, every count a number). Plain records written
    the plain way are read without a tree; the rest by lxml, the chunk wrapped in ``opening`` and
    ``closing`` (an element with the document's namespace declarations)."""
    reader = RecordReader()
    if read_plain(piece, reader.columns):
        reader.stop = reader.columns.rows
        records = reader.records
        return records, reader.repairs, not reader.bad_counts
    events = reader.events(io.BytesIO(opening + piece + closing), "chunk")
    reader.read(events)
    damaged = any(entry.level >= etree.ErrorLevels.ERROR for entry in events.error_log)
    records = reader.records
    plain = not damaged and reader.seen <= {"record"} and not reader.bad_counts and not reader.stopped
    return records, reader.repairs, plain
