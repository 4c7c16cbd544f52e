"""Alpaca as a :class:`~wealtharena_env.live.brokers.Broker` and a bar feed (the ``[live]`` extra:
``alpaca-py``, Apache-2.0).

``AlpacaBroker()`` trades Alpaca's **paper** account (``TradingClient(paper=True)``); the live account needs
``AlpacaBroker(paper=False)`` (``wealtharena trade --broker alpaca --live``), never a default. The keys come
only from the environment (``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY``) and never appear in a message or log.

Orders are market day orders of ``|qty|`` shares (fractional allowed), side from the sign, with the runner's
client order ID: Alpaca refuses a second order with a known ID, and the runner asks
:meth:`AlpacaBroker.get_order` before it sends. A call that fails with a network error, HTTP 429 or 5xx is
retried ``retries`` times, ``backoff * 2**k`` seconds apart; a submit is retried only after asking Alpaca
whether the first attempt arrived (so a lost response never sends an order twice). Anything else —
rejections (insufficient buying power, market closed, halted or unknown symbol) and the last failure — raises
:class:`~wealtharena_env.errors.BrokerError` with Alpaca's reason and the HTTP status.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from wealtharena_env.errors import BrokerError, ConfigError, WealthArenaDataError
from wealtharena_env.live.brokers import MarketClock, OrderRequest, OrderStatus
from wealtharena_env.live.feeds import PollingFeed

T = TypeVar("T")

KEY_ENV = "APCA_API_KEY_ID"
SECRET_ENV = "APCA_API_SECRET_KEY"

#: Alpaca's order states (https://docs.alpaca.markets/docs/orders-at-alpaca) -> the Broker protocol's
_STATES = {
    "new": "new",
    "accepted": "new",
    "pending_new": "new",
    "accepted_for_bidding": "new",
    "held": "new",
    "calculated": "new",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "done_for_day": "expired",
    "canceled": "canceled",
    "pending_cancel": "partially_filled",
    "pending_replace": "partially_filled",
    "replaced": "canceled",
    "expired": "expired",
    "stopped": "filled",
    "rejected": "rejected",
    "suspended": "rejected",
}


def _float(value: Any) -> float:
    return 0.0 if value in (None, "") else float(value)


class AlpacaBroker:
    """Alpaca's trading API (see the module docstring).

    Args:
        paper: ``True`` (default) for the paper account; ``False`` trades real money.
        retries, backoff: network-error / 429 / 5xx retries and their first wait in seconds.
        url_override: another base URL (tests point it at a fake server on 127.0.0.1).
    """

    name = "alpaca"
    reconcile_cash = False  # the account's cash moves with fees, interest and transfers the runner cannot see

    def __init__(
        self,
        paper: bool = True,
        retries: int = 3,
        backoff: float = 1.0,
        url_override: str | None = None,
    ):
        try:
            with warnings.catch_warnings():  # alpaca-py imports websockets' deprecated legacy module
                warnings.simplefilter("ignore", DeprecationWarning)
                from alpaca.trading.client import TradingClient
        except ImportError as exc:
            raise ImportError(
                "the Alpaca broker needs alpaca-py: pip install 'wealtharena-env[live]'"
            ) from exc
        key, secret = _keys()
        self.paper = bool(paper)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self._client = TradingClient(key, secret, paper=self.paper, raw_data=True, url_override=url_override)
        self._client._retry = 0  # this class retries (and asks before re-sending an order)
        self._secrets = (key, secret)

    # ------------------------------------------------------------------ plumbing
    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _describe(self, exc: Exception) -> tuple[str, int | None]:
        status = getattr(exc, "status_code", None)
        if status is None:
            response = getattr(exc, "response", None)
            status = getattr(response, "status_code", None)
        message = str(getattr(exc, "message", None) or exc)
        return self._clean(f"{type(exc).__name__}: {message}"), status

    def _retryable(self, exc: Exception) -> bool:
        import requests
        from alpaca.common.exceptions import APIError

        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return True
        if isinstance(exc, APIError):
            status = exc.status_code
            return status is not None and (status == 429 or status >= 500)
        return False

    def _call(self, what: str, fn: Callable[[], T], before_retry: Callable[[], T | None] | None = None) -> T:
        """``fn()`` with the retries of the module docstring; ``before_retry()`` may answer instead (a submit
        asks whether its order arrived)."""
        last = ""
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below
                text, status = self._describe(exc)
                if not self._retryable(exc):
                    raise BrokerError(
                        f"Alpaca {what} was refused" + (f" (HTTP {status})" if status else "") + f": {text}"
                    ) from None
                last = text + (f" (HTTP {status})" if status else "")
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
                if before_retry is not None:
                    answer = before_retry()
                    if answer is not None:
                        return answer
        raise BrokerError(
            f"Alpaca {what} failed after {self.retries + 1} attempts: {last}. Check the connection and "
            "https://status.alpaca.markets; re-run the same command to resume (no order is sent twice)."
        )

    @staticmethod
    def _status(raw: dict[str, Any]) -> OrderStatus:
        sign = -1.0 if str(raw.get("side", "buy")).lower().endswith("sell") else 1.0
        state = _STATES.get(str(raw.get("status", "new")).lower(), "new")
        return OrderStatus(
            client_order_id=str(raw["client_order_id"]),
            symbol=str(raw["symbol"]),
            qty=sign * _float(raw.get("qty")),
            filled_qty=sign * _float(raw.get("filled_qty")),
            avg_price=_float(raw.get("filled_avg_price")),
            fees=0.0,
            status=state,
            reason=raw.get("reason") or (raw.get("status") if state in ("rejected", "expired") else None),
        )

    # ------------------------------------------------------------------ Broker
    def submit(self, order: OrderRequest) -> OrderStatus:
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import MarketOrderRequest

        request = MarketOrderRequest(
            symbol=order.symbol,
            qty=abs(order.qty),
            side=OrderSide.BUY if order.qty > 0 else OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id=order.client_order_id,
        )

        return self._call(
            f"order {order.client_order_id} ({order.qty:+g} {order.symbol})",
            lambda: self._status(self._client.submit_order(request)),  # type: ignore[arg-type]
            before_retry=lambda: self.get_order(order.client_order_id),
        )

    def get_order(self, client_order_id: str) -> OrderStatus | None:
        from alpaca.common.exceptions import APIError

        def fetch() -> dict[str, Any] | None:
            try:
                return self._client.get_order_by_client_id(client_order_id)  # type: ignore[return-value]
            except APIError as exc:
                if exc.status_code == 404:
                    return None
                raise

        raw = self._call(f"order lookup {client_order_id}", fetch)
        return None if raw is None else self._status(raw)

    def cancel(self, client_order_id: str) -> None:
        raw: Any = self._call(
            f"order lookup {client_order_id}", lambda: self._client.get_order_by_client_id(client_order_id)
        )
        order_id = str(raw["id"])
        self._call(f"cancel of {client_order_id}", lambda: self._client.cancel_order_by_id(order_id))

    def open_orders(self) -> list[OrderStatus]:
        raw: Any = self._call("open orders", lambda: self._client.get_orders())
        return [
            self._status(r)
            for r in raw
            if _STATES.get(str(r.get("status")), "new") in ("new", "partially_filled")
        ]

    def positions(self) -> dict[str, float]:
        raw: Any = self._call("positions", lambda: self._client.get_all_positions())
        return {str(p["symbol"]): _float(p["qty"]) for p in raw}

    def cash(self) -> float:
        raw: Any = self._call("account", lambda: self._client.get_account())
        return _float(raw["cash"])

    def clock(self) -> MarketClock:
        raw: Any = self._call("clock", lambda: self._client.get_clock())
        return MarketClock(
            timestamp=str(raw["timestamp"]),
            is_open=bool(raw["is_open"]),
            next_open=raw.get("next_open"),
            next_close=raw.get("next_close"),
        )


_TIMEFRAMES = {"1m": (1, "Minute"), "5m": (5, "Minute"), "15m": (15, "Minute"), "30m": (30, "Minute"),
               "1h": (1, "Hour"), "60m": (1, "Hour"), "1d": (1, "Day")}  # fmt: skip


class AlpacaFeed(PollingFeed):
    """Bars of ``tickers`` polled from Alpaca's market data (``StockHistoricalDataClient``, split and dividend
    adjusted, the ``feed`` of your subscription: ``"iex"`` free, ``"sip"`` paid). Keys from the environment,
    as for :class:`AlpacaBroker`. A poll that fails (network, HTTP error) is "no new bar" (the runner waits
    and polls again; its ``max_wait`` ends the run); the warm-up's failure is an error that says why."""

    provider = "Alpaca market data"

    def __init__(
        self,
        tickers: list[str] | tuple[str, ...],
        interval: str = "1d",
        history_days: int = 730,
        feed: str = "iex",
        url_override: str | None = None,
        now: Callable[[], Any] | None = None,
    ):
        if interval not in _TIMEFRAMES:
            raise ConfigError(f"interval={interval!r}: Alpaca bars are one of {sorted(_TIMEFRAMES)}.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from alpaca.data.enums import Adjustment, DataFeed
            from alpaca.data.historical.stock import StockHistoricalDataClient
            from alpaca.data.requests import StockBarsRequest
            from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
        key, secret = _keys()
        client = StockHistoricalDataClient(key, secret, raw_data=True, url_override=url_override)
        amount, unit = _TIMEFRAMES[interval]
        timeframe = TimeFrame(amount, getattr(TimeFrameUnit, unit))
        self.last_error: str | None = None

        def download(symbols: Any, start: Any, end: Any) -> dict[str, Any]:
            import pandas as pd

            request = StockBarsRequest(
                symbol_or_symbols=list(symbols),
                timeframe=timeframe,
                start=start.to_pydatetime(),
                end=end.to_pydatetime(),
                adjustment=Adjustment.ALL,
                feed=DataFeed(feed),
            )
            try:
                raw: Any = client.get_stock_bars(request)
            except Exception as exc:  # noqa: BLE001 - any failure of a poll is "no bar now"
                text = str(exc)
                for secret_text in (key, secret):
                    text = text.replace(secret_text, "***")
                status = getattr(exc, "status_code", None)
                self.last_error = f"{type(exc).__name__}{f' (HTTP {status})' if status else ''}: {text}"
                if not self.dates:  # the warm-up: say why
                    raise WealthArenaDataError(f"Alpaca market data failed: {self.last_error}") from None
                return {}
            frames = {}
            for symbol, bars in (raw or {}).items():
                if bars:
                    frames[str(symbol)] = pd.DataFrame(
                        {
                            "date": [pd.Timestamp(b["t"]).tz_convert(None) for b in bars],
                            "open": [b["o"] for b in bars],
                            "high": [b["h"] for b in bars],
                            "low": [b["l"] for b in bars],
                            "close": [b["c"] for b in bars],
                            "volume": [b["v"] for b in bars],
                        }
                    )
            return frames

        super().__init__(tickers, download, interval, history_days, now)


def _keys() -> tuple[str, str]:
    key, secret = os.environ.get(KEY_ENV), os.environ.get(SECRET_ENV)
    if not key or not secret:
        raise BrokerError(
            f"Alpaca needs its API keys in the environment: set {KEY_ENV} and {SECRET_ENV} (from "
            "https://app.alpaca.markets, paper account keys for --broker alpaca without --live)."
        )
    return key, secret


__all__ = ["AlpacaBroker", "AlpacaFeed"]
