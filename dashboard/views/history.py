"""Training history: training vs validation curves, best epoch, overfitting onset, learning rate."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.training.history import (
    best_epoch,
    history_path,
    is_history_file,
    kept_epoch,
    overfitting_onset,
    read_history,
    run_histories,
)
from dashboard import state
from dashboard.charts import history_figure, learning_rate_figure

ROOT = Path(__file__).resolve().parents[2]
CHARTS = [
    ("loss", "Loss (focal + Dice)"),
    ("dice", "Dice"),
    ("mean_iou", "Mean IoU"),
    ("pet_iou", "Pet IoU"),
    ("pixel_accuracy", "Pixel accuracy"),
]
ANOTHER_FILE = "another file…"


def shown_path(path: Path) -> str:
    """The path relative to the project (or the working folder) when it lies inside, else as given."""
    for base in (ROOT, Path.cwd()):
        try:
            return str(path.resolve().relative_to(base))
        except ValueError:
            continue
    return str(path)


def show_curves(path: Path, keep: str) -> None:
    """The history's figures; in a fragment that reruns every 10 s while following a training."""
    if path == Path():
        st.info("Type the path of a training run's folder (RUN) or its history.csv (RUN/history.csv).")
        return
    if not path.is_file():
        st.warning(f"No history file at {shown_path(path)}. Training writes one to RUN/history.csv after each epoch.")
        return
    if not is_history_file(path):
        st.error(
            f"{shown_path(path)} is not a training history: its first column should be `epoch` "
            "(PetSeg writes RUN/history.csv during training)."
        )
        return
    rows = read_history(path)
    if not rows:
        st.info(f"{shown_path(path)} has no finished epoch yet.")
        return
    best, onset = best_epoch(rows), overfitting_onset(rows)
    best_number = int(best["epoch"]) if best else None
    charts = [(metric, title) for metric, title in CHARTS if any(metric in row for row in rows)]
    first, *others = charts  # the loss, full width, first on the page (on a phone, on the first screen)
    st.plotly_chart(history_figure(rows, *first, best_number, onset), key=f"chart-{first[0]}")
    cards = st.columns(4)
    cards[0].metric("Epochs", len(rows))
    if best:
        cards[1].metric("Best epoch", best_number)
        cards[2].metric("Best val. loss", f"{best['val_loss']:.4f}")
        cards[3].metric("Val. Dice at best", f"{best.get('val_dice', float('nan')):.4f}")
    kept = kept_epoch(rows, keep)
    st.caption(
        f"{shown_path(path)} — "
        + (f"validation loss starts rising after epoch {onset}." if onset else "no sign of overfitting so far.")
        + (
            ""
            if kept is best
            else f" The model holds the weights of its last epoch, {int(kept['epoch'])} "
            f"(validation Dice {kept.get('val_dice', float('nan')):.4f}, loss {kept['val_loss']:.4f}), "
            "not those of the best epoch."
        ),
        help=str(path.resolve()),
    )
    left, right = st.columns(2)
    for index, (metric, title) in enumerate(others):
        (left if index % 2 == 0 else right).plotly_chart(
            history_figure(rows, metric, title, best_number, onset), key=f"chart-{metric}"
        )
    if any("learning_rate" in row for row in rows):
        (left if len(others) % 2 == 0 else right).plotly_chart(learning_rate_figure(rows), key="chart-lr")


def run() -> None:
    st.title("Training history")
    choices: dict[str, Path] = {}
    keeps: dict[Path, str] = {}
    selected = state.selected_model()
    shipped = sorted(state.models(), key=lambda entry: entry != selected)  # the selected model first
    for entry in shipped:  # every shipped model's training run (the lean model's 60 epochs too)
        if entry.history_path is not None:
            choices[f"{entry.label} ({'selected model' if entry == selected else 'shipped model'})"] = (
                entry.history_path
            )
            keeps[entry.history_path] = entry.keep()
    for path in run_histories(state.settings().runs_dir):
        choices[f"run {path.parent.name}"] = path
    choices[ANOTHER_FILE] = Path()
    picked = st.selectbox("History", list(choices), key="history_choice")
    path = choices[picked]
    if picked == ANOTHER_FILE:
        typed = st.text_input("Path to a history.csv or a run folder", key="history_path", placeholder="runs/my-run")
        path = history_path(typed)
    follow = st.toggle("Follow a running training (refresh every 10 s)", key="follow")
    curves = st.fragment(run_every="10s" if follow else None)(show_curves)
    curves(path, keeps.get(path, "best"))


run()
