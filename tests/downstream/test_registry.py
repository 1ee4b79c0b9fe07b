from __future__ import annotations

import pytest

from hub_datasets.downstream import DOWNSTREAM_BUILDERS, ZERO_SHOT_PROMPTS
from hub_datasets.schema import QA_FEATURES

CONFIGS = [
    (name, config.name if config else None)
    for name, builder in sorted(DOWNSTREAM_BUILDERS.items())
    for config in builder.BUILDER_CONFIGS or [None]
]


@pytest.mark.parametrize(("name", "config"), CONFIGS)
def test_every_builder_states_its_schema(name, config, tmp_path):
    builder = DOWNSTREAM_BUILDERS[name](cache_dir=str(tmp_path), config_name=config)
    features = builder.info.features
    if name == "asphalt_obstacles":
        assert "label" in features and name not in ZERO_SHOT_PROMPTS  # classes come from the files
    elif "label" in features:
        labels = features["label"].names
        assert set(labels) <= set(ZERO_SHOT_PROMPTS[name]), name
        assert all(
            prompts and all(isinstance(p, str) and p for p in prompts)
            for prompts in ZERO_SHOT_PROMPTS[name].values()
        )
    else:
        assert features == QA_FEATURES
    assert builder.info.description and builder.source_files()
    assert all(source.url.startswith("https://") for source in builder.source_files())


def test_missing_reader_names_the_extra():
    from hub_datasets.downstream._base import import_reader

    with pytest.raises(ImportError, match=r"slip\[downstream\]"):
        import_reader("a_reader_that_is_not_installed")
