"""Does bfloat16 inference keep a shipped model's accuracy, and how much faster is it here?

    python -m bench.bf16 --data-dir ../shared/data/oxford-iiit-pet \
        --model models/petseg.keras models/petseg-lean.keras [--seconds 10]

Each model runs twice in one process: as shipped (float32) and as a copy with every layer but the
float32 softmax computing in bfloat16 (Keras' `mixed_bfloat16`: float32 weights, bfloat16
arithmetic). Prints the validation metrics of both (as `python -m core evaluate`), the agreement
of their argmax masks and batch-32 inference images/s measured in alternating rounds, with the
ratio. The speed-up depends on the CPU: native bfloat16 (`avx512_bf16`, `amx_bf16` in `lscpu`)
or an emulation slower than float32.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from pathlib import Path
from typing import Any

MIXED = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}, "registered_name": None}


def cpu_bf16_flags() -> list[str]:
    """The CPU's native bfloat16 features as Linux reports them (empty elsewhere or without any)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted({flag for flag in flags if "bf16" in flag})


def in_bfloat16(model):
    """A copy of a functional model whose layers compute in bfloat16, but for the output layers,
    which stay float32 (the probabilities), with the same (float32) weights."""
    import keras

    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer" and layer["config"]["name"] not in model.output_names:
            layer["config"]["dtype"] = MIXED
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def images_per_second(segmenters: dict[str, Any], seconds: float, rounds: int = 3) -> dict[str, float]:
    """Median batch-32 inference rate of each segmenter, measured in alternating rounds so that
    both see the same machine load."""
    from bench.measure import random_batch, rate

    images, _ = random_batch(next(iter(segmenters.values())).input_size, 32)
    rates: dict[str, list[float]] = {name: [] for name in segmenters}
    for _ in range(rounds):
        for name, segmenter in segmenters.items():
            rates[name].append(rate(lambda s=segmenter: (s.predict_arrays(images), 32)[1], seconds / rounds))
    return {name: statistics.median(values) for name, values in rates.items()}


def scores_and_masks(segmenter, arrays, batch_size: int = 32):
    """Validation metrics as `python -m core evaluate` gives them, and the argmax masks, from one
    pass of predictions."""
    import numpy as np

    from core.evaluation.evaluate import pooled_metrics

    masks = []

    def batches():
        for start in range(0, len(arrays), batch_size):
            probabilities = segmenter.predict_arrays(arrays.images[start : start + batch_size])
            masks.append(probabilities.argmax(-1))
            yield arrays.masks[start : start + batch_size], probabilities

    return pooled_metrics(batches()), np.concatenate(masks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data/oxford-iiit-pet"))
    parser.add_argument("--model", type=Path, nargs="+", default=[Path("models/petseg.keras")])
    parser.add_argument("--seconds", type=float, default=10.0, help="timing per model and dtype")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs of each split")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy as np

    from core.data import dataset as data
    from core.inference.predict import Segmenter

    flags = cpu_bf16_flags()
    print(f"{platform.processor() or platform.machine()}; native bfloat16: {', '.join(flags) or 'none'}")
    keys = ("mean_iou", "pet_iou", "iou.border", "pixel_accuracy", "dice")
    print(f"| model | dtype | {' | '.join(keys)} | mask agreement | images/s (b32) | speed |")
    print("|---|---|" + "---:|" * (len(keys) + 3))
    for path in args.model:
        fp32 = Segmenter(path)
        split = data.load_split(args.data_dir, fp32.input_size, 1000, 1337, args.limit, need_train=False)
        segmenters = {"float32": fp32, "bfloat16": Segmenter(path, model=in_bfloat16(fp32.model))}
        speed = images_per_second(segmenters, args.seconds)
        measured = {name: scores_and_masks(segmenter, split.val) for name, segmenter in segmenters.items()}
        agreement = float(np.mean(measured["float32"][1] == measured["bfloat16"][1]))
        for name, (scores, _) in measured.items():
            cells = " | ".join(f"{scores[key]:.4f}" for key in keys)
            same = "1" if name == "float32" else f"{agreement:.4f}"
            ratio = speed[name] / speed["float32"]
            print(f"| {path.name} | {name} | {cells} | {same} | {speed[name]:.1f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
