r"""Sample size planning: how many answers a margin of error needs.

Margins are in **proportion units**: a net score margin of ±5 points (NPS on -100...100) is
``margin=0.05``, a CSAT share margin of ±3 percentage points is ``margin=0.03``.

Examples
--------
>>> required_n(0.05)
1537
>>> required_n_proportion(0.05)
385
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["required_n", "required_n_proportion"]


def _z(level: float) -> float:
    if type(level) not in (float, int) or not 0 < level < 1:
        msg = f"level must be a number in (0, 1), got {level!r}"
        raise ValueError(msg)
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def _check_margin(margin: float) -> None:
    if type(margin) not in (float, int) or not 0 < margin < 1:
        msg = (
            f"margin must be in proportion units, 0 < margin < 1, got {margin!r} "
            "(±5 points is margin=0.05)"
        )
        raise ValueError(msg)


def _check_share(name: str, value: float) -> None:
    if type(value) not in (float, int) or not 0 <= value <= 1:
        msg = f"{name} must be a share in [0, 1], got {value!r}"
        raise ValueError(msg)


def _ceil(x: float) -> int:
    # guard against x = 1536.0000000000002 from rounding when the exact answer is an integer
    return max(1, math.ceil(x - 1e-9))


def required_n(
    margin: float, level: float = 0.95, *, p: float | None = None, d: float | None = None
) -> int:
    r"""Answers needed for a net score (NPS, Net Easy, net CSAT) within ``±margin``.

    Parameters
    ----------
    margin : float
        Half-width of the Wald interval, in proportion units (0.05 = ±5 points).
    level : float
        Confidence level.
    p, d : float, optional
        Expected positive (promoter) and negative (detractor) shares. Give both or neither;
        without them the worst case (every answer at one end, half each way) is used.

    Returns
    -------
    int
        The smallest :math:`n` whose Wald half-width is at most ``margin``.

    Notes
    -----
    From :math:`\mathrm{Var}(\hat p - \hat d) = [p + d - (p - d)^2]/n`,

    .. math::

        n = \frac{z^2\,[p + d - (p - d)^2]}{E^2} \le \left(\frac{z}{E}\right)^2,

    the bound reached at :math:`p = d = 1/2`; :math:`z = \Phi^{-1}(1 - (1 - \text{level})/2)`.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372 (the variance of the net score).

    Examples
    --------
    The worst case for ±5 points at 95 %: :math:`(1.96/0.05)^2 = 1536.6`, so 1,537 answers.
    With 60 % promoters and 10 % detractors expected, fewer:

    >>> required_n(0.05, p=0.6, d=0.1)
    692
    """
    _check_margin(margin)
    z = _z(level)
    if (p is None) != (d is None):
        msg = "give both p and d (expected positive and negative shares) or neither"
        raise ValueError(msg)
    if p is None or d is None:
        variance = 1.0
    else:
        _check_share("p", p)
        _check_share("d", d)
        if p + d > 1 + 1e-12:
            msg = f"p + d must be at most 1, got {p} + {d}"
            raise ValueError(msg)
        variance = p + d - (p - d) ** 2
    return _ceil(z * z * variance / (margin * margin))


def required_n_proportion(margin: float, level: float = 0.95, *, p: float | None = None) -> int:
    r"""Answers needed for a share (CSAT top-box, CES share easy) within ``±margin``.

    Parameters
    ----------
    margin : float
        Half-width of the Wald interval, in proportion units (0.05 = ±5 percentage points).
    level : float
        Confidence level.
    p : float, optional
        Expected share; the worst case 1/2 without it.

    Returns
    -------
    int
        :math:`\lceil z^2 p(1 - p)/E^2 \rceil`.

    Notes
    -----
    .. math::

        n = \frac{z^2\,p(1 - p)}{E^2} \le \frac{z^2}{4E^2}.

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley (sample size for a
    proportion).

    Examples
    --------
    >>> required_n_proportion(0.03, p=0.8)
    683
    """
    _check_margin(margin)
    z = _z(level)
    share = 0.5 if p is None else p
    _check_share("p", share)
    return _ceil(z * z * share * (1 - share) / (margin * margin))
