"""Writers of tiny raw files in each source's published format (names, layout, encodings, quirks)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd


def matlab_float(value: float) -> str:
    """UCI-HAR's number format: ``1.0128150e+000`` (7 decimals, 3-digit exponent, space for the sign)."""
    mantissa, exponent = f"{value:.7e}".split("e")
    return f"{mantissa}e{exponent[0]}{int(exponent[1:]):03d}".rjust(15)


def write_uci_har(raw: Path, windows_per_part: dict[str, list[tuple[int, int]]], seed: int = 0) -> Path:
    """``UCI HAR Dataset.zip``; windows_per_part maps train/test to (subject, activity id 1..6) per window."""
    rng = np.random.default_rng(seed)
    path = raw / "UCI HAR Dataset.zip"
    root = "UCI HAR Dataset"
    names = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]
    signals = [f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{root}/activity_labels.txt", "".join(f"{i} {n}\n" for i, n in enumerate(names, 1)))
        archive.writestr(f"{root}/README.txt", "Human Activity Recognition Using Smartphones Dataset\n")
        for part, rows in windows_per_part.items():
            archive.writestr(f"{root}/{part}/subject_{part}.txt", "".join(f"{s}\n" for s, _ in rows))
            archive.writestr(f"{root}/{part}/y_{part}.txt", "".join(f"{a}\n" for _, a in rows))
            features = rng.normal(size=(len(rows), 561))
            archive.writestr(
                f"{root}/{part}/X_{part}.txt",
                "".join(" " + " ".join(matlab_float(v) for v in row) + "\n" for row in features),
            )
            for signal in signals:
                values = rng.normal(size=(len(rows), 128))
                text = "".join(" " + " ".join(matlab_float(v) for v in row) + "\n" for row in values)
                archive.writestr(f"{root}/{part}/Inertial Signals/{signal}_{part}.txt", text)
        # The published archive carries macOS resource forks next to the real files.
        archive.writestr(
            f"__MACOSX/{root}/._activity_labels.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X"
        )
    return path


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file short, as an interrupted download does."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def write_text_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def frame_csv(frame: pd.DataFrame, **kwargs) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, **kwargs)
    return buffer.getvalue()


def json_list(values) -> str:
    return json.dumps([round(float(v), 4) for v in values])


def python2_style_pickle(obj) -> bytes:
    """WESAD's pickles were written by Python 2 (protocol 2; numpy arrays reduced via _reconstruct)."""
    return pickle.dumps(obj, protocol=2)


PTB_XL_ROOT = "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3"
PTB_XL_LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def write_ptb_xl(raw: Path, records: list[tuple[int, str, int]], seed: int = 0) -> Path:
    """The PhysioNet zip; records are (ecg_id, scp_codes literal, strat_fold), with 100 and 500 Hz WFDB files."""
    import wfdb

    rng = np.random.default_rng(seed)
    work = raw / "_ptbxl_build"
    statements = pd.DataFrame(
        {
            "description": [
                "normal ECG",
                "anterior myocardial infarction",
                "sinus rhythm",
                "non-specific ST changes",
                "complete left bundle branch block",
                "left ventricular hypertrophy",
            ],
            "diagnostic": [1.0, 1.0, np.nan, 1.0, 1.0, 1.0],
            "form": [np.nan, np.nan, np.nan, 1.0, np.nan, np.nan],
            "rhythm": [np.nan, np.nan, 1.0, np.nan, np.nan, np.nan],
            "diagnostic_class": ["NORM", "MI", np.nan, "STTC", "CD", "HYP"],
            "diagnostic_subclass": ["NORM", "AMI", np.nan, "STTC", "CLBBB", "LVH"],
            "Statement Category": [
                "Normal/abnormal",
                "Myocardial Infarction",
                "Rhythm",
                "Basic roots",
                "Conduction disturbance",
                "Hypertrophy",
            ],
        },
        index=["NORM", "AMI", "SR", "NDT", "CLBBB", "LVH"],
    )
    rows = []
    members: dict[str, bytes | str] = {}
    for ecg_id, scp_codes, fold in records:
        folder = f"{(ecg_id // 1000) * 1000:05d}"
        for rate, suffix, records_dir in ((100, "lr", "records100"), (500, "hr", "records500")):
            name = f"{ecg_id:05d}_{suffix}"
            out = work / records_dir / folder
            out.mkdir(parents=True, exist_ok=True)
            wfdb.wrsamp(
                name,
                fs=rate,
                units=["mV"] * 12,
                sig_name=PTB_XL_LEADS,
                p_signal=np.round(rng.normal(scale=0.3, size=(10 * rate, 12)), 3),
                fmt=["16"] * 12,
                adc_gain=[1000.0] * 12,
                baseline=[0] * 12,
                write_dir=str(out),
            )
            for extension in ("hea", "dat"):
                members[f"{PTB_XL_ROOT}/{records_dir}/{folder}/{name}.{extension}"] = (
                    out / f"{name}.{extension}"
                ).read_bytes()
        rows.append(
            {
                "ecg_id": ecg_id,
                "patient_id": float(15000 + ecg_id),
                "age": 56.0,
                "sex": 1,
                "height": np.nan,
                "weight": 63.0,
                "nurse": 2.0,
                "site": 0.0,
                "device": "CS-12   E",
                "recording_date": "1984-11-09 09:17:34",
                "report": "sinusrhythmus periphere niederspannung",
                "scp_codes": scp_codes,
                "heart_axis": np.nan,
                "infarction_stadium1": np.nan,
                "infarction_stadium2": np.nan,
                "validated_by": np.nan,
                "second_opinion": False,
                "initial_autogenerated_report": False,
                "validated_by_human": True,
                "baseline_drift": np.nan,
                "static_noise": ", I-V1,",
                "burst_noise": np.nan,
                "electrodes_problems": np.nan,
                "extra_beats": np.nan,
                "pacemaker": np.nan,
                "strat_fold": fold,
                "filename_lr": f"records100/{folder}/{ecg_id:05d}_lr",
                "filename_hr": f"records500/{folder}/{ecg_id:05d}_hr",
            }
        )
    members[f"{PTB_XL_ROOT}/ptbxl_database.csv"] = frame_csv(pd.DataFrame(rows).set_index("ecg_id"))
    members[f"{PTB_XL_ROOT}/scp_statements.csv"] = frame_csv(statements)
    members[f"{PTB_XL_ROOT}/RECORDS"] = "".join(
        f"records100/{r[0] // 1000 * 1000:05d}/{r[0]:05d}_lr\n" for r in records
    )
    import shutil

    shutil.rmtree(work)
    return write_text_zip(raw / f"{PTB_XL_ROOT}.zip", members)


SLEEP_PSG_CHANNELS = [
    ("EEG Fpz-Cz", 100, "uV"),
    ("EEG Pz-Oz", 100, "uV"),
    ("EOG horizontal", 100, "uV"),
    ("Resp oro-nasal", 1, ""),
    ("EMG submental", 1, "uV"),
    ("Temp rectal", 1, "DegC"),
    ("Event marker", 1, ""),
]


def write_sleep_edf_night(
    raw: Path, psg: str, hypnogram: str, stages: list[tuple[int, int, str]], seconds: int, seed: int = 0
) -> None:
    """A PSG recording (plain EDF, 30 s data records, mixed rates) and its EDF+ hypnogram (annotations only)."""
    import datetime
    import warnings

    import pyedflib
    from pyedflib import highlevel

    rng = np.random.default_rng(seed)
    start = datetime.datetime(1989, 4, 24, 16, 13)
    writer = pyedflib.EdfWriter(str(raw / psg), len(SLEEP_PSG_CHANNELS), file_type=pyedflib.FILETYPE_EDF)
    writer.setSignalHeaders(
        [
            highlevel.make_signal_header(
                label,
                dimension=unit,
                sample_frequency=rate,
                physical_min=-500,
                physical_max=500,
                digital_min=-2048,
                digital_max=2047,
            )
            for label, rate, unit in SLEEP_PSG_CHANNELS
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        writer.setDatarecordDuration(30)
    writer.setStartdatetime(start)
    writer.writeSamples(
        [rng.normal(scale=40, size=seconds * rate).clip(-499, 499) for _, rate, _ in SLEEP_PSG_CHANNELS]
    )
    writer.close()
    annotations = pyedflib.EdfWriter(str(raw / hypnogram), 0, file_type=pyedflib.FILETYPE_EDFPLUS)
    annotations.setStartdatetime(start)
    for onset, duration, text in stages:
        annotations.writeAnnotation(onset, duration, text)
    annotations.close()


WISDM_KEY = [
    ("walking", "A"),
    ("jogging", "B"),
    ("stairs", "C"),
    ("sitting", "D"),
    ("standing", "E"),
    ("typing", "F"),
    ("teeth", "G"),
    ("soup", "H"),
    ("chips", "I"),
    ("pasta", "J"),
    ("drinking", "K"),
    ("sandwich", "L"),
    ("kicking", "M"),
    ("catch", "O"),
    ("dribbling", "P"),
    ("writing", "Q"),
    ("clapping", "R"),
    ("folding", "S"),
]


def wisdm_lines(subject: int, runs: list[tuple[str, int]], seed: int = 0) -> str:
    """Raw lines ``subject,code,timestamp_ns,x,y,z;`` at 20 Hz (50 ms steps, ns clock)."""
    rng = np.random.default_rng(seed)
    lines, clock = [], 252207666810782
    for code, samples in runs:
        for _ in range(samples):
            x, y, z = rng.normal(scale=3.0, size=3)
            lines.append(f"{subject},{code},{clock},{x:.8g},{y + 9.81:.8g},{z:.8g};\n")
            clock += 50_000_000
    return "".join(lines)


def write_wisdm(raw: Path, subjects: dict[int, list[tuple[str, int]]]) -> Path:
    members: dict[str, str] = {
        "wisdm-dataset/activity_key.txt": "".join(f"{n} = {c}\n" for n, c in WISDM_KEY) + "\n"
    }
    for seed, (subject, runs) in enumerate(subjects.items()):
        for device in ("phone", "watch"):
            for sensor in ("accel", "gyro"):
                members[f"wisdm-dataset/raw/{device}/{sensor}/data_{subject}_{sensor}_{device}.txt"] = (
                    wisdm_lines(subject, runs, seed)
                )
    members["wisdm-dataset/arff_files/phone/accel/data_1600_accel_phone.arff"] = (
        "@RELATION person_activities_labeled\n"
    )
    return write_text_zip(raw / "wisdm-dataset.zip", members)


def wesad_record(subject: str, labels_per_second: list[int], seed: int = 0) -> dict:
    """One subject's dict as in ``S<k>.pkl``: chest at 700 Hz, wrist at 32/64/4 Hz, labels at 700 Hz."""
    rng = np.random.default_rng(seed)
    seconds = len(labels_per_second)

    def signal(rate: int, width: int, dtype=np.float64) -> np.ndarray:
        return rng.normal(size=(seconds * rate, width)).astype(dtype)

    return {
        "signal": {
            "chest": {
                "ACC": signal(700, 3),
                "ECG": signal(700, 1),
                "EMG": signal(700, 1),
                "EDA": signal(700, 1),
                "Temp": signal(700, 1, np.float32),
                "Resp": signal(700, 1),
            },
            "wrist": {"ACC": signal(32, 3), "BVP": signal(64, 1), "EDA": signal(4, 1), "TEMP": signal(4, 1)},
        },
        "label": np.repeat(np.asarray(labels_per_second, dtype=np.int32), 700),
        "subject": subject,
    }


def write_wesad(raw: Path, subjects: dict[str, list[int]]) -> Path:
    members: dict[str, bytes | str] = {"WESAD/wesad_readme.pdf": b"%PDF-1.4\n"}
    for seed, (subject, labels) in enumerate(subjects.items()):
        members[f"WESAD/{subject}/{subject}.pkl"] = python2_style_pickle(wesad_record(subject, labels, seed))
        members[f"WESAD/{subject}/{subject}_readme.txt"] = "### Personal information ###\nAge: 27\n"
        members[f"WESAD/{subject}/{subject}_quest.csv"] = (
            f"# Subj;{subject};;;\n# ORDER;Base;TSST;Medi 1;Fun\n"
        )
    return write_text_zip(raw / "WESAD.zip", members)


def prsa_site_csv(station: str, daily_pm25: list[float | None], seed: int = 0) -> str:
    """One site's hourly CSV from 2013-03-01; daily_pm25 sets each day's PM2.5 (None: the day's PM2.5 is NA)."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2013-03-01")
    for day, pm25 in enumerate(daily_pm25):
        for hour in range(24):
            when = start + pd.Timedelta(days=day, hours=hour)
            rows.append(
                {
                    "No": len(rows) + 1,
                    "year": when.year,
                    "month": when.month,
                    "day": when.day,
                    "hour": hour,
                    "PM2.5": pm25,
                    "PM10": round(float(rng.uniform(5, 300))),
                    "SO2": 4.0,
                    "NO2": 7.0,
                    "CO": 300.0,
                    "O3": 77.0,
                    "TEMP": -0.7,
                    "PRES": 1023.0,
                    "DEWP": -18.8,
                    "RAIN": 0.0,
                    "wd": "NNW",
                    "WSPM": 4.4,
                    "station": station,
                }
            )
    frame = pd.DataFrame(rows)
    frame.loc[5, "O3"] = np.nan
    return frame_csv(frame, index=False, na_rep="NA")


def write_prsa(raw: Path, sites: dict[str, list[float | None]]) -> Path:
    folder = "PRSA_Data_20130301-20170228"
    members = {
        f"{folder}/PRSA_Data_{site}_20130301-20170228.csv": prsa_site_csv(site, days, seed)
        for seed, (site, days) in enumerate(sites.items())
    }
    return write_text_zip(raw / "PRSA2017_Data_20130301-20170228.zip", members)


PPG_BP_COLUMNS = [
    "Num.",
    "subject_ID",
    "Sex(M/F)",
    "Age(year)",
    "Height(cm)",
    "Weight(kg)",
    "Systolic Blood Pressure(mmHg)",
    "Diastolic Blood Pressure(mmHg)",
    "Heart Rate(b/m)",
    "BMI(kg/m^2)",
    "Hypertension",
    "Diabetes",
    "cerebral infarction",
    "cerebrovascular disease",
]


def write_ppg_bp(raw: Path, subjects: list[tuple[int, str, str | None, str | None]], seed: int = 0) -> Path:
    """``PPG-BP Database.zip``; subjects are (id, Hypertension, Diabetes, cerebral infarction) sheet entries."""
    rng = np.random.default_rng(seed)
    rows = [
        [n, sid, "Female", 45, 160, 60, 130, 80, 70, 23.4, hyp, dia, stroke, None]
        for n, (sid, hyp, dia, stroke) in enumerate(subjects, 1)
    ]
    buffer = io.BytesIO()
    pd.DataFrame(rows, columns=PPG_BP_COLUMNS).to_excel(
        buffer, index=False, sheet_name="cardiovascular disease"
    )
    members: dict[str, bytes | str] = {"Data File/PPG-BP dataset.xlsx": buffer.getvalue()}
    for sid, *_ in subjects:
        for segment in (1, 2, 3):
            samples = np.round(1800 + 200 * np.sin(np.linspace(0, 14, 2100)) + rng.normal(scale=5, size=2100))
            members[f"Data File/0_subject/{sid}_{segment}.txt"] = (
                "\t".join(str(int(v)) for v in samples) + "\t"
            )
    return write_text_zip(raw / "PPG-BP Database.zip", members)


def ts_file(problem: str, series: list[np.ndarray], labels: list[str], classes: list[str]) -> str:
    """A univariate, variable-length sktime/aeon ``.ts`` file as the UCR/UEA archive writes it."""
    header = [
        f"#{problem}: acceleration magnitude of a smartphone on the dashboard, 100 Hz.",
        f"@problemName {problem}",
        "@timeStamps false",
        "@missing false",
        "@univariate true",
        "@equalLength false",
        "@classLabel true " + " ".join(classes),
        "@data",
    ]
    rows = [",".join(f"{v:.6g}" for v in values) + f":{label}" for values, label in zip(series, labels)]
    return "\n".join(header + rows) + "\n"


STUDENTLIFE_HEADERS = {
    "activity": "timestamp, activity inference",
    "audio": "timestamp, audio inference",
    "conversation": "start_timestamp, end_timestamp",
    "dark": "start,end",
    "phonelock": "start,end",
    "phonecharge": "start,end",
}


def write_studentlife(raw: Path, students: dict[str, dict]) -> Path:
    """``dataset.tar.bz2``; students map a user id to {stream: rows, "ema": entries} in the study's formats."""
    import tarfile

    with tarfile.open(raw / "dataset.tar.bz2", "w:bz2") as archive:

        def add(name: str, text: str) -> None:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        for user, content in students.items():
            for stream, header in STUDENTLIFE_HEADERS.items():
                rows = content.get(stream, [])
                add(
                    f"dataset/sensing/{stream}/{stream}_{user}.csv",
                    header + "\n" + "".join(f"{a},{b}\n" for a, b in rows),
                )
            add(f"dataset/EMA/response/Stress/Stress_{user}.json", json.dumps(content["ema"]))
        add("dataset/EMA/EMA_definition.json", "[]")
    return raw / "dataset.tar.bz2"
