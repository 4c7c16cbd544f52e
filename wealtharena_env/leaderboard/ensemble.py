"""Ensembles of policies: a weighted blend of target weights, a switch by rolling Sharpe, a regime gate.

An :class:`EnsemblePolicy` combines *members*, each any policy :func:`~.policies.load_policy` loads (a
baseline by name, an SB3 ``.zip``, an RLlib checkpoint, ``module:callable``, another ensemble), in one of
three modes. Like every leaderboard policy it sees only observations and acts on batches ``(K, D)``.

**blend** — the members' *target weights*, not their raw actions, are averaged. Each member's action is mapped
to the weights the env would target (:class:`ActionMapping`: the env's own mapping kernels,
:func:`~wealtharena_env.kernels.execution.continuous_action_to_weights` and
:func:`~wealtharena_env.kernels.execution.discrete_action_to_weights`), the weights are averaged with the
blend weights ``lambda_m`` (``w = sum_m lambda_m w_m``, still long-only and summing to 1), and the blend is
turned back into an action whose mapped target is ``w``
(:func:`~wealtharena_env.leaderboard.baselines.weights_to_actions`):

* ``exponential`` (the default) and ``simplex`` mappings: exactly (to float32 rounding);
* ``softmax``: exactly for every weight within a factor ``exp(2 T)`` of the largest; smaller weights (zeros
  included, which a softmax never reaches) get the smallest action, a target of ``exp(-2 T)`` of the largest
  (``T = 3``: 0.25 %), so the reached weights differ from the blend by at most ``(N + 1) exp(-2 T)`` each;
* discrete actions (buy / hold / sell one ``discrete_step`` per asset): a member's target is one step from
  the held weights, so the blend is a weighted vote: the ensemble buys (sells) an asset when its blended
  target exceeds (falls below) the held weight by more than half a step, i.e. when the blend weight of the
  members buying it exceeds that of the members selling it by more than one half.

**switch** — at every step the ensemble plays the member with the best annualised Sharpe ratio over the last
``window`` bars of its *shadow portfolio*: what the member would have earned had it been driving. Each
member's shadow starts from the episode's first held weights; at each step the member is called on the
observation with the shadow's weights in place of the held ones, its action is mapped to target weights and
approached as the env would (``rebalance_rate``, ``rebalance_band``), the turnover pays ``cost`` per unit
traded, and the shadow's weights drift with the bar's returns, recovered from the observation
(:mod:`.observation`: ``r_t = z_t sigma(t-1) / sqrt(P)``; close to close; the risk layer and fills at the
next open are not replayed). Only bars up to ``t`` enter the decision at ``t``: the selection is re-run at
every bar on a trailing window, walk-forward on past data only. Before ``min_history`` shadow returns the
``initial`` member plays. Hysteresis: the ensemble leaves its current member only for one whose Sharpe is
higher by more than ``margin``, and not within ``min_hold`` bars of its last switch. The action played is
the chosen member's own action on the real observation (no mapping round trip).

**regime** — a regime source (:mod:`.regime_gate`; any object with ``filter_step(probs, x) -> probs``, e.g.
:class:`~.regime_gate.VolatilityRegime` or a Gaussian HMM filter) is fed the observations bar by bar; the
member mapped to the current regime (``regime_members[s]``) plays.

State (shadow portfolios, regime probabilities, the current choice) is kept per episode: the ensemble is a
*stateful* policy (``stateful = True``, see :mod:`.policies`), told each row's episode by
:func:`~.evaluate.evaluate`; called without keys, rows are episodes by position. An episode's state restarts
when the key is new or the observation's ``progress`` feature does not increase (a reset).

Spec strings (``wealtharena evaluate --policy ...``)::

    ensemble:blend:equal_weight,risk_parity,vol_timing             equal blend weights
    ensemble:blend:equal_weight=0.5,risk_parity=0.3,vol_timing=0.2 blend weights (normalised)
    ensemble:switch:equal_weight,risk_parity,vol_timing?window=63&margin=0.5&min_hold=21
    ensemble:regime:equal_weight,cash?regime=volatility&enter=0.15&exit=0.2
    ensemble:{"mode": "regime", "members": [...], "regime": "my_module:make_hmm", ...}   (JSON)
    ensemble:path/to/ensemble.json                                  (the same JSON in a file)

Members are separated by commas; ``member=weight`` gives a blend weight. Options after ``?`` are the keyword
arguments of :class:`EnsemblePolicy`; in the regime mode, ``regime`` names the source (``volatility`` or a
``module:factory``) and the other unknown options go to the source (``enter``, ``exit``).
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels import execution as kx
from wealtharena_env.leaderboard.baselines import weights_to_actions
from wealtharena_env.leaderboard.observation import (
    ObservationLayout,
    drift_weights,
    env_simulation,
    sanitize_weights,
)
from wealtharena_env.leaderboard.policies import LoadedPolicy, PolicyCaller, PolicyLoadError, load_policy
from wealtharena_env.leaderboard.regime_gate import RegimeGate, load_regime_source

MODES = ("blend", "switch", "regime")

_MAPPINGS = {
    "simplex": kx.MAPPING_SIMPLEX,
    "softmax": kx.MAPPING_SOFTMAX,
    "exponential": kx.MAPPING_EXPONENTIAL,
}


# ================================================================================================ maths
def rolling_sharpe(
    returns: np.ndarray, counts: np.ndarray, periods_per_year: float, min_history: int
) -> np.ndarray:
    """Annualised Sharpe ratio of each row's last ``min(count, L)`` returns of a ring buffer.

    ``returns`` ``(K, M, L)`` (slot order does not matter), ``counts`` ``(K,)`` returns pushed so far. With
    ``n = min(count, L)`` valid entries: ``S = mean / std * sqrt(P)`` (sample std, ``ddof = 1``), 0 when the
    std is 0 (a portfolio held in cash), NaN when ``n < max(min_history, 2)``. Risk-free rate 0.
    """
    length = returns.shape[2]
    n = np.minimum(counts, length).astype(np.float64)
    valid = np.arange(length)[None, None, :] < n[:, None, None]
    safe_n = np.maximum(n, 1.0)[:, None]
    mean = np.where(valid, returns, 0.0).sum(axis=2) / safe_n
    centred = np.where(valid, returns - mean[:, :, None], 0.0)
    var = (centred**2).sum(axis=2) / np.maximum(n - 1.0, 1.0)[:, None]
    std = np.sqrt(var)
    sharpe = np.divide(mean, std, out=np.zeros_like(mean), where=std > 1e-15) * math.sqrt(periods_per_year)
    return np.where((n >= max(min_history, 2))[:, None], sharpe, np.nan)


def sticky_best(
    scores: np.ndarray, current: np.ndarray, since: np.ndarray, margin: float, min_hold: int
) -> np.ndarray:
    """``(K,)`` the member to play: the best-scoring one (``scores`` ``(K, M)``, NaN = unknown) if it beats
    the current one by more than ``margin`` (or the current one is unknown) and the current one was chosen at
    least ``min_hold`` steps ago (``since``); else the current one. Rows with no finite score keep the current
    one."""
    safe = np.where(np.isfinite(scores), scores, -np.inf)
    best = np.argmax(safe, axis=1)
    rows = np.arange(scores.shape[0])
    top = safe[rows, best]
    held = safe[rows, current]
    better = np.isfinite(top) & (top > held + margin)
    return np.where(better & (since >= min_hold) & (best != current), best, current)


# ================================================================================================ mapping
class ActionMapping:
    """The env's action mapping, both ways, for a batch: actions -> target weights -> actions.

    ``to_weights`` runs the env's own kernels row by row (a NaN action holds, as in the env);
    ``to_actions`` is :func:`~wealtharena_env.leaderboard.baselines.weights_to_actions` (the inverse; module
    docstring for where it is exact); ``approach`` moves held weights toward targets as the env's partial
    rebalancing does (:func:`~wealtharena_env.kernels.execution.rebalance_toward`, continuous actions).
    """

    def __init__(
        self,
        n_assets: int,
        action_type: str = "continuous",
        action_mapping: str = "exponential",
        temperature: float = 3.0,
        dead_zone: float = 0.0,
        discrete_step: float = 0.05,
        rebalance_rate: float = 1.0,
        rebalance_band: float = 0.0,
    ):
        if action_type not in ("continuous", "discrete") or action_mapping not in _MAPPINGS:
            raise ConfigError(f"unknown action type / mapping {action_type!r} / {action_mapping!r}.")
        self.n_assets = int(n_assets)
        self.action_type = action_type
        self.action_mapping = action_mapping
        self.temperature = float(temperature)
        self.dead_zone = float(dead_zone)
        self.discrete_step = float(discrete_step)
        self.rebalance_rate = float(rebalance_rate)
        self.rebalance_band = float(rebalance_band)

    @classmethod
    def from_env(cls, env: Any) -> ActionMapping:
        sim = env_simulation(env, "an action mapping")
        cfg = sim.config
        return cls(
            sim.n_assets,
            cfg.action_type,
            cfg.action_mapping,
            cfg.softmax_temperature,
            cfg.action_dead_zone,
            cfg.discrete_step,
            cfg.rebalance_rate,
            cfg.rebalance_band,
        )

    @property
    def n_action(self) -> int:
        return self.n_assets + 1 if self.action_type == "continuous" else self.n_assets

    def to_weights(self, actions: np.ndarray, current: np.ndarray) -> np.ndarray:
        """``(K, N + 1)`` the targets the env maps ``actions`` ``(K, n_action)`` to from held ``current``."""
        out = np.array(current, dtype=np.float64, copy=True)
        acts = np.asarray(actions, dtype=np.float64)
        for k in range(acts.shape[0]):
            if self.action_type == "discrete":
                kx.discrete_action_to_weights(acts[k], out[k].copy(), self.discrete_step, out[k])
            else:  # a NaN action leaves the row untouched: hold
                kx.continuous_action_to_weights(
                    acts[k], _MAPPINGS[self.action_mapping], self.temperature, self.dead_zone, out[k]
                )
        return out

    def to_actions(self, weights: np.ndarray, current: np.ndarray) -> np.ndarray:
        """``(K, n_action)`` actions whose targets are ``weights`` (discrete: one step toward them)."""
        return weights_to_actions(
            weights,
            current,
            action_type=self.action_type,
            action_mapping=self.action_mapping,
            temperature=self.temperature,
            dead_zone=self.dead_zone,
            discrete_step=self.discrete_step,
        )

    def approach(self, targets: np.ndarray, current: np.ndarray) -> np.ndarray:
        """``(K, N + 1)`` the weights the env's partial rebalancing trades to (continuous actions)."""
        out = np.array(targets, dtype=np.float64, copy=True)
        if self.action_type == "continuous" and (self.rebalance_rate < 1.0 or self.rebalance_band > 0.0):
            held = np.ascontiguousarray(current, dtype=np.float64)
            for k in range(out.shape[0]):
                kx.rebalance_toward(out[k], held[k], self.rebalance_rate, self.rebalance_band)
        return out


