"""Owner ids of leases and claims: which process holds a conversation or an outbox row."""

from __future__ import annotations

import os
import socket
import uuid


def new_owner_id() -> str:
    """A fresh owner id: host and process (to find the holder) and a random part (unique per claim)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
