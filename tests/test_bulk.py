"""Bulk prediction: streaming over a folder tree, resume, formats, bounded memory."""

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.bulk import predict_tree
from core.predict import Segmenter
from tests.helpers import assert_trimap, synthetic_pet

ROOT = Path(__file__).resolve().parents[1]


def write_tree(root: Path, count: int, per_folder: int = 100) -> None:
    photo = synthetic_pet(40, 30, seed=0)[0]
    for index in range(count):
        folder = root / f"part{index // per_folder:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        photo.save(folder / f"img{index:05d}.jpg", quality=80)


def test_tree_is_mirrored_resumed_and_formats_written(tmp_path, tiny_model_path):
    source, out = tmp_path / "in", tmp_path / "out"
    write_tree(source, 7, per_folder=3)
    (source / "part001" / "broken.jpg").write_text("nope")
    (source / ".hidden").mkdir()
    synthetic_pet(20, 20, seed=1)[0].save(source / ".hidden" / "skip.jpg")
    segmenter = Segmenter(tiny_model_path)
    log = open(tmp_path / "log.txt", "w+")
    summary = predict_tree(segmenter, [source], out, log, formats=("mask", "npy"), batch_size=4)
    assert (summary.written, summary.skipped_existing, len(summary.failed)) == (7, 0, 1)
    assert_trimap(np.asarray(Image.open(out / "part002" / "img00006_mask.png")), (40, 30))
    assert np.load(out / "part000" / "img00000_probs.npy").shape == (32, 32, 3)
    assert not list(out.rglob("*_overlay.png")) and not (out / ".hidden").exists()
    again = predict_tree(segmenter, [source], out, log, formats=("mask", "npy"), batch_size=4)
    assert (again.written, again.skipped_existing) == (0, 7)  # resumed: nothing redone
    redo = predict_tree(segmenter, [source], out, log, formats=("mask", "npy"), overwrite=True, batch_size=4)
    assert redo.written == 7
    log.seek(0)
    assert "broken.jpg: not an image" in log.read()


def peak_rss_mb_of_cli(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    completed = subprocess.run([sys.executable, "-m", "core", "predict", *args], cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.returncode == 0, completed.stderr[-2000:]
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert after >= before
    return after / 1024, completed.stdout


@pytest.mark.slow
def test_two_thousand_files_stream_in_bounded_memory(tmp_path, tiny_model_path):
    small, large = tmp_path / "small", tmp_path / "large"
    write_tree(small, 200)
    write_tree(large, 2000)
    peak_small, _ = peak_rss_mb_of_cli([str(small), "--model", str(tiny_model_path), "--out", str(tmp_path / "o1"), "--format", "mask"])
    peak_large, printed = peak_rss_mb_of_cli([str(large), "--model", str(tiny_model_path), "--out", str(tmp_path / "o2"), "--format", "mask"])
    print(f"peak resident memory: {peak_small:.0f} MB for 200 files, {peak_large:.0f} MB for 2000 files; {printed.strip()}")
    assert "2000 segmented" in printed
    assert len(list((tmp_path / "o2").rglob("*_mask.png"))) == 2000
    assert peak_large - peak_small < 60  # ten times the files, (almost) the same memory
