"""Read a PyTorch state dict saved in the legacy (pre-1.6, non-zip) format, without PyTorch.

The file is five pickles and raw data: a magic number, the protocol version, system info, the
state dict itself (tensors as persistent references to storages), the list of storage keys, then
each storage in that order as an int64 element count followed by its little-endian bytes. Only
the classes a state dict needs are let through the unpickler; anything else is refused.
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from core.errors import PetSegError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointFormatError(PetSegError, ValueError):
    """A file that is not a legacy PyTorch state dict, or one cut short."""


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: type
    size: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _StorageRef, offset: int, shape, stride, *_unused) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        raise pickle.UnpicklingError(f"refusing {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid: Any) -> _StorageRef:
        kind, dtype, key, _location, size = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return _StorageRef(str(key), dtype, int(size))


def _read_storage(file: IO[bytes], ref: _StorageRef) -> np.ndarray:
    count = int(np.frombuffer(file.read(8), dtype="<i8")[0])
    itemsize = np.dtype(ref.dtype).itemsize
    raw = file.read(count * itemsize)
    if len(raw) != count * itemsize:
        raise CheckpointFormatError(f"storage {ref.key} is cut short ({len(raw)} of {count * itemsize} bytes)")
    return np.frombuffer(raw, dtype=np.dtype(ref.dtype).newbyteorder("<")).astype(ref.dtype)


def read_state_dict(path: Path | str) -> dict[str, np.ndarray]:
    """The tensors of a legacy PyTorch `.pth` state dict, by name, as numpy arrays (copies)."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            if pickle.load(file) != LEGACY_MAGIC or pickle.load(file) != LEGACY_PROTOCOL:
                raise CheckpointFormatError(f"{path} is not a legacy PyTorch file (wrong magic number or protocol)")
            pickle.load(file)  # system info: byte order and type sizes, little-endian on every platform we read
            tensors = _StateDictUnpickler(file).load()
            keys = pickle.load(file)
            refs = {ref.key: ref for ref in (t.storage for t in tensors.values() if isinstance(t, _TensorRef))}
            storages = {key: _read_storage(file, refs[key]) for key in keys if key in refs}
    except (pickle.UnpicklingError, EOFError, IndexError, KeyError, AttributeError, TypeError) as error:
        raise CheckpointFormatError(f"{path} is not a readable legacy PyTorch state dict ({error})") from None
    out = {}
    for name, ref in tensors.items():
        if not isinstance(ref, _TensorRef):
            continue
        flat = storages[ref.storage.key]
        itemsize = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset :], shape=ref.shape, strides=[s * itemsize for s in ref.stride], writeable=False
        )
        out[name] = np.array(view)
    return out
