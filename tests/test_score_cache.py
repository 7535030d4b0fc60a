"""The gallery's validation scores kept on disk: reused, recomputed when anything they depend on changes."""

import shutil

import numpy as np
import pytest

from core.data import dataset as data
from core.evaluation.evaluate import score_images
from core.evaluation.score_cache import cached_score_images
from core.inference.predict import Segmenter


class CountingSegmenter(Segmenter):
    calls = 0

    def predict_arrays(self, images):
        CountingSegmenter.calls += 1
        return super().predict_arrays(images)


@pytest.fixture
def setup(tmp_path, tiny_model_path, tiny_dataset):
    model = tmp_path / "models" / "petseg.keras"
    model.parent.mkdir()
    shutil.copy(tiny_model_path, model)
    pairs, _ = data.find_pairs(tiny_dataset)
    arrays, _ = data.load_arrays(pairs[:6], 32)
    CountingSegmenter.calls = 0
    return CountingSegmenter(model), arrays, tmp_path / "models" / ".cache"


def same(first, second) -> bool:
    return all(
        a.pair == b.pair
        and a.scores == b.scores
        and a.confident_disagreement == b.confident_disagreement
        and np.array_equal(a.prediction, b.prediction)
        and np.array_equal(a.confusion, b.confusion)
        and np.array_equal(a.image, b.image)
        and np.array_equal(a.truth, b.truth)
        for a, b in zip(first, second, strict=True)
    )


def test_a_second_scoring_reads_the_disk_and_gives_the_same_results(setup):
    segmenter, arrays, cache = setup
    first = cached_score_images(segmenter, arrays, cache)
    calls = CountingSegmenter.calls
    assert calls >= 1 and len(list(cache.glob("petseg.scores-*.npz"))) == 1
    again = cached_score_images(CountingSegmenter(segmenter.model_path), arrays, cache)  # a restarted server
    assert CountingSegmenter.calls == calls  # nothing predicted
    assert same(first, again) and same(first, score_images(segmenter, arrays))


def test_another_model_file_or_other_images_are_scored_again_and_the_stale_file_goes(setup, tiny_dataset):
    segmenter, arrays, cache = setup
    cached_score_images(segmenter, arrays, cache)
    calls = CountingSegmenter.calls
    other_images = data.ArraySet(arrays.pairs, arrays.images[::-1].copy(), arrays.masks)
    cached_score_images(segmenter, other_images, cache)
    assert CountingSegmenter.calls > calls
    calls = CountingSegmenter.calls
    segmenter.model.layers[-1].set_weights([w + 0.5 for w in segmenter.model.layers[-1].get_weights()])
    segmenter.model.save(segmenter.model_path)  # retrained: same name, other bytes
    retrained = CountingSegmenter(segmenter.model_path)
    assert same(cached_score_images(retrained, arrays, cache), score_images(retrained, arrays))
    assert CountingSegmenter.calls > calls + 1
    assert len(list(cache.glob("petseg.scores-*.npz"))) == 1  # only the current model's scores are kept


def test_a_damaged_cache_file_is_scored_again_and_replaced(setup):
    segmenter, arrays, cache = setup
    first = cached_score_images(segmenter, arrays, cache)
    (stored,) = cache.glob("*.npz")
    stored.write_bytes(stored.read_bytes()[:100])  # cut short
    calls = CountingSegmenter.calls
    assert same(cached_score_images(segmenter, arrays, cache), first)
    assert CountingSegmenter.calls > calls
    assert same(cached_score_images(segmenter, arrays, cache), first)  # the replacement is whole


def test_a_folder_that_cannot_be_written_costs_only_the_time(setup, tmp_path):
    segmenter, arrays, _ = setup
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.warns(UserWarning, match="validation scores not cached in .*computed again next time"):
        results = cached_score_images(segmenter, arrays, blocked / "cache")
    assert same(results, score_images(segmenter, arrays))
