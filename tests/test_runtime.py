"""The runtimes (`core.inference.runtime`): OpenVINO answers as Keras does, its converted model is
cached by the model file's hash, and a stale or damaged cache entry is rebuilt, never used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.config import RuntimeConfig
from core.inference import runtime
from core.inference.predict import Segmenter
from core.model.model_io import ModelFileError
from tests.helpers import real_pet, synthetic_pet, write_dataset, write_official_lists

pytest.importorskip("openvino")


@pytest.fixture
def model_copy(tmp_path, tiny_model_path, monkeypatch) -> Path:
    """The tiny model in a folder of its own, with a cache of the test's own."""
    monkeypatch.setenv("PETSEG_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "models" / "tiny.keras"
    path.parent.mkdir()
    shutil.copy(tiny_model_path, path)
    return path


def entries(model_path: Path) -> list[Path]:
    return sorted((model_path.parent.parent / "cache" / "openvino").glob(f"{model_path.stem}-*"))


def batch(size: int = 32, count: int = 4) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (count, size, size, 3)).astype(np.float32)


def test_openvino_answers_as_keras_does_with_and_without_tta(model_copy):
    keras_side = Segmenter(model_copy, runtime="keras")
    openvino_side = Segmenter(model_copy, runtime="openvino")
    assert (keras_side.runtime, openvino_side.runtime) == ("keras", "openvino")
    assert openvino_side.input_size == keras_side.input_size == 32
    assert openvino_side.network.model_name == "petseg_tiny"
    assert openvino_side.network.parameters == keras_side.network.parameters
    images = batch()
    np.testing.assert_allclose(openvino_side.predict_arrays(images), keras_side.predict_arrays(images), atol=1e-5)
    with_tta = openvino_side.with_options(tta=True)
    assert with_tta.network is openvino_side.network  # shared, not converted again
    np.testing.assert_allclose(
        with_tta.predict_arrays(images), keras_side.with_options(tta=True).predict_arrays(images), atol=1e-5
    )
    assert not np.allclose(with_tta.predict_arrays(images), openvino_side.predict_arrays(images), atol=1e-5)
    photo, _ = synthetic_pet(90, 60, seed=3)
    np.testing.assert_array_equal(openvino_side.segment(photo).trimap, keras_side.segment(photo).trimap)


def test_the_converted_model_is_cached_by_content_and_a_changed_model_replaces_it(model_copy, monkeypatch):
    Segmenter(model_copy, runtime="openvino")
    (first,) = entries(model_copy)
    assert sorted(p.name for p in first.iterdir()) == ["manifest.json", "model.bin", "model.xml"]
    with monkeypatch.context() as patched:
        patched.setattr(runtime, "convert_to_openvino", lambda *a: pytest.fail("converted again"))
        Segmenter(model_copy, runtime="openvino")  # the cache serves it

    from core.config import model_config
    from core.model.unet import build_unet

    build_unet(model_config("tiny", base_filters=4), name="petseg_tiny").save(model_copy)  # a new model, same name
    changed = Segmenter(model_copy, runtime="openvino")
    assert len(entries(model_copy)) == 2 and first in entries(model_copy)  # the old content keeps its entry
    assert changed.network.parameters == Segmenter(model_copy, runtime="keras").network.parameters
    assert changed.network.source.parent != first


def test_the_cache_keeps_the_most_recently_used_entries(model_copy, monkeypatch):
    monkeypatch.setattr(runtime, "CACHE_ENTRIES", 1)
    copy = model_copy.with_name("other.keras")
    from core.config import model_config
    from core.model.unet import build_unet

    build_unet(model_config("tiny", base_filters=4), name="petseg_tiny").save(copy)
    Segmenter(model_copy, runtime="openvino")
    Segmenter(copy, runtime="openvino")
    folder = model_copy.parent.parent / "cache" / "openvino"
    assert [entry.name.split("-")[0] for entry in folder.iterdir()] == ["other"]


