"""Dynamic policy assignment in the arena: which policy drives which agent can change during an episode.

A :class:`PolicyAssignment` sits on the policy side of a PettingZoo parallel env (Arena-v0, ImpactArena-v0):
given the step's observations it decides, for every live agent, which of its named policies acts, calls each
policy once on the batch of the agents it drives, and returns the action dict for ``env.step``. Who drives
whom follows either

* a **schedule** ``{step: {agent: policy}}``: from each listed step on, the listed agents switch to the given
  policies (the entry at step 0 names every agent's first policy), or
* a **regime**: a causal regime source (:mod:`.regime_gate`, e.g.
  :class:`~.regime_gate.VolatilityRegime` or a Gaussian HMM filter) fed the market part of the observations
  bar by bar, and one complete ``{agent: policy}`` mapping per regime (``by_regime[s]``).

The market entries of the observation are the same for every agent, so the regime is one per episode and
step. Every decision at step ``t`` uses observations up to ``t`` only. The controller notices a new episode by
itself (the ``progress`` feature falls back) or by :meth:`PolicyAssignment.reset`.

Example (a conservative seat hands over to ``cash`` after 126 steps)::

    env = arena_v0.parallel_env()
    control = PolicyAssignment(
        env,
        {"ew": "equal_weight", "rp": "risk_parity", "cash": "cash"},
        schedule={0: dict.fromkeys(env.possible_agents, "ew"), 126: {"conservative_0": "cash"}},
    )
    obs, _ = env.reset(seed=0)
    while env.agents:
        obs, rewards, terms, truncs, infos = env.step(control.act(obs))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard.observation import ObservationLayout
from wealtharena_env.leaderboard.policies import PolicyCaller, load_policy
from wealtharena_env.leaderboard.regime_gate import RegimeGate, load_regime_source


class PolicyAssignment:
    """Maps each agent to one of several named policies, step by step, by a schedule or a regime signal.

    Arguments:
        env: the PettingZoo parallel env (its observation layout and agents).
        policies: ``{name: spec}``; a spec is anything :func:`~.policies.load_policy` takes (a baseline name,
            an SB3 ``.zip``, ``module:callable``, an ensemble, a callable).
        schedule: ``{step: {agent: name}}``; step 0 must name every agent's policy; later entries change the
            agents they list from that step on.
        by_regime: ``[{agent: name}, ...]``, one complete mapping per regime (instead of a schedule).
        regime: the regime source (``"volatility"``, ``"module:factory"`` or an object with ``filter_step``).
        regime_options: keyword arguments of the source's factory (``enter``, ``exit``).
        signal: the observation signal fed to the source (default: the source's own).
        switch_probability: the probability a new regime needs to take over.
        seed: base seed of stochastic policies (policy ``i`` gets ``seed + i``).

    After each :meth:`act`, :attr:`history` holds every step's mapping and :attr:`regimes` every step's
    regime (regime mode); :attr:`errors` lists ``(step, agent, message)`` of policy failures (that agent
    holds its portfolio for the step: the env's ``None`` action).
    """

    def __init__(
        self,
        env: Any,
        policies: Mapping[str, Any],
        *,
        schedule: Mapping[int, Mapping[str, str]] | None = None,
        by_regime: Sequence[Mapping[str, str]] | None = None,
        regime: Any = "volatility",
        regime_options: Mapping[str, Any] | None = None,
        signal: str | None = None,
        switch_probability: float = 0.5,
        seed: int = 0,
    ):
        if (schedule is None) == (by_regime is None):
            raise ConfigError("PolicyAssignment needs exactly one of schedule= or by_regime=.")
        if not policies:
            raise ConfigError("PolicyAssignment needs at least one named policy.")
        self.env = env
        self.agents = list(env.possible_agents)
        self.layout = ObservationLayout.from_env(env)
        n_action = int(np.prod(env.action_space(self.agents[0]).shape))
        self.callers = {
            name: PolicyCaller(load_policy(spec, name=name).build(env, seed + i), n_action)
            for i, (name, spec) in enumerate(policies.items())
        }
        self.schedule: list[tuple[int, dict[str, str]]] | None = None
        self.by_regime: list[dict[str, str]] | None = None
        self.gate: RegimeGate | None = None
        if schedule is not None:
            self.schedule = self._check_schedule(schedule)
        else:
            assert by_regime is not None
            self.by_regime = [
                self._check_mapping(dict(m), f"by_regime[{s}]", True) for s, m in enumerate(by_regime)
            ]
            if not self.by_regime:
                raise ConfigError("by_regime needs one mapping per regime (at least one).")
            source = load_regime_source(regime, **dict(regime_options or {}))
            self.gate = RegimeGate(source, self.layout, len(self.by_regime), signal, switch_probability)
        self.reset()

    def _check_mapping(self, mapping: dict[str, str], where: str, complete: bool) -> dict[str, str]:
        unknown_agents = [a for a in mapping if a not in self.agents]
        unknown_policies = sorted({p for p in mapping.values() if p not in self.callers})
        missing = [a for a in self.agents if a not in mapping] if complete else []
        if unknown_agents or unknown_policies or missing:
            raise ConfigError(
                f"{where}: unknown agents {unknown_agents}, unknown policies {unknown_policies}, agents "
                f"without a policy {missing} (agents: {self.agents}; policies: {sorted(self.callers)})."
            )
        return mapping

    def _check_schedule(self, schedule: Mapping[int, Mapping[str, str]]) -> list[tuple[int, dict[str, str]]]:
        entries = []
        for step, mapping in schedule.items():
            if not isinstance(step, (int, np.integer)) or isinstance(step, bool) or step < 0:
                raise ConfigError(f"schedule steps must be integers >= 0, got {step!r}.")
            entries.append((int(step), self._check_mapping(dict(mapping), f"schedule[{step}]", step == 0)))
        if not any(step == 0 for step, _ in entries):
            raise ConfigError("the schedule needs an entry at step 0 naming every agent's first policy.")
        return sorted(entries)

    def reset(self) -> None:
        """Start a new episode (also noticed by itself when the ``progress`` feature falls back)."""
        self.step = 0
        self.history: list[dict[str, str]] = []
        self.regimes: list[int] = []
        self.errors: list[tuple[int, str, str]] = []
        self._progress = -np.inf
        self._probs: np.ndarray | None = None
        self._regime: np.ndarray | None = None
        self._volatility: np.ndarray | None = None

    def mapping_at(self, step: int) -> dict[str, str]:
        """The schedule's mapping at ``step`` (schedule mode)."""
        if self.schedule is None:
            raise ConfigError(
                "mapping_at needs a schedule; in the regime mode the mapping follows the market."
            )
        out: dict[str, str] = {}
        for start, mapping in self.schedule:
            if start > step:
                break
            out.update(mapping)
        return out

    def _regime_mapping(self, obs: np.ndarray) -> dict[str, str]:
        assert self.gate is not None and self.by_regime is not None
        if self._probs is None:
            self._probs, self._regime = self.gate.start(obs)
        else:
            assert self._regime is not None and self._volatility is not None
            self._probs, self._regime = self.gate.step(obs, self._probs, self._regime, self._volatility)
        self._volatility = self.layout.annual_volatility(obs).copy()
        regime = int(self._regime[0])
        self.regimes.append(regime)
        return dict(self.by_regime[regime])

    def act(self, observations: Mapping[str, Any]) -> dict[str, Any]:
        """The action of every agent in ``observations`` (a step's observation dict), each from the policy
        that drives it now."""
        if not observations:
            return {}
        live = [a for a in self.agents if a in observations]
        market = self.layout.batch(observations[live[0]])
        progress = float(self.layout.feature(market, "progress")[0])
        if np.isfinite(progress) and progress <= self._progress:
            self.reset()
        if np.isfinite(progress):
            self._progress = progress
        mapping = self.mapping_at(self.step) if self.schedule is not None else self._regime_mapping(market)
        actions: dict[str, Any] = {}
        for name, caller in self.callers.items():
            driven = [a for a in live if mapping[a] == name]
            if not driven:
                continue
            batch = np.stack([np.asarray(observations[a], dtype=np.float32) for a in driven])
            acts, errs = caller(batch, driven)
            space = self.env.action_space(driven[0])
            for a, act, err in zip(driven, acts, errs):
                if err is not None:
                    self.errors.append((self.step, a, f"policy {name} {err}"))
                    actions[a] = None
                else:
                    actions[a] = act.astype(space.dtype).reshape(space.shape)
        self.history.append({a: mapping[a] for a in live})
        self.step += 1
        return actions

    __call__ = act


__all__ = ["PolicyAssignment"]
