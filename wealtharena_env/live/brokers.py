"""Brokers the trading runner sends orders to: one protocol, three accounts.

* :class:`SimBroker` — the env's own execution model. It sends nothing anywhere: the runner fills the
  decisions with the :class:`~wealtharena_env.sim.Simulation`'s step kernel when the next bar arrives
  (costs, slippage, participation, lots exactly as in training) and books the netted fills here, so a replay
  through it reproduces the backtest bit for bit.
* :class:`PaperBroker` — a local paper account persisted in its own SQLite file: market orders fill at the
  open of the next bar the runner hands it (:meth:`PaperBroker.on_bar`), with the env's commission and
  half-spread (:func:`~wealtharena_env.kernels.execution.slippage_fraction` with no impact).
* ``AlpacaBroker`` (:mod:`wealtharena_env.live.alpaca`, the ``[live]`` extra) — Alpaca's paper (default) or
  live account.

Quantities are signed shares (buy > 0, sell < 0). Every order carries its client order ID; a broker refuses a
second order with a known ID (:class:`~wealtharena_env.errors.BrokerError`), and the runner asks
:meth:`Broker.get_order` before it sends, so a restart never sends an order twice.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from wealtharena_env.errors import BrokerError, ConfigError
from wealtharena_env.kernels import execution as kx
from wealtharena_env.market_sources import OHLCV

#: Order states after which nothing more fills.
FINAL_STATES = ("filled", "canceled", "rejected", "expired")


@dataclass(frozen=True)
class OrderRequest:
    """A market order for ``qty`` signed shares of ``symbol`` (day order), identified
    by ``client_order_id``."""

    client_order_id: str
    symbol: str
    qty: float


@dataclass(frozen=True)
class OrderStatus:
    """What the broker reports about an order: requested and filled signed shares, the average fill price,
    the fees charged, its state (``new``, ``partially_filled``, ``filled``, ``canceled``, ``rejected``,
    ``expired``) and the broker's reason for a rejection or cancellation."""

    client_order_id: str
    symbol: str
    qty: float
    filled_qty: float = 0.0
    avg_price: float = 0.0
    fees: float = 0.0
    status: str = "new"
    reason: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES


@dataclass(frozen=True)
class MarketClock:
    """The broker's clock: its time and whether the market is open (orders are sent only when it is)."""

    timestamp: str
    is_open: bool
    next_open: str | None = None
    next_close: str | None = None


@runtime_checkable
class Broker(Protocol):
    """Submit orders, read positions, cash, open orders and the clock, cancel."""

    name: str

    def submit(self, order: OrderRequest) -> OrderStatus: ...

    def get_order(self, client_order_id: str) -> OrderStatus | None: ...

    def cancel(self, client_order_id: str) -> None: ...

    def open_orders(self) -> list[OrderStatus]: ...

    def positions(self) -> dict[str, float]: ...

    def cash(self) -> float: ...

    def clock(self) -> MarketClock: ...


class SimBroker:
    """The env's execution model as a broker (see the module docstring): fills are computed by the
    Simulation's step kernel; this object holds the netted account they add up to (for reconciliation).

    ``executes_in_simulation = True`` tells the runner to step the Simulation with the decisions instead of
    sending orders.
    """

    name = "sim"
    executes_in_simulation = True
    reconcile_cash = True

    def __init__(self, cash: float = 0.0):
        self._positions: dict[str, float] = {}
        self._cash = float(cash)
        self._orders: dict[str, OrderStatus] = {}

    def book(self, status: OrderStatus) -> None:
        """Record a netted order the Simulation filled (its net shares)."""
        if status.client_order_id in self._orders:
            raise BrokerError(f"SimBroker: client order ID {status.client_order_id!r} was already used.")
        self._orders[status.client_order_id] = status
        self._positions[status.symbol] = self._positions.get(status.symbol, 0.0) + status.filled_qty

    def adjust_cash(self, delta: float) -> None:
        """Add the bar's net cash change of the fills (trades and costs) to the account."""
        self._cash += delta

    def submit(self, order: OrderRequest) -> OrderStatus:
        raise BrokerError("SimBroker does not take orders: the runner fills decisions in the Simulation.")

    def get_order(self, client_order_id: str) -> OrderStatus | None:
        return self._orders.get(client_order_id)

    def cancel(self, client_order_id: str) -> None:
        return None

    def open_orders(self) -> list[OrderStatus]:
        return []

    def positions(self) -> dict[str, float]:
        return dict(self._positions)

    def cash(self) -> float:
        return self._cash

    def clock(self) -> MarketClock:
        return MarketClock(timestamp="", is_open=True)