@pytest.mark.parametrize(
    "damage",
    ["truncated weights", "garbage manifest", "missing xml", "half-written folder"],
)
def test_a_damaged_cache_entry_is_rebuilt_not_used(model_copy, damage):
    reference = Segmenter(model_copy, runtime="keras").predict_arrays(batch())
    Segmenter(model_copy, runtime="openvino")
    (entry,) = entries(model_copy)
    if damage == "truncated weights":
        weights = (entry / "model.bin").read_bytes()
        (entry / "model.bin").write_bytes(weights[: len(weights) // 2])
    elif damage == "garbage manifest":
        (entry / "manifest.json").write_text("{not json")
    elif damage == "missing xml":
        (entry / "model.xml").unlink()
    else:  # a conversion killed before its rename leaves a hidden temporary folder, and no entry
        shutil.move(entry, entry.parent / f".{entry.name}.killed")
    rebuilt = Segmenter(model_copy, runtime="openvino")
    np.testing.assert_allclose(rebuilt.predict_arrays(batch()), reference, atol=1e-5)
    assert json.loads((entry / "manifest.json").read_text())["format"] == runtime.CACHE_FORMAT


def test_a_missing_or_damaged_model_file_says_so_on_openvino(tmp_path, monkeypatch):
    monkeypatch.setenv("PETSEG_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelFileError, match="not found"):
        Segmenter(tmp_path / "none.keras", runtime="openvino")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelFileError, match="not a Keras model file|damaged"):
        Segmenter(broken, runtime="openvino")
    assert not list((tmp_path / "cache").glob("openvino/*"))


def test_without_openvino_auto_falls_back_to_keras_and_openvino_names_the_fix(model_copy, monkeypatch):
    monkeypatch.setattr(runtime, "openvino_installed", lambda: False)
    assert Segmenter(model_copy).runtime == "keras"
    with pytest.raises(runtime.RuntimeUnavailable, match="pip install -r requirements.txt.*--runtime keras"):
        Segmenter(model_copy, runtime="openvino")
    with pytest.raises(ValueError, match="runtime must be one of auto, openvino, keras"):
        RuntimeConfig("tflite")


def test_predict_writes_the_same_mask_on_both_runtimes(tmp_path, model_copy, capsys):
    real_pet(120, 80).save(tmp_path / "pet.jpg")
    masks = {}
    for name in ("keras", "openvino"):
        out = tmp_path / name
        args = ["predict", str(tmp_path / "pet.jpg"), "--model", str(model_copy), "--out", str(out)]
        assert main([*args, "--runtime", name, "--format", "mask"]) == 0
        assert f"images/s on {name} (f32)" in capsys.readouterr().out
        masks[name] = np.asarray(Image.open(out / "pet_mask.png"))
    np.testing.assert_array_equal(masks["keras"], masks["openvino"])


@pytest.fixture
def quantized(model_copy, tiny_dataset, capsys) -> Path:
    """The tiny model's int8 folder, made through the CLI on the tiny dataset's training pairs."""
    pytest.importorskip("nncf")
    assert main(["quantize", "--model", str(model_copy), "--data-dir", str(tiny_dataset)]) == 0
    assert "int8 model of" in capsys.readouterr().out
    return model_copy.with_name("tiny.int8")


def first_convolutions(model_path: Path, count: int) -> list[str]:
    """The first convolutions' names in the f32 conversion of `model_path`, in graph order."""
    import openvino as ov

    source = runtime.load_openvino(model_path, RuntimeConfig("openvino", precision="f32")).source
    kinds = ("Convolution", "GroupConvolution")
    ops = ov.Core().read_model(str(source)).get_ordered_ops()
    return [op.get_friendly_name() for op in ops if op.get_type_name() in kinds][:count]


def int8_weights(xml: Path) -> dict[str, bool]:
    """For each convolution of an IR, whether its weights are stored in int8 (decompressed by a
    Convert and a Multiply) rather than as a float constant."""
    import openvino as ov

    ops = ov.Core().read_model(str(xml)).get_ordered_ops()
    return {
        op.get_friendly_name(): op.input_value(1).get_node().get_type_name() != "Constant"
        for op in ops
        if op.get_type_name() in ("Convolution", "GroupConvolution")
    }


@pytest.fixture
def vnni_cpu(monkeypatch):
    """A CPU with an int8 dot-product instruction, where `auto` runs a sound int8 model."""
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "avx512_vnni"})


def test_an_int8_model_beside_the_file_is_used_and_answers_close_to_f32(model_copy, quantized, vnni_cpu):
    manifest = json.loads((quantized / "manifest.json").read_text())
    assert manifest["precision"] == "int8" and manifest["source_sha256"] == runtime.file_sha256(model_copy)
    assert "training pairs" in manifest["calibration"]
    assert manifest["float32_layers"] == first_convolutions(model_copy, 2)
    stored = int8_weights(quantized / "model.xml")
    assert [stored[name] for name in first_convolutions(model_copy, 3)] == [False, False, True]
    assert sum(stored.values()) == len(stored) - 2  # every other convolution runs in int8
    int8 = Segmenter(model_copy, runtime="openvino")
    f32 = Segmenter(model_copy, runtime=RuntimeConfig("openvino", precision="f32"))
    assert (int8.network.precision, f32.network.precision) == ("int8", "f32")
    assert int8.network.source == quantized / "model.xml"
    images = batch()
    assert np.abs(int8.predict_arrays(images) - f32.predict_arrays(images)).mean() < 0.05
    assert Segmenter(model_copy, runtime="keras").network.precision == "f32"  # Keras ignores it


