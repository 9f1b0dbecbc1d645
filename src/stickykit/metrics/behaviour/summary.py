r"""The per-customer summary: a mergeable state that behaviour measures and models reuse.

For every customer seen, the state keeps the first and last event time, the number of
events, the monetary sum and the set of calendar periods with at least one event, as a
bitmask. Repurchase, retention, RFM, value tiers, lifetime value and survival are computed
from it in ``finalize``; measures that need global ranks (quantile scores, deciles, Gini) rank
there, once, over the merged customers.

The state keys on the original customer ids (a sorted unique array), never on per-chunk
codes, so a customer whose events fall in several chunks merges into one row. The active
periods are bits of 64-bit words aligned on absolute period numbers (period ``p`` is bit
``p % 64`` of word ``p // 64``), so merging two states is a union of ids and a bitwise OR of
words, with no shifting.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([7, 3, 7, 7]),
...                timestamp=np.array(["2024-01-05", "2024-01-09", "2024-02-01", "2024-02-20"],
...                                   dtype="datetime64[us]"),
...                amount=np.array([10.0, 5.0, 20.0, 1.0]))
>>> m = CustomerSummary(period="month")
>>> s = m.update(m.init(), f)
>>> s.customer_id.tolist(), s.n_events.tolist(), s.n_periods().tolist(), s.monetary.tolist()
([3, 7], [1, 3], [1, 2], [5.0, 31.0])
"""

from __future__ import annotations

import datetime as dt
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import datetime_to_us, us_to_datetime
from stickykit.core.arrays import dense_offsets, union_positions, unique_codes
from stickykit.core.periods import Period, PeriodMapper, check_period
from stickykit.core.threads import kernel_threads
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import EventFrame
from stickykit.io.events import currency_violations, is_return
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation
from stickykit.metrics.base import MetricBase, MetricResult, check_fingerprints, package_version
from stickykit.plugins.hookspecs import hookimpl

__all__ = [
    "CustomerSummary",
    "CustomerSummaryState",
    "activity_rows",
    "customer_rows",
    "optional_kinds",
    "period_field",
    "qualifying",
    "resolve_as_of",
]

_WORD = 64
#: Rows per block of the passes that make per-row scratch arrays (periods, keys): small enough
#: to stay in cache and to be reused by the allocator instead of mapped afresh each time.
_BLOCK_ROWS = 1 << 20
#: Sort keys of at least this many rows are sorted in parts by several threads.
_THREAD_MIN_ROWS = 1 << 22
_REFERENCE = (
    "per-customer first/last event, event count, monetary sum and active periods; "
    "the recency-frequency-monetary summary of Fader, Hardie & Lee (2005), "
    "Journal of Marketing Research 42(4), 415-430"
)


def qualifying(frame: EventFrame, kinds: tuple[str, ...] | None) -> NDArray[np.bool_] | None:
    """Rows whose kind is one of ``kinds`` (``None``: every row; returns ``None`` then).

    A frame without a ``kind`` column holds purchases only.

    Examples
    --------
    >>> import numpy as np
    >>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([1, 1]),
    ...                timestamp=np.zeros(2, dtype="datetime64[us]"),
    ...                kind=np.array(["purchase", "visit"]))
    >>> qualifying(f, ("purchase",)).tolist()
    [True, False]
    """
    if kinds is None:
        return None
    if frame.kind is None:
        return np.full(len(frame), "purchase" in kinds)
    keep = np.isin(frame.kind, np.asarray(kinds))
    missing = frame.label_missing.get("kind")
    if missing is not None:
        keep &= ~missing
    return keep


