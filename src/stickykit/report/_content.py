"""What a report section returns: paragraphs, charts, tables, key figures and their basis."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from stickykit.metrics._result import MetricResult
    from stickykit.report._context import ReportContext

__all__ = [
    "Basis",
    "Chart",
    "Export",
    "KeyFigure",
    "ReportSection",
    "SectionContent",
    "SkipSection",
    "Table",
]

#: The only image sources a chart may carry: inline data, never a URL.
CHART_PREFIXES = ("data:image/svg+xml;base64,", "data:image/png;base64,")
#: What a section may need from the data.
Need = Literal["events", "survey"]


class SkipSection(Exception):
    """Raised by a section builder when the data cannot support the section.

    The report leaves the section out and prints ``reason`` (one line) in its place.

    Examples
    --------
    >>> try:
    ...     raise SkipSection("the survey has no satisfaction item")
    ... except SkipSection as skip:
    ...     print(skip.reason)
    the survey has no satisfaction item
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _text_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@attrs.frozen
class Basis:
    """What a figure rests on: its sample size, missing values, method and source.

    Every section states at least one basis, so that a reader can judge and trace each
    number of the report.

    Parameters
    ----------
    label : str
        What the basis is for (the figure's name), or ``""`` for the whole section.
    n : int
        Observations used (respondents, customers, rows).
    n_missing : int
        Observations present but without a usable value.
    method : str
        How the figure and its interval were obtained, or why there is no interval.
    reference : str
        The source of the formula (authors, year, venue).
    flags : tuple of str
        Warnings a reader must see, such as a small sample.

    Examples
    --------
    >>> from stickykit.metrics._result import MetricResult
    >>> r = MetricResult(metric="nps", value=25.0, n=40, n_missing=2, se=None, ci_low=None,
    ...                  ci_high=None, level=None, method="Wald", reference="Reichheld (2003)",
    ...                  params={}, as_of=None, version="0")
    >>> b = Basis.from_result(r, label="NPS")
    >>> b.n, b.n_missing, b.method
    (40, 2, 'Wald')
    """

    label: str
    n: int = attrs.field(converter=int)
    n_missing: int = attrs.field(converter=int)
    method: str
    reference: str
    flags: tuple[str, ...] = attrs.field(default=(), converter=_text_tuple)

    def __attrs_post_init__(self) -> None:
        if self.n < 0 or self.n_missing < 0:
            msg = f"n and n_missing must be >= 0, got {self.n} and {self.n_missing}"
            raise ValueError(msg)
        if not self.method.strip() or not self.reference.strip():
            msg = f"basis {self.label!r} needs a method and a reference (the formula's source)"
            raise ValueError(msg)

    @classmethod
    def from_result(
        cls, result: MetricResult, label: str = "", flags: Sequence[str] | None = None
    ) -> Basis:
        """The basis of a :class:`~stickykit.metrics.base.MetricResult` (its flags unless given)."""
        return cls(
            label=label,
            n=result.n,
            n_missing=result.n_missing,
            method=result.method,
            reference=result.reference,
            flags=tuple(result.flags) if flags is None else tuple(flags),
        )


@attrs.frozen
class Chart:
    """A chart embedded in the page as inline data (never a link to a file or a URL).

    Parameters
    ----------
    data_uri : str
        ``data:image/svg+xml;base64,...`` or ``data:image/png;base64,...``.
    alt : str
        Text alternative: what the chart shows, for readers who cannot see it.
    caption : str
        Shown under the chart.
    width, height : float
        Size in CSS pixels.

    Examples
    --------
    >>> Chart(data_uri="https://example.org/a.png", alt="a")
    Traceback (most recent call last):
    ...
    ValueError: a chart must be inline data (data:image/svg+xml;base64,... or data:image/png;base64,...), got 'https://example.org/a.png'
    """

    data_uri: str
    alt: str
    caption: str = ""
    width: float = 640.0
    height: float = 320.0

    def __attrs_post_init__(self) -> None:
        if not self.data_uri.startswith(CHART_PREFIXES):
            shown = self.data_uri[:40]
            msg = (
                "a chart must be inline data (data:image/svg+xml;base64,... or "
                f"data:image/png;base64,...), got {shown!r}"
            )
            raise ValueError(msg)
        if not self.alt.strip():
            raise ValueError("a chart needs an alt text saying what it shows")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _bools(value: Any) -> tuple[bool, ...]:
    return tuple(bool(v) for v in value)


