"""Per-image validation scores kept on disk, so a restarted dashboard does not predict them again.

Scoring the 1000 validation images takes 9-12 s on a 2-core CPU (reading them takes under 2 s).
The result depends only on the model file's bytes, the images and ground truths, and the scoring
code, so it is stored under a key made of the three (`SCORING_VERSION` stands for the code: bump
it when `core.evaluation.evaluate.score_images` changes what it computes). A missing, stale or damaged cache
file is computed again; a folder that cannot be written only costs the time.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

from core.data.dataset import ArraySet
from core.evaluation.evaluate import ImageResult, score_images
from core.files import atomic_path
from core.inference.predict import Segmenter

SCORING_VERSION = 1


def cache_key(model_path: Path, arrays: ArraySet) -> str:
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"scores v{SCORING_VERSION}\n".encode())
    digest.update(Path(model_path).read_bytes())
    digest.update("\n".join(pair.stem for pair in arrays.pairs).encode())
    digest.update(np.ascontiguousarray(arrays.images).data)
    digest.update(np.ascontiguousarray(arrays.masks).data)
    return digest.hexdigest()


def cache_path(cache_dir: Path, model_path: Path, arrays: ArraySet) -> Path:
    return Path(cache_dir) / f"{Path(model_path).stem}.scores-{cache_key(model_path, arrays)}.npz"


def cached_score_images(segmenter: Segmenter, arrays: ArraySet, cache_dir: Path) -> list[ImageResult]:
    """`score_images`, read from `cache_dir` when this model has scored these images before."""
    path = cache_path(cache_dir, segmenter.model_path, arrays)
    results = _read(path, arrays)
    if results is not None:
        return results
    results = score_images(segmenter, arrays)
    try:
        _write(path, results)
    except OSError as error:
        warnings.warn(
            f"validation scores not cached in {cache_dir} ({error}); they are computed again next time", stacklevel=2
        )
    return results


def _write(path: Path, results: list[ImageResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(results[0].scores)  # a split is never empty: load_split refuses one
    with atomic_path(path, suffix=".npz") as temporary:
        np.savez_compressed(
            temporary,
            predictions=np.stack([result.prediction for result in results]),
            confusion=np.stack([result.confusion for result in results]),
            scores=np.array([[result.scores[key] for key in keys] for result in results], np.float64),
            score_keys=np.array(keys),
            disagreement=np.array([result.confident_disagreement for result in results], np.float64),
        )
    for stale in path.parent.glob(f"{path.name.split('.scores-')[0]}.scores-*.npz"):
        if stale != path:  # an older model file's or dataset's scores
            stale.unlink(missing_ok=True)


def _read(path: Path, arrays: ArraySet) -> list[ImageResult] | None:
    try:
        with np.load(path) as stored:
            predictions, confusion = stored["predictions"], stored["confusion"]
            scores, keys, disagreement = (
                stored["scores"],
                [str(key) for key in stored["score_keys"]],
                stored["disagreement"],
            )
    except Exception:  # noqa: BLE001 - missing, unreadable or damaged (OS, zip, key errors): compute it again
        return None
    if len(predictions) != len(arrays) or predictions.shape[1:] != arrays.masks.shape[1:]:
        return None
    return [
        ImageResult(
            pair,
            image,
            truth,
            predictions[index],
            confusion[index],
            dict(zip(keys, map(float, scores[index]))),
            float(disagreement[index]),
        )
        for index, (pair, image, truth) in enumerate(zip(arrays.pairs, arrays.images, arrays.masks))
    ]
