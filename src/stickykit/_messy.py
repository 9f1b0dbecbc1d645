"""Seeded generator of synthetic, deliberately messy transaction-line exports.

The public entry point is :func:`stickykit.datasets.messy_transactions`; the body lives here
so that the datasets module stays a list of thin loaders.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["generate_messy_transactions"]

_COUNTRIES = np.array(["United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands"])
_COUNTRY_WEIGHTS = np.array([0.8, 0.06, 0.05, 0.04, 0.03, 0.02])
_FIRST_INVOICE = 536365
_FIRST_CUSTOMER = 12346


def _check(rng: Any, n_orders: Any, rates: dict[str, float], lines_per_order: float) -> None:
    if not isinstance(rng, np.random.Generator):
        msg = f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}"
        raise TypeError(msg)
    if isinstance(n_orders, bool) or not isinstance(n_orders, int) or n_orders < 0:
        msg = f"n_orders must be a non-negative integer, got {n_orders!r}"
        raise ValueError(msg)
    for name, rate in rates.items():
        if not 0 <= rate <= 1:
            msg = f"{name} must lie in [0, 1], got {rate!r}"
            raise ValueError(msg)
    if not lines_per_order >= 1:
        msg = f"lines_per_order must be >= 1, got {lines_per_order!r}"
        raise ValueError(msg)


def generate_messy_transactions(
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
    """Build the columns; see :func:`stickykit.datasets.messy_transactions` for the parameters.

    Examples
    --------
    >>> cols = generate_messy_transactions(5, rng=np.random.default_rng(0))
    >>> sorted(cols)[:3]
    ['Country', 'CustomerID', 'InvoiceDate']
    """
    rates = {
        "cancellation_rate": cancellation_rate,
        "missing_customer_rate": missing_customer_rate,
        "zero_price_rate": zero_price_rate,
        "duplicate_rate": duplicate_rate,
        "adjustment_rate": adjustment_rate,
    }
    _check(rng, n_orders, rates, lines_per_order)
    n_customers = max(1, n_orders // 3) if n_customers is None else n_customers
    if n_customers < 1 or n_products < 1 or days < 1:
        msg = "n_customers, n_products and days must be positive"
        raise ValueError(msg)
    first_minute = np.datetime64(start, "m")
    # products: a stock code and a list price each
    codes = np.char.add(
        (20000 + rng.choice(80000, size=n_products, replace=False)).astype(str),
        rng.choice(np.array(["", "", "A", "B"]), size=n_products),
    )
    list_price = np.maximum(np.round(rng.lognormal(1.0, 0.6, n_products), 2), 0.1)
    country_of = rng.choice(_COUNTRIES, size=n_customers, p=_COUNTRY_WEIGHTS)

    # orders, numbered in time order
    minutes = np.sort(rng.integers(0, days * 1440, size=n_orders))
    buyer = rng.integers(0, n_customers, size=n_orders)
    anonymous = rng.random(n_orders) < missing_customer_rate
    n_lines = np.minimum(1 + rng.poisson(lines_per_order - 1, size=n_orders), n_products)
    order_of = np.repeat(np.arange(n_orders), n_lines)
    total = len(order_of)
    # distinct products within an order, so the only identical lines are the planted copies
    position = np.arange(total) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    product = (rng.integers(0, n_products, size=n_orders)[order_of] + position) % n_products
    price = list_price[product]
    price[rng.random(total) < zero_price_rate] = 0.0
    columns = {
        "InvoiceNo": (_FIRST_INVOICE + order_of).astype(str),
        "StockCode": codes[product],
        "Quantity": rng.geometric(0.35, size=total).astype(np.int64),
        "minute": minutes[order_of],
        "UnitPrice": price,
        "customer": np.where(anonymous[order_of], -1, buyer[order_of]),
        "Country": country_of[buyer[order_of]],
    }

    # cancellations: a later "C" invoice taking back part of an order's first line
    first_line = np.cumsum(n_lines) - n_lines
    cancelled = np.flatnonzero(~anonymous & (rng.random(n_orders) < cancellation_rate))
    line = first_line[cancelled]
    taken_back = rng.integers(1, columns["Quantity"][line] + 1)
    number = _FIRST_INVOICE + n_orders + np.arange(len(cancelled))
    cancels = {
        "InvoiceNo": np.char.add("C", number.astype(str)),
        "StockCode": columns["StockCode"][line],
        "Quantity": -taken_back.astype(np.int64),
        "minute": columns["minute"][line] + rng.integers(60, 30 * 1440, size=len(line)),
        "UnitPrice": columns["UnitPrice"][line],
        "customer": columns["customer"][line],
        "Country": columns["Country"][line],
    }

    # stock adjustments: negative units, no price, no customer, no prefix
    n_adjust = int(rng.binomial(n_orders, adjustment_rate))
    adjust_number = _FIRST_INVOICE + n_orders + len(cancelled) + np.arange(n_adjust)
    adjusts = {
        "InvoiceNo": adjust_number.astype(str),
        "StockCode": codes[rng.integers(0, n_products, size=n_adjust)],
        "Quantity": -rng.integers(1, 50, size=n_adjust).astype(np.int64),
        "minute": rng.integers(0, days * 1440, size=n_adjust),
        "UnitPrice": np.zeros(n_adjust),
        "customer": np.full(n_adjust, -1),
        "Country": np.full(n_adjust, "United Kingdom"),
    }

    merged = {
        name: np.concatenate([columns[name], cancels[name], adjusts[name]]) for name in columns
    }
    by_time = np.argsort(merged["minute"], kind="stable")
    # repeated export rows: some lines appear twice, next to each other
    repeats = 1 + (rng.random(len(by_time)) < duplicate_rate)
    rows = np.repeat(by_time, repeats)
    out = {name: values[rows] for name, values in merged.items()}
    customer = out.pop("customer")
    minute = out.pop("minute")
    return {
        "InvoiceNo": out["InvoiceNo"],
        "StockCode": out["StockCode"],
        "Quantity": out["Quantity"],
        "InvoiceDate": (first_minute + minute.astype("timedelta64[m]")).astype("datetime64[us]"),
        "UnitPrice": out["UnitPrice"].astype(np.float64),
        "CustomerID": np.where(customer < 0, np.nan, _FIRST_CUSTOMER + customer.astype(np.float64)),
        "Country": out["Country"],
    }
