"""Exported models (SavedModel, TFLite float and quantised) agree with the Keras model."""

import numpy as np
import pytest

from core.cli import main
from core.predict import Segmenter
from tests.helpers import jpeg_bytes, synthetic_pet


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
    big = synthetic_pet(90, 60, seed=3)[0]
    from_bytes = loaded.signatures["from_bytes"](image_bytes=tf.constant(jpeg_bytes(big, quality=95)))["trimap"].numpy()
    direct = Segmenter(model_path).segment(jpeg_bytes(big, quality=95)).trimap
    assert from_bytes.shape == (60, 90) and (from_bytes == direct).mean() >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("quantize", [False, True])
def test_tflite_agrees_with_keras(tmp_path, trained_tiny_run, photos, quantize, capsys):
    import tensorflow as tf

    model_path = trained_tiny_run / "model.keras"
    out = tmp_path / ("q.tflite" if quantize else "f.tflite")
    args = ["export", "--model", str(model_path), "--format", "tflite", "--out", str(out)]
    assert main(args + (["--quantize"] if quantize else [])) == 0
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
