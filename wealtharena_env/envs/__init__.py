"""Thin API adapters over :class:`wealtharena_env.sim.Simulation`."""

from wealtharena_env.envs.arena import ArenaEnv
from wealtharena_env.envs.portfolio import PortfolioEnv
from wealtharena_env.envs.vector import ArenaVecEnv, PortfolioVectorEnv

__all__ = ["ArenaEnv", "ArenaVecEnv", "PortfolioEnv", "PortfolioVectorEnv"]
