"""Pretrain SLIP (contrastive + captioning) with `Trainer`.

CPU, tiny preset on a freshly built corpus:
    python examples/pretrain.py --output_dir runs/slip-tiny --max_steps 300 --per_device_train_batch_size 32

One GPU / many GPUs / FSDP (see examples/accelerate_configs):
    accelerate launch --config_file examples/accelerate_configs/multi_gpu_ddp.yaml examples/pretrain.py \
        --preset base --text_model_name_or_path gemma-3-270m --bf16 --output_dir runs/slip-base ...

Arguments: `ModelArguments`, `DataArguments` (training_slip.pretraining) and `TrainingArguments` with the
paper's optimiser defaults (`SlipTrainingArguments`). A JSON file of all arguments works too.
"""

import sys

from transformers import HfArgumentParser

from training_slip.pretraining import DataArguments, ModelArguments, run_pretraining
from training_slip.trainer import SlipTrainingArguments


def main() -> None:
    parser = HfArgumentParser((ModelArguments, DataArguments, SlipTrainingArguments))
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(sys.argv[1])
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses()
    run_pretraining(model_args, data_args, training_args)


if __name__ == "__main__":
    main()
