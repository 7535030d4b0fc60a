"""How much of a model's soft Dice is confidence: NLL and Dice under temperature scaling.

    python -m bench.calibration --data-dir ../shared/data/oxford-iiit-pet BASELINE.keras MODEL.keras ...

Soft Dice (the reference's formula) scores probabilities, so a model can raise it by being more
confident without labelling more pixels right; sharpening the softmax (temperature < 1) does the
same. For each model, on the validation split, this prints negative log-likelihood, soft Dice and
pixel accuracy at several temperatures, the temperature that minimises NLL (1.0 = calibrated,
above 1 = over-confident) and the Dice at that temperature, then each model's figures against the
first one, measured in the same run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

TEMPERATURES = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the probabilities a temperature-scaled model would give."""
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def scores(probabilities: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """NLL, pooled soft Dice (smooth 1, as `core.model.losses.soft_dice`) and accuracy; masks 0-based."""
    one_hot = np.eye(probabilities.shape[-1])[masks]
    true_class = (probabilities * one_hot).sum(axis=-1)
    return {
        "nll": float(-np.log(np.clip(true_class, 1e-12, 1.0)).mean()),
        "dice": float((2 * true_class.sum() + 1) / (one_hot.sum() + probabilities.sum() + 1)),
        "accuracy": float((probabilities.argmax(-1) == masks).mean()),
    }


def main() -> None:
    from core.data import dataset as data
    from core.inference.predict import Segmenter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="the first is the baseline")
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()

    summary = []
    split = None
    for path in args.models:
        segmenter = Segmenter(path)
        if split is None:
            split = data.load_split(args.data_dir, segmenter.input_size, 1000, 1337, None, need_train=False)
        probabilities = np.concatenate(
            [segmenter.predict_arrays(split.val.images[i : i + 64]) for i in range(0, len(split.val), 64)]
        ).astype(np.float64)
        table = {t: scores(scaled(probabilities, t), split.val.masks) for t in TEMPERATURES}
        print(f"\n{path} ({len(split.val)} validation images)")
        print(f"{'T':>5} {'NLL':>8} {'Dice':>8} {'accuracy':>9}")
        for t, row in table.items():
            print(f"{t:>5.1f} {row['nll']:>8.4f} {row['dice']:>8.4f} {row['accuracy']:>9.4f}")
        best_t = min(table, key=lambda t: table[t]["nll"])
        summary.append((path, table[1.0], best_t, table[best_t]))

    print(f"\n{'model':<36} {'NLL':>7} {'Dice':>7} {'acc':>7} {'NLL-best T':>10} {'Dice there':>10}")
    baseline = summary[0][1]
    for path, at_one, best_t, at_best in summary:
        print(
            f"{str(path)[-36:]:<36} {at_one['nll']:>7.4f} {at_one['dice']:>7.4f} {at_one['accuracy']:>7.4f} "
            f"{best_t:>10.1f} {at_best['dice']:>10.4f}"
        )
    for path, at_one, _, _ in summary[1:]:
        print(
            f"{path}: Dice {at_one['dice'] - baseline['dice']:+.4f}, NLL {at_one['nll'] - baseline['nll']:+.4f}, "
            f"accuracy {at_one['accuracy'] - baseline['accuracy']:+.4f} against {summary[0][0]}"
        )


if __name__ == "__main__":
    main()
