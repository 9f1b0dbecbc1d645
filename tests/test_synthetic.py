"""The synthetic survey generator: reproducible, inside the scales, and true to its model.

Every test builds its own small instrument (the built-in files may change); the data are
synthetic by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import stickykit
from stickykit.datasets import synthetic_survey
from stickykit.errors import UnknownInstrumentError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument, Item
from stickykit.metrics.survey.reliability import CronbachAlpha

INSTRUMENT = Instrument(
    name="test-synthetic",
    version="1",
    title="Two dimensions, a reverse-keyed item, two batteries",
    reference="stickykit tests",
    items=[
        Item(id="a1", text="Reliable", dimension="reliability", scale=(1, 7)),
        Item(id="a2", text="Dependable", dimension="reliability", scale=(1, 7)),
        Item(id="a3", text="Often late", dimension="reliability", scale=(1, 7), reverse=True),
        Item(id="a4", text="Accurate", dimension="reliability", scale=(1, 7)),
        Item(id="b1", text="Friendly", dimension="empathy", scale=(0, 10)),
        Item(id="b2", text="Caring", dimension="empathy", scale=(0, 10)),
        Item(id="w1", text="Points", dimension="weight", scale=(0, 100), battery="importance"),
    ],
)
ALPHA = CronbachAlpha(instrument=INSTRUMENT, dimension="reliability")


def frames_equal(a: SurveyFrame, b: SurveyFrame) -> bool:
    return (
        a.items == b.items
        and all(np.array_equal(a.answers[i], b.answers[i]) for i in a.items)
        and set(a.answer_missing) == set(b.answer_missing)
        and all(np.array_equal(a.answer_missing[i], b.answer_missing[i]) for i in a.answer_missing)
        and np.array_equal(a.respondent_id, b.respondent_id)  # type: ignore[arg-type]
        and np.array_equal(a.wave, b.wave)  # type: ignore[arg-type]
    )


def test_same_seed_same_frame_different_seed_different() -> None:
    kwargs = {"missing_rate": 0.1, "straightliner_rate": 0.05, "waves": 3}
    a = synthetic_survey(INSTRUMENT, 150, rng=np.random.default_rng(42), **kwargs)
    b = synthetic_survey(INSTRUMENT, 150, rng=np.random.default_rng(42), **kwargs)
    c = synthetic_survey(INSTRUMENT, 150, rng=np.random.default_rng(43), **kwargs)
    assert frames_equal(a, b)
    assert not frames_equal(a, c)


def test_global_random_state_untouched() -> None:
    np.random.seed(0)
    expected = np.random.random(3)
    np.random.seed(0)
    synthetic_survey(INSTRUMENT, 50, rng=np.random.default_rng(1), missing_rate=0.2)
    np.testing.assert_array_equal(np.random.random(3), expected)
    with pytest.raises(TypeError, match="Generator"):
        synthetic_survey(INSTRUMENT, 5, rng=np.random.RandomState(0))  # type: ignore[arg-type]


def broken_off_by_one(instrument: Instrument, n: int, **kwargs: Any) -> SurveyFrame:
    """Categories counted from lo + 1: the top answer leaves the scale."""
    f = synthetic_survey(instrument, n, **kwargs)
    return attrs.evolve(f, answers={k: (v + 1).astype(np.int8) for k, v in f.answers.items()})


def check_answers_inside_scales(
    generate: Callable[..., SurveyFrame], *, quick: bool = False
) -> None:
    phases = [Phase.explicit, Phase.generate] if quick else list(Phase)

    @settings(max_examples=25, phases=phases, database=None if quick else settings.default.database)
    @given(
        st.integers(0, 2**32 - 1),
        st.integers(0, 80),
        st.floats(0.0, 1.0),
        st.floats(-0.2, 0.9),
        st.floats(0.0, 0.5),
        st.floats(0.0, 0.5),
        st.floats(-3.0, 3.0),
    )
    def prop(
        seed: int, n: int, loading: float, rho: float, missing: float, straight: float, shift: float
    ) -> None:
        f = generate(
            INSTRUMENT,
            n,
            rng=np.random.default_rng(seed),
            loadings=loading,
            dimension_correlation=rho,
            missing_rate=missing,
            straightliner_rate=straight,
            mean_shift=shift,
        )
        assert len(f) == n and f.items == INSTRUMENT.item_ids
        for item in INSTRUMENT.items:
            lo, hi = item.scale
            values = f.answers[item.id]
            assert values.dtype == np.int8
            assert np.all((values >= lo) & (values <= hi))
        assert f.respondent_id is not None and f.respondent_id.tolist() == list(range(n))
        assert f.instrument is not None and set(f.instrument.tolist()) <= {"test-synthetic"}

    prop()


def test_answers_inside_scales() -> None:
    check_answers_inside_scales(synthetic_survey)


def test_answers_inside_scales_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_answers_inside_scales(broken_off_by_one, quick=True)


def test_missing_rate_honoured() -> None:
    """12,000 answers at rate 0.15: the binomial SD of the share is sqrt(.15 * .85 / 12000)
    = 0.0033; the test allows 4 SD (0.013), a false alarm about once in 16,000 seeds."""
    f = synthetic_survey(
        INSTRUMENT, 2000, rng=np.random.default_rng(8), missing_rate=0.15, batteries=("main",)
    )
    masks = [f.answer_missing.get(i, np.zeros(len(f), bool)) for i in f.items]
    share = float(np.mean(masks))
    assert abs(share - 0.15) <= 4 * math.sqrt(0.15 * 0.85 / (2000 * 6))
    none = synthetic_survey(INSTRUMENT, 200, rng=np.random.default_rng(8))
    assert none.answer_missing == {}


def test_straightliners_exact_count_and_batteries() -> None:
    f = synthetic_survey(
        INSTRUMENT, 200, rng=np.random.default_rng(3), straightliner_rate=0.1, loadings=0.0
    )
    main = np.column_stack([f.answers[i] for i in ("a1", "a2", "a3", "a4", "b1", "b2")])
    flat = (main == main[:, :1]).all(axis=1)
    # 20 injected; with loading 0 a natural straight line over six items is very unlikely
    assert flat.sum() == 20
    only = synthetic_survey(INSTRUMENT, 10, rng=np.random.default_rng(3), batteries=("importance",))
    assert only.items == ("w1",)


def test_waves_and_ids() -> None:
    f = synthetic_survey(INSTRUMENT, 10, rng=np.random.default_rng(0), waves=3, first_id=100)
    assert f.wave is not None and f.wave.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert f.respondent_id is not None and f.respondent_id.tolist() == list(range(100, 110))


def test_reverse_keyed_item_runs_against_its_factor() -> None:
    f = synthetic_survey(INSTRUMENT, 1000, rng=np.random.default_rng(4))
    assert np.corrcoef(f.answers["a1"], f.answers["a3"])[0, 1] < -0.2
    assert np.corrcoef(f.answers["a1"], f.answers["a2"])[0, 1] > 0.2


def test_alpha_matches_the_model() -> None:
    """Four items, loading 0.7: population alpha of the latent scores 4 * 0.49 / (1 + 3 * 0.49)
    = 0.7935; cutting into 7 categories lowers it slightly. n = 4000 gives a Feldt interval
    about +-0.013 wide, so the test allows 0.04 below and 0.015 above."""
    f = synthetic_survey(INSTRUMENT, 4000, rng=np.random.default_rng(5), loadings=0.7)
    value = stickykit.compute(ALPHA, f).value
    theory = 4 * 0.49 / (1 + 3 * 0.49)
    assert theory - 0.04 <= value <= theory + 0.015


def test_dimension_correlation() -> None:
    """Factor correlation 0.8 and loading 0.9: items of different dimensions correlate about
    0.9 * 0.9 * 0.8 = 0.65 before categorisation; with rho = 0 about 0."""
    high = synthetic_survey(
        INSTRUMENT, 3000, rng=np.random.default_rng(6), loadings=0.9, dimension_correlation=0.8
    )
    zero = synthetic_survey(
        INSTRUMENT, 3000, rng=np.random.default_rng(6), loadings=0.9, dimension_correlation=0.0
    )
    assert np.corrcoef(high.answers["a1"], high.answers["b1"])[0, 1] > 0.5
    assert abs(np.corrcoef(zero.answers["a1"], zero.answers["b1"])[0, 1]) < 0.08


# -- alpha rises with the loading (property with a negative control) ------------------------

Generate = Callable[[float, int], SurveyFrame]


def real_generator(loading: float, seed: int) -> SurveyFrame:
    return synthetic_survey(
        INSTRUMENT, 300, rng=np.random.default_rng(seed), loadings=loading, batteries=("main",)
    )


def broken_generator(loading: float, seed: int) -> SurveyFrame:
    """Loading and noise weight swapped: the item is sqrt(1 - l^2) F + l e."""
    return real_generator(math.sqrt(1 - loading**2), seed)


def check_alpha_rises_with_loading(generate: Generate, *, quick: bool = False) -> None:
    phases = [Phase.explicit, Phase.generate] if quick else list(Phase)

    @settings(max_examples=15, phases=phases, database=None if quick else settings.default.database)
    @given(st.floats(0.3, 0.7), st.integers(0, 2**32 - 1))
    def prop(low: float, seed: int) -> None:
        weak = stickykit.compute(ALPHA, generate(low, seed)).value
        strong = stickykit.compute(ALPHA, generate(low + 0.25, seed)).value
        assert strong > weak

    prop()


def test_alpha_rises_with_loading() -> None:
    check_alpha_rises_with_loading(real_generator)


def test_alpha_rises_with_loading_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_alpha_rises_with_loading(broken_generator, quick=True)


# -- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": -1}, ValueError, "n must"),
        ({"loadings": 1.2}, ValueError, "loadings"),
        ({"loadings": {"a1": 0.5}}, ValueError, "no value"),
        ({"dimension_correlation": 1.0}, ValueError, "dimension_correlation"),
        ({"dimension_correlation": -0.6}, ValueError, "dimension_correlation"),
        ({"missing_rate": 1.5}, ValueError, "missing_rate"),
        ({"straightliner_rate": -0.1}, ValueError, "straightliner_rate"),
        ({"waves": 0}, ValueError, "waves"),
        ({"batteries": ("nothing",)}, ValueError, "no items"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    n = kwargs.pop("n", 10)
    with pytest.raises(error, match=message):
        synthetic_survey(INSTRUMENT, n, rng=np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]


def test_per_item_loadings() -> None:
    loadings = {i.id: 0.0 for i in INSTRUMENT.items} | {"a1": 0.95, "a2": 0.95}
    f = synthetic_survey(INSTRUMENT, 2000, rng=np.random.default_rng(9), loadings=loadings)
    assert np.corrcoef(f.answers["a1"], f.answers["a2"])[0, 1] > 0.7
    assert abs(np.corrcoef(f.answers["a1"], f.answers["a4"])[0, 1]) < 0.08


def test_registered_servqual() -> None:
    try:
        stickykit.get_instrument("servqual-1988")
    except UnknownInstrumentError:
        pytest.skip("servqual-1988 is not registered")
    f = synthetic_survey(
        "servqual-1988", 100, rng=np.random.default_rng(0), batteries=("expectation", "perception")
    )
    assert len(f.items) == 44