def activity_rows(
    frame: EventFrame, kinds: tuple[str, ...] | None
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Rows that count as activity, and rows whose amounts count as money.

    The returns policy shared by every behaviour measure (see :mod:`stickykit.io.events`):
    a return (a negative amount, or an event of kind ``"return"``) nets against the
    customer's money but is never activity: it does not make a customer active in a period,
    count as an order, or move the first and last purchase.

    Examples
    --------
    >>> import numpy as np
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 1]),
    ...                timestamp=np.zeros(3, dtype="datetime64[us]"),
    ...                kind=np.array(["purchase", "visit", "purchase"]),
    ...                amount=np.array([10.0, 0.0, -4.0]))
    >>> active, money = activity_rows(f, ("purchase",))
    >>> active.tolist(), money.tolist()
    ([True, False, False], [True, False, True])
    """
    keep = qualifying(frame, kinds)
    returned = is_return(frame)
    if frame.kind is not None:
        returned |= frame.kind == "return"
    if keep is None:  # every row counts: money is every row, activity every non-return
        return ~returned, np.ones(len(frame), dtype=bool)
    return keep & ~returned, keep | returned


def customer_rows(
    customer_id: NDArray[Any],
) -> tuple[NDArray[np.intp], NDArray[Any], NDArray[np.intp]]:
    """Row order grouping customers, the sorted unique ids and where each id's rows start.

    ``customer_id[order]`` is sorted; customer ``k``'s rows are
    ``order[starts[k]:starts[k + 1]]``.

    Examples
    --------
    >>> order, ids, starts = customer_rows(np.array([5, 2, 5]))
    >>> order.tolist(), ids.tolist(), starts.tolist()
    ([1, 0, 2], [2, 5], [0, 1])
    """
    order = np.argsort(customer_id, kind="stable")
    ordered = customer_id[order]
    if len(ordered) == 0:
        return order, ordered, np.zeros(0, dtype=np.intp)
    change = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    starts = np.concatenate([[0], change]).astype(np.intp)
    return order, ordered[starts], starts


def optional_kinds(value: Any) -> tuple[str, ...] | None:
    """Converter of a ``kinds`` parameter: ``None`` or a tuple of kind names.

    Examples
    --------
    >>> optional_kinds(["purchase"]), optional_kinds(None)
    (('purchase',), None)
    """
    return None if value is None else tuple(value)


def period_field(instance: Any, attribute: Any, value: Any) -> None:
    """Validator of a ``period`` parameter (see :func:`~stickykit.core.periods.check_period`).

    Examples
    --------
    >>> CustomerSummary(period="fortnight")
    Traceback (most recent call last):
    ...
    ValueError: period must be one of ('day', 'week', 'month', 'quarter'), got 'fortnight'
    """
    del instance, attribute
    check_period(value)


def _id_dtype_empty() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


@attrs.frozen(eq=False)
class CustomerSummaryState:
    """Per-customer sums, aligned on the sorted unique ``customer_id``.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    customer_id : numpy.ndarray
        Sorted unique ids (int64 or unicode).
    first_us, last_us : numpy.ndarray
        First and last event time, microseconds since the epoch (UTC).
    n_events : numpy.ndarray
        Qualifying events per customer, returns excluded (int64). A customer seen only
        through returns has 0 events, and ``first_us``/``last_us`` hold the int64 maximum and
        minimum (the identities of min and max): use :meth:`first_times` and
        :meth:`last_times`, or select ``n_events > 0``.
    monetary : numpy.ndarray
        Sum of the amounts of the qualifying events and returns (float64; net of returns).
    word_origin : int
        Absolute word number of column 0 of ``active``.
    active : numpy.ndarray
        uint64 array (customers x words): bit ``p % 64`` of word ``p // 64 - word_origin`` is
        set when the customer had an event in period ``p``.
    currency : str
        The one currency of the amounts (``""`` when the events carry none).
    """

    fingerprint: str
    customer_id: NDArray[Any] = attrs.field(factory=_id_dtype_empty)
    first_us: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, np.int64))
    last_us: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, np.int64))
    n_events: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, np.int64))
    monetary: NDArray[np.float64] = attrs.field(factory=lambda: np.empty(0, np.float64))
    word_origin: int = 0
    active: NDArray[np.uint64] = attrs.field(factory=lambda: np.zeros((0, 0), np.uint64))
    currency: str = ""

    def __len__(self) -> int:
        return len(self.customer_id)

    def first_times(self) -> NDArray[np.datetime64]:
        """First activity per customer (NaT for a customer with returns only)."""
        out = self.first_us.astype("datetime64[us]")
        out[self.n_events == 0] = np.datetime64("NaT")
        return out

    def last_times(self) -> NDArray[np.datetime64]:
        """Last activity per customer (NaT for a customer with returns only)."""
        out = self.last_us.astype("datetime64[us]")
        out[self.n_events == 0] = np.datetime64("NaT")
        return out

    def n_periods(self) -> NDArray[np.int64]:
        """Distinct active periods per customer."""
        if self.active.shape[1] == 0:
            return np.zeros(len(self), dtype=np.int64)
        counts: NDArray[np.int64] = np.bitwise_count(self.active).sum(axis=1, dtype=np.int64)
        return counts

    def period_range(self) -> tuple[int, int]:
        """First and last period with any activity (``(0, -1)`` for an empty state)."""
        if len(self) == 0 or self.active.shape[1] == 0:
            return 0, -1
        columns = np.bitwise_or.reduce(self.active, axis=0)
        used = np.flatnonzero(columns)
        if len(used) == 0:
            return 0, -1
        lo_word, hi_word = int(used[0]), int(used[-1])
        lo_bits, hi_bits = int(columns[lo_word]), int(columns[hi_word])
        lo = (self.word_origin + lo_word) * _WORD + (lo_bits & -lo_bits).bit_length() - 1
        hi = (self.word_origin + hi_word) * _WORD + hi_bits.bit_length() - 1
        return lo, hi

    def active_matrix(self, first: int, last: int) -> NDArray[np.bool_]:
        """Customers x periods ``first..last``: True where the customer was active.

        Examples
        --------
        >>> import numpy as np
        >>> m = CustomerSummary(period="day")
        >>> s = m.update(m.init(), EventFrame(
        ...     event_id=np.arange(2), customer_id=np.array([1, 1]),
        ...     timestamp=np.array(["1970-01-02", "1970-01-04"], dtype="datetime64[us]")))
        >>> s.active_matrix(0, 4).astype(int).tolist()
        [[0, 1, 0, 1, 0]]
        """
        periods = np.arange(first, last + 1, dtype=np.int64)
        out = np.zeros((len(self), len(periods)), dtype=bool)
        if len(periods) == 0 or self.active.shape[1] == 0:
            return out
        word = periods // _WORD - self.word_origin
        inside = (word >= 0) & (word < self.active.shape[1])
        bits = (periods % _WORD).astype(np.uint64)
        words = self.active[:, word[inside]]
        out[:, inside] = ((words >> bits[inside]) & np.uint64(1)).astype(bool)
        return out


def _trimmed(origin: int, active: NDArray[np.uint64]) -> tuple[int, NDArray[np.uint64]]:
    """The words without all-zero columns at either end (one form for every state)."""
    if active.size == 0:
        return 0, np.zeros((active.shape[0], 0), dtype=np.uint64)
    used = np.flatnonzero(np.bitwise_or.reduce(active, axis=0))
    if len(used) == 0:
        return 0, np.zeros((active.shape[0], 0), dtype=np.uint64)
    lo, hi = int(used[0]), int(used[-1])
    if lo == 0 and hi == active.shape[1] - 1:
        return origin, active
    return origin + lo, np.ascontiguousarray(active[:, lo : hi + 1])


def _blocks(rows: int) -> list[slice]:
    return [slice(start, min(rows, start + _BLOCK_ROWS)) for start in range(0, rows, _BLOCK_ROWS)]


def _first_last(
    codes: NDArray[np.integer[Any]], us: NDArray[np.int64], n_customers: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The first and last instant of each customer code (the int64 maximum and minimum if none)."""
    first = np.full(n_customers, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, us)
    last = np.full(n_customers, np.iinfo(np.int64).min)
    np.maximum.at(last, codes, us)
    return first, last


