"""Streamlit caching around `core`, and the sidebar model panel. The only module with cache state."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.config import DEFAULT_MODEL_PATH
from core.data.imaging import Photo
from core.evaluation import gallery
from core.evaluation.evaluate import ImageResult
from core.evaluation.score_cache import cached_score_images
from core.inference.marks import Mark
from core.inference.matte import Matte
from core.inference.matte import warm_up as warm_up_matting
from core.inference.predict import Segmentation, Segmenter
from core.model.model_io import ModelFileError
from core.serving.catalog import ModelEntry, list_models, preset_of
from dashboard.settings import AppConfig


def settings() -> AppConfig:
    """Read on every use, so a changed environment (and each test) is honoured without a restart."""
    return AppConfig.from_env()


LOADING_MODEL = "Loading the model (its first load on this machine converts it for OpenVINO: 10-20 s)…"


@st.cache_resource(show_spinner=LOADING_MODEL, max_entries=8)
def _load_segmenter(path: str, mtime: float, tta: bool = False) -> Segmenter:
    """One Segmenter per model file, version and test-time augmentation, shared by all sessions
    of this process (the two of a model share its weights)."""
    if tta:
        return _load_segmenter(path, mtime).with_options(tta=True).warm_up()
    segmenter = Segmenter(path, runtime=settings().runtime).warm_up()
    warm_up_matting()
    return segmenter


def models() -> list[ModelEntry]:
    return list_models(settings().models_dir)


def selected_model() -> ModelEntry | None:
    entries = models()
    if not entries:
        return None
    labels = [entry.label for entry in entries]
    chosen = st.session_state.get("model")
    return entries[labels.index(chosen)] if chosen in labels else entries[0]


def segmenter() -> Segmenter | None:
    """The selected model, loaded once per process; shows the problem and returns None if it cannot load."""
    entry = selected_model()
    if entry is None:
        st.error(
            f"No model file (*.keras) in {settings().models_dir}. Restore the shipped one with "
            "`git checkout -- models/petseg.keras`, or train one with `python -m core train --out RUN` "
            "and copy RUN/model.keras there."
        )
        return None
    try:
        return _load_segmenter(str(entry.path), entry.mtime())
    except ModelFileError as error:
        st.error(f"The model cannot be loaded: {error}")
        return None


@st.cache_resource(show_spinner=False, max_entries=32)
def _segment(path: str, mtime: float, data: bytes, name: str, cleanup: bool, tta: bool) -> Segmentation:
    return _load_segmenter(path, mtime, tta).segment(Photo(data, name), cleanup=cleanup)


def segment(data: bytes, name: str, cleanup: bool, tta: bool = False, entry: ModelEntry | None = None) -> Segmentation:
    """Segment an uploaded file with the selected model, or `entry` (errors name the file); results
    are cached (slider moves are free)."""
    entry = entry or selected_model()
    return _segment(str(entry.path), entry.mtime(), data, name, cleanup, tta)


@st.cache_resource(
    show_spinner="Reading and scoring the validation images (about 10 s the first time for a "
    "model, then read from disk)…",
    max_entries=4,
)
def _gallery(path: str, mtime: float, data_dir: str) -> tuple[gallery.GallerySource, list[ImageResult]]:
    model = _load_segmenter(path, mtime)
    source = gallery.load_source(Path(data_dir), model.input_size)
    return source, cached_score_images(model, source.arrays, settings().score_cache_dir)


def gallery_results(data_dir: Path, entry: ModelEntry | None = None) -> tuple[gallery.GallerySource, list[ImageResult]]:
    """Validation images with predictions and scores by the selected model (or `entry`), computed
    once per model and data folder (and kept on disk: a comparison costs nothing after the first time)."""
    entry = entry or selected_model()
    return _gallery(str(entry.path), entry.mtime(), str(data_dir))


def other_models() -> list[ModelEntry]:
    """The models besides the selected one: what a comparison can be made with."""
    chosen = selected_model()
    return [entry for entry in models() if chosen is None or entry.path != chosen.path]


def model_choice(entry: ModelEntry) -> str:
    """The selector's text for a model: its name, whether it is the default, its validation mean IoU."""
    name = f"{entry.label} (default)" if entry.path.name == DEFAULT_MODEL_PATH.name else entry.label
    metrics = entry.metrics() or {}
    return f"{name} · val. mIoU {metrics['mean_iou']:.3f}" if "mean_iou" in metrics else name


RUNTIME_NAMES = {"openvino": "OpenVINO (CPU)", "keras": "Keras / TensorFlow"}


def model_panel() -> None:
    """Sidebar: model selector (when there are several), architecture and validation scores."""
    sidebar = st.sidebar
    sidebar.header("Model")
    entries = models()
    if len(entries) > 1:
        by_label = {entry.label: entry for entry in entries}
        sidebar.selectbox(
            "Model file",
            list(by_label),
            key="model",
            format_func=lambda label: model_choice(by_label[label]),
            help=f"The model files in {settings().models_dir}; the line below says what the chosen one is for.",
        )
    entry = selected_model()
    if entry is None:
        sidebar.error(f"No model in {settings().models_dir}")
        return
    if entry.card():
        sidebar.info(entry.card())
    try:
        model = _load_segmenter(str(entry.path), entry.mtime())
    except ModelFileError:
        sidebar.error(f"{entry.path.name} cannot be loaded")
        return
    sidebar.markdown(
        f"**{entry.path.name}**  \n"
        f"Preset: `{preset_of(model.network.model_name)}`  \n"
        f"Parameters: {model.network.parameters:,}  \n"
        f"Input: {model.input_size}×{model.input_size} px  \n"
        f"Runs on: {RUNTIME_NAMES[model.runtime]}, {model.network.precision}"
    )
    metrics = entry.metrics()
    if metrics:
        left, right = sidebar.columns(2)
        left.metric(
            "Val. Dice",
            f"{metrics['dice']:.3f}",
            help="Soft Dice on the validation images (the reference report's score; 1 is perfect).",
        )
        right.metric(
            "Val. mIoU",
            f"{metrics['mean_iou']:.3f}",
            help="Mean intersection over union of pet, background and border (1 is perfect).",
        )
        sidebar.caption(f"On {metrics.get('images', '?')} validation images (reference protocol).")
    else:
        sidebar.caption("No validation metrics saved beside this model.")


@st.cache_resource(show_spinner=False, max_entries=32)
def _matte(
    path: str,
    mtime: float,
    data: bytes,
    name: str,
    cleanup: bool,
    tta: bool,
    refine: str,
    marks: tuple[Mark, ...],
    max_side: int,
) -> Matte:
    result = _segment(path, mtime, data, name, cleanup, tta)
    return result.matte(refine, list(marks), max_side)


def view_matte(data: bytes, name: str, cleanup: bool, tta: bool, refine: str, marks: tuple[Mark, ...] = ()) -> Matte:
    """The alpha matte of an uploaded photo obeying its touch-up `marks`, at the page's preview size
    (`AppConfig.preview_side`; a 12 MP matte takes seconds longer and the screen shows 1024 px), once
    per photo and setting (cached: the prediction is never redone for a mark, only the matte).
    Downloads make the full-size matte when clicked."""
    entry = selected_model()
    side = settings().preview_side
    return _matte(str(entry.path), entry.mtime(), data, name, cleanup, tta, refine, marks, side)
