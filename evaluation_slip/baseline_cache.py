"""Baseline results kept across runs: they do not depend on the pretrained weights.

Statistical features, the randomly initialised encoder and supervised PatchTST give the same numbers for the
same data, options, architecture and software, so a second run (another pretraining seed, another recipe) reads
them back instead of spending minutes recomputing them. The key is a digest of everything the result depends
on: the set and its builder options, the baseline and its options, the seeds, the model and processor configs
(for the random encoder), and the versions of slip, torch, transformers and scikit-learn.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from .linear_probe import ProbeResult, SeedResult

VERSIONED_PACKAGES = ("slip", "torch", "transformers", "scikit-learn")
DEFAULT_CACHE = Path.home() / ".cache" / "slip" / "baselines"


def _versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in VERSIONED_PACKAGES}


def cache_key(parts: Mapping[str, Any]) -> str:
    """Digest of `parts` (JSON-able; anything else by its repr) and the software versions."""
    text = json.dumps({**parts, "versions": _versions()}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _load(path: Path) -> ProbeResult | None:
    try:
        data = json.loads(path.read_text())
        seeds = [SeedResult(**seed) for seed in data.pop("seeds")]
        data.pop("mean", None), data.pop("std", None)
        return ProbeResult(seeds=seeds, **data)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent or unreadable: recompute and rewrite


def cached_baseline(
    cache_dir: str | os.PathLike | None, parts: Mapping[str, Any], compute: Callable[[], ProbeResult]
) -> ProbeResult:
    """`compute()`'s result for `parts`, read from `cache_dir/slip_baselines` when a run stored it before
    (`cache_dir` None: ~/.cache/slip/baselines). Written to a temporary file and renamed, so a crash never
    leaves a half-written result behind."""
    directory = Path(cache_dir) / "slip_baselines" if cache_dir else DEFAULT_CACHE
    path = directory / f"{cache_key(parts)}.json"
    result = _load(path)
    if result is None:
        result = compute()
        directory.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(json.dumps(result.to_dict(), default=float))
        os.replace(staging, path)
    return result
