"""The app's frame (app.py): what it does once per server process."""

import gc

import streamlit as st


def test_the_first_run_freezes_the_objects_that_live_for_good_once_per_process(app):
    # As at a server's start: nothing frozen, nothing settled yet.
    st.cache_resource.clear()
    gc.unfreeze()
    app()
    frozen = gc.get_freeze_count()
    # Streamlit's, pandas' and pyarrow's objects at least: what a full collection would walk.
    assert frozen > 50_000
    app("app_pages/triage.py")
    # Frozen objects still die when nothing refers to them, so the count may fall; a second freeze
    # would add every object the triage page made.
    assert gc.get_freeze_count() <= frozen, "a later run froze again (the objects of its session with it)"
