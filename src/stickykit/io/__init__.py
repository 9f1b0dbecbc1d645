"""Loading: sources in, validated frames out; bad rows raise or go to quarantine.

Examples
--------
>>> from stickykit.io import load_survey
>>> res = load_survey({"nps": [10, 7, "abc"]}, items=["nps"], errors="quarantine")
>>> res.n_accepted, [str(r) for r in res.reasons]
(2, ["nps @ row 2: 'abc' is invalid, expected an integer in [-128, 127]"])
"""

from stickykit.io._load import load_customers, load_events, load_survey
from stickykit.io.events import (
    DEFAULT_RETURNS,
    DuplicatesPolicy,
    PreparedEvents,
    ReturnsPolicy,
    check_returns_policy,
    is_return,
    prepare_events,
)
from stickykit.io.exports import CleanedTransactions, ExportReport, clean_transactions
from stickykit.io.quarantine import LoadResult, ReadSummary, Reason
from stickykit.io.validate import Violation

__all__ = [
    "DEFAULT_RETURNS",
    "CleanedTransactions",
    "DuplicatesPolicy",
    "ExportReport",
    "LoadResult",
    "PreparedEvents",
    "ReadSummary",
    "Reason",
    "ReturnsPolicy",
    "Violation",
    "check_returns_policy",
    "clean_transactions",
    "is_return",
    "load_customers",
    "load_events",
    "load_survey",
    "prepare_events",
]