def _use_grid(cells: int, rows: int) -> bool:
    """Whether a grid of ``cells`` one-byte cells is the way to mark ``rows`` rows (else a sort)."""
    return cells <= max(8 * rows, 1 << 20)


def _pack(
    codes: NDArray[np.integer[Any]], us: NDArray[np.int64], n_customers: int, period: str, zone: str
) -> tuple[int, NDArray[np.uint64]]:
    """Bitmask words of the (customer code, period of the instant) pairs of the rows.

    The periods are computed block by block (:data:`_BLOCK_ROWS` rows), so no row-sized array
    of periods is made: the scratch arrays stay small, in cache, and are reused.
    """
    if len(us) == 0:
        return 0, np.zeros((n_customers, 0), dtype=np.uint64)
    mapper = PeriodMapper(period, zone, int(us.min()), int(us.max()))
    low, high = mapper.bounds
    origin = low // _WORD
    width = high // _WORD - origin + 1
    # the grid path marks cells of whole bytes from the byte holding the first period
    grid_start = low - low % 8
    grid_bytes = (high - grid_start) // 8 + 1
    if _use_grid(n_customers * grid_bytes * 8, len(us)):
        # a grid of at most 8 one-byte cells per row (a quarter of an event row's 32 bytes),
        # or of at most 1 MiB: mark the (customer, period) cells, pack 8 cells to a byte, and
        # place the bytes in the words (little-endian: byte k of a row of words holds
        # periods 8k..8k+7); faster than a sort, and only as wide as the periods present
        columns = grid_bytes * 8
        mark = np.zeros(n_customers * columns, dtype=bool)
        for block in _blocks(len(us)):
            # cell = code * columns + period - grid_start (a flat index: about twice as fast
            # as indexing the rows and columns of a 2-d grid)
            cell = mapper(us[block])
            cell -= grid_start
            cell += codes[block] * columns
            mark[cell] = True
        active = np.zeros((n_customers, width), dtype="<u8")
        skip = (grid_start - origin * _WORD) // 8
        as_bytes = active.view(np.uint8)
        grid = mark.reshape(n_customers, columns)
        as_bytes[:, skip : skip + grid_bytes] = np.packbits(grid, axis=1, bitorder="little")
        return _trimmed(origin, active.astype(np.uint64, copy=False))
    # key = code * (width * 64) + bit; sorted, each word is the OR of its keys' bits
    keys = np.empty(len(us), dtype=np.int64)
    for block in _blocks(len(us)):
        part = keys[block]
        np.multiply(codes[block], width * _WORD, out=part)
        part += mapper(us[block])
        part -= origin * _WORD
    words = np.zeros(n_customers * width, dtype=np.uint64)
    for run in _sorted_runs(keys):
        for block in _blocks(len(run)):
            part = run[block]
            cells = part >> 6  # // 64: the word of each key
            part &= _WORD - 1  # % 64, in place: the keys become bit numbers, then bit values
            values = np.left_shift(np.uint64(1), part.view(np.uint64), out=part.view(np.uint64))
            new_cell = np.empty(len(cells), dtype=bool)
            new_cell[0] = True
            np.not_equal(cells[1:], cells[:-1], out=new_cell[1:])
            starts = np.flatnonzero(new_cell)
            # the cells of a block are distinct after the reduction; a cell cut by a block
            # or run edge is OR-ed in twice, which is why this is |= and not =
            words[cells[starts]] |= np.bitwise_or.reduceat(values, starts)
    return _trimmed(origin, words.reshape(n_customers, width))


