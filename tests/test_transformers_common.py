"""transformers' own common model and config tests (`ModelTesterMixin`, `ConfigTester`) on SLIP.

The test code comes from the source distribution of the installed transformers (`transformers_common`); this
module only supplies a model tester, as `tests/models/clip` does for CLIP, and says why each test that cannot
apply to SLIP is skipped.
"""

from __future__ import annotations

import re
import unittest

import pytest
import torch

from modeling_slip import SlipConfig, SlipForConditionalGeneration, SlipModel
from modeling_slip.configuration_slip import SlipSensorConfig, tiny_text_config
from transformers_common import load_common_tests

LOADED = load_common_tests()
if isinstance(LOADED, str):
    print(f"\nNOTICE: {LOADED}; the transformers common-test suite is skipped.\n")
    pytest.skip(LOADED, allow_module_level=True)
common, config_common = LOADED

# 7 samples: the eager-vs-SDPA tests use batches of 7 and would pad a smaller one with random (invalid) sensor inputs.
BATCH, CHANNELS, PATCHES, PATCH_SIZE, TEXT_LENGTH, VOCAB = 7, 2, 4, 8, 7, 99


class SlipModelTester:
    """Tiny SLIP: 2 sensor and 2 text layers, a batch that mixes patch sizes, padded channels and patches, and
    right-padded captions."""

    def __init__(self, parent: unittest.TestCase, batch_size: int = BATCH):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = TEXT_LENGTH
        self.is_training = True
        self.num_hidden_layers = 2
        self.hidden_size = 32
        self.num_attention_heads = 2
        self.vocab_size = VOCAB
        self.sensor_tokens = CHANNELS * PATCHES

    def get_config(self) -> SlipConfig:
        sensor = SlipSensorConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            base_patch_size=PATCH_SIZE,
            max_patch_size=16,
        )
        text = tiny_text_config(
            vocab_size=VOCAB,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=4,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            query_pre_attn_scalar=16,
            sliding_window=4,
        )
        return SlipConfig(
            sensor_config=sensor,
            text_config=text,
            split_layer=2,
            num_caption_queries=3,
            pooler_num_heads=2,
            cross_attention_num_heads=2,
            freeze_text_embeddings=False,
            num_frozen_text_layers=0,
        )

    def sensor_inputs(self) -> dict[str, torch.Tensor]:
        values = torch.randn(self.batch_size, CHANNELS, PATCHES, PATCH_SIZE)
        mask = torch.ones(self.batch_size, CHANNELS, PATCHES, PATCH_SIZE, dtype=torch.bool)
        patch_size = torch.full((self.batch_size,), PATCH_SIZE)
        patch_size[-1] = PATCH_SIZE // 2  # a smaller patch size, zero beyond it
        mask[-1, :, :, PATCH_SIZE // 2 :] = False
        mask[-1, -1] = False  # a padded channel
        mask[0, :, 0] = False  # a left-padded patch
        steps = torch.arange(1, PATCHES * PATCH_SIZE + 1, dtype=torch.float32) / (PATCHES * PATCH_SIZE + 1)
        time = steps.view(1, 1, PATCHES, PATCH_SIZE).expand(self.batch_size, CHANNELS, -1, -1) * mask
        return {
            "sensor_values": values * mask,
            "sensor_mask": mask,
            "sensor_time": time.contiguous(),
            "patch_size": patch_size,
        }

    def prepare_config_and_inputs_for_common(self) -> tuple[SlipConfig, dict[str, torch.Tensor]]:
        input_ids = torch.randint(3, VOCAB, (self.batch_size, TEXT_LENGTH))
        input_ids[:, 0] = 2
        attention_mask = torch.ones_like(input_ids)
        attention_mask[0, -2:] = 0
        input_ids[0, -2:] = 0
        return self.get_config(), {
            **self.sensor_inputs(),
            "input_ids": input_ids,
            "attention_mask": attention_mask,
        }


TOWER_OUTPUTS = (
    "Outputs are nested per tower, as CLIPOutput's are (sensor_model_output, text_model_output), so there is no "
    "top-level `attentions` / `hidden_states`; tests/test_modeling_slip.py checks the towers' ones, their config "
    "fallbacks and one attention tensor per layer."
)
FEATURE_TENSORS = (
    "get_text_features / get_sensor_features return the L2-normalised (batch, projection_dim) embeddings that "
    "zero-shot, retrieval and probing use, not an output object; the tower outputs are model.text_model(...) and "
    "model.sensor_model(...)."
)
NOT_APPLICABLE = {
    "test_attention_outputs": TOWER_OUTPUTS,
    "test_hidden_states_output": TOWER_OUTPUTS,
    "test_retain_grad_hidden_states_attentions": TOWER_OUTPUTS,
    "test_get_text_features_output": FEATURE_TENSORS,
    "test_get_text_features_hidden_states": FEATURE_TENSORS,
    "test_get_text_features_attentions": FEATURE_TENSORS,
    "test_model_base_model_prefix": (
        "Both SLIP models hold their towers at the top level, under the same names (a public checkpoint format "
        "shared by SlipModel and SlipForConditionalGeneration), not a base model plus a head."
    ),
    "test_tp_plan_matches_params": (
        "SLIP declares no tensor-parallel plan: at 402M parameters it trains with DDP or FSDP "
        "(examples/accelerate_configs); the Gemma sub-config's plan is not applied inside SLIP's text tower."
    ),
}
"""transformers common tests that cannot apply to SLIP, with the reason (parameterised variants included)."""


class SlipCommonTests(common.ModelTesterMixin, unittest.TestCase):
    all_model_classes = (SlipModel, SlipForConditionalGeneration)
    # SLIP's generate needs sensor inputs, which GenerationTesterMixin does not build (and the mixin is not in
    # transformers' source distribution); tests/test_modeling_slip.py tests generate.
    all_generative_model_classes = ()
    test_resize_embeddings = (
        False  # the text tower's vocabulary is fixed by its Gemma checkpoint and tokenizer
    )
    test_torch_exportable = False  # export of the sensor side: tests/test_export_sensor_side.py
    _is_composite = True
    additional_model_inputs = ["sensor_mask", "sensor_time", "patch_size", "input_ids"]

    def setUp(self) -> None:
        for name, reason in NOT_APPLICABLE.items():
            if re.fullmatch(rf"{name}(_\d+.*)?", self._testMethodName):
                self.skipTest(reason)
        self.model_tester = SlipModelTester(self)
        self.config_tester = config_common.ConfigTester(
            self, config_class=SlipConfig, has_text_modality=False
        )

    def test_config(self) -> None:
        self.config_tester.run_common_tests()

    def test_reverse_loading_mapping(self) -> None:
        # The one rename (the cross-attention output projection) exists only in the generation model's decoder.
        super().test_reverse_loading_mapping(skip_base_model=True)
