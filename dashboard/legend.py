"""The colour legend of masks: shown wherever the pages draw class colours."""

from __future__ import annotations

import streamlit as st

from core.data.labels import CLASS_COLOURS, CLASS_NAMES

BORDER_MEANING = "the outline band the dataset's annotators left undecided (fur, whiskers)"


def show_legend() -> None:
    """A swatch and name per class; the border class explained. A grey outline keeps the yellow
    swatch visible on a light theme (contrast 1.6 against white) and every swatch on a dark one."""
    swatches = " ".join(
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:rgb{tuple(int(c) for c in colour)};'
        f'border-radius:2px;margin:0 0.3em 0 0.8em;outline:1px solid rgba(128,128,128,0.7)"></span>{name}'
        for name, colour in zip(CLASS_NAMES, CLASS_COLOURS)
    )
    st.markdown(f"{swatches}: {BORDER_MEANING}", unsafe_allow_html=True)
