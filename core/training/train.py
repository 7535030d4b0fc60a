"""Training: wires data, model, loss, metrics and the callbacks that make a run resumable.

A run folder holds `model.keras` (best by validation loss, or the last epoch with `keep="last"`;
written atomically), `history.csv` (one row per finished epoch), `run.json` (config, data summary,
timing) and `backup/` (the resume state, `core.training.checkpoint`). Running the same command again
resumes after the last checkpointed epoch, whenever the previous run was killed.
"""

from __future__ import annotations

import math
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from core.config import TrainConfig
from core.data import dataset as data
from core.errors import PetSegError
from core.model.losses import FocalDiceLoss
from core.model.metrics import training_metrics
from core.model.model_io import (
    RUN_RECORD,
    load_model,
    read_run_record,
    run_config,
    save_for_inference,
    write_run_record,
)
from core.model.pretrained.efficientnet_lite import VARIANTS
from core.model.pretrained.weights import load_imagenet_weights
from core.model.unet import build_unet
from core.training.checkpoint import EpochCheckpoint
from core.training.distill import Distiller, inference_model
from core.training.distribute import Placement, check_same_resume_epoch, choose_strategy, prepare_for_multi_worker
from core.training.history import best_epoch, kept_epoch, read_history, write_history
from core.training.optimizer import EncoderScaledAdam


class ConfigMismatch(PetSegError, RuntimeError):
    """An existing run folder was started with other settings."""


class RunStateError(PetSegError, RuntimeError):
    """A run folder that cannot do what was asked of it yet (unfinished, or its last state is missing)."""


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites `history.csv` atomically after every epoch. On resume it keeps the rows of the
    checkpointed epochs only: a run killed after writing a row but before its checkpoint trains
    that epoch again, so each epoch appears exactly once."""

    def __init__(self, path: Path, finished: int = 0) -> None:
        super().__init__()
        self.path, self.finished = path, finished
        self.rows: list[dict[str, float]] = []
        self._started = 0.0

    def on_train_begin(self, logs=None) -> None:
        rows = read_history(self.path)
        self.rows = [row for row in rows if row["epoch"] <= self.finished]
        if self.finished:
            print(f"resuming after epoch {self.finished} of {self.params['epochs']}", flush=True)
        if len(rows) > len(self.rows):
            print(
                f"epoch {self.finished + 1} ended but was not checkpointed when the run stopped; it runs again",
                flush=True,
            )

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        row = {"epoch": epoch + 1, **{key: float(value) for key, value in (logs or {}).items()}}
        row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row["epoch_seconds"] = time.perf_counter() - self._started
        self.rows = [*self.rows, row]
        write_history(self.path, self.rows)


class ModelSaver(keras.callbacks.Callback):
    """Writes `model.keras` (via a temporary file and a rename) with the weights the run keeps:
    `best`, those of the lowest validation loss so far, or `last`, those of every finished epoch.

    It runs after the checkpoint, so a kill between the two can leave `model.keras` one epoch
    behind; on resume, if the last checkpointed epoch is the kept one, the restored weights are
    exactly that epoch's and are saved again."""

    def __init__(self, path: Path, history_path: Path, keep: str = "best", finished: int = 0) -> None:
        super().__init__()
        self.path, self.history_path, self.keep, self.finished = path, history_path, keep, finished
        self.best = math.inf

    def on_train_begin(self, logs=None) -> None:
        finished = self.finished
        rows = [row for row in read_history(self.history_path) if row["epoch"] <= finished]
        kept = kept_epoch(rows, self.keep)
        best = best_epoch(rows)
        self.best = best["val_loss"] if best else math.inf
        if kept is not None and int(kept["epoch"]) == finished:
            save_for_inference(inference_model(self.model), self.path)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        value = (logs or {}).get("val_loss", math.inf)
        if self.keep == "last" or value < self.best:
            self.best = min(self.best, float(value))
            save_for_inference(inference_model(self.model), self.path)


def resumable_callbacks(
    out: Path, checkpoint: EpochCheckpoint, finished: int, keep: str, early_stopping_patience: int
) -> list[keras.callbacks.Callback]:
    """Keras calls every hook in list order, and this order keeps a killed run consistent: each
    epoch ends by writing its history row, then the checkpoint (the commit point: a rerun resumes
    after it and drops later rows), then the kept model (repaired from the checkpoint on resume).
    `finished` is the number of epochs `checkpoint.restore` found."""
    history_path = out / "history.csv"
    return [
        HistoryWriter(history_path, finished),
        checkpoint,
        ModelSaver(out / "model.keras", history_path, keep, finished),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping_patience),
    ]


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> None:
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(config.warmup_epochs * steps_per_epoch, total // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.1,
        decay_steps=max(1, total - warmup),
        alpha=0.01,
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
    )
    weight_decay = config.weight_decay or None
    if config.model().encoder == "unet":
        optimizer = keras.optimizers.Adam(schedule, weight_decay=weight_decay)
    else:
        optimizer = EncoderScaledAdam(
            schedule,
            weight_decay=weight_decay,
            encoder_scale=config.encoder_lr_scale,
            freeze_steps=config.freeze_encoder_epochs * steps_per_epoch,
        )
    model.compile(optimizer=optimizer, loss=FocalDiceLoss(gamma=config.focal_gamma), metrics=training_metrics())


