"""Downstream evaluation and finetuning dataset builders (the paper's transfer and SFT sets).

Every builder downloads its published raw files through ``datasets.DownloadManager`` or reads them from
``data_dir``, verifies them before parsing and writes the project schema: classification sets write
``classification_features(labels)``, finetuning sets ``QA_FEATURES`` with the scorer task of each row.

    >>> from hub_datasets.downstream import DOWNSTREAM_BUILDERS
    >>> builder = DOWNSTREAM_BUILDERS["uci_har"](data_dir="raw/")  # or no data_dir to download
    >>> builder.download_and_prepare()
    >>> ds = builder.as_dataset()

``ZERO_SHOT_PROMPTS[name][label]`` lists the class prompts of each classification set (all but
``asphalt_obstacles``, whose source names its classes only by number).
"""

from __future__ import annotations

import datasets

from . import asphalt_obstacles, beijing_aqi, ppg_bp, ptb_xl, sleep_edf, studentlife, uci_har, wesad, wisdm
from ._base import DownstreamBuilder, SourceConfig, SourceFile, SourceFileError
from ._qa import SCORER_TASKS
from .ecg_qa_cot import EcgQaCot
from .har_cot import HarCot
from .m4_captions import M4Captions
from .sleep_cot import SleepCot
from .tsqa import Tsqa

CLASSIFICATION_MODULES = {
    "uci_har": uci_har,
    "ptb_xl": ptb_xl,
    "sleep_edf": sleep_edf,
    "wisdm": wisdm,
    "wesad": wesad,
    "ppg_bp": ppg_bp,
    "beijing_aqi": beijing_aqi,
    "studentlife": studentlife,
}

DOWNSTREAM_BUILDERS: dict[str, type[datasets.GeneratorBasedBuilder]] = {
    "uci_har": uci_har.UciHar,
    "ptb_xl": ptb_xl.PtbXl,
    "sleep_edf": sleep_edf.SleepEdf,
    "wisdm": wisdm.Wisdm,
    "wesad": wesad.Wesad,
    "ppg_bp": ppg_bp.PpgBp,
    "beijing_aqi": beijing_aqi.BeijingAqi,
    "asphalt_obstacles": asphalt_obstacles.AsphaltObstacles,
    "studentlife": studentlife.StudentLife,
    "tsqa": Tsqa,
    "har_cot": HarCot,
    "sleep_cot": SleepCot,
    "ecg_qa_cot": EcgQaCot,
    "m4_captions": M4Captions,
}
"""Builder class per dataset name; configs (e.g. wisdm "phone"/"watch") via ``config_name=``."""

ZERO_SHOT_PROMPTS: dict[str, dict[str, list[str]]] = {
    name: module.ZERO_SHOT_PROMPTS for name, module in CLASSIFICATION_MODULES.items()
}

__all__ = [
    "DOWNSTREAM_BUILDERS",
    "SCORER_TASKS",
    "ZERO_SHOT_PROMPTS",
    "DownstreamBuilder",
    "SourceConfig",
    "SourceFile",
    "SourceFileError",
]
