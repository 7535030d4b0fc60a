"""Export for serving: a TensorFlow SavedModel with serving signatures, TFLite, OpenVINO IR and ONNX.

SavedModel signatures (load with `tf.saved_model.load` or TensorFlow Serving):
- `serving_default`: `images` float32 [N, S, S, 3], RGB 0..255 already resized to the model's
  input size -> `trimap` uint8 [N, S, S] (1 pet, 2 background, 3 border) and `probabilities`
  float32 [N, S, S, 3].
- `from_bytes`: `image_bytes` string scalar, one encoded JPEG/PNG/GIF/BMP photo -> `trimap`
  uint8 [H, W] at the photo's own size (stretched to S x S for the model, probabilities resized
  back bilinearly, then argmax, as `Segmenter` does; JPEGs decode to Pillow's pixels; EXIF
  orientation is not applied, nor the reduced-size decoding `Segmenter` uses for large JPEGs).
- `serving_tta` and `from_bytes_tta`: the same with flip test-time augmentation (the mean of the
  photo's and its mirror's probabilities; twice the compute, better masks).
TFLite: input float32 [1, S, S, 3] 0..255 -> probabilities [1, S, S, 3]; optionally with
dynamic-range quantised weights (about 4x smaller); run it with LiteRT (`ai_edge_litert`).
OpenVINO: IR (`model.xml` + `model.bin`, float32) with a dynamic batch, images [N, S, S, 3] 0..255
-> probabilities [N, S, S, 3]: what `Segmenter(runtime="openvino")` runs.
ONNX: the same graph as an `.onnx` file (Keras 3's exporter on tf2onnx), for ONNX Runtime and others.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

from core.data.labels import to_trimap
from core.inference.runtime import flip_averaged
from core.model.model_io import load_model

FORMATS = ("savedmodel", "tflite", "openvino", "onnx")
ONNX_INSTALL = "pip install tf2onnx==1.17.0 onnx==1.23.2"


def _serving_module(model):
    import tensorflow as tf

    size = int(model.input_shape[1])
    images_spec = tf.TensorSpec([None, size, size, 3], tf.float32, name="images")
    bytes_spec = tf.TensorSpec([], tf.string, name="image_bytes")

    class PetSegServing(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def probabilities(self, images, tta: bool):
            return flip_averaged(self.model, images) if tta else self.model(images, training=False)

        def from_images(self, images, tta: bool):
            probabilities = self.probabilities(images, tta)
            trimap = tf.cast(to_trimap(tf.argmax(probabilities, axis=-1, output_type=tf.int32)), tf.uint8)
            return {"trimap": trimap, "probabilities": probabilities}

        def from_bytes(self, image_bytes, tta: bool):
            # TensorFlow decodes JPEGs with the fast integer DCT by default, about one grey level
            # off Pillow's; the accurate one gives the Segmenter's pixels exactly.
            image = tf.cond(
                tf.io.is_jpeg(image_bytes),
                lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
                lambda: tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
            )
            height_width = tf.shape(image)[:2]
            resized = tf.image.resize(tf.cast(image, tf.float32)[None], (size, size), method="bilinear", antialias=True)
            full = tf.image.resize(self.probabilities(resized, tta), height_width, method="bilinear")[0]
            return {"trimap": tf.cast(to_trimap(tf.argmax(full, axis=-1, output_type=tf.int32)), tf.uint8)}

        @tf.function(input_signature=[images_spec])
        def serve_images(self, images):
            return self.from_images(images, tta=False)

        @tf.function(input_signature=[images_spec])
        def serve_images_tta(self, images):
            return self.from_images(images, tta=True)

        @tf.function(input_signature=[bytes_spec])
        def serve_bytes(self, image_bytes):
            return self.from_bytes(image_bytes, tta=False)

        @tf.function(input_signature=[bytes_spec])
        def serve_bytes_tta(self, image_bytes):
            return self.from_bytes(image_bytes, tta=True)

    return PetSegServing()


def export_savedmodel(model_path: Path, out: Path) -> Path:
    import tensorflow as tf

    module = _serving_module(load_model(model_path))
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    tf.saved_model.save(
        module,
        str(staging),
        signatures={
            "serving_default": module.serve_images,
            "from_bytes": module.serve_bytes,
            "serving_tta": module.serve_images_tta,
            "from_bytes_tta": module.serve_bytes_tta,
        },
    )
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out


def export_tflite(model_path: Path, out: Path, quantize: bool = False) -> Path:
    import tensorflow as tf

    from core.files import write_bytes

    model = load_model(model_path)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range: int8 weights, float activations
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints its temporary SavedModel's every variable
        converted = converter.convert()
    write_bytes(out, converted)
    return out


def export_openvino(model_path: Path, out: Path) -> Path:
    """The IR folder `out` (model.xml, model.bin, manifest.json), written whole or not at all."""
    from core.inference.runtime import convert_to_openvino, resolve_runtime

    resolve_runtime("openvino")  # names the fix when OpenVINO is not installed
    convert_to_openvino(load_model(model_path), Path(out))
    return Path(out)


def export_onnx(model_path: Path, out: Path) -> Path:
    import importlib.util

    import numpy as np

    from core.errors import PetSegError
    from core.files import atomic_path

    if importlib.util.find_spec("tf2onnx") is None:
        raise PetSegError(f"ONNX export needs tf2onnx and onnx, which are not installed; run `{ONNX_INSTALL}`")
    model = load_model(model_path)
    size = int(model.input_shape[1])
    model(np.zeros((1, size, size, 3), np.float32))  # Keras exports only a model that has been called
    with atomic_path(Path(out)) as temporary, contextlib.redirect_stdout(io.StringIO()):
        model.export(str(temporary), format="onnx", verbose=False)
    return Path(out)
