"""PetSeg dashboard: `make dashboard`, or `streamlit run dashboard/app.py` from any folder.

`make install` installs the project into the virtual environment (editable), so `core` and
`dashboard` import as packages whichever way Streamlit is started.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st  # noqa: E402

st.set_page_config(page_title="PetSeg", page_icon=":material/pets:", layout="wide")
with st.spinner("Starting PetSeg: loading TensorFlow…"):  # seconds on a cold server; later runs find it imported
    from dashboard import state, streamlit_fixes  # noqa: E402

streamlit_fixes.apply()

navigation = st.navigation(
    [
        st.Page("views/segment.py", title="Segment", icon=":material/pets:", default=True),
        st.Page("views/gallery.py", title="Validation gallery", icon=":material/grid_view:"),
        st.Page("views/history.py", title="Training history", icon=":material/monitoring:"),
    ]
)
state.model_panel()  # a cold start shows the model loader's own "Loading the model…" in the main area
navigation.run()
