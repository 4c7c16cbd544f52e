"""The trading runner: a policy from the arena, bar by bar, through the env's own kernels, to a broker.

One :class:`~wealtharena_env.sim.Simulation` (batch of 1) over a bar-by-bar market source is the runner's
whole model: it computes every observation (the same feature kernels as training), applies every agent's
risk layer (the same kernel: position cap, stop-loss / take-profit, volatility and VaR budgets, drawdown
breaker -> flatten), and holds each agent's ledger (shares, cash, entry prices, peak, cooldown).

Timing is the env's: the decision on bar ``d`` is taken after bars ``<= d`` arrived; it fills at bar
``d + 1``, which is read only once it arrives (:meth:`Simulation.append_bar`).

* **SimBroker** (``executes_in_simulation``): when bar ``d + 1`` arrives the Simulation steps with the
  decisions, exactly as the backtest env does — a replay reproduces the backtest bit for bit. The agents'
  executed shares are netted per asset into orders (client order IDs ``run-bar-net-ticker``) booked at the
  SimBroker.
* **External brokers** (paper, Alpaca): at decision time the runner asks the Simulation what each agent would
  hold after trading (a trial step on a copy of the state, with the fill bar set to the decision bar's close:
  the risk layer, sizing, lots and participation of the env), orders the difference from its ledger
  (``run-bar-agent-ticker`` intents), nets them per asset (``run-bar-net-ticker``, what the broker receives),
  and when the next bar arrives books the broker's fills back into the agents' ledgers: each agent gets
  ``phi q_a`` shares at the fill's average price, ``phi = filled / net`` (so the ledgers add up to the
  broker's fill exactly), and a share of the fees proportional to ``|q_a|``; agents whose requests cancel
  out (net 0) cross at the fill bar's open without fees. The Simulation then values the ledgers at the new
  bar (a step with every agent holding and the risk layer off: it already ran at the decision).

After every bar the sum of the ledgers is reconciled with the broker's positions (plus the positions the
account held when the run started); a mismatch journals a ``halt`` and raises
:class:`~wealtharena_env.errors.TradingHalted`.

Bad input never becomes an order: a bar that is stale (not newer than the last one), misses a ticker, holds
NaN / non-positive prices or a move the data validator refuses
(:func:`wealtharena_env.data.validate.validate_frame` over the bars so far and the new one) is refused and
journaled, and the runner waits for the next bar (positions held); a policy that raises or returns NaN / inf
for an agent makes that agent hold (journaled).

Everything is journaled (:mod:`.journal`) with deterministic keys; a runner killed at any point and restarted
with the same arguments replays the journal through the same kernels (no order is re-sent: the journal and
then the broker are asked about every order before it is sent) and continues where it stopped.
"""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Protocol, TextIO

import numpy as np

from wealtharena_env.config import ArenaConfig, arena_config
from wealtharena_env.errors import BrokerError, ConfigError, TradingHalted, WealthArenaDataError
from wealtharena_env.leaderboard.policies import LoadedPolicy, PolicyCaller, load_policy
from wealtharena_env.live.brokers import Broker, OrderRequest, OrderStatus, SimBroker, snapshot_status
from wealtharena_env.live.journal import Journal, client_order_id
from wealtharena_env.market_sources import OHLCV
from wealtharena_env.sim import Simulation

#: rows of a bar's fields (5, N), :data:`~wealtharena_env.market_sources.OHLCV`
OPEN, CLOSE, VOLUME = (OHLCV.index(name) for name in ("open", "close", "volume"))

#: Reconciliation tolerance: ``|ledger sum - broker| <= RECONCILE_TOLERANCE * max(1, |broker|)`` shares.
RECONCILE_TOLERANCE = 1e-9
#: Bars of history the validator sees with each new bar (its robust move statistics need a long window).
VALIDATION_WINDOW = 250