def _rows(value: Any) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(_cell(cell) for cell in row) for row in value)


@attrs.frozen
class Table:
    """A table of formatted text cells (escaped when the page is written).

    Parameters
    ----------
    columns : tuple of str
        Column headings.
    rows : tuple of tuple of str
        Cells as displayed (numbers already formatted for the report's language).
    caption : str
        Shown above the table.
    flagged : tuple of bool
        Rows to mark (a small group, for example); empty means none.
    numeric : tuple of bool
        Columns to align right; empty means the first column left, the others right.

    Examples
    --------
    >>> t = Table(columns=("wave", "NPS"), rows=[("1", "50.0"), ("2", "45.5")],
    ...           flagged=(False, True))
    >>> len(t.rows), t.flagged
    (2, (False, True))
    """

    columns: tuple[str, ...] = attrs.field(converter=_text_tuple)
    rows: tuple[tuple[str, ...], ...] = attrs.field(converter=_rows)
    caption: str = ""
    flagged: tuple[bool, ...] = attrs.field(default=(), converter=_bools)
    numeric: tuple[bool, ...] = attrs.field(default=(), converter=_bools)

    def __attrs_post_init__(self) -> None:
        width = len(self.columns)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                msg = f"table row {i} has {len(row)} cells for {width} columns"
                raise ValueError(msg)
        if self.flagged and len(self.flagged) != len(self.rows):
            raise ValueError("flagged needs one entry per row")
        if self.numeric and len(self.numeric) != width:
            raise ValueError("numeric needs one entry per column")

    def align_right(self) -> tuple[bool, ...]:
        """Per column, whether its cells align right."""
        if self.numeric:
            return self.numeric
        return tuple(i > 0 for i in range(len(self.columns)))

    def is_flagged(self, row: int) -> bool:
        """Whether row ``row`` is marked."""
        return bool(self.flagged) and self.flagged[row]


def _columns(value: Mapping[str, Any]) -> dict[str, NDArray[Any]]:
    out = {str(k): np.asarray(v) for k, v in value.items()}
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        msg = f"export columns differ in length: {sorted(lengths)}"
        raise ValueError(msg)
    return out


@attrs.frozen(eq=False)
class Export:
    """A table of raw values offered as a CSV download (see :mod:`stickykit.report.exports`).

    Parameters
    ----------
    name : str
        File name stem (``"churn_alerts"`` becomes ``churn_alerts.csv``).
    columns : Mapping[str, numpy.ndarray]
        Column name to equal-length values. Text columns are neutralised against formula
        injection when written; numbers are written as numbers.
    label : str
        The link text in the page.

    Examples
    --------
    >>> import numpy as np
    >>> e = Export(name="alerts", columns={"customer": np.array(["a", "b"]), "risk": [0.9, 0.8]})
    >>> e.n_rows, list(e.columns)
    (2, ['customer', 'risk'])
    """

    name: str
    columns: Mapping[str, NDArray[Any]] = attrs.field(converter=_columns)
    label: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "_-" for c in self.name):
            msg = f"an export name is letters, digits, '_' and '-', got {self.name!r}"
            raise ValueError(msg)

    @property
    def n_rows(self) -> int:
        """Rows of the table."""
        return len(next(iter(self.columns.values()))) if self.columns else 0


