import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.data.imaging import ImageError
from core.inference import render
from core.inference.predict import Segmenter, drop_stray_pet_regions, probabilities_to_trimap
from core.inference.views import grid_size
from core.model.model_io import ModelFileError, load_model
from tests.helpers import assert_trimap, jpeg_bytes, synthetic_pet

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def segmenter(tiny_model_path):
    return Segmenter(tiny_model_path)


def test_segment_returns_mask_at_displayed_size_for_any_mode(segmenter):
    for image in (Image.new("L", (70, 30), 90), Image.new("RGBA", (33, 65)), Image.new("P", (16, 16))):
        result = segmenter.segment(image)
        assert_trimap(result.trimap, image.size)
        assert result.probabilities.shape == (*grid_size(image.size, 32)[::-1], 3)
        assert render.overlay(result.photo.rgb, result.trimap).size == image.size
        assert 0.0 <= result.pet_fraction <= 1.0 and result.seconds > 0


def test_exif_rotated_photo_gets_mask_in_displayed_orientation(segmenter):
    photo, _ = synthetic_pet(90, 30, seed=1)
    exif = photo.getexif()
    exif[0x0112] = 8
    result = segmenter.segment(jpeg_bytes(photo, exif=exif.tobytes()))
    assert_trimap(result.trimap, (30, 90))


def test_probabilities_are_resized_before_argmax():
    probs = np.zeros((2, 2, 3), np.float32)
    probs[..., 1] = 1.0
    probs[0, 0] = [1.0, 0.0, 0.0]
    trimap = probabilities_to_trimap(probs, (8, 6))
    assert trimap.shape == (6, 8) and trimap[0, 0] == 1 and trimap[-1, -1] == 2
    # Bilinear blending gives a pet region that is neither one quarter nor a nearest-neighbour block.
    assert 0 < (trimap == 1).sum() < 12


def test_cleanup_drops_specks_and_keeps_a_second_pet():
    trimap = np.full((20, 20), 2, np.uint8)
    trimap[1:11, 1:11] = 1  # the first pet: 100 px
    trimap[13:18, 13:17] = 1  # a second pet: 20 px, a fifth of the first
    trimap[17, 1] = 1  # a speck (2 px with its border): under a tenth
    trimap[17, 2] = 3
    cleaned = drop_stray_pet_regions(trimap)
    assert (cleaned[1:11, 1:11] == 1).all() and (cleaned[13:18, 13:17] == 1).all()
    assert cleaned[17, 1] == 2 and cleaned[17, 2] == 2


def test_batch_and_single_predictions_agree(segmenter):
    photos = [synthetic_pet(40 + 7 * i, 50, seed=i)[0] for i in range(5)]
    batched = [result for _, result in segmenter.segment_many(photos, batch_size=2)]
    for photo, result in zip(photos, batched):
        np.testing.assert_allclose(result.probabilities, segmenter.segment(photo).probabilities, atol=1e-5)


def test_segment_many_reports_bad_items_and_keeps_going(segmenter):
    good = synthetic_pet(40, 40, seed=0)[0]
    results = list(segmenter.segment_many([jpeg_bytes(good), b"garbage", good]))
    assert isinstance(results[1][1], ImageError)
    assert_trimap(results[0][1].trimap, (40, 40))
    assert_trimap(results[2][1].trimap, (40, 40))


def test_model_file_problems_are_named(tmp_path, tiny_model_path):
    with pytest.raises(ModelFileError, match="not found.*python -m core train"):
        load_model(tmp_path / "none.keras")
    (tmp_path / "text.keras").write_text("hello")
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        load_model(tmp_path / "text.keras")
    data = tiny_model_path.read_bytes()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "truncated.keras")


def test_model_with_wrong_shapes_is_refused(tmp_path):
    import keras

    inputs = keras.Input((32, 32, 3))
    wrong = keras.Model(inputs, keras.layers.Conv2D(2, 1, activation="softmax")(inputs))
    wrong.save(tmp_path / "two_classes.keras")
    with pytest.raises(ModelFileError, match="expected output"):
        load_model(tmp_path / "two_classes.keras")


