"""Touch-up on the Cut-out view: lasso or box regions on the photo as pet or background.

The photo, with the cut-out's outline and the marks drawn on it, is a Plotly chart with Streamlit's
own selection events (`on_select`, no extra component) while Draw is on, a plain picture otherwise.
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


CHART_WIDTH = 480
"""The width the chart's height is worked out for (half a wide page): the photo fills the chart there,
with no margin where a lasso could start off the photo."""


def figure(surface: Image.Image) -> go.Figure:
    width, height = surface.size
    ys, xs = np.mgrid[0:height:GRID_STEP, 0:width:GRID_STEP]
    chart = go.Figure(go.Image(z=np.asarray(surface.convert("RGB")), hoverinfo="skip"))
    chart.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker={"opacity": 0}, hoverinfo="skip"))
    chart.update_layout(
        dragmode="lasso",
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        height=round(CHART_WIDTH * height / width),
        showlegend=False,
        xaxis={"visible": False, "range": [0, width], "constrain": "domain"},
        yaxis={"visible": False, "range": [height, 0], "scaleanchor": "x", "constrain": "domain"},
    )
    return chart


def _chart_key(index: int, key: str) -> str:
    return f"touchup-{index}-{key}"


def _label_key(index: int) -> str:
    return f"touchup-label-{index}"


def current_marks(index: int, name: str, data: bytes, scale: float) -> list[Mark]:
    """The photo's marks, with the lasso or box drawn since the last run added (`scale`: photo pixels
    per surface pixel). Read from the chart's state before the chart is drawn again, so the surface
    and the cut-out of this very run show the new mark."""
    key = photo_key(name, data)
    chart_key = _chart_key(index, key)
    selection = (st.session_state.get(chart_key) or {}).get("selection") or {}
    signature = repr((selection.get("lasso"), selection.get("box")))
    seen = st.session_state.setdefault(SEEN_STATE, {})
    label = st.session_state.get(_label_key(index)) or "Pet"
    mark = selection_to_mark(selection, scale, LABELS[label])
    if mark is not None and seen.get(chart_key) != signature:
        seen[chart_key] = signature
        _set_marks(key, [*marks_of(key), mark])
    return marks_of(key)


def _undo(key: str) -> None:
    _set_marks(key, marks_of(key)[:-1])


def _clear(key: str) -> None:
    _set_marks(key, [])


def controls(index: int, name: str, data: bytes, surface: Image.Image) -> None:
    """Touch-up for one photo: the surface (`render.touchup_surface`: the photo, the cut-out's outline
    and the marks) as a picture, or, with Draw on, as a chart to draw a lasso or box on (off by default,
    so a finger swipe on a phone scrolls the page instead of drawing), and the marks' buttons."""
    key = photo_key(name, data)
    marks = marks_of(key)
    with st.expander("Touch up: mark a region as pet or background", expanded=bool(marks)):
        label_column, draw_column = st.columns([3, 1], vertical_alignment="bottom")
        label_column.segmented_control(
            "Mark as", list(LABELS), default="Pet", key=_label_key(index),
            help="Turn on Draw, then draw a lasso (or choose the box tool above the photo): inside it becomes "
            "pet or background; the soft edges around it are solved again.",
        )  # fmt: skip
        drawing = draw_column.toggle(
            "Draw", key=f"touchup-draw-{index}",
            help="On: a drag on the photo draws a mark. Off: the photo is a picture and a swipe scrolls the page.",
        )  # fmt: skip
        if drawing:
            st.plotly_chart(
                figure(surface), key=_chart_key(index, key), on_select="rerun", selection_mode=("lasso", "box"),
                config={"displaylogo": False, "displayModeBar": True,
                        "modeBarButtonsToRemove": ["zoom", "pan", "autoScale", "resetScale"]},
            )  # fmt: skip
        else:
            st.image(surface, width="stretch", caption="Magenta: the cut-out's outline. Turn on Draw to mark.")
        buttons = st.columns(3)
        buttons[0].button(
            "Undo last mark", key=f"touchup-undo-{index}", disabled=not marks, on_click=_undo, args=(key,)
        )
        buttons[1].button("Clear marks", key=f"touchup-clear-{index}", disabled=not marks, on_click=_clear, args=(key,))
        buttons[2].download_button(
            "Download marks (JSON)", marks_json(name, marks), file_name=f"{name.rsplit('.', 1)[0]}_marks.json",
            mime="application/json", key=f"touchup-download-{index}", disabled=not marks, on_click="ignore",
            help="Replay these marks in bulk: python -m core predict PHOTO --format cutout --marks MARKS.json",
        )  # fmt: skip
        st.caption(f"{len(marks)} mark(s) on this photo" if marks else "No marks yet.")