# ================================================================================================ state
class EpisodeRows:
    """Per-episode state arrays of a stateful batch policy, addressed by episode keys.

    ``fields`` maps a name to ``(shape, fill)``: every episode has an array of that shape, set to ``fill``
    when the episode (re)starts. :meth:`rows` finds each key's slot and says which rows start an episode: a
    new key, or a ``progress`` that did not increase (NaN progress never restarts one).
    """

    def __init__(self, fields: dict[str, tuple[tuple[int, ...], float]]):
        self.fields = fields
        self.slots: dict[Any, int] = {}
        self.arrays = {
            name: np.full((8, *shape), fill, dtype=np.float64) for name, (shape, fill) in fields.items()
        }
        self.progress = np.full(8, -np.inf)

    def _grow(self) -> None:
        size = self.progress.size
        for name, (shape, fill) in self.fields.items():
            self.arrays[name] = np.concatenate(
                [self.arrays[name], np.full((size, *shape), fill, dtype=np.float64)]
            )
        self.progress = np.concatenate([self.progress, np.full(size, -np.inf)])

    def rows(self, keys: Sequence[Any], progress: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(slots (K,), starts (K,) bool)``; records ``progress`` and resets the starting rows' arrays."""
        slots = np.empty(len(keys), dtype=np.int64)
        starts = np.zeros(len(keys), dtype=bool)
        for k, key in enumerate(keys):
            slot = self.slots.get(key)
            if slot is None:
                slot = self.slots[key] = len(self.slots)
                if slot >= self.progress.size:
                    self._grow()
                starts[k] = True
            elif np.isfinite(progress[k]) and progress[k] <= self.progress[slot]:
                starts[k] = True
            slots[k] = slot
        if starts.any():
            for name, (_, fill) in self.fields.items():
                self.arrays[name][slots[starts]] = fill
        finite = np.isfinite(progress)
        self.progress[slots[finite]] = progress[finite]
        return slots, starts

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


# ================================================================================================ policy
class EnsemblePolicy:
    """A policy made of member policies: ``blend``, ``switch`` (rolling Sharpe) or ``regime`` (see the module
    docstring).

    Members are loaded (and checked) when the ensemble is made: a member that cannot be loaded is a
    :class:`~.policies.PolicyLoadError` naming it. :meth:`build` returns the batch policy for one env layout
    (what :func:`~.evaluate.evaluate` calls); ``load_policy(ensemble)`` and ``load_policy("ensemble:...")``
    give a :class:`~.policies.LoadedPolicy`.

    Arguments:
        members: member policy specs, callables or loaded policies (at least one; two or more to combine).
        mode: ``"blend"``, ``"switch"`` or ``"regime"``.
        weights: blend weights, one per member (>= 0, normalised; default equal).
        window: switch: bars of the rolling Sharpe ratio (default 63, a quarter).
        min_history: switch: shadow returns needed before the first switch (default 21, a month).
        margin: switch: Sharpe advantage (annualised) needed to switch (default 0.5).
        min_hold: switch: bars to stay with a member after switching to it (default 21).
        initial: the member (index or name) played before a choice is made (switch, default the first).
        cost: switch: cost per unit of turnover charged to the shadow portfolios (default: the env's
            commission plus half spread).
        regime: regime mode: the source (``"volatility"``, ``"module:factory"`` or an object with
            ``filter_step``).
        regime_options: keyword arguments of the source's factory (``enter``, ``exit`` for ``"volatility"``).
        regime_members: regime mode: the member (index or name) of each regime (default: member ``s`` for
            regime ``s``).
        signal: regime mode: the observation signal fed to the source (:data:`~.regime_gate.SIGNALS`).
        switch_probability: regime mode: the probability a new regime needs to take over.
        name: the entry's name (default ``mode(member,member,...)``).

    The defaults (window, margin, min_hold) were fixed before any evaluation: a quarter of bars to rank, a
    month between switches, and a margin of a quarter of the standard error of a 63-bar annualised Sharpe
    ratio (about ``sqrt(252 / 63) = 2``).
    """

    kind = "ensemble"

    def __init__(
        self,
        members: Sequence[str | Callable | LoadedPolicy],
        mode: str = "blend",
        *,
        weights: Sequence[float] | None = None,
        window: int = 63,
        min_history: int = 21,
        margin: float = 0.5,
        min_hold: int = 21,
        initial: int | str = 0,
        cost: float | None = None,
        regime: Any = "volatility",
        regime_options: dict[str, Any] | None = None,
        regime_members: Sequence[int | str] | None = None,
        signal: str | None = None,
        switch_probability: float = 0.5,
        name: str | None = None,
    ):
        if mode not in MODES:
            raise ConfigError(f"unknown ensemble mode {mode!r}; choose one of {list(MODES)}.")
        if isinstance(members, (str, bytes)) or not members:
            raise ConfigError(f"an ensemble needs a non-empty list of members, got {members!r}.")
        self.mode = mode
        self.members: list[LoadedPolicy] = []
        for i, member in enumerate(members):
            try:
                self.members.append(load_policy(member))
            except PolicyLoadError as exc:
                raise PolicyLoadError(f"ensemble member {i} ({member!r}) could not be loaded: {exc}") from exc
        names = [m.name for m in self.members]
        m = len(self.members)
        if weights is None:
            weights = [1.0] * m
        w = np.asarray(list(weights), dtype=np.float64)
        if w.shape != (m,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ConfigError(
                f"ensemble weights must be {m} finite non-negative numbers with a positive sum, "
                f"got {weights!r}."
            )
        self.weights = w / w.sum()
        for label, value, low in (
            ("window", window, 2),
            ("min_history", min_history, 2),
            ("min_hold", min_hold, 0),
        ):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ConfigError(f"ensemble {label} must be an integer >= {low}, got {value!r}.")
        if not (math.isfinite(margin) and margin >= 0):
            raise ConfigError(f"ensemble margin must be finite and >= 0, got {margin!r}.")
        if cost is not None and not (math.isfinite(cost) and cost >= 0):
            raise ConfigError(f"ensemble cost must be finite and >= 0, got {cost!r}.")
        self.window = int(window)
        self.min_history = int(min_history)
        self.margin = float(margin)
        self.min_hold = int(min_hold)
        self.cost = None if cost is None else float(cost)
        self.initial = self._member_index(initial, names)
        self.signal = signal
        self.switch_probability = float(switch_probability)
        self.regime_spec = regime
        self.regime_options = dict(regime_options or {})
        self.regime_source = None
        self.regime_members: list[int] = []
        if mode == "regime":
            self.regime_source = load_regime_source(regime, **self.regime_options)
            chosen = list(range(m)) if regime_members is None else list(regime_members)
            self.regime_members = [self._member_index(r, names) for r in chosen]
            if not self.regime_members:
                raise ConfigError("regime_members must map at least one regime to a member.")
        self.name = name or f"{mode}({','.join(names)})"

    @staticmethod
    def _member_index(which: int | str, names: list[str]) -> int:
        if isinstance(which, str) and not which.lstrip("-").isdigit():
            if which not in names:
                raise ConfigError(f"no ensemble member named {which!r}; the members are {names}.")
            return names.index(which)
        index = int(which)
        if not 0 <= index < len(names):
            raise ConfigError(f"ensemble member index {index} out of range for {len(names)} members {names}.")
        return index

    def describe(self) -> dict[str, Any]:
        """The ensemble as JSON-able data (what its ``spec`` records; loadable with ``ensemble:{...}``)."""
        out: dict[str, Any] = {
            "mode": self.mode,
            "members": [m.spec for m in self.members],
            "name": self.name,
        }
        if self.mode == "blend":
            out["weights"] = [float(x) for x in self.weights]
        if self.mode == "switch":
            out.update(
                window=self.window,
                min_history=self.min_history,
                margin=self.margin,
                min_hold=self.min_hold,
                initial=self.initial,
                cost=self.cost,
            )
        if self.mode == "regime":
            out.update(
                regime=self.regime_spec if isinstance(self.regime_spec, str) else repr(self.regime_spec),
                regime_options=self.regime_options,
                regime_members=self.regime_members,
                signal=self.signal,
                switch_probability=self.switch_probability,
            )
        return out

    @property
    def spec(self) -> str:
        return "ensemble:" + json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))

    def loaded(self) -> LoadedPolicy:
        return LoadedPolicy(self.spec, self.kind, self.name, self.build)

    def build(self, env: Any, seed: int = 0) -> EnsembleRunner:
        """The batch policy for ``env``'s observation and action layout (fresh state)."""
        return EnsembleRunner(self, env, seed)


