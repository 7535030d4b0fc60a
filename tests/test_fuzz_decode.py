"""Fuzzing the decode path: random and mutated JPEG/PNG/GIF bytes. Only ImageError may escape.

PETSEG_FUZZ_EXAMPLES sets the number of examples (default 10,000, about a minute here).
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.data.imaging import ImageError, Photo
from tests.helpers import encode, synthetic_pet

EXAMPLES = int(os.environ.get("PETSEG_FUZZ_EXAMPLES", "10000"))
_photo = synthetic_pet(48, 32, seed=3)[0]
SEEDS = [
    encode(_photo, "JPEG", quality=80),
    encode(_photo, "JPEG", quality=80, progressive=True),
    encode(_photo, "PNG"),
    encode(_photo.convert("P"), "GIF"),
    encode(_photo, "WEBP"),
    encode(_photo.convert("RGBA"), "PNG"),
]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "overwrite"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "truncate":
            del data[position:]
        else:
            patch = draw(st.binary(min_size=1, max_size=8))
            data[position : position + len(patch)] = patch
    return bytes(data)


inputs = st.one_of(st.binary(max_size=512), mutated(), mutated(), mutated())


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(payload=inputs)
def test_decode_path_raises_only_image_error(payload):
    try:
        photo = Photo.open(payload)
        image = photo.rgb_at_least(32)
        assert image.mode == "RGB" and min(image.size) >= 1
    except ImageError as error:
        assert str(error)
