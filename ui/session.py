"""What a visitor's session keeps while they move between pages and the page reruns.

Widgets keep their values across pages with ``persist_state="session"``; the file uploader cannot
be given a value back, so uploads are copied to a key of their own as they arrive.
"""

from __future__ import annotations

import streamlit as st

from ui.pack_uploads import uploaded_files
from ui.text import inert

#: The uploaded reports, as (name, bytes), kept after the uploader is gone.
KEPT_UPLOADS = "kept_uploads"
#: A message handed from one page to the Message Check, as (name, bytes), until that page takes it.
MESSAGE_TO_CHECK = "message_to_check"
MESSAGE_PAGE = "app_pages/message.py"
_NAMES_LISTED = 3


def keep_uploads() -> None:
    """The uploader's on_change: the session keeps what the uploader holds now, nothing once the
    person removes every file."""
    st.session_state[KEPT_UPLOADS] = uploaded_files(st.session_state.get("uploads"))


def held_uploads(uploads) -> list[tuple[str, bytes]]:
    """The files the uploader holds, as ``keep_uploads`` kept them when they arrived: a packed
    archive is unpacked once, not at every rerun."""
    kept = st.session_state.get(KEPT_UPLOADS)
    return kept if uploads and kept is not None else uploaded_files(uploads)


def forget_uploads() -> None:
    st.session_state.pop(KEPT_UPLOADS, None)


def kept_uploads() -> list[tuple[str, bytes]]:
    """The files uploaded before the uploader was last drawn empty (the person went to another
    page and back), with a note saying so and a button that clears them."""
    kept = st.session_state.get(KEPT_UPLOADS) or []
    if kept:
        names = ", ".join(name for name, _ in kept[:_NAMES_LISTED])
        more = f" and {len(kept) - _NAMES_LISTED:,} more" if len(kept) > _NAMES_LISTED else ""
        files = "1 file" if len(kept) == 1 else f"{len(kept):,} files"
        st.info(
            f"{files} kept from before: {inert(names + more)}. Dropping files above replaces them.",
            icon=":material/inventory_2:",
        )
        st.button("Clear", icon=":material/delete:", key="clear_uploads", on_click=forget_uploads)
    return kept


def open_in_message_check(name: str, data: bytes) -> None:
    """Hand a message (a failure report from the triage) to the Message Check, and go there."""
    st.session_state[MESSAGE_TO_CHECK] = (name, data)
    st.switch_page(MESSAGE_PAGE)


def take_message_to_check() -> tuple[str, bytes] | None:
    """The message handed over by ``open_in_message_check``, once: taken, it is gone from the session."""
    return st.session_state.pop(MESSAGE_TO_CHECK, None)
