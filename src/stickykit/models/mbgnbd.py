r"""The MBG/NBD model: BG/NBD with a drop-out chance right after the first purchase.

Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for
customer base analysis", *International Journal of Research in Marketing* 24(3), 201-209,
with the corrections of Wagner & Hoppe (2008), "Erratum on the MBG/NBD model", *IJRM* 25(3),
225-226. As in BG/NBD (:mod:`stickykit.models.bgnbd`) a customer buys at rate
:math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and drops out with probability
:math:`p \sim \mathrm{Beta}(a, b)`, but the chances to drop out come right after **every**
purchase, the first included: a customer seen to make :math:`x` repeat purchases has survived
:math:`x + 1` of them. The likelihood of :math:`(x, t_x, T)` is

.. math::

   L = \frac{B(a, b + x + 1)}{B(a, b)}
       \frac{\Gamma(r + x)\,\alpha^r}{\Gamma(r)\,(\alpha + T)^{r + x}}
     + \frac{B(a + 1, b + x)}{B(a, b)}
       \frac{\Gamma(r + x)\,\alpha^r}{\Gamma(r)\,(\alpha + t_x)^{r + x}},

the BG/NBD likelihood with :math:`b_x = b + x + 1` and no indicator on the second term, so

.. math::

   P(\text{active} \mid x, t_x, T) = \left(1 + \frac{a}{b + x}
       \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}\right)^{-1} < 1

even for a customer without a repeat purchase, who may have dropped out at once.

Examples
--------
>>> from stickykit.models import Histories
>>> m = MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
>>> h = Histories.from_arrays(frequency=[0, 0], recency=[0.0, 0.0], age=[1.0, 38.86])
>>> m.probability_alive(h).value.round(4).tolist()
[0.6261, 0.3897]
"""

from __future__ import annotations

from typing import ClassVar

from stickykit.models.bgnbd import _BetaGeometricNBD

__all__ = ["MBGNBD"]


class MBGNBD(_BetaGeometricNBD):
    r"""The MBG/NBD model (modified BG/NBD) of repeat purchases.

    Batislam, Denizel & Filiztekin (2007), *International Journal of Research in Marketing*
    24(3), 201-209; formulas as corrected by Wagner & Hoppe (2008), *IJRM* 25(3), 225-226.
    Four positive parameters: :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and the drop-out
    probability at each purchase, the first included, :math:`p \sim \mathrm{Beta}(a, b)`.

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
    Formulas (module docstring for the likelihood and :math:`P(\text{active})`):

    .. math::

       E[X(t)] &= \frac{b}{a - 1}\left[1 - \left(\frac{\alpha}{\alpha + t}\right)^r
                  {}_2F_1\!\left(r, b + 1; a + b; \tfrac{t}{\alpha + t}\right)\right],\\
       E[Y(t) \mid x, t_x, T] &= P(\text{active})\,\frac{a + b + x}{a - 1}
           \left[1 - \left(\frac{\alpha + T}{\alpha + T + t}\right)^{r + x}
           {}_2F_1\!\left(r + x, b + x + 1; a + b + x; \tfrac{t}{\alpha + T + t}\right)\right],

    evaluated stably as for BG/NBD (``expected_purchases_while_active`` with
    :math:`b_x = b + x + 1`); :math:`P(X(t) = n)` and :math:`P(Y(t) = n \mid x, t_x, T)` are
    :func:`~stickykit.models.bgnbd.count_pmf` with that :math:`b_x` and, for a new customer,
    :math:`P(\text{active}) = b / (a + b)`.

    Examples
    --------
    >>> from stickykit.models.data import cdnow_histories
    >>> m = MBGNBD().fit(cdnow_histories().calibration)
    >>> [round(v, 3) for v in m.params.tolist()]
    [0.525, 6.183, 0.891, 1.614]
    """

    reference: ClassVar[str] = (
        "Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and "
        "comparison of models for customer base analysis. International Journal of Research "
        "in Marketing 24(3), 201-209; Wagner, U. & Hoppe, D. (2008). Erratum on the MBG/NBD "
        "model. International Journal of Research in Marketing 25(3), 225-226."
    )
    _shift: ClassVar[int] = 1
