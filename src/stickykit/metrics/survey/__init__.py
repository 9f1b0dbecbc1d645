"""Survey-based metrics.

Examples
--------
>>> from stickykit.metrics.survey import NetPromoterScore
>>> NetPromoterScore.name
'nps'
"""

from stickykit.metrics.survey.nps import NetPromoterScore, NetScoreState

__all__ = ["NetPromoterScore", "NetScoreState"]
