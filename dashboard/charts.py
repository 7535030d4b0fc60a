"""Plotly figures for the dashboard (presentation only; the numbers come from `core`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.data.labels import CLASS_NAMES

TRAIN_COLOUR, VAL_COLOUR = "#F58518", "#4C78A8"
"""As the reference report's Figure 1 draws them: training orange, validation blue."""
CHART_MARGIN = {"l": 10, "r": 10, "t": 70, "b": 10}
"""Room above the title for Plotly's toolbar, which otherwise covers it on a phone's narrow chart."""


def visible_range(series: list[list[float | None]]) -> list[float] | None:
    """A y-range for curves whose first epoch spikes far above the rest (it would flatten every
    later epoch): the later epochs' span with a margin. None (Plotly chooses) when nothing spikes."""
    later = [value for values in series for value in values[1:] if value is not None]
    firsts = [values[0] for values in series if values and values[0] is not None]
    if len(later) < 2 or not firsts:
        return None
    low, high = min(later), max(later)
    limit = high + (high - low)
    if max(firsts) <= limit:
        return None
    high = max([high, *(first for first in firsts if first <= limit)])
    margin = 0.08 * (high - low or abs(high) or 1.0)
    return [low - margin, high + margin]


def history_figure(
    rows: list[dict[str, float]], metric: str, title: str, best: int | None, onset: int | None
) -> go.Figure:
    """Training vs validation curve of one metric, best epoch and overfitting onset marked."""
    epochs = [row["epoch"] for row in rows]
    figure = go.Figure()
    series = []
    for key, name, colour in ((metric, "training", TRAIN_COLOUR), (f"val_{metric}", "validation", VAL_COLOUR)):
        values = [row.get(key) for row in rows]
        series.append(values)
        if any(value is not None for value in values):
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=values,
                    name=name,
                    mode="lines+markers",
                    line={"color": colour},
                    hovertemplate=f"epoch %{{x}}<br>{name} {metric}: %{{y:.4f}}<extra></extra>",
                )
            )
    if best is not None:  # labelled above the plot area, where no curve runs; its point ringed
        figure.add_vline(x=best, line_dash="dash", line_color="green", line_width=2)
        at_right_edge = best >= epochs[-1] - max(1, len(epochs) // 10)
        figure.add_annotation(
            x=best,
            y=1.0,
            yref="paper",
            yanchor="bottom",
            xanchor="right" if at_right_edge else "center",  # kept inside the chart at the last epoch
            text=f"best epoch {best}",
            showarrow=False,
            font={"color": "green"},
        )
        validation = {row["epoch"]: row.get(f"val_{metric}") for row in rows}
        if validation.get(best) is not None:
            figure.add_trace(
                go.Scatter(
                    x=[best],
                    y=[validation[best]],
                    name="best epoch",
                    mode="markers",
                    marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"color": "green", "width": 3}},
                    hoverinfo="skip",
                )
            )
    if onset is not None:
        figure.add_vline(
            x=onset,
            line_dash="dot",
            line_color="red",
            annotation_text="val. loss starts rising",
            annotation_position="bottom right",
        )
    figure.update_layout(
        title=title,
        xaxis_title="epoch",
        xaxis_dtick=max(1, len(epochs) // 10),
        hovermode="x unified",
        height=340,
        margin=CHART_MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    shown = visible_range(series)
    if shown is not None:
        figure.update_yaxes(range=shown)
        figure.add_annotation(
            x=0,
            y=1.0,
            xref="paper",
            yref="paper",
            yanchor="bottom",
            xanchor="left",
            showarrow=False,
            text="epoch 1 is above the range shown",
            font={"size": 11, "color": "grey"},
        )
    return figure


def learning_rate_figure(rows: list[dict[str, float]]) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=[row["epoch"] for row in rows],
            y=[row.get("learning_rate") for row in rows],
            mode="lines+markers",
            name="learning rate",
            line={"color": TRAIN_COLOUR},
        )
    )
    figure.update_layout(
        title="Learning rate (end of epoch)",
        xaxis_title="epoch",
        yaxis_type="log",
        height=300,
        yaxis_exponentformat="power",
        yaxis_dtick=1,
        margin=CHART_MARGIN,
    )
    return figure


def confusion_figure(confusion: np.ndarray) -> go.Figure:
    """Row-normalised confusion matrix: of each true class, the share predicted as each class."""
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros_like(confusion, dtype=float), where=totals > 0)
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=list(CLASS_NAMES),
            y=list(CLASS_NAMES),
            colorscale="Oranges",
            zmin=0,
            zmax=1,
            text=[[f"{v:.1%}" for v in row] for row in shares],
            texttemplate="%{text}",
            customdata=confusion,
            hovertemplate="true %{y}, predicted %{x}: %{text} (%{customdata:,} px)<extra></extra>",
        )
    )
    figure.update_layout(
        title="Confusion matrix (share of each true class)",
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis_autorange="reversed",
        height=340,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure
