"""Reading and writing `history.csv`: one row per finished epoch, first column `epoch` (1-based)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from core.files import write_text
from core.model.model_io import run_config


def read_history(path: Path) -> list[dict[str, float]]:
    """Rows of a history file as floats; a partly written last line (a file being written) is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    lines = path.read_text().splitlines()
    for row in csv.DictReader(lines):
        try:
            rows.append({key: float(value) for key, value in row.items() if key is not None and value != ""})
        except (TypeError, ValueError):
            continue
    return [row for row in rows if "epoch" in row]


def is_history_file(path: Path) -> bool:
    """Whether `path` looks like a training history: a CSV whose first column is `epoch`."""
    try:
        with Path(path).open(errors="replace") as file:
            header = file.readline().strip().split(",")
    except OSError:
        return False
    return header[:1] == ["epoch"]


def history_path(text: str) -> Path:
    """A typed path to a history: surrounding spaces dropped, and a run folder taken as RUN/history.csv."""
    path = Path(text.strip())
    return path / "history.csv" if text.strip() and path.is_dir() else path


def run_histories(runs_dir: Path) -> list[Path]:
    """The `history.csv` of each training run folder directly inside `runs_dir`, by folder name."""
    return sorted(Path(runs_dir).glob("*/history.csv"))


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    columns = ["epoch"]
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _format(row.get(key)) for key in columns})
    write_text(path, buffer.getvalue())


def _format(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.6g}"


def lineage_history(run_dir: Path) -> list[dict[str, float]]:
    """The history of the weights a run ends with, across fine-tuning: a run started with
    `--init-from PARENT/model.keras` continues the parent's lineage up to the epoch whose weights
    the parent's `model.keras` holds (its best or its last, as it kept), its own epochs numbered on."""
    rows = read_history(Path(run_dir) / "history.csv")
    init_from = (run_config(run_dir) or {}).get("init_from")
    parent_config = run_config(Path(init_from).parent) if init_from else None
    if parent_config is None:
        return rows
    parent_dir = Path(init_from).parent
    lineage, own = lineage_history(parent_dir), read_history(parent_dir / "history.csv")
    kept = kept_epoch(own, parent_config.get("keep", "best"))  # among the parent's own epochs
    lineage = lineage[: len(lineage) - len(own) + (int(kept["epoch"]) if kept else 0)]
    return [*lineage, *({**row, "epoch": row["epoch"] + len(lineage)} for row in rows)]


def best_epoch(rows: list[dict[str, float]], monitor: str = "val_loss") -> dict[str, float] | None:
    scored = [row for row in rows if monitor in row]
    return min(scored, key=lambda row: row[monitor]) if scored else None


def kept_epoch(rows: list[dict[str, float]], keep: str = "best") -> dict[str, float] | None:
    """The row whose weights a run's `model.keras` holds: lowest validation loss, or the last."""
    return (rows[-1] if rows else None) if keep == "last" else best_epoch(rows)


def overfitting_onset(rows: list[dict[str, float]], window: int = 3) -> int | None:
    """The epoch after which validation loss starts rising for good, or None.

    Validation loss is smoothed with a trailing mean over `window` epochs; the onset is the
    lowest raw epoch of the window that ends at the smoothed minimum, provided the smoothed
    curve ends higher than that minimum by more than 2% and at least `window` epochs follow it
    (noise alone is not overfitting).
    """
    values = [row["val_loss"] for row in rows if "val_loss" in row]
    epochs = [int(row["epoch"]) for row in rows if "val_loss" in row]
    if len(values) < 2 * window:
        return None
    smoothed = [
        sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
        for i in range(len(values))
    ]
    lowest = min(range(len(smoothed)), key=smoothed.__getitem__)
    if len(smoothed) - 1 - lowest >= window and smoothed[-1] > smoothed[lowest] * 1.02:
        # the trailing mean lags the curve: the onset is the lowest raw epoch of that window,
        # the minimum a reader sees on the chart
        start = max(0, lowest - window + 1)
        return epochs[min(range(start, lowest + 1), key=values.__getitem__)]
    return None
