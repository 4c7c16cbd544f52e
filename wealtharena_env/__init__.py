"""wealtharena-env: multi-agent portfolio-trading environments for reinforcement learning.

Importing the package registers every environment ID with PettingZoo and Gymnasium::

    import pettingzoo, gymnasium, wealtharena_env
    env = pettingzoo.make("parallel", "WealthArena/Arena-v0")
    single = gymnasium.make("WealthArena/Portfolio-v0")
"""

from wealtharena_env._numba_cache import use_per_user_numba_cache

use_per_user_numba_cache()  # before any kernel is defined: Numba's cache never lands in the installed package

from wealtharena_env import arena_v0, impact_arena_v0, registration
from wealtharena_env._version import __version__
from wealtharena_env.config import AgentProfile, ArenaConfig, CostModel, MarketConfig
from wealtharena_env.envs import ArenaEnv, PortfolioEnv
from wealtharena_env.errors import ActionError, ConfigError, WealthArenaDataError
from wealtharena_env.sim import Simulation

__all__ = [
    "ActionError",
    "AgentProfile",
    "ArenaConfig",
    "ArenaEnv",
    "ConfigError",
    "CostModel",
    "MarketConfig",
    "PortfolioEnv",
    "Simulation",
    "WealthArenaDataError",
    "__version__",
    "arena_v0",
    "impact_arena_v0",
    "registration",
]
