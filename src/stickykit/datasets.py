"""Bundled data sets: CDNOW transactions and NPSgame survey responses; synthetic surveys.

Both are public copies bundled with the package (see ``stickykit/data/ATTRIBUTION.md`` for
sources and licences). They are unrelated: CDNOW is a US online music retailer (1997-98),
NPSgame a French garden-centre chain; their ids overlap by chance and must never be joined.

:func:`synthetic_survey` generates answers to any instrument from a stated factor model. Its
data are synthetic, made up by a seeded random generator: no public raw data of multi-item
instruments such as SERVQUAL carry a licence that allows bundling them.

Examples
--------
>>> survey = load_npsgame()
>>> len(survey), survey.items
(13954, ('nps', 'satisfaction', 'intention'))
>>> events = load_cdnow()
>>> len(events), len(np.unique(events.customer_id))
(69659, 23570)
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from stickykit._programme_data import programme_events
from stickykit.frames import EventFrame, SurveyFrame
from stickykit.instruments import Instrument, Item
from stickykit.io import load_events, load_survey

__all__ = [
    "load_cdnow",
    "load_npsgame",
    "load_telco",
    "messy_transactions",
    "npsgame_columns",
    "programme_events",
    "synthetic_survey",
]

_NA = ("NA", "")


def _open_text(name: str, encoding: str) -> io.StringIO:
    packed = resources.files("stickykit.data").joinpath(name).read_bytes()
    return io.StringIO(gzip.decompress(packed).decode(encoding), newline="")


def _numeric(text: NDArray[np.str_]) -> NDArray[np.float64]:
    missing = np.isin(text, _NA)
    out = np.full(len(text), np.nan)
    out[~missing] = text[~missing].astype(np.float64)
    return out


def npsgame_columns() -> dict[str, NDArray[Any]]:
    """The NPSgame responses as raw numpy columns, every one of the file's columns.

    ``id``, ``NbPassageKS`` (visits) as int64; ``nps``, ``satisfaction``, ``intention``
    (0-10), ``CaTicket`` (spend per ticket) and ``t`` (wave) as float64 with NaN where the file
    says ``NA``; ``explication`` (comment) as text with ``None`` where empty.

    Source: BenaventC/NPSgame ``nps.csv`` (CC0 1.0), 13,954 responses, read as Latin-1.

    Examples
    --------
    >>> cols = npsgame_columns()
    >>> int(np.isnan(cols["nps"]).sum()), int(np.nanmax(cols["t"]))
    (342, 17)
    """
    with _open_text("npsgame.csv.gz", "latin-1") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    columns = dict(
        zip(header, (np.array(col, dtype=str) for col in zip(*rows[1:], strict=True)), strict=True)
    )
    comments = np.array(columns["explication"], dtype=object)
    comments[np.isin(columns["explication"], _NA)] = None
    return {
        "id": columns["id"].astype(np.int64),
        "nps": _numeric(columns["nps"]),
        "satisfaction": _numeric(columns["satisfaction"]),
        "intention": _numeric(columns["intention"]),
        "explication": comments,
        "NbPassageKS": columns["NbPassageKS"].astype(np.int64),
        "CaTicket": _numeric(columns["CaTicket"]),
        "t": _numeric(columns["t"]),
    }


def load_npsgame() -> SurveyFrame:
    """The NPSgame responses as a :class:`~stickykit.frames.SurveyFrame`.

    Items ``nps`` (likelihood to recommend), ``satisfaction`` and ``intention`` (repurchase
    intention), all 0-10 with missing answers masked; ``wave`` is the file's ``t`` (18 rows have
    none), ``respondent_id`` its ``id``, ``comment`` its ``explication``.

    Examples
    --------
    >>> f = load_npsgame()
    >>> int(f.answer_missing["nps"].sum()), sorted(set(f.wave.tolist()))[:3]
    (342, [0, 1, 2])
    """
    cols = npsgame_columns()
    frame: SurveyFrame = load_survey(
        cols,
        items=["nps", "satisfaction", "intention"],
        columns={"respondent_id": "id", "wave": "t", "comment": "explication"},
        scales=(0, 10),
    )
    return frame


def load_cdnow(*, sample: bool = False, ids: Literal["master", "sample"] = "master") -> EventFrame:
    """CDNOW purchases as an :class:`~stickykit.frames.EventFrame`.

    Parameters
    ----------
    sample : bool
        ``False``: the whole cohort (23,570 customers who first bought in Q1 1997, purchases to
        30 June 1998, 69,659 rows). ``True``: the 1/10 sample of the BTYD papers (2,357
        customers, 6,919 rows).
    ids : {"master", "sample"}
        Which id names a customer of the sample: the cohort's customer id (first column) or
        the sample id 1-2,357 (second column) that the papers' summary tables are keyed and
        ordered by. ``"sample"`` needs ``sample=True``.

    Returns
    -------
    EventFrame
        ``customer_id`` int64, ``timestamp`` at midnight UTC of the purchase day,
        ``quantity`` (CDs), ``amount`` (US dollars), ``event_id`` the row number, kind
        ``"purchase"``, currency ``"USD"``.

    Notes
    -----
    Fader, P. S. and Hardie, B. G. S. (2001). Forecasting repeat sales at CDNOW: a case study.
    *Interfaces* 31(3), S94-S107. Copy distributed with the ``lifetimes`` package (MIT).

    Examples
    --------
    >>> f = load_cdnow(sample=True)
    >>> len(f), str(f.timestamp.min())[:10]
    (6919, '1997-01-01')
    """
    if ids not in ("master", "sample"):
        raise ValueError(f"ids must be 'master' or 'sample', got {ids!r}")
    if ids == "sample" and not sample:
        raise ValueError("ids='sample' needs sample=True: only the sample has sample ids")
    name = "cdnow_sample.txt.gz" if sample else "cdnow_master.txt.gz"
    with _open_text(name, "ascii") as handle:
        table = np.loadtxt(handle, skiprows=0 if sample else 1, dtype=np.float64)
    if sample:
        table = table[:, [1 if ids == "sample" else 0, 2, 3, 4]]
    customer = table[:, 0].astype(np.int64)
    ymd = table[:, 1].astype(np.int64)
    months = (ymd // 10000 - 1970) * 12 + (ymd // 100 % 100 - 1)
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (ymd % 100 - 1)
    n = len(customer)
    frame: EventFrame = load_events(
        {
            "customer_id": customer,
            "timestamp": days.astype("datetime64[us]"),
            "quantity": table[:, 2].astype(np.int64),
            "amount": table[:, 3],
            "kind": np.full(n, "purchase"),
            "currency": np.full(n, "USD"),
        },
        tz="UTC",
    )
    return frame


_TELCO_FLAGS = ("Partner", "Dependents", "PhoneService", "PaperlessBilling", "Churn")


def load_telco() -> dict[str, NDArray[Any]]:
    """IBM's telco customer churn sample as numpy columns, one per column of the file.

    7,043 subscription customers observed at one date: ``tenure`` is the number of whole
    months each has been a customer and ``Churn`` whether they have left, so
    ``kaplan_meier(cols["tenure"], cols["Churn"])`` estimates retention by tenure (customers
    with ``Churn`` false are censored at their tenure).

    Returns
    -------
    dict of str to numpy.ndarray
        ``tenure`` int64 (months, 0-72); ``MonthlyCharges`` and ``TotalCharges`` float64 (US
        dollars; ``TotalCharges`` is NaN for the 11 customers of tenure 0, blank in the file);
        ``SeniorCitizen`` and the yes/no columns ``Partner``, ``Dependents``,
        ``PhoneService``, ``PaperlessBilling`` and ``Churn`` as bool; every other column
        (``customerID``, ``gender``, services, ``Contract``, ``PaymentMethod``...) as text,
        unchanged.

    Notes
    -----
    Source: repository IBM/telco-customer-churn-on-icp4d, ``Telco-Customer-Churn.csv``
    (Apache-2.0); see ``stickykit/data/ATTRIBUTION.md``.

    Examples
    --------
    >>> cols = load_telco()
    >>> len(cols["tenure"]), int(cols["Churn"].sum()), int(cols["tenure"].max())
    (7043, 1869, 72)
    """
    with _open_text("telco.csv.gz", "ascii") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    table = np.array(rows[1:], dtype=str)
    columns: dict[str, NDArray[Any]] = {name: table[:, j] for j, name in enumerate(header)}
    for name in _TELCO_FLAGS:
        columns[name] = columns[name] == "Yes"
    columns["SeniorCitizen"] = columns["SeniorCitizen"] == "1"
    columns["tenure"] = columns["tenure"].astype(np.int64)
    columns["MonthlyCharges"] = columns["MonthlyCharges"].astype(np.float64)
    columns["TotalCharges"] = _numeric(np.char.strip(columns["TotalCharges"]))
    return columns


def synthetic_survey(
    instrument: Instrument | str,
    n: int,
    *,
    rng: np.random.Generator,
    loadings: float | Mapping[str, float] = 0.7,
    dimension_correlation: float = 0.3,
    missing_rate: float = 0.0,
    straightliner_rate: float = 0.0,
    batteries: Sequence[str] | None = None,
    mean_shift: float = 0.0,
    waves: int = 1,
    first_id: int = 0,
) -> SurveyFrame:
    r"""Synthetic answers to an instrument from a factor model (synthetic data, seeded).

    Parameters
    ----------
    instrument : Instrument or str
        The questionnaire, or the name of a registered one.
    n : int
        Respondents (rows).
    rng : numpy.random.Generator
        Every random draw comes from it (never from numpy's global state): the same seed
        gives the same frame.
    loadings : float or mapping of item id to float
        Standardised loading :math:`\lambda_j \in [0, 1]` of each item on its factor.
    dimension_correlation : float
        Correlation :math:`\rho` between any two factors.
    missing_rate : float
        Probability that an answer is missing, independently for every answer (MCAR).
    straightliner_rate : float
        Share of respondents (``round(rate * n)`` of them) who give one answer to every item
        of a battery, drawn uniformly from the scale, whatever the wording.
    batteries : sequence of str, optional
        Generate the items of these batteries only (default: every item). Constant-sum
        questions, such as SERVQUAL's 100 importance points, do not follow the factor
        model: leave their battery out.
    mean_shift : float
        Added to every latent item score before thresholding, in standard deviations
        (positive: answers lean to the top of the scale).
    waves : int
        Respondents are split into this many consecutive waves, labelled 0, 1, ...
    first_id : int
        Respondent ids are ``first_id, first_id + 1, ...``.

    Returns
    -------
    SurveyFrame
        One int8 column per item, ``answer_missing`` masks, ``respondent_id`` and ``wave``
        (int64), and ``instrument`` (the instrument's name).

    Notes
    -----
    Each (battery, dimension) pair of the instrument has one latent factor; the factors are
    standard normal with correlation :math:`\rho` between any two. Item :math:`j` of factor
    :math:`d` gets the latent score

    .. math::

        z_{rj} = \lambda_j F_{rd} + \sqrt{1 - \lambda_j^2}\, e_{rj} + \delta,
        \qquad e_{rj} \sim N(0, 1),

    cut into the :math:`m = hi - lo + 1` categories of the item's scale at the
    equal-probability thresholds :math:`\Phi^{-1}(c/m)`, :math:`c = 1, \dots, m - 1`
    (so with :math:`\delta = 0` every category is equally likely). A reverse-keyed item
    reports :math:`lo + hi - x`: its raw answers run against the construct, as a negatively
    worded item's do. For :math:`k` items of one factor with a common loading, the
    population alpha of the latent scores is :math:`k\lambda^2 / (1 + (k - 1)\lambda^2)`;
    categorisation lowers it a little.

    The data are synthetic: no respondent exists, and nothing here reproduces a published
    data set.

    Examples
    --------
    >>> from stickykit.instruments import Instrument, Item
    >>> inst = Instrument(name="demo", version="1", title="Demo", reference="-", items=[
    ...     Item(id="q1", text="Staff are helpful", dimension="staff", scale=(1, 5)),
    ...     Item(id="q2", text="Staff are polite", dimension="staff", scale=(1, 5)),
    ...     Item(id="q3", text="Staff are rude", dimension="staff", scale=(1, 5), reverse=True)])
    >>> f = synthetic_survey(inst, 200, rng=np.random.default_rng(7), waves=2)
    >>> len(f), f.items, sorted(set(f.wave.tolist()))
    (200, ('q1', 'q2', 'q3'), [0, 1])
    >>> bool(np.corrcoef(f.answers["q1"], f.answers["q3"])[0, 1] < 0)
    True

    The registered SERVQUAL (1988) instrument, without its constant-sum importance points:

    >>> sq = synthetic_survey("servqual-1988", 300, rng=np.random.default_rng(1),
    ...                       batteries=("expectation", "perception"), missing_rate=0.05)
    >>> len(sq.items), sq.items[:2], int(sq.answers["P10"].max()) <= 7
    (44, ('E1', 'E2'), True)
    """
    inst = _instrument(instrument)
    chosen = [item for item in inst.items if batteries is None or item.battery in batteries]
    if not chosen:
        msg = f"instrument {inst.name!r} has no items in batteries {list(batteries or ())}"
        raise ValueError(msg)
    _check_synthetic(rng, n, dimension_correlation, missing_rate, straightliner_rate, waves)
    lam = _loadings(loadings, chosen)
    factor_of: dict[tuple[str, str], int] = {}
    for item in chosen:
        factor_of.setdefault((item.battery, item.dimension), len(factor_of))
    n_factors = len(factor_of)
    if n_factors > 1 and not -1 / (n_factors - 1) < dimension_correlation < 1:
        msg = (
            f"dimension_correlation must lie in (-1/{n_factors - 1}, 1) for {n_factors} "
            f"factors, got {dimension_correlation!r}"
        )
        raise ValueError(msg)
    phi = np.full((n_factors, n_factors), dimension_correlation)
    np.fill_diagonal(phi, 1.0)
    factors = rng.standard_normal((n, n_factors)) @ np.linalg.cholesky(phi).T
    noise = rng.standard_normal((n, len(chosen)))
    answers: dict[str, NDArray[np.int8]] = {}
    for j, item in enumerate(chosen):
        lo, hi = item.scale
        latent = (
            lam[j] * factors[:, factor_of[(item.battery, item.dimension)]]
            + math.sqrt(1.0 - lam[j] ** 2) * noise[:, j]
            + mean_shift
        )
        x = lo + np.searchsorted(_thresholds(hi - lo + 1), latent)
        answers[item.id] = (lo + hi - x if item.reverse else x).astype(np.int8)
    n_straight = round(straightliner_rate * n)
    if n_straight:
        who = rng.choice(n, size=n_straight, replace=False)
        for battery in dict.fromkeys(item.battery for item in chosen):
            members = [item for item in chosen if item.battery == battery]
            lo, hi = members[0].scale
            tick = rng.integers(lo, hi + 1, size=n_straight)
            for item in members:
                answers[item.id][who] = np.clip(tick, *item.scale).astype(np.int8)
    answer_missing: dict[str, NDArray[np.bool_]] = {}
    if missing_rate > 0:
        drop = rng.random((n, len(chosen))) < missing_rate
        for j, item in enumerate(chosen):
            if drop[:, j].any():
                answer_missing[item.id] = drop[:, j].copy()
    return SurveyFrame(
        answers=answers,
        answer_missing=answer_missing,
        respondent_id=np.arange(first_id, first_id + n, dtype=np.int64),
        wave=(np.arange(n, dtype=np.int64) * waves) // max(n, 1),
        instrument=np.full(n, inst.name),
    )


def _instrument(instrument: Instrument | str) -> Instrument:
    if isinstance(instrument, Instrument):
        return instrument
    from stickykit.plugins.registry import get_instrument  # noqa: PLC0415

    return get_instrument(instrument)


def _check_synthetic(
    rng: Any,
    n: Any,
    dimension_correlation: float,
    missing_rate: float,
    straightliner_rate: float,
    waves: Any,
) -> None:
    if not isinstance(rng, np.random.Generator):
        msg = f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}"
        raise TypeError(msg)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        msg = f"n must be a non-negative integer, got {n!r}"
        raise ValueError(msg)
    if isinstance(waves, bool) or not isinstance(waves, int) or waves < 1:
        msg = f"waves must be a positive integer, got {waves!r}"
        raise ValueError(msg)
    if not -1 < dimension_correlation < 1:
        msg = f"dimension_correlation must lie in (-1, 1), got {dimension_correlation!r}"
        raise ValueError(msg)
    for name, rate in (("missing_rate", missing_rate), ("straightliner_rate", straightliner_rate)):
        if not 0 <= rate <= 1:
            msg = f"{name} must lie in [0, 1], got {rate!r}"
            raise ValueError(msg)


def _loadings(loadings: float | Mapping[str, float], items: Sequence[Item]) -> list[float]:
    if isinstance(loadings, Mapping):
        absent = [item.id for item in items if item.id not in loadings]
        if absent:
            msg = f"loadings has no value for items {absent}"
            raise ValueError(msg)
        values = [float(loadings[item.id]) for item in items]
    else:
        values = [float(loadings)] * len(items)
    bad = [v for v in values if not 0 <= v <= 1]
    if bad:
        msg = f"loadings must lie in [0, 1], got {bad[0]!r}"
        raise ValueError(msg)
    return values


def _thresholds(categories: int) -> NDArray[np.float64]:
    """Standard normal quantiles cutting it into ``categories`` equally likely parts."""
    from statistics import NormalDist  # noqa: PLC0415

    normal = NormalDist()
    return np.array([normal.inv_cdf(c / categories) for c in range(1, categories)])


def messy_transactions(
    n_orders: int,
    *,
    rng: np.random.Generator,
    n_customers: int | None = None,
    n_products: int = 60,
    start: str = "2010-12-01",
    days: int = 365,
    lines_per_order: float = 4.0,
    cancellation_rate: float = 0.05,
    missing_customer_rate: float = 0.1,
    zero_price_rate: float = 0.01,
    duplicate_rate: float = 0.02,
    adjustment_rate: float = 0.01,
) -> dict[str, NDArray[Any]]:
    """A synthetic, messy transaction-line export in the shape of UCI Online Retail (seeded).

    The data are synthetic, made up by the seeded generator ``rng``: no shop or customer
    exists. They carry the known faults of real exports, for
    :func:`~stickykit.io.clean_transactions` to handle.

    Parameters
    ----------
    n_orders : int
        Purchase invoices (each of ``1 + Poisson(lines_per_order - 1)`` lines).
    rng : numpy.random.Generator
        Every random draw comes from it: the same seed gives the same columns.
    n_customers : int, optional
        Customers buying (default ``max(1, n_orders // 3)``), ids from 12346.
    n_products : int
        Stock codes, each with one list price.
    start : str
        ISO date of the first minute; invoice times fall in the ``days`` days after it.
    days : int
        Length of the period.
    lines_per_order : float
        Mean lines per purchase invoice (at least 1).
    cancellation_rate : float
        Share of purchase invoices (of known customers) later partly cancelled by a
        ``"C"`` invoice with a negative quantity.
    missing_customer_rate : float
        Share of purchase invoices with no customer id (``NaN``).
    zero_price_rate : float
        Share of lines priced 0.
    duplicate_rate : float
        Share of lines exported twice, as adjacent identical rows.
    adjustment_rate : float
        Stock adjustments per purchase invoice: lines with a negative quantity, price 0, no
        customer and no invoice prefix.

    Returns
    -------
    dict of str to numpy.ndarray
        ``InvoiceNo`` and ``StockCode`` (text), ``Quantity`` (int64), ``InvoiceDate``
        (naive ``datetime64[us]``, local time), ``UnitPrice`` (float64), ``CustomerID``
        (float64, ``NaN`` where missing, as pandas reads the original), ``Country`` (text),
        rows ordered by time.

    Examples
    --------
    >>> raw = messy_transactions(100, rng=np.random.default_rng(5))
    >>> sorted(raw) == sorted(["InvoiceNo", "StockCode", "Quantity", "InvoiceDate",
    ...                        "UnitPrice", "CustomerID", "Country"])
    True
    >>> bool(np.isnan(raw["CustomerID"]).any()), bool((raw["Quantity"] < 0).any())
    (True, True)
    """
    from stickykit._messy import generate_messy_transactions  # noqa: PLC0415

    return generate_messy_transactions(
        n_orders,
        rng=rng,
        n_customers=n_customers,
        n_products=n_products,
        start=start,
        days=days,
        lines_per_order=lines_per_order,
        cancellation_rate=cancellation_rate,
        missing_customer_rate=missing_customer_rate,
        zero_price_rate=zero_price_rate,
        duplicate_rate=duplicate_rate,
        adjustment_rate=adjustment_rate,
    )
