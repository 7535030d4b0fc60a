import random

import numpy as np
import pytest
from PIL import Image

from core.data import dataset as data
from tests.helpers import write_dataset, write_official_lists


def test_pairs_are_matched_by_stem_and_problems_counted(tmp_path):
    root = write_dataset(tmp_path / "pets", count=10)
    (root / "images" / "beagle_1.jpg").rename(root / "images" / "beagle_1.png")  # other extension: still matched
    (root / "annotations" / "trimaps" / "beagle_3.png").unlink()  # image without trimap
    Image.new("L", (4, 4), 1).save(root / "annotations" / "trimaps" / "orphan_1.png")  # trimap without image
    (root / "images" / "._beagle_5.jpg").write_bytes(b"junk")  # hidden (macOS) file: ignored
    (root / "images" / "notes.txt").write_text("stray")
    (root / "images" / "Persian_2.jpg").write_bytes(b"not a jpeg")  # corrupt image
    Image.fromarray(np.full((40, 48), 7, np.uint8)).save(root / "annotations" / "trimaps" / "Persian_4.png")  # value 7

    pairs, report = data.find_pairs(root)
    assert [p.stem for p in pairs if p.stem == "beagle_1"] == ["beagle_1"]
    assert report.reasons == {"images without trimap": 1, "trimaps without image": 1, "stray files": 1}
    arrays, decode_report = data.load_arrays(pairs, 32)
    assert decode_report.reasons == {"undecodable images": 1, "bad trimaps": 1}
    assert len(arrays) == 9 - 2
    assert arrays.images.shape == (7, 32, 32, 3) and set(np.unique(arrays.masks)) <= {0, 1, 2}
    report.merge(decode_report)
    assert report.summary().startswith("skipped 5:")


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DatasetError, match="python -m core download"):
        data.find_pairs(tmp_path / "nowhere")


def test_reference_split_is_the_reports_algorithm():
    pairs = [data.Pair(f"x_{i}", None, None) for i in range(50)]
    train, val = data.reference_split(list(reversed(pairs)), val_size=1000)
    stems = sorted(p.stem for p in pairs)
    random.Random(1337).shuffle(stems)
    assert [p.stem for p in val] == stems[-10:]  # capped at 20% of 50
    assert [p.stem for p in train] == stems[:-10]
    assert data.reference_split(pairs, val_size=5)[1] == data.reference_split(pairs, val_size=5)[1]


def test_load_split_limit_takes_first_n_of_each_split(tiny_dataset):
    split = data.load_split(tiny_dataset, 32, val_size=1000, limit=3)
    full_train, full_val = data.reference_split(data.find_pairs(tiny_dataset)[0], 1000)
    assert [p.stem for p in split.train.pairs] == [p.stem for p in full_train[:3]]
    assert [p.stem for p in split.val.pairs] == [p.stem for p in full_val[:2]]


def test_official_split_trains_on_trainval_holds_out_a_tenth_and_scores_the_test_list(tmp_path):
    root = write_dataset(tmp_path / "pets", count=30)
    stems = [p.stem for p in data.find_pairs(root)[0]]
    write_official_lists(root, stems[:20] + ["beagle_999"], stems[20:])  # a listed stem without a pair
    pairs, report = data.find_pairs(root)
    train, held_out = data.split_pairs(root, pairs, "official", report, seed=1337)
    assert len(held_out) == 2 and len(train) == 18  # a tenth of the 20 pairs listed
    assert {p.stem for p in train} | {p.stem for p in held_out} == set(stems[:20])
    assert report.reasons == {"listed in trainval.txt without a pair": 1}
    assert data.split_pairs(root, pairs, "official", data.SkipReport(), seed=1337)[1] == held_out  # seeded
    trainval, test = data.split_pairs(root, pairs, "official-test", data.SkipReport())
    assert [p.stem for p in test] == stems[20:] and len(trainval) == 20
    loaded = data.load_split(root, 32, split="official-test", need_train=False, mask_size=16)
    assert loaded.val.images.shape == (10, 32, 32, 3) and loaded.val.masks.shape == (10, 16, 16)


def test_a_missing_official_list_says_where_it_comes_from(tiny_dataset):
    with pytest.raises(data.DatasetError, match=r"trainval.txt is missing.*python -m core download"):
        data.load_split(tiny_dataset, 32, split="official")


def test_augmentation_moves_image_and_mask_together():
    """The synthetic pet is orange where the mask says pet: after zoom, crop and flip it still is."""
    from tests.helpers import synthetic_pet

    images, masks = [], []
    for seed in range(8):
        photo, trimap = synthetic_pet(64, 64, seed)
        images.append(np.asarray(photo))
        masks.append(trimap - 1)
    arrays = data.ArraySet([None] * 8, np.stack(images), np.stack(masks))
    batch_images, batch_masks = next(iter(data.make_dataset(arrays, 8, training=True, seed=3)))
    batch_images, batch_masks = batch_images.numpy(), batch_masks.numpy()
    assert batch_images.shape == (8, 64, 64, 3) and batch_masks.dtype == np.uint8
    assert set(np.unique(batch_masks)) <= {0, 1, 2}
    assert not np.array_equal(batch_masks, np.stack(masks))  # something was augmented
    # Pet pixels are the ones whose red channel dominates blue (orange vs blue background).
    orange = batch_images[..., 0] > batch_images[..., 2]
    core_pet, background = batch_masks == 0, batch_masks == 1
    assert orange[core_pet].mean() > 0.97 and (~orange[background]).mean() > 0.97


def test_species_and_breed_from_name():
    assert data.species_of("Persian_3") == "cat" and data.species_of("beagle_3") == "dog"
    assert data.breed_of("american_pit_bull_terrier_12") == "american_pit_bull_terrier"


@pytest.mark.slow
def test_shared_dataset_split_matches_reference_protocol(shared_data):
    pairs, report = data.find_pairs(shared_data)
    assert len(pairs) == 7351 and report.total == 0
    train, val = data.reference_split(pairs)
    assert (len(train), len(val)) == (6351, 1000)
    assert [p.stem for p in val[-3:]] == ["pug_147", "havanese_1", "leonberger_183"]
