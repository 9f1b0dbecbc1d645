"""The summed likelihoods, analytic Hessians and fast fitting paths behind fits on millions.

``_loglik_sums`` evaluates a model's log-likelihood summed over the patterns, with special
functions once per distinct frequency, in blocks; it must equal ``weight @ _loglik``, the
per-pattern function whose gradient each model's own tests check against finite
differences. The analytic Hessians (BG/NBD, MBG/NBD, Gamma-Gamma) are checked against central
differences of that gradient, and the fast fits (Newton's method; a start from the fit to a
sample of the patterns; quasi-Newton steps with the sample's Hessian) against L-BFGS-B and
against the published CDNOW estimates. Every check has a negative control that breaks the
formula it guards.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit.models import _fit
from stickykit.models._histories import Histories, Patterns, compress
from stickykit.models._newton import newton_minimize
from stickykit.models.bgnbd import BGNBD
from stickykit.models.data import cdnow_histories
from stickykit.models.gammagamma import GammaGamma
from stickykit.models.mbgnbd import MBGNBD
from stickykit.models.paretonbd import ParetoNBD

Array = np.ndarray
Sums = Callable[[Array], tuple[float, Array, Array | None]]

# -- data -------------------------------------------------------------------------------------

#: Histories with x up to 500, t_x = T, x = 0 and repeated patterns (weights above 1).
TRANSACTIONS = compress(
    [
        np.array([0.0, 0.0, 0.0, 1.0, 2.0, 5.0, 30.0, 500.0, 500.0, 3.0, 3.0]),
        np.array([0.0, 0.0, 0.0, 1.0, 4.0, 9.0, 39.0, 100.0, 9.5, 7.0, 7.0]),
        np.array([10.0, 0.5, 10.0, 10.0, 10.0, 10.0, 39.0, 100.0, 200.0, 7.0, 7.0]),
    ],
    np.array([1.0, 2.0, 3.0, 1.0, 1.0, 4.0, 1.0, 1.0, 1.0, 2.0, 1.0]),
)
SPEND = compress(
    [np.array([1.0, 1.0, 2.0, 7.0, 30.0, 2.0]), np.array([5.0, 80.0, 12.5, 40.0, 9.0, 12.5])],
    np.array([1.0, 2.0, 1.0, 1.0, 3.0, 1.0]),
)

log_uniform = st.floats(-2.5, 2.5).map(np.exp)
four = st.tuples(log_uniform, log_uniform, log_uniform, log_uniform).map(np.array)
three = st.tuples(log_uniform, log_uniform, log_uniform).map(np.array)


@pytest.fixture(scope="module")
def cdnow() -> Histories:
    return cdnow_histories().calibration


# -- sums equal the per-pattern function ------------------------------------------------------


def _sums_match(
    sums: Sums, per_pattern: Callable[[Array], tuple[Array, Array]], data: Patterns, params: Array
) -> bool:
    """Value to 1e-12 and gradient to 1e-10 relative (to the largest term summed)."""
    value, gradient, _ = sums(params)
    values, gradients = per_pattern(params)
    scale = float(data.weight @ np.abs(values)) + 1.0
    grad_scale = data.weight @ np.abs(gradients) + 1.0
    return bool(
        abs(value - data.weight @ values) <= 1e-12 * scale
        and np.all(np.abs(gradient - data.weight @ gradients) <= 1e-10 * grad_scale)
    )


@given(params=four, model=st.sampled_from([BGNBD, MBGNBD]))
def test_beta_geometric_sums_equal_the_per_pattern_function(params: Array, model: type) -> None:
    m = model()
    assert _sums_match(
        lambda p: m._loglik_sums(p, TRANSACTIONS, hessian=False),
        lambda p: m._loglik(p, TRANSACTIONS),
        TRANSACTIONS,
        params,
    )


@given(params=three)
def test_gamma_gamma_sums_equal_the_per_pattern_function(params: Array) -> None:
    m = GammaGamma()
    assert _sums_match(
        lambda p: m._loglik_sums(p, SPEND, hessian=False),
        lambda p: m._loglik(p, SPEND),
        SPEND,
        params,
    )


@given(params=four)
def test_pareto_sums_equal_the_per_pattern_function(params: Array) -> None:
    m = ParetoNBD()
    assert _sums_match(
        lambda p: m._loglik_sums(p, TRANSACTIONS, hessian=False),
        lambda p: m._loglik(p, TRANSACTIONS),
        TRANSACTIONS,
        params,
    )


def test_sums_check_catches_a_lost_term() -> None:
    """Negative control: the BG/NBD sums without one pattern's weight, and the Pareto/NBD
    sums with the frequency terms counted once per pattern instead of per customer."""
    params = np.array([0.243, 4.414, 0.793, 2.426])
    bg, pareto = BGNBD(), ParetoNBD()
    light = Patterns(
        TRANSACTIONS.columns,
        TRANSACTIONS.weight * np.r_[0.5, np.ones(len(TRANSACTIONS) - 1)],
        TRANSACTIONS.inverse,
    )
    assert not _sums_match(
        lambda p: bg._loglik_sums(p, light, hessian=False),
        lambda p: bg._loglik(p, TRANSACTIONS),
        TRANSACTIONS,
        params,
    )
    unweighted = Patterns(TRANSACTIONS.columns, np.ones(len(TRANSACTIONS)), TRANSACTIONS.inverse)
    assert not _sums_match(
        lambda p: pareto._loglik_sums(p, unweighted, hessian=False),
        lambda p: pareto._loglik(p, TRANSACTIONS),
        TRANSACTIONS,
        params,
    )


# -- analytic Hessians --------------------------------------------------------------------------


def _hessian_matches(sums: Sums, params: Array) -> bool:
    """Central differences (relative step 1e-5) of the analytic gradient, to 1e-5 relative of
    the Hessian's largest entry in its row and column, plus rounding."""
    _, gradient, hessian = sums(params)
    assert hessian is not None
    p = len(params)
    numeric = np.empty((p, p))
    for j in range(p):
        step = np.zeros(p)
        step[j] = 1e-5 * params[j]
        up, down = sums(params + step)[1], sums(params - step)[1]
        numeric[:, j] = (up - down) / (2 * step[j])
    scale = np.abs(hessian).max(axis=0)[None, :] + np.abs(hessian).max(axis=1)[:, None]
    rounding = 1e-12 * (np.abs(gradient).max() + 1.0) / (1e-5 * params[None, :])
    return bool(
        np.allclose(hessian, hessian.T, rtol=0, atol=1e-12 * float(scale.max()))
        and np.all(np.abs(numeric - hessian) <= 1e-5 * scale + rounding)
    )


