"""Choosing the tf.distribute strategy from the environment, as TensorFlow expects.

- `TF_CONFIG` describing a cluster with more than one task: `MultiWorkerMirroredStrategy`
  (the global batch is split across workers; only the chief writes the run's files).
- Several local GPUs: `MirroredStrategy`.
- Otherwise TensorFlow's default strategy.
`--strategy` overrides the automatic choice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

STRATEGIES = ("auto", "default", "mirrored", "multi-worker")


@dataclass
class Placement:
    """The strategy, and this process's role in the cluster."""

    strategy: Any
    kind: str
    workers: int
    task_type: str
    task_index: int
    has_chief_task: bool = False

    @property
    def is_chief(self) -> bool:
        """TensorFlow's convention: the `chief` task, or worker 0 when the cluster names no chief."""
        return self.task_type == "chief" or (self.task_type == "worker" and self.task_index == 0 and not self.has_chief_task)

    def describe(self) -> str:
        return (
            f"strategy: {self.kind}, {self.workers} worker(s), {self.strategy.num_replicas_in_sync} replica(s) in sync; "
            f"this process is {self.task_type} {self.task_index}{' (chief)' if self.is_chief else ''}"
        )


def cluster_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ValueError("TF_CONFIG is not valid JSON; see https://www.tensorflow.org/guide/distributed_training") from None


def choose_strategy(name: str = "auto") -> Placement:
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    config = cluster_config()
    cluster = config.get("cluster", {})
    workers = sum(len(tasks) for kind, tasks in cluster.items() if kind in ("chief", "worker"))
    task = config.get("task", {})
    task_type, task_index = task.get("type", "worker"), int(task.get("index", 0))
    if name == "auto":
        if workers > 1:
            name = "multi-worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "multi-worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        kind = "MultiWorkerMirroredStrategy"
    elif name == "mirrored":
        strategy, kind, workers = tf.distribute.MirroredStrategy(), "MirroredStrategy", 1
    else:
        strategy, kind, workers = tf.distribute.get_strategy(), "default", 1
    return Placement(strategy, kind, max(1, workers), task_type, task_index, "chief" in cluster)


def prepare_for_multi_worker(model, dataset) -> None:
    """Work around Keras 3's broken `fit` under MultiWorkerMirroredStrategy (keras-team/keras#20585).

    Keras reduces the first distributed batch and every scalar log with `axis=0`, which fails
    across workers. We build the model from one local batch ourselves, skip Keras's own build,
    and reduce scalar logs over all replicas with `axis=None`. Remove once Keras fixes the issue.
    """
    import keras
    from keras.src.backend.tensorflow import trainer

    if not getattr(trainer.reduce_per_replica, "petseg_patched", False):
        original = trainer.reduce_per_replica

        def reduce_per_replica(values, strategy, reduction):
            if trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean"):
                def mean(value):
                    if not trainer._is_per_replica_instance(value):
                        return value
                    scalar = len(value.values[0].shape) == 0
                    return strategy.reduce("MEAN", value, axis=None if scalar else 0)

                return keras.tree.map_structure(mean, values)
            return original(values, strategy, reduction)

        reduce_per_replica.petseg_patched = True
        trainer.reduce_per_replica = reduce_per_replica
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=next(iter(dataset)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
