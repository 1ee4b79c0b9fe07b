"""SlipFeatureExtractor: any batch of time series -> the patched sensor tensors of the model contract.

Output (`modeling_slip.sensor_inputs`, DESIGN.md "Data contract"), for B samples, C = most channels in the
batch, P = most patches, S = largest patch size:

- `sensor_values` (B, C, P, S) float32: per-channel normalised values;
- `sensor_mask` (B, C, P, S) bool: True exactly where a value was observed (NaN and padding are False);
- `sensor_time` (B, C, P, S) float32: step i (0-based) of a series of L kept steps sits at (i + 1) / (L + 1),
  so real steps lie in (0, 1) and padding is 0 (the reference's relative t / (L + 1));
- `patch_size` (B,) int64: each sample's patch size (`patch_policy`).

Layout: each series is left padded (zeros, mask False) to P * patch_size steps so that its last step is the
last slot of patch P - 1, then reshaped to (P, patch_size) and placed in the first patch_size slots of S.
Missing channels of a sample are all-padding rows. `restore_values` inverts all of this.

Normalisation per channel over the observed values of the kept steps: "mean_abs" (reference) x / (mean|x| +
eps), no centring; "standard" (x - mean) / (std + eps); "none". A channel without observed values gets
loc 0, scale 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import BatchFeature, FeatureExtractionMixin
from transformers.utils import TensorType

from modeling_slip.sensor_inputs import SENSOR_INPUT_KEYS

from .frequency import parse_frequency
from .patch_policy import (
    DEFAULT_MAX_PATCH_SIZE,
    DEFAULT_MAX_PATCHES,
    DEFAULT_TARGET_PATCHES,
    PatchPlan,
    TruncationWarning,
    plan_patches,
)

NORMALIZATIONS = ("mean_abs", "standard", "none")
STATS_KEYS = ("sensor_loc", "sensor_scale")

_ARRAY_TYPES = (np.ndarray, torch.Tensor, pd.Series, pd.DataFrame)
_FORMS = (
    "a numpy array or torch tensor of shape (L,), (C, L) or (B, C, L); a list of (L,) or (C, L) arrays, one per "
    "sample (lengths and channel counts may differ); a pandas Series or DataFrame (columns = channels); or a "
    "list of those"
)


@dataclass
class _Sample:
    """One series as a (channels, steps) float32 or float64 array, with what pandas told us about it."""

    values: np.ndarray
    channel_names: list[str] | None = None
    time_index: pd.Index | None = None


class SlipFeatureExtractor(FeatureExtractionMixin):
    r"""Turns time series into SLIP's patched sensor inputs (see the module docstring for the layout).

    Args:
        normalization (`str`, defaults to `"mean_abs"`): "mean_abs" (reference), "standard" or "none".
        target_patches (`int`, defaults to 64): patches per channel the policy aims for.
        max_patches (`int`, defaults to 384): patches per channel above which the policy cuts a series to its
            most recent steps (with a `TruncationWarning`); `None` disables the cap. An explicit
            `patch_size=` never cuts.
        max_patch_size (`int`, defaults to 128): largest patch size (the model's `max_patch_size`).
        default_freq: the sampling frequency used when a call gives none and the data has no DatetimeIndex
            (any form `parse_frequency` accepts). If also `None`, 1 s is assumed with a warning.
        eps (`float`, defaults to 1e-6): added to the scale so constant channels stay finite.
    """

    model_input_names = list(SENSOR_INPUT_KEYS)

    def __init__(
        self,
        normalization: str = "mean_abs",
        target_patches: int = DEFAULT_TARGET_PATCHES,
        max_patches: int | None = DEFAULT_MAX_PATCHES,
        max_patch_size: int = DEFAULT_MAX_PATCH_SIZE,
        default_freq: str | float | None = None,
        eps: float = 1e-6,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}.")
        if default_freq is not None:
            parse_frequency(default_freq)
        plan_patches(
            1, 1.0, target_patches=target_patches, max_patches=max_patches, max_patch_size=max_patch_size
        )
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}.")
        self.normalization = normalization
        self.target_patches = target_patches
        self.max_patches = max_patches
        self.max_patch_size = max_patch_size
        self.default_freq = default_freq
        self.eps = eps

    def __call__(
        self,
        series: Any,
        freq: Any = None,
        patch_size: int | Sequence[int] | None = None,
        channel_names: Sequence[str] | Sequence[Sequence[str]] | None = None,
        return_tensors: str | TensorType | None = None,
        return_normalization_stats: bool = False,
    ) -> BatchFeature:
        """Patch and normalise `series` (any form in the class docstring).

        Args:
            freq: one sampling frequency for all samples or a list with one per sample (see
                `parse_frequency`); `None` uses each sample's DatetimeIndex, else `default_freq`.
            patch_size: overrides the policy, for all samples (int) or per sample (list).
            channel_names: names of the channels, shared (list of str) or per sample (list of lists); pandas
                column names are used when not given.
            return_tensors: "pt" or "np" (`None` keeps numpy arrays).
            return_normalization_stats: also return `sensor_loc` / `sensor_scale` (B, C) and `channel_names`,
                which `restore_values` needs. Leave it off to pass the output straight to the model.
        """
        samples = _as_samples(series)
        batch = len(samples)
        _attach_channel_names(samples, channel_names)
        for index, sample in enumerate(samples):
            _validate_sample(index, sample)
        seconds = self._seconds_per_step(samples, freq)
        patch_sizes = _per_sample("patch_size", patch_size, batch)
        plans = [
            self.plan(sample.values.shape[1], step, size)
            for sample, step, size in zip(samples, seconds, patch_sizes)
        ]
        for index, plan in enumerate(plans):
            if plan.is_cut:
                _warn_cut(index, plan)
        data = self._assemble(samples, plans, return_normalization_stats)
        features = BatchFeature(data, tensor_type=return_tensors)
        if return_normalization_stats:
            features["channel_names"] = [sample.channel_names for sample in samples]
        return features

    def restore_values(self, features: Mapping[str, Any]) -> list[np.ndarray]:
        """Undo patching, padding and normalisation of a call made with `return_normalization_stats=True`.

        Returns one float64 array (C, L) per sample, with the original values at observed steps and NaN
        elsewhere (L counts the kept steps; a cut series loses its oldest steps). Values match the input
        up to float32 rounding of `sensor_values`. The layout is read from the tensors themselves:
        `sensor_time` > 0 marks a sample's real steps and channels, padding has time 0.
        """
        missing = [key for key in (*SENSOR_INPUT_KEYS, *STATS_KEYS) if key not in features]
        if missing:
            raise ValueError(
                f"restore_values needs {missing}; call the extractor with return_normalization_stats=True."
            )
        values, mask, time, sizes, loc, scale = (
            _to_numpy(features[key]) for key in (*SENSOR_INPUT_KEYS, *STATS_KEYS)
        )
        restored = []
        for b in range(values.shape[0]):
            size = int(sizes[b])
            real_steps = time[b, :, :, :size].reshape(values.shape[1], -1) > 0
            channels = int(real_steps.any(axis=1).sum())
            length = int(real_steps[0].sum())
            flat_values = values[b, :channels, :, :size].reshape(channels, -1)[:, -length:].astype(np.float64)
            flat_mask = mask[b, :channels, :, :size].reshape(channels, -1)[:, -length:]
            original = flat_values * scale[b, :channels, None] + loc[b, :channels, None]
            restored.append(np.where(flat_mask, original, np.nan))
        return restored

    def plan(self, length: int, seconds_per_step: float, patch_size: int | None = None) -> PatchPlan:
        """How this extractor patches a series of `length` steps taken `seconds_per_step` apart: the patch-size
        policy with this extractor's settings (`patch_size` overrides it)."""
        return plan_patches(
            length,
            seconds_per_step,
            patch_size=patch_size,
            target_patches=self.target_patches,
            max_patches=self.max_patches,
            max_patch_size=self.max_patch_size,
        )

    def seconds_per_step(self, freq: Any = None) -> float:
        """Seconds between steps at `freq`, or at `default_freq` when `freq` is None (1 s with a
        `DefaultFrequencyWarning` when that is None too)."""
        return parse_frequency(self.default_freq if freq is None else freq)

    def _seconds_per_step(self, samples: list[_Sample], freq: Any) -> list[float]:
        """Seconds per step of each sample: its `freq`, else its time index, else `default_freq`."""
        freqs = _per_sample("freq", freq, len(samples))
        parsed: dict[tuple[type, Any], float] = {}
        seconds = []
        for given, sample in zip(freqs, samples):
            if given is None and sample.time_index is not None:
                given = sample.time_index
            if isinstance(given, pd.Index):
                seconds.append(parse_frequency(given))
                continue
            key = (type(given), given)
            if key not in parsed:
                parsed[key] = self.seconds_per_step(given)
            seconds.append(parsed[key])
        return seconds

    def _normalization_stats(self, filled: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (loc, scale), shape filled.shape[:-1], over the observed entries of the last axis
        (`filled` holds zeros where nothing was observed)."""
        counts = observed.sum(axis=-1)
        has_data = counts > 0
        safe_counts = np.maximum(counts, 1)
        loc, scale = np.zeros(counts.shape), np.ones(counts.shape)
        if self.normalization == "mean_abs":
            mean_abs = np.abs(filled).sum(axis=-1, dtype=np.float64) / safe_counts
            scale = np.where(has_data, mean_abs + self.eps, 1.0)
        elif self.normalization == "standard":
            loc = filled.sum(axis=-1, dtype=np.float64) / safe_counts
            centred = np.where(observed, filled - loc[..., None], 0.0)
            variance = np.square(centred).sum(axis=-1, dtype=np.float64) / safe_counts
            scale = np.where(has_data, np.sqrt(variance) + self.eps, 1.0)
        return loc, scale

    def _assemble(
        self, samples: list[_Sample], plans: list[PatchPlan], with_stats: bool
    ) -> dict[str, np.ndarray]:
        """Build the batch one patch-size group at a time: pad the group into one array, normalise it and
        reshape it into patches in a few whole-array operations."""
        batch = len(samples)
        channels = max(sample.values.shape[0] for sample in samples)
        patches = max(plan.num_patches for plan in plans)
        sizes = np.array([plan.patch_size for plan in plans], dtype=np.int64)
        width = int(sizes.max())
        values = np.zeros((batch, channels, patches, width), dtype=np.float32)
        mask = np.zeros((batch, channels, patches, width), dtype=bool)
        time = np.zeros((batch, channels, patches, width), dtype=np.float32)
        locs, scales = np.zeros((batch, channels)), np.ones((batch, channels))
        dtype = np.result_type(np.float32, *(sample.values.dtype for sample in samples))
        for size in np.unique(sizes):
            rows = np.flatnonzero(sizes == size)
            group = rows if len(rows) < batch else slice(None)
            span = patches * int(size)
            padded = np.full((len(rows), channels, span), np.nan, dtype=dtype)
            steps = np.zeros((len(rows), span), dtype=np.float32)
            has_channel = np.zeros((len(rows), channels), dtype=bool)
            for row, b in enumerate(rows):
                kept = plans[b].kept_length
                count = samples[b].values.shape[0]
                padded[row, :count, span - kept :] = samples[b].values[:, -kept:]
                steps[row, span - kept :] = np.arange(1, kept + 1, dtype=np.float64) / (kept + 1)
                has_channel[row, :count] = True
            missing = np.isnan(padded)
            np.copyto(padded, 0.0, where=missing)
            observed = ~missing
            loc, scale = self._normalization_stats(padded, observed)
            if self.normalization == "standard":
                np.subtract(padded, loc[..., None], out=padded, casting="unsafe")
                padded *= observed
            np.divide(padded, scale[..., None], out=padded, casting="unsafe")
            shape = (len(rows), channels, patches, int(size))
            values[group, :, :, :size] = padded.reshape(shape)
            mask[group, :, :, :size] = observed.reshape(shape)
            time[group, :, :, :size] = (steps[:, None, :] * has_channel[..., None]).reshape(shape)
            locs[group], scales[group] = loc, scale
        data = dict(zip(SENSOR_INPUT_KEYS, (values, mask, time, sizes)))
        if with_stats:
            data.update(zip(STATS_KEYS, (locs, scales)))
        return data


def _as_samples(series: Any) -> list[_Sample]:
    """Split any accepted input into (C, L) float samples; float32 / float64 numpy data is not copied."""
    if isinstance(series, (pd.DataFrame, pd.Series)):
        return [_from_pandas(series, 0)]
    if isinstance(series, (np.ndarray, torch.Tensor)):
        array = _numeric_array(series, "series")
        if array.ndim == 1:
            return [_Sample(array[None])]
        if array.ndim == 2:
            return [_Sample(array)]
        if array.ndim == 3:
            return [_Sample(sample) for sample in array]
        raise ValueError(f"series has {array.ndim} dimensions (shape {array.shape}); pass {_FORMS}.")
    if isinstance(series, (list, tuple)):
        if len(series) == 0:
            raise ValueError(f"series is an empty list; pass {_FORMS}.")
        if any(isinstance(item, _ARRAY_TYPES) for item in series):
            return [_sample_from_item(item, index) for index, item in enumerate(series)]
        return _as_samples(_nested_list_array(series))
    raise ValueError(f"series of type {type(series).__name__} is not supported; pass {_FORMS}.")


def _sample_from_item(item: Any, index: int) -> _Sample:
    if isinstance(item, (pd.DataFrame, pd.Series)):
        return _from_pandas(item, index)
    array = _numeric_array(
        item if isinstance(item, _ARRAY_TYPES) else _nested_list_array(item), f"sample {index}"
    )
    if array.ndim == 1:
        return _Sample(array[None])
    if array.ndim == 2:
        return _Sample(array)
    raise ValueError(
        f"sample {index} has shape {tuple(array.shape)}; each list item must be one sample of shape (L,) or (C, L)."
    )


def _nested_list_array(items: Any) -> np.ndarray:
    if isinstance(items, (str, bytes)):
        raise ValueError(f"series must hold numbers, got a string {items!r}; pass {_FORMS}.")
    try:
        return np.asarray(items)
    except ValueError as error:
        raise ValueError(
            "series is a nested list whose rows have different lengths; for series of different lengths pass a "
            "list of 1-D or 2-D numpy arrays (one per sample), e.g. [np.array(a), np.array(b)]."
        ) from error


def _numeric_array(data: np.ndarray | torch.Tensor, where: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        if data.is_complex():
            raise ValueError(f"{where} is a complex tensor; pass real values.")
        keep = data.dtype in (torch.float32, torch.float64)
        return data.detach().to(device="cpu", dtype=data.dtype if keep else torch.float64).numpy()
    if data.dtype.kind not in "biuf":
        raise ValueError(f"{where} must hold real numbers, got dtype {data.dtype}; pass {_FORMS}.")
    return data if data.dtype in (np.float32, np.float64) else data.astype(np.float64)


def _from_pandas(data: pd.DataFrame | pd.Series, index: int) -> _Sample:
    frame = data.to_frame() if isinstance(data, pd.Series) else data
    non_numeric = [
        str(name) for name, dtype in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if non_numeric:
        raise ValueError(
            f"sample {index}: columns {non_numeric} are not numeric; drop them or move timestamps into the index "
            "(df.set_index('time'))."
        )
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan).T
    if isinstance(data, pd.Series):
        names = None if data.name is None else [str(data.name)]
    else:
        names = [str(name) for name in frame.columns]
    time_index = frame.index if isinstance(frame.index, (pd.DatetimeIndex, pd.TimedeltaIndex)) else None
    return _Sample(values, names, time_index)


def _per_sample(name: str, value: Any, batch: int) -> list[Any]:
    """Broadcast a scalar option to all samples, or check a list has one entry per sample."""
    if isinstance(value, (list, tuple)):
        if len(value) != batch:
            raise ValueError(
                f"{name} has {len(value)} entries but the batch has {batch} samples; pass one value or one per sample."
            )
        return list(value)
    return [value] * batch


def _attach_channel_names(samples: list[_Sample], channel_names: Any) -> None:
    if channel_names is None:
        return
    if isinstance(channel_names, str) or not isinstance(channel_names, (list, tuple)):
        raise ValueError(
            "channel_names must be a list of names (shared) or a list of lists (one per sample)."
        )
    shared = all(isinstance(name, str) for name in channel_names)
    per_sample = (
        [channel_names] * len(samples)
        if shared
        else _per_sample("channel_names", channel_names, len(samples))
    )
    for index, (sample, names) in enumerate(zip(samples, per_sample)):
        if len(names) != sample.values.shape[0]:
            raise ValueError(
                f"sample {index} has {sample.values.shape[0]} channels but {len(names)} channel_names were given."
            )
        sample.channel_names = [str(name) for name in names]


def _validate_sample(index: int, sample: _Sample) -> None:
    channels, steps = sample.values.shape
    if channels == 0:
        raise ValueError(f"sample {index} has zero channels; every sample needs at least one channel.")
    if steps == 0:
        raise ValueError(
            f"sample {index} is empty (0 steps); drop it or pass a series with at least one step."
        )
    if np.isfinite(sample.values).all():
        return
    infinite = np.isinf(sample.values)
    if infinite.any():
        channel, step = (int(i) for i in np.argwhere(infinite)[0])
        name = f" ({sample.channel_names[channel]!r})" if sample.channel_names else ""
        raise ValueError(
            f"sample {index}, channel {channel}{name} holds an infinite value at step {step}; replace it with NaN "
            "to mark it missing, or clip it."
        )
    if np.isnan(sample.values).all():
        raise ValueError(f"sample {index} has no observed value (all NaN); drop it from the batch.")


def _warn_cut(index: int, plan: PatchPlan) -> None:
    warnings.warn(
        f"sample {index}: {plan.length} steps need more than max_patches={plan.num_patches} patches even at patch "
        f"size {plan.patch_size}; keeping the most recent {plan.kept_length} steps and cutting the oldest "
        f"{plan.length - plan.kept_length}. Pass patch_size= or a larger max_patches= to keep the whole series.",
        TruncationWarning,
        stacklevel=3,
    )


def _to_numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
