"""Many files dropped on a file uploader at once reach the server as one .zip, packed in the browser
by ``pack_uploads.js``: one upload request instead of one per file, and one chip to draw instead of
hundreds redrawn at every file's progress (300 reports kept the browser busy for seconds). Here the
archive gives each file back, so the pages read and list the files as they were dropped. A folder,
or more than the upload limit together, goes as Streamlit sends it."""

import io
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

#: More files than this, dropped at once, are packed (below it each keeps its chip, to remove one).
MANY_FILES = 50
#: The archive's comment, by which the server knows the archive is the browser's packing, not a
#: .zip the person dropped (that one is read as the one file it is).
PACKED_COMMENT = "Files dropped at once, packed by the browser for one upload"
#: The uploaders' help, for the person who sees one chip for many files.
PACKING_HELP = (
    f"More than {MANY_FILES} files dropped at once are packed by this page into one .zip in your browser, shown as "
    'one item ("300 files.zip"), and sent together: much sooner than one by one. The files list below still '
    "shows each of them. Removing that item removes them all."
)
_MOST_FILES = 65535  # a zip's without its zip64 extensions, which the packer does not write

_PACKER = st.components.v2.component("pack_uploads", js=Path(__file__).with_suffix(".js").read_text())


def _upload_limit() -> int:
    """The server's upload limit in bytes, as the uploader counts it where it is strictest: its
    megabyte is 10**6 bytes, except in browsers on Windows (2**20)."""
    return st.get_option("server.maxUploadSize") * 10**6


def pack_many_uploads() -> None:
    """Mount the packer; it watches every multi-file uploader on the page."""
    _PACKER(key="pack_uploads", data={"many": MANY_FILES, "limit": _upload_limit(), "comment": PACKED_COMMENT}, height=0)


def uploaded_files(uploads: Iterable[UploadedFile] | None) -> list[tuple[str, bytes]]:
    """Each uploaded file's name and bytes, a packed archive's files each in its place."""
    files = []
    for upload in uploads or []:
        data = upload.getvalue()
        files.extend(_unpacked(data) or [(upload.name, data)])
    return files


def _unpacked(data: bytes) -> list[tuple[str, bytes]] | None:
    """The files of the browser's packing, or None for any other file. Bounded as the browser
    bounded it: the files together within the upload limit (the sizes the archive declares, which
    zipfile holds each file to). Anything amiss and the archive is left whole, for the reader to
    read or refuse."""
    if not data.endswith(PACKED_COMMENT.encode()):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if (
                archive.comment != PACKED_COMMENT.encode()
                or len(members) > _MOST_FILES
                or sum(member.file_size for member in members) > _upload_limit()
            ):
                return None
            return [(member.filename, archive.read(member)) for member in members]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError):
        return None
