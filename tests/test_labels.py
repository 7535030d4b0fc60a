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


# Machado, Oliveira and Fernandes (2009), full severity, on linear RGB.
COLOUR_BLINDNESS = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def test_the_mask_colours_stay_apart_for_colour_blind_readers_and_show_on_both_themes():
    """Measured: the closest pair is 92 apart (of 255, linear RGB) under deuteranopia; against white the
    yellow border swatch has contrast 1.6 (the legend outlines its swatches), against Streamlit's dark
    background every colour has at least 4.1."""
    import numpy as np

    from core.data.labels import CLASS_COLOURS

    linear = np.where(
        CLASS_COLOURS / 255 <= 0.04045, CLASS_COLOURS / 255 / 12.92, ((CLASS_COLOURS / 255 + 0.055) / 1.055) ** 2.4
    )
    for name, matrix in COLOUR_BLINDNESS.items():
        seen = np.clip(linear @ np.array(matrix).T, 0, 1) * 255
        closest = min(np.linalg.norm(seen[i] - seen[j]) for i in range(3) for j in range(i + 1, 3))
        assert closest > 80, (name, closest)
    luminance = linear @ [0.2126, 0.7152, 0.0722]
    dark = 0.0056  # Streamlit's dark background #0E1117
    assert ((luminance + 0.05) / (dark + 0.05)).min() > 4.0
