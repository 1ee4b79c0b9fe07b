"""SlipFeatureExtractor: any batch of time series -> the patched sensor tensors of the model contract.

Output (the contract of `modeling_slip.sensor_inputs`), for B samples, C = most channels in the
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

import math
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
METADATA_KEYS = ("series_channels", "series_length", "seconds_per_step")
"""What `return_metadata=True` adds: each series' channel count and steps as given (before any cut), and its
seconds per step, NaN where no rate was stated (no `freq`, time index or `default_freq`)."""

# Beyond this many steps the float32 time L / (L + 1) of a series' last step rounds to 1 (24-bit significand).
_MAX_TIMED_STEPS = 2**25 - 2
# Every integer up to this is exact in float32.
_FLOAT32_EXACT_INTEGERS = 2**24

# Padded values per chunk of a patch-size group. Chunks bound the working memory and let each one skip the
# padding its rows share (`_held`); past that their size matters little: 1 to 8 MiB run within a few percent
# of each other on the benchmark batch, while much smaller chunks pay numpy's per-call overhead (about 0.15 ms
# per chunk) many times over.
_CHUNK_BYTES = 2**21

# Arrays sharing one allocation start at multiples of this many bytes (a cache line), as vectorised kernels prefer.
_ALIGNMENT = 64
# Size of a transparent huge page on x86-64 Linux, the largest unit in which the kernel hands out fresh memory.
_HUGE_PAGE = 2**21
# numpy asks the kernel for huge pages on allocations of this many bytes or more.
_NUMPY_HUGE_PAGE_MINIMUM = 2**22

_ARRAY_TYPES = (np.ndarray, torch.Tensor, pd.Series, pd.DataFrame)
# Float dtypes kept as they are; dtype objects, as comparing a dtype with a scalar type converts it every time.
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
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
    """Samples of one patch size (all of them, or a chunk), cut, padded and normalised: `values` and `observed`
    (n, C, steps), `steps` (n, steps) the time of each step (the same for every channel), `loc` / `scale`
    (n, C); `rows` are their indices in the batch. The steps are those of the samples' last whole patches
    (all of them, unless a chunk leaves out leading patches that are padding in every row)."""

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
        return_metadata: bool = False,
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
            return_metadata: also return `METADATA_KEYS`, from which `SlipProcessor` writes the series metadata
                of models that read it (`SlipConfig.series_metadata`).
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
        if return_metadata:
            stated = self._stated_rates(samples, freq)
            metadata = (
                np.array([sample.values.shape[0] for sample in samples], dtype=np.int64),
                np.array([sample.values.shape[1] for sample in samples], dtype=np.int64),
                np.where(stated, seconds, np.nan),
            )
            features.update(BatchFeature(dict(zip(METADATA_KEYS, metadata)), tensor_type=return_tensors))
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
        if not isinstance(freq, (list, tuple)) and all(sample.time_index is None for sample in samples):
            return [self.seconds_per_step(freq)] * len(samples)  # one frequency for the whole batch
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

    def _stated_rates(self, samples: list[_Sample], freq: Any) -> list[bool]:
        """Whether each sample's rate was stated (its `freq`, its time index or `default_freq`) rather than
        assumed."""
        freqs = _per_sample("freq", freq, len(samples))
        return [
            given is not None or sample.time_index is not None or self.default_freq is not None
            for given, sample in zip(freqs, samples)
        ]

    def _normalization_stats(self, filled: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (loc, scale), shape filled.shape[:-1], over the observed entries of the last axis
        (`filled` holds zeros where nothing was observed)."""
        counts = _count_observed(observed)
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
        """Build the batch one patch-size group at a time (`_fill_group`), straight into its output arrays."""
        out = _Outputs.zeros(samples, plans)
        dtype = np.result_type(np.float32, *(sample.values.dtype for sample in samples))
        workspace = _Workspace(len(samples), math.prod(out.values.shape[1:]), dtype)
        for size in map(int, np.unique(out.sizes)):
            self._fill_group(np.flatnonzero(out.sizes == size), size, samples, plans, out, workspace)
        counts = np.array([sample.values.shape[0] for sample in samples])
        # A sample's missing channels are padding; their time was broadcast from its other channels.
        out.time[np.arange(out.time.shape[1]) >= counts[:, None]] = 0.0
        data = dict(zip(SENSOR_INPUT_KEYS, (out.values, out.mask, out.time, out.sizes)))
        if with_stats:
            data.update(zip(STATS_KEYS, (out.loc, out.scale)))
        return data

    def _fill_group(
        self,
        rows: np.ndarray,
        size: int,
        samples: list[_Sample],
        plans: list[PatchPlan],
        out: _Outputs,
        workspace: _Workspace,
    ) -> None:
        """Cut, pad, normalise and place the samples of one patch size, a cache-sized chunk of them at a time
        (`_CHUNK_BYTES`), shortest kept series first so that the rows of a chunk share most of their padding,
        which all but the statistics skip. Each chunk gets the output check's tests (`_is_valid`). If one
        fails, the whole group is built again in one piece and `_validate_group` checks it, so that the error
        names the group's first sample at fault, however the group was chunked."""
        channels, patches, width = out.values.shape[1:]
        span = patches * size
        by_length = rows[np.argsort([plans[b].kept_length for b in rows], kind="stable")]
        per_chunk = workspace.rows_per_chunk(channels * span)
        valid = True
        for start in range(0, len(by_length), per_chunk):
            chunk = by_length[start : start + per_chunk]
            kept = _kept_lengths(chunk, plans)
            arrays = workspace.arrays((len(chunk), channels, span))
            group = self._normalised_chunk(chunk, size, samples, kept, arrays, self._held(kept, span, size))
            valid = valid and _is_valid(group, width)
            out.place(group)
        if not valid:
            shape = (len(rows), channels, span)
            arrays = (np.empty(shape, dtype=workspace.values.dtype), np.empty(shape, dtype=bool))
            group = self._normalised_chunk(rows, size, samples, _kept_lengths(rows, plans), arrays, 0)
            _validate_group(group, width, samples, plans, self.normalization)

    def _held(self, kept: np.ndarray, span: int, size: int) -> int:
        """The first step of a chunk's rows (`kept` steps each, left padded to `span`) that is normalised and
        placed: the last patch boundary before the longest series, as every row is padding before it, which
        the outputs already hold as 0. Under "standard", padding is (0 - mean) * 0, -0.0 for a positive mean:
        whole rows are kept so that every padding slot holds the same zero."""
        if self.normalization == "standard":
            return 0
        return (span - int(kept.max())) // size * size

    def _normalised_chunk(
        self,
        rows: np.ndarray,
        size: int,
        samples: list[_Sample],
        kept: np.ndarray,
        arrays: tuple[np.ndarray, np.ndarray],
        held: int,
    ) -> _Group:
        """Pad the samples of `rows` (patch size `size`, `kept` steps each) into `arrays`, the (n, channels,
        span) values and observed mask, and normalise them. The statistics see whole rows; everything after
        them only the steps from `held` on, which is what the returned group holds. Overflow and invalid
        operations are not warned about: `_validate_group` reports any non-finite result, naming the sample
        and channel."""
        values, observed = arrays
        _pad_into(values, observed, [samples[b].values for b in rows], kept, held)
        values_held, observed_held = values[..., held:], observed[..., held:]
        with np.errstate(over="ignore", invalid="ignore"):
            loc, scale = self._normalization_stats(values, observed)
            self._normalise(values_held, observed_held, loc, scale)
        steps = _step_times(kept, values.shape[-1], held)
        return _Group(rows, size, values_held, observed_held, steps, loc, scale)

    def _normalise(
        self, values: np.ndarray, observed: np.ndarray, loc: np.ndarray, scale: np.ndarray
    ) -> None:
        """Normalise `values` in place with per-channel (loc, scale); unobserved entries stay 0. Division by
        the scale 1 of "none" would change nothing and is skipped."""
        if self.normalization == "standard":
            np.subtract(values, loc[..., None], out=values, casting="unsafe")
            values *= observed
        if self.normalization != "none":
            np.divide(values, scale[..., None], out=values, casting="unsafe")


