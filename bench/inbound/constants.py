"""What the inbound benchmark's modules share: paths, the fake Twilio account, defaults, the console."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
BENCH_VAR = PROJECT_ROOT / "var" / "bench"
RECORDER = PROJECT_ROOT / "bench" / "twilio_recorder.py"

SYSTEMS = ("regua", "rasa_rest", "rasa_twilio")
# Régua's processes (see the notes in the report): the web app answers inline, the workers take the rest.
DEFAULT_WEB_CONCURRENCY = 2
DEFAULT_WORKERS = 1
GOAL_RATE = 20.0
GOAL_FACTOR = 1.5
# Fake Twilio account: the stand-in checks the shape, nothing is ever sent to Twilio.
ACCOUNT_SID = "AC" + "5eed" * 8
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
WHATSAPP_FROM = "whatsapp:+5511999990000"
SMS_FROM = "+5511999990000"
SECRET_KEY = "inbound-bench-secret-key-0123456789"


def twilio_environment() -> dict[str, str]:
    """The fake Twilio account as Régua's processes read it from the environment."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "TWILIO_SMS_FROM": SMS_FROM,
    }


REQUEST_TIMEOUT = 30.0
RASA_START_TIMEOUT = 300.0
TURNS_PER_DEBTOR = 3
BUSY_PATTERN = re.compile(r"(?:^|[/\s])rasa\S*\s+(test|train)\b")
# A run is flagged when processes the bench did not start used more than this share of the machine.
FOREIGN_BUSY = 0.10

console = Console(highlight=False)
