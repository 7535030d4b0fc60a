"""The real Streamlit app through AppTest, on the shipped default model (quick at 192 px, and sure
of the pets in the bundled photos, which a tiny model is not) and synthetic data."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.legend import BORDER_MEANING
from tests.helpers import jpeg_bytes, real_pet, synthetic_pet

APP = "../dashboard/app.py"
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "models" / "petseg.keras"
TIMEOUT = 120
LEGEND = f"border: {BORDER_MEANING}"


@pytest.fixture
def app_env(monkeypatch, tmp_path, trained_tiny_run, tiny_dataset):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(SHIPPED_MODEL, models / "petseg.keras")
    shutil.copy(trained_tiny_run / "history.csv", models / "petseg.history.csv")
    (models / "petseg.metrics.json").write_text(json.dumps({"dice": 0.5, "mean_iou": 0.4, "images": 2}))
    runs = tmp_path / "runs"
    shutil.copytree(trained_tiny_run, runs / "tiny-run")
    monkeypatch.setenv("PETSEG_MODELS_DIR", str(models))
    monkeypatch.setenv("PETSEG_DATA_DIR", str(tiny_dataset))
    monkeypatch.setenv("PETSEG_RUNS_DIR", str(runs))
    return models


def started(page: str | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> str:
    return " ".join(
        str(element.value) for kind in ("markdown", "caption", "info", "error", "warning") for element in app.get(kind)
    )


def test_segment_page_uploads_good_and_bad_photos(app_env):
    app = started()
    assert "Upload a photo" in texts(app)
    assert "petseg.keras" in " ".join(m.value for m in app.sidebar.markdown)
    photos = [
        ("cat.jpg", jpeg_bytes(synthetic_pet(64, 48, seed=1)[0]), "image/jpeg"),
        ("notes.jpg", b"this is not a photo", "image/jpeg"),
        ("dog.png", jpeg_bytes(synthetic_pet(40, 40, seed=2)[0]), "image/png"),
    ]
    app.file_uploader(key="uploads").set_value(photos).run()
    assert not app.exception, app.exception
    reason = "notes.jpg: not an image (unrecognised format)"
    assert [e.value for e in app.error] == [  # named at the top, above the ZIP; its reason once, at the file
        "1 of 3 files could not be segmented (the ZIP below leaves them out): notes.jpg. Each one's reason is below.",
        f"Cannot segment {reason}",
    ]
    assert texts(app).count("**Pet share**") == 2
    labels = [b.label for b in app.get("download_button")]
    assert labels.count("Download label map") == 2 and "Download all 2 results (ZIP)" in labels


def test_example_photo_and_views(app_env):
    app = started()
    example = app.selectbox(key="example")
    app = example.set_value("Abyssinian_1").run()
    assert not app.exception and texts(app).count("**Pet share**") == 1
    assert "Scores against the ground truth" in texts(app)  # a validation image: its annotation and scores
    assert "at the model's scale, 287×192" in texts(app)  # 256x171 at 192 px: scored on the views' merged grid
    assert "1 for a mask that matches the annotation exactly" in texts(app)
    assert re.search(r"mean IoU is (better than|worse than|about) this model's average .*\(0\.400\)", texts(app))
    first = example.options[1:5]  # cats and dogs take turns: Oxford-IIIT names cat breeds with a capital
    assert {name[0].isupper() for name in first} == {True, False}, first
    assert len(app.get("image")) == 2  # photo, mask and overlay side by side in one picture, and the ground truth
    assert LEGEND in texts(app)
    assert {toggle.key for toggle in app.sidebar.toggle} == {"cleanup", "tta"}  # beside the results, not above them
    cleanup = app.sidebar.toggle(key="cleanup")
    assert cleanup.label == "Drop stray pet specks" and "a second pet too, is kept" in cleanup.help
    assert image_captions(app)[0] == "Photo · Mask · Overlay"  # one picture: a row on a phone too
    shown = {}
    for view in ("Overlay", "Mask", "Cut-out"):
        app.segmented_control(key="view").set_value(view).run()
        assert not app.exception
        captions = [caption for caption in image_captions(app) if caption != SURFACE_CAPTION]
        assert len(captions) == 2 and captions[0].startswith(view) and captions[1].startswith("Ground truth"), captions
        assert LEGEND in texts(app)  # the ground truth is in colour beside every view
        shown[view] = image_urls(app)[0]
    assert captions[0].startswith("Cut-out (matting, edges refined in")
    app.segmented_control(key="view").set_value("Overlay").run()
    assert image_urls(app)[0] == shown["Overlay"]
    app.slider(key="alpha").set_value(0.9).run()
    assert image_urls(app)[0] != shown["Overlay"]  # the overlay is drawn again at the new opacity
    app.toggle(key="cleanup").set_value(True).run()
    app.toggle(key="tta").set_value(True).run()
    assert not app.exception and texts(app).count("**Pet share**") == 1
    import gc

    from core.inference.predict import Segmentation, Segmenter

    # AppTest runs the app in this process: its caches now hold a flip-averaging Segmenter and a cleaned-up result
    assert any(thing.tta for thing in gc.get_objects() if isinstance(thing, Segmenter))
    assert any(thing.cleanup for thing in gc.get_objects() if isinstance(thing, Segmentation))


SURFACE_CAPTION = "Magenta: the cut-out's outline. Turn on Draw to mark."


def image_captions(app: AppTest) -> list[str]:
    return [image.caption for element in app.get("image") for image in element.proto.imgs]


def image_urls(app: AppTest) -> list[str]:
    """Media URLs are content hashes: a redrawn picture gets a new one."""
    return [image.url for element in app.get("image") for image in element.proto.imgs]


def test_cut_out_view_refines_edges_on_each_background_and_offers_its_downloads(app_env):
    app = started()
    app.file_uploader(key="uploads").set_value([("cat.jpg", jpeg_bytes(real_pet(90, 60)), "image/jpeg")]).run()
    assert LEGEND in texts(app)
    app.segmented_control(key="view").set_value("Cut-out").run()
    assert not app.exception, app.exception
    assert LEGEND not in texts(app)  # no class colours on the page
    order = element_types(app.main)  # the options in a row on the page, not a popover over the cut-out
    assert "popover" not in order and order.index("selectbox") < order.index("image")
    keys = {button.key for button in app.get("download_button")}
    assert {"download-0-cat_cutout.png", "download-0-cat_alpha.png", "download-0-cat_mask.png"} <= keys
    assert [b.label for b in app.get("download_button")] == [
        "Download marks (JSON)",  # the touch-up's, under the cut-out (disabled until a mark is drawn)
        "Download cut-out",
        "Download alpha matte",
        "Download coloured mask",
        "Download overlay",
        "Download label map",
    ]
    from dashboard.views.segment import REFINE_LABELS

    for refine in REFINE_LABELS:
        app.segmented_control(key="refine").set_value(refine).run()
        assert not app.exception, app.exception
    for background in ("Colour", "Blurred photo", "Image", "Transparent"):
        app.selectbox(key="background").set_value(background).run()
        assert not app.exception, app.exception
    plain = image_urls(app)[0]
    app.toggle(key="shadow").set_value(True).run()
    shadowed = image_urls(app)[0]
    assert not app.exception and shadowed != plain
    app.toggle(key="outline").set_value(True).run()
    assert not app.exception and image_urls(app)[0] != shadowed
    app.slider(key="outline_width").set_value(30).run()
    app.slider(key="before-after-0").set_value(50).run()  # the photo left of the line, the cut-out right
    assert not app.exception and len(set(image_urls(app))) == len(image_urls(app))
    app.toggle(key="crop").set_value(True).run()
    assert not app.exception, app.exception


def test_cut_out_downloads_hold_rgba_and_alpha_pngs(tiny_model_path):
    """What the dashboard's cut-out and alpha buttons encode when clicked (the same makers)."""
    import io

    from PIL import Image

    from core.inference.outputs import output_makers
    from core.inference.predict import Segmenter

    result = Segmenter(tiny_model_path).segment(synthetic_pet(90, 60, seed=1)[0])
    makers = output_makers("cat", result, formats=("cutout", "alpha"))
    cutout = Image.open(io.BytesIO(makers["cat_cutout.png"]()))
    alpha = Image.open(io.BytesIO(makers["cat_alpha.png"]()))
    assert cutout.mode == "RGBA" and cutout.size == (90, 60) and alpha.mode == "L"
    assert (np.asarray(cutout)[..., 3] == np.asarray(alpha)).all()


