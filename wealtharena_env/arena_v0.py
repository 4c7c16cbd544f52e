"""PettingZoo-style module for ``WealthArena/Arena-v0``: ``env()``, ``raw_env()`` and ``parallel_env()``.

```python
from wealtharena_env import arena_v0
aec = arena_v0.env()            # AEC, with PettingZoo's order-enforcing wrapper
par = arena_v0.parallel_env()   # native ParallelEnv
```
See :class:`wealtharena_env.envs.arena.ArenaEnv` for spaces, rewards and arguments.
"""

from __future__ import annotations

from typing import Any

from wealtharena_env.envs.arena import pettingzoo_constructors

#: Arguments that make this version; user keywords override them.
DEFAULTS: dict[str, Any] = {"impact": 0.0}

parallel_env, raw_env, env = pettingzoo_constructors(DEFAULTS)

__all__ = ["DEFAULTS", "env", "parallel_env", "raw_env"]
