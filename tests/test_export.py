"""Exported models (SavedModel, TFLite float and quantised) agree with the Keras model."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.config import WHOLE_PHOTO_ONLY
from core.predict import Segmenter
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
    expected, batch = keras_masks(Segmenter(model_path), photos)
    served = loaded.signatures["serving_default"](images=tf.constant(batch))
    assert served["trimap"].dtype == tf.uint8
    assert (served["trimap"].numpy() == expected).mean() >= 0.995
    tta = Segmenter(model_path, tta=True).predict_arrays(batch)
    served_tta = loaded.signatures["serving_tta"](images=tf.constant(batch))
    assert np.allclose(served_tta["probabilities"].numpy(), tta, atol=1e-5)
    photo_bytes = tmp_path / "photo.png"
    photos[0].save(photo_bytes)
    assert loaded.signatures["from_bytes_tta"](image_bytes=tf.constant(photo_bytes.read_bytes()))["trimap"].shape == (
        32,
        32,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "agreement"), [("Bombay_10.jpg", 0.999), ("Birman_102.jpg", 0.99)])
def test_savedmodel_from_bytes_matches_the_segmenter_on_a_real_photo(tmp_path, name, agreement):
    """The shipped model on bundled photos. A 128x128 JPEG needs no resizing, so both paths see the
    same pixels (TensorFlow's default JPEG decoder alone flips up to 7% of pixels); a 170x256 one
    is resized by TensorFlow in the graph and by Pillow in the Segmenter. The SavedModel sees the
    whole photo only (the Segmenter's square crops of a wide photo are not in the graph)."""
    import tensorflow as tf

    assert main(["export", "--model", str(SHIPPED_MODEL), "--format", "savedmodel", "--out", str(tmp_path / "sm")]) == 0
    signature = tf.saved_model.load(str(tmp_path / "sm")).signatures["from_bytes"]
    photo = (SAMPLE_PHOTOS / name).read_bytes()
    from_bytes = signature(image_bytes=tf.constant(photo))["trimap"].numpy()
    direct = Segmenter(SHIPPED_MODEL, views=WHOLE_PHOTO_ONLY).segment(photo).trimap
    assert from_bytes.shape == direct.shape == Image.open(SAMPLE_PHOTOS / name).size[::-1]
    assert (from_bytes == direct).mean() >= agreement


@pytest.mark.slow
@pytest.mark.parametrize("quantize", [False, True])
def test_tflite_agrees_with_keras(tmp_path, trained_tiny_run, photos, quantize, capsys):
    import tensorflow as tf

    model_path = trained_tiny_run / "model.keras"
    out = tmp_path / ("q.tflite" if quantize else "f.tflite")
    args = ["export", "--model", str(model_path), "--format", "tflite", "--out", str(out)]
    assert main(args + (["--quantize"] if quantize else [])) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"exported {model_path} as tflite to {out} ({out.stat().st_size / 2**20:.1f} MB)"
    ]
    interpreter = tf.lite.Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    expected, batch = keras_masks(Segmenter(model_path), photos)
    masks = []
    for image in batch:
        interpreter.set_tensor(source["index"], image[None])
        interpreter.invoke()
        masks.append(interpreter.get_tensor(target["index"])[0].argmax(-1) + 1)
    agreement = (np.stack(masks) == expected).mean()
    print(f"tflite quantize={quantize}: agreement {agreement:.4f}, size {out.stat().st_size} bytes")
    assert agreement >= (0.98 if quantize else 0.995)
