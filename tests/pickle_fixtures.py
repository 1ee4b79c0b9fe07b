"""Crafted pickles that attack numpy unpickling, and a runner that keeps a crash out of the test process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

TEBIBYTE = 2**40
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]
_ISOLATED_TIMEOUT_S = 180  # a fresh interpreter imports datasets and pandas; generous on two shared cores


class Reduced:
    """Pickles as ``func(*args)``, then BUILD with ``state`` when one is given."""

    def __init__(self, func, args: tuple, state: object = None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def forged_object_dtype_array() -> Reduced:
    """A one-element array whose dtype has an object field at offset 0 but flags=0 (no object inside), so
    numpy reads its 8 data bytes, 0x41 each, as an object pointer: a segfault when the value is used."""
    dtype = Reduced(
        np.dtype, ("V8", False, True), (3, "|", None, ("f0",), {"f0": (np.dtype("O"), 0)}, 8, 1, 0)
    )
    return Reduced(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (1,), dtype, False, b"\x41" * 8))


def tebibyte_array() -> Reduced:
    """A few bytes of pickle that ask numpy to allocate a 1 TiB array."""
    return Reduced(_RECONSTRUCT, (np.ndarray, (TEBIBYTE,), b"b"))


def as_numpy1_pickle(data: bytes) -> bytes:
    """The same protocol-2 pickle naming numpy < 2's module, as pickles written in 2020 do."""
    return data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def run_isolated(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, so a segfault fails the test instead of killing pytest."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=_ISOLATED_TIMEOUT_S,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=False,
    )
