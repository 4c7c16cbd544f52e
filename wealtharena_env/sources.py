"""Where an episode's bars come from: the seeded synthetic market or historical data.

A source fills one environment's bar array ``(T, 6, N)`` (see :mod:`wealtharena_env.kernels.market`) for a
new episode from a ``numpy.random.Generator``; it is the only place randomness enters the simulation.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np

from wealtharena_env.config import MarketConfig
from wealtharena_env.errors import ConfigError, WealthArenaDataError
from wealtharena_env.kernels import market as mk


class MarketSource(Protocol):
    """Fills ``bars_out`` (T, 6, N) with a new episode's bars drawn with ``rng``."""

    n_assets: int
    tickers: tuple[str, ...]

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> None: ...


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """The left eigenvector ``pi = pi P`` of a row-stochastic matrix, normalised to sum to 1."""
    values, vectors = np.linalg.eig(transition.T)
    k = int(np.argmin(np.abs(values - 1.0)))
    pi = np.abs(np.real(vectors[:, k]))
    return pi / pi.sum()


class SyntheticMarket:
    """The seeded synthetic market of :class:`~wealtharena_env.config.MarketConfig`.

    Each episode draws its own asset parameters (volatility scale ``exp(N(0, dispersion))``, excess drift,
    first price, base volume) and its own shocks, all from the environment's generator, in a fixed order.
    """

    def __init__(self, config: MarketConfig):
        self.config = config
        self.n_assets = config.n_assets
        self.tickers = tuple(f"ASSET_{i:02d}" for i in range(config.n_assets))
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
        self._scalars = scalars
        self._dof = config.student_t_dof
        # the asset-parameter draws (rows ASSET_*: vol and drift normals, price and volume uniforms) become
        # normal(0, dispersion) and uniform(-0.5, 0.5) draws as scale * draw + shift
        self._draw_scale = np.array([[config.asset_volatility_dispersion], [config.asset_drift_dispersion],
                                     [1.0], [1.0]], dtype=np.float64)
        self._draw_shift = np.array([[0.0], [0.0], [-0.5], [-0.5]])

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> np.ndarray:
        """Draw a path into ``bars_out`` (T, 6, N); return the regime of each bar (T,) int64.

        The draws, in this order (the order fixes the path of a seed): asset parameters (N volatility-scale
        and N drift normals, N first-price and N base-volume uniforms), then the shocks of every bar: (T, N)
        Student-t, (T, N) jump uniforms, (T, 5, N) normals, (T,) factor Student-t, (T,) regime uniforms.
        They go straight into this thread's reusable buffers (:func:`_draw_buffers`), so threads drawing
        different environments' episodes at once never share one.
        """
        n_bars, _, n = bars_out.shape
        (asset_params, asset_normals, asset_uniforms, vol_scale, jump_uniform, regime_uniform,
         normal_shocks) = _draw_buffers(n_bars, n)
        # normal(0, s) is 0 + s * standard_normal and uniform(-0.5, 0.5) is -0.5 + 1 * random(), draw by draw:
        # y = draw * scale + shift is those formulas for all four rows, np.exp the same ufunc as before
        rng.standard_normal(out=asset_normals)
        rng.random(out=asset_uniforms)
        np.multiply(asset_params, self._draw_scale, out=asset_params)
        np.add(asset_params, self._draw_shift, out=asset_params)
        np.exp(vol_scale, out=vol_scale)
        np.exp(asset_uniforms, out=asset_uniforms)  # the price and volume factors
        student_t = rng.standard_t(self._dof, (n_bars, n))
        rng.random(out=jump_uniform)
        rng.standard_normal(out=normal_shocks)
        factor_t = rng.standard_t(self._dof, n_bars)
        rng.random(out=regime_uniform)
        regimes = np.empty(n_bars, dtype=np.int64)
        mk.simulate_market_path(student_t, factor_t, jump_uniform, regime_uniform, normal_shocks,
                                asset_params, self._regime_params, self._transition, self._initial_probs,
                                self._scalars, bars_out, regimes)
        return regimes


_THREAD_BUFFERS = threading.local()
#: Draw buffers up to this many float64 values (8 MB) are kept per thread and shape for the next draw; larger
#: ones (very long or very wide paths, whose draw dwarfs an allocation) are allocated per draw.
MAX_CACHED_DRAW_VALUES = 1 << 20