@given(params=four, model=st.sampled_from([BGNBD, MBGNBD]))
def test_beta_geometric_hessian_matches_differences(params: Array, model: type) -> None:
    m = model()
    assert _hessian_matches(lambda p: m._loglik_sums(p, TRANSACTIONS, hessian=True), params)


@given(params=three)
def test_gamma_gamma_hessian_matches_differences(params: Array) -> None:
    m = GammaGamma()
    assert _hessian_matches(lambda p: m._loglik_sums(p, SPEND, hessian=True), params)


def test_hessian_check_catches_a_broken_entry() -> None:
    """Negative control: the BG/NBD Hessian without the omega (1 - omega) term of
    d2/da db (one plausible slip), and the Gamma-Gamma one with d2/dq dgamma halved."""
    bg, gg = BGNBD(), GammaGamma()

    def broken_bg(p: Array) -> tuple[float, Array, Array | None]:
        value, gradient, hessian = bg._loglik_sums(p, TRANSACTIONS, hessian=True)
        assert hessian is not None
        hessian = hessian.copy()
        hessian[2, 3] = hessian[3, 2] = hessian[2, 3] * 0.9
        return value, gradient, hessian

    def broken_gg(p: Array) -> tuple[float, Array, Array | None]:
        value, gradient, hessian = gg._loglik_sums(p, SPEND, hessian=True)
        assert hessian is not None
        hessian = hessian.copy()
        hessian[1, 2] = hessian[2, 1] = hessian[1, 2] / 2
        return value, gradient, hessian

    bg_params, gg_params = np.array([0.243, 4.414, 0.793, 2.426]), np.array([6.25, 3.74, 15.44])
    assert _hessian_matches(lambda p: bg._loglik_sums(p, TRANSACTIONS, hessian=True), bg_params)
    assert not _hessian_matches(broken_bg, bg_params)
    assert _hessian_matches(lambda p: gg._loglik_sums(p, SPEND, hessian=True), gg_params)
    assert not _hessian_matches(broken_gg, gg_params)


# -- the fits -----------------------------------------------------------------------------------


def _same_fit(a: _fit.LikelihoodModel, b: _fit.LikelihoodModel) -> bool:
    """Estimates to 1e-6 and standard errors to 1e-4 relative, log-likelihoods to 1e-10."""
    return bool(
        np.allclose(a.params, b.params, rtol=1e-6, atol=0)
        and np.allclose(
            list(a.standard_errors_.values()), list(b.standard_errors_.values()), rtol=1e-4
        )
        and abs(a.log_likelihood_ - b.log_likelihood_) <= 1e-10 * abs(a.log_likelihood_)
    )


class _LbfgsBG(BGNBD):
    _analytic_hessian = False


class _LbfgsGG(GammaGamma):
    _analytic_hessian = False


