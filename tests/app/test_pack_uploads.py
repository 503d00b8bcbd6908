"""The server's side of the browser's packing (ui/pack_uploads.py): an archive the browser packed
gives each file back under its own name; any other .zip, or one that claims to be packed but is
damaged or too big, stays the one file it is, for the reader to read or refuse."""

from __future__ import annotations

import io
import warnings
import zipfile

import pytest
import streamlit as st
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from ui.pack_uploads import PACKED_COMMENT, uploaded_files

FILES = [("a.xml", b"<feedback/>"), ("rapport-\u00e9t\u00e9.xml.gz", bytes(range(256))), ("a.xml", b"again")]


def upload(name: str, data: bytes) -> UploadedFile:
    return UploadedFile(UploadedFileRec(file_id=name, name=name, type="application/zip", data=data), FileURLs())


def archive(files, comment: bytes = PACKED_COMMENT.encode()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as packed, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a name twice: two folders' files of one name, dropped together
        for name, data in files:
            packed.writestr(name, data)
        packed.comment = comment
    return buffer.getvalue()


def test_a_packed_archive_gives_back_each_file_in_order_with_its_name():
    assert uploaded_files([upload("1.xml", b"first"), upload("3 files.zip", archive(FILES))]) == [("1.xml", b"first"), *FILES]


def test_a_zip_the_person_made_stays_one_file():
    made = archive(FILES, comment=b"")
    assert uploaded_files([upload("reports.zip", made)]) == [("reports.zip", made)]
    assert uploaded_files(None) == []


def damaged_crc(data: bytes) -> bytes:
    at = data.index(b"PK\x01\x02")  # the first central directory entry; its CRC-32 is at offset 16
    return data[: at + 16] + bytes(4) + data[at + 20 :]


def declaring_small_sizes(data: bytes) -> bytes:
    """Every member's size in the directory said to be 1 byte: zipfile holds the reads to it, and a
    CRC over the first byte does not match."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at != -1:
        out[at + 24 : at + 28] = (1).to_bytes(4, "little")
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


@pytest.mark.parametrize(
    "spoiled",
    [
        damaged_crc,
        declaring_small_sizes,
        lambda data: data[:40] + data[80:],
        lambda data: b"not a zip " + PACKED_COMMENT.encode(),
    ],
    ids=["bad CRC", "sizes declared too small", "bytes cut out", "not a zip"],
)
def test_a_damaged_packed_archive_stays_one_file_for_the_reader(spoiled):
    data = spoiled(archive(FILES))
    assert data.endswith(PACKED_COMMENT.encode())
    assert uploaded_files([upload("3 files.zip", data)]) == [("3 files.zip", data)]


def test_a_packed_archive_beyond_the_upload_limit_stays_one_file():
    # A bomb that says it is ours: its files together may not exceed what the browser would pack.
    limit = st.get_option("server.maxUploadSize") * 10**6
    big = archive([("zeros.xml", bytes(limit // 2)), ("more zeros.xml", bytes(limit // 2 + 1))])
    assert uploaded_files([upload("1 files.zip", big)]) == [("1 files.zip", big)]
