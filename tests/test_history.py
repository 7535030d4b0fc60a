from core.training.history import best_epoch, overfitting_onset, read_history, write_history


def rows_from(val_losses):
    return [{"epoch": i + 1, "loss": 1.0 / (i + 1), "val_loss": v} for i, v in enumerate(val_losses)]


def test_round_trip_and_partial_last_line(tmp_path):
    path = tmp_path / "history.csv"
    write_history(path, rows_from([0.9, 0.7]))
    with open(path, "a") as handle:
        handle.write("3,0.3")  # a row being written: not yet a full row, skipped
    rows = read_history(path)
    assert [row["epoch"] for row in rows] == [1, 2] and rows[1]["val_loss"] == 0.7


def test_best_epoch_and_overfitting_onset():
    rising = rows_from([0.9, 0.7, 0.5, 0.45, 0.44, 0.46, 0.5, 0.55, 0.6, 0.66])
    assert best_epoch(rising)["epoch"] == 5
    assert overfitting_onset(rising) == 5  # the raw minimum the chart shows (the 3-epoch mean's lags to 6)
    late_dip = rows_from([0.9, 0.7, 0.5, 0.45, 0.5, 0.47, 0.44, 0.5, 0.58, 0.62, 0.7, 0.75])
    assert overfitting_onset(late_dip) == 7
    assert overfitting_onset(rows_from([0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.48, 0.47])) is None
    noisy_flat = rows_from([0.9, 0.6, 0.5, 0.5, 0.49, 0.5, 0.495, 0.5, 0.49, 0.5])
    assert overfitting_onset(noisy_flat) is None


def test_the_charts_leave_room_for_the_toolbar_above_every_title():
    from dashboard.charts import history_figure, learning_rate_figure

    rows = [{**row, "learning_rate": 1e-3} for row in rows_from([0.9, 0.7, 0.5])]
    for figure in (history_figure(rows, "loss", "Loss", 3, None), learning_rate_figure(rows)):
        assert figure.layout.margin.t >= 70, figure.layout.title.text
