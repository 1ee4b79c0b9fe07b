"""transformers' own common model tests, at the installed transformers version, fetched from its source
distribution on the package registry and cached; none of their code is kept in this repository.

`load_common_tests()` returns the imported `test_modeling_common` and `test_configuration_common` modules, or
the reason they cannot be had (no registry), which the test module turns into a visible skip.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

import transformers

COMMON_TEST_FILES = ("test_modeling_common.py", "test_configuration_common.py")
STAND_INS = Path(__file__).parent / "transformers_stand_ins"
CACHE = Path(
    os.environ.get("SLIP_TRANSFORMERS_TESTS_CACHE", Path.home() / ".cache" / "slip" / "transformers-tests")
)
DOWNLOAD_TIMEOUT_S = 600
"""pip fetches a ~11 MB source archive; allow for a slow registry mirror."""


def _package_name(version: str) -> str:
    return "transformers_tests_" + "".join(c if c.isalnum() else "_" for c in version)


def _download_sdist(version: str, directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"transformers=={version}", "--no-binary", ":all:"]
        + ["--no-deps", "--no-build-isolation", "--quiet", "--dest", str(directory)],
        check=True,
        capture_output=True,
        timeout=DOWNLOAD_TIMEOUT_S,
    )
    archives = list(directory.glob("transformers-*.tar.gz"))
    if not archives:
        raise FileNotFoundError(f"pip download left no transformers-{version} source archive in {directory}")
    return archives[0]


def _extract(archive: Path, package: Path) -> None:
    """The common test files into `package`, beside our stand-ins for the modules they import."""
    with tarfile.open(archive) as sources:
        members = {Path(member.name).name: member for member in sources.getmembers()}
        for name in COMMON_TEST_FILES:
            member = members.get(name)
            handle = sources.extractfile(member) if member is not None else None
            if handle is None:
                raise FileNotFoundError(f"{archive.name} holds no tests/{name}")
            (package / name).write_bytes(handle.read())
    shutil.copytree(STAND_INS, package, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md"))
    (package / "__init__.py").write_text('"""transformers\' common tests for the installed version."""\n')


def _prepare(version: str) -> Path:
    package = CACHE / _package_name(version)
    if all((package / name).is_file() for name in COMMON_TEST_FILES):
        return package
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=CACHE))
    try:
        archive = _download_sdist(version, staging / "download")
        built = staging / package.name
        built.mkdir()
        _extract(archive, built)
        shutil.rmtree(package, ignore_errors=True)
        built.rename(package)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return package


def load_common_tests() -> tuple[ModuleType, ModuleType] | str:
    """(test_modeling_common, test_configuration_common), or why they could not be loaded."""
    version = transformers.__version__
    try:
        package = _prepare(version)
    except (OSError, subprocess.SubprocessError, tarfile.TarError) as error:
        detail = getattr(error, "stderr", b"") or b""
        return (
            f"transformers {version}'s common tests could not be fetched from the package registry "
            f"({type(error).__name__}: {error} {detail.decode(errors='replace')[-300:]})"
        )
    if str(CACHE) not in sys.path:
        sys.path.insert(0, str(CACHE))
    modeling = importlib.import_module(f"{package.name}.test_modeling_common")
    configuration = importlib.import_module(f"{package.name}.test_configuration_common")
    return modeling, configuration
