"""Argument parsing and the commands behind `python -m core`.

Every expected failure (missing data, bad model file, bad image, refused download) ends with a
one-line `error: ...` message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.config import DEFAULT_DATA_DIR, DEFAULT_MODEL_PATH, DEFAULT_PRESET, PRESETS, TrainConfig

EXIT_ERROR = 2


class CommandError(Exception):
    """A failure the user can fix; printed as one line."""


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="dataset root (official layout)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pairs of each split")
    parser.add_argument("--val-size", type=int, default=1000, help="validation pairs (reference protocol: 1000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="PetSeg: U-Net pet segmentation")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train or resume a run")
    _add_data_args(train)
    train.add_argument("--out", type=Path, required=True, help="run folder (resumes if it exists)")
    train.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    train.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    train.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    train.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    train.add_argument("--no-augment", action="store_true", help="train without augmentation")
    train.add_argument("--keep", choices=["best", "last"], default=TrainConfig.keep,
                       help="model.keras holds the epoch with the lowest validation loss, or the last one")
    train.add_argument("--init-from", type=Path, default=None, metavar="MODEL",
                       help="fine-tune: start from a run's model.keras (same preset) instead of random weights")
    train.add_argument("--strategy", choices=["auto", "default", "mirrored", "multi-worker"], default="auto",
                       help="tf.distribute strategy; auto reads TF_CONFIG and counts GPUs")

    evaluate = commands.add_parser("evaluate", help="metrics on the validation split")
    _add_data_args(evaluate)
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    evaluate.add_argument("--json", type=Path, default=None, help="write the metrics as JSON here")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--worst", type=int, default=0, metavar="N", help="also list the N images with the lowest Dice")

    predict = commands.add_parser("predict", help="segment images or folders of images")
    predict.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    predict.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    predict.add_argument("--out", type=Path, required=True, help="output folder")
    predict.add_argument("--cleanup", action="store_true", help="keep only the largest connected pet region")
    predict.add_argument("--format", default="mask,overlay",
                         help="comma-separated outputs: mask (PNG 1/2/3), overlay (PNG), npy (probabilities at model size)")
    predict.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs already exist")
    predict.add_argument("--batch-size", type=int, default=16)

    export = commands.add_parser("export", help="export for serving (SavedModel, TFLite)")
    export.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    export.add_argument("--format", choices=["savedmodel", "tflite"], required=True)
    export.add_argument("--out", type=Path, required=True, help="SavedModel folder or .tflite file")
    export.add_argument("--quantize", action="store_true", help="TFLite only: dynamic-range quantised weights")

    download = commands.add_parser("download", help="fetch the official Oxford-IIIT Pet archives")
    download.add_argument("--dest", type=Path, default=DEFAULT_DATA_DIR)
    download.add_argument("--base-url", default=None, help="mirror to download from")
    return parser


def run_train(args: argparse.Namespace) -> int:
    from core.train import train

    config = TrainConfig(
        data_dir=args.data_dir,
        out_dir=args.out,
        preset=args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        val_size=args.val_size,
        limit=args.limit,
        augment=not args.no_augment,
        keep=args.keep,
        init_from=args.init_from,
        strategy=args.strategy,
    )
    path = train(config)
    print(f"best model: {path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from core.evaluate import evaluate, format_table
    from core.files import write_json

    result = evaluate(args.model, args.data_dir, args.val_size, limit=args.limit, batch_size=args.batch_size,
                      worst=args.worst)
    print(f"validation split of {args.data_dir} at {result['input_size']}x{result['input_size']}, model {args.model}")
    print(format_table(result))
    for item in result.get("worst", []):
        print(f"  {item['image']:<32} dice {item['dice']:.3f}  pet IoU {item['pet_iou']:.3f}  pet share {item['pet_share']:.1%}")
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from core.bulk import predict_tree
    from core.predict import Segmenter

    segmenter = Segmenter(args.model)
    formats = tuple(dict.fromkeys(args.format.split(",")))
    unknown = [kind for kind in formats if kind not in ("mask", "overlay", "npy")]
    if unknown:
        raise CommandError(f"unknown --format {', '.join(unknown)}; choose from mask, overlay, npy (comma separated)")
    summary = predict_tree(segmenter, args.paths, args.out, sys.stderr, formats, args.overwrite, args.batch_size, args.cleanup)
    print(
        f"{summary.written} segmented, {summary.skipped_existing} already done (skipped; --overwrite redoes them), "
        f"{len(summary.failed)} failed; {summary.images_per_second:.1f} images/s; outputs in {args.out}"
    )
    if summary.failed:
        print("failed files:\n  " + "\n  ".join(summary.failed), file=sys.stderr)
    return EXIT_ERROR if summary.failed else 0


def run_download(args: argparse.Namespace) -> int:
    from core.download import BASE_URL, download

    download(args.dest, args.base_url or BASE_URL)
    print(f"dataset ready in {args.dest}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from core.export import export_savedmodel, export_tflite

    if args.format == "savedmodel":
        if args.quantize:
            raise CommandError("--quantize applies to --format tflite only")
        path = export_savedmodel(args.model, args.out)
    else:
        path = export_tflite(args.model, args.out, args.quantize)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    print(f"exported {args.model} as {args.format} to {path} ({size / 2**20:.1f} MB)")
    return 0


COMMANDS = {
    "train": run_train, "evaluate": run_evaluate, "predict": run_predict, "download": run_download, "export": run_export,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.data import DatasetError
    from core.download import DownloadError
    from core.imaging import ImageError
    from core.predict import ModelFileError
    from core.train import ConfigMismatch

    try:
        return COMMANDS[args.command](args)
    except (CommandError, DatasetError, DownloadError, ImageError, ModelFileError, ConfigMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
