"""Frozen configuration dataclasses and named presets.

Every field is validated once, in ``__post_init__``, with a :class:`~wealtharena_env.errors.ConfigError`
that names the field, the value received and what is expected. Derived quantities (number of assets,
observation size, ...) are properties computed from the fields, never stored twice.

Units: prices in currency units, rates are *annualised* fractions unless the name says ``_bps`` (basis
points, 1 bp = 1e-4) or ``_daily``; time is counted in bars (one bar = one trading day by default,
``periods_per_year = 252``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from wealtharena_env.errors import ConfigError

REGIME_NAMES: tuple[str, str, str] = ("bull", "bear", "high_volatility")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _finite(name: str, value: float) -> None:
    _require(
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
        f"{name} must be a finite number, got {value!r}.",
    )


def _repr_without_defaults(config: Any, opt_in: frozenset[str]) -> str:
    """``Name(field=value, ...)`` of a dataclass, leaving out the ``opt_in`` fields at their defaults."""
    parts = [
        f"{f.name}={getattr(config, f.name)!r}"
        for f in fields(config)
        if f.name not in opt_in or getattr(config, f.name) != f.default
    ]
    return f"{type(config).__name__}({', '.join(parts)})"


#: ArenaConfig's opt-in fields (its repr shows them only when they differ from their defaults).
_ARENA_OPT_IN_FIELDS = frozenset({"risk_factors", "risk_factor_refresh", "regime_model"})

#: MarketConfig's opt-in per-asset fields (its repr shows them only when they differ from their defaults).
_MARKET_OPT_IN_FIELDS = frozenset(
    {
        "garch_gamma",
        "factor_loadings",
        "regime_factor_scale",
        "asset_volatility",
        "asset_drift",
        "asset_initial_price",
        "asset_base_volume",
        "tickers",
    }
)

#: Most factors of :attr:`MarketConfig.factor_loadings` (the market kernel's ``MAX_FACTORS``).
MAX_MARKET_FACTORS = 8


def _matrix(name: str, values: Any, n_rows: int, n_cols: int | None) -> tuple[tuple[float, ...], ...]:
    """``values`` as an ``n_rows`` x ``n_cols`` tuple of tuples of finite floats
    (``n_cols=None``: any, but equal)."""
    try:
        rows = tuple(tuple(float(v) for v in row) for row in values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a matrix (rows of numbers), got {values!r}.") from exc
    _require(len(rows) == n_rows, f"{name} must have {n_rows} rows (one per asset), got {len(rows)}.")
    widths = {len(row) for row in rows}
    _require(
        len(widths) == 1 and (n_cols is None or widths == {n_cols}) and 0 not in widths,
        f"{name} must have {'equal-length' if n_cols is None else n_cols} entries per row, got row lengths "
        f"{sorted(widths)}.",
    )
    _require(
        all(math.isfinite(v) for row in rows for v in row), f"{name} must be finite, got a NaN or inf entry."
    )
    return rows


def _triple(name: str, values: Any) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in values)
    except TypeError as exc:  # not iterable
        raise ConfigError(f"{name} must be 3 numbers (bull, bear, high_volatility), got {values!r}.") from exc
    _require(len(out) == 3, f"{name} must have 3 entries (bull, bear, high_volatility), got {len(out)}.")
    for i, v in enumerate(out):
        _finite(f"{name}[{REGIME_NAMES[i]}]", v)
    return out[0], out[1], out[2]


@dataclass(frozen=True)
class MarketConfig:
    """The seeded synthetic market: N correlated assets driven by a 3-state regime chain.

    Per bar ``t`` and asset ``i`` (see :mod:`wealtharena_env.kernels.market` for the exact recursion)::

        regime_t ~ Markov(regime_transition)           bull / bear / high_volatility
        h_{t,i} = (1 - a - b) + a * z_{t-1,i}^2 h_{t-1,i} + b * h_{t-1,i}   GARCH(1,1) variance multiplier
        z_{t,i} = sqrt(rho_r) f_t + sqrt(1 - rho_r) e_{t,i}   f, e ~ Student-t(dof) scaled to unit variance
        r_{t,i} = (mu_r + alpha_i - s^2/2)/P + s/sqrt(P) * z_{t,i}
                  + jump_{t,i},  s = sigma_r * scale_i * sqrt(h)

    Attributes:
        n_assets: number of traded assets N (>= 1).
        regime_drift: annual drift per regime (bull, bear, high_volatility).
        regime_volatility: annual volatility per regime (> 0).
        regime_correlation: pairwise (equi-)correlation per regime, in [0, 1).
        regime_transition: 3x3 row-stochastic matrix of daily regime transition probabilities.
        initial_regime: index of the regime on the first bar, or -1 to draw it from the chain's
            stationary distribution.
        garch_alpha, garch_beta: GARCH(1,1) reaction and persistence (alpha + beta < 1).
        student_t_dof: degrees of freedom of the shocks (> 2; smaller = fatter tails).
        jump_intensity: expected jumps per asset per year (Poisson, 0 disables jumps).
        jump_mean, jump_std: mean and standard deviation of a jump's log size.
        asset_volatility_dispersion: std of the log of each asset's volatility scale.
        asset_drift_dispersion: std of each asset's annual excess drift alpha_i.
        initial_price: mean first price; each asset draws a lognormal multiple of it.
        base_volume: mean daily volume in shares.
        volume_sensitivity: volume grows as exp(volume_sensitivity * |z|) with the shock size.
        overnight_fraction: share of the daily return realised overnight (close -> next open).
        impact: permanent price impact of the agents' own aggregate net order flow. After the fills of
            a bar, every later price of asset i is multiplied by exp(impact * net_shares_i / volume_i).
            0 disables impact (``Arena-v0``).
        max_impact: bound on the cumulative log price impact of an asset, ``|C_i| <= max_impact`` (the agents
            can move a price at most ``exp(max_impact)`` times away from its exogenous path).
        periods_per_year: bars per year used to de-annualise drifts and volatilities.
        garch_gamma: GJR asymmetry ``g >= 0``: a negative shock raises the next variance
            by ``(a + g) z^2`` instead of ``a z^2`` (the leverage effect);
            ``h <- (1 - a - b - g/2) + (a + g 1[z < 0]) z^2 h + b h`` keeps
            ``E[h] = 1``; needs ``a + b + g/2 < 1``.
        factor_loadings: ``None`` (equicorrelation ``regime_correlation``), or an N x K matrix ``B``
            (1 <= K <= min(8, N)) of the assets' loadings on K Student-t factors: the shock is
            ``z_i = c_k sum_j B_ij f_j + w_ik e_i`` with ``w_ik = sqrt(1 - c_k^2 sum_j B_ij^2)``, so the
            shocks' correlation matrix is ``c_k^2 B B' + diag(w_k^2)`` in regime ``k`` (any signs, any
            spread); ``regime_correlation`` is then unused. Each row needs ``sum_j B_ij^2 < 1``.
        regime_factor_scale: ``c_k >= 0``, the factor part's weight per regime (bull, bear,
            high_volatility): the regime scales the off-diagonal correlations by ``c_k^2``
            (``c_k^2 sum_j B_ij^2 < 1`` for every asset).
        asset_volatility: ``None``, or per asset its own annual volatility in each regime (N rows of 3), which
            replaces ``regime_volatility``; ``asset_volatility_dispersion`` still multiplies it by a random
            ``exp(N(0, dispersion))`` per episode (0: every episode keeps each asset's own volatility).
        asset_drift: ``None``, or per asset its own annual drift in each regime (N rows of 3), which replaces
            ``regime_drift``; ``asset_drift_dispersion`` still adds a random ``alpha_i`` per episode.
        asset_initial_price, asset_base_volume: ``None``, or (both) per asset its first price and its base
            volume, which replace the random draws around ``initial_price`` / ``base_volume``.
        tickers: ``None`` (``ASSET_00``, ``ASSET_01``, ...) or the N asset names (of the data a config was
            fitted to; :func:`wealtharena_env.calibration.simulate_prices` labels its columns with them).

    The fields from ``garch_gamma`` on are an opt-in per-asset structure (what
    :func:`~wealtharena_env.calibration.calibrate` fits on several assets); their defaults leave the market
    above unchanged, bit for bit.
    """

    n_assets: int = 10
    regime_drift: tuple[float, float, float] = (0.12, -0.18, -0.40)
    regime_volatility: tuple[float, float, float] = (0.14, 0.24, 0.48)
    regime_correlation: tuple[float, float, float] = (0.25, 0.45, 0.75)
    regime_transition: tuple[tuple[float, ...], ...] = (
        (0.995, 0.004, 0.001),
        (0.012, 0.983, 0.005),
        (0.020, 0.030, 0.950),
    )
    initial_regime: int = -1
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    student_t_dof: float = 5.0
    jump_intensity: float = 2.0
    jump_mean: float = -0.02
    jump_std: float = 0.04
    asset_volatility_dispersion: float = 0.25
    asset_drift_dispersion: float = 0.03
    initial_price: float = 100.0
    base_volume: float = 1_000_000.0
    volume_sensitivity: float = 0.4
    overnight_fraction: float = 0.3
    impact: float = 0.0
    max_impact: float = 1.0
    periods_per_year: int = 252
    garch_gamma: float = 0.0
    factor_loadings: tuple[tuple[float, ...], ...] | None = None
    regime_factor_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    asset_volatility: tuple[tuple[float, float, float], ...] | None = None
    asset_drift: tuple[tuple[float, float, float], ...] | None = None
    asset_initial_price: tuple[float, ...] | None = None
    asset_base_volume: tuple[float, ...] | None = None
    tickers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _require(
            isinstance(self.n_assets, int) and not isinstance(self.n_assets, bool) and self.n_assets >= 1,
            f"MarketConfig.n_assets must be an integer >= 1, got {self.n_assets!r}.",
        )
        object.__setattr__(self, "regime_drift", _triple("MarketConfig.regime_drift", self.regime_drift))
        vol = _triple("MarketConfig.regime_volatility", self.regime_volatility)
        _require(all(v > 0 for v in vol), f"MarketConfig.regime_volatility must be > 0, got {vol}.")
        object.__setattr__(self, "regime_volatility", vol)
        corr = _triple("MarketConfig.regime_correlation", self.regime_correlation)
        _require(
            all(0.0 <= c < 1.0 for c in corr),
            f"MarketConfig.regime_correlation must lie in [0, 1), got {corr}.",
        )
        object.__setattr__(self, "regime_correlation", corr)
        try:
            matrix = tuple(tuple(float(p) for p in row) for row in self.regime_transition)
        except TypeError as exc:
            raise ConfigError(
                "MarketConfig.regime_transition must be a 3x3 matrix of probabilities."
            ) from exc
        _require(
            len(matrix) == 3 and all(len(row) == 3 for row in matrix),
            f"MarketConfig.regime_transition must be 3x3, got {len(matrix)} rows.",
        )
        for i, row in enumerate(matrix):
            _require(
                all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in row) and abs(sum(row) - 1.0) < 1e-9,
                f"MarketConfig.regime_transition row {i} ({REGIME_NAMES[i]}) must be probabilities summing "
                f"to 1, got {row} (sum {sum(row)!r}).",
            )
        object.__setattr__(self, "regime_transition", matrix)
        _require(
            self.initial_regime in (-1, 0, 1, 2),
            f"MarketConfig.initial_regime must be -1 (stationary draw) or 0/1/2, "
            f"got {self.initial_regime!r}.",
        )
        for name in (
            "garch_alpha",
            "garch_beta",
            "jump_intensity",
            "jump_std",
            "asset_volatility_dispersion",
            "asset_drift_dispersion",
            "volume_sensitivity",
            "impact",
            "max_impact",
        ):
            value = getattr(self, name)
            _finite(f"MarketConfig.{name}", value)
            _require(value >= 0, f"MarketConfig.{name} must be >= 0, got {value!r}.")
        _require(
            self.garch_alpha + self.garch_beta < 1.0,
            f"MarketConfig.garch_alpha + garch_beta must be < 1 for a stationary variance, got "
            f"{self.garch_alpha} + {self.garch_beta}.",
        )
        _finite("MarketConfig.student_t_dof", self.student_t_dof)
        _require(
            self.student_t_dof > 2.0,
            f"MarketConfig.student_t_dof must be > 2 (finite variance), got {self.student_t_dof!r}.",
        )
        _finite("MarketConfig.jump_mean", self.jump_mean)
        for name in ("initial_price", "base_volume"):
            _finite(f"MarketConfig.{name}", getattr(self, name))
            _require(
                getattr(self, name) > 0, f"MarketConfig.{name} must be > 0, got {getattr(self, name)!r}."
            )
        _finite("MarketConfig.overnight_fraction", self.overnight_fraction)
        _require(
            0.0 <= self.overnight_fraction <= 1.0,
            f"MarketConfig.overnight_fraction must lie in [0, 1], got {self.overnight_fraction!r}.",
        )
        _require(
            isinstance(self.periods_per_year, int) and self.periods_per_year >= 1,
            f"MarketConfig.periods_per_year must be an integer >= 1, got {self.periods_per_year!r}.",
        )
        self._check_per_asset_structure()

    def _check_per_asset_structure(self) -> None:
        """Validate (and normalise to tuples of floats) the opt-in per-asset fields."""
        n = self.n_assets
        _finite("MarketConfig.garch_gamma", self.garch_gamma)
        _require(self.garch_gamma >= 0, f"MarketConfig.garch_gamma must be >= 0, got {self.garch_gamma!r}.")
        _require(
            self.garch_alpha + self.garch_beta + 0.5 * self.garch_gamma < 1.0,
            f"MarketConfig.garch_alpha + garch_beta + garch_gamma / 2 must be < 1 for a stationary variance, "
            f"got {self.garch_alpha} + {self.garch_beta} + {self.garch_gamma} / 2.",
        )
        scale = _triple("MarketConfig.regime_factor_scale", self.regime_factor_scale)
        _require(all(c >= 0 for c in scale), f"MarketConfig.regime_factor_scale must be >= 0, got {scale}.")
        object.__setattr__(self, "regime_factor_scale", scale)
        if self.factor_loadings is not None:
            loadings = _matrix("MarketConfig.factor_loadings", self.factor_loadings, n, None)
            k = len(loadings[0])
            _require(
                1 <= k <= min(MAX_MARKET_FACTORS, n),
                f"MarketConfig.factor_loadings must have 1 to min({MAX_MARKET_FACTORS}, n_assets) factors "
                f"(columns), got {k}.",
            )
            for i, row in enumerate(loadings):
                share = max(scale) ** 2 * sum(b * b for b in row)
                _require(
                    share < 1.0,
                    f"MarketConfig.factor_loadings row {i}: max(regime_factor_scale)^2 * sum of squared "
                    f"loadings must be < 1 (the factors' share of the asset's variance), got {share:.4g}.",
                )
            object.__setattr__(self, "factor_loadings", loadings)
        for name in ("asset_volatility", "asset_drift"):
            value = getattr(self, name)
            if value is not None:
                rows = _matrix(f"MarketConfig.{name}", value, n, 3)
                if name == "asset_volatility":
                    _require(
                        all(v > 0 for row in rows for v in row),
                        "MarketConfig.asset_volatility must be > 0 for every asset and regime.",
                    )
                object.__setattr__(self, name, rows)
        levels = (self.asset_initial_price, self.asset_base_volume)
        _require(
            (levels[0] is None) == (levels[1] is None),
            "MarketConfig.asset_initial_price and asset_base_volume go together: give both or neither.",
        )
        for name in ("asset_initial_price", "asset_base_volume"):
            value = getattr(self, name)
            if value is not None:
                (row,) = _matrix(f"MarketConfig.{name}", (value,), 1, n)
                _require(all(v > 0 for v in row), f"MarketConfig.{name} must be > 0 for every asset.")
                object.__setattr__(self, name, row)
        if self.tickers is not None:
            names = tuple(self.tickers) if not isinstance(self.tickers, str) else (self.tickers,)
            _require(
                len(names) == n and all(isinstance(t, str) and t for t in names) and len(set(names)) == n,
                f"MarketConfig.tickers must be {n} distinct non-empty strings (one per asset), "
                f"got {names!r}.",
            )
            object.__setattr__(self, "tickers", names)

    def __repr__(self) -> str:
        # The opt-in per-asset fields show only when set: at their defaults the market is the one it was
        # before they existed, so its repr (which the golden files' configuration hash reads) stays too.
        return _repr_without_defaults(self, _MARKET_OPT_IN_FIELDS)

    @property
    def n_factors(self) -> int:
        """K, the factors of :attr:`factor_loadings` (0: the equicorrelation model)."""
        return 0 if self.factor_loadings is None else len(self.factor_loadings[0])


@dataclass(frozen=True)
class CostModel:
    """Execution costs. All costs are >= 0 and are exactly what portfolio value loses to trading.

    A trade of ``q`` shares of asset ``i`` filled at reference price ``P`` (the next bar's open, or close)
    pays, as a fraction of its notional ``|q| P``::

        slippage_i = half_spread_bps * 1e-4 + impact_coefficient * sigma_i * sqrt(|q| / volume_i)
        commission = commission_bps * 1e-4 * |q| * P * (1 +/- slippage_i)

    where ``sigma_i`` is the asset's EWMA daily volatility and ``volume_i`` the volume of the bar on which
    the order was decided (both known at decision time). Buys fill at ``P (1 + slippage)``, sells at
    ``P (1 - slippage)``.

    Attributes:
        commission_bps: commission per traded notional, in basis points.
        half_spread_bps: half the bid-ask spread, in basis points.
        impact_coefficient: coefficient of the square-root market-impact term (0 disables it).
        fill_price: ``"open"`` (default) or ``"close"`` of the bar after the decision.
        lot_size: 0 for fractional shares (default), else orders trade whole lots: buys round down, sells
            round up (at most the position), so no position ends above its target; a target of 0 sells all.
        max_participation: the largest order of one agent in one asset, as a fraction of the decision bar's
            volume (orders are cut to it; ``math.inf`` disables it).
    """

    commission_bps: float = 5.0
    half_spread_bps: float = 2.0
    impact_coefficient: float = 0.1
    fill_price: Literal["open", "close"] = "open"
    lot_size: float = 0.0
    max_participation: float = 0.1

    def __post_init__(self) -> None:
        for name in ("commission_bps", "half_spread_bps", "impact_coefficient", "lot_size"):
            value = getattr(self, name)
            _finite(f"CostModel.{name}", value)
            _require(value >= 0, f"CostModel.{name} must be >= 0, got {value!r}.")
        _require(
            isinstance(self.max_participation, (int, float))
            and not math.isnan(self.max_participation)
            and self.max_participation > 0,
            f"CostModel.max_participation must be > 0 (math.inf disables it), "
            f"got {self.max_participation!r}.",
        )
        _require(
            self.fill_price in ("open", "close"),
            f"CostModel.fill_price must be 'open' or 'close', got {self.fill_price!r}.",
        )

    @classmethod
    def zero(cls) -> CostModel:
        """A frictionless market (for tests and ablations)."""
        return cls(commission_bps=0.0, half_spread_bps=0.0, impact_coefficient=0.0)


#: An agent's risk profile: the keys of :data:`RISK_PRESETS` and :data:`REWARD_PRESETS`.
RiskProfile = Literal["conservative", "balanced", "aggressive"]
RISK_PROFILES: tuple[RiskProfile, RiskProfile, RiskProfile] = ("conservative", "balanced", "aggressive")


@dataclass(frozen=True)
class RiskLimits:
    """Risk limits one agent is held to, enforced by :mod:`wealtharena_env.kernels.risk` on every step.

    Weights are fractions of the portfolio value at the decision bar's prices. Annual figures use
    ``periods_per_year``. ``math.inf`` disables a limit.

    Attributes:
        max_position: largest weight of any one asset.
        max_correlation: no new or larger position in an asset whose EWMA correlation with another held
            asset exceeds this.
        volatility_budget: largest ex-ante annualised portfolio volatility (EWMA covariance).
        var_limit: largest one-day VaR at ``risk_level`` as a fraction of value (parametric and historical).
        cvar_limit: largest one-day CVaR (expected shortfall) at ``risk_level`` (parametric and historical).
        max_leverage: largest gross exposure ``sum_i |w_i|``.
        stop_loss: close (or trim) a position when its price falls this fraction below its average entry
            price.
        take_profit: close (or trim) a position when its price rises this fraction above its average entry.
        exit_mode: ``"close"`` sells the whole position, ``"trim"`` sells ``trim_fraction`` of it.
        trim_fraction: share of the position a ``"trim"`` exit sells.
        max_drawdown: drawdown from the peak value that trips the breaker.
        breach: what the breaker does: ``"liquidate"`` (to cash for ``cooldown`` bars; the agent stays
            alive), ``"terminate"`` (to cash, the agent is done) or ``"penalize"`` (reward penalty only).
        cooldown: bars the breaker keeps the agent in cash; after it the peak restarts at the current value.
        risk_level: VaR / CVaR confidence level.
        var_lookback: bars of history for historical VaR / CVaR (<= the arena's warmup).
    """

    max_position: float = 0.15
    max_correlation: float = 0.70
    volatility_budget: float = 0.12
    var_limit: float = 0.05
    cvar_limit: float = 0.07
    max_leverage: float = 1.0
    stop_loss: float = 0.08
    take_profit: float = 0.20
    exit_mode: Literal["close", "trim"] = "close"
    trim_fraction: float = 0.5
    max_drawdown: float = 0.15
    breach: Literal["liquidate", "terminate", "penalize"] = "liquidate"
    cooldown: int = 5
    risk_level: float = 0.95
    var_lookback: int = 60

    def __post_init__(self) -> None:
        for name in (
            "max_position",
            "max_correlation",
            "volatility_budget",
            "var_limit",
            "cvar_limit",
            "max_leverage",
            "stop_loss",
            "take_profit",
            "max_drawdown",
        ):
            value = getattr(self, name)
            _require(
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and not math.isnan(value)
                and value > 0,
                f"RiskLimits.{name} must be a number > 0 (math.inf disables it), got {value!r}.",
            )
        _require(
            self.max_position <= self.max_leverage,
            f"RiskLimits.max_position ({self.max_position}) cannot exceed "
            f"max_leverage ({self.max_leverage}).",
        )
        _require(
            self.max_correlation <= 1.0 or math.isinf(self.max_correlation),
            f"RiskLimits.max_correlation must be <= 1 (or inf to disable), got {self.max_correlation}.",
        )
        _require(
            self.stop_loss < 1.0 or math.isinf(self.stop_loss),
            f"RiskLimits.stop_loss must be < 1 (a fraction below entry), got {self.stop_loss}.",
        )
        _require(
            self.max_drawdown < 1.0 or math.isinf(self.max_drawdown),
            f"RiskLimits.max_drawdown must be < 1, got {self.max_drawdown}.",
        )
        _require(
            self.cvar_limit >= self.var_limit,
            f"RiskLimits.cvar_limit ({self.cvar_limit}) must be >= var_limit ({self.var_limit}): CVaR is "
            "never smaller than VaR at the same level, so the VaR limit would never bind.",
        )
        _require(
            self.exit_mode in ("close", "trim"),
            f"RiskLimits.exit_mode must be 'close' or 'trim', got {self.exit_mode!r}.",
        )
        _require(
            0.0 < self.trim_fraction <= 1.0,
            f"RiskLimits.trim_fraction must lie in (0, 1], got {self.trim_fraction!r}.",
        )
        _require(
            self.breach in ("liquidate", "terminate", "penalize"),
            f"RiskLimits.breach must be 'liquidate', 'terminate' or 'penalize', got {self.breach!r}.",
        )
        _require(
            isinstance(self.cooldown, int) and self.cooldown >= 1,
            f"RiskLimits.cooldown must be an integer >= 1, got {self.cooldown!r}.",
        )
        _require(
            0.5 < self.risk_level < 1.0,
            f"RiskLimits.risk_level must lie in (0.5, 1), got {self.risk_level!r}.",
        )
        _require(
            isinstance(self.var_lookback, int) and self.var_lookback >= 20,
            f"RiskLimits.var_lookback must be an integer >= 20 bars, got {self.var_lookback!r}.",
        )

    def replace(self, **changes: Any) -> RiskLimits:
        return replace(self, **changes)


#: The three named risk profiles. Balanced holds the reference values (docs/risk.md)::
#:
#:     | field | conservative | balanced (reference) | aggressive |
#:     |---|---:|---:|---:|
#:     | `max_position` | 0.1 | 0.15 | 0.3 |
#:     | `max_correlation` | 0.6 | 0.7 | 0.85 |
#:     | `volatility_budget` | 0.08 | 0.12 | 0.25 |
#:     | `var_limit` | 0.03 | 0.05 | 0.08 |
#:     | `cvar_limit` | 0.045 | 0.07 | 0.12 |
#:     | `max_leverage` | 0.8 | 1.0 | 1.0 |
#:     | `stop_loss` | 0.05 | 0.08 | 0.15 |
#:     | `take_profit` | 0.15 | 0.2 | 0.4 |
#:     | `exit_mode` | close | close | close |
#:     | `trim_fraction` | 0.5 | 0.5 | 0.5 |
#:     | `max_drawdown` | 0.1 | 0.15 | 0.3 |
#:     | `breach` | liquidate | liquidate | liquidate |
#:     | `cooldown` | 10 | 5 | 3 |
#:     | `risk_level` | 0.95 | 0.95 | 0.95 |
#:     | `var_lookback` | 60 | 60 | 60 |
RISK_PRESETS: dict[str, RiskLimits] = {
    "conservative": RiskLimits(
        max_position=0.10,
        max_correlation=0.60,
        volatility_budget=0.08,
        var_limit=0.03,
        cvar_limit=0.045,
        max_leverage=0.8,
        stop_loss=0.05,
        take_profit=0.15,
        max_drawdown=0.10,
        cooldown=10,
    ),
    "balanced": RiskLimits(),
    "aggressive": RiskLimits(
        max_position=0.30,
        max_correlation=0.85,
        volatility_budget=0.25,
        var_limit=0.08,
        cvar_limit=0.12,
        max_leverage=1.0,
        stop_loss=0.15,
        take_profit=0.40,
        max_drawdown=0.30,
        cooldown=3,
    ),
}


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the composite reward ``r = sum_k weight_k * term_k`` (terms in docs/reward.md).

    Penalty terms (risk, cost, stability, breach) are signed: their term value is <= 0, their weight >= 0.
    The defaults make the reward a mean-variance utility in daily-return units: ``log return - 4 w'Cw / 2``
    (risk aversion 4, on top of the log return's own ``sigma^2 / 2``) with costs paid twice (once in the
    value, once more as a penalty that discourages churn). docs/reward.md explains the choice and the
    ablation behind it.

    Attributes:
        profit: log return of portfolio value net of costs.
        risk: ``-w' C w / 2``, half the ex-ante daily variance of the weights held after the risk layer
            (the weight is a risk aversion: the optimum invests ``mu / (risk * sigma^2)``).
        cost: ``-cost_t / V_t``.
        stability: ``-turnover_t`` (traded notional over value).
        sharpe: ``eta * D_t``, the differential Sharpe ratio of Moody & Saffell times its rate ``eta``.
        momentum: ``sum_i w_i * mean of the window's log returns of asset i``.
        diversification: ``(1 - HHI of risky weights) * invested fraction * mean daily asset volatility``.
        breach: ``-max(drawdown - max_drawdown, 0)`` (only with ``breach="penalize"``).
        benchmark: ``-log return of an equal-weight portfolio of the assets`` over the step: no action changes
            it, so with weight 1 the profit becomes the excess return over equal weight, the optimal policy
            is unchanged and the reward's noise falls to the tracking error (a control variate). Off by
            default: it did not speed up learning measurably (docs/reward.md).
        target_risk: ``-v' C v / 2``, half the ex-ante daily variance of the target ``v`` the action asks for
            (before partial rebalancing and the risk layer): charges the risk the agent requests, which the
            risk layer may not let through (docs/reward.md). Off by default (0).
        sharpe_rate: ``eta``, the rate of the exponential moving averages of the differential Sharpe ratio.
    """

    profit: float = 1.0
    risk: float = 4.0
    cost: float = 1.0
    stability: float = 0.0
    sharpe: float = 0.0
    momentum: float = 0.0
    diversification: float = 0.0
    breach: float = 1.0
    benchmark: float = 0.0
    target_risk: float = 0.0
    sharpe_rate: float = 2.0 / 64.0

    def __post_init__(self) -> None:
        for name in (f.name for f in fields(self) if f.name != "sharpe_rate"):
            value = getattr(self, name)
            _finite(f"RewardWeights.{name}", value)
            _require(
                value >= 0,
                f"RewardWeights.{name} must be >= 0 (penalty terms carry their sign), got {value!r}.",
            )
        _finite("RewardWeights.sharpe_rate", self.sharpe_rate)
        _require(
            0 < self.sharpe_rate < 1,
            f"RewardWeights.sharpe_rate must lie in (0, 1), got {self.sharpe_rate!r}.",
        )

    def replace(self, **changes: Any) -> RewardWeights:
        return replace(self, **changes)


#: Profile-specific reward weights: conservative agents are more risk-averse and pay more for churn,
#: aggressive ones less (and follow momentum a little)::
#:
#:     | weight | conservative | balanced (default) | aggressive |
#:     |---|---:|---:|---:|
#:     | `profit` | 1 | 1 | 1 |
#:     | `risk` | 10 | 4 | 1.5 |
#:     | `cost` | 2 | 1 | 0.5 |
#:     | `stability` | 0 | 0 | 0 |
#:     | `sharpe` | 0 | 0 | 0 |
#:     | `momentum` | 0 | 0 | 0.1 |
#:     | `diversification` | 0.02 | 0 | 0 |
#:     | `breach` | 1 | 1 | 1 |
#:     | `benchmark` | 0 | 0 | 0 |
#:     | `target_risk` | 0 | 0 | 0 |
#:     | `sharpe_rate` | 0.03125 | 0.03125 | 0.03125 |
REWARD_PRESETS: dict[str, RewardWeights] = {
    "conservative": RewardWeights(risk=10.0, cost=2.0, diversification=0.02),
    "balanced": RewardWeights(),
    "aggressive": RewardWeights(risk=1.5, cost=0.5, momentum=0.1),
}


@dataclass(frozen=True, init=False)
class AgentProfile:
    """One agent: identity, endowment, risk limits and reward weights.

    Attributes:
        name: the agent ID used as the PettingZoo key (e.g. ``"balanced_0"``).
        risk_profile: ``"conservative"``, ``"balanced"`` or ``"aggressive"``: the presets
            :data:`RISK_PRESETS` and :data:`REWARD_PRESETS` used when ``risk`` / ``reward`` are not given.
        initial_cash: starting cash (> 0); the agent starts with no positions.
        risk: the agent's :class:`RiskLimits` (``None`` or left out: its profile's preset). Override single
            fields with ``RISK_PRESETS["balanced"].replace(max_position=0.2)``.
        reward: the agent's :class:`RewardWeights` (``None`` or left out: its profile's preset).
    """

    # The constructor is written out (init=False) so that it takes ``risk=None`` / ``reward=None`` while the
    # attributes are always set. ``kw_only`` only lets these two fields follow the defaulted ones without a
    # default of their own; the constructor, ``dataclasses.replace`` and ``__match_args__`` keep all five.
    name: str
    risk_profile: RiskProfile = "balanced"
    initial_cash: float = 1_000_000.0
    risk: RiskLimits = field(kw_only=True)
    reward: RewardWeights = field(kw_only=True)
    __match_args__ = ("name", "risk_profile", "initial_cash", "risk", "reward")

    def __init__(
        self,
        name: str,
        risk_profile: RiskProfile = "balanced",
        initial_cash: float = 1_000_000.0,
        risk: RiskLimits | None = None,
        reward: RewardWeights | None = None,
    ) -> None:
        _require(
            isinstance(name, str) and name != "",
            f"AgentProfile.name must be a non-empty string, got {name!r}.",
        )
        _require(
            risk_profile in RISK_PROFILES,
            f"AgentProfile.risk_profile must be one of {RISK_PROFILES}, got {risk_profile!r}.",
        )
        _finite("AgentProfile.initial_cash", initial_cash)
        _require(initial_cash > 0, f"AgentProfile.initial_cash must be > 0, got {initial_cash!r}.")
        if risk is None:
            risk = RISK_PRESETS[risk_profile]
        _require(
            isinstance(risk, RiskLimits),
            f"AgentProfile.risk must be a RiskLimits, got {type(risk).__name__}.",
        )
        if reward is None:
            reward = REWARD_PRESETS[risk_profile]
        _require(
            isinstance(reward, RewardWeights),
            f"AgentProfile.reward must be a RewardWeights, got {type(reward).__name__}.",
        )
        for attribute, value in (
            ("name", name),
            ("risk_profile", risk_profile),
            ("initial_cash", initial_cash),
            ("risk", risk),
            ("reward", reward),
        ):
            object.__setattr__(self, attribute, value)


def default_agents(
    n_conservative: int = 2, n_balanced: int = 1, n_aggressive: int = 2
) -> tuple[AgentProfile, ...]:
    """``conservative_0, conservative_1, balanced_0, aggressive_0, aggressive_1`` by default."""
    agents: list[AgentProfile] = []
    for profile, count in zip(RISK_PROFILES, (n_conservative, n_balanced, n_aggressive)):
        _require(
            isinstance(count, int) and count >= 0,
            f"agent count for {profile} must be an integer >= 0, got {count!r}.",
        )
        agents.extend(AgentProfile(name=f"{profile}_{i}", risk_profile=profile) for i in range(count))
    return tuple(agents)


#: Most hidden states of a :class:`RegimeModel`.
MAX_REGIME_STATES = 6
#: Tolerance on the probabilities of a :class:`RegimeModel` (``initial`` and each transition row sum to 1).
_PROBABILITY_TOLERANCE = 1e-6


def _probabilities(name: str, values: Any) -> tuple[float, ...]:
    """``values`` as a tuple of probabilities summing to 1 (within :data:`_PROBABILITY_TOLERANCE`; kept as
    given, so a saved model round-trips bit for bit)."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a sequence of probabilities, got {values!r}.") from exc
    _require(all(math.isfinite(v) and v >= 0.0 for v in out), f"{name} must be finite and >= 0, got {out!r}.")
    total = sum(out)
    _require(
        abs(total - 1.0) <= _PROBABILITY_TOLERANCE, f"{name} must sum to 1, got {out!r} (sum {total!r})."
    )
    return out


def _state_rows(name: str, values: Any, n_states: int, n_cols: int | None) -> tuple[tuple[float, ...], ...]:
    """``values`` as ``n_states`` rows (one per hidden state) of ``n_cols`` finite floats (``None``: any, but
    equal)."""
    try:
        rows = tuple(values)
    except TypeError as exc:
        raise ConfigError(f"{name} must be a matrix (one row per state), got {values!r}.") from exc
    _require(len(rows) == n_states, f"{name} must have {n_states} rows (one per state), got {len(rows)}.")
    return _matrix(name, rows, n_states, n_cols)


@dataclass(frozen=True)
class RegimeModel:
    """A fitted Gaussian hidden Markov model of returns whose causal filter the arena runs in its step (the
    ``regime_model`` of :class:`ArenaConfig`; :class:`wealtharena_env.regime.GaussianHMM` fits one and
    :meth:`~wealtharena_env.regime.GaussianHMM.to_dict` gives the dict this is built from).

    S hidden states (2 to :data:`MAX_REGIME_STATES`, typically 2 or 3) over D series, with diagonal Gaussian
    emissions (:mod:`wealtharena_env.kernels.regime`). ``D = 1``: the model reads the equal-weight market
    log return ``m_t = mean_i log(close_{t,i} / close_{t-1,i})``; ``D = N``: the N assets' log returns.

    Attributes:
        initial: ``pi`` (S,), the state probabilities before the first return of an episode.
        transition: ``A`` (S, S), ``A[i][j] = P(s_t = j | s_{t-1} = i)``; rows sum to 1.
        means: ``mu`` (S, D), per-bar log-return means.
        variances: ``v`` (S, D), per-bar log-return variances (> 0).
    """

    initial: tuple[float, ...]
    transition: tuple[tuple[float, ...], ...]
    means: tuple[tuple[float, ...], ...]
    variances: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        initial = _probabilities("RegimeModel.initial", self.initial)
        n_states = len(initial)
        _require(
            2 <= n_states <= MAX_REGIME_STATES,
            f"RegimeModel needs 2 to {MAX_REGIME_STATES} states, got {n_states}.",
        )
        transition = tuple(
            _probabilities(f"RegimeModel.transition[{i}]", row)
            for i, row in enumerate(
                _state_rows("RegimeModel.transition", self.transition, n_states, n_states)
            )
        )
        means = _state_rows("RegimeModel.means", self.means, n_states, None)
        variances = _state_rows("RegimeModel.variances", self.variances, n_states, len(means[0]))
        _require(all(v > 0.0 for row in variances for v in row), "RegimeModel.variances must all be > 0.")
        for name, value in (
            ("initial", initial),
            ("transition", transition),
            ("means", means),
            ("variances", variances),
        ):
            object.__setattr__(self, name, value)

    @property
    def n_states(self) -> int:
        """S, the hidden states."""
        return len(self.initial)

    @property
    def n_features(self) -> int:
        """D, the series the model reads (1: the equal-weight market return; N: the assets' returns)."""
        return len(self.means[0])

    @classmethod
    def coerce(cls, value: Any) -> RegimeModel:
        """A :class:`RegimeModel` from itself, a mapping with the keys ``initial``, ``transition``,
        ``means``, ``variances`` (other keys, such as the metadata of
        :meth:`wealtharena_env.regime.GaussianHMM.to_dict`, are ignored) or an object with a ``to_dict()``
        method giving one (a fitted ``GaussianHMM``)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping) and callable(getattr(value, "to_dict", None)):
            value = value.to_dict()
        _require(
            isinstance(value, Mapping),
            f"regime_model must be a RegimeModel, a fitted GaussianHMM or its to_dict() mapping, got "
            f"{type(value).__name__}.",
        )
        missing = [k for k in ("initial", "transition", "means", "variances") if k not in value]
        _require(
            not missing,
            f"regime_model is missing {missing}: give the dict of "
            "wealtharena_env.regime.GaussianHMM.to_dict().",
        )
        return cls(value["initial"], value["transition"], value["means"], value["variances"])


#: The exponential mapping's default dead zone: actions ``a_j <= -0.7`` (the bottom 15 % of the range) are a
#: weight of exactly 0. Chosen on BullBear-v0 (docs/training.md): with SB3 SAC, whose squashed actions never
#: reach -1, a dead zone of 0, 0.05 or 0.1 left the policy holding ~1e-4 of every asset through bear markets
#: (exactly flat 0-1 % of the steps of pure-bear episodes); 0.3 let it step aside exactly (96 %).
DEFAULT_ACTION_DEAD_ZONE = 0.3


@dataclass(frozen=True)
class ArenaConfig:
    """Everything that defines an arena: agents, market, costs, episode and observation layout.

    Attributes:
        agents: the agents, in a fixed order (the order of ``possible_agents``).
        market: the synthetic market (ignored for prices when historical data is given, but its
            ``impact`` and ``periods_per_year`` still apply).
        costs: the execution cost model.
        episode_length: decisions per episode (bars traded); agents are truncated after it.
        window: bars of per-asset log returns in the observation.
        warmup: bars of history before the first decision (>= window); they feed the window and the
            volatility estimates, and are never traded.
        action_type: ``"continuous"`` (Box target weights) or ``"discrete"`` (sell / hold / buy per asset).
        action_mapping: for continuous actions, ``"exponential"`` (default: w = (exp(T a) - exp(-T)) /
            sum(...), a softmax shifted so that a = -1 is exactly 0: the zero action is equal weight and every
            weight vector, cash only included, is reachable exactly), ``"softmax"`` (w = softmax(T a)) or
            ``"simplex"`` (w = max(a, 0) / sum max(a, 0), all cash when no entry is positive).
        softmax_temperature: ``T``, the inverse temperature of the exponential and softmax mappings.
        action_dead_zone: ``d`` in [0, 1), a dead zone at the bottom of the exponential mapping's range: every
            ``a_j <= -1 + d`` maps to a weight of exactly 0 (w = max(exp(T a) - exp(T (d - 1)), 0) /
            sum(...)), so a policy whose outputs never quite reach -1 (a tanh-squashed Gaussian) can still
            hold exactly nothing of an asset (or of cash). Default ``None``: :data:`DEFAULT_ACTION_DEAD_ZONE`
            (0.3) with the exponential mapping, 0 with the others; 0 is the plain exponential mapping. The
            zero action stays equal weight. Only the exponential mapping has one: a non-zero value with
            ``"softmax"`` or ``"simplex"`` is a ``ConfigError``. Discrete actions ignore it.
        rebalance_rate: continuous actions move each risky weight this fraction of the way from the current
            weight to the mapped target (1: all the way; smaller: the target is an exponential moving
            average of the policy's outputs, so their noise trades less).
        rebalance_band: no-trade band: a risky weight whose mapped target is within this distance of the
            current weight is not traded (0, the default, disables it; a target of exactly 0 is always
            reached). Positions then stay up to the band away from their targets. Applied before the risk
            layer, which can still force a trade (a stop-loss, a cap).
        discrete_step: weight change of one discrete buy or sell, as a fraction of portfolio value.
        volatility_halflife: half-life in bars of the EWMA volatility estimates (assets and portfolios).
        observation_clip: every observation entry is clipped to +/- this value.
        reward_mode: ``"composite"`` (each agent's :class:`RewardWeights`) or ``"log_return"`` (the plain
            log return of value; the terms are still reported in ``info``).
        risk_enabled: apply the risk layer (default True; False gives a raw market for ablations — limits
            are then not enforced).
        feature_set: ``"default"`` (returns window, volatility, momentum, market state) or ``"full"`` (adds
            12 technical indicators per asset: ``kernels.features.INDICATOR_FEATURES``).
        risk_factors: the risk model's rank k. 0 (the default): every portfolio variance ``w' C w`` (risk
            layer, target-risk reward, observation) uses the EWMA covariance itself, O(N^2) per agent and
            step. k >= 1 (k < N): its statistical factor model ``C ~ Q' M Q + diag(D)`` — the top-k
            eigenvectors ``Q`` of the same covariance, tracked by subspace iteration, their covariance ``M``,
            and specific variances ``D`` that keep every asset's own variance exact — O(N k) per agent: for
            large universes (hundreds of assets). The volatility, VaR and CVaR limits then hold for the
            model's variance. The correlation cap still reads the full covariance.
        risk_factor_refresh: bars between two refreshes of the factors (one warm-started sweep, O(N^2 k));
            ``D`` follows the covariance every bar.
        regime_model: ``None`` (default) or a fitted Gaussian hidden Markov model (a :class:`RegimeModel`,
            the dict of :meth:`wealtharena_env.regime.GaussianHMM.to_dict` or the fitted ``GaussianHMM``
            itself): every observation then carries its S filtered regime probabilities
            ``P(regime_t = s | bars <= t)`` after the market state, computed causally inside the step
            (:func:`wealtharena_env.kernels.regime.filter_step`, once per bar, from the episode's first
            return on). A model of D = 1 series reads the equal-weight market log return, D = N the assets'
            log returns. Fit it on training data only (docs/regimes.md).
    """

    agents: tuple[AgentProfile, ...] = field(default_factory=default_agents)
    market: MarketConfig = field(default_factory=MarketConfig)
    costs: CostModel = field(default_factory=CostModel)
    episode_length: int = 252
    window: int = 20
    warmup: int = 60
    action_type: Literal["continuous", "discrete"] = "continuous"
    action_mapping: Literal["exponential", "softmax", "simplex"] = "exponential"
    softmax_temperature: float = 3.0
    action_dead_zone: float | None = None
    rebalance_rate: float = 0.1
    rebalance_band: float = 0.0
    discrete_step: float = 0.05
    volatility_halflife: float = 20.0
    observation_clip: float = 10.0
    reward_mode: Literal["composite", "log_return"] = "composite"
    risk_enabled: bool = True
    feature_set: Literal["default", "full"] = "default"
    risk_factors: int = 0
    risk_factor_refresh: int = 20
    regime_model: RegimeModel | None = None

    def __repr__(self) -> str:
        # The opt-in fields (risk model, regime model) show only when set: at their defaults the env is the
        # one it was before they existed, so its repr (which the golden files' configuration hash reads)
        # stays the same too.
        return _repr_without_defaults(self, _ARENA_OPT_IN_FIELDS)

    def __post_init__(self) -> None:
        agents = tuple(self.agents)
        _require(len(agents) >= 1, "ArenaConfig.agents must contain at least one AgentProfile.")
        _require(
            all(isinstance(a, AgentProfile) for a in agents),
            "ArenaConfig.agents must be AgentProfile instances (see wealtharena_env.config.default_agents).",
        )
        names = [a.name for a in agents]
        _require(len(set(names)) == len(names), f"ArenaConfig.agents have duplicate names: {names}.")
        object.__setattr__(self, "agents", agents)
        _require(isinstance(self.market, MarketConfig), "ArenaConfig.market must be a MarketConfig.")
        _require(isinstance(self.costs, CostModel), "ArenaConfig.costs must be a CostModel.")
        for name in ("episode_length", "window", "warmup"):
            value = getattr(self, name)
            _require(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"ArenaConfig.{name} must be an integer >= 1, got {value!r}.",
            )
        _require(
            self.warmup >= self.window,
            f"ArenaConfig.warmup ({self.warmup}) must be >= window ({self.window}): the first observation "
            "needs `window` bars of returns before the first decision.",
        )
        _require(
            self.action_type in ("continuous", "discrete"),
            f"ArenaConfig.action_type must be 'continuous' or 'discrete', got {self.action_type!r}.",
        )
        _require(
            self.action_mapping in ("exponential", "softmax", "simplex"),
            f"ArenaConfig.action_mapping must be 'exponential', 'softmax' or 'simplex', "
            f"got {self.action_mapping!r}.",
        )
        for name in ("softmax_temperature", "discrete_step", "volatility_halflife", "observation_clip"):
            value = getattr(self, name)
            _finite(f"ArenaConfig.{name}", value)
            _require(value > 0, f"ArenaConfig.{name} must be > 0, got {value!r}.")
        dead_zone = self.action_dead_zone
        if dead_zone is None:
            dead_zone = DEFAULT_ACTION_DEAD_ZONE if self.action_mapping == "exponential" else 0.0
            object.__setattr__(self, "action_dead_zone", dead_zone)
        _finite("ArenaConfig.action_dead_zone", dead_zone)
        _require(
            0.0 <= dead_zone < 1.0,
            f"ArenaConfig.action_dead_zone must lie in [0, 1) (actions a <= -1 + d map to weight 0), "
            f"got {self.action_dead_zone!r}.",
        )
        _require(
            self.action_dead_zone == 0.0 or self.action_mapping == "exponential",
            f"ArenaConfig.action_dead_zone={self.action_dead_zone!r} needs action_mapping='exponential' "
            f"(the only mapping with a dead zone), got action_mapping={self.action_mapping!r}; set "
            "action_dead_zone=0 or use the exponential mapping.",
        )
        _finite("ArenaConfig.rebalance_rate", self.rebalance_rate)
        _require(
            0.0 < self.rebalance_rate <= 1.0,
            f"ArenaConfig.rebalance_rate must lie in (0, 1], got {self.rebalance_rate!r}.",
        )
        _finite("ArenaConfig.rebalance_band", self.rebalance_band)
        _require(
            0.0 <= self.rebalance_band < 1.0,
            f"ArenaConfig.rebalance_band must lie in [0, 1), got {self.rebalance_band!r}.",
        )
        _require(
            self.reward_mode in ("composite", "log_return"),
            f"ArenaConfig.reward_mode must be 'composite' or 'log_return', got {self.reward_mode!r}.",
        )
        _require(
            self.feature_set in ("default", "full"),
            f"ArenaConfig.feature_set must be 'default' or 'full', got {self.feature_set!r}.",
        )
        _require(
            self.feature_set == "default" or self.warmup >= 40,
            f"ArenaConfig.feature_set='full' needs warmup >= 40 bars (the indicators' warm-up), "
            f"got {self.warmup}.",
        )
        for name, low in (("risk_factors", 0), ("risk_factor_refresh", 1)):
            value = getattr(self, name)
            _require(
                isinstance(value, int) and not isinstance(value, bool) and value >= low,
                f"ArenaConfig.{name} must be an integer >= {low}, got {value!r}.",
            )
        _require(
            self.risk_factors < max(self.n_assets, 1) or self.risk_factors == 0,
            f"ArenaConfig.risk_factors must be below the number of assets ({self.n_assets}), got "
            f"{self.risk_factors}.",
        )
        _require(
            isinstance(self.risk_enabled, bool),
            f"ArenaConfig.risk_enabled must be a bool, got {self.risk_enabled!r}.",
        )
        if self.regime_model is not None:
            model = RegimeModel.coerce(self.regime_model)
            object.__setattr__(self, "regime_model", model)
            _require(
                model.n_features in (1, self.market.n_assets),
                f"ArenaConfig.regime_model reads {model.n_features} series but the market has "
                f"{self.market.n_assets} assets: a model must read 1 series (the equal-weight market return) "
                f"or one per asset ({self.market.n_assets}); fit it on returns of that shape.",
            )
        for agent in agents:
            _require(
                agent.risk.var_lookback <= self.warmup,
                f"agent {agent.name!r}: RiskLimits.var_lookback ({agent.risk.var_lookback}) must be <= "
                f"ArenaConfig.warmup ({self.warmup}): historical VaR reads that many bars of history.",
            )
        _require(
            self.discrete_step <= 1.0, f"ArenaConfig.discrete_step must be <= 1, got {self.discrete_step!r}."
        )

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.agents)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_assets(self) -> int:
        return self.market.n_assets

    @property
    def bars_per_episode(self) -> int:
        """Bars an episode needs: warmup history, one bar per decision, and the last fill bar."""
        return self.warmup + self.episode_length + 1

    def replace(self, **changes: Any) -> ArenaConfig:
        """A copy with some fields changed (validated again). A new ``action_mapping`` without an
        ``action_dead_zone`` takes that mapping's default dead zone."""
        if "action_mapping" in changes and "action_dead_zone" not in changes:
            changes["action_dead_zone"] = None
        return replace(self, **changes)


def arena_config(
    *,
    n_assets: int | None = None,
    agents: tuple[AgentProfile, ...] | list[str] | None = None,
    episode_length: int | None = None,
    impact: float | None = None,
    base: ArenaConfig | None = None,
    **overrides: Any,
) -> ArenaConfig:
    """Build an :class:`ArenaConfig` from the common keyword arguments the env constructors accept.

    ``agents`` may be profiles or names; a name ``"<profile>_<k>"`` gets that risk profile.
    Any other keyword is an :class:`ArenaConfig` field.
    """
    config = base if base is not None else ArenaConfig()
    unknown = set(overrides) - set(ArenaConfig.__dataclass_fields__)
    _require(
        not unknown,
        f"unknown arena argument(s) {sorted(unknown)}; valid ones are n_assets, agents, "
        f"episode_length, impact, the ArenaConfig fields {sorted(ArenaConfig.__dataclass_fields__)}, "
        "and with historical data: data, split, splits, adjust, data_options and the loader's "
        "options (tickers, start, end, calendar, ffill_limit, min_coverage, on_bad_rows, "
        "on_duplicate, on_split, max_jump).",
    )
    changes: dict[str, Any] = dict(overrides)
    market = changes.pop("market", config.market)
    if n_assets is not None:
        market = replace(market, n_assets=n_assets)
    if impact is not None:
        market = replace(market, impact=impact)
    changes["market"] = market
    if agents is not None:
        profiles = []
        for a in agents:
            if isinstance(a, AgentProfile):
                profiles.append(a)
            else:
                prefix = str(a).rsplit("_", 1)[0]
                if prefix not in RISK_PROFILES:  # (narrows prefix to a RiskProfile)
                    raise ConfigError(
                        f"agent name {str(a)!r} does not name a risk profile: a name given as a string is "
                        f"'<profile>_<k>' with profile one of {RISK_PROFILES} (e.g. 'balanced_0'); "
                        "for another name give the profile explicitly, "
                        f"AgentProfile({str(a)!r}, risk_profile='balanced')."
                    )
                profiles.append(AgentProfile(name=str(a), risk_profile=prefix))
        changes["agents"] = tuple(profiles)
    if episode_length is not None:
        changes["episode_length"] = episode_length
    return config.replace(**changes)


__all__ = [
    "DEFAULT_ACTION_DEAD_ZONE",
    "MAX_REGIME_STATES",
    "REGIME_NAMES",
    "REWARD_PRESETS",
    "RISK_PRESETS",
    "RISK_PROFILES",
    "AgentProfile",
    "ArenaConfig",
    "CostModel",
    "MarketConfig",
    "RegimeModel",
    "RewardWeights",
    "RiskLimits",
    "RiskProfile",
    "arena_config",
    "default_agents",
]
