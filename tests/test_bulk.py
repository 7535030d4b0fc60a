"""Bulk prediction: streaming over a folder tree, resume, formats, bounded memory."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.inference.bulk import Shard, ShardError, predict_tree
from core.inference.outputs import output_stems
from core.inference.predict import Segmenter
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
    # probabilities at the model's scale: short side 32, long side in proportion (core.inference.views)
    assert np.load(out / "part000" / "img00000_probs.npy").shape == (32, 43, 3)
    assert not list(out.rglob("*_overlay.png")) and not (out / ".hidden").exists()
    again = predict_tree(segmenter, [source], out, log, formats=("mask", "npy"), batch_size=4)
    assert (again.written, again.skipped_existing) == (0, 7)  # resumed: nothing redone
    redo = predict_tree(segmenter, [source], out, log, formats=("mask", "npy"), overwrite=True, batch_size=4)
    assert redo.written == 7
    log.seek(0)
    assert "broken.jpg: not an image" in log.read()


REPORT_OWN_PEAK = """
import resource, runpy, sys
sys.argv = ["core", *sys.argv[1:]]
try:
    runpy.run_module("core", run_name="__main__")
finally:
    print("peak-kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def peak_rss_mb_of_cli(args: list[str]) -> tuple[float, str]:
    """The CLI's own peak resident memory, reported by the process itself: RUSAGE_CHILDREN in this
    process would give the largest of all children so far, not this one's."""
    completed = subprocess.run(
        [sys.executable, "-c", REPORT_OWN_PEAK, "predict", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    peak_kb = int(re.search(r"^peak-kb (\d+)$", completed.stderr, re.MULTILINE).group(1))
    return peak_kb / 1024, completed.stdout


@pytest.mark.slow
def test_two_thousand_files_stream_in_bounded_memory(tmp_path, tiny_model_path):
    small, large = tmp_path / "small", tmp_path / "large"
    write_tree(small, 200)
    write_tree(large, 2000)
    peak_small, _ = peak_rss_mb_of_cli(
        [str(small), "--model", str(tiny_model_path), "--out", str(tmp_path / "o1"), "--format", "mask"]
    )
    peak_large, printed = peak_rss_mb_of_cli(
        [str(large), "--model", str(tiny_model_path), "--out", str(tmp_path / "o2"), "--format", "mask"]
    )
    print(
        f"peak resident memory: {peak_small:.0f} MB for 200 files, {peak_large:.0f} MB for 2000 files; "
        f"{printed.strip()}"
    )
    assert "2000 segmented" in printed
    assert len(list((tmp_path / "o2").rglob("*_mask.png"))) == 2000
    assert peak_large - peak_small < 60  # ten times the files, (almost) the same memory


def run_predict(segmenter: Segmenter, paths: list[Path], out: Path, tmp_path: Path, **options):
    with open(tmp_path / "predict.log", "a+") as log:
        return predict_tree(segmenter, paths, out, log, **options)


def test_output_stems_keep_extensions_only_where_stems_clash():
    assert output_stems(["cat.jpg", "dog.jpg"]) == ["cat", "dog"]
    assert output_stems(["cat.jpg", "cat.png", "dog.jpg"]) == ["cat.jpg", "cat.png", "dog"]
    assert output_stems(["cat.jpg", "cat.png", "cat.jpg.png"]) == ["cat.jpg", "cat.png", "cat.jpg.png"]
    assert output_stems(["x.jpg", "x.jpg", "x.jpg"]) == ["x.jpg", "x.jpg (2)", "x.jpg (3)"]  # uploads may repeat a name
    names = ["a.jpg", "a.png", "b.gif", "a.jpg.png", "b.jpg.png", "b.jpg", "c.tif"]
    assert len(set(output_stems(names))) == len(names)
    assert output_stems(names[::-1]) == output_stems(names)[::-1]  # a rule on the set of names, not their order


def test_same_stem_photos_each_get_their_own_outputs_and_a_rerun_redoes_none(tmp_path, tiny_model_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    synthetic_pet(60, 40, seed=1)[0].save(photos / "cat.jpg")
    synthetic_pet(30, 50, seed=2)[0].save(photos / "cat.png")
    synthetic_pet(40, 40, seed=3)[0].save(photos / "dog.jpg")
    segmenter = Segmenter(tiny_model_path)
    summary = run_predict(segmenter, [photos], out, tmp_path)
    assert summary.written == 3
    assert sorted(path.name for path in out.iterdir()) == [
        "cat.jpg_mask.png",
        "cat.jpg_overlay.png",
        "cat.png_mask.png",
        "cat.png_overlay.png",
        "dog_mask.png",
        "dog_overlay.png",
    ]
    assert Image.open(out / "cat.jpg_mask.png").size == (60, 40) and Image.open(out / "cat.png_mask.png").size == (
        30,
        50,
    )
    again = run_predict(segmenter, [photos], out, tmp_path)
    assert (again.written, again.skipped_existing) == (0, 3)


def test_same_name_files_from_two_folders_never_share_outputs(tmp_path, tiny_model_path):
    for folder, seed in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        synthetic_pet(40, 30 + seed, seed=seed)[0].save(tmp_path / folder / "cat.jpg")
    segmenter, a, b = Segmenter(tiny_model_path), tmp_path / "a", tmp_path / "b"
    named = run_predict(segmenter, [a / "cat.jpg", b / "cat.jpg"], tmp_path / "named", tmp_path, formats=("mask",))
    assert named.written == 2  # files given by name share `--out`: the second is numbered
    assert Image.open(tmp_path / "named" / "cat.jpg_mask.png").size == (40, 31)
    assert Image.open(tmp_path / "named" / "cat.jpg (2)_mask.png").size == (40, 32)
    mixed = run_predict(segmenter, [a, b / "cat.jpg"], tmp_path / "mixed", tmp_path, formats=("mask",))
    assert mixed.written == 1 and mixed.failed == [str(a / "cat.jpg")]  # refused and listed, not overwritten
    assert Image.open(tmp_path / "mixed" / "cat_mask.png").size == (40, 32)
    assert "its outputs would overwrite those of" in (tmp_path / "predict.log").read_text()


def test_an_output_folder_inside_the_input_tree_is_never_read_as_input(tmp_path, tiny_model_path):
    photos = tmp_path / "photos"
    write_tree(photos, 4, per_folder=2)
    out = photos / "masks"
    segmenter = Segmenter(tiny_model_path)
    assert run_predict(segmenter, [photos], out, tmp_path).written == 4
    before = sorted(out.rglob("*"))
    again = run_predict(segmenter, [photos], out, tmp_path)
    assert (again.written, again.skipped_existing, again.failed) == (0, 4, [])
    assert sorted(out.rglob("*")) == before and not (out / "masks").exists()


def test_shards_split_the_inputs_disjointly_and_deterministically(tmp_path, tiny_model_path):
    photos = tmp_path / "photos"
    write_tree(photos, 12, per_folder=5)
    segmenter = Segmenter(tiny_model_path)
    outputs = []
    for index in range(3):
        out = tmp_path / f"out{index}"
        run_predict(segmenter, [photos], out, tmp_path, formats=("mask",), shard=Shard(index, 3))
        outputs.append({path.relative_to(out) for path in out.rglob("*_mask.png")})
    assert sum(len(part) for part in outputs) == 12 and len(set().union(*outputs)) == 12
    assert all(outputs)  # each machine gets a share
    again = tmp_path / "again"
    run_predict(segmenter, [photos], again, tmp_path, formats=("mask",), shard=Shard(1, 3))
    assert {path.relative_to(again) for path in again.rglob("*_mask.png")} == outputs[1]


@pytest.mark.parametrize("text", ["1", "2/2", "-1/3", "a/b", "1/0"])
def test_bad_shard_values_are_explained(text):
    with pytest.raises(ShardError, match="--shard"):
        Shard.parse(text)


@pytest.mark.slow
def test_a_bulk_run_killed_mid_way_then_rerun_completes_every_input_once(tmp_path, tiny_model_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    write_tree(photos, 120, per_folder=40)
    command = [
        sys.executable,
        "-m",
        "core",
        "predict",
        str(photos),
        "--model",
        str(tiny_model_path),
        "--out",
        str(out),
        "--format",
        "mask,overlay,npy",
        "--batch-size",
        "4",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.rglob("*_probs.npy"))) < 30:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(out.rglob("*_probs.npy")))
    assert 30 <= finished < 120, "the run should have been killed mid-way"
    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    done = int(re.search(r"(\d+) already done", rerun.stdout).group(1))
    written = int(re.search(r"(\d+) segmented", rerun.stdout).group(1))
    assert done + written == 120 and done >= finished - 1  # at most the input being written when killed runs again
    for photo in photos.rglob("*.jpg"):
        folder = out / photo.parent.relative_to(photos)
        assert_trimap(np.asarray(Image.open(folder / f"{photo.stem}_mask.png")), (40, 30))
        assert Image.open(folder / f"{photo.stem}_overlay.png").size == (40, 30)
        assert np.load(folder / f"{photo.stem}_probs.npy").shape == (32, 43, 3)
    assert not [path for path in out.rglob(".*")]  # no temporary file is left behind


def test_the_zip_of_same_stem_photos_holds_every_output(tiny_model_path):
    import io
    import zipfile

    from core.inference.outputs import zip_outputs

    segmenter = Segmenter(tiny_model_path)
    names = ["x.jpg", "x.png", "y.jpg"]
    results = {
        stem: segmenter.segment(synthetic_pet(30, 20, seed=index)[0]) for index, stem in enumerate(output_stems(names))
    }
    archive = zipfile.ZipFile(io.BytesIO(zip_outputs(results, model_note="Made by petseg")))
    assert archive.read("MODEL.txt") == b"Made by petseg\n"
    assert sorted(set(archive.namelist()) - {"MODEL.txt"}) == [
        "x.jpg_mask.png",
        "x.jpg_overlay.png",
        "x.png_mask.png",
        "x.png_overlay.png",
        "y_mask.png",
        "y_overlay.png",
    ]
