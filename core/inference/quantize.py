"""int8 models: NNCF post-training quantization of a model's OpenVINO IR, calibrated on training images.

`python -m core quantize --model models/petseg.keras --data-dir DATA` writes `models/petseg.int8/`
(model.xml, model.bin, manifest.json) beside the model. The manifest names the SHA-256 of the
`.keras` file it was made from: `core.inference.runtime` uses the int8 model only for that exact
file (a retrained or replaced model falls back to float32 and says so). Calibration uses the first
training pairs of the split the model was trained on (`--split official` for a model trained on
the official trainval list, so that no test photo is seen), never a validation pair. Only this
step needs NNCF and the dataset; running the int8 model needs OpenVINO alone. A model ships its int8 folder only where
`bench/runtime.py --quality` measured that it keeps the masks (bench/RESULTS.md).

The two convolutions nearest the photo stay float32 (on the EfficientNet encoders, the stem and
the first block's depthwise convolution, both at half the input's resolution). NNCF's accuracy
control, ranking layers on training photos, reverted those two among the first nine of 93 on the
Lite2 default; kept in float32 alone, they win back what int8 lost at the photo's size (`fast`
cut-out IoU 0.9731 -> 0.9780, f32 0.9784) and run 5% slower than an int8 of every convolution
(bench/RESULTS.md).
A 3x3 kernel over three colour channels has few weights to share each output channel's int8
scale, and every later layer inherits its error.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from core.config import RuntimeConfig, TrainSplit
from core.errors import PetSegError
from core.files import write_json
from core.inference.runtime import CACHE_FORMAT, IR_FILES, MANIFEST, file_sha256, int8_folder, load_openvino

CALIBRATION_PAIRS = 300
NNCF_INSTALL = "pip install -r requirements-train.txt"


def calibration_images(
    data_dir: Path, size: int, count: int = CALIBRATION_PAIRS, split: TrainSplit = "reference"
) -> np.ndarray:
    """The first `count` training pairs of `split` at the model's input size, float32."""
    from core.data import dataset

    pairs, report = dataset.find_pairs(data_dir)
    train, _ = dataset.split_pairs(Path(data_dir), pairs, split, report)
    arrays, _ = dataset.load_arrays(train[:count], size)
    if not len(arrays):
        raise dataset.DatasetError(f"no usable training pair in {data_dir} to calibrate the int8 model on")
    return arrays.images.astype(np.float32)


FLOAT32_CONVOLUTIONS = 2
"""How many convolutions, counted from the photo, stay float32 in an int8 model."""
CONVOLUTIONS = ("Convolution", "GroupConvolution")


def convolutions_nearest_the_photo(ir, count: int = FLOAT32_CONVOLUTIONS) -> list[str]:
    """The names of the first `count` convolutions (plain or depthwise) in the OpenVINO model's graph."""
    names = [op.get_friendly_name() for op in ir.get_ordered_ops() if op.get_type_name() in CONVOLUTIONS]
    if len(names) < count:
        raise PetSegError(f"the model has {len(names)} convolutions, fewer than {count}: it is not a PetSeg U-Net")
    return names[:count]


def quantize(
    model_path: Path,
    data_dir: Path,
    out: Path | None = None,
    count: int = CALIBRATION_PAIRS,
    split: TrainSplit = "reference",
) -> Path:
    """Quantize `model_path` to int8 (weights and activations, but for the two convolutions nearest
    the photo; NNCF's default performance preset, min-max statistics and fast bias correction on
    `count` training images of `split`) into `out`, atomically."""
    if importlib.util.find_spec("nncf") is None:
        raise PetSegError(f"making an int8 model needs NNCF, which is not installed; run `{NNCF_INSTALL}`")
    import nncf
    import openvino as ov

    model_path = Path(model_path)
    f32 = load_openvino(model_path, RuntimeConfig("openvino", precision="f32"))
    images = calibration_images(data_dir, f32.input_size, count, split)
    ir = ov.Core().read_model(str(f32.source))
    kept_float = convolutions_nearest_the_photo(ir)
    quantized = nncf.quantize(
        ir,
        nncf.Dataset([image[None] for image in images]),
        subset_size=len(images),
        ignored_scope=nncf.IgnoredScope(names=kept_float),
    )
    out = Path(out) if out else int8_folder(model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    work.chmod(0o755)  # as the f32 cache entries (runtime.convert_to_openvino)
    try:
        ov.save_model(quantized, str(work / "model.xml"), compress_to_fp16=False)
        write_json(
            work / MANIFEST,
            {
                "format": CACHE_FORMAT,
                "precision": "int8",
                "source": model_path.name,
                "source_sha256": file_sha256(model_path),
                "calibration": f"first {len(images)} training pairs of the {split} split ({Path(data_dir).name})",
                "float32_layers": kept_float,
                "openvino": ov.__version__,
                "nncf": nncf.__version__,
                "input_size": f32.input_size,
                "model_name": f32.model_name,
                "parameters": f32.parameters,
                "files": {name: file_sha256(work / name) for name in IR_FILES},
            },
        )
        shutil.rmtree(out, ignore_errors=True)
        os.replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out
