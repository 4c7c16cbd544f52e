"""Market regimes from returns: a Gaussian hidden Markov model fitted by Baum-Welch, filtered causally.

:class:`GaussianHMM` fits S hidden states (2 or 3 are typical) with diagonal Gaussian emissions to one return
series (D = 1, e.g. the equal-weight market log return, :func:`market_log_returns`) or to several side by
side (D = N, :func:`asset_log_returns`), and filters new returns with the causal forward recursion
``p_t(s) = P(regime_t = s | returns <= t)`` — the same kernel
(:func:`wealtharena_env.kernels.regime.filter_step`) the arena runs inside its step when
``ArenaConfig.regime_model`` holds a fitted model. The maths lives in :mod:`wealtharena_env.kernels.regime`.

States are ordered canonically by volatility, ascending (state 0 is the calmest: the sum over series of its
variances is the smallest), so the labels of two fits are comparable; on the synthetic market's default
regimes (bull, bear, high volatility: volatilities ascending) state ``s`` of a 3-state fit is regime ``s``.

**Fit on training data only.** For the synthetic market: returns of episodes drawn from training seeds
(``Task.train_seeds``). For historical data: the task's training dates (``HistoricalSpec.train``, or the
``"train"`` split of :func:`wealtharena_env.data.resolve_split`), never the validation or test bars that an
evaluation plays. Smoothed probabilities (:meth:`GaussianHMM.smooth`) and Viterbi paths
(:meth:`GaussianHMM.viterbi`) look at future bars: diagnostics only, never an observation.

Example::

    hmm = GaussianHMM(n_states=2, seed=0).fit(train_returns)     # (T,) or (T, D), or a list of sequences
    probs = hmm.filter(test_returns)                             # (T, S), row t from returns[: t + 1] only
    p = hmm.filter_step(None, r0)                                # bar by bar: p = hmm.filter_step(p, r_t)
    env = PortfolioEnv(regime_model=hmm.to_dict())               # + S probabilities in every observation
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from wealtharena_env.config import MAX_REGIME_STATES, RegimeModel
from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels import regime as kg

#: ``to_dict()["format"]``: what :meth:`GaussianHMM.from_dict` accepts.
FORMAT = "wealtharena.gaussian_hmm"
FORMAT_VERSION = 1


def market_log_returns(close: Any) -> np.ndarray:
    """The equal-weight market log return ``m_t = mean_i log(close_{t,i} / close_{t-1,i})`` of closes
    ``(T, N)`` (or a ``MarketData``, whose ``close`` is used): ``(T - 1,)``, bar 1 on. This is the series a
    one-series regime model reads in the arena (``history`` row ``N + MARKET_RETURN``)."""
    return asset_log_returns(close).mean(axis=1)


def asset_log_returns(close: Any) -> np.ndarray:
    """The assets' log returns ``log(close_t / close_{t-1})`` of closes ``(T, N)`` (or a ``MarketData``):
    ``(T - 1, N)``, bar 1 on (the series a model of D = N reads in the arena)."""
    close = np.asarray(getattr(close, "close", close), dtype=np.float64)
    if close.ndim == 1:
        close = close[:, None]
    if close.ndim != 2 or close.shape[0] < 2:
        raise ConfigError(f"closes must be (T, N) with T >= 2, got shape {close.shape}.")
    if not np.all(np.isfinite(close)) or np.any(close <= 0):
        raise ConfigError("closes must be finite and > 0.")
    return np.diff(np.log(close), axis=0)


def training_returns(
    task: Any, data: Any = None, n_episodes: int = 40, series: str = "market"
) -> list[np.ndarray]:
    """The returns a leaderboard task lets a regime model be fitted on (its training data, never its
    evaluation data), as a list of sequences for :meth:`GaussianHMM.fit`.

    Synthetic tasks: the episodes of the first ``n_episodes`` training seeds (``task.train_seeds``), drawn as
    the task's env draws them (``warmup + episode_length + 1`` bars of the task's market), their returns from
    bar 1 on. Historical tasks: the training dates of the task's data (``HistoricalSpec.train``), from
    ``data`` (a path, frame or ``MarketData`` holding its tickers; default: downloaded through the cache).

    ``series``: ``"market"`` (the equal-weight market log return, D = 1) or ``"assets"`` (D = N).
    """
    from wealtharena_env.config import arena_config
    from wealtharena_env.kernels.market import BAR_LOGRET, N_BAR_FIELDS
    from wealtharena_env.market_sources import SyntheticMarket

    if series not in ("market", "assets"):
        raise ConfigError(f"series must be 'market' or 'assets', got {series!r}.")
    sequences: list[np.ndarray] = []
    spec = task.historical
    if spec is None:
        if not isinstance(n_episodes, (int, np.integer)) or not 1 <= n_episodes <= len(task.train_seeds):
            raise ConfigError(f"n_episodes must be in [1, {len(task.train_seeds)}], got {n_episodes!r}.")
        config = arena_config(**task.kwargs)
        source = SyntheticMarket(config.market)
        for seed in task.train_seeds[:n_episodes]:
            bars = np.empty((config.bars_per_episode, N_BAR_FIELDS, config.n_assets))
            source.sample(np.random.default_rng(seed), bars)
            returns = bars[1:, BAR_LOGRET]
            sequences.append(returns.mean(axis=1) if series == "market" else returns.copy())
        return sequences
    from wealtharena_env.data import load_market_data, resolve_split

    options = dict(spec.load_options)
    if data is None:
        full = load_market_data(list(spec.tickers), start=spec.start, end=spec.end, **options)
    else:
        full = load_market_data(data, tickers=list(spec.tickers), **options)
    missing = [t for t in spec.tickers if t not in full.tickers]
    if missing:
        raise ConfigError(f"task {task.key} needs tickers {missing}, which the data does not hold.")
    train = resolve_split(full.select(list(spec.tickers)), (spec.date_splits(), "train"))
    if getattr(train, "adj_close", None) is not None:
        train = train.adjusted()  # what the env trades by default (HistoricalMarket's adjust=True)
    sequences.append(market_log_returns(train) if series == "market" else asset_log_returns(train))
    return sequences


def _as_sequences(returns: Any, n_features: int | None = None) -> list[np.ndarray]:
    """``returns`` as a list of (T_k, D) float64 arrays: one array (T,) / (T, D), or a list / tuple of
    them (independent sequences, e.g. episodes of different seeds)."""
    if isinstance(returns, np.ndarray) or (
        isinstance(returns, Sequence) and returns and np.isscalar(returns[0])
    ):
        items = [returns]
    elif isinstance(returns, Sequence) and not isinstance(returns, (str, bytes)):
        items = list(returns)
    else:
        items = [returns]
    out = []
    for k, item in enumerate(items):
        x = np.asarray(item, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ConfigError(
                f"returns must be (T,) or (T, D) arrays (or a list of them), got shape {x.shape} "
                f"(sequence {k})."
            )
        if not np.all(np.isfinite(x)):
            raise ConfigError(f"returns of sequence {k} contain NaN or inf; drop or fill those bars first.")
        out.append(np.ascontiguousarray(x))
    widths = {x.shape[1] for x in out}
    if len(widths) != 1:
        raise ConfigError(f"every sequence needs the same number of series D, got {sorted(widths)}.")
    if n_features is not None and widths != {n_features}:
        raise ConfigError(f"the model reads D = {n_features} series, got returns with D = {widths.pop()}.")
    return out


def _canonical_order(params: kg.GaussianHMMParams) -> np.ndarray:
    """State order by total variance ``sum_d v_sd`` ascending (ties: by mean of the means)."""
    total = params.variances.sum(axis=1)
    return np.lexsort((params.means.mean(axis=1), total))


def _starting_point(x: np.ndarray, n_states: int, rng: np.random.Generator, restart: int) -> np.ndarray:
    """A packed starting model for Baum-Welch. Restart 0: states by quantiles of the trailing 20-bar mean
    squared return (calm to turbulent), each state's mean and variance over its bars, a sticky transition
    matrix (0.95 on the diagonal). Later restarts: the overall mean plus noise, the overall variance times
    random factors spread over about 20 x, random sticky transitions and random initial probabilities."""
    n_bars, n_features = x.shape
    overall_mean = x.mean(axis=0)
    overall_var = np.maximum(x.var(axis=0), 1e-300)
    means = np.empty((n_states, n_features))
    variances = np.empty((n_states, n_features))
    if restart == 0:
        energy = (x**2).sum(axis=1)
        kernel = np.ones(min(20, n_bars)) / min(20, n_bars)
        smooth = np.convolve(energy, kernel, mode="same")
        edges = np.quantile(smooth, np.linspace(0, 1, n_states + 1))
        labels = np.clip(np.searchsorted(edges, smooth, side="right") - 1, 0, n_states - 1)
        for s in range(n_states):
            part = x[labels == s]
            if part.shape[0] < 2:
                part = x
            means[s] = part.mean(axis=0)
            variances[s] = np.maximum(part.var(axis=0), overall_var * 1e-3)
        stay = np.full(n_states, 0.95)
        initial = np.full(n_states, 1.0 / n_states)
    else:
        factors = np.sort(np.exp(rng.uniform(-1.5, 1.5, n_states)))
        for s in range(n_states):
            means[s] = overall_mean + rng.normal(0.0, 0.25, n_features) * np.sqrt(overall_var)
            variances[s] = overall_var * factors[s]
        stay = rng.uniform(0.80, 0.995, n_states)
        initial = rng.dirichlet(np.ones(n_states))
    transition = np.empty((n_states, n_states))
    for s in range(n_states):
        rest = rng.dirichlet(np.ones(n_states - 1)) * (1.0 - stay[s])
        transition[s] = np.insert(rest, s, stay[s])
    return kg.pack_regime_model(kg.GaussianHMMParams(initial, transition, means, variances))


class GaussianHMM:
    """A Gaussian hidden Markov model of returns with diagonal covariances, fitted by Baum-Welch (EM).

    Args:
        n_states: S, the hidden states (2 to 6; 2 or 3 for market regimes).
        seed: seeds the generator of the random restarts (the fit is deterministic given the data and
            the seed).
        n_init: Baum-Welch runs from different starting points (the first from volatility quantiles, the
            others random); the fit with the highest log-likelihood is kept.
        max_iter: most EM iterations per run.
        tol: a run stops when its log-likelihood per observation improves by less than this.
        variance_floor: every state's variance of series d is at least ``variance_floor * var(x_d)`` (the
            variance of the training returns), so no state collapses onto a few bars.

    Attributes (after :meth:`fit` or :meth:`from_dict`):
        initial, transition, means, variances: the parameters (``pi`` (S,), ``A`` (S, S), ``mu`` (S, D),
            ``v`` (S, D)), states ordered by volatility ascending.
        log_likelihood: of the training returns under the kept fit.
        history: the kept run's log-likelihood per EM iteration (non-decreasing).
        n_iter: its EM iterations; ``converged``: whether it stopped on ``tol`` before ``max_iter``.
    """

    def __init__(
        self,
        n_states: int = 2,
        seed: int | None = 0,
        n_init: int = 5,
        max_iter: int = 500,
        tol: float = 1e-8,
        variance_floor: float = 1e-3,
    ):
        if not isinstance(n_states, (int, np.integer)) or not 2 <= n_states <= MAX_REGIME_STATES:
            raise ConfigError(f"n_states must be an integer in [2, {MAX_REGIME_STATES}], got {n_states!r}.")
        if not isinstance(n_init, (int, np.integer)) or n_init < 1:
            raise ConfigError(f"n_init must be an integer >= 1, got {n_init!r}.")
        if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ConfigError(f"max_iter must be an integer >= 1, got {max_iter!r}.")
        if not (np.isfinite(tol) and tol >= 0):
            raise ConfigError(f"tol must be a finite number >= 0, got {tol!r}.")
        if not (np.isfinite(variance_floor) and variance_floor > 0):
            raise ConfigError(f"variance_floor must be a finite number > 0, got {variance_floor!r}.")
        self.n_states = int(n_states)
        self.seed = seed
        self.n_init = int(n_init)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.variance_floor = float(variance_floor)
        self._packed: np.ndarray | None = None
        self.log_likelihood: float | None = None
        self.history: np.ndarray | None = None
        self.n_iter = 0
        self.converged = False
        self.n_observations = 0

    # ------------------------------------------------------------------ parameters
    @property
    def fitted(self) -> bool:
        return self._packed is not None

    def _model(self) -> kg.GaussianHMMParams:
        if self._packed is None:
            raise ConfigError("the GaussianHMM is not fitted: call fit() or build it with from_dict().")
        return kg.regime_model_views(self._packed)

    @property
    def initial(self) -> np.ndarray:
        return self._model().initial.copy()

    @property
    def transition(self) -> np.ndarray:
        return self._model().transition.copy()

    @property
    def means(self) -> np.ndarray:
        return self._model().means.copy()

    @property
    def variances(self) -> np.ndarray:
        return self._model().variances.copy()

    @property
    def n_features(self) -> int:
        """D, the series the model reads."""
        return self._model().means.shape[1]

    @property
    def packed(self) -> np.ndarray:
        """The packed model the arena's kernels read (:mod:`wealtharena_env.kernels.regime`), a copy."""
        self._model()
        assert self._packed is not None
        return self._packed.copy()

    def stationary_distribution(self) -> np.ndarray:
        """``pi_inf = pi_inf A``: the long-run share of bars in each state."""
        values, vectors = np.linalg.eig(self.transition.T)
        k = int(np.argmin(np.abs(values - 1.0)))
        pi = np.abs(np.real(vectors[:, k]))
        return pi / pi.sum()

    def expected_durations(self) -> np.ndarray:
        """Expected bars per visit of each state, ``1 / (1 - A[s, s])``."""
        return 1.0 / np.maximum(1.0 - np.diag(self.transition), 1e-300)

    # ------------------------------------------------------------------ fitting
    def fit(self, returns: Any) -> GaussianHMM:
        """Fit by Baum-Welch on **training** returns only; return ``self``.

        ``returns``: log returns per bar, ``(T,)`` for one series or ``(T, D)`` for D series side by side, or
        a list of such arrays (independent sequences: episodes of training seeds, or training periods).
        For the arena's feature, fit the series it reads: :func:`market_log_returns` (D = 1) or
        :func:`asset_log_returns` (D = N) of training data — for a synthetic task, episodes drawn from its
        training seeds; for historical data, the task's training dates (``HistoricalSpec.train``) — never
        the bars an evaluation plays.

        Runs ``n_init`` EM fits (:func:`wealtharena_env.kernels.regime.baum_welch`) from the starting points
        of a generator seeded with ``seed``, keeps the one of highest log-likelihood and orders its states by
        volatility ascending.
        """
        sequences = _as_sequences(returns)
        x = np.ascontiguousarray(np.concatenate(sequences, axis=0))
        lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
        if x.shape[0] < 2 * self.n_states:
            raise ConfigError(f"fit() needs at least {2 * self.n_states} bars, got {x.shape[0]}.")
        floor = np.maximum(x.var(axis=0), 1e-300) * self.variance_floor
        settings = kg.EMSettings(self.max_iter, self.tol, floor)
        rng = np.random.default_rng(self.seed)
        best: tuple[float, np.ndarray, np.ndarray, int] | None = None
        for restart in range(self.n_init):
            packed = _starting_point(x, self.n_states, rng, restart)
            model = kg.regime_model_views(packed)
            np.maximum(model.variances, floor[None, :], out=model.variances)
            history = np.full(self.max_iter, np.nan)
            n_iter = kg.baum_welch(x, lengths, model, settings, history)
            loglik = float(history[n_iter - 1])
            if np.isfinite(loglik) and (best is None or loglik > best[0]):
                best = (loglik, packed, history[:n_iter].copy(), n_iter)
        if best is None:
            raise ConfigError("Baum-Welch found no finite log-likelihood: check the returns' scale.")
        loglik, packed, history, n_iter = best
        model = kg.regime_model_views(packed)
        order = _canonical_order(model)
        self._packed = kg.pack_regime_model(
            kg.GaussianHMMParams(
                model.initial[order],
                model.transition[np.ix_(order, order)],
                model.means[order],
                model.variances[order],
            )
        )
        self.log_likelihood = loglik
        self.history = history
        self.n_iter = n_iter
        self.converged = n_iter < self.max_iter
        self.n_observations = int(x.shape[0])
        return self

    # ------------------------------------------------------------------ inference
    def filter(self, returns: Any) -> np.ndarray:
        """Causal filtered probabilities ``P(regime_t = s | returns_0..t)``, ``(T, S)``: row ``t`` reads
        rows ``<= t`` of ``returns`` only (:func:`wealtharena_env.kernels.regime.forward_filter`), starting
        from ``initial`` at the first row."""
        (x,) = _as_sequences([returns], self.n_features)
        out = np.empty((x.shape[0], self.n_states))
        kg.forward_filter(x, self._model(), out)
        return out

    def filter_step(self, probs: np.ndarray | None, returns: Any) -> np.ndarray:
        """One bar of the filter: the probabilities after a bar with returns ``returns`` (scalar or (D,)),
        given the probabilities ``probs`` (S,) after the previous bar (``None``: this is the first bar, the
        prior is ``initial``). ``filter_step`` applied bar by bar gives the rows of :meth:`filter`."""
        model = self._model()
        x = np.asarray(returns, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.n_features:
            raise ConfigError(f"the model reads D = {self.n_features} series, got {x.shape[0]} returns.")
        out = np.empty(self.n_states)
        if probs is None:
            kg.filter_first(x, model, out)
        else:
            previous = np.asarray(probs, dtype=np.float64).reshape(-1)
            if previous.shape[0] != self.n_states:
                raise ConfigError(f"probs must have {self.n_states} entries, got {previous.shape[0]}.")
            kg.filter_step(previous, x, model, out)
        return out

    def predict(self, returns: Any) -> np.ndarray:
        """The causal regime label of each bar, ``argmax_s`` of :meth:`filter`, ``(T,)`` int64."""
        return np.argmax(self.filter(returns), axis=1)

    def score(self, returns: Any) -> float:
        """The log-likelihood of ``returns`` (one sequence, or the sum over a list of sequences)."""
        model = self._model()
        total = 0.0
        for x in _as_sequences(returns, self.n_features):
            total += kg.forward_filter(x, model, np.empty((x.shape[0], self.n_states)))
        return total

    def smooth(self, returns: Any) -> np.ndarray:
        """Smoothed probabilities ``P(regime_t = s | all returns)``, ``(T, S)`` (forward-backward). They read
        future bars: diagnostics only, never an observation or a trading signal."""
        (x,) = _as_sequences([returns], self.n_features)
        model = self._model()
        log_b = np.empty((x.shape[0], self.n_states))
        kg.log_emissions(x, model, log_b)
        gamma = np.empty_like(log_b)
        kg.forward_backward(log_b, model, gamma, np.zeros((self.n_states, self.n_states)))
        return gamma

    def viterbi(self, returns: Any) -> np.ndarray:
        """The most likely state path ``(T,)`` int64 (Viterbi). It reads future bars: diagnostics only."""
        (x,) = _as_sequences([returns], self.n_features)
        labels = np.empty(x.shape[0], dtype=np.int64)
        kg.viterbi(x, self._model(), labels)
        return labels

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict[str, Any]:
        """The fitted parameters and fit metadata as plain JSON-able data (``json.dumps`` it to save;
        ``ArenaConfig(regime_model=...)`` and the envs' ``regime_model=`` take it as is)."""
        model = self._model()
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "covariance": "diagonal",
            "n_states": self.n_states,
            "n_features": self.n_features,
            "initial": model.initial.tolist(),
            "transition": model.transition.tolist(),
            "means": model.means.tolist(),
            "variances": model.variances.tolist(),
            "log_likelihood": self.log_likelihood,
            "n_observations": self.n_observations,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> GaussianHMM:
        """A fitted model from :meth:`to_dict`'s dict (or its JSON text), validated
        (:class:`~wealtharena_env.config.RegimeModel`); states keep the saved order."""
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, Mapping):
            raise ConfigError(f"from_dict() takes a dict (or its JSON), got {type(data).__name__}.")
        if data.get("format", FORMAT) != FORMAT:
            raise ConfigError(f"not a {FORMAT} dict: format {data.get('format')!r}.")
        if int(data.get("version", FORMAT_VERSION)) > FORMAT_VERSION:
            raise ConfigError(
                f"this {FORMAT} dict has version {data['version']}; this wealtharena-env reads up to "
                f"{FORMAT_VERSION}: upgrade it."
            )
        model = RegimeModel.coerce(data)
        hmm = cls(n_states=model.n_states, seed=data.get("seed"))
        hmm._packed = kg.pack_regime_model(model)
        loglik = data.get("log_likelihood")
        hmm.log_likelihood = None if loglik is None else float(loglik)
        hmm.n_observations = int(data.get("n_observations", 0))
        hmm.n_iter = int(data.get("n_iter", 0))
        hmm.converged = bool(data.get("converged", False))
        return hmm

    def __repr__(self) -> str:
        if not self.fitted:
            return f"GaussianHMM(n_states={self.n_states}, seed={self.seed}, unfitted)"
        return (
            f"GaussianHMM(n_states={self.n_states}, n_features={self.n_features}, seed={self.seed}, "
            f"log_likelihood={self.log_likelihood})"
        )


def task_hmm(
    task: Any, n_states: int = 2, seed: int = 0, n_episodes: int = 40, data: Any = None
) -> GaussianHMM:
    """A :class:`GaussianHMM` of the equal-weight market return fitted on leaderboard ``task``'s training data
    (:func:`training_returns`: its first ``n_episodes`` training seeds, or its training dates) — the regime
    source of a regime-gated ensemble (``ensemble:regime:...?regime=wealtharena_env.regime:task_hmm&task=
    BullBear-v0``, docs/ensembles.md). Deterministic for a given ``seed``; the evaluation data is never read.
    """
    from wealtharena_env.leaderboard.tasks import get_task

    task = get_task(task) if isinstance(task, str) else task
    model = GaussianHMM(int(n_states), seed=int(seed))
    return model.fit(training_returns(task, data=data, n_episodes=int(n_episodes)))


__all__ = [
    "FORMAT",
    "GaussianHMM",
    "asset_log_returns",
    "market_log_returns",
    "task_hmm",
    "training_returns",
]
