"""Loyalty programmes, complaints and life-cycle stages, from a company's own events.

Programme and complaint events are ordinary rows of an :class:`~stickykit.frames.EventFrame`:
the ``kind`` column says what happened and two existing columns carry the facts.

==========================  ==================  =============================================
``kind``                    ``quantity``        ``order_id``
==========================  ==================  =============================================
``"enrolled"``              (ignored)           (ignored)
``"unenrolled"``            (ignored)           (ignored)
``"churned"``               (ignored)           (ignored)
``"points_earned"``         points, >= 1        (ignored; e.g. the order that earned them)
``"points_redeemed"``       points, >= 1        (ignored)
``"points_expired"``        points, >= 1        (ignored)
``"tier_changed"``          (ignored)           the new tier's name (required)
``"complaint_opened"``      (ignored)           the complaint (case) id (required)
``"complaint_contact"``     (ignored)           the complaint id (required)
``"complaint_resolved"``    (ignored)           the complaint id (required)
==========================  ==================  =============================================

Rows of other kinds (``"purchase"``, ``"visit"``...) are not programme events; an integer
``order_id`` column is read as text. At one instant, events apply in the order of the table:
enrolment before churn, points earned before points expired or redeemed, a complaint opened
before it is resolved.

Every measure is a registered metric with a mergeable state (the programme events aggregated by
customer, time, kind and label, sorted). Rules that need a customer's whole history are checked
on the merged state in ``finalize`` and by each metric's ``check`` (for quarantine): a points
balance never below zero, no enrolment after the customer's churn, one tier per customer at one
instant, and for complaints no resolution or contact before the opening, no case id without an
opening, one customer per case id. Row rules (points missing, zero or negative, a tier or case
id missing) are checked in ``update``. Every error names the row, the field and the value.

Examples
--------
>>> from stickykit.metrics.programme import PointsBreakage, LifecycleStages
>>> PointsBreakage.name, LifecycleStages.name
('points_breakage', 'lifecycle_stages')
"""

from __future__ import annotations

from stickykit.metrics.programme.complaints import (
    ComplaintRate,
    ComplaintResolutionTime,
    ComplaintsResolvedWithin,
    FirstContactResolution,
)
from stickykit.metrics.programme.lifecycle import LifecycleStages, LifecycleTransitions
from stickykit.metrics.programme.points import (
    ActiveMembers,
    PointsBreakage,
    PointsLiability,
    PointsRedemption,
    ProgrammeEnrollment,
)
from stickykit.metrics.programme.recovery import ComplaintRecovery
from stickykit.metrics.programme.tiers import TierDistribution, TierMigration

__all__ = [
    "ActiveMembers",
    "ComplaintRate",
    "ComplaintRecovery",
    "ComplaintResolutionTime",
    "ComplaintsResolvedWithin",
    "FirstContactResolution",
    "LifecycleStages",
    "LifecycleTransitions",
    "PointsBreakage",
    "PointsLiability",
    "PointsRedemption",
    "ProgrammeEnrollment",
    "TierDistribution",
    "TierMigration",
]
