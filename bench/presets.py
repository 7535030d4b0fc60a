"""Reference architecture vs CPU candidates, side by side in one run on this machine.

    python -m bench.presets [--seconds 20] [--only small reference]

Each candidate runs in its own process (so thread settings apply and runs do not share state)
and prints parameters, GFLOP per image, training images/s, batch inference images/s and
single-image latency; the table ends with ratios against the reference measured in the same run.
Inference runs the model as it ships: batch norms folded into the convolutions (core.model.fold);
`-tta` candidates average each image with its mirror (`core.inference.runtime.flip_averaged`), as
`Segmenter(tta=True)` does. Training figures of a `-tta` candidate are those of its preset.

    python -m bench.presets --seconds 12 --only reference reference-tta lean lean-tta large large-tta
    python -m bench.presets --seconds 12 --only reference lean lean-tta large effnet-lite0 effnet-lite0-tta
    python -m bench.presets --seconds 8 --only reference effnet-lite0 effnet-lite0-160 effnet-lite0-192 \
        effnet-lite0-224 effnet-lite2-128 effnet-lite2-192
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CANDIDATES: dict[str, dict] = {
    "reference": {"preset": "reference"},
    "small": {"preset": "small"},
    "small-b32": {"preset": "small", "batch": 32},
    "small-xla": {"preset": "small", "jit": True},
    "small-1thread": {"preset": "small", "threads": 1},
    "small-160px": {"preset": "small", "overrides": {"input_size": 160}},
    "small-transpose": {"preset": "small", "overrides": {"upsampling": "transpose"}},
    "small-standard-conv": {"preset": "small", "overrides": {"conv": "standard", "max_filters": 128}},
    "lean": {"preset": "lean"},
    "lean-bn-unfolded": {"preset": "lean", "fold": False},
    "fast": {"preset": "fast"},
    # The shipped tiers, with flip test-time augmentation (issue 13): each image and its mirror, one batch.
    "reference-tta": {"preset": "reference", "tta": True},
    "lean-tta": {"preset": "lean", "tta": True},
    "large": {"preset": "large"},
    "large-tta": {"preset": "large", "tta": True},
    # Issue 21: the ImageNet-pretrained EfficientNet-Lite0 encoder under the U-Net decoder (random
    # weights here: the cost does not depend on them).
    "effnet-lite0": {"preset": "effnet-lite0"},
    "effnet-lite0-tta": {"preset": "effnet-lite0", "tta": True},
    "effnet-lite0-bn-unfolded": {"preset": "effnet-lite0", "fold": False},
    # Issue 28: more input pixels and/or the larger Lite2 encoder (what each short run costs to serve).
    **{
        f"effnet-{encoder}-{size}": {"preset": f"effnet-{encoder}", "overrides": {"input_size": size}}
        for encoder in ("lite0", "lite2")
        for size in (128, 160, 192, 224)
    },
    # Quality-tier candidates (issue 13): wider at full resolution and/or deeper.
    "lean-w8m512": {"preset": "lean", "overrides": {"max_filters": 512}},
    "lean-w12m384": {"preset": "lean", "overrides": {"base_filters": 12, "max_filters": 384}},
    "lean-w16m256": {"preset": "lean", "overrides": {"base_filters": 16, "max_filters": 256}},
    "lean-w16m256-bf16": {
        "preset": "lean",
        "overrides": {"base_filters": 16, "max_filters": 256},
        "policy": "mixed_bfloat16",
    },
}


def measure_one(name: str, seconds: float) -> dict:
    spec = CANDIDATES[name]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    if spec.get("policy"):
        import keras

        keras.mixed_precision.set_global_policy(spec["policy"])
    if spec.get("threads"):
        tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
        tf.config.threading.set_inter_op_parallelism_threads(spec["threads"])
    from bench.measure import gflops_per_image, median_seconds, random_batch, rate
    from core.config import model_config
    from core.model.fold import fold_batch_norm
    from core.model.losses import FocalDiceLoss
    from core.model.unet import build_unet

    config = model_config(spec["preset"], **spec.get("overrides", {}))
    model = build_unet(config)
    model.compile(optimizer="adam", loss=FocalDiceLoss(), jit_compile=bool(spec.get("jit")))
    batch = spec.get("batch", 16 if spec["preset"] != "reference" else 8)
    images, masks = random_batch(config.input_size, batch)
    train = rate(lambda: (model.train_on_batch(images, masks), batch)[1], seconds, warmup=2)
    shipped = fold_batch_norm(model) if spec.get("fold", True) else model  # as scripts/ship_model.sh saves it
    if spec.get("tta"):
        from core.inference.runtime import flip_averaged

        infer_fn = tf.function(lambda x: flip_averaged(shipped, x), jit_compile=bool(spec.get("jit")))
    else:
        infer_fn = tf.function(lambda x: shipped(x, training=False), jit_compile=bool(spec.get("jit")))
    infer_images, _ = random_batch(config.input_size, 32)
    infer = rate(lambda: (infer_fn(infer_images), 32)[1], seconds / 2)
    one = infer_images[:1]
    latency = median_seconds(lambda: infer_fn(one).numpy(), repeats=20)
    return {
        "name": name,
        "parameters": shipped.count_params(),
        "model_mb": shipped.count_params() * 4 / 2**20,
        "gflops": gflops_per_image(shipped),
        "input": config.input_size,
        "train_batch": batch,
        "train_ips": train,
        "infer_ips": infer,
        "latency_ms": latency * 1000,
    }


def table(rows: list[dict]) -> str:
    reference = next((row for row in rows if row["name"] == "reference"), None)
    lines = [
        "| candidate | params | MB (fp32) | GFLOP/img | input | train img/s | infer img/s (b32) | latency ms (b1) "
        "| train x ref | infer x ref | latency / ref |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratios = ["", "", ""]
        if reference:
            ratios = [
                f"{row['train_ips'] / reference['train_ips']:.1f}x",
                f"{row['infer_ips'] / reference['infer_ips']:.1f}x",
                f"{row['latency_ms'] / reference['latency_ms']:.3f}",
            ]
        lines.append(
            f"| {row['name']} | {row['parameters']:,} | {row['model_mb']:.1f} | {row['gflops']:.2f} | {row['input']} "
            f"| {row['train_ips']:.1f} | {row['infer_ips']:.1f} | {row['latency_ms']:.1f} | "
            + " | ".join(ratios)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="timing window per measurement")
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES), help="subset (keep 'reference' for ratios)")
    parser.add_argument("--one", choices=sorted(CANDIDATES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.seconds)))
        return
    names = args.only or list(CANDIDATES)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    rows = []
    root = Path(__file__).resolve().parent.parent
    for name in names:
        output = subprocess.run(
            [sys.executable, "-m", "bench.presets", "--one", name, "--seconds", str(args.seconds)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(f"measured {name}", file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