_PAPER_SCHEMA = """
CREATE TABLE IF NOT EXISTS account (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, qty REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL,
    filled_qty REAL NOT NULL, avg_price REAL NOT NULL, fees REAL NOT NULL, status TEXT NOT NULL, reason TEXT
);
CREATE TABLE IF NOT EXISTS submissions (seq INTEGER PRIMARY KEY AUTOINCREMENT, client_order_id TEXT NOT NULL,
    accepted INTEGER NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bars (timestamp TEXT PRIMARY KEY);
"""


class PaperBroker:
    """A local paper account in a SQLite file: cash, positions, orders, and a log of every submission.

    Args:
        path: the account file (created with ``initial_cash`` if absent; reopened as it is otherwise).
        initial_cash: the new account's cash.
        commission_bps, half_spread_bps: the costs, as the env's :class:`~wealtharena_env.config.CostModel`.

    Market orders stay ``new`` until :meth:`on_bar` hands the account the next bar: then sells fill first,
    then buys in submission order, each at the bar's open ``P`` with slippage ``s``
    (:func:`~wealtharena_env.kernels.execution.slippage_fraction`, half spread, no impact) and commission
    ``c``: the order's average price is ``P (1 - s)`` for a sell and ``P (1 + s)`` for a buy (the spread is in
    the price, as a broker reports it) and its fees are the commission ``c q P (1 -/+ s)``; so a sell of ``q``
    shares adds ``q P - (q P s + c q P (1 - s))`` to cash and a buy costs ``q P + q P s + c q P (1 + s)``, the
    env's cost formula without impact. A buy the cash cannot pay is cut to what it can (``partially_filled``,
    the rest cancelled: "insufficient buying power"); a sell beyond the position, or of a symbol the bar does
    not quote, is rejected. Every submit call is logged in ``submissions`` (a duplicate client order ID is
    refused and logged as refused), so tests can prove no ID ever reached the account twice.
    """

    name = "paper"
    reconcile_cash = True

    def __init__(
        self,
        path: str | Path,
        initial_cash: float = 100_000.0,
        commission_bps: float = 5.0,
        half_spread_bps: float = 2.0,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.commission = float(commission_bps) * 1e-4
        self.half_spread = float(half_spread_bps) * 1e-4
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_PAPER_SCHEMA)
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(
            "INSERT OR IGNORE INTO account (key, value) VALUES ('cash', ?)", (float(initial_cash),)
        )
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ Broker
    def submit(self, order: OrderRequest) -> OrderStatus:
        if not np.isfinite(order.qty) or order.qty == 0.0:
            raise BrokerError(f"paper: order {order.client_order_id!r} has quantity {order.qty!r}.")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            known = self._db.execute(
                "SELECT 1 FROM orders WHERE client_order_id = ?", (order.client_order_id,)
            ).fetchone()
            self._db.execute(
                "INSERT INTO submissions (client_order_id, accepted, at) VALUES (?, ?, ?)",
                (order.client_order_id, 0 if known else 1, time.time()),
            )
            if not known:
                seq = self._db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
                self._db.execute(
                    "INSERT INTO orders VALUES (?, ?, ?, ?, 0.0, 0.0, 0.0, 'new', NULL)",
                    (order.client_order_id, seq, order.symbol, float(order.qty)),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if known:
            raise BrokerError(
                f"paper: client order ID {order.client_order_id!r} already exists; an order is never sent "
                "twice."
            )
        status = self.get_order(order.client_order_id)
        assert status is not None  # just inserted
        return status

    def get_order(self, client_order_id: str) -> OrderStatus | None:
        row = self._db.execute(
            "SELECT client_order_id, symbol, qty, filled_qty, avg_price, fees, status, reason FROM orders "
            "WHERE client_order_id = ?",
            (client_order_id,),
        ).fetchone()
        return None if row is None else OrderStatus(*row)

    def cancel(self, client_order_id: str) -> None:
        self._db.execute(
            "UPDATE orders SET status = 'canceled', reason = 'canceled by the runner' "
            "WHERE client_order_id = ? AND status = 'new'",
            (client_order_id,),
        )

    def open_orders(self) -> list[OrderStatus]:
        rows = self._db.execute(
            "SELECT client_order_id, symbol, qty, filled_qty, avg_price, fees, status, reason FROM orders "
            "WHERE status = 'new' ORDER BY seq"
        ).fetchall()
        return [OrderStatus(*r) for r in rows]

    def positions(self) -> dict[str, float]:
        return {s: q for s, q in self._db.execute("SELECT symbol, qty FROM positions").fetchall() if q != 0.0}

    def cash(self) -> float:
        return float(self._db.execute("SELECT value FROM account WHERE key = 'cash'").fetchone()[0])

    def clock(self) -> MarketClock:
        return MarketClock(timestamp="", is_open=True)

    def submissions(self) -> list[tuple[str, bool]]:
        """Every submit call: ``(client_order_id, accepted)``, in order."""
        rows = self._db.execute("SELECT client_order_id, accepted FROM submissions ORDER BY seq").fetchall()
        return [(cid, bool(ok)) for cid, ok in rows]

    # ------------------------------------------------------------------ the market moves
    def on_bar(self, timestamp: str, tickers: tuple[str, ...] | list[str], fields: np.ndarray) -> None:
        """Fill the open orders at this bar's open (once per bar timestamp; a repeated call does nothing)."""
        fields = np.asarray(fields, dtype=np.float64)
        if fields.shape[1] != len(tickers):
            raise ConfigError(f"paper: a bar of {fields.shape[1]} assets for {len(tickers)} tickers.")
        prices = {t: float(fields[OHLCV.index("open"), i]) for i, t in enumerate(tickers)}
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._db.execute("SELECT 1 FROM bars WHERE timestamp = ?", (timestamp,)).fetchone():
                self._db.execute("COMMIT")
                return
            self._db.execute("INSERT INTO bars (timestamp) VALUES (?)", (timestamp,))
            cash = self.cash()
            held = dict(self._db.execute("SELECT symbol, qty FROM positions").fetchall())
            rows = self._db.execute(
                "SELECT client_order_id, symbol, qty FROM orders WHERE status = 'new' ORDER BY seq"
            ).fetchall()
            sells = [r for r in rows if r[2] < 0.0]
            buys = [r for r in rows if r[2] > 0.0]
            for cid, symbol, qty in sells + buys:
                price = prices.get(symbol)
                if price is None or not np.isfinite(price) or price <= 0.0:
                    self._finish(cid, 0.0, 0.0, 0.0, "rejected", f"symbol {symbol!r} is not quoted")
                    continue
                q = abs(qty)
                slip = kx.slippage_fraction(q, self.half_spread, 0.0)
                if qty < 0.0:
                    if q > held.get(symbol, 0.0) * (1.0 + 1e-12):
                        self._finish(cid, 0.0, 0.0, 0.0, "rejected", "insufficient qty (no short selling)")
                        continue
                    fill_price = price * (1.0 - slip)
                    fee = self.commission * q * fill_price
                    cash += q * fill_price - fee
                    held[symbol] = held.get(symbol, 0.0) - q
                    self._finish(cid, -q, fill_price, fee, "filled", None)
                else:
                    unit = price * (1.0 + slip) * (1.0 + self.commission)
                    status, reason = "filled", None
                    if q * unit > cash:
                        q = max(cash, 0.0) / unit * (1.0 - 1e-12)
                        slip = kx.slippage_fraction(q, self.half_spread, 0.0)
                        status, reason = (
                            "canceled",
                            "insufficient buying power: partially filled, rest cancelled",
                        )
                        if q <= 0.0:
                            self._finish(cid, 0.0, 0.0, 0.0, "rejected", "insufficient buying power")
                            continue
                    fill_price = price * (1.0 + slip)
                    fee = self.commission * q * fill_price
                    cash -= q * fill_price + fee
                    held[symbol] = held.get(symbol, 0.0) + q
                    self._finish(cid, q, fill_price, fee, status, reason)
            self._db.execute("UPDATE account SET value = ? WHERE key = 'cash'", (cash,))
            for symbol, qty in held.items():
                self._db.execute(
                    "INSERT OR REPLACE INTO positions (symbol, qty) VALUES (?, ?)", (symbol, qty)
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _finish(
        self, cid: str, filled: float, price: float, fee: float, status: str, reason: str | None
    ) -> None:
        self._db.execute(
            "UPDATE orders SET filled_qty = ?, avg_price = ?, fees = ?, status = ?, reason = ? "
            "WHERE client_order_id = ?",
            (filled, price, fee, status, reason, cid),
        )


def snapshot_status(status: OrderStatus) -> dict[str, Any]:
    """An order status as journal JSON."""
    return {
        "client_order_id": status.client_order_id,
        "symbol": status.symbol,
        "qty": status.qty,
        "filled_qty": status.filled_qty,
        "avg_price": status.avg_price,
        "fees": status.fees,
        "status": status.status,
        "reason": status.reason,
    }


__all__ = [
    "FINAL_STATES",
    "Broker",
    "MarketClock",
    "OrderRequest",
    "OrderStatus",
    "PaperBroker",
    "SimBroker",
    "snapshot_status",
]
