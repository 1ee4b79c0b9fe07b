"""Checkpoints a kill cannot tear, and resuming from the newest complete one.

`Trainer` writes ``checkpoint-N`` file by file, so a run killed while saving leaves a torn folder (empty, a
0-byte config or optimizer file, weights only) that `transformers.trainer_utils.get_last_checkpoint` then picks
and fails to load. `SlipTrainer` writes each checkpoint into `STAGING_DIR` inside the run folder and moves it to
``checkpoint-N`` in one rename once every file is on disk (`publish_checkpoint`). `last_complete_checkpoint`
skips, with a warning, a ``checkpoint-N`` that is still incomplete (written by another tool, or cut short by a
power loss), so a torn checkpoint is never loaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

from safetensors import SafetensorError, safe_open
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import (
    ADAPTER_CONFIG_NAME,
    ADAPTER_SAFE_WEIGHTS_NAME,
    ADAPTER_WEIGHTS_NAME,
    CONFIG_NAME,
    SAFE_WEIGHTS_INDEX_NAME,
    SAFE_WEIGHTS_NAME,
    WEIGHTS_NAME,
    logging,
)

logger = logging.get_logger(__name__)

STAGING_DIR = ".checkpoint-staging"
"""Folder in the run folder where a checkpoint is written before it is renamed into place: hidden, and outside
the ``checkpoint-*`` pattern `Trainer` resumes from and rotates."""

WEIGHTS_PATTERNS = (
    SAFE_WEIGHTS_NAME,
    SAFE_WEIGHTS_INDEX_NAME,
    ADAPTER_SAFE_WEIGHTS_NAME,
    WEIGHTS_NAME,
    ADAPTER_WEIGHTS_NAME,
    "pytorch_model_fsdp*",  # FSDP model states (accelerate's FSDP_MODEL_NAME), a file or a sharded folder
    "global_step*",  # DeepSpeed's folder of model and optimizer states
)
"""Names of the entries that hold a checkpoint's model weights; a complete checkpoint has at least one."""

