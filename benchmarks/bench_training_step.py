"""Training-step throughput on a real corpus batch: padded against padding-free (packed), in one run.

Draws batches from a freshly built SLIP corpus (the `cpu-quickstart` recipe's mix: semantic captions, 35 %
activity windows), collates them with `SlipPretrainingCollator` padded, with packed sensor tokens, and with packed
sensor tokens and captions, and times forward + backward + AdamW step of `SlipForConditionalGeneration` on each. The first batch's losses
are compared (they must agree to float tolerance). Each case runs in its own process, so its peak resident
memory is its own. Also reports how much of each padded batch is padding.

    python benchmarks/bench_training_step.py --preset small --batch-size 8 --steps 4
    python benchmarks/bench_training_step.py --preset tiny --batch-size 48 --steps 10 --attn eager
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe_machine, warn_if_busy  # noqa: E402

CASES = {"padded": (False, False), "sensor packed": (True, False), "sensor + captions packed": (True, True)}
"""Case -> (pack_sensor, pack_captions) of the collator."""


def build_batches(args: argparse.Namespace, case: str) -> tuple[list[dict], dict[str, float]]:
    from hub_datasets import load_corpus
    from modeling_slip import SlipConfig
    from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer
    from training_slip.collators import SlipPretrainingCollator
    from training_slip.pretraining import parse_source_weights
    from training_slip.recipes import recipe_arguments

    recipe = recipe_arguments("cpu-quickstart")
    corpus = load_corpus(
        cache_dir=args.cache_dir,
        size=args.corpus_size,
        seed=0,
        level_mix=(recipe["level_mix"],),
        source_weights=parse_source_weights(recipe["source_weights"]),
        univariate_ratio=recipe["univariate_ratio"],
    ).shuffle(seed=0)
    config = SlipConfig.from_preset(args.preset)
    vocab = min(4096, config.text_config.vocab_size)
    tokenizer = train_caption_tokenizer(corpus["caption"], vocab_size=vocab)
    processor = SlipProcessor(SlipFeatureExtractor(target_patches=args.target_patches), tokenizer)
    pack_sensor, pack_captions = CASES[case]
    collator = SlipPretrainingCollator(
        processor, max_text_length=args.max_text_length, pack_sensor=pack_sensor, pack_captions=pack_captions
    )
    rows = [corpus[i] for i in range(args.batch_size * (args.steps + args.warmup))]
    batches = [collator(rows[i : i + args.batch_size]) for i in range(0, len(rows), args.batch_size)]
    padded = SlipPretrainingCollator(processor, max_text_length=args.max_text_length, pack_sensor=False)(
        rows[: args.batch_size]
    )
    token_valid = padded["sensor_mask"].any(-1)
    padding = {
        "sensor_padding": 1 - float(token_valid.float().mean()),
        "caption_padding": 1 - float(padded["attention_mask"].float().mean()),
    }
    return batches, padding


def run_case(args: argparse.Namespace, case: str) -> dict[str, float]:
    """One case in this process: seconds per step, first-batch losses, peak RSS."""
    from modeling_slip import SlipConfig, SlipForConditionalGeneration

    torch.manual_seed(0)
    batches, padding = build_batches(args, case)
    config = SlipConfig.from_preset(args.preset, cross_attention_dropout=0.0)
    model = SlipForConditionalGeneration._from_config(config, attn_implementation=args.attn).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    losses = {}
    seconds = []
    for index, batch in enumerate(batches):
        start = time.perf_counter()
        output = model(**batch)
        output.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if index == 0:
            losses = {name: float(output[name]) for name in ("loss", "contrastive_loss", "caption_loss")}
        if index >= args.warmup:
            seconds.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds_per_step": sum(seconds) / len(seconds),
        "peak_rss_mib": peak / 2**10,
        "step_rss_growth_mib": (peak - before) / 2**10,
        **losses,
        **padding,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="tiny", choices=["tiny", "small", "base"])
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--corpus-size", type=int, default=1024)
    parser.add_argument("--target-patches", type=int, default=16, help="the cpu-quickstart recipe's")
    parser.add_argument("--max-text-length", type=int, default=128, help="the cpu-quickstart recipe's")
    parser.add_argument("--attn", default="sdpa", choices=["eager", "sdpa"])
    parser.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "slip-bench-corpus"))
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args, args.case)))
        return
    warn_if_busy()
    results = {}
    for case in CASES:
        completed = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--case", case],
            check=True,
            capture_output=True,
            text=True,
        )
        results[case] = json.loads(completed.stdout.strip().splitlines()[-1])
    padded = results["padded"]
    print(describe_machine())
    print(
        f"preset {args.preset}, batch {args.batch_size}, {args.attn}, {args.steps} timed steps after {args.warmup}; "
        f"padding in a padded batch: {padded['sensor_padding']:.0%} of sensor tokens, "
        f"{padded['caption_padding']:.0%} of caption positions"
    )
    print("| step | samples/s | s/step | peak RSS MiB | loss | contrastive | caption |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case, result in results.items():
        print(
            f"| {case} | {args.batch_size / result['seconds_per_step']:.2f} | {result['seconds_per_step']:.3f} | "
            f"{result['peak_rss_mib']:.0f} | {result['loss']:.6f} | {result['contrastive_loss']:.6f} | "
            f"{result['caption_loss']:.6f} |"
        )
    for case, result in list(results.items())[1:]:
        print(f"{case} / padded samples/s: {padded['seconds_per_step'] / result['seconds_per_step']:.2f}x")
    print(f"python {platform.python_version()}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
