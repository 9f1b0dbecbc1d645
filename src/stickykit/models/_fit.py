r"""Maximum-likelihood fitting shared by every model: optimiser, Hessian, diagnostics, intervals.

A model supplies its per-pattern log-likelihood and its analytic gradient (with respect to the
parameters on their natural scale) and a deterministic starting point. This module does the
rest, identically for every model:

1. **Optimise** the mean negative log-likelihood over log-parameters (every parameter is
   positive) until the largest gradient component of the mean log-likelihood is below
   ``tol / 100``. A model with an analytic Hessian (``_analytic_hessian``, with
   ``_loglik_sums``) is fitted by Newton's method (``stickykit.models._newton``), a
   handful of likelihood evaluations. With at least four times ``_SUBSAMPLE`` patterns
   the search starts where the same fit to every k-th pattern (about ``_SUBSAMPLE`` of
   them) ends; a model without an analytic Hessian then takes quasi-Newton (BFGS) steps on
   all the data starting from that sample's Hessian, whose relative sampling error is a few
   per cent. Otherwise, or where those do not reach a strict minimum, scipy's L-BFGS-B with
   the analytic gradient runs from the deterministic start, then Newton steps polish.
2. **Hessian** of the total log-likelihood in log-parameters, analytic where the model has
   it, else by central differences of the analytic gradient; its eigenvalues must all be
   positive and its condition number at most :data:`MAX_CONDITION`, else
   :class:`~stickykit.errors.FitError` says why.
3. **Uncertainty**: the inverse Hessian is the covariance of the log-parameters; standard
   errors on the natural scale follow by the delta method
   (:math:`\operatorname{se}(\theta) = \theta \operatorname{se}(\log\theta)`) and intervals
   are Wald intervals on the log scale, mapped back (so they stay positive).
4. **Diagnostics** are kept on the fitted model (:class:`FitDiagnostics`): status,
   iterations, the largest absolute gradient, the Hessian's eigenvalues and condition number.

A failed, unconverged or ill-conditioned fit raises; it never leaves NaN or unconverged values
behind as if they were estimates. Predictions carry a labelled parameter-uncertainty interval
(:meth:`LikelihoodModel.uncertainty`): the delta method on the log-parameters, or quantiles
over seeded draws from their normal approximation.

Examples
--------
A minimal model, the exponential distribution with rate :math:`\lambda` (log-likelihood
:math:`\log\lambda - \lambda y` per observation):

>>> import numpy as np
>>> class Exponential(LikelihoodModel):
...     param_names = ("rate",)
...     reference = "textbook"
...     def _loglik(self, params, data):
...         (y,) = data.columns
...         rate = params[0]
...         return np.log(rate) - rate * y, (1 / rate - y)[:, None]
...     def _start(self, data):
...         return np.array([1.0])
>>> y = np.array([0.5, 1.5, 1.0, 1.0])
>>> m = Exponential()._fit_patterns(compress([y], np.ones(4)), time_unit="day")
>>> round(m.params_["rate"], 6), m.diagnostics_.converged
(1.0, True)
>>> round(m.standard_errors_["rate"], 4)  # rate / sqrt(n)
0.5
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from stickykit.errors import FitError, NotFittedError
from stickykit.io.statefile import load_arrays, save_arrays
from stickykit.models._histories import Patterns, compress  # noqa: F401 (doctest)
from stickykit.models._newton import newton_minimize

__all__ = [
    "MAX_CONDITION",
    "FitDiagnostics",
    "LikelihoodModel",
    "ModelSummary",
    "Prediction",
]

#: A Hessian whose condition number exceeds this is refused as ill-conditioned.
MAX_CONDITION = 1e10
#: Log-parameters are kept in [-LOG_BOUND, LOG_BOUND]; an estimate on the bound is refused.
LOG_BOUND = 20.0
_HESSIAN_STEP = 1e-5
#: Patterns in the sample whose fit starts the search on large data (module docstring).
_SUBSAMPLE = 32768


@attrs.frozen
class FitDiagnostics:
    """How a fit went.

    Attributes
    ----------
    status : str
        The optimiser's message, then the Newton polish's outcome.
    converged : bool
        The largest gradient component of the mean log-likelihood is below ``tol``.
    iterations : int
        L-BFGS-B iterations plus Newton steps, or the (quasi-)Newton steps on all the data.
    max_abs_gradient : float
        Largest absolute component of the gradient of the **total** log-likelihood with
        respect to the log-parameters, at the estimate.
    tol : float
        The tolerance on the mean log-likelihood's gradient.
    hessian_eigenvalues : tuple of float
        Eigenvalues of the Hessian of the total negative log-likelihood in log-parameters
        (all positive at a strict maximum).
    condition_number : float
        Largest over smallest eigenvalue.
    n_patterns : int
        Distinct histories the likelihood was evaluated on.
    """

    status: str
    converged: bool
    iterations: int
    max_abs_gradient: float
    tol: float
    hessian_eigenvalues: tuple[float, ...]
    condition_number: float
    n_patterns: int


@attrs.frozen
class ModelSummary:
    """Estimates with standard errors and intervals, and the fit's likelihood figures.

    ``str()`` prints the table; :meth:`to_dict` gives plain values.

    Attributes
    ----------
    model : str
    names : tuple of str
    estimate, se, ci_low, ci_high : tuple of float
    level : float
    method : str
        How the standard errors and intervals were obtained.
    log_likelihood : float
        Total log-likelihood on the user's time axis.
    aic, bic : float
    n : float
        Customers (sum of weights).
    time_unit : str
    """

    model: str
    names: tuple[str, ...]
    estimate: tuple[float, ...]
    se: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    level: float
    method: str
    log_likelihood: float
    aic: float
    bic: float
    n: float
    time_unit: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values, one list per column."""
        return {
            "model": self.model,
            "parameter": list(self.names),
            "estimate": list(self.estimate),
            "se": list(self.se),
            "ci_low": list(self.ci_low),
            "ci_high": list(self.ci_high),
            "level": self.level,
            "method": self.method,
            "log_likelihood": self.log_likelihood,
            "aic": self.aic,
            "bic": self.bic,
            "n": self.n,
            "time_unit": self.time_unit,
        }

    def __str__(self) -> str:
        percent = f"{100 * self.level:g}%"
        lines = [
            (
                f"{self.model}: n = {self.n:,.0f}, log-likelihood = {self.log_likelihood:.4f} "
                f"(time in {self.time_unit}s), AIC = {self.aic:.2f}, BIC = {self.bic:.2f}"
            ),
            (
                f"{'parameter':<10} {'estimate':>12} {'se':>12} {percent + ' low':>12} "
                f"{percent + ' high':>12}"
            ),
        ]
        for row in zip(self.names, self.estimate, self.se, self.ci_low, self.ci_high, strict=True):
            name, *numbers = row
            lines.append(f"{name:<10} " + " ".join(f"{v:>12.6g}" for v in numbers))
        lines.append(f"intervals: {self.method}")
        return "\n".join(lines)


