r"""Newton's method with an analytic Hessian, for the models that supply one.

Minimises a smooth objective :math:`f(\theta)` over a box :math:`|\theta_j| \le B` from its
value, gradient :math:`g` and Hessian :math:`H`. Each step solves :math:`H s = -g` with the
eigenvalues of :math:`H` replaced by their absolute values, floored at :math:`10^{-10}`
of the largest, so that :math:`s` always descends, even at a saddle point or where :math:`f`
is concave (the modified Newton method of Nocedal & Wright 2006, *Numerical Optimization*,
2nd ed., Springer, section 3.4, "eigenvalue modification"). Steps are capped in length
(:data:`MAX_STEP` in each coordinate), and shortened by halving until the Armijo condition
:math:`f(\theta + t s) \le f(\theta) + 10^{-4}\,t\,g^\top s` holds (Nocedal & Wright,
eq. 3.4), up to a rounding allowance of :math:`10^{-13}|f|`. Near a strict minimum every
step is the plain Newton step and convergence is quadratic, so a few evaluations reach a
gradient of :math:`10^{-9}`.

It returns what happened and never raises: the caller decides what a failure means (the
models fall back to L-BFGS-B, see ``stickykit.models._fit``).

Examples
--------
The Rosenbrock function from :math:`(-1.2, 1)`:

>>> import numpy as np
>>> def rosenbrock(t):
...     x, y = t
...     value = 100 * (y - x**2) ** 2 + (1 - x) ** 2
...     gradient = np.array([-400 * x * (y - x**2) - 2 * (1 - x), 200 * (y - x**2)])
...     hessian = np.array([[1200 * x**2 - 400 * y + 2, -400 * x], [-400 * x, 200.0]])
...     return value, gradient, hessian
>>> result = newton_minimize(rosenbrock, np.array([-1.2, 1.0]), bound=10.0, gtol=1e-10)
>>> result.converged, np.round(result.theta, 8).tolist()
(True, [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_STEP", "NewtonResult", "newton_minimize"]

Array = NDArray[np.float64]

#: Largest change of any coordinate in one step.
MAX_STEP = 2.0
#: Eigenvalues of the Hessian below this fraction of the largest are raised to it.
_EIGEN_FLOOR = 1e-10
#: Sufficient decrease (Armijo) constant.
_ARMIJO = 1e-4
#: Halvings of a step before giving up.
_HALVINGS = 30
#: A value within this relative distance of the last one counts as no increase: near the
#: minimum the decrease of a step is below the rounding of a sum over many customers.
_NOISE = 1e-13


@attrs.frozen(eq=False)
class NewtonResult:
    """Outcome of :func:`newton_minimize`.

    Attributes
    ----------
    theta : numpy.ndarray
        The last accepted point.
    value : float
    gradient, hessian : numpy.ndarray
        At ``theta``.
    converged : bool
        The largest absolute gradient component is below ``gtol``.
    steps : int
        Accepted steps.
    evaluations : int
        Calls of the objective.
    message : str
        Why it stopped.

    Examples
    --------
    >>> r = newton_minimize(lambda t: (float(t @ t), 2 * t, 2 * np.eye(1)), np.array([1.5]),
    ...                     bound=5.0, gtol=1e-12)
    >>> r.converged, r.steps, r.evaluations, r.message
    (True, 1, 2, 'gradient below tol')
    """

    theta: Array
    value: float
    gradient: Array
    hessian: Array
    converged: bool
    steps: int
    evaluations: int
    message: str


def _finite(value: float, gradient: Array, hessian: Array) -> bool:
    return bool(
        np.isfinite(value) and np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))
    )


def newton_minimize(
    objective: Callable[[Array], tuple[float, Array, Array]],
    theta: Array,
    *,
    bound: float,
    gtol: float,
    max_steps: int = 60,
    update: bool = False,
) -> NewtonResult:
    r"""Minimise ``objective`` (returning value, gradient, Hessian) from ``theta``.

    Parameters
    ----------
    objective : callable
        :math:`\theta \mapsto (f, \nabla f, \nabla^2 f)`; a non-finite value counts as
        :math:`+\infty` (the step is shortened).
    theta : numpy.ndarray
        Starting point, inside the box.
    bound : float
        The box :math:`|\theta_j| \le` ``bound``; a step that would leave it is cut at the
        edge, and a point on the edge ends the search (``converged`` False).
    gtol : float
        Stop when every gradient component is below this in absolute value.
    max_steps : int
        Most steps.
    update : bool
        Use the objective's Hessian at the start only, then update it after each step by
        the BFGS formula (Nocedal & Wright 2006, eq. 6.19) from the change of the gradient
        (a step whose curvature :math:`y^\top s` is not positive leaves it unchanged): a
        quasi-Newton method started from an approximate Hessian.

    Returns
    -------
    NewtonResult

    Examples
    --------
    >>> quadratic = lambda t: (float(t @ t), 2 * t, 2 * np.eye(len(t)))
    >>> r = newton_minimize(quadratic, np.array([1.5, -1.0]), bound=5.0, gtol=1e-12)
    >>> r.converged, r.steps, r.theta.tolist()
    (True, 1, [0.0, 0.0])
    """
    theta = np.asarray(theta, dtype=np.float64)
    value, gradient, hessian = objective(theta)
    evaluations = 1
    if not _finite(value, gradient, hessian):
        return NewtonResult(
            theta, value, gradient, hessian, False, 0, evaluations, "not finite at the start"
        )
    for steps in range(max_steps + 1):
        if float(np.max(np.abs(gradient))) < gtol:
            return NewtonResult(
                theta, value, gradient, hessian, True, steps, evaluations, "gradient below tol"
            )
        if steps == max_steps:
            break
        eigenvalues, vectors = np.linalg.eigh((hessian + hessian.T) / 2)
        size = np.abs(eigenvalues)
        size = np.maximum(size, _EIGEN_FLOOR * max(float(size.max()), 1e-300))
        step = -vectors @ ((vectors.T @ gradient) / size)
        longest = float(np.max(np.abs(step)))
        if longest > MAX_STEP:
            step *= MAX_STEP / longest
        slope = float(gradient @ step)
        noise = _NOISE * abs(value)
        shrink = 1.0
        for _ in range(_HALVINGS):
            trial = np.clip(theta + shrink * step, -bound, bound)
            with np.errstate(all="ignore"):
                trial_value, trial_gradient, trial_hessian = objective(trial)
            evaluations += 1
            finite = _finite(trial_value, trial_gradient, trial_hessian)
            if finite and trial_value <= value + _ARMIJO * shrink * slope + noise:
                break
            shrink /= 2
        else:
            return NewtonResult(
                theta, value, gradient, hessian, False, steps, evaluations, "line search failed"
            )
        if update:
            moved, change = trial - theta, trial_gradient - gradient
            curvature = float(change @ moved)
            if curvature > 0:
                pushed = hessian @ moved
                hessian = (
                    hessian
                    - np.outer(pushed, pushed) / float(moved @ pushed)
                    + np.outer(change, change) / curvature
                )
            trial_hessian = hessian
        theta, value, gradient, hessian = trial, trial_value, trial_gradient, trial_hessian
        if np.any(np.abs(theta) >= bound):
            return NewtonResult(
                theta, value, gradient, hessian, False, steps + 1, evaluations, "reached the bound"
            )
    return NewtonResult(
        theta, value, gradient, hessian, False, max_steps, evaluations, "too many steps"
    )
