"""Metrics: the contract and the built-in families.

Examples
--------
>>> from stickykit.metrics import MetricResult
>>> MetricResult.__name__
'MetricResult'
"""

from stickykit.metrics.base import Metric, MetricBase, MetricResult, states_equal

__all__ = ["Metric", "MetricBase", "MetricResult", "states_equal"]
