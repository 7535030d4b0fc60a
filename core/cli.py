"""Argument parsing and the commands behind `python -m core`.

Every expected failure (a `core.errors.PetSegError`: missing data, bad model file, bad image,
refused download, malformed TF_CONFIG, bad option) ends with a one-line `error: ...` message and
exit status 2, never a traceback. Options are checked before any model is loaded. TensorFlow's
C++ start-up lines are kept off the terminal unless `--verbose` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from core.config import (
    DEFAULT_DATA_DIR,
    DEFAULT_MODEL_PATH,
    DEFAULT_PRESET,
    KEEP_CHOICES,
    PRECISIONS,
    PRESETS,
    RUNTIMES,
    STRATEGIES,
    TRAIN_SPLITS,
    RuntimeConfig,
    ServeConfig,
    TrainConfig,
    view_config,
)
from core.data.dataset import SPLITS
from core.errors import PetSegError
from core.inference.effects import Outline
from core.inference.marks import read_marks_file
from core.inference.matte import REFINE_LEVELS
from core.inference.outputs import DEFAULT_FORMATS, FORMATS
from core.inference.render import Background, CutoutOptions
from core.video.encode import VIDEO_KINDS

MATTING_SECONDS_PER_HD_FRAME = "1-2.5"
"""Seconds of `matting` per 1080p frame, measured on three bundled photos (`python -m bench.video`)."""

EXIT_ERROR = 2
TTA_HELP = "average with the prediction of the mirrored photo: better masks, twice the compute"
RUNTIME_HELP = (
    "what runs the network: auto (OpenVINO where installed, converted from the .keras file on first use "
    "and cached by its hash in ~/.cache/petseg), openvino, or keras (TensorFlow, the reference path)"
)


PRECISION_HELP = (
    "OpenVINO only: auto (the int8 model beside the .keras file where one was made from it and shipped, "
    "else f32), f32 (answers as Keras), bf16 (CPUs with AVX-512 BF16 or AMX), int8 (required)"
)


def _add_runtime_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto", help=RUNTIME_HELP)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)


def runtime_config(args: argparse.Namespace) -> RuntimeConfig:
    return RuntimeConfig(args.runtime, precision=args.precision)


WHOLE_PHOTO_HELP = (
    "show the model each photo whole only, not also in square crops along a wide photo's long side: "
    "up to 1.8x faster on small photos, more second pets missed"
)


class CommandError(PetSegError):
    """A bad combination of options; printed as one line."""


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 on /dev/null. TensorFlow prints some start-up lines (oneDNN, CUDA stub,
    absl) from C++ before its logging is set up, so `TF_CPP_MIN_LOG_LEVEL` cannot hold them back."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def start_tensorflow(verbose: bool) -> None:
    """Import TensorFlow and initialise its devices quietly (errors raised here still show: the
    descriptor is restored before Python prints them). Later C++ messages below ERROR are hidden."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="dataset root (official layout)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pairs of each split")
    parser.add_argument("--val-size", type=int, default=1000, help="validation pairs (reference protocol: 1000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="PetSeg: U-Net pet segmentation")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train or resume a run", parents=[common])
    _add_data_args(train)
    train.add_argument("--out", type=Path, required=True, help="run folder (resumes if it exists)")
    train.add_argument(
        "--split",
        choices=TRAIN_SPLITS,
        default="reference",
        help="reference: the report's 1000 random validation pairs; official: train on the official "
        "trainval list with a tenth of it held out for validation (test.txt is never read)",
    )
    train.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    train.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    train.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    train.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    train.add_argument(
        "--arch",
        default="",
        metavar="FIELD=VALUE,...",
        help="override the preset's architecture, e.g. base_filters=16,max_filters=256 (ModelConfig fields)",
    )
    train.add_argument("--no-augment", action="store_true", help="train without augmentation")
    train.add_argument(
        "--keep",
        choices=KEEP_CHOICES,
        default=TrainConfig.keep,
        help="model.keras holds the epoch with the lowest validation loss, or the last one",
    )
    train.add_argument(
        "--init-from",
        type=Path,
        default=None,
        metavar="MODEL",
        help="fine-tune: start from a run's model.keras (same preset) instead of random weights",
    )
    train.add_argument(
        "--teacher",
        type=Path,
        default=None,
        metavar="MODEL",
        help="distil: train on a mix of the ground truth and this trained model's probabilities (same input size)",
    )
    train.add_argument(
        "--distill-weight",
        type=float,
        default=TrainConfig.distill_weight,
        help="with --teacher: the share of the loss that follows the teacher (0..1)",
    )
    train.add_argument(
        "--teacher-tta",
        action="store_true",
        help="with --teacher: average the teacher's probabilities with its mirrored prediction (flip TTA)",
    )
    train.add_argument(
        "--encoder-lr-scale",
        type=float,
        default=TrainConfig.encoder_lr_scale,
        help="pretrained encoder (--preset effnet-lite0): its learning rate as a share of the decoder's",
    )
    train.add_argument(
        "--freeze-encoder-epochs",
        type=int,
        default=TrainConfig.freeze_encoder_epochs,
        help="pretrained encoder: first epochs in which only the decoder learns",
    )
    train.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="tf.distribute strategy; auto reads TF_CONFIG and counts GPUs",
    )

    evaluate = commands.add_parser("evaluate", parents=[common], help="metrics on the validation or test split")
    _add_data_args(evaluate)
    evaluate.add_argument(
        "--split",
        choices=SPLITS,
        default="reference",
        help="pairs scored: reference (the report's 1000 validation pairs), official (the hold-out of "
        "trainval that `train --split official` validates on), official-test (the official test list, 3,669 pairs)",
    )
    evaluate.add_argument(
        "--score-size",
        type=int,
        default=128,
        metavar="PX",
        help="score against labels at this size, the model's probabilities resized to it (default 128, the "
        "reference's; 0: at the model's input size)",
    )
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    evaluate.add_argument("--json", type=Path, default=None, help="write the metrics as JSON here")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument(
        "--worst", type=int, default=0, metavar="N", help="also list the N images with the lowest Dice"
    )
    evaluate.add_argument("--tta", action="store_true", help=TTA_HELP)
    _add_runtime_arg(evaluate)

    predict = commands.add_parser("predict", parents=[common], help="segment images or folders of images")
    predict.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    predict.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    predict.add_argument("--out", type=Path, required=True, help="output folder")
    predict.add_argument(
        "--cleanup", action="store_true", help="drop pet regions smaller than a tenth of the largest (stray specks)"
    )
    predict.add_argument("--tta", action="store_true", help=TTA_HELP)
    _add_runtime_arg(predict)
    predict.add_argument("--whole-photo-only", action="store_true", help=WHOLE_PHOTO_HELP)
    predict.add_argument(
        "--format",
        default=",".join(DEFAULT_FORMATS),
        help="comma-separated outputs: mask (label map PNG, 1/2/3), colour (the mask in colour), overlay "
        "(PNG), npy (probabilities at the model's scale), cutout (the pet cut out, PNG), alpha (the "
        "matte: a black-and-white pet mask, 8-bit PNG)",
    )
    predict.add_argument(
        "--refine",
        choices=REFINE_LEVELS,
        default=None,
        help="cut-out and alpha edges: fast (the prediction fitted to the photo's edges) or matting (alpha "
        "matting on the photo); default: matting for photos, fast for clips (matting costs about "
        f"{MATTING_SECONDS_PER_HD_FRAME} s a 1080p frame here, bench/RESULTS.md)",
    )
    predict.add_argument(
        "--video-format",
        choices=VIDEO_KINDS,
        default="webm",
        help="a clip's transparent cut-out: webm (VP9 with alpha, plays in browsers), mov (ProRes 4444, for "
        "editors) or gif (a short loop, at most 12 frames/s and 480 px); its other videos are MP4 (H.264)",
    )
    predict.add_argument(
        "--background",
        default="transparent",
        metavar="transparent|blur|#RRGGBB|IMAGE",
        help="what the cut-out is placed on (default transparent: an RGBA PNG)",
    )
    predict.add_argument(
        "--crop", action="store_true", help="crop the cut-out and the alpha matte to the pet (plus a margin)"
    )
    predict.add_argument("--shadow", action="store_true", help="a soft drop shadow under the cut-out pet")
    predict.add_argument(
        "--outline",
        default=None,
        metavar="WIDTHpx[,#RRGGBB]",
        help="a sticker outline around the cut-out pet, e.g. 12px (white) or 8px,#ff8800",
    )
    predict.add_argument(
        "--marks",
        type=Path,
        default=None,
        metavar="MARKS.json",
        help="touch-up marks (pet / background polygons) by photo file name, as the dashboard downloads them: "
        "cut-outs and alpha mattes obey them (README: Touch-up)",
    )
    predict.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs already exist")
    predict.add_argument("--batch-size", type=int, default=16)
    predict.add_argument(
        "--shard",
        default="0/1",
        metavar="K/N",
        help="segment only part K of N (K = 0..N-1) of the inputs, e.g. one per machine of a job array",
    )

    export = commands.add_parser(
        "export", parents=[common], help="export for serving (SavedModel, TFLite, OpenVINO IR, ONNX)"
    )
    export.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    export.add_argument("--format", choices=["savedmodel", "tflite", "openvino", "onnx"], required=True)
    export.add_argument(
        "--out", type=Path, required=True, help="SavedModel or OpenVINO IR folder, .tflite or .onnx file"
    )
    export.add_argument("--quantize", action="store_true", help="TFLite only: dynamic-range quantised weights")

    quantize = commands.add_parser(
        "quantize", parents=[common], help="make the int8 OpenVINO model beside a .keras file (NNCF, training images)"
    )
    quantize.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    quantize.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="dataset root (official layout)")
    quantize.add_argument("--out", type=Path, default=None, help="default: MODEL's folder, <stem>.int8/")
    quantize.add_argument(
        "--split",
        choices=TRAIN_SPLITS,
        default="reference",
        help="the split MODEL was trained on: calibration reads its first training pairs only",
    )

    serve = commands.add_parser("serve", parents=[common], help="serve the HTTP API (FastAPI on uvicorn)")
    serve.add_argument("--host", default=ServeConfig.host, help="address to listen on (default: this machine only)")
    serve.add_argument("--port", type=int, default=ServeConfig.port)
    serve.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="default model (others beside it too)")
    serve.add_argument("--workers", type=int, default=ServeConfig.workers, help="server processes, each with the model")
    _add_runtime_arg(serve)
    serve.add_argument(
        "--api-key",
        default=os.environ.get("PETSEG_API_KEY"),
        help="require this key on /v1 requests (default: $PETSEG_API_KEY; none: open)",
    )
    serve.add_argument("--max-body-mb", type=float, default=ServeConfig.max_body_bytes / 2**20)
    serve.add_argument("--max-photos", type=int, default=ServeConfig.max_photos, help="photos held at once; then 503")
    serve.add_argument("--max-batch", type=int, default=ServeConfig.max_batch, help="photos per model call")
    serve.add_argument(
        "--batch-window-ms", type=float, default=ServeConfig.batch_window_ms, help="wait for a batch to fill"
    )
    serve.add_argument(
        "--max-connections", type=int, default=ServeConfig.max_connections, help="open connections; then 503"
    )

    download = commands.add_parser("download", parents=[common], help="fetch the official Oxford-IIIT Pet archives")
    download.add_argument("--dest", type=Path, default=DEFAULT_DATA_DIR)
    download.add_argument("--base-url", default=None, help="mirror to download from")
    return parser


