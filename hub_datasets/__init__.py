"""SLIP datasets: hierarchical captions, synthetic series, source readers and `datasets` builders.

The public names below load lazily, so importing one submodule (``hub_datasets.schema``) stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BUILDERS": "registry",
    "build": "registry",
    "get_builder": "registry",
    "load_corpus": "registry",
    "load_evaluation_set": "registry",
    "zero_shot_prompts": "registry",
    "SlipCorpus": "corpus",
    "SlipCorpusConfig": "corpus",
    "ReleasedSlipCorpus": "slip_corpus",
    "EvaluationConfig": "evaluation_sets",
    "UciHarHapt": "evaluation_sets",
    "BasicMotions": "evaluation_sets",
    "Ecg200": "evaluation_sets",
    "Ecg5000": "evaluation_sets",
    "export_dataset": "export",
    "load_exported": "export",
    "verify_export": "export",
    "validate_series_dataset": "validation",
    "SOURCES": "sources",
    "CORPUS_FEATURES": "schema",
    "QA_FEATURES": "schema",
    "classification_features": "schema",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hub_datasets' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
