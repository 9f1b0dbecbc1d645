"""The metric contract: four pure functions over a mergeable state.

A metric is an attrs class whose fields are its parameters. It computes through exactly four
methods, and no other code path:

``init() -> S``
    The empty state; the identity of ``merge``.
``update(S, frame) -> S``
    Fold one batch of rows into a state. Raises :class:`~stickykit.errors.ValidationError` on
    a row it cannot use; :meth:`MetricBase.check` finds those rows in advance, for quarantine.
``merge(S, S) -> S``
    Associative and commutative. States of different metrics or parameters refuse to merge.
``finalize(S, as_of=None) -> MetricResult``
    The value with its uncertainty, computed once from the merged state.

A state is a frozen attrs record of numpy arrays and scalars whose size is bounded by distinct
keys (groups, customers, periods), never by rows. It carries the metric's ``fingerprint``.

Examples
--------
>>> from stickykit.metrics.survey.nps import NetPromoterScore
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> m = NetPromoterScore()
>>> f = SurveyFrame(respondent_id=np.arange(4), answers={"nps": np.array([10, 9, 7, 2], np.int8)})
>>> a = m.update(m.init(), f.slice(0, 2))
>>> b = m.update(m.init(), f.slice(2, 4))
>>> m.finalize(m.merge(a, b)).value
25.0
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import attrs
import numpy as np

from stickykit.errors import StateMismatchError
from stickykit.metrics._result import MetricResult

__all__ = [
    "DIAGNOSTIC",
    "InputKind",
    "Metric",
    "MetricBase",
    "MetricResult",
    "check_fingerprints",
    "package_version",
    "states_equal",
]

InputKind = Literal["survey", "events", "customers"]
#: Bump when the layout of any built-in state changes; part of every fingerprint.
STATE_FORMAT = 1


@runtime_checkable
class Metric(Protocol):
    """What the registry and the engine need from a metric."""

    name: ClassVar[str]
    family: ClassVar[str]
    input_kind: ClassVar[InputKind]

    @property
    def fingerprint(self) -> str:
        """Hash of the metric name and parameters; states carry it."""
        ...

    def params(self) -> dict[str, Any]:
        """The parameters as plain values."""
        ...

    def init(self) -> Any:
        """The empty state."""
        ...

    def update(self, state: Any, frame: Any) -> Any:
        """Fold a batch of rows into ``state``."""
        ...

    def merge(self, a: Any, b: Any) -> Any:
        """Combine two states."""
        ...

    def finalize(self, state: Any, as_of: dt.datetime | None = None) -> MetricResult:
        """Turn a state into a result."""
        ...


@functools.cache
def package_version() -> str:
    """The installed stickykit version (``"0+unknown"`` from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("stickykit")
    except PackageNotFoundError:  # pragma: no cover
        return "0+unknown"


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class MetricBase:
    """Shared behaviour for metric classes that are attrs classes of their parameters.

    Subclasses declare ``name``, ``family``, ``input_kind``, ``higher_is_better`` and
    ``reference`` as class variables and implement the four functions.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    input_kind: ClassVar[InputKind]
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = ""

    def params(self) -> dict[str, Any]:
        """The metric's parameters (its attrs fields) as plain values.

        Examples
        --------
        >>> from stickykit.metrics.survey.nps import NetPromoterScore
        >>> NetPromoterScore(promoter_min=10).params()["promoter_min"]
        10
        """
        return {k: _plain(v) for k, v in attrs.asdict(self, recurse=False).items()}  # type: ignore[arg-type]

    @property
    def fingerprint(self) -> str:
        """A stable hash of name, parameters and state format.

        Examples
        --------
        >>> from stickykit.metrics.survey.nps import NetPromoterScore
        >>> NetPromoterScore().fingerprint == NetPromoterScore(promoter_min=10).fingerprint
        False
        """
        payload = json.dumps(
            {"metric": self.name, "params": self.params(), "format": STATE_FORMAT},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def merge_into(self, a: Any, b: Any) -> Any:
        """``merge(a, b)``, allowed to reuse ``a``, which the caller owns and will not use again.

        The batch runners keep one running state per metric and merge each batch's state into
        it; a metric whose merge can update the running state in place (in time proportional
        to ``b``) overrides this. The result must equal ``merge(a, b)``; by default it is.

        Examples
        --------
        >>> from stickykit.metrics.survey.nps import NetPromoterScore
        >>> m = NetPromoterScore()
        >>> states_equal(m.merge_into(m.init(), m.init()), m.merge(m.init(), m.init()))
        True
        """
        # every metric class defines merge; MetricBase does not, so that it never shadows one
        merge: Any = getattr(self, "merge")  # noqa: B009
        return merge(a, b)

    def check(self, frame: Any) -> list[Any]:
        """Rows of ``frame`` that ``update`` would refuse, as violations (none by default)."""
        del frame
        return []


def check_fingerprints(metric_name: str, a: Any, b: Any) -> None:
    """Refuse to merge states produced by different metrics or parameters."""
    if a.fingerprint != b.fingerprint:
        msg = (
            f"cannot merge {metric_name} states with different fingerprints "
            f"({a.fingerprint} vs {b.fingerprint}): they come from different metrics or "
            "parameters"
        )
        raise StateMismatchError(msg)


#: attrs field metadata marking a state field kept only for messages (source row numbers):
#: it depends on how the data were read, so :func:`states_equal` does not compare it.
DIAGNOSTIC = "stickykit_diagnostic"


def states_equal(a: Any, b: Any, *, rtol: float = 1e-12, atol: float = 1e-12) -> bool:
    """Field-by-field equality of two states: exact for integers and labels, close for floats.

    Fields whose attrs metadata holds :data:`DIAGNOSTIC` (row numbers kept for error messages)
    are not compared.

    Examples
    --------
    >>> from stickykit.metrics.survey.nps import NetPromoterScore
    >>> m = NetPromoterScore()
    >>> states_equal(m.init(), m.init())
    True
    """
    if type(a) is not type(b):
        return False
    if not attrs.has(type(a)):
        return _values_equal(a, b, rtol, atol)
    return all(
        _values_equal(getattr(a, f.name), getattr(b, f.name), rtol, atol)
        for f in attrs.fields(type(a))
        if not f.metadata.get(DIAGNOSTIC, False)
    )


def _values_equal(x: Any, y: Any, rtol: float, atol: float) -> bool:
    if attrs.has(type(x)):
        return states_equal(x, y, rtol=rtol, atol=atol)
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            return False
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            scale = atol * max(1.0, float(np.nanmax(np.abs(x), initial=0.0)))
            return bool(np.allclose(x, y, rtol=rtol, atol=scale, equal_nan=True))
        return bool(np.array_equal(x, y))
    if isinstance(x, float) and isinstance(y, float):
        return bool(np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True))
    return bool(x == y)