class EnsembleRunner:
    """An :class:`EnsemblePolicy` built for one env layout: call it on observations ``(K, D)`` or ``(D,)``.

    ``episode_keys`` (one per row) keep each episode's state apart (see :mod:`.policies`); without them row
    ``k`` is episode ``k``. After each call, :attr:`last_choice` holds the member each row played (the blend
    mode: -1) and :attr:`member_errors` counts, per member, the rows where it failed (it then held).
    """

    stateful = True

    def __init__(self, ensemble: EnsemblePolicy, env: Any, seed: int = 0):
        self.ensemble = ensemble
        self.layout = ObservationLayout.from_env(env)
        self.mapping = ActionMapping.from_env(env)
        n_action = self.mapping.n_action
        obs_size = self.layout.size
        for member in ensemble.members:
            for what, want, got in (
                ("observations", (obs_size,), member.observation_shape),
                ("actions", (n_action,), member.action_shape),
            ):
                if got is not None and tuple(got) != want:
                    raise PolicyLoadError(
                        f"ensemble member {member.spec} was trained on {what} of shape {tuple(got)}, "
                        f"but this env gives {what} of shape {want}."
                    )
        self.callers = [
            PolicyCaller(member.build(env, seed + 7919 * i), n_action)
            for i, member in enumerate(ensemble.members)
        ]
        self.names = [m.name for m in ensemble.members]
        sim = env_simulation(env, "an ensemble")
        costs = sim.config.costs
        self.cost = (
            ensemble.cost
            if ensemble.cost is not None
            else (costs.commission_bps + costs.half_spread_bps) * 1e-4
        )
        n, m = self.layout.n_assets, len(self.callers)
        fields: dict[str, tuple[tuple[int, ...], float]] = {"previous_volatility": ((n,), np.nan)}
        self.gate: RegimeGate | None = None
        if ensemble.mode == "switch":
            fields.update(
                shadow=((m, n + 1), np.nan),
                pending_cost=((m,), 0.0),
                returns=((m, ensemble.window), 0.0),
                count=((), 0.0),
                choice=((), float(ensemble.initial)),
                since=((), 0.0),
            )
        elif ensemble.mode == "regime":
            self.gate = RegimeGate(
                ensemble.regime_source,
                self.layout,
                len(ensemble.regime_members),
                ensemble.signal,
                ensemble.switch_probability,
            )
            fields.update(probs=((self.gate.n_regimes,), np.nan), regime=((), 0.0))
        self.rows = EpisodeRows(fields)
        self.last_choice = np.empty(0, dtype=np.int64)
        self.member_errors = dict.fromkeys(self.names, 0)

    # ------------------------------------------------------------------------------------------ members
    def _members(self, obs: np.ndarray, held: np.ndarray, keys: list[Any], tag: str) -> np.ndarray:
        """``(M, K, n_action)`` every member's action; a failed row is NaN (the env holds on it)."""
        out = np.empty((len(self.callers), obs.shape[0], self.mapping.n_action))
        for i, caller in enumerate(self.callers):
            acts, errs = caller(obs.astype(np.float32), [(key, tag) for key in keys])
            bad = np.array([e is not None for e in errs])
            if bad.any():
                self.member_errors[self.names[i]] += int(bad.sum())
                acts[bad] = np.nan
            out[i] = acts
        return out

    def _hold(self, held: np.ndarray) -> np.ndarray:
        return self.mapping.to_actions(held, held)

    def _play(self, member_actions: np.ndarray, choice: np.ndarray, held: np.ndarray) -> np.ndarray:
        """The chosen member's action per row (its failure: the action that holds)."""
        acts = member_actions[choice, np.arange(choice.size)]
        failed = ~np.all(np.isfinite(acts), axis=1)
        if failed.any():
            acts[failed] = self._hold(held[failed])
        return acts

    # ------------------------------------------------------------------------------------------ modes
    def _blend(self, obs: np.ndarray, held: np.ndarray, keys: list[Any]) -> np.ndarray:
        member_actions = self._members(obs, held, keys, "real")
        targets = np.stack([self.mapping.to_weights(a, held) for a in member_actions])
        blended = sanitize_weights(np.einsum("m,mkj->kj", self.ensemble.weights, targets))
        self.last_choice = np.full(obs.shape[0], -1)
        return self.mapping.to_actions(blended, held)

    def _switch(
        self, obs: np.ndarray, held: np.ndarray, keys: list[Any], slots: np.ndarray, starts: np.ndarray
    ) -> np.ndarray:
        ens = self.ensemble
        rows = self.rows
        m = len(self.callers)
        shadow = rows["shadow"][slots]  # (K, M, N + 1)
        shadow[starts] = held[starts, None, :]
        # 1. the bar since the last decision: shadow returns (less the cost of that decision), then drift
        log_returns = self.layout.latest_log_returns(obs, rows["previous_volatility"][slots])
        valid = np.all(np.isfinite(log_returns), axis=1) & ~starts
        if valid.any():
            simple = np.expm1(log_returns[valid])  # (V, N)
            earned = (
                np.einsum("kmi,ki->km", shadow[valid, :, :-1], simple) - rows["pending_cost"][slots[valid]]
            )
            counts = rows["count"][slots[valid]].astype(np.int64)
            ring = rows["returns"][slots[valid]]
            ring[np.arange(valid.sum()), :, counts % ens.window] = earned
            rows["returns"][slots[valid]] = ring
            rows["count"][slots[valid]] = counts + 1
            shadow[valid] = drift_weights(shadow[valid], simple[:, None, :])
        # 2. choose on the trailing window (bars <= t only)
        sharpe = rolling_sharpe(
            rows["returns"][slots], rows["count"][slots], self.layout.periods_per_year, ens.min_history
        )
        current = rows["choice"][slots].astype(np.int64)
        since = rows["since"][slots]
        choice = sticky_best(sharpe, current, since, ens.margin, ens.min_hold)
        rows["since"][slots] = np.where(choice != current, 0.0, since + 1.0)
        rows["choice"][slots] = choice
        # 3. each member's decision on its own shadow portfolio, approached as the env would
        pending = np.zeros((obs.shape[0], m))
        for i, caller in enumerate(self.callers):
            own = shadow[:, i, :]
            acts, errs = caller(
                self.layout.with_weights(obs, own).astype(np.float32), [(key, "shadow") for key in keys]
            )
            acts[[e is not None for e in errs]] = np.nan
            targets = self.mapping.approach(self.mapping.to_weights(acts, own), own)
            targets = sanitize_weights(targets)
            pending[:, i] = np.abs(targets[:, :-1] - own[:, :-1]).sum(axis=1) * self.cost
            shadow[:, i, :] = targets
        rows["pending_cost"][slots] = pending
        rows["shadow"][slots] = shadow
        # 4. play the chosen member on the real observation
        member_actions = self._members(obs, held, keys, "real")
        self.last_choice = choice
        return self._play(member_actions, choice, held)

    def _regime(
        self, obs: np.ndarray, held: np.ndarray, keys: list[Any], slots: np.ndarray, starts: np.ndarray
    ) -> np.ndarray:
        assert self.gate is not None
        rows = self.rows
        probs = rows["probs"][slots]
        regime = rows["regime"][slots].astype(np.int64)
        if starts.any():
            probs[starts], regime[starts] = self.gate.start(obs[starts])
        going = ~starts
        if going.any():
            probs[going], regime[going] = self.gate.step(
                obs[going], probs[going], regime[going], rows["previous_volatility"][slots[going]]
            )
        rows["probs"][slots] = probs
        rows["regime"][slots] = regime
        choice = np.asarray(self.ensemble.regime_members, dtype=np.int64)[regime]
        member_actions = self._members(obs, held, keys, "real")
        self.last_choice = choice
        return self._play(member_actions, choice, held)

    # ------------------------------------------------------------------------------------------ call
    def __call__(self, observations: Any, episode_keys: Sequence[Any] | None = None) -> np.ndarray:
        single = np.ndim(observations) == 1
        obs = self.layout.batch(observations)
        keys = list(range(obs.shape[0])) if episode_keys is None else list(episode_keys)
        if len(keys) != obs.shape[0]:
            raise ConfigError(f"got {len(keys)} episode keys for {obs.shape[0]} observations.")
        held = sanitize_weights(self.layout.weights(obs))
        slots, starts = self.rows.rows(keys, self.layout.feature(obs, "progress"))
        mode = self.ensemble.mode
        if mode == "blend":
            actions = self._blend(obs, held, keys)
        elif mode == "switch":
            actions = self._switch(obs, held, keys, slots, starts)
        else:
            actions = self._regime(obs, held, keys, slots, starts)
        self.rows["previous_volatility"][slots] = self.layout.annual_volatility(obs)
        dtype = np.int64 if self.mapping.action_type == "discrete" else np.float32
        actions = np.asarray(actions).astype(dtype)
        return actions[0] if single else actions


