"""Causal regime gates: a regime filter fed bar by bar from observations, and a sticky choice of regime.

A **regime source** is any object with ``filter_step(probs, x) -> probs``: given the regime probabilities
after the previous bar ``(S,)`` and the newest observation of its signal ``x`` (a 1-D array), it returns the
probabilities after this bar. It sees one bar at a time, in order, so whatever it computes at ``t`` uses data
up to ``t`` only. Optional attributes:

* ``initial_probs`` — an array ``(S,)`` or a method returning one: the probabilities before the first bar
  (default: uniform over the gate's ``n_regimes``);
* ``signal`` — the observation signal it filters (default ``"market_return"``; see :data:`SIGNALS`).

:class:`VolatilityRegime` is such a source (two regimes from the market-volatility feature, with a no-trade
band). A Gaussian hidden Markov model filter (``GaussianHMM.filter_step(probs, returns)``, forward algorithm:
``p_t ∝ f(x_t | s) (A^T p_{t-1})_s``) plugs in unchanged, fed the equal-weight market log return
(``signal="market_return"``) or the asset log returns (``signal="asset_returns"``).

:class:`RegimeGate` runs a source over a batch of episodes: :meth:`RegimeGate.start` at an episode's first
observation (return signals first replay the observation's return window, so the filter starts warm),
:meth:`RegimeGate.step` at every later one; the regime it reports changes only when another regime's
probability reaches ``switch_probability`` (hysteresis on top of the source's own).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard.observation import ObservationLayout

#: Signals a gate can feed its source: the equal-weight market's log return of the latest bar (1 value), the
#: assets' log returns (N values), or one of the observation's market-state features (1 value).
SIGNALS = (
    "market_return",
    "asset_returns",
    "market_volatility",
    "market_trend",
    "volatility_percentile",
    "dispersion",
)
RETURN_SIGNALS = ("market_return", "asset_returns")


@runtime_checkable
class RegimeSource(Protocol):
    """A causal regime filter: ``filter_step(probs (S,), x (m,)) -> probs (S,)`` (module docstring)."""

    def filter_step(self, probs: np.ndarray, x: np.ndarray) -> np.ndarray: ...


class VolatilityRegime:
    """Two regimes, *calm* (0) and *stressed* (1), from the ``market_volatility`` feature with hysteresis.

    The feature is the annualised EWMA volatility of the equal-weight market (the signal of the
    ``vol_timing`` baseline). With ``enter <= exit``::

        calm     and x >  exit   -> stressed
        stressed and x <  enter  -> calm
        otherwise                -> unchanged (the band [enter, exit] is the no-switch band)

    Probabilities are one-hot; the regime is carried in them (``argmax``), so ``filter_step`` is a pure
    function of its inputs. A non-finite ``x`` leaves the regime unchanged. Defaults: 15 % / 20 % a year, the
    thresholds of ``vol_timing`` (fixed a priori, not tuned on evaluation seeds). Episodes start calm.
    """

    signal = "market_volatility"
    n_states = 2

    def __init__(self, enter: float = 0.15, exit: float = 0.20):
        if not (np.isfinite(enter) and np.isfinite(exit) and 0.0 <= enter <= exit):
            raise ConfigError(
                f"VolatilityRegime needs finite thresholds 0 <= enter <= exit (annualised volatility), got "
                f"enter={enter!r}, exit={exit!r}."
            )
        self.enter = float(enter)
        self.exit = float(exit)

    def initial_probs(self) -> np.ndarray:
        return np.array([1.0, 0.0])

    def filter_step(self, probs: np.ndarray, x: np.ndarray) -> np.ndarray:
        value = float(np.asarray(x, dtype=np.float64).reshape(-1)[0])
        stressed = bool(np.argmax(probs) == 1)
        if np.isfinite(value):
            stressed = value >= self.enter if stressed else value > self.exit
        return np.array([0.0, 1.0]) if stressed else np.array([1.0, 0.0])

    def __repr__(self) -> str:
        return f"VolatilityRegime(enter={self.enter}, exit={self.exit})"


def sticky_regime(probs: np.ndarray, current: np.ndarray, switch_probability: float) -> np.ndarray:
    """``(K,)`` the regime of each row: the most probable one if its probability is at least
    ``switch_probability``, else ``current`` (rows ``probs`` ``(K, S)``; non-finite rows keep ``current``)."""
    safe = np.where(np.isfinite(probs), probs, -np.inf)
    best = np.argmax(safe, axis=1)
    top = safe[np.arange(probs.shape[0]), best]
    return np.where((best != current) & (top >= switch_probability), best, current)


class RegimeGate:
    """Runs a regime source over a batch of episodes and picks a regime per row, causally.

    Arguments:
        source: a :class:`RegimeSource`.
        layout: the observation layout (:meth:`ObservationLayout.from_env`).
        n_regimes: ``S``, the number of regimes the caller maps (the source's probabilities must have S
            entries).
        signal: the observation signal fed to the source (:data:`SIGNALS`); default: the source's ``signal``
            attribute, else ``"market_return"``.
        switch_probability: the reported regime changes only to a regime at least this probable (0.5 with two
            regimes: whenever the most probable one changes).

    State lives with the caller, as arrays per row: the probabilities ``(K, S)`` and the current regime
    ``(K,)``, plus the previous observation's annualised volatilities ``(K, N)`` for return signals.
    """

    def __init__(
        self,
        source: Any,
        layout: ObservationLayout,
        n_regimes: int,
        signal: str | None = None,
        switch_probability: float = 0.5,
    ):
        if not callable(getattr(source, "filter_step", None)):
            raise ConfigError(
                f"a regime source needs a method filter_step(probs, x) -> probs, got {type(source).__name__}."
            )
        signal = signal or getattr(source, "signal", None) or "market_return"
        if signal not in SIGNALS:
            raise ConfigError(f"unknown regime signal {signal!r}; choose one of {list(SIGNALS)}.")
        if not 0.0 < switch_probability <= 1.0:
            raise ConfigError(f"switch_probability must lie in (0, 1], got {switch_probability!r}.")
        if int(n_regimes) < 1:
            raise ConfigError(f"a regime gate needs at least one regime, got n_regimes={n_regimes!r}.")
        self.source = source
        self.layout = layout
        self.n_regimes = int(n_regimes)
        self.signal = signal
        self.switch_probability = float(switch_probability)
        self.initial = self._initial_probs()

    def _initial_probs(self) -> np.ndarray:
        init = getattr(self.source, "initial_probs", None)
        if callable(init):
            init = init()
        if init is None:
            return np.full(self.n_regimes, 1.0 / self.n_regimes)
        probs = np.asarray(init, dtype=np.float64).reshape(-1)
        self._check(probs)
        return probs

    def _check(self, probs: np.ndarray) -> None:
        if probs.shape != (self.n_regimes,):
            raise ConfigError(
                f"the regime source {type(self.source).__name__} gives {probs.size} regime probabilities, "
                f"but the gate maps {self.n_regimes} regimes (one member or mapping per regime)."
            )

    def _filter(self, probs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """One source step per row; rows whose signal is not finite keep their probabilities."""
        out = probs.copy()
        for k in range(probs.shape[0]):
            if not np.all(np.isfinite(x[k])):
                continue
            new = np.asarray(self.source.filter_step(probs[k].copy(), x[k].copy()), dtype=np.float64)
            new = new.reshape(-1)
            self._check(new)
            if np.all(np.isfinite(new)) and new.sum() > 0.0:
                out[k] = new
        return out

    def _signal(self, obs: np.ndarray, log_returns: np.ndarray | None) -> np.ndarray:
        if self.signal == "market_return":
            assert log_returns is not None
            return log_returns.mean(axis=1, keepdims=True)
        if self.signal == "asset_returns":
            assert log_returns is not None
            return log_returns
        return self.layout.feature(obs, self.signal)[:, None]

    def start(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(probs (K, S), regime (K,))`` after the first observation of K episodes."""
        probs = np.tile(self.initial, (obs.shape[0], 1))
        if self.signal in RETURN_SIGNALS:  # replay the window (approximate returns), oldest bar first
            window = self.layout.window_log_returns(obs)
            for j in range(window.shape[1]):
                probs = self._filter(probs, self._signal(obs, window[:, j, :]))
        else:
            probs = self._filter(probs, self._signal(obs, None))
        return probs, np.argmax(probs, axis=1)

    def step(
        self,
        obs: np.ndarray,
        probs: np.ndarray,
        regime: np.ndarray,
        previous_annual_volatility: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(probs, regime)`` after one more observation (``previous_annual_volatility``: the volatility
        entries of the observation before it, for return signals)."""
        log_returns = None
        if self.signal in RETURN_SIGNALS:
            log_returns = self.layout.latest_log_returns(obs, previous_annual_volatility)
        probs = self._filter(probs, self._signal(obs, log_returns))
        return probs, sticky_regime(probs, regime, self.switch_probability)


def load_regime_source(spec: Any, **options: Any) -> Any:
    """A regime source from a spec: an object with ``filter_step`` (returned as is), ``"volatility"``
    (:class:`VolatilityRegime`, ``options`` ``enter`` / ``exit``), or ``"module:callable"`` /
    ``"path/file.py:callable"`` naming a factory called with ``options`` (e.g. one that loads a fitted HMM
    with ``GaussianHMM.from_dict``)."""
    from wealtharena_env.leaderboard.policies import PolicyLoadError, _import_callable

    if callable(getattr(spec, "filter_step", None)):
        return spec
    if spec == "volatility":
        return VolatilityRegime(**{k: float(v) for k, v in options.items()})
    if isinstance(spec, str) and ":" in spec:
        factory = _import_callable(spec)
        source = factory(**options)
        if not callable(getattr(source, "filter_step", None)):
            raise PolicyLoadError(
                f"regime source {spec!r} returned a {type(source).__name__}, which has no "
                "filter_step(probs, x)."
            )
        return source
    raise PolicyLoadError(
        f"cannot interpret regime source {spec!r}: use 'volatility', 'module:factory', "
        "'path/file.py:factory' or an object with filter_step(probs, x)."
    )


__all__ = [
    "RETURN_SIGNALS",
    "SIGNALS",
    "RegimeGate",
    "RegimeSource",
    "VolatilityRegime",
    "load_regime_source",
    "sticky_regime",
]
