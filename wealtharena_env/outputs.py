"""The Simulation's step outputs in Python form: the one decoder of the kernels' info array.

The kernels write one float64 row per agent and step (the ``IN_*`` columns of :mod:`.kernels.step`); this
module is the only place above :mod:`wealtharena_env.sim` that knows that layout. The env adapters ask an
:class:`InfoDecoder` for their dicts and never index the array themselves.

Two info levels (every env's ``info_level`` argument):

* ``"lean"`` (default) — what trainers and loggers use, a few Python numbers per agent:

  ==================  =========================================================================
  key                 meaning
  ==================  =========================================================================
  portfolio_value     value of the agent's portfolio at the bar's close, ``V_f``
  step_return         ``V_f / V_d - 1``: the step's simple return, net of every cost
  cost                commission + slippage paid this step (currency)
  turnover            traded notional / ``V_d``
  drawdown            ``1 - V_f / peak``
  risk_event_count    interventions of the risk layer this step (int)
  ==================  =========================================================================

* ``"full"`` — the lean keys plus ``reward``, ``cash``, ``nan_actions``, ``clipped_actions``,
  ``buy_fill_fraction``, ``volatility``, ``var``, ``cvar``, ``breaker_cooldown``, ``regime`` (the synthetic
  market's true regime of the current bar, an index into ``config.REGIME_NAMES``: 0 bull, 1 bear,
  2 high volatility; -1 for historical data and other sources without one — never part of an observation),
  ``weights`` (N + 1, a view of the fresh info array), ``reward_terms`` (every term of the reward) and
  ``risk_events`` (one dict per intervention: ``rule``, ``asset`` — a ticker or ``"portfolio"`` — and
  ``weight_removed``).

Both levels carry the same values for the same keys (a test checks it). The adapters add
``TimeLimit.truncated`` and, when an agent's episode ends, ``episode`` (:meth:`Simulation.episode_summary`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels import reward as kr
from wealtharena_env.kernels import risk as kk
from wealtharena_env.kernels import step as ks

INFO_LEVELS = ("lean", "full")

#: The lean keys, in the order the kernel writes them after the reward and the two episode flags.
LEAN_KEYS = ("portfolio_value", "step_return", "cost", "turnover", "drawdown", "risk_event_count")

# The head of an info row: reward, terminated, truncated, then the lean keys. The decoders below unpack it
# positionally, so the kernel's column order is checked here, once, at import.
_HEAD = (
    ks.IN_REWARD,
    ks.IN_TERMINATED,
    ks.IN_TRUNCATED,
    ks.IN_VALUE,
    ks.IN_STEP_RETURN,
    ks.IN_COST,
    ks.IN_TURNOVER,
    ks.IN_DRAWDOWN,
    ks.IN_N_EVENTS,
)
if _HEAD != tuple(range(ks.N_INFO_HEAD)):  # pragma: no cover - a kernel layout change must update this module
    raise ImportError(
        "kernels.step's info head is not (reward, terminated, truncated, value, step_return, cost, "
        "turnover, drawdown, n_events) in columns 0..8; update wealtharena_env.outputs."
    )
N_HEAD = ks.N_INFO_HEAD

#: Scalar columns of the full info beyond the head: (key, column, is an integer count).
_FULL_SCALARS = (
    ("cash", ks.IN_CASH, False),
    ("nan_actions", ks.IN_NAN_ACTIONS, True),
    ("clipped_actions", ks.IN_CLIPPED_ACTIONS, True),
    ("buy_fill_fraction", ks.IN_BUY_FILL_FRACTION, False),
    ("volatility", ks.IN_VOLATILITY, False),
    ("var", ks.IN_VAR, False),
    ("cvar", ks.IN_CVAR, False),
    ("breaker_cooldown", ks.IN_COOLDOWN, True),
    ("regime", ks.IN_REGIME, True),
)
# The columns after the head, up to the reward terms, in kernel order: the full decoder unpacks them
# positionally.
_TAIL = (
    ks.IN_CASH,
    ks.IN_NAN_ACTIONS,
    ks.IN_CLIPPED_ACTIONS,
    ks.IN_BUY_FILL_FRACTION,
    ks.IN_LOG_RETURN,
    ks.IN_VOLATILITY,
    ks.IN_VAR,
    ks.IN_CVAR,
    ks.IN_COOLDOWN,
    ks.IN_REGIME,
)
if _TAIL != tuple(range(N_HEAD, N_HEAD + len(_TAIL))) or ks.IN_TERMS != N_HEAD + len(
    _TAIL
):  # pragma: no cover
    raise ImportError(
        "kernels.step's info columns after the head are not (cash, nan_actions, clipped_actions, "
        "buy_fill_fraction, log_return, volatility, var, cvar, cooldown, regime, terms...); update "
        "wealtharena_env.outputs."
    )
_TERMS_START = ks.IN_TERMS
_TERMS_END = ks.IN_TERMS + kr.N_TERMS
_TERM_NAMES = kr.TERM_NAMES
_LEAN_COLUMNS = (
    ("portfolio_value", ks.IN_VALUE, False),
    ("step_return", ks.IN_STEP_RETURN, False),
    ("cost", ks.IN_COST, False),
    ("turnover", ks.IN_TURNOVER, False),
    ("drawdown", ks.IN_DRAWDOWN, False),
    ("risk_event_count", ks.IN_N_EVENTS, True),
)
_TERMS = tuple((name, ks.IN_TERMS + j) for j, name in enumerate(kr.TERM_NAMES))

#: Every key of a full info dict, in order.
FULL_KEYS = (
    "reward",
    *LEAN_KEYS,
    *(key for key, _, _ in _FULL_SCALARS),
    "weights",
    "reward_terms",
    "risk_events",
)


def check_info_level(info_level: Any) -> str:
    """Return ``info_level`` if it is one of :data:`INFO_LEVELS`, else raise :class:`ConfigError`."""
    if info_level not in INFO_LEVELS:
        raise ConfigError(f"info_level must be one of {INFO_LEVELS}, got {info_level!r}.")
    return info_level


class InfoDecoder:
    """Turns a Simulation's ``(B, A, I)`` info array into the adapters' info dicts at one level.

    Args:
        tickers: the assets' names (``risk_events`` name the asset).
        info_level: ``"lean"`` or ``"full"`` (module docstring).

    Every call returns new dicts and lists; array values are views of the (fresh) info array passed in.
    """

    __slots__ = (
        "_asset_of",
        "_events",
        "_rule_of",
        "_weights",
        "_width",
        "full",
        "level",
        "risk_event_table",
        "tickers",
    )

    def __init__(self, tickers: tuple[str, ...], info_level: str = "lean", risk_event_table: bool = True):
        self.tickers = tuple(tickers)
        self.level = check_info_level(info_level)
        self.full = info_level == "full"
        #: the rows hold the table of risk events (else the full dicts have no ``risk_events`` key)
        self.risk_event_table = bool(risk_event_table)
        self._width = _TERMS_END if self.full else N_HEAD  # leading columns a dict is built from
        n = len(self.tickers)
        self._weights = slice(ks.IN_WEIGHTS, ks.IN_WEIGHTS + n + 1)
        self._events = ks.IN_WEIGHTS + n + 1  # first column of the event table
        assets = (*self.tickers, "portfolio")
        self._asset_of = {**{k: name for k, name in enumerate(assets)}, -1: "portfolio"}
        self._rule_of = dict(enumerate(kk.RULE_NAMES))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return InfoDecoder, (self.tickers, self.level, self.risk_event_table)

    # ------------------------------------------------------------------ one agent
    def risk_events(self, row: np.ndarray, n_events: int | None = None) -> list[dict[str, Any]]:
        """The ``risk_events`` list of one agent's info row: ``{"rule", "asset", "weight_removed"}`` dicts
        (``n_events``: the row's ``risk_event_count``, when the caller has read it already)."""
        if n_events is None:
            n_events = int(row[ks.IN_N_EVENTS])
        if not n_events:
            return []
        flat = row[self._events : self._events + 3 * n_events].tolist()
        rule_of, asset_of = self._rule_of, self._asset_of
        return [
            {
                "rule": rule_of[int(flat[k])],
                "asset": asset_of[int(flat[k + 1])],
                "weight_removed": flat[k + 2],
            }
            for k in range(0, 3 * n_events, 3)
        ]

    def agent(self, row: np.ndarray) -> dict[str, Any]:
        """The info dict of one agent from its row of the info array, at this decoder's level."""
        return self._agent(row, row[: self._width].tolist())

    def _agent(self, row: np.ndarray, c: list[float]) -> dict[str, Any]:
        """The dict from ``c``, the row's leading ``_width`` columns as Python floats (unpacked by position:
        the layout is checked at import)."""
        if not self.full:
            _, _, _, value, step_return, cost, turnover, drawdown, n_events = c
            return {
                "portfolio_value": value,
                "step_return": step_return,
                "cost": cost,
                "turnover": turnover,
                "drawdown": drawdown,
                "risk_event_count": int(n_events),
            }
        (
            reward,
            _,
            _,
            value,
            step_return,
            cost,
            turnover,
            drawdown,
            n_events,
            cash,
            nan_actions,
            clipped_actions,
            fill,
            _,
            volatility,
            var,
            cvar,
            cooldown,
            regime,
        ) = c[:_TERMS_START]
        out = {
            "reward": reward,
            "portfolio_value": value,
            "step_return": step_return,
            "cost": cost,
            "turnover": turnover,
            "drawdown": drawdown,
            "risk_event_count": int(n_events),
            "cash": cash,
            "nan_actions": int(nan_actions),
            "clipped_actions": int(clipped_actions),
            "buy_fill_fraction": fill,
            "volatility": volatility,
            "var": var,
            "cvar": cvar,
            "breaker_cooldown": int(cooldown),
            "regime": int(regime),
            "weights": row[self._weights],
            "reward_terms": dict(zip(_TERM_NAMES, c[_TERMS_START:])),
        }
        if self.risk_event_table:
            out["risk_events"] = self.risk_events(row, int(n_events)) if n_events else []
        return out

    def first(self, info: np.ndarray) -> tuple[dict[str, Any], float, bool, bool]:
        """``(info dict, reward, terminated, truncated)`` of agent 0 of environment 0 (single-agent envs)."""
        row = info[0, 0]
        c = row[: self._width].tolist()
        return self._agent(row, c), c[0], c[1] > 0.0, c[2] > 0.0

    # ------------------------------------------------------------------ one multi-agent environment
    def agents(self, info: np.ndarray, indices: Any, keys: Any) -> dict[Any, dict[str, Any]]:
        """``{key: info dict}`` for the agents ``indices`` (``keys`` their dict keys, same order) of one
        environment's ``(A, I)`` info array."""
        heads = info[:, : self._width].tolist()
        return {key: self._agent(info[i], heads[i]) for i, key in zip(indices, keys)}

    def parallel_step(
        self, obs: np.ndarray, info: np.ndarray, indices: Any, keys: Any
    ) -> tuple[
        dict[Any, np.ndarray], dict[Any, float], dict[Any, bool], dict[Any, bool], dict[Any, dict[str, Any]]
    ]:
        """``(observations, rewards, terminations, truncations, infos)`` of a parallel env's step for the
        agents ``indices`` (``keys`` their dict keys), from one environment's fresh ``(A, D)`` obs and
        ``(A, I)`` info."""
        heads = info[:, : self._width].tolist()
        observations: dict[Any, np.ndarray] = {}
        rewards: dict[Any, float] = {}
        terminations: dict[Any, bool] = {}
        truncations: dict[Any, bool] = {}
        infos: dict[Any, dict[str, Any]] = {}
        agent = self._agent
        for i, key in zip(indices, keys):
            head = heads[i]
            observations[key] = obs[i]
            rewards[key] = head[0]
            terminations[key] = head[1] > 0.0
            truncations[key] = head[2] > 0.0
            infos[key] = agent(info[i], head)
        return observations, rewards, terminations, truncations, infos

    # ------------------------------------------------------------------ a batch (vector envs)
    @staticmethod
    def outcomes(info: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rewards, terminated, truncated)`` of a ``(K, A, I)`` info array as ``(K, A)`` arrays (the
        rewards a copy: the vector envs zero them on autoreset steps)."""
        return (
            info[:, :, ks.IN_REWARD].copy(),
            info[:, :, ks.IN_TERMINATED] > 0.0,
            info[:, :, ks.IN_TRUNCATED] > 0.0,
        )

    def vector(
        self, info: np.ndarray, present: np.ndarray | None, squeeze: bool, decode_risk_events: bool = False
    ) -> dict[str, Any]:
        """Gymnasium's vector-info dict of a ``(K, A, I)`` info array the caller owns (values are views of
        it).

        ``squeeze``: one agent per environment, so arrays are ``(K,)`` (else ``(K, A)``). Every key comes with
        its ``"_" + key`` mask over environments; ``present`` (K,) bool marks the environments that carry info
        (after a partial reset: the others get zeros and a False mask, as in gymnasium's ``SyncVectorEnv``).
        Full level: ``weights`` ``(K, [A,] N + 1)``, ``reward_terms`` a dict of arrays, and the risk events as
        ``risk_event_table`` ``(K, [A,] max_events, 3)`` rows of (rule index into ``kernels.risk.RULE_NAMES``,
        asset index or -1 for the portfolio, weight removed), valid for the first ``risk_event_count`` rows —
        or, with ``decode_risk_events=True``, the single envs' ``risk_events`` lists (an object array).
        """
        num_envs = info.shape[0]
        if present is None:
            mask = np.ones(num_envs, dtype=np.bool_)
        else:
            info[~present] = 0.0
            mask = np.array(present, dtype=np.bool_)
        mask.flags.writeable = False  # one read-only mask shared by every key
        rows = info[:, 0, :] if squeeze else info
        out: dict[str, Any] = {}
        scalars = (
            _LEAN_COLUMNS
            if not self.full
            else (("reward", ks.IN_REWARD, False), *_LEAN_COLUMNS, *_FULL_SCALARS)
        )
        for key, col, is_int in scalars:
            out[key] = rows[..., col].astype(np.int64) if is_int else rows[..., col]
            out["_" + key] = mask
        if not self.full:
            return out
        out["weights"], out["_weights"] = rows[..., self._weights], mask
        terms: dict[str, Any] = {}
        for name, col in _TERMS:
            terms[name], terms["_" + name] = rows[..., col], mask
        out["reward_terms"], out["_reward_terms"] = terms, mask
        if not self.risk_event_table:
            return out
        if decode_risk_events:
            out["risk_events"], out["_risk_events"] = self._event_lists(rows, present), mask
        else:
            table = rows[..., self._events : self._events + 3 * ks.max_events(len(self.tickers))]
            out["risk_event_table"], out["_risk_event_table"] = table.reshape(*rows.shape[:-1], -1, 3), mask
        return out

    def _event_lists(self, rows: np.ndarray, present: np.ndarray | None) -> np.ndarray:
        """Object array of the rows' ``risk_events`` lists (``None`` where the environment carries no
        info)."""
        values = np.empty(rows.shape[:-1], dtype=object)
        flat = values.reshape(-1)
        flat_rows = rows.reshape(-1, rows.shape[-1])
        per_env = flat.size // rows.shape[0]
        for r in range(flat.size):
            if present is None or present[r // per_env]:
                flat[r] = self.risk_events(flat_rows[r])
        return values


__all__ = ["FULL_KEYS", "INFO_LEVELS", "LEAN_KEYS", "InfoDecoder", "check_info_level"]