def test_cli_predict_files_and_folders_with_a_bad_file(tmp_path, tiny_model_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(3):
        synthetic_pet(50 + index, 40, seed=index)[0].save(folder / f"pet{index}.jpg")
    (folder / "broken.jpg").write_text("not an image")
    single = tmp_path / "single.png"
    synthetic_pet(21, 37, seed=9)[0].save(single)
    out = tmp_path / "out"
    status = main(
        [
            "predict",
            str(folder),
            str(single),
            str(tmp_path / "missing.jpg"),
            "--model",
            str(tiny_model_path),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert status == 2
    assert "broken.jpg: not an image" in captured.err and "missing.jpg: no such file" in captured.err
    assert "Traceback" not in captured.err
    for stem, size in [("pet0", (50, 40)), ("pet2", (52, 40)), ("single", (21, 37))]:
        mask = np.asarray(Image.open(out / f"{stem}_mask.png"))
        assert_trimap(mask, size)
        assert Image.open(out / f"{stem}_overlay.png").size == size


def test_cli_missing_model_is_one_clear_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--model", str(tmp_path / "no.keras"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no.keras not found" in err and "git checkout" in err


def test_fast_upscale_equals_resize_then_argmax():
    import tensorflow as tf

    probs = np.random.default_rng(1).dirichlet([1, 1, 1], (16, 16)).astype(np.float32)
    probs[0, 0] = [0.4, 0.2, 0.4]  # tie between pet and border: pet, as argmax
    probs[0, 1] = [0.2, 0.4, 0.4]  # tie between background and border
    expected = tf.argmax(tf.image.resize(probs[None], (70, 50), method="bilinear")[0], axis=-1).numpy() + 1
    assert (probabilities_to_trimap(probs, (50, 70)) == expected).mean() > 0.9999
    exact = probabilities_to_trimap(probs, (16, 16))
    assert exact[0, 0] == 1 and exact[0, 1] == 2 and (exact == probs.argmax(-1) + 1).all()


def test_flip_tta_averages_the_photo_and_its_mirror(tiny_model_path):
    plain, tta = Segmenter(tiny_model_path), Segmenter(tiny_model_path, tta=True)
    images = np.random.default_rng(3).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    mirrored = images[:, :, ::-1]
    expected = (plain.predict_arrays(images) + plain.predict_arrays(mirrored)[:, :, ::-1]) / 2
    averaged = tta.predict_arrays(images)
    assert np.allclose(averaged, expected, atol=1e-6)
    assert np.allclose(tta.predict_arrays(mirrored), averaged[:, :, ::-1], atol=1e-6)  # mirror-symmetric
    assert not np.allclose(plain.predict_arrays(mirrored), plain.predict_arrays(images)[:, :, ::-1], atol=1e-3)


def test_cli_evaluate_and_predict_take_tta(tmp_path, trained_tiny_run, tiny_dataset, capsys):
    import json

    model = str(trained_tiny_run / "model.keras")
    assert (
        main(
            ["evaluate", "--data-dir", str(tiny_dataset), "--model", model, "--json", str(tmp_path / "t.json"), "--tta"]
        )
        == 0
    )
    assert (
        main(["evaluate", "--data-dir", str(tiny_dataset), "--model", model, "--json", str(tmp_path / "p.json")]) == 0
    )
    with_tta, without = json.loads((tmp_path / "t.json").read_text()), json.loads((tmp_path / "p.json").read_text())
    assert with_tta["tta"] and not without["tta"] and with_tta["loss"] != without["loss"]
    assert "flip test-time augmentation" in capsys.readouterr().out
    synthetic_pet(40, 30, seed=1)[0].save(tmp_path / "cat.jpg")
    assert main(["predict", str(tmp_path / "cat.jpg"), "--model", model, "--out", str(tmp_path / "o"), "--tta"]) == 0
    assert (tmp_path / "o" / "cat_mask.png").exists()


def test_found_pet_tells_a_pet_from_a_gradient():
    """The shipped model: a bundled pet photo vs a plain gradient (which gets a few pet pixels)."""
    shipped = Segmenter()
    gradient = Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))).convert("RGB")
    assert not shipped.segment(gradient).found_pet
    assert shipped.segment(ROOT / "samples" / "pets" / "images" / "Abyssinian_1.jpg").found_pet


