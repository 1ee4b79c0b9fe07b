"""Peak memory of the sensor encoder's forward with eager and SDPA attention at a long sequence.

Each backend runs in its own process: the encoder of a preset is built, one warm-up forward at a short sequence
settles the allocator, then one forward over `--channels` x `--patches` tokens. Printed: the process's peak
resident memory and how much the long forward added to it (CPU), or peak allocated memory (CUDA).

    python benchmarks/bench_attention_memory.py --preset base --channels 6 --patches 384   # 2,304 tokens
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe_machine, warn_if_busy  # noqa: E402
from modeling_slip import SlipConfig  # noqa: E402
from modeling_slip.sensor_encoder import SlipSensorEncoder  # noqa: E402


def sensor_inputs(channels: int, patches: int, patch_size: int, device: str) -> dict[str, torch.Tensor]:
    steps = patches * patch_size
    time = (torch.arange(1, steps + 1, dtype=torch.float32) / (steps + 1)).view(1, 1, patches, patch_size)
    return {
        "sensor_values": torch.randn(1, channels, patches, patch_size, device=device),
        "sensor_mask": torch.ones(1, channels, patches, patch_size, dtype=torch.bool, device=device),
        "sensor_time": time.expand(1, channels, patches, patch_size).contiguous().to(device),
        "patch_size": torch.tensor([patch_size], device=device),
    }


def peak_mib(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def run_case(args: argparse.Namespace) -> dict[str, float]:
    config = SlipConfig.from_preset(args.preset).sensor_config
    config._attn_implementation = args.backend
    encoder = SlipSensorEncoder(config).to(args.device).eval()
    patch_size = config.base_patch_size
    with torch.no_grad():
        encoder(**sensor_inputs(1, 2, patch_size, args.device))
        before = peak_mib(args.device)
        encoder(**sensor_inputs(args.channels, args.patches, patch_size, args.device))
    after = peak_mib(args.device)
    return {"peak_mib": after, "added_mib": after - before}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="base", choices=["tiny", "small", "base"])
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--patches", type=int, default=384, help="the reference's per-channel cap")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--backend", choices=["eager", "sdpa"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(run_case(args)))
        return
    warn_if_busy()
    results = {}
    for backend in ("sdpa", "eager"):
        command = [sys.executable, __file__, *sys.argv[1:], "--backend", backend]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[backend] = json.loads(output.strip().splitlines()[-1])
    print(describe_machine())
    print(f"{args.preset} sensor encoder, 1 series of {args.channels * args.patches} tokens, {args.device}")
    print("| attention | peak MiB | added by the long forward MiB |")
    print("|---|---:|---:|")
    for backend, result in results.items():
        print(f"| {backend} | {result['peak_mib']:.0f} | {result['added_mib']:.0f} |")
    print(f"eager / sdpa peak: {results['eager']['peak_mib'] / results['sdpa']['peak_mib']:.2f}x")


if __name__ == "__main__":
    main()