class _Workspace:
    """Buffers for the chunks of one call, allocated once: with fresh arrays for every chunk the allocator
    returns memory to the kernel and takes it back again and again, at a page fault per 4 KiB each time."""

    def __init__(self, rows: int, row_size: int, dtype: np.dtype):
        """Room for `_CHUNK_BYTES` of `dtype` values, or for one row of `row_size` values if that is more, but
        not more than the `rows` of the batch need."""
        capacity = min(max(_CHUNK_BYTES // dtype.itemsize, row_size), rows * row_size)
        self.values = np.empty(capacity, dtype=dtype)
        self.observed = np.empty(capacity, dtype=bool)

    def rows_per_chunk(self, row_size: int) -> int:
        return max(1, len(self.values) // row_size)

    def arrays(self, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Uninitialised `values` and `observed` arrays of `shape`, views of the buffers."""
        count = math.prod(shape)
        return self.values[:count].reshape(shape), self.observed[:count].reshape(shape)


@dataclass
class _Outputs:
    """The batch being built: the (B, C, P, S) arrays of the contract, `sizes` (B,) and the normalisation
    statistics `loc` / `scale` (B, C)."""

    values: np.ndarray
    mask: np.ndarray
    time: np.ndarray
    sizes: np.ndarray
    loc: np.ndarray
    scale: np.ndarray

    @classmethod
    def zeros(cls, samples: list[_Sample], plans: list[PatchPlan]) -> _Outputs:
        """All padding: every slot a sample's data does not fill stays 0 (and False)."""
        sizes = np.array([plan.patch_size for plan in plans], dtype=np.int64)
        stats_shape = (len(samples), max(sample.values.shape[0] for sample in samples))
        shape = (*stats_shape, max(plan.num_patches for plan in plans), int(sizes.max()))
        values, mask, time = _zeros_in_one_block(shape, (np.float32, np.bool_, np.float32))
        return cls(values, mask, time, sizes, np.zeros(stats_shape), np.ones(stats_shape))

    def place(self, group: _Group) -> None:
        """Copy a normalised group into the first `patch_size` slots of its rows. The group may hold only the
        last patches of its rows (`_normalised_chunk`): earlier ones are padding, which the outputs already
        are. Each step's time, the same for every channel, is broadcast from the group's (n, steps) `steps`."""
        rows, size = group.rows, group.patch_size
        patches = group.steps.shape[1] // size
        shape = (len(rows), -1, patches, size)
        _copy_patches(self.values, rows, group.values.reshape(shape))
        _copy_patches(self.mask, rows, group.observed.reshape(shape))
        _copy_patches(self.time, rows, group.steps.reshape(len(rows), 1, patches, size))
        self.loc[rows], self.scale[rows] = group.loc, group.scale


def _copy_patches(target: np.ndarray, rows: np.ndarray, source: np.ndarray) -> None:
    """`target[rows, :, -P:, :S] = source` for `source` of shape (len(rows), C or 1, P, S), both with a
    contiguous last axis. When no cast is needed, each patch is copied as one opaque element of S entries
    (`_as_patches`): numpy copies it as one block of bytes rather than entry by entry, twice as fast for
    patches of 4 to 32 entries."""
    patches, size = source.shape[-2:]
    if source.dtype != target.dtype:
        # Values beyond float32 come only from a chunk that fails the output check, and the call then raises.
        with np.errstate(over="ignore"):
            target[rows, :, -patches:, :size] = source
        return
    _as_patches(target, size)[rows, :, -patches:] = _as_patches(source, size)


def _as_patches(array: np.ndarray, size: int) -> np.ndarray:
    """The first `size` entries of each patch (the last axis, contiguous) of `array` viewed as one opaque
    element, shape `array.shape[:-1]`."""
    width = size * array.itemsize
    return array.view(np.uint8)[..., :width].view(f"V{width}")[..., 0]


def _zeros_in_one_block(shape: tuple[int, ...], dtypes: Sequence[type]) -> list[np.ndarray]:
    """Zeroed C-contiguous arrays of `shape`, one per dtype, carved from a single allocation. The kernel zeroes
    fresh memory one page at a time as it is first written, and numpy asks it for 2 MiB pages on allocations
    of 4 MiB or more: a block that large starts and ends on huge-page boundaries, so that writing it takes a
    fault per 2 MiB, where separate arrays, or the unaligned ends of one, take one per 4 KiB (costly in a
    virtual machine)."""
    nbytes = [math.prod(shape) * np.dtype(dtype).itemsize for dtype in dtypes]
    starts = np.cumsum([0] + [_round_up(size, _ALIGNMENT) for size in nbytes])
    total = int(starts[-1])
    if total < _NUMPY_HUGE_PAGE_MINIMUM:
        block, offset = np.zeros(total, dtype=np.uint8), 0
    else:
        block = np.zeros(_round_up(total, _HUGE_PAGE) + _HUGE_PAGE, dtype=np.uint8)
        offset = -block.ctypes.data % _HUGE_PAGE
    return [
        block[offset + start : offset + start + size].view(dtype).reshape(shape)
        for start, size, dtype in zip(starts, nbytes, dtypes)
    ]


def _kept_lengths(rows: np.ndarray, plans: list[PatchPlan]) -> np.ndarray:
    return np.array([plans[b].kept_length for b in rows])


def _round_up(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


def _pad_into(
    values: np.ndarray, observed: np.ndarray, series: list[np.ndarray], kept: np.ndarray, held: int
) -> None:
    """Fill `values` (n, channels, span) with the last `kept` steps of each series, left padded with 0, and
    `observed` with where they are neither NaN nor padding. Steps before `held` are padding in every row
    (the first patch boundary before the longest kept series). After them, padding is first written as NaN,
    so that one comparison over the chunk finds everything missing."""
    values[..., :held] = 0.0
    observed[..., :held] = False
    values_held, observed_held = values[..., held:], observed[..., held:]
    values_held.fill(np.nan)
    span = values.shape[-1]
    for row, (array, length) in enumerate(zip(series, kept.tolist())):
        values[row, : array.shape[0], span - length :] = array[:, -length:]
    np.equal(values_held, values_held, out=observed_held)  # False on NaN
    _zero_missing(values_held, observed_held)


def _zero_missing(values: np.ndarray, observed: np.ndarray) -> None:
    """Set the unobserved (NaN) entries of a float array to 0, in place, by multiplying their bits, read as
    unsigned integers, by the mask (1 keeps a value, 0 gives +0.0): several times faster than a masked copy
    (`np.copyto(values, 0, where=~observed)`), which numpy runs one element at a time."""
    bits = values.view(np.dtype(f"u{values.itemsize}"))
    np.multiply(bits, observed, out=bits)


def _count_observed(observed: np.ndarray) -> np.ndarray:
    """Observed entries along the last axis. The mask's bytes are summed in the narrowest unsigned type that
    holds the count: numpy's `bool.sum()` widens every entry to int64 first, several times slower."""
    return np.add.reduce(observed.view(np.uint8), axis=-1, dtype=np.min_scalar_type(observed.shape[-1]))


def _step_times(kept: np.ndarray, span: int, start: int) -> np.ndarray:
    """(n, span - start) float32 time of steps `start` on of rows left padded to `span`: (i + 1) / (L + 1) for
    step i of the L kept steps of a row, 0 on padding, rounded to float32 once. While the step counts are
    exact in float32 the quotient is taken in float32: float64 carries more than twice float32's precision,
    so rounding its quotient to float32 gives the same value (double rounding is innocuous for division)."""
    dtype = np.float32 if span < _FLOAT32_EXACT_INTEGERS else np.float64
    # i + 1 on the kept steps, 0 or less on padding
    position = np.arange(start + 1, span + 1, dtype=dtype) - (span - kept).astype(dtype)[:, None]
    np.divide(position, (kept + 1).astype(dtype)[:, None], out=position)
    np.maximum(position, 0.0, out=position)
    return position.astype(np.float32, copy=False)


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
    return data if data.dtype in _FLOAT_DTYPES else data.astype(np.float64)


def _fill_masked(data: np.ma.MaskedArray) -> np.ndarray:
    """A masked array as a float array with NaN (missing) at masked entries."""
    dtype = data.dtype if data.dtype in _FLOAT_DTYPES else np.float64
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
    normalised, against the model's contract (`modeling_slip.sensor_inputs`): the patch size lies between 1
    and the patch axis `width`, every sample has an observed step, observed values are finite and within
    `MAX_ABS_VALUE`, and times lie in (0, 1) at observed steps and in [0, 1) elsewhere (padding has 0).
    Whole-group reductions (`_is_valid` runs the same tests on each chunk as it is built) keep it cheap; the
    sample at fault and the reason are looked up only when a test fails."""
    if not _patch_size_fits(group, width):
        raise ValueError(
            f"samples {group.rows.tolist()} have patch_size {group.patch_size}, outside 1..{width}; pass a "
            "patch_size between 1 and max_patch_size."
        )
    unobserved = ~_has_observed(group)
    if unobserved.any():
        index = int(group.rows[np.argmax(unobserved)])
        raise ValueError(_unobserved_message(index, plans[index]))
    if not _values_in_range(group):
        reach = np.abs(group.values).max(axis=-1)
        bad = ~(reach <= MAX_ABS_VALUE) | ~np.isfinite(group.loc) | ~np.isfinite(group.scale)
        row, channel = np.argwhere(bad)[0]
        index = int(group.rows[row])
        raise ValueError(
            _bad_values_message(index, int(channel), samples[index], plans[index], normalization)
        )
    if not _times_in_range(group):
        steps = group.steps
        bad = ~(steps.max(axis=1) < 1) | ~(steps.min(axis=1) >= 0) | _untimed(group).any(axis=1)
        index = int(group.rows[np.argmax(bad)])
        raise ValueError(
            f"sample {index}: its {plans[index].kept_length} steps get times outside (0, 1) in float32 (the "
            f"time of step i of L is (i + 1) / (L + 1), which rounds to 1 beyond {_MAX_TIMED_STEPS} steps); "
            f"pass at most {_MAX_TIMED_STEPS} steps per series."
        )


def _is_valid(group: _Group, width: int) -> bool:
    """Whether `_validate_group` would pass the group, by the same tests, without looking for a culprit."""
    return (
        _patch_size_fits(group, width)
        and bool(_has_observed(group).all())
        and _values_in_range(group)
        and _times_in_range(group)
    )


def _patch_size_fits(group: _Group, width: int) -> bool:
    return 1 <= group.patch_size <= width


def _has_observed(group: _Group) -> np.ndarray:
    """Per row: whether the sample has an observed step."""
    return group.observed.any(axis=(1, 2))


def _values_in_range(group: _Group) -> bool:
    """Values finite and within `MAX_ABS_VALUE` everywhere (padding is 0), and finite normalisation stats."""
    values = group.values
    return bool(
        values.max() <= MAX_ABS_VALUE
        and values.min() >= -MAX_ABS_VALUE
        and np.isfinite(group.loc).all()
        and np.isfinite(group.scale).all()
    )


def _times_in_range(group: _Group) -> bool:
    """Times in [0, 1) everywhere and above 0 wherever a channel is observed."""
    steps = group.steps
    return bool(steps.max() < 1 and steps.min() >= 0 and not _untimed(group).any())


def _untimed(group: _Group) -> np.ndarray:
    """(n, span): steps observed in some channel but with time 0 or less. The time is shared by all channels,
    so the mask is reduced over channels before it meets the (n, span) times."""
    return group.observed.any(axis=1) & (group.steps <= 0)


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
