"""Multi-worker training: two worker processes on 127.0.0.1 with their TF_CONFIG."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.distribute import choose_strategy
from core.history import read_history
from core.predict import load_model

ROOT = Path(__file__).resolve().parents[1]


def test_without_tf_config_the_default_strategy_is_used(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    placement = choose_strategy("auto")
    assert placement.kind == "default" and placement.is_chief and placement.workers == 1


def test_bad_strategy_and_bad_tf_config_are_explained(monkeypatch):
    with pytest.raises(ValueError, match="choose one of"):
        choose_strategy("ring")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        choose_strategy("auto")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_workers(dataset: Path, out: Path, epochs: int, batch_size: int, capture: bool) -> list[subprocess.Popen]:
    """Two `python -m core train` workers on 127.0.0.1, each with its own TF_CONFIG."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "core", "train", "--data-dir", str(dataset), "--out", str(out), "--preset", "tiny",
             "--epochs", str(epochs), "--batch-size", str(batch_size)],
            cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        ))
    return processes


@pytest.mark.slow
def test_two_workers_train_and_only_the_chief_writes(tmp_path):
    from tests.helpers import write_dataset

    dataset = write_dataset(tmp_path / "pets", count=16)
    out = tmp_path / "run"
    processes = start_workers(dataset, out, epochs=1, batch_size=4, capture=True)
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert "MultiWorkerMirroredStrategy, 2 worker(s), 2 replica(s)" in outputs[0] and "(chief)" in outputs[0]
    assert "(chief)" not in outputs[1]
    assert load_model(out / "model.keras").output_shape == (None, 32, 32, 3)
    assert [row["epoch"] for row in read_history(out / "history.csv")] == [1]
    assert json.loads((out / "run.json").read_text())["strategy"]["workers"] == 2
    assert not list(out.glob(".worker-*"))  # the other worker's temporary files are gone


@pytest.mark.slow
def test_killed_worker_then_same_commands_resume_every_epoch_once(tmp_path):
    import signal
    import time

    from tests.helpers import write_dataset

    dataset = write_dataset(tmp_path / "pets", count=40)
    out = tmp_path / "run"

    first = start_workers(dataset, out, epochs=5, batch_size=2, capture=False)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(read_history(out / "history.csv")) < 2:
        time.sleep(0.05)
    time.sleep(0.5)
    first[1].send_signal(signal.SIGKILL)  # a worker dies mid-epoch; the chief cannot go on alone
    try:
        first[0].wait(timeout=60)
    except subprocess.TimeoutExpired:
        first[0].kill()
        first[0].wait()
    before = read_history(out / "history.csv")
    assert 2 <= len(before) < 5
    second = start_workers(dataset, out, epochs=5, batch_size=2, capture=False)
    assert [process.wait(timeout=300) for process in second] == [0, 0]
    after = read_history(out / "history.csv")
    assert [row["epoch"] for row in after] == [1, 2, 3, 4, 5]
    assert after[: len(before)] == before  # finished epochs were resumed from, not trained again
    assert load_model(out / "model.keras") is not None
