"""The history charts read as the reference report's Figure 1 does, and stay readable."""

from dashboard.charts import TRAIN_COLOUR, VAL_COLOUR, history_figure, visible_range

ROWS = [
    {"epoch": 1, "loss": 5.0, "val_loss": 1.2},
    {"epoch": 2, "loss": 1.0, "val_loss": 1.1},
    {"epoch": 3, "loss": 0.9, "val_loss": 1.0},
    {"epoch": 4, "loss": 0.8, "val_loss": 0.95},
]


def test_training_is_orange_and_validation_blue_as_in_the_report():
    figure = history_figure(ROWS, "loss", "Loss", best=4, onset=None)
    colours = {trace.name: trace.line.color for trace in figure.data if trace.mode == "lines+markers"}
    assert colours == {"training": TRAIN_COLOUR, "validation": VAL_COLOUR}  # on one chart
    assert TRAIN_COLOUR.upper() == "#F58518" and VAL_COLOUR.upper() == "#4C78A8"


def test_a_first_epoch_spike_does_not_flatten_the_later_epochs():
    figure = history_figure(ROWS, "loss", "Loss", best=4, onset=None)
    low, high = figure.layout.yaxis.range
    assert low < 0.8 and 1.2 < high < 1.5  # every later value shows; epoch 1's 5.0 is off the chart
    assert any("epoch 1 is above" in annotation.text for annotation in figure.layout.annotations)
    assert visible_range([[1.1, 1.0, 0.9], [1.0, 0.9, 0.85]]) is None  # no spike: Plotly's own range


def test_the_best_epoch_label_sits_above_the_plot_area():
    figure = history_figure(ROWS, "loss", "Loss", best=3, onset=None)
    label = next(annotation for annotation in figure.layout.annotations if annotation.text == "best epoch 3")
    assert label.yref == "paper" and label.y >= 1.0 and label.yanchor == "bottom"


def test_the_best_epoch_is_ringed_on_the_validation_curve_and_its_label_stays_inside_at_the_last_epoch():
    figure = history_figure(ROWS, "loss", "Loss", best=4, onset=None)
    (ring,) = [trace for trace in figure.data if trace.name == "best epoch"]
    assert list(ring.x) == [4] and list(ring.y) == [0.95] and ring.marker.line.color == "green"
    label = next(annotation for annotation in figure.layout.annotations if annotation.text == "best epoch 4")
    assert label.xanchor == "right"  # at the right edge the label runs leftwards, into the chart
    middle = history_figure(
        [*ROWS, *({"epoch": e, "loss": 0.7, "val_loss": 1.0} for e in range(5, 21))], "loss", "L", 4, 9
    )
    assert next(a for a in middle.layout.annotations if a.text == "best epoch 4").xanchor == "center"
