"""Runtimes: what runs the network of a `.keras` model, Keras/TensorFlow or OpenVINO.

The `.keras` file is the single source of truth. For OpenVINO it is exported as a SavedModel,
converted (`openvino.convert_model`, batch made dynamic) and cached as IR (`model.xml`/`.bin`) in
`<cache>/openvino/<stem>-<hash>/` (`RuntimeConfig.cache_dir`, else `$PETSEG_CACHE_DIR`, else
`~/.cache/petseg`), keyed by the SHA-256 of the model file: a changed model gets a new entry, copies
of one file share theirs, the least recently used entries beyond `CACHE_ENTRIES` are removed, and
an entry is written under a temporary name and renamed into place whole. Its manifest records the
hashes of the IR files; an entry that does not match them is rebuilt, never used.

Both runtimes answer the same in f32 (largest difference about 1e-7 on the shipped models): see
`bench/runtime.py` for the speed and `tests/test_runtime.py` for the masks. An int8 model
(`core.inference.quantize`) sits beside the `.keras` file as `<stem>.int8/`; it is used (precision
`auto` or `int8`) only when its manifest names this exact file's hash and its files are intact.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.config import RuntimeConfig
from core.errors import PetSegError
from core.files import write_json

IR_FILES = ("model.xml", "model.bin")
MANIFEST = "manifest.json"
CACHE_FORMAT = 1
"""Bumped when the way a cache entry is made changes: entries of another format are rebuilt."""


class RuntimeUnavailable(PetSegError, RuntimeError):
    """The runtime asked for is not installed or cannot run this model; the message says the fix."""


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def resolve_runtime(runtime: str) -> str:
    """`auto` is OpenVINO where it is installed (faster, bench/RESULTS.md), else Keras."""
    if runtime == "auto":
        return "openvino" if openvino_installed() else "keras"
    if runtime == "openvino" and not openvino_installed():
        raise RuntimeUnavailable(
            "the OpenVINO runtime is not installed; run `pip install -r requirements.txt` "
            "(`make install` does it), or choose --runtime keras"
        )
    return runtime


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def flip_averaged(model, images):
    """Test-time augmentation: the mean of the class probabilities of `images` and of their
    horizontal mirrors (mirrored back), from one batch of twice the size. A tensor function."""
    import tensorflow as tf

    count = tf.shape(images)[0]
    both = model(tf.concat([images, tf.reverse(images, axis=[2])], axis=0), training=False)
    return (both[:count] + tf.reverse(both[count:], axis=[2])) / 2.0


def mirrored_mean(predict, images: np.ndarray) -> np.ndarray:
    """Flip test-time augmentation on NumPy: the mean of the probabilities of `images` and of their
    mirrors (mirrored back), from one call on a batch of twice the size."""
    both = predict(np.concatenate([images, images[:, :, ::-1]]))
    count = len(images)
    return (both[:count] + both[count:, :, ::-1]) / 2.0


@dataclass
class KerasNetwork:
    """A Keras model run through one compiled TensorFlow function per TTA setting."""

    model: Any
    runtime: str = "keras"
    precision: str = "f32"
    lock: threading.Lock = field(default_factory=threading.Lock)
    _functions: dict[bool, Any] = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        return int(self.model.input_shape[1])

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def parameters(self) -> int:
        return int(self.model.count_params())

    def predict(self, images: np.ndarray, tta: bool) -> np.ndarray:
        if tta not in self._functions:
            import tensorflow as tf

            spec = tf.TensorSpec((None, self.input_size, self.input_size, 3), tf.float32)
            call = (
                (lambda batch: flip_averaged(self.model, batch))
                if tta
                else (lambda batch: self.model(batch, training=False))
            )
            self._functions[tta] = tf.function(call, input_signature=[spec])
        return self._functions[tta](images).numpy()


@dataclass
class OpenVinoNetwork:
    """A compiled OpenVINO model; one inference request at a time (the `Segmenter` holds a lock)."""

    compiled: Any
    input_size: int
    model_name: str
    parameters: int
    source: Path
    """The IR file it was compiled from (in the cache, or the int8 folder)."""
    precision: str = "f32"
    runtime: str = "openvino"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _call(self, images: np.ndarray) -> np.ndarray:
        return self.compiled(images)[0]

    def predict(self, images: np.ndarray, tta: bool) -> np.ndarray:
        return mirrored_mean(self._call, images) if tta else self._call(images)


CACHE_ENTRIES = 16
"""Converted models kept; the least recently used beyond this are removed."""


def cache_root(config: RuntimeConfig) -> Path:
    if config.cache_dir:
        return Path(config.cache_dir)
    return Path(os.environ.get("PETSEG_CACHE_DIR") or Path.home() / ".cache" / "petseg")


def cache_entry(model_path: Path, config: RuntimeConfig) -> Path:
    """The folder holding (or to hold) the converted model of `model_path`'s current content."""
    return cache_root(config) / "openvino" / f"{model_path.stem}-{file_sha256(model_path)[:16]}"


def int8_folder(model_path: Path) -> Path:
    """Where the int8 model of `model_path` lives: `<stem>.int8/` beside it."""
    return Path(model_path).with_name(f"{Path(model_path).stem}.int8")


