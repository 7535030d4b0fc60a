"""The resume state of a training run: weights and optimizer state after each finished epoch.

Keras's `BackupAndRestore` rewrites `backup/latest.weights.h5` in place, so a kill during that
write leaves a file that cannot be opened and a run that cannot resume. Here each epoch's state
is written under a temporary name and renamed to `backup/epoch-NNNN.weights.h5`: the rename is
the commit point, a file under its final name is whole, and the previous epoch's file is kept
until the next one is committed. An unreadable state found at start (a damaged disk, a copy cut
short) is set aside with a one-line message and the run resumes from the newest readable one,
or from scratch, saying so.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from core.errors import PetSegError
from core.files import atomic_path

STATE_PATTERN = re.compile(r"^epoch-(\d{4,})\.weights\.h5$")
KEEP_STATES = 2
"""Committed states kept on disk: the newest, and the one before it in case the newest is damaged."""
LEGACY_WEIGHTS, LEGACY_METADATA = "latest.weights.h5", "training_metadata.json"
RUN_FILES = ("run.json", "history.csv", "model.keras")
"""What a run folder needs besides its newest resume state to be resumed elsewhere."""


class RunCopyError(PetSegError, RuntimeError):
    """A run folder that holds no resume state, or one that kept committing epochs during a copy."""


@dataclass(frozen=True)
class SavedState:
    epoch: int
    """Finished epochs this state holds (1-based count)."""
    path: Path


def state_path(folder: Path, epoch: int) -> Path:
    return folder / f"epoch-{epoch:04d}.weights.h5"


def saved_states(folder: Path) -> list[SavedState]:
    """Committed states in `folder`, newest first. A state of the Keras `BackupAndRestore` layout
    (`latest.weights.h5` + `training_metadata.json`, runs from before this module) comes last."""
    states = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = STATE_PATTERN.match(path.name)
            if match:
                states.append(SavedState(int(match.group(1)), path))
    states.sort(key=lambda state: state.epoch, reverse=True)
    legacy = _legacy_state(folder)
    if legacy and all(state.epoch != legacy.epoch for state in states):
        states.append(legacy)
    return states


def _legacy_state(folder: Path) -> SavedState | None:
    weights, metadata = folder / LEGACY_WEIGHTS, folder / LEGACY_METADATA
    try:
        epoch = int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return SavedState(epoch, weights) if weights.exists() else None


def set_aside(path: Path) -> Path:
    """Rename a damaged file out of the way (kept for inspection, never read again)."""
    target = path.with_name(path.name + ".unreadable")
    path.replace(target)
    return target


class EpochCheckpoint(keras.callbacks.Callback):
    """Commits the weights and optimizer state after every epoch; `restore` resumes from them.

    `restore` runs before `fit` and returns the number of finished epochs, which the caller
    passes to `fit(initial_epoch=...)`, so no private Keras attribute is involved.

    `commits=False` is for a process that does not own the folder (a multi-worker run's other
    workers resume from the chief's states): it reads, skipping what it cannot read, and never
    removes, sets aside or writes anything there."""

    def __init__(self, folder: Path, report: Callable[[str], None] = print, commits: bool = True) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.report = report
        self.commits = commits

    def restore(self, model: keras.Model) -> int:
        if self.commits:
            for stray in self.folder.glob(".epoch-*"):  # a write the kill interrupted, never committed
                stray.unlink(missing_ok=True)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        for state in saved_states(self.folder):
            try:
                model.load_weights(state.path)
            except Exception as error:  # noqa: BLE001 - h5py raises OSError, KeyError, ValueError...
                if not self.commits:
                    continue  # the owner sets it aside and says so
                reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
                aside = set_aside(state.path)
                self.report(f"resume state {state.path} is unreadable ({reason}); set aside as {aside.name}")
                continue
            return state.epoch
        if self.commits and any(self.folder.glob("*.unreadable")):
            self.report("no readable resume state is left: training starts from scratch")
        return 0

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if not self.commits:
            return
        finished = epoch + 1
        path = state_path(self.folder, finished)
        with atomic_path(path, suffix=".weights.h5") as temporary:
            self.model.save_weights(temporary)
        for state in saved_states(self.folder)[KEEP_STATES:]:
            state.path.unlink(missing_ok=True)
            if state.path.name == LEGACY_WEIGHTS:
                for name in (LEGACY_METADATA, LEGACY_WEIGHTS + ".bkp", LEGACY_METADATA + ".bkp"):
                    (self.folder / name).unlink(missing_ok=True)


def copy_resumable(run_dir: Path, dest: Path, attempts: int = 5) -> int:
    """Copy what resuming `run_dir` needs (its run files and newest resume state, nothing older) into
    `dest`, which then resumes as the run would: to move a run to another machine, or to keep it
    beyond a machine that is about to go. Returns the number of epochs the copy holds.

    Safe while the run trains. Each epoch ends with its history row, then its state, then the kept
    model; so a copy during which the newest state stayed the same holds no model from a later
    epoch (a history row past the state is dropped on resume), and a copy during which an epoch was
    committed is made again."""
    run_dir, dest = Path(run_dir), Path(dest)
    for _ in range(attempts):
        states = saved_states(run_dir / "backup")
        if not states:
            raise RunCopyError(
                f"{run_dir / 'backup'} holds no resume state; pass a training run folder (train's --out)"
            )
        newest = states[0]
        staged = dest.with_name(f".{dest.name}.copying")
        shutil.rmtree(staged, ignore_errors=True)
        (staged / "backup").mkdir(parents=True)
        for name in RUN_FILES:
            if (run_dir / name).exists():
                shutil.copy2(run_dir / name, staged / name)
        shutil.copy2(newest.path, state_path(staged / "backup", newest.epoch))
        if saved_states(run_dir / "backup")[0] == newest:
            shutil.rmtree(dest, ignore_errors=True)
            staged.replace(dest)
            return newest.epoch
        shutil.rmtree(staged)
    raise RunCopyError(f"{run_dir} committed {attempts} epochs while it was being copied; try again")