@attrs.frozen(eq=False)
class Prediction:
    """Predicted values with a labelled parameter-uncertainty interval.

    The interval reflects the uncertainty of the estimated parameters only, not the
    randomness of a customer's future purchases (use the probability of ``x`` purchases for
    that); ``method`` says how it was obtained. Without an interval ``ci_low`` and ``ci_high``
    are ``None``.

    Attributes
    ----------
    value : numpy.ndarray
    ci_low, ci_high : numpy.ndarray or None
    level : float or None
    method : str
    """

    value: NDArray[np.float64]
    ci_low: NDArray[np.float64] | None = None
    ci_high: NDArray[np.float64] | None = None
    level: float | None = None
    method: str = "point estimate (no interval requested)"

    def __len__(self) -> int:
        return len(self.value)

    def take(self, rows: NDArray[np.intp]) -> Prediction:
        """The prediction at ``rows``: per-pattern values expanded to customers.

        Examples
        --------
        >>> p = Prediction(np.array([1.0, 2.0]), np.array([0.5, 1.5]), np.array([1.5, 2.5]), 0.95)
        >>> p.take(np.array([1, 1, 0])).ci_low.tolist()
        [1.5, 1.5, 0.5]
        """
        return Prediction(
            self.value[rows],
            None if self.ci_low is None else self.ci_low[rows],
            None if self.ci_high is None else self.ci_high[rows],
            self.level,
            self.method,
        )

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        return np.asarray(self.value, dtype=dtype)


