"""Measurements shared by the benchmarks: FLOPs, training and inference throughput, latency."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def gflops_per_image(model) -> float:
    """Forward-pass GFLOP for one image, counted by TensorFlow's profiler on the frozen graph."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2_as_graph

    size = model.input_shape[1]
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, size, size, 3], tf.float32)
    )
    _, graph_def = convert_variables_to_constants_v2_as_graph(concrete)
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        options = (
            tf.compat.v1.profiler.ProfileOptionBuilder(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
            .with_empty_output()
            .build()
        )
        profile = tf.compat.v1.profiler.profile(
            graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options
        )
    return profile.total_float_ops / 1e9


def rate(step: Callable[[], int], seconds: float, warmup: int = 2, min_steps: int = 3) -> float:
    """Items per second of `step` (which returns how many items it processed), after warm-up."""
    for _ in range(warmup):
        step()
    done, steps, started = 0, 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - started < seconds:
        done += step()
        steps += 1
    return done / (time.perf_counter() - started)


def median_seconds(call: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def random_batch(size: int, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32),
        rng.integers(0, 3, (batch, size, size)).astype(np.uint8),
    )
