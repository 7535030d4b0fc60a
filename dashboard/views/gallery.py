"""Validation gallery: image / ground truth / prediction / overlay with per-image scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from core import gallery
from core.imaging import colourise, overlay
from dashboard import state
from dashboard.charts import confusion_figure

st.title("Validation gallery")
segmenter = state.segmenter()
if segmenter is None:
    st.stop()

data_dir = Path(st.text_input("Dataset folder", value=str(state.settings().data_dir), key="data_dir",
                              help="Oxford-IIIT Pet layout; the validation split follows the reference protocol."))
source, results = state.gallery_results(data_dir)
(st.info if source.is_sample else st.caption)(f"Showing the {source.description}.")

filters = st.columns([1, 2, 1.3, 0.7])
species = filters[0].segmented_control("Species", ["all", "cat", "dog"], default="all", key="species") or "all"
breeds = filters[1].multiselect("Breeds", sorted({r.pair.breed for r in results}), key="breeds")
order = filters[2].selectbox("Sort", list(gallery.SORT_ORDERS), key="order")
per_page = filters[3].selectbox("Per page", [6, 12, 24, 48], index=1, key="per_page")
chosen = gallery.select(results, species, breeds, order)
if not chosen:
    st.warning("No validation image matches these filters.")
    st.stop()

summary = gallery.summary(chosen)
cards = st.columns(5)
cards[0].metric("Images", len(chosen))
for card, (key, label) in zip(cards[1:], [("dice", "Dice"), ("mean_iou", "Mean IoU"), ("pet_iou", "Pet IoU"), ("pixel_accuracy", "Pixel accuracy")]):
    card.metric(label, f"{summary[key]:.3f}")
with st.expander("Confusion matrix of the selection", expanded=False):
    st.plotly_chart(confusion_figure(np.sum([r.confusion for r in chosen], axis=0)), key="confusion")

pages = gallery.page_count(len(chosen), per_page)
page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key="page")
header = st.columns(4)
for column, title in zip(header, ("Image", "Ground truth", "Prediction", "Overlay")):
    column.markdown(f"**{title}**")
for result in gallery.page_of(chosen, int(page), per_page):
    truth, prediction = result.truth + 1, result.prediction + 1
    photo = Image.fromarray(result.image)
    columns = st.columns(4)
    columns[0].image(photo, width="stretch")
    columns[1].image(colourise(truth), width="stretch")
    columns[2].image(colourise(prediction), width="stretch")
    columns[3].image(overlay(photo, prediction), width="stretch")
    scores = result.scores
    st.caption(
        f"**{result.pair.stem}** ({result.pair.species}, {result.pair.breed.replace('_', ' ')}) — "
        f"Dice {scores['dice']:.3f} · mean IoU {scores['mean_iou']:.3f} · pet IoU {scores['pet_iou']:.3f} · "
        f"accuracy {scores['pixel_accuracy']:.3f}"
    )