def _draw_buffers(n_bars: int, n_assets: int) -> tuple[np.ndarray, ...]:
    """C-contiguous float64 buffers for one synthetic draw of ``n_bars`` x ``n_assets``: ``asset_params``
    (N_ASSET_PARAMS, N) and three views of it (its normal rows, its uniform rows, its volatility-scale row),
    ``jump_uniform`` (T, N), ``regime_uniform`` (T,), ``normal_shocks`` (T, N_NORMAL, N).

    They belong to the calling thread and are reused by its next draw of the same shape (a draw consumes
    them before it returns), so concurrent draws on different threads never share memory; a thread keeps
    at most four shapes, and none above ``MAX_CACHED_DRAW_VALUES``."""
    key = (n_bars, n_assets)
    cache = getattr(_THREAD_BUFFERS, "by_shape", None)
    if cache is None:
        cache = _THREAD_BUFFERS.by_shape = {}
    buffers = cache.get(key)
    if buffers is None:
        asset_params = np.empty((mk.N_ASSET_PARAMS, n_assets))
        buffers = (asset_params, asset_params[mk.ASSET_VOL_SCALE:mk.ASSET_PRICE_FACTOR],
                   asset_params[mk.ASSET_PRICE_FACTOR:], asset_params[mk.ASSET_VOL_SCALE],
                   np.empty((n_bars, n_assets)), np.empty(n_bars), np.empty((n_bars, mk.N_NORMAL, n_assets)))
        if n_bars * (mk.N_NORMAL + 1) * n_assets <= MAX_CACHED_DRAW_VALUES:
            if len(cache) >= 4:
                cache.clear()
            cache[key] = buffers
    return buffers


class HistoricalMarket:
    """Episodes cut from historical bars: each episode starts at a bar drawn uniformly from the data.

    Args:
        data: anything :func:`wealtharena_env.data.load_market_data` accepts (a ``MarketData``, a DataFrame,
            a CSV/Parquet path or a list of tickers), or an object with ``open, high, low, close, volume``
            (T, N) arrays and ``tickers``.
        split: restrict the data to a split (``"train"``, ``"validation"``, ``"test"``, a ``(start, end)`` pair
            or ``(DateSplits, name)``; see :func:`wealtharena_env.data.resolve_split`). Episodes then start
            and their observation windows read only inside it.
        splits: the :class:`~wealtharena_env.data.DateSplits` that named splits refer to (default 70/15/15).
        adjust: use dividend/split-adjusted prices when the data has ``adj_close`` (default True).
        data_options: keyword arguments of the loader (``tickers``, ``start``, ``end``, ``on_bad_rows``,
            ``calendar``, ...).
        n_assets: keep the data's first ``n_assets`` tickers (``None``: all of them).
    """

    def __init__(self, data: Any, split: Any = None, splits: Any = None, adjust: bool = True,
                 data_options: dict[str, Any] | None = None, n_assets: int | None = None):
        from wealtharena_env.data import MarketData, load_market_data, resolve_split

        if isinstance(data, MarketData) or not all(
                hasattr(data, f) for f in ("open", "high", "low", "close", "volume", "tickers")):
            data = load_market_data(data, **(data_options or {}))
            data = resolve_split(data, split, splits)
        elif split is not None or data_options:
            raise ConfigError("split= and data_options= need data that wealtharena_env.data can load "
                              "(MarketData, DataFrame, path or tickers).")
        if n_assets is not None:
            if not isinstance(n_assets, (int, np.integer)) or not 1 <= n_assets <= len(data.tickers):
                raise ConfigError(f"n_assets={n_assets!r} with data of {len(data.tickers)} tickers: give at most "
                                  f"{len(data.tickers)} (the first n_assets tickers are kept), or leave n_assets out.")
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
        for field, column in ((data.open, mk.BAR_OPEN), (data.high, mk.BAR_HIGH), (data.low, mk.BAR_LOW),
                              (data.close, mk.BAR_CLOSE), (data.volume, mk.BAR_VOLUME)):
            values = np.asarray(field, dtype=np.float64)
            if values.shape != (n_steps, self.n_assets):
                raise WealthArenaDataError(
                    f"historical field has shape {values.shape}, expected (T, N) = {(n_steps, self.n_assets)}.")
            bars[:, column, :] = values
        prices = bars[:, :mk.BAR_VOLUME, :]
        if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
            t, _, i = np.argwhere(~np.isfinite(prices) | (prices <= 0))[0]
            raise WealthArenaDataError(
                f"historical prices must be finite and > 0; bar {t} of {self.tickers[i]!r} is "
                f"{prices[t, :, i].tolist()}. Validate the data with wealtharena_env.data first.")
        mk.fill_log_returns(bars)
        self._bars = bars

    @property
    def n_bars(self) -> int:
        return self._bars.shape[0]

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> None:
        """Copy ``T`` consecutive bars starting at a uniformly drawn bar into ``bars_out``."""
        length = bars_out.shape[0]
        if length > self.n_bars:
            raise ConfigError(
                f"an episode needs {length} bars (warmup + episode_length + 1) but the data has only "
                f"{self.n_bars}; shorten episode_length or warmup, or load a longer date range.")
        start = int(rng.integers(0, self.n_bars - length + 1))
        bars_out[...] = self._bars[start:start + length]
        bars_out[0, mk.BAR_LOGRET, :] = 0.0
