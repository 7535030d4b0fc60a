"""The command line as people meet it: one `error:` line for every expected failure, checked
before any model is loaded, and no TensorFlow start-up noise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.errors import PetSegError
from tests.helpers import synthetic_pet

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_every_expected_failure_derives_from_one_base_class():
    from core.cli import CommandError
    from core.data.dataset import DatasetError
    from core.data.download import DownloadError
    from core.data.imaging import ImageError
    from core.inference.bulk import ShardError
    from core.model.model_io import ModelFileError
    from core.training.distribute import DistributeError
    from core.training.train import ConfigMismatch

    for error in (
        ShardError,
        CommandError,
        DatasetError,
        DistributeError,
        DownloadError,
        ImageError,
        ModelFileError,
        ConfigMismatch,
    ):
        assert issubclass(error, PetSegError), error


def test_an_unknown_format_is_refused_before_the_model_is_loaded(tmp_path, capsys):
    missing_model = tmp_path / "no_such_model.keras"
    assert (
        main(
            [
                "predict",
                str(tmp_path),
                "--model",
                str(missing_model),
                "--out",
                str(tmp_path / "o"),
                "--format",
                "mask,sticker",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err
        == "error: unknown --format sticker; choose from mask, colour, overlay, npy, cutout, alpha (comma separated)\n"
    )


@pytest.mark.parametrize(
    ("tf_config", "message"),
    [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ('["worker"]', "TF_CONFIG must be a JSON object"),
        ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}}', "TF_CONFIG has a cluster but no task"),
        (
            '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}',
            "TF_CONFIG task index 3 is out of range: the cluster has 1 worker task(s), so the index must be 0 to 0",
        ),
        (
            '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}',
            "TF_CONFIG task type 'ps' is not in",
        ),
    ],
)
def test_a_malformed_tf_config_is_one_error_line(tmp_path, monkeypatch, capsys, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert main(["train", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_normal_run_prints_no_tensorflow_log_lines_and_no_carriage_returns(tmp_path, tiny_model_path):
    synthetic_pet(40, 30, seed=1)[0].save(tmp_path / "cat.jpg")
    args = ["predict", str(tmp_path / "cat.jpg"), "--model", str(tiny_model_path), "--out", str(tmp_path / "out")]
    quiet = run_cli(*args, env={"TF_CPP_MIN_LOG_LEVEL": ""})
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and "\r" not in quiet.stdout
    assert quiet.stdout.startswith("1 segmented, 0 already done")
    verbose = run_cli(*args, "--overwrite", "--verbose", env={"TF_CPP_MIN_LOG_LEVEL": ""})
    assert verbose.returncode == 0 and ("oneDNN" in verbose.stderr or "cuda" in verbose.stderr.lower())


@pytest.mark.slow
def test_real_errors_still_reach_the_terminal(tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip")
    completed = run_cli("predict", str(tmp_path), "--model", str(bad), "--out", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: ") and "broken.keras" in completed.stderr


def test_tf_config_check_passes_a_good_config(monkeypatch):
    from core.training.distribute import cluster_config

    config = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert cluster_config() == config
    monkeypatch.setenv("TF_CONFIG", "")
    assert cluster_config() == {}
