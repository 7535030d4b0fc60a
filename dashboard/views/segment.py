"""Segment page: upload photos (or pick an example), see the mask, overlay and cut-out, download."""

from __future__ import annotations

import streamlit as st

from core.imaging import CLASS_COLOURS, ImageError, preview
from core.outputs import output_files, output_stems, zip_outputs
from core.sample import sample_pairs
from dashboard import state

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"]
VIEWS = ["Side by side", "Overlay", "Mask", "Cut-out"]

st.title("Segment a cat or dog photo")
segmenter = state.segmenter()
if segmenter is None:
    st.stop()

uploads = st.file_uploader(
    "Upload one or more photos", type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads"
)
examples = {pair.stem: pair.image for pair in sample_pairs()}
example = st.selectbox(
    "…or try an example from the validation set", ["(none)", *examples], key="example",
    help="Bundled validation images the model never trained on.",
)
controls = st.columns([1, 1, 2])
cleanup = controls[0].toggle("Largest pet region only", key="cleanup", help="Drop small stray pet blobs.")
alpha = controls[1].slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="alpha")
view = controls[2].segmented_control("View", VIEWS, default=VIEWS[0], key="view") or VIEWS[0]

legend = " ".join(
    f'<span style="display:inline-block;width:0.9em;height:0.9em;background:rgb{tuple(int(c) for c in colour)};'
    f'border-radius:2px;margin:0 0.3em 0 0.8em"></span>{name}'
    for name, colour in zip(("pet", "background", "border"), CLASS_COLOURS)
)
st.markdown(f"Mask colours: {legend}", unsafe_allow_html=True)

items: list[tuple[str, bytes]] = [(upload.name, upload.getvalue()) for upload in uploads or []]
if example != "(none)":
    items.append((examples[example].name, examples[example].read_bytes()))
if not items:
    st.info("Upload a photo of your cat or dog to see it segmented.")
    st.stop()

progress = st.progress(0.0, text="Segmenting…") if len(items) > 1 else None
stems = output_stems([name for name, _ in items])  # the CLI's naming rule: same-stem photos keep their extension
done: dict[str, object] = {}
for index, ((name, data), stem) in enumerate(zip(items, stems)):
    st.subheader(name)
    try:
        result = state.segment(data, cleanup)
    except ImageError as error:
        st.error(f"Cannot segment {name}: {error}")
        continue
    finally:
        if progress is not None:
            progress.progress((index + 1) / len(items), text=f"Segmented {index + 1} of {len(items)}")
    done[stem] = result
    side = state.settings().preview_side
    photo = preview(result.photo.rgb, side)
    if view == "Side by side":
        columns = st.columns(3)
        columns[0].image(photo, caption="Photo", width="stretch")
        columns[1].image(preview(result.mask_image(), side), caption="Mask", width="stretch")
        columns[2].image(preview(result.overlay(alpha), side), caption="Overlay", width="stretch")
    elif view == "Overlay":
        st.image(preview(result.overlay(alpha), side), caption="Overlay")
    elif view == "Mask":
        st.image(preview(result.mask_image(), side), caption="Mask")
    else:
        st.image(preview(result.cutout(), side), caption="Cut-out")
    width, height = result.photo.size
    stats = st.columns(4)
    stats[0].metric("Pet share", f"{result.pet_fraction:.1%}")
    stats[1].metric("Prediction time", f"{result.seconds * 1000:.0f} ms")
    stats[2].metric("Photo size", f"{width}×{height}")
    files = output_files(stem, result, alpha)
    buttons = st.columns(4)
    for column, (file_name, payload) in zip(buttons, files.items()):
        column.download_button(
            f"Download {file_name.rsplit('_', 1)[-1].removesuffix('.png')}", payload, file_name=file_name,
            mime="image/png", key=f"download-{index}-{file_name}", on_click="ignore",
        )

if progress is not None:
    progress.empty()
if len(done) > 1:
    st.download_button(
        f"Download all {len(done)} results (ZIP)", zip_outputs(done, alpha), file_name="petseg-results.zip",
        mime="application/zip", key="download-zip", type="primary", on_click="ignore",
    )
