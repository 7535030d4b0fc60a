"""The runtimes side by side in one run: Keras/TensorFlow, OpenVINO f32 and bf16, and OpenVINO int8.

    python -m bench.runtime [--seconds 8] [--model models/petseg.keras models/petseg-lean.keras]
                            [--int8 --data-dir ../shared/data/oxford-iiit-pet] [--quality]

For each shipped model on each runtime: batch-32 images/s and batch-1 latency, with ratios against
the reference architecture (34.5 M parameters, Keras, random weights: the cost does not depend on
them) and against the same model on Keras, all measured in this run on this machine.
The int8 row is the model's shipped int8 folder where it has one; `--int8` also makes a fresh one
for each model in a temporary folder, measured beside it (`core.inference.quantize`: NNCF
post-training quantization on 300 training images, never validation; needs `nncf` and the dataset).
`--quality` scores every variant where its speed is measured: mean and pet IoU on the 1000
validation pairs at 128 px, and the `fast` cut-out IoU at the photo's size on the 96 native-aspect
validation photos (border left out, pooled).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


from bench.measure import median_seconds, random_batch, rate  # noqa: E402
from core.config import MODELS_DIR, RuntimeConfig  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402
from core.inference.runtime import KerasNetwork, compile_ir, int8_folder, load_openvino  # noqa: E402


def reference_network() -> KerasNetwork:
    from core.config import model_config
    from core.model.fold import fold_batch_norm
    from core.model.unet import build_unet

    return KerasNetwork(fold_batch_norm(build_unet(model_config("reference"), name="petseg_reference")))


def cpu_has_bf16() -> bool:
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def speed(network, seconds: float) -> dict[str, float]:
    images, _ = random_batch(network.input_size, 32)
    return {
        "b32": rate(lambda: (network.predict(images, False), 32)[1], seconds),
        "b1_ms": median_seconds(lambda: network.predict(images[:1], False), repeats=30) * 1000,
    }


def quality(network, data_dir: Path) -> dict[str, float]:
    from bench.cutout import iou, native_validation_pairs
    from core.data import dataset
    from core.data.imaging import load_trimap
    from core.evaluation.evaluate import evaluate_arrays

    segmenter = Segmenter(network=network)
    val = dataset.load_split(data_dir, network.input_size, need_train=False, mask_size=128).val
    scores = evaluate_arrays(segmenter, val)
    inter = union = 0
    for pair in native_validation_pairs(data_dir):
        alpha = segmenter.segment(pair.image).matte("fast").alpha
        i, u = iou(alpha, load_trimap(pair.trimap))
        inter, union = inter + i, union + u
    return {"mean_iou": scores["mean_iou"], "pet_iou": scores["pet_iou"], "fast_iou": inter / union}


def variants(model: Path, args: argparse.Namespace) -> dict[str, object]:
    found: dict[str, object] = {"keras": Segmenter(model, runtime="keras").network}
    f32 = load_openvino(model, RuntimeConfig("openvino", precision="f32"))
    found["openvino f32"] = f32
    if cpu_has_bf16():
        found["openvino bf16"] = load_openvino(model, RuntimeConfig("openvino", precision="bf16"))
    if int8_folder(model).is_dir():
        found["openvino int8 (shipped)"] = load_openvino(model, RuntimeConfig("openvino", precision="int8"))
    if args.int8:
        from core.inference.quantize import quantize

        folder = quantize(model, args.data_dir, Path(tempfile.mkdtemp()) / f"{model.stem}.int8")
        found["openvino int8 (made now)"] = compile_ir(folder, RuntimeConfig("openvino"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="timing window per measurement")
    parser.add_argument(
        "--model", type=Path, nargs="+", default=[MODELS_DIR / "petseg.keras", MODELS_DIR / "petseg-lean.keras"]
    )
    parser.add_argument("--int8", action="store_true", help="also NNCF int8 (needs nncf and --data-dir)")
    parser.add_argument("--quality", action="store_true", help="also score each variant (needs --data-dir)")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/oxford-iiit-pet"))
    args = parser.parse_args()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    reference = speed(reference_network(), args.seconds)
    header = "| model | runtime | b32 img/s | b1 ms | x reference (b32) | x Keras (b32) |"
    quality_header = " val. mIoU | val. pet IoU | fast cut-out IoU |" if args.quality else ""
    lines = [header + quality_header, "|---|---|---:|---:|---:|---:|" + ("---:|" * 3 if args.quality else "")]
    lines.append(
        f"| reference | keras | {reference['b32']:.1f} | {reference['b1_ms']:.1f} | 1.0x | |"
        + (" | | |" if args.quality else "")
    )
    for model in args.model:
        keras_rate = None
        for name, network in variants(model, args).items():
            figures = speed(network, args.seconds)
            keras_rate = keras_rate or figures["b32"]
            line = (
                f"| {model.name} | {name} | {figures['b32']:.1f} | {figures['b1_ms']:.1f} "
                f"| {figures['b32'] / reference['b32']:.1f}x | {figures['b32'] / keras_rate:.2f}x |"
            )
            if args.quality:
                scores = quality(network, args.data_dir)
                line += f" {scores['mean_iou']:.4f} | {scores['pet_iou']:.4f} | {scores['fast_iou']:.4f} |"
            lines.append(line)
            print(f"measured {model.name} on {name}", flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
