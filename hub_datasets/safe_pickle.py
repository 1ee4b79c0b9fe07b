"""Unpickling numpy arrays from files we did not write: no code runs and no memory is misread.

A restricted ``find_class`` stops a pickle from calling arbitrary code, but not from corrupting memory through
numpy itself: ``dtype.__setstate__`` takes a dtype's fields and flags on trust, so a pickle that uses only
``numpy.dtype`` can declare an object field with flags=0 and make numpy read raw bytes as object pointers.
:class:`NumpyPickleChecks` closes that door by construction:

- ``numpy.dtype`` builds plain dtypes only (numbers, bytes, text; no fields, no sub-array); object dtypes
  only where the reader allows them;
- a dtype's BUILD must carry exactly the state numpy itself writes for that dtype, so its layout and flags
  always come from numpy, never from the file;
- ``_reconstruct`` makes only the empty placeholder numpy writes, so nothing is allocated before the data is
  there to fill it, and ``numpy.ndarray`` cannot be called (on a raw buffer, say);
- an array's BUILD needs a plain dtype and, for an object dtype, its items as a list (numpy stores them as
  references), never raw bytes;
- BUILD on a numpy scalar, which numpy never writes, is refused.

The BUILD checks need the pure-Python unpickler (``pickle._Unpickler``), whose opcode table can be extended;
the C unpickler's cannot.
"""

from __future__ import annotations

import codecs
import pickle
from collections.abc import Callable

import numpy as np

NUMPY_ARRAY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
"""Where ``_reconstruct`` and ``scalar`` live in pickles written by numpy < 2 and by numpy >= 2."""

PLAIN_KINDS = "biufcSU"
"""bool, signed and unsigned integers, floats, complex, bytes and text: no pointers, no metadata."""

_NUMPY_SCALAR = np.float64(0).__reduce__()[0]
_BYTE_ORDERS = ("<", ">", "|", "=")


class _NdarrayArgument:
    """Stands for ``numpy.ndarray`` as ``_reconstruct``'s first argument. Calling it is refused, so a pickle
    cannot build an array over a raw buffer of its choosing."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise pickle.UnpicklingError("refusing to call numpy.ndarray: arrays come from _reconstruct only")

    def __repr__(self) -> str:
        return "numpy.ndarray (as a _reconstruct argument)"


NDARRAY = _NdarrayArgument()


def check_plain_dtype(dtype: object, allow_object: bool) -> np.dtype:
    """``dtype`` when it is a plain dtype whose flags are numpy's own; else ``pickle.UnpicklingError``."""
    if not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError(f"expected a numpy dtype, got {type(dtype).__name__}")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise pickle.UnpicklingError(
            "refusing a structured or sub-array dtype: only plain arrays are expected"
        )
    allowed = PLAIN_KINDS + ("O" if allow_object else "")
    if dtype.kind not in allowed:
        raise pickle.UnpicklingError(
            f"refusing dtype {dtype.str!r} (kind {dtype.kind!r}): only kinds {sorted(allowed)} are expected"
        )
    canonical = np.dtype(dtype.str)
    if dtype.flags != canonical.flags:
        raise pickle.UnpicklingError(
            f"refusing dtype {dtype.str!r} with flags {dtype.flags}: numpy gives it flags {canonical.flags}"
        )
    return dtype


def _same_state(state: object, expected: tuple) -> bool:
    """Element-wise equality with types compared first, so no element's own ``__eq__`` is trusted."""
    return (
        type(state) is tuple
        and len(state) == len(expected)
        and all(type(a) is type(b) and a == b for a, b in zip(state, expected))
    )


def check_dtype_state(dtype: np.dtype, state: object, allow_object: bool) -> None:
    """Let a dtype's BUILD through only when it sets the state numpy writes for it (byte order aside)."""
    check_plain_dtype(dtype, allow_object)
    byteorder = state[1] if type(state) is tuple and len(state) > 1 else None
    if type(byteorder) is not str or byteorder not in _BYTE_ORDERS:
        raise pickle.UnpicklingError(
            f"refusing a state for dtype {dtype.str!r} that is not a numpy dtype state"
        )
    if not _same_state(state, dtype.newbyteorder(byteorder).__reduce__()[2]):
        raise pickle.UnpicklingError(
            f"refusing a state for dtype {dtype.str!r} that differs from the one numpy writes "
            "(a forged layout or flags)"
        )


