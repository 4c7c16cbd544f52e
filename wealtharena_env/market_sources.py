"""Where an episode's bars come from: the seeded synthetic market, historical data, or bars replayed as
if live.

A source fills one environment's bar array ``(T, 6, N)`` (see :mod:`wealtharena_env.kernels.market`) for a
new episode from a ``numpy.random.Generator``; it is the only place randomness enters the simulation.

A *bar-by-bar* source (attribute ``bar_by_bar = True``: :class:`ReplayMarket`, and the live feeds of
``wealtharena_env.live``) fills only the warm-up bars at reset; every later bar reaches the
:class:`~wealtharena_env.sim.Simulation` through :meth:`~wealtharena_env.sim.Simulation.append_bar` when it
arrives, so nothing can read a bar before it exists.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from wealtharena_env.config import MarketConfig
from wealtharena_env.errors import ConfigError, WealthArenaDataError
from wealtharena_env.kernels import market as mk
from wealtharena_env.kernels import rng as random_streams

#: The fields of a bar as the bar-by-bar sources hand it over and the runner journals it: a (5, N) array whose
#: rows are, in this order, the first five rows of the Simulation's bars (``kernels.market.BAR_OPEN ..
#: BAR_VOLUME``; the sixth, the log return, is computed when the bar arrives).
OHLCV = ("open", "high", "low", "close", "volume")
assert OHLCV.index("open") == mk.BAR_OPEN and OHLCV.index("close") == mk.BAR_CLOSE
assert len(OHLCV) == mk.BAR_VOLUME + 1 == mk.BAR_LOGRET


def write_bar_fields(fields: np.ndarray, bars_out: np.ndarray) -> None:
    """Write consecutive bars' ``fields`` (T, 5, N) (:data:`OHLCV`) into ``bars_out`` (T, 6, N) with their
    log returns (:func:`~wealtharena_env.kernels.market.fill_log_returns`, 0 on the first bar), as a
    historical market holds them."""
    bars_out[:, : len(OHLCV)] = fields
    mk.fill_log_returns(bars_out)


class MarketSource(Protocol):
    """Fills ``bars_out`` (T, 6, N) with a new episode's bars drawn with ``rng``.

    ``sample`` may return the regime of each bar ((T,) int64, as :class:`SyntheticMarket` does) or ``None``;
    the :class:`~wealtharena_env.sim.Simulation` does not read it. A source may also have an ``n_bars``
    attribute (int, or ``None`` for unlimited; read with ``getattr``, default ``None``): the bars episodes
    are cut from, which the Simulation checks an episode fits into when it is built (see
    :class:`HistoricalMarket`).
    """

    n_assets: int
    tickers: tuple[str, ...]

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> np.ndarray | None: ...


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """The left eigenvector ``pi = pi P`` of a row-stochastic matrix, normalised to sum to 1."""
    values, vectors = np.linalg.eig(transition.T)
    k = int(np.argmin(np.abs(values - 1.0)))
    pi = np.abs(np.real(vectors[:, k]))
    return pi / pi.sum()


def asset_parameter_rows(config: MarketConfig) -> np.ndarray | None:
    """The parameter rows ``[ASSET_PARAMETERS:]`` of a path's per-asset state (see
    :mod:`wealtharena_env.kernels.market`) for ``config``'s opt-in per-asset fields, or
    ``None`` when it has none.

    Own volatilities and drifts per regime, first prices and base volumes, factor loadings ``B_ij``, and per
    regime the factor weight ``c_k`` and the idiosyncratic weight ``w_ik = sqrt(1 - c_k^2 sum_j B_ij^2)``.
    """
    if (
        config.factor_loadings is None
        and config.asset_volatility is None
        and config.asset_drift is None
        and config.asset_initial_price is None
    ):
        return None
    rows = np.zeros((mk.N_ASSET_ROWS - mk.ASSET_PARAMETERS, config.n_assets))

    def put(row: int, values: np.ndarray) -> None:
        rows[row - mk.ASSET_PARAMETERS : row - mk.ASSET_PARAMETERS + values.shape[0]] = values

    if config.asset_volatility is not None:
        put(mk.ASSET_OWN_VOL, np.array(config.asset_volatility, dtype=np.float64).T)
    if config.asset_drift is not None:
        put(mk.ASSET_OWN_DRIFT, np.array(config.asset_drift, dtype=np.float64).T)
    if config.asset_initial_price is not None and config.asset_base_volume is not None:
        put(mk.ASSET_OWN_PRICE, np.array([config.asset_initial_price], dtype=np.float64))
        put(mk.ASSET_OWN_VOLUME, np.array([config.asset_base_volume], dtype=np.float64))
    if config.factor_loadings is not None:
        loadings = np.array(config.factor_loadings, dtype=np.float64)  # (N, K)
        share = (loadings**2).sum(axis=1)
        scale = np.array(config.regime_factor_scale, dtype=np.float64)
        put(mk.ASSET_LOADING, loadings.T)
        put(mk.ASSET_FACTOR_SCALE, np.repeat(scale[:, None], config.n_assets, axis=1))
        put(mk.ASSET_IDIO, np.sqrt(1.0 - scale[:, None] ** 2 * share[None, :]))
    return rows


class SyntheticMarket:
    """The seeded synthetic market of :class:`~wealtharena_env.config.MarketConfig`.

    Each episode draws its own asset parameters (volatility scale ``exp(N(0, dispersion))``, excess drift,
    first price, base volume) and its own shocks, from a stream keyed by one draw of the environment's
    generator, in a fixed order.
    """

    def __init__(self, config: MarketConfig):
        self.config = config
        self.n_assets = config.n_assets
        self.tickers = config.tickers or tuple(f"ASSET_{i:02d}" for i in range(config.n_assets))
        self._regime_params = np.array(
            [config.regime_drift, config.regime_volatility, config.regime_correlation], dtype=np.float64
        ).T.copy()
        self._transition = np.array(config.regime_transition, dtype=np.float64)
        if config.initial_regime < 0:
            self._initial_probs = stationary_distribution(self._transition)
        else:
            self._initial_probs = np.eye(3)[config.initial_regime]
        scalars = np.zeros(mk.N_MARKET_SCALARS)
        scalars[mk.P_GARCH_ALPHA] = config.garch_alpha
        scalars[mk.P_GARCH_BETA] = config.garch_beta
        scalars[mk.P_DOF] = config.student_t_dof
        scalars[mk.P_JUMP_PROB] = 1.0 - np.exp(-config.jump_intensity / config.periods_per_year)
        scalars[mk.P_JUMP_MEAN] = config.jump_mean
        scalars[mk.P_JUMP_STD] = config.jump_std
        scalars[mk.P_VOLUME_SENSITIVITY] = config.volume_sensitivity
        scalars[mk.P_OVERNIGHT_FRACTION] = config.overnight_fraction
        scalars[mk.P_PERIODS_PER_YEAR] = config.periods_per_year
        scalars[mk.P_INITIAL_PRICE] = config.initial_price
        scalars[mk.P_BASE_VOLUME] = config.base_volume
        scalars[mk.P_VOL_DISPERSION] = config.asset_volatility_dispersion
        scalars[mk.P_DRIFT_DISPERSION] = config.asset_drift_dispersion
        scalars[mk.P_GARCH_GAMMA] = config.garch_gamma
        scalars[mk.P_N_FACTORS] = config.n_factors
        scalars[mk.P_OWN_VOLS] = config.asset_volatility is not None
        scalars[mk.P_OWN_DRIFTS] = config.asset_drift is not None
        scalars[mk.P_OWN_LEVELS] = config.asset_initial_price is not None
        self._scalars = scalars
        self._parameter_rows = asset_parameter_rows(config)

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> np.ndarray:
        """Draw a path into ``bars_out`` (T, 6, N); return the regime of each bar (T,) int64.

        ``rng`` hands the episode one 64-bit key (:func:`wealtharena_env.kernels.rng.key_from`); the path is
        then drawn in the compiled kernel from the stream that key seeds
        (:func:`wealtharena_env.kernels.market.simulate_market_path`), without the GIL.
        """
        regimes = np.empty(bars_out.shape[0], dtype=np.int64)
        stream = np.empty(random_streams.STATE_WORDS, dtype=np.uint64)
        self.start(rng, stream, np.empty((mk.N_ASSET_ROWS, bars_out.shape[2])), bars_out, regimes)
        return regimes

    def start(
        self,
        rng: np.random.Generator,
        stream: np.ndarray,
        path_state: np.ndarray,
        bars_out: np.ndarray,
        regimes_out: np.ndarray,
        full_from: int = 0,
    ) -> None:
        """Start an episode: seed ``stream`` with one 64-bit key drawn from ``rng``, then draw the first
        ``len(bars_out)`` bars of the path from it, leaving the stream and the path's per-asset state in
        ``path_state`` (``kernels.market.N_ASSET_ROWS``, N) so that
        :func:`wealtharena_env.kernels.market.advance_market_path` continues it bar by bar. Bars ``1 <= t <
        full_from`` get only their log return (the same path; for a warm-up whose OHLCV is not kept)."""
        random_streams.seed_stream(np.uint64(random_streams.key_from(rng)), stream)
        if self._parameter_rows is not None:
            path_state[mk.ASSET_PARAMETERS :] = self._parameter_rows
        mk.simulate_market_path(
            stream, self.dynamics, self._initial_probs, path_state, bars_out, regimes_out, full_from
        )

    @property
    def dynamics(self) -> mk.MarketDynamics:
        """The path's dynamics as :func:`~wealtharena_env.kernels.market.advance_market_path` reads them."""
        return mk.MarketDynamics(self._scalars, self._regime_params, self._transition)


