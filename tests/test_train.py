import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.model.model_io import load_model
from core.training.history import best_epoch, lineage_history, read_history, write_history
from tests.helpers import tiny_train_args, write_dataset

ROOT = Path(__file__).resolve().parents[1]


def test_run_folder_has_model_history_and_run_record(trained_tiny_run):
    rows = read_history(trained_tiny_run / "history.csv")
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    header = (trained_tiny_run / "history.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "epoch" and {"loss", "val_loss", "dice", "val_dice", "val_mean_iou", "learning_rate"} <= set(
        header
    )
    record = json.loads((trained_tiny_run / "run.json").read_text())
    assert record["status"] == "finished" and record["config"]["preset"] == "tiny"
    assert record["data"]["train_pairs"] + record["data"]["val_pairs"] == 12 and record["seed"] == 1337
    assert record["wall_time_seconds"] > 0
    assert load_model(trained_tiny_run / "model.keras").input_shape == (None, 32, 32, 3)
    import keras

    assert getattr(keras.saving.load_model(trained_tiny_run / "model.keras"), "optimizer", None) is None  # lean file


def test_running_again_with_more_epochs_continues(tmp_path, tiny_dataset):
    args = ["train", "--data-dir", str(tiny_dataset), "--out", str(tmp_path), "--preset", "tiny", "--batch-size", "4"]
    assert main([*args, "--epochs", "1"]) == 0
    first = read_history(tmp_path / "history.csv")
    assert main([*args, "--epochs", "3"]) == 0
    rows = read_history(tmp_path / "history.csv")
    assert [row["epoch"] for row in rows] == [1, 2, 3] and rows[0] == first[0]


def test_official_split_trains_on_trainval_and_never_reads_the_test_list(tmp_path, capsys):
    root = write_dataset(tmp_path / "pets", count=24)
    stems = sorted(p.stem for p in (root / "images").iterdir())
    (root / "annotations" / "trainval.txt").write_text("".join(f"{s} 1 1 1\n" for s in stems[:20]))
    (root / "annotations" / "test.txt").write_text("not read by training")  # its stems would be refused
    out = tmp_path / "run"
    args = [*tiny_train_args(root, out, epochs=1, batch_size=4), "--split", "official"]
    assert main(args) == 0
    assert "data: 18 training, 2 validation pairs" in capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["split"] == "official"
    assert main([*tiny_train_args(root, out, epochs=2, batch_size=4)]) == 2  # resuming on another split
    assert "split: 'official' -> 'reference'" in capsys.readouterr().err


