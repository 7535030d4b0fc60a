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
    train.add_argument("--strategy", choices=["auto", "default", "mirrored", "multi-worker"], default="auto",
                       help="tf.distribute strategy; auto reads TF_CONFIG and counts GPUs")

    evaluate = commands.add_parser("evaluate", help="metrics on the validation split")
    _add_data_args(evaluate)
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    evaluate.add_argument("--json", type=Path, default=None, help="write the metrics as JSON here")
    evaluate.add_argument("--batch-size", type=int, default=32)

    predict = commands.add_parser("predict", help="segment images or folders of images")
    predict.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    predict.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    predict.add_argument("--out", type=Path, required=True, help="output folder")
    predict.add_argument("--cleanup", action="store_true", help="keep only the largest connected pet region")

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
        strategy=args.strategy,
    )
    path = train(config)
    print(f"best model: {path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from core.evaluate import evaluate, format_table, write_report

    result = evaluate(args.model, args.data_dir, args.val_size, limit=args.limit, batch_size=args.batch_size)
    print(f"validation split of {args.data_dir} at {result['input_size']}x{result['input_size']}, model {args.model}")
    print(format_table(result))
    if args.json:
        write_report(args.json, result)
        print(f"wrote {args.json}")
    return 0


def image_files(paths: list[Path]) -> list[Path]:
    """Files named on the command line, plus the image files inside named folders (sorted)."""
    from core.data import IMAGE_SUFFIXES

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                child for child in path.rglob("*")
                if child.is_file() and not child.name.startswith(".") and child.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            files.append(path)
    return files


def run_predict(args: argparse.Namespace) -> int:
    from core.files import write_bytes
    from core.imaging import ImageError
    from core.outputs import output_files
    from core.predict import Segmenter

    segmenter = Segmenter(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path, result in segmenter.segment_many(image_files(args.paths), cleanup=args.cleanup):
        if isinstance(result, ImageError):
            failures += 1
            print(f"error: {result}", file=sys.stderr)
            continue
        for name, payload in output_files(path.stem, result).items():
            write_bytes(args.out / name, payload)
        print(f"{path}: {result.photo.size[0]}x{result.photo.size[1]}, pet {result.pet_fraction:.1%}")
    if failures:
        print(f"{failures} file(s) could not be segmented", file=sys.stderr)
    return EXIT_ERROR if failures else 0


def run_download(args: argparse.Namespace) -> int:
    from core.download import BASE_URL, download

    download(args.dest, args.base_url or BASE_URL)
    print(f"dataset ready in {args.dest}")
    return 0


COMMANDS = {"train": run_train, "evaluate": run_evaluate, "predict": run_predict, "download": run_download}


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