_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
_RESUME_LAST = {"true", "last"}


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` is not a complete checkpoint, or None when it is.

    Complete means: ``trainer_state.json`` is there (`Trainer` writes it after every other file); a
    ``config.json`` (or a PEFT ``adapter_config.json``) and model weights are there; every shard that
    ``model.safetensors.index.json`` names is there; and no file is cut short: every JSON file parses, every
    safetensors file has a readable header that covers the file, and every torch file (``optimizer.pt``,
    ``scheduler.pt``, ``rng_state*.pth``, ``training_args.bin``, ...) is a whole zip archive, the format
    `torch.save` writes. Sharded DeepSpeed and FSDP states in subfolders are not inspected.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return "it is not a folder"
    names = {entry.name for entry in folder.iterdir()}
    if TRAINER_STATE_NAME not in names:
        return f"it has no {TRAINER_STATE_NAME}, the file Trainer writes last"
    if not names & {CONFIG_NAME, ADAPTER_CONFIG_NAME}:
        return f"it has no {CONFIG_NAME} or {ADAPTER_CONFIG_NAME}"
    if not any(fnmatch(name, pattern) for name in names for pattern in WEIGHTS_PATTERNS):
        return "it has no model weights"
    for file in sorted(folder.iterdir()):
        problem = _file_problem(file)
        if problem is not None:
            return f"{file.name} {problem}"
    return _missing_shards(folder)


def _file_problem(file: Path) -> str | None:
    """Why ``file`` is cut short, or None (also for a kind of file that is not checked)."""
    check = _FILE_CHECKS.get(file.suffix)
    if check is None or not file.is_file():
        return None
    if file.stat().st_size == 0:
        return "is empty"
    return check(file)


def _json_problem(file: Path) -> str | None:
    try:
        json.loads(file.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        return f"does not parse as JSON ({error})"
    return None


def _safetensors_problem(file: Path) -> str | None:
    try:
        with safe_open(file, framework="pt"):
            return None
    except (SafetensorError, OSError) as error:
        return f"is not a complete safetensors file ({error})"


def _torch_problem(file: Path) -> str | None:
    if zipfile.is_zipfile(file):
        return None
    return "is not a complete torch.save archive (its zip directory, written last, is missing)"


_FILE_CHECKS: dict[str, Callable[[Path], str | None]] = {
    ".json": _json_problem,
    ".safetensors": _safetensors_problem,
    ".pt": _torch_problem,
    ".pth": _torch_problem,
    ".bin": _torch_problem,
}


def _missing_shards(folder: Path) -> str | None:
    """The weight shards the safetensors index names but the folder lacks, or None."""
    index = folder / SAFE_WEIGHTS_INDEX_NAME
    if not index.is_file():
        return None
    shards = set(json.loads(index.read_bytes()).get("weight_map", {}).values())
    missing = sorted(shard for shard in shards if not (folder / shard).is_file())
    return f"the shards {missing} named in {SAFE_WEIGHTS_INDEX_NAME} are missing" if missing else None


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest complete ``checkpoint-N`` in ``output_dir`` (see `checkpoint_problem`), or None.

    Each newer, incomplete one is skipped with a warning that names it and what is wrong, so a run killed while
    writing a checkpoint resumes from the one before instead of failing to load the torn one.
    """
    output_dir = Path(output_dir)
    if (output_dir / STAGING_DIR).exists():
        logger.info(f"Ignoring {output_dir / STAGING_DIR}: a checkpoint save that did not finish.")
    for folder in _checkpoints_newest_first(output_dir):
        problem = checkpoint_problem(folder)
        if problem is None:
            return str(folder)
        logger.warning(
            f"Not resuming from {folder}: {problem}. The run that wrote it stopped while saving it, so the "
            "previous checkpoint is tried; delete the torn folder once training has resumed."
        )
    return None


def _checkpoints_newest_first(output_dir: Path) -> list[Path]:
    if not output_dir.is_dir():
        return []
    steps = {
        entry: int(match.group(1))
        for entry in output_dir.iterdir()
        if (match := _CHECKPOINT.match(entry.name)) and entry.is_dir()
    }
    return sorted(steps, key=steps.get, reverse=True)


def resolve_resume_checkpoint(value: str | bool | None, output_dir: str | os.PathLike) -> str | None:
    """The checkpoint ``resume_from_checkpoint=value`` loads: None to start afresh (None or False), the newest
    complete one in ``output_dir`` (True, or "True"/"last" as the command line passes it), or the given folder
    once checked complete.

    Raises:
        ValueError: when there is no complete checkpoint to resume from, or the given one is incomplete.
    """
    if value is None or value is False:
        return None
    if value is True or str(value).lower() in _RESUME_LAST:
        checkpoint = last_complete_checkpoint(output_dir)
        if checkpoint is None:
            raise ValueError(
                f"--resume_from_checkpoint: no complete checkpoint in {output_dir} (any incomplete one is named "
                "in a warning above); start without --resume_from_checkpoint, or pass a checkpoint folder."
            )
        return checkpoint
    problem = checkpoint_problem(value)
    if problem is not None:
        raise ValueError(
            f"--resume_from_checkpoint {value} is not a complete checkpoint: {problem}. Pass another "
            f"checkpoint folder, or True to resume from the newest complete one in {output_dir}."
        )
    return str(value)


def clear_staging(run_dir: str | os.PathLike) -> None:
    """Remove what a save that did not finish left in the staging folder, before the next save starts."""
    staging = Path(run_dir) / STAGING_DIR
    if staging.exists():
        shutil.rmtree(staging)


def publish_checkpoint(staged: str | os.PathLike, final: str | os.PathLike) -> None:
    """Move the fully written checkpoint ``staged`` (in the staging folder) to ``final`` in one rename.

    Its files are flushed to disk first, so that after a power loss too ``final`` is either absent or whole.
    A ``final`` already there (the same step saved by an earlier run) is first moved into the staging folder,
    so old and new files never mix; the staging folder is removed last.
    """
    staged, final = Path(staged), Path(final)
    for file in staged.rglob("*"):
        if file.is_file():
            _fsync(file)
    _fsync(staged)
    if final.exists():
        os.replace(final, staged.parent / f"replaced-{final.name}")
    os.replace(staged, final)
    _fsync(final.parent)
    shutil.rmtree(staged.parent)


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk; folders cannot be opened for this off POSIX."""
    if path.is_dir() and os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
