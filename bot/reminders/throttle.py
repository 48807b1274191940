"""The global send rate: messages per second per sender, shared by every dispatcher through Redis.

Twilio queues what a sender cannot send at once and a WhatsApp sender has a throughput tier; flooding it
only fills queues and invites errors, and leaving it idle wastes the window. Every dispatcher, on every
machine, takes a token from the same moving window in Redis (the `limits` library) before each send, so
together they hold the configured rate (`WHATSAPP_SEND_RATE`, `SMS_SEND_RATE`) whatever their number.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bot.config import Settings

# How long to wait before asking again when the window is full (a fraction of one send slot).
_POLL_FLOOR_SECONDS = 0.001


class SendRate:
    """`acquire()` returns when one more message may go out on this sender without exceeding the rate."""

    def __init__(self, redis_url: str, per_second: int, sender: str) -> None:
        uri = (
            redis_url.replace("unix://", "redis+unix://", 1) if redis_url.startswith("unix://") else redis_url
        )
        self.limiter = MovingWindowRateLimiter(
            RedisStorage(uri, key_prefix="regua:send-rate", socket_timeout=2, socket_connect_timeout=2)
        )
        self.item = RateLimitItemPerSecond(per_second)
        self.per_second = per_second
        self.sender = sender

    def acquire(self, timeout: float = 30.0) -> bool:
        """Wait for a token; False if none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.limiter.hit(self.item, "send", self.sender):
                return True
            stats = self.limiter.get_window_stats(self.item, "send", self.sender)
            # The oldest send leaves the window at `reset_time`; a token frees up then.
            wait = max(stats.reset_time - time.time(), _POLL_FLOOR_SECONDS)
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(min(wait, 1.0 / self.per_second))


def sender_key(settings: Settings, channel: str) -> str:
    """The sender a message goes out from (rates are per sender)."""
    if channel == "whatsapp":
        return settings.twilio_whatsapp_from or "sandbox-whatsapp"
    return settings.twilio_sms_from or "sandbox-sms"


def send_rate(settings: Settings, redis_url: str, channel: str) -> SendRate:
    """The shared rate of the channel's sender."""
    per_second = settings.whatsapp_send_rate if channel == "whatsapp" else settings.sms_send_rate
    return SendRate(redis_url, per_second, sender_key(settings, channel))
