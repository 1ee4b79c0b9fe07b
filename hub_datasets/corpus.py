"""The SLIP pretraining corpus: synthetic series plus windows of the allowlisted real sources, captioned.

Every row pairs a (C, T) series with its three caption levels and the caption trained on (the levels named by
the config's ``level_mix``, joined by `compose_caption`). The corpus is cut into shards of ``shard_size``
rows; each shard draws from its own RNG seeded by (``seed``, shard index), so the rows do not depend on how
many processes build it (``download_and_prepare(num_proc=...)``) and the same config always gives the same
bytes. Real windows come only from `sources.SOURCES`, which holds no evaluation data. Each row's ``id``
records where it came from: ``<shard>-<row>:<recording key>[start:stop:decimation]<channels>``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import datasets
import numpy as np
import pandas as pd

from .captions import CAPTION_LEVELS, SeriesDescription, compose_caption, describe_series
from .schema import CORPUS_FEATURES
from .sources import SOURCES, Recording
from .synthetic import generate_synthetic
from .windowing import DECIMATION_FACTORS, WINDOW_LENGTHS, random_window, scale_freq

SYNTHETIC = "synthetic"
MAX_WINDOW_DRAWS = 100
DEFAULT_SOURCE_WEIGHTS = {
    SYNTHETIC: 0.5,
    "hapt_train": 0.2,
    "daphnet": 0.05,
    "physiology": 0.08,
    "simulated_physiology": 0.07,
    "forecasting": 0.1,
}
"""Share of rows per source: half synthetic (exactly true captions), half real windows."""


@dataclass
class SlipCorpusConfig(datasets.BuilderConfig):
    """Options of the pretraining corpus.

    Args:
        size: number of (series, caption) pairs.
        level_mix: caption levels joined into ``caption`` (the paper found statistical text can hurt
            fine-grained zero-shot recognition; drop it with ``("structural", "semantic")``).
        source_weights: source name (``"synthetic"`` or a key of `SOURCES`) -> relative share of rows.
        univariate_ratio: share of univariate rows among synthetic rows and windows of multichannel sources.
        seed: seeds everything: row order, windows, channels, phrasings.
        min_length / max_length: window lengths after decimation.
        max_channels: multichannel windows keep at most this many channels.
        shard_size: rows per generation shard (the unit of parallelism).
        source_data_dirs: source name -> directory holding that source's files, instead of the installed
            packages' copies.
    """

    size: int = 10_000
    level_mix: tuple[str, ...] = CAPTION_LEVELS
    source_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SOURCE_WEIGHTS))
    univariate_ratio: float = 0.5
    seed: int = 0
    min_length: int = 64
    max_length: int = 1024
    max_channels: int = 6
    shard_size: int = 1000
    source_data_dirs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Normalise sequences to tuples and reject bad values (``datasets`` sets config kwargs after init)."""
        self.level_mix = tuple(self.level_mix)
        if self.size < 1 or self.shard_size < 1:
            raise ValueError(f"size and shard_size must be positive, got {self.size} and {self.shard_size}.")
        unknown = [level for level in self.level_mix if level not in CAPTION_LEVELS] or not self.level_mix
        if unknown:
            raise ValueError(
                f"level_mix must be a non-empty subset of {CAPTION_LEVELS}, got {self.level_mix}."
            )
        known = {SYNTHETIC, *SOURCES}
        bad = sorted(set(self.source_weights) - known) + sorted(set(self.source_data_dirs) - set(SOURCES))
        if bad:
            raise ValueError(f"Unknown sources {bad}; choose from {sorted(known)}.")
        weights = list(self.source_weights.values())
        if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
            raise ValueError(
                f"source_weights must be finite, non-negative and not all zero, got {self.source_weights}."
            )
        if not 0.0 <= self.univariate_ratio <= 1.0:
            raise ValueError(f"univariate_ratio must lie in [0, 1], got {self.univariate_ratio}.")
        lengths = [n for n in WINDOW_LENGTHS if self.min_length <= n <= self.max_length]
        if not lengths or self.min_length < 16:
            raise ValueError(
                f"min_length..max_length ({self.min_length}..{self.max_length}) must include one of {WINDOW_LENGTHS} "
                "and min_length must be >= 16."
            )
        if self.max_channels < 1:
            raise ValueError(f"max_channels must be >= 1, got {self.max_channels}.")


