"""Throughput and memory of SLIP for a preset and batch shape, per attention implementation.

Prints a Markdown table with, for each attention backend (eager, sdpa, and flash_attention_2 when flash-attn
is installed): sensor-encoder forward series/s and valid tokens/s, a full training step of
`SlipForConditionalGeneration` (contrastive + caption loss, backward, AdamW step) in samples/s, and peak memory
(CUDA: peak allocated per backend; CPU: the process's peak resident set so far), with the FLOPs of each counted by
`torch.utils.flop_counter` as achieved TFLOP/s and, on a GPU of known peak, model FLOPs utilisation (MFU). A second table compares a
training step that projects only the caption's target tokens to the vocabulary (the training default) with one
that computes the full logits; a third compares the FlexMLP patch embedder at the requested patch size with a fixed-patch embedder (the same residual MLP fed
base-size patches directly) on the same number of patches.

    python benchmarks/bench_model.py --preset tiny --batch-size 8 --channels 3 --length 512 --patch-size 16
    python benchmarks/bench_model.py --preset base --device cuda        # bf16 on CUDA by default
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers.utils import is_flash_attn_2_available  # noqa: E402

from benchmarks.machine import describe_machine, warn_if_busy  # noqa: E402
from modeling_slip import SlipConfig, SlipForConditionalGeneration  # noqa: E402
from modeling_slip.flex_mlp import NUM_PATCH_FEATURES, SlipFlexMLP  # noqa: E402
from modeling_slip.sensor_encoder import SlipSensorEncoder  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

DENSE_BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
"""Dense bf16/fp16 tensor-core peak of the SXM parts (NVIDIA datasheets): the denominator of MFU."""


class FixedPatchEmbedding(nn.Module):
    """The baseline: the FlexMLP's residual MLP with one fixed patch size (no input map, no grouping)."""

    def __init__(self, config):
        super().__init__()
        in_features = NUM_PATCH_FEATURES * config.base_patch_size
        self.hidden_layer = nn.Linear(in_features, 4 * config.hidden_size)
        self.activation = nn.SiLU()
        self.output_layer = nn.Linear(4 * config.hidden_size, config.hidden_size)
        self.residual_layer = nn.Linear(in_features, config.hidden_size)

    def forward(self, values: torch.Tensor, mask: torch.Tensor, time_: torch.Tensor) -> torch.Tensor:
        features = torch.cat((values.masked_fill(~mask, 0.0), mask.to(values.dtype), time_), dim=-1)
        return self.output_layer(self.activation(self.hidden_layer(features))) + self.residual_layer(features)


