"""A writer killed mid-write never leaves a half-written model, history or metrics file."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.files import write_bytes, write_json
from core.serving.catalog import list_models

ROOT = Path(__file__).resolve().parents[1]

SLOW_WRITER = """
import sys, time
from pathlib import Path
from core.files import atomic_path
target = Path(sys.argv[1])
with atomic_path(target) as temporary:
    with open(temporary, "wb") as handle:
        handle.write(b"NEW" * 1000)
        handle.flush()
        print("half written", flush=True)
        time.sleep(60)
        handle.write(b"END")
"""


@pytest.mark.parametrize("name", ["petseg.keras", "history.csv", "petseg.metrics.json"])
def test_sigkill_during_write_keeps_the_old_file(tmp_path, name):
    target = tmp_path / name
    target.write_bytes(b"OLD complete file")
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout.readline().strip() == b"half written"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert target.read_bytes() == b"OLD complete file"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != name]
    assert leftovers and all(p.startswith(".") for p in leftovers)  # the temp file is hidden...
    assert [entry.path.name for entry in list_models(tmp_path)] == (["petseg.keras"] if name.endswith(".keras") else [])


def test_completed_writes_replace_the_file(tmp_path):
    write_bytes(tmp_path / "a.bin", b"first")
    write_bytes(tmp_path / "a.bin", b"second")
    write_json(tmp_path / "m.json", {"dice": 0.9})
    assert (tmp_path / "a.bin").read_bytes() == b"second" and '"dice": 0.9' in (tmp_path / "m.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "m.json"]
    assert oct((tmp_path / "a.bin").stat().st_mode & 0o777) == "0o644"
