"""Aggregate scores the way the RL / MARL evaluation literature recommends.

Following Agarwal et al. (2021), *Deep RL at the Edge of the Statistical Precipice* (rliable) and Gorsane et
al. (2022), *Towards a Standardised Performance Evaluation Protocol for Cooperative MARL* (marl-eval):

* **Interquartile mean (IQM)**: the mean of the middle 50 % of the scores, robust to outlying episodes
  and more efficient than the median. With ``n`` scores sorted, ``k = floor(n / 4)`` are cut from each
  end: ``IQM = mean(s_k, ..., s_{n-k-1})`` (the same as ``scipy.stats.trim_mean(x, 0.25)``).
* **Stratified bootstrap confidence intervals**: scores come in *strata* (here: evaluation scenarios or
  background populations); a bootstrap replicate resamples, with replacement, the same number of scores
  *within each stratum*, pools them and recomputes the statistic. The interval is the percentile
  interval of ``reps`` replicates. The generator is seeded (default 0), so intervals are reproducible.
* **Probability of improvement** ``P(X > Y)``: for two entries X, Y and each stratum ``m``,
  ``P_m = (1 / (n_x n_y)) sum_i sum_j [S(x_i, y_j)]`` with ``S = 1`` if ``x_i > y_j``, ``1/2`` if equal,
  else 0 (the Mann-Whitney U statistic normalised); the result is the mean of ``P_m`` over strata.
* **Performance profile**: the fraction of scores above each threshold ``tau``.

Scores that are NaN (a failed episode, an undefined ratio) are dropped before aggregating; every function
reports what it used. :func:`to_marl_eval` exports results in marl-eval's raw JSON layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError

#: One stratum's scores: numbers or an array.
Scores = Sequence[float] | np.ndarray
#: Scores in strata: a list of score arrays, a ``{name: scores}`` mapping (in its order), or a flat list of
#: numbers (one stratum).
Strata = Sequence[Scores] | Mapping[str, Scores] | Scores

#: Default number of bootstrap replicates and the generator seed used by every interval.
DEFAULT_REPS = 2000
DEFAULT_SEED = 0


def _clean(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    return a[np.isfinite(a)]


def _strata(strata: Strata) -> list[np.ndarray]:
    groups = list(strata.values()) if isinstance(strata, Mapping) else list(strata)
    if groups and np.ndim(groups[0]) == 0:  # a flat list of scores is one stratum
        return [_clean(groups)]
    return [_clean(g) for g in groups]


def interquartile_mean(scores: Any, axis: int | None = None) -> Any:
    """Mean of the middle 50 % of ``scores`` (``floor(n/4)`` cut from each end). NaN when empty.

    With ``axis`` given, reduces along it (all rows must be finite); otherwise flattens and drops NaN.
    """
    if axis is not None:
        s = np.sort(np.asarray(scores, dtype=np.float64), axis=axis)
        n = s.shape[axis]
        k = n // 4
        if n == 0:
            return np.full(np.delete(s.shape, axis), np.nan)
        return np.take(s, np.arange(k, n - k), axis=axis).mean(axis=axis)
    s = np.sort(_clean(scores))
    n = s.size
    if n == 0:
        return float("nan")
    k = n // 4
    return float(s[k : n - k].mean())


def _median(x: np.ndarray, axis: int) -> np.ndarray:
    return np.median(x, axis=axis)


def _mean(x: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(x, axis=axis)


STATISTICS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "mean": _mean,
    "median": _median,
    "iqm": lambda x, axis: interquartile_mean(x, axis=axis),
}


def _statistic(statistic: str | Callable) -> Callable[[np.ndarray, int], np.ndarray]:
    if callable(statistic):
        return statistic
    try:
        return STATISTICS[statistic]
    except KeyError:
        raise ConfigError(
            f"unknown statistic {statistic!r}; use one of {sorted(STATISTICS)} or a callable f(array, axis)."
        ) from None


def stratified_bootstrap(
    strata: Strata, statistic: str | Callable = "mean", reps: int = DEFAULT_REPS, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """``reps`` bootstrap replicates of ``statistic`` over the pooled scores, resampled within each stratum.

    ``strata``: a list (or ``{name: scores}`` mapping, in its order) of score arrays; a flat list of numbers
    is one stratum. ``statistic``: ``"mean"``, ``"median"``, ``"iqm"`` or ``f(array, axis)``.
    Returns a ``(reps,)`` array (empty when there are no finite scores).
    """
    groups = [g for g in _strata(strata) if g.size]
    if not groups:
        return np.empty(0)
    if reps < 1:
        raise ConfigError(f"reps must be >= 1, got {reps}.")
    rng = np.random.default_rng(seed)
    parts = [g[rng.integers(0, g.size, size=(reps, g.size))] for g in groups]
    pooled = np.concatenate(parts, axis=1)
    return np.asarray(_statistic(statistic)(pooled, 1), dtype=np.float64)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval; ``n`` scores used, in ``n_strata`` strata."""

    point: float
    low: float
    high: float
    n: int
    n_strata: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "n_strata": self.n_strata,
        }


