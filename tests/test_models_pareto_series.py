"""The Pareto/NBD hypergeometric tail by the positive series, against 40-digit arithmetic.

``stickykit.models._pareto_series`` evaluates :math:`\\ln G(u)` (Fader & Hardie 2005, "A note
on deriving the Pareto/NBD model and related expressions", eqs. 18-20) by Pfaff's
transformation of the Gauss function into a series of positive terms, with coefficients per
frequency. Reference: ``mpmath.hyp2f1`` at 40 digits for the value, central differences of it at 40 digits for
the gradient; the quadrature of ``stickykit.models._pareto_integral`` on the overlap; and the
tail pairs against a plain ``compress`` of all pairs.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit.models import _pareto_series
from stickykit.models._histories import compress
from stickykit.models._pareto_integral import log_tail, quadrature_log_tail
from stickykit.models._pareto_series import MAX_Z, series_log_tail, series_z
from stickykit.models.paretonbd import TailPairs

Array = np.ndarray
mpmath.mp.dps = 40


def reference_log_g(params: Array, x: float, u: float) -> mpmath.mpf:
    """ln G(u) = ln[2F1(e_q, n; n + 1; -c) / (n (p + u)^n)] at 40 digits (note eq. 19)."""
    r, alpha, s, beta = (mpmath.mpf(v) for v in params)
    p, q = (alpha, beta) if alpha <= beta else (beta, alpha)
    e_q = s + 1 if alpha <= beta else r + x
    n = r + s + x
    c = (q - p) / (p + u)
    return mpmath.log(mpmath.hyp2f1(e_q, n, n + 1, -c) / n) - n * mpmath.log(p + u)


def reference_gradient(params: Array, x: float, u: float) -> Array:
    """Central differences at 40 digits with step 1e-15 (truncation 1e-30, rounding 1e-25)."""
    exact = [mpmath.mpf(float(v)) for v in params]
    step = mpmath.mpf("1e-15")

    def at(j: int, shift: mpmath.mpf) -> mpmath.mpf:
        moved = [v + shift if i == j else v for i, v in enumerate(exact)]
        return reference_log_g(np.array(moved), x, u)

    return np.array([float((at(j, step) - at(j, -step)) / (2 * step)) for j in range(4)])


log_uniform = st.floats(-4.0, 2.5).map(np.exp)
params_strategy = st.tuples(
    log_uniform, st.floats(-3.0, 5.0).map(np.exp), log_uniform, st.floats(-3.0, 5.0).map(np.exp)
).map(np.array)
frequency = st.one_of(st.just(0.0), st.integers(1, 400).map(float))
lower = st.one_of(st.just(0.0), st.floats(-5.0, 6.0).map(np.exp))


#: alpha and beta within a factor of five: z <= 0.8 for every u, the series' domain
series_params = st.tuples(log_uniform, st.floats(-3.0, 5.0), log_uniform, st.floats(-1.6, 1.6)).map(
    lambda v: np.array([v[0], np.exp(v[1]), v[2], np.exp(v[1] + v[3])])
)


@given(params=series_params, x=frequency, u=lower)
def test_series_matches_forty_digits(params: Array, x: float, u: float) -> None:
    """Value to 1e-13 and gradient to 1e-11 relative wherever z <= 0.8, any x up to 400."""
    assert series_z(params, np.array([u]))[0] <= MAX_Z
    log_g, gradient = series_log_tail(params, np.array([x]), np.array([u]))
    want = float(reference_log_g(params, x, u))
    assert abs(log_g[0] - want) <= 1e-13 * max(1.0, abs(want))
    want_gradient = reference_gradient(params, x, u)
    assert np.all(
        np.abs(gradient[0] - want_gradient) <= 1e-11 * np.maximum(1, np.abs(want_gradient))
    )


def test_truncated_series_fails_the_forty_digit_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: the series cut at half its terms (z = 0.45) fails the check."""
    params, x, u = np.array([0.5, 1.0, 0.3, 2.0]), np.array([3.0]), np.array([0.2])
    assert series_z(params, u)[0] > 0.4
    want = float(reference_log_g(params, 3.0, 0.2))
    full, _ = series_log_tail(params, x, u)
    assert abs(full[0] - want) <= 1e-13 * abs(want)
    real = _pareto_series._terms
    monkeypatch.setattr(_pareto_series, "_terms", lambda *a: np.maximum(real(*a) // 2, 1))
    half, _ = series_log_tail(params, x, u)
    assert abs(half[0] - want) > 1e-13 * abs(want)


@given(params=params_strategy)
def test_series_and_quadrature_agree_and_log_tail_takes_both(params: Array) -> None:
    """The quadrature (1e-9; gradient 1e-2 away from x = u = 0) agrees everywhere; ``log_tail`` uses the series
    where z <= 0.8 and the quadrature elsewhere, in one call, rows in any order."""
    x = np.array([40.0, 0.0, 3.0, 0.0, 1.0, 3.0])
    u = np.array([1.0, 0.0, 50.0, 7.0, 0.5, 0.01])
    series = series_z(params, u) <= MAX_Z
    got, grad = log_tail(params, x, u)
    quadrature, quadrature_grad = quadrature_log_tail(params, x, u)
    assert np.all(np.abs(got - quadrature) <= 1e-8 * np.maximum(1, np.abs(quadrature)))
    if series.any():
        exact, exact_grad = series_log_tail(params, x[series], u[series])
        assert np.array_equal(got[series], exact) and np.array_equal(grad[series], exact_grad)
    if (~series).any():
        assert np.array_equal(got[~series], quadrature[~series])
    # the quadrature's gradient is the less accurate one at x = 0, u = 0: there it is off in
    # d/d alpha and d/d beta by an error that grows as r and s shrink (r = s = e^-4, alpha =
    # beta = 1: d/d beta -0.0192 against the exact -0.0360), so that row is checked against
    # the forty-digit reference instead where the series serves it, and the others against the
    # quadrature
    at_origin = (x == 0) & (u == 0)
    scale = np.maximum(1, np.abs(quadrature_grad))
    assert np.all((np.abs(grad - quadrature_grad) <= 1e-2 * scale)[~at_origin])
    by_series = at_origin & series
    if by_series.any():
        want = reference_gradient(params, 0.0, 0.0)
        assert np.allclose(grad[by_series], want, rtol=1e-8)


def test_series_gradient_where_the_quadrature_is_off() -> None:
    """x = 0, u = 0, alpha = beta = 1 (r = e^-2, s = e^-3): the series' gradient has the
    forty digits (to 1e-12); the quadrature's d/d alpha is off by 3.5e-4 relative."""
    params = np.exp(np.array([-2.0, 0.0, -3.0, 0.0]))
    want = reference_gradient(params, 0.0, 0.0)
    _, series = series_log_tail(params, np.zeros(1), np.zeros(1))
    _, quadrature = quadrature_log_tail(params, np.zeros(1), np.zeros(1))
    assert np.allclose(series[0], want, rtol=1e-12, atol=0)
    assert not np.allclose(quadrature[0], want, rtol=1e-5, atol=0)


def test_equal_alpha_and_beta_need_one_term() -> None:
    """alpha = beta: z = 0, G(u) = (alpha + u)^-n / n exactly."""
    params = np.array([0.7, 3.0, 1.3, 3.0])
    log_g, _ = series_log_tail(params, np.array([0.0, 5.0]), np.array([0.0, 2.0]))
    n = np.array([0.7 + 1.3, 0.7 + 1.3 + 5.0])
    want = -n * np.log(np.array([3.0, 5.0])) - np.log(n)
    assert np.allclose(log_g, want, rtol=1e-15, atol=0)


history = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=30
)


@given(rows=history, shuffle=st.booleans())
def test_tail_pairs_map_every_pattern_to_its_pairs(
    rows: list[tuple[int, int, int]], shuffle: bool
) -> None:
    """Every open pattern's start and end pairs hold its (x, t_x) and (x, T); each half is
    free of repeats and sorted; the same set as a plain compress of all the pairs. Sorted
    input (as from compress) skips a sort, shuffled input does not."""
    x = np.array([float(a) for a, _, _ in rows])
    t_x = np.array([float(min(b, c)) for _, b, c in rows])
    big_t = np.array([float(max(b, c)) for _, b, c in rows])
    if not shuffle:
        p = compress([x, t_x, big_t], np.ones(len(x)))
        x, t_x, big_t = p.columns
    pairs = TailPairs.build(x, t_x, big_t)
    is_open = t_x < big_t
    assert np.array_equal(pairs.open, is_open)
    assert np.array_equal(pairs.x[pairs.start], x[is_open])
    assert np.array_equal(pairs.u[pairs.start], t_x[is_open])
    assert np.array_equal(pairs.x[pairs.end], x[is_open])
    assert np.array_equal(pairs.u[pairs.end], big_t[is_open])
    k = pairs.n_start
    for half in (slice(0, k), slice(k, None)):
        keys = list(zip(pairs.x[half].tolist(), pairs.u[half].tolist(), strict=True))
        assert keys == sorted(set(keys))
    both = compress(
        [np.r_[x[is_open], x[is_open]], np.r_[t_x[is_open], big_t[is_open]]],
        np.ones(2 * int(is_open.sum())),
    )
    assert set(zip(pairs.x.tolist(), pairs.u.tolist(), strict=True)) == set(
        zip(both.columns[0].tolist(), both.columns[1].tolist(), strict=True)
    )