def _sorted_runs(keys: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    """``keys`` cut into consecutive parts, each sorted in place.

    Large arrays are cut into one part per thread (``kernel_threads``)
    and sorted in parallel (numpy releases the GIL while it sorts); the bitmask only needs
    each part sorted, as a cell split between parts is OR-ed in from each.
    """
    parts = kernel_threads(len(keys), _THREAD_MIN_ROWS)
    if parts == 1:
        keys.sort()
        return [keys]
    edges = [len(keys) * k // parts for k in range(parts + 1)]
    runs = [keys[a:b] for a, b in itertools.pairwise(edges)]
    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(np.ndarray.sort, runs))
    return runs


def resolve_as_of(state_last_us: NDArray[np.int64], as_of: dt.datetime | None) -> int:
    """``as_of`` in microseconds, by default just after the latest event.

    An explicit ``as_of`` before the latest event is an error: the summary already counts
    events after it.
    """
    latest = int(state_last_us.max())
    if as_of is None:
        return latest + 1
    if as_of.tzinfo is None:
        msg = f"as_of must be timezone-aware, got naive {as_of!r}"
        raise ValueError(msg)
    value = datetime_to_us(as_of)
    if value <= latest:
        msg = (
            f"as_of {as_of.isoformat()} is not after the latest event "
            f"({us_to_datetime(latest).isoformat()}); filter the events to before as_of first"
        )
        raise ValueError(msg)
    return value


@attrs.frozen
class CustomerSummary(MetricBase):
    r"""Per-customer first and last event, event count, active periods and monetary sum.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count (default every event; ``("purchase",)`` for purchases only).
    period : {"day", "week", "month", "quarter"}
        The calendar unit of the active periods.
    zone : str
        IANA time zone whose calendar defines the periods (default UTC).

    Notes
    -----
    For customer :math:`i` with qualifying events at times :math:`t_{i1} \le \dots \le
    t_{in_i}` and amounts :math:`a_{ij}`: first :math:`t_{i1}`, last :math:`t_{in_i}`,
    count :math:`n_i`, monetary :math:`\sum_j a_{ij}` and the set of active periods
    :math:`\{p(t_{ij})\}`. With daily periods, the number of repeat transactions of the
    buy-till-you-die models is the number of active days minus one, and recency and age
    follow from first, last and ``as_of`` (Fader, Hardie & Lee 2005).

    The result's ``value`` is the number of customers; ``tables`` holds the per-customer
    arrays (``customer_id``, ``first``, ``last``, ``n_events``, ``n_periods``, ``monetary``)
    and ``details`` the totals. There is no interval: the summary describes, it does not
    estimate.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers" the easy
    way: an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

    Examples
    --------
    >>> import stickykit
    >>> r = stickykit.compute("customer_summary", stickykit.datasets.load_cdnow(sample=True))
    >>> r.value, r.details["events"], int(r.tables["n_events"].max())
    (2357.0, 6919.0, 56)
    """

    name: ClassVar[str] = "customer_summary"
    family: ClassVar[str] = "behaviour"
    input_kind: ClassVar[Literal["events"]] = "events"
    reference: ClassVar[str] = _REFERENCE

    kinds: tuple[str, ...] | None = attrs.field(default=None, converter=optional_kinds)
    period: Period = attrs.field(default="day", validator=period_field)
    zone: str = "UTC"

    def init(self) -> CustomerSummaryState:
        """The empty state."""
        return CustomerSummaryState(fingerprint=self.fingerprint)

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        """Fold the qualifying events and the returns of ``frame`` into ``state``."""
        return self.merge(state, self._summarise(frame))

    def check(self, frame: EventFrame) -> list[Violation]:
        """Rows ``update`` refuses: amounts in a currency other than most rows'."""
        return currency_violations(frame)[1]

    def _summarise(self, frame: EventFrame) -> CustomerSummaryState:
        currency, mixed = currency_violations(frame)
        raise_first("EventFrame", mixed)
        active, money = activity_rows(frame, self.kinds)
        if not money.all():
            frame = frame.filter(money)
            active = active[money]
        if len(frame) == 0:
            return self.init()
        # dense integer ids index the per-customer arrays directly (no id-to-code lookup);
        # the rows of ids absent from the chunk are dropped at the end
        dense = dense_offsets(frame.customer_id)
        if dense is not None and dense[1] > len(frame):
            # more id slots than rows (a batch of a larger table): many ids are absent, so
            # compact codes keep the per-customer arrays the size of the customers present
            dense = None
        codes: NDArray[np.integer[Any]]
        if dense is None:
            ids, codes = unique_codes(frame.customer_id)
            lo, n = 0, len(ids)
        else:
            lo, n, codes = dense
        id_dtype, amounts, money_codes = frame.customer_id.dtype, frame.amount, codes
        if not active.all():
            frame, codes = frame.filter(active), codes[active]
        times = frame.timestamp.view(np.int64)
        threaded = kernel_threads(len(times), _THREAD_MIN_ROWS) > 1
        with ThreadPoolExecutor(1) as pool:
            # on large frames the bitmask is made in a second thread (its numpy calls release
            # the GIL) while this one takes the sums and the first and last times
            bitmask = (
                pool.submit(_pack, codes, times, n, self.period, self.zone) if threaded else None
            )
            rows_per_code = np.bincount(money_codes, minlength=n)
            amount = (
                np.zeros(n) if amounts is None else np.bincount(money_codes, amounts, minlength=n)
            )
            counts = rows_per_code if codes is money_codes else np.bincount(codes, minlength=n)
            first, last = _first_last(codes, times, n)
            if bitmask is None:
                origin, active_bits = _pack(codes, times, n, self.period, self.zone)
            else:
                origin, active_bits = bitmask.result()
        if dense is not None:
            present = rows_per_code > 0
            ids = (np.flatnonzero(present) + lo).astype(id_dtype)
            if not present.all():
                first, last, counts = first[present], last[present], counts[present]
                amount, active_bits = amount[present], active_bits[present]
        return CustomerSummaryState(
            fingerprint=self.fingerprint,
            customer_id=ids,
            first_us=first,
            last_us=last,
            n_events=counts.astype(np.int64),
            monetary=amount.astype(np.float64),
            word_origin=origin,
            active=active_bits,
            currency=currency or "",
        )

    def merge(self, a: CustomerSummaryState, b: CustomerSummaryState) -> CustomerSummaryState:
        """Union of customers: min first, max last, summed counts and money, OR of periods.

        The union of the ids and the rows of ``a`` and ``b`` in it come from one merge of the
        two sorted id arrays (``stickykit.core.arrays.union_positions``).
        """
        self._check_pair(a, b)
        if len(b) == 0:
            return a
        if len(a) == 0:
            return b
        return self._merged(a, b, *union_positions(a.customer_id, b.customer_id))

    def _merged(
        self,
        a: CustomerSummaryState,
        b: CustomerSummaryState,
        ids: NDArray[Any],
        rows_of_a: NDArray[np.intp],
        ib: NDArray[np.intp],
    ) -> CustomerSummaryState:
        """The merged state on the union ``ids``, where ``a`` and ``b`` sit at their rows."""
        # every customer of b already in a: a's rows keep their places (a plain copy)
        ia: NDArray[np.intp] | slice = slice(None) if len(ids) == len(a) else rows_of_a
        n = len(ids)

        def combine(x: NDArray[Any], y: NDArray[Any], fill: Any, op: Any) -> NDArray[Any]:
            out = np.full(n, fill, dtype=x.dtype)
            out[ia] = x
            out[ib] = op(out[ib], y)
            return out

        big = np.iinfo(np.int64).max
        small = np.iinfo(np.int64).min
        spans = [
            (s.word_origin, s.word_origin + s.active.shape[1]) for s in (a, b) if s.active.size
        ]
        lo = min((s[0] for s in spans), default=0)
        hi = max((s[1] for s in spans), default=0)
        active = np.zeros((n, hi - lo), dtype=np.uint64)
        if a.active.shape[1]:
            active[ia, a.word_origin - lo : a.word_origin - lo + a.active.shape[1]] = a.active
        if b.active.shape[1]:
            columns = slice(b.word_origin - lo, b.word_origin - lo + b.active.shape[1])
            active[ib, columns] |= b.active
        return CustomerSummaryState(
            fingerprint=self.fingerprint,
            customer_id=ids,
            first_us=combine(a.first_us, b.first_us, big, np.minimum),
            last_us=combine(a.last_us, b.last_us, small, np.maximum),
            n_events=combine(a.n_events, b.n_events, 0, np.add),
            monetary=combine(a.monetary, b.monetary, 0.0, np.add),
            word_origin=lo,
            active=active,
            currency=a.currency or b.currency,
        )

    def merge_into(self, a: CustomerSummaryState, b: CustomerSummaryState) -> CustomerSummaryState:
        """``merge(a, b)``, updating ``a``'s arrays in place when it can (``a`` is the caller's).

        When every customer of ``b`` is in ``a`` and ``b``'s periods lie within ``a``'s words
        (a batch merged into a running state, the common case once most customers have been
        seen), only ``b``'s rows of ``a`` are touched: the time is proportional to ``b`` and
        no second copy of ``a`` is made. Otherwise this is :meth:`merge`.

        Examples
        --------
        >>> m = CustomerSummary(period="month")
        >>> def state(ids, days):
        ...     return m.update(m.init(), EventFrame(
        ...         event_id=np.arange(len(ids)), customer_id=np.array(ids),
        ...         timestamp=np.array(days, dtype="datetime64[us]")))
        >>> a = state([1, 2], ["2024-01-05", "2024-03-01"])
        >>> b = state([2], ["2024-02-09"])
        >>> merged = m.merge_into(a, b)
        >>> merged.active is a.active, merged.n_periods().tolist()
        (True, [1, 2])
        """
        self._check_pair(a, b)
        if len(a) == 0 or len(b) == 0:
            return self.merge(a, b)
        ids, rows_of_a, ib = union_positions(a.customer_id, b.customer_id)
        b_words = b.active.shape[1]
        start = b.word_origin - a.word_origin
        inside = b_words == 0 or (start >= 0 and start + b_words <= a.active.shape[1])
        arrays = (a.first_us, a.last_us, a.n_events, a.monetary, a.active)
        if len(ids) > len(a) or not inside or not all(x.flags.writeable for x in arrays):
            return self._merged(a, b, ids, rows_of_a, ib)
        # each customer once in ib, so gather-combine-scatter is exact (no repeated index)
        a.first_us[ib] = np.minimum(a.first_us[ib], b.first_us)
        a.last_us[ib] = np.maximum(a.last_us[ib], b.last_us)
        a.n_events[ib] += b.n_events
        a.monetary[ib] += b.monetary
        if b_words:
            a.active[ib, start : start + b_words] |= b.active
        return a if a.currency or not b.currency else attrs.evolve(a, currency=b.currency)

    def _check_pair(self, a: CustomerSummaryState, b: CustomerSummaryState) -> None:
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        if a.currency and b.currency and a.currency != b.currency:
            raise ValidationError(
                record="EventFrame",
                field="currency",
                row=None,
                value=b.currency,
                expected=f"{a.currency!r}, the currency of the other chunks (mixed currencies: "
                "convert them first with stickykit.io.prepare_events(exchange_rates=...))",
            )

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The per-customer arrays as ``tables``; ``value`` is the number of customers."""
        if len(state) == 0 or not state.n_events.any():
            msg = "customer_summary needs at least one qualifying event"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(state.last_us, as_of)
        first, last = state.period_range()
        return MetricResult(
            metric=self.name,
            value=float(len(state)),
            n=int(state.n_events.sum()),
            n_missing=0,
            se=None,
            ci_low=None,
            ci_high=None,
            level=None,
            method="descriptive (no interval)",
            reference=self.reference,
            params={**self.params(), "as_of": us_to_datetime(as_of_us)},
            as_of=us_to_datetime(as_of_us),
            version=package_version(),
            unit="customers",
            details={
                "customers": float(len(state)),
                "events": float(state.n_events.sum()),
                "monetary": float(state.monetary.sum()),
                "first_period": float(first),
                "last_period": float(last),
            },
            tables={
                "customer_id": state.customer_id,
                "first": state.first_times(),
                "last": state.last_times(),
                "n_events": state.n_events,
                "n_periods": state.n_periods(),
                "monetary": state.monetary,
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"customer_summary"``."""
    register(CustomerSummary)
