r"""The Gamma-Gamma model of the mean repeat spend, and the independence check it rests on.

Each transaction of a customer has value :math:`z \sim \mathrm{Gamma}(p, \nu)` (shape
:math:`p`, rate :math:`\nu`); the rate varies across customers as
:math:`\nu \sim \mathrm{Gamma}(q, \gamma)`. The mean :math:`\bar z` of a customer's
:math:`x` repeat transactions then has the density (Fader & Hardie 2013, note 025, eq. 1a)

.. math::

   f(\bar z \mid p, q, \gamma, x) = \frac{\Gamma(px + q)}{\Gamma(px)\,\Gamma(q)}
   \frac{\gamma^{q}\, \bar z^{px - 1}\, x^{px}}{(\gamma + x \bar z)^{px + q}},

and the expected spend per transaction of a customer with history :math:`(x, \bar z)` is a
weighted mean of the population mean and the customer's own mean (note 025, eq. 5),

.. math::

   E(M \mid \bar z, x) = \frac{p(\gamma + x \bar z)}{px + q - 1}
   = (1 - w_x)\,\frac{p\gamma}{q - 1} + w_x\,\bar z, \qquad w_x = \frac{px}{px + q - 1}.

The population mean :math:`E(M) = p\gamma/(q - 1)` is finite only for :math:`q > 1`. The
model assumes spend is independent of the transaction process;
:func:`spend_frequency_check` looks at the evidence for that among the repeat customers.

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
customer base analysis. *Journal of Marketing Research* 42(4), 415-430.

Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value. Note 025,
http://brucehardie.com/notes/025/.

Examples
--------
>>> from stickykit.models.data import cdnow_histories
>>> h = cdnow_histories().calibration
>>> m = GammaGamma().fit(h)
>>> {k: round(v, 2) for k, v in m.params_.items()}
{'p': 6.25, 'q': 3.74, 'gamma': 15.44}
>>> m.conditional_expected_spend(h).value[:3].round(2).tolist()
[24.65, 18.91, 35.17]
"""

from __future__ import annotations

import math
from typing import Literal, Self

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from stickykit.errors import FitError, InsufficientDataError
from stickykit.models._fit import LikelihoodModel, Prediction, _fitted
from stickykit.models._gammagamma_sums import SpendData, summed_loglik
from stickykit.models._grouped import dot
from stickykit.models._histories import Histories, Patterns, compress, fail_at

__all__ = ["GammaGamma", "SpendFrequencyCheck", "spend_frequency_check"]


def _check_spend(histories: Histories) -> None:
    """Refuse a repeat customer whose mean spend is missing, not finite or not positive."""
    repeat = histories.frequency > 0
    spend = histories.monetary
    with np.errstate(invalid="ignore"):
        bad = repeat & ~(np.isfinite(spend) & (spend > 0))
    fail_at(
        bad,
        field="monetary",
        values=spend,
        expected="a finite mean repeat spend > 0 when frequency > 0",
        customer_id=histories.customer_id,
    )


def _expected_spend(
    params: NDArray[np.float64], x: NDArray[np.float64], z: NDArray[np.float64]
) -> NDArray[np.float64]:
    """E(M | z, x) = p (gamma + x z) / (p x + q - 1); +inf where the denominator is <= 0."""
    p, q, gamma = params
    numerator = p * (gamma + x * z)
    denominator = p * x + q - 1
    out = np.full(len(x), np.inf)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


