"""Confidence intervals shared by the metrics.

Examples
--------
>>> round(z_value(0.05), 4)
1.96
>>> [round(x, 4) for x in wilson_interval(8, 10, 0.05)]
[0.4902, 0.9433]
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = [
    "check_alpha",
    "net_score_interval",
    "wilson_interval",
    "z_value",
]


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` if ``0 < alpha < 1``, else raise ``ValueError``.

    Examples
    --------
    >>> check_alpha(0.1)
    0.1
    """
    if type(alpha) not in (float, int) or not 0 < alpha < 1:
        msg = f"alpha must be a number in (0, 1), got {alpha!r}"
        raise ValueError(msg)
    return float(alpha)


def z_value(alpha: float) -> float:
    r"""Two-sided standard normal critical value :math:`z = \Phi^{-1}(1 - \alpha/2)`.

    Examples
    --------
    >>> round(z_value(0.10), 4)
    1.6449
    """
    return NormalDist().inv_cdf(1 - check_alpha(alpha) / 2)


def wilson_interval(successes: float, n: float, alpha: float) -> tuple[float, float]:
    r"""Wilson score interval for a proportion.

    .. math::

        \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> wilson_interval(0, 0, 0.05)
    (nan, nan)
    >>> wilson_interval(0, 7, 0.05)[0], wilson_interval(7, 7, 0.05)[1]
    (0.0, 1.0)

    At no successes the lower limit is exactly 0 and at ``n`` successes the upper limit exactly
    1 (the formula's value there; computed, it can round a few ulps away).
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = z_value(alpha)
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    low = 0.0 if successes <= 0 else max(0.0, (centre - half) / denom)
    high = 1.0 if successes >= n else min(1.0, (centre + half) / denom)
    return (low, high)


def net_score_interval(
    positive: float,
    negative: float,
    n: float,
    alpha: float,
    *,
    method: str,
) -> tuple[float, float, float, float]:
    r"""Net score (share positive minus share negative) with its standard error and interval.

    Returns ``(centre, se, low, high)`` on the -1...1 scale.

    ``method="wald"``: :math:`\hat p - \hat d \pm z\,SE` with the trinomial variance
    :math:`[p + d - (p - d)^2]/n` (Rocks 2016, eq. for the Wald interval); centred on the
    estimate, zero width when every answer falls in one category, may leave [-1, 1].

    ``method="adjusted-wald"``: add 3/4 of a response to the positive and negative counts and
    3 to ``n`` (1.5 to the middle category), then Wald on the adjusted shares (Rocks 2016,
    "adjusted Wald" with pseudo-observations 0.75/1.5/0.75); the interval is clipped to [-1, 1].
    Its centre is the adjusted score, not the raw one.

    ``n`` may be a Kish effective sample size (non-integer) for weighted data.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372.

    Examples
    --------
    One promoter alone (the adjusted-Wald interval of Rocks 2016):

    >>> centre, se, low, high = net_score_interval(1, 0, 1, 0.05, method="adjusted-wald")
    >>> round(centre, 4), round(low, 3), round(high, 3)
    (0.25, -0.485, 0.985)
    """
    z = z_value(alpha)
    if method == "adjusted-wald":
        positive, negative, n = positive + 0.75, negative + 0.75, n + 3.0
    elif method != "wald":
        msg = f"interval method must be 'wald' or 'adjusted-wald', got {method!r}"
        raise ValueError(msg)
    if n <= 0:
        return (math.nan, math.nan, math.nan, math.nan)
    p, d = positive / n, negative / n
    centre = p - d
    variance = max(p + d - centre * centre, 0.0) / n
    se = math.sqrt(variance)
    low, high = centre - z * se, centre + z * se
    if method == "adjusted-wald":
        low, high = max(low, -1.0), min(high, 1.0)
    return (centre, se, low, high)
