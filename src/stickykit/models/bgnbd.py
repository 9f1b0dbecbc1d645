r"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

A customer active at time 0 (their first purchase) buys in a Poisson process of rate
:math:`\lambda` and, after each repeat purchase, drops out for good with probability
:math:`p`. Across customers :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` (shape, rate) and
:math:`p \sim \mathrm{Beta}(a, b)`, independent. A history :math:`(x, t_x, T)` then has the
likelihood of Fader, Hardie & Lee (2005), "'Counting your customers' the easy way: an
alternative to the Pareto/NBD model", *Marketing Science* 24(2), 275-284, eq. 6:

.. math::

   L = \frac{B(a, b + x)}{B(a, b)} \frac{\Gamma(r + x)\,\alpha^r}{\Gamma(r)\,(\alpha + T)^{r + x}}
     + [x > 0]\,\frac{B(a + 1, b + x - 1)}{B(a, b)}
       \frac{\Gamma(r + x)\,\alpha^r}{\Gamma(r)\,(\alpha + t_x)^{r + x}}.

:class:`BGNBD` fits it; the MBG/NBD variant (:class:`~stickykit.models.mbgnbd.MBGNBD`), in
which a customer may also drop out right after the first purchase, shares the machinery of
this module: both are written with a drop-out count shift :math:`s` (0 here, 1 for MBG/NBD),
:math:`b_x = b + x + s`, and

.. math::

   \ln L = \ln\frac{\Gamma(r + x)\,\alpha^r}{\Gamma(r)}
           + \ln\frac{B(a, b_x)}{B(a, b)} - (r + x)\ln(\alpha + T)
           + \ln\!\left(1 + e^{d}\right),\qquad
   d = \ln\frac{a}{b_x - 1} + (r + x)\ln\frac{\alpha + T}{\alpha + t_x},

where :math:`e^{d}` is the posterior odds that the customer has dropped out
(:math:`d = -\infty` for BG/NBD customers without a repeat purchase), so
:math:`P(\text{active}) = 1/(1 + e^{d})` (Fader, Hardie & Lee 2008, note 021, "Computing
P(alive) using the BG/NBD model"). With :math:`w = e^{d}/(1 + e^{d})` the gradient is

.. math::

   \partial_r &= \psi(r + x) - \psi(r) - \ln(1 + T/\alpha)
                + w \ln\frac{\alpha + T}{\alpha + t_x},\\
   \partial_\alpha &= \frac{r}{\alpha} - (r + x)\left(\frac{1 - w}{\alpha + T}
                      + \frac{w}{\alpha + t_x}\right),\\
   \partial_a &= \psi(a + b) - \psi(a + b_x) + \frac{w}{a},\\
   \partial_b &= \psi(a + b) - \psi(a + b_x) + \psi(b_x) - \psi(b) - \frac{w}{b_x - 1}.

Predictions of an active customer (posterior :math:`r + x`, :math:`\alpha + T` and
:math:`p \sim \mathrm{Beta}(a, b_x)`) come from ``expected_purchases_while_active`` in
``stickykit.models._hypergeometric`` (FHL 2005 eqs. 9 and 10, evaluated without overflow or
loss of sign) and from :func:`count_pmf`.

Examples
--------
>>> from stickykit.models import Histories
>>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> h = Histories.from_arrays(frequency=[0, 2, 7], recency=[0.0, 30.43, 35.0],
...                           age=[38.86, 38.86, 38.86])
>>> m.probability_alive(h).value.round(4).tolist()
[1.0, 0.7266, 0.8438]
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import special

from stickykit.models._bgnbd_sums import BetaGeometricData, summed_loglik
from stickykit.models._grouped import dot
from stickykit.models._histories import Patterns
from stickykit.models._hypergeometric import expected_purchases_while_active
from stickykit.models._interpolate import by_frequency
from stickykit.models._transactions import TransactionModel

__all__ = ["BGNBD", "count_pmf"]

#: Beyond this magnitude of the log-odds the smaller probability is below 1e-304: it is 0.
_LOG_ODDS_LIMIT = 700.0
#: Rows per block of the posterior odds.
_BLOCK = 8192


def count_pmf(
    n: NDArray[np.float64],
    t: float,
    active: NDArray[np.float64],
    inactive: NDArray[np.float64],
    r: NDArray[np.float64],
    alpha: NDArray[np.float64],
    a: NDArray[np.float64] | float,
    b: NDArray[np.float64],
) -> NDArray[np.float64]:
    r"""Probability of ``n`` purchases in the next ``t`` time units, beta-geometric drop-out.

    A customer is active with probability ``active`` (``inactive`` = 1 - ``active``, passed
    separately to keep its precision); an active one buys at rate
    :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and drops out after each purchase with
    probability :math:`p \sim \mathrm{Beta}(a, b)`. With :math:`z = t / (\alpha + t)` and
    :math:`N` the gamma-mixed Poisson count, :math:`P(N = n) = \frac{\Gamma(r + n)}{\Gamma(r)
    n!} (1 - z)^r z^n` and :math:`P(N \ge n) = I_z(n, r)` (the regularised incomplete beta
    function), so

    .. math::

       P(Y = n) = [n = 0](1 - \pi) + \pi\left[\frac{B(a, b + n)}{B(a, b)} P(N = n)
                  + [n > 0]\frac{B(a + 1, b + n - 1)}{B(a, b)} I_z(n, r)\right]:

    :math:`n` purchases and survival after each, or survival after the first :math:`n - 1`
    and drop-out after the :math:`n`-th. With :math:`\pi = 1` and the population parameters
    this is FHL (2005) eq. 8; with the posterior of a customer's history it is the
    conditional distribution of Fader, Hardie & Lee (2010), "Deriving the conditional PMF of
    the BG/NBD model", here with the tail written as :math:`I_z(n, r)`. Both terms
    are positive, and the probabilities sum to one over :math:`n` (the sum telescopes).

    Examples
    --------
    >>> p = count_pmf(np.arange(200.0), 39.0, np.ones(1), np.zeros(1), np.full(1, 0.243),
    ...               np.full(1, 4.414), 0.793, np.full(1, 2.426))
    >>> round(float(p[0]), 4), round(float(p.sum()), 8)
    (0.5738, 1.0)
    """
    n, active, inactive, r, alpha, a_, b = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (n, active, inactive, r, alpha, a, b))
    )
    if t == 0:
        return np.where(n == 0, 1.0, 0.0)
    ratio = t / alpha
    log_1mz = -np.log1p(ratio)
    log_z = np.log(ratio) + log_1mz
    z = ratio / (1.0 + ratio)
    base = special.betaln(a_, b)
    log_count = (
        special.gammaln(r + n)
        - special.gammaln(r)
        - special.gammaln(n + 1.0)
        + r * log_1mz
        + n * log_z
    )
    # in logs, so that no step underflows: a probability below 1e-304 is 0
    alive = active > 0
    log_active = np.log(np.where(alive, active, 1.0))
    first = np.where(
        alive, _exp_or_zero(special.betaln(a_, b + n) - base + log_count + log_active), 0.0
    )
    m = np.maximum(n, 1.0)
    with np.errstate(under="ignore"):
        tail_count = special.betainc(m, r, z)
    positive = alive & (n > 0) & (tail_count > 0)
    log_tail = (
        special.betaln(a_ + 1.0, b + m - 1.0)
        - base
        + log_active
        + np.log(np.where(positive, tail_count, 1.0))
    )
    second = np.where(positive, _exp_or_zero(log_tail), 0.0)
    return np.asarray(np.where(n == 0, inactive, 0.0) + first + second)


def _exp_or_zero(log_value: NDArray[np.float64]) -> NDArray[np.float64]:
    """``exp`` that returns 0 below 1e-304 instead of a subnormal number (no underflow)."""
    return np.where(
        log_value < -_LOG_ODDS_LIMIT, 0.0, np.exp(np.maximum(log_value, -_LOG_ODDS_LIMIT))
    )


class _BetaGeometricNBD(TransactionModel):
    """Kernels shared by BG/NBD (shift 0) and MBG/NBD (shift 1); see the module docstring."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    #: Drop-out chances counted before the repeat purchases: 0 for BG/NBD, 1 for MBG/NBD
    #: (a drop-out chance right after the first purchase).
    _shift: ClassVar[int] = 0
    _analytic_hessian: ClassVar[bool] = True

    def __init__(self, *, penalizer: float = 0.0, level: float = 0.95, tol: float = 1e-7) -> None:
        super().__init__(penalizer=penalizer, level=level, tol=tol)
        self._prepared: tuple[Patterns, BetaGeometricData] | None = None

    # -- the posterior odds of having dropped out ------------------------------------------

    def _log_odds_inactive(
        self,
        params: NDArray[np.float64],
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Log posterior odds of inactivity, d in the module docstring.

        Minus infinity where drop-out is impossible (BG/NBD, no repeat purchase).
        """
        r, alpha, a, b = (float(v) for v in params)
        x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
        d = np.empty(len(x))
        work = np.empty(min(len(x), _BLOCK))
        # in blocks: the temporaries stay in cache and are never allocated afresh
        with np.errstate(divide="ignore", invalid="ignore"):
            for lo in range(0, len(x), _BLOCK):
                hi = min(lo + _BLOCK, len(x))
                out, tmp = d[lo:hi], work[: hi - lo]
                np.add(big_t[lo:hi], alpha, out=out)
                np.add(t_x[lo:hi], alpha, out=tmp)
                out /= tmp
                np.log(out, out=out)
                np.add(x[lo:hi], r, out=tmp)
                out *= tmp
                np.add(x[lo:hi], b + self._shift - 1.0, out=tmp)
                np.divide(a, tmp, out=tmp)
                np.log(tmp, out=tmp)
                out += tmp
            d[x + self._shift <= 0] = -np.inf  # BG/NBD without a repeat purchase: active
        return d

    def _active_inactive(
        self,
        params: NDArray[np.float64],
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """P(active at T | history) and its complement, each to full relative precision."""
        d = self._log_odds_inactive(params, x, t_x, big_t)
        clipped = np.clip(d, -_LOG_ODDS_LIMIT, _LOG_ODDS_LIMIT)
        active = np.where(d > _LOG_ODDS_LIMIT, 0.0, special.expit(-clipped))
        inactive = np.where(d < -_LOG_ODDS_LIMIT, 0.0, special.expit(clipped))
        return active, inactive

    def _acquisition(
        self, params: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """P(active) and P(inactive) of a customer just acquired (x = t_x = T = 0)."""
        zero = np.zeros(1)
        return self._active_inactive(params, zero, zero, zero)

    # -- likelihood ------------------------------------------------------------------------

    def _loglik(
        self, params: NDArray[np.float64], data: Patterns
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        x, t_x, big_t = data.columns
        r, alpha, a, b = params
        b_x = b + x + self._shift
        d = self._log_odds_inactive(params, x, t_x, big_t)
        log_ratio_t = np.log1p(big_t / alpha)
        values = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + special.betaln(a, b_x)
            - special.betaln(a, b)
            - r * log_ratio_t
            - x * np.log(alpha + big_t)
            + np.logaddexp(0.0, d)
        )
        w = special.expit(d)  # posterior probability of having dropped out
        denominator = np.where(w > 0, b_x - 1.0, 1.0)
        psi_ab = special.psi(a + b) - special.psi(a + b_x)
        gradient = np.empty((len(x), 4))
        gradient[:, 0] = (
            special.psi(r + x)
            - special.psi(r)
            - log_ratio_t
            + w * np.log1p((big_t - t_x) / (alpha + t_x))
        )
        gradient[:, 1] = r / alpha - (r + x) * ((1.0 - w) / (alpha + big_t) + w / (alpha + t_x))
        gradient[:, 2] = psi_ab + w / a
        gradient[:, 3] = psi_ab + special.psi(b_x) - special.psi(b) - w / denominator
        return values, gradient

    def _loglik_sums(
        self, params: NDArray[np.float64], data: Patterns, *, hessian: bool
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64] | None]:
        """The weighted sums of ``_loglik``, with the Hessian, once per distinct frequency.

        See ``stickykit.models._bgnbd_sums``; the arrangement of ``data`` by frequency is
        kept for the fit's repeated evaluations.
        """
        cached = self._prepared
        if cached is None or cached[0] is not data:
            cached = (data, BetaGeometricData.build(data, self._shift))
            self._prepared = cached
        return summed_loglik(np.asarray(params, dtype=np.float64), cached[1], hessian)

    def _start(self, data: Patterns) -> NDArray[np.float64]:
        """Start at r = a = b = 1 and alpha = total age over total repeat purchases.

        The start of alpha (the time scale of the purchase rate) moves with the time unit, so
        the fitted values are equivariant under a change of unit.
        """
        x, _, big_t = data.columns
        purchases = dot(data.weight, x)
        exposure = dot(data.weight, big_t)
        alpha = exposure / purchases if purchases > 0 and exposure > 0 else 1.0
        return np.array([1.0, alpha, 1.0, 1.0])

    # -- prediction kernels ----------------------------------------------------------------

    def _p_alive(
        self,
        params: NDArray[np.float64],
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        active = self._log_odds_inactive(params, x, t_x, big_t)
        beyond = active > _LOG_ODDS_LIMIT
        with np.errstate(over="ignore"):
            np.exp(active, out=active)
            active += 1.0
            np.reciprocal(active, out=active)
        active[beyond] = 0.0  # below 1e-304: 0, never a subnormal number
        return active

    def _conditional_expected(
        self,
        params: NDArray[np.float64],
        t: float,
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        r, alpha, a, b = params
        active = self._p_alive(params, x, t_x, big_t)

        def while_active(xv: NDArray[np.float64], s: NDArray[np.float64]) -> NDArray[np.float64]:
            return expected_purchases_while_active(r + xv, np.exp(s), a, b + xv + self._shift, t)

        # a smooth function of ln(alpha + T) for each frequency: interpolated per frequency
        return active * by_frequency(while_active, x, np.log(alpha + big_t))

    def _expected(self, params: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        r, alpha, a, b = params
        active, _ = self._acquisition(params)
        return np.asarray(
            active[0] * expected_purchases_while_active(r, alpha, a, b + self._shift, t)
        )

    def _pmf(
        self, params: NDArray[np.float64], n: NDArray[np.float64], t: float
    ) -> NDArray[np.float64]:
        r, alpha, a, b = params
        active, inactive = self._acquisition(params)
        return count_pmf(n, t, active, inactive, r, alpha, a, b + self._shift)

    def _conditional_pmf(
        self,
        params: NDArray[np.float64],
        n: float,
        t: float,
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        r, alpha, a, b = params
        active, inactive = self._active_inactive(params, x, t_x, big_t)
        return count_pmf(
            np.full(len(x), float(n)),
            t,
            active,
            inactive,
            r + x,
            alpha + big_t,
            a,
            b + x + self._shift,
        )


class BGNBD(_BetaGeometricNBD):
    r"""The BG/NBD model (beta-geometric/negative binomial distribution) of repeat purchases.

    Fader, Hardie & Lee (2005), "'Counting your customers' the easy way: an alternative to
    the Pareto/NBD model", *Marketing Science* 24(2), 275-284. Four positive parameters:
    the purchase rate :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and the drop-out
    probability after each repeat purchase :math:`p \sim \mathrm{Beta}(a, b)`; time is in the
    histories' unit (so :math:`\alpha` is too).

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters (0: maximum likelihood).
    level : float
        Confidence level of the intervals.
    tol : float
        Convergence tolerance on the gradient of the mean log-likelihood.

    Notes
    -----
    Formulas, with :math:`\pi = P(\text{active} \mid x, t_x, T)`:

    - likelihood: FHL (2005) eq. 6 (module docstring);
    - :math:`\pi = 1 / \left(1 + [x > 0]\frac{a}{b + x - 1}
      \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}\right)` (FHL 2008, note 021): it is
      exactly 1 for a customer without a repeat purchase, who cannot have dropped out;
    - :math:`E[X(t)]` eq. 9 and :math:`E[Y(t) \mid x, t_x, T]` eq. 10, through
      ``expected_purchases_while_active`` (``stickykit.models._hypergeometric``);
    - :math:`P(X(t) = n)` eq. 8 and :math:`P(Y(t) = n \mid x, t_x, T)` (FHL 2010,
      "Deriving the conditional PMF of the BG/NBD model"), through :func:`count_pmf`.

    Discounted expected transactions use the periodic sum of
    :class:`~stickykit.models.TransactionModel`.

    Examples
    --------
    >>> from stickykit.models import Histories

    The CDNOW sample, as in FHL (2005), section 4 (r 0.243, alpha 4.414, a 0.793, b 2.426,
    log-likelihood -9582.4):

    >>> from stickykit.models.data import cdnow_histories
    >>> m = BGNBD().fit(cdnow_histories().calibration)
    >>> [round(v, 3) for v in m.params.tolist()], round(m.log_likelihood_, 1)
    ([0.243, 4.414, 0.793, 2.426], -9582.4)
    >>> h = Histories.from_arrays(frequency=[2], recency=[30.43], age=[38.86])
    >>> round(float(m.conditional_expected_transactions(39, h).value[0]), 3)
    1.226
    """

    reference: ClassVar[str] = (
        "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). 'Counting your customers' the "
        "easy way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284."
    )
    _shift: ClassVar[int] = 0
