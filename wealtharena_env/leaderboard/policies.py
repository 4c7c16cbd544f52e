"""Loading the policies the leaderboard evaluates, and calling them on observation batches.

* a baseline name (``equal_weight``, or ``baseline:equal_weight``): see :mod:`.baselines`;
* ``module:callable`` or ``path/to/file.py:callable``: a callable on observation batches or single
  observations (an attribute ``batched = False`` skips the batch probe);
* ``path/to/model.zip``: a Stable-Baselines3 model (``sac:path.zip`` forces the algorithm; needs the
  ``sb3`` extra), called as ``model.predict(obs, deterministic=True)``;
* a directory holding an RLlib checkpoint, or ``checkpoint_dir:module_id`` to pick one RLModule of a
  multi-policy checkpoint (needs the ``rllib`` extra).

* ``ensemble:...``: an ensemble of any of the above (blend, rolling-Sharpe switch or regime gate); see
  :mod:`.ensemble` for the spec's grammar.

An object with a ``build(env, seed)`` method (such as :class:`~.ensemble.EnsemblePolicy`) is loaded as is.

A loaded policy is called through :class:`PolicyCaller`: once per step on the batch of every focal agent's
observation ``(K, D)``, or row by row when it only accepts one observation; a policy that raises or returns a
wrong shape or NaN / inf fails only the rows it broke (the error is returned, not raised).

**Stateful policies.** A policy whose state carries over from step to step (an ensemble's shadow portfolios, a
regime filter) declares ``stateful = True``; it is then called as ``fn(obs, episode_keys=keys)``, ``keys[k]``
naming the episode and agent of row ``k`` (stable for an episode's whole life, distinct between the episodes
played at once), so it keeps each episode's state apart however the batch's rows change as episodes end.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError


class PolicyLoadError(ConfigError):
    """The policy spec could not be turned into a policy."""


@dataclass
class LoadedPolicy:
    """A policy and how it was specified. ``build(env, seed)`` returns the callable for one env layout."""

    spec: str
    kind: str
    name: str
    build: Callable[[Any, int], Callable[[np.ndarray], Any]]
    #: The observation and action shapes the policy was trained on, when its format records them (SB3).
    observation_shape: tuple[int, ...] | None = None
    action_shape: tuple[int, ...] | None = None


def _baseline_policy(name: str) -> LoadedPolicy:
    from wealtharena_env.leaderboard.baselines import make_baseline

    return LoadedPolicy(
        f"baseline:{name}", "baseline", name, lambda env, seed: make_baseline(name, env, seed=seed)
    )


def _import_callable(spec: str) -> Callable:
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise PolicyLoadError(f"policy {spec!r}: expected 'module:callable' or 'path/to/file.py:callable'.")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).expanduser().resolve()
            if not path.is_file():
                raise PolicyLoadError(f"policy {spec!r}: file {path} does not exist.")
            mod_spec = importlib.util.spec_from_file_location(f"_wealtharena_policy_{path.stem}", path)
            assert mod_spec is not None and mod_spec.loader is not None  # a .py path has a source loader
            module = importlib.util.module_from_spec(mod_spec)
            # registered first, as `import` does: dataclasses and typing look the module up while it runs
            sys.modules[mod_spec.name] = module
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except PolicyLoadError:
        raise
    except Exception as exc:
        raise PolicyLoadError(
            f"policy {spec!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PolicyLoadError(f"policy {spec!r}: {module_name!r} has no attribute {attr!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise PolicyLoadError(f"policy {spec!r}: {attr!r} is a {type(obj).__name__}, not a callable.")
    return obj


_SB3_ALGOS = ("PPO", "A2C", "SAC", "TD3", "DDPG", "DQN")


def _sb3_policy(spec: str) -> LoadedPolicy:
    algo_name = None
    path_text = spec
    head, sep, tail = spec.partition(":")
    if sep and head.upper() in _SB3_ALGOS:
        algo_name, path_text = head.upper(), tail
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise PolicyLoadError(f"policy {spec!r}: SB3 model file {path} does not exist.")
    try:
        import stable_baselines3 as sb3
        from stable_baselines3.common.save_util import load_from_zip_file
    except ImportError as exc:
        raise PolicyLoadError(
            "loading an SB3 .zip needs stable-baselines3 (and torch): pip install 'wealtharena-env[sb3]'"
        ) from exc
    if algo_name is None:
        data, _, _ = load_from_zip_file(path, device="cpu", load_data=True)
        module = getattr((data or {}).get("policy_class"), "__module__", "")
        algo_name = next(
            (a for a in ("SAC", "TD3", "DDPG", "DQN") if f".{a.lower()}." in f".{module}."), None
        )
        if algo_name is None:  # PPO and A2C share their policy class; PPO alone saves n_epochs / clip_range
            algo_name = "PPO" if data and ("n_epochs" in data or "clip_range" in data) else "A2C"
    model = getattr(sb3, algo_name).load(path, device="cpu")
    normalize = _sb3_observation_normalizer(path.with_name("vecnormalize.pkl"))

    def predict(obs: np.ndarray) -> np.ndarray:
        return model.predict(normalize(obs), deterministic=True)[0]

    return LoadedPolicy(
        f"sb3:{algo_name.lower()}:{path.name}",
        "sb3",
        f"{algo_name.lower()}:{path.stem}",
        lambda env, seed: predict,
        tuple(model.observation_space.shape or ()),
        tuple(model.action_space.shape or ()),
    )


def _sb3_observation_normalizer(stats_path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The observation standardisation a model was trained with: SB3's ``VecNormalize`` statistics saved as
    ``vecnormalize.pkl`` beside the model (``sb3_train.py --normalize-obs``), frozen —
    ``clip((obs - mean) / sqrt(var + eps), -clip_obs, clip_obs)`` — or the identity when there is no such file
    or it did not normalise observations."""
    if not stats_path.is_file():
        return lambda obs: obs
    import pickle

    with open(stats_path, "rb") as fh:
        stats = pickle.load(fh)
    if not getattr(stats, "norm_obs", False):
        return lambda obs: obs
    mean, var = np.asarray(stats.obs_rms.mean), np.asarray(stats.obs_rms.var)
    scale = 1.0 / np.sqrt(var + stats.epsilon)
    clip = float(stats.clip_obs)

    def normalize(obs: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(obs, dtype=np.float64) - mean) * scale, -clip, clip).astype(np.float32)

    return normalize


