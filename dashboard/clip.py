"""A clip uploaded on the Segment page: cut out frame by frame, the original and the cut-out playing
side by side, a frame scrubber with that frame's mask, progress while it runs, and the downloads.

The work is `core.video.segment_clip` (the CLI's and the API's path); this module lays it out. A
clip's results are kept in the session (videos of a short clip are a few MB), so a rerun of the page
(a new frame chosen on the scrubber) never segments the clip again.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.data.labels import TrimapValue
from core.inference import render
from core.inference.render import CutoutOptions
from core.video.clip import ClipError, frame_at
from core.video.segment_clip import ClipRequest, segment_clip_bytes
from dashboard import state

CLIPS_STATE = "clip_results"
"""Session state: (clip hash, request) -> (summary, videos by format); the last few clips only."""
KEPT_CLIPS = 3
CLIP_FORMATS = ("cutout", "alpha", "overlay")
VIDEO_MIME = {".webm": "video/webm", ".mp4": "video/mp4"}
LABELS = {
    "cutout": "Download cut-out video",
    "alpha": "Download alpha matte video",
    "overlay": "Download overlay video",
}


def _results(name: str, data: bytes, request: ClipRequest):
    """The clip's videos, made once per clip and options (with a progress bar while they are made)."""
    key = (hashlib.sha1(data).hexdigest(), repr(request), state.selected_model().label)
    kept = st.session_state.setdefault(CLIPS_STATE, {})
    if key not in kept:
        bar = st.progress(0.0, text=f"Cutting out {name}…")

        def advance(done: int, total: int) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"Cutting out {name}: frame {done} of {total}")

        kept[key] = segment_clip_bytes(state.segmenter(), data, name, request, advance)
        bar.empty()
        while len(kept) > KEPT_CLIPS:
            kept.pop(next(iter(kept)))
    return kept[key]


def show_clip(index: int, name: str, data: bytes, cutout: CutoutOptions) -> bool:
    """Segment and show one clip; False (with the reason on the page) when it cannot be read."""
    request = ClipRequest(CLIP_FORMATS, CutoutOptions("fast", cutout.background, False, cutout.shadow, cutout.outline))
    try:
        summary, videos = _results(name, data, request)
    except ClipError as error:
        st.error(f"Cannot cut out {error}")
        return False
    info = summary.info
    original, cut = st.columns(2)
    original.video(data)
    original.caption(f"{name}: {info.width}×{info.height}, {info.frames} frames at {float(info.fps):.3g} frames/s")
    cut.video(videos["cutout"], format=VIDEO_MIME[summary.outputs["cutout"].suffix])
    cut.caption(
        f"Cut-out ({summary.frames} frames in {summary.seconds:.1f} s, {summary.frames_per_second:.1f} frames/s; "
        "fast edges, steadied from frame to frame)"
    )
    frame = st.slider("Frame", 1, max(summary.frames, 1), 1, key=f"clip-frame-{index}", help="Shows that frame's mask.")
    picture = frame_at(data, frame - 1, name)
    alpha = np.asarray(frame_at(videos["alpha"], frame - 1).convert("L"))
    mask = render.colourise(np.where(alpha >= 128, TrimapValue.PET, TrimapValue.BACKGROUND))
    shown = render.side_by_side([picture.crop((0, 0, *mask.size)), mask])
    st.image(shown, caption=f"Frame {frame}: the frame · its mask (orange pet, blue background)", width="stretch")
    st.caption("Touch-up is for photos: a clip's frames are cut out as they come.")
    buttons = st.columns(len(CLIP_FORMATS))
    for column, format in zip(buttons, CLIP_FORMATS):
        path = summary.outputs[format]
        column.download_button(
            LABELS[format], videos[format], file_name=path.name, mime=VIDEO_MIME[path.suffix],
            key=f"clip-download-{index}-{format}", on_click="ignore",
        )  # fmt: skip
    return True