def source_counts(size: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Rows per source, proportional to ``weights`` and summing to ``size`` (largest remainders)."""
    names = sorted(name for name, weight in weights.items() if weight > 0)
    total = sum(weights[name] for name in names)
    exact = {name: size * weights[name] / total for name in names}
    counts = {name: int(math.floor(exact[name])) for name in names}
    by_remainder = sorted(names, key=lambda name: (counts[name] - exact[name], name))
    for name in by_remainder[: size - sum(counts.values())]:
        counts[name] += 1
    return counts


def shard_plan(config: SlipCorpusConfig) -> list[tuple[int, dict[str, int]]]:
    """(shard index, rows per source) for every shard; each source's rows are spread evenly over shards."""
    num_shards = math.ceil(config.size / config.shard_size)
    sizes = [len(part) for part in np.array_split(np.arange(config.size), num_shards)]
    remaining = source_counts(config.size, config.source_weights)
    plan = []
    for index, rows in enumerate(sizes):
        left = sum(sizes[index:])
        counts = source_counts(rows, {name: count / left for name, count in remaining.items() if count})
        remaining = {name: remaining[name] - counts.get(name, 0) for name in remaining}
        plan.append((index, counts))
    return plan


@functools.cache
def _windowable(source: str, data_dir: str | None, min_length: int) -> tuple[list[Recording], np.ndarray]:
    """A source's recordings long enough for one window, with draw probabilities proportional to length."""
    recordings = [r for r in SOURCES[source].recordings(data_dir) if r.values.shape[1] >= min_length]
    if not recordings:
        raise ValueError(f"Source {source!r} has no recording of at least {min_length} steps.")
    lengths = np.array([r.values.shape[1] for r in recordings], dtype=np.float64)
    return recordings, lengths / lengths.sum()


def freq_string(seconds_per_step: float | None) -> str:
    """A `processing_slip`-parsable frequency: "100Hz" below one second, else a pandas alias ("5min", "D")."""
    if seconds_per_step is None:
        return ""
    if seconds_per_step < 1:
        return f"{1 / seconds_per_step:g}Hz"
    return pd.tseries.frequencies.to_offset(pd.Timedelta(seconds=seconds_per_step)).freqstr


class SlipCorpus(datasets.GeneratorBasedBuilder):
    """Sensor-caption pretraining pairs (one ``train`` split)."""

    # 1.2.0: HAPT row ids name each recording "recordingN"; the rows are otherwise those of 1.1.0.
    VERSION = datasets.Version("1.2.0")
    BUILDER_CONFIG_CLASS = SlipCorpusConfig
    BUILDER_CONFIGS = [SlipCorpusConfig(name="default", version=VERSION)]
    DEFAULT_CONFIG_NAME = "default"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "slip_corpus")
        super().__init__(*args, **kwargs)
        self.config.validate()

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=(
                "SLIP pretraining corpus: synthetic series with exactly true captions and windows of public "
                "sensor, physiological and forecasting recordings, each with statistical, structural and "
                "semantic captions."
            ),
            features=CORPUS_FEATURES,
        )

    def _split_generators(self, dl_manager):
        plan = shard_plan(self.config)
        for source in source_counts(self.config.size, self.config.source_weights):
            if source != SYNTHETIC:  # read every source now, so a bad file fails here, named, before any row
                _windowable(source, self.config.source_data_dirs.get(source), self.config.min_length)
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"shards": plan})]

    def _generate_examples(self, shards: list[tuple[int, dict[str, int]]]) -> Iterator[tuple[str, dict]]:
        for index, counts in shards:
            for row, example in enumerate(self._shard_rows(index, counts)):
                key = f"{index:05d}-{row:06d}"
                yield key, {**example, "id": f"{key}:{example['id']}"}

    def _shard_rows(self, index: int, counts: dict[str, int]) -> Iterator[dict]:
        config = self.config
        rng = np.random.default_rng([config.seed, index])
        order = rng.permutation(np.repeat(sorted(counts), [counts[name] for name in sorted(counts)]))
        synthetic = generate_synthetic(
            counts.get(SYNTHETIC, 0),
            seed=int(rng.integers(2**31)),
            min_length=config.min_length,
            max_length=config.max_length,
            max_channels=config.max_channels,
            univariate_ratio=config.univariate_ratio,
        )
        for source in order:
            seed = int(rng.integers(2**31))
            if source == SYNTHETIC:
                series, _, parts, info = next(synthetic)
                yield self._row(
                    f"synthetic/{seed}",
                    series,
                    info,
                    freq_string(info.seconds_per_step),
                    parts,
                    SYNTHETIC,
                    seed,
                )
            else:
                yield self._real_row(str(source), rng, seed)

    def _real_row(self, source: str, rng: np.random.Generator, seed: int) -> dict:
        config = self.config
        recordings, probabilities = _windowable(
            source, config.source_data_dirs.get(source), config.min_length
        )
        recording = recordings[rng.choice(len(recordings), p=probabilities)]
        lengths = [n for n in WINDOW_LENGTHS if config.min_length <= n <= config.max_length]
        for _ in range(MAX_WINDOW_DRAWS):
            window = random_window(recording.values, rng, lengths, DECIMATION_FACTORS)
            channels = self._channels(recording.values.shape[0], rng)
            # A window that falls into a recording's gap has nothing to describe or learn from: draw again.
            if not np.isnan(window.values[channels]).all(axis=1).any():
                break
        else:
            raise ValueError(
                f"{MAX_WINDOW_DRAWS} windows of {recording.key} in a row had a channel with no observed value; "
                "the recording is (nearly) all missing: leave it out of the source."
            )
        info = recording.info
        info = dataclasses.replace(
            info,
            channel_names=[info.channel_names[c] for c in channels],
            units=[info.units[c] for c in channels],
            seconds_per_step=info.seconds_per_step * window.factor,
        )
        series = window.values[channels]
        parts = describe_series(series, info, seed=seed)
        key = f"{recording.key}[{window.start}:{window.stop}:{window.factor}]ch{','.join(map(str, channels))}"
        return self._row(key, series, info, scale_freq(recording.freq, window.factor), parts, source, seed)

    def _channels(self, available: int, rng: np.random.Generator) -> list[int]:
        if available == 1 or rng.random() < self.config.univariate_ratio:
            return [int(rng.integers(available))]
        keep = min(available, self.config.max_channels)
        if keep == available:
            return list(range(available))
        return sorted(rng.choice(available, size=keep, replace=False).tolist())

    def _row(
        self,
        key: str,
        series: np.ndarray,
        info: SeriesDescription,
        freq: str,
        parts: dict,
        source: str,
        seed: int,
    ) -> dict:
        return {
            "id": key,
            "series": np.asarray(series, dtype=np.float32),
            "channel_names": list(info.channel_names),
            "units": list(info.units),
            "freq": freq,
            "domain": info.domain,
            "source": source,
            "caption_statistical": parts["statistical"],
            "caption_structural": parts["structural"],
            "caption_semantic": parts["semantic"],
            "caption": compose_caption(parts, self.config.level_mix, seed=seed),
        }


def source_table(config: SlipCorpusConfig) -> str:
    """Markdown table of the corpus's sources: domain, channels, rate and the pairs each contributes."""
    counts = source_counts(config.size, config.source_weights)
    lines = ["| source | domain | channels | rate | pairs |", "|---|---|---|---|---|"]
    if SYNTHETIC in counts:
        lines.append(
            f"| synthetic | trend + seasonality + noise + events (exactly true captions) | 1-{config.max_channels} "
            f"| 250 Hz - daily | {counts[SYNTHETIC]:,} |"
        )
    for name, source in SOURCES.items():
        if name in counts:
            lines.append(
                f"| {name} | {source.domain} | {source.channels} | {source.rate} | {counts[name]:,} |"
            )
    return "\n".join(lines)
