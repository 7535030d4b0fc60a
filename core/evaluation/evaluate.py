"""Evaluation on a scored split (the reference validation pairs by default, or the official test list).

Scores are taken against 128x128 labels whatever the model's input size (`SCORE_SIZE`): the photo is
shown to the model at its own input size and the probabilities are resized to 128 px, so models of
every resolution are scored on the same pixels, those the reference report scored (most of the
dataset's pairs are 128 px squares; a larger label would only repeat their pixels).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import DEFAULT_MODEL_PATH, RuntimeConfig
from core.data import dataset as data
from core.data.labels import Class
from core.inference.predict import Segmenter
from core.model.losses import focal_dice_loss
from core.model.metrics import METRIC_KEYS, batch_image_scores, scores_from_confusion, training_metrics


def pooled_metrics(batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Metrics pooled over all pixels of `(masks, probabilities)` batches (as in training logs),
    plus the mean loss."""
    metrics = training_metrics()
    loss_sum, count = 0.0, 0
    for masks, probabilities in batches:
        for metric in metrics:
            metric.update_state(masks, probabilities)
        loss_sum += float(focal_dice_loss(masks, probabilities)) * len(masks)
        count += len(masks)
    result = {metric.name: float(metric.result()) for metric in metrics}
    return {"loss": loss_sum / max(1, count), **{key: result[key] for key in METRIC_KEYS}}


SCORE_SIZE = 128


def probabilities_at(probabilities: np.ndarray, size: int) -> np.ndarray:
    """(N, S, S, C) probabilities resized to (N, size, size, C): area-averaged down, bilinear up."""
    if probabilities.shape[1] == size:
        return probabilities
    import tensorflow as tf

    method = "area" if probabilities.shape[1] > size else "bilinear"
    return tf.image.resize(probabilities, (size, size), method=method).numpy()


def predict_for_scoring(segmenter: Segmenter, arrays: data.ArraySet, start: int, stop: int) -> np.ndarray:
    """The segmenter's probabilities for `arrays[start:stop]`, at the size of their masks."""
    probabilities = segmenter.predict_arrays(arrays.images[start:stop])
    return probabilities_at(probabilities, arrays.masks.shape[1])


def evaluate_arrays(segmenter: Segmenter, arrays: data.ArraySet, batch_size: int = 32) -> dict[str, float]:
    """`pooled_metrics` of the segmenter's predictions for `arrays`, predicted in batches (scored at
    the size of the masks: images may be at the model's size, masks at 128 px)."""
    return pooled_metrics(
        (arrays.masks[start : start + batch_size], predict_for_scoring(segmenter, arrays, start, start + batch_size))
        for start in range(0, len(arrays), batch_size)
    )


def evaluate(
    model_path: Path = DEFAULT_MODEL_PATH,
    data_dir: Path = Path("data/oxford-iiit-pet"),
    val_size: int = 1000,
    seed: int = 1337,
    limit: int | None = None,
    batch_size: int = 32,
    worst: int = 0,
    tta: bool = False,
    split: data.Split = "reference",
    score_size: int | None = SCORE_SIZE,
    runtime: RuntimeConfig | str = "auto",
) -> dict:
    """Metrics pooled over the scored pairs of `split` (`data.SPLITS`) at `score_size` px (None: at the
    model's input size); with `worst`, also the images with the lowest Dice; with `tta`, of
    flip-averaged predictions; on `runtime` (`core.config.RuntimeConfig`), so the scores are those of what ships."""
    segmenter = Segmenter(model_path, tta=tta, runtime=runtime)
    score_size = score_size or segmenter.input_size
    loaded = data.load_split(
        data_dir, segmenter.input_size, val_size, seed, limit, need_train=False, split=split, mask_size=score_size
    )
    result = {
        **evaluate_arrays(segmenter, loaded.val, batch_size),
        "images": len(loaded.val),
        "split": split,
        "score_size": score_size,
        "input_size": segmenter.input_size,
        "model": str(model_path),
        "tta": tta,
        "runtime": segmenter.runtime,
        "precision": segmenter.network.precision,
        "skipped": loaded.report.to_dict(),
    }
    if worst:
        ranked = sorted(score_images(segmenter, loaded.val, batch_size), key=lambda item: item.scores["dice"])[:worst]
        result["worst"] = [
            {
                "image": item.pair.stem,
                "dice": item.scores["dice"],
                "pet_iou": item.scores["pet_iou"],
                "pet_share": float((item.truth != Class.BACKGROUND).mean()),
            }
            for item in ranked
        ]
    return result


