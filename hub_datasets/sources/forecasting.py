"""Forecasting-style series from registry packages: environment, astronomy, hydrology, economics, glucose.

Data files are read straight from the installed packages (``statsmodels/datasets/*/*.csv``,
``bokeh_sampledata/_data/CGM.csv.gz``) without importing them. Calendar-sampled series carry a pandas alias
as their frequency ("W", "MS", "QS", "YS"). The CGM readings are put on their nominal 5-minute grid; gaps in
the sensor log become NaN (missing), never interpolated values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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

_DAY = 86_400.0
_YEAR = 365.2425 * _DAY
SECONDS_PER_STEP = {"W": 7 * _DAY, "MS": _YEAR / 12, "QS": _YEAR / 4, "YS": _YEAR, "5min": 300.0}
REQUIREMENTS = ("statsmodels", "bokeh-sampledata")


@dataclass(frozen=True)
class _Table:
    folder: str
    file: str
    columns: tuple[str, ...]
    channel_names: tuple[str, ...]
    units: tuple[str, ...]
    freq: str
    domain: str
    device: str
    description: str


_STATSMODELS = (
    _Table(
        "co2",
        "co2.csv",
        ("co2",),
        ("CO2 concentration",),
        ("ppm",),
        "W",
        "atmospheric chemistry",
        "Mauna Loa Observatory infrared gas analyser",
        "Weekly atmospheric carbon dioxide concentration at Mauna Loa, Hawaii",
    ),
    _Table(
        "sunspots",
        "sunspots.csv",
        ("SUNACTIVITY",),
        ("sunspot number",),
        ("count",),
        "YS",
        "astronomy",
        "solar observatories (Wolf sunspot number)",
        "Yearly mean sunspot number",
    ),
    _Table(
        "nile",
        "nile.csv",
        ("volume",),
        ("Nile flow",),
        ("1e8 m^3",),
        "YS",
        "hydrology",
        "Aswan river gauge",
        "Annual flow volume of the Nile river at Aswan",
    ),
    _Table(
        "macrodata",
        "macrodata.csv",
        ("realgdp", "realcons", "realinv", "cpi", "unemp", "infl"),
        (
            "real GDP",
            "real consumption",
            "real investment",
            "consumer price index",
            "unemployment rate",
            "inflation rate",
        ),
        ("billion 2005 USD", "billion 2005 USD", "billion 2005 USD", "index", "%", "%"),
        "QS",
        "economics",
        "US national accounts and labour statistics",
        "Quarterly US macroeconomic indicators",
    ),
)


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as error:
        raise SourceFileError(f"Cannot parse {path}: {error}") from error


def _recording(key: str, values: np.ndarray, table: _Table) -> Recording:
    return Recording(
        key=key,
        values=values,
        info=SeriesDescription(
            channel_names=table.channel_names,
            units=table.units,
            seconds_per_step=SECONDS_PER_STEP[table.freq],
            domain=table.domain,
            device=table.device,
            description=table.description,
        ),
        freq=table.freq,
    )


def read_statsmodels(data_dir: str | None = None) -> Iterator[Recording]:
    """co2, sunspots, Nile, El Nino (monthly sea surface temperature) and macrodata from statsmodels."""
    for table in _STATSMODELS:
        path = data_file(table.file, data_dir, "statsmodels", "statsmodels", "datasets", table.folder)
        frame = _read_csv(path)
        missing = set(table.columns) - set(frame.columns)
        if missing:
            raise SourceFileError(f"{path} lacks columns {sorted(missing)}.")
        yield _recording(
            f"statsmodels/{table.folder}",
            as_channels_first(frame[list(table.columns)].to_numpy(), path),
            table,
        )
    path = data_file("elnino.csv", data_dir, "statsmodels", "statsmodels", "datasets", "elnino")
    frame = _read_csv(path)
    months = [column for column in frame.columns if column != "YEAR"]
    if len(months) != 12:
        raise SourceFileError(f"{path}: expected YEAR plus 12 month columns, got {list(frame.columns)}.")
    elnino = _Table(
        "elnino",
        "elnino.csv",
        ("sst",),
        ("sea surface temperature",),
        ("degC",),
        "MS",
        "oceanography",
        "ship and buoy observations (Nino 1+2 region)",
        "Monthly sea surface temperature in the eastern equatorial Pacific (El Nino region)",
    )
    yield _recording(
        "statsmodels/elnino", as_channels_first(frame[months].to_numpy().reshape(-1, 1), path), elnino
    )


def read_glucose(data_dir: str | None = None) -> Iterator[Recording]:
    """bokeh-sampledata's continuous glucose monitor log (about 7 months at 5-minute steps)."""
    path = data_file("CGM.csv.gz", data_dir, "bokeh_sampledata", "bokeh-sampledata", "_data")
    frame = _read_csv(path, parse_dates=["datetime"])
    if "glucose" not in frame.columns:
        raise SourceFileError(f"{path} lacks the 'glucose' column.")
    glucose = frame.set_index("datetime")["glucose"].sort_index().resample("5min").mean()
    table = _Table(
        "cgm",
        "CGM.csv.gz",
        ("glucose",),
        ("blood glucose",),
        ("mg/dL",),
        "5min",
        "diabetes care",
        "continuous glucose monitor",
        "Interstitial blood glucose of a person with diabetes",
    )
    yield _recording("bokeh/cgm", as_channels_first(glucose.to_numpy()[:, None], path), table)


def read_forecasting(data_dir: str | None = None) -> Iterator[Recording]:
    """Series of every installed package among `REQUIREMENTS`."""
    return read_installed((read_statsmodels, read_glucose), data_dir, REQUIREMENTS)
