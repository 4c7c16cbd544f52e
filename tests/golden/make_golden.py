"""Regenerate the golden trajectories: ``python tests/golden/make_golden.py``.

Run it only when a change of dynamics, reward or observation is intended — and then bump the env's
version (``-v0`` -> ``-v1``) and say so in CHANGELOG.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CASES = {
    "arena_v0": ("wealtharena_env.arena_v0", {"n_assets": 4, "episode_length": 40}),
    "impact_arena_v0": ("wealtharena_env.impact_arena_v0", {"n_assets": 4, "episode_length": 40}),
    "arena_v0_discrete": (
        "wealtharena_env.arena_v0",
        {"n_assets": 3, "episode_length": 30, "action_type": "discrete"},
    ),
}
SEED = 20261126


def config_hash(module_name: str, kwargs: dict) -> str:
    """SHA-256 (16 hex digits) of the env's full configuration, every default included: it changes when a
    default of the dynamics, reward or observation changes, even if the recorded numbers happen not to."""
    import hashlib
    import importlib

    env = importlib.import_module(module_name).parallel_env(**kwargs)
    return hashlib.sha256(repr(env.config).encode("utf-8")).hexdigest()[:16]


def play(module_name: str, kwargs: dict) -> dict[str, np.ndarray]:
    import importlib

    module = importlib.import_module(module_name)
    env = module.parallel_env(**kwargs)
    obs, _ = env.reset(seed=SEED)
    rng = np.random.default_rng(SEED)
    names = env.possible_agents
    observations, rewards, values, events = [np.stack([obs[a] for a in names])], [], [], []
    while env.agents:
        actions = {}
        space = env.action_space(names[0])
        for a in env.agents:
            if kwargs.get("action_type") == "discrete":
                actions[a] = rng.integers(0, 3, space.shape[0])
            else:
                actions[a] = rng.uniform(-1, 1, space.shape[0]).astype(np.float32)
        obs, rew, _, _, infos = env.step(actions)
        observations.append(np.stack([obs[a] for a in names]))
        rewards.append([rew[a] for a in names])
        values.append([infos[a]["portfolio_value"] for a in names])
        events.append([infos[a]["risk_event_count"] for a in names])
    return {
        "observations": np.array(observations),
        "rewards": np.array(rewards),
        "values": np.array(values),
        "risk_events": np.array(events),
    }


if __name__ == "__main__":
    import importlib

    for name, (module, kwargs) in CASES.items():
        env_id = importlib.import_module(module).parallel_env().metadata["name"]
        np.savez_compressed(
            HERE / f"{name}.npz",
            env_id=np.array(env_id),
            config_hash=np.array(config_hash(module, kwargs)),
            **play(module, kwargs),
        )
        print("wrote", HERE / f"{name}.npz")
