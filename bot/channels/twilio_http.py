"""Twilio's HTTP layer on urllib3: the `twilio.http.HttpClient` the REST client sends through.

Twilio's own `TwilioHttpClient` goes through `requests`, whose per-call work (sessions, hooks, cookies,
environment and .netrc lookups) cost ~0.8 ms more CPU per message than urllib3 alone on a 2-core machine
(bench/inbound/ sends each turn's replies from the web process). This client keeps what matters:
connection reuse, the timeout, proxies from the environment (`HTTPS_PROXY`/`NO_PROXY`, as `requests`
reads them), the system's and certifi's CA certificates, and network failures raised as
`TwilioException`: `TwilioConnectError` when no connection was made (nothing sent: safe to retry), plain
`TwilioException` otherwise (a read timeout or reset after the request went out: Twilio may have it).
`base_url` points it at a local stand-in of the API.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from base64 import b64encode
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.response import Response

TWILIO_API_HOST = "https://api.twilio.com"
# Several gunicorn threads of one process may send at once.
POOL_SIZE = 8
# Failures before any byte of the request left: the request surely did not reach Twilio.
_CONNECT_ERRORS = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)


class TwilioConnectError(TwilioException):
    """No connection to Twilio could be made: the request was not sent."""


class Urllib3HttpClient(HttpClient):
    """Sends the Twilio client's requests with urllib3 (to `base_url` instead of api.twilio.com if set)."""

    def __init__(self, timeout: float, base_url: str | None = None) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        self.base_url = base_url.rstrip("/") if base_url else None
        self._managers: dict[str | None, urllib3.PoolManager] = {}

    def _manager(self, url: str) -> urllib3.PoolManager:
        """The pool for `url`: through the environment's proxy for its scheme, unless NO_PROXY says not."""
        parts = urlsplit(url)
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
            proxy = None
        if proxy not in self._managers:
            options = {"maxsize": POOL_SIZE, "ca_certs": certifi.where(), "retries": False}
            self._managers[proxy] = (
                urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
            )
        return self._managers[proxy]

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Make the request; raises `TwilioException` when Twilio cannot be reached."""
        if self.base_url and url.startswith(TWILIO_API_HOST):
            url = self.base_url + url[len(TWILIO_API_HOST) :]
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        body = None
        if data:
            if headers.get("Content-Type") == "application/json":
                body = json.dumps(data)
            else:
                # A list (MediaUrl) becomes repeated keys, as Twilio expects.
                body = urlencode(data, doseq=True)
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            answer = self._manager(url).request(
                method.upper(),
                url,
                body=body,
                headers=headers,
                timeout=timeout if timeout is not None else self.timeout,
                redirect=allow_redirects,
            )
        except _CONNECT_ERRORS as error:
            raise TwilioConnectError(f"Twilio unreachable: {type(error).__name__}") from None
        except urllib3.exceptions.HTTPError as error:
            raise TwilioException(f"Twilio did not answer: {type(error).__name__}") from None
        return Response(answer.status, answer.data.decode("utf-8", errors="replace"), answer.headers)