def format_table(result: dict) -> str:
    rows = [("images", str(result["images"]))] + [(key, f"{result[key]:.4f}") for key in ("loss", *METRIC_KEYS)]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>8}" for name, value in rows)


@dataclass
class ImageResult:
    """One scored image with its ground truth, prediction and scores: the image at the model's input
    size, truth and prediction at the size of the masks it was scored on (the same unless asked)."""

    pair: data.Pair
    image: np.ndarray
    truth: np.ndarray
    """Class indices 0 pet, 1 background, 2 border."""
    prediction: np.ndarray
    confusion: np.ndarray
    scores: dict[str, float]
    confident_disagreement: float = 0.0
    """Share of the image's decided pixels (ground truth pet or background) where the model is
    confident (p >= `CONFIDENT`) of the other one of the two: high where the label may be wrong."""

    @property
    def suspect_label(self) -> bool:
        """The model confidently contradicts most of the annotation, or the annotation has no pet at
        all (every photo of the dataset shows one: `Egyptian_Mau_196`'s trimap is all background)."""
        return self.confident_disagreement >= SUSPECT_SHARE or not (self.truth != Class.BACKGROUND).any()


CONFIDENT = 0.9
SUSPECT_SHARE = 0.5
"""An image is a suspect label when the model confidently contradicts its ground truth on at
least half of the decided pixels (e.g. `Persian_273`, pet and background swapped in the trimap)."""


def confident_disagreement(truths: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per image, the share of decided pixels (truth pet 0 or background 1) where the model gives the
    other of the two a probability >= CONFIDENT. (N, H, W) class indices, (N, H, W, C) probabilities."""
    decided = truths != Class.BORDER
    other = np.where(truths == Class.PET, probabilities[..., Class.BACKGROUND], probabilities[..., Class.PET])
    contradicted = decided & (other >= CONFIDENT)
    return contradicted.sum(axis=(1, 2)) / np.maximum(decided.sum(axis=(1, 2)), 1)


def score_images(segmenter: Segmenter, arrays: data.ArraySet, batch_size: int = 32) -> list[ImageResult]:
    """Per-image predictions, confusion matrices and scores, predicted in batches."""
    results = []
    for start in range(0, len(arrays), batch_size):
        images = arrays.images[start : start + batch_size]
        truths = arrays.masks[start : start + batch_size]
        probabilities = predict_for_scoring(segmenter, arrays, start, start + batch_size)
        confusion, scores = batch_image_scores(truths, probabilities)
        predictions = np.argmax(probabilities, axis=-1).astype(np.uint8)
        disagreement = confident_disagreement(truths, probabilities)
        for offset in range(len(images)):
            results.append(
                ImageResult(
                    arrays.pairs[start + offset],
                    images[offset],
                    truths[offset],
                    predictions[offset],
                    confusion[offset],
                    {key: float(scores[key][offset]) for key in METRIC_KEYS},
                    float(disagreement[offset]),
                )
            )
    return results


def pooled_confusion(results: list[ImageResult]) -> np.ndarray:
    """The confusion matrix of all pixels of `results` together (C, C): rows truth, columns prediction."""
    return np.sum([result.confusion for result in results], axis=0)


def pooled_scores(results: list[ImageResult]) -> dict[str, float]:
    """Scores over all pixels of `results` together (Dice as the pixel-weighted mean, equal sizes)."""
    scores = {key: float(value) for key, value in scores_from_confusion(pooled_confusion(results)).items()}
    scores["dice"] = float(np.mean([result.scores["dice"] for result in results]))
    return scores
