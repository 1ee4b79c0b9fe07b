"""The processor -> model tensor contract: key names, shapes, and the model's checks of them.

The processor writes these keys and validates what it writes on the host, naming the sample at fault. The model
checks them again on entry, in two kinds:

- structure (types, ranks, shapes, dtypes), from tensor metadata: a `ValueError` that says what to pass;
- values (patch sizes, observed values and times), with `torch._assert_async`: no host synchronisation, so a
  training step never stalls a GPU, and the checks stay inside `torch.compile` and `torch.export` graphs. A
  violation raises a `RuntimeError` with the message below on CPU and a device-side assertion on a GPU.
"""

from __future__ import annotations

import torch

SENSOR_INPUT_KEYS = ("sensor_values", "sensor_mask", "sensor_time", "patch_size")
TEXT_INPUT_KEYS = ("input_ids", "attention_mask")
METADATA_INPUT_KEYS = ("metadata_ids", "metadata_attention_mask")
"""Series metadata as text tokens, for models with `SlipConfig.series_metadata` (`SlipProcessor` writes them)."""
LABELS_KEY = "labels"

MAX_ABS_VALUE = torch.finfo(torch.float32).max ** 0.5
"""Largest observed |value| accepted: squares of larger ones overflow float32 in the encoder's layer norms.
Normalised series stay many orders of magnitude below it."""

_HINT = "Build model inputs with SlipProcessor / SlipFeatureExtractor, e.g. processor(series, freq='50Hz')."


def _check_structure(
    sensor_values: torch.Tensor,
    sensor_mask: torch.Tensor,
    sensor_time: torch.Tensor,
    patch_size: torch.Tensor,
    max_patch_size: int,
) -> None:
    tensors = (("sensor_values", sensor_values), ("sensor_mask", sensor_mask), ("sensor_time", sensor_time))
    for name, tensor in tensors:
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}. {_HINT}")
        if tensor.dim() != 4:
            raise ValueError(
                f"{name} must have 4 dimensions (batch, channels, patches, patch_size), "
                f"got shape {tuple(tensor.shape)}. {_HINT}"
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
    if not isinstance(patch_size, torch.Tensor) or patch_size.dim() != 1:
        got = tuple(patch_size.shape) if isinstance(patch_size, torch.Tensor) else type(patch_size).__name__
        raise ValueError(f"patch_size must be a 1-D tensor with one entry per sample, got {got}. {_HINT}")
    if patch_size.shape[0] != shape[0]:
        raise ValueError(
            f"patch_size has {patch_size.shape[0]} entries but sensor_values holds {shape[0]} samples; pass one "
            f"patch size per sample. {_HINT}"
        )
    if patch_size.is_floating_point() or patch_size.dtype == torch.bool:
        raise ValueError(f"patch_size must be an integer tensor, got {patch_size.dtype}.")
    if shape[0] == 0 or shape[1] == 0 or shape[2] == 0 or shape[3] == 0:
        raise ValueError(f"sensor inputs must be non-empty in every dimension, got shape {tuple(shape)}.")
    if shape[3] > max_patch_size:
        raise ValueError(
            f"The patch axis of sensor_values holds {shape[3]} steps, more than this model's "
            f"max_patch_size={max_patch_size}; pass patch_size<={max_patch_size} to the processor."
        )


_VALUE_CHECK_TEXTS = {
    "patch_size": "patch_size entries must lie between 1 and the patch axis of sensor_values.",
    "observed": "A sample has no observed value (all padding or NaN); drop it or pass real data.",
    "within_patch": (
        "A sample has observed steps beyond its patch_size, which the model would ignore; pass the patch size its "
        "values were cut with."
    ),
    "values": (
        f"sensor_values holds a non-finite value or one above {MAX_ABS_VALUE:.1e} at an observed step; mark "
        "missing steps False in sensor_mask, or normalise the series."
    ),
    "time": "sensor_time must lie in (0, 1] at observed steps ((i + 1) / (L + 1) for step i of L).",
}
_VALUE_CHECK_MESSAGES = {name: f"{text} {_HINT}" for name, text in _VALUE_CHECK_TEXTS.items()}
"""Written out once here: the checks run inside compiled graphs, which cannot format strings. CUDA's
`_assert_async` refuses messages of 255 characters or more, so each stays under that."""


def _check_values(
    sensor_values: torch.Tensor,
    sensor_mask: torch.Tensor,
    sensor_time: torch.Tensor,
    patch_size: torch.Tensor,
) -> None:
    steps = torch.arange(sensor_values.shape[-1], device=patch_size.device)
    unobserved = ~sensor_mask
    conditions = {
        "patch_size": ((patch_size >= 1) & (patch_size <= sensor_values.shape[-1])).all(),
        "observed": sensor_mask.flatten(1).any(dim=1).all(),
        "within_patch": ((steps < patch_size[:, None, None, None]) | unobserved).all(),
        "values": ((sensor_values.abs() <= MAX_ABS_VALUE) | unobserved).all(),
        "time": (((sensor_time > 0) & (sensor_time <= 1)) | unobserved).all(),
    }
    for name, condition in conditions.items():
        torch._assert_async(condition, _VALUE_CHECK_MESSAGES[name])


def validate_sensor_inputs(
    sensor_values: torch.Tensor,
    sensor_mask: torch.Tensor,
    sensor_time: torch.Tensor,
    patch_size: torch.Tensor,
    *,
    max_patch_size: int,
) -> None:
    """Check the four sensor tensors against the contract (module docstring).

    sensor_values / sensor_time: (B, C, P, S) float; sensor_mask: (B, C, P, S) bool; patch_size: (B,) integer
    with 1 <= patch_size <= S <= max_patch_size; every sample has an observed step, observed steps lie within
    the sample's patch size and carry finite values and times in (0, 1].
    """
    _check_structure(sensor_values, sensor_mask, sensor_time, patch_size, max_patch_size)
    _check_values(sensor_values, sensor_mask, sensor_time, patch_size)
