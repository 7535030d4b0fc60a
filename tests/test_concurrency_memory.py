"""Concurrent predictions through the dashboard's cached model, and bounded memory."""

import gc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.helpers import jpeg_bytes, synthetic_pet


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_eight_threads_get_exactly_the_sequential_masks(trained_tiny_run):
    from dashboard.state import _load_segmenter

    path = trained_tiny_run / "model.keras"
    segmenter = _load_segmenter(str(path), path.stat().st_mtime)
    assert _load_segmenter(str(path), path.stat().st_mtime) is segmenter  # one model per process
    photos = [jpeg_bytes(synthetic_pet(60 + 9 * i, 45 + 5 * i, seed=i)[0]) for i in range(8)]
    sequential = [segmenter.segment(photo).trimap for photo in photos]
    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(lambda photo: segmenter.segment(photo).trimap, photos))
        for expected, got in zip(sequential, concurrent):
            assert np.array_equal(expected, got)


@pytest.mark.slow
def test_two_hundred_predictions_do_not_grow_memory(tiny_model_path, tmp_path):
    from core.inference.predict import Segmenter

    segmenter = Segmenter(tiny_model_path)
    big = tmp_path / "big.jpg"
    photo, _ = synthetic_pet(600, 400, seed=1)
    photo.resize((6000, 4000)).save(big, quality=85)  # 24 megapixels
    small = [jpeg_bytes(synthetic_pet(300 + i, 200, seed=i)[0]) for i in range(10)]
    sources: list = [big if i % 8 == 0 else small[i % 10] for i in range(200)]
    for source in sources[:20]:  # warm-up: graphs traced, allocator pools filled, the trimap's upscale too
        assert segmenter.segment(source).trimap.size  # on OpenVINO, TensorFlow first runs here: ~400 MB at once
    gc.collect()
    before = resident_mb()
    peak = before
    for source in sources:
        result = segmenter.segment(source)
        assert result.trimap.size > 0
        del result
        peak = max(peak, resident_mb())
    gc.collect()
    after = resident_mb()
    print(f"resident memory: {before:.0f} MB after warm-up, {after:.0f} MB after 200 predictions, peak {peak:.0f} MB")
    assert after - before < 100