class HistoricalMarket:
    """Episodes cut from historical bars: each episode starts at a bar drawn uniformly from the data.

    Args:
        data: anything :func:`wealtharena_env.data.load_market_data` accepts (a ``MarketData``, a DataFrame,
            a CSV/Parquet path or a list of tickers), or an object with ``open, high, low, close, volume``
            (T, N) arrays and ``tickers``.
        split: restrict the data to a split (``"train"``, ``"validation"``, ``"test"``, a ``(start, end)``
            pair or ``(DateSplits, name)``; see :func:`wealtharena_env.data.resolve_split`). Episodes then
            start and their observation windows read only inside it.
        splits: the :class:`~wealtharena_env.data.DateSplits` that named splits refer to (default 70/15/15).
        adjust: use dividend/split-adjusted prices when the data has ``adj_close`` (default True).
        data_options: keyword arguments of the loader (``tickers``, ``start``, ``end``, ``on_bad_rows``,
            ``calendar``, ...).
        n_assets: keep the data's first ``n_assets`` tickers (``None``: all of them).
    """

    def __init__(
        self,
        data: Any,
        split: Any = None,
        splits: Any = None,
        adjust: bool = True,
        data_options: dict[str, Any] | None = None,
        n_assets: int | None = None,
    ):
        from wealtharena_env.data import MarketData, load_market_data, resolve_split
        from wealtharena_env.data.market_data import check_bar_values

        if isinstance(data, MarketData) or not all(
            hasattr(data, f) for f in ("open", "high", "low", "close", "volume", "tickers")
        ):
            data = load_market_data(data, **(data_options or {}))
            data = resolve_split(data, split, splits)
        elif split is not None or data_options:
            raise ConfigError(
                "split= and data_options= need data that wealtharena_env.data can load "
                "(MarketData, DataFrame, path or tickers)."
            )
        if n_assets is not None:
            if not isinstance(n_assets, (int, np.integer)) or not 1 <= n_assets <= len(data.tickers):
                raise ConfigError(
                    f"n_assets={n_assets!r} with data of {len(data.tickers)} tickers: give at most "
                    f"{len(data.tickers)} (the first n_assets tickers are kept), or leave n_assets out."
                )
            if n_assets < len(data.tickers):
                if not hasattr(data, "select"):
                    raise ConfigError("n_assets= with data= needs data that wealtharena_env.data can load.")
                data = data.select(list(data.tickers[:n_assets]))
        if adjust and getattr(data, "adj_close", None) is not None and hasattr(data, "adjusted"):
            data = data.adjusted()
        self.data = data
        self.tickers = tuple(data.tickers)
        self.n_assets = len(self.tickers)
        n_steps = np.asarray(data.close).shape[0]
        bars = np.empty((n_steps, mk.N_BAR_FIELDS, self.n_assets))
        validated = isinstance(data, MarketData)  # its constructor ran check_bar_values on every field
        for name, column in (
            ("open", mk.BAR_OPEN),
            ("high", mk.BAR_HIGH),
            ("low", mk.BAR_LOW),
            ("close", mk.BAR_CLOSE),
            ("volume", mk.BAR_VOLUME),
        ):
            values = np.asarray(getattr(data, name), dtype=np.float64)
            if values.shape != (n_steps, self.n_assets):
                raise WealthArenaDataError(
                    f"historical {name} has shape {values.shape}, "
                    f"expected (T, N) = {(n_steps, self.n_assets)}."
                )
            if not validated:  # a user's own object with the MarketData fields
                check_bar_values(name, values, self.tickers, getattr(data, "dates", None))
            bars[:, column, :] = values
        mk.fill_log_returns(bars)
        self._bars = bars

    @property
    def n_bars(self) -> int:
        return self._bars.shape[0]

    def start_bar(self, rng: np.random.Generator, length: int) -> int:
        """The first bar of a ``length``-bar episode, drawn uniformly with ``rng`` (what :meth:`sample` draws:
        with a fresh ``np.random.default_rng(seed)`` it is the first bar of the episode an environment reset
        with ``seed`` plays)."""
        if length > self.n_bars:
            raise ConfigError(
                f"an episode needs {length} bars (warmup + episode_length + 1) but the data has only "
                f"{self.n_bars}; shorten episode_length or warmup, or load a longer date range."
            )
        return int(rng.integers(0, self.n_bars - length + 1))

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> None:
        """Copy ``T`` consecutive bars starting at a uniformly drawn bar (:meth:`start_bar`) into
        ``bars_out``."""
        length = bars_out.shape[0]
        start = self.start_bar(rng, length)
        bars_out[...] = self._bars[start : start + length]
        bars_out[0, mk.BAR_LOGRET, :] = 0.0


