"""The data stage: the Oxford-IIIT Pet dataset (pairs, splits, tf.data), its download, label
encoding, safe image decoding, the bundled sample."""
