"""Predictive models: buy-till-you-die transaction models, spend, lifetime value, churn warning.

Every model is fitted by maximum likelihood on a vectorised log-likelihood with analytic
gradients (:mod:`stickykit.models._fit`), on histories built from the mergeable customer
summary (:mod:`stickykit.models.data`).

Examples
--------
>>> from stickykit.models import Histories
>>> Histories.from_arrays(frequency=[0, 2], recency=[0.0, 3.0], age=[5.0, 5.0]).time_unit
'week'
"""

from stickykit.models._fit import FitDiagnostics, LikelihoodModel, ModelSummary, Prediction
from stickykit.models._histories import Histories, Patterns, compress
from stickykit.models._transactions import TransactionModel, periods_per_year

__all__ = [
    "FitDiagnostics",
    "Histories",
    "LikelihoodModel",
    "ModelSummary",
    "Patterns",
    "Prediction",
    "TransactionModel",
    "compress",
    "periods_per_year",
]
