"""The sensor side of a SLIP model as one exportable module, for `torch.export`, `torch.compile` and ONNX.

Wearable and edge deployments run the encoder alone: series in, embeddings and token features out. The sensor
path has no host synchronisation and no Python branch on tensor values (value checks are `torch._assert_async`
assertions, the FlexMLP gathers each sample's input map by index), so one graph serves every batch size, channel
count, patch count and patch size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.export import Dim, ExportedProgram

from .modeling_base import SlipPreTrainedModel
from .sensor_inputs import SENSOR_INPUT_KEYS

SENSOR_OUTPUT_NAMES = ("sensor_embeds", "token_features", "token_mask")
MAX_EXPORT_BATCH = 4096
MAX_EXPORT_CHANNELS = 1024
MAX_EXPORT_PATCHES = 8192
"""Upper bounds of the exported graph's dynamic axes: far beyond what fits a device, and finite, as `torch.export`
wants."""


class SlipSensorFeatures(nn.Module):
    """Sensor encoder + pooler + projection of a SLIP model.

    Returns the L2-normalised embeddings (B, projection_dim) (`get_sensor_features`), the encoder's token
    features (B, C*P, hidden_size) after its final norm, and their validity mask (B, C*P).
    """

    def __init__(self, model: SlipPreTrainedModel):
        super().__init__()
        self.model = model

    def forward(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        encoded, pooled = self.model._encode_sensor(sensor_values, sensor_mask, sensor_time, patch_size)
        return self.model._sensor_embeds(pooled), encoded.last_hidden_state, encoded.token_mask


def sensor_dynamic_shapes(max_patch_size: int) -> dict[str, dict[int, Dim]]:
    """Dynamic batch, channel, patch and patch-size axes for the four sensor inputs."""
    axes = {
        0: Dim("batch", min=1, max=MAX_EXPORT_BATCH),
        1: Dim("channels", min=1, max=MAX_EXPORT_CHANNELS),
        2: Dim("patches", min=1, max=MAX_EXPORT_PATCHES),
        3: Dim("patch_axis", min=1, max=max_patch_size),
    }
    return {"sensor_values": axes, "sensor_mask": axes, "sensor_time": axes, "patch_size": {0: axes[0]}}


def example_sensor_inputs(patch_size: int = 8, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """A small valid batch to trace with: 2 samples of 2 channels x 3 patches, the second with a smaller patch
    size and a padded channel, so no axis is specialised to 1 and padding is on the traced path."""
    batch, channels, patches = 2, 2, 3
    mask = torch.ones(batch, channels, patches, patch_size, dtype=torch.bool)
    mask[1, :, :, patch_size // 2 :] = False
    mask[1, 1] = False
    steps = torch.arange(1, patches * patch_size + 1, dtype=dtype) / (patches * patch_size + 1)
    time = steps.view(1, 1, patches, patch_size).expand(batch, channels, -1, -1) * mask
    values = torch.linspace(-1, 1, batch * channels * patches * patch_size, dtype=dtype)
    return {
        "sensor_values": values.view(batch, channels, patches, patch_size) * mask,
        "sensor_mask": mask,
        "sensor_time": time.contiguous(),
        "patch_size": torch.tensor([patch_size, max(1, patch_size // 2)]),
    }


def export_sensor_program(model: SlipPreTrainedModel) -> ExportedProgram:
    """`torch.export` of `SlipSensorFeatures(model)` with dynamic batch, channel, patch and patch-size axes."""
    config = model.config.sensor_config
    example = example_sensor_inputs(min(config.base_patch_size, config.max_patch_size), model.dtype)
    return torch.export.export(
        SlipSensorFeatures(model).eval(),
        tuple(example[key] for key in SENSOR_INPUT_KEYS),
        dynamic_shapes=sensor_dynamic_shapes(config.max_patch_size),
        strict=False,
    )