def _check_resumable(run_dir: Path, config: TrainConfig) -> None:
    previous = run_config(run_dir)
    if previous is None:
        return
    keys = (
        "preset",
        "batch_size",
        "learning_rate",
        "val_size",
        "split",
        "limit",
        "seed",
        "model_overrides",
        "init_from",
        "keep",
        "teacher",
        "distill_weight",
        "teacher_tta",
        "encoder_lr_scale",
        "freeze_encoder_epochs",
    )
    changed = [key for key in keys if key in previous and previous[key] != config.to_dict()[key]]
    if changed:
        details = ", ".join(f"{key}: {previous[key]!r} -> {config.to_dict()[key]!r}" for key in changed)
        raise ConfigMismatch(
            f"{config.out_dir} holds a run started with other settings ({details}); "
            "use the same options to resume, or a new --out to start a new run"
        )


def load_initial_weights(model: keras.Model, path: Path) -> None:
    """Copy a trained model's weights into `model`, refusing a model of another architecture."""
    source = load_model(path)
    shapes = [tuple(weight.shape) for weight in source.weights]
    if shapes != [tuple(weight.shape) for weight in model.weights]:
        raise ConfigMismatch(
            f"--init-from {path}: its architecture ({source.name}, {source.count_params():,} parameters) differs "
            f"from the preset's ({model.name}, {model.count_params():,}); pass the --preset it was trained with, "
            "and a run's model.keras rather than a shipped model (shipping folds BatchNorm into the convolutions)"
        )
    model.set_weights(source.get_weights())


@dataclass
class PreparedRun:
    """Where this process writes, and the data it trains on."""

    run_dir: Path
    """The run folder (`--out`), which the chief writes and every worker resumes from."""
    out: Path
    """Where this process writes: the run folder, or a non-chief worker's own folder inside it."""
    split: data.SplitData
    train_set: Any
    val_set: Any
    steps: int
    """Optimizer steps per epoch: the training set drops its last partial batch."""


