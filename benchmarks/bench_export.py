"""Sensor-side inference on CPU: PyTorch eager, torch.compile and ONNX Runtime, measured in one run.

A randomly initialised model of the preset is exported with `modeling_slip.export_onnx`; the same processed batch
(`--batch` series of `--channels` x `--length` steps at 50 Hz) goes through `SlipSensorFeatures` in PyTorch (eager
and `torch.compile`) and through the ONNX graph in onnxruntime; series/s are the best of `--repeats` calls.

    python benchmarks/bench_export.py --preset tiny --batch 64
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe_machine, warn_if_busy  # noqa: E402
from modeling_slip import SlipConfig, SlipModel  # noqa: E402
from modeling_slip.export_onnx import export_onnx  # noqa: E402
from modeling_slip.sensor_export import SENSOR_OUTPUT_NAMES, SlipSensorFeatures  # noqa: E402
from modeling_slip.sensor_inputs import SENSOR_INPUT_KEYS  # noqa: E402
from processing_slip import SlipFeatureExtractor  # noqa: E402


def best_seconds(function: Callable[[], object], repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="tiny", choices=["tiny", "small", "base"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warn_if_busy()
    import onnxruntime

    torch.manual_seed(0)
    model = SlipModel(SlipConfig.from_preset(args.preset)).eval()
    rng = np.random.default_rng(0)
    series = rng.standard_normal((args.batch, args.channels, args.length)).astype(np.float32)
    batch = SlipFeatureExtractor()(series, freq="50Hz", return_tensors="pt")
    inputs = [batch[key] for key in SENSOR_INPUT_KEYS]
    eager = SlipSensorFeatures(model)
    compiled = torch.compile(SlipSensorFeatures(model))
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(f"{directory}/model")
        path = export_onnx(f"{directory}/model", f"{directory}/sensor.onnx")
        runtime = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {key: batch[key].numpy() for key in SENSOR_INPUT_KEYS}
        with torch.no_grad():
            timings = {
                "PyTorch eager": best_seconds(lambda: eager(*inputs), args.repeats),
                "torch.compile (inductor)": best_seconds(lambda: compiled(*inputs), args.repeats),
                "ONNX Runtime": best_seconds(
                    lambda: runtime.run(list(SENSOR_OUTPUT_NAMES), feed), args.repeats
                ),
            }
    print(describe_machine())
    tokens = int(batch["sensor_mask"].any(-1).sum())
    print(
        f"{args.preset} sensor side, {args.batch} series x {args.channels} ch x {args.length} steps ({tokens} tokens)"
    )
    print("| runtime | ms per batch | series/s | vs eager |")
    print("|---|---:|---:|---:|")
    for name, seconds in timings.items():
        ratio = timings["PyTorch eager"] / seconds
        print(f"| {name} | {seconds * 1e3:.1f} | {args.batch / seconds:.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
