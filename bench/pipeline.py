"""Input pipeline throughput vs what the model consumes, in one run.

    python -m bench.pipeline --data-dir ../shared/data/oxford-iiit-pet [--count 2000]

Prints images/s for decoding + resizing (done once per run, then cached in memory), for the
augmented tf.data pipeline alone, and for training steps of the default preset; the pipeline
must be many times faster than training so the cores stay busy on the model.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.measure import random_batch, rate  # noqa: E402
from core.config import DEFAULT_PRESET, TrainConfig, model_config  # noqa: E402
from core.data import dataset as data  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    config = model_config(DEFAULT_PRESET)
    batch = TrainConfig.batch_size
    pairs = data.find_pairs(args.data_dir)[0][: args.count]

    started = time.perf_counter()
    arrays, _ = data.load_arrays(pairs, config.input_size)
    decode_ips = len(arrays) / (time.perf_counter() - started)

    dataset = data.make_dataset(arrays, batch, training=True).repeat()
    iterator = iter(dataset)
    pipeline_ips = rate(lambda: int(next(iterator)[0].shape[0]), args.seconds)

    from core.model.losses import FocalDiceLoss
    from core.model.unet import build_unet

    model = build_unet(config)
    model.compile(optimizer="adam", loss=FocalDiceLoss())
    images, masks = random_batch(config.input_size, batch)
    train_ips = rate(lambda: (model.train_on_batch(images, masks), batch)[1], args.seconds)

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {len(arrays)} pairs from {args.data_dir}, batch {batch}")
    print("| stage | images/s |\n|---|---:|")
    print(f"| decode + resize (threads, once per run) | {decode_ips:.0f} |")
    print(f"| tf.data: shuffle + augment + batch (in memory) | {pipeline_ips:.0f} |")
    print(f"| training step, preset '{DEFAULT_PRESET}' | {train_ips:.1f} |")
    print(f"\npipeline delivers {pipeline_ips / train_ips:.0f}x what training consumes")


if __name__ == "__main__":
    main()