def parse_overrides(text: str) -> dict:
    """`base_filters=16,max_filters=256` -> {"base_filters": 16, "max_filters": 256}, typed as `ModelConfig`'s
    fields."""
    import dataclasses

    from core.config import ModelConfig

    defaults = {field.name: field.default for field in dataclasses.fields(ModelConfig)}
    overrides: dict = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        if key not in defaults or not value:
            raise CommandError(f"--arch {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(defaults)}")
        default = defaults[key]
        try:
            overrides[key] = (
                value.lower() in ("1", "true", "yes") if isinstance(default, bool) else type(default)(value)
            )
        except ValueError:
            raise CommandError(f"--arch {item!r}: {key} takes a {type(default).__name__}") from None
    return overrides


def train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        data_dir=args.data_dir,
        out_dir=args.out,
        preset=args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        val_size=args.val_size,
        split=args.split,
        limit=args.limit,
        augment=not args.no_augment,
        keep=args.keep,
        init_from=args.init_from,
        teacher=args.teacher,
        distill_weight=args.distill_weight,
        teacher_tta=args.teacher_tta,
        encoder_lr_scale=args.encoder_lr_scale,
        freeze_encoder_epochs=args.freeze_encoder_epochs,
        strategy=args.strategy,
        model_overrides=parse_overrides(args.arch),
    )


