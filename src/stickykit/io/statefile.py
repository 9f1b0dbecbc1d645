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

Metric states go through :func:`save_state` and :func:`load_state`, which flatten a state's
attrs fields (nested states included) into arrays and JSON scalars and rebuild it from the
metric's own empty state, so no type is ever looked up by name from the file.

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

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.errors import StateFileError

__all__ = [
    "FILE_FORMAT",
    "load_arrays",
    "load_state",
    "read_header",
    "save_arrays",
    "save_state",
]

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
    arrays : mapping
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
        with target.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
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
    arrays : dict
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
        with target.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
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


_SCALARS = (bool, int, float, str, type(None))


def _plain_array(key: str, array: NDArray[Any]) -> tuple[NDArray[Any], str | None]:
    """An object array as plain strings, integers or floats, with a tag to restore it."""
    if array.dtype != object:
        return array, None
    items = array.tolist()
    flat = list(np.asarray(array, dtype=object).ravel())
    if all(isinstance(v, str) for v in flat):
        return np.array(items, dtype=str).reshape(array.shape), "str"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        return np.array(items, dtype=np.int64).reshape(array.shape), "int"
    if all(isinstance(v, float) for v in flat):
        return np.array(items, dtype=np.float64).reshape(array.shape), "float"
    kinds = sorted({type(v).__name__ for v in flat})
    raise StateFileError(
        f"state field {key!r} holds objects of types {kinds}; a state file holds arrays of "
        "one plain type (strings, integers or floats)"
    )


def _flatten(
    state: Any, prefix: str, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]
) -> None:
    for field in attrs.fields(type(state)):
        value = getattr(state, field.name)
        key = prefix + field.name
        if attrs.has(type(value)):
            meta["types"][key] = type(value).__qualname__
            _flatten(value, key + ".", arrays, meta)
        elif isinstance(value, np.ndarray):
            arrays[key], tag = _plain_array(key, value)
            if tag is not None:
                meta["objects"][key] = tag
        elif isinstance(value, _SCALARS):
            meta["scalars"][key] = value
        elif isinstance(value, tuple) and all(isinstance(v, _SCALARS) for v in value):
            meta["tuples"][key] = list(value)
        else:
            raise StateFileError(
                f"state field {key!r} of type {type(value).__name__} cannot be saved safely"
            )


def _rebuild(
    template: Any, prefix: str, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]
) -> Any:
    values: dict[str, Any] = {}
    for field in attrs.fields(type(template)):
        default = getattr(template, field.name)
        key = prefix + field.name
        if attrs.has(type(default)):
            if meta["types"].get(key) != type(default).__qualname__:
                raise StateFileError(f"state field {key!r} has another type in the file")
            values[field.name] = _rebuild(default, key + ".", arrays, meta)
        elif key in arrays:
            array = arrays[key]
            if key in meta["objects"]:
                array = np.asarray(array.tolist() if array.ndim == 0 else array, dtype=object)
                if meta["objects"][key] == "str":
                    array = array.astype(str).astype(object)
            values[field.name] = array
        elif key in meta["scalars"]:
            values[field.name] = meta["scalars"][key]
        elif key in meta["tuples"]:
            values[field.name] = tuple(meta["tuples"][key])
        else:
            raise StateFileError(f"state field {key!r} is missing from the file")
    return attrs.evolve(template, **values)


def save_state(metric: Any, state: Any, path: str | os.PathLike[str]) -> Path:
    """Save a metric's state to a safe, versioned ``.npz`` file, atomically.

    The header names the metric and its parameters' fingerprint, so the file can only be
    loaded back into the same metric with the same parameters (see :func:`load_state`). A
    daily job saves yesterday's state, loads it, merges today's events into it and gets what
    a full recomputation gives.

    Parameters
    ----------
    metric : Metric
        The metric the state belongs to.
    state : attrs record
        A state from ``metric.init``, ``update`` or ``merge``.
    path : path-like
        Target file.

    Raises
    ------
    StateFileError
        The state belongs to another metric, or holds a value a safe file cannot hold.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from stickykit import get_metric
    >>> from stickykit import load_survey
    >>> nps = get_metric("nps")
    >>> monday = nps.update(nps.init(), load_survey({"nps": [10, 9, 3]}, items=["nps"]))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "nps.npz"
    >>> _ = save_state(nps, monday, path)
    >>> tuesday = nps.update(load_state(nps, path), load_survey({"nps": [10]}, items=["nps"]))
    >>> nps.finalize(tuesday).value
    50.0
    """
    if getattr(state, "fingerprint", None) != metric.fingerprint:
        raise StateFileError(f"the state does not belong to metric {metric.name!r}")
    arrays: dict[str, NDArray[Any]] = {}
    meta: dict[str, Any] = {
        "state_type": type(state).__qualname__,
        "types": {},
        "objects": {},
        "scalars": {},
        "tuples": {},
    }
    _flatten(state, "", arrays, meta)
    return save_arrays(
        path,
        kind="metric-state",
        name=str(metric.name),
        fingerprint=str(metric.fingerprint),
        arrays=arrays,
        meta=meta,
    )


def load_state(metric: Any, path: str | os.PathLike[str]) -> Any:
    """Load a state saved by :func:`save_state` for ``metric``; anything else is refused.

    Raises
    ------
    StateFileError
        The file holds another metric's state, or one computed with other parameters, was
        written by another format or package version, or is damaged.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from stickykit import get_metric
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "nps.npz"
    >>> _ = save_state(get_metric("nps"), get_metric("nps").init(), path)
    >>> load_state(get_metric("csat"), path)
    Traceback (most recent call last):
    ...
    stickykit.errors.StateFileError: ...holds metric-state 'nps', not 'csat'
    """
    arrays, meta = load_arrays(
        path, kind="metric-state", name=str(metric.name), fingerprint=str(metric.fingerprint)
    )
    template = metric.init()
    if meta.get("state_type") != type(template).__qualname__:
        raise StateFileError(
            f"{path}: holds a {meta.get('state_type')}, metric {metric.name!r} keeps a "
            f"{type(template).__qualname__}"
        )
    return _rebuild(template, "", arrays, meta)
