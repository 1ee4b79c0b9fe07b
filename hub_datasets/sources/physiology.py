"""Real physiological recordings shipped inside registry packages (data files only, read without importing).

- pyhrv ``files/SampleECG.txt``: a BITalino single-lead ECG at 1000 Hz (OpenSignals text format, 10-bit ADC).
- PyWavelets ``data/ecg.npz``: 1024 samples of an MIT-BIH Arrhythmia ECG at 360 Hz.
- heartpy ``data/data*.csv``: fingertip / wrist PPG examples (heartpy is GPL: its files are read, its code
  never imported). ``data.csv`` is at 100 Hz; the other two carry timestamps and their rate is their median
  step.
Each present package adds its recordings; `read_physiology` raises only when none is installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..captions import SeriesDescription
from .base import (
    Recording,
    SourceFileError,
    as_channels_first,
    data_file,
    read_installed,
)

REQUIREMENTS = ("pyhrv", "PyWavelets", "heartpy")
ECG_DOMAIN = "cardiology"
PPG_DOMAIN = "photoplethysmography"


def _ecg(key: str, values: np.ndarray, rate: float, units: str, device: str, description: str) -> Recording:
    return Recording(
        key=key,
        values=values,
        info=SeriesDescription(
            channel_names=("ECG",),
            units=(units,),
            seconds_per_step=1 / rate,
            domain=ECG_DOMAIN,
            device=device,
            description=description,
        ),
        freq=f"{rate:g}Hz",
    )


def read_bitalino_ecg(data_dir: str | None = None) -> Iterator[Recording]:
    """pyhrv's BITalino ECG sample; the header's JSON gives the rate and the ECG column."""
    path = data_file("SampleECG.txt", data_dir, "pyhrv", "pyhrv", "files")
    try:
        with open(path, encoding="utf-8") as handle:
            handle.readline()
            header = json.loads(handle.readline().lstrip("# "))
        device = next(iter(header.values()))
        column = device["column"].index(device["label"][0])
        table = np.loadtxt(path, comments="#", usecols=[column], ndmin=2)
        rate = float(device["sampling rate"])
    except (ValueError, KeyError, IndexError, StopIteration, UnicodeDecodeError) as error:
        raise SourceFileError(f"Cannot parse the OpenSignals file {path}: {error}") from error
    yield _ecg(
        "pyhrv/SampleECG",
        as_channels_first(table, path),
        rate,
        "ADC counts (10-bit)",
        "BITalino single-lead ECG sensor",
        "A resting single-lead electrocardiogram recorded with a BITalino board",
    )


def read_pywavelets_ecg(data_dir: str | None = None) -> Iterator[Recording]:
    """PyWavelets' MIT-BIH ECG excerpt (360 Hz)."""
    path = data_file("ecg.npz", data_dir, "pywt", "PyWavelets", "data")
    try:
        with np.load(path, allow_pickle=False) as stored:
            values = stored["data"]
    except (OSError, ValueError, KeyError) as error:
        raise SourceFileError(f"Cannot read {path}: {error}") from error
    yield _ecg(
        "pywt/ecg",
        as_channels_first(values[:, None], path),
        360.0,
        "ADC counts",
        "Holter ECG recorder (MIT-BIH Arrhythmia Database)",
        "An ambulatory electrocardiogram excerpt from the MIT-BIH Arrhythmia Database",
    )


def _median_rate(seconds: np.ndarray, path: Path) -> float:
    steps = np.diff(seconds)
    if len(steps) == 0 or np.median(steps) <= 0:
        raise SourceFileError(f"{path}: timestamps do not increase; cannot infer the sampling rate.")
    return round(1.0 / float(np.median(steps)), 1)


def read_heartpy_ppg(data_dir: str | None = None) -> Iterator[Recording]:
    """heartpy's three PPG examples."""
    for name, device in (
        ("data.csv", "fingertip PPG sensor"),
        ("data2.csv", "fingertip PPG sensor"),
        ("data3.csv", "smartwatch PPG sensor"),
    ):
        path = data_file(name, data_dir, "heartpy", "heartpy", "data")
        try:
            if name == "data.csv":
                table = pd.read_csv(path, header=None, names=["hr"])
                rate = 100.0
            elif name == "data2.csv":
                table = pd.read_csv(path)
                rate = _median_rate(table["timer"].to_numpy() / 1000.0, path)
            else:
                table = pd.read_csv(path)
                stamps = pd.to_datetime(table["datetime"], format="ISO8601")
                rate = _median_rate((stamps - stamps.iloc[0]).dt.total_seconds().to_numpy(), path)
            values = as_channels_first(table[["hr"]].to_numpy(), path)
        except (ValueError, KeyError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise SourceFileError(f"Cannot parse {path}: {error}") from error
        yield Recording(
            key=f"heartpy/{Path(name).stem}",
            values=values,
            info=SeriesDescription(
                channel_names=("PPG",),
                units=("ADC counts",),
                seconds_per_step=1 / rate,
                domain=PPG_DOMAIN,
                device=device,
                description="A photoplethysmogram: blood volume pulse measured optically at the skin",
            ),
            freq=f"{rate:g}Hz",
        )


def read_physiology(data_dir: str | None = None) -> Iterator[Recording]:
    """Recordings of every installed package among `REQUIREMENTS`."""
    return read_installed((read_bitalino_ecg, read_pywavelets_ecg, read_heartpy_ppg), data_dir, REQUIREMENTS)