def test_auto_runs_f32_on_a_cpu_whose_int8_loses_quality(model_copy, quantized, monkeypatch):
    """AVX2 alone (no VNNI or AMX): the shipped int8 model lost 0.008 cut-out IoU there, so `auto`
    runs f32; int8 stays available when asked for by name."""
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"sse4_2", "avx2", "fma"})
    assert not runtime.int8_keeps_quality()
    assert Segmenter(model_copy).network.precision == "f32"
    assert Segmenter(model_copy, runtime=RuntimeConfig("openvino", precision="int8")).network.precision == "int8"
    for flags in ({"avx2", "avx_vnni"}, {"avx512f", "avx512_vnni"}, {"amx_int8"}):
        assert runtime.int8_keeps_quality(flags)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: None)  # flags unreadable (not Linux): trust int8
    assert runtime.int8_keeps_quality()


def test_a_stale_or_damaged_int8_model_is_never_used(model_copy, quantized, vnni_cpu):
    weights = (quantized / "model.bin").read_bytes()
    (quantized / "model.bin").write_bytes(weights[:-16])
    with pytest.warns(UserWarning, match="is damaged.*running tiny.keras in float32.*python -m core quantize"):
        assert Segmenter(model_copy).network.precision == "f32"
    with pytest.raises(runtime.RuntimeUnavailable, match="int8 model .* damaged.*--precision f32"):
        Segmenter(model_copy, runtime=RuntimeConfig("openvino", precision="int8"))
    (quantized / "model.bin").write_bytes(weights)
    assert Segmenter(model_copy).network.precision == "int8"  # whole again
    from core.config import model_config
    from core.model.unet import build_unet

    build_unet(model_config("tiny"), name="petseg_tiny").save(model_copy)  # retrained: another file
    with pytest.warns(UserWarning, match="made from another model file"):
        assert Segmenter(model_copy).network.precision == "f32"


def test_int8_calibration_reads_only_the_training_pairs_of_the_models_split(tmp_path, monkeypatch):
    """A model trained on the official trainval list is calibrated on it (`quantize --split
    official`): no photo of the test list it will be scored on reaches the int8 statistics."""
    from core.data import dataset
    from core.inference.quantize import calibration_images

    root = write_dataset(tmp_path / "pets", count=12)
    stems = sorted(p.stem for p in (root / "images").iterdir())
    write_official_lists(root, stems[:8], stems[8:])
    read: list[str] = []
    load_arrays = dataset.load_arrays
    monkeypatch.setattr(
        dataset,
        "load_arrays",
        lambda pairs, *a, **k: (read.extend(p.stem for p in pairs), load_arrays(pairs, *a, **k))[1],
    )
    pairs, _ = dataset.find_pairs(root)
    calibrated: dict[str, list[str]] = {}
    for split in ("official", "reference"):
        read.clear()
        images = calibration_images(root, 32, split=split)
        train, _ = dataset.split_pairs(root, pairs, split, dataset.SkipReport())
        assert read == [p.stem for p in train] and images.shape == (len(train), 32, 32, 3)
        calibrated[split] = list(read)
    assert calibrated["official"] and not set(calibrated["official"]) & set(stems[8:])
    assert set(calibrated["reference"]) & set(stems[8:])  # what the reference split would have read


def test_int8_asked_for_without_a_model_or_nncf_names_the_fix(model_copy, tiny_dataset, monkeypatch, capsys):
    with pytest.raises(runtime.RuntimeUnavailable, match="tiny.int8 is missing; make it .*python -m core quantize"):
        Segmenter(model_copy, runtime=RuntimeConfig("openvino", precision="int8"))
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nncf" else real(name, *a))
    assert main(["quantize", "--model", str(model_copy), "--data-dir", str(tiny_dataset)]) == 2
    assert "pip install -r requirements-train.txt" in capsys.readouterr().err
    assert not model_copy.with_name("tiny.int8").exists()
