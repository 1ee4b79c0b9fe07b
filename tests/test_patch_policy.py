import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processing_slip.patch_policy import (
    PATCH_SIZE_CANDIDATES,
    candidate_patch_sizes,
    choose_patch_size,
    frequency_class,
    plan_patches,
)

STEPS = [0.001, 0.02, 1.0, 30.0, 60.0, 300.0, 3600.0, 7200.0, 86_400.0, 7 * 86_400.0, 2_629_746.0]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.02, "second"),
        (59.9, "second"),
        (60.0, "minute"),
        (3599.0, "minute"),
        (3600.0, "hourly"),
        (86_399.0, "hourly"),
        (86_400.0, "daily"),
        (7 * 86_400.0, "daily"),
        (365 * 86_400.0, "daily"),
    ],
)
def test_frequency_class_boundaries(seconds, expected):
    assert frequency_class(seconds) == expected


def test_paper_candidate_sets():
    assert PATCH_SIZE_CANDIDATES == {
        "second": (4, 6, 8, 12, 16, 20, 25, 32, 64, 128),
        "minute": (16, 24, 128),
        "hourly": (6, 8, 16, 24, 32, 64),
        "daily": (16, 32),
    }


@pytest.mark.parametrize(
    ("length", "seconds", "patch_size"),
    [
        (128, 0.02, 4),  # UCI-HAR window at 50 Hz: 32 patches, the nearest to 64
        (2048, 0.02, 32),  # 64 patches exactly
        (1440, 60.0, 24),  # one day of minute data: 60 patches
        (720, 3600.0, 16),  # one month of hourly data: 45 patches
        (365, 86_400.0, 16),  # one year of daily data
        (10, 1.0, 4),  # very short series: the smallest candidate
    ],
)
def test_examples(length, seconds, patch_size):
    assert choose_patch_size(length, seconds) == patch_size


@settings(deadline=None, max_examples=50, derandomize=True)
@given(
    length=st.integers(1, 200_000),
    seconds=st.sampled_from(STEPS),
    target=st.integers(1, 400),
    max_patches=st.one_of(st.none(), st.integers(1, 600)),
    max_patch_size=st.sampled_from([8, 32, 128]),
)
def test_policy_rule(length, seconds, target, max_patches, max_patch_size):
    plan = plan_patches(
        length, seconds, target_patches=target, max_patches=max_patches, max_patch_size=max_patch_size
    )
    candidates = candidate_patch_sizes(seconds, max_patch_size)
    assert plan.patch_size in candidates and plan.patch_size <= max_patch_size
    assert (
        plan.num_patches * plan.patch_size
        >= plan.kept_length
        > plan.num_patches * plan.patch_size - plan.patch_size
    )
    fitting = [c for c in candidates if max_patches is None or math.ceil(length / c) <= max_patches]
    if fitting:
        assert not plan.is_cut and plan.kept_length == length
        assert plan.num_patches == math.ceil(length / plan.patch_size)
        best = min(abs(math.ceil(length / c) - target) for c in fitting)
        assert abs(plan.num_patches - target) == best
    else:
        assert plan.is_cut
        assert plan.patch_size == max(candidates)
        assert plan.num_patches == max_patches
        assert plan.kept_length == max_patches * plan.patch_size < length


def test_ties_go_to_fewer_tokens():
    # 96 steps at 1 Hz: patch 4 -> 24 patches, patch 6 -> 16, patch 8 -> 12; target 20 ties 24 and 16.
    assert choose_patch_size(96, 1.0, target_patches=20) == 6


def test_explicit_patch_size_wins_and_never_cuts():
    plan = plan_patches(1_000_000, 0.02, patch_size=7)
    assert (plan.patch_size, plan.num_patches, plan.kept_length) == (7, math.ceil(1_000_000 / 7), 1_000_000)
    with pytest.raises(ValueError, match="exceeds max_patch_size=128"):
        plan_patches(100, 0.02, patch_size=256)


def test_candidates_above_the_cap_fall_back_to_the_cap():
    assert candidate_patch_sizes(60.0, max_patch_size=8) == (8,)
    assert candidate_patch_sizes(0.02, max_patch_size=16) == (4, 6, 8, 12, 16)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(length=0, seconds_per_step=1.0),
        dict(length=10, seconds_per_step=0.0),
        dict(length=10, seconds_per_step=1.0, patch_size=0),
        dict(length=10, seconds_per_step=1.0, target_patches=0),
        dict(length=10, seconds_per_step=1.0, max_patches=0),
        dict(length=10, seconds_per_step=1.0, max_patch_size=1.5),
        dict(length=True, seconds_per_step=1.0),
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        plan_patches(**kwargs)
