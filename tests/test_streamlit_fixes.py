"""dashboard/streamlit_fixes.py on Streamlit's real media file manager (the pinned version).

Sessions are simulated the way the runtime drives the manager: a script run starts with
`clear_session_refs`, registers its elements, and ends with `remove_orphaned_files`.
"""

from __future__ import annotations

import itertools

import pytest
from streamlit.runtime import media_file_manager as mfm
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from dashboard import streamlit_fixes

BUTTON = "1.(2.-3).4"


@pytest.fixture
def unfixed(monkeypatch):
    """Streamlit's own execute_deferred (the app may have patched the class in this process)."""
    method = mfm.MediaFileManager.execute_deferred
    monkeypatch.setattr(mfm.MediaFileManager, "execute_deferred", getattr(method, "__wrapped__", method))


@pytest.fixture
def fixed(unfixed):
    streamlit_fixes.keep_clicked_downloads()
    streamlit_fixes.keep_clicked_downloads()  # idempotent: wraps once


class Sessions:
    def __init__(self, monkeypatch) -> None:
        self.manager = mfm.MediaFileManager(MemoryMediaFileStorage("/media"))
        self.current = "nobody"
        monkeypatch.setattr(mfm, "_get_session_id", lambda: self.current)
        self.payloads = itertools.count()

    def run_with_button(self, session: str) -> str:
        """A script run of `session` that shows one download button; returns its placeholder id."""
        self.current = session
        self.manager.clear_session_refs(session)
        placeholder = self.manager.add_deferred(
            lambda: f"payload {next(self.payloads)}".encode(), "image/png", BUTTON, "x.png"
        )
        self.manager.remove_orphaned_files()
        return placeholder

    def click(self, placeholder: str) -> str:
        url = self.manager.execute_deferred(placeholder)
        return url.rsplit("/", 1)[-1].split(".")[0]

    def stored(self, file_id: str) -> bool:
        return self.manager.read_file(file_id) is not None


@pytest.fixture
def sessions(monkeypatch):
    return Sessions(monkeypatch)


def test_pinned_streamlit_still_deletes_a_clicked_download_after_two_foreign_runs(unfixed, sessions):
    """Tells when an upgrade makes the fix unnecessary: then this fails and the fix can go."""
    generated = sessions.click(sessions.run_with_button("alice"))
    sessions.run_with_button("bob")
    assert sessions.stored(generated)  # marked, not yet deleted
    sessions.run_with_button("bob")
    assert not sessions.stored(generated)


def test_clicked_download_lives_through_foreign_runs_until_its_own_next_run(fixed, sessions):
    generated = sessions.click(sessions.run_with_button("alice"))
    for _ in range(5):
        sessions.run_with_button("bob")
    assert sessions.stored(generated)
    sessions.run_with_button("alice")  # her next run releases it; the sweeps collect it as before
    sessions.run_with_button("bob")
    assert not sessions.stored(generated)


def test_a_repeat_click_replaces_the_kept_file(fixed, sessions):
    placeholder = sessions.run_with_button("alice")
    first, second = sessions.click(placeholder), sessions.click(placeholder)
    assert first != second
    sessions.run_with_button("bob")
    sessions.run_with_button("bob")
    assert sessions.stored(second) and not sessions.stored(first)


def test_a_closed_session_gets_no_reference_back(fixed, sessions):
    placeholder = sessions.run_with_button("alice")
    sessions.manager.clear_session_refs("alice")  # the session shuts down while its click is handled
    generated = sessions.click(placeholder)
    sessions.run_with_button("bob")
    sessions.run_with_button("bob")
    assert not sessions.stored(generated)
    assert "alice" not in sessions.manager._files_by_session_and_coord


def test_a_streamlit_without_these_internals_is_left_alone(unfixed, monkeypatch):
    monkeypatch.setattr(streamlit_fixes, "_MANAGER_INTERNALS", ("_no_such_attribute",))
    before = mfm.MediaFileManager.execute_deferred
    streamlit_fixes.keep_clicked_downloads()
    assert mfm.MediaFileManager.execute_deferred is before