def bootstrap_ci(
    strata: Strata,
    statistic: str | Callable = "mean",
    confidence: float = 0.95,
    reps: int = DEFAULT_REPS,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Point estimate on the pooled scores and the stratified-bootstrap percentile interval.

    The interval is ``[q_{(1-c)/2}, q_{(1+c)/2}]`` of the replicates (NumPy's linear quantile). NaN when
    there are no finite scores.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}.")
    groups = _strata(strata)
    pooled = np.concatenate(groups) if groups else np.empty(0)
    n_strata = sum(1 for g in groups if g.size)
    if pooled.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, 0)
    point = float(np.asarray(_statistic(statistic)(pooled[None, :], 1))[0])
    boot = stratified_bootstrap(groups, statistic, reps, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return Interval(point, float(low), float(high), int(pooled.size), n_strata)


def _poi_pair(x: np.ndarray, y: np.ndarray) -> float:
    greater = (x[:, None] > y[None, :]).mean()
    equal = (x[:, None] == y[None, :]).mean()
    return float(greater + 0.5 * equal)


def probability_of_improvement(x: Strata, y: Strata) -> float:
    """``P(X > Y)``: mean over strata of the normalised Mann-Whitney statistic (ties count 1/2).

    ``x`` and ``y`` have the same strata in the same order (e.g. scenario by scenario); strata where either
    side has no finite score are skipped. NaN when no stratum is usable.
    """
    gx, gy = _strata(x), _strata(y)
    if len(gx) != len(gy):
        raise ConfigError(
            f"probability_of_improvement needs the same strata on both sides, got {len(gx)} and {len(gy)}."
        )
    values = [_poi_pair(a, b) for a, b in zip(gx, gy) if a.size and b.size]
    return float(np.mean(values)) if values else float("nan")


def probability_of_improvement_ci(
    x: Strata, y: Strata, confidence: float = 0.95, reps: int = 500, seed: int = DEFAULT_SEED
) -> Interval:
    """:func:`probability_of_improvement` with a stratified-bootstrap interval (both sides resampled)."""
    gx, gy = _strata(x), _strata(y)
    point = probability_of_improvement(gx, gy)
    pairs = [(a, b) for a, b in zip(gx, gy) if a.size and b.size]
    if not pairs:
        return Interval(float("nan"), float("nan"), float("nan"), 0, 0)
    rng = np.random.default_rng(seed)
    boot = np.empty(reps)
    for r in range(reps):
        boot[r] = np.mean(
            [
                _poi_pair(a[rng.integers(0, a.size, a.size)], b[rng.integers(0, b.size, b.size)])
                for a, b in pairs
            ]
        )
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return Interval(point, float(low), float(high), int(sum(a.size for a, _ in pairs)), len(pairs))


def performance_profile(strata: Strata, taus: Iterable[float]) -> np.ndarray:
    """Fraction of finite scores strictly above each ``tau`` (strata pooled with equal weight per score)."""
    groups = _strata(strata)
    pooled = np.concatenate(groups) if groups else np.empty(0)
    taus = np.asarray(list(taus), dtype=np.float64)
    if pooled.size == 0:
        return np.full(taus.shape, np.nan)
    return (pooled[None, :] > taus[:, None]).mean(axis=1)


# ------------------------------------------------------------------------------------------- marl-eval export
def _finite_list(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if np.isfinite(f):
            out.append(f)
    return out


def to_marl_eval(
    results: Iterable[Mapping[str, Any]], env_name: str = "wealtharena", metrics: Sequence[str] | None = None
) -> dict[str, Any]:
    """Results documents → marl-eval's raw-data layout.

    ::

        {env_name: {task_key: {entry: {"run_<i>": {
            "step_0": {"step_count": <env steps per episode>, "<metric>": [one value per episode]},
            "absolute_metrics": {"<metric>": [one value per episode]}}}}}}

    One results file is one *run* of an entry (``run_0``, ``run_1``, ... in input order, e.g. several
    training seeds). Per-episode values are the focal-agent means of each metric (failed episodes and
    non-finite values are left out). ``metrics``: which per-agent metrics to export (default: the primary
    metric, total return, max drawdown, annual volatility) — marl-eval aggregates any of them.
    """
    out: dict[str, Any] = {env_name: {}}
    runs: dict[tuple[str, str], int] = {}
    for doc in results:
        task_key = doc["task"]["key"]
        entry = doc["entry"]
        names = (
            list(metrics)
            if metrics is not None
            else [
                doc["task"].get("primary_metric", "sharpe_ratio"),
                "total_return",
                "max_drawdown",
                "annual_volatility",
            ]
        )
        k = runs.get((task_key, entry), 0)
        runs[(task_key, entry)] = k + 1
        per_metric = {
            m: _finite_list(ep.get("focal", {}).get(m) for ep in doc["episodes"] if ep["status"] == "ok")
            for m in names
        }
        step: dict[str, Any] = {"step_count": int(doc["budget"]["episode_length"])}
        step.update(per_metric)
        out[env_name].setdefault(task_key, {}).setdefault(entry, {})[f"run_{k}"] = {
            "step_0": step,
            "absolute_metrics": dict(per_metric),
        }
    return out


__all__ = [
    "DEFAULT_REPS",
    "DEFAULT_SEED",
    "Interval",
    "bootstrap_ci",
    "interquartile_mean",
    "performance_profile",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "stratified_bootstrap",
    "to_marl_eval",
]