def _checkpoint_path(spec: str | os.PathLike[str]) -> Path:
    """An RLlib checkpoint path made absolute (``~`` expanded, relative to the working directory).

    RLlib reads checkpoints through pyarrow's filesystem layer, which takes a bare path as a URI and rejects a
    relative one (``ArrowInvalid: URI has empty scheme``); an absolute path is a valid local URI.
    """
    return Path(spec).expanduser().resolve()


def _rllib_policy(spec: str, module_id: str | None = None) -> LoadedPolicy:
    path = _checkpoint_path(spec)
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise PolicyLoadError(
            f"policy {spec!r} looks like an RLlib checkpoint directory, but ray is not "
            "installed: pip install 'wealtharena-env[rllib]'"
        ) from exc
    modules = [c for c in sorted(path.glob("**/rl_module/*")) if c.is_dir()]
    module_dir = None
    if module_id is not None:
        module_dir = next((c for c in modules if c.name == module_id), None)
        if module_dir is None:
            raise PolicyLoadError(
                f"policy {spec}:{module_id}: no RLModule {module_id!r} in the checkpoint; it has "
                f"{sorted(c.name for c in modules)}."
            )
    elif modules:
        module_dir = modules[0]
        if len({c.name for c in modules}) > 1:
            import warnings

            warnings.warn(
                f"RLlib checkpoint {path} holds several modules {sorted({c.name for c in modules})}; "
                f"evaluating {module_dir.name!r}. Choose one with 'checkpoint_dir:module_id'.",
                stacklevel=3,
            )
    if module_dir is not None:  # new API stack: an RLModule checkpoint
        import torch
        from ray.rllib.core.rl_module.rl_module import RLModule

        module = RLModule.from_checkpoint(str(module_dir))

        def forward(obs: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = module.forward_inference({"obs": torch.as_tensor(np.asarray(obs, dtype=np.float32))})
            logits = out.get("action_dist_inputs")
            dist_cls = module.get_inference_action_dist_cls()
            action = dist_cls.from_logits(logits).to_deterministic().sample()
            assert isinstance(action, torch.Tensor)  # a torch RLModule's distribution
            return action.cpu().numpy()

        return LoadedPolicy(f"rllib:{path.name}", "rllib", path.name, lambda env, seed: forward)
    from ray.rllib.algorithms.algorithm import Algorithm

    algo = Algorithm.from_checkpoint(str(path))

    class SingleObservation:
        batched = False  # one observation per call: skips the batch probe (see the module docstring)

        def __call__(self, obs: np.ndarray) -> np.ndarray:
            return np.asarray(algo.compute_single_action(obs, explore=False))

    single = SingleObservation()
    return LoadedPolicy(f"rllib:{path.name}", "rllib", path.name, lambda env, seed: single)


def load_policy(spec: str | Callable | Any, name: str | None = None) -> LoadedPolicy:
    """Turn a policy spec (see the module docstring) or a Python callable into a :class:`LoadedPolicy`."""
    from wealtharena_env.leaderboard.baselines import BASELINES

    if isinstance(spec, LoadedPolicy):
        return spec
    if not isinstance(spec, str) and not callable(spec) and callable(getattr(spec, "build", None)):
        label = name or getattr(spec, "name", None) or type(spec).__name__
        return LoadedPolicy(
            str(getattr(spec, "spec", f"python:{label}")),
            str(getattr(spec, "kind", "python")),
            str(label),
            spec.build,
        )
    if callable(spec) and not isinstance(spec, str):
        label = name or getattr(spec, "name", None) or getattr(spec, "__name__", None) or type(spec).__name__
        return LoadedPolicy(f"python:{label}", "python", str(label), lambda env, seed: spec)
    if not isinstance(spec, str) or not spec:
        raise PolicyLoadError(f"policy must be a non-empty string or a callable, got {spec!r}.")
    text = spec.strip()
    if text.startswith("ensemble:"):
        from wealtharena_env.leaderboard.ensemble import parse_ensemble_spec

        loaded = parse_ensemble_spec(text).loaded()
    elif text.startswith("baseline:"):
        base = text.split(":", 1)[1]
        if base not in BASELINES:
            raise PolicyLoadError(f"unknown baseline {base!r}; choose one of {sorted(BASELINES)}.")
        loaded = _baseline_policy(base)
    elif text in BASELINES:
        loaded = _baseline_policy(text)
    elif text.lower().endswith(".zip"):
        loaded = _sb3_policy(text)
    elif Path(text).expanduser().is_dir():
        loaded = _rllib_policy(text)
    elif ":" in text and Path(text.rpartition(":")[0]).expanduser().is_dir():
        checkpoint, _, module_id = text.rpartition(":")
        loaded = _rllib_policy(checkpoint, module_id)
    elif ":" in text:
        fn = _import_callable(text)
        loaded = LoadedPolicy(text, "callable", text.rpartition(":")[2], lambda env, seed: fn)
    else:
        raise PolicyLoadError(
            f"cannot interpret policy {spec!r}: use a baseline name ({', '.join(sorted(BASELINES))}), "
            "'module:callable', 'path/to/file.py:callable', an SB3 'model.zip', an RLlib checkpoint "
            "directory or 'ensemble:MODE:MEMBER,MEMBER,...'."
        )
    if name:
        loaded.name = name
    return loaded


class PolicyCaller:
    """Calls a policy on an observation batch and reports, per row, an action or an error message.

    The first call probes the calling convention: the batch ``(K, D)`` (expecting ``(K, n_action)``), else
    one observation at a time (expecting ``(n_action,)``). After a batch call fails in batch mode, rows are
    retried one by one (as batches of one) so a failure is attributed to the episodes that caused it.
    """

    def __init__(self, fn: Callable, n_action: int):
        self.fn = fn
        self.n_action = n_action
        self.mode: str | None = None if getattr(fn, "batched", True) else "single"
        self.stateful = bool(getattr(fn, "stateful", False))

    def _call(self, obs: np.ndarray, keys: list[Any] | None) -> Any:
        if self.stateful and keys is not None:
            return self.fn(obs, episode_keys=keys)
        return self.fn(obs)

    def _as_actions(self, out: Any, rows: int) -> np.ndarray:
        arr = np.asarray(out, dtype=np.float64)
        if arr.shape == (rows, self.n_action):
            return arr
        if rows == 1 and arr.shape == (self.n_action,):
            return arr[None, :]
        raise ValueError(
            f"returned an action of shape {arr.shape} for {rows} observation(s); expected "
            f"({rows}, {self.n_action})" + (f" or ({self.n_action},)" if rows == 1 else "")
        )

    def _batch(self, obs: np.ndarray, keys: list[Any] | None = None) -> np.ndarray:
        return self._as_actions(self._call(obs, keys), obs.shape[0])

    def _single(self, row: np.ndarray, key: list[Any] | None = None) -> np.ndarray:
        arr = np.asarray(self._call(row, key), dtype=np.float64)
        if arr.shape == (1, self.n_action):
            arr = arr[0]
        if arr.shape != (self.n_action,):
            raise ValueError(
                f"returned an action of shape {arr.shape} for one observation; expected ({self.n_action},)"
            )
        return arr

    def __call__(self, obs: np.ndarray, keys: list[Any] | None = None) -> tuple[np.ndarray, list[str | None]]:
        """``(actions (K, n_action), errors)`` for the observations ``(K, D)``; ``keys`` (K) name each row's
        episode and agent for a stateful policy (module docstring)."""
        k = obs.shape[0]
        if keys is not None and len(keys) != k:
            raise ValueError(f"got {len(keys)} episode keys for {k} observations")
        actions = np.zeros((k, self.n_action))
        errors: list[str | None] = [None] * k
        if self.mode == "single":
            self._rows(obs, actions, errors, keys)
        else:
            try:
                actions[:] = self._batch(obs, keys)
                self.mode = "batch"
            except Exception as exc:  # noqa: BLE001 - a policy may raise anything
                batch_error = _describe(exc)
                if self.mode == "batch":  # find the rows that break it: batches of one
                    for i in range(k):
                        try:
                            actions[i] = self._batch(
                                obs[i : i + 1], None if keys is None else keys[i : i + 1]
                            )[0]
                        except Exception as row_exc:  # noqa: BLE001
                            errors[i] = _describe(row_exc)
                elif not self._probe_single(obs, actions, errors, keys):
                    errors = [
                        f"{batch_error} when called on a batch of {k}; {e} when called on one observation"
                        for e in errors
                    ]
        for i in range(k):
            if errors[i] is None and not np.all(np.isfinite(actions[i])):
                bad = int(np.count_nonzero(~np.isfinite(actions[i])))
                errors[i] = (
                    f"returned {bad} non-finite (NaN/inf) action value(s): "
                    f"{np.array2string(actions[i], precision=3)}"
                )
        return actions, errors

    def _rows(
        self, obs: np.ndarray, actions: np.ndarray, errors: list[str | None], keys: list[Any] | None = None
    ) -> int:
        ok = 0
        for i in range(obs.shape[0]):
            try:
                actions[i] = self._single(obs[i], None if keys is None else keys[i : i + 1])
                errors[i] = None
                ok += 1
            except Exception as exc:  # noqa: BLE001
                errors[i] = _describe(exc)
        return ok

    def _probe_single(
        self, obs: np.ndarray, actions: np.ndarray, errors: list[str | None], keys: list[Any] | None = None
    ) -> bool:
        if self._rows(obs, actions, errors, keys):
            self.mode = "single"
            return True
        return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValueError) and str(exc).startswith("returned"):
        return str(exc)
    return f"raised {type(exc).__name__}: {exc}"


__all__ = ["LoadedPolicy", "PolicyCaller", "PolicyLoadError", "load_policy"]
