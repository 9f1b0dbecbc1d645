"""An example third-party stickykit plugin: the response rate of one survey item."""

# [plugin-start]
from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs
import numpy as np

import stickykit
from stickykit.frames import SurveyFrame
from stickykit.metrics import MetricBase, MetricResult
from stickykit.metrics.base import check_fingerprints, package_version
from stickykit.stats import wilson_interval


@attrs.frozen(eq=False)
class ResponseRateState:
    """Rows seen and rows that answered: two integers, whatever the data size."""

    fingerprint: str
    answered: int = 0
    rows: int = 0


@attrs.frozen
class ResponseRate(MetricBase):
    """Response rate: the share of respondents who answered one item, with a Wilson interval."""

    name: ClassVar[str] = "example_response_rate"
    family: ClassVar[str] = "example"
    input_kind: ClassVar[str] = "survey"  # type: ignore[misc]
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = "Wilson (1927), JASA 22(158), 209-212"

    item: str = "nps"
    alpha: float = 0.05

    @property
    def requires(self) -> tuple[str, ...]:
        return (self.item,)

    def init(self) -> ResponseRateState:
        return ResponseRateState(fingerprint=self.fingerprint)

    def update(self, state: ResponseRateState, frame: SurveyFrame) -> ResponseRateState:
        answered = frame.answered(self.item)
        n_answered = len(frame) if answered is None else int(np.count_nonzero(answered))
        return attrs.evolve(
            state, answered=state.answered + n_answered, rows=state.rows + len(frame)
        )

    def merge(self, a: ResponseRateState, b: ResponseRateState) -> ResponseRateState:
        check_fingerprints(self.name, a, b)
        return attrs.evolve(a, answered=a.answered + b.answered, rows=a.rows + b.rows)

    def finalize(self, state: ResponseRateState, as_of: dt.datetime | None = None) -> MetricResult:
        low, high = wilson_interval(state.answered, state.rows, self.alpha)
        return MetricResult(
            metric=self.name,
            value=state.answered / state.rows if state.rows else float("nan"),
            n=state.rows,
            n_missing=0,
            se=None,
            ci_low=low,
            ci_high=high,
            level=1 - self.alpha,
            method="Wilson score",
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=package_version(),
            unit="share",
        )


@stickykit.hookimpl
def register_metrics(register: Any) -> None:
    register(ResponseRate)


# [plugin-end]
