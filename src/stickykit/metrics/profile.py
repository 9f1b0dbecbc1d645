r"""The stickiness profile: behavioural, attitudinal and cognitive scores kept apart.

Customer stickiness has three dimensions that need not move together: what customers **do**
(behavioural loyalty), what they **feel** (attitudinal or emotional loyalty) and what they
**weigh** (cognitive loyalty: what leaving would cost them and what staying gives them).
Dick & Basu (1994) define loyalty by the joint position on relative attitude and repeat
patronage: a customer who buys often without attachment ("spurious" loyalty) is at risk in a
way a committed one is not, and an average of the two hides exactly that. The profile
therefore reports each dimension as its own standardised score and never averages across
dimensions unless asked to.

- ``"stickiness_behaviour"`` (:class:`StickinessBehaviour`, events): per customer, frequency
  (events per period of tenure), recency (days since the last event; fewer is stickier),
  tenure (days since the first event) and the share of periods with activity;
- ``"stickiness_survey"`` (:class:`StickinessSurvey`, survey answers joined by customer id):
  attitudinal components (likelihood to recommend, satisfaction, relationship benefits) and
  cognitive components (switching costs, customer delivered value), each a customer's mean
  over their responses;
- :func:`stickiness_profile` joins both results on customer id and summarises every dimension
  per segment, with Student *t* intervals.

Each component is standardised across the customers that have it (:func:`standardise`:
mid-rank percentiles by default, or z-scores); a dimension's score is the mean of its
standardised components. The method is stated in every result.

References
----------
Dick, A. S. and Basu, K. (1994). Customer loyalty: toward an integrated conceptual framework.
*Journal of the Academy of Marketing Science* 22(2), 99-113.
Oliver, R. L. (1999). Whence consumer loyalty? *Journal of Marketing* 63(4_suppl1), 33-44.

Examples
--------
>>> standardise(np.array([3.0, 1.0, 2.0, 2.0]), "percentile").tolist()
[87.5, 12.5, 50.0, 50.0]
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.core._time import us_to_datetime
from stickykit.core.periods import period_index
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation
from stickykit.metrics._groups import union_labels
from stickykit.metrics.base import MetricBase, MetricResult, check_fingerprints, package_version
from stickykit.metrics.behaviour.retention import observed_periods
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    resolve_as_of,
)
from stickykit.metrics.survey.delivered_value import CustomerDeliveredValue
from stickykit.metrics.survey.multiitem import ItemIndexMetric, score_rows
from stickykit.metrics.survey.relationship_benefits import RelationshipBenefitIndex
from stickykit.metrics.survey.switching_costs import SwitchingCostIndex
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha

__all__ = [
    "BEHAVIOURAL",
    "DIMENSIONS",
    "SURVEY_COMPONENTS",
    "Standardisation",
    "StickinessBehaviour",
    "StickinessProfile",
    "StickinessSurvey",
    "StickinessSurveyState",
    "standardise",
    "stickiness_profile",
]

Standardisation = Literal["percentile", "z"]
#: The behavioural components, in table order.
BEHAVIOURAL = ("frequency", "recency", "tenure", "active_share")
#: The survey components and their dimension.
SURVEY_COMPONENTS = {
    "likelihood_to_recommend": "attitudinal",
    "satisfaction": "attitudinal",
    "relationship_benefits": "attitudinal",
    "switching_costs": "cognitive",
    "delivered_value": "cognitive",
}
DIMENSIONS = ("behavioural", "attitudinal", "cognitive")
_DAY_US = 86_400_000_000
_NO_TIME = int(np.iinfo(np.int64).min)
_REFERENCE = (
    "three dimensions of loyalty kept apart: Dick & Basu (1994), Journal of the Academy of "
    "Marketing Science 22(2), 99-113; Oliver (1999), Journal of Marketing 63, 33-44"
)
_METHODS = {
    "percentile": "mid-rank percentiles (0-100, ties share their mean rank)",
    "z": "z-scores (mean 0, standard deviation 1)",
}


def standardise(values: ArrayLike, method: str = "percentile") -> NDArray[np.float64]:
    r"""Standardise values across customers; NaN stays NaN and is left out.

    Parameters
    ----------
    values : array_like
        One value per customer (NaN where the customer has none).
    method : {"percentile", "z"}
        ``"percentile"``: :math:`100\,(r_i - \tfrac12)/n` with :math:`r_i` the mid-rank
        (ties get the mean of their ranks): in (0, 100), robust to the skew of spend and
        frequency. ``"z"``: :math:`(x_i - \bar x)/s` with the standard deviation
        :math:`s` over the :math:`n` customers (divisor :math:`n`); 0 for every customer when
        all values are equal.

    Returns
    -------
    numpy.ndarray
        float64, same length.

    Examples
    --------
    >>> standardise([1.0, 2.0, 3.0], "z").round(4).tolist()
    [-1.2247, 0.0, 1.2247]
    >>> standardise([5.0, float("nan"), 5.0]).tolist()
    [50.0, nan, 50.0]
    """
    from scipy import stats  # noqa: PLC0415 - scipy loads only when used

    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    seen = np.isfinite(x)
    n = int(seen.sum())
    if n == 0:
        return out
    if method == "percentile":
        out[seen] = 100.0 * (stats.rankdata(x[seen]) - 0.5) / n
    elif method == "z":
        present = x[seen]
        # equal values: every score 0 (their computed sd may be a rounding error above 0)
        spread = float(present.max() - present.min())
        out[seen] = (present - present.mean()) / present.std() if spread > 0 else 0.0
    else:
        msg = f"method must be 'percentile' or 'z', got {method!r}"
        raise ValueError(msg)
    return out


def _row_mean(columns: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Mean of the finite entries of each row (NaN where there is none)."""
    block = np.column_stack(columns)
    seen = np.isfinite(block)
    count = seen.sum(axis=1)
    total = np.where(seen, block, 0.0).sum(axis=1)
    mean: NDArray[np.float64] = np.divide(
        total, count, out=np.full(len(block), np.nan), where=count > 0
    )
    return mean