def _fitted(model: LikelihoodModel) -> None:
    if model.params_ is None:
        raise NotFittedError(f"{type(model).__name__} is not fitted yet; call fit() first")


class LikelihoodModel(abc.ABC):
    """Base of every maximum-likelihood model (BG/NBD, Pareto/NBD, Gamma-Gamma, ...).

    Subclasses set ``param_names`` and ``reference`` and implement ``_loglik``
    and ``_start``; their public ``fit`` validates its input, builds weighted patterns
    and calls ``_fit_patterns``, which returns ``self``. Fitted attributes end in ``_``.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters added to the mean negative log-likelihood
        (``penalizer * sum(params**2)``, as ``lifetimes`` does); 0 for maximum likelihood.
        The reported log-likelihood never includes the penalty.
    level : float
        Confidence level of the parameter intervals.
    tol : float
        Convergence tolerance on the largest gradient component of the mean log-likelihood
        with respect to the log-parameters.
    """

    param_names: ClassVar[tuple[str, ...]]
    reference: ClassVar[str]
    #: ``_loglik_sums`` gives the Hessian: fit by Newton's method first.
    _analytic_hessian: ClassVar[bool] = False

    def __init__(self, *, penalizer: float = 0.0, level: float = 0.95, tol: float = 1e-7) -> None:
        if not (np.isfinite(penalizer) and penalizer >= 0):
            raise ValueError(f"penalizer must be a finite number >= 0, got {penalizer!r}")
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
        self.penalizer = float(penalizer)
        self.level = float(level)
        self.tol = float(tol)
        self.params_: dict[str, float] | None = None
        self.log_covariance_: NDArray[np.float64] | None = None
        self.covariance_: NDArray[np.float64] | None = None
        self.standard_errors_: dict[str, float] = {}
        self.log_likelihood_: float = float("nan")
        self.n_customers_: float = 0.0
        self.time_unit_: str = ""
        self.diagnostics_: FitDiagnostics | None = None
        self._last_loglik: tuple[Patterns, NDArray[np.float64], float] | None = None

    # -- what a model supplies -------------------------------------------------------------

    @abc.abstractmethod
    def _loglik(
        self, params: NDArray[np.float64], data: Patterns
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per-pattern log-likelihood and its gradient, unweighted.

        Shapes ``(k,)`` and ``(k, p)``; the gradient is with respect to the natural parameters.
        """

    @abc.abstractmethod
    def _start(self, data: Patterns) -> NDArray[np.float64]:
        """A deterministic starting point on the natural scale."""

    def _loglik_sums(
        self, params: NDArray[np.float64], data: Patterns, *, hessian: bool
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64] | None]:
        """Weighted totals over the patterns: log-likelihood, gradient and Hessian.

        All with respect to the natural parameters; the Hessian is ``None`` unless the model
        has an analytic one (``_analytic_hessian``) and ``hessian`` is true. This default
        sums ``_loglik``; a model may override it with an equal but cheaper evaluation (for
        example with the special functions evaluated once per distinct frequency), and its
        tests then check it against ``weight @ _loglik``.
        """
        del hessian  # this default has no Hessian
        values, gradient = self._loglik(params, data)
        return float(data.weight @ values), np.asarray(data.weight @ gradient), None

    # -- fitting ---------------------------------------------------------------------------

    def log_likelihood(self, params: NDArray[np.float64], data: Patterns) -> float:
        """Total (weighted) log-likelihood of ``data`` at ``params``, without any penalty.

        The log-likelihood is a sum over customers, so fitting merged chunk summaries equals
        fitting all data at once.

        Examples
        --------
        >>> from stickykit.models import BGNBD, Histories
        >>> h = Histories.from_arrays(frequency=[0, 2], recency=[0.0, 3.0], age=[5.0, 5.0])
        >>> data = BGNBD().patterns(h)
        >>> params = np.array([0.24, 4.41, 0.79, 2.43])
        >>> whole = BGNBD().log_likelihood(params, data)
        >>> parts = [BGNBD().log_likelihood(params, BGNBD().patterns(h.take(np.array([i]))))
        ...          for i in range(2)]
        >>> round(whole, 4), bool(np.isclose(whole, sum(parts)))
        (-6.2164, True)
        """
        value, _, _ = self._loglik_sums(np.asarray(params, dtype=np.float64), data, hessian=False)
        return float(value)

    def _objective(
        self, theta: NDArray[np.float64], data: Patterns, total: float
    ) -> tuple[float, NDArray[np.float64]]:
        params = np.exp(theta)
        loglik, gradient, _ = self._loglik_sums(params, data, hessian=False)
        self._last_loglik = (data, theta.copy(), loglik)
        value = -loglik / total + self.penalizer * float(params @ params)
        grad = -gradient * params / total + 2 * self.penalizer * params**2
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            shown = ", ".join(f"{n}={v:.6g}" for n, v in zip(self.param_names, params, strict=True))
            raise FitError(
                f"{type(self).__name__}: the log-likelihood or its gradient is not finite at "
                f"{shown}; the data may not fit this model"
            )
        return value, np.asarray(grad, dtype=np.float64)

    def _objective_newton(
        self, theta: NDArray[np.float64], data: Patterns, total: float
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        r"""The mean penalised objective, its gradient and analytic Hessian in log-parameters.

        With :math:`\theta = \ln\phi`, gradient :math:`g` and Hessian :math:`H` of the
        log-likelihood in :math:`\phi`: :math:`\nabla_\theta = \phi \odot g` and
        :math:`\nabla^2_\theta = \operatorname{diag}(\phi) H \operatorname{diag}(\phi) +
        \operatorname{diag}(\phi \odot g)`; the penalty :math:`c\sum\phi^2` adds
        :math:`2c\phi^2` and :math:`4c\phi^2` on the diagonal. Never raises: a non-finite
        value is returned as it is, for the line search to step back.
        """
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            loglik, gradient, hessian = self._loglik_sums(params, data, hessian=True)
        assert hessian is not None
        self._last_loglik = (data, theta.copy(), loglik)
        scaled = gradient * params
        value = -loglik / total + self.penalizer * float(params @ params)
        grad = -scaled / total + 2 * self.penalizer * params**2
        hess = -(hessian * np.outer(params, params) + np.diag(scaled)) / total
        hess += np.diag(4 * self.penalizer * params**2)
        return value, np.asarray(grad, dtype=np.float64), np.asarray(hess, dtype=np.float64)

    def _hessian(
        self, theta: NDArray[np.float64], data: Patterns, total: float
    ) -> NDArray[np.float64]:
        """Hessian of the mean penalised objective in log-parameters.

        Analytic where the model has it, else central differences of the analytic gradient.
        """
        if self._analytic_hessian:
            _, _, hessian = self._objective_newton(theta, data, total)
            return np.asarray((hessian + hessian.T) / 2, dtype=np.float64)
        p = len(theta)
        hessian = np.empty((p, p))
        for j in range(p):
            step = np.zeros(p)
            step[j] = _HESSIAN_STEP
            _, up = self._objective(theta + step, data, total)
            _, down = self._objective(theta - step, data, total)
            hessian[:, j] = (up - down) / (2 * _HESSIAN_STEP)
        return np.asarray((hessian + hessian.T) / 2, dtype=np.float64)

    def _fit_patterns(self, data: Patterns, *, time_unit: str) -> Self:
        """Fit on weighted patterns and store the fitted attributes; returns ``self``.

        Raises
        ------
        FitError
            Fewer customers than parameters, an optimiser failure, a non-finite likelihood,
            an estimate on the parameter bound, a gradient above ``tol`` after polishing, a
            Hessian that is not positive definite, or a condition number above
            :data:`MAX_CONDITION`.
        """
        name = type(self).__name__
        p = len(self.param_names)
        total = float(data.weight.sum())
        if total < p + 1:
            raise FitError(
                f"{name}: {total:g} customers for {p} parameters; at least {p + 1} are needed"
            )
        theta = np.log(self._start(data))
        fitted = self._fit_large(data, theta, total, time_unit=time_unit)
        if fitted is not None:
            return fitted
        return self._fit_lbfgs(data, theta, total, time_unit=time_unit)

    def _fit_large(
        self, data: Patterns, theta: NDArray[np.float64], total: float, *, time_unit: str
    ) -> Self | None:
        """The fast fits, ``None`` where they do not reach a strict minimum.

        With an analytic Hessian: Newton's method, from the fit to a sample of the patterns
        when there are many. Without, on many patterns: the fit to a sample (L-BFGS-B and
        Newton polish, cheap), then quasi-Newton steps on all the data starting from the
        sample's Hessian (its relative sampling error is a few per cent; BFGS updates refine
        it), a handful of evaluations on all the data in place of dozens. The caller then
        falls back to L-BFGS-B from ``theta``.
        """
        k = len(data) // _SUBSAMPLE
        sample = None
        if k >= 4:
            sample = Patterns(
                tuple(c[::k] for c in data.columns), data.weight[::k], np.empty(0, dtype=np.intp)
            )
        if self._analytic_hessian:
            start, how = theta, ""
            if sample is not None:
                sample_total = float(sample.weight.sum())
                found = newton_minimize(
                    lambda t: self._objective_newton(t, sample, sample_total),
                    theta,
                    bound=LOG_BOUND,
                    gtol=self.tol,
                )
                if found.converged:
                    start = found.theta
                    how = f" from the fit to every {k}th pattern ({found.steps} steps)"
            newton = newton_minimize(
                lambda t: self._objective_newton(t, data, total),
                start,
                bound=LOG_BOUND,
                gtol=self.tol / 100,
            )
            label = f"Newton (analytic Hessian){how}"
        elif sample is not None:
            sample_total = float(sample.weight.sum())
            try:
                start, _, _, _ = self._optimize_lbfgs(sample, theta, sample_total)
                fixed = self._hessian(start, sample, sample_total)
            except FitError:
                return None

            def objective(
                t: NDArray[np.float64],
            ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
                try:
                    value, grad = self._objective(t, data, total)
                except FitError:
                    return float("inf"), np.full(len(t), np.nan), fixed
                return value, grad, fixed

            newton = newton_minimize(
                objective, start, bound=LOG_BOUND, gtol=self.tol / 100, max_steps=40, update=True
            )
            label = f"quasi-Newton (BFGS) from the Hessian of the fit to every {k}th pattern"
        else:
            return None
        if not newton.converged:
            return None
        hessian = newton.hessian if self._analytic_hessian else None
        if hessian is not None and not np.all(np.linalg.eigvalsh(hessian) > 0):
            return None
        return self._finish(
            data,
            newton.theta,
            newton.gradient,
            iterations=newton.steps,
            status=f"{label}: {newton.message} after {newton.steps} steps, "
            f"{newton.evaluations} evaluations",
            time_unit=time_unit,
            hessian=hessian,
        )

    def _optimize_lbfgs(
        self, data: Patterns, theta: NDArray[np.float64], total: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], int, str]:
        """L-BFGS-B from ``theta``, then Newton steps on the Hessian.

        Until the gradient is below ``tol / 100``; returns the point, its gradient, the
        iterations and the status.
        """
        p = len(self.param_names)
        bounds = [(-LOG_BOUND, LOG_BOUND)] * p
        result = optimize.minimize(
            self._objective,
            theta,
            args=(data, total),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "gtol": self.tol / 10, "ftol": 1e-15},
        )
        theta = np.asarray(result.x, dtype=np.float64)
        iterations = int(result.nit)
        status = f"L-BFGS-B: {result.message}"
        value, grad = self._objective(theta, data, total)
        newton_steps = 0
        for _ in range(50):
            if np.max(np.abs(grad)) < self.tol / 100:
                break
            hessian = self._hessian(theta, data, total)
            try:
                step = np.linalg.solve(hessian, grad)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)) or grad @ step <= 0:
                break
            shrink = 1.0
            while shrink > 1e-4:
                trial = np.clip(theta - shrink * step, -LOG_BOUND, LOG_BOUND)
                trial_value, trial_grad = self._objective(trial, data, total)
                if trial_value <= value + 1e-14 * abs(value):
                    break
                shrink /= 2
            else:
                break
            theta, value, grad = trial, trial_value, trial_grad
            newton_steps += 1
        iterations += newton_steps
        status += f"; {newton_steps} Newton steps"
        return theta, grad, iterations, status

    def _fit_lbfgs(
        self, data: Patterns, theta: NDArray[np.float64], total: float, *, time_unit: str
    ) -> Self:
        """L-BFGS-B from ``theta``, then Newton steps on the Hessian; see ``_fit_patterns``."""
        theta, grad, iterations, status = self._optimize_lbfgs(data, theta, total)
        return self._finish(
            data, theta, grad, iterations=iterations, status=status, time_unit=time_unit
        )

    def _finish(
        self,
        data: Patterns,
        theta: NDArray[np.float64],
        grad: NDArray[np.float64],
        *,
        iterations: int,
        status: str,
        time_unit: str,
        hessian: NDArray[np.float64] | None = None,
    ) -> Self:
        """Check the optimum, compute the covariance and store the fitted attributes.

        ``hessian``: that of the mean objective at ``theta``, when known.
        """
        name = type(self).__name__
        # the log-likelihood at theta, if the last evaluation was there (the same numbers)
        last = self._last_loglik
        known = last is not None and last[0] is data and np.array_equal(last[1], theta)
        log_likelihood = float(last[2]) if last is not None and known else None
        total = float(data.weight.sum())
        params = np.exp(theta)
        on_bound = np.abs(theta) >= LOG_BOUND - 1e-6
        if on_bound.any():
            j = int(np.flatnonzero(on_bound)[0])
            raise FitError(
                f"{name}: parameter {self.param_names[j]} ran to {params[j]:.3g}, the edge of "
                f"the search range; the data do not identify it ({status})"
            )
        largest = float(np.max(np.abs(grad)))
        if largest > self.tol:
            raise FitError(
                f"{name}: did not converge, the largest gradient component of the mean "
                f"log-likelihood is {largest:.3g} > tol {self.tol:g} ({status})"
            )
        if hessian is None:
            hessian = self._hessian(theta, data, total)
        hessian = (hessian + hessian.T) / 2 * total
        eigenvalues = np.linalg.eigvalsh(hessian)
        if not np.all(np.isfinite(eigenvalues)) or eigenvalues[0] <= 0:
            raise FitError(
                f"{name}: the Hessian at the estimate is not positive definite (eigenvalues "
                f"{np.array2string(eigenvalues, precision=3)}); the estimate is not a strict "
                "maximum and has no standard errors"
            )
        condition = float(eigenvalues[-1] / eigenvalues[0])
        if condition > MAX_CONDITION:
            raise FitError(
                f"{name}: the Hessian's condition number is {condition:.3g} > "
                f"{MAX_CONDITION:g}; the parameters are nearly unidentified on these data"
            )
        log_covariance = np.linalg.inv(hessian)
        log_covariance = (log_covariance + log_covariance.T) / 2
        self.params_ = {n: float(v) for n, v in zip(self.param_names, params, strict=True)}
        self.log_covariance_ = log_covariance
        self.covariance_ = log_covariance * np.outer(params, params)
        self.standard_errors_ = {
            n: float(v * np.sqrt(log_covariance[j, j]))
            for j, (n, v) in enumerate(zip(self.param_names, params, strict=True))
        }
        self.log_likelihood_ = (
            self.log_likelihood(params, data) if log_likelihood is None else float(log_likelihood)
        )
        self.n_customers_ = total
        self.time_unit_ = time_unit
        self.diagnostics_ = FitDiagnostics(
            status=status,
            converged=True,
            iterations=iterations,
            max_abs_gradient=largest * total,
            tol=self.tol,
            hessian_eigenvalues=tuple(float(e) for e in eigenvalues),
            condition_number=condition,
            n_patterns=len(data),
        )
        return self

    # -- fitted figures --------------------------------------------------------------------

    @property
    def params(self) -> NDArray[np.float64]:
        """The estimates as an array, in ``param_names`` order."""
        _fitted(self)
        assert self.params_ is not None
        return np.array([self.params_[n] for n in self.param_names])

    @property
    def aic_(self) -> float:
        r"""Akaike's information criterion, :math:`2p - 2\ell`."""
        _fitted(self)
        return 2 * len(self.param_names) - 2 * self.log_likelihood_

    @property
    def bic_(self) -> float:
        r"""Schwarz's Bayesian information criterion, :math:`p \ln n - 2\ell`."""
        _fitted(self)
        return len(self.param_names) * float(np.log(self.n_customers_)) - 2 * self.log_likelihood_

    @property
    def summary(self) -> ModelSummary:
        """The estimates with standard errors and log-scale Wald intervals."""
        _fitted(self)
        assert self.log_covariance_ is not None
        estimate = self.params
        log_se = np.sqrt(np.diag(self.log_covariance_))
        z = float(stats.norm.ppf(0.5 + self.level / 2))
        return ModelSummary(
            model=type(self).__name__,
            names=self.param_names,
            estimate=tuple(float(v) for v in estimate),
            se=tuple(float(v) for v in estimate * log_se),
            ci_low=tuple(float(v) for v in estimate * np.exp(-z * log_se)),
            ci_high=tuple(float(v) for v in estimate * np.exp(z * log_se)),
            level=self.level,
            method="maximum likelihood; Wald intervals on the log scale from the inverse "
            "Hessian, standard errors by the delta method",
            log_likelihood=self.log_likelihood_,
            aic=self.aic_,
            bic=self.bic_,
            n=self.n_customers_,
            time_unit=self.time_unit_,
        )

    def __repr__(self) -> str:
        name = type(self).__name__
        if self.params_ is None:
            return f"{name}(not fitted)"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return (
            f"{name}({shown}; log-likelihood {self.log_likelihood_:.4f}, n={self.n_customers_:g})"
        )

    # -- parameter uncertainty of predictions ----------------------------------------------

    def uncertainty(
        self,
        function: Callable[[NDArray[np.float64]], NDArray[np.float64]],
        *,
        interval: bool = True,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
        n_draws: int = 1000,
        seed: int = 0,
    ) -> Prediction:
        """Evaluate ``function(params)`` at the estimate, with a parameter-uncertainty interval.

        Parameters
        ----------
        function : callable
            Maps a parameter vector (natural scale, ``param_names`` order) to an array.
        interval : bool
            ``False``: the point value only.
        level : float, optional
            Confidence level (default: the model's).
        method : {"delta", "draws"}
            ``"delta"``: the delta method on the log-parameters, with the Jacobian by central
            differences; ``"draws"``: equal-tailed quantiles of ``function`` over ``n_draws``
            draws of the log-parameters from their normal approximation (seeded).
        n_draws, seed : int
            For ``method="draws"``.

        Examples
        --------
        >>> from stickykit.models import BGNBD, cdnow_histories
        >>> m = BGNBD().fit(cdnow_histories().calibration)
        >>> p = m.uncertainty(lambda params: params[:1] * 2)
        >>> p.method[:12], bool(p.ci_low[0] < p.value[0] < p.ci_high[0])
        ('delta method', True)
        """
        _fitted(self)
        theta = np.log(self.params)
        value = np.asarray(function(np.exp(theta)), dtype=np.float64)
        if not interval:
            return Prediction(value)
        if self.log_covariance_ is None:
            raise NotFittedError(
                f"{type(self).__name__} was built from given parameters and has no covariance; "
                "intervals need a fitted model"
            )
        level = self.level if level is None else level
        z = float(stats.norm.ppf(0.5 + level / 2))
        if method == "delta":
            step = 1e-6
            jacobian = []
            for j in range(len(theta)):
                shift = np.zeros(len(theta))
                shift[j] = step
                up = np.asarray(function(np.exp(theta + shift)), dtype=np.float64)
                down = np.asarray(function(np.exp(theta - shift)), dtype=np.float64)
                jacobian.append((up - down) / (2 * step))
            stacked = np.stack(jacobian, axis=-1)
            variance = np.einsum("...j,jk,...k->...", stacked, self.log_covariance_, stacked)
            se = np.sqrt(np.maximum(variance, 0.0))
            return Prediction(
                value,
                value - z * se,
                value + z * se,
                level,
                f"delta method on the log-parameters, {100 * level:g}% (parameter uncertainty)",
            )
        if method != "draws":
            raise ValueError(f"method must be 'delta' or 'draws', got {method!r}")
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(theta, self.log_covariance_, size=n_draws)
        samples = np.stack([np.asarray(function(np.exp(d)), dtype=np.float64) for d in draws])
        low, high = np.quantile(samples, [0.5 - level / 2, 0.5 + level / 2], axis=0)
        return Prediction(
            value,
            low,
            high,
            level,
            f"quantiles over {n_draws} seeded draws (seed {seed}) of the log-parameters from "
            f"their normal approximation, {100 * level:g}% (parameter uncertainty)",
        )

    # -- saving ----------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        return json.dumps({"penalizer": self.penalizer, "level": self.level, "tol": self.tol})

    def save(self, path: str | Path) -> Path:
        """Save the fitted model to a safe ``.npz`` state file (no pickle).

        See :mod:`stickykit.io.statefile` for the format.
        """
        _fitted(self)
        assert self.diagnostics_ is not None
        assert self.log_covariance_ is not None
        d = self.diagnostics_
        return save_arrays(
            path,
            kind="model",
            name=type(self).__name__,
            fingerprint=self._fingerprint(),
            arrays={
                "params": self.params,
                "log_covariance": self.log_covariance_,
                "hessian_eigenvalues": np.array(d.hessian_eigenvalues),
            },
            meta={
                "param_names": list(self.param_names),
                "penalizer": self.penalizer,
                "level": self.level,
                "tol": self.tol,
                "log_likelihood": self.log_likelihood_,
                "n_customers": self.n_customers_,
                "time_unit": self.time_unit_,
                "status": d.status,
                "iterations": d.iterations,
                "max_abs_gradient": d.max_abs_gradient,
                "condition_number": d.condition_number,
                "n_patterns": d.n_patterns,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Load a model saved by :meth:`save`; a file of another model or version is refused.

        Raises
        ------
        StateFileError
            The file holds another model, was written by another version, or is damaged.
        """
        arrays, meta = load_arrays(path, kind="model", name=cls.__name__)
        model = cls._from_saved(meta)
        params = arrays["params"]
        model.params_ = {n: float(v) for n, v in zip(cls.param_names, params, strict=True)}
        model.log_covariance_ = arrays["log_covariance"]
        model.covariance_ = model.log_covariance_ * np.outer(params, params)
        model.standard_errors_ = {
            n: float(v * np.sqrt(model.log_covariance_[j, j]))
            for j, (n, v) in enumerate(zip(cls.param_names, params, strict=True))
        }
        model.log_likelihood_ = float(meta["log_likelihood"])
        model.n_customers_ = float(meta["n_customers"])
        model.time_unit_ = str(meta["time_unit"])
        model.diagnostics_ = FitDiagnostics(
            status=str(meta["status"]),
            converged=True,
            iterations=int(meta["iterations"]),
            max_abs_gradient=float(meta["max_abs_gradient"]),
            tol=float(meta["tol"]),
            hessian_eigenvalues=tuple(float(e) for e in arrays["hessian_eigenvalues"]),
            condition_number=float(meta["condition_number"]),
            n_patterns=int(meta["n_patterns"]),
        )
        return model

    @classmethod
    def _from_saved(cls, meta: dict[str, Any]) -> Self:
        """A new unfitted instance with the saved settings (override for extra settings)."""
        return cls(penalizer=meta["penalizer"], level=meta["level"], tol=meta["tol"])
