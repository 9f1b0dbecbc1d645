"""Statistics helpers: confidence intervals.

Examples
--------
>>> from stickykit.stats import z_value
>>> round(z_value(0.01), 3)
2.576
"""

from stickykit.stats.intervals import check_alpha, net_score_interval, wilson_interval, z_value

__all__ = ["check_alpha", "net_score_interval", "wilson_interval", "z_value"]
