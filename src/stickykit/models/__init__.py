"""Predictive models: buy-till-you-die transaction models, spend, lifetime value, churn warning.

Every model is fitted by maximum likelihood on a vectorised log-likelihood with analytic
gradients (:class:`LikelihoodModel`), on histories built from events through the mergeable
summary of :mod:`stickykit.models.data`. The model classes live in their own modules
(:mod:`~stickykit.models.bgnbd`, :mod:`~stickykit.models.mbgnbd`,
:mod:`~stickykit.models.paretonbd`, :mod:`~stickykit.models.bgbb`,
:mod:`~stickykit.models.sbg`, :mod:`~stickykit.models.gammagamma`) and are re-exported here.

Examples
--------
>>> from stickykit.models import BGNBD, cdnow_histories
>>> model = BGNBD().fit(cdnow_histories().calibration)
>>> round(model.params_["r"], 3), round(model.log_likelihood_, 1)
(0.243, -9582.4)

Names load on first use, so that importing one module (the registry loads
:mod:`stickykit.models.data`) does not import scipy and every model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stickykit.models._fit import FitDiagnostics, LikelihoodModel, ModelSummary, Prediction
    from stickykit.models._histories import Histories, Patterns, compress
    from stickykit.models._transactions import TransactionModel, periods_per_year
    from stickykit.models.bgbb import BGBB
    from stickykit.models.bgnbd import BGNBD
    from stickykit.models.clv import LifetimeValue, customer_lifetime_value
    from stickykit.models.data import CalibrationHoldout, calibration_holdout, cdnow_histories
    from stickykit.models.evaluate import (
        compare_models,
        conditional_expectations_by_frequency,
        cumulative_repeat_transactions,
    )
    from stickykit.models.gammagamma import GammaGamma, spend_frequency_check
    from stickykit.models.mbgnbd import MBGNBD
    from stickykit.models.paretonbd import ParetoNBD
    from stickykit.models.sbg import ShiftedBetaGeometric
    from stickykit.models.warning import backtest, churn_alerts, churn_risk

__all__ = [
    "BGBB",
    "BGNBD",
    "MBGNBD",
    "CalibrationHoldout",
    "FitDiagnostics",
    "GammaGamma",
    "Histories",
    "LifetimeValue",
    "LikelihoodModel",
    "ModelSummary",
    "ParetoNBD",
    "Patterns",
    "Prediction",
    "ShiftedBetaGeometric",
    "TransactionModel",
    "backtest",
    "calibration_holdout",
    "cdnow_histories",
    "churn_alerts",
    "churn_risk",
    "compare_models",
    "compress",
    "conditional_expectations_by_frequency",
    "cumulative_repeat_transactions",
    "customer_lifetime_value",
    "periods_per_year",
    "spend_frequency_check",
]

_LAZY = {
    "FitDiagnostics": "stickykit.models._fit",
    "LikelihoodModel": "stickykit.models._fit",
    "ModelSummary": "stickykit.models._fit",
    "Prediction": "stickykit.models._fit",
    "Histories": "stickykit.models._histories",
    "Patterns": "stickykit.models._histories",
    "compress": "stickykit.models._histories",
    "TransactionModel": "stickykit.models._transactions",
    "periods_per_year": "stickykit.models._transactions",
    "BGBB": "stickykit.models.bgbb",
    "BGNBD": "stickykit.models.bgnbd",
    "MBGNBD": "stickykit.models.mbgnbd",
    "ParetoNBD": "stickykit.models.paretonbd",
    "LifetimeValue": "stickykit.models.clv",
    "customer_lifetime_value": "stickykit.models.clv",
    "CalibrationHoldout": "stickykit.models.data",
    "calibration_holdout": "stickykit.models.data",
    "cdnow_histories": "stickykit.models.data",
    "compare_models": "stickykit.models.evaluate",
    "conditional_expectations_by_frequency": "stickykit.models.evaluate",
    "cumulative_repeat_transactions": "stickykit.models.evaluate",
    "GammaGamma": "stickykit.models.gammagamma",
    "spend_frequency_check": "stickykit.models.gammagamma",
    "ShiftedBetaGeometric": "stickykit.models.sbg",
    "backtest": "stickykit.models.warning",
    "churn_alerts": "stickykit.models.warning",
    "churn_risk": "stickykit.models.warning",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'stickykit.models' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
