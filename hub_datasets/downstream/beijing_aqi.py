"""Beijing multi-site air quality (Zhang et al. 2017): daily windows of hourly pollutants and weather.

Source: ``PRSA2017_Data_20130301-20170228.zip`` (UCI 501): one CSV per monitoring site
(``PRSA_Data_<site>_20130301-20170228.csv``; columns ``No, year, month, day, hour, PM2.5, PM10, SO2,
NO2, CO, O3, TEMP, PRES, DEWP, RAIN, wd, WSPM, station``; missing values written ``NA``). One example is
one site-day: 24 hourly steps of the 11 numeric channels (wind direction ``wd`` is categorical and left
out; missing hours stay NaN). Label: the day's air-quality class from its 24-hour mean PM2.5 with the
breakpoints of China's HJ 633-2012 (ug/m3): excellent <= 35 < good <= 75 < lightly polluted <= 115 <
moderately polluted <= 150 < heavily polluted; HJ 633's "severely polluted" (> 250) is merged into
"heavily polluted" to give the paper's 5 classes. Days without any PM2.5 reading have no class and are
not examples (counted in the log). Split: by time, the last 20 % of days (all sites) for test, so no
day is seen in both. UCI publishes no checksum; the archive is verified by its zip CRCs.
"""

from __future__ import annotations

import io
import re
import zipfile

import datasets
import numpy as np
import pandas as pd

from ..schema import classification_features
from ._base import DownstreamBuilder, SourceFile, SourceFileError, check_columns, series_to_list

ARCHIVE = SourceFile(
    name="PRSA2017_Data_20130301-20170228.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00501/PRSA2017_Data_20130301-20170228.zip",
)
CHANNELS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "WSPM")
LABELS = ("excellent", "good", "lightly_polluted", "moderately_polluted", "heavily_polluted")
PM25_UPPER_BOUNDS = (35.0, 75.0, 115.0, 150.0)
TEST_FRACTION = 0.2

ZERO_SHOT_PROMPTS = {
    "excellent": ["a day of excellent air quality with very low PM2.5", "clean air in the city"],
    "good": ["a day of good air quality", "air with low particulate pollution"],
    "lightly_polluted": ["a lightly polluted day", "air with slightly elevated PM2.5"],
    "moderately_polluted": ["a moderately polluted day", "air with high particulate matter"],
    "heavily_polluted": ["a heavily polluted smoggy day", "severe haze with very high PM2.5"],
}

logger = datasets.logging.get_logger(__name__)


def aqi_class(mean_pm25: float) -> int:
    """Index into LABELS of a 24-hour mean PM2.5 (ug/m3); upper bounds are inclusive."""
    if not np.isfinite(mean_pm25) or mean_pm25 < 0:
        raise ValueError(f"mean PM2.5 must be a finite non-negative number, got {mean_pm25}")
    return int(np.searchsorted(PM25_UPPER_BOUNDS, mean_pm25, side="left"))


def read_sites(archive_path) -> pd.DataFrame:
    """All site CSVs as one frame with a ``date`` column."""
    pattern = re.compile(r"PRSA_Data_(\w+)_20130301-20170228\.csv$")
    frames = []
    with zipfile.ZipFile(archive_path) as archive:
        for name in sorted(archive.namelist()):
            if pattern.search(name):
                frame = pd.read_csv(io.BytesIO(archive.read(name)), na_values=["NA"])
                check_columns(frame.columns, ["year", "month", "day", "hour", "station", *CHANNELS], name)
                frames.append(frame)
    if not frames:
        raise SourceFileError(f"{ARCHIVE.name}: no PRSA_Data_<site>_20130301-20170228.csv members")
    sites = pd.concat(frames, ignore_index=True)
    sites["date"] = pd.to_datetime(sites[["year", "month", "day"]]).dt.date
    return sites


class BeijingAqi(DownstreamBuilder):
    """Site-days of hourly measurements labelled with their PM2.5 air-quality class.

    Compared with the SLIP authors' release: theirs has 5 classes and a 1,168 / 293 train / test split; a
    third-party converter measured 7 channels and 12-day hourly windows. Ours has 5 PM2.5 classes,
    11 channels and one day per window, and holds out the last 20 % of days. Our class breakpoints come from
    HJ 633-2012, because theirs are not published.
    """

    VERSION = datasets.Version("1.0.0")

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(LABELS),
            homepage="https://archive.ics.uci.edu/dataset/501",
            citation="Zhang et al., Cautionary tales on air-quality improvement in Beijing, Proc. R. Soc. A 2017.",
            license="CC BY 4.0",
        )

    def _split_generators(self, dl_manager):
        sites = read_sites(self.fetch_sources(dl_manager)[ARCHIVE.name])
        days = sorted(sites["date"].unique())
        first_test_day = days[int(round(len(days) * (1 - TEST_FRACTION)))]
        return [
            datasets.SplitGenerator(
                name="train", gen_kwargs={"sites": sites[sites["date"] < first_test_day]}
            ),
            datasets.SplitGenerator(
                name="test", gen_kwargs={"sites": sites[sites["date"] >= first_test_day]}
            ),
        ]

    def _generate_examples(self, sites):
        unlabelled = 0
        for (station, date), day in sites.groupby(["station", "date"], sort=True):
            hourly = day.set_index("hour").reindex(range(24))
            values = hourly[list(CHANNELS)].to_numpy(dtype=np.float32).T
            pm25 = values[0]
            if np.isnan(pm25).all():
                unlabelled += 1
                continue
            yield (
                f"{station}-{date}",
                {
                    "id": f"beijing_aqi-{station}-{date}",
                    "series": series_to_list(values),
                    "channel_names": list(CHANNELS),
                    "freq": "h",
                    "label": aqi_class(float(np.nanmean(pm25))),
                    "subject": str(station),
                    "source": "beijing_aqi",
                },
            )
        logger.info(f"Beijing AQI: {unlabelled} site-days without any PM2.5 reading have no class")
