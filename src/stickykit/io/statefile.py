"""A safe, versioned file format for metric states and fitted models.

A state file is a numpy ``.npz`` archive of plain arrays, read with ``allow_pickle=False`` so
that loading never executes code, plus one array ``__header__`` holding a JSON document:

``format``
    The file-format version (:data:`FILE_FORMAT`); another version is refused.
``package_version``
    The stickykit version that wrote the file; another version is refused, because a state's
    layout may change between versions (recompute, or load with the version that wrote it).
``kind``
    ``"metric-state"`` or ``"model"``.
``name``
    The metric's registered name or the model's class name; another name is refused.
``fingerprint``
    The parameters' fingerprint; a file written with other parameters is refused.
``dtypes``
    The dtype of every array, checked again on loading.
``meta``
    Further JSON values (scalars, strings, lists).

Files are written to a temporary file in the target folder and renamed over the target, so a
crash mid-write never leaves a half-written state where a good one was.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "state.npz"
>>> _ = save_arrays(path, kind="model", name="Demo", fingerprint="abc",
...                 arrays={"params": np.array([1.0, 2.0])}, meta={"n": 3})
>>> arrays, meta = load_arrays(path, kind="model", name="Demo", fingerprint="abc")
>>> arrays["params"].tolist(), meta["n"]
([1.0, 2.0], 3)
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.errors import StateFileError

__all__ = ["FILE_FORMAT", "load_arrays", "read_header", "save_arrays"]

#: Version of the file layout; bump when the header or the array naming changes.
FILE_FORMAT = 1
_HEADER = "__header__"


def _package_version() -> str:
    from stickykit.metrics.base import package_version  # noqa: PLC0415

    return package_version()


def save_arrays(
    path: str | os.PathLike[str],
    *,
    kind: str,
    name: str,
    fingerprint: str,
    arrays: Mapping[str, NDArray[Any]],
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``arrays`` and a JSON header to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        The target file (conventionally ending in ``.npz``).
    kind : str
        ``"metric-state"`` or ``"model"``.
    name : str
        The metric's registered name or the model's class name.
    fingerprint : str
        The parameters' fingerprint.
    arrays : mapping of str to numpy.ndarray
        Plain arrays (numeric, bool, datetime64 or fixed-width strings; never objects).
    meta : mapping, optional
        JSON-serialisable further values.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    StateFileError
        An array has object dtype, a name is reserved, or ``meta`` is not JSON.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.npz"
    >>> save_arrays(p, kind="model", name="M", fingerprint="f", arrays={"x": np.arange(3)}).name
    's.npz'
    """
    target = Path(path)
    plain: dict[str, NDArray[Any]] = {}
    for key, value in arrays.items():
        array = np.asarray(value)
        if key == _HEADER:
            raise StateFileError(f"{target}: the array name {_HEADER!r} is reserved")
        if array.dtype == object:
            raise StateFileError(
                f"{target}: array {key!r} has object dtype, which a safe state file cannot hold"
            )
        plain[key] = array
    header = {
        "format": FILE_FORMAT,
        "package_version": _package_version(),
        "kind": kind,
        "name": name,
        "fingerprint": fingerprint,
        "dtypes": {key: array.dtype.str for key, array in plain.items()},
        "meta": dict(meta or {}),
    }
    try:
        text = json.dumps(header, sort_keys=True, allow_nan=True)
    except TypeError as exc:
        raise StateFileError(f"{target}: meta is not JSON-serialisable ({exc})") from None
    plain[_HEADER] = np.array(text)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, allow_pickle=False, **plain)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a state file, without loading its arrays.

    Raises
    ------
    StateFileError
        The file is not a stickykit state file, or is damaged.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.npz"
    >>> _ = save_arrays(p, kind="model", name="M", fingerprint="f", arrays={})
    >>> read_header(p)["name"]
    'M'
    """
    target = Path(path)
    try:
        with np.load(target, allow_pickle=False) as archive:
            if _HEADER not in archive.files:
                raise StateFileError(f"{target}: not a stickykit state file (no header)")
            header: dict[str, Any] = json.loads(str(archive[_HEADER][()]))
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as exc:
        raise StateFileError(f"{target}: cannot be read as a state file ({exc})") from None
    return header


def load_arrays(
    path: str | os.PathLike[str], *, kind: str, name: str, fingerprint: str | None = None
) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
    """Read a state file written by :func:`save_arrays`, refusing any mismatch.

    Parameters
    ----------
    path : path-like
        The file.
    kind, name : str
        What the caller expects; a file of another kind or name is refused.
    fingerprint : str, optional
        The expected parameter fingerprint (``None``: not checked).

    Returns
    -------
    arrays : dict of str to numpy.ndarray
    meta : dict

    Raises
    ------
    StateFileError
        Another format, package version, kind, name or fingerprint; an array whose dtype
        differs from the header's; a damaged file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.npz"
    >>> _ = save_arrays(p, kind="model", name="M", fingerprint="f", arrays={"x": np.ones(2)})
    >>> load_arrays(p, kind="model", name="Other")
    Traceback (most recent call last):
    ...
    stickykit.errors.StateFileError: ...holds model 'M', not 'Other'
    """
    target = Path(path)
    header = read_header(target)
    if header.get("format") != FILE_FORMAT:
        raise StateFileError(
            f"{target}: file format {header.get('format')!r}, this stickykit reads {FILE_FORMAT}"
        )
    written_by = header.get("package_version")
    if written_by != _package_version():
        raise StateFileError(
            f"{target}: written by stickykit {written_by}, this is {_package_version()}; "
            "recompute the state or load it with the version that wrote it"
        )
    if header.get("kind") != kind or header.get("name") != name:
        raise StateFileError(
            f"{target}: holds {header.get('kind')} {header.get('name')!r}, not {name!r}"
        )
    if fingerprint is not None and header.get("fingerprint") != fingerprint:
        raise StateFileError(
            f"{target}: written with other parameters (fingerprint {header.get('fingerprint')}, "
            f"expected {fingerprint})"
        )
    dtypes: dict[str, str] = header.get("dtypes", {})
    arrays: dict[str, NDArray[Any]] = {}
    try:
        with np.load(target, allow_pickle=False) as archive:
            for key in archive.files:
                if key == _HEADER:
                    continue
                array = archive[key]
                if dtypes.get(key) != array.dtype.str:
                    raise StateFileError(
                        f"{target}: array {key!r} has dtype {array.dtype.str}, "
                        f"the header says {dtypes.get(key)}"
                    )
                arrays[key] = array
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise StateFileError(f"{target}: damaged state file ({exc})") from None
    missing = set(dtypes) - set(arrays)
    if missing:
        raise StateFileError(f"{target}: arrays missing from the file: {sorted(missing)}")
    meta: dict[str, Any] = header.get("meta", {})
    return arrays, meta
