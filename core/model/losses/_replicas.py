"""Sums over the replicas of a `tf.distribute` strategy, for losses that pool over the batch.

Under a strategy each replica sees part of the global batch, and Keras sums the replicas'
gradients. A loss pooled over the batch (the mean focal loss, the batch-pooled soft Dice) is
therefore computed from sums all-reduced across the replicas, so every replica knows the
global-batch loss, and each returns its share of it (`1 / replicas`). The gradient of an
all-reduce is an all-reduce, so the summed gradients are exactly those of the global-batch loss
on one replica. With one replica (no strategy) these are identities.
"""

from __future__ import annotations


def _replica_context():
    import tensorflow as tf

    return tf.distribute.get_replica_context()


def replica_count() -> int:
    context = _replica_context()
    return 1 if context is None else int(context.num_replicas_in_sync)


def replica_sum(value):
    """`value` summed over the replicas in sync; `value` itself with one replica or outside a step."""
    context = _replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce("SUM", value)
