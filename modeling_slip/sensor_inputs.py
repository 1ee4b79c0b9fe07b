"""The processor -> model tensor contract (DESIGN.md, "Data contract"): key names, shapes, and their checks.

The processor writes these keys; the model calls `validate_sensor_inputs` before using them, so a batch
that breaks the contract fails with a message that says what to pass instead.
"""

from __future__ import annotations

import torch

SENSOR_INPUT_KEYS = ("sensor_values", "sensor_mask", "sensor_time", "patch_size")
TEXT_INPUT_KEYS = ("input_ids", "attention_mask")
LABELS_KEY = "labels"


def validate_sensor_inputs(
    sensor_values: torch.Tensor,
    sensor_mask: torch.Tensor,
    sensor_time: torch.Tensor,
    patch_size: torch.Tensor,
    *,
    max_patch_size: int,
) -> None:
    """Raise `ValueError` if the four sensor tensors do not follow the contract.

    sensor_values / sensor_time: (B, C, P, S) float; sensor_mask: (B, C, P, S) bool; patch_size: (B,) integer
    with 1 <= patch_size <= min(S, max_patch_size); every sample must have at least one observed step.
    """
    hint = (
        "Build model inputs with SlipProcessor / SlipFeatureExtractor, e.g. processor(series, freq='50Hz')."
    )
    for name, tensor in (
        ("sensor_values", sensor_values),
        ("sensor_mask", sensor_mask),
        ("sensor_time", sensor_time),
    ):
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}. {hint}")
        if tensor.dim() != 4:
            raise ValueError(
                f"{name} must have 4 dimensions (batch, channels, patches, patch_size), "
                f"got shape {tuple(tensor.shape)}. {hint}"
            )
    shape = sensor_values.shape
    if sensor_mask.shape != shape or sensor_time.shape != shape:
        raise ValueError(
            "sensor_values, sensor_mask and sensor_time must share one shape, got "
            f"{tuple(shape)}, {tuple(sensor_mask.shape)} and {tuple(sensor_time.shape)}."
        )
    if not sensor_values.is_floating_point() or not sensor_time.is_floating_point():
        raise ValueError("sensor_values and sensor_time must be floating point tensors.")
    if sensor_mask.dtype != torch.bool:
        raise ValueError(f"sensor_mask must be a bool tensor (True = observed), got {sensor_mask.dtype}.")
    if not isinstance(patch_size, torch.Tensor) or patch_size.dim() != 1 or patch_size.shape[0] != shape[0]:
        got = tuple(patch_size.shape) if isinstance(patch_size, torch.Tensor) else type(patch_size).__name__
        raise ValueError(
            f"patch_size must be a 1-D tensor with one entry per sample ({shape[0]},), got {got}. {hint}"
        )
    if patch_size.is_floating_point():
        raise ValueError("patch_size must be an integer tensor.")
    if shape[0] == 0 or shape[1] == 0 or shape[2] == 0 or shape[3] == 0:
        raise ValueError(f"sensor inputs must be non-empty in every dimension, got shape {tuple(shape)}.")
    smallest, largest = int(patch_size.min()), int(patch_size.max())
    if smallest < 1:
        raise ValueError(f"patch_size entries must be >= 1, got {smallest}.")
    if largest > shape[3]:
        raise ValueError(f"patch_size {largest} exceeds the patch axis of sensor_values (S={shape[3]}).")
    if largest > max_patch_size:
        raise ValueError(
            f"patch_size {largest} exceeds this model's max_patch_size={max_patch_size}; "
            f"pass patch_size<={max_patch_size} to the processor."
        )
    observed = sensor_mask.flatten(1).any(dim=1)
    if not bool(observed.all()):
        empty = torch.nonzero(~observed).flatten().tolist()
        raise ValueError(
            f"samples {empty} have no observed value (all padding or NaN); drop them or pass real data."
        )