def test_gallery_page_scores_and_filters(app_env):
    app = started("views/gallery.py")
    assert "validation split of" in texts(app)
    labels = [m.label for m in app.metric]
    assert labels[:5] == ["Images", "Dice", "Mean IoU", "Pet IoU", "Pixel accuracy"]
    assert app.metric[0].value == "2"
    assert "Dice" in " ".join(c.value for c in app.caption)
    assert LEGEND in texts(app)  # the ground truth and prediction columns are in class colours
    app.selectbox(key="order").set_value("Name").run()
    assert not app.exception
    assert row_stems(app) == sorted(row_stems(app)) and len(row_stems(app)) == 2
    app.selectbox(key="order").set_value("Worst Dice first").run()
    dice = [float(re.search(r"Dice (\d\.\d+)", c.value).group(1)) for c in app.caption if c.value.startswith("**")]
    assert dice == sorted(dice) and len(dice) == 2
    # every image of a row carries its own label (on a phone the columns stack), errors included
    assert image_captions(app) == ["Image", "Ground truth", "Prediction", "Overlay", "Errors"] * 2
    breeds = app.dataframe
    assert len(breeds) == 1 and list(breeds[0].value["breed"]) == ["Beagle"] and breeds[0].value["images"][0] == 2


def test_the_bottom_page_picker_brings_the_reader_to_the_top_of_the_new_page(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("PETSEG_DATA_DIR", str(tmp_path / "no-dataset"))  # the bundled sample: several pages
    app = started("views/gallery.py")
    app.selectbox(key="per_page").set_value(6).run()
    assert not app.get("iframe")
    app.number_input(key="page_top").set_value(2).run()
    assert not app.get("iframe")  # the top picker is in view already
    app.number_input(key="page_bottom").set_value(3).run()
    assert not app.exception and app.number_input(key="page_top").value == 3
    assert len(app.get("iframe")) == 1 and "scrollTo" in app.get("iframe")[0].proto.srcdoc


def row_stems(app: AppTest) -> list[str]:
    """The image names heading the gallery's rows, in order."""
    return [re.match(r"\*\*(.+?)\*\*", c.value).group(1) for c in app.caption if c.value.startswith("**")]


def test_gallery_filters_stay_consistent_and_pages_show_top_and_bottom(app_env):
    app = started("views/gallery.py")  # the synthetic validation split holds two beagles
    assert app.multiselect(key="breeds").options == ["Beagle"]  # names as people write them
    assert [number.label for number in app.number_input] == ["Page (of 1)", "Page (of 1)"]  # above and below
    app.multiselect(key="breeds").set_value(["beagle"]).run()
    app.segmented_control(key="species").set_value("cat").run()  # a dog breed chosen, then cats
    assert (
        not app.exception and app.multiselect(key="breeds").value == [] and app.multiselect(key="breeds").options == []
    )
    app.segmented_control(key="species").set_value(None).run()  # clicking the selected species again
    assert app.segmented_control(key="species").value == "all" and app.metric[0].value == "2"
    app.toggle(key="suspect_only").set_value(True).run()  # synthetic labels are right: no suspect
    assert "Clear the breeds or the suspect-label filter" in texts(app)


def test_suspect_labels_are_the_confidently_contradicted_ones():
    import numpy as np

    from core.evaluation.evaluate import confident_disagreement

    truths = np.zeros((2, 4, 4), np.int64)
    truths[:, :, 2:] = 1  # left half pet, right half background
    probabilities = np.zeros((2, 4, 4, 3), np.float32)
    probabilities[0, ..., 0] = truths[0] == 0  # agrees
    probabilities[0, ..., 1] = truths[0] == 1
    probabilities[1, ..., 0] = truths[1] == 1  # pet and background swapped
    probabilities[1, ..., 1] = truths[1] == 0
    assert confident_disagreement(truths, probabilities).tolist() == [0.0, 1.0]


def test_an_annotation_without_a_pet_is_a_suspect_label():
    from tests.test_gallery import result

    assert not result("Abyssinian_1", 0.8).suspect_label
    no_pet = result("Egyptian_Mau_196", 0.0)
    no_pet.truth[:] = 1  # every pixel background, as that trimap is
    assert no_pet.suspect_label


def test_gallery_falls_back_to_bundled_sample(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("PETSEG_DATA_DIR", str(tmp_path / "no-dataset"))
    app = started("views/gallery.py")
    assert "bundled sample" in " ".join(i.value for i in app.info)
    assert "python -m core download" in " ".join(i.value for i in app.info)
    assert int(app.metric[0].value) >= 24


def test_history_page_charts(app_env):
    app = started("views/history.py")
    charts = app.get("plotly_chart")
    assert len(charts) == 6  # loss, dice, mean IoU, pet IoU, accuracy, learning rate
    assert [m.label for m in app.metric][:2] == ["Epochs", "Best epoch"] and app.metric[0].value == "3"
    order = element_types(app.main)
    assert order.index("plotly_chart") < order.index("metric")  # a curve first: on a phone, on the first screen


def element_types(node) -> list[str]:
    """The types of a block's elements, depth first, in page order."""
    types = []
    for child in getattr(node, "children", {}).values():
        types += [child.type, *element_types(child)]
    return types


def test_history_page_offers_every_shipped_models_run(app_env, trained_tiny_run):
    shutil.copy(app_env / "petseg.keras", app_env / "petseg-lean.keras")
    rows = (trained_tiny_run / "history.csv").read_text().splitlines()
    (app_env / "petseg-lean.history.csv").write_text("\n".join(rows[:3]) + "\n")  # 2 epochs
    app = started("views/history.py")
    options = app.selectbox(key="history_choice").options
    assert options[:2] == ["petseg (selected model)", "petseg-lean (shipped model)"]
    app.selectbox(key="history_choice").set_value("petseg-lean (shipped model)").run()
    assert not app.exception and app.metric[0].value == "2"


def test_history_page_explains_an_empty_path_and_a_file_that_is_not_a_history(app_env, tmp_path):
    app = started("views/history.py")
    app.selectbox(key="history_choice").set_value("another file…").run()
    assert "Type the path of a training run's folder (RUN) or its history.csv" in texts(app) and not app.warning
    notes = tmp_path / "notes.csv"
    notes.write_text("name,score\ncat,1\n")
    app.text_input(key="history_path").set_value(str(notes)).run()
    assert [error.value for error in app.error] == [
        f"{notes} is not a training history: its first column should be `epoch` "
        "(PetSeg writes RUN/history.csv during training)."
    ]


def test_history_page_takes_a_run_folder_and_a_path_typed_with_spaces(app_env, trained_tiny_run):
    app = started("views/history.py")
    app.selectbox(key="history_choice").set_value("another file…").run()
    for typed in (f" {trained_tiny_run / 'history.csv'}  ", str(trained_tiny_run), f" {trained_tiny_run} "):
        app.text_input(key="history_path").set_value(typed).run()
        assert not app.warning and not app.error, typed
        assert app.metric[0].value == "3" and len(app.get("plotly_chart")) == 6, typed


def test_history_page_says_when_the_model_holds_its_last_epoch(app_env):
    from core.training.history import best_epoch, read_history, write_history

    rows = read_history(app_env / "petseg.history.csv")
    rows[-1]["val_loss"] = rows[0]["val_loss"] + 1  # the last epoch is not the best
    write_history(app_env / "petseg.history.csv", rows)
    assert "holds the weights of its last epoch" not in texts(started("views/history.py"))
    (app_env / "petseg.run.json").write_text(json.dumps({"config": {"keep": "last"}}))
    shown = texts(started("views/history.py"))
    assert f"holds the weights of its last epoch, {len(rows)} " in shown and best_epoch(rows)["epoch"] != len(rows)


def test_missing_model_is_explained(app_env):
    (app_env / "petseg.keras").unlink()
    app = started()
    assert "No model file" in app.error[0].value and "git checkout" in app.error[0].value


def test_corrupt_model_is_explained(app_env):
    (app_env / "petseg.keras").write_bytes(b"PK\x03\x04 definitely not a model")
    app = started()
    assert any("cannot be loaded" in e.value for e in app.error)


def test_model_with_wrong_shapes_is_explained(app_env):
    import keras

    inputs = keras.Input((32, 32, 3))
    keras.Model(inputs, keras.layers.Conv2D(2, 1, activation="softmax")(inputs)).save(app_env / "petseg.keras")
    app = started()
    assert any("cannot be loaded" in e.value and "expected output" in e.value for e in app.error)


def test_same_stem_uploads_each_get_their_own_downloads_and_the_zip(app_env):
    """x.jpg and x.png used to share one result slot: no ZIP button, two of four downloads lost."""
    app = started()
    photos = [
        ("x.jpg", jpeg_bytes(real_pet(64, 48)), "image/jpeg"),
        ("x.png", jpeg_bytes(real_pet(40, 40)), "image/png"),
    ]
    app.file_uploader(key="uploads").set_value(photos).run()
    assert not app.exception, app.exception
    labels = [button.label for button in app.get("download_button")]
    assert labels.count("Download label map") == 2 and "Download all 2 results (ZIP)" in labels
    keys = {button.key for button in app.get("download_button")}
    assert {"download-0-x.jpg_mask.png", "download-1-x.png_mask.png", "download-1-x.png_cutout.png"} <= keys


def test_reruns_keep_tensorflows_compiled_kernels(app_env, monkeypatch):
    """Streamlit calls keras.backend.clear_session() after every run, which clears TensorFlow's
    kernel cache: the first prediction of each rerun then took 110-440 ms instead of 12-30 ms.
    The app turns that hook off; this fails if it stops doing so, or if Streamlit moves the hook."""
    import inspect

    from streamlit.runtime.scriptrunner import script_runner
    from tensorflow.python.eager import context

    assert "_clean_problem_modules" in inspect.getsource(script_runner.ScriptRunner._run_script)
    cleared = []
    monkeypatch.setattr(context.Context, "clear_kernel_cache", lambda self: cleared.append(1))
    app = started()
    app.file_uploader(key="uploads").set_value(
        [("cat.jpg", jpeg_bytes(synthetic_pet(64, 48, seed=1)[0]), "image/jpeg")]
    ).run()
    app.run()
    assert not app.exception, app.exception
    assert texts(app).count("**Pet share**") == 1
    assert cleared == []


def test_a_second_model_is_offered_beside_the_default_and_used_once_chosen(app_env, tiny_model_path):
    """The fast tier ships as models/petseg-lean.keras beside the default."""
    shutil.copy(tiny_model_path, app_env / "petseg-lean.keras")  # untrained: its masks differ from the default's
    app = started()
    chooser = app.sidebar.selectbox(key="model")
    assert chooser.options == ["petseg (default) · val. mIoU 0.400", "petseg-lean"] and chooser.value == "petseg"
    app.file_uploader(key="uploads").set_value([("cat.jpg", jpeg_bytes(real_pet(64, 48)), "image/jpeg")]).run()
    default_share = re.findall(r"\*\*Pet share\*\* ([\d.]+%)", texts(app))
    app.sidebar.selectbox(key="model").set_value("petseg-lean").run()
    assert not app.exception, app.exception
    assert "petseg-lean.keras" in " ".join(m.value for m in app.sidebar.markdown)
    assert "No validation metrics saved beside this model." in [c.value for c in app.sidebar.caption]
    lean_share = re.findall(r"\*\*Pet share\*\* ([\d.]+%)", texts(app))
    assert len(lean_share) == len(default_share) == 1 and lean_share != default_share
    assert "Made by petseg-lean" in texts(app)


def test_results_name_the_model_that_made_them_with_its_one_line_card(app_env):
    (app_env / "petseg.card.txt").write_text("The default: the fastest model.\n")
    app = started()
    assert [info.value for info in app.sidebar.info] == ["The default: the fastest model."]
    photos = [
        (f"{name}.jpg", jpeg_bytes(synthetic_pet(64, 48, seed=i)[0]), "image/jpeg") for i, name in enumerate("ab")
    ]
    app.file_uploader(key="uploads").set_value(photos).run()
    made_by = "Made by petseg (validation mean IoU 0.400): The default: the fastest model."
    captions = [c.value for c in app.caption]
    assert captions.count(made_by) == 1 and captions.count("Model: petseg") == 2  # the sentence once per page


def test_the_scripts_streamlit_runs_hold_no_stray_strings_it_would_show():
    """Streamlit's magic writes a bare string in a page script onto the page (the gallery once
    opened with its sort table's docstring); only the module docstring is skipped."""
    import ast
    from pathlib import Path

    dashboard = Path(__file__).resolve().parent.parent / "dashboard"
    scripts = [dashboard / "app.py", *sorted((dashboard / "views").glob("*.py"))]
    stray = [
        f"{script.name}:{node.lineno}"
        for script in scripts
        for index, node in enumerate(ast.parse(script.read_text()).body)
        if index > 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    ]
    assert len(scripts) >= 4 and stray == [], f"bare strings Streamlit would display: {stray}; make them comments"


def test_a_photo_without_a_pet_offers_no_empty_cut_out(app_env):
    from PIL import Image

    blank = Image.new("RGB", (96, 64), (128, 128, 128))
    app = started()
    app.file_uploader(key="uploads").set_value([("wall.jpg", jpeg_bytes(blank), "image/jpeg")]).run()
    assert not app.exception, app.exception
    assert "No cat or dog found" in texts(app)
    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Download coloured mask", "Download overlay", "Download label map"]


def test_a_large_photo_says_its_downloads_take_seconds(app_env):
    from PIL import Image

    large = Image.fromarray(np.asarray(synthetic_pet(120, 90, seed=3)[0])).resize((2400, 1800))
    app = started()
    app.file_uploader(key="uploads").set_value([("big.jpg", jpeg_bytes(large), "image/jpeg")]).run()
    assert not app.exception, app.exception
    assert "Each download of this 4.3 MP photo is made when you click it" in texts(app)  # 2400x1800, not "4 MP"
    app.segmented_control(key="view").set_value("Cut-out").run()
    assert not app.exception, app.exception
    caption = image_captions(app)[0]  # the view's matte is made at screen size; the downloads at 2400x1800
    assert caption.endswith("shown at 1024×768, downloads at the photo's full size)"), caption
    app.file_uploader(key="uploads").set_value(
        [("small.jpg", jpeg_bytes(synthetic_pet(64, 48, seed=1)[0]), "image/jpeg")]
    ).run()
    assert "Each download of this" not in texts(app) and "shown at" not in image_captions(app)[0]
    assert app.segmented_control(key="refine").options == ["Matting (fur; 2-4 s)", "Fast (about 2 s)"]


def test_a_camera_photo_is_segmented_like_an_upload(app_env):
    app = started()
    assert not app.get("camera_input")  # nothing asks for the camera until the person wants it
    app.toggle(key="use_camera").set_value(True).run()
    assert len(app.get("camera_input")) == 1
    app.camera_input(key="camera").set_value(("shot.jpg", jpeg_bytes(synthetic_pet(64, 48, seed=2)[0]), "image/jpeg"))
    app.run()
    assert not app.exception, app.exception
    assert texts(app).count("**Pet share**") == 1
    keys = {button.key for button in app.get("download_button")}
    assert "download-0-camera_mask.png" in keys  # named like an upload called camera.jpg


def test_two_models_are_compared_on_a_photo_and_in_the_gallery(app_env, tiny_model_path):
    shutil.copy(tiny_model_path, app_env / "petseg-lean.keras")  # untrained: it disagrees with the default
    app = started()
    assert app.sidebar.selectbox(key="compare_with").options == ["(no comparison)", "petseg-lean"]
    app.file_uploader(key="uploads").set_value([("cat.jpg", jpeg_bytes(real_pet(64, 48)), "image/jpeg")]).run()
    assert not any(caption.startswith("Where they differ") for caption in image_captions(app))
    app.sidebar.selectbox(key="compare_with").set_value("petseg-lean").run()
    assert not app.exception, app.exception
    captions = image_captions(app)
    assert "Mask: petseg" in captions and "Mask: petseg-lean" in captions
    differ = next(caption for caption in captions if caption.startswith("Where they differ (magenta): "))
    assert float(differ.split(": ")[1].split("%")[0]) > 0

    app.switch_page("views/gallery.py").run()
    app.selectbox(key="gallery_compare_with").set_value("petseg-lean").run()
    assert not app.exception, app.exception
    rows = [c.value for c in app.caption if " vs " in c.value and "pet IoU" in c.value]
    assert rows, texts(app)
    differences = [abs(float(row.split("petseg-lean ")[1].split(")")[0])) for row in rows]
    assert differences == sorted(differences, reverse=True)  # the largest difference first


def test_after_an_upload_the_other_sources_fold_away_so_the_result_comes_first(app_env):
    app = started()
    sources = next(e for e in app.expander if e.label.startswith("…or take a photo"))
    assert sources.proto.expanded  # nothing uploaded: the examples and the camera are in view
    app.file_uploader(key="uploads").set_value(
        [("cat.jpg", jpeg_bytes(synthetic_pet(64, 48, seed=1)[0]), "image/jpeg")]
    ).run()
    sources = next(e for e in app.expander if e.label.startswith("…or take a photo"))
    assert not sources.proto.expanded
    assert image_captions(app)[0] == "Photo · Mask · Overlay"  # one picture: side by side on a phone too


def test_touch_up_marks_apply_undo_and_clear_on_the_cut_out(app_env, monkeypatch):
    from core.inference.marks import Mark
    from core.inference.predict import Segmenter
    from dashboard.touchup import MARKS_STATE, photo_key

    model_calls, predict = [], Segmenter.predict_arrays
    counted = lambda self, *args, **kwargs: model_calls.append(1) or predict(self, *args, **kwargs)  # noqa: E731
    monkeypatch.setattr(Segmenter, "predict_arrays", counted)
    data = jpeg_bytes(real_pet(90, 60))  # a real cat: the cut-out and its downloads are offered
    app = started()
    app.file_uploader(key="uploads").set_value([("cat.jpg", data, "image/jpeg")]).run()
    app.segmented_control(key="view").set_value("Cut-out").run()
    assert not app.exception, app.exception
    assert "No marks yet." in texts(app) and not app.get("plotly_chart")  # a picture: a swipe scrolls a phone
    assert SURFACE_CAPTION in image_captions(app)
    app.toggle(key="touchup-draw-0").set_value(True).run()
    assert len(app.get("plotly_chart")) == 1  # Draw on: the photo to draw on
    app.toggle(key="touchup-draw-0").set_value(False).run()
    before, predictions = image_urls(app)[0], len(model_calls)
    surface_before = image_urls(app)[1]
    corner = Mark("pet", ((0.0, 0.0), (20.0, 0.0), (20.0, 15.0), (0.0, 15.0)))
    app.session_state[MARKS_STATE] = {photo_key("cat.jpg", data): [corner, corner]}
    app.run()
    assert "2 mark(s) on this photo" in texts(app) and image_captions(app)[0].endswith("2 touch-up mark(s))")
    assert image_urls(app)[0] != before  # the corner is pet now
    assert image_urls(app)[1] != surface_before  # the marks and the new outline are drawn on the surface
    assert predictions >= 1 and len(model_calls) == predictions  # a correction redoes the matte, never the model
    assert "download-0-cat_cutout.png" in {b.key for b in app.get("download_button")}
    app.button(key="touchup-undo-0").click().run()
    assert "1 mark(s) on this photo" in texts(app)
    app.selectbox(key="background").set_value("Blurred photo").run()  # marks survive a change of background
    assert "1 mark(s) on this photo" in texts(app)
    app.button(key="touchup-clear-0").click().run()
    assert "No marks yet." in texts(app)
    other = jpeg_bytes(synthetic_pet(90, 60, seed=2)[0])
    app.session_state[MARKS_STATE] = {photo_key("cat.jpg", data): [corner]}
    app.file_uploader(key="uploads").set_value([("cat.jpg", other, "image/jpeg")]).run()
    assert "No marks yet." in texts(app)  # a new upload (same name, other photo) starts without marks


def test_a_lasso_or_box_selection_becomes_a_mark_in_photo_pixels():
    from dashboard.touchup import selection_to_mark

    lasso = {"lasso": [{"x": [1, 5, 5], "y": [2, 2, 8]}], "box": []}
    assert selection_to_mark(lasso, 2.0, "pet").points == ((2.0, 4.0), (10.0, 4.0), (10.0, 16.0))
    box = {"box": [{"x": [1, 3], "y": [2, 6]}]}
    assert selection_to_mark(box, 1.0, "background").points == ((1, 2), (3, 2), (3, 6), (1, 6))
    assert selection_to_mark({"lasso": [], "box": []}, 1.0, "pet") is None


def test_a_clip_upload_plays_beside_its_cut_out_with_a_frame_scrubber_and_downloads(app_env, tmp_path):
    from tests.test_video import make_clip

    clip, _ = make_clip(tmp_path, "pan", frames=6)
    app = started()
    app.file_uploader(key="uploads").set_value([("pan.mp4", clip.read_bytes(), "video/mp4")]).run()
    assert not app.exception, app.exception
    assert len(app.get("video")) == 2  # the original and the cut-out, side by side
    assert "Cut-out (6 frames in" in texts(app) and "Touch-up is for photos" in texts(app)
    keys = {button.key for button in app.get("download_button")}
    assert {"clip-download-0-cutout", "clip-download-0-alpha", "clip-download-0-overlay"} <= keys
    first = image_urls(app)[0]
    app.slider(key="clip-frame-0").set_value(6).run()
    assert not app.exception and image_urls(app)[0] != first  # another frame and its mask
    assert image_captions(app)[0].startswith("Frame 6: the frame · its mask")
    broken = b"\x00\x00\x00\x18ftypisom" + bytes(100)
    app.file_uploader(key="uploads").set_value([("broken.mp4", broken, "video/mp4")]).run()
    assert not app.exception and any("Cannot cut out broken.mp4: not a video" in e.value for e in app.error)