def prepare_run(config: TrainConfig, placement: Placement) -> PreparedRun:
    """Check that the run folder can take this run, and load the data."""
    run_dir = out = Path(config.out_dir)
    if not placement.is_chief:
        out = run_dir / f".worker-{placement.task_type}-{placement.task_index}"
        shutil.rmtree(out, ignore_errors=True)  # what a killed worker left is never resumed from
    _check_resumable(run_dir, config)
    split = data.load_split(
        config.data_dir, config.model().input_size, config.val_size, config.seed, config.limit, split=config.split
    )
    print(
        f"data: {len(split.train)} training, {len(split.val)} validation pairs from {config.data_dir}; "
        f"{split.report.summary()}",
        flush=True,
    )
    train_set = data.make_dataset(
        split.train, config.batch_size, training=True, augment=config.augment, seed=config.seed
    )
    val_set = data.make_dataset(split.val, config.batch_size, training=False)
    return PreparedRun(run_dir, out, split, train_set, val_set, max(1, len(split.train) // config.batch_size))


def build_model(
    config: TrainConfig, placement: Placement, run: PreparedRun
) -> tuple[keras.Model, EpochCheckpoint, int]:
    """The compiled model, with the resume state (or `--init-from` weights) loaded; returns it, its
    checkpoint callback and the number of epochs already finished."""
    keras.utils.set_random_seed(config.seed)  # the same initial weights for a rerun and on every worker
    if config.teacher and placement.workers > 1:
        raise ConfigMismatch("distillation (--teacher) runs on one worker; drop TF_CONFIG or the --teacher option")
    with placement.strategy.scope():
        replicas = placement.strategy.num_replicas_in_sync
        model = build_unet(config.model(), name=f"petseg_{config.preset}", synchronized_batch_norm=replicas > 1)
        if config.init_from:
            load_initial_weights(model, Path(config.init_from))
        elif config.model().encoder != "unet":
            load_imagenet_weights(model, VARIANTS[config.model().encoder])  # on resume, the checkpoint replaces them
        if config.teacher:
            model = Distiller(model, load_model(Path(config.teacher)), config.distill_weight, config.teacher_tta)
            model(next(iter(run.val_set))[0])  # builds the wrapper before its state is restored
        compile_model(model, config, run.steps)
    if placement.kind == "MultiWorkerMirroredStrategy":
        prepare_for_multi_worker(model, run.val_set)  # not the training set: a first iterator would advance its shuffle
    checkpoint = EpochCheckpoint(run.run_dir / "backup", commits=placement.is_chief)
    with placement.strategy.scope():
        finished = checkpoint.restore(model)  # on resume, over the --init-from weights
    if placement.workers > 1:
        check_same_resume_epoch(placement.strategy, finished, run.run_dir)
    return model, checkpoint, finished


def start_record(config: TrainConfig, placement: Placement, run: PreparedRun, model: keras.Model) -> dict[str, Any]:
    """The run record (`run.json`) as training starts."""
    return {
        "config": config.to_dict(),
        "model": {**config.model().to_dict(), "parameters": inference_model(model).count_params()},
        "data": run.split.summary(),
        "seed": config.seed,
        "strategy": {
            "kind": placement.kind,
            "workers": placement.workers,
            "replicas": placement.strategy.num_replicas_in_sync,
        },
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "keras": keras.__version__},
        "status": "running",
    }


def finish_record(record: dict[str, Any], rows: list[dict[str, float]], keep: str, session_seconds: float) -> dict:
    """The run record once `fit` has returned: epochs, the best and the kept one, time."""
    best = best_epoch(rows)
    return {
        **record,
        "status": "finished",
        "epochs_run": len(rows),
        "best_epoch": int(best["epoch"]) if best else None,
        "best_val_loss": best["val_loss"] if best else None,
        "kept_epoch": int(kept_epoch(rows, keep)["epoch"]) if rows else None,
        "wall_time_seconds": round(sum(row.get("epoch_seconds", 0.0) for row in rows), 1),
        "last_session_seconds": round(session_seconds, 1),
    }


def keep_last_epoch(run_dir: Path) -> int:
    """Make a finished run keep its last epoch, as `train --keep last` would have: `model.keras` gets
    the newest resume state's weights and `run.json` says `keep: "last"` (and what it kept before).
    `keep` decides which weights are saved, never how a run trains, so the result is that run's
    exactly. For a run whose validation loss bottomed out while its overlap scores kept rising
    (focal + Dice charges confident mistakes more as the schedule sharpens). Returns the epoch kept."""
    run_dir = Path(run_dir)
    record = read_run_record(run_dir / RUN_RECORD)
    if record is None or record.get("status") != "finished":
        raise RunStateError(
            f"{run_dir} holds no finished run (run.json missing or not 'finished'); finish training first"
        )
    config = TrainConfig.from_dict(record["config"])
    if config.teacher:
        raise RunStateError(f"{run_dir} is a distillation run: its state holds the teacher too; train with --keep last")
    model = build_unet(config.model(), name=f"petseg_{config.preset}")
    compile_model(model, config, steps_per_epoch=1)
    finished = EpochCheckpoint(run_dir / "backup", commits=False).restore(model)
    epochs = len(read_history(run_dir / "history.csv"))
    if finished != epochs:
        raise RunStateError(f"{run_dir / 'backup'} holds epoch {finished}, not the last of {epochs}: nothing changed")
    save_for_inference(model, run_dir / "model.keras")
    changed = {"keep_changed_from": config.keep} if config.keep != "last" else {}
    write_run_record(
        run_dir, {**record, **changed, "config": {**record["config"], "keep": "last"}, "kept_epoch": epochs}
    )
    return epochs


def train(config: TrainConfig, verbose: int | None = None) -> Path:
    """Train (or resume) a run; returns the path of its `model.keras` (best or last epoch, per `keep`).

    Under a multi-worker strategy every worker runs this; only the chief writes into the run
    folder, the others write to `RUN/.worker-<type>-<index>/`, emptied when they start and removed
    when training ends. Every worker resumes from the chief's `RUN/backup/` (so `RUN` must be on
    a filesystem they share) and they check that they agree on the epoch before training.
    """
    placement = choose_strategy(config.strategy)
    print(placement.describe(), flush=True)
    run = prepare_run(config, placement)
    model, checkpoint, finished = build_model(config, placement, run)
    record = start_record(config, placement, run, model)
    run.out.mkdir(parents=True, exist_ok=True)
    write_run_record(run.out, record)

    started = time.perf_counter()
    model.fit(
        run.train_set,
        validation_data=run.val_set,
        epochs=config.epochs,
        initial_epoch=min(finished, config.epochs),
        shuffle=False,  # the tf.data pipeline shuffles
        callbacks=resumable_callbacks(run.out, checkpoint, finished, config.keep, config.early_stopping_patience),
        verbose=verbose if verbose is not None else (1 if sys.stdout.isatty() else 2),
    )
    rows = read_history(run.out / "history.csv")
    write_run_record(run.out, finish_record(record, rows, config.keep, time.perf_counter() - started))
    if not placement.is_chief:
        shutil.rmtree(run.out, ignore_errors=True)
    return run.run_dir / "model.keras"
