"""Named pretraining recipes set argument defaults that the command line overrides."""

import pytest
from transformers import HfArgumentParser

from training_slip.pretraining import DataArguments, ModelArguments
from training_slip.recipes import RECIPES, RecipeArguments, parse_with_recipe, recipe_arguments
from training_slip.trainer import SlipTrainingArguments


def parser() -> HfArgumentParser:
    return HfArgumentParser((RecipeArguments, ModelArguments, DataArguments, SlipTrainingArguments))


def test_recipe_sets_defaults_and_the_command_line_wins():
    recipe, model, data, training = parse_with_recipe(
        parser(), ["--recipe", "cpu-quickstart", "--max_steps", "7", "--output_dir", "/tmp/x"]
    )
    assert recipe.recipe == "cpu-quickstart"
    assert (model.preset, data.corpus_size, data.level_mix) == ("tiny", 24_000, "semantic")
    assert training.learning_rate == 3e-4 and training.per_device_train_batch_size == 48
    assert training.max_steps == 7 and training.output_dir == "/tmp/x"


def test_default_recipe_and_no_recipe():
    # The paper's recipe trains in bf16, which TrainingArguments refuses on a CPU-only machine.
    _, model, data, training = parse_with_recipe(parser(), ["--bf16", "False"], default_recipe="paper")
    assert model.preset == "base" and data.max_text_length == 768 and training.num_train_epochs == 40
    _, model, _, training = parse_with_recipe(parser(), ["--output_dir", "/tmp/x"])
    assert (
        model.preset == "tiny" and training.learning_rate == 2e-4
    )  # the arguments' own (paper optimiser) defaults


def test_every_recipe_names_only_known_arguments():
    for name in RECIPES:
        parse_with_recipe(parser(), ["--recipe", name, "--bf16", "False"])


def test_unknown_recipes_and_fields_are_refused():
    with pytest.raises(ValueError, match="Unknown recipe"):
        recipe_arguments("fast")
    with pytest.raises(ValueError, match="does not take"):
        parse_with_recipe(HfArgumentParser((RecipeArguments, ModelArguments)), ["--recipe", "cpu-quickstart"])
