"""Touch-up on the Cut-out view: lasso or box regions on the photo as pet or background.

The photo is a Plotly chart with Streamlit's own selection events (`on_select`), no extra component.
Each new lasso or box becomes a `core.inference.marks.Mark` in the photo's own pixels, kept per photo (its
name and content) in the session: marks survive a change of view, background or refinement, not a
new upload. `core.inference.matte` obeys them; the page only collects them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from core.inference.marks import Mark, marks_json

MARKS_STATE = "touchup_marks"
"""Session state: photo key -> list of marks."""
SEEN_STATE = "touchup_seen"
"""Session state: chart key -> the last selection turned into a mark (a selection stays in the
chart's state across reruns; only a new one adds a mark)."""
GRID_STEP = 8
"""Preview pixels between the chart's invisible selectable points (Plotly selects over a trace)."""
LABELS = {"Pet": "pet", "Background": "background"}


def photo_key(name: str, data: bytes) -> str:
    return f"{name}:{hashlib.sha1(data).hexdigest()[:16]}"


def marks_of(key: str) -> list[Mark]:
    return list(st.session_state.get(MARKS_STATE, {}).get(key, []))


def _set_marks(key: str, marks: list[Mark]) -> None:
    st.session_state.setdefault(MARKS_STATE, {})[key] = marks


def selection_to_mark(selection: dict, scale: float, label: str) -> Mark | None:
    """The newest lasso or box of a Plotly selection state, in photo pixels (preview x `scale`)."""
    lassos, boxes = selection.get("lasso") or [], selection.get("box") or []
    if lassos:
        xs, ys = lassos[-1]["x"], lassos[-1]["y"]
    elif boxes:
        (x0, x1), (y0, y1) = boxes[-1]["x"], boxes[-1]["y"]
        xs, ys = [x0, x1, x1, x0], [y0, y0, y1, y1]
    else:
        return None
    if len(xs) < 3:
        return None
    return Mark(label, tuple((float(x) * scale, float(y) * scale) for x, y in zip(xs, ys)))


def figure(photo: Image.Image) -> go.Figure:
    width, height = photo.size
    ys, xs = np.mgrid[0:height:GRID_STEP, 0:width:GRID_STEP]
    chart = go.Figure(go.Image(z=np.asarray(photo.convert("RGB")), hoverinfo="skip"))
    chart.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker={"opacity": 0}, hoverinfo="skip"))
    chart.update_layout(
        dragmode="lasso",
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        height=max(240, min(640, height)),
        showlegend=False,
        xaxis={"visible": False, "range": [0, width]},
        yaxis={"visible": False, "range": [height, 0], "scaleanchor": "x"},
    )
    return chart


def controls(index: int, name: str, data: bytes, shown: Image.Image, photo_width: int) -> list[Mark]:
    """The touch-up chart and its buttons for one photo; returns the photo's marks after this run."""
    key = photo_key(name, data)
    with st.expander("Touch up: mark a region as pet or background", expanded=bool(marks_of(key))):
        label = st.segmented_control(
            "Mark as", list(LABELS), default="Pet", key=f"touchup-label-{index}",
            help="Draw a lasso (or choose the box tool) on the photo: inside it becomes pet or background; "
            "the soft edges around it are solved again.",
        ) or "Pet"  # fmt: skip
        chart_key = f"touchup-{index}-{key}"
        event = st.plotly_chart(
            figure(shown), key=chart_key, on_select="rerun", selection_mode=("lasso", "box"),
            config={"displaylogo": False, "modeBarButtonsToRemove": ["zoom", "pan", "autoScale", "resetScale"]},
        )  # fmt: skip
        selection = (event or {}).get("selection") or {}
        signature = repr((selection.get("lasso"), selection.get("box")))
        seen = st.session_state.setdefault(SEEN_STATE, {})
        mark = selection_to_mark(selection, photo_width / shown.width, LABELS[label])
        if mark is not None and seen.get(chart_key) != signature:
            seen[chart_key] = signature
            _set_marks(key, [*marks_of(key), mark])
        marks = marks_of(key)
        buttons = st.columns(3)
        if buttons[0].button("Undo last mark", key=f"touchup-undo-{index}", disabled=not marks):
            _set_marks(key, marks[:-1])
        if buttons[1].button("Clear marks", key=f"touchup-clear-{index}", disabled=not marks):
            _set_marks(key, [])
        marks = marks_of(key)
        buttons[2].download_button(
            "Download marks (JSON)", marks_json(name, marks), file_name=f"{name.rsplit('.', 1)[0]}_marks.json",
            mime="application/json", key=f"touchup-download-{index}", disabled=not marks, on_click="ignore",
            help="Replay these marks in bulk: python -m core predict PHOTO --format cutout --marks MARKS.json",
        )  # fmt: skip
        st.caption(f"{len(marks)} mark(s) on this photo" if marks else "No marks yet.")
    return marks
