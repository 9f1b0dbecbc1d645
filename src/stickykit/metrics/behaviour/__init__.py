"""Behaviour measures computed from a company's own events (purchases, logins, visits).

Every measure builds on the mergeable per-customer summary of
:mod:`stickykit.metrics.behaviour.summary` or on a state of the same shape.
"""

from __future__ import annotations

from stickykit.metrics.behaviour.summary import CustomerSummary, CustomerSummaryState

__all__ = ["CustomerSummary", "CustomerSummaryState"]