def _method_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    if value not in _METHODS:
        msg = f"standardisation must be 'percentile' or 'z', got {value!r}"
        raise ValueError(msg)


# -- behaviour --------------------------------------------------------------------------------


@attrs.frozen
class StickinessBehaviour(CustomerSummary):
    r"""The behavioural dimension of stickiness, per customer, standardised.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as behaviour (default every event; returns never count).
    period : {"day", "week", "month", "quarter"}
        The calendar period of frequency and of the active share (default month).
    zone : str
        IANA time zone of the calendar.
    standardisation : {"percentile", "z"}
        How each component is standardised across customers (:func:`standardise`).

    Notes
    -----
    For customer :math:`i` with :math:`n_i` qualifying events, first and last event at
    :math:`f_i, l_i`, active in :math:`a_i` distinct periods, and :math:`P_i` periods from the
    period of :math:`f_i` to the period containing ``as_of`` (inclusive):

    .. math::

        \text{frequency}_i = n_i / P_i, \quad
        \text{recency}_i = (\text{as\_of} - l_i)/\text{day}, \quad
        \text{tenure}_i = (\text{as\_of} - f_i)/\text{day}, \quad
        \text{active\_share}_i = a_i / P_i .

    Recency is standardised with its sign flipped, so that a higher score is stickier on every
    component; the behavioural score is the mean of the four standardised components.
    ``value`` is the number of customers profiled; ``tables`` hold ``customer_id``, the raw
    components, ``std_<component>`` and ``behavioural``. There is no interval: the profile
    describes customers (segment means with intervals come from
    :func:`stickiness_profile`).

    References
    ----------
    Dick, A. S. and Basu, K. (1994). Customer loyalty: toward an integrated conceptual
    framework. *Journal of the Academy of Marketing Science* 22(2), 99-113.

    Examples
    --------
    Customer 1 bought in January and March (4 events in 3 months), customer 2 once in March,
    customer 3 once in February; with three customers the percentiles are 16.7, 50 and 83.3,
    so customer 1 scores (83.3 + 50 + 83.3 + 50)/4 = 66.7:

    >>> import datetime as dt
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(6), customer_id=np.array([1, 1, 1, 1, 2, 3]),
    ...                timestamp=np.array(["2024-01-10", "2024-01-25", "2024-03-10",
    ...                                    "2024-03-15", "2024-03-20", "2024-02-01"],
    ...                                   dtype="datetime64[us]"))
    >>> m = StickinessBehaviour()
    >>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 4, 1, tzinfo=dt.UTC))
    >>> np.round(r.tables["frequency"], 3).tolist(), r.tables["recency"].tolist()
    ([1.333, 1.0, 0.5], [17.0, 12.0, 60.0])
    >>> np.round(r.tables["active_share"], 3).tolist(), np.round(r.tables["behavioural"], 2).tolist()
    ([0.667, 1.0, 0.5], [66.67, 58.33, 25.0])
    """

    name: ClassVar[str] = "stickiness_behaviour"
    family: ClassVar[str] = "profile"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REFERENCE

    period: Literal["day", "week", "month", "quarter"] = attrs.field(
        default="month", validator=attrs.validators.in_(("day", "week", "month", "quarter"))
    )
    standardisation: Standardisation = attrs.field(default="percentile", validator=_method_field)

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """Per-customer components, standardised, and the behavioural score."""
        active = state.n_events > 0
        if not active.any():
            msg = "stickiness_behaviour needs at least one qualifying event"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(state.last_us, as_of)
        last_period, _ = observed_periods(as_of_us, self.period, self.zone)
        first_us = state.first_us[active]
        last_us = state.last_us[active]
        first_period = period_index(first_us.astype("datetime64[us]"), self.period, zone=self.zone)
        span = (last_period - first_period + 1).astype(np.float64)
        events = state.n_events[active].astype(np.float64)
        components = {
            "frequency": events / span,
            "recency": (as_of_us - last_us) / _DAY_US,
            "tenure": (as_of_us - first_us) / _DAY_US,
            "active_share": state.n_periods()[active] / span,
        }
        standardised = {
            name: standardise(-x if name == "recency" else x, self.standardisation)
            for name, x in components.items()
        }
        score = _row_mean(list(standardised.values()))
        when = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=float(active.sum()),
            n=int(active.sum()),
            n_missing=int((~active).sum()),
            se=None,
            ci_low=None,
            ci_high=None,
            level=None,
            method=(
                f"behavioural score = mean of the {_METHODS[self.standardisation]} of "
                f"frequency (events per {self.period}), recency (days, sign flipped), tenure "
                f"(days) and the share of active {self.period}s, across the customers; "
                "descriptive (no interval)"
            ),
            reference=self.reference,
            params={**self.params(), "as_of": when},
            as_of=when,
            version=package_version(),
            unit="customers",
            details={f"mean_{name}": float(x.mean()) for name, x in components.items()},
            tables={
                "customer_id": state.customer_id[active],
                **components,
                **{f"std_{name}": x for name, x in standardised.items()},
                "behavioural": score,
            },
        )


