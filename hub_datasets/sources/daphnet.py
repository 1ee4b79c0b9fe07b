"""Daphnet freezing-of-gait recording S06R02 (Bachlin et al. 2010), as shipped in aeon's data folder.

A Parkinson's patient wore three 3-axis accelerometers (ankle, thigh, trunk) sampled at 64 Hz, in milli-g;
``is_anomaly`` marks freezing-of-gait episodes. The recording is cut into runs of one freeze state so each
caption can state whether the patient was freezing.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from ..captions import SeriesDescription
from .base import Recording, SourceFileError, as_channels_first, data_file
from .hapt import label_runs

REQUIREMENT = "aeon"
FILE_NAME = "S06R02E0.csv"
SAMPLE_RATE_HZ = 64
COLUMNS = (
    "ankle_horiz_fwd",
    "ankle_vert",
    "ankle_horiz_lateral",
    "leg_horiz_fwd",
    "leg_vert",
    "leg_horiz_lateral",
    "trunk_horiz_fwd",
    "trunk_vert",
    "trunk_horiz_lateral",
)
CHANNEL_NAMES = tuple(
    f"{place} {axis} acceleration"
    for place in ("ankle", "thigh", "trunk")
    for axis in ("forward", "vertical", "lateral")
)
DOMAIN = "gait monitoring in Parkinson's disease"
DEVICE = "three body-worn 3-axis accelerometers at the ankle, thigh and lower back"


def read_daphnet(data_dir: str | None = None) -> Iterator[Recording]:
    """Runs of constant freeze state from the Daphnet recording."""
    path = data_file(FILE_NAME, data_dir, "aeon", REQUIREMENT, "datasets", "data", "Daphnet_S06R02E0")
    try:
        table = pd.read_csv(path, usecols=[*COLUMNS, "is_anomaly"])
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceFileError(f"Cannot parse {path}: {error}") from error
    values = as_channels_first(table[list(COLUMNS)].to_numpy(), path)
    freezing = table["is_anomaly"].to_numpy(np.int8)
    for run, (start, stop, frozen) in enumerate(label_runs(freezing)):
        state = "freezing of gait" if frozen else "no freezing of gait"
        yield Recording(
            key=f"daphnet/S06R02/run{run:03d}",
            values=values[:, start:stop],
            info=SeriesDescription(
                channel_names=CHANNEL_NAMES,
                units=("mg",) * len(CHANNEL_NAMES),
                seconds_per_step=1 / SAMPLE_RATE_HZ,
                domain=DOMAIN,
                device=DEVICE,
                description=f"Leg and trunk acceleration of a Parkinson's patient walking, {state}",
                label=state,
            ),
            freq=f"{SAMPLE_RATE_HZ}Hz",
        )
