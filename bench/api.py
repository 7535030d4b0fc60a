"""Throughput and latency of the HTTP API at 1, 4 and 16 concurrent clients on each runtime (OpenVINO,
the default, and Keras), against calling the `Segmenter` in-process one photo at a time (Keras), and
batching against one-photo model calls (`--max-batch 1`), all measured in this one run on this machine.

    python -m bench.api [--seconds 10] [--format mask] [--runtimes openvino keras]

Each request posts one bundled native-aspect photo (multipart) and receives the PNG of `--format`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from tests.api_server import api_server

PHOTOS = [
    path
    for path in sorted((Path(__file__).resolve().parents[1] / "samples" / "pets" / "images").glob("*.jpg"))
    if Image.open(path).size != (128, 128)  # the native-aspect photos (about 256 px), not the 128 px squares
][:6]
LEVELS = (1, 4, 16)


def in_process(seconds: float, kind: str) -> tuple[float, list[float]]:
    from core.inference.outputs import output_makers
    from core.inference.predict import Segmenter

    segmenter = Segmenter(runtime="keras").warm_up()
    latencies, started, index = [], time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        path = PHOTOS[index % len(PHOTOS)]
        index += 1
        begin = time.perf_counter()
        result = segmenter.segment(path.read_bytes())
        (make,) = output_makers(path.stem, result, formats=(kind,)).values()
        make()
        latencies.append(time.perf_counter() - begin)
    return len(latencies) / (time.perf_counter() - started), latencies


def over_http(server, clients: int, seconds: float, kind: str) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    for path in PHOTOS:  # warm-up: each photo once
        server.post_multipart(path.name, path.read_bytes(), f"?format={kind}")
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        nonlocal failures
        sent = 0
        while time.perf_counter() < deadline:
            path = PHOTOS[(index + sent) % len(PHOTOS)]
            sent += 1
            begin = time.perf_counter()
            answer = server.post_multipart(path.name, path.read_bytes(), f"?format={kind}")
            latencies.append(time.perf_counter() - begin)
            failures += answer.status != 200

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return len(latencies) / (time.perf_counter() - started), latencies, failures


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[round(share * 100) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--format", default="mask")
    parser.add_argument("--runtimes", nargs="+", default=["openvino", "keras"], choices=["openvino", "keras"])
    args = parser.parse_args()
    rows = []
    base_rate, base_latencies = in_process(args.seconds, args.format)
    rows.append(("in-process Segmenter (keras), one at a time", 1, base_rate, base_latencies, 0))
    for runtime in args.runtimes:
        runs = (
            (f"API on {runtime}, batching (default)", ()),
            (f"API on {runtime}, --max-batch 1", ("--max-batch", "1")),
        )
        for label, options in runs:
            with api_server("--runtime", runtime, *options) as server:
                for clients in LEVELS if not options else (16,):
                    rate, latencies, failures = over_http(server, clients, args.seconds, args.format)
                    rows.append((label, clients, rate, latencies, failures))
    print(f"format={args.format}, {len(PHOTOS)} photos of about 256 px, {args.seconds:.0f} s per row\n")
    print("| how | clients | photos/s | x in-process | p50 ms | p95 ms | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, clients, rate, latencies, failures in rows:
        print(
            f"| {label} | {clients} | {rate:.1f} | {rate / base_rate:.2f}x | "
            f"{percentile(latencies, 0.5) * 1000:.0f} | {percentile(latencies, 0.95) * 1000:.0f} | {failures} |"
        )
    print()
    at_16 = {}
    for runtime in args.runtimes:
        batched = next(row for row in rows if row[0] == f"API on {runtime}, batching (default)" and row[1] == 16)
        single = next(row for row in rows if row[0] == f"API on {runtime}, --max-batch 1")
        at_16[runtime] = batched[2]
        print(f"{runtime}: batching at 16 clients {batched[2] / single[2]:.2f}x the throughput of one-photo calls")
    if len(at_16) == 2:
        print(f"OpenVINO vs Keras at 16 clients: {at_16['openvino'] / at_16['keras']:.2f}x the photos/s")


if __name__ == "__main__":
    main()