def run_train(args: argparse.Namespace) -> int:
    from core.training.distribute import cluster_config

    cluster_config()  # a malformed TF_CONFIG is refused before anything is loaded
    start_tensorflow(args.verbose)
    from core.training.train import train

    try:
        config = train_config(args)
    except ValueError as error:
        raise CommandError(str(error)) from None
    try:
        config.model()  # an invalid architecture is refused before anything is loaded
    except ValueError as error:
        raise CommandError(f"--arch: {error}") from None
    path = train(config)
    print(f"{config.kept_model_label}: {path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    start_tensorflow(args.verbose)
    from core.evaluation.evaluate import evaluate, format_table
    from core.files import write_json

    result = evaluate(
        args.model,
        args.data_dir,
        args.val_size,
        limit=args.limit,
        batch_size=args.batch_size,
        worst=args.worst,
        tta=args.tta,
        split=args.split,
        score_size=args.score_size or None,
        runtime=runtime_config(args),
    )
    print(
        f"{args.split} split of {args.data_dir}: model input {result['input_size']} px, scored at "
        f"{result['score_size']}x{result['score_size']}, model {args.model} on {result['runtime']}"
        f" ({result['precision']})" + (", flip test-time augmentation" if args.tta else "")
    )
    print(format_table(result))
    for item in result.get("worst", []):
        print(
            f"  {item['image']:<32} dice {item['dice']:.3f}  pet IoU {item['pet_iou']:.3f}  "
            f"pet share {item['pet_share']:.1%}"
        )
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    formats = tuple(dict.fromkeys(kind.strip() for kind in args.format.split(",")))
    unknown = [kind for kind in formats if kind not in FORMATS]
    if unknown:
        raise CommandError(f"unknown --format {', '.join(unknown)}; choose from {', '.join(FORMATS)} (comma separated)")
    outline = Outline.parse(args.outline) if args.outline else None
    background = Background.parse(args.background)
    cutout = CutoutOptions(args.refine or "matting", background, args.crop, args.shadow, outline)
    marks = read_marks_file(args.marks) if args.marks else None
    start_tensorflow(args.verbose)
    from core.inference.bulk import Shard, predict_tree
    from core.inference.predict import Segmenter
    from core.video.bulk import predict_clips
    from core.video.clip import is_clip_name
    from core.video.segment_clip import CLIP_FORMATS, ClipRequest

    shard = Shard.parse(args.shard)
    views = view_config(args.whole_photo_only)
    segmenter = Segmenter(args.model, tta=args.tta, views=views, runtime=runtime_config(args))
    photos = [path for path in args.paths if path.is_dir() or not is_clip_name(path.name)]
    summary = predict_tree(
        segmenter, photos, args.out, sys.stderr, formats, args.overwrite, args.batch_size, args.cleanup, shard,
        cutout, marks,
    )  # fmt: skip
    clip_formats = tuple(kind for kind in formats if kind in CLIP_FORMATS)
    clip_cutout = CutoutOptions(args.refine or "fast", background, False, args.shadow, outline)
    request = ClipRequest(clip_formats, clip_cutout, args.video_format, cleanup=args.cleanup) if clip_formats else None
    clips = [path for path in args.paths if path.is_dir() or is_clip_name(path.name)]
    clip_summary = predict_clips(segmenter, clips, args.out, sys.stderr, request, args.overwrite, shard)
    clip_line = ""
    if clip_summary.written or clip_summary.skipped_existing or clip_summary.failed:
        clip_line = (
            f"; clips: {clip_summary.written} segmented ({clip_summary.frames} frames, "
            f"{clip_summary.frames_per_second:.1f} frames/s), {clip_summary.skipped_existing} already done, "
            f"{len(clip_summary.failed)} failed"
        )
    print(
        f"{summary.written} segmented, {summary.skipped_existing} already done (skipped; --overwrite redoes them), "
        f"{len(summary.failed)} failed; {summary.images_per_second:.1f} images/s on {segmenter.runtime} "
        f"({segmenter.network.precision}){clip_line}; outputs in {args.out}"
    )
    failed = summary.failed + clip_summary.failed
    if failed:
        print("failed files:\n  " + "\n  ".join(failed), file=sys.stderr)
    return EXIT_ERROR if failed else 0


def run_download(args: argparse.Namespace) -> int:
    from core.data.download import BASE_URL, download

    download(args.dest, args.base_url or BASE_URL)
    print(f"dataset ready in {args.dest}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        from core.model.model_io import HOW_TO_GET_A_MODEL

        raise CommandError(f"model file {args.model} not found; {HOW_TO_GET_A_MODEL}")
    try:
        config = ServeConfig(
            host=args.host,
            port=args.port,
            model=args.model,
            runtime=args.runtime,
            precision=args.precision,
            workers=args.workers,
            api_key=args.api_key or None,
            max_body_bytes=int(args.max_body_mb * 2**20),
            max_photos=args.max_photos,
            max_batch=args.max_batch,
            batch_window_ms=args.batch_window_ms,
            max_connections=args.max_connections,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
    start_tensorflow(args.verbose)
    from core.serving.api.server import serve

    serve(config)
    return 0


def run_export(args: argparse.Namespace) -> int:
    start_tensorflow(args.verbose)
    from core.inference.export import export_onnx, export_openvino, export_savedmodel, export_tflite

    if args.quantize and args.format != "tflite":
        raise CommandError("--quantize applies to --format tflite only")
    if args.format == "tflite":
        path = export_tflite(args.model, args.out, args.quantize)
    else:
        exporters = {"savedmodel": export_savedmodel, "openvino": export_openvino, "onnx": export_onnx}
        path = exporters[args.format](args.model, args.out)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    print(f"exported {args.model} as {args.format} to {path} ({size / 2**20:.1f} MB)")
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    start_tensorflow(args.verbose)
    from core.inference.quantize import quantize

    out = quantize(args.model, args.data_dir, args.out, split=args.split)
    print(f"int8 model of {args.model} in {out}; check it with `python -m bench.runtime --quality` before shipping it")
    return 0


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "predict": run_predict,
    "download": run_download,
    "export": run_export,
    "quantize": run_quantize,
    "serve": run_serve,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PetSegError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