def test_newton_fits_equal_lbfgs_fits_on_cdnow(cdnow: Histories) -> None:
    """FHL 2005 section 4 (r 0.243, alpha 4.414, a 0.793, b 2.426; -9582.4) and note 025
    (p 6.25, q 3.74, gamma 15.44), by Newton's method and by L-BFGS-B with a Hessian of
    differences; negative control: estimates 1e-5 off fail the comparison."""
    newton, lbfgs = BGNBD().fit(cdnow), _LbfgsBG().fit(cdnow)
    assert newton.diagnostics_ is not None and lbfgs.diagnostics_ is not None
    assert newton.diagnostics_.status.startswith("Newton")
    assert lbfgs.diagnostics_.status.startswith("L-BFGS-B")
    assert _same_fit(newton, lbfgs)
    assert [round(v, 3) for v in newton.params] == [0.243, 4.414, 0.793, 2.426]
    assert round(newton.log_likelihood_, 1) == -9582.4
    spend, spend_lbfgs = GammaGamma().fit(cdnow), _LbfgsGG().fit(cdnow)
    assert _same_fit(spend, spend_lbfgs)
    assert [round(v, 2) for v in spend.params] == [6.25, 3.74, 15.44]
    off = BGNBD.from_params(**{k: v * (1 + 1e-5) for k, v in newton.params_.items()})
    off.standard_errors_ = newton.standard_errors_
    off.log_likelihood_ = newton.log_likelihood_
    assert not _same_fit(newton, off)


def test_sample_started_fits_equal_the_plain_fits(
    cdnow: Histories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With samples of about 150 patterns the CDNOW fits take the paths of large data
    (Newton from the sample's estimate; quasi-Newton steps with the sample's Hessian for
    Pareto/NBD) and reach the plain fits' estimates (FHL 2005: Pareto/NBD r 0.553,
    s 0.606)."""
    plain = [model().fit(cdnow) for model in (BGNBD, MBGNBD, ParetoNBD, GammaGamma)]
    monkeypatch.setattr(_fit, "_SUBSAMPLE", 150)
    sampled = [model().fit(cdnow) for model in (BGNBD, MBGNBD, ParetoNBD, GammaGamma)]
    for a, b in zip(plain, sampled, strict=True):
        assert a.diagnostics_ is not None and b.diagnostics_ is not None
        assert "pattern" not in a.diagnostics_.status
        assert "pattern" in b.diagnostics_.status, b.diagnostics_.status
        assert _same_fit(a, b), (type(a).__name__, a.params, b.params)
    assert sampled[2].diagnostics_ is not None
    assert sampled[2].diagnostics_.status.startswith("quasi-Newton")
    assert [round(v, 3) for v in sampled[2].params[[0, 2]]] == [0.553, 0.606]


def test_a_failed_newton_fit_falls_back_to_lbfgs(
    cdnow: Histories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Newton search that does not converge (here: no steps allowed) leaves the fit to
    L-BFGS-B from the deterministic start, with the same estimate."""
    plain = BGNBD().fit(cdnow)
    real = _fit.newton_minimize
    monkeypatch.setattr(
        _fit, "newton_minimize", lambda f, t, **k: real(f, t, **{**k, "max_steps": 0})
    )
    model = BGNBD().fit(cdnow)
    assert model.diagnostics_ is not None
    assert model.diagnostics_.status.startswith("L-BFGS-B")
    assert _same_fit(model, plain)


# -- Newton's method --------------------------------------------------------------------------


def test_newton_descends_from_a_concave_region() -> None:
    """f = x^4 - 2x^2 from x = 0.1, where f'' < 0: the modified step descends, to x = 1;
    negative control: the plain Newton step there goes uphill, towards the maximum at 0."""

    def f(t: Array) -> tuple[float, Array, Array]:
        x = float(t[0])
        return x**4 - 2 * x**2, np.array([4 * x**3 - 4 * x]), np.array([[12 * x**2 - 4]])

    start = np.array([0.1])
    result = newton_minimize(f, start, bound=10.0, gtol=1e-12)
    assert result.converged and abs(result.theta[0] - 1.0) < 1e-12
    value, gradient, hessian = f(start)
    plain = start - np.linalg.solve(hessian, gradient)
    assert f(plain)[0] > value


def test_newton_reports_instead_of_raising() -> None:
    """A minimum beyond the box ends on the bound; a non-finite start is reported."""
    slope = newton_minimize(
        lambda t: (float(np.exp(-t[0])), -np.exp(-t), np.exp(-t)[:, None]),
        np.array([0.0]),
        bound=5.0,
        gtol=1e-12,
    )
    assert not slope.converged and slope.message == "reached the bound"
    broken = newton_minimize(
        lambda t: (float("nan"), t, np.eye(1)), np.array([0.0]), bound=5.0, gtol=1e-12
    )
    assert not broken.converged and broken.message == "not finite at the start"


def test_bfgs_updates_refine_an_approximate_hessian() -> None:
    """A quadratic with curvatures 1 and 10 and a start Hessian 30% off in each: with BFGS
    updates far fewer steps reach 1e-12 than with the start Hessian kept (the negative
    control, which converges only linearly)."""
    exact = np.diag([1.0, 10.0])
    rough = np.diag([1.3, 7.0])

    def f(t: Array) -> tuple[float, Array, Array]:
        return float(t @ exact @ t) / 2, exact @ t, rough

    updated = newton_minimize(f, np.array([1.0, 1.0]), bound=10.0, gtol=1e-12, update=True)
    kept = newton_minimize(f, np.array([1.0, 1.0]), bound=10.0, gtol=1e-12)
    assert updated.converged and kept.converged
    assert 2 * updated.steps < kept.steps  # 8 steps against 36