def test_changed_settings_are_refused_not_mixed(tmp_path, tiny_dataset, capsys):
    args = ["train", "--data-dir", str(tiny_dataset), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "4"]
    assert main([*args, "--preset", "tiny"]) == 0
    assert main([*args, "--preset", "fast"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_a_row_written_before_the_kill_but_not_checkpointed_is_trained_again(tmp_path, tiny_dataset, capsys):
    args = ["train", "--data-dir", str(tiny_dataset), "--out", str(tmp_path), "--preset", "tiny", "--batch-size", "4"]
    assert main([*args, "--epochs", "2"]) == 0
    rows = read_history(tmp_path / "history.csv")
    write_history(
        tmp_path / "history.csv", [*rows, {**rows[-1], "epoch": 3, "val_loss": 0.0}]
    )  # killed before epoch 3's checkpoint
    capsys.readouterr()
    assert main([*args, "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert "resuming after epoch 2 of 3" in printed and "epoch 3 ended but was not checkpointed" in printed
    after = read_history(tmp_path / "history.csv")
    assert after[:2] == rows and after[2]["epoch"] == 3 and after[2]["val_loss"] > 0


def test_rerun_saves_the_best_model_a_kill_left_unsaved(tmp_path, tiny_dataset):
    """Killed after the last epoch's checkpoint but before `model.keras` was written."""
    args = tiny_train_args(tiny_dataset, tmp_path, epochs=2, batch_size=4)
    assert main(args) == 0
    rows = read_history(tmp_path / "history.csv")
    write_history(
        tmp_path / "history.csv", [rows[0], {**rows[1], "val_loss": rows[0]["val_loss"] / 2}]
    )  # epoch 2 is the best
    (tmp_path / "model.keras").unlink()
    assert main(args) == 0
    assert load_model(tmp_path / "model.keras").input_shape == (None, 32, 32, 3)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_same_command_resumes(tmp_path):
    """A real `kill -9` during training: the rerun neither repeats nor loses an epoch."""
    from tests.helpers import write_dataset

    dataset = write_dataset(tmp_path / "pets", count=40)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "core", *tiny_train_args(dataset, out, epochs=6, batch_size=2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(read_history(out / "history.csv")) < 2:
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = read_history(out / "history.csv")
    assert 2 <= len(before) < 6, "the run should have been killed mid-way"
    rerun = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300)
    checkpointed = int(re.search(r"resuming after epoch (\d+) of 6", rerun.stdout).group(1))
    # the kill may land after an epoch's history row and before its checkpoint: that one epoch runs again
    assert checkpointed in (len(before) - 1, len(before))
    after = read_history(out / "history.csv")
    assert [row["epoch"] for row in after] == [1, 2, 3, 4, 5, 6]
    assert after[:checkpointed] == before[:checkpointed]  # checkpointed epochs were resumed from, not trained again
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["kept_epoch"] == best_epoch(after)["epoch"]
    assert load_model(out / "model.keras").output_shape == (None, 32, 32, 3)


def test_train_and_evaluate_on_a_damaged_dataset_use_the_good_pairs(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from tests.helpers import write_dataset

    root = write_dataset(tmp_path / "pets", count=14)
    (root / "annotations" / "trimaps" / "beagle_1.png").unlink()
    (root / "images" / "README.txt").write_text("stray")
    (root / "images" / "Persian_2.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    Image.fromarray(np.full((40, 48), 7, np.uint8)).save(root / "annotations" / "trimaps" / "beagle_3.png")
    out = tmp_path / "run"
    assert main(tiny_train_args(root, out, epochs=1, batch_size=4)) == 0
    printed = capsys.readouterr().out
    assert "skipped 4: 1 bad trimaps, 1 images without trimap, 1 stray files, 1 undecodable images" in printed
    record = json.loads((out / "run.json").read_text())
    assert record["data"]["skipped"]["total"] == 4
    assert record["data"]["train_pairs"] + record["data"]["val_pairs"] == 14 - 3
    assert (
        main(
            [
                "evaluate",
                "--data-dir",
                str(root),
                "--model",
                str(out / "model.keras"),
                "--json",
                str(tmp_path / "m.json"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "m.json").read_text())["skipped"]["total"] >= 1


def test_init_from_starts_at_a_trained_models_weights(tmp_path, trained_tiny_run, tiny_dataset):
    source = load_model(trained_tiny_run / "model.keras")
    args = ["train", "--data-dir", str(tiny_dataset), "--preset", "tiny", "--batch-size", "4", "--epochs", "1"]
    assert (
        main(
            [
                *args,
                "--out",
                str(tmp_path / "tuned"),
                "--init-from",
                str(trained_tiny_run / "model.keras"),
                "--learning-rate",
                "1e-12",
            ]
        )
        == 0
    )
    tuned = load_model(tmp_path / "tuned" / "model.keras")
    kernels = [(layer.name, layer.kernel) for layer in source.layers if hasattr(layer, "kernel")]
    assert kernels and all(np.allclose(tuned.get_layer(name).kernel, kernel, atol=1e-6) for name, kernel in kernels)


def test_init_from_another_architecture_is_refused(tmp_path, trained_tiny_run, tiny_dataset, capsys):
    args = [
        "train",
        "--data-dir",
        str(tiny_dataset),
        "--out",
        str(tmp_path / "tuned"),
        "--batch-size",
        "4",
        "--epochs",
        "1",
    ]
    assert main([*args, "--preset", "fast", "--init-from", str(trained_tiny_run / "model.keras")]) == 2
    assert "pass the --preset it was trained with" in capsys.readouterr().err
    assert not (tmp_path / "tuned").exists()


def test_a_fine_tuned_runs_lineage_continues_its_parents_history_to_the_best_epoch(
    tmp_path, trained_tiny_run, tiny_dataset
):
    tuned = tmp_path / "tuned"
    assert (
        main(
            [
                "train",
                "--data-dir",
                str(tiny_dataset),
                "--preset",
                "tiny",
                "--batch-size",
                "4",
                "--epochs",
                "2",
                "--out",
                str(tuned),
                "--init-from",
                str(trained_tiny_run / "model.keras"),
                "--no-augment",
            ]
        )
        == 0
    )
    parent, own = read_history(trained_tiny_run / "history.csv"), read_history(tuned / "history.csv")
    best = int(best_epoch(parent)["epoch"])
    rows = lineage_history(tuned)
    assert [row["epoch"] for row in rows] == list(range(1, best + 3))
    assert rows[:best] == parent[:best] and rows[best:] == [{**row, "epoch": row["epoch"] + best} for row in own]
    assert lineage_history(trained_tiny_run) == parent


def test_keep_last_ships_the_final_epochs_weights(tmp_path, tiny_dataset, capsys):
    from core.config import TrainConfig
    from core.model.unet import build_unet
    from core.training.train import compile_model

    args = tiny_train_args(tiny_dataset, tmp_path, epochs=3, batch_size=4)
    assert main([*args, "--keep", "last"]) == 0
    assert f"model of the last epoch: {tmp_path / 'model.keras'}" in capsys.readouterr().out  # not "best model"
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["config"]["keep"] == "last" and record["kept_epoch"] == 3
    final = build_unet(TrainConfig(preset="tiny").model())  # the weights the run ended with, from its checkpoint
    compile_model(final, TrainConfig(preset="tiny"), 1)
    final.optimizer.build(final.trainable_variables)
    final.load_weights(tmp_path / "backup" / "epoch-0003.weights.h5")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    shipped = load_model(tmp_path / "model.keras")
    assert np.allclose(shipped.predict(images, verbose=0), final.predict(images, verbose=0), atol=1e-5)
    assert main([*args, "--keep", "best"]) == 2  # a run keeps what it started with


def _train_args(data: Path, out: Path, epochs: int) -> list[str]:
    return tiny_train_args(data, out, epochs=epochs, batch_size=4)


def test_an_unreadable_resume_state_is_set_aside_and_the_run_resumes_from_the_one_before(
    tmp_path, tiny_dataset, capsys
):
    assert main(_train_args(tiny_dataset, tmp_path, 2)) == 0
    rows = read_history(tmp_path / "history.csv")
    newest = tmp_path / "backup" / "epoch-0002.weights.h5"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a disk that lost the file's end
    capsys.readouterr()
    assert main(_train_args(tiny_dataset, tmp_path, 3)) == 0
    printed = capsys.readouterr().out
    assert (
        "epoch-0002.weights.h5 is unreadable" in printed and "set aside as epoch-0002.weights.h5.unreadable" in printed
    )
    assert "resuming after epoch 1 of 3" in printed and "epoch 2 ended but was not checkpointed" in printed
    after = read_history(tmp_path / "history.csv")
    assert [row["epoch"] for row in after] == [1, 2, 3] and after[0] == rows[0]
    assert sorted(path.name for path in (tmp_path / "backup").iterdir()) == [
        "epoch-0002.weights.h5",
        "epoch-0002.weights.h5.unreadable",
        "epoch-0003.weights.h5",
    ]


def test_with_no_readable_resume_state_the_run_starts_over_and_says_so(tmp_path, tiny_dataset, capsys):
    assert main(_train_args(tiny_dataset, tmp_path, 2)) == 0
    for state in (tmp_path / "backup").glob("epoch-*.weights.h5"):
        state.write_bytes(b"\x89HDF\r\n\x1a\n")
    capsys.readouterr()
    assert main(_train_args(tiny_dataset, tmp_path, 2)) == 0
    printed = capsys.readouterr().out
    assert "no readable resume state is left: training starts from scratch" in printed
    assert "resuming" not in printed
    assert [row["epoch"] for row in read_history(tmp_path / "history.csv")] == [1, 2]


def test_a_run_from_the_keras_backup_layout_still_resumes(tmp_path, tiny_dataset, capsys):
    """Runs checkpointed by Keras's BackupAndRestore (before core.training.checkpoint) resume, then move over."""
    assert main(_train_args(tiny_dataset, tmp_path, 2)) == 0
    backup = tmp_path / "backup"
    (backup / "epoch-0002.weights.h5").rename(backup / "latest.weights.h5")
    (backup / "epoch-0001.weights.h5").unlink()
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    capsys.readouterr()
    assert main(_train_args(tiny_dataset, tmp_path, 4)) == 0
    assert "resuming after epoch 2 of 4" in capsys.readouterr().out
    assert [row["epoch"] for row in read_history(tmp_path / "history.csv")] == [1, 2, 3, 4]
    assert sorted(path.name for path in backup.iterdir()) == ["epoch-0003.weights.h5", "epoch-0004.weights.h5"]


KILLED_INSIDE_THE_WRITE = """
import os, sys, time, keras
marker, epoch_to_break = sys.argv[1], int(sys.argv[2])
original, calls = keras.Model.save_weights, []
def save_weights(self, filepath, *args, **kwargs):
    original(self, filepath, *args, **kwargs)
    calls.append(filepath)
    if len(calls) == epoch_to_break:  # stop half-way through writing this epoch's state, then get killed
        with open(filepath, "r+b") as handle:
            handle.truncate(os.path.getsize(filepath) // 2)
        open(marker, "w").write(str(filepath))
        time.sleep(600)
keras.Model.save_weights = save_weights
from core.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.slow
def test_sigkill_while_the_resume_state_is_being_written_then_same_command_resumes(tmp_path, tiny_dataset):
    """The kill lands inside the write of epoch 2's resume state: the rerun resumes after epoch 1."""
    out, marker = tmp_path / "run", tmp_path / "writing"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = _train_args(tiny_dataset, out, 3)
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_INSIDE_THE_WRITE, str(marker), "2", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not marker.exists() and process.poll() is None:
        time.sleep(0.02)
    assert marker.exists(), "the run never reached epoch 2's checkpoint"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert [row["epoch"] for row in read_history(out / "history.csv")] == [1, 2]  # the row came before the state
    rerun = subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0 and "Traceback" not in rerun.stderr, rerun.stderr[-2000:]
    assert "resuming after epoch 1 of 3" in rerun.stdout and "epoch 2 ended but was not checkpointed" in rerun.stdout
    assert [row["epoch"] for row in read_history(out / "history.csv")] == [1, 2, 3]
    assert sorted(path.name for path in (out / "backup").iterdir()) == [
        "epoch-0002.weights.h5",
        "epoch-0003.weights.h5",
    ]


@pytest.mark.slow
def test_sigkills_at_spread_delays_after_an_epochs_row_never_break_resuming(tmp_path, tiny_dataset):
    """Kill -9 at delays from 0 to 0.3 s after a new history row (the row, state, model window),
    rerunning the same command each time: every rerun resumes, each epoch is in history.csv once."""
    out, epochs = tmp_path / "run", 12
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "core", *_train_args(tiny_dataset, out, epochs)]
    for delay in (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3):
        seen = len(read_history(out / "history.csv"))
        log = open(tmp_path / f"kill-{delay}.log", "w")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(read_history(out / "history.csv")) <= seen and process.poll() is None:
            time.sleep(0.002)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        log.close()
        assert "Traceback" not in (tmp_path / f"kill-{delay}.log").read_text()
    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0 and "Traceback" not in final.stderr, final.stderr[-2000:]
    assert [row["epoch"] for row in read_history(out / "history.csv")] == list(range(1, epochs + 1))
    assert load_model(out / "model.keras").input_shape == (None, 32, 32, 3)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("keep", "newest", "keep must be one of best, last"),
        ("strategy", "ring", "strategy must be one of auto, default"),
        ("preset", "huge", "unknown preset 'huge'"),
        ("split", "official-test", "split must be one of reference, official"),
    ],
)
def test_train_config_refuses_values_outside_its_literals(field, value, message):
    from core.config import TrainConfig

    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_a_copy_of_the_resumable_state_resumes_elsewhere(tmp_path, trained_tiny_run, tiny_dataset, capsys):
    """A run copied to another folder (another machine) resumes there after its last epoch."""
    from core.training.checkpoint import RunCopyError, copy_resumable

    with pytest.raises(RunCopyError, match="holds no resume state; pass a training run folder"):
        copy_resumable(tmp_path, tmp_path / "nothing")
    moved = tmp_path / "moved"
    assert copy_resumable(trained_tiny_run, moved) == 3
    assert sorted(path.name for path in moved.rglob("*") if path.is_file()) == [
        "epoch-0003.weights.h5",
        "history.csv",
        "model.keras",
        "run.json",
    ]
    assert main(tiny_train_args(tiny_dataset, moved, epochs=4, batch_size=4)) == 0
    assert "resuming after epoch 3 of 4" in capsys.readouterr().out
    assert [row["epoch"] for row in read_history(moved / "history.csv")] == [1, 2, 3, 4]
    assert [row["loss"] for row in read_history(moved / "history.csv")][:3] == [
        row["loss"] for row in read_history(trained_tiny_run / "history.csv")
    ]


def test_a_copy_made_while_an_epoch_is_committed_is_made_again(tmp_path, monkeypatch):
    """The run commits epoch 3 while epoch 2 is being copied: the copy starts over and holds epoch 3."""
    import shutil

    from core.training import checkpoint

    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "history.csv").write_text("epoch,loss\n1,1.0\n2,0.9\n")
    (run / "model.keras").write_bytes(b"epoch 2")
    checkpoint.state_path(run / "backup", 2).write_bytes(b"state 2")
    real_copy = shutil.copy2

    def copy_while_training(source, target):
        if Path(source).name == "model.keras" and not checkpoint.state_path(run / "backup", 3).exists():
            checkpoint.state_path(run / "backup", 3).write_bytes(b"state 3")
            (run / "model.keras").write_bytes(b"epoch 3")
        return real_copy(source, target)

    monkeypatch.setattr(shutil, "copy2", copy_while_training)
    assert checkpoint.copy_resumable(run, tmp_path / "copy") == 3
    assert (tmp_path / "copy" / "model.keras").read_bytes() == b"epoch 3"
    assert [path.name for path in (tmp_path / "copy" / "backup").iterdir()] == ["epoch-0003.weights.h5"]
    assert not list(tmp_path.glob(".copy.copying"))


def test_a_finished_run_can_keep_its_last_epoch(tmp_path, trained_tiny_run, tiny_dataset):
    """`keep_last_epoch` leaves what `--keep last` would have: the last epoch's weights (they score
    that epoch's validation loss) and a record that `--keep last` resumes."""
    from core.config import model_config
    from core.evaluation.evaluate import evaluate
    from core.model.model_io import save_for_inference
    from core.model.unet import build_unet
    from core.training.checkpoint import copy_resumable
    from core.training.train import RunStateError, keep_last_epoch

    run = tmp_path / "run"
    copy_resumable(trained_tiny_run, run)
    # As if the lowest validation loss had come earlier: model.keras holds other weights than the last state's.
    save_for_inference(build_unet(model_config("tiny"), name="petseg_tiny"), run / "model.keras")
    rows = read_history(run / "history.csv")
    val_size = json.loads((run / "run.json").read_text())["config"]["val_size"]

    def val_loss() -> float:
        return evaluate(run / "model.keras", tiny_dataset, val_size=val_size, score_size=None, runtime="keras")["loss"]

    assert abs(val_loss() - rows[-1]["val_loss"]) > 0.05
    assert keep_last_epoch(run) == 3
    assert val_loss() == pytest.approx(rows[-1]["val_loss"], abs=2e-3)
    record = json.loads((run / "run.json").read_text())
    assert (record["config"]["keep"], record["kept_epoch"], record["keep_changed_from"]) == ("last", 3, "best")
    assert main(tiny_train_args(tiny_dataset, run, epochs=3, batch_size=4) + ["--keep", "last"]) == 0  # no mismatch
    record["status"] = "running"
    (run / "run.json").write_text(json.dumps(record))
    with pytest.raises(RunStateError, match="holds no finished run"):
        keep_last_epoch(run)