def _entry_is_sound(entry: Path, source_sha256: str | None = None) -> bool:
    """The folder's manifest is of this format, its IR files have the hashes it records, and (when
    given) it was made from the model file with this hash."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        return (
            manifest.get("format") == CACHE_FORMAT
            and (source_sha256 is None or manifest.get("source_sha256") == source_sha256)
            and all(file_sha256(entry / name) == manifest["files"][name] for name in IR_FILES)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


INT8_DOT_PRODUCT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
"""x86 instructions that multiply-add int8 values exactly. Without them (AVX2 alone) oneDNN's int8
kernels add in saturating 16-bit steps, and the shipped int8 model loses quality that it keeps
where they exist: on an AVX2-only EPYC, validation mean IoU 0.7756 against f32's 0.7796 and fast
cut-out IoU 0.9504 against 0.9586 (on AVX-512 VNNI: 0.7793 and 0.9575; bench/RESULTS.md)."""


def cpu_flags() -> set[str] | None:
    """This machine's x86 CPU flags (Linux), or None where they cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def int8_keeps_quality(flags: set[str] | None = None) -> bool:
    """Whether the CPU runs int8 models as quantized (an int8 dot-product instruction); True where the
    flags cannot be read (other platforms: their int8 paths are not the AVX2 one)."""
    flags = cpu_flags() if flags is None else flags
    return flags is None or any(flag in flags for flag in INT8_DOT_PRODUCT_FLAGS)


def _int8_entry(model_path: Path, precision: str) -> Path | None:
    """The int8 folder to run, for precision `auto` (if sound and this CPU keeps int8's quality) or
    `int8` (else an error)."""
    folder = int8_folder(model_path)
    if precision not in ("auto", "int8") or (precision == "auto" and not folder.exists()):
        return None
    if precision == "auto" and not int8_keeps_quality():
        return None  # f32: on an AVX2-only CPU OpenVINO f32 is the faster path that keeps the masks
    if _entry_is_sound(folder, file_sha256(model_path)):
        return folder
    problem = "is missing" if not folder.exists() else "was made from another model file, or is damaged"
    fix = f"make it again with `python -m core quantize --model {model_path} --data-dir DATA`"
    if precision == "int8":
        raise RuntimeUnavailable(f"the int8 model {folder} {problem}; {fix}, or choose --precision f32")
    warnings.warn(f"{folder} {problem}: running {model_path.name} in float32; {fix}", stacklevel=3)
    return None


def convert_to_openvino(model, entry: Path) -> None:
    """Export `model` as a SavedModel, convert it with a dynamic batch and write the IR to `entry`
    atomically (a temporary folder beside it, renamed into place)."""
    import openvino as ov

    entry.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
    work.chmod(0o755)  # mkdtemp's 0700 would hide the entry from other users of a shared model folder
    try:
        model.export(str(work / "saved_model"), format="tf_saved_model", verbose=False)
        converted = ov.convert_model(str(work / "saved_model"))
        size = int(model.input_shape[1])
        converted.reshape([-1, size, size, 3])
        ov.save_model(converted, str(work / "model.xml"), compress_to_fp16=False)
        shutil.rmtree(work / "saved_model")
        write_json(
            work / MANIFEST,
            {"format": CACHE_FORMAT, "openvino": ov.__version__, "input_size": size, "model_name": model.name}
            | {"parameters": int(model.count_params())}
            | {"files": {name: file_sha256(work / name) for name in IR_FILES}},
        )
        shutil.rmtree(entry, ignore_errors=True)  # a damaged entry of the same content
        os.replace(work, entry)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _remove_least_recently_used(folder: Path) -> None:
    """Entries (each touched when used) beyond the `CACHE_ENTRIES` most recently used; temporaries are left."""
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith(".")),
        key=lambda entry: entry.stat().st_mtime,
        reverse=True,
    )
    for entry in entries[CACHE_ENTRIES:]:
        shutil.rmtree(entry, ignore_errors=True)


_conversion_lock = threading.Lock()


def load_openvino(model_path: Path, config: RuntimeConfig) -> OpenVinoNetwork:
    """The OpenVINO network of `model_path` (its int8 model, or the f32 conversion made on first use)."""
    from core.model.model_io import load_model

    model_path = Path(model_path)
    if not model_path.is_file():
        load_model(model_path)  # raises the model file's own error: missing, not a file
    with _conversion_lock:
        entry = _int8_entry(model_path, config.precision)
        if entry is None:
            entry = cache_entry(model_path, config)
            if not _entry_is_sound(entry):
                convert_to_openvino(load_model(model_path), entry)  # a damaged file raises its own error here
            os.utime(entry)  # most recently used
            _remove_least_recently_used(entry.parent)
    return compile_ir(entry, config)


def compile_ir(entry: Path, config: RuntimeConfig) -> OpenVinoNetwork:
    """Compile the IR folder `entry` (a cache entry, an int8 folder or an export) for the CPU."""
    import openvino as ov

    manifest = json.loads((entry / MANIFEST).read_text())
    precision = manifest.get("precision", "bf16" if config.precision == "bf16" else "f32")
    options = {"PERFORMANCE_HINT": config.performance_hint, "INFERENCE_PRECISION_HINT": _HINTS[precision]}
    compiled = ov.Core().compile_model(str(entry / "model.xml"), "CPU", options)
    return OpenVinoNetwork(
        compiled,
        int(manifest["input_size"]),
        manifest["model_name"],
        int(manifest["parameters"]),
        entry / "model.xml",
        precision,
    )


_HINTS = {"f32": "f32", "bf16": "bf16", "int8": "f32"}
"""OpenVINO's inference precision per PetSeg precision (an int8 model's unquantized layers run in f32)."""


Network = KerasNetwork | OpenVinoNetwork


def load_network(model_path: Path, config: RuntimeConfig) -> Network:
    """The network of the model file `model_path` on the configured runtime."""
    from core.model.model_io import load_model

    if resolve_runtime(config.runtime) == "openvino":
        return load_openvino(model_path, config)
    return KerasNetwork(load_model(model_path))
