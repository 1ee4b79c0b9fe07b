"""Patch-size policy: choose a patch size from the sampling frequency and the series length.

The SLIP paper (App. C.1) lists candidate patch sizes per frequency class; the reference code then tuned one
per downstream task. This policy makes that tuning unnecessary:

1. **Frequency class** from the seconds per step `dt` (each class runs from its unit up to the next one's):

   ========== ======================== ==========================================
   class      steps                    candidates
   ========== ======================== ==========================================
   second     dt < 60 s (incl. Hz)     4, 6, 8, 12, 16, 20, 25, 32, 64, 128
   minute     60 s <= dt < 1 h         16, 24, 128
   hourly     1 h <= dt < 1 day        6, 8, 16, 24, 32, 64
   daily      dt >= 1 day              16, 32 (weekly, monthly and yearly series too)
   ========== ======================== ==========================================

   Candidates above `max_patch_size` are dropped; if none is left, `max_patch_size` itself is the candidate.
2. **Rule.** Among the candidates whose patch count `ceil(L / ps)` is at most `max_patches`, take the one
   whose count is closest to `target_patches` (ties go to the larger patch, i.e. fewer tokens).
3. **Cap.** If no candidate fits (a very long series), the largest candidate is used and only the most recent
   `max_patches * ps` steps are kept; the caller warns with `TruncationWarning`, naming the cut. Passing
   `patch_size=` or a larger `max_patches=` avoids the cut.
4. **Explicit `patch_size=`** always wins: it is only checked against `max_patch_size`, and the series is
   never cut.

Defaults: `target_patches=64`, `max_patches=384` (the reference pretraining cap per channel), and
`max_patch_size=128` (the largest candidate; the model's `SlipSensorConfig.max_patch_size`).
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

DEFAULT_TARGET_PATCHES = 64
DEFAULT_MAX_PATCHES = 384
DEFAULT_MAX_PATCH_SIZE = 128

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86_400.0

# Exact types only: a bool or a numpy scalar equals (and hashes like) an int, but must still be checked
# (`_check_positive_int` rejects bools) and is rare enough to plan afresh.
_CACHEABLE_TYPES = frozenset((int, float, type(None)))
# Distinct (length, frequency, options) combinations kept: a plan and its key take about 400 bytes, 1.6 MB in all.
_PLAN_CACHE_SIZE = 2**12

PATCH_SIZE_CANDIDATES: dict[str, tuple[int, ...]] = {
    "second": (4, 6, 8, 12, 16, 20, 25, 32, 64, 128),
    "minute": (16, 24, 128),
    "hourly": (6, 8, 16, 24, 32, 64),
    "daily": (16, 32),
}


class TruncationWarning(UserWarning):
    """A series was longer than `max_patches` patches of the largest candidate and was cut to its most recent
    steps."""


@dataclass(frozen=True)
class PatchPlan:
    """How one series of `length` steps is patched: `kept_length` most recent steps in `num_patches` patches
    of `patch_size` (the first one left padded)."""

    patch_size: int
    num_patches: int
    kept_length: int
    length: int

    @property
    def is_cut(self) -> bool:
        return self.kept_length < self.length


def frequency_class(seconds_per_step: float) -> str:
    """The paper's frequency class of a step length (see the module docstring for the boundaries)."""
    if not seconds_per_step > 0:
        raise ValueError(f"seconds_per_step must be positive, got {seconds_per_step}.")
    if seconds_per_step < _MINUTE:
        return "second"
    if seconds_per_step < _HOUR:
        return "minute"
    if seconds_per_step < _DAY:
        return "hourly"
    return "daily"


def candidate_patch_sizes(
    seconds_per_step: float, max_patch_size: int = DEFAULT_MAX_PATCH_SIZE
) -> tuple[int, ...]:
    """The candidates of the step's frequency class that do not exceed `max_patch_size`."""
    _check_positive_int("max_patch_size", max_patch_size)
    fitting = tuple(
        c for c in PATCH_SIZE_CANDIDATES[frequency_class(seconds_per_step)] if c <= max_patch_size
    )
    return fitting or (max_patch_size,)


def plan_patches(
    length: int,
    seconds_per_step: float,
    *,
    patch_size: int | None = None,
    target_patches: int = DEFAULT_TARGET_PATCHES,
    max_patches: int | None = DEFAULT_MAX_PATCHES,
    max_patch_size: int = DEFAULT_MAX_PATCH_SIZE,
) -> PatchPlan:
    """Apply the policy to one series of `length` steps. `max_patches=None` disables the cap.

    Plans of plain `int` / `float` / `None` arguments are cached (`_cached_plan`): a processor plans every
    sample of every batch, and series lengths repeat."""
    arguments = (length, seconds_per_step, patch_size, target_patches, max_patches, max_patch_size)
    if _CACHEABLE_TYPES.issuperset(map(type, arguments)):
        return _cached_plan(*arguments)
    return _plan(*arguments)


@functools.lru_cache(maxsize=_PLAN_CACHE_SIZE, typed=True)
def _cached_plan(*arguments: int | float | None) -> PatchPlan:
    """`_plan`, cached; `typed=True` keeps 4 and 4.0 apart, as only the int is a valid length."""
    return _plan(*arguments)


def _plan(
    length: int,
    seconds_per_step: float,
    patch_size: int | None,
    target_patches: int,
    max_patches: int | None,
    max_patch_size: int,
) -> PatchPlan:
    _check_positive_int("length", length)
    _check_positive_int("max_patch_size", max_patch_size)
    if patch_size is not None:
        _check_positive_int("patch_size", patch_size)
        if patch_size > max_patch_size:
            raise ValueError(
                f"patch_size={patch_size} exceeds max_patch_size={max_patch_size}; pass a smaller patch_size "
                "or raise max_patch_size (it must not exceed the model's sensor_config.max_patch_size)."
            )
        patch_size, length = int(patch_size), int(length)
        return PatchPlan(patch_size, math.ceil(length / patch_size), length, length)
    _check_positive_int("target_patches", target_patches)
    if max_patches is not None:
        _check_positive_int("max_patches", max_patches)
    length = int(length)
    candidates = candidate_patch_sizes(seconds_per_step, max_patch_size)
    counts = {c: math.ceil(length / c) for c in candidates}
    fitting = [c for c in candidates if max_patches is None or counts[c] <= max_patches]
    if not fitting:
        largest = max(candidates)
        return PatchPlan(largest, max_patches, max_patches * largest, length)
    best = min(fitting, key=lambda c: (abs(counts[c] - target_patches), -c))
    return PatchPlan(best, counts[best], length, length)


def choose_patch_size(
    length: int,
    seconds_per_step: float,
    *,
    target_patches: int = DEFAULT_TARGET_PATCHES,
    max_patches: int | None = DEFAULT_MAX_PATCHES,
    max_patch_size: int = DEFAULT_MAX_PATCH_SIZE,
) -> int:
    """The patch size the policy picks for a series of `length` steps sampled every `seconds_per_step`."""
    return plan_patches(
        length,
        seconds_per_step,
        target_patches=target_patches,
        max_patches=max_patches,
        max_patch_size=max_patch_size,
    ).patch_size


def _check_positive_int(name: str, value: object) -> None:
    if type(value) is int and value >= 1:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
