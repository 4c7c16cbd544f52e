"""``python -m wealtharena_env`` works like the ``wealtharena`` console script."""

import sys

from wealtharena_env.cli import main

sys.exit(main())
