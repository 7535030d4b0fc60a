"""Validation gallery: image / ground truth / prediction / overlay with per-image scores."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components
from PIL import Image

from core.data.labels import to_trimap
from core.evaluation import gallery
from core.evaluation.compare import Comparison, compare, disagreement_image, pet_disagreement
from core.evaluation.evaluate import ImageResult, pooled_confusion
from core.inference.render import colourise, overlay
from core.serving.catalog import ModelEntry
from dashboard import state
from dashboard.charts import confusion_figure
from dashboard.legend import show_legend
from dashboard.paging import page_count, page_of

SCORE_HELP = {
    "dice": "Soft Dice (the reference report's score): overlap of predicted probabilities and the true classes, "
    "pooled over all pixels; 1 is perfect.",
    "mean_iou": "Intersection over union of each class (pet, background, border), averaged; 1 is perfect.",
    "pet_iou": "Intersection over union of pet (with its border) against background: how well the pet is cut out.",
    "pixel_accuracy": "Share of pixels whose class is right.",
}
SCORE_LABELS = {"dice": "Dice", "mean_iou": "Mean IoU", "pet_iou": "Pet IoU", "pixel_accuracy": "Pixel accuracy"}
# The sort control's choices: (field of `core.evaluation.gallery.SORT_FIELDS`, descending).
SORT_ORDERS = {
    "Worst Dice first": ("dice", False),
    "Best Dice first": ("dice", True),
    "Worst pet IoU first": ("pet_iou", False),
    "Suspect labels first": ("confident_disagreement", True),
    "Name": ("name", False),
}
SPECIES = ["all", "cat", "dog"]
# Errors: where prediction and ground truth disagree on pet vs background, in magenta.
ROW_TITLES = ("Image", "Ground truth", "Prediction", "Overlay", "Errors")
NO_COMPARISON = "(no comparison)"
COMPARED_SCORE = "pet_iou"
PAGE_SIZES = [6, 12, 24, 48]


def run() -> None:
    st.title("Validation gallery")
    segmenter = state.segmenter()
    if segmenter is None:
        st.stop()
    data_dir = Path(
        st.text_input(
            "Dataset folder",
            value=str(state.settings().data_dir),
            key="data_dir",
            help="Oxford-IIIT Pet layout; the validation split follows the reference protocol.",
        )
    )
    source, results = state.gallery_results(data_dir)
    (st.info if source.is_sample else st.caption)(f"Showing the {source.description}.")
    chosen, per_page = filtered(results)
    if not chosen:
        st.warning(
            "No validation image matches these filters. Clear the breeds or the suspect-label filter to see more."
        )
        st.stop()
    show_summary(chosen)
    other = comparison_choice()
    rows = compare(chosen, state.gallery_results(data_dir, other)[1], COMPARED_SCORE) if other else chosen
    if other:
        st.caption(
            f"Each row: this model ({state.selected_model().label}) and {other.label} on one image, the images "
            f"where their pet IoU differs most first (the sort above applies without a comparison)."
        )
    pages = page_count(len(rows), per_page)
    page = page_picker("top", pages)
    if st.session_state.pop("scroll_to_top", False):
        scroll_to_top()
    show_legend()
    for row in page_of(rows, page, per_page):
        if other:
            show_comparison_row(row, other.label)
        else:
            show_row(row)
    page_picker("bottom", pages)


SCROLL_TO_TOP = """<script>
const main = window.parent.document.querySelector('[data-testid="stMain"]');
(main || window.parent.document.scrollingElement).scrollTo({top: 0});
</script>"""


def scroll_to_top() -> None:
    """After a page change at the bottom, show the new page from its top (Streamlit keeps the scroll
    position, which left the reader at the bottom of the next page)."""
    components.html(SCROLL_TO_TOP, height=0)


def comparison_choice() -> ModelEntry | None:
    others = {entry.label: entry for entry in state.other_models()}
    if not others:
        return None
    picked = st.selectbox(
        "Compare with",
        [NO_COMPARISON, *others],
        key="gallery_compare_with",
        help="Scores the images with a second model too (once; kept on disk) and shows first the images "
        "where the two differ most.",
    )
    return others.get(picked)


def filtered(results: list[ImageResult]) -> tuple[list[ImageResult], int]:
    """The filter and sort controls, and the results they select; with the page size chosen."""

    def keep_filters_consistent() -> None:
        """A species click never leaves none selected, and breeds of another species are dropped."""
        if st.session_state.get("species") is None:
            st.session_state["species"] = SPECIES[0]
        allowed = set(gallery.breeds_of(results, st.session_state["species"]))
        st.session_state["breeds"] = [breed for breed in st.session_state.get("breeds", []) if breed in allowed]

    filters = st.columns([1, 2, 1.3, 0.7])
    species = (
        filters[0].segmented_control(
            "Species", SPECIES, default=SPECIES[0], key="species", on_change=keep_filters_consistent
        )
        or SPECIES[0]
    )
    breeds = filters[1].multiselect(
        "Breeds",
        gallery.breeds_of(results, species),
        key="breeds",
        format_func=gallery.breed_name,
        placeholder=f"All {species if species != 'all' else ''} breeds",
    )
    order = filters[2].selectbox("Sort", list(SORT_ORDERS), key="order")
    per_page = filters[3].selectbox("Per page", PAGE_SIZES, index=1, key="per_page")
    suspects = sum(result.suspect_label for result in results)
    suspect_only = st.toggle(
        f"Only suspect labels ({suspects})",
        key="suspect_only",
        help="Images whose ground truth the model confidently contradicts on at least half of the picture: "
        "the annotation, not the model, may be wrong (e.g. pet and background swapped).",
    )
    sort, descending = SORT_ORDERS[order]
    return gallery.select(results, species, breeds, sort, descending, suspect_only), per_page


def show_summary(chosen: list[ImageResult]) -> None:
    summary = gallery.summary(chosen)
    cards = st.columns(1 + len(SCORE_LABELS))
    cards[0].metric("Images", len(chosen))
    for card, (key, label) in zip(cards[1:], SCORE_LABELS.items()):
        card.metric(label, f"{summary[key]:.3f}", help=SCORE_HELP[key])
    with st.expander("Scores per breed (worst pet IoU first)", expanded=False):
        st.dataframe(
            [
                {
                    "breed": gallery.breed_name(item.breed),
                    "species": item.species,
                    "images": item.images,
                    **{label: round(item.scores[key], 3) for key, label in SCORE_LABELS.items()},
                }
                for item in gallery.per_breed(chosen)
            ],
            hide_index=True,
            key="per_breed",
        )
    with st.expander("Confusion matrix of the selection", expanded=False):
        st.plotly_chart(confusion_figure(pooled_confusion(chosen)), key="confusion")


def page_picker(where: str, pages: int) -> int:
    """The page number, shown above and below the rows (both pick the same page)."""

    def follow() -> None:
        st.session_state["page"] = st.session_state[f"page_{where}"]
        st.session_state["scroll_to_top"] = where == "bottom"  # the new page starts at its first row

    current = min(int(st.session_state.get("page", 1)), pages)
    st.session_state[f"page_{where}"] = current
    st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, step=1, key=f"page_{where}", on_change=follow)
    return current


def show_comparison_row(pair: Comparison, other_label: str) -> None:
    first, second = pair.first, pair.second
    with st.container(border=True):
        st.caption(
            f"**{first.pair.stem}** ({first.pair.species}, {gallery.breed_name(first.pair.breed)}) — pet IoU "
            f"{first.scores['pet_iou']:.3f} vs {second.scores['pet_iou']:.3f} ({other_label} "
            f"{pair.difference('pet_iou'):+.3f}) · mean IoU {first.scores['mean_iou']:.3f} vs "
            f"{second.scores['mean_iou']:.3f}"
        )
        titles = ("Image", "Ground truth", f"Mask: {state.selected_model().label}", f"Mask: {other_label}")
        images = (
            original_photo(first),
            *(colourise(to_trimap(m)) for m in (first.truth, first.prediction, second.prediction)),
        )
        for column, image, title in zip(st.columns(len(titles)), images, titles):
            column.image(image, caption=title, width="stretch")


def show_row(result: ImageResult) -> None:
    truth, prediction = to_trimap(result.truth), to_trimap(result.prediction)
    photo = Image.fromarray(result.image)
    scores = result.scores
    with st.container(border=True):  # the caption heads its own row
        st.caption(
            f"**{result.pair.stem}** ({result.pair.species}, {gallery.breed_name(result.pair.breed)}) — "
            f"Dice {scores['dice']:.3f} · mean IoU {scores['mean_iou']:.3f} · pet IoU {scores['pet_iou']:.3f} · "
            f"accuracy {scores['pixel_accuracy']:.3f}"
            + (
                f" · **suspect label**: the model confidently contradicts {result.confident_disagreement:.0%} "
                "of the ground truth"
                if result.suspect_label
                else ""
            )
        )
        images = (
            original_photo(result),  # fullscreen shows the photo itself, not the model's 128 px input
            colourise(truth),
            colourise(prediction),
            overlay(photo, prediction),
            disagreement_image(photo, pet_disagreement(truth, prediction)),
        )
        for column, image, title in zip(st.columns(len(ROW_TITLES)), images, ROW_TITLES):
            column.image(image, caption=title, width="stretch")  # a caption each: on a phone the columns stack


def original_photo(result: ImageResult) -> Image.Image:
    try:
        return Image.open(result.pair.image).convert("RGB")
    except OSError:  # the gallery's arrays came from it; a file removed since still shows the model's input
        return Image.fromarray(result.image)


run()
