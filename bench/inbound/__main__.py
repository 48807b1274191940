"""`python -m bench.inbound`: see bench/inbound/__init__.py."""

import sys

from bench.inbound.cli import main

sys.exit(main())
