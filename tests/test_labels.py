"""The label encoding: class indices and trimap values, converted both ways, for arrays and tensors."""

import numpy as np

from core.data.labels import CLASS_COLOURS, CLASS_NAMES, NUM_CLASSES, Class, TrimapValue, to_class_index, to_trimap


def test_each_class_has_its_trimap_value_name_and_colour():
    assert [(c.name, int(c), int(TrimapValue[c.name])) for c in Class] == [
        ("PET", 0, 1),
        ("BACKGROUND", 1, 2),
        ("BORDER", 2, 3),
    ]
    assert CLASS_NAMES == ("pet", "background", "border") and NUM_CLASSES == 3 and CLASS_COLOURS.shape == (3, 3)


def test_conversions_round_trip_and_keep_the_dtype():
    trimap = np.array([[1, 2], [3, 2]], np.uint8)
    classes = to_class_index(trimap)
    assert classes.dtype == np.uint8 and classes.tolist() == [[0, 1], [2, 1]]
    assert np.array_equal(to_trimap(classes), trimap) and to_trimap(classes).dtype == np.uint8


def test_conversions_work_on_tensors():
    import tensorflow as tf

    assert to_trimap(tf.constant([0, 1, 2])).numpy().tolist() == [1, 2, 3]
