r"""Model input from events: calibration histories and holdout counts.

The calibration period runs to ``calibration_end`` inclusive (a calendar day in ``zone``); the
holdout period from the next day to ``holdout_end`` inclusive. For every customer whose first
qualifying purchase falls in calibration:

- purchases on the same calendar day merge into one transaction (amounts added);
- ``frequency`` :math:`x` = calibration purchase days - 1 (repeat purchases);
- ``recency`` :math:`t_x` = last - first calibration purchase day, and ``age`` :math:`T` =
  ``calibration_end`` - first purchase day, in days divided by the time unit's length
  (7 for weeks);
- ``monetary`` = mean amount of the repeat purchase days (the first day excluded), the
  spend input of the Gamma-Gamma model;
- the holdout count is the number of purchase days in the holdout period.

This is how Fader, Hardie & Lee (2005), "'Counting your customers' the easy way", *Marketing
Science* 24(2), 275-284, summarise the CDNOW sample (39-week calibration to 30 September
1997, time in weeks).

Examples
--------
>>> split = cdnow_histories()
>>> len(split.calibration), int(split.calibration.frequency.sum())
(2357, 2457)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core.arrays import unique_codes
from stickykit.core.periods import period_index
from stickykit.frames import EventFrame
from stickykit.metrics.behaviour.summary import qualifying
from stickykit.models._histories import Histories

__all__ = ["CalibrationHoldout", "calibration_holdout", "cdnow_histories"]

_DAYS_PER_UNIT = {"day": 1.0, "week": 7.0}


@attrs.frozen(eq=False)
class CalibrationHoldout:
    """Calibration histories and, aligned with them, holdout purchase counts.

    Attributes
    ----------
    calibration : Histories
        One row per customer acquired in calibration.
    holdout_frequency : numpy.ndarray of int64
        Purchase days in the holdout period, per customer (zeros without a holdout).
    holdout_monetary : numpy.ndarray of float64
        Amount bought in the holdout period, per customer.
    holdout_length : float
        Length of the holdout period in time units (0 without a holdout).
    calibration_end, holdout_end : datetime.date or None
    """

    calibration: Histories
    holdout_frequency: NDArray[np.int64]
    holdout_monetary: NDArray[np.float64]
    holdout_length: float
    calibration_end: dt.date
    holdout_end: dt.date | None


def _as_date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def calibration_holdout(
    events: EventFrame,
    *,
    calibration_end: dt.date | str,
    holdout_end: dt.date | str | None = None,
    time_unit: str = "week",
    kinds: tuple[str, ...] | None = ("purchase",),
    zone: str = "UTC",
) -> CalibrationHoldout:
    """Split events by date into calibration histories and holdout counts.

    Parameters
    ----------
    events : EventFrame
        Purchases (``kinds`` choose which event kinds count).
    calibration_end : date or str
        Last calendar day of calibration, inclusive.
    holdout_end : date or str, optional
        Last calendar day of the holdout period, inclusive.
    time_unit : {"week", "day"}
        Unit of recency and age.
    kinds : tuple of str or None
        Event kinds that are purchases (``None``: every row).
    zone : str
        IANA time zone whose calendar days count.

    Examples
    --------
    >>> import numpy as np
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-01-15",
    ...                                    "2024-01-08"], dtype="datetime64[us]"),
    ...                amount=np.array([5.0, 5.0, 7.0, 3.0]))
    >>> s = calibration_holdout(f, calibration_end="2024-01-28", kinds=None)
    >>> s.calibration.frequency.tolist(), s.calibration.recency.tolist(), s.calibration.age.tolist()
    ([1, 0], [2.0, 0.0], [3.857142857142857, 2.857142857142857])
    >>> s.calibration.monetary.tolist()
    [7.0, nan]
    """
    if time_unit not in _DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be one of {sorted(_DAYS_PER_UNIT)}, got {time_unit!r}")
    unit = _DAYS_PER_UNIT[time_unit]
    cal_end = _as_date(calibration_end, "calibration_end")
    hold_end = None if holdout_end is None else _as_date(holdout_end, "holdout_end")
    if hold_end is not None and hold_end <= cal_end:
        raise ValueError("holdout_end must be after calibration_end")
    epoch = dt.date(1970, 1, 1)
    cal_day = (cal_end - epoch).days
    hold_day = cal_day if hold_end is None else (hold_end - epoch).days
    rows = qualifying(events, kinds)
    ids = events.customer_id if rows is None else events.customer_id[rows]
    stamps = events.timestamp if rows is None else events.timestamp[rows]
    amounts = events.amount if events.amount is not None else np.zeros(len(events))
    if rows is not None:
        amounts = amounts[rows]
    days = period_index(stamps, "day", zone=zone)
    keep = days <= hold_day
    ids, days, amounts = ids[keep], days[keep], amounts[keep]
    customers, codes = unique_codes(ids)
    codes = codes.astype(np.int64)
    # one row per customer-day, amounts added
    key = codes * (int(days.max() - days.min()) + 1 if len(days) else 1) + (
        days - (days.min() if len(days) else 0)
    )
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key_sorted[1:] != key_sorted[:-1]]))
    day_customer = codes[order][starts]
    day = days[order][starts]
    day_amount = np.add.reduceat(amounts[order], starts) if len(starts) else np.empty(0)
    n = len(customers)
    in_cal = day <= cal_day
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, day_customer[in_cal], day[in_cal])
    acquired = first <= cal_day
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, day_customer[in_cal], day[in_cal])
    n_days = np.bincount(day_customer[in_cal], minlength=n)
    total = np.bincount(day_customer[in_cal], weights=day_amount[in_cal], minlength=n)
    is_first = in_cal & (day == first[day_customer])
    first_amount = np.bincount(day_customer[is_first], weights=day_amount[is_first], minlength=n)
    holdout = ~in_cal
    hold_n = np.bincount(day_customer[holdout], minlength=n)
    hold_amount = np.bincount(day_customer[holdout], weights=day_amount[holdout], minlength=n)
    x = (n_days - 1)[acquired]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(x > 0, (total - first_amount)[acquired] / np.maximum(x, 1), np.nan)
    histories = Histories.from_arrays(
        frequency=x,
        recency=(last - first)[acquired] / unit,
        age=(cal_day - first)[acquired] / unit,
        customer_id=customers[acquired],
        monetary=monetary,
        time_unit=time_unit,
    )
    return CalibrationHoldout(
        calibration=histories,
        holdout_frequency=hold_n[acquired].astype(np.int64),
        holdout_monetary=hold_amount[acquired].astype(np.float64),
        holdout_length=(hold_day - cal_day) / unit,
        calibration_end=cal_end,
        holdout_end=hold_end,
    )


def cdnow_histories(
    *, calibration_end: str = "1997-09-30", holdout_end: str = "1998-06-30"
) -> CalibrationHoldout:
    """The CDNOW sample of the BTYD papers as calibration histories and holdout counts.

    2,357 customers, weeks, calibration to 30 September 1997 inclusive (39 weeks from the
    first purchase day of the cohort) and holdout to 30 June 1998 (39 weeks); Fader, Hardie
    & Lee (2005), *Marketing Science* 24(2), 275-284, section 4. Customers are keyed and
    ordered by the sample id (1-2,357), as in the papers' tables.

    Examples
    --------
    >>> s = cdnow_histories()
    >>> h = s.calibration
    >>> int((h.frequency == 0).sum()), round(float(h.age.max()), 2), s.holdout_length
    (1411, 38.86, 39.0)
    """
    from stickykit.datasets import load_cdnow  # noqa: PLC0415

    return calibration_holdout(
        load_cdnow(sample=True, ids="sample"),
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit="week",
    )