# ================================================================================================ specs
def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_ensemble_spec(spec: str) -> EnsemblePolicy:
    """An :class:`EnsemblePolicy` from an ``ensemble:...`` spec string (module docstring for the grammar)."""
    text = spec.strip()
    if not text.startswith("ensemble:"):
        raise PolicyLoadError(f"an ensemble spec starts with 'ensemble:', got {spec!r}.")
    body = text[len("ensemble:") :].strip()
    if body.lower().endswith(".json") and not body.startswith("{"):
        path = Path(body).expanduser()
        if not path.is_file():
            raise PolicyLoadError(f"ensemble spec file {path} does not exist.")
        body = path.read_text(encoding="utf-8")
    if body.startswith("{"):
        try:
            config = json.loads(body)
        except json.JSONDecodeError as exc:
            raise PolicyLoadError(f"ensemble spec {spec!r}: invalid JSON: {exc}") from exc
        if not isinstance(config, dict) or "members" not in config:
            raise PolicyLoadError(f"ensemble spec {spec!r}: a JSON object with 'members' is expected.")
        config = dict(config)
        listed = config.pop("members")
        if isinstance(listed, list) and listed and all(isinstance(x, dict) for x in listed):
            if not all("spec" in x for x in listed):
                raise PolicyLoadError(f"ensemble spec {spec!r}: every member object needs a 'spec'.")
            config.setdefault("weights", [float(x.get("weight", 1.0)) for x in listed])
            listed = [x["spec"] for x in listed]
        try:
            return EnsemblePolicy(listed, **config)
        except TypeError as exc:
            raise PolicyLoadError(f"ensemble spec {spec!r}: {exc}") from exc
    mode, sep, rest = body.partition(":")
    if not sep or mode not in MODES:
        raise PolicyLoadError(
            f"ensemble spec {spec!r}: expected 'ensemble:MODE:MEMBER,MEMBER,...' with MODE one of "
            f"{list(MODES)}, 'ensemble:{{json}}' or 'ensemble:file.json'."
        )
    members_text, _, query = rest.partition("?")
    members: list[str] = []
    weights: list[float] = []
    for item in members_text.split(","):
        item = item.strip()
        if not item:
            continue
        head, eq, tail = item.rpartition("=")
        weight = _number(tail) if eq else None
        if eq and isinstance(weight, (int, float)):
            members.append(head.strip())
            weights.append(float(weight))
        else:
            members.append(item)
            weights.append(1.0)
    if not members:
        raise PolicyLoadError(f"ensemble spec {spec!r} names no members.")
    options: dict[str, Any] = {}
    source_options: dict[str, Any] = {}
    known = set(inspect.signature(EnsemblePolicy).parameters) - {"members", "mode"}
    for pair in filter(None, query.split("&")):
        key, eq, value = pair.partition("=")
        if not eq:
            raise PolicyLoadError(f"ensemble spec {spec!r}: option {pair!r} is not key=value.")
        key = key.strip()
        if key == "regime_members":
            options[key] = [_number(v) for v in value.split("|")]
        elif key in known:
            options[key] = _number(value.strip())
        elif mode == "regime":
            source_options[key] = _number(value.strip())
        else:
            raise PolicyLoadError(f"ensemble spec {spec!r}: unknown option {key!r}; known: {sorted(known)}.")
    if source_options:
        options["regime_options"] = source_options
    if mode == "blend":
        options.setdefault("weights", weights)
    elif any(w != 1.0 for w in weights):
        raise PolicyLoadError(f"ensemble spec {spec!r}: member weights only apply to the blend mode.")
    return EnsemblePolicy(members, mode, **options)


__all__ = [
    "MODES",
    "ActionMapping",
    "EnsemblePolicy",
    "EnsembleRunner",
    "EpisodeRows",
    "parse_ensemble_spec",
    "rolling_sharpe",
    "sticky_best",
]
