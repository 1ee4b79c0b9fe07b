"""Pretrain SLIP (contrastive + captioning) with `Trainer`.

CPU, tiny preset on a freshly built corpus:
    python examples/pretrain.py --recipe cpu-quickstart --output_dir runs/slip-tiny

One GPU / many GPUs / FSDP (see examples/accelerate_configs), the paper's recipe:
    accelerate launch --config_file examples/accelerate_configs/multi_gpu_ddp.yaml examples/pretrain.py \
        --recipe paper --text_model_name_or_path gemma-3-270m --output_dir runs/slip-base ...

Arguments: `--recipe` (`training_slip.recipes`), `ModelArguments`, `DataArguments` (training_slip.pretraining)
and `TrainingArguments` with the paper's optimiser defaults (`SlipTrainingArguments`). A JSON file of all
arguments works too.
"""

import sys

from transformers import HfArgumentParser

from training_slip.pretraining import DataArguments, ModelArguments, run_pretraining
from training_slip.recipes import RecipeArguments, parse_with_recipe
from training_slip.trainer import SlipTrainingArguments


def main() -> None:
    parser = HfArgumentParser((RecipeArguments, ModelArguments, DataArguments, SlipTrainingArguments))
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        _, model_args, data_args, training_args = parser.parse_json_file(sys.argv[1])
    else:
        _, model_args, data_args, training_args = parse_with_recipe(parser)
    run_pretraining(model_args, data_args, training_args)


if __name__ == "__main__":
    main()