class BarFeed(Protocol):
    """A bar-by-bar market source (:class:`~wealtharena_env.market_sources.ReplayMarket`, the live feeds)."""

    n_assets: int
    tickers: tuple[str, ...]
    bar_by_bar: bool

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> Any: ...

    def next_bar(self, t: int, after: str | None = None) -> tuple[str, np.ndarray] | None: ...


@dataclass
class RunSummary:
    """What :meth:`Runner.run` did: bars processed (accepted and refused), orders, the agents'
    final values."""

    bars: int = 0
    refused_bars: int = 0
    orders: int = 0
    risk_events: int = 0
    policy_errors: int = 0
    values: dict[str, float] = field(default_factory=dict)
    finished: bool = False
    resumed: bool = False


class _JournaledFeed:
    """The market source the Simulation sees: the warm-up from the journal when it holds it (a restart must
    see the very bars the first start saw), else from the feed (then journaled)."""

    bar_by_bar = True

    def __init__(self, feed: BarFeed, journal: Journal, dates: list[str]):
        self.feed = feed
        self.journal = journal
        self.n_assets = feed.n_assets
        self.tickers = tuple(feed.tickers)
        self.n_bars = getattr(feed, "n_bars", None)
        self.dates = dates

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> None:
        n = bars_out.shape[0]
        recorded = self.journal.get("warmup")
        if recorded is None:
            self.feed.sample(rng, bars_out)
            feed_dates = getattr(self.feed, "dates", None)
            dates = [str(d) for d in feed_dates[:n]] if feed_dates is not None else [str(k) for k in range(n)]
            self.journal.append(-1, "warmup", "warmup", {"dates": dates, "bars": bars_out.tolist()})
            recorded = self.journal.get("warmup")
            assert recorded is not None
        bars = np.asarray(recorded["bars"], dtype=np.float64)
        if bars.shape != bars_out.shape:
            raise ConfigError(
                f"the journal's warm-up has shape {bars.shape}, the run needs {bars_out.shape}: another "
                "config."
            )
        bars_out[...] = bars
        self.dates[:] = list(recorded["dates"])


