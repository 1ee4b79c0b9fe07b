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
loc 0, scale 1. Channels whose sums would overflow float64 are summed as multiples of their largest magnitude.

Inputs are checked for structure as they are read (shapes, dtypes; complex numbers are rejected, masked entries
of `numpy.ma` arrays are missing), and every output once, after the cut and the padding, against the model's
contract (`_validate_group`): a batch the extractor returns is one the model accepts, and a batch it cannot
build fails with a `ValueError` naming the sample (and channel) and what to pass instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import BatchFeature, FeatureExtractionMixin
from transformers.utils import TensorType

from modeling_slip.sensor_inputs import MAX_ABS_VALUE, SENSOR_INPUT_KEYS

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

# Beyond this many steps the float32 time L / (L + 1) of a series' last step rounds to 1 (24-bit significand).
_MAX_TIMED_STEPS = 2**25 - 2

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


@dataclass
class _Group:
    """The samples of one patch size, cut, padded and normalised: `values` and `observed` (n, C, span),
    `steps` (n, span) the time of each step (the same for every channel), `loc` / `scale` (n, C); `rows` are
    their indices in the batch."""

    rows: np.ndarray
    patch_size: int
    values: np.ndarray
    observed: np.ndarray
    steps: np.ndarray
    loc: np.ndarray
    scale: np.ndarray


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
            if not isinstance(given, Hashable):  # a time index, a 0-d array: parsed without the cache
                seconds.append(self.seconds_per_step(given))
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
        if self.normalization == "none":
            return np.zeros(counts.shape), np.ones(counts.shape)
        loc, spread = self._location_spread(filled, observed, counts)
        overflowed = ~(np.isfinite(loc) & np.isfinite(spread))
        if overflowed.any():
            loc[overflowed], spread[overflowed] = self._rescaled_location_spread(
                filled[overflowed], observed[overflowed], counts[overflowed]
            )
        has_data = counts > 0
        return np.where(has_data, loc, 0.0), np.where(has_data, spread + self.eps, 1.0)

    def _location_spread(
        self, filled: np.ndarray, observed: np.ndarray, counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Float64 (loc, spread) before `eps`: (0, mean |x|) for "mean_abs", (mean, std) for "standard"."""
        safe_counts = np.maximum(counts, 1)
        if self.normalization == "mean_abs":
            return np.zeros(counts.shape), np.abs(filled).sum(axis=-1, dtype=np.float64) / safe_counts
        loc = filled.sum(axis=-1, dtype=np.float64) / safe_counts
        centred = np.where(observed, filled - loc[..., None], 0.0)
        variance = np.square(centred).sum(axis=-1, dtype=np.float64) / safe_counts
        return loc, np.sqrt(variance)

    def _rescaled_location_spread(
        self, filled: np.ndarray, observed: np.ndarray, counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_location_spread` of channels whose sums overflow float64 (squares of values above ~1e154, sums
        near 1e308): computed on the values divided by the channel's largest magnitude, then scaled back, so
        only the final product can overflow. An infinite input value still gives NaN, which the output
        check reports."""
        unit = np.abs(filled).max(axis=-1).astype(np.float64)
        loc, spread = self._location_spread(filled / unit[..., None], observed, counts)
        return loc * unit, spread * unit

    def _assemble(
        self, samples: list[_Sample], plans: list[PatchPlan], with_stats: bool
    ) -> dict[str, np.ndarray]:
        """Build the batch one patch-size group at a time: pad the group into one array, normalise it, check
        it (`_validate_group`) and copy it into the batch's patch layout, in a few whole-array operations."""
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
        for size in map(int, np.unique(sizes)):
            rows = np.flatnonzero(sizes == size)
            padded, steps = _pad_group(
                [samples[b] for b in rows], [plans[b] for b in rows], channels, patches * size, dtype
            )
            group = self._normalise_group(rows, size, padded, steps)
            _validate_group(group, width, samples, plans, self.normalization)
            shape = (len(rows), channels, patches, size)
            where = rows if len(rows) < batch else slice(None)
            values[where, :, :, :size] = group.values.reshape(shape)
            mask[where, :, :, :size] = group.observed.reshape(shape)
            time[where, :, :, :size] = group.steps.reshape(len(rows), 1, patches, size)
            locs[where], scales[where] = group.loc, group.scale
        counts = np.array([sample.values.shape[0] for sample in samples])
        time[np.arange(channels) >= counts[:, None]] = 0.0  # a sample's missing channels are all padding
        data = dict(zip(SENSOR_INPUT_KEYS, (values, mask, time, sizes)))
        if with_stats:
            data.update(zip(STATS_KEYS, (locs, scales)))
        return data

    def _normalise_group(
        self, rows: np.ndarray, patch_size: int, padded: np.ndarray, steps: np.ndarray
    ) -> _Group:
        """Normalise a padded group in place (NaN -> 0, unobserved). Overflow and invalid operations are not
        warned about: `_validate_group` reports any non-finite result, naming the sample and channel."""
        missing = np.isnan(padded)
        np.copyto(padded, 0.0, where=missing)
        observed = ~missing
        with np.errstate(over="ignore", invalid="ignore"):
            loc, scale = self._normalization_stats(padded, observed)
            if self.normalization == "standard":
                np.subtract(padded, loc[..., None], out=padded, casting="unsafe")
                padded *= observed
            np.divide(padded, scale[..., None], out=padded, casting="unsafe")
        return _Group(rows, patch_size, padded, observed, steps, loc, scale)


def _pad_group(
    samples: list[_Sample], plans: list[PatchPlan], channels: int, span: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """The kept steps of samples of one patch size, left padded with NaN to (n, channels, span), and the time
    of each step, (n, span): (i + 1) / (L + 1) for step i of the L kept steps, 0 on padding."""
    padded = np.full((len(samples), channels, span), np.nan, dtype=dtype)
    steps = np.zeros((len(samples), span), dtype=np.float32)
    for row, (sample, plan) in enumerate(zip(samples, plans)):
        kept = plan.kept_length
        padded[row, : sample.values.shape[0], span - kept :] = sample.values[:, -kept:]
        steps[row, span - kept :] = np.arange(1, kept + 1, dtype=np.float64) / (kept + 1)
    return padded, steps


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
            if len(array) == 0:
                raise ValueError(
                    f"series of shape {array.shape} holds no samples; pass at least one sample, e.g. shape (1, C, L)."
                )
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
        f"sample {index} has shape {tuple(array.shape)}; pass each sample as one list item of shape (L,) or (C, L)."
    )


def _nested_list_array(items: Any) -> np.ndarray:
    if isinstance(items, (str, bytes)):
        raise ValueError(f"series must hold numbers, got a string {items!r}; pass {_FORMS}.")
    try:
        return np.asarray(_unmasked(items))
    except ValueError as error:
        raise ValueError(
            "series is a nested list whose rows have different lengths; for series of different lengths pass a "
            "list of 1-D or 2-D numpy arrays (one per sample), e.g. [np.array(a), np.array(b)]."
        ) from error


def _unmasked(items: Any) -> Any:
    """Nested lists with every masked array in them filled with NaN: `np.asarray` would keep the values under
    the mask. Only lists of lists or arrays are walked, so long lists of numbers cost nothing extra."""
    if isinstance(items, np.ma.MaskedArray):
        return _fill_masked(items)
    if isinstance(items, (list, tuple)) and items and isinstance(items[0], (list, tuple, np.ndarray)):
        return [_unmasked(item) for item in items]
    return items


def _numeric_array(data: np.ndarray | torch.Tensor, where: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        if data.is_complex():
            raise ValueError(_complex_message(where))
        keep = data.dtype in (torch.float32, torch.float64)
        return data.detach().to(device="cpu", dtype=data.dtype if keep else torch.float64).numpy()
    if data.dtype.kind == "c":
        raise ValueError(_complex_message(where))
    if data.dtype.kind not in "biuf":
        raise ValueError(f"{where} must hold real numbers, got dtype {data.dtype}; pass {_FORMS}.")
    if isinstance(data, np.ma.MaskedArray):
        return _fill_masked(data)
    return data if data.dtype in (np.float32, np.float64) else data.astype(np.float64)


def _fill_masked(data: np.ma.MaskedArray) -> np.ndarray:
    """A masked array as a float array with NaN (missing) at masked entries."""
    dtype = data.dtype if data.dtype in (np.float32, np.float64) else np.float64
    return data.astype(dtype).filled(np.nan)


def _complex_message(where: str) -> str:
    return (
        f"{where}: complex numbers are not accepted (their imaginary part would be lost); pass real values, "
        "e.g. the magnitude np.abs(x), or the real and imaginary parts as two channels."
    )


def _from_pandas(data: pd.DataFrame | pd.Series, index: int) -> _Sample:
    frame = data.to_frame() if isinstance(data, pd.Series) else data
    complex_columns = [
        str(name) for name, dtype in frame.dtypes.items() if pd.api.types.is_complex_dtype(dtype)
    ]
    if complex_columns:
        raise ValueError(_complex_message(f"sample {index}, columns {complex_columns}"))
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
    """Names are str()-ed, as pandas column names are; a list of lists gives one list per sample."""
    if channel_names is None:
        return
    if isinstance(channel_names, str) or not isinstance(channel_names, (list, tuple)):
        raise ValueError(
            "channel_names must be a list of names (shared) or a list of lists (one per sample)."
        )
    nested = [isinstance(names, (list, tuple)) for names in channel_names]
    if any(nested) and not all(nested):
        raise ValueError(
            "channel_names mixes names and lists; pass a list of names (shared by every sample) or a list of "
            "lists (one per sample)."
        )
    per_sample = (
        _per_sample("channel_names", channel_names, len(samples))
        if all(nested) and channel_names
        else [channel_names] * len(samples)
    )
    for index, (sample, names) in enumerate(zip(samples, per_sample)):
        if len(names) != sample.values.shape[0]:
            raise ValueError(
                f"sample {index} has {sample.values.shape[0]} channels but {len(names)} channel_names were given; pass "
                "one name per channel."
            )
        sample.channel_names = [str(name) for name in names]


def _validate_sample(index: int, sample: _Sample) -> None:
    """Structure only: values are checked once, after the cut and the padding (`_validate_group`)."""
    channels, steps = sample.values.shape
    if channels == 0:
        raise ValueError(f"sample {index} has zero channels; pass at least one channel per sample.")
    if steps == 0:
        raise ValueError(
            f"sample {index} is empty (0 steps); drop it or pass a series with at least one step."
        )


def _validate_group(
    group: _Group, width: int, samples: list[_Sample], plans: list[PatchPlan], normalization: str
) -> None:
    """The one check of what the extractor returns, run on each patch-size group once it is cut, padded and
    normalised (only the copy into the batch's patch layout follows), against the model's contract
    (`modeling_slip.sensor_inputs`): the patch size lies between 1 and the patch axis `width`, every sample
    has an observed step, observed values are finite and within `MAX_ABS_VALUE`, and times lie in (0, 1) at
    observed steps and in [0, 1) elsewhere (padding has 0). Whole-group reductions, on arrays still in cache,
    keep it cheap; the sample at fault and the reason are looked up only when a check fails."""
    if not 1 <= group.patch_size <= width:
        raise ValueError(
            f"samples {group.rows.tolist()} have patch_size {group.patch_size}, outside 1..{width}; pass a "
            "patch_size between 1 and max_patch_size."
        )
    unobserved = ~group.observed.reshape(len(group.rows), -1).any(axis=1)
    if unobserved.any():
        index = int(group.rows[np.argmax(unobserved)])
        raise ValueError(_unobserved_message(index, plans[index]))
    values, loc, scale = group.values, group.loc, group.scale
    in_range = values.max() <= MAX_ABS_VALUE and values.min() >= -MAX_ABS_VALUE
    if not (in_range and np.isfinite(loc).all() and np.isfinite(scale).all()):
        reach = np.abs(values).max(axis=-1)
        row, channel = np.argwhere(~(reach <= MAX_ABS_VALUE) | ~np.isfinite(loc) | ~np.isfinite(scale))[0]
        index = int(group.rows[row])
        raise ValueError(
            _bad_values_message(index, int(channel), samples[index], plans[index], normalization)
        )
    steps, untimed = group.steps, group.observed & (group.steps[:, None, :] <= 0)
    if not (steps.max() < 1 and steps.min() >= 0 and not untimed.any()):
        bad = ~(steps.max(axis=1) < 1) | ~(steps.min(axis=1) >= 0) | untimed.any(axis=(1, 2))
        index = int(group.rows[np.argmax(bad)])
        raise ValueError(
            f"sample {index}: its {plans[index].kept_length} steps get times outside (0, 1) in float32 (the "
            f"time of step i of L is (i + 1) / (L + 1), which rounds to 1 beyond {_MAX_TIMED_STEPS} steps); "
            f"pass at most {_MAX_TIMED_STEPS} steps per series."
        )


def _unobserved_message(index: int, plan: PatchPlan) -> str:
    if not plan.is_cut:
        return f"sample {index} has no observed value (all NaN); drop it from the batch."
    return (
        f"sample {index}: the most recent {plan.kept_length} of its {plan.length} steps, all that is kept after "
        f"the cut to max_patches={plan.num_patches}, are missing (NaN), so nothing observed is left. Pass "
        "patch_size= or a larger max_patches= to keep more of the series, or drop the sample."
    )


def _bad_values_message(
    index: int, channel: int, sample: _Sample, plan: PatchPlan, normalization: str
) -> str:
    """Why one channel's kept values give no valid output: an infinite value, values beyond what the model
    accepts unnormalised, or values too large to normalise in floating point."""
    where = f"sample {index}, channel {channel}"
    if sample.channel_names:
        where += f" ({sample.channel_names[channel]!r})"
    kept = sample.values[channel, plan.length - plan.kept_length :]
    infinite = np.flatnonzero(np.isinf(kept))
    if infinite.size:
        step = plan.length - plan.kept_length + int(infinite[0])
        return f"{where} holds an infinite value at step {step}; replace it with NaN to mark it missing, or clip it."
    largest = float(np.nanmax(np.abs(kept)))
    if normalization == "none":
        return (
            f"{where} holds values up to {largest:.3g} in magnitude, beyond the {MAX_ABS_VALUE:.3g} the model "
            "accepts; rescale the series or use normalization='mean_abs' or 'standard'."
        )
    return (
        f"{where} holds values up to {largest:.3g} in magnitude, too large to normalise in floating point; "
        "divide the series by a constant (e.g. its largest magnitude) before passing it."
    )


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
