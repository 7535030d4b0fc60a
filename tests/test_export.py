"""Exported models (SavedModel, TFLite float and quantised, OpenVINO IR, ONNX) agree with the Keras model."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.config import WHOLE_PHOTO_ONLY
from core.inference.predict import Segmenter
from tests.helpers import synthetic_pet

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = ROOT / "models" / "petseg.keras"
SAMPLE_PHOTOS = ROOT / "samples" / "pets" / "images"


@pytest.fixture(scope="module")
def photos():
    return [synthetic_pet(32, 32, seed=i)[0] for i in range(6)]


def keras_masks(segmenter, photos):
    batch = np.stack([np.asarray(photo, np.float32) for photo in photos])
    return segmenter.predict_arrays(batch).argmax(-1) + 1, batch


@pytest.mark.slow
def test_savedmodel_signatures_agree_with_keras(tmp_path, trained_tiny_run, photos):
    import tensorflow as tf

    model_path = trained_tiny_run / "model.keras"
    assert main(["export", "--model", str(model_path), "--format", "savedmodel", "--out", str(tmp_path / "sm")]) == 0
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    expected, batch = keras_masks(Segmenter(model_path, runtime="keras"), photos)
    served = loaded.signatures["serving_default"](images=tf.constant(batch))
    assert served["trimap"].dtype == tf.uint8
    assert (served["trimap"].numpy() == expected).mean() >= 0.995
    tta = Segmenter(model_path, tta=True, runtime="keras").predict_arrays(batch)
    served_tta = loaded.signatures["serving_tta"](images=tf.constant(batch))
    assert np.allclose(served_tta["probabilities"].numpy(), tta, atol=1e-5)
    photo_bytes = tmp_path / "photo.png"
    photos[0].save(photo_bytes)
    assert loaded.signatures["from_bytes_tta"](image_bytes=tf.constant(photo_bytes.read_bytes()))["trimap"].shape == (
        32,
        32,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "agreement"), [("Bombay_10.jpg", 0.995), ("Birman_102.jpg", 0.99)])
def test_savedmodel_from_bytes_matches_the_segmenter_on_a_real_photo(tmp_path, name, agreement):
    """The shipped model on bundled photos, each resized to its 192 px input by TensorFlow in the
    graph and by Pillow in the Segmenter (a 128x128 JPEG agrees on at least 99.5% of its pixels, a
    170x256 one on 99%; TensorFlow's default JPEG decoder alone flips up to 7% of pixels). The SavedModel sees the
    whole photo only (the Segmenter's square crops of a wide photo are not in the graph)."""
    import tensorflow as tf

    assert main(["export", "--model", str(SHIPPED_MODEL), "--format", "savedmodel", "--out", str(tmp_path / "sm")]) == 0
    signature = tf.saved_model.load(str(tmp_path / "sm")).signatures["from_bytes"]
    photo = (SAMPLE_PHOTOS / name).read_bytes()
    from_bytes = signature(image_bytes=tf.constant(photo))["trimap"].numpy()
    direct = Segmenter(SHIPPED_MODEL, views=WHOLE_PHOTO_ONLY, runtime="keras").segment(photo).trimap  # the .keras file
    assert from_bytes.shape == direct.shape == Image.open(SAMPLE_PHOTOS / name).size[::-1]
    assert (from_bytes == direct).mean() >= agreement


@pytest.mark.slow
@pytest.mark.parametrize("quantize", [False, True])
def test_tflite_agrees_with_keras(tmp_path, trained_tiny_run, photos, quantize, capsys):
    from ai_edge_litert.interpreter import Interpreter

    model_path = trained_tiny_run / "model.keras"
    out = tmp_path / ("q.tflite" if quantize else "f.tflite")
    args = ["export", "--model", str(model_path), "--format", "tflite", "--out", str(out)]
    assert main(args + (["--quantize"] if quantize else [])) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"exported {model_path} as tflite to {out} ({out.stat().st_size / 2**20:.1f} MB)"
    ]
    interpreter = Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    expected, batch = keras_masks(Segmenter(model_path, runtime="keras"), photos)
    masks = []
    for image in batch:
        interpreter.set_tensor(source["index"], image[None])
        interpreter.invoke()
        masks.append(interpreter.get_tensor(target["index"])[0].argmax(-1) + 1)
    agreement = (np.stack(masks) == expected).mean()
    print(f"tflite quantize={quantize}: agreement {agreement:.4f}, size {out.stat().st_size} bytes")
    assert agreement >= (0.98 if quantize else 0.995)


@pytest.mark.slow
def test_openvino_and_onnx_exports_answer_as_keras_does(tmp_path, trained_tiny_run, photos, capsys):
    """Both files run on OpenVINO (which reads ONNX too): probabilities within 1e-5 of Keras, any batch."""
    import openvino as ov

    model_path = trained_tiny_run / "model.keras"
    _, batch = keras_masks(Segmenter(model_path, runtime="keras"), photos)
    expected = Segmenter(model_path, runtime="keras").predict_arrays(batch)
    outputs = {"openvino": tmp_path / "ir", "onnx": tmp_path / "model.onnx"}
    for name, out in outputs.items():
        assert main(["export", "--model", str(model_path), "--format", name, "--out", str(out)]) == 0
        assert f"as {name} to {out}" in capsys.readouterr().out
    assert sorted(p.name for p in outputs["openvino"].iterdir()) == ["manifest.json", "model.bin", "model.xml"]
    assert not list(tmp_path.glob(".*"))  # no temporary left beside them
    core = ov.Core()
    for source in (outputs["openvino"] / "model.xml", outputs["onnx"]):
        compiled = core.compile_model(str(source), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        np.testing.assert_allclose(compiled(batch)[0], expected, atol=1e-5)
        np.testing.assert_allclose(compiled(batch[:1])[0], expected[:1], atol=1e-5)


def test_onnx_export_without_tf2onnx_names_the_packages(tmp_path, tiny_model_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    args = ["export", "--model", str(tiny_model_path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]
    assert main(args) == 2
    assert "pip install tf2onnx==1.17.0 onnx==1.23.2" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
