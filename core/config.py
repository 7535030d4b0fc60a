"""Typed configuration: model architecture and training settings, plus named presets.

Presets are plain dicts of `ModelConfig` fields so they can be listed, compared and
serialised without code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from core.data.labels import NUM_CLASSES

DEFAULT_DATA_DIR = Path("data/oxford-iiit-pet")
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "petseg.keras"


Encoder = Literal["unet", "efficientnet-lite0", "efficientnet-lite2"]
ENCODERS: tuple[str, ...] = get_args(Encoder)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the U-Net."""

    input_size: int = 128
    base_filters: int = 16
    depth: int = 4
    """Number of down-sampling steps; the input size must be divisible by 2**depth."""
    max_filters: int = 1024
    """Cap on the width of the deepest levels (keeps small models small)."""
    batch_norm: bool = True
    dropout: float = 0.0
    upsampling: Literal["transpose", "bilinear"] = "bilinear"
    conv: Literal["standard", "separable"] = "standard"
    residual: bool = False
    num_classes: int = NUM_CLASSES
    encoder: Encoder = "unet"
    """`unet`: the U-Net's own convolution blocks, trained from scratch. `efficientnet-lite0` or
    `-lite2`: that ImageNet-pretrained network (`core.model.pretrained`) as the encoder, its five taps as
    the skips; `depth` must be 5 (strides 2 to 32) and the decoder blocks use `filters_at` as usual."""

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if self.encoder != "unet" and self.depth != 5:
            raise ValueError(f"the {self.encoder} encoder has 5 down-sampling steps; use depth=5, not {self.depth}")
        step = 2**self.depth
        if self.input_size % step:
            fixed = (self.input_size // step + 1) * step
            raise ValueError(
                f"input_size {self.input_size} is not divisible by 2**depth = {step}; use {fixed} or a smaller depth"
            )
        if self.upsampling not in ("transpose", "bilinear"):
            raise ValueError(f"upsampling must be 'transpose' or 'bilinear', got {self.upsampling!r}")
        if self.conv not in ("standard", "separable"):
            raise ValueError(f"conv must be 'standard' or 'separable', got {self.conv!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def filters_at(self, level: int) -> int:
        return min(self.base_filters * 2**level, self.max_filters)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # The reference report's U-Net: 64 base filters, 4 levels, two 3x3 ReLU convs per level,
    # dropout 0.3, 3x3 stride-2 transposed convolutions, softmax; 34.5M parameters.
    "reference": dict(base_filters=64, depth=4, batch_norm=False, dropout=0.3, upsampling="transpose"),
    # 5 levels (4x4 bottleneck for a whole-pet receptive field), residual blocks with batch norm,
    # depthwise-separable convolutions after the stem, bilinear upsampling. 59x fewer FLOPs than
    # the reference, but depthwise kernels are memory-bound on this CPU (bench/RESULTS.md).
    "small": dict(base_filters=16, depth=5, max_filters=256, conv="separable", residual=True),
    # The shipped model. Standard 3x3 convolutions, 8 filters at full resolution, 5 levels (capped at 128):
    # oneDNN runs these far faster per FLOP than depthwise kernels, and the batch norms fold into
    # the convolutions for inference (core.model.fold): 1.5x the speed of `small`, both folded.
    "lean": dict(base_filters=8, depth=5, max_filters=128, batch_norm=True),
    # Issue 13's quality tier (retired in issue 21; kept for comparisons): `lean` with 1.5x the
    # width at full resolution and deeper levels up to 384 filters. Chosen by 4-epoch runs on 1,600
    # pairs (bench/RESULTS.md): wider at full resolution (12-16 base filters) beat lean and
    # deep-only widening; 12/384 matched 16/256 in quality at 1.25x its training speed.
    "large": dict(base_filters=12, depth=5, max_filters=384, batch_norm=True),
    # Issue 21: EfficientNet-Lite0 pretrained on ImageNet as the encoder (taps at strides 2-32), under
    # the same bilinear decoder with 16..128 filters (levels 0..4; no skip at full resolution).
    "effnet-lite0": dict(encoder="efficientnet-lite0", base_filters=16, depth=5, max_filters=128, batch_norm=True),
    # Issue 28: EfficientNet-Lite2 (width 1.1, depth 1.2: 21 blocks, taps of 16..352 channels) under the same decoder.
    "effnet-lite2": dict(encoder="efficientnet-lite2", base_filters=16, depth=5, max_filters=128, batch_norm=True),
    # Narrower still, for quick experiments.
    "fast": dict(base_filters=8, depth=4, max_filters=64, batch_norm=True),
    # A few thousand parameters: unit tests only.
    "tiny": dict(input_size=32, base_filters=4, depth=2, batch_norm=True),
}
DEFAULT_PRESET = "lean"


def model_config(preset: str = DEFAULT_PRESET, **overrides: Any) -> ModelConfig:
    """The `ModelConfig` of a named preset, with optional field overrides."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return ModelConfig(**{**PRESETS[preset], **overrides})


Keep = Literal["best", "last"]
KEEP_CHOICES: tuple[str, ...] = get_args(Keep)
TrainSplit = Literal["reference", "official"]
TRAIN_SPLITS: tuple[str, ...] = get_args(TrainSplit)
Strategy = Literal["auto", "default", "mirrored", "multi-worker"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the model architecture."""

    data_dir: Path = DEFAULT_DATA_DIR
    out_dir: Path = Path("runs/petseg")
    preset: str = DEFAULT_PRESET
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_epochs: int = 1
    weight_decay: float = 1e-4
    early_stopping_patience: int = 12
    val_size: int = 1000
    split: TrainSplit = "reference"
    """`reference`: the report's split (1000 random validation pairs); `official`: the dataset's
    `trainval.txt`, a tenth held out for validation (`core.data.dataset.split_pairs`), `test.txt` untouched."""
    limit: int | None = None
    seed: int = 1337
    augment: bool = True
    focal_gamma: float = 2.0
    keep: Keep = "best"
    """Weights the run's `model.keras` holds: `best` (lowest validation loss) or `last` (the end of
    the schedule: no choice made on the validation set, e.g. for a fixed fine-tuning schedule)."""
    init_from: Path | None = None
    """Start from this trained model's weights (same preset, BatchNorm not folded) instead of
    random ones: fine-tuning, e.g. a last few epochs without augmentation."""
    teacher: Path | None = None
    """Distil: train on a mix of the ground truth and this trained model's probabilities (`core.training.distill`)."""
    distill_weight: float = 0.5
    """With a teacher: the share of the loss that follows the teacher's probabilities."""
    teacher_tta: bool = False
    """With a teacher: average its probabilities with those of the mirrored batch (flip TTA)."""
    encoder_lr_scale: float = 1.0
    """Pretrained encoder only: its learning rate as a share of the decoder's (`core.training.optimizer`)."""
    freeze_encoder_epochs: int = 0
    """Pretrained encoder only: epochs at the start during which the encoder's weights do not move."""
    strategy: Strategy = "auto"
    """tf.distribute strategy: auto (from TF_CONFIG and the GPUs), default, mirrored, multi-worker."""
    model_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.keep not in KEEP_CHOICES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {self.keep!r}")
        if self.split not in TRAIN_SPLITS:
            raise ValueError(f"split must be one of {', '.join(TRAIN_SPLITS)}, got {self.split!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.encoder_lr_scale < 0 or self.freeze_encoder_epochs < 0:
            raise ValueError("encoder_lr_scale and freeze_encoder_epochs must be >= 0")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must be in [0, 1], got {self.distill_weight}")

    @property
    def kept_model_label(self) -> str:
        """What `model.keras` holds, in words: it is the best model only with `keep="best"`."""
        return "best model (lowest validation loss)" if self.keep == "best" else "model of the last epoch"

    def model(self) -> ModelConfig:
        return model_config(self.preset, **self.model_overrides)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config a run record (`run.json`'s `config`) was written from; unknown keys are ignored."""
        known = {item.name for item in dataclasses.fields(cls)}
        kept = {key: value for key, value in values.items() if key in known}
        for key in ("data_dir", "out_dir", "init_from", "teacher"):
            if kept.get(key) is not None:
                kept[key] = Path(kept[key])
        return cls(**kept)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["data_dir"] = str(self.data_dir)
        out["out_dir"] = str(self.out_dir)
        out["init_from"] = str(self.init_from) if self.init_from else None
        out["teacher"] = str(self.teacher) if self.teacher else None
        return out


@dataclass(frozen=True)
class MatteConfig:
    """How `core.inference.matte` turns a prediction into an alpha matte at the photo's size."""

    fast_gain: float = 4.0
    """`fast`: alpha = clip((score - 0.5) * gain + 0.5): the edge ramp spans a quarter of the score's range."""
    fast_guided: bool = True
    """`fast`: fit the ramp to the photo's own edges (a guided filter at `fast_work_side`) and take the
    background's colour out of the edge pixels; False upscales the model's grid only (its steps show on
    a 12 MP photo: one model pixel is about 30 photo pixels wide)."""
    fast_work_side: int = 512
    """`fast`: longest side the guided filter is fitted at (then applied to the full-size photo)."""
    fast_epsilon: float = 1e-3
    """`fast`: guided-filter regularisation (grey levels in [0, 1]): smaller follows fainter photo edges."""
    fast_sharpen: float = 2.0
    """`fast`: the guided filter's output is steepened this much around 0.5 (inside its linear coefficients,
    so the full-size edge stays one smooth ramp): the filter alone widens the edge to its window."""
    work_side: int = 800
    """`matting`: longest side of the working resolution the matting is solved at (1024 px: 2.8 s of
    solving on a 12 MP photo here, 800 px: about 1 s; the guided filter restores the photo's edges)."""
    band_model_pixels: float = 0.5
    """`matting`: unknown band on each side of the pet's outline, in model pixels (besides the predicted border)."""
    guided_radius: int = 2
    """`matting`: guided-filter window radius at the working resolution, for upsampling the matte."""
    guided_epsilon: float = 1e-4
    """`matting`: guided-filter regularisation; smaller follows the photo's edges more closely."""
    crop_margin: float = 0.05
    """Crop to the pet: margin on each side, as a share of the pet's bounding box."""


Runtime = Literal["auto", "openvino", "keras"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
Precision = Literal["auto", "f32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


@dataclass(frozen=True)
class RuntimeConfig:
    """What runs the network (`core.inference.runtime`)."""

    runtime: Runtime = "auto"
    """`auto`: OpenVINO where it is installed, else Keras; `keras`: the reference path (TensorFlow),
    always available. OpenVINO's gain here is its int8 (2.5-3.3x Keras; f32 runs at about Keras's
    speed on this AVX-512 CPU, bench/RESULTS.md)."""
    cache_dir: Path | None = None
    """Where converted OpenVINO models are kept, by content hash; by default `$PETSEG_CACHE_DIR`,
    else `~/.cache/petseg` (one cache for every copy of a model file)."""
    precision: Precision = "auto"
    """OpenVINO only. `auto`: the int8 model beside the `.keras` file where one was made from this
    exact file (`python -m core quantize`; shipped only where it keeps the masks), else f32. `f32`
    answers as Keras does (1e-7); `bf16` on CPUs that have it (AVX-512 BF16, AMX) moves
    probabilities by about 1e-3 (OpenVINO's own default there; here it is asked for explicitly)."""
    performance_hint: Literal["LATENCY", "THROUGHPUT"] = "LATENCY"
    """OpenVINO's CPU hint. LATENCY runs one request on every core; THROUGHPUT splits the cores
    into streams that only parallel requests fill (the Segmenter sends one at a time)."""
    images_per_call: int = 16
    """The most images one network call runs; a larger batch runs as several calls. Either runtime
    keeps buffers for the largest batch it has seen: on the 192 px default, 48 images held 815 MB
    resident against 337 MB at 16, and a busy server reached that size only minutes in (per image,
    16 runs within a few percent of 32 on a 2-core CPU)."""

    def __post_init__(self) -> None:
        if self.images_per_call < 1:
            raise ValueError(f"images_per_call must be at least 1, got {self.images_per_call}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


@dataclass(frozen=True)
class ViewConfig:
    """How `core.inference.views` shows a photo to the model: whole, and a wide or tall one also in square crops."""

    min_aspect: float = 1.2
    """A photo whose long side is at least this many times its short side is also seen as square
    crops along the long side (most photos: 85 of the 96 native-aspect validation photos)."""
    full_view_weight: float = 1 / 3
    """Weight of the whole-photo view against the crops' mean where merged (0.2-0.33 scored best)."""


WHOLE_PHOTO_ONLY = ViewConfig(min_aspect=float("inf"))
"""Every photo seen whole only (`predict --whole-photo-only`, the API's `whole_photo_only`): up to
1.8x the speed on small wide photos, and more second pets missed (bench/RESULTS.md)."""


def view_config(whole_photo_only: bool) -> ViewConfig:
    """The views the CLI's `--whole-photo-only` and the API's `whole_photo_only` choose."""
    return WHOLE_PHOTO_ONLY if whole_photo_only else ViewConfig()


@dataclass(frozen=True)
class ServeConfig:
    """The HTTP API (`python -m core serve`, `core.serving.api`): where it listens, what it serves, its limits."""

    host: str = "127.0.0.1"
    """Loopback by default: serving beyond the machine is a choice (`--host 0.0.0.0`, with an API key)."""
    port: int = 8000
    model: Path = DEFAULT_MODEL_PATH
    """The default model; the other `.keras` files beside it can be asked for by name (`?model=`)."""
    runtime: Runtime = "auto"
    """What runs the network (`RuntimeConfig`): OpenVINO where installed, else Keras."""
    precision: Precision = "auto"
    """OpenVINO's precision (`RuntimeConfig.precision`)."""
    workers: int = 1
    """Server processes (each loads the model); more replicas belong behind a load balancer."""
    api_key: str | None = None
    """When set, every /v1 request must carry it (`Authorization: Bearer KEY` or `X-API-Key: KEY`)."""
    max_body_bytes: int = 25 * 2**20
    """Request bodies over this are refused (413) before they are read whole."""
    max_photos: int = 16
    """Decoded photos held at once per process (a 64 MP photo is 190 MB as RGB); beyond it: 503."""
    max_batch: int = 16
    """Photos per model call: requests arriving together are segmented in one batch."""
    batch_window_ms: float = 5.0
    """How long the first request of a batch waits for others to join it."""
    max_connections: int = 64
    """Open connections per process; beyond it uvicorn answers 503 at once."""
    retry_after_seconds: int = 1

    def __post_init__(self) -> None:
        for name in ("workers", "max_body_bytes", "max_photos", "max_batch", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")


@dataclass(frozen=True)
class ClipLimits:
    """What a video clip may be (`core.video.clip`): checked from the container before any frame is decoded."""

    max_seconds: float = 60.0
    max_frames: int = 1800
    max_long_side: int = 3840
    """4K UHD: 3840x2160, either way up."""
    max_short_side: int = 2160

    def __post_init__(self) -> None:
        if min(self.max_seconds, self.max_frames, self.max_long_side, self.max_short_side) <= 0:
            raise ValueError("clip limits must be positive")


@dataclass(frozen=True)
class SteadyConfig:
    """How `core.video.steady` steadies masks from frame to frame: a moving average of the class
    probabilities on the model's grid whose weight on the new frame rises where the picture changed."""

    weight: float = 0.3
    """The new frame's weight where nothing moved (0.3: about three frames of memory)."""
    motion_gain: float = 20.0
    """Added weight per unit of grey-level change beyond `noise` (a moving pet follows at once)."""
    noise: float = 0.02
    """Grey-level change (0..1) a still picture shows from frame to frame (sensor noise, compression)."""
    scene_cut: float = 0.25
    """A mean grey-level change above this is a cut: the average starts again."""
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.weight <= 1:
            raise ValueError(f"weight must be in (0, 1], got {self.weight}")