@attrs.frozen
class KeyFigure:
    """One headline figure: a formatted value, its interval and its basis.

    Parameters
    ----------
    label : str
        What the figure is (``"Net Promoter Score"``).
    value : str
        The value, formatted for the report's language.
    interval : str
        The formatted interval with its level, or ``""`` when there is none (the basis's
        method then says why).
    basis : Basis
        n, n_missing, method and source.

    Examples
    --------
    >>> b = Basis(label="NPS", n=100, n_missing=0, method="adjusted Wald", reference="Rocks (2016)")
    >>> KeyFigure(label="NPS", value="53.4", interval="95% CI 52.3 to 54.5", basis=b).value
    '53.4'
    """

    label: str
    value: str
    interval: str
    basis: Basis


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen(eq=False)
class SectionContent:
    """What a section shows. Every section states at least one :class:`Basis`.

    Parameters
    ----------
    basis : tuple of Basis
        n, n_missing, method and source of each figure the section shows (at least one).
    summary : tuple of str
        Paragraphs of text, first the finding in words.
    charts : tuple of Chart
    tables : tuple of Table
    key_figures : tuple of KeyFigure
        Figures to repeat in the report's headline block.
    exports : tuple of Export
        Tables offered as CSV downloads.
    notes : tuple of str
        Remarks shown after the basis (decisions, assumptions).

    Examples
    --------
    >>> b = Basis(label="", n=10, n_missing=0, method="count", reference="-")
    >>> c = SectionContent(basis=(b,), summary=("Ten customers.",))
    >>> c.summary
    ('Ten customers.',)
    >>> SectionContent(basis=())
    Traceback (most recent call last):
    ...
    ValueError: a section must state at least one basis (n, n_missing, method, source)
    """

    basis: tuple[Basis, ...] = attrs.field(converter=_tuple)
    summary: tuple[str, ...] = attrs.field(default=(), converter=_text_tuple)
    charts: tuple[Chart, ...] = attrs.field(default=(), converter=_tuple)
    tables: tuple[Table, ...] = attrs.field(default=(), converter=_tuple)
    key_figures: tuple[KeyFigure, ...] = attrs.field(default=(), converter=_tuple)
    exports: tuple[Export, ...] = attrs.field(default=(), converter=_tuple)
    notes: tuple[str, ...] = attrs.field(default=(), converter=_text_tuple)

    def __attrs_post_init__(self) -> None:
        if not self.basis:
            raise ValueError(
                "a section must state at least one basis (n, n_missing, method, source)"
            )
        kinds = (
            (self.basis, Basis),
            (self.charts, Chart),
            (self.tables, Table),
            (self.key_figures, KeyFigure),
            (self.exports, Export),
        )
        for values, kind in kinds:
            for value in values:
                if not isinstance(value, kind):
                    msg = f"expected {kind.__name__} objects, got {type(value).__name__}"
                    raise TypeError(msg)


def _check_key(instance: Any, attribute: Any, value: str) -> None:
    del instance, attribute
    if not value or not all(c.isalnum() or c in "_-" for c in value):
        msg = f"a section key is letters, digits, '_' and '-', got {value!r}"
        raise ValueError(msg)


def _check_needs(instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    del instance, attribute
    bad = [v for v in value if v not in ("events", "survey")]
    if bad:
        msg = f"needs may name 'events' and 'survey' only, got {bad}"
        raise ValueError(msg)


def _check_order(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    if not math.isfinite(value):
        msg = f"order must be a finite number, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class ReportSection:
    """A section of the report, as registered through ``register_report_sections``.

    Parameters
    ----------
    key : str
        Unique name (letters, digits, ``_``, ``-``); the page anchor and the name used in
        ``build_report(sections=...)`` and ``options=``.
    title : str
        The heading, in English; it is looked up in the report's message catalogue, so the
        built-in titles appear translated.
    build : callable
        ``build(context) -> SectionContent``, given a
        :class:`~stickykit.report.ReportContext`. Raise :class:`SkipSection` when the data
        cannot support the section; it is then left out with its reason.
    order : float
        Position on the page (the built-in sections use 100-999; lower comes first).
    needs : tuple of {"events", "survey"}
        Data the section cannot do without; when absent the section is left out with a
        note, without calling ``build``.

    Examples
    --------
    >>> def build(context):
    ...     raise SkipSection("nothing to show")
    >>> section = ReportSection(key="hello", title="Hello", build=build, needs=("events",))
    >>> section.key, section.needs
    ('hello', ('events',))
    """

    key: str = attrs.field(validator=_check_key)
    title: str
    build: Callable[[ReportContext], SectionContent] = attrs.field(repr=False)
    order: float = attrs.field(default=500.0, validator=_check_order)
    needs: tuple[str, ...] = attrs.field(default=(), converter=_tuple, validator=_check_needs)