def sensor_batch(
    batch: int, channels: int, length: int, patch_size: int, device, dtype
) -> dict[str, torch.Tensor]:
    """Processor-shaped inputs for `batch` fully observed series of `length` steps; time = (t + 1) / (L + 1)."""
    patches = -(-length // patch_size)
    steps = torch.arange(patches * patch_size, device=device, dtype=torch.float32)
    mask = (steps < length).view(1, 1, patches, patch_size).expand(batch, channels, patches, patch_size)
    values = torch.randn(batch, channels, patches, patch_size, device=device) * mask
    time_ = ((steps + 1) / (length + 1)).view(1, 1, patches, patch_size).expand_as(values)
    return {
        "sensor_values": values.to(dtype),
        "sensor_mask": mask.contiguous(),
        "sensor_time": time_.to(dtype).contiguous(),
        "patch_size": torch.full((batch,), patch_size, device=device),
    }


def timed(fn: Callable[[], object], steps: int, warmup: int, device: torch.device) -> float:
    """Mean seconds per call after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # Linux reports KiB


def reset_peak(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def counted_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call, counted per operator (matmuls and attention kernels, forward and backward)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def peak_tflops(args, device: torch.device, dtype: torch.dtype) -> float | None:
    """The MFU denominator: `--peak-tflops`, else the datasheet peak of a known GPU in bf16/fp16."""
    if args.peak_tflops:
        return args.peak_tflops
    if device.type != "cuda" or dtype == torch.float32:
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for gpu, peak in DENSE_BF16_PEAK_TFLOPS.items() if gpu in name), None)


def encoder_forward(config: SlipConfig, inputs: dict, device, dtype) -> Callable[[], object]:
    encoder = SlipSensorEncoder(config.sensor_config).to(device=device, dtype=dtype).eval()

    def forward() -> None:
        with torch.no_grad():
            encoder(**inputs)

    return forward


def train_step(
    args, config: SlipConfig, inputs: dict, device, dtype, skip_logits: bool = True
) -> Callable[[], None]:
    """One optimisation step of the CoCa model: both losses, backward, AdamW. The last `--caption-padding`
    share of each caption is padding, as in a batch of captions of mixed length."""
    model = SlipForConditionalGeneration(config).to(device=device, dtype=dtype).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    input_ids = torch.randint(
        3, config.text_config.vocab_size, (args.batch_size, args.caption_length), device=device
    )
    attention_mask = torch.ones_like(input_ids)
    attention_mask[:, args.caption_length - round(args.caption_padding * args.caption_length) :] = 0

    def step() -> None:
        model(
            **inputs, input_ids=input_ids, attention_mask=attention_mask, skip_logits=skip_logits
        ).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def bench_attention(args, config: SlipConfig, implementation: str, device, dtype) -> dict[str, float]:
    config._attn_implementation = implementation
    inputs = sensor_batch(args.batch_size, args.channels, args.length, args.patch_size, device, dtype)
    valid_tokens = int(inputs["sensor_mask"].any(-1).sum())
    reset_peak(device)
    encode = encoder_forward(config, inputs, device, dtype)
    encode_s = timed(encode, args.steps, args.warmup, device)
    encode_flops = counted_flops(encode)
    reset_peak(device)
    step = train_step(args, config, inputs, device, dtype)
    step_s = timed(step, args.steps, args.warmup, device)
    peak_mib = peak_memory_mib(device)
    step_flops = counted_flops(step)
    return {
        "series_per_s": args.batch_size / encode_s,
        "tokens_per_s": valid_tokens / encode_s,
        "encoder_tflops": encode_flops / encode_s / 1e12,
        "train_samples_per_s": args.batch_size / step_s,
        "train_tflops": step_flops / step_s / 1e12,
        "peak_mib": peak_mib,
    }


def bench_caption_logits(args, config: SlipConfig, device, dtype) -> list[tuple[str, float, float]]:
    """Training step with the vocabulary projection at the target tokens only (the training default) vs full
    (B, T, vocab) logits: (name, samples/s, peak MiB)."""
    inputs = sensor_batch(args.batch_size, args.channels, args.length, args.patch_size, device, dtype)
    rows = []
    for name, skip in (("full logits", False), ("target tokens only", True)):
        reset_peak(device)
        seconds = timed(
            train_step(args, config, inputs, device, dtype, skip_logits=skip), args.steps, args.warmup, device
        )
        rows.append((name, args.batch_size / seconds, peak_memory_mib(device)))
    return rows


def bench_patch_embedding(args, config: SlipConfig, device, dtype) -> list[tuple[str, float]]:
    sensor_config = config.sensor_config
    base = sensor_config.base_patch_size
    patches = -(-args.length // args.patch_size)
    flex = SlipFlexMLP(sensor_config).to(device=device, dtype=dtype).eval()
    fixed = FixedPatchEmbedding(sensor_config).to(device=device, dtype=dtype).eval()
    at_size = sensor_batch(args.batch_size, args.channels, args.length, args.patch_size, device, dtype)
    at_base = sensor_batch(args.batch_size, args.channels, patches * base, base, device, dtype)
    fixed_inputs = (at_base["sensor_values"], at_base["sensor_mask"], at_base["sensor_time"])
    with torch.no_grad():
        results = [
            (
                f"fixed-patch MLP (S={base})",
                timed(lambda: fixed(*fixed_inputs), args.steps, args.warmup, device),
            ),
            (
                f"FlexMLP at base size (S={base})",
                timed(lambda: flex(**at_base), args.steps, args.warmup, device),
            ),
        ]
        if args.patch_size != base:
            flex_s = timed(lambda: flex(**at_size), args.steps, args.warmup, device)
            results.append((f"FlexMLP resized (S={args.patch_size})", flex_s))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="tiny", choices=["tiny", "small", "base"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--length", type=int, default=512, help="time steps per series")
    parser.add_argument("--patch-size", type=int, default=16)
    parser.add_argument("--caption-length", type=int, default=32, help="caption tokens per sample")
    parser.add_argument(
        "--caption-padding", type=float, default=0.45, help="padded share of each caption (quickstart: ~0.45)"
    )
    parser.add_argument("--steps", type=int, default=5, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="default: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--attn", nargs="+", help="attention implementations (default: eager sdpa [flash])")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="peak TFLOP/s for MFU (default: datasheet bf16 peak of H100/H200/A100)",
    )
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    dtype = DTYPES[args.dtype] if args.dtype else (torch.bfloat16 if device.type == "cuda" else torch.float32)
    implementations = args.attn or ["eager", "sdpa"] + (
        ["flash_attention_2"] if is_flash_attn_2_available() else []
    )
    config = SlipConfig.from_preset(args.preset)
    if args.patch_size > config.sensor_config.max_patch_size:
        parser.error(f"--patch-size must be <= {config.sensor_config.max_patch_size} for this preset")
    if not 0.0 <= args.caption_padding < 1.0:
        parser.error(f"--caption-padding must lie in [0, 1), got {args.caption_padding}")
    torch.manual_seed(0)
    warn_if_busy()

    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    patches = -(-args.length // args.patch_size)
    print(
        f"preset={args.preset} batch={args.batch_size} channels={args.channels} length={args.length} "
        f"patch_size={args.patch_size} ({args.channels * patches} tokens/series) caption={args.caption_length} "
        f"dtype={str(dtype).removeprefix('torch.')} device={machine} threads={torch.get_num_threads()} "
        f"torch={torch.__version__}"
    )
    print(describe_machine() + "\n")
    memory_label = "peak allocated MiB" if device.type == "cuda" else "peak RSS MiB (process)"
    peak = peak_tflops(args, device, dtype)
    print(
        "| attention | encoder series/s | encoder tokens/s | encoder TFLOP/s | train step samples/s | "
        f"train step TFLOP/s | train step MFU | {memory_label} |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for implementation in implementations:
        row = bench_attention(args, config, implementation, device, dtype)
        mfu = f"{100 * row['train_tflops'] / peak:.1f}% of {peak:.0f}" if peak else "n/a"
        print(
            f"| {implementation} | {row['series_per_s']:.1f} | {row['tokens_per_s']:.0f} | "
            f"{row['encoder_tflops']:.2f} | {row['train_samples_per_s']:.2f} | {row['train_tflops']:.2f} | "
            f"{mfu} | {row['peak_mib']:.0f} |"
        )

    print(f"\n| caption loss ({implementations[-1]}) | train step samples/s | {memory_label} |")
    print("|---|---:|---:|")
    for name, samples_per_s, peak in bench_caption_logits(args, config, device, dtype):
        print(f"| {name} | {samples_per_s:.2f} | {peak:.0f} |")

    print("\n| patch embedder | ms / batch | vs fixed |")
    print("|---|---:|---:|")
    timings = bench_patch_embedding(args, config, device, dtype)
    reference = timings[0][1]
    for name, seconds in timings:
        print(f"| {name} | {seconds * 1e3:.2f} | {100 * (seconds / reference - 1):+.0f}% |")


if __name__ == "__main__":
    main()
