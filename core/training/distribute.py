"""Choosing the tf.distribute strategy from the environment, as TensorFlow expects.

- `TF_CONFIG` describing a cluster with more than one task: `MultiWorkerMirroredStrategy`
  (the global batch is split across workers; only the chief writes the run's files).
- Several local GPUs: `MirroredStrategy`.
- Otherwise TensorFlow's default strategy.
`--strategy` overrides the automatic choice.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass
from typing import Any

from core.config import STRATEGIES
from core.errors import PetSegError

TF_CONFIG_HELP = (
    "see https://www.tensorflow.org/guide/distributed_training#setting_up_the_tf_config_environment_variable"
)
WORKAROUND_CHECKED_ON = ("3.15.",)
"""Keras versions whose private trainer functions `prepare_for_multi_worker` was checked against."""
PATCHED_SIGNATURES = {
    "reduce_per_replica": ["values", "strategy", "reduction"],
    "_collective_all_reduce_multi_worker": ["strategy"],
    "_is_per_replica_instance": ["obj"],
    "TensorFlowTrainer._symbolic_build": ["self", "iterator", "data_batch"],
    "TensorFlowTrainer._maybe_symbolic_build": ["self", "iterator", "data_batch"],
}
"""What the workaround calls or replaces in `keras.src.backend.tensorflow.trainer`, with its parameters."""


class DistributeError(PetSegError, ValueError):
    """A malformed TF_CONFIG, an unknown strategy, or a Keras the multi-worker workaround does not know."""


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
        return self.task_type == "chief" or (
            self.task_type == "worker" and self.task_index == 0 and not self.has_chief_task
        )

    def describe(self) -> str:
        return (
            f"strategy: {self.kind}, {self.workers} worker(s), "
            f"{self.strategy.num_replicas_in_sync} replica(s) in sync; "
            f"this process is {self.task_type} {self.task_index}{' (chief)' if self.is_chief else ''}"
        )


def cluster_config() -> dict:
    """TF_CONFIG, checked: valid JSON, and with a cluster, a task that names one of its members."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        config = json.loads(raw)
    except ValueError as error:
        raise DistributeError(f"TF_CONFIG is not valid JSON ({error}); {TF_CONFIG_HELP}") from None
    if not isinstance(config, dict):
        raise DistributeError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task'; {TF_CONFIG_HELP}")
    cluster = config.get("cluster") or {}
    if not isinstance(cluster, dict) or not all(isinstance(tasks, list) for tasks in cluster.values()):
        raise DistributeError(f"TF_CONFIG 'cluster' must map task types to lists of host:port; {TF_CONFIG_HELP}")
    if not cluster:
        return config
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise DistributeError(
            'TF_CONFIG has a cluster but no task: add "task": {"type": "worker", "index": N} for this process; '
            + TF_CONFIG_HELP
        )
    members = cluster.get(task["type"])
    if members is None:
        raise DistributeError(f"TF_CONFIG task type {task['type']!r} is not in the cluster ({', '.join(cluster)})")
    if not isinstance(task["index"], int) or not 0 <= task["index"] < len(members):
        raise DistributeError(
            f"TF_CONFIG task index {task['index']!r} is out of range: the cluster has {len(members)} "
            f"{task['type']} task(s), so the index must be 0 to {len(members) - 1}"
        )
    return config


def choose_strategy(name: str = "auto") -> Placement:
    if name not in STRATEGIES:
        raise DistributeError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    config = cluster_config()
    import tensorflow as tf

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

    check_keras_internals(trainer, keras.__version__)
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
        reduce_per_replica.petseg_original = original
        trainer.reduce_per_replica = reduce_per_replica
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=next(iter(dataset)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def check_keras_internals(trainer_module: Any, version: str) -> None:
    """Stop, saying what to do, if this Keras is not one the workaround was checked against or if
    what it patches has moved or changed its parameters."""
    advice = (
        "multi-worker training relies on a workaround for keras-team/keras#20585 "
        "(core/training/distribute.py); install the pinned Keras (pip install -r requirements.txt), "
        "or check whether that issue is fixed in this Keras and update the workaround"
    )
    if not version.startswith(WORKAROUND_CHECKED_ON):
        raise DistributeError(
            f"Keras {version} is not a version checked for this ({', '.join(WORKAROUND_CHECKED_ON)}x): {advice}"
        )
    for dotted, expected in PATCHED_SIGNATURES.items():
        target: Any = trainer_module
        for part in dotted.split("."):
            target = getattr(target, part, None)
        original = getattr(target, "petseg_original", target)
        if not callable(original):
            raise DistributeError(f"Keras {version} has no {dotted} any more: {advice}")
        parameters = list(inspect.signature(original).parameters)
        if parameters != expected:
            raise DistributeError(
                f"Keras {version} changed {dotted}({', '.join(parameters)}), expected ({', '.join(expected)}): {advice}"
            )


def check_same_resume_epoch(strategy: Any, finished: int, run_dir: Any) -> None:
    """Stop every worker with one message unless all resume after the same epoch.

    Workers that start from different epochs train different steps and fail later inside a
    collective with an unreadable error. The check all-reduces the sum and the sum of squares of
    `finished` over the replicas: both equal `n * finished` and `n * finished**2` only when every
    replica holds the same value (zero variance), and every worker sees the same verdict."""
    import tensorflow as tf

    value = tf.constant([finished, finished * finished], tf.float64)
    total = strategy.reduce("SUM", strategy.run(lambda: tf.identity(value)), axis=None).numpy()
    replicas = strategy.num_replicas_in_sync
    if total[0] != replicas * finished or total[1] != replicas * finished * finished:
        raise DistributeError(
            f"the workers found different resume states (this worker: after epoch {finished}, the mean: "
            f"{total[0] / replicas:g}): every worker resumes from {run_dir}/backup, written by the chief, so the "
            "run folder must be on a filesystem that all workers share (e.g. NFS); or start a new --out"
        )
