"""Throughput of SlipFeatureExtractor against a plain numpy reshape, measured in the same run.

The batch is realistic for pretraining: 256 series x 6 channels of up to 2,048 steps at 50 Hz, lengths
drawn between a quarter and the full length, 5% of the values missing (NaN). The baseline does the least any
patcher must do on the same data: left pad every series into one array, reshape it into patches of 32, and
take the NaN mask; it does no frequency parsing, policy, validation or normalisation.

    pip install -e .   # or PYTHONPATH=. from the repository root
    python benchmarks/bench_processing.py [--batch 256 --channels 6 --length 2048 --repeats 10]

Times are the best of `--repeats` calls; series/s and MB/s (float32 input values) follow the wall time, and
"x base" is the wall time over the baseline's. The machine, its threads and the load average are printed with
the figures, and a warning when the CPU was already busy.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe_machine, warn_if_busy  # noqa: E402
from processing_slip import SlipFeatureExtractor  # noqa: E402


def make_batch(batch: int, channels: int, length: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    series = []
    for steps in rng.integers(length // 4, length + 1, size=batch):
        values = rng.normal(size=(channels, steps)).astype(np.float32)
        values[rng.random(values.shape) < 0.05] = np.nan
        series.append(values)
    return series


def numpy_reshape_baseline(series: list[np.ndarray], patch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    channels = max(values.shape[0] for values in series)
    span = -(-max(values.shape[1] for values in series) // patch_size) * patch_size
    padded = np.full((len(series), channels, span), np.nan, dtype=np.float32)
    for row, values in enumerate(series):
        padded[row, : values.shape[0], span - values.shape[1] :] = values
    patches = padded.reshape(len(series), channels, span // patch_size, patch_size)
    mask = ~np.isnan(patches)
    return np.where(mask, patches, 0.0), mask


def best_times(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds over `repeats` calls (after one warm-up call). The best of
    several runs is the least disturbed by other processes on a shared machine."""
    function()
    wall, cpu = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--length", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    warn_if_busy()

    series = make_batch(args.batch, args.channels, args.length)
    megabytes = sum(values.nbytes for values in series) / 1e6
    extractor = SlipFeatureExtractor()
    cases = {
        "numpy reshape baseline": lambda: numpy_reshape_baseline(series),
        "SlipFeatureExtractor (np)": lambda: extractor(series, freq="50Hz"),
        "SlipFeatureExtractor (pt)": lambda: extractor(series, freq="50Hz", return_tensors="pt"),
        "  + normalization stats": lambda: extractor(
            series, freq="50Hz", return_tensors="pt", return_normalization_stats=True
        ),
    }
    # The baseline is timed first: an extractor call before it changes the allocator's state and with it the
    # baseline's page faults, in either direction.
    times = {name: best_times(function, args.repeats) for name, function in cases.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shape = extractor(series, freq="50Hz")["sensor_values"].shape
    print(describe_machine())
    print(
        f"{args.batch} series x {args.channels} channels x <= {args.length} steps, {megabytes:.1f} MB float32"
    )
    print(f"output sensor_values {tuple(shape)}")
    print(f"{'method':<28}{'wall ms':>9}{'CPU ms':>9}{'series/s':>10}{'MB/s':>8}{'x base':>8}")
    base = times["numpy reshape baseline"][0]
    for name, (wall, cpu) in times.items():
        print(
            f"{name:<28}{wall * 1e3:>9.1f}{cpu * 1e3:>9.1f}{args.batch / wall:>10.0f}{megabytes / wall:>8.1f}"
            f"{wall / base:>8.2f}"
        )


if __name__ == "__main__":
    main()
