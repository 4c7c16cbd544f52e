"""Paper and live trading with the env's kernels: bar-by-bar sources, brokers, the runner and its journal.

* :class:`~wealtharena_env.market_sources.ReplayMarket` (recorded bars) and
  :class:`~wealtharena_env.live.feeds.YFinanceFeed` (polled bars) feed the runner one bar at a time;
* :mod:`~wealtharena_env.live.brokers`: the :class:`Broker` protocol, :class:`SimBroker` (the env's execution
  model), :class:`PaperBroker` (a local paper account); :mod:`~wealtharena_env.live.alpaca` (the ``[live]``
  extra) adds ``AlpacaBroker``;
* :mod:`~wealtharena_env.live.runner`: :class:`Runner` / :func:`trade`, the Python API
  of ``wealtharena trade``;
* :mod:`~wealtharena_env.live.journal`: the append-only SQLite journal.

See docs/live.md. Importing this package does not import alpaca-py.
"""

from wealtharena_env.live.brokers import (
    Broker,
    MarketClock,
    OrderRequest,
    OrderStatus,
    PaperBroker,
    SimBroker,
)
from wealtharena_env.live.feeds import YFinanceFeed
from wealtharena_env.live.journal import Journal, JournalError, client_order_id
from wealtharena_env.live.runner import Runner, RunSummary, trade
from wealtharena_env.market_sources import ReplayMarket

__all__ = [
    "Broker",
    "Journal",
    "JournalError",
    "MarketClock",
    "OrderRequest",
    "OrderStatus",
    "PaperBroker",
    "ReplayMarket",
    "RunSummary",
    "Runner",
    "SimBroker",
    "YFinanceFeed",
    "client_order_id",
    "trade",
]