class GammaGamma(LikelihoodModel):
    r"""The Gamma-Gamma model of mean repeat spend (Fader, Hardie & Lee 2005; note 025).

    Fitted by maximum likelihood on the repeat customers' ``(frequency, monetary)``, where
    ``monetary`` is the mean value of the repeat transactions (the first purchase excluded).
    The parameters are ``p`` (shape of the spend per transaction), ``q`` and ``gamma`` (shape
    and scale of the heterogeneity in its rate). See the module docstring for the formulas.

    A fit with :math:`q \le 1` is kept (it is the maximum-likelihood estimate), but then the
    population mean spend is infinite and every expected-spend prediction raises
    :class:`~stickykit.errors.FitError`: the spend distribution is too heavy-tailed for
    this model (``lifetimes`` returned negative values instead, lifetimes#146).

    Parameters
    ----------
    penalizer, level, tol
        As in :class:`~stickykit.models.LikelihoodModel`.

    Examples
    --------
    >>> from stickykit.models import Histories
    >>> h = Histories.from_arrays(frequency=[0, 1, 3], recency=[0.0, 2.0, 5.0],
    ...                           age=[6.0, 6.0, 6.0], monetary=[None, 10.0, 30.0])
    >>> m = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    >>> m.conditional_expected_spend(h).value.round(2).tolist()
    [35.22, 17.69, 30.67]
    """

    param_names = ("p", "q", "gamma")
    _analytic_hessian = True
    reference = (
        "Fader, Hardie & Lee (2005), 'RFM and CLV: using iso-value curves for customer base "
        "analysis', Journal of Marketing Research 42(4), 415-430; Fader & Hardie (2013), 'The "
        "Gamma-Gamma model of monetary value', note 025, eq. 1a and 5"
    )

    def __init__(self, *, penalizer: float = 0.0, level: float = 0.95, tol: float = 1e-7) -> None:
        super().__init__(penalizer=penalizer, level=level, tol=tol)
        self._prepared: tuple[Patterns, SpendData] | None = None

    # -- likelihood ------------------------------------------------------------------------

    def _loglik(
        self, params: NDArray[np.float64], data: Patterns
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        r"""Log-density of the mean spend of each pattern (note 025, eq. 1a) and its gradient.

        With :math:`s = px + q` and :math:`L = \ln(\gamma + x\bar z)`:

        .. math::

           \partial_p \ell = x\,[\psi(s) - \psi(px) + \ln \bar z + \ln x - L], \quad
           \partial_q \ell = \psi(s) - \psi(q) + \ln\gamma - L, \quad
           \partial_\gamma \ell = q/\gamma - s/(\gamma + x\bar z).
        """
        x, z = data.columns
        p, q, gamma = params
        px = p * x
        shape = px + q
        log_z = np.log(z)
        log_x = np.log(x)
        pooled = gamma + x * z
        log_pooled = np.log(pooled)
        values = (
            special.gammaln(shape)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * math.log(gamma)
            + (px - 1) * log_z
            + px * log_x
            - shape * log_pooled
        )
        psi_shape = special.psi(shape)
        gradient = np.column_stack(
            [
                x * (psi_shape - special.psi(px) + log_z + log_x - log_pooled),
                psi_shape - special.psi(q) + math.log(gamma) - log_pooled,
                q / gamma - shape / pooled,
            ]
        )
        return np.asarray(values, dtype=np.float64), np.asarray(gradient, dtype=np.float64)

    def _loglik_sums(
        self, params: NDArray[np.float64], data: Patterns, *, hessian: bool
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64] | None]:
        """The weighted sums of ``_loglik``, with the Hessian.

        The special functions once per distinct frequency
        (``stickykit.models._gammagamma_sums``).
        """
        cached = self._prepared
        if cached is None or cached[0] is not data:
            cached = (data, SpendData.build(data))
            self._prepared = cached
        return summed_loglik(np.asarray(params, dtype=np.float64), cached[1], hessian)

    def _start(self, data: Patterns) -> NDArray[np.float64]:
        """Start at p = 1, q = 3 and the gamma matching the mean spend, p gamma / (q - 1)."""
        _, z = data.columns
        mean = dot(data.weight, z) / float(data.weight.sum())
        return np.array([1.0, 3.0, 2.0 * mean])

    # -- fitting ---------------------------------------------------------------------------

    def patterns(self, histories: Histories) -> Patterns:
        """The distinct ``(frequency, monetary)`` pairs of the repeat customers, weighted.

        Customers without repeat purchases carry no information on spend and are left out;
        ``inverse`` maps the repeat customers (in their input order) to the patterns.

        Examples
        --------
        >>> from stickykit.models import Histories
        >>> h = Histories.from_arrays(frequency=[0, 2, 2], recency=[0.0, 3.0, 4.0],
        ...                           age=[5.0, 5.0, 5.0], monetary=[None, 8.0, 8.0])
        >>> GammaGamma().patterns(h).weight.tolist()
        [2.0]
        """
        _check_spend(histories)

        def build() -> Patterns:
            repeat = histories.frequency > 0
            return compress(
                [histories.frequency[repeat].astype(np.float64), histories.monetary[repeat]],
                histories.weight[repeat],
            )

        patterns: Patterns = histories.derived("spend patterns", build)
        return patterns

    def fit(self, histories: Histories) -> Self:
        """Fit on the repeat customers' frequency and mean repeat spend; returns ``self``.

        Raises
        ------
        ValidationError
            A repeat customer's ``monetary`` is missing, not finite or not > 0 (the message
            names the row, the value and the customer).
        FitError
            Fewer than four repeat customers, or a failed, unconverged or ill-conditioned fit.

        Examples
        --------
        >>> from stickykit.models import Histories
        >>> h = Histories.from_arrays(frequency=[1, 2], recency=[1.0, 2.0], age=[3.0, 3.0],
        ...                           monetary=[10.0, -1.0], customer_id=["a", "b"])
        >>> GammaGamma().fit(h)
        Traceback (most recent call last):
        ...
        stickykit.errors.ValidationError: Histories.monetary @ row 1: -1.0 is invalid, expected a finite mean repeat spend > 0 when frequency > 0 (customer b)
        """
        return self._fit_patterns(self.patterns(histories), time_unit=histories.time_unit)

    @classmethod
    def from_params(cls, *, p: float, q: float, gamma: float) -> Self:
        """A model with given parameters (for example published ones), without fitting.

        It has no covariance, so predictions from it have no intervals.

        Examples
        --------
        >>> GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
        GammaGamma(p=6.25, q=3.74, gamma=15.44; log-likelihood nan, n=0)
        """
        given = {"p": p, "q": q, "gamma": gamma}
        bad = [k for k, v in given.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"parameters must be finite and > 0: {', '.join(bad)}")
        model = cls()
        model.params_ = {k: float(v) for k, v in given.items()}
        return model

    # -- predictions -----------------------------------------------------------------------

    def _check_finite_mean(self) -> None:
        _fitted(self)
        assert self.params_ is not None
        q = self.params_["q"]
        if q <= 1:
            raise FitError(
                f"GammaGamma: q = {q:.4g} <= 1, so the population mean spend p*gamma/(q - 1) "
                "is infinite and expected spend is undefined; the spend distribution is too "
                "heavy-tailed for this model (trim extreme spends or model spend otherwise)"
            )

    def population_mean_spend(
        self,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""The mean spend per transaction in the population, :math:`E(M) = p\gamma/(q-1)`.

        It is also the expected spend of a customer without repeat purchases.

        Raises
        ------
        FitError
            :math:`q \le 1` (the mean is infinite).

        Examples
        --------
        >>> m = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
        >>> round(float(m.population_mean_spend().value[0]), 2)
        35.22
        """
        self._check_finite_mean()
        one = np.zeros(1)
        return self.uncertainty(
            lambda params: _expected_spend(params, one, one),
            interval=interval,
            level=level,
            method=method,
        )

    def conditional_expected_spend(
        self,
        histories: Histories,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
        n_draws: int = 1000,
        seed: int = 0,
    ) -> Prediction:
        r"""Expected spend per transaction of each customer given their history.

        :math:`E(M \mid \bar z, x) = p(\gamma + x\bar z)/(px + q - 1)` (note 025, eq. 5); a
        customer without repeat purchases (:math:`x = 0`) gets the population mean
        :math:`p\gamma/(q - 1)`.

        Parameters
        ----------
        histories : Histories
            ``monetary`` must be finite and > 0 wherever ``frequency`` > 0.
        interval : bool
            Add a parameter-uncertainty interval
            (:meth:`~stickykit.models.LikelihoodModel.uncertainty`).
        level : float, optional
            Confidence level (default: the model's).
        method : {"delta", "draws"}
            Delta method on the log-parameters, or quantiles over seeded draws (a draw with
            :math:`px + q \le 1` counts as an infinite mean).
        n_draws, seed : int
            For ``method="draws"``.

        Raises
        ------
        FitError
            The estimate has :math:`q \le 1`.
        ValidationError
            A repeat customer's ``monetary`` is missing, not finite or not > 0.

        Examples
        --------
        >>> from stickykit.models import Histories
        >>> h = Histories.from_arrays(frequency=[0, 7], recency=[0.0, 29.43],
        ...                           age=[38.86, 38.86], monetary=[None, 73.74])
        >>> GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44).conditional_expected_spend(
        ...     h).value.round(2).tolist()
        [35.22, 71.47]
        """
        self._check_finite_mean()
        _check_spend(histories)
        # a closed form of a few operations: cheaper per customer than finding the patterns
        x = histories.frequency.astype(np.float64)
        z = np.where(x > 0, histories.monetary, 0.0)
        return self.uncertainty(
            lambda params: _expected_spend(params, x, z),
            interval=interval,
            level=level,
            method=method,
            n_draws=n_draws,
            seed=seed,
        )


# -- the independence check -----------------------------------------------------------------


@attrs.frozen
class SpendFrequencyCheck:
    """The correlation of frequency and mean spend among repeat customers.

    Attributes
    ----------
    pearson, spearman : float
        Pearson's product-moment and Spearman's rank correlation of ``frequency`` and
        ``monetary``.
    pearson_pvalue, spearman_pvalue : float
        Two-sided p-values of zero correlation (t test with :math:`n - 2` degrees of freedom).
    pearson_ci_low, pearson_ci_high, spearman_ci_low, spearman_ci_high : float
        Fisher-z intervals at ``level``.
    n : int
        Repeat customers (sum of the weights).
    level : float
    threshold : float
        Absolute correlation from which dependence counts as material.
    verdict : str
        The reading in plain words.
    method : str
    reference : str

    Examples
    --------
    >>> from stickykit.models import Histories
    >>> h = Histories.from_arrays(frequency=[1, 2, 3, 4, 5], recency=[1.0] * 5, age=[2.0] * 5,
    ...                           monetary=[10.0, 30.0, 20.0, 50.0, 40.0])
    >>> check = spend_frequency_check(h)
    >>> round(check.pearson, 2), round(check.spearman, 2), check.n
    (0.8, 0.8, 5)
    >>> check.verdict.split(":")[0]
    'inconclusive'
    """

    pearson: float
    pearson_pvalue: float
    pearson_ci_low: float
    pearson_ci_high: float
    spearman: float
    spearman_pvalue: float
    spearman_ci_low: float
    spearman_ci_high: float
    n: int
    level: float
    threshold: float
    verdict: str
    method: str
    reference: str


def _correlation(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    a = a - a.mean()
    b = b - b.mean()
    r = float((a @ b) / math.sqrt(float(a @ a) * float(b @ b)))
    return min(1.0, max(-1.0, r))


def _pvalue(r: float, n: int) -> float:
    if abs(r) >= 1:
        return 0.0
    t = r * math.sqrt((n - 2) / ((1 - r) * (1 + r)))
    return float(2 * stats.t.sf(abs(t), n - 2))


def _fisher_interval(r: float, se: float, z: float) -> tuple[float, float]:
    if abs(r) >= 1:
        return r, r
    centre = math.atanh(r)
    return math.tanh(centre - z * se), math.tanh(centre + z * se)


def spend_frequency_check(
    histories: Histories, *, level: float = 0.95, threshold: float = 0.3
) -> SpendFrequencyCheck:
    r"""Check the Gamma-Gamma model's assumption that spend is independent of frequency.

    The model takes a customer's spend per transaction to be independent of how often they
    buy. Fader, Hardie & Lee (2005, section "Spend") check this on CDNOW by the correlation
    of the mean repeat spend and the number of repeat transactions (0.11, "little
    relationship"), as does note 025. This function reports, for the repeat customers:

    - Pearson's :math:`r` with its Fisher-z interval
      :math:`\tanh(\operatorname{atanh} r \pm z/\sqrt{n - 3})`;
    - Spearman's :math:`r_s` (robust to the skew of spend) with the Fisher-z interval of
      Bonett & Wright (2000), standard error :math:`\sqrt{(1 + r_s^2/2)/(n - 3)}`;
    - two-sided p-values from :math:`t = r\sqrt{(n-2)/(1-r^2)}` on :math:`n - 2` degrees of
      freedom;

    and a verdict: *consistent with independence* when neither correlation differs from 0 at
    ``level``; *weak dependence* when one does but both intervals stay inside
    (-``threshold``, ``threshold``); *material dependence* when an estimate reaches
    ``threshold`` in absolute value and differs from 0; otherwise *inconclusive* (too few
    customers to tell).

    Parameters
    ----------
    histories : Histories
        ``monetary`` must be finite and > 0 wherever ``frequency`` > 0. Weights must be whole
        numbers (each row stands for that many customers).
    level : float
        Confidence level of the intervals; ``1 - level`` is the test's size.
    threshold : float
        Absolute correlation in (0, 1) that counts as material.

    Returns
    -------
    SpendFrequencyCheck

    Raises
    ------
    InsufficientDataError
        Fewer than four repeat customers, or frequency or spend the same for all of them
        (a correlation is undefined).

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: using iso-value curves
    for customer base analysis. *Journal of Marketing Research* 42(4), 415-430.

    Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value. Note 025.

    Bonett, D. G., & Wright, T. A. (2000). Sample size requirements for estimating Pearson,
    Kendall and Spearman correlations. *Psychometrika* 65(1), 23-28.

    Examples
    --------
    >>> from stickykit.models.data import cdnow_histories
    >>> check = spend_frequency_check(cdnow_histories().calibration)
    >>> round(check.pearson, 3), round(check.spearman, 3), check.n
    (0.114, 0.206, 946)
    >>> check.verdict
    'weak dependence: ...'
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    _check_spend(histories)
    repeat = histories.frequency > 0
    weight = histories.weight[repeat]
    fail_at(
        weight != np.round(weight),
        field="weight",
        values=weight,
        expected="a whole number of customers (the correlation check counts customers)",
        customer_id=histories.customer_id[repeat],
    )
    counts = weight.astype(np.int64)
    x = np.repeat(histories.frequency[repeat].astype(np.float64), counts)
    z = np.repeat(histories.monetary[repeat], counts)
    n = len(x)
    if n < 4:
        raise InsufficientDataError(
            f"{n} repeat customers; the spend-frequency check needs at least 4"
        )
    for name, values in (("frequency", x), ("monetary", z)):
        if np.all(values == values[0]):
            raise InsufficientDataError(
                f"{name} is the same for every repeat customer; its correlation with "
                f"{'monetary' if name == 'frequency' else 'frequency'} is undefined"
            )
    critical = float(stats.norm.ppf(0.5 + level / 2))
    pearson = _correlation(x, z)
    spearman = _correlation(stats.rankdata(x), stats.rankdata(z))
    pearson_p, spearman_p = _pvalue(pearson, n), _pvalue(spearman, n)
    p_low, p_high = _fisher_interval(pearson, 1 / math.sqrt(n - 3), critical)
    s_low, s_high = _fisher_interval(spearman, math.sqrt((1 + spearman**2 / 2) / (n - 3)), critical)
    alpha = 1 - level
    significant = pearson_p < alpha or spearman_p < alpha
    largest = max(abs(pearson), abs(spearman))
    inside = max(abs(p_low), abs(p_high), abs(s_low), abs(s_high)) < threshold
    shown = (
        f"Pearson r = {pearson:.3f} ({100 * level:g}% CI {p_low:.3f} to {p_high:.3f}, "
        f"p = {pearson_p:.2g}), Spearman r = {spearman:.3f} ({s_low:.3f} to {s_high:.3f}, "
        f"p = {spearman_p:.2g}) among {n:,} repeat customers"
    )
    if significant and largest >= threshold:
        verdict = (
            f"material dependence: {shown}; spend varies with frequency, so the Gamma-Gamma "
            "model (and a CLV built on it) is biased; consider modelling spend by segment"
        )
    elif inside and significant:
        verdict = (
            f"weak dependence: {shown}; every interval lies inside +/-{threshold:g}, so "
            "independence is a reasonable approximation (as in Fader, Hardie & Lee 2005)"
        )
    elif inside:
        verdict = (
            f"consistent with independence: {shown}; no correlation differs from 0 and every "
            f"interval lies inside +/-{threshold:g}"
        )
    else:
        verdict = (
            f"inconclusive: {shown}; the intervals reach +/-{threshold:g}: too few repeat "
            "customers to rule out material dependence"
        )
    return SpendFrequencyCheck(
        pearson=pearson,
        pearson_pvalue=pearson_p,
        pearson_ci_low=p_low,
        pearson_ci_high=p_high,
        spearman=spearman,
        spearman_pvalue=spearman_p,
        spearman_ci_low=s_low,
        spearman_ci_high=s_high,
        n=n,
        level=level,
        threshold=threshold,
        verdict=verdict,
        method=(
            "Pearson and Spearman correlations of frequency and mean repeat spend among "
            "repeat customers; t-test p-values; Fisher-z intervals (Bonett-Wright standard "
            "error for Spearman)"
        ),
        reference=(
            "Fader, Hardie & Lee (2005), Journal of Marketing Research 42(4), 415-430; "
            "Fader & Hardie (2013), note 025; Bonett & Wright (2000), Psychometrika 65(1), "
            "23-28"
        ),
    )
