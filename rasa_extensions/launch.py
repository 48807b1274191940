"""`python -m rasa_extensions.launch run ...`: Rasa's command line, with `--auth-token` added from the
`RASA_AUTH_TOKEN` environment variable.

Why not pass it on the command line: any local user can read a process's arguments (`ps`, /proc/PID/cmdline);
its environment only the owner can. An empty token would leave Rasa's API open, so it refuses to start.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run Rasa with the arguments given plus `--auth-token` from the environment."""
    token = os.environ.pop("RASA_AUTH_TOKEN", "")
    if not token:
        sys.exit("RASA_AUTH_TOKEN is not set: refusing to start Rasa's HTTP API without authentication")
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:], "--auth-token", token]
    rasa_main()


if __name__ == "__main__":
    main()
