"""Security headers on every response, set in one `after_request` hook.

About twenty lines instead of Flask-Talisman: Talisman's defaults (HTTPS redirects, session cookie
rewrites, a per-request nonce) would each need turning off or adapting here, and no page needs more than
a fixed policy. Pages hold no inline script or style (they load `/static/...` files), so the policy
allows scripts and styles from this origin only. A view may set its own value of any of these headers
first; the hook does not overwrite it.
"""

from __future__ import annotations

from flask import Flask, Response

from bot.config import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
# Two years with subdomains: only once the site is served over HTTPS for good, i.e. in production.
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every response carries for these settings."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Payment pages and signed images carry a token in the URL: no page of ours passes its URL on.
        "Referrer-Policy": "no-referrer",
    }
    if settings.env == "production":
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return headers


def init_app(app: Flask, settings: Settings) -> None:
    """Add the security headers to every response of `app` (error pages included)."""
    headers = security_headers(settings)

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
