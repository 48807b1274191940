"""`python -m bench.console`: see bench/console/__init__.py."""

import sys

from bench.console.run import main

sys.exit(main())
