"""The result of a metric: a value with its uncertainty and provenance."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

__all__ = ["MetricResult"]


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _table(values: Any) -> list[Any]:
    """An array as nested lists of plain values (NaN and NaT become None)."""
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return [None if np.isnat(v) else str(v) for v in array.ravel()]
    plain = array.astype(object)
    if array.dtype.kind == "f":
        plain[np.isnan(array)] = None
    return plain.tolist()  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


@attrs.frozen
class MetricResult:
    """A metric's value with its sample size, interval, method, source and parameters.

    Parameters
    ----------
    metric : str
        Registered name of the metric.
    value : float
        The estimate (NaN only for a group with no valid data, flagged in ``flags``).
    n : int
        Observations used.
    n_missing : int
        Observations present but without a usable value (not answered...).
    se : float or None
        Standard error of ``value``, where defined.
    ci_low, ci_high : float or None
        Confidence interval, where statistics has one.
    level : float or None
        Confidence level of the interval (``1 - alpha``).
    method : str
        How the interval was obtained, or why there is none.
    reference : str
        The formula's source.
    params : Mapping
        Parameters of the metric that produced this result.
    as_of : datetime or None
        The (exclusive) instant the result describes, when the data carry times.
    version : str
        stickykit version that computed it.
    unit : str
        Unit of ``value`` (``"points"``, ``"share"``...).
    group : int, str or None
        The group label, for one group of a grouped result.
    groups : tuple of MetricResult
        Per-group results (empty when not grouped).
    flags : tuple of str
        Warnings a reader must see, such as a small sample.
    details : Mapping[str, float]
        Further figures (component shares, effective n...).
    tables : Mapping[str, numpy.ndarray]
        Named arrays of a result that is a series, a curve or a matrix (per-period counts,
        a survival curve, a cohort matrix...), documented by each metric.

    Examples
    --------
    >>> r = MetricResult(metric="demo", value=12.5, n=40, n_missing=2, se=3.0, ci_low=6.6,
    ...                  ci_high=18.4, level=0.95, method="Wald", reference="-", params={},
    ...                  as_of=None, version="0")
    >>> print(r)
    demo = 12.5 [95% CI 6.6 to 18.4, Wald]; n = 40, missing = 2
    >>> r.to_dict()["ci_high"]
    18.4
    """

    metric: str
    value: float
    n: int
    n_missing: int
    se: float | None
    ci_low: float | None
    ci_high: float | None
    level: float | None
    method: str
    reference: str
    params: Mapping[str, Any]
    as_of: dt.datetime | None
    version: str
    unit: str = ""
    group: int | str | None = None
    groups: tuple[MetricResult, ...] = ()
    flags: tuple[str, ...] = ()
    details: Mapping[str, float] = attrs.field(factory=dict)
    tables: Mapping[str, Any] = attrs.field(factory=dict)

    def _line(self) -> str:
        label = self.metric if self.group is None else f"{self.metric}[{self.group}]"
        unit = f" {self.unit}" if self.unit and self.unit != "share" else ""
        digits = 3 if self.unit == "share" else 1
        text = f"{label} = {_fmt(self.value, digits)}{unit}"
        if self.ci_low is not None and self.ci_high is not None and self.level is not None:
            low, high = _fmt(self.ci_low, digits), _fmt(self.ci_high, digits)
            text += f" [{self.level:.0%} CI {low} to {high}, {self.method}]"
        text += f"; n = {self.n:,}, missing = {self.n_missing:,}"
        if self.flags:
            text += "  (" + "; ".join(self.flags) + ")"
        return text

    def __str__(self) -> str:
        lines = [self._line()]
        lines += ["  " + g._line() for g in self.groups]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain Python types (JSON-ready)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(MetricResult):
            value = getattr(self, field.name)
            if field.name == "groups":
                out["groups"] = [g.to_dict() for g in value]
            elif field.name == "tables":
                out["tables"] = {str(k): _table(v) for k, v in value.items()}
            else:
                out[field.name] = _plain(value)
        return out

    def _repr_html_(self) -> str:
        esc = html.escape
        head = (
            "<tr><th>group</th><th>value</th><th>CI</th><th>n</th><th>missing</th>"
            "<th>flags</th></tr>"
        )

        def row(r: MetricResult, label: str) -> str:
            ci = (
                f"{_fmt(r.ci_low)} to {_fmt(r.ci_high)}"
                if r.ci_low is not None and r.ci_high is not None
                else "n/a"
            )
            return (
                f"<tr><td>{esc(label)}</td><td>{_fmt(r.value)}</td><td>{esc(ci)}</td>"
                f"<td>{r.n:,}</td><td>{r.n_missing:,}</td>"
                f"<td>{esc('; '.join(r.flags))}</td></tr>"
            )

        rows = [row(self, "all")] + [row(g, str(g.group)) for g in self.groups]
        level = f"{self.level:.0%} " if self.level is not None else ""
        caption = (
            f"<caption>{esc(self.metric)} ({esc(self.unit)}); {level}interval: "
            f"{esc(self.method)}</caption>"
        )
        foot = f"<p><small>{esc(self.reference)}; stickykit {esc(self.version)}</small></p>"
        return f"<table>{caption}{head}{''.join(rows)}</table>{foot}"
