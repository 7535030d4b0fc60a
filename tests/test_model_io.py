"""Model files and run records: the shipped form round-trips, records are read one way."""

import json

import numpy as np

from core.model.model_io import (
    RUN_RECORD,
    load_model,
    read_run_record,
    run_config,
    save_for_inference,
    save_for_shipping,
    write_run_record,
)
from tests.test_fold import batch_norms, trained_looking


def test_shipping_folds_batch_norms_and_keeps_the_predictions(tmp_path):
    model = trained_looking({})
    images = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    save_for_inference(model, tmp_path / "inference.keras")
    save_for_shipping(model, tmp_path / "shipped.keras")
    inference, shipped = load_model(tmp_path / "inference.keras"), load_model(tmp_path / "shipped.keras")
    assert batch_norms(inference) == batch_norms(model) > 0 and batch_norms(shipped) == 0
    expected = model(images, training=False).numpy()
    np.testing.assert_array_equal(inference(images).numpy(), expected)
    np.testing.assert_allclose(shipped(images).numpy(), expected, atol=1e-5)
    assert (tmp_path / "shipped.keras").stat().st_size < (tmp_path / "inference.keras").stat().st_size
    assert not list(tmp_path.glob(".*"))  # no temporary left beside them


def test_run_records_are_read_one_way_and_a_broken_one_reads_as_none(tmp_path):
    assert run_config(tmp_path) is None
    write_run_record(tmp_path, {"config": {"keep": "last"}, "status": "running"})
    assert json.loads((tmp_path / RUN_RECORD).read_text())["status"] == "running"
    assert run_config(tmp_path) == {"keep": "last"}
    (tmp_path / RUN_RECORD).write_text("{cut short")
    assert read_run_record(tmp_path / RUN_RECORD) is None and run_config(tmp_path) is None
    (tmp_path / RUN_RECORD).write_text("[1, 2]")  # JSON, but not a record
    assert read_run_record(tmp_path / RUN_RECORD) is None
