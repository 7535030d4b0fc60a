"""Two fixes to Streamlit 1.67's runtime, the one module of the dashboard that touches its internals.

Each checks that the internals it relies on are there (tests/test_streamlit_fixes.py checks the
pinned version still needs it), and does nothing if they are gone.
"""

from __future__ import annotations

import functools

# Where a clicked download's generated file is referenced: beside the button's own coordinates.
DOWNLOAD_SLOT_SUFFIX = "/clicked-download"
_MANAGER_INTERNALS = ("_lock", "_deferred_callables", "_files_by_session_and_coord", "_file_metadata")


def apply() -> None:
    """Apply both fixes (idempotent); `dashboard/app.py` calls it on every run."""
    keep_compiled_models_between_reruns()
    keep_clicked_downloads()


def keep_compiled_models_between_reruns() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit does it (`script_runner._clean_problem_modules`) for apps that build a model in
    the script on every run. It also clears TensorFlow's kernel cache, so the first prediction of
    every rerun re-instantiated the model's compiled function: 110-440 ms instead of 12-30 ms on a
    451x300 photo, and the page showed that as the prediction's time. The dashboard builds no
    model in its script (models are loaded once, in `state._load_segmenter`), and imports no
    matplotlib (the hook's other job), so the hook has nothing to do here."""
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = _keep_keras_session


def _keep_keras_session() -> None:
    """Replaces Streamlit's post-run clean-up; see `keep_compiled_models_between_reruns`."""


def keep_clicked_downloads() -> None:
    """Keep a clicked download's file until the clicking session's next run.

    A download button's data is made when it is clicked (`MediaFileManager.execute_deferred`),
    and Streamlit stores the file referenced by no session: every script run of *any* session
    ends with `remove_orphaned_files`, which marks such a file and deletes it on the next sweep.
    Two runs of other sessions between the click and the browser's request for the file's URL
    (a busy server; CI's eight-session load test) delete it, and the browser reports the download
    canceled. The fix references the file from the clicking session, in a slot beside the
    button's: it lives while the page that shows the button does; that session's next run clears
    its references as usual, and the sweeps then collect the file."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    original = getattr(MediaFileManager, "execute_deferred", None)
    if original is None or getattr(original, "keeps_clicked_downloads", False):
        return
    probe = MediaFileManager(MemoryMediaFileStorage("/media"))
    if not all(hasattr(probe, name) for name in _MANAGER_INTERNALS):
        return

    @functools.wraps(original)
    def execute_deferred(self: MediaFileManager, file_id: str) -> str:
        with self._lock:
            entry = self._deferred_callables.get(file_id)
        url = original(self, file_id)  # raises for an unknown id, as before
        generated_id = url.rsplit("/", 1)[-1].split(".", 1)[0]
        with self._lock:
            session_files = self._files_by_session_and_coord.get(entry["session_id"]) or {}
            # Only while the page that showed the button is still the session's current one: a
            # closed session, or one whose next run already began, gets no reference back.
            if generated_id in self._file_metadata and session_files.get(entry["coordinates"]) == file_id:
                session_files[entry["coordinates"] + DOWNLOAD_SLOT_SUFFIX] = generated_id
        return url

    execute_deferred.keeps_clicked_downloads = True
    MediaFileManager.execute_deferred = execute_deferred