def check_array_state(state: object, allow_object: bool) -> None:
    """Let an array's BUILD through only with a plain dtype and data of the form numpy writes for it."""
    if type(state) is not tuple or len(state) not in (4, 5):  # (version,) shape, dtype, fortran order, data
        raise pickle.UnpicklingError("refusing an array state that is not (shape, dtype, order, data)")
    dtype, data = state[-3], state[-1]
    check_plain_dtype(dtype, allow_object)
    if dtype.hasobject and type(data) is not list:
        raise pickle.UnpicklingError("refusing an object array whose items are not a list")
    if not dtype.hasobject and type(data) not in (bytes, str):  # str: Python 2 bytes read as latin1
        raise pickle.UnpicklingError(f"refusing array data of type {type(data).__name__}; expected bytes")


def empty_array(cls: object, shape: object, typecode: object) -> np.ndarray:
    """numpy's ``_reconstruct`` as numpy's pickles call it, ``(ndarray, (0,), 'b')``: an empty array that the
    following BUILD fills. Any other call would allocate before the data exists, so it is refused."""
    if cls is not NDARRAY or type(shape) is not tuple or shape != (0,) or typecode not in (b"b", "b"):
        raise pickle.UnpicklingError(
            "refusing _reconstruct arguments other than numpy's own (ndarray, (0,), 'b')"
        )
    return np.empty(0, np.int8)


def latin1_bytes(text: object, encoding: object = "latin1") -> bytes:
    """``_codecs.encode`` as Python writes bytes into protocol-2 pickles, ``encode(text, 'latin1')``, only."""
    if type(text) is not str or type(encoding) is not str or encoding != "latin1":
        raise pickle.UnpicklingError("refusing _codecs.encode other than encode(text, 'latin1')")
    return codecs.encode(text, "latin1")


class NumpyPickleChecks:
    """Mixin for a subclass of ``pickle._Unpickler``: checked stand-ins for the globals that pickles of numpy
    arrays use, and a checked BUILD. A subclass sets ``dispatch = with_checked_build(<its base>.dispatch)``
    and resolves allowed names through :meth:`checked_global` first."""

    allow_object_arrays: bool = False

    def checked_global(self, module: str, name: str) -> object | None:
        """The checked stand-in for a global of numpy's pickles, or None for any other name."""
        if (module, name) == ("numpy", "dtype"):
            return self.plain_dtype
        if (module, name) == ("numpy", "ndarray"):
            return NDARRAY
        if (module, name) == ("_codecs", "encode"):
            return latin1_bytes
        if module in NUMPY_ARRAY_MODULES and name == "_reconstruct":
            return empty_array
        if module in NUMPY_ARRAY_MODULES and name == "scalar":
            return self.plain_scalar
        return None

    def plain_dtype(self, *args: object) -> np.dtype:
        return check_plain_dtype(np.dtype(*args), self.allow_object_arrays)

    def plain_scalar(self, dtype: object, data: object) -> np.generic:
        return _NUMPY_SCALAR(check_plain_dtype(dtype, self.allow_object_arrays), data)

    def checked_build(self) -> None:
        """BUILD, once the state of a dtype or an array has passed its check (see the module docstring)."""
        instance, state = self.stack[-2], self.stack[-1]
        if isinstance(instance, np.dtype):
            check_dtype_state(instance, state, self.allow_object_arrays)
        elif isinstance(instance, np.ndarray):
            check_array_state(state, self.allow_object_arrays)
        elif isinstance(instance, np.generic):
            raise pickle.UnpicklingError("refusing to set the state of a numpy scalar")
        pickle._Unpickler.load_build(self)


def with_checked_build(dispatch: dict[int, Callable]) -> dict[int, Callable]:
    """A copy of an unpickler's opcode table whose BUILD is :meth:`NumpyPickleChecks.checked_build`."""
    table = dict(dispatch)
    table[pickle.BUILD[0]] = NumpyPickleChecks.checked_build
    return table


class NumpyUnpickler(NumpyPickleChecks, pickle._Unpickler):
    """Numpy arrays (numeric, bytes or text) in plain containers; any other global raises UnpicklingError."""

    dispatch = with_checked_build(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> object:
        checked = self.checked_global(module, name)
        if checked is None:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy arrays in plain containers are read"
            )
        return checked