# -- survey -----------------------------------------------------------------------------------


def _empty_labels() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


def _empty_matrix(dtype: Any) -> Any:
    return lambda: np.zeros((0, len(SURVEY_COMPONENTS)), dtype=dtype)


@attrs.frozen(eq=False)
class StickinessSurveyState:
    """Per customer and survey component: the number and the sum of the respondent scores.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    customer_id : numpy.ndarray
        Sorted unique customer ids.
    count : numpy.ndarray
        int64, customers x components (in the order of :data:`SURVEY_COMPONENTS`): scored
        responses.
    total : numpy.ndarray
        float64, customers x components: the sum of those scores.
    no_customer : int
        Responses without a customer id (they cannot be joined; counted, not scored).
    latest_us : int
        Latest answer time seen (microseconds; the int64 minimum when unknown).

    Examples
    --------
    >>> from stickykit.frames import SurveyFrame
    >>> m = StickinessSurvey(satisfaction_item=None, benefits=None, switching_costs=None,
    ...                      delivered_value=None)
    >>> s = m.update(m.init(), SurveyFrame(answers={"nps": np.array([9, 7, 10], np.int8)},
    ...                                    customer_id=np.array([2, 1, 2])))
    >>> s.customer_id.tolist(), s.count[:, 0].tolist(), s.total[:, 0].tolist()
    ([1, 2], [1, 2], [7.0, 19.0])
    """

    fingerprint: str
    customer_id: NDArray[Any] = attrs.field(factory=_empty_labels)
    count: NDArray[np.int64] = attrs.field(factory=_empty_matrix(np.int64))
    total: NDArray[np.float64] = attrs.field(factory=_empty_matrix(np.float64))
    no_customer: int = 0
    latest_us: int = _NO_TIME


def _optional_name(value: Any) -> str | None:
    return None if value is None else str(value)


def _scale(value: Any) -> tuple[int, int]:
    lo, hi = (int(v) for v in value)
    if lo >= hi:
        msg = f"a scale must be (low, high) with low < high, got {value!r}"
        raise ValueError(msg)
    return (lo, hi)