class ReplayMarket(HistoricalMarket):
    """Recorded bars fed one at a time, as if they arrived live (the trading runner's offline source).

    Built like :class:`HistoricalMarket` (same loading, adjustment, price checks and log returns, so a replay
    holds bit for bit the bars a backtest on the same data reads), but it always starts at the first recorded
    bar and is *bar by bar*: ``sample`` fills only the warm-up (``len(bars_out)`` bars, which the Simulation
    sizes to ``warmup + 1``), and :meth:`next_bar` hands bar ``t`` to the runner when it asks for it. The
    generator is not used (a replay has one path).

    Bars are indexed ``0 .. n_bars - 1`` in time order; :attr:`dates` holds their timestamps as ISO strings.
    """

    bar_by_bar = True

    def __init__(self, data: Any, **kwargs: Any):
        super().__init__(data, **kwargs)
        dates = getattr(self.data, "dates", None)
        if dates is None:
            self.dates: tuple[str, ...] = tuple(str(k) for k in range(self.n_bars))
        else:
            self.dates = tuple(_iso(d) for d in np.asarray(dates))

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> None:
        """Copy the first ``len(bars_out)`` recorded bars (the warm-up) into ``bars_out``."""
        length = bars_out.shape[0]
        if length > self.n_bars:
            raise ConfigError(
                f"the replay has {self.n_bars} bars but the warm-up needs {length}; record a longer history."
            )
        bars_out[...] = self._bars[:length]
        bars_out[0, mk.BAR_LOGRET, :] = 0.0

    def next_bar(self, t: int, after: str | None = None) -> tuple[str, np.ndarray] | None:
        """``(timestamp, fields)`` of recorded bar ``t``, fields ``(5, N)`` = open, high, low, close, volume
        (``kernels.market.BAR_OPEN .. BAR_VOLUME`` rows); ``None`` once the recording is exhausted.
        (``after``, the last bar the runner accepted, is what a live feed polls from; a replay counts
        bars instead.)"""
        if t >= self.n_bars:
            return None
        return self.dates[t], self._bars[t, : mk.BAR_VOLUME + 1].copy()


def _iso(value: Any) -> str:
    """A bar's timestamp as an ISO-8601 string (numpy datetime64, pandas Timestamp, date or str)."""
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s"))
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)
