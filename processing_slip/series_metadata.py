"""What the processor knows about a series besides its values, written as text for the decoder.

The sensor tensors carry values scaled per channel and a time index that runs from 0 to 1 whatever the length
and rate (`feature_extraction_slip`), so a caption's "of 222 steps" or "sampled at 50 Hz" would be a guess.
Models with `SlipConfig.series_metadata` read these facts instead: the processor writes one short text per field
of `modeling_slip.series_metadata.METADATA_FIELDS`, in the words the corpus captions use (`time_text`), and the
decoder cross-attends to their tokens beside the pooled sensor tokens.
"""

from __future__ import annotations

import math

from .time_text import duration_text, rate_hz_text


def metadata_fields(channels: int, length: int, seconds_per_step: float | None) -> tuple[str, str, str]:
    """("6 channels", "128 steps", "50 Hz"). The rate is "" when it was not stated (None or NaN), and steps of a
    second or longer read as an interval ("one value every 10 min")."""
    rate = ""
    if seconds_per_step is not None and not math.isnan(seconds_per_step):
        if seconds_per_step < 1:
            rate = f"{rate_hz_text(seconds_per_step)} Hz"
        else:
            rate = f"one value every {duration_text(seconds_per_step)}"
    return ("1 channel" if channels == 1 else f"{channels} channels", f"{length} steps", rate)