def test_a_photo_without_a_pet_exports_no_pet_anywhere():
    """Faint pet blobs (the model nowhere sure, as on a landscape) give what the page says, "no
    pet": an all-background mask, pet share 0, a fully transparent cut-out and an all-black matte."""
    from core.data.imaging import Photo
    from core.inference.outputs import output_files
    from core.inference.predict import Segmentation
    from core.inference.render import CutoutOptions

    probabilities = np.zeros((32, 32, 3), np.float32)
    probabilities[..., 1] = 1.0
    probabilities[8:16, 8:16] = (0.7, 0.2, 0.1)  # pet wins the argmax, yet below PET_CONFIDENCE
    photo = Photo.from_pil(synthetic_pet(64, 48, seed=5)[0])
    result = Segmentation(photo, probabilities, 0.01)
    assert not result.found_pet
    assert result.pet_fraction == 0.0 and set(np.unique(result.trimap)) == {2}
    for refine in ("fast", "matting"):
        files = output_files("sky", result, formats=("cutout", "alpha"), cutout=CutoutOptions(refine))
        cutout = np.asarray(Image.open(io.BytesIO(files["sky_cutout.png"])))
        assert cutout.shape == (48, 64, 4) and cutout[..., 3].max() == 0, refine
        assert np.asarray(Image.open(io.BytesIO(files["sky_alpha.png"]))).max() == 0


def test_batches_are_padded_to_few_shapes_without_changing_any_answer(segmenter, monkeypatch):
    from core.inference.predict import batch_bucket

    assert [batch_bucket(n) for n in (1, 3, 4, 5, 8, 9, 47, 48)] == [1, 3, 4, 8, 8, 12, 48, 48]
    images = np.random.default_rng(0).uniform(0, 255, (5, 32, 32, 3)).astype(np.float32)
    one_by_one = np.concatenate([segmenter.predict_arrays(image[None]) for image in images])
    shapes = []
    predict = segmenter.network.predict
    monkeypatch.setattr(
        segmenter.network, "predict", lambda batch, tta: shapes.append(len(batch)) or predict(batch, tta)
    )
    together = segmenter.predict_arrays(images)
    assert shapes == [8] and together.shape == (5, 32, 32, 3)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_a_large_batch_runs_as_bounded_calls_without_changing_any_answer(segmenter, monkeypatch):
    """A server's batch of many photos' views must not grow the network's buffers past
    `images_per_call` (either runtime keeps memory for the largest batch it has run)."""
    from core.config import RuntimeConfig

    capped = RuntimeConfig("keras", images_per_call=6)
    bounded = Segmenter(segmenter.model_path, runtime=capped, network=segmenter.network)
    assert bounded.with_options(tta=True).runtime_config.images_per_call == 6
    images = np.random.default_rng(1).uniform(0, 255, (13, 32, 32, 3)).astype(np.float32)
    whole = segmenter.predict_arrays(images)
    shapes = []
    predict = segmenter.network.predict
    monkeypatch.setattr(
        segmenter.network, "predict", lambda batch, tta: shapes.append(len(batch)) or predict(batch, tta)
    )
    parts = bounded.predict_arrays(images)
    assert shapes == [6, 6, 1] and parts.shape == (13, 32, 32, 3)
    np.testing.assert_allclose(parts, whole, atol=1e-5)
    assert bounded.predict_arrays(images[:0]).shape == (0, 32, 32, 3)
    with pytest.raises(ValueError, match="images_per_call"):
        RuntimeConfig(images_per_call=0)
