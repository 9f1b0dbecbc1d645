"""Behaviour measures computed from a company's own events (purchases, logins, visits).

Every measure builds on the mergeable per-customer summary of
:mod:`stickykit.metrics.behaviour.summary` or on a state of the same shape.

Examples
--------
>>> from stickykit.metrics.behaviour import RFM
>>> RFM.name
'rfm'
"""

from __future__ import annotations

from stickykit.metrics.behaviour.clv import HistoricalCLV
from stickykit.metrics.behaviour.cohorts import CohortRetention
from stickykit.metrics.behaviour.engagement import (
    DauMauRatio,
    DaysActiveDistribution,
    MonthlyDauMau,
)
from stickykit.metrics.behaviour.repurchase import (
    CohortRepeatRate,
    InterPurchaseTime,
    OrdersPerCustomer,
    RepeatCustomerRate,
)
from stickykit.metrics.behaviour.retention import PeriodChurn, PeriodRetention, RevenueRetention
from stickykit.metrics.behaviour.rfm import RFM
from stickykit.metrics.behaviour.summary import CustomerSummary, CustomerSummaryState
from stickykit.metrics.behaviour.survival import CustomerSurvival
from stickykit.metrics.behaviour.tiers import ValueTiers

__all__ = [
    "RFM",
    "CohortRepeatRate",
    "CohortRetention",
    "CustomerSummary",
    "CustomerSummaryState",
    "CustomerSurvival",
    "DauMauRatio",
    "DaysActiveDistribution",
    "HistoricalCLV",
    "InterPurchaseTime",
    "MonthlyDauMau",
    "OrdersPerCustomer",
    "PeriodChurn",
    "PeriodRetention",
    "RepeatCustomerRate",
    "RevenueRetention",
    "ValueTiers",
]
