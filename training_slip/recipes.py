"""Named pretraining recipes: every setting of a kind of run, in one place.

A recipe sets the defaults of the pretraining arguments (`ModelArguments`, `DataArguments`,
`SlipTrainingArguments`); anything given on the command line still wins. Without a recipe the arguments keep
their own defaults, which are the SLIP paper's optimiser (AdamW (0.9, 0.95), weight decay 0.05, lr 2e-4 cosine
with warmup, gradient clipping 1.0) on the tiny preset.

- `paper`: the SLIP paper's pretraining: base preset (pass the Gemma-3-270M text tower with
  `--text_model_name_or_path`), all three caption levels, captions of up to 768 tokens (the reference's
  `max_llm_len`), 40 epochs in bf16. Needs GPUs.
- `cpu-quickstart`: what `examples/quickstart.py` runs within 20 minutes on 2 CPU cores: the tiny preset for
  900 steps of 48 pairs from a 24,000-pair corpus of semantic captions, with activity windows over-represented
  because UCI-HAR is what it is evaluated on, and each series' channel count, length and rate given to the
  decoder, which can copy them into its captions (`series_metadata`, `copy_metadata`). `docs/experiments.md`
  records how these values were chosen.

    python examples/pretrain.py --recipe paper --text_model_name_or_path gemma-3-270m --output_dir runs/slip-base
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Any

from transformers import HfArgumentParser


@dataclass(frozen=True)
class PretrainingRecipe:
    """Defaults for the pretraining arguments, by field name."""

    description: str
    arguments: dict[str, Any]


RECIPES: dict[str, PretrainingRecipe] = {
    "paper": PretrainingRecipe(
        description="SLIP paper: base preset, all caption levels, 768-token captions, 40 epochs, bf16",
        arguments={
            "preset": "base",
            "level_mix": "statistical,structural,semantic",
            "max_text_length": 768,
            "num_train_epochs": 40,
            "bf16": True,
            # With Gemma-3-270M's width, packed captions' block-diagonal attention costs little next to the
            # padding they remove; with flash-attention it costs nothing.
            "pack_captions": True,
        },
    ),
    "cpu-quickstart": PretrainingRecipe(
        description="tiny preset, 900 steps on 2 CPU cores (examples/quickstart.py)",
        arguments={
            "output_dir": "outputs/quickstart",
            "preset": "tiny",
            # The decoder reads each series' channel count, length and rate, which its captions state, and can
            # copy their tokens.
            "series_metadata": True,
            "copy_metadata": True,
            "corpus_size": 24_000,
            "level_mix": "semantic",
            # More activity windows than the corpus default: the share decides how much of the encoder's budget
            # goes to the kind of data UCI-HAR tests.
            "source_weights": (
                "synthetic=0.35,hapt_train=0.35,daphnet=0.05,physiology=0.1,simulated_physiology=0.07,"
                "forecasting=0.08"
            ),
            # Every semantic caption fits whole: the activity label is what they end with.
            "max_text_length": 128,
            # Most activity windows keep all 6 channels, as UCI-HAR's do.
            "univariate_ratio": 0.25,
            # 16 patches per channel keep 48-pair batches fast on a CPU.
            "target_patches": 16,
            "preprocessing_num_workers": 2,
            # The steps the 20-minute budget buys once the corpus build and evaluation are paid (about 4 minutes on
            # a fresh machine, under 2 with the corpus and baselines cached); 900 x 48 pairs see the 24,000-pair
            # corpus about 1.8 times.
            "max_steps": 900,
            "per_device_train_batch_size": 48,
            "learning_rate": 3e-4,
            # PyTorch's fused AdamW runs on CPUs too, about 7 % faster per step than the per-parameter loop here.
            "optim": "adamw_torch_fused",
            "logging_steps": 50,
            "save_steps": 900,
            "save_total_limit": 1,
            "seed": 0,
        },
    ),
}


@dataclass
class RecipeArguments:
    """Which named recipe sets the defaults of the other arguments."""

    recipe: str | None = field(
        default=None,
        metadata={"help": f"Named settings ({', '.join(RECIPES)}); command-line values override them."},
    )


def recipe_arguments(name: str) -> dict[str, Any]:
    """The argument defaults of recipe `name`."""
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; choose one of {sorted(RECIPES)}.")
    return dict(RECIPES[name].arguments)


def parse_with_recipe(
    parser: HfArgumentParser, args: list[str] | None = None, default_recipe: str | None = None
) -> tuple[Any, ...]:
    """Parse `args` (default: the command line) into the parser's dataclasses, with the defaults of the recipe
    named by `--recipe` (or `default_recipe`). The parser must include `RecipeArguments`."""
    args = sys.argv[1:] if args is None else args
    named = argparse.ArgumentParser(add_help=False)
    named.add_argument("--recipe", default=default_recipe)
    name = named.parse_known_args(args)[0].recipe
    if name is not None:
        defaults = recipe_arguments(name)
        fields = {item.name for dtype in parser.dataclass_types for item in dataclasses.fields(dtype)}
        unknown = sorted(set(defaults) - fields)
        if unknown:
            raise ValueError(f"Recipe {name!r} sets {unknown}, which this command does not take.")
        parser.set_defaults(**defaults, recipe=name)
    return parser.parse_args_into_dataclasses(args)
