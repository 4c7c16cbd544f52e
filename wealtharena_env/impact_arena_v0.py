"""PettingZoo-style module for ``WealthArena/ImpactArena-v0``: ``env()``, ``raw_env()`` and
``parallel_env()``.

```python
from wealtharena_env import impact_arena_v0
aec = impact_arena_v0.env()            # AEC, with PettingZoo's order-enforcing wrapper
par = impact_arena_v0.parallel_env()   # native ParallelEnv
```
The arena with permanent price impact: the agents' aggregate net order flow moves prices
(``impact = 1.0``: net buying of 1% of a bar's volume lifts every later price of that asset by about 1%),
so their trades really affect each other. See :class:`wealtharena_env.envs.arena.ArenaEnv`.
"""

from __future__ import annotations

from typing import Any

from wealtharena_env.envs.arena import pettingzoo_constructors

#: Permanent impact: after a bar's fills, log price moves by IMPACT * (net shares traded by all agents) /
#: volume.
IMPACT = 1.0

#: Arguments that make this version; user keywords override them.
DEFAULTS: dict[str, Any] = {"impact": IMPACT}

parallel_env, raw_env, env = pettingzoo_constructors(DEFAULTS)

__all__ = ["DEFAULTS", "env", "parallel_env", "raw_env"]
