"""Shared helpers: build a downstream builder on fixture files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def prepare(tmp_path: Path):
    """prepare(builder_cls, raw_dir, **config) -> DatasetDict, prepared into tmp_path/cache."""

    def _prepare(builder_cls, raw_dir: Path, **config):
        builder = builder_cls(cache_dir=str(tmp_path / "cache"), data_dir=str(raw_dir), **config)
        builder.download_and_prepare()
        return builder.as_dataset()

    return _prepare


def error_chain(error: BaseException) -> str:
    """Messages of an error and its causes: datasets wraps errors raised while generating examples."""
    messages = []
    while error is not None:
        messages.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(messages)
