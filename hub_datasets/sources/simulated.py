"""neurokit2 physiological simulators: signals whose generating parameters are known exactly.

Each recording's parameters (heart rate, respiratory rate, number of skin-conductance responses or muscle
bursts, noise level) are drawn from a fixed seed and stated in its semantic description, so the caption
says what produced the signal rather than what a detector guesses. ECGs use neurokit2's ECGSYN model.
"""

from __future__ import annotations

import importlib.metadata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..captions import SeriesDescription
from .base import MissingSourcePackageError, Recording, cached_arrays

REQUIREMENT = "neurokit2"
RECORDINGS_PER_SIGNAL = 6
DOMAIN = "simulated physiology"
DEVICE = "neurokit2 simulator"
_CACHE_VERSION = 1


@dataclass(frozen=True)
class _Signal:
    name: str
    channel: str
    unit: str
    rate: int
    seconds: int
    draw: Callable[[np.random.Generator], dict]
    describe: Callable[[dict], str]


def _signals() -> tuple[_Signal, ...]:
    return (
        _Signal(
            "ecg",
            "ECG",
            "mV",
            250,
            20,
            lambda rng: {
                "heart_rate": int(rng.integers(50, 121)),
                "noise": round(float(rng.uniform(0.0, 0.1)), 2),
            },
            lambda p: (
                f"A simulated electrocardiogram with a heart rate of {p['heart_rate']} beats per minute "
                f"and noise amplitude {p['noise']:g}"
            ),
        ),
        _Signal(
            "ppg",
            "PPG",
            "a.u.",
            100,
            60,
            lambda rng: {
                "heart_rate": int(rng.integers(50, 121)),
                "motion_amplitude": round(float(rng.uniform(0, 0.3)), 2),
            },
            lambda p: (
                f"A simulated photoplethysmogram with a heart rate of {p['heart_rate']} beats per minute "
                f"and motion artifact amplitude {p['motion_amplitude']:g}"
            ),
        ),
        _Signal(
            "rsp",
            "respiration",
            "a.u.",
            50,
            120,
            lambda rng: {
                "respiratory_rate": int(rng.integers(8, 26)),
                "noise": round(float(rng.uniform(0, 0.1)), 2),
            },
            lambda p: (
                f"A simulated respiration signal at {p['respiratory_rate']} breaths per minute "
                f"with noise amplitude {p['noise']:g}"
            ),
        ),
        _Signal(
            "eda",
            "EDA",
            "uS",
            50,
            120,
            lambda rng: {
                "scr_number": int(rng.integers(0, 7)),
                "noise": round(float(rng.uniform(0, 0.05)), 2),
            },
            lambda p: (
                f"A simulated electrodermal activity signal with {p['scr_number']} skin conductance "
                f"responses and noise amplitude {p['noise']:g}"
            ),
        ),
        _Signal(
            "emg",
            "EMG",
            "mV",
            1000,
            10,
            lambda rng: {
                "burst_number": int(rng.integers(1, 5)),
                "noise": round(float(rng.uniform(0.01, 0.1)), 2),
            },
            lambda p: (
                f"A simulated electromyogram with {p['burst_number']} muscle activation bursts "
                f"and noise amplitude {p['noise']:g}"
            ),
        ),
    )


def _simulate() -> dict[str, np.ndarray]:
    try:
        import neurokit2 as nk
    except ImportError as error:
        raise MissingSourcePackageError(
            f"Simulated physiology needs neurokit2: pip install {REQUIREMENT}"
        ) from error
    arrays = {}
    for signal in _signals():
        for index, params in enumerate(_parameters(signal)):
            simulate = getattr(nk, f"{signal.name}_simulate")
            values = simulate(
                duration=signal.seconds, sampling_rate=signal.rate, random_state=index, **params
            )
            arrays[f"{signal.name}{index:02d}"] = np.asarray(values, dtype=np.float32)
    return arrays


def _parameters(signal: _Signal) -> list[dict]:
    rng = np.random.default_rng([zlib.crc32(signal.name.encode()), 2024])
    return [signal.draw(rng) for _ in range(RECORDINGS_PER_SIGNAL)]


def read_simulated(data_dir: str | None = None) -> Iterator[Recording]:
    """`RECORDINGS_PER_SIGNAL` simulated recordings of each signal type; ``data_dir`` is unused (no files).

    Simulating takes seconds (and importing neurokit2 several more), so the signals are cached per
    neurokit2 version and simulated once.
    """
    try:
        version = importlib.metadata.version(REQUIREMENT)
    except importlib.metadata.PackageNotFoundError as error:
        raise MissingSourcePackageError(
            f"Simulated physiology needs neurokit2: pip install {REQUIREMENT}"
        ) from error
    arrays = cached_arrays(f"neurokit2-{version}-v{_CACHE_VERSION}", _simulate)
    for signal in _signals():
        for index, params in enumerate(_parameters(signal)):
            key = f"{signal.name}{index:02d}"
            yield Recording(
                key=f"neurokit2/{key}",
                values=arrays[key][None, :],
                info=SeriesDescription(
                    channel_names=(signal.channel,),
                    units=(signal.unit,),
                    seconds_per_step=1 / signal.rate,
                    domain=DOMAIN,
                    device=DEVICE,
                    description=signal.describe(params),
                ),
                freq=f"{signal.rate}Hz",
            )