class Runner:
    """Trade a policy bar by bar (see the module docstring).

    Args:
        policy: any policy spec the leaderboard accepts (baseline name, ``module:callable``, SB3 ``.zip``,
            RLlib checkpoint) or a loaded policy / callable on observation batches.
        market: a bar-by-bar source (``ReplayMarket``, ``YFinanceFeed``, ``AlpacaFeed``).
        broker: a :class:`~wealtharena_env.live.brokers.Broker` (``SimBroker()``, ``PaperBroker(path)``,
            ``AlpacaBroker()``).
        journal: a :class:`~wealtharena_env.live.journal.Journal` or its path.
        config: the arena configuration (agents and their risk profiles, costs, features); by default
            ``agents`` balanced agents on the feed's tickers. Its ``episode_length`` bounds the run (a replay
            stops at its last bar).
        agents: agent names (``"<profile>_<k>"``) when ``config`` is not given.
        run_id: the run's name in client order IDs and the journal.
        dry_run: journal the orders without sending them (external brokers; the ledgers do not move).
        progress: where the progress line of each bar goes (``None``: nowhere).
        poll_interval, max_wait: a live feed is polled every ``poll_interval`` s for the next bar, and the run
            stops after ``max_wait`` s without one (``None``: wait forever). A replay's end ends the run.
        bar_interval: sleep this long after each bar (pace a replay as if live).
        policy_seed: seed of a stochastic baseline.
    """

    def __init__(
        self,
        policy: Any,
        market: BarFeed,
        broker: Broker,
        journal: Journal | str,
        config: ArenaConfig | None = None,
        *,
        agents: list[str] | None = None,
        run_id: str = "run",
        dry_run: bool = False,
        progress: TextIO | None = sys.stderr,
        poll_interval: float = 60.0,
        max_wait: float | None = None,
        bar_interval: float = 0.0,
        policy_seed: int = 0,
    ):
        if not getattr(market, "bar_by_bar", False):
            raise ConfigError(
                f"the runner needs a bar-by-bar market source (ReplayMarket or a live feed), "
                f"got {type(market).__name__}."
            )
        self.market = market
        self.broker = broker
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)
        self.run_id = str(run_id)
        self.dry_run = bool(dry_run)
        self.progress = progress
        self.poll_interval = float(poll_interval)
        self.max_wait = max_wait
        self.bar_interval = float(bar_interval)
        self.in_simulation = bool(getattr(broker, "executes_in_simulation", False))
        if config is None:
            config = arena_config(n_assets=market.n_assets, agents=agents or ["balanced_0"])
        elif agents is not None:
            config = arena_config(base=config, agents=agents)
        n_bars = getattr(market, "n_bars", None)
        if n_bars is not None:
            room = n_bars - config.warmup - 1
            if room < 1:
                raise ConfigError(
                    f"the replay has {n_bars} bars: fewer than the warm-up ({config.warmup}) + 2 the first "
                    "decision needs; record more bars or lower warmup."
                )
            if config.episode_length > room:
                config = config.replace(episode_length=room)
        self.loaded: LoadedPolicy = policy if isinstance(policy, LoadedPolicy) else load_policy(policy)
        self.tickers = tuple(market.tickers)
        self.dates: list[str] = []
        self.sim = Simulation(config, batch_size=1, data=_JournaledFeed(market, self.journal, self.dates))
        self.config = self.sim.config
        self.agents = list(self.config.agent_names)
        self._identity = {
            "run_id": self.run_id,
            "policy": self.loaded.spec,
            "tickers": list(self.tickers),
            "broker": broker.name,
            "dry_run": self.dry_run,
            "config": hashlib.sha256(repr(self.config).encode()).hexdigest()[:16],
            "agents": self.agents,
        }
        self.resumed = not self.journal.bind_run(self._identity)
        fn = self.loaded.build(SimpleNamespace(sim=self.sim), policy_seed)
        self.caller = PolicyCaller(fn, self.sim.n_action)
        self.summary = RunSummary(resumed=self.resumed)
        self._decision_events: list[list[dict[str, Any]]] = [[] for _ in self.agents]
        self._replaying = False
        self._halt_message: str | None = None

    # ------------------------------------------------------------------ the loop
    def run(self, max_bars: int | None = None) -> RunSummary:
        """Trade until the feed ends, the run's last bar, or ``max_bars`` new bars; return a summary."""
        halt = next(iter(self.journal.entries("halt")), None)
        if halt is not None:
            raise TradingHalted(
                f"journal {self.journal.path} records a halt at bar {halt[0]}: {halt[3]['message']} "
                "Inspect the account and start a new run (a new journal) once it is resolved."
            )
        obs, _ = self.sim.reset(seeds=0)
        self._start_positions()
        sources = [p["source_index"] for _, _, _, p in self.journal.entries("bar")]
        sources += [p["source_index"] for _, _, _, p in self.journal.entries("refused_bar")]
        self._source = max(sources) + 1 if sources else self.config.warmup + 1
        t = self.config.warmup
        new_bars = 0
        while self.sim.steps[0] < self.config.episode_length:
            actions, acted = self._decide(t, obs)
            if not self.in_simulation:
                self._send_orders(t, actions, acted)
            # a bar whose step is journaled is replayed through the kernels (a restart rebuilding its state):
            # the broker is not asked about the past, only about what is new
            replayed = self.journal.get(f"step:{t + 1}") is not None
            if not replayed and max_bars is not None and new_bars >= max_bars:
                break
            fields = self._await_bar(t + 1)
            if fields is None:
                break
            self.sim.append_bar(fields)
            self._replaying = replayed
            self._halt_message = None
            if self.in_simulation:
                obs = self._fill_in_simulation(t + 1, actions, acted)
            else:
                obs = self._book_broker_fills(t + 1, fields)
            if self._halt_message is not None:
                raise TradingHalted(self._halt_message)
            t += 1
            self.summary.bars += 1
            if not replayed:
                new_bars += 1
                self._progress(t)
                if self.bar_interval > 0:
                    time.sleep(self.bar_interval)
        self.summary.finished = bool(self.sim.steps[0] >= self.config.episode_length)
        self.summary.values = {a: float(v) for a, v in zip(self.agents, self.sim.portfolio_values[0])}
        self.summary.orders = self.journal.count("order")
        self.summary.refused_bars = self.journal.count("refused_bar")
        self.summary.policy_errors = self.journal.count("policy_error")
        return self.summary

    def close(self) -> None:
        self.journal.close()

    # ------------------------------------------------------------------ decisions
    def _decide(self, t: int, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The agents' raw actions on bar ``t`` and whether each acted (a policy error: it holds)."""
        recorded = self.journal.get(f"decision:{t}")
        if recorded is not None:
            return np.asarray(recorded["actions"], dtype=np.float64), np.asarray(
                recorded["acted"], dtype=np.float64
            )
        actions, errors = self.caller(obs[0])
        acted = np.ones(len(self.agents))
        with self.journal.transaction():
            for a, err in enumerate(errors):
                if err is not None:
                    acted[a] = 0.0
                    actions[a] = 0.0
                    message = (
                        f"agent {self.agents[a]} on bar {t}: policy {err}; the agent holds its positions."
                    )
                    self.journal.append(
                        t, "policy_error", f"policy_error:{t}:{self.agents[a]}", {"message": message}
                    )
                    self._say(f"WARNING {message}")
            self.journal.append(
                t,
                "decision",
                f"decision:{t}",
                {"date": self.dates[t], "actions": actions.tolist(), "acted": acted.tolist()},
            )
        return actions, acted

    # ------------------------------------------------------------------ bars
    def _await_bar(self, t: int) -> np.ndarray | None:
        """Bar ``t``'s fields (5, N): from the journal on a restart, else the feed's next acceptable bar."""
        recorded = self.journal.get(f"bar:{t}")
        if recorded is not None:
            self.dates.append(recorded["date"])
            return np.asarray(recorded["fields"], dtype=np.float64)
        waited = 0.0
        while True:
            got = self.market.next_bar(self._source, self.dates[-1])
            if got is None:
                if getattr(self.market, "n_bars", None) is not None:
                    return None  # a replay ended
                if self.max_wait is not None and waited >= self.max_wait:
                    self._say(f"no new bar for {waited:.0f} s; stopping (restart to resume).")
                    return None
                time.sleep(self.poll_interval)
                waited += self.poll_interval
                continue
            date, fields = got
            fields = np.asarray(fields, dtype=np.float64)
            problem = self._check_bar(date, fields)
            if problem is not None:
                message = f"bar {date!s} refused: {problem}; positions held, no order built from it."
                self.journal.append(
                    t,
                    "refused_bar",
                    f"refused:{self._source}",
                    {"date": str(date), "source_index": self._source, "message": message},
                )
                self._say(f"WARNING {message}")
                self._source += 1
                continue
            self.journal.append(
                t,
                "bar",
                f"bar:{t}",
                {"date": str(date), "source_index": self._source, "fields": fields.tolist()},
            )
            self._source += 1
            self.dates.append(str(date))
            return fields

    def _check_bar(self, date: Any, fields: np.ndarray) -> str | None:
        """Why bar ``fields`` (5, N) dated ``date`` cannot be traded on, or ``None``."""
        n = self.sim.n_assets
        if fields.shape != (len(OHLCV), n):
            return f"expected (5, {n}) fields (open, high, low, close, volume), got shape {fields.shape}"
        missing = [self.tickers[i] for i in range(n) if not np.all(np.isfinite(fields[:, i]))]
        if missing:
            return f"missing or non-finite values for {missing}"
        if self.dates and str(date) <= self.dates[-1]:
            return f"stale: not newer than the last bar ({self.dates[-1]})"
        return self._validator_problem(fields)

    def _validator_problem(self, fields: np.ndarray) -> str | None:
        """The data validator's verdict on the bars so far plus this one (its own rules, not a copy)."""
        import pandas as pd

        from wealtharena_env.data.validate import validate_frame

        current = self.config.warmup + int(self.sim.steps[0])
        history = self.sim.reached_bars(max(0, current + 1 - VALIDATION_WINDOW))  # (K, 5, N)
        block = np.concatenate([history, fields[None]], axis=0)
        k = block.shape[0]
        dates = pd.date_range("2000-01-03", periods=k, freq="D")
        columns = {name: block[:, row].ravel() for row, name in enumerate(OHLCV)}
        frame = pd.DataFrame(
            {
                "date": np.repeat(dates.values, self.sim.n_assets),
                "ticker": np.tile(np.array(self.tickers, dtype=object), k),
                **columns,
            }
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                validate_frame(frame, where="live bar")
        except WealthArenaDataError as exc:
            return f"the data validator refuses it ({exc})"
        return None

    # ------------------------------------------------------------------ SimBroker: the step kernel fills
    def _fill_in_simulation(self, f: int, actions: np.ndarray, acted: np.ndarray) -> np.ndarray:
        sim = self.sim
        assert isinstance(self.broker, SimBroker)
        before = sim.holdings[0].copy()
        cash_before = sim.cash[0].copy()
        sim.actions[0, :, :-1] = actions
        sim.actions[0, :, -1] = acted
        obs, _ = sim.step()
        executed = sim.holdings[0] - before
        fill_price = sim.reached_bars(f)[0, CLOSE if sim.config.costs.fill_price == "close" else OPEN]
        d = f - 1
        with self.journal.transaction():
            for i, ticker in enumerate(self.tickers):
                if not np.any(executed[:, i] != 0.0):
                    continue
                cid = client_order_id(self.run_id, d, "net", ticker)
                net = float(executed[:, i].sum())
                status = OrderStatus(cid, ticker, net, net, float(fill_price[i]), 0.0, "filled", None)
                self.journal.append(d, "order", cid, snapshot_status(status))
                for a, agent in enumerate(self.agents):
                    if executed[a, i] != 0.0:
                        self.journal.append(
                            f,
                            "fill",
                            f"fill:{cid}:{agent}",
                            {
                                "agent": agent,
                                "symbol": ticker,
                                "qty": float(executed[a, i]),
                                "price": float(fill_price[i]),
                            },
                        )
                if self.broker.get_order(cid) is None:
                    self.broker.book(status)
            self.broker.adjust_cash(float((sim.cash[0] - cash_before).sum()))
            self._journal_step(f)
            self._reconcile(f)
        return obs

    def _journal_step(
        self,
        f: int,
        decision_events: list[list[dict[str, Any]]] | None = None,
        fees: np.ndarray | None = None,
    ) -> None:
        """Journal the step that reached bar ``f``: each agent's value, cash, costs, weights, shares and the
        risk events of its decision (external brokers: ``decision_events`` of the trial step, ``fees`` the
        broker's fees booked to each agent)."""
        events = 0
        agents: dict[str, Any] = {}
        for a, agent in enumerate(self.agents):
            info = self.sim.info(a, level="full")
            if decision_events is not None:
                info["risk_events"] = decision_events[a]
            if fees is not None:
                info["cost"] = float(fees[a])
            events += len(info["risk_events"])
            agents[agent] = {
                "value": info["portfolio_value"],
                "cash": info["cash"],
                "cost": info["cost"],
                "turnover": info["turnover"],
                "drawdown": info["drawdown"],
                "reward": info["reward"],
                "weights": [float(w) for w in info["weights"]],
                "shares": self.sim.holdings[0, a].tolist(),
                "risk_events": [
                    {k: (v if isinstance(v, (str, int)) else float(v)) for k, v in e.items()}
                    for e in info["risk_events"]
                ],
            }
        self.summary.risk_events += events
        self.journal.append(f, "step", f"step:{f}", {"date": self.dates[f], "agents": agents})

    # ------------------------------------------------------------------ external brokers
    def _targets(self, t: int, actions: np.ndarray, acted: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """Each agent's shares after trading its decision on bar ``t``, as the env would trade it: a step on a
        copy of the state whose fill bar is bar ``t``'s close (the next bar is not known). The decision's risk
        state (cooldown, breaker, event counts) is kept; everything else is restored."""
        sim = self.sim
        state = sim.kernel_state
        arrays = [a for a in state if a is not None]  # optional models off (risk_factors) are None
        saved = [np.copy(a) for a in arrays]
        decision_bar = sim.reached_bars(t)[0]
        fill_bar = np.repeat(decision_bar[CLOSE][None], len(OHLCV), axis=0)  # every price at the close
        fill_bar[VOLUME] = decision_bar[VOLUME]
        sim.append_bar(fill_bar)  # (restored below, with the rest of the state)
        sim.actions[0, :, :-1] = actions
        sim.actions[0, :, -1] = acted
        sim.step()
        targets = sim.holdings[0].copy()
        events = [sim.info(a, level="full")["risk_events"] for a in range(len(self.agents))]
        kept = {
            k: state.agent_state[k].copy()
            for k in ("cooldown", "terminated", "restart_peak", "event_counts", "nan_total", "clipped_total")
        }
        for array, copy in zip(arrays, saved):
            np.copyto(array, copy)
        for k, v in kept.items():
            state.agent_state[k] = v
        return targets, events

    def _send_orders(self, t: int, actions: np.ndarray, acted: np.ndarray) -> None:
        targets, events = self._targets(t, actions, acted)
        self._decision_events = events
        held = self.sim.holdings[0]
        close = self.sim.reached_bars(t)[0, CLOSE]
        values = self.sim.portfolio_values[0]
        requests = targets - held
        for a in range(len(self.agents)):  # float dust of an unchanged weight is not an order
            requests[a, np.abs(requests[a]) * close <= 1e-10 * max(values[a], 1e-300)] = 0.0
        orders: list[OrderRequest] = []
        with self.journal.transaction():
            for a, agent in enumerate(self.agents):
                for k, e in enumerate(events[a]):  # in the risk layer's order
                    self.journal.append(
                        t,
                        "risk_event",
                        f"risk:{t}:{agent}:{k}",
                        {
                            "agent": agent,
                            **{k: (v if isinstance(v, (str, int)) else float(v)) for k, v in e.items()},
                        },
                    )
                for i, ticker in enumerate(self.tickers):
                    if requests[a, i] != 0.0:
                        cid = client_order_id(self.run_id, t, agent, ticker)
                        self.journal.append(
                            t, "intent", cid, {"agent": agent, "symbol": ticker, "qty": float(requests[a, i])}
                        )
            for i, ticker in enumerate(self.tickers):
                if not np.any(requests[:, i] != 0.0):
                    continue
                net = float(requests[:, i].sum())
                cid = client_order_id(self.run_id, t, "net", ticker)
                self.journal.append(
                    t,
                    "order",
                    cid,
                    {
                        "client_order_id": cid,
                        "symbol": ticker,
                        "qty": net,
                        "requests": requests[:, i].tolist(),
                    },
                )
                if net != 0.0:
                    orders.append(OrderRequest(cid, ticker, net))
        for order in orders:
            self._submit_once(t, order)

    def _submit_once(self, t: int, order: OrderRequest) -> None:
        """Send ``order`` unless the journal or the broker already has it (the crash-safe path)."""
        key = f"ack:{order.client_order_id}"
        if self.journal.get(key) is not None:
            return
        if self.dry_run:
            self.journal.append(t, "order_ack", key, {"dry_run": True, "status": "not sent (dry run)"})
            self._say(f"dry run: would send {order.qty:+.6g} {order.symbol} ({order.client_order_id})")
            return
        status = self.broker.get_order(order.client_order_id)
        if status is None:
            clock = self.broker.clock()
            if not clock.is_open:
                message = (
                    f"order {order.client_order_id} not sent: the market is closed ({clock.timestamp}; "
                    f"next open {clock.next_open}); it is dropped and the next decision re-targets."
                )
                self.journal.append(t, "order_ack", key, {"status": "not sent", "message": message})
                self._say(f"WARNING {message}")
                return
            try:
                status = self.broker.submit(order)
            except BrokerError as exc:
                message = f"order {order.client_order_id} failed: {exc}"
                self.journal.append(t, "order_ack", key, {"status": "error", "message": message})
                self._say(f"WARNING {message}")
                return
        self.journal.append(t, "order_ack", key, snapshot_status(status))

    def _book_broker_fills(self, f: int, fields: np.ndarray) -> np.ndarray:
        sim = self.sim
        d = f - 1
        on_bar = getattr(self.broker, "on_bar", None)
        orders = [(key, p) for bar, _, key, p in self.journal.entries("order") if bar == d]
        if orders and on_bar is not None and self.journal.get(f"fills:{f}") is None:
            on_bar(self.dates[f], self.tickers, fields)
        shares = sim.holdings[0]
        entry = sim.average_cost[0]
        cash = sim.cash[0]
        with self.journal.transaction():
            booked = self.journal.get(f"fills:{f}")
            if booked is None:
                statuses: dict[str, dict[str, Any] | None] = {}
                for cid, p in orders:
                    final = None if p["qty"] == 0.0 or self.dry_run else self._final_status(cid)
                    statuses[cid] = None if final is None else snapshot_status(final)
                self.journal.append(f, "fills", f"fills:{f}", statuses)
                booked = statuses
            fees_total = np.zeros(len(self.agents))
            for cid, p in orders:
                i = self.tickers.index(p["symbol"])
                requests = np.asarray(p["requests"])
                reported = booked.get(cid)
                if self.dry_run:  # nothing was sent, nothing moves (not even the agents' crossing requests)
                    continue
                if p["qty"] == 0.0:  # the agents' requests cancel out: they cross at the fill bar's open
                    phi, price, fees = 1.0, float(fields[OPEN, i]), 0.0
                elif reported is None:
                    continue
                else:
                    phi, price = reported["filled_qty"] / p["qty"], reported["avg_price"]
                    fees = reported["fees"]
                if phi == 0.0:
                    continue
                weights = np.abs(requests) / np.abs(requests).sum()
                for a, agent in enumerate(self.agents):
                    q = phi * requests[a]
                    if q == 0.0:
                        continue
                    fee = fees * weights[a]
                    self.journal.append(
                        f,
                        "fill",
                        f"fill:{cid}:{agent}",
                        {"agent": agent, "symbol": p["symbol"], "qty": q, "price": price, "fee": fee},
                    )
                    if q > 0.0:
                        entry[a, i] = (shares[a, i] * entry[a, i] + q * price) / (shares[a, i] + q)
                    shares[a, i] += q
                    if shares[a, i] <= 0.0:
                        shares[a, i] = max(shares[a, i], 0.0)
                        entry[a, i] = 0.0
                    cash[a] -= q * price + fee
                    fees_total[a] += fee
            risk_enabled = bool(sim.params["risk_enabled"][0])
            sim.params["risk_enabled"] = False  # the risk layer ran at the decision; this step only values
            try:
                sim.actions[0, :, -1] = 0.0
                obs, _ = sim.step()
            finally:
                sim.params["risk_enabled"] = risk_enabled
            sim.total_costs[0] += fees_total
            self._journal_step(f, self._decision_events, fees_total)
            self._reconcile(f)
        return obs

    def _final_status(self, cid: str) -> OrderStatus | None:
        """The order's status once nothing more fills: an order still open at the next bar is cancelled
        (the next decision re-targets)."""
        status = self.broker.get_order(cid)
        if status is None or status.final:
            return status
        self.broker.cancel(cid)
        for _ in range(10):
            status = self.broker.get_order(cid)
            if status is None or status.final:
                return status
            time.sleep(0.5)
        raise BrokerError(
            f"order {cid} is still {status.status if status else 'unknown'} after cancelling it."
        )

    # ------------------------------------------------------------------ reconciliation
    def _start_positions(self) -> None:
        """The positions and cash the account held before the run (journaled once): reconciliation adds the
        agents' ledgers to them."""
        if self.journal.get("start_positions") is None:
            held = {} if self.in_simulation else self.broker.positions()
            with self.journal.transaction():
                self.journal.append(
                    -1, "start_positions", "start_positions", {s: float(q) for s, q in held.items()}
                )
                self.journal.append(-1, "start_cash", "start_cash", float(self.broker.cash()))
                self.journal.append(
                    -1, "initial_cash", "initial_cash", dict(zip(self.agents, self.sim.initial_cash.tolist()))
                )

    def _reconcile(self, f: int) -> None:
        """Compare the ledgers' sum with the broker's account after bar ``f`` (inside the step's transaction,
        so a step is never journaled without its reconciliation); a gap journals a halt, raised after the
        commit. A replayed bar is not reconciled again: the broker's account has moved on since."""
        if self._replaying:
            return
        start = self.journal.get("start_positions") or {}
        broker = self.broker.positions()
        ledger = self.sim.holdings[0].sum(axis=0)
        gaps = {}
        for i, ticker in enumerate(self.tickers):
            expected = float(ledger[i]) + float(start.get(ticker, 0.0))
            actual = float(broker.get(ticker, 0.0))
            if abs(expected - actual) > RECONCILE_TOLERANCE * max(1.0, abs(actual)):
                gaps[ticker] = {"ledgers": expected, "broker": actual}
        if getattr(self.broker, "reconcile_cash", False):
            # broker cash - its start = sum over agents of (ledger cash - initial cash)
            expected = float(self.journal.get("start_cash") or 0.0) + float(
                (self.sim.cash[0] - self.sim.initial_cash).sum()
            )
            actual = float(self.broker.cash())
            if abs(expected - actual) > 1e-9 * max(1.0, abs(actual)) + 1e-6:
                gaps["cash"] = {"ledgers": expected, "broker": actual}
        self.journal.append(f, "reconcile", f"reconcile:{f}", {"ok": not gaps, "gaps": gaps})
        if gaps:
            message = (
                f"bar {f}: the agents' ledgers do not reconcile with the broker's account: "
                + "; ".join(
                    f"{t} ledgers {g['ledgers']:.8g} vs broker {g['broker']:.8g}" for t, g in gaps.items()
                )
                + ". Trading halted; nothing more is sent."
            )
            self.journal.append(f, "halt", f"halt:{f}", {"message": message})
            self._halt_message = message

    # ------------------------------------------------------------------ output
    def _say(self, text: str) -> None:
        if self.progress is not None:
            print(text, file=self.progress, flush=True)

    def _progress(self, t: int) -> None:
        if self.progress is None:
            return
        values = self.sim.portfolio_values[0]
        initial = self.sim.initial_cash
        step = self.journal.get(f"step:{t}") or {"agents": {}}
        events = sum(len(a["risk_events"]) for a in step["agents"].values())
        orders = sum(1 for bar, _, _, _ in self.journal.entries("order") if bar == t - 1)
        ret = float(values.sum() / initial.sum() - 1.0)
        self._say(
            f"[{self.run_id}] bar {t} {self.dates[t]} | value {values.sum():,.2f} ({ret:+.2%}) | "
            f"orders {orders} | risk events {events} | {self.broker.name}{' dry-run' if self.dry_run else ''}"
        )


def trade(
    policy: Any,
    market: BarFeed,
    broker: Broker,
    journal: Journal | str,
    config: ArenaConfig | None = None,
    max_bars: int | None = None,
    **kwargs: Any,
) -> RunSummary:
    """Build a :class:`Runner` and run it (the Python API of ``wealtharena trade``); the journal is
    closed after."""
    runner = Runner(policy, market, broker, journal, config, **kwargs)
    try:
        return runner.run(max_bars=max_bars)
    finally:
        runner.close()


__all__ = ["BarFeed", "RunSummary", "Runner", "trade"]
