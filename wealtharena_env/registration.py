"""Every environment ID, registered in one place (imported by ``import wealtharena_env``).

PettingZoo (>= 1.27 registry): ``pettingzoo.make("parallel" | "aec", "WealthArena/Arena-v0")``.
Gymnasium: ``gymnasium.make("WealthArena/Portfolio-v0")``, and
``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K)`` served by the batched
:class:`~wealtharena_env.envs.vector.PortfolioVectorEnv` (one kernel call per step;
``vectorization_mode="sync"`` still gives a ``SyncVectorEnv`` of single envs).
"""

from __future__ import annotations

import warnings

import gymnasium
import pettingzoo

#: PettingZoo IDs -> module holding ``env`` (AEC) and ``parallel_env``.
PETTINGZOO_ENVS: dict[str, str] = {
    "WealthArena/Arena-v0": "wealtharena_env.arena_v0",
    "WealthArena/ImpactArena-v0": "wealtharena_env.impact_arena_v0",
}

#: Gymnasium IDs -> entry point.
GYMNASIUM_ENVS: dict[str, str] = {
    "WealthArena/Portfolio-v0": "wealtharena_env.envs.portfolio:PortfolioEnv",
}

#: Gymnasium IDs -> vector entry point (what ``gymnasium.make_vec`` uses by default).
GYMNASIUM_VECTOR_ENVS: dict[str, str] = {
    "WealthArena/Portfolio-v0": "wealtharena_env.envs.vector:PortfolioVectorEnv",
}


def register_all() -> None:
    """Register every ID (idempotent: re-registering the same ID is silent)."""
    for env_id, module in PETTINGZOO_ENVS.items():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Overriding environment")
            pettingzoo.register("aec", env_id, entry_point=f"{module}:env")
            pettingzoo.register("parallel", env_id, entry_point=f"{module}:parallel_env")
    for env_id, entry_point in GYMNASIUM_ENVS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=entry_point,
                disable_env_checker=True,
                vector_entry_point=GYMNASIUM_VECTOR_ENVS.get(env_id),
            )


register_all()
