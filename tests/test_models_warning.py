"""Churn early warning: risk, recency and frequency signals, alert lists, backtests.

Most tests use ``FakeMBG``, a small transaction model whose P(alive) is the closed form of
the MBG/NBD (Batislam, Denizel & Filiztekin 2007, with the erratum of Wagner & Hoppe 2008)
and whose ``fit`` only sets given parameters, so the warning logic is tested on its own. The
CDNOW tests at the end use the real models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.stats import binom

from stickykit.datasets import load_cdnow
from stickykit.errors import InsufficientDataError, NotFittedError, ValidationError
from stickykit.frames import EventFrame
from stickykit.models._histories import Histories
from stickykit.models._transactions import TransactionModel
from stickykit.models.bgnbd import BGNBD
from stickykit.models.data import CalibrationHoldout, calibration_holdout, cdnow_histories
from stickykit.models.mbgnbd import MBGNBD
from stickykit.models.paretonbd import ParetoNBD
from stickykit.models.warning import (
    AlertList,
    ChurnRisk,
    backtest,
    churn_alerts,
    churn_risk,
    recent_frequency,
)
from stickykit.stats.classification import auc, compare_auc, top_decile_lift

MBG_PARAMS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def mbg_p_alive(params: NDArray[np.float64], x: Any, t_x: Any, big_t: Any) -> NDArray:
    """MBG/NBD: 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), in log space."""
    r, alpha, a, b = params
    log_odds = np.log(a / (b + x)) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    return np.asarray(1.0 / (1.0 + np.exp(log_odds)))


class FakeMBG(TransactionModel):
    """P(alive) of the MBG/NBD; ``fit`` sets the parameters it was built with."""

    param_names = ("r", "alpha", "a", "b")
    reference = "test stand-in"

    def __init__(self, params: dict[str, float] | None = None) -> None:
        super().__init__()
        self.given = params or MBG_PARAMS

    def fit(self, histories: Histories) -> FakeMBG:
        self.params_ = dict(self.given)
        self.time_unit_ = histories.time_unit
        return self

    def _p_alive(self, params: Any, x: Any, t_x: Any, big_t: Any) -> NDArray[np.float64]:
        return mbg_p_alive(params, x, t_x, big_t)

    def _conditional_expected(self, params: Any, t: float, x: Any, t_x: Any, big_t: Any) -> Any:
        raise NotImplementedError

    def _expected(self, params: Any, t: Any) -> Any:
        raise NotImplementedError

    def _pmf(self, params: Any, n: Any, t: float) -> Any:
        raise NotImplementedError

    def _conditional_pmf(
        self, params: Any, n: float, t: float, x: Any, t_x: Any, big_t: Any
    ) -> Any:
        """n = 0 only: dead, or alive with no purchase, (alpha+T)/(alpha+T+t))^(r+x)."""
        if n != 0:
            raise NotImplementedError
        r, alpha = params[0], params[1]
        alive = self._p_alive(params, x, t_x, big_t)
        return 1 - alive + alive * ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)

    def _loglik(self, params: Any, data: Any) -> Any:
        raise NotImplementedError

    def _start(self, data: Any) -> Any:
        raise NotImplementedError


def fitted() -> FakeMBG:
    return FakeMBG.from_params(**MBG_PARAMS)


def histories(**kw: Any) -> Histories:
    return Histories.from_arrays(**kw)


# -- risk and signals -------------------------------------------------------------------------


def test_risk_is_one_minus_p_alive_and_gap_ratio_by_hand():
    """x = 4 repeat purchases over t_x = 8 weeks: usual gap 2; T - t_x = 30: ratio 15.

    x = 4, t_x = 30, T = 38: usual 7.5, current 8, ratio 16/15. x = 0: no usual gap.
    """
    h = histories(
        frequency=[0, 4, 4],
        recency=[0.0, 8.0, 30.0],
        age=[38.0, 38.0, 38.0],
        customer_id=["a", "b", "c"],
    )
    r = churn_risk(fitted(), h)
    p = mbg_p_alive(np.array(list(MBG_PARAMS.values())), h.frequency, h.recency, h.age)
    np.testing.assert_allclose(r.p_alive, p, rtol=1e-12)
    np.testing.assert_allclose(r.risk, 1 - p, rtol=1e-12)
    np.testing.assert_allclose(r.usual_gap, [np.nan, 2.0, 7.5])
    np.testing.assert_allclose(r.current_gap, [38.0, 30.0, 8.0])
    np.testing.assert_allclose(r.gap_ratio, [np.nan, 15.0, 16 / 15])
    assert r.customer_id.tolist() == ["a", "b", "c"] and r.n == len(r) == 3
    assert r.model == "FakeMBG" and "1 - P(alive" in r.method
    assert r.recent_frequency is None and r.frequency_ratio is None
    assert r.risk_low is None


def test_frequency_drop_by_hand():
    """x = 8, k = 0 in the last w = 13 of T = 39 weeks: earlier rate 8/26, expected 4,
    ratio 0; P(Binomial(8, 1/3) <= 0) = (2/3)^8.

    x = 8, k = 3, t_x = 38: expected 13 * 5/26 = 2.5, ratio 1.2, tail P(Bin(8, 1/3) <= 3).
    A customer younger than the window (T = 10) has no earlier period: NaN.
    """
    h = histories(frequency=[8, 8, 2], recency=[20.0, 38.0, 9.0], age=[39.0, 39.0, 10.0])
    r = churn_risk(fitted(), h, recent_frequency=[0, 3, 2], recent_window=13.0)
    np.testing.assert_allclose(r.expected_recent, [4.0, 2.5, np.nan])
    np.testing.assert_allclose(r.frequency_ratio, [0.0, 1.2, np.nan])
    np.testing.assert_allclose(
        r.drop_probability, [(2 / 3) ** 8, binom.cdf(3, 8, 1 / 3), np.nan], rtol=1e-12
    )
    assert r.recent_window == 13.0 and "Binomial" in r.method


def test_no_repeat_and_no_expected_purchase():
    h = histories(frequency=[0], recency=[0.0], age=[39.0])
    r = churn_risk(fitted(), h, recent_frequency=[0], recent_window=13.0)
    assert r.expected_recent.tolist() == [0.0]
    assert np.isnan(r.frequency_ratio[0]) and r.drop_probability[0] == 1.0


def test_risk_interval_needs_a_covariance():
    h = histories(frequency=[2], recency=[5.0], age=[10.0])
    with pytest.raises(NotFittedError, match="no covariance"):
        churn_risk(fitted(), h, interval=True)
    model = fitted()
    model.log_covariance_ = np.eye(4) * 0.01
    r = churn_risk(model, h, interval=True)
    assert r.risk_low is not None and r.risk_high is not None
    assert 0 <= r.risk_low[0] < r.risk[0] < r.risk_high[0] <= 1
    assert "delta method" in r.method


def test_refuses_other_objects_and_unfitted_models():
    h = histories(frequency=[1], recency=[1.0], age=[2.0])
    with pytest.raises(TypeError, match="TransactionModel"):
        churn_risk(object(), h)  # type: ignore[arg-type]
    with pytest.raises(NotFittedError):
        churn_risk(FakeMBG(), h)


def test_refuses_bgnbd_unless_allowed():
    """BG/NBD gives P(alive) = 1 to every customer without a repeat purchase."""
    model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    h = histories(frequency=[0, 0, 3], recency=[0.0, 0.0, 5.0], age=[1.0, 39.0, 39.0])
    with pytest.raises(ValueError, match=r"P\(alive\) = 1.*allow_bgnbd=True"):
        churn_risk(model, h)
    r = churn_risk(model, h, allow_bgnbd=True)
    assert r.p_alive[:2].tolist() == [1.0, 1.0] and r.p_alive[2] < 1


def test_mbg_stand_in_is_not_mistaken_for_bgnbd():
    r = churn_risk(fitted(), histories(frequency=[0], recency=[0.0], age=[39.0]))
    assert r.p_alive[0] < 1


def test_time_unit_mismatch_is_refused():
    h = histories(frequency=[1], recency=[1.0], age=[2.0], time_unit="day")
    with pytest.raises(ValueError, match="weeks but the histories are in days"):
        churn_risk(fitted(), h)


def test_window_arguments_are_checked():
    h = histories(frequency=[3, 2], recency=[30.0, 5.0], age=[39.0, 39.0], customer_id=[5, 6])
    model = fitted()
    with pytest.raises(ValueError, match="together"):
        churn_risk(model, h, recent_frequency=[1, 0])
    with pytest.raises(ValueError, match="recent_window"):
        churn_risk(model, h, recent_frequency=[1, 0], recent_window=0.0)
    with pytest.raises(ValidationError, match="length 2"):
        churn_risk(model, h, recent_frequency=[1], recent_window=13.0)
    with pytest.raises(ValidationError, match=r"@ row 0: 4.0 .*at most frequency"):
        churn_risk(model, h, recent_frequency=[4, 0], recent_window=13.0)
    with pytest.raises(ValidationError, match=r"@ row 1.*before the window \(customer 6\)"):
        churn_risk(model, h, recent_frequency=[1, 1], recent_window=13.0)
    with pytest.raises(ValidationError, match=r"@ row 0.*falls in the window"):
        churn_risk(model, h, recent_frequency=[0, 0], recent_window=13.0)
    with pytest.raises(ValidationError, match="whole number"):
        churn_risk(model, h, recent_frequency=[1.5, 0], recent_window=13.0)


# -- properties of the signals ----------------------------------------------------------------


@st.composite
def customer_histories(draw: st.DrawFn) -> Histories:
    n = draw(st.integers(1, 25))
    ages = draw(st.lists(st.integers(0, 52), min_size=n, max_size=n))
    x, t_x, big_t = [], [], []
    for age in ages:
        repeat = draw(st.integers(0, 12)) if age > 0 else 0
        last = draw(st.integers(1, age)) if repeat else 0
        x.append(repeat)
        t_x.append(float(last))
        big_t.append(float(age))
    ids = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True))
    return histories(frequency=x, recency=t_x, age=big_t, customer_id=ids)


def real_signals(h: Histories) -> tuple[NDArray, NDArray]:
    r = churn_risk(fitted(), h)
    return r.risk, r.gap_ratio


def broken_signals(h: Histories) -> tuple[NDArray, NDArray]:
    """Odds of having left, (1 - p)/p, as the risk, and gap over (t_x + 1)/x: unbounded."""
    r = churn_risk(fitted(), h)
    with np.errstate(divide="ignore"):
        gap = (h.age - h.recency) * h.frequency / (h.recency + 1.0)
    return r.risk / r.p_alive, gap


def check_signals(signals: Any, h: Histories) -> bool:
    """Risk in [0, 1]; gap ratio finite and >= 0 for repeat buyers, NaN for the others."""
    risk, gap = signals(h)
    repeat = h.frequency > 0
    return bool(
        np.all((risk >= 0) & (risk <= 1))
        and np.all(np.isfinite(gap[repeat]) & (gap[repeat] >= 0))
        and np.all(np.isnan(gap[~repeat]))
    )


@given(customer_histories())
def test_signals_are_bounded_and_finite(h):
    assert check_signals(real_signals, h)


def test_signals_negative_control():
    h = histories(frequency=[0, 5], recency=[0.0, 2.0], age=[39.0, 39.0])
    assert not check_signals(broken_signals, h)


def simulate_constant_rate(
    n: int, rate: float, big_t: float, w: float, seed: int
) -> tuple[Histories, NDArray[np.int64]]:
    """Poisson repeat purchases at one constant rate on (0, T]; k of them in (T - w, T].

    The last purchase is the maximum of k uniforms on the window (if k > 0), else of the
    earlier ones on (0, T - w]: a maximum of m uniforms is U^(1/m).
    """
    rng = np.random.default_rng(seed)
    early = rng.poisson(rate * (big_t - w), n)
    k = rng.poisson(rate * w, n)
    u = rng.random(n)
    with np.errstate(divide="ignore"):
        in_window = big_t - w + w * u ** (1 / np.maximum(k, 1))
        before = (big_t - w) * u ** (1 / np.maximum(early, 1))
    t_x = np.where(k > 0, in_window, np.where(early > 0, before, 0.0))
    h = histories(frequency=early + k, recency=t_x, age=np.full(n, big_t))
    return h, k


def share_alerted(tail: NDArray[np.float64], level: float) -> float:
    return float(np.mean(tail <= level))


def broken_tail(h: Histories, k: NDArray[np.int64], w: float) -> NDArray[np.float64]:
    """Binomial share w/(T - w) (the window over the earlier period) instead of w/T."""
    return np.asarray(binom.cdf(k, h.frequency, w / (h.age - w)))


def test_drop_probability_is_valid_when_the_rate_is_constant():
    """Under a constant purchase rate the conditional binomial test holds its level: at most
    5% of customers have drop_probability <= 0.05 (the test is discrete, so conservative).
    Checked with 20,000 simulated customers (binomial standard error of a 5% share: 0.15%).
    Negative control: the share w/(T - w) rejects far too often.
    """
    w = 13.0
    h, k = simulate_constant_rate(20_000, rate=0.4, big_t=39.0, w=w, seed=3)
    r = churn_risk(fitted(), h, recent_frequency=k, recent_window=w)
    assert share_alerted(r.drop_probability, 0.05) <= 0.05 + 0.005
    assert share_alerted(broken_tail(h, k, w), 0.05) > 0.1


# -- alerts -----------------------------------------------------------------------------------


def test_alert_reasons_and_order():
    """Ids 7 and 3 share a history (equal risk): 3 comes first. 11 bought once, 2 weeks
    after the first purchase, 37 weeks ago: P(alive) 0.18 and 18.5 times the usual gap.
    9 made 16 repeat purchases, only 1 in the last 13 of 39 weeks against 13 * 15/26 = 7.5
    at the earlier rate; P(Binomial(16, 1/3) <= 1) = 0.0137. 5 triggers no rule.
    """
    h = histories(
        frequency=[3, 3, 1, 16, 4],
        recency=[9.0, 9.0, 2.0, 36.0, 38.0],
        age=[39.0, 39.0, 39.0, 39.0, 39.0],
        customer_id=[7, 3, 11, 9, 5],
    )
    r = churn_risk(fitted(), h, recent_frequency=[0, 0, 0, 1, 2], recent_window=13.0)
    alerts = churn_alerts(r)
    assert isinstance(alerts, AlertList)
    assert alerts.customer_id.tolist() == [3, 7, 11, 9]
    assert alerts.n == 5 and len(alerts) == 4
    p3 = r.p_alive[1]
    assert alerts.reason[0] == (
        f"P(alive) {p3:.2f} < 0.30; no purchase for 10.0x the usual gap (30.0 vs 3.0 weeks)"
    )
    assert alerts.reason[2] == (
        "P(alive) 0.18 < 0.30; no purchase for 18.5x the usual gap (37.0 vs 2.0 weeks)"
    )
    assert alerts.reason[3] == (
        "purchases down to 0.13x the earlier rate (1 in the last 13 weeks vs 7.5 expected, "
        f"P = {binom.cdf(1, 16, 1 / 3):.3f})"
    )
    assert alerts.by_frequency.tolist() == [False, False, False, True]
    assert alerts.by_gap.tolist() == [True, True, True, False]
    assert alerts.by_p_alive.tolist() == [True, True, True, False]
    assert np.all(np.diff(alerts.risk) <= 0)
    assert "ties by customer id" in alerts.method


def test_thresholds_switch_rules_off_and_are_checked():
    h = histories(frequency=[3, 0], recency=[9.0, 0.0], age=[39.0, 39.0])
    r = churn_risk(fitted(), h)
    only_gap = churn_alerts(r, p_alive_threshold=None)
    assert only_gap.customer_id.tolist() == [0]
    assert only_gap.reason.tolist() == ["no purchase for 10.0x the usual gap (30.0 vs 3.0 weeks)"]
    assert len(churn_alerts(r, p_alive_threshold=None, gap_threshold=None)) == 0
    assert churn_alerts(r, gap_threshold=11.0).by_gap.tolist() == [False]
    with pytest.raises(ValueError, match="p_alive_threshold"):
        churn_alerts(r, p_alive_threshold=1.5)
    with pytest.raises(ValueError, match="gap_threshold"):
        churn_alerts(r, gap_threshold=-1.0)


def test_drop_ratio_alone_when_probability_is_off():
    h = histories(frequency=[3], recency=[20.0], age=[39.0])
    r = churn_risk(fitted(), h, recent_frequency=[0], recent_window=13.0)
    assert len(churn_alerts(r, p_alive_threshold=None, gap_threshold=None)) == 0
    off = churn_alerts(r, p_alive_threshold=None, gap_threshold=None, drop_probability=None)
    assert off.by_frequency.tolist() == [True]


def test_duplicate_ids_are_refused():
    h = histories(frequency=[0, 0], recency=[0.0, 0.0], age=[39.0, 39.0], customer_id=[4, 4])
    with pytest.raises(ValidationError, match=r"customer_id @ row 0: 4 .*unique"):
        churn_alerts(churn_risk(fitted(), h))


def test_text_table():
    h = histories(frequency=[1, 1, 1], recency=[2.0] * 3, age=[39.0, 30.0, 20.0])
    text = churn_alerts(churn_risk(fitted(), h)).to_text(limit=2)
    lines = text.splitlines()
    assert lines[0].startswith("customer  risk   reasons")
    assert lines[1].startswith("0         0.")
    assert lines[-1] == "(3 alerts of 3 customers screened; 1 not shown)"
    assert str(churn_alerts(churn_risk(fitted(), h))).count("\n") == 3


def broken_alert_order(risk: ChurnRisk) -> list[Any]:
    """Sort by risk alone, ties left in row order."""
    flagged = np.flatnonzero(risk.p_alive < 0.3)
    return risk.customer_id[flagged[np.argsort(-risk.risk[flagged], kind="stable")]].tolist()


def real_alert_order(risk: ChurnRisk) -> list[Any]:
    return churn_alerts(risk, gap_threshold=None).customer_id.tolist()


def check_row_order_free(order_of: Any, h: Histories, perm: NDArray[np.intp]) -> bool:
    return bool(order_of(churn_risk(fitted(), h)) == order_of(churn_risk(fitted(), h.take(perm))))


@given(customer_histories(), st.randoms(use_true_random=False))
def test_alert_list_ignores_row_order(h, rnd):
    perm = np.arange(len(h))
    rnd.shuffle(perm)
    assert check_row_order_free(real_alert_order, h, perm)
    full = churn_alerts(churn_risk(fitted(), h))
    permuted = churn_alerts(churn_risk(fitted(), h.take(perm)))
    assert full.reason.tolist() == permuted.reason.tolist()


def test_alert_row_order_negative_control():
    h = histories(frequency=[1, 1], recency=[2.0, 2.0], age=[39.0, 39.0], customer_id=[2, 1])
    assert not check_row_order_free(broken_alert_order, h, np.array([1, 0]))


# -- backtest ---------------------------------------------------------------------------------


def small_split(n: int = 400, seed: int = 1) -> CalibrationHoldout:
    """Constant-rate buyers of whom a share drops out at a random time; holdout counts."""
    rng = np.random.default_rng(seed)
    big_t = 39.0
    h, _ = simulate_constant_rate(n, rate=0.3, big_t=big_t, w=13.0, seed=seed)
    alive = rng.random(n) < np.where(h.frequency > 2, 0.8, 0.4)
    holdout = np.where(alive, rng.poisson(0.3 * 39.0, n), 0)
    return CalibrationHoldout(
        h, holdout.astype(np.int64), np.zeros(n), 39.0, dt.date(2024, 1, 1), dt.date(2024, 4, 1)
    )


def test_backtest_reports_auc_lift_and_naive_comparison():
    split = small_split()
    b = backtest(FakeMBG, split)
    churned = split.holdout_frequency == 0
    assert b.churned.tolist() == churned.tolist()
    assert (b.n, b.n_churned) == (400, int(churned.sum()))
    assert b.base_rate == pytest.approx(churned.mean())
    expected = auc(1 - b.risk.p_alive, churned)
    assert (b.auc.value, b.auc.se) == (expected.value, expected.se)
    assert b.auc is b.p_alive.auc and b.lift is b.p_alive.lift
    naive = split.calibration.age - split.calibration.recency
    assert b.naive.auc.value == auc(naive, churned).value
    assert b.naive.versus_naive is None
    assert b.top_decile_lift.value == top_decile_lift(b.risk.risk, churned).value
    assert b.naive.top_decile_lift.value == top_decile_lift(naive, churned).value
    versus = b.p_alive.versus_naive
    assert versus is not None
    assert versus.difference == compare_auc(b.risk.risk, naive, churned).difference
    assert b.lift.lift[-1] == 1.0 and len(b.lift.fractions) == 10
    assert b.model.params_ == MBG_PARAMS


def test_backtest_no_purchase_score_is_the_models_zero_probability():
    """P(Y(39) = 0) = 1 - p + p ((alpha+T)/(alpha+T+39))^(r+x) for the MBG/NBD stand-in."""
    split = small_split()
    b = backtest(FakeMBG, split)
    h = split.calibration
    r, alpha = MBG_PARAMS["r"], MBG_PARAMS["alpha"]
    p = b.risk.p_alive
    zero = 1 - p + p * ((alpha + h.age) / (alpha + h.age + 39.0)) ** (r + h.frequency)
    np.testing.assert_allclose(b.no_purchase.scores, zero, rtol=1e-12)
    assert b.risk.p_no_purchase is not None and b.risk.horizon == 39.0
    assert b.no_purchase.name == "P(no purchase in 39 weeks)"
    assert b.no_purchase.auc.value == auc(zero, churned := split.holdout_frequency == 0).value
    assert b.no_purchase.top_decile_lift.value == top_decile_lift(zero, churned).value


def test_backtest_text():
    b = backtest(FakeMBG, small_split())
    lines = str(b).splitlines()
    assert lines[0].startswith("FakeMBG backtest: n = 400, churned (no purchase in 39 weeks)")
    assert lines[1].lstrip().startswith("1 - P(alive)")
    assert lines[2].lstrip().startswith("P(no purchase in 39 weeks)")
    assert lines[3].lstrip().startswith("naive T - t_x")
    assert "vs naive" in lines[1] and "vs naive" not in lines[3]
    assert "label churned = no purchase" in b.method


def test_backtest_accepts_a_factory_and_options():
    b = backtest(
        lambda: FakeMBG({"r": 0.5, "alpha": 5.0, "a": 0.9, "b": 1.5}),
        small_split(),
        alpha=0.1,
        fractions=[0.05, 0.5],
    )
    assert b.auc.level == pytest.approx(0.9)
    assert b.lift.fractions.tolist() == [0.05, 0.5]
    assert b.model.params_["alpha"] == 5.0


def test_backtest_refusals():
    split = small_split(50)
    with pytest.raises(TypeError, match="must return a new TransactionModel"):
        backtest(lambda: "model", split)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="refuses a BG/NBD"):
        backtest(BGNBD, split)
    no_holdout = CalibrationHoldout(
        split.calibration,
        split.holdout_frequency,
        split.holdout_monetary,
        0.0,
        dt.date(2024, 1, 1),
        None,
    )
    with pytest.raises(ValueError, match="no holdout period"):
        backtest(FakeMBG, no_holdout)
    short = CalibrationHoldout(
        split.calibration,
        split.holdout_frequency[:-1],
        split.holdout_monetary,
        39.0,
        dt.date(2024, 1, 1),
        None,
    )
    with pytest.raises(ValueError, match="49 holdout counts for 50"):
        backtest(FakeMBG, short)
    h = split.calibration
    weighted = CalibrationHoldout(
        Histories.from_arrays(
            frequency=h.frequency, recency=h.recency, age=h.age, weight=np.full(50, 2.0)
        ),
        split.holdout_frequency,
        split.holdout_monetary,
        39.0,
        dt.date(2024, 1, 1),
        None,
    )
    with pytest.raises(ValueError, match="weights 1"):
        backtest(FakeMBG, weighted)
    everyone = CalibrationHoldout(
        h, np.zeros(50, np.int64), split.holdout_monetary, 39.0, dt.date(2024, 1, 1), None
    )
    with pytest.raises(InsufficientDataError, match="both classes"):
        backtest(FakeMBG, everyone)


def test_backtest_bgnbd_when_allowed():
    """Allowed, the BG/NBD gives risk exactly 0 to every customer without a repeat purchase."""
    b = backtest(BGNBD, cdnow_histories(), allow_bgnbd=True)
    zero = b.risk.frequency == 0
    assert zero.any() and np.all(b.risk.risk[zero] == 0.0)


# -- window counts from events ----------------------------------------------------------------


def small_events() -> EventFrame:
    """Customer 1: days 1, 3, 10, 20 of January (20 twice); customer 2: 15 and 18 January."""
    days = [
        "2024-01-01",
        "2024-01-03",
        "2024-01-10",
        "2024-01-20",
        "2024-01-20",
        "2024-01-15",
        "2024-01-18",
    ]
    return EventFrame(
        event_id=np.arange(7),
        customer_id=np.array([1, 1, 1, 1, 1, 2, 2]),
        timestamp=np.array(days, dtype="datetime64[us]"),
        amount=np.full(7, 5.0),
    )


def test_recent_frequency_by_hand():
    """Calibration to 21 January in days, window 7 days = (14, 21 January]:
    customer 1 bought on the 20th (one day, two purchases): k = 1 of x = 3;
    customer 2 was first seen on the 15th, inside the window: k = x = 1.
    """
    split = calibration_holdout(small_events(), calibration_end="2024-01-21", time_unit="day")
    assert split.calibration.frequency.tolist() == [3, 1]
    k = recent_frequency(small_events(), split, 7.0)
    assert k.tolist() == [1, 1]
    r = churn_risk(fitted_in("day"), split.calibration, recent_frequency=k, recent_window=7.0)
    assert r.expected_recent[0] == pytest.approx(7.0 * 2 / 13.0)
    assert np.isnan(r.expected_recent[1])  # younger than the window


def fitted_in(unit: str) -> FakeMBG:
    return FakeMBG.from_params(time_unit=unit, **MBG_PARAMS)


def test_purchase_on_the_window_start_day_is_before_the_window():
    """First purchase 30 March, second 31 March, calibration to 30 June 2024, weeks: the
    window of 13 weeks starts after 31 March, so k = 0. In floating point
    t_x = 1/7 exceeds T - w = 92/7 - 13, which must not count as inside the window."""
    events = EventFrame(
        event_id=np.arange(2),
        customer_id=np.array([1, 1]),
        timestamp=np.array(["2024-03-30", "2024-03-31"], dtype="datetime64[us]"),
    )
    split = calibration_holdout(events, calibration_end="2024-06-30", kinds=None)
    h = split.calibration
    assert h.recency[0] > h.age[0] - 13.0  # the rounding the tolerance absorbs
    k = recent_frequency(events, split, 13.0, kinds=None)
    assert k.tolist() == [0]
    r = churn_risk(fitted(), h, recent_frequency=k, recent_window=13.0)
    assert r.expected_recent[0] == pytest.approx(13.0 / (92 / 7 - 13.0))


def test_recent_frequency_refusals():
    events = small_events()
    weeks = calibration_holdout(events, calibration_end="2024-01-21", time_unit="week")
    with pytest.raises(ValueError, match="whole number of days"):
        recent_frequency(events, weeks, 0.1)
    days = calibration_holdout(events, calibration_end="2024-01-21", time_unit="day")
    keep = np.array([0, 1, 3, 4, 5, 6])  # customer 1 without the purchase of 10 January
    fewer = EventFrame(
        event_id=events.event_id[keep],
        customer_id=events.customer_id[keep],
        timestamp=events.timestamp[keep],
        amount=events.amount[keep] if events.amount is not None else None,
    )
    with pytest.raises(ValueError, match="do not reproduce the split: customer 1 has 3"):
        recent_frequency(fewer, days, 7.0)


def test_recent_frequency_on_cdnow_passes_the_window_checks():
    """On CDNOW a 13-week window: every count lies in [0, x] and agrees with recency."""
    split = cdnow_histories()
    k = recent_frequency(load_cdnow(sample=True, ids="sample"), split, 13.0)
    h = split.calibration
    assert np.all((k >= 0) & (k <= h.frequency))
    r = churn_risk(fitted(), h, recent_frequency=k, recent_window=13.0)
    in_window = h.recency > h.age - 13.0
    assert np.array_equal(k > 0, in_window & (h.frequency > 0))
    assert np.all(r.drop_probability[np.isfinite(r.drop_probability)] <= 1.0)


def test_tiny_drop_probability_reads_below_one_in_a_thousand():
    """x = 30, none of them in the last 13 of 39 weeks: P = (2/3)^30 = 5.2e-6."""
    h = histories(frequency=[30], recency=[25.0], age=[39.0])
    r = churn_risk(fitted(), h, recent_frequency=[0], recent_window=13.0)
    assert r.drop_probability[0] == pytest.approx((2 / 3) ** 30, rel=1e-10)
    reason = churn_alerts(r, p_alive_threshold=None, gap_threshold=None).reason[0]
    assert reason.endswith("(0 in the last 13 weeks vs 15.0 expected, P < 0.001)")


# -- real models on CDNOW ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow() -> CalibrationHoldout:
    return cdnow_histories()


def test_cdnow_bgnbd_gives_every_non_repeater_p_alive_one(cdnow):
    """FHL (2005): 1,411 of the 2,357 CDNOW customers made no repeat purchase in
    calibration; under the fitted BG/NBD every one of them has P(alive) exactly 1, and no
    repeat buyer does. churn_risk refuses the model for that reason."""
    h = cdnow.calibration
    model = BGNBD().fit(h)
    p = model.probability_alive(h).value
    assert int((h.frequency == 0).sum()) == 1411
    assert np.array_equal(p == 1.0, h.frequency == 0)
    with pytest.raises(ValueError, match="60% of the CDNOW sample"):
        churn_risk(model, h)


def test_cdnow_mbgnbd_backtest(cdnow):
    """MBG/NBD on CDNOW, 39-week holdout (measured: 1 - P(alive) AUC 0.687, TDL 0.98;
    P(no purchase) AUC 0.760, TDL 1.16; naive T - t_x AUC 0.771, TDL 1.27). Checked here:
    the figures are those of the scores, the risk beats chance, the model's own forecast of
    the label beats the risk and comes within 0.05 of the naive ranking, and every lift
    stays under its ceiling 1 / base rate."""
    b = backtest(MBGNBD, cdnow)
    h = cdnow.calibration
    churned = cdnow.holdout_frequency == 0
    assert (b.n, b.n_churned) == (2357, int(churned.sum()))
    zero = b.model.probability_of_transactions(0, 39.0, h)
    np.testing.assert_allclose(b.no_purchase.scores, zero, rtol=1e-12)
    assert b.no_purchase.auc.value == auc(zero, churned).value
    assert b.auc.ci_low > 0.5
    assert b.no_purchase.auc.value > b.auc.value
    assert abs(b.no_purchase.auc.value - b.naive.auc.value) < 0.05
    for check in (b.p_alive, b.no_purchase, b.naive):
        assert np.all(check.lift.lift <= 1 / b.base_rate + 1e-12)
    # one-time buyers: P(alive) < 1 and falling with age
    x0 = h.frequency == 0
    p0 = b.risk.p_alive[x0]
    assert p0.max() < 1
    order = np.argsort(h.age[x0])
    assert np.all(np.diff(p0[order]) <= 1e-15)


def test_cdnow_bgnbd_backtest_shows_the_artefact(cdnow):
    """Allowed, the BG/NBD risk ranks churners below stayers (AUC interval below 0.5):
    the customers it calls certainly alive are the likeliest to make no purchase."""
    b = backtest(BGNBD, cdnow, allow_bgnbd=True)
    assert b.auc.ci_high < 0.5
    assert b.no_purchase.auc.ci_low > 0.5


def test_cdnow_paretonbd_backtest(cdnow):
    """Pareto/NBD on CDNOW (measured: 1 - P(alive) AUC 0.726, TDL 1.02; P(no purchase)
    AUC 0.771, TDL 1.24, level with the naive ranking). Checked: the risk beats chance,
    one-time buyers get P(alive) < 1, and the model's forecast of the label beats the risk.
    """
    b = backtest(ParetoNBD, cdnow)
    assert b.auc.ci_low > 0.5
    assert b.risk.p_alive[cdnow.calibration.frequency == 0].max() < 1
    assert b.no_purchase.auc.value > b.auc.value
    assert abs(b.no_purchase.auc.value - b.naive.auc.value) < 0.05