@attrs.frozen
class StickinessSurvey(MetricBase):
    r"""The attitudinal and cognitive dimensions of stickiness, per customer, standardised.

    Survey answers are joined to customers by the frame's ``customer_id`` column; a customer's
    component is the mean of their scored responses (several waves average).

    Parameters
    ----------
    recommend_item : str or None
        Item holding the likelihood to recommend (0-10); ``None`` leaves it out.
    satisfaction_item : str or None
        Item holding overall satisfaction on ``satisfaction_scale``; ``None`` leaves it out.
    satisfaction_scale : (int, int)
        Its answer range (default 1-5).
    benefits, switching_costs, delivered_value : str or None
        Registered instruments scored as
        :class:`~stickykit.metrics.survey.relationship_benefits.RelationshipBenefitIndex`,
        :class:`~stickykit.metrics.survey.switching_costs.SwitchingCostIndex` and
        :class:`~stickykit.metrics.survey.delivered_value.CustomerDeliveredValue` (their
        headline score per respondent); ``None`` leaves a component out.
    standardisation : {"percentile", "z"}
        How each component is standardised across customers (:func:`standardise`).

    Notes
    -----
    Attitudinal score = mean of the standardised likelihood to recommend, satisfaction and
    relationship benefits a customer has; cognitive score = mean of the standardised switching
    costs and delivered value. Respondent weights are not used: the profile describes
    customers. Items of an enabled component missing from the frame are an error (leave the
    component out with ``None``); answers outside their scale are an error naming the row.
    ``tables`` hold ``customer_id``, each component's mean (``likelihood_to_recommend``...),
    ``std_<component>``, ``attitudinal`` and ``cognitive``.

    References
    ----------
    Dick, A. S. and Basu, K. (1994). Customer loyalty: toward an integrated conceptual
    framework. *Journal of the Academy of Marketing Science* 22(2), 99-113.
    Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review*
    81(12), 46-54.
    Burnham, T. A., Frels, J. K. and Mahajan, V. (2003). Consumer switching costs: a
    typology, antecedents, and consequences. *Journal of the Academy of Marketing Science*
    31(2), 109-126.
    Gwinner, K. P., Gremler, D. D. and Bitner, M. J. (1998). Relational benefits in services
    industries: the customer's perspective. *Journal of the Academy of Marketing Science*
    26(2), 101-114.

    Examples
    --------
    Customer 7 answered twice (recommend 10 and 8: mean 9), customer 8 once:

    >>> from stickykit.frames import SurveyFrame
    >>> m = StickinessSurvey(benefits=None, switching_costs=None, delivered_value=None)
    >>> f = SurveyFrame(answers={"nps": np.array([10, 8, 3], np.int8),
    ...                          "csat": np.array([5, 4, 2], np.int8)},
    ...                 customer_id=np.array([7, 7, 8]))
    >>> r = m.finalize(m.update(m.init(), f))
    >>> r.tables["likelihood_to_recommend"].tolist(), r.tables["attitudinal"].tolist()
    ([9.0, 3.0], [75.0, 25.0])
    >>> bool(np.isnan(r.tables["cognitive"]).all())
    True
    """

    name: ClassVar[str] = "stickiness_survey"
    family: ClassVar[str] = "profile"
    input_kind: ClassVar[Literal["survey"]] = "survey"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REFERENCE

    recommend_item: str | None = attrs.field(default="nps", converter=_optional_name)
    satisfaction_item: str | None = attrs.field(default="csat", converter=_optional_name)
    satisfaction_scale: tuple[int, int] = attrs.field(default=(1, 5), converter=_scale)
    benefits: str | None = attrs.field(
        default=RelationshipBenefitIndex.default_instrument, converter=_optional_name
    )
    switching_costs: str | None = attrs.field(
        default=SwitchingCostIndex.default_instrument, converter=_optional_name
    )
    delivered_value: str | None = attrs.field(
        default=CustomerDeliveredValue.default_instrument, converter=_optional_name
    )
    standardisation: Standardisation = attrs.field(default="percentile", validator=_method_field)
    _indices: dict[str, ItemIndexMetric] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        indices: dict[str, ItemIndexMetric] = {}
        if self.benefits is not None:
            indices["relationship_benefits"] = RelationshipBenefitIndex(instrument=self.benefits)
        if self.switching_costs is not None:
            indices["switching_costs"] = SwitchingCostIndex(instrument=self.switching_costs)
        if self.delivered_value is not None:
            indices["delivered_value"] = CustomerDeliveredValue(instrument=self.delivered_value)
        if not indices and self.recommend_item is None and self.satisfaction_item is None:
            msg = "stickiness_survey needs at least one component"
            raise ValueError(msg)
        object.__setattr__(self, "_indices", indices)

    def params(self) -> dict[str, Any]:
        """The parameters (the instruments by name)."""
        return {
            "recommend_item": self.recommend_item,
            "satisfaction_item": self.satisfaction_item,
            "satisfaction_scale": list(self.satisfaction_scale),
            "benefits": self.benefits,
            "switching_costs": self.switching_costs,
            "delivered_value": self.delivered_value,
            "standardisation": self.standardisation,
        }

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """Every item read, with its answer range."""
        out: dict[str, tuple[int, int]] = {}
        if self.recommend_item is not None:
            out[self.recommend_item] = (0, 10)
        if self.satisfaction_item is not None:
            out[self.satisfaction_item] = self.satisfaction_scale
        for index in self._indices.values():
            out.update(index.scales)
        return out

    @property
    def requires(self) -> tuple[str, ...]:
        """Every item read."""
        return tuple(self.scales)

    def init(self) -> StickinessSurveyState:
        """The empty state."""
        return StickinessSurveyState(fingerprint=self.fingerprint)

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Answers outside their scale (items absent from the frame raise in ``update``)."""
        found: list[Violation] = []
        for item, (lo, hi) in self.scales.items():
            if item not in frame.answers:
                continue
            values = frame.answers[item]
            bad = (values < lo) | (values > hi)
            answered = frame.answered(item)
            if answered is not None:
                bad &= answered
            rows = np.flatnonzero(bad)
            if rows.size:
                found.append(
                    Violation(
                        field=item,
                        rows=(rows + frame.first_row).astype(np.int64),
                        values=values[rows],
                        expected=f"an integer in [{lo}, {hi}]",
                    )
                )
        return found

    def update(self, state: StickinessSurveyState, frame: SurveyFrame) -> StickinessSurveyState:
        """Score each response on every component and add it to its customer's sums."""
        absent = [item for item in self.requires if item not in frame.answers]
        if absent:
            raise ValidationError(
                record="SurveyFrame",
                field="answers",
                row=None,
                value=absent[:5],
                expected=(
                    "every item of the enabled components (set recommend_item, "
                    "satisfaction_item, benefits, switching_costs or delivered_value to None "
                    "to leave a component out)"
                ),
            )
        raise_first("SurveyFrame", self.check(frame))
        if len(frame) == 0:
            return self.merge(state, self.init())
        if frame.customer_id is None:
            raise ValidationError(
                record="SurveyFrame",
                field="customer_id",
                row=None,
                value=None,
                expected="a customer_id column to join the answers to customers",
            )
        scores = self._scores(frame)
        has_customer = np.ones(len(frame), dtype=bool)
        missing = frame.label_missing.get("customer_id")
        if missing is not None:
            has_customer &= ~missing
        ids, codes = np.unique(frame.customer_id[has_customer], return_inverse=True)
        scored = np.isfinite(scores[has_customer])
        count = np.zeros((len(ids), scores.shape[1]), dtype=np.int64)
        total = np.zeros((len(ids), scores.shape[1]))
        np.add.at(count, codes.reshape(-1), scored.astype(np.int64))
        np.add.at(total, codes.reshape(-1), np.where(scored, scores[has_customer], 0.0))
        times = frame.answered_at
        latest = (
            int(times[~np.isnat(times)].view(np.int64).max())
            if times is not None and (~np.isnat(times)).any()
            else _NO_TIME
        )
        chunk = StickinessSurveyState(
            fingerprint=self.fingerprint,
            customer_id=ids,
            count=count,
            total=total,
            no_customer=int((~has_customer).sum()),
            latest_us=latest,
        )
        return self.merge(state, chunk)

    def merge(self, a: StickinessSurveyState, b: StickinessSurveyState) -> StickinessSurveyState:
        """Union of customers; counts and sums added."""
        check_fingerprints(self.name, a, b)
        ids, pos_a, pos_b = union_labels(a.customer_id, b.customer_id)
        n = len(ids)
        count = np.zeros((n, len(SURVEY_COMPONENTS)), dtype=np.int64)
        total = np.zeros((n, len(SURVEY_COMPONENTS)))
        count[pos_a[:-1]] += a.count
        count[pos_b[:-1]] += b.count
        total[pos_a[:-1]] += a.total
        total[pos_b[:-1]] += b.total
        return StickinessSurveyState(
            fingerprint=a.fingerprint,
            customer_id=ids,
            count=count,
            total=total,
            no_customer=a.no_customer + b.no_customer,
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(
        self, state: StickinessSurveyState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """Per-customer means, standardised, and the attitudinal and cognitive scores."""
        if len(state.customer_id) == 0 or not state.count.any():
            msg = "stickiness_survey needs at least one scored answer with a customer id"
            raise InsufficientDataError(msg)
        means = np.divide(
            state.total,
            state.count,
            out=np.full(state.total.shape, np.nan),
            where=state.count > 0,
        )
        enabled = self._enabled()
        tables: dict[str, Any] = {"customer_id": state.customer_id}
        standardised: dict[str, NDArray[np.float64]] = {}
        for j, name in enumerate(SURVEY_COMPONENTS):
            tables[name] = means[:, j]
            standardised[name] = standardise(means[:, j], self.standardisation)
        for name in SURVEY_COMPONENTS:
            tables[f"std_{name}"] = standardised[name]
        for dimension in ("attitudinal", "cognitive"):
            parts = [
                standardised[c]
                for c, d in SURVEY_COMPONENTS.items()
                if d == dimension and c in enabled
            ]
            tables[dimension] = (
                _row_mean(parts) if parts else np.full(len(state.customer_id), np.nan)
            )
        scored = np.isfinite(means).any(axis=1)
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        details = {
            f"mean_{name}": float(np.nanmean(means[:, j])) if state.count[:, j].any() else math.nan
            for j, name in enumerate(SURVEY_COMPONENTS)
        }
        details["responses_without_customer"] = float(state.no_customer)
        flags = []
        if state.no_customer:
            flags.append(f"{state.no_customer:,} response(s) without a customer id: not scored")
        return MetricResult(
            metric=self.name,
            value=float(scored.sum()),
            n=int(scored.sum()),
            n_missing=int((~scored).sum()) + state.no_customer,
            se=None,
            ci_low=None,
            ci_high=None,
            level=None,
            method=(
                f"attitudinal and cognitive scores = means of the {_METHODS[self.standardisation]} "
                f"of the enabled components ({', '.join(enabled)}), each a customer's mean over "
                "their responses; descriptive (no interval)"
            ),
            reference=self.reference,
            params={**self.params(), "as_of": as_of},
            as_of=as_of,
            version=package_version(),
            unit="customers",
            flags=tuple(flags),
            details=details,
            tables=tables,
        )

    # -- kernels ----------------------------------------------------------------------------

    def _enabled(self) -> list[str]:
        names = []
        if self.recommend_item is not None:
            names.append("likelihood_to_recommend")
        if self.satisfaction_item is not None:
            names.append("satisfaction")
        names.extend(c for c in SURVEY_COMPONENTS if c in self._indices)
        return [c for c in SURVEY_COMPONENTS if c in names]

    def _scores(self, frame: SurveyFrame) -> NDArray[np.float64]:
        scores = np.full((len(frame), len(SURVEY_COMPONENTS)), np.nan)
        for j, name in enumerate(SURVEY_COMPONENTS):
            item = {
                "likelihood_to_recommend": self.recommend_item,
                "satisfaction": self.satisfaction_item,
            }.get(name)
            if item is not None:
                answered = frame.answered(item)
                values = frame.answers[item].astype(np.float64)
                scores[:, j] = values if answered is None else np.where(answered, values, np.nan)
            elif name in self._indices:
                plan = self._indices[name].plan
                answers = [frame.answers[i] for i in plan.items]
                masks = [frame.answered(i) for i in plan.items]
                scores[:, j] = score_rows(plan, answers, masks)[0][:, -1]
        return scores


# -- the joined profile -----------------------------------------------------------------------


@attrs.frozen(eq=False)
class StickinessProfile:
    """Per customer and per segment: the three dimensions of stickiness, side by side.

    Parameters
    ----------
    customer_id : numpy.ndarray
        The customers (the union of both results), sorted.
    columns : Mapping[str, numpy.ndarray]
        Per customer: every component, its ``std_`` score, the dimension scores
        ``behavioural``, ``attitudinal`` and ``cognitive`` (NaN where a customer lacks the
        data), and ``combined`` only when weights were given.
    segments : Mapping[str, numpy.ndarray]
        Long table, one row per segment and score: ``segment``, ``score``, ``n``, ``mean``,
        ``sd``, ``se``, ``ci_low``, ``ci_high`` (Student *t*); segment ``"all"`` for everyone.
    methods : Mapping[str, str]
        How each dimension was computed and standardised.
    combined_weights : Mapping[str, float] or None
        The weights of the combined score, when asked for.
    level : float
        Confidence level of the segment intervals.
    flags : tuple of str
        Warnings.

    Examples
    --------
    >>> p = stickiness_profile(behaviour=None, survey=None, customers=np.array([1, 2]))
    >>> p.customer_id.tolist(), sorted(p.columns)
    ([1, 2], ['attitudinal', 'behavioural', 'cognitive'])
    """

    customer_id: NDArray[Any]
    columns: Mapping[str, NDArray[np.float64]]
    segments: Mapping[str, NDArray[Any]]
    methods: Mapping[str, str]
    combined_weights: Mapping[str, float] | None
    level: float
    flags: tuple[str, ...] = ()

    def customer(self, customer_id: Any) -> dict[str, float]:
        """One customer's scores by name.

        Examples
        --------
        >>> p = stickiness_profile(customers=np.array([4]))
        >>> p.customer(4)["behavioural"]
        nan
        """
        position = int(np.searchsorted(self.customer_id, customer_id))
        if position >= len(self.customer_id) or self.customer_id[position] != customer_id:
            msg = f"customer {customer_id!r} is not in the profile"
            raise KeyError(msg)
        return {name: float(values[position]) for name, values in self.columns.items()}


def _result_columns(
    result: MetricResult | None, expected: str
) -> tuple[NDArray[Any], dict[str, NDArray[np.float64]]]:
    if result is None:
        return np.empty(0, dtype=np.int64), {}
    if result.metric != expected:
        raise ValidationError(
            record="stickiness_profile",
            field=expected.removeprefix("stickiness_"),
            row=None,
            value=result.metric,
            expected=f"a {expected!r} result",
        )
    ids = np.asarray(result.tables["customer_id"])
    columns = {k: np.asarray(v) for k, v in result.tables.items() if k != "customer_id"}
    return ids, columns


def _segment_table(
    scores: Mapping[str, NDArray[np.float64]],
    labels: NDArray[Any],
    alpha: float,
) -> dict[str, NDArray[Any]]:
    from scipy import stats  # noqa: PLC0415 - scipy loads only when used

    rows: dict[str, list[Any]] = {
        k: [] for k in ("segment", "score", "n", "mean", "sd", "se", "ci_low", "ci_high")
    }
    groups = [("all", np.ones(len(labels), dtype=bool))]
    groups += [(str(g), labels == g) for g in np.unique(labels)]
    for label, members in groups:
        for name, values in scores.items():
            x = values[members & np.isfinite(values)]
            n = len(x)
            mean = float(x.mean()) if n else math.nan
            sd = float(x.std(ddof=1)) if n > 1 else math.nan
            se = sd / math.sqrt(n) if n > 1 else math.nan
            t = float(stats.t.ppf(1 - alpha / 2, n - 1)) if n > 1 else math.nan
            rows["segment"].append(label)
            rows["score"].append(name)
            rows["n"].append(n)
            rows["mean"].append(mean)
            rows["sd"].append(sd)
            rows["se"].append(se)
            rows["ci_low"].append(mean - t * se)
            rows["ci_high"].append(mean + t * se)
    return {
        "segment": np.asarray(rows["segment"], dtype=str),
        "score": np.asarray(rows["score"], dtype=str),
        "n": np.asarray(rows["n"], dtype=np.int64),
        **{k: np.asarray(rows[k], dtype=np.float64) for k in ("mean", "sd", "se")},
        "ci_low": np.asarray(rows["ci_low"], dtype=np.float64),
        "ci_high": np.asarray(rows["ci_high"], dtype=np.float64),
    }


def stickiness_profile(
    behaviour: MetricResult | None = None,
    survey: MetricResult | None = None,
    *,
    segments: tuple[ArrayLike, ArrayLike] | None = None,
    customers: ArrayLike | None = None,
    combine: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> StickinessProfile:
    r"""Join the behavioural and survey profiles on customer id and summarise per segment.

    Parameters
    ----------
    behaviour : MetricResult, optional
        A ``"stickiness_behaviour"`` result.
    survey : MetricResult, optional
        A ``"stickiness_survey"`` result.
    segments : (ids, labels), optional
        Segment label of each customer id; customers without one are in segment
        ``"(none)"``.
    customers : array_like, optional
        Further customer ids to include (with NaN scores where they lack data), such as the
        whole customer base.
    combine : mapping of str to float, optional
        Only when given: a ``combined`` score, the weighted mean
        :math:`\sum_d w_d S_d / \sum_d w_d` of the named dimensions (``"behavioural"``,
        ``"attitudinal"``, ``"cognitive"``), missing where a customer lacks one of them.
        The dimensions measure different things; the weights are the caller's judgement.
    alpha : float
        1 - confidence level of the segment intervals.

    Returns
    -------
    StickinessProfile

    Notes
    -----
    The join is an outer join: a customer with events but no survey answer has a behavioural
    score and missing attitudinal and cognitive scores, and the reverse. Segment summaries
    use, for each score, the customers who have it, with the Student *t* interval
    :math:`\bar S \pm t_{n-1,1-\alpha/2}\,s/\sqrt n`. Scores are standardised within their
    own metric, so a segment's mean percentile reads against all profiled customers (50 is
    the middle).

    Examples
    --------
    >>> import datetime as dt
    >>> from stickykit.frames import EventFrame, SurveyFrame
    >>> ev = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
    ...                 timestamp=np.array(["2024-01-10", "2024-02-10", "2024-02-20"],
    ...                                    dtype="datetime64[us]"))
    >>> b = StickinessBehaviour()
    >>> rb = b.finalize(b.update(b.init(), ev), as_of=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    >>> s = StickinessSurvey(satisfaction_item=None, benefits=None, switching_costs=None,
    ...                      delivered_value=None)
    >>> rs = s.finalize(s.update(s.init(), SurveyFrame(
    ...     answers={"nps": np.array([6, 9], np.int8)}, customer_id=np.array([2, 3]))))
    >>> p = stickiness_profile(rb, rs, segments=([1, 2, 3], ["a", "b", "b"]))
    >>> p.customer_id.tolist(), p.columns["behavioural"].tolist()
    ([1, 2, 3], [50.0, 50.0, nan])
    >>> p.columns["attitudinal"].tolist(), "combined" in p.columns
    ([nan, 25.0, 75.0], False)
    >>> [(str(s), str(k), int(n)) for s, k, n in zip(p.segments["segment"],
    ...  p.segments["score"], p.segments["n"]) if s == "b"]
    [('b', 'behavioural', 1), ('b', 'attitudinal', 2), ('b', 'cognitive', 0)]
    """
    alpha = check_alpha(alpha)
    ids_b, cols_b = _result_columns(behaviour, "stickiness_behaviour")
    ids_s, cols_s = _result_columns(survey, "stickiness_survey")
    extra = np.empty(0, dtype=np.int64) if customers is None else np.asarray(customers)
    parts = [x for x in (ids_b, ids_s, extra) if len(x)]
    if parts and len({x.dtype.kind == "U" for x in parts}) > 1:
        raise ValidationError(
            record="stickiness_profile",
            field="customer_id",
            row=None,
            value=[str(x.dtype) for x in parts],
            expected="customer ids of one type (all integers or all text) in every input",
        )
    ids = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
    n = len(ids)
    columns: dict[str, NDArray[np.float64]] = {}
    for source_ids, source in ((ids_b, cols_b), (ids_s, cols_s)):
        where = np.searchsorted(ids, source_ids)
        for name, values in source.items():
            column = np.full(n, np.nan)
            column[where] = values
            columns[name] = column
    for dimension in DIMENSIONS:
        columns.setdefault(dimension, np.full(n, np.nan))
    methods = {
        "behavioural": behaviour.method if behaviour is not None else "no behaviour result",
        "attitudinal": survey.method if survey is not None else "no survey result",
        "cognitive": survey.method if survey is not None else "no survey result",
    }
    weights: dict[str, float] | None = None
    if combine is not None:
        weights = {str(k): float(v) for k, v in combine.items()}
        unknown = sorted(set(weights) - set(DIMENSIONS))
        if unknown or not weights or any(not w > 0 for w in weights.values()):
            raise ValidationError(
                record="stickiness_profile",
                field="combine",
                row=None,
                value=weights,
                expected=f"positive weights of dimensions among {DIMENSIONS}",
            )
        total = sum(weights.values())
        columns["combined"] = sum((w / total) * columns[d] for d, w in weights.items()) * np.ones(n)
        methods["combined"] = "weighted mean of the dimension scores, weights " + ", ".join(
            f"{d} {w:g}" for d, w in weights.items()
        )
    labels = np.full(n, "(none)", dtype=object)
    if segments is not None:
        seg_ids, seg_labels = (np.asarray(x) for x in segments)
        if seg_ids.shape != seg_labels.shape or seg_ids.ndim != 1:
            raise ValidationError(
                record="stickiness_profile",
                field="segments",
                row=None,
                value=f"arrays of shapes {seg_ids.shape} and {seg_labels.shape}",
                expected="two 1-D arrays of equal length: customer ids and their segments",
            )
        uniq, counts = np.unique(seg_ids, return_counts=True)
        if (counts > 1).any():
            raise ValidationError(
                record="stickiness_profile",
                field="segments",
                row=int(np.flatnonzero(seg_ids == uniq[counts > 1][0])[1]),
                value=uniq[counts > 1][0].item(),
                expected="one segment per customer id",
            )
        position = np.searchsorted(ids, seg_ids)
        found = position < n
        found[found] = ids[position[found]] == seg_ids[found]
        labels[position[found]] = seg_labels[found].astype(str)
    scores = {d: columns[d] for d in (*DIMENSIONS, *(("combined",) if weights else ()))}
    flags = []
    if behaviour is None or survey is None:
        flags.append("only one of the behaviour and survey results given")
    return StickinessProfile(
        customer_id=ids,
        columns=columns,
        segments=_segment_table(scores, labels.astype(str), alpha),
        methods=methods,
        combined_weights=weights,
        level=1 - alpha,
        flags=tuple(flags),
    )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"stickiness_behaviour"`` and ``"stickiness_survey"``."""
    register(StickinessBehaviour)
    register(StickinessSurvey)
