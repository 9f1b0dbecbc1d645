"""What a section builder is given: the data, the language, options and shared computations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.report.exports import Pseudonymiser
from stickykit.report.i18n import Formatter, translations

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from stickykit.frames import EventFrame, SurveyFrame
    from stickykit.metrics._result import MetricResult
    from stickykit.plugins.registry import Registry
    from stickykit.report._content import Chart
    from stickykit.report._programme import ProgrammeData
    from stickykit.report._quality import QualityRecord

__all__ = ["ReportContext"]

#: Groups with fewer observations than this are flagged as small.
MIN_N = 30


class ReportContext:
    """The data and services a section builder receives.

    Attributes
    ----------
    events : EventFrame or None
        The accepted events (``None`` when the report has none).
    survey : SurveyFrame or None
        The accepted survey answers.
    as_of : datetime or None
        The (exclusive) instant the report describes; ``None`` means just after the latest
        event, as for every metric.
    lang : str
        ``"en"`` or ``"zh"``.
    fmt : stickykit.report.i18n.Formatter
        Numbers, shares, money and dates in the report's language.
    registry : stickykit.plugins.registry.Registry
        Where metric names are looked up (built-ins and the report's plugins).
    min_n : int
        Groups with fewer observations are flagged as small (30).
    workers : int
        Worker processes for the metrics (1: this process).
    cache : dict
        Room for computations that several sections share (histories, fitted models).
    quality : tuple of QualityRecord
        Rows read, accepted and quarantined per source.
    programme : ProgrammeData or None
        A separate source of programme data (the demo's generated events and survey
        answers), read by the programme sections instead of :attr:`events`; ``None`` when
        they read :attr:`events`.

    Examples
    --------
    >>> import stickykit
    >>> from stickykit.plugins.registry import create_registry
    >>> ctx = ReportContext(survey=stickykit.datasets.load_npsgame(), lang="zh",
    ...                     registry=create_registry())
    >>> ctx.gettext("Net Promoter Score"), ctx.fmt.integer(13612)
    ('净推荐值', '13,612')
    >>> r = ctx.compute("nps", on="survey")
    >>> r is ctx.compute("nps", on="survey"), r.n
    (True, 13612)
    >>> ctx.pseudonymise(np.array([7])).tolist()
    ['7']
    """

    def __init__(
        self,
        *,
        registry: Registry,
        events: EventFrame | None = None,
        survey: SurveyFrame | None = None,
        as_of: dt.datetime | None = None,
        lang: str = "en",
        options: Mapping[str, Mapping[str, Any]] | None = None,
        pseudonymiser: Pseudonymiser | None = None,
        workers: int = 1,
        quality: Sequence[QualityRecord] = (),
        programme: ProgrammeData | None = None,
    ) -> None:
        self.events = events
        self.survey = survey
        self.as_of = as_of
        self.fmt = Formatter(lang)
        self.lang = self.fmt.lang
        self.registry = registry
        self.min_n = MIN_N
        self.workers = workers
        self.cache: dict[str, Any] = {}
        self.quality = tuple(quality)
        self.programme = programme
        self._options = {str(k): dict(v) for k, v in (options or {}).items()}
        self._pseudonymiser = pseudonymiser
        self._translations = translations(self.lang)
        self._results: dict[tuple[str, int, str], MetricResult] = {}

    def derive(
        self,
        *,
        events: EventFrame | None,
        survey: SurveyFrame | None = None,
        as_of: dt.datetime | None = None,
    ) -> ReportContext:
        """A context over other data (a separate source), with its own ``as_of`` and cache.

        The language, options, pseudonyms, registry, workers and quality records are shared;
        results computed on one context are never mixed with the other's.

        Examples
        --------
        >>> import stickykit
        >>> from stickykit.plugins.registry import create_registry
        >>> ctx = ReportContext(survey=stickykit.datasets.load_npsgame(),
        ...                     registry=create_registry())
        >>> other = ctx.derive(events=None, survey=None)
        >>> other.survey is None, other.registry is ctx.registry, other.cache is ctx.cache
        (True, True, False)
        """
        return ReportContext(
            registry=self.registry,
            events=events,
            survey=survey,
            as_of=as_of,
            lang=self.lang,
            options=self._options,
            pseudonymiser=self._pseudonymiser,
            workers=self.workers,
            quality=self.quality,
        )

    @property
    def pseudonymised(self) -> bool:
        """Whether customer ids are replaced by pseudonyms."""
        return self._pseudonymiser is not None

    def gettext(self, message: str) -> str:
        """``message`` in the report's language (unchanged when the catalogue lacks it)."""
        return self._translations.gettext(message)

    def option(self, section: str, name: str, default: Any) -> Any:
        """The option ``name`` given for ``section`` in ``build_report(options=...)``."""
        return self._options.get(section, {}).get(name, default)

    def pseudonymise(self, ids: ArrayLike) -> NDArray[np.str_]:
        """Customer ids as the report shows them: pseudonyms, or the ids as text."""
        values = np.asarray(ids)
        if self._pseudonymiser is None:
            return np.asarray(values.astype(np.str_), dtype=np.str_)
        return self._pseudonymiser(values)

    def n_customers(self) -> int:
        """Distinct customers in the events (from a result already computed when possible)."""
        if self.events is None:
            return 0
        if "n_customers" not in self.cache:
            known = [
                int(r.details["customers"])
                for (on, _, _), r in self._results.items()
                if on == "events" and "customers" in r.details
            ]
            self.cache["n_customers"] = (
                known[0] if known else len(np.unique(self.events.customer_id))
            )
        count: int = self.cache["n_customers"]
        return count

    def compute(self, metric: Any, *, on: str, frame: Any = None) -> MetricResult:
        """A metric (name or instance) over the events or the survey, computed once.

        Parameters
        ----------
        metric : str or metric
            A registered name or a metric instance.
        on : {"events", "survey"}
            The data it reads.
        frame : EventFrame or SurveyFrame, optional
            A frame derived from that data (a survey with month labels as waves, say), read
            instead; keep it alive in :attr:`cache` so that its results are found again.
        """
        from stickykit.engine import compute  # noqa: PLC0415

        data = (
            frame if frame is not None else {"events": self.events, "survey": self.survey}.get(on)
        )
        if data is None:
            msg = f"no {on} data in this report"
            raise ValueError(msg)
        instance = self.registry.get(metric) if isinstance(metric, str) else metric
        key = (on, id(data), f"{instance.name}:{instance.fingerprint}")
        if key not in self._results:
            self._results[key] = compute(
                instance, data, as_of=self.as_of, registry=self.registry, workers=self.workers
            )
        return self._results[key]

    def chart(
        self,
        draw: Callable[[Axes], Any],
        *,
        alt: str,
        caption: str = "",
        size: tuple[float, float] = (6.4, 3.2),
    ) -> Chart:
        """A chart in the report's language (see :func:`stickykit.report.figures.render`)."""
        from stickykit.report.figures import render  # noqa: PLC0415

        return render(draw, lang=self.lang, alt=alt, caption=caption, size=size)
