"""The Simulation: batch-first state arrays and the one engine under every API.

``Simulation(config, batch_size=B)`` owns the arrays described in :mod:`wealtharena_env.kernels.step`
and calls the kernels; the PettingZoo, Gymnasium and vector envs are thin adapters over it. Environment
``b`` of a batch draws its episodes from its own ``numpy.random.Generator``, seeded by ``reset(seeds=...)``,
so environment ``b`` seeded ``s`` is bit-identical to a single environment seeded ``s``. A synthetic episode
takes one 64-bit key from that generator and is drawn from the kernel stream it seeds
(:mod:`wealtharena_env.kernels.rng`) as it is reached: the warm-up bars at reset, then one bar per step inside
the step kernel (``market_by_bar``; the ``"full"`` feature set, historical data and users' own sources fill
the whole episode at reset instead).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist
from typing import Any

import numba
import numpy as np

from wealtharena_env._numba_cache import announce_first_compile, mark_compiled
from wealtharena_env.config import AgentProfile, ArenaConfig
from wealtharena_env.data.market_data import check_bar_values
from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels import execution as kx
from wealtharena_env.kernels import features as kf
from wealtharena_env.kernels import market as mk
from wealtharena_env.kernels import regime as kg
from wealtharena_env.kernels import reward as kr
from wealtharena_env.kernels import risk as kk
from wealtharena_env.kernels import step as ks
from wealtharena_env.kernels.features import observation_size, observation_slices
from wealtharena_env.kernels.market import BAR_CLOSE, BAR_LOGRET, N_BAR_FIELDS
from wealtharena_env.market_sources import OHLCV, HistoricalMarket, MarketSource, SyntheticMarket
from wealtharena_env.outputs import InfoDecoder

#: When a threaded Simulation draws new episodes for at least this many environments in one call (a reset,
#: or the autoreset of a vector env whose episodes all end together), the synthetic or historical sources
#: draw them on ``numba.get_num_threads()`` Python threads: NumPy's generators and the path kernel release
#: the GIL, and each environment uses only its own generator and rows, so the draws are the same bits.
PARALLEL_DRAW_MIN = 8


def pack_params(config: ArenaConfig) -> np.ndarray:
    """The scalar configuration as the kernels read it: one ``kernels.step.PARAMS_DTYPE`` record,
    shape (1,)."""
    p = np.zeros(1, dtype=ks.PARAMS_DTYPE)
    costs = config.costs
    p["commission"] = costs.commission_bps * 1e-4
    p["half_spread"] = costs.half_spread_bps * 1e-4
    p["impact_coefficient"] = costs.impact_coefficient
    p["fill_on_close"] = costs.fill_price == "close"
    p["lot_size"] = costs.lot_size
    p["permanent_impact"] = config.market.impact
    p["ewma_decay"] = 0.5 ** (1.0 / config.volatility_halflife)
    p["discrete_actions"] = config.action_type == "discrete"
    p["action_mapping"] = {
        "simplex": kx.MAPPING_SIMPLEX,
        "softmax": kx.MAPPING_SOFTMAX,
        "exponential": kx.MAPPING_EXPONENTIAL,
    }[config.action_mapping]
    p["softmax_temperature"] = config.softmax_temperature
    p["action_dead_zone"] = config.action_dead_zone
    p["discrete_step"] = config.discrete_step
    p["obs_clip"] = config.observation_clip
    p["periods_per_year"] = config.market.periods_per_year
    p["episode_length"] = config.episode_length
    p["warmup"] = config.warmup
    p["window"] = config.window
    p["risk_enabled"] = config.risk_enabled
    p["log_return_reward"] = config.reward_mode == "log_return"
    p["max_participation"] = costs.max_participation
    p["max_impact"] = config.market.max_impact
    p["rebalance_rate"] = config.rebalance_rate
    p["rebalance_band"] = config.rebalance_band
    p["risk_factor_refresh"] = config.risk_factor_refresh
    return p


def pack_agent_params(agent: AgentProfile) -> np.ndarray:
    """One agent's ``kernels.step.AGENT_PARAMS_DTYPE`` record: initial cash, Sharpe rate, risk limits, reward
    weights (a 0-d structured array)."""
    row = np.zeros((), dtype=ks.AGENT_PARAMS_DTYPE)
    row["initial_cash"] = agent.initial_cash
    risk, reward = agent.risk, agent.reward
    assert risk is not None and reward is not None  # filled by AgentProfile.__post_init__
    row["sharpe_rate"] = reward.sharpe_rate
    limits = row["limits"]
    limits["max_position"] = risk.max_position
    limits["max_correlation"] = risk.max_correlation
    limits["volatility_budget"] = risk.volatility_budget
    limits["var_limit"] = risk.var_limit
    limits["cvar_limit"] = risk.cvar_limit
    limits["max_leverage"] = risk.max_leverage
    limits["stop_loss"] = risk.stop_loss
    limits["take_profit"] = risk.take_profit
    limits["trim"] = risk.exit_mode == "trim"
    limits["trim_fraction"] = risk.trim_fraction
    limits["max_drawdown"] = risk.max_drawdown
    limits["breach"] = {
        "liquidate": kk.BREACH_LIQUIDATE,
        "terminate": kk.BREACH_TERMINATE,
        "penalize": kk.BREACH_PENALIZE,
    }[risk.breach]
    limits["cooldown"] = risk.cooldown
    z = NormalDist().inv_cdf(risk.risk_level)
    limits["var_z"] = z
    limits["cvar_factor"] = NormalDist().pdf(z) / (1.0 - risk.risk_level)
    limits["tail_probability"] = 1.0 - risk.risk_level
    limits["var_lookback"] = risk.var_lookback
    weights = row["reward"]
    for k, name in enumerate(kr.TERM_NAMES):
        weights[k] = getattr(reward, name)
    return row


class Simulation:
    """B independent arenas stepped together by one kernel call.

    Args:
        config: the arena configuration.
        batch_size: number of environments B (>= 1).
        data: historical data (anything :class:`~wealtharena_env.market_sources.HistoricalMarket` accepts) or
            a ready :class:`MarketSource`; ``None`` uses the synthetic market of ``config.market``.
        parallel: step with threads (``prange``, ``True``) or serially (``False``; ``None``, the default, is
            serial). Threads are opt-in: on an idle machine they pay from ~100 agent-asset cells per batch
            step (docs/benchmarks.md), but with another busy process on the cores — every RL training run has
            one, the learner — OpenMP's workers stall and a step gets 10-30x slower than serial. Results are
            bit-identical either way.
        track_values: keep every agent's portfolio value of the episode so far (:attr:`value_history`).
        risk_event_table: the info rows hold the table of each step's risk events (rule, asset, weight
            removed), which the ``"full"`` info's ``risk_events`` decodes; ``False`` (what the envs use at
            ``info_level="lean"``) keeps only their count per step (and the per-rule totals of
            :meth:`episode_summary`): rows of 60 instead of 348 floats for 5 agents x 30 assets, less to
            write every step and to hold in memory.

    Attributes:
        actions: (B, A, n_action + 1) float64 buffer the adapters write actions into; the last column is
            1 where the agent acted (0 = it holds).
        n_action: entries of one agent's action (N + 1 for continuous, N for discrete).
        obs_size: entries of one agent's observation.
    """

    def __init__(
        self,
        config: ArenaConfig,
        batch_size: int = 1,
        data: Any = None,
        parallel: bool | None = None,
        track_values: bool = False,
        risk_event_table: bool = True,
        **data_kwargs: Any,
    ):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
        if data is None:
            if data_kwargs:
                raise ConfigError(f"{sorted(data_kwargs)} only apply to historical data; pass data= as well.")
            source: MarketSource = SyntheticMarket(config.market)
        elif hasattr(data, "sample") and hasattr(data, "n_assets"):
            source = data
        else:
            source = HistoricalMarket(data, **data_kwargs)
        n_bars = getattr(source, "n_bars", None)  # optional member of a MarketSource
        if n_bars is not None and n_bars < config.bars_per_episode:
            raise ConfigError(
                f"an episode needs {config.bars_per_episode} bars (warmup {config.warmup} + episode_length "
                f"{config.episode_length} + 1) but the data has only {n_bars}; shorten episode_length or "
                "warmup, or load a longer date range."
            )
        if source.n_assets != config.market.n_assets:
            config = config.replace(market=dataclasses.replace(config.market, n_assets=source.n_assets))
        self.config = config
        self.source = source
        self.batch_size = int(batch_size)
        b, a, n = self.batch_size, config.n_agents, config.n_assets
        self.n_assets = n
        self.n_agents = a
        self.tickers = source.tickers
        self.n_action = n + 1 if config.action_type == "continuous" else n
        self.n_indicators = kf.FEATURE_SETS[config.feature_set]
        model = config.regime_model
        #: S, the regime probabilities in each observation (0 without ``config.regime_model``).
        self.n_regimes = 0 if model is None else model.n_states
        #: the packed regime model the kernels read (``kernels.regime``; None without one)
        self.regime_model = ks.NO_REGIME_MODEL if model is None else kg.pack_regime_model(model)
        self.obs_size = observation_size(n, config.window, self.n_indicators, self.n_regimes)
        #: whether the info rows hold the table of risk events (the ``"full"`` info needs it)
        self.risk_event_table = bool(risk_event_table)
        self.info_size = ks.info_width(n, self.risk_event_table)
        self.params = pack_params(config)
        self.agent_params = np.stack([pack_agent_params(p) for p in config.agents])
        # log returns asset-major, then the market series of kernels.features.market_series_update, then the
        # filtered regime probabilities of kernels.features.regime_series_update
        self.returns = np.zeros((b, n + kf.N_MARKET_SERIES + self.n_regimes, config.bars_per_episode))
        # the observation window's standardized returns: a ring of the last `window` bars (bar t in row t % W)
        self.zret = np.zeros((b, config.window, n), dtype=np.float32)
        self.indicators = np.zeros((b, config.bars_per_episode, self.n_indicators, n), dtype=np.float32)
        self.positions = np.zeros((b, a, 2, n))
        self.agent_state = np.zeros((b, a), dtype=ks.AGENT_STATE_DTYPE)
        # covariance rows, the impact row, then the synthetic path's per-asset state (kernels.market.ASSET_*)
        self.asset_state = np.zeros((b, n + 1 + mk.N_ASSET_ROWS, n))
        self.market = np.zeros(b, dtype=ks.MARKET_STATE_DTYPE)
        self.clock = np.zeros((b, ks.N_CLOCK), dtype=np.int64)
        if config.risk_factors and config.risk_factors >= n:
            raise ConfigError(
                f"risk_factors ({config.risk_factors}) must be below the number of assets ({n})."
            )
        #: the risk model's factor model per environment (``kernels.risk.factor_variance``), or None with the
        #: exact covariance (``risk_factors=0``: no factor code is compiled)
        self.risk_factors = (
            np.zeros((b, kk.risk_factor_rows(config.risk_factors), n)) if config.risk_factors else None
        )
        #: (B, T) the synthetic market's true regime of each bar reached (``config.REGIME_NAMES`` order; -1
        #: where the source has none). It reaches the full info (``"regime"``), never an observation.
        self.regimes = np.full((b, config.bars_per_episode), -1, dtype=np.int8)  # 3 regimes: 1 byte a bar
        self.actions = np.zeros((b, a, self.n_action + 1))
        self._no_reset = np.zeros(0, dtype=np.bool_)
        # the synthetic market is drawn bar by bar (a reset draws the warm-up, each step the bar it reaches)
        # unless the "full" feature set's indicators need the whole path up front, or the bars come from data
        # or a user's own source
        self.market_by_bar = type(source) is SyntheticMarket and self.n_indicators == 0
        # bar t lives in row t % rows: the whole episode, or (drawn bar by bar) a ring of two rows, the
        # decision and the fill bar of a step (a reset draws the warm-up aside and keeps its log returns
        # in `returns`)
        #: bars arrive one at a time (:meth:`append_bar`): a reset fills the warm-up, later rows are NaN
        #: until then
        self.bar_by_bar = bool(getattr(source, "bar_by_bar", False))
        rows = 2 if self.market_by_bar else config.bars_per_episode
        self.bars = np.zeros((b, rows, N_BAR_FIELDS, n))
        if self.market_by_bar:
            assert isinstance(source, SyntheticMarket)  # (narrows source: market_by_bar checked its type)
            scalars, regime_params, transition = source.dynamics
            self.params["market_by_bar"] = True
            self.params["market_scalars"] = scalars
            self.params["regime_params"] = regime_params
            self.params["regime_transition"] = transition
        self._rngs: list[np.random.Generator | None] = [None] * b
        self._started = np.zeros(b, dtype=bool)
        self.clock[:, ks.CLK_STEP] = config.episode_length  # "episode over" until the first reset
        parallel = bool(parallel)  # None: serial (threads are opt-in)
        self._step_kernel = ks.step_batch_parallel if parallel else ks.step_batch
        # work space of the kernels, one slot per block of environments the prange driver runs in parallel
        # (one slot when serial): it holds nothing between environments, so it stays in cache whatever the
        # batch size. Work rows hold up to max(4 N + 2, W, lookback, warmup) values plus the few order
        # statistics of the VaR.
        # numba.config sets its attributes from the environment at import, out of a type checker's sight
        n_slots = min(b, numba.config.NUMBA_NUM_THREADS) if parallel else 1  # type: ignore[attr-defined]
        lookback = max(int(p.risk.var_lookback) for p in config.agents)
        self.scratch = np.zeros(
            (n_slots, ks.N_SCRATCH, max(4 * n + 2, config.window, lookback, config.warmup) + 16)
        )
        #: The kernels' view of this state (``kernels.step.EnvState`` / ``EnvConfig``: the arrays above,
        #: by name).
        self.kernel_state = ks.EnvState(
            bars=self.bars,
            history=self.returns,
            zret=self.zret,
            indicators=self.indicators,
            positions=self.positions,
            agent_state=self.agent_state,
            asset_state=self.asset_state,
            market=self.market,
            clock=self.clock,
            risk_factors=self.risk_factors,
            regimes=self.regimes,
        )
        self.kernel_config = ks.EnvConfig(
            params=self.params, agent_params=self.agent_params, regime_model=self.regime_model
        )
        # handed to the kernels as plain tuples in the named tuples' order: Numba reads a plain tuple's types
        # about twice as fast as a named tuple's (benchmarks/bench_step.py, "kernel call")
        self._state_arrays = tuple(self.kernel_state)
        self._config_arrays = tuple(self.kernel_config)
        self.last_info: np.ndarray | None = None  # the info array of the last reset / step (see info())
        self._decoders: dict[str, InfoDecoder] = {}
        self._compile_pending = False  # the first-compile notice was shown: record the compile after a step
        #: (B, A, episode_length + 1) portfolio values of the episode so far (NaN after the current step),
        #: kept only with ``track_values=True`` (the rendering envs ask for it; training does not pay for it).
        self.value_history: np.ndarray | None = (
            np.full((b, a, config.episode_length + 1), np.nan) if track_values else None
        )
        self._threaded = bool(parallel)
        self._draw_pool: ThreadPoolExecutor | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle / deepcopy without the draw threads (a copy starts its own when it needs them)."""
        state = self.__dict__.copy()
        state["_draw_pool"] = None
        return state

    # ------------------------------------------------------------------ layout helpers
    @property
    def observation_slices(self) -> dict[str, slice]:
        """Named slices of one agent's observation vector."""
        return observation_slices(self.n_assets, self.config.window, self.n_indicators, self.n_regimes)

    @property
    def history(self) -> np.ndarray:
        """Log returns of the bars reached so far, asset-major, (B, N, T) (a view of ``returns``, whose rows
        after the N assets' hold the market series of the market-state features)."""
        return self.returns[:, : self.n_assets]

    @property
    def holdings(self) -> np.ndarray:
        """Shares held, (B, A, N) (a view of ``positions``)."""
        return self.positions[:, :, ks.POS_SHARES]

    @property
    def average_cost(self) -> np.ndarray:
        """Average entry price of each position, (B, A, N) (a view of ``positions``)."""
        return self.positions[:, :, ks.POS_ENTRY]

    @property
    def covariance(self) -> np.ndarray:
        """EWMA covariance of the assets' daily log returns, (B, N, N) (a view of ``asset_state``)."""
        return self.asset_state[:, : self.n_assets]

    @property
    def cumulative_impact(self) -> np.ndarray:
        """Cumulative log price impact of the agents' net order flow per asset, (B, N) (a view
        of ``asset_state``)."""
        return self.asset_state[:, self.n_assets]

    @property
    def episode_length(self) -> int:
        return self.config.episode_length

    @property
    def steps(self) -> np.ndarray:
        """Decisions taken so far in each environment's episode, (B,)."""
        return self.clock[:, ks.CLK_STEP].copy()

    # ------------------------------------------------------------------ reset / step
    def reset(
        self, seeds: Sequence[int | None] | int | None = None, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Start new episodes; return fresh ``(obs (B, A, D) float32, info (B, A, I) float64)``.

        ``seeds``: one seed per environment (``None`` entries keep that environment's generator running,
        or seed it from OS entropy on first use), or one int seeding environment ``b`` with ``seed + b``.
        ``mask`` (B,) bool: reset only those environments (the others keep their state; their rows of the
        returned arrays are their current observation).
        """
        b = self.batch_size
        if seeds is None:
            seed_list: list[int | None] = [None] * b
        elif isinstance(seeds, (int, np.integer)):
            seed_list = [int(seeds) + k for k in range(b)]
        else:
            seed_list = list(seeds)
            if len(seed_list) != b:
                raise ConfigError(f"reset got {len(seed_list)} seeds for a batch of {b} environments.")
        if mask is None:
            mask = np.ones(b, dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        self._compile_pending = announce_first_compile()
        indices = [int(k) for k in np.flatnonzero(mask)]
        self._draw_episodes(indices, [seed_list[k] for k in indices])
        if len(indices) == b:  # the reset writes every entry of both outputs: nothing to observe first
            obs = np.empty((b, self.n_agents, self.obs_size), dtype=np.float32)
            info = np.empty((b, self.n_agents, self.info_size))
        else:
            obs, info = self.observe()
        ks.reset_batch(mask, self._state_arrays, self._config_arrays, (obs, info), self.scratch)
        self.last_info = info
        if self.value_history is not None:
            self._record_values(mask)
        return obs, info

    def _record_values(self, restarted: np.ndarray | None) -> None:
        """Write each environment's current portfolio values into :attr:`value_history` at its step (the
        ``restarted`` environments' rows are cleared first)."""
        history = self.value_history
        assert history is not None  # called only with track_values=True
        if restarted is not None and restarted.any():
            history[restarted] = np.nan
        history[np.arange(self.batch_size), :, self.clock[:, ks.CLK_STEP]] = self.agent_state["value"]

    def close(self) -> None:
        """Stop the threads that draw episodes (if any were started); the Simulation stays usable."""
        if self._draw_pool is not None:
            self._draw_pool.shutdown(wait=True)
            self._draw_pool = None

    def _draw_episodes(self, indices: list[int], seeds: list[int | None]) -> None:
        """:meth:`_draw_episode` for each environment of ``indices``, on threads when it pays (see
        ``PARALLEL_DRAW_MIN``); a user's own market source is always drawn serially."""
        n_threads = min(numba.get_num_threads(), len(indices))
        if (
            not self._threaded
            or n_threads < 2
            or len(indices) < PARALLEL_DRAW_MIN
            or type(self.source) not in (SyntheticMarket, HistoricalMarket)
        ):
            for k, seed in zip(indices, seeds):
                self._draw_episode(k, seed)
            return
        if self._draw_pool is None:
            self._draw_pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="wealtharena-draw")

        def draw_chunk(chunk: int) -> None:
            for k, seed in zip(indices[chunk::n_threads], seeds[chunk::n_threads]):
                self._draw_episode(k, seed)

        for future in [self._draw_pool.submit(draw_chunk, c) for c in range(n_threads)]:
            future.result()  # re-raises a source's error here

    def _draw_episode(self, k: int, seed: int | None) -> None:
        """Start environment ``k``'s new episode from its generator (seeded when given): the whole path into
        ``bars[k]``, or with :attr:`market_by_bar` its warm-up bars and the stream the steps continue
        it from."""
        rng = self._rngs[k]
        if seed is not None:
            rng = self._rngs[k] = np.random.default_rng(seed)
        elif rng is None:
            rng = self._rngs[k] = np.random.default_rng()
        self.regimes[k] = -1  # unknown, until (and unless) the source tells them
        if self.market_by_bar:
            # market_by_bar is set for the synthetic market only
            assert isinstance(self.source, SyntheticMarket)
            first = self.config.warmup + 1
            regimes = np.empty(first, dtype=np.int64)
            warmup_bars = np.empty((first, N_BAR_FIELDS, self.n_assets))
            path_state = self.asset_state[k, self.n_assets + 1 :]
            # the ring keeps the last bars drawn whole; the earlier warm-up bars only give their log returns
            full_from = first - self.bars.shape[1]
            self.source.start(rng, self.market["stream"][k], path_state, warmup_bars, regimes, full_from)
            self.market["regime"][k] = regimes[-1]
            self.regimes[k, :first] = regimes
            self.returns[k, : self.n_assets, :first] = warmup_bars[:, BAR_LOGRET, :].T
            for t in range(first - self.bars.shape[1], first):  # the ring holds the last bars drawn
                self.bars[k, t % self.bars.shape[1]] = warmup_bars[t]
        elif self.bar_by_bar:
            first = self.config.warmup + 1
            self.source.sample(rng, self.bars[k, :first])
            self.bars[k, first:] = np.nan  # not arrived yet: any read of them would show as NaN
        else:
            labels = self.source.sample(rng, self.bars[k])
            if isinstance(labels, np.ndarray) and labels.shape == self.regimes[k].shape:
                self.regimes[k] = labels  # a source that knows its regimes (the synthetic market)
        if self.n_indicators:
            kf.indicator_features(self.bars[k], self.config.observation_clip, self.indicators[k])
        self._started[k] = True

    def step_arguments(self, reset_mask: np.ndarray, obs: np.ndarray, info: np.ndarray) -> tuple[Any, ...]:
        """The arguments of the step kernels (``kernels.step.step_batch`` / ``step_batch_parallel``), in their
        order, with the outputs ``obs`` and ``info`` written by the call."""
        return (reset_mask, self._state_arrays, self._config_arrays, self.actions, (obs, info), self.scratch)

    def observe(self) -> tuple[np.ndarray, np.ndarray]:
        """Fresh ``(obs, info)`` of the current bar of every started environment, without stepping."""
        obs = np.zeros((self.batch_size, self.n_agents, self.obs_size), dtype=np.float32)
        info = np.zeros((self.batch_size, self.n_agents, self.info_size))
        if self._started.all():
            ks.observe_batch(self._state_arrays, self._config_arrays, (obs, info), self.scratch)
        return obs, info

    def step(
        self, actions: np.ndarray | None = None, reset_mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance every environment by one decision; return fresh ``(obs, info)`` arrays.

        ``actions`` (B, A, n_action) raw actions, or ``None`` when :attr:`actions` was filled in place
        (including its last "acted" column). ``info[..., IN_REWARD]`` is the reward. Stepping an
        environment whose episode is over raises :class:`ConfigError` (reset it first).

        ``reset_mask`` (B,) bool: those environments start a new episode instead (drawn from their running
        generators; their actions are ignored), in the same kernel call — Gymnasium's next-step autoreset.
        """
        if actions is not None:
            actions = np.asarray(actions, dtype=np.float64)
            if actions.shape != (self.batch_size, self.n_agents, self.n_action):
                raise ConfigError(
                    f"actions must have shape (batch, agents, action) = "
                    f"{(self.batch_size, self.n_agents, self.n_action)}, got {actions.shape}."
                )
            self.actions[..., :-1] = actions
            self.actions[..., -1] = 1.0
        if reset_mask is None:
            reset_mask = self._no_reset
        else:
            reset_mask = np.ascontiguousarray(reset_mask, dtype=np.bool_)
            if reset_mask.shape != (self.batch_size,):
                raise ConfigError(f"reset_mask must have shape ({self.batch_size},), got {reset_mask.shape}.")
            indices = [int(k) for k in np.flatnonzero(reset_mask)]
            self._draw_episodes(indices, [None] * len(indices))
        obs = np.empty((self.batch_size, self.n_agents, self.obs_size), dtype=np.float32)
        info = np.empty((self.batch_size, self.n_agents, self.info_size))  # the kernel writes every column
        finished = self._step_kernel(*self.step_arguments(reset_mask, obs, info))
        if self.value_history is not None and not finished:
            self._record_values(reset_mask if reset_mask.shape[0] else None)
        if self._compile_pending:
            self._compile_pending = False
            mark_compiled()
        if finished:
            raise ConfigError(
                f"step() called on {finished} environment(s) whose episode is over (or that were never "
                "reset); call reset() first. Their state was left unchanged."
            )
        self.last_info = info
        return obs, info

    def append_bar(self, fields: np.ndarray, env_index: int = 0) -> int:
        """Hand a bar-by-bar Simulation the bar after its current one, ``t = warmup + steps + 1``;
        return ``t``.

        ``fields`` (5, N): open, high, low, close, volume (``kernels.market.BAR_OPEN .. BAR_VOLUME``). Its log
        return ``log(close_t / close_{t-1})`` is computed by the same kernel as a historical market's
        (:func:`~wealtharena_env.kernels.market.fill_log_returns`), so a replay holds the backtest's bits. The
        next :meth:`step` fills the current decision at this bar. Appending twice before a step replaces the
        first bar (it was never read). Values are checked as every bar's are
        (:func:`wealtharena_env.data.market_data.check_bar_values`: finite, prices > 0, volume >= 0).
        """
        if not self.bar_by_bar:
            raise ConfigError(
                "append_bar() needs a bar-by-bar market source (e.g. ReplayMarket or a live feed)."
            )
        fields = np.asarray(fields, dtype=np.float64)
        if fields.shape != (N_BAR_FIELDS - 1, self.n_assets):
            raise ConfigError(
                f"a bar has shape (5, N) = (5, {self.n_assets}) (open, high, low, close, volume), "
                f"got {fields.shape}."
            )
        t = self.config.warmup + int(self.clock[env_index, ks.CLK_STEP]) + 1
        for k, name in enumerate(OHLCV):  # the data layer's one check of bar values (WealthArenaDataError)
            check_bar_values(name, fields[k : k + 1], self.tickers, first_bar=t)
        if t >= self.config.bars_per_episode:
            raise ConfigError(
                f"bar {t} is past the run's last bar ({self.config.bars_per_episode - 1}); build the "
                "Simulation with a longer episode_length."
            )
        pair = self.bars[env_index, t - 1 : t + 1].copy()
        pair[1, :BAR_LOGRET] = fields
        mk.fill_log_returns(pair)
        self.bars[env_index, t] = pair[1]
        if self.n_indicators:  # causal indicators: the reached bars' values do not depend on the NaN rows
            kf.indicator_features(
                self.bars[env_index, : t + 1],
                self.config.observation_clip,
                self.indicators[env_index, : t + 1],
            )
        return t

    def reached_bars(self, start: int = 0, env_index: int = 0) -> np.ndarray:
        """The fields (``market_sources.OHLCV``: open, high, low, close, volume) of the bars ``start`` ..
        current of a Simulation that holds its whole episode, (K, 5, N) (a copy)."""
        if self.market_by_bar:
            raise ConfigError(
                "reached_bars() needs the bars held whole (not a synthetic market drawn bar by bar)."
            )
        current = self.config.warmup + int(self.clock[env_index, ks.CLK_STEP])
        return self.bars[env_index, start : current + 1, :BAR_LOGRET].copy()

    # ------------------------------------------------------------- reading the state (no kernel layout above)
    def info(self, agent: int, env_index: int = 0, level: str = "full") -> dict[str, Any]:
        """The info dict of agent ``agent`` of environment ``env_index`` after the last reset / step, at
        ``level`` (``wealtharena_env.outputs``): what the demo, reports and leaderboard read, whatever info
        level the env hands its user. Without the risk-event table (``risk_event_table=False``: an env at
        ``info_level="lean"``) the full dict has every key but ``risk_events`` (their number is
        ``risk_event_count``; their totals per rule are in :meth:`episode_summary`)."""
        if self.last_info is None:
            raise ConfigError("info() before the first reset().")
        return self.decoder(level).agent(self.last_info[env_index, agent])

    def decoder(self, level: str = "lean") -> InfoDecoder:
        """The decoder of this Simulation's info arrays at ``level`` (one per level, shared by its env adapter
        and :meth:`info`)."""
        decoder = self._decoders.get(level)
        if decoder is None:
            decoder = self._decoders[level] = InfoDecoder(self.tickers, level, self.risk_event_table)
        return decoder

    def episode_summary(self, agent: int, env_index: int = 0) -> dict[str, Any]:
        """Totals of one agent's episode so far: costs, turnover, sanitised actions, risk events per rule."""
        state = self.agent_state[env_index, agent]
        return {
            "costs": float(state["cost_total"]),
            "turnover": float(state["turnover_total"]),
            "nan_actions": int(state["nan_total"]),
            "clipped_actions": int(state["clipped_total"]),
            "risk_event_counts": {name: int(c) for name, c in zip(kk.RULE_NAMES, state["event_counts"])},
        }

    @property
    def portfolio_values(self) -> np.ndarray:
        """Each agent's portfolio value at the current bar, (B, A) (a view of ``agent_state``)."""
        return self.agent_state["value"]

    @property
    def cash(self) -> np.ndarray:
        """Each agent's cash, (B, A) (a view of ``agent_state``)."""
        return self.agent_state["cash"]

    @property
    def peak_values(self) -> np.ndarray:
        """Each agent's peak portfolio value so far (the drawdown's reference), (B, A) (a view)."""
        return self.agent_state["peak"]

    @property
    def total_costs(self) -> np.ndarray:
        """Each agent's costs paid so far this episode, (B, A) (a view)."""
        return self.agent_state["cost_total"]

    @property
    def initial_cash(self) -> np.ndarray:
        """Each agent's starting cash, (A,)."""
        return self.agent_params["initial_cash"].copy()

    def closes(self, env_index: int = 0, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Close prices of environment ``env_index``'s bars ``[start, stop)`` (bar indices: the first decision
        is on bar ``config.warmup``; default: from the first decision bar to the current bar
        inclusive), (T, N).

        Only bars already reached exist. When the bars are a ring (:attr:`market_by_bar`), the closes before
        the current bar are rebuilt from the current close and the log returns since (``history``): exact to
        rounding (a relative 1e-15 per bar), not bit for bit.
        """
        current = self.config.warmup + int(self.clock[env_index, ks.CLK_STEP])
        start = self.config.warmup if start is None else int(start)
        stop = current + 1 if stop is None else int(stop)
        if not 0 <= start <= stop <= current + 1:
            raise ConfigError(
                f"closes() of bars [{start}, {stop}): only bars 0..{current} have been reached."
            )
        rows = self.bars.shape[1]
        if not self.market_by_bar:
            return self.bars[env_index, start:stop, BAR_CLOSE, :].copy()
        last = self.bars[env_index, current % rows, BAR_CLOSE, :]
        # since[:, k] = sum of the log returns of bars start + k + 1 .. current
        returns = self.returns[env_index, : self.n_assets, start + 1 : current + 1]
        since = np.cumsum(returns[:, ::-1], axis=1)[:, ::-1]
        out = np.vstack([last[None, :] * np.exp(-since.T), last[None, :]])
        return out[: stop - start]

    def bar(self, t: int, env_index: int = 0) -> np.ndarray:
        """Bar ``t`` of environment ``env_index`` (6, N) (``kernels.market.BAR_*`` fields; a view), if it is
        still held: every reached bar when the episode is held whole, the last two reached bars when the bars
        are a ring (:attr:`market_by_bar`: the current bar and the one before, once a step has been taken)."""
        current = self.config.warmup + int(self.clock[env_index, ks.CLK_STEP])
        rows = self.bars.shape[1]
        if not current - rows < t <= current:
            raise ConfigError(f"bar {t} is not held: bars {max(current - rows + 1, 0)}..{current} are.")
        return self.bars[env_index, t % rows]


__all__ = ["PARALLEL_DRAW_MIN", "Simulation", "pack_params"]
