"""Who may read the internal endpoints (`/health/ready`, `/metrics`): a loopback caller that no proxy
forwarded, or one presenting the endpoint's bearer token."""

from __future__ import annotations

import hmac
import ipaddress

from flask import request

# Headers a reverse proxy adds: a request carrying one came from elsewhere, even when the proxy that
# forwarded it runs on this machine (then its peer address is loopback).
_FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def loopback_or_token(token: str | None) -> bool:
    """True for a loopback caller not forwarded by a proxy, or one sending `Authorization: Bearer
    <token>` (compared in constant time) when `token` is configured."""
    if token:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if presented and hmac.compare_digest(presented.encode(), token.encode()):
            return True
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:  # no peer address (a unix socket): not provably local
        return False
