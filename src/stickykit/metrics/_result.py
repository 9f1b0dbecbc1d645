"""The result of a metric: a value with its uncertainty and provenance."""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np

from stickykit.errors import MissingDependencyError

__all__ = ["MetricResult"]

# columns of MetricResult.to_frame, in order
_FRAME_COLUMNS = (
    "metric",
    "group",
    "value",
    "se",
    "ci_low",
    "ci_high",
    "level",
    "n",
    "n_missing",
    "unit",
    "method",
    "flags",
)
_FLOAT_COLUMNS = ("value", "se", "ci_low", "ci_high", "level")
_TEXT_COLUMNS = ("metric", "group", "unit", "method", "flags")
# groups shown by repr and _repr_html_ before "... more groups"
_REPR_GROUPS = 20
_HTML_GROUPS = 50


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


def _digits(unit: str) -> int:
    return 3 if unit == "share" else 1


def _shape(values: Any) -> str:
    return " x ".join(str(d) for d in np.shape(values)) or "scalar"


def _narwhals(backend: str) -> Any:
    if backend not in ("pandas", "polars"):
        msg = f"backend must be 'pandas' or 'polars', got {backend!r}"
        raise ValueError(msg)
    try:
        import narwhals.stable.v2 as nw  # noqa: PLC0415
    except ImportError as exc:
        msg = "to_frame needs narwhals: pip install 'stickykit[dataframe]'"
        raise MissingDependencyError(msg) from exc
    if importlib.util.find_spec(backend) is None:
        msg = f"to_frame(backend={backend!r}) needs {backend}: pip install {backend}"
        raise MissingDependencyError(msg)
    return nw


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
        digits = _digits(self.unit)
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

    def __repr__(self) -> str:
        lines = [self._line()]
        lines += ["  " + g._line() for g in self.groups[:_REPR_GROUPS]]
        hidden = len(self.groups) - _REPR_GROUPS
        if hidden > 0:
            lines.append(f"  ... {hidden:,} more groups (to_frame() lists them all)")
        if self.tables:
            listed = ", ".join(f"{name} ({_shape(v)})" for name, v in self.tables.items())
            lines.append(f"  tables: {listed}")
        return "<MetricResult " + "\n".join(lines) + ">"

    def plot(self, ax: Any = None, *, x: str | None = None, y: str | None = None) -> Any:
        """Draw the result on a matplotlib ``Axes`` and return it.

        A grouped result draws each group's value with its interval (overall value as a
        dashed line); with ``x`` and ``y``, two 1-D arrays of ``tables`` are drawn as a
        curve (``y`` against ``x``, e.g. ``x="day", y="ratio"``); otherwise the value with its
        interval. The title states the metric and n. matplotlib is imported only here (the
        ``plot`` extra).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure's axes when ``None``.
        x, y : str, optional
            Names of two tables of one length to draw as a curve.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.

        Examples
        --------
        >>> import stickykit
        >>> from matplotlib.figure import Figure
        >>> r = stickykit.compute(stickykit.get_metric("nps", by="wave"),
        ...                       {"nps": [10, 9, 3, 10, 0, 8], "wave": [1, 1, 1, 2, 2, 2]})
        >>> ax = r.plot(Figure().subplots())
        >>> [t.get_text() for t in ax.get_xticklabels()], ax.get_title()
        (['1', '2'], 'nps (n = 6)')
        """
        if ax is None:
            try:
                import matplotlib.pyplot as plt  # noqa: PLC0415
            except ImportError as exc:
                msg = "plotting needs matplotlib: pip install 'stickykit[plot]'"
                raise MissingDependencyError(msg) from exc
            _, ax = plt.subplots()
        ax.set_title(f"{self.metric} (n = {self.n:,})")
        if x is not None or y is not None:
            if x is None or y is None or x not in self.tables or y not in self.tables:
                msg = f"x and y must both name tables of this result: {sorted(self.tables)}"
                raise KeyError(msg)
            ax.plot(np.asarray(self.tables[x]), np.asarray(self.tables[y]), marker=".")
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            return ax
        items = list(self.groups) if self.groups else [self]
        labels = [str(g.group) if g.group is not None else self.metric for g in items]
        values = np.array([g.value for g in items], dtype=float)
        low = np.array([np.nan if g.ci_low is None else g.ci_low for g in items], dtype=float)
        high = np.array([np.nan if g.ci_high is None else g.ci_high for g in items], dtype=float)
        error = np.vstack([values - low, high - values])
        positions = np.arange(len(items))
        ax.errorbar(positions, values, yerr=np.nan_to_num(error), fmt="o", capsize=4)
        if self.groups and not math.isnan(self.value):
            ax.axhline(self.value, linestyle="--", linewidth=1, label="overall")
        ax.set_xticks(positions, labels)
        ax.set_ylabel(f"{self.metric} ({self.unit})" if self.unit else self.metric)
        return ax

    def to_records(self) -> list[dict[str, Any]]:
        """The overall row, then one row per group, as plain dicts (the rows of :meth:`to_frame`).

        Keys are ``metric``, ``group`` (the label as text, ``None`` on the overall row),
        ``value``, ``se``, ``ci_low``, ``ci_high``, ``level`` (``None`` where there is no
        interval), ``n``, ``n_missing``, ``unit``, ``method`` and ``flags`` (joined by ``"; "``).

        Examples
        --------
        >>> from stickykit import compute, get_metric
        >>> r = compute(get_metric("nps", by="wave"), {"nps": [10, 9, 0, 10], "wave": [1, 1, 2, 2]})
        >>> [(row["group"], row["value"], row["n"]) for row in r.to_records()]
        [(None, 50.0, 4), ('1', 100.0, 2), ('2', 0.0, 2)]
        """

        def record(r: MetricResult, group: str | None) -> dict[str, Any]:
            return {
                "metric": r.metric,
                "group": group,
                "value": float(r.value),
                "se": None if r.se is None else float(r.se),
                "ci_low": None if r.ci_low is None else float(r.ci_low),
                "ci_high": None if r.ci_high is None else float(r.ci_high),
                "level": None if r.level is None else float(r.level),
                "n": int(r.n),
                "n_missing": int(r.n_missing),
                "unit": r.unit,
                "method": r.method,
                "flags": "; ".join(r.flags),
            }

        rows = [record(self, None)]
        rows += [record(g, str(g.group)) for g in self.groups]
        return rows

    def to_frame(
        self,
        backend: Literal["pandas", "polars"] = "pandas",
        *,
        tables: Sequence[str] | None = None,
    ) -> Any:
        """The result as a tidy pandas or polars DataFrame.

        Parameters
        ----------
        backend : {"pandas", "polars"}
            The library of the returned frame. stickykit builds it through narwhals (the
            ``dataframe`` extra), so either library works and neither is imported otherwise.
        tables : sequence of str, optional
            Instead of the summary, these 1-D arrays of ``tables`` (all of one length) as
            columns, e.g. ``["times", "survival", "ci_low", "ci_high"]`` of a survival curve.

        Returns
        -------
        pandas.DataFrame or polars.DataFrame
            By default one row for the overall result, then one per group, with the columns
            of :meth:`to_records`: ``metric, group, value, se, ci_low, ci_high, level, n,
            n_missing, unit, method, flags``. ``group`` holds each label as text and is
            missing on the overall row; a value or interval that does not exist is missing
            (NaN in pandas, null in polars), never 0.

        Raises
        ------
        stickykit.errors.MissingDependencyError
            When narwhals or the chosen library is not installed; the message names what to
            install.
        ValueError
            For an unknown backend, an unknown table name, a table that is not 1-D, or tables
            of different lengths.

        Examples
        --------
        >>> from stickykit import compute, get_metric
        >>> r = compute(get_metric("nps", by="wave"), {"nps": [10, 9, 0, 10], "wave": [1, 1, 2, 2]})
        >>> df = r.to_frame()  # pandas
        >>> df[["group", "value", "n", "n_missing"]]
          group  value  n  n_missing
        0  None   50.0  4          0
        1     1  100.0  2          0
        2     2    0.0  2          0
        >>> r.to_frame("polars").columns
        ['metric', 'group', 'value', 'se', 'ci_low', 'ci_high', 'level', 'n', 'n_missing', 'unit', 'method', 'flags']
        """
        nw = _narwhals(backend)
        if tables is not None:
            return nw.from_dict(self._table_columns(tables), backend=backend).to_native()
        polars = backend == "polars"
        rows = self.to_records()
        data: dict[str, Any] = {}
        for column in _FRAME_COLUMNS:
            values = [row[column] for row in rows]
            if column in _FLOAT_COLUMNS:
                # missing is NaN in pandas and null in polars
                data[column] = (
                    [None if v is None or math.isnan(v) else v for v in values]
                    if polars
                    else np.array(values, dtype=np.float64)
                )
            elif column in ("n", "n_missing"):
                data[column] = np.array(values, dtype=np.int64)
            else:
                data[column] = values
        frame = nw.from_dict(data, backend=backend)
        if polars:
            # name the types of columns that may be all null; pandas, told String, would turn
            # None into the text "None", so there the object columns stay as inferred
            types = {c: nw.String() for c in _TEXT_COLUMNS} | {
                c: nw.Float64() for c in _FLOAT_COLUMNS
            }
            frame = frame.with_columns(nw.col(c).cast(t) for c, t in types.items())
        return frame.to_native()

    def _table_columns(self, names: Sequence[str]) -> dict[str, Any]:
        if isinstance(names, str):
            names = [names]
        columns: dict[str, Any] = {}
        for name in names:
            if name not in self.tables:
                listed = ", ".join(self.tables) or "none"
                msg = f"{self.metric} has no table {name!r} (tables: {listed})"
                raise ValueError(msg)
            values = np.asarray(self.tables[name])
            if values.ndim != 1:
                msg = (
                    f"table {name!r} of {self.metric} is {_shape(values)}, not 1-D; "
                    "read it from result.tables"
                )
                raise ValueError(msg)
            columns[name] = values
        lengths = {name: len(v) for name, v in columns.items()}
        if len(set(lengths.values())) > 1:
            msg = f"tables of different lengths cannot share a frame: {lengths}"
            raise ValueError(msg)
        return columns

    def _repr_html_(self) -> str:
        esc = html.escape
        level = f"{self.level:.0%} " if self.level is not None else ""
        head = (
            f"<tr><th>group</th><th>value</th><th>{esc(level)}CI</th><th>n</th>"
            "<th>missing</th><th>flags</th></tr>"
        )

        def row(r: MetricResult, label: str) -> str:
            digits = _digits(r.unit)
            ci = (
                f"{_fmt(r.ci_low, digits)} to {_fmt(r.ci_high, digits)}"
                if r.ci_low is not None and r.ci_high is not None
                else "n/a"
            )
            return (
                f"<tr><td>{label}</td><td>{esc(_fmt(r.value, digits))}</td><td>{esc(ci)}</td>"
                f"<td>{r.n:,}</td><td>{r.n_missing:,}</td>"
                f"<td>{esc('; '.join(r.flags))}</td></tr>"
            )

        rows = [row(self, "<em>overall</em>")]
        rows += [row(g, esc(str(g.group))) for g in self.groups[:_HTML_GROUPS]]
        hidden = len(self.groups) - _HTML_GROUPS
        if hidden > 0:
            rows.append(
                f'<tr><td colspan="6">... {hidden:,} more groups '
                "(to_frame() lists them all)</td></tr>"
            )
        unit = f" ({esc(self.unit)})" if self.unit else ""
        caption = (
            f"<caption><b>{esc(self.metric)}</b>{unit}; {esc(level)}interval: "
            f"{esc(self.method)}</caption>"
        )
        parts = [f"<table>{caption}{head}{''.join(rows)}</table>"]
        if self.tables:
            listed = ", ".join(
                f"<code>{esc(str(name))}</code> ({esc(_shape(v))})"
                for name, v in self.tables.items()
            )
            parts.append(f"<p><small>tables: {listed}</small></p>")
        parts.append(f"<p><small>{esc(self.reference)}; stickykit {esc(self.version)}</small></p>")
        return "".join(parts)
